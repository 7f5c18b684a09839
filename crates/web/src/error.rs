use askama::Template;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use folio_storage::StorageError;

use crate::AppState;
use crate::layout::Layout;

/// Every way a request can fail. The reader sees a page in the site's layout; the log gets the
/// whole chain of causes.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    /// A state-changing request without this session's CSRF token, or by someone not allowed.
    #[error("forbidden")]
    Forbidden,
    /// A banned reader tried to take part (like, follow): refused with a page that says so.
    #[error("banned")]
    Banned,
    /// An operator's page (`/metrics`) asked for from an address not allowed to read it.
    #[error("not served to this address")]
    NotForThisAddress,
    #[error("internal error: {0}")]
    Internal(&'static str),
    #[error("storage failed")]
    Storage(#[from] StorageError),
    #[error("a page could not be rendered")]
    Render(#[from] askama::Error),
}

const NOT_FOR_THIS_ADDRESS: (&str, &str) = (
    "Not served to this address",
    "This page is for the site's monitoring and is served only to the addresses its operator lists (server.metrics_allow_from).",
);

/// Left on an error response for `error_pages`, which has the state to render the page;
/// with a heading and message when the status's usual words would not say what happened.
#[derive(Debug, Clone, Copy)]
struct ErrorPageWanted(Option<(&'static str, &'static str)>);

const BANNED: (&str, &str) = (
    "Your account cannot do that",
    "A moderator has banned your account from taking part on this site: likes, follows and subscriptions are not accepted from it. Nothing was changed.",
);

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    status: u16,
    heading: &'static str,
    message: &'static str,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = match &self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Forbidden | AppError::Banned | AppError::NotForThisAddress => {
                StatusCode::FORBIDDEN
            }
            AppError::Storage(_) | AppError::Render(_) | AppError::Internal(_) => {
                tracing::error!(error = %error_chain(&self), "request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let words = match self {
            AppError::Banned => Some(BANNED),
            AppError::NotForThisAddress => Some(NOT_FOR_THIS_ADDRESS),
            _ => None,
        };
        let mut response = status.into_response();
        response.extensions_mut().insert(ErrorPageWanted(words));
        response
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    chain
}

/// Turns bare 404 and 500 answers into pages in the site's layout. The sidebar is left out
/// of error pages so that they render even when the database is what failed.
pub(crate) async fn error_pages(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status();
    // Our own errors ask for a page; so do the framework's bare answers to a path that
    // matches nothing or to a query it cannot parse (plain text, meant for programs).
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_none_or(|ct| ct.as_bytes().starts_with(b"text/plain"));
    let own = response.extensions().get::<ErrorPageWanted>().copied();
    let wanted = own.is_some()
        || (plain
            && matches!(
                status,
                StatusCode::NOT_FOUND
                    | StatusCode::BAD_REQUEST
                    | StatusCode::FORBIDDEN
                    | StatusCode::PAYLOAD_TOO_LARGE
                    | StatusCode::UNSUPPORTED_MEDIA_TYPE
                    | StatusCode::UNPROCESSABLE_ENTITY
            ));
    if !wanted {
        return response;
    }
    let (heading, message) = match (own.and_then(|o| o.0), status) {
        (Some(words), _) => words,
        (None, StatusCode::NOT_FOUND) => (
            "Nothing here",
            "The page you asked for does not exist, or no longer does. Try a search, or start from the front page.",
        ),
        (None, StatusCode::BAD_REQUEST) => (
            "That address could not be read",
            "Part of the address (the text after the question mark, perhaps) is not something this site understands. Try a search, or start from the front page.",
        ),
        (None, StatusCode::FORBIDDEN) => (
            "That form could not be accepted",
            "The form you sent was not accepted: it has expired, or it was not sent from this site, or you are not signed in. Nothing was changed. Go back, reload the page and try again.",
        ),
        (None, StatusCode::PAYLOAD_TOO_LARGE) => (
            "That was too much to send",
            "What you sent is larger than this site accepts, so nothing was saved. Go back and shorten it.",
        ),
        (None, StatusCode::UNSUPPORTED_MEDIA_TYPE | StatusCode::UNPROCESSABLE_ENTITY) => (
            "That form could not be read",
            "The form arrived incomplete or in a shape this site does not understand, so nothing was saved. Go back, reload the page and try again.",
        ),
        _ => (
            "Something went wrong",
            "The site could not show this page just now. The problem has been logged; please try again in a moment.",
        ),
    };
    let mut layout = if status.is_server_error() {
        Layout::bare(&state, heading, &path)
    } else {
        Layout::with_menu(&state, heading, &path).await
    };
    layout.body_class = match status {
        StatusCode::NOT_FOUND => "error404",
        StatusCode::BAD_REQUEST => "error400",
        StatusCode::FORBIDDEN => "error403",
        StatusCode::PAYLOAD_TOO_LARGE => "error413",
        _ => "error500",
    };
    layout.noindex = true;
    let page = ErrorPage {
        layout,
        status: status.as_u16(),
        heading,
        message,
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => (status, message).into_response(),
    }
}
