//! Password-protected posts, as WordPress has them: the post shows its title and a password
//! form; the right password opens the body and the comments for this reader, remembered in
//! their session (held in the database, so every process agrees) until the author changes it.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::AppError;
use crate::pages::{Shown, single};
use crate::session::{Viewer, session_failed};
use crate::signin::see_other;

/// The session's map from post id to the fingerprint of the password it was opened with.
const UNLOCKED_KEY: &str = "unlocked_posts";

pub fn router() -> Router<AppState> {
    Router::new().route("/post-password", post(unlock))
}

#[derive(Debug, Deserialize)]
struct PasswordForm {
    post_id: i64,
    #[serde(default)]
    post_password: String,
}

/// What a protected post's page says instead of its body.
#[derive(Debug, Clone)]
pub struct PasswordPrompt {
    pub post_id: i64,
    /// Set after a wrong password.
    pub error: Option<&'static str>,
}

/// Checks the password and, when right, remembers it for this reader and sends them back to
/// the post. There is no per-form token: the form sits on a page cached for every anonymous
/// reader. A request another site's page made is refused by its `Origin` instead.
async fn unlock(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Form(form): Form<PasswordForm>,
) -> Result<Response, AppError> {
    if is_cross_site(&headers, &state.site().base_url) {
        return Err(AppError::Forbidden);
    }
    let post = state
        .store()
        .published_entry(form.post_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let path = post.summary.path();
    let Some(password) = post.password.clone() else {
        return Ok(see_other(&path));
    };
    if same_password(&form.post_password, &password) {
        remember(&viewer, post.summary.id, &password).await?;
        return Ok(see_other(&path));
    }
    tracing::info!(post = post.summary.id, "wrong post password");
    let shown = Shown {
        reply_to: None,
        comment_page: 1,
        wrong_password: true,
        post_page: 1,
    };
    let mut response = single(&state, post, &viewer, shown, None).await?;
    *response.status_mut() = StatusCode::FORBIDDEN;
    Ok(response)
}

/// Whether this reader gave the post's current password.
pub(crate) async fn is_unlocked(
    viewer: &Viewer,
    post_id: i64,
    password: &str,
) -> Result<bool, AppError> {
    let unlocked: Option<HashMap<i64, String>> = viewer
        .session
        .get(UNLOCKED_KEY)
        .await
        .map_err(session_failed)?;
    Ok(unlocked
        .and_then(|map| map.get(&post_id).cloned())
        .is_some_and(|kept| kept == fingerprint(post_id, password)))
}

async fn remember(viewer: &Viewer, post_id: i64, password: &str) -> Result<(), AppError> {
    let mut unlocked: HashMap<i64, String> = viewer
        .session
        .get(UNLOCKED_KEY)
        .await
        .map_err(session_failed)?
        .unwrap_or_default();
    unlocked.insert(post_id, fingerprint(post_id, password));
    viewer
        .session
        .insert(UNLOCKED_KEY, unlocked)
        .await
        .map_err(session_failed)
}

/// Stands for the password in the session: changing the password locks the post again, and
/// the session table never holds the password itself.
fn fingerprint(post_id: i64, password: &str) -> String {
    let digest = Sha256::new()
        .chain_update(post_id.to_string())
        .chain_update([0])
        .chain_update(password)
        .finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn same_password(given: &str, expected: &str) -> bool {
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A form posted from another site's page: browsers name that page's origin, or say
/// `Sec-Fetch-Site: cross-site`.
fn is_cross_site(headers: &HeaderMap, base_url: &str) -> bool {
    let cross_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"));
    let foreign_origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|origin| origin != "null" && origin != origin_of(base_url));
    cross_site || foreign_origin
}

/// `https://example.org` from `https://example.org/blog`.
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(slash) => &url[..after_scheme + slash],
        None => url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_sites_form_is_cross_site() {
        let mut headers = HeaderMap::new();
        assert!(!is_cross_site(&headers, "https://blog.example/"));
        headers.insert(header::ORIGIN, "https://blog.example".parse().unwrap());
        assert!(!is_cross_site(&headers, "https://blog.example"));
        headers.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        assert!(is_cross_site(&headers, "https://blog.example"));
    }

    #[test]
    fn a_new_password_does_not_match_the_old_fingerprint() {
        assert_ne!(fingerprint(1, "old"), fingerprint(1, "new"));
        assert_ne!(fingerprint(1, "same"), fingerprint(2, "same"));
        assert!(same_password("open sesame", "open sesame"));
        assert!(!same_password("open sesam", "open sesame"));
    }
}
