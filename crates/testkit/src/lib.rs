//! Real OAuth2 / OpenID Connect parts on loopback, for tests only (a dev-dependency).
//!
//! - [`OidcServer`]: PyPI's `oidc-provider-mock` (a real OpenID provider: discovery, JWKS,
//!   signed ID tokens, a login page), run from a virtualenv under `<target>/oidc-venv` that is
//!   created on first use from `oidc-requirements.txt` (every package pinned).
//! - [`inspect`]: Folio's feeds, XML and HTML read as readers' software does: PyPI's
//!   `feedparser`, a strict XML parser and an HTML parser that reports live markup, from a
//!   virtualenv under `<target>/feedparser-venv` created on first use.
//! - [`OAuthStandIn`]: an in-process axum server shaped like GitHub's OAuth2 + REST API, and
//!   like Discord's, Facebook's and X's token and profile endpoints, with switches for a slow
//!   or broken provider.
//!
//! Both panic with a message saying what is missing when they cannot start: a test that needs
//! them never passes silently.

// Test support: a panic with a clear message is how this crate reports a broken setup.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fedify;
pub mod inspect;
mod oidc;
mod standin;

pub use fedify::FedifyPeer;
pub use oidc::OidcServer;
pub use standin::{OAuthStandIn, StandInEndpoints, StandInUser};

/// The query of a callback `Location` (what the web layer would extract from
/// `/auth/{name}/callback?...`).
pub fn callback_params(location: &str) -> folio_auth::CallbackParams {
    let url = reqwest::Url::parse(location)
        .unwrap_or_else(|e| panic!("callback Location {location:?} is not a URL: {e}"));
    let mut params = folio_auth::CallbackParams::default();
    for (key, value) in url.query_pairs() {
        let value = Some(value.into_owned());
        match key.as_ref() {
            "code" => params.code = value,
            "state" => params.state = value,
            "error" => params.error = value,
            "error_description" => params.error_description = value,
            _ => {}
        }
    }
    params
}
