//! Signing in with a social account, and out again.
//!
//! `/auth/{provider}/login` keeps the flow's secrets (state, PKCE verifier, nonce) in the
//! reader's session and sends them to the provider; `/auth/{provider}/callback` checks them,
//! finds or makes the user by (provider, subject), renews the session id and returns the
//! reader to the page they came from. Every failure ends on a page that says what happened.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use folio_auth::{AuthError, CallbackParams, Profile};
use folio_domain::Identity;
use serde::Deserialize;

use crate::AppState;
use crate::error::AppError;
use crate::layout::Layout;
use crate::pages::form_urlencode;
use crate::session::{PendingSignIn, Viewer, safe_return_to};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/login", get(choose))
        .route("/auth/{provider}/login", get(login))
        .route("/auth/{provider}/callback", get(callback))
        .route("/auth/logout", get(confirm_logout).post(logout))
}

#[derive(Debug, Deserialize)]
struct ReturnTo {
    return_to: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LoginQuery {
    return_to: Option<String>,
    /// `1`: add this provider to the signed-in reader's account (from `/account`).
    link: Option<String>,
}

/// The "add a way to log in" links of `/account`: every sign-in choice in link mode.
pub fn link_choices(state: &AppState) -> Vec<SignInChoice> {
    choices(state, "/account")
        .into_iter()
        .map(|choice| SignInChoice {
            href: format!("{}&link=1", choice.href),
            ..choice
        })
        .collect()
}

/// One "Log in with ..." choice.
pub struct SignInChoice {
    pub label: String,
    pub href: String,
    pub kind: &'static str,
}

/// The sign-in links for every configured provider, each bringing the reader back to
/// `return_to`.
pub fn choices(state: &AppState, return_to: &str) -> Vec<SignInChoice> {
    let mut choices: Vec<SignInChoice> = state
        .providers()
        .iter()
        .map(|provider| SignInChoice {
            label: provider.label().to_owned(),
            href: format!(
                "/auth/{}/login?return_to={}",
                provider.name(),
                form_urlencode(return_to)
            ),
            kind: provider.kind().as_str(),
        })
        .collect();
    if state.email_sign_in() {
        choices.push(SignInChoice {
            label: "email".to_owned(),
            href: format!("/auth/email/login?return_to={}", form_urlencode(return_to)),
            kind: "email",
        });
    }
    choices
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage {
    layout: Layout,
    heading: String,
    explanation: String,
    failed: bool,
    retry: Option<String>,
    choices: Vec<SignInChoice>,
    return_to: String,
}

async fn choose(
    State(state): State<AppState>,
    Query(query): Query<ReturnTo>,
) -> Result<Response, AppError> {
    let return_to = safe_return_to(query.return_to.as_deref());
    let mut layout = Layout::with_menu(&state, "Log in", "/auth/login").await;
    layout.noindex = true;
    let explanation = if state.providers().is_empty() && !state.email_sign_in() {
        "This site has no sign-in providers set up yet.".to_owned()
    } else {
        "Log in to comment, reply and like: with one of these accounts, or with a link sent to your email address. This site never sees your password.".to_owned()
    };
    let page = SignInPage {
        layout,
        heading: "Log in".into(),
        explanation,
        failed: false,
        retry: None,
        choices: choices(&state, &return_to),
        return_to,
    };
    Ok(Html(page.render()?).into_response())
}

async fn login(
    State(state): State<AppState>,
    Path(provider_name): Path<String>,
    Query(query): Query<LoginQuery>,
    viewer: Viewer,
) -> Result<Response, AppError> {
    let return_to = safe_return_to(query.return_to.as_deref());
    let Some(provider) = state.providers().get(&provider_name) else {
        return Err(AppError::NotFound);
    };
    let link = query.link.is_some() && viewer.user.is_some();
    match provider.start().await {
        Ok((authorize_url, flow)) => {
            viewer
                .remember_pending(&PendingSignIn {
                    flow,
                    return_to,
                    link,
                })
                .await?;
            Ok(to_provider(&authorize_url))
        }
        Err(error) => failure(&state, &provider_name, &return_to, &error).await,
    }
}

async fn callback(
    State(state): State<AppState>,
    Path(provider_name): Path<String>,
    Query(params): Query<CallbackParams>,
    viewer: Viewer,
) -> Result<Response, AppError> {
    let Some(provider) = state.providers().get(&provider_name) else {
        return Err(AppError::NotFound);
    };
    // Taken out at once: a callback URL works one time.
    let pending = viewer.take_pending().await?;
    let Some(pending) = pending.filter(|p| p.flow.provider == provider_name) else {
        let error = if params.error.as_deref() == Some("access_denied") {
            AuthError::Denied
        } else {
            // No sign-in of this browser is under way: the session ended, the link was
            // used already, or it came from somewhere else.
            AuthError::Expired
        };
        return failure(&state, &provider_name, "/", &error).await;
    };
    let return_to = pending.return_to;
    let link = pending.link;
    let profile = match provider.finish(pending.flow, params).await {
        Ok(profile) => profile,
        Err(error) => return failure(&state, &provider_name, &return_to, &error).await,
    };
    if link {
        let Some(user) = viewer.user.as_ref() else {
            // Signed out meanwhile: nothing to add it to.
            return failure(&state, &provider_name, "/account", &AuthError::Expired).await;
        };
        let outcome = state
            .store()
            .link_identity(user.id, &identity_of(profile))
            .await?;
        viewer
            .set_notice(&link_notice(outcome, provider.label()))
            .await?;
        return Ok(see_other("/account"));
    }
    let user = state.store().sign_in(&identity_of(profile.clone())).await?;
    viewer.sign_in(user.id).await?;
    tracing::info!(user = user.id, provider = %provider_name, "signed in");
    if profile.email.is_some() && !profile.email_verified {
        viewer
            .set_notice(&format!(
                "{} did not confirm that {} is your address, so this site will not send email to it.",
                provider.label(),
                profile.email.as_deref().unwrap_or_default()
            ))
            .await?;
    }
    Ok(see_other(&return_to))
}

/// What `/account` says after an attempt to add a way of signing in.
pub(crate) fn link_notice(outcome: folio_storage::LinkOutcome, label: &str) -> String {
    match outcome {
        folio_storage::LinkOutcome::Linked => {
            format!("You can now also log in with {label}.")
        }
        folio_storage::LinkOutcome::AlreadyLinked => {
            format!("That {label} account was already one of your ways to log in.")
        }
        folio_storage::LinkOutcome::BelongsToAnother => format!(
            "That {label} account already logs in to another account on this site, so it was not added. Log in with it and delete that account first if you want to move it here."
        ),
    }
}

#[derive(Debug, Deserialize)]
struct LogoutForm {
    #[serde(default)]
    _csrf: String,
    return_to: Option<String>,
}

#[derive(Template)]
#[template(path = "logout.html")]
struct LogoutPage {
    layout: Layout,
    csrf: String,
    return_to: String,
}

/// A link to `/auth/logout` (bookmarked, or typed) asks before signing out: only a POST
/// with the form's token does it, so no other site can sign a reader out.
async fn confirm_logout(
    State(state): State<AppState>,
    Query(query): Query<ReturnTo>,
    viewer: Viewer,
) -> Result<Response, AppError> {
    let return_to = safe_return_to(query.return_to.as_deref());
    if viewer.user.is_none() {
        return Ok(see_other(&return_to));
    }
    let mut layout = Layout::with_menu(&state, "Log out", "/auth/logout").await;
    layout.noindex = true;
    layout.for_viewer(&viewer, &return_to).await?;
    let page = LogoutPage {
        layout,
        csrf: viewer.csrf_token().await?,
        return_to,
    };
    Ok(crate::discussion::private(
        Html(page.render()?).into_response(),
    ))
}

async fn logout(viewer: Viewer, Form(form): Form<LogoutForm>) -> Result<Response, AppError> {
    viewer.check_csrf(&form._csrf).await?;
    viewer.sign_out().await?;
    Ok(see_other(&safe_return_to(form.return_to.as_deref())))
}

fn identity_of(profile: Profile) -> Identity {
    Identity {
        provider: profile.provider,
        subject: profile.subject,
        login: profile.login,
        display_name: profile.display_name,
        email: profile.email,
        email_verified: profile.email_verified,
        avatar_url: profile.avatar_url,
        profile_url: profile.profile_url,
    }
}

/// The page a failed sign-in ends on: what happened, and a way to try again.
async fn failure(
    state: &AppState,
    provider_name: &str,
    return_to: &str,
    error: &AuthError,
) -> Result<Response, AppError> {
    tracing::warn!(provider = %provider_name, error = %error, "sign-in failed");
    let status = match error {
        AuthError::ProviderUnavailable(_) => StatusCode::BAD_GATEWAY,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut layout = Layout::with_menu(state, error.title(), "/auth/login").await;
    layout.noindex = true;
    let page = SignInPage {
        layout,
        heading: error.title().to_owned(),
        explanation: error.explanation(),
        failed: true,
        retry: state.providers().get(provider_name).map(|p| {
            format!(
                "/auth/{}/login?return_to={}",
                p.name(),
                form_urlencode(return_to)
            )
        }),
        choices: choices(state, return_to),
        return_to: return_to.to_owned(),
    };
    Ok((status, Html(page.render()?)).into_response())
}

/// 303 to a path on this site: the browser follows with a GET, whatever the request was.
pub(crate) fn see_other(target: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, crate::location::same_site(target))],
    )
        .into_response()
}

/// 303 to the provider's authorization page: the one redirect that leaves the site, to an
/// address from the provider's configuration or discovery, never from the request.
fn to_provider(authorize_url: &str) -> Response {
    match HeaderValue::from_str(authorize_url) {
        Ok(location) => (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response(),
        Err(_) => Redirect::to("/").into_response(),
    }
}
