//! Post pages for signed-in readers, made from one copy shared by all of them.
//!
//! Most of a post page is the same for every signed-in reader; only a few parts are theirs
//! alone: the account bar, a notice, the like buttons (liked or not, with their form token),
//! the edit links on their own recent comments, and the comment form. The page is rendered
//! once per content version with a marker in place of each of those parts, and for each
//! request the markers are replaced by that reader's parts, rendered by the same templates a
//! full render uses, so that the bytes are the same as a full render's.
//!
//! A reader whose page differs in its structure (one with comments held for moderation,
//! which only they see) gets the full render, as does a protected post and a refused
//! comment's page.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, OnceLock};

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use folio_domain::Post;
use folio_storage::ContentState;
use moka::sync::Cache;
use time::OffsetDateTime;

use crate::discussion::{
    CommentFormView, CommentLikePart, PostLikePart, RespondPart, SharedThread, edit_link,
    likes_summary,
};
use crate::error::AppError;
use crate::layout::{AccountBar, AccountBarPart, NoticePart};
use crate::pages::Shown;
use crate::session::Viewer;
use crate::{AppState, CacheSettings};

/// Whom a page is rendered for.
#[derive(Clone, Copy)]
pub(crate) enum Reader<'a> {
    One(&'a Viewer),
    /// Every signed-in reader at once: their own parts become markers.
    AnySignedIn,
}

impl<'a> Reader<'a> {
    pub fn one(self) -> Option<&'a Viewer> {
        match self {
            Reader::One(viewer) => Some(viewer),
            Reader::AnySignedIn => None,
        }
    }
}

/// A part of a page that belongs to one reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Slot {
    AccountBar,
    Notice,
    PostLike,
    LikeSummary,
    Respond,
    EditLink(i64),
    CommentLike(i64),
}

/// Private-use characters around a secret drawn at start: no text a reader or an author
/// writes can pose as a marker, since nobody outside the process knows the secret.
const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';

fn secret() -> &'static str {
    static SECRET: OnceLock<String> = OnceLock::new();
    SECRET.get_or_init(|| uuid::Uuid::new_v4().simple().to_string())
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{OPEN}{}", secret())?;
        match self {
            Slot::AccountBar => f.write_str("A")?,
            Slot::Notice => f.write_str("N")?,
            Slot::PostLike => f.write_str("P")?,
            Slot::LikeSummary => f.write_str("S")?,
            Slot::Respond => f.write_str("R")?,
            Slot::EditLink(id) => write!(f, "E{id}")?,
            Slot::CommentLike(id) => write!(f, "C{id}")?,
        }
        write!(f, "{CLOSE}")
    }
}

impl Slot {
    fn parse(code: &str) -> Option<Slot> {
        let id = || code.get(1..)?.parse::<i64>().ok();
        Some(match code.chars().next()? {
            'A' if code.len() == 1 => Slot::AccountBar,
            'N' if code.len() == 1 => Slot::Notice,
            'P' if code.len() == 1 => Slot::PostLike,
            'S' if code.len() == 1 => Slot::LikeSummary,
            'R' if code.len() == 1 => Slot::Respond,
            'E' => Slot::EditLink(id()?),
            'C' => Slot::CommentLike(id()?),
            _ => return None,
        })
    }
}

/// A part in a template: this reader's, or the marker for it.
pub enum Part<T> {
    Own(T),
    Marker(Slot),
}

impl<T: fmt::Display> fmt::Display for Part<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Part::Own(part) => part.fmt(f),
            Part::Marker(slot) => slot.fmt(f),
        }
    }
}

enum Segment {
    Text(std::ops::Range<usize>),
    Slot(Slot),
}

/// The page shared by signed-in readers, cut at its markers.
pub(crate) struct SharedPage {
    content: ContentState,
    html: String,
    /// How long the last reader's page came out: the next one is about as long (their
    /// forms and tokens make it longer than `html`), so its buffer is sized once.
    filled_length: std::sync::atomic::AtomicUsize,
    segments: Vec<Segment>,
    thread: SharedThread,
    page_path: String,
}

impl SharedPage {
    fn new(
        content: ContentState,
        html: String,
        thread: SharedThread,
        page_path: String,
    ) -> Option<Self> {
        let opening = format!("{OPEN}{}", secret());
        let mut segments = Vec::new();
        let mut at = 0;
        while let Some(found) = html[at..].find(&opening) {
            let start = at + found;
            let code_start = start + opening.len();
            let code_end = code_start + html[code_start..].find(CLOSE)?;
            segments.push(Segment::Text(at..start));
            segments.push(Segment::Slot(Slot::parse(&html[code_start..code_end])?));
            at = code_end + CLOSE.len_utf8();
        }
        segments.push(Segment::Text(at..html.len()));
        Some(SharedPage {
            content,
            filled_length: std::sync::atomic::AtomicUsize::new(html.len()),
            html,
            segments,
            thread,
            page_path,
        })
    }
}

/// What one reader has done that shows on a post page: the same until the content changes
/// (every like and every comment, held or not, moves the content version).
struct ReaderMarks {
    liked_post: bool,
    liked_comments: HashSet<i64>,
    holds_comments: bool,
}

/// A shared page is found by its address, so that a request can find it before loading
/// the post.
#[derive(Clone, PartialEq, Eq, Hash)]
struct PageKey {
    /// The page's own path: the post's, with `N/` or `comment-page-N/` for a later page.
    path: String,
    reply_to: Option<i64>,
}

/// The shared pages and each reader's marks, kept per content version. Dropped with the
/// anonymous page cache, whenever the content version moves.
#[derive(Clone)]
pub struct ReaderPages {
    pages: Cache<PageKey, Arc<SharedPage>>,
    marks: Cache<(i64, i64), Arc<(ContentState, ReaderMarks)>>,
}

impl ReaderPages {
    pub fn new(settings: &CacheSettings) -> Self {
        ReaderPages {
            pages: Cache::builder()
                .max_capacity(settings.max_bytes / 2)
                .weigher(|_: &PageKey, page: &Arc<SharedPage>| {
                    u32::try_from(page.html.len() + 64 * page.segments.len() + 1024)
                        .unwrap_or(u32::MAX)
                })
                .time_to_live(settings.ttl)
                .build(),
            marks: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(settings.ttl)
                .build(),
        }
    }

    pub(crate) fn invalidate_all(&self) {
        self.pages.invalidate_all();
        self.marks.invalidate_all();
    }

    async fn marks(
        &self,
        state: &AppState,
        post_id: i64,
        user_id: i64,
        content: ContentState,
    ) -> Result<Arc<(ContentState, ReaderMarks)>, AppError> {
        if let Some(hit) = self.marks.get(&(post_id, user_id))
            && hit.0 == content
        {
            return Ok(hit);
        }
        let store = state.store();
        let liked_post = store.post_likes(post_id, 0, Some(user_id)).await?.by_viewer;
        let liked_comments = store.comments_liked_by(post_id, user_id).await?;
        let holds_comments = store.holds_for(post_id, Some(user_id)).await?;
        let marks = Arc::new((
            content,
            ReaderMarks {
                liked_post,
                liked_comments,
                holds_comments,
            },
        ));
        self.marks.insert((post_id, user_id), marks.clone());
        Ok(marks)
    }
}

/// The page at `path` for a signed-in reader, when a shared copy of it is already made for
/// the content as it is now; `None` otherwise (the post is then loaded, and `answer` tried).
pub(crate) async fn answer_made(
    state: &AppState,
    path: &str,
    reply_to: Option<i64>,
    viewer: &Viewer,
) -> Result<Option<Response>, AppError> {
    let (Some(user), Some(pages)) = (&viewer.user, state.cache().reader_pages()) else {
        return Ok(None);
    };
    let key = PageKey {
        path: path.to_owned(),
        reply_to,
    };
    let Some(page) = pages.pages.get(&key) else {
        return Ok(None);
    };
    let content = crate::session::content_state_now(state.store()).await?;
    state.cache().observe_newer(content);
    if page.content != content {
        return Ok(None);
    }
    let marks = pages
        .marks(state, page.thread.post_id, user.id, content)
        .await?;
    if marks.1.holds_comments {
        return Ok(None);
    }
    Ok(Some(respond(
        fill(state, &page, viewer, user, &marks.1).await?,
    )))
}

/// The post page for a signed-in reader from the shared copy, or `None` when this reader or
/// this post needs the full render.
pub(crate) async fn answer(
    state: &AppState,
    post: &Post,
    viewer: &Viewer,
    shown: Shown,
) -> Result<Option<Response>, AppError> {
    let (Some(user), Some(pages)) = (&viewer.user, state.cache().reader_pages()) else {
        return Ok(None);
    };
    if post.password.is_some() {
        return Ok(None);
    }
    // The version as it is now rather than as last polled: a reader who has just commented
    // or liked, in this process or another, sees it on the very next page, as with a full
    // render.
    let content = crate::session::content_state_now(state.store()).await?;
    // The menu and sidebar follow the version last seen: bring it up to this one before the
    // shared page is made from them.
    state.cache().observe_newer(content);
    let post_id = post.summary.id;
    let marks = pages.marks(state, post_id, user.id, content).await?;
    if marks.1.holds_comments {
        return Ok(None);
    }
    let key = PageKey {
        path: page_path(post, shown),
        reply_to: shown.reply_to,
    };
    let page = match pages.pages.get(&key).filter(|p| p.content == content) {
        Some(page) => page,
        None => {
            let Some((html, thread)) = crate::pages::shared_single(state, post, shown).await?
            else {
                return Ok(None);
            };
            let Some(page) = SharedPage::new(content, html, thread, key.path.clone()) else {
                tracing::warn!(post = post_id, "a shared page's markers do not parse");
                return Ok(None);
            };
            let page = Arc::new(page);
            pages.pages.insert(key, page.clone());
            page
        }
    };
    Ok(Some(respond(
        fill(state, &page, viewer, user, &marks.1).await?,
    )))
}

fn respond(html: String) -> Response {
    let mut response = Html(html).into_response();
    // Made for one reader: no shared cache may keep it.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    *response.status_mut() = StatusCode::OK;
    response
}

fn page_path(post: &Post, shown: Shown) -> String {
    let path = crate::views::PostView::new(&post.summary).path;
    match (shown.comment_page, shown.post_page) {
        (1, 1) => path,
        (1, n) => format!("{path}{n}/"),
        (n, _) => format!("{path}comment-page-{n}/"),
    }
}

/// The shared page with this reader's parts in place of its markers.
async fn fill(
    state: &AppState,
    page: &SharedPage,
    viewer: &Viewer,
    user: &folio_domain::User,
    marks: &ReaderMarks,
) -> Result<String, AppError> {
    // In the order a full render asks the session, so that it ends up the same.
    let csrf = viewer.csrf_token().await?;
    let notice = viewer.take_notice().await?;
    let account = AccountBar {
        name: user.display_name.clone(),
        csrf: csrf.clone(),
        return_to: page.page_path.clone(),
        can_admin: user.role >= folio_domain::Role::Author,
    };
    let thread = &page.thread;
    let now = OffsetDateTime::now_utc();
    let window = time::Duration::try_from(state.comments().edit_window).unwrap_or_default();
    let mut out = String::with_capacity(
        page.filled_length
            .load(std::sync::atomic::Ordering::Relaxed)
            .saturating_add(1024),
    );
    for segment in &page.segments {
        match segment {
            Segment::Text(range) => out.push_str(&page.html[range.clone()]),
            Segment::Slot(Slot::AccountBar) => AccountBarPart {
                account: Some(&account),
            }
            .render_into(&mut out)?,
            Segment::Slot(Slot::Notice) => NoticePart {
                notice: notice.as_deref(),
            }
            .render_into(&mut out)?,
            Segment::Slot(Slot::PostLike) => PostLikePart {
                post_id: thread.post_id,
                csrf: Some(&csrf),
                liked: marks.liked_post,
                signin_href: &thread.likes_signin_href,
            }
            .render_into(&mut out)?,
            Segment::Slot(Slot::LikeSummary) => {
                out.push_str(&likes_summary(thread.post_likes, marks.liked_post));
            }
            Segment::Slot(Slot::Respond) => {
                let form = thread.open.then(|| CommentFormView {
                    user_name: user.display_name.clone(),
                    text: String::new(),
                    parent: thread.reply_to.unwrap_or(0),
                    csrf: csrf.clone(),
                    error: None,
                });
                RespondPart {
                    form,
                    signin: &[],
                    max_length: thread.max_length,
                    follow_up_checked: thread.follow_up_checked,
                    post_id: thread.post_id,
                }
                .render_into(&mut out)?;
            }
            Segment::Slot(Slot::EditLink(id)) => {
                let editable = thread
                    .comments
                    .get(id)
                    .is_some_and(|c| c.editable_by(user.id, now, window));
                out.push_str(&edit_link(*id, editable));
            }
            Segment::Slot(Slot::CommentLike(id)) => CommentLikePart {
                id: *id,
                csrf: Some(&csrf),
                pending: false,
                liked: marks.liked_comments.contains(id),
                likes: thread.comment_likes.get(id).copied().unwrap_or(0),
            }
            .render_into(&mut out)?,
        }
    }
    page.filled_length
        .store(out.len(), std::sync::atomic::Ordering::Relaxed);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_read_back_as_the_slots_they_stand_for() {
        for slot in [
            Slot::AccountBar,
            Slot::Notice,
            Slot::PostLike,
            Slot::LikeSummary,
            Slot::Respond,
            Slot::EditLink(42),
            Slot::CommentLike(7),
        ] {
            let text = slot.to_string();
            let code = text
                .trim_start_matches(OPEN)
                .trim_start_matches(secret())
                .trim_end_matches(CLOSE);
            assert_eq!(Slot::parse(code), Some(slot));
        }
        assert_eq!(Slot::parse("E"), None);
        assert_eq!(Slot::parse("Ax"), None);
        assert_eq!(Slot::parse("Q1"), None);
    }
}
