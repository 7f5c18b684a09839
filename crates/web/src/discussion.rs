//! The conversation under a post: the thread, the reply form, likes, and the requests that
//! change them (post, edit, delete a comment; like a post or a comment).

use std::collections::{HashMap, HashSet};

use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Form, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use folio_domain::{Comment, CommentNode, CommentRefusal, CommentStatus, Post, build_thread};
use folio_storage::{CommentChecks, CommentTarget, Likes, NewComment};
use serde::Deserialize;
use time::OffsetDateTime;

use crate::AppState;
use crate::error::AppError;
use crate::layout::Layout;
use crate::pages::{Shown, form_urlencode, single};
use crate::personal::{Reader, Slot};
use crate::session::{ClientAddress, Viewer};
use crate::signin::{SignInChoice, choices, see_other};
use crate::views::{CommentView, PostView, avatar_src, thoughts_heading};

/// Larger form bodies are refused before they are read: a comment is at most tens of KB.
const FORM_BODY_LIMIT: usize = 256 * 1024;
/// Likers whose avatars are shown beside "N bloggers like this".
const LIKERS_SHOWN: u64 = 10;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/comments", post(post_comment))
        .route("/wp-comments-post.php", post(post_comment))
        .route("/comments/{id}", get(permalink))
        .route("/comments/{id}/", get(permalink))
        .route("/comments/{id}/edit", get(edit_form).post(edit_comment))
        .route("/comments/{id}/delete", post(delete_comment))
        .route("/likes/post/{id}", post(like_post))
        .route("/likes/comment/{id}", post(like_comment))
        .layer(DefaultBodyLimit::max(FORM_BODY_LIMIT))
}

/// A comment that was not accepted, brought back into the form with the reason.
pub struct CommentDraft {
    pub text: String,
    pub parent: Option<i64>,
    pub error: String,
    pub status: StatusCode,
}

/// Everything below the post: heading, thread, likes, and the reply form or sign-in links.
pub struct Conversation {
    pub show_comments: bool,
    pub comments_open: bool,
    pub comment_count: u64,
    pub thoughts_heading: String,
    pub thread_html: String,
    /// The comment form for a signed-in reader, or the ways to sign in (`respond.html`).
    pub respond: String,
    pub reply_to_name: Option<String>,
    pub comment_pages: CommentPages,
    pub likes: Option<LikesView>,
    pub(crate) status: StatusCode,
    pub(crate) newest_activity: OffsetDateTime,
    /// Rendered for any signed-in reader: what filling in one reader's parts needs.
    pub(crate) shared: Option<SharedThread>,
}

/// What a conversation rendered for any signed-in reader knows that one reader's parts are
/// made from: the same for all of them until the content changes.
pub(crate) struct SharedThread {
    pub post_id: i64,
    /// The comments on this page written by someone signed in, who may edit them for a
    /// while: their edit links.
    pub comments: HashMap<i64, Comment>,
    pub comment_likes: HashMap<i64, u64>,
    pub post_likes: u64,
    pub likes_signin_href: String,
    pub reply_to: Option<i64>,
    pub max_length: usize,
    pub follow_up_checked: bool,
    pub open: bool,
}

/// Where this page of a long thread sits: WordPress's "Older Comments / Newer Comments".
pub struct CommentPages {
    pub older: Option<String>,
    pub newer: Option<String>,
    pub current: usize,
    pub total: usize,
}

pub struct CommentFormView {
    pub user_name: String,
    pub text: String,
    pub parent: i64,
    pub csrf: String,
    pub error: Option<String>,
}

pub struct LikesView {
    /// "N bloggers like this.": plain text, or a marker.
    pub summary: String,
    pub first: Vec<LikerView>,
    /// The like form for a signed-in reader, or the link to sign in (`like_post.html`).
    pub button: String,
}

pub struct LikerView {
    pub name: String,
    pub avatar_url: String,
}

#[derive(Template)]
#[template(path = "comment.html")]
struct CommentItem<'a> {
    c: &'a CommentView,
    children_html: String,
    can_reply_here: bool,
    edit_link: String,
    like_action: String,
}

/// The like button under a comment, or its count for a reader not signed in.
#[derive(Template)]
#[template(path = "comment_like.html")]
pub(crate) struct CommentLikePart<'a> {
    pub id: i64,
    pub csrf: Option<&'a str>,
    pub pending: bool,
    pub liked: bool,
    pub likes: u64,
}

/// The like button under the post, or the link to sign in and like it.
#[derive(Template)]
#[template(path = "like_post.html")]
pub(crate) struct PostLikePart<'a> {
    pub post_id: i64,
    pub csrf: Option<&'a str>,
    pub liked: bool,
    pub signin_href: &'a str,
}

/// Under the thread: the comment form for a signed-in reader, the ways to sign in otherwise.
#[derive(Template)]
#[template(path = "respond.html")]
pub(crate) struct RespondPart<'a> {
    pub form: Option<CommentFormView>,
    pub signin: &'a [SignInChoice],
    pub max_length: usize,
    pub follow_up_checked: bool,
    pub post_id: i64,
}

/// " Edit" beside a comment its reader may still change; nothing otherwise.
pub(crate) fn edit_link(id: i64, editable: bool) -> String {
    if editable {
        format!(
            " <span class=\"edit-link\"><a class=\"comment-edit-link\" href=\"/comments/{id}/edit\">Edit</a></span>"
        )
    } else {
        String::new()
    }
}

pub(crate) fn likes_summary(count: u64, by_viewer: bool) -> String {
    match count {
        0 => "Be the first to like this.".to_owned(),
        1 if by_viewer => "You like this.".to_owned(),
        1 => "One blogger likes this.".to_owned(),
        n => format!("{n} bloggers like this."),
    }
}

impl Conversation {
    /// Under a protected post this reader has not opened: no comments, no form, no likes.
    pub fn locked(view: &PostView) -> Self {
        Conversation {
            show_comments: false,
            comments_open: false,
            comment_count: 0,
            thoughts_heading: String::new(),
            thread_html: String::new(),
            respond: String::new(),
            reply_to_name: None,
            comment_pages: CommentPages {
                older: None,
                newer: None,
                current: 1,
                total: 1,
            },
            likes: None,
            status: StatusCode::OK,
            newest_activity: OffsetDateTime::parse(
                &view.modified_iso,
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap_or(OffsetDateTime::UNIX_EPOCH),
            shared: None,
        }
    }

    pub async fn load(
        state: &AppState,
        post: &Post,
        view: &PostView,
        reader: Reader<'_>,
        shown: Shown,
        draft: Option<CommentDraft>,
    ) -> Result<Self, AppError> {
        let reply_to = shown.reply_to;
        let store = state.store();
        let settings = state.comments();
        let max_depth = state.site().comment_max_depth;
        let summary = &post.summary;
        let viewer = reader.one();
        let for_any_reader = viewer.is_none();
        let viewer_id = viewer.and_then(Viewer::user_id);
        let now = OffsetDateTime::now_utc();
        let per_page = settings.per_page as usize;
        let page = shown.comment_page as usize;
        // Only the page's conversations are read: a post with ten thousand comments costs
        // what one with fifty does.
        let paging = folio_storage::ThreadPaging {
            max_depth,
            per_page: u64::from(settings.per_page),
            page: u64::from(shown.comment_page),
        };
        let thread_page = store.thread_page(summary.id, viewer_id, paging).await?;
        let newest_activity = thread_page.newest.into_iter().fold(
            summary
                .updated_at
                .max(summary.published_at.unwrap_or(summary.updated_at)),
            OffsetDateTime::max,
        );
        let pages = if per_page == 0 {
            1
        } else {
            (thread_page.conversations as usize)
                .div_ceil(per_page)
                .max(1)
        };
        let reply_to_name = match reply_to {
            Some(id) => store
                .comment(id)
                .await?
                .filter(|c| {
                    c.post_id == summary.id
                        && !c.deleted
                        && (c.status == CommentStatus::Approved
                            || (c.status == CommentStatus::Pending
                                && viewer_id.is_some()
                                && c.author_id == viewer_id))
                })
                .map(|c| c.author_name),
            None => None,
        };
        let ids: Vec<i64> = thread_page.comments.iter().map(|c| c.id).collect();
        let (like_counts, liked) = store.comment_likes(&ids, viewer_id).await?;
        let csrf = match viewer {
            Some(viewer) if viewer.user.is_some() => Some(viewer.csrf_token().await?),
            _ => None,
        };
        if page > pages {
            return Err(AppError::NotFound);
        }
        let open = folio_domain::comments::comments_open(
            post.comments_open,
            summary.published_at,
            now,
            settings.close_after_days,
        );
        let marks = ThreadMarks {
            viewer: viewer_id,
            now,
            edit_window: time::Duration::try_from(settings.edit_window).unwrap_or_default(),
            like_counts,
            liked,
            max_depth,
            csrf: csrf.as_deref(),
            open,
            zone: state.site().timezone.clone(),
            for_any_reader,
        };
        let on_page = build_thread(thread_page.comments, max_depth);
        let mut authored = HashMap::new();
        if for_any_reader {
            signed_comments(&on_page, &mut authored);
        }
        let mut thread_html = String::new();
        for (index, node) in on_page.iter().enumerate() {
            marks.render(node, index, &mut thread_html)?;
        }
        let page_link = |n: usize| match n {
            1 => format!("{}#comments", view.path),
            n => format!("{}comment-page-{n}/#comments", view.path),
        };
        let comment_pages = CommentPages {
            older: (page > 1).then(|| page_link(page - 1)),
            newer: (page < pages).then(|| page_link(page + 1)),
            current: page,
            total: pages,
        };
        let (status, form) = match (viewer.and_then(|v| v.user.as_ref()), csrf.clone()) {
            (Some(user), Some(csrf)) if open => {
                let (text, parent, error, status) = match draft {
                    Some(d) => (d.text, d.parent, Some(d.error), d.status),
                    None => (String::new(), reply_to, None, StatusCode::OK),
                };
                let form = CommentFormView {
                    user_name: user.display_name.clone(),
                    text,
                    parent: parent.unwrap_or(0),
                    csrf,
                    error,
                };
                (status, Some(form))
            }
            _ => (draft.map_or(StatusCode::OK, |d| d.status), None),
        };
        let respond_path = match reply_to {
            Some(id) => format!("{}?replytocom={id}#respond", view.path),
            None => format!("{}#respond", view.path),
        };
        let signin_href = likes_signin_href(&view.path);
        let (likes, post_like_count) = if view.is_page {
            (None, 0)
        } else {
            let likes = store
                .post_likes(summary.id, LIKERS_SHOWN, viewer_id)
                .await?;
            let count = likes.count;
            let view = LikesView::new(likes, csrf.as_deref(), summary.id, &signin_href, reader)?;
            (Some(view), count)
        };
        let respond = if for_any_reader {
            Slot::Respond.to_string()
        } else {
            RespondPart {
                form,
                signin: &choices(state, &respond_path),
                max_length: settings.limits.max_length,
                follow_up_checked: settings.follow_up_checked,
                post_id: summary.id,
            }
            .render()?
        };
        let shared = for_any_reader.then(|| SharedThread {
            post_id: summary.id,
            comments: authored,
            comment_likes: marks.like_counts.clone(),
            post_likes: post_like_count,
            likes_signin_href: signin_href,
            reply_to,
            max_length: settings.limits.max_length,
            follow_up_checked: settings.follow_up_checked,
            open,
        });
        Ok(Conversation {
            show_comments: summary.comment_count > 0 || open || !view.is_page,
            comments_open: open,
            comment_count: summary.comment_count,
            thoughts_heading: thoughts_heading(summary.comment_count, &summary.title),
            thread_html,
            respond,
            reply_to_name,
            comment_pages,
            likes,
            status,
            newest_activity,
            shared,
        })
    }
}

fn signed_comments(nodes: &[CommentNode], out: &mut HashMap<i64, Comment>) {
    for node in nodes {
        if node.comment.author_id.is_some() {
            out.insert(node.comment.id, node.comment.clone());
        }
        signed_comments(&node.children, out);
    }
}

fn likes_signin_href(path: &str) -> String {
    format!(
        "/auth/login?return_to={}",
        form_urlencode(&format!("{path}#likes"))
    )
}

impl LikesView {
    fn new(
        likes: Likes,
        csrf: Option<&str>,
        post_id: i64,
        signin_href: &str,
        reader: Reader<'_>,
    ) -> Result<Self, AppError> {
        let (summary, button) = match reader {
            Reader::AnySignedIn => (Slot::LikeSummary.to_string(), Slot::PostLike.to_string()),
            Reader::One(_) => (
                likes_summary(likes.count, likes.by_viewer),
                PostLikePart {
                    post_id,
                    csrf,
                    liked: likes.by_viewer,
                    signin_href,
                }
                .render()?,
            ),
        };
        Ok(LikesView {
            summary,
            button,
            first: likes
                .first
                .into_iter()
                .map(|l| LikerView {
                    avatar_url: avatar_src(l.avatar_url.as_deref(), &l.display_name),
                    name: l.display_name,
                })
                .collect(),
        })
    }
}

/// What the reader looking at a thread may do with each comment.
struct ThreadMarks<'a> {
    viewer: Option<i64>,
    now: OffsetDateTime,
    edit_window: time::Duration,
    like_counts: HashMap<i64, u64>,
    liked: HashSet<i64>,
    max_depth: u32,
    csrf: Option<&'a str>,
    open: bool,
    /// Comment dates are shown on the site's clock.
    zone: folio_domain::schedule::SiteZone,
    /// Each comment's edit link and like button are markers, filled in for each reader.
    for_any_reader: bool,
}

impl ThreadMarks<'_> {
    fn render(&self, node: &CommentNode, index: usize, out: &mut String) -> Result<(), AppError> {
        let mut children_html = String::new();
        for (i, child) in node.children.iter().enumerate() {
            self.render(child, i, &mut children_html)?;
        }
        let comment = &node.comment;
        let mut view = CommentView::new(node, index, self.max_depth, &self.zone);
        view.editable = self
            .viewer
            .is_some_and(|id| comment.editable_by(id, self.now, self.edit_window));
        view.likes = self.like_counts.get(&comment.id).copied().unwrap_or(0);
        view.liked = self.liked.contains(&comment.id);
        let (edit_link, like_action) = if self.for_any_reader {
            (
                Slot::EditLink(comment.id).to_string(),
                Slot::CommentLike(comment.id).to_string(),
            )
        } else {
            let like = CommentLikePart {
                id: comment.id,
                csrf: self.csrf,
                pending: view.pending,
                liked: view.liked,
                likes: view.likes,
            };
            (edit_link(comment.id, view.editable), like.render()?)
        };
        let item = CommentItem {
            can_reply_here: view.can_reply && self.open && !view.pending,
            c: &view,
            children_html,
            edit_link,
            like_action,
        };
        item.render_into(out)?;
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
pub struct CommentForm {
    #[serde(default)]
    comment: String,
    #[serde(rename = "comment_post_ID")]
    post_id: i64,
    #[serde(default)]
    comment_parent: Option<String>,
    #[serde(default)]
    _csrf: String,
    /// The honeypot: hidden from people, filled in by form-filling robots.
    #[serde(default)]
    url: String,
    /// "Notify me of follow-up comments by email".
    #[serde(default)]
    subscribe_comments: Option<String>,
    /// "Notify me of new posts by email".
    #[serde(default)]
    subscribe_blog: Option<String>,
}

impl CommentForm {
    pub(crate) fn subscribe_comments(&self) -> bool {
        self.subscribe_comments
            .as_deref()
            .is_some_and(|v| !v.is_empty())
    }

    pub(crate) fn subscribe_blog(&self) -> bool {
        self.subscribe_blog
            .as_deref()
            .is_some_and(|v| !v.is_empty())
    }
}

async fn post_comment(
    State(state): State<AppState>,
    viewer: Viewer,
    ClientAddress(address): ClientAddress,
    Form(form): Form<CommentForm>,
) -> Result<Response, AppError> {
    viewer.check_csrf(&form._csrf).await?;
    let Some(user) = viewer.user.clone() else {
        return Err(AppError::Forbidden);
    };
    let store = state.store();
    let target = store
        .comment_target(form.post_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if let Some(password) = &target.password
        && !crate::protected::is_unlocked(&viewer, target.post_id, password).await?
    {
        // As the thread and the form, commenting waits for the password.
        return Err(AppError::Forbidden);
    }
    let parent = form
        .comment_parent
        .as_deref()
        .and_then(|p| p.trim().parse::<i64>().ok())
        .filter(|p| *p > 0);
    let refuse = |refusal: CommentRefusal| CommentDraft {
        status: match refusal {
            CommentRefusal::TooFast => StatusCode::TOO_MANY_REQUESTS,
            CommentRefusal::Banned | CommentRefusal::Closed => StatusCode::FORBIDDEN,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        },
        error: refusal.message(),
        text: form.comment.clone(),
        parent,
    };
    let address = address.map(|a| a.to_string());
    let decision = decide(&state, &target, &user, parent, &form).await?;
    let (source, status) = match decision {
        Ok(accepted) => accepted,
        Err(refusal) => {
            tracing::info!(user = user.id, post = target.post_id, reason = ?refusal, "comment refused");
            return refused(&state, &viewer, &target, parent, refuse(refusal)).await;
        }
    };
    let html = match crate::rendering::comment(&source).await? {
        Ok(html) => html,
        Err(refusal) => {
            tracing::info!(user = user.id, post = target.post_id, %refusal, "comment not rendered");
            let draft = CommentDraft {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                error: refusal.to_string(),
                text: form.comment.clone(),
                parent,
            };
            return refused(&state, &viewer, &target, parent, draft).await;
        }
    };
    let settings = state.comments();
    let checks = CommentChecks {
        since: OffsetDateTime::now_utc() - time::Duration::minutes(1),
        per_user: settings.per_user_per_minute,
        per_address: settings.per_address_per_minute,
    };
    let new = NewComment {
        post_id: target.post_id,
        parent_id: parent,
        author_id: Some(user.id),
        author_name: user.display_name.clone(),
        author_url: None,
        source,
        status,
        created_at: None,
        author_ip: address,
    };
    // The comment, its emails and the author's follow and subscription, in one transaction.
    let created =
        crate::subscriptions::create_comment(&state, &target, &user, (new, html), checks, &form)
            .await?;
    let stored = match created {
        Ok(stored) => stored,
        Err(refusal) => {
            tracing::info!(user = user.id, post = target.post_id, reason = ?refusal, "comment refused");
            return refused(&state, &viewer, &target, parent, refuse(refusal)).await;
        }
    };
    let location = match stored.conversation_index {
        // A new conversation at the end of the thread: the writing counted it already. (A
        // flat thread pages by comment, not by conversation.)
        Some(index) if state.site().comment_max_depth > 1 => {
            page_location(&state, &target, stored.id, index as usize)
        }
        _ => comment_location(&state, &target, stored.id, Some(user.id)).await?,
    };
    Ok(see_other(&location))
}

/// The post page again, with the refused comment back in its form and the reason.
async fn refused(
    state: &AppState,
    viewer: &Viewer,
    target: &CommentTarget,
    parent: Option<i64>,
    draft: CommentDraft,
) -> Result<Response, AppError> {
    let post = state
        .store()
        .published_entry(target.post_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let shown = Shown {
        reply_to: parent,
        comment_page: 1,
        wrong_password: false,
        post_page: 1,
    };
    single(state, post, viewer, shown, Some(draft)).await
}

/// Where comment `id` is shown to `viewer`: the post, or the later page of a long thread
/// that holds its conversation, with the comment's anchor.
async fn comment_location(
    state: &AppState,
    target: &CommentTarget,
    id: i64,
    viewer: Option<i64>,
) -> Result<String, AppError> {
    let path = &target.link.path;
    let per_page = state.comments().per_page as usize;
    if per_page == 0 || (target.comment_count as usize) < per_page {
        return Ok(format!("{path}#comment-{id}"));
    }
    let index = state
        .store()
        .thread_position(target.post_id, id, viewer, state.site().comment_max_depth)
        .await?
        .unwrap_or(0);
    Ok(page_location(state, target, id, index))
}

/// The address of comment `id` whose conversation is the `index`th (from 0) of the thread.
fn page_location(state: &AppState, target: &CommentTarget, id: i64, index: usize) -> String {
    let path = &target.link.path;
    let per_page = state.comments().per_page as usize;
    match index.checked_div(per_page).map_or(1, |page| page + 1) {
        1 => format!("{path}#comment-{id}"),
        n => format!("{path}comment-page-{n}/#comment-{id}"),
    }
}

/// `/comments/N/`: a comment's permalink, wherever the thread has put it.
async fn permalink(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let comment = state
        .store()
        .comment(id)
        .await?
        .filter(|c| {
            c.status == CommentStatus::Approved
                || (c.status == CommentStatus::Pending
                    && c.author_id.is_some()
                    && c.author_id == viewer.user_id())
        })
        .ok_or(AppError::NotFound)?;
    let target = state
        .store()
        .comment_target(comment.post_id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(see_other(
        &comment_location(&state, &target, id, viewer.user_id()).await?,
    ))
}

/// Whether the comment may be posted, and with what status; or why not.
async fn decide(
    state: &AppState,
    post: &CommentTarget,
    user: &folio_domain::User,
    parent: Option<i64>,
    form: &CommentForm,
) -> Result<Result<(String, CommentStatus), CommentRefusal>, AppError> {
    let store = state.store();
    let settings = state.comments();
    let now = OffsetDateTime::now_utc();
    if !form.url.is_empty() {
        return Ok(Err(CommentRefusal::LooksAutomated));
    }
    if user.is_banned(now) {
        return Ok(Err(CommentRefusal::Banned));
    }
    let open = folio_domain::comments::comments_open(
        post.comments_open,
        post.published_at,
        now,
        settings.close_after_days,
    );
    if !open {
        return Ok(Err(CommentRefusal::Closed));
    }
    let text = match settings.limits.check(&form.comment) {
        Ok(text) => text,
        Err(refusal) => return Ok(Err(refusal)),
    };
    if let Some(parent) = parent {
        let visible = store.comment(parent).await?.is_some_and(|c| {
            c.post_id == post.post_id
                && !c.deleted
                && (c.status == CommentStatus::Approved
                    || (c.status == CommentStatus::Pending && c.author_id == Some(user.id)))
        });
        if !visible {
            return Ok(Err(CommentRefusal::NoSuchParent));
        }
    }
    // The rate limits and duplicate detection run where the comment is written
    // (`create_comment_checked`), in one transaction with it.
    let trusted = user.moderates() || post.author_id == user.id;
    let has_approved = !trusted
        && settings.moderation == folio_domain::ModerationPolicy::FirstTime
        && store.has_approved_comment(user.id).await?;
    Ok(Ok((
        text,
        settings.moderation.initial_status(trusted, has_approved),
    )))
}

#[derive(Template)]
#[template(path = "edit_comment.html")]
struct EditPage {
    layout: Layout,
    comment_id: i64,
    text: String,
    csrf: String,
    post_title: String,
    post_path: String,
    error: Option<String>,
    editable: bool,
}

/// The comment, if the reader may still change it, with its post.
async fn own_comment(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
) -> Result<(Comment, Post, bool), AppError> {
    let user_id = viewer.user_id().ok_or(AppError::Forbidden)?;
    let comment = state
        .store()
        .comment(id)
        .await?
        .filter(|c| c.author_id == Some(user_id))
        .ok_or(AppError::NotFound)?;
    let post = state
        .store()
        .published_entry(comment.post_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let window = time::Duration::try_from(state.comments().edit_window).unwrap_or_default();
    let editable = comment.editable_by(user_id, OffsetDateTime::now_utc(), window);
    Ok((comment, post, editable))
}

async fn edit_page(
    state: &AppState,
    viewer: &Viewer,
    comment: &Comment,
    post: &Post,
    text: String,
    error: Option<String>,
    editable: bool,
) -> Result<EditPage, AppError> {
    let path = PostView::new(&post.summary).path;
    let mut layout = Layout::with_menu(state, "Edit your comment", &path).await;
    layout.noindex = true;
    layout.for_viewer(viewer, &path).await?;
    Ok(EditPage {
        layout,
        comment_id: comment.id,
        text,
        csrf: viewer.csrf_token().await?,
        post_title: post.summary.title.clone(),
        post_path: path,
        error,
        editable,
    })
}

async fn edit_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let (comment, post, editable) = own_comment(&state, &viewer, id).await?;
    let source = state.store().comment_source(id).await?.unwrap_or_default();
    let page = edit_page(&state, &viewer, &comment, &post, source, None, editable).await?;
    Ok(private(Html(page.render()?).into_response()))
}

#[derive(Debug, Deserialize)]
struct EditForm {
    #[serde(default)]
    comment: String,
    #[serde(default)]
    _csrf: String,
}

async fn edit_comment(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<EditForm>,
) -> Result<Response, AppError> {
    viewer.check_csrf(&form._csrf).await?;
    let (comment, post, editable) = own_comment(&state, &viewer, id).await?;
    let checked = if editable {
        state
            .comments()
            .limits
            .check(&form.comment)
            .map_err(|refusal| (refusal.message(), StatusCode::UNPROCESSABLE_ENTITY))
    } else {
        Err((edit_window_passed(&state), StatusCode::FORBIDDEN))
    };
    let checked = match checked {
        Ok(text) => match crate::rendering::comment(&text).await? {
            Ok(html) => Ok((text, html)),
            Err(refusal) => Err((refusal.to_string(), StatusCode::UNPROCESSABLE_ENTITY)),
        },
        Err(refused) => Err(refused),
    };
    let (text, html) = match checked {
        Ok(rendered) => rendered,
        Err((message, status)) => {
            let page = edit_page(
                &state,
                &viewer,
                &comment,
                &post,
                form.comment.clone(),
                Some(message),
                editable,
            )
            .await?;
            return Ok(private((status, Html(page.render()?)).into_response()));
        }
    };
    state.store().edit_comment(id, &text, html).await?;
    let path = PostView::new(&post.summary).path;
    Ok(see_other(&format!("{path}#comment-{id}")))
}

fn edit_window_passed(state: &AppState) -> String {
    let minutes = state.comments().edit_window.as_secs() / 60;
    format!(
        "Comments can be changed or deleted for {minutes} minutes after posting; that time has passed for this one."
    )
}

#[derive(Debug, Deserialize)]
struct TokenOnly {
    #[serde(default)]
    _csrf: String,
}

async fn delete_comment(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<TokenOnly>,
) -> Result<Response, AppError> {
    viewer.check_csrf(&form._csrf).await?;
    let (comment, post, editable) = own_comment(&state, &viewer, id).await?;
    if !editable {
        let page = edit_page(
            &state,
            &viewer,
            &comment,
            &post,
            String::new(),
            Some(edit_window_passed(&state)),
            false,
        )
        .await?;
        return Ok(private(
            (StatusCode::FORBIDDEN, Html(page.render()?)).into_response(),
        ));
    }
    state.store().delete_comment(id).await?;
    let path = PostView::new(&post.summary).path;
    Ok(see_other(&format!("{path}#comments")))
}

async fn like_post(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<TokenOnly>,
) -> Result<Response, AppError> {
    let user_id = viewer.participating_user(&form._csrf).await?;
    let path = opened_path(&state, &viewer, id).await?;
    state.store().toggle_post_like(id, user_id).await?;
    Ok(see_other(&format!("{path}#likes")))
}

async fn like_comment(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<TokenOnly>,
) -> Result<Response, AppError> {
    let user_id = viewer.participating_user(&form._csrf).await?;
    let comment = state
        .store()
        .comment(id)
        .await?
        .filter(|c| c.status == CommentStatus::Approved && !c.deleted)
        .ok_or(AppError::NotFound)?;
    let path = opened_path(&state, &viewer, comment.post_id).await?;
    state.store().toggle_comment_like(id, user_id).await?;
    Ok(see_other(&format!("{path}#comment-{id}")))
}

/// The path of a published post or page, read with the one light query a comment uses;
/// 404 when there is no such published entry.
pub(crate) async fn published_path(state: &AppState, id: i64) -> Result<String, AppError> {
    Ok(state
        .store()
        .comment_target(id)
        .await?
        .ok_or(AppError::NotFound)?
        .link
        .path)
}

/// As `published_path`, for what only a reader who may see the post can do (like it or
/// its comments): 403 on a protected post this reader has not opened.
async fn opened_path(state: &AppState, viewer: &Viewer, id: i64) -> Result<String, AppError> {
    let target = state
        .store()
        .comment_target(id)
        .await?
        .ok_or(AppError::NotFound)?;
    if let Some(password) = &target.password
        && !crate::protected::is_unlocked(viewer, id, password).await?
    {
        return Err(AppError::Forbidden);
    }
    Ok(target.link.path)
}

/// A page made for one signed-in reader: no shared cache may keep it.
pub(crate) fn private(mut response: Response) -> Response {
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("private, no-store"),
    );
    response
}
