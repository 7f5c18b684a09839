//! A reader's own account: who they are at each provider, their notification choice, a copy
//! of everything kept about them, and a way to leave.

use askama::Template;
use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use folio_domain::{Identity, User};
use folio_storage::{LeavingComments, StorageError, UnlinkOutcome};
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::discussion::private;
use crate::error::AppError;
use crate::layout::Layout;
use crate::pages::form_urlencode;
use crate::session::Viewer;
use crate::signin::see_other;
use crate::views::{avatar_src, iso};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account", get(show).post(save))
        .route("/account/export", get(export))
        .route("/account/delete", post(delete))
        .route("/account/sign-in-methods/remove", post(remove_method))
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    layout: Layout,
    user: User,
    avatar_url: String,
    identities: Vec<IdentityView>,
    /// Ways of signing in the reader may add ("Log in with ..." in link mode).
    add_choices: Vec<crate::signin::SignInChoice>,
    comment_count: usize,
    csrf: String,
    error: Option<String>,
}

struct IdentityView {
    /// The config name and the provider's subject: what the remove button sends.
    provider_name: String,
    subject: String,
    provider: String,
    login: String,
    email: String,
}

/// The signed-in reader, or (boxed: a response is large) the way to sign in first.
fn signed_in(viewer: &Viewer) -> Result<User, Box<Response>> {
    viewer.user.clone().ok_or_else(|| {
        Box::new(see_other(&format!(
            "/auth/login?return_to={}",
            form_urlencode("/account")
        )))
    })
}

async fn page(
    state: &AppState,
    viewer: &Viewer,
    user: User,
    error: Option<String>,
) -> Result<AccountPage, AppError> {
    let store = state.store();
    let identities = store
        .identities_of(user.id)
        .await?
        .into_iter()
        .map(|identity: Identity| IdentityView {
            provider_name: identity.provider.clone(),
            subject: identity.subject.clone(),
            provider: state
                .providers()
                .get(&identity.provider)
                .map_or(identity.provider.clone(), |p| p.label().to_owned()),
            login: identity
                .login
                .clone()
                .unwrap_or_else(|| identity.display_name.clone()),
            email: match (&identity.email, identity.email_verified) {
                (Some(email), true) => format!("{email} (verified)"),
                (Some(email), false) => format!("{email} (not verified by the provider)"),
                (None, _) => "no email given".to_owned(),
            },
        })
        .collect();
    let comment_count = store.comments_by_user(user.id).await?.len();
    let mut layout = Layout::with_menu(state, "Your account", "/account").await;
    layout.noindex = true;
    layout.for_viewer(viewer, "/account").await?;
    Ok(AccountPage {
        avatar_url: avatar_src(user.avatar_url.as_deref(), &user.display_name),
        layout,
        user,
        identities,
        add_choices: crate::signin::link_choices(state),
        comment_count,
        csrf: viewer.csrf_token().await?,
        error,
    })
}

async fn show(State(state): State<AppState>, viewer: Viewer) -> Result<Response, AppError> {
    let user = match signed_in(&viewer) {
        Ok(user) => user,
        Err(redirect) => return Ok(*redirect),
    };
    let page = page(&state, &viewer, user, None).await?;
    Ok(private(Html(page.render()?).into_response()))
}

#[derive(Debug, Deserialize)]
struct SettingsForm {
    #[serde(default)]
    _csrf: String,
    /// A checkbox: present when ticked.
    notify_replies: Option<String>,
}

async fn save(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<SettingsForm>,
) -> Result<Response, AppError> {
    viewer.check_csrf(&form._csrf).await?;
    let user = viewer.user.as_ref().ok_or(AppError::Forbidden)?;
    state
        .store()
        .set_notify_replies(user.id, form.notify_replies.is_some())
        .await?;
    viewer.set_notice("Your settings were saved.").await?;
    Ok(see_other("/account"))
}

/// Everything kept about the reader, as JSON, to download.
async fn export(State(state): State<AppState>, viewer: Viewer) -> Result<Response, AppError> {
    let user = match signed_in(&viewer) {
        Ok(user) => user,
        Err(redirect) => return Ok(*redirect),
    };
    let store = state.store();
    let base = &state.site().base_url;
    let identities: Vec<_> = store
        .identities_of(user.id)
        .await?
        .into_iter()
        .map(|i| {
            json!({
                "provider": i.provider, "subject": i.subject, "login": i.login,
                "display_name": i.display_name, "email": i.email,
                "email_verified": i.email_verified, "avatar_url": i.avatar_url,
                "profile_url": i.profile_url,
            })
        })
        .collect();
    let comments: Vec<_> = store
        .comments_by_user(user.id)
        .await?
        .into_iter()
        .map(|(c, post)| {
            json!({
                "id": c.id, "post": post.title,
                "url": format!("{base}{}#comment-{}", post.path, c.id),
                "in_reply_to": c.parent_id, "status": c.status.as_str(),
                "html": c.html, "created_at": iso(c.created_at),
                "edited_at": c.edited_at.map(iso),
            })
        })
        .collect();
    let likes: Vec<_> = store
        .liked_posts(user.id)
        .await?
        .into_iter()
        .map(|p| json!({"post": p.title, "url": format!("{base}{}", p.path)}))
        .collect();
    let document = json!({
        "site": base,
        "exported_at": iso(time::OffsetDateTime::now_utc()),
        "user": {
            "id": user.id, "name": user.display_name, "email": user.email,
            "email_verified": user.email_verified, "role": user.role.as_str(),
            "avatar_url": user.avatar_url, "created_at": iso(user.created_at),
            "notify_replies": user.notify_replies,
        },
        "identities": identities,
        "comments": comments,
        "liked_posts": likes,
    });
    let body = serde_json::to_string_pretty(&document)
        .map_err(|_| AppError::Internal("could not write the export"))?;
    Ok(private(
        (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json; charset=utf-8"),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    HeaderValue::from_static("attachment; filename=\"my-data.json\""),
                ),
            ],
            body,
        )
            .into_response(),
    ))
}

#[derive(Debug, Deserialize)]
struct RemoveMethodForm {
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    provider: String,
    #[serde(default)]
    subject: String,
}

/// Removes one way of signing in from the reader's account; never the last one.
async fn remove_method(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<RemoveMethodForm>,
) -> Result<Response, AppError> {
    let user_id = viewer.acting_user(&form._csrf).await?;
    let outcome = state
        .store()
        .unlink_identity(user_id, &form.provider, &form.subject)
        .await?;
    let notice = match outcome {
        UnlinkOutcome::Removed => "That way of logging in was removed from your account.",
        UnlinkOutcome::LastOne => {
            "That is your only way to log in, so it was kept: add another one first."
        }
        UnlinkOutcome::NotYours => "That way of logging in is not on your account.",
    };
    viewer.set_notice(notice).await?;
    Ok(see_other("/account"))
}

#[derive(Debug, Deserialize)]
struct DeleteForm {
    #[serde(default)]
    _csrf: String,
    /// `keep` or `remove`.
    #[serde(default)]
    comments: String,
    /// The "I understand" checkbox.
    confirm: Option<String>,
}

async fn delete(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<DeleteForm>,
) -> Result<Response, AppError> {
    viewer.check_csrf(&form._csrf).await?;
    let user = viewer.user.clone().ok_or(AppError::Forbidden)?;
    let choice = match form.comments.as_str() {
        "keep" => Some(LeavingComments::Keep),
        "remove" => Some(LeavingComments::Remove),
        _ => None,
    };
    let refusal = match (choice, form.confirm.is_some()) {
        (None, _) => Some("Choose what happens to your comments.".to_owned()),
        (_, false) => {
            Some("Tick the box to confirm that you want to delete your account.".to_owned())
        }
        (Some(choice), true) => match state.store().delete_account(user.id, choice).await {
            Ok(()) => None,
            Err(refused @ (StorageError::AuthorHasPosts | StorageError::LastAdmin)) => {
                Some(refused.to_string())
            }
            Err(other) => return Err(other.into()),
        },
    };
    if let Some(message) = refusal {
        let page = page(&state, &viewer, user, Some(message)).await?;
        return Ok(private(
            (
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                Html(page.render()?),
            )
                .into_response(),
        ));
    }
    tracing::info!(user = user.id, "account deleted");
    viewer.sign_out().await?;
    Ok(see_other("/"))
}
