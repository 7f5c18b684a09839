//! "Log in with email": the built-in provider that needs no third party.
//!
//! `/auth/email/login` asks for an address and mails a single-use link (through the outbox,
//! so it survives a restart); the answer is the same whether or not anyone has that
//! address, so the form tells nobody who has an account. The link's page
//! (`/auth/email/link/{token}`) asks the reader to press "Log in", and only that POST uses
//! the link: mail scanners that fetch every link in a message sign nobody in and do not
//! spend it. Signing in then goes through the same rules as every provider (identity
//! `email:<address>`, the address verified), with a new session id.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use folio_domain::Identity;
use folio_domain::users::{is_plausible_email, normalize_email};
use folio_storage::{SignInLinkLimits, SignInLinkRequest, SignInLinkState};
use serde::Deserialize;

use crate::AppState;
use crate::discussion::private;
use crate::error::AppError;
use crate::layout::Layout;
use crate::pages::form_urlencode;
use crate::session::{ClientAddress, Viewer, safe_return_to};
use crate::signin::see_other;

/// Three links per address per quarter hour (a typo'd second try, then a pause), ten per
/// network per hour; a link works for a quarter of an hour (the email says so).
const LIMITS: SignInLinkLimits = SignInLinkLimits {
    per_email: 3,
    per_email_window: time::Duration::minutes(15),
    per_client: 10,
    per_client_window: time::Duration::hours(1),
    lifetime: time::Duration::minutes(15),
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/email/login", get(ask).post(request))
        .route("/auth/email/link/{token}", get(confirm).post(use_link))
}

#[derive(Debug, Deserialize)]
struct AskQuery {
    return_to: Option<String>,
    /// `1`: add an address to the signed-in reader's account (from `/account`).
    link: Option<String>,
}

struct RequestForm {
    email: String,
    link: bool,
}

#[derive(Template)]
#[template(path = "signin_email.html")]
struct EmailPage {
    layout: Layout,
    heading: String,
    message: String,
    failed: bool,
    request_form: Option<RequestForm>,
    confirm_token: Option<String>,
    retry: Option<String>,
    csrf: String,
    return_to: String,
}

impl EmailPage {
    async fn new(
        state: &AppState,
        viewer: &Viewer,
        heading: &str,
        message: &str,
        return_to: &str,
    ) -> Result<Self, AppError> {
        let mut layout = Layout::with_menu(state, heading, "/auth/email/login").await;
        layout.noindex = true;
        layout.for_viewer(viewer, return_to).await?;
        Ok(EmailPage {
            layout,
            heading: heading.to_owned(),
            message: message.to_owned(),
            failed: false,
            request_form: None,
            confirm_token: None,
            retry: None,
            csrf: viewer.csrf_token().await?,
            return_to: return_to.to_owned(),
        })
    }

    fn respond(self, status: StatusCode) -> Result<Response, AppError> {
        Ok(private((status, Html(self.render()?)).into_response()))
    }
}

fn enabled(state: &AppState) -> Result<(), AppError> {
    if state.email_sign_in() {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

async fn ask(
    State(state): State<AppState>,
    Query(query): Query<AskQuery>,
    viewer: Viewer,
) -> Result<Response, AppError> {
    enabled(&state)?;
    let return_to = safe_return_to(query.return_to.as_deref());
    let link = query.link.is_some() && viewer.user.is_some();
    let (heading, message) = if link {
        (
            "Add an email address",
            "Type the address you want to log in with as well: we send it a link, and following it (in this browser) adds it to your account.",
        )
    } else {
        (
            "Log in with email",
            "Type your email address: we send you a link that logs you in. No password, no account elsewhere.",
        )
    };
    let mut page = EmailPage::new(&state, &viewer, heading, message, &return_to).await?;
    page.request_form = Some(RequestForm {
        email: String::new(),
        link,
    });
    page.respond(StatusCode::OK)
}

#[derive(Debug, Deserialize)]
struct EmailForm {
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    email: String,
    return_to: Option<String>,
    link: Option<String>,
}

async fn request(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    viewer: Viewer,
    Form(form): Form<EmailForm>,
) -> Result<Response, AppError> {
    enabled(&state)?;
    viewer.check_csrf(&form._csrf).await?;
    let return_to = safe_return_to(form.return_to.as_deref());
    let email = normalize_email(&form.email);
    if !is_plausible_email(&email)
        || !email.chars().all(folio_domain::text::is_xml_char)
        || email.parse::<folio_notification::Mailbox>().is_err()
    {
        let mut page = EmailPage::new(
            &state,
            &viewer,
            "Log in with email",
            "That does not look like an email address. Please check it and try again.",
            &return_to,
        )
        .await?;
        page.failed = true;
        page.request_form = Some(RequestForm {
            email: form.email.trim().to_owned(),
            link: form.link.is_some(),
        });
        return page.respond(StatusCode::UNPROCESSABLE_ENTITY);
    }
    let client = client.map_or_else(|| "unknown".to_owned(), |a| a.to_string());
    let link_user_id = viewer.user_id().filter(|_| form.link.is_some());
    let outcome = state
        .store()
        .request_sign_in_link(&email, &client, &return_to, link_user_id, LIMITS, |token| {
            folio_notification::sign_in_mail(&email, token)
        })
        .await?;
    if outcome == SignInLinkRequest::TooMany {
        tracing::info!(%client, "email sign-in link refused: too many asked for");
        let mut page = EmailPage::new(
            &state,
            &viewer,
            "Too many links asked for",
            "Too many log-in links were asked for this address or from your network in the last while, so no email was sent. The links already sent still work; otherwise please try again in a quarter of an hour.",
            &return_to,
        )
        .await?;
        page.failed = true;
        return page.respond(StatusCode::TOO_MANY_REQUESTS);
    }
    // The same answer whether or not someone has this address here: the page tells
    // nobody who has an account.
    EmailPage::new(
        &state,
        &viewer,
        "Check your email",
        &format!(
            "If {email} can receive email, a link to log in is on its way. It works once, within 15 minutes. You can close this page."
        ),
        &return_to,
    )
    .await?
    .respond(StatusCode::OK)
}

/// The page an emailed link opens: a button that signs in, so that fetching the link alone
/// (as mail scanners do) changes nothing.
async fn confirm(
    State(state): State<AppState>,
    Path(token): Path<String>,
    viewer: Viewer,
) -> Result<Response, AppError> {
    enabled(&state)?;
    match state.store().sign_in_link(&token).await? {
        SignInLinkState::Valid {
            email,
            return_to,
            link_user_id,
        } => {
            let question = match link_user_id {
                Some(_) => format!("Add {email} to your account, as a way to log in?"),
                None => format!("Log in as {email}?"),
            };
            let mut page = EmailPage::new(&state, &viewer, "Log in", &question, &return_to).await?;
            page.confirm_token = Some(token);
            page.respond(StatusCode::OK)
        }
        unusable => refused(&state, &viewer, &unusable).await,
    }
}

#[derive(Debug, Deserialize)]
struct ConfirmForm {
    #[serde(default)]
    _csrf: String,
}

async fn use_link(
    State(state): State<AppState>,
    Path(token): Path<String>,
    viewer: Viewer,
    Form(form): Form<ConfirmForm>,
) -> Result<Response, AppError> {
    enabled(&state)?;
    viewer.check_csrf(&form._csrf).await?;
    // A link that adds an address works only for the reader who asked for it, signed in
    // in this browser: nobody can slip their address into someone else's account, or
    // theirs into someone else's, by sending a link.
    if let SignInLinkState::Valid {
        link_user_id: Some(owner),
        ..
    } = state.store().sign_in_link(&token).await?
        && viewer.user_id() != Some(owner)
    {
        let mut page = EmailPage::new(
            &state,
            &viewer,
            "Log in first",
            "This link adds an address to an account. Open it in the browser where you are logged in to that account; it still works there.",
            "/",
        )
        .await?;
        page.failed = true;
        return page.respond(StatusCode::FORBIDDEN);
    }
    let (email, return_to, link_user_id) = match state.store().use_sign_in_link(&token).await? {
        SignInLinkState::Valid {
            email,
            return_to,
            link_user_id,
        } => (email, return_to, link_user_id),
        unusable => return refused(&state, &viewer, &unusable).await,
    };
    if let Some(owner) = link_user_id {
        let outcome = state
            .store()
            .link_identity(owner, &Identity::for_email(&email))
            .await?;
        viewer
            .set_notice(&crate::signin::link_notice(outcome, &email))
            .await?;
        return Ok(see_other("/account"));
    }
    let user = state.store().sign_in(&Identity::for_email(&email)).await?;
    viewer.sign_in(user.id).await?;
    tracing::info!(user = user.id, provider = "email", "signed in");
    Ok(see_other(&safe_return_to(Some(&return_to))))
}

/// A link that cannot sign in: what happened, and the way to a new one.
async fn refused(
    state: &AppState,
    viewer: &Viewer,
    link: &SignInLinkState,
) -> Result<Response, AppError> {
    let (heading, message) = match link {
        SignInLinkState::Used => (
            "This link was used already",
            "Each link logs in once, and this one has. If that was not you, nothing is lost: ask for a new link below.",
        ),
        SignInLinkState::Expired => (
            "This link has expired",
            "A link works for 15 minutes after it was sent. Ask for a new one below.",
        ),
        _ => (
            "This link does not work",
            "It may have been cut short by your mail program. Copy the whole link from the email, or ask for a new one below.",
        ),
    };
    let mut page = EmailPage::new(state, viewer, heading, message, "/").await?;
    page.failed = true;
    page.retry = Some(format!(
        "/auth/email/login?return_to={}",
        form_urlencode("/")
    ));
    let status = match link {
        SignInLinkState::Unknown => StatusCode::NOT_FOUND,
        _ => StatusCode::GONE,
    };
    page.respond(status)
}
