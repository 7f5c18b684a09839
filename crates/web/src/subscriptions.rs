//! Email subscriptions seen from the browser: the unsubscribe page behind every email's link
//! (GET shows the choices, POST acts; a bare POST is RFC 8058's one-click unsubscribe), the
//! new-posts subscription for readers who are not signed in, and its double opt-in.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use folio_domain::{Comment, CommentRefusal, CommentStatus, Post, User};
use folio_storage::{CommentChecks, CommentTarget, ModerationLink, NewComment, UnsubscribeTarget};
use serde::Deserialize;

use crate::AppState;
use crate::discussion::{CommentForm, private};
use crate::error::AppError;
use crate::layout::Layout;
use crate::session::{ClientAddress, Viewer};
use crate::signin::see_other;

/// Writes a reader's comment (unless the checks refuse it) with, in the same transaction,
/// the emails it causes and their follow of the thread if they ticked `subscribe_comments`;
/// then their new-posts subscription if they ticked `subscribe_blog` (at once for a
/// provider-verified address; after the double opt-in for another).
pub(crate) async fn create_comment(
    state: &AppState,
    target: &CommentTarget,
    user: &User,
    (new, html): (NewComment, String),
    checks: CommentChecks,
    form: &CommentForm,
) -> Result<Result<folio_storage::StoredComment, CommentRefusal>, AppError> {
    let store = state.store();
    let plan = folio_notification::plan_comment_mail(
        store,
        folio_notification::CommentFacts {
            post_id: target.post_id,
            post_title: &target.link.title,
            post_path: &target.link.path,
            parent_id: new.parent_id,
            author_id: Some(user.id),
            author_name: &user.display_name,
            source: &new.source,
            html: &html,
            status: new.status,
            protected: target.password.is_some(),
        },
    )
    .await?;
    let created = store
        .create_comment_checked_notifying(new, html, checks, form.subscribe_comments(), move |id| {
            plan.rows(id)
        })
        .await?;
    if created.is_ok()
        && form.subscribe_blog()
        && let Some(email) = user.email.as_deref()
    {
        // An address the provider vouched for needs no confirmation; another one gets the
        // confirmation email first, and nothing else until it is confirmed.
        store
            .subscribe_blog(email, Some(user.id), user.email_verified, |s| {
                Some(folio_notification::confirmation_mail(s))
            })
            .await?;
    }
    Ok(created)
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/unsubscribe/{token}",
            get(unsubscribe_page).post(unsubscribe),
        )
        .route("/subscribe", post(subscribe))
        .route("/follow/{post_id}", post(follow))
        .route("/moderate/{token}", get(moderate_page).post(moderate))
        .route("/account/subscriptions", get(manage_page).post(manage))
        .route(
            "/subscribe/confirm/{token}",
            get(confirm_page).post(confirm),
        )
}

/// One choice on the unsubscribe page.
pub struct Choice {
    pub value: &'static str,
    pub label: String,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "unsubscribe.html")]
struct UnsubscribePage {
    layout: Layout,
    token: String,
    recipient: String,
    choices: Vec<Choice>,
    done: Option<String>,
}

#[derive(Template)]
#[template(path = "subscribed.html")]
struct MessagePage {
    layout: Layout,
    heading: String,
    message: String,
    /// A confirmation still to press (a GET never changes anything: mail scanners open links).
    confirm_token: Option<String>,
}

fn is_blog_kind(target: &UnsubscribeTarget) -> bool {
    target.blog_subscription || matches!(target.kind.as_str(), "new_post" | "confirm_blog")
}

/// The choices that make sense for this email, the one-click default first.
fn choices_for(target: &UnsubscribeTarget) -> Vec<Choice> {
    let mut choices = Vec::new();
    let thread = target.user_id.is_some() && target.post_id.is_some() && !is_blog_kind(target);
    if thread {
        choices.push(Choice {
            value: "thread",
            label: "Emails about this post's comments".to_owned(),
            checked: false,
        });
    }
    if target.user_id.is_some() {
        choices.push(Choice {
            value: "replies",
            label: "Emails when someone replies to my comments".to_owned(),
            checked: false,
        });
    }
    choices.push(Choice {
        value: "new_posts",
        label: "Emails about new posts".to_owned(),
        checked: false,
    });
    choices.push(Choice {
        value: "everything",
        label: "Everything: no more email from this site".to_owned(),
        checked: false,
    });
    if let Some(first) = choices.first_mut() {
        first.checked = true;
    }
    choices
}

async fn target(state: &AppState, token: &str) -> Result<UnsubscribeTarget, AppError> {
    if token.len() > 128 {
        return Err(AppError::NotFound);
    }
    state
        .store()
        .unsubscribe_target(token)
        .await?
        .ok_or(AppError::NotFound)
}

async fn page_layout(state: &AppState, title: &str, path: &str) -> Layout {
    let mut layout = Layout::with_menu(state, title, path).await;
    layout.noindex = true;
    layout
}

async fn unsubscribe_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let target = target(&state, &token).await?;
    let page = UnsubscribePage {
        layout: page_layout(&state, "Unsubscribe", &format!("/unsubscribe/{token}")).await,
        choices: choices_for(&target),
        recipient: target.recipient,
        token,
        done: None,
    };
    Ok(private(Html(page.render()?).into_response()))
}

async fn unsubscribe(
    State(state): State<AppState>,
    Path(token): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let target = target(&state, &token).await?;
    let choices = choices_for(&target);
    // A one-click POST carries `List-Unsubscribe=One-Click` (or nothing); the page's form
    // carries `choice`, whose values are plain words.
    let requested = String::from_utf8_lossy(&body)
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == "choice")
        .map(|(_, value)| value.to_owned());
    let choice = match requested.as_deref() {
        Some(value) => choices
            .iter()
            .find(|c| c.value == value)
            .map(|c| c.value)
            .ok_or(AppError::NotFound)?,
        None => choices.first().map_or("everything", |c| c.value),
    };
    let store = state.store();
    let done = match (choice, target.user_id, target.post_id) {
        ("thread", Some(user), Some(post)) => {
            store.set_thread_follow(post, user, false).await?;
            "You will get no more email about this post's comments."
        }
        ("replies", Some(user), _) => {
            store.set_notify_replies(user, false).await?;
            "You will get no more email when someone replies to your comments."
        }
        ("new_posts", user, _) => {
            store.unsubscribe_blog(&target.recipient, user).await?;
            "You will get no more email about new posts."
        }
        (_, user, _) => {
            store.unsubscribe_blog(&target.recipient, user).await?;
            if let Some(user) = user {
                store.set_notify_replies(user, false).await?;
                store.unfollow_all_threads(user).await?;
            }
            "You will get no more email from this site about comments or posts."
        }
    };
    tracing::info!(choice, "unsubscribed");
    let page = UnsubscribePage {
        layout: page_layout(&state, "Unsubscribed", &format!("/unsubscribe/{token}")).await,
        choices: Vec::new(),
        recipient: target.recipient,
        token,
        done: Some(done.to_owned()),
    };
    Ok(private(Html(page.render()?).into_response()))
}

#[derive(Debug, Deserialize)]
struct SubscribeForm {
    #[serde(default)]
    email: String,
    /// The honeypot: hidden from people.
    #[serde(default)]
    url: String,
}

async fn message(
    state: &AppState,
    status: StatusCode,
    heading: &str,
    text: &str,
) -> Result<Response, AppError> {
    let page = MessagePage {
        layout: page_layout(state, heading, "/subscribe").await,
        heading: heading.to_owned(),
        message: text.to_owned(),
        confirm_token: None,
    };
    Ok(private((status, Html(page.render()?)).into_response()))
}

/// A reader who is not signed in types an address: it gets the confirmation email and
/// nothing else until its owner confirms.
async fn subscribe(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    Form(form): Form<SubscribeForm>,
) -> Result<Response, AppError> {
    let email = form.email.trim();
    let plausible = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.contains(char::is_whitespace)
        && email.chars().all(folio_domain::text::is_xml_char)
        && email.parse::<folio_notification::Mailbox>().is_ok();
    if !plausible {
        return message(
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Subscribe",
            "That does not look like an email address. Please go back and check it.",
        )
        .await;
    }
    if form.url.is_empty() {
        // Each confirmation is an email to a stranger's inbox: an address gets a few an hour.
        let address = address.map_or_else(|| "unknown".to_owned(), |a| a.to_string());
        let accepted = state
            .store()
            .subscribe_blog_from_address(
                email,
                &address,
                state.security().subscribe_per_address_per_hour,
                |s| Some(folio_notification::confirmation_mail(s)),
            )
            .await?;
        if accepted.is_none() {
            tracing::info!(client = %address, "subscription refused: too many from this address");
            return message(
                &state,
                StatusCode::TOO_MANY_REQUESTS,
                "Too many subscriptions",
                "Too many subscriptions were asked for from your network in the last hour, so no email was sent. Please try again later.",
            ).await;
        }
    }
    // The same answer whether or not the address was known: it tells nobody who subscribed.
    message(
        &state,
        StatusCode::OK,
        "Check your inbox",
        "We sent a confirmation link to that address. New posts arrive once it is confirmed.",
    )
    .await
}

async fn confirm_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let page = MessagePage {
        layout: page_layout(&state, "Confirm your subscription", "/subscribe").await,
        heading: "Confirm your subscription".to_owned(),
        message: "Press the button to receive an email for each new post.".to_owned(),
        confirm_token: Some(token),
    };
    Ok(private(Html(page.render()?).into_response()))
}

async fn confirm(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    match state.store().confirm_blog_subscription(&token).await? {
        Some(_) => {
            message(
                &state,
                StatusCode::OK,
                "Subscribed",
                "Thank you: you will receive an email for each new post.",
            )
            .await
        }
        None => {
            message(
                &state,
                StatusCode::NOT_FOUND,
                "Link not valid",
                "This confirmation link is not valid (anymore). Please subscribe again.",
            )
            .await
        }
    }
}

#[derive(Debug, Deserialize)]
struct FollowForm {
    #[serde(default)]
    _csrf: String,
    /// "1" follows, "0" stops following.
    #[serde(default)]
    follow: Option<String>,
}

/// "Follow this conversation": email about new comments without writing one.
async fn follow(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(post_id): Path<i64>,
    Form(form): Form<FollowForm>,
) -> Result<Response, AppError> {
    let following = form.follow.as_deref() != Some("0");
    // Stopping the emails stays possible for a banned reader; starting them does not.
    let user_id = if following {
        viewer.participating_user(&form._csrf).await?
    } else {
        viewer.acting_user(&form._csrf).await?
    };
    let path = crate::discussion::published_path(&state, post_id).await?;
    state
        .store()
        .set_thread_follow(post_id, user_id, following)
        .await?;
    Ok(see_other(&format!("{path}#respond")))
}

/// How long the Approve / Spam / Trash link of a moderation email works.
const MODERATION_LINK_DAYS: i64 = 14;

#[derive(Template)]
#[template(path = "moderate.html")]
struct ModeratePage {
    layout: Layout,
    token: String,
    author_name: String,
    comment_html: String,
    post_title: String,
    post_path: String,
}

async fn moderation_target(
    state: &AppState,
    token: &str,
) -> Result<Result<(Comment, Post), Response>, AppError> {
    let link = state
        .store()
        .moderation_link(token, time::Duration::days(MODERATION_LINK_DAYS))
        .await?
        .ok_or(AppError::NotFound)?;
    let (heading, why) = match link {
        ModerationLink::Usable(id) => {
            return found_target(state, id).await;
        }
        ModerationLink::AlreadyUsed => (
            "Link already used",
            "This moderation link was already used. The comment can still be moderated in the admin.".to_owned(),
        ),
        ModerationLink::OtherLinkUsed => (
            "Already moderated",
            "Another moderator already acted on this comment from their email, so this link no longer works. The comment can still be changed in the admin.".to_owned(),
        ),
        ModerationLink::AlreadyModerated(status) => (
            "Already moderated",
            format!(
                "This comment was already moderated (it is now {}), so this link no longer works. It can still be changed in the admin.",
                status_words(status)
            ),
        ),
        ModerationLink::NotAModerator => (
            "Link no longer valid",
            "This link was sent to someone who no longer moderates comments on this site, so it no longer works.".to_owned(),
        ),
        ModerationLink::Expired => (
            "Link expired",
            "This moderation link has expired. The comment can still be moderated in the admin.".to_owned(),
        ),
    };
    Ok(Err(message(state, StatusCode::GONE, heading, &why).await?))
}

fn status_words(status: CommentStatus) -> &'static str {
    match status {
        CommentStatus::Approved => "approved",
        CommentStatus::Pending => "waiting",
        CommentStatus::Spam => "marked as spam",
        CommentStatus::Trash => "in the trash",
    }
}

async fn found_target(
    state: &AppState,
    comment_id: i64,
) -> Result<Result<(Comment, Post), Response>, AppError> {
    let comment = state
        .store()
        .comment(comment_id)
        .await?
        .filter(|c| !c.deleted)
        .ok_or(AppError::NotFound)?;
    let post = state
        .store()
        .published_entry(comment.post_id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Ok((comment, post)))
}

/// The comment and three buttons; opening the link changes nothing (mail scanners open links).
async fn moderate_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let (comment, post) = match moderation_target(&state, &token).await? {
        Ok(found) => found,
        Err(page) => return Ok(page),
    };
    let page = ModeratePage {
        layout: page_layout(&state, "Moderate a comment", "/moderate").await,
        token,
        author_name: comment.author_name,
        comment_html: comment.html,
        post_title: post.summary.title.clone(),
        post_path: crate::views::url_path(&post.summary.path()),
    };
    Ok(private(Html(page.render()?).into_response()))
}

#[derive(Debug, Deserialize)]
struct ModerateForm {
    #[serde(default)]
    action: String,
}

/// Approves, marks as spam or trashes the comment; the link then no longer works. An
/// approved comment's followers, parent author and post author are told of it now.
async fn moderate(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Form(form): Form<ModerateForm>,
) -> Result<Response, AppError> {
    let (status, done) = match form.action.as_str() {
        "approve" => (
            CommentStatus::Approved,
            "The comment is approved and shown.",
        ),
        "spam" => (CommentStatus::Spam, "The comment is marked as spam."),
        "trash" => (CommentStatus::Trash, "The comment is in the trash."),
        _ => return Err(AppError::NotFound),
    };
    let (comment, post) = match moderation_target(&state, &token).await? {
        Ok(found) => found,
        Err(page) => return Ok(page),
    };
    let plan = match status {
        CommentStatus::Approved => approval_plan(&state, comment.id, &post).await?,
        _ => None,
    };
    let Some(comment_id) = state
        .store()
        .use_moderation_link(&token, status, |id| {
            plan.map(|p| p.rows(id)).unwrap_or_default()
        })
        .await?
    else {
        // Someone acted between the check and the change: say what happened.
        if let Err(page) = moderation_target(&state, &token).await? {
            return Ok(page);
        }
        return message(
            &state,
            StatusCode::GONE,
            "Link already used",
            "This moderation link was already used.",
        )
        .await;
    };
    tracing::info!(
        comment = comment_id,
        status = status.as_str(),
        "comment moderated from an email link"
    );
    message(&state, StatusCode::OK, "Done", done).await
}

/// The emails approving comment `comment_id` on `post` will queue (see
/// `Store::set_comments_status`), planned before the transaction that approves it.
pub(crate) async fn approval_plan(
    state: &AppState,
    comment_id: i64,
    post: &Post,
) -> Result<Option<folio_notification::CommentMailPlan>, AppError> {
    Ok(folio_notification::plan_approval_mail(
        state.store(),
        comment_id,
        &post.summary.title,
        &crate::views::url_path(&post.summary.path()),
    )
    .await?)
}

#[derive(Template)]
#[template(path = "subscriptions.html")]
struct ManagePage {
    layout: Layout,
    csrf: String,
    email: Option<String>,
    notify_replies: bool,
    new_posts: bool,
    threads: Vec<(i64, folio_storage::PostLink)>,
}

/// A signed-in reader's email subscriptions: followed conversations, replies, new posts.
async fn manage_page(State(state): State<AppState>, viewer: Viewer) -> Result<Response, AppError> {
    let Some(user) = viewer.user.clone() else {
        return Ok(see_other(
            "/auth/login?return_to=%2Faccount%2Fsubscriptions",
        ));
    };
    let store = state.store();
    let email = user.email.clone().filter(|_| user.email_verified);
    let new_posts = match &email {
        Some(address) => store.blog_subscription(address).await? == Some(true),
        None => false,
    };
    let mut layout = page_layout(&state, "Email subscriptions", "/account/subscriptions").await;
    layout.for_viewer(&viewer, "/account/subscriptions").await?;
    let page = ManagePage {
        layout,
        csrf: viewer.csrf_token().await?,
        email,
        notify_replies: user.notify_replies,
        new_posts,
        threads: store.followed_threads(user.id).await?,
    };
    Ok(private(Html(page.render()?).into_response()))
}

#[derive(Debug, Deserialize)]
struct ManageForm {
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    post: Option<i64>,
}

async fn manage(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<ManageForm>,
) -> Result<Response, AppError> {
    viewer.check_csrf(&form._csrf).await?;
    let user = viewer.user.clone().ok_or(AppError::Forbidden)?;
    let store = state.store();
    let email = user.email.clone().filter(|_| user.email_verified);
    // Turning email off stays possible for a banned reader; taking on more does not.
    let subscribing = matches!(form.action.as_str(), "new_posts_on" | "replies_on");
    if subscribing && user.is_banned(time::OffsetDateTime::now_utc()) {
        return Err(AppError::Banned);
    }
    match (form.action.as_str(), form.post) {
        ("unfollow", Some(post)) => store.set_thread_follow(post, user.id, false).await?,
        ("replies_on", _) => store.set_notify_replies(user.id, true).await?,
        ("replies_off", _) => store.set_notify_replies(user.id, false).await?,
        ("new_posts_on", _) => {
            if let Some(address) = &email {
                store
                    .subscribe_blog(address, Some(user.id), true, |_| None)
                    .await?;
            }
        }
        ("new_posts_off", _) => {
            store
                .unsubscribe_blog(email.as_deref().unwrap_or(""), Some(user.id))
                .await?;
        }
        _ => return Err(AppError::NotFound),
    }
    viewer
        .set_notice("Your email subscriptions were saved.")
        .await?;
    Ok(see_other("/account/subscriptions"))
}
