//! Social sign-in for Folio: the OAuth2 authorization-code flow with PKCE for GitHub, Discord,
//! Facebook and X, and OpenID Connect (discovery, ID-token validation) for Google, GitLab and
//! any other issuer.
//!
//! No HTTP server and no database here: [`Provider::start`] returns the URL to send the browser
//! to plus a [`PendingSignIn`] that the caller keeps (in the session) until the provider
//! redirects back to `{base_url}/auth/{name}/callback`; [`Provider::finish`] turns that callback
//! into a [`Profile`].

mod error;
mod http;
mod oidc;
mod rest;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use folio_domain::text::make_xml_safe;
use oauth2::{CsrfToken, PkceCodeChallenge, RedirectUrl};
use serde::{Deserialize, Serialize};

pub use error::AuthError;

use http::HttpClient;

/// How long a started sign-in may take before [`Provider::finish`] answers
/// [`AuthError::Expired`]: 10 minutes.
pub const SIGN_IN_TTL_SECS: i64 = 600;

/// One `[auth.providers.<name>]` table.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    pub kind: ProviderKind,
    pub client_id: String,
    /// May be empty for public clients (then only PKCE protects the code).
    pub client_secret: String,
    /// Button text override, e.g. "Company SSO".
    #[serde(default)]
    pub label: Option<String>,
    /// Endpoint overrides (GitHub Enterprise, self-hosted GitLab, tests). Each one replaces
    /// the default or discovered endpoint.
    #[serde(default)]
    pub auth_url: Option<String>,
    #[serde(default)]
    pub token_url: Option<String>,
    #[serde(default)]
    pub userinfo_url: Option<String>,
    /// GitHub only. Defaults to `https://api.github.com/user/emails`, or to
    /// `{userinfo_url}/emails` when `userinfo_url` is overridden.
    #[serde(default)]
    pub emails_url: Option<String>,
    /// OIDC discovery base: required for `oidc`; `google` defaults to
    /// `https://accounts.google.com`, `gitlab` to `https://gitlab.com`.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Replaces the kind's default scopes.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Github,
    Google,
    Gitlab,
    Discord,
    Facebook,
    Twitter,
    Oidc,
}

impl ProviderKind {
    /// The config spelling: `"github"`, `"google"`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Github => "github",
            ProviderKind::Google => "google",
            ProviderKind::Gitlab => "gitlab",
            ProviderKind::Discord => "discord",
            ProviderKind::Facebook => "facebook",
            ProviderKind::Twitter => "twitter",
            ProviderKind::Oidc => "oidc",
        }
    }

    /// Google, GitLab and generic issuers speak OpenID Connect (ID token + nonce).
    pub fn is_oidc(self) -> bool {
        matches!(
            self,
            ProviderKind::Google | ProviderKind::Gitlab | ProviderKind::Oidc
        )
    }

    fn default_scopes(self) -> &'static [&'static str] {
        match self {
            ProviderKind::Github => &["read:user", "user:email"],
            ProviderKind::Discord => &["identify", "email"],
            ProviderKind::Facebook => &["public_profile", "email"],
            ProviderKind::Twitter => &["users.read", "tweet.read"],
            ProviderKind::Google | ProviderKind::Gitlab | ProviderKind::Oidc => {
                &["openid", "email", "profile"]
            }
        }
    }
}

/// What [`Provider::start`] hands to the caller to keep (server-side or in a signed session)
/// until the callback arrives.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingSignIn {
    /// The provider's config key.
    pub provider: String,
    pub state: String,
    pub pkce_verifier: String,
    /// Set for OpenID Connect kinds.
    pub nonce: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// The query of `/auth/{name}/callback`.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// Who signed in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// The provider's config key.
    pub provider: String,
    /// Stable provider user id (GitHub's numeric id as a string, OIDC `sub`).
    pub subject: String,
    /// GitHub/GitLab username, X handle, Discord username, `preferred_username`.
    pub login: Option<String>,
    /// Name, falling back to login, then "Anonymous".
    pub display_name: String,
    pub email: Option<String>,
    /// True only when the provider says the address is verified.
    pub email_verified: bool,
    pub avatar_url: Option<String>,
    pub profile_url: Option<String>,
}

impl Profile {
    /// The names as Folio keeps them: whatever a provider lets people put in a name, the
    /// characters XML forbids would break every feed the name appears in.
    fn without_xml_forbidden_characters(mut self) -> Self {
        if let Some(login) = self.login.as_mut() {
            make_xml_safe(login);
        }
        self.login = self.login.filter(|l| !l.trim().is_empty());
        make_xml_safe(&mut self.display_name);
        if self.display_name.trim().is_empty() {
            self.display_name = self.login.clone().unwrap_or_else(|| "Anonymous".to_owned());
        }
        self
    }
}

/// Every configured provider, by config key. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Providers {
    inner: Arc<BTreeMap<String, Provider>>,
}

impl Providers {
    /// `name` is the config table key (`[auth.providers.<name>]`); the callback URL is
    /// `{base_url}/auth/{name}/callback`. No network here: OIDC discovery happens on first
    /// use and is cached. Config errors name the key, e.g. `auth.providers.corp.issuer`.
    pub fn new(
        configs: &BTreeMap<String, ProviderConfig>,
        base_url: &str,
        timeout: Duration,
    ) -> Result<Self, AuthError> {
        let base = oauth2::url::Url::parse(base_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or_else(|| {
                AuthError::Misconfigured(format!(
                    "site.base_url: {base_url:?} is not an absolute http(s) URL"
                ))
            })?;
        let base = base.as_str().trim_end_matches('/').to_owned();
        let mut inner = BTreeMap::new();
        for (name, config) in configs {
            let provider = Provider::new(name, config, &base, timeout)?;
            inner.insert(name.clone(), provider);
        }
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    pub fn get(&self, name: &str) -> Option<&Provider> {
        self.inner.get(name)
    }

    /// In name order.
    pub fn iter(&self) -> impl Iterator<Item = &Provider> {
        self.inner.values()
    }

    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// Reads every OpenID Connect provider's discovery document now (and keeps it), so that
    /// a configured `issuer` the provider does not answer to (a trailing slash, say) stops
    /// the start with a message naming the provider's real issuer, rather than failing a
    /// reader's first sign-in. A provider that cannot be reached is not an error (it may be
    /// down for a moment, and discovery is tried again at first use): its reason is returned,
    /// for a warning.
    pub async fn check_discovery(&self) -> Result<Vec<String>, AuthError> {
        let mut unreachable = Vec::new();
        for provider in self.inner.values() {
            if let Flow::Oidc(oidc) = &provider.flow
                && let Some(reason) = provider.check_oidc_discovery(oidc).await?
            {
                unreachable.push(format!("auth.providers.{}: {reason}", provider.name));
            }
        }
        Ok(unreachable)
    }

    pub fn len(&self) -> usize {
        self.inner.len()
    }
}

/// One configured provider.
#[derive(Debug)]
pub struct Provider {
    name: String,
    label: String,
    kind: ProviderKind,
    client_id: String,
    client_secret: Option<String>,
    redirect_url: RedirectUrl,
    scopes: Vec<String>,
    http: HttpClient,
    flow: Flow,
}

#[derive(Debug)]
enum Flow {
    Rest(rest::Endpoints),
    Oidc(oidc::Oidc),
}

/// Names a config key in an error.
pub(crate) fn key_error(name: &str, key: &str, message: impl std::fmt::Display) -> AuthError {
    if key.is_empty() {
        AuthError::Misconfigured(format!("auth.providers.{name}: {message}"))
    } else {
        AuthError::Misconfigured(format!("auth.providers.{name}.{key}: {message}"))
    }
}

/// Checks an endpoint override and returns it.
pub(crate) fn checked_url(
    name: &str,
    key: &str,
    value: Option<&String>,
) -> Result<Option<String>, AuthError> {
    let Some(value) = value else {
        return Ok(None);
    };
    match oauth2::url::Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {
            Ok(Some(value.clone()))
        }
        _ => Err(key_error(
            name,
            key,
            format!("{value:?} is not an absolute http(s) URL"),
        )),
    }
}

impl Provider {
    fn new(
        name: &str,
        config: &ProviderConfig,
        base_url: &str,
        timeout: Duration,
    ) -> Result<Self, AuthError> {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(key_error(
                name,
                "",
                "a provider name may only use letters, digits, '-' and '_' (it becomes part of the callback URL)",
            ));
        }
        if config.client_id.trim().is_empty() {
            return Err(key_error(name, "client_id", "must not be empty"));
        }
        if config.emails_url.is_some() && config.kind != ProviderKind::Github {
            return Err(key_error(
                name,
                "emails_url",
                "is only used by kind \"github\"",
            ));
        }
        if config.issuer.is_some() && !config.kind.is_oidc() {
            return Err(key_error(
                name,
                "issuer",
                format!(
                    "is only used by kinds \"oidc\", \"google\" and \"gitlab\", not {:?}",
                    config.kind.as_str()
                ),
            ));
        }
        if let Some(label) = &config.label
            && label.trim().is_empty()
        {
            return Err(key_error(name, "label", "must not be empty when set"));
        }
        let redirect_url = RedirectUrl::new(format!("{base_url}/auth/{name}/callback"))
            .map_err(|e| AuthError::Misconfigured(format!("site.base_url: {e}")))?;
        let scopes = match &config.scopes {
            Some(scopes) => scopes.clone(),
            None => config
                .kind
                .default_scopes()
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        };
        let label = match (&config.label, config.kind) {
            (Some(label), _) => label.clone(),
            (None, ProviderKind::Github) => "GitHub".to_owned(),
            (None, ProviderKind::Google) => "Google".to_owned(),
            (None, ProviderKind::Gitlab) => "GitLab".to_owned(),
            (None, ProviderKind::Discord) => "Discord".to_owned(),
            (None, ProviderKind::Facebook) => "Facebook".to_owned(),
            (None, ProviderKind::Twitter) => "X".to_owned(),
            (None, ProviderKind::Oidc) => capitalise(name),
        };
        let flow = if config.kind.is_oidc() {
            Flow::Oidc(oidc::Oidc::new(name, config)?)
        } else {
            Flow::Rest(rest::Endpoints::new(name, config)?)
        };
        let http = HttpClient::new(timeout)
            .map_err(|e| key_error(name, "", format!("could not build the HTTP client: {e}")))?;
        let client_secret = Some(config.client_secret.clone()).filter(|s| !s.is_empty());
        Ok(Self {
            name: name.to_owned(),
            label,
            kind: config.kind,
            client_id: config.client_id.clone(),
            client_secret,
            redirect_url,
            scopes,
            http,
            flow,
        })
    }

    /// The config key.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Button text: "GitHub", "Google", "GitLab", "Discord", "Facebook", "X", the configured
    /// `label`, or for `oidc` the name capitalised.
    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn kind(&self) -> ProviderKind {
        self.kind
    }

    /// `{base_url}/auth/{name}/callback`.
    pub fn callback_url(&self) -> &str {
        self.redirect_url.as_str()
    }

    /// Builds the authorization URL with `state`, PKCE S256 and (OIDC kinds) a `nonce`.
    /// For OIDC kinds the first call fetches the discovery document.
    pub async fn start(&self) -> Result<(String, PendingSignIn), AuthError> {
        let state = CsrfToken::new_random();
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, nonce) = match &self.flow {
            Flow::Rest(endpoints) => (self.rest_authorize_url(endpoints, &state, challenge)?, None),
            Flow::Oidc(oidc) => {
                let (url, nonce) = self.oidc_authorize_url(oidc, &state, challenge).await?;
                (url, Some(nonce))
            }
        };
        let pending = PendingSignIn {
            provider: self.name.clone(),
            state: state.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            nonce,
            created_at: now_unix(),
        };
        Ok((url, pending))
    }

    /// Checks the callback against `pending` (provider, state in constant time, the provider's
    /// error parameters, age), exchanges the code with the PKCE verifier, validates the ID
    /// token for OIDC kinds and fetches the profile.
    pub async fn finish(
        &self,
        pending: PendingSignIn,
        callback: CallbackParams,
    ) -> Result<Profile, AuthError> {
        if pending.provider != self.name {
            return Err(AuthError::StateMismatch);
        }
        let state_matches = callback
            .state
            .as_deref()
            .is_some_and(|state| constant_time_eq(state.as_bytes(), pending.state.as_bytes()));
        if let Some(error) = callback.error.as_deref() {
            // Some providers leave `state` off error redirects; a present but wrong one is
            // still somebody else's answer.
            if callback.state.is_some() && !state_matches {
                return Err(AuthError::StateMismatch);
            }
            return Err(callback_error(error, callback.error_description.as_deref()));
        }
        if !state_matches {
            return Err(AuthError::StateMismatch);
        }
        let age = now_unix() - pending.created_at;
        if !(-60..=SIGN_IN_TTL_SECS).contains(&age) {
            return Err(AuthError::Expired);
        }
        let Some(code) = callback.code.filter(|c| !c.is_empty()) else {
            return Err(AuthError::ProviderError(
                "the callback carried neither a code nor an error".to_owned(),
            ));
        };
        let profile = match &self.flow {
            Flow::Rest(endpoints) => self.rest_finish(endpoints, code, pending).await,
            Flow::Oidc(oidc) => self.oidc_finish(oidc, code, pending).await,
        }?;
        Ok(profile.without_xml_forbidden_characters())
    }

    fn scopes_without_openid(&self) -> impl Iterator<Item = oauth2::Scope> + '_ {
        self.scopes
            .iter()
            .filter(|s| s.as_str() != "openid")
            .map(|s| oauth2::Scope::new(s.clone()))
    }
}

fn capitalise(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Compares without an early exit, so the time taken does not reveal how much matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// The provider's `error` callback parameter (RFC 6749 §4.1.2.1).
fn callback_error(error: &str, description: Option<&str>) -> AuthError {
    let detail = match description {
        Some(d) => format!("{error}: {}", truncate(d, 200)),
        None => truncate(error, 100),
    };
    match error {
        "access_denied" => AuthError::Denied,
        "temporarily_unavailable" | "server_error" => AuthError::ProviderUnavailable(detail),
        "unauthorized_client"
        | "invalid_scope"
        | "invalid_client"
        | "unsupported_response_type" => {
            AuthError::Misconfigured(format!("the provider refused the request: {detail}"))
        }
        _ => AuthError::ProviderError(detail),
    }
}

/// Maps a token-endpoint error code (standard, or GitHub's).
pub(crate) fn token_error_code(error: &str, description: Option<&str>) -> AuthError {
    let detail = match description {
        Some(d) => format!("{error}: {}", truncate(d, 200)),
        None => truncate(error, 100),
    };
    match error {
        "invalid_grant" | "bad_verification_code" => AuthError::CodeRejected(detail),
        "invalid_client"
        | "unauthorized_client"
        | "incorrect_client_credentials"
        | "redirect_uri_mismatch" => AuthError::Misconfigured(format!(
            "the provider's token endpoint refused the client: {detail}"
        )),
        "temporarily_unavailable" | "server_error" => AuthError::ProviderUnavailable(detail),
        _ => AuthError::ProviderError(detail),
    }
}

/// Turns an oauth2 token request error into ours.
pub(crate) fn token_error<TE: oauth2::ErrorResponse + 'static>(
    error: oauth2::RequestTokenError<http::HttpError, TE>,
) -> AuthError {
    #[derive(Deserialize)]
    struct ErrorBody {
        error: String,
        error_description: Option<String>,
    }
    match error {
        oauth2::RequestTokenError::ServerResponse(response) => {
            match serde_json::to_value(&response)
                .ok()
                .and_then(|v| serde_json::from_value::<ErrorBody>(v).ok())
            {
                Some(body) => token_error_code(&body.error, body.error_description.as_deref()),
                None => AuthError::ProviderError("unreadable token error response".to_owned()),
            }
        }
        oauth2::RequestTokenError::Request(e) => e.into(),
        // GitHub answers errors with status 200, so they fail to parse as a token.
        oauth2::RequestTokenError::Parse(e, body) => {
            match serde_json::from_slice::<ErrorBody>(&body) {
                Ok(body) => token_error_code(&body.error, body.error_description.as_deref()),
                Err(_) => AuthError::ProviderError(format!("unexpected token response: {e}")),
            }
        }
        oauth2::RequestTokenError::Other(message) => AuthError::ProviderError(message),
    }
}

pub(crate) fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((index, _)) => format!("{}…", &text[..index]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn labels_and_callback() {
        let mut configs = BTreeMap::new();
        for (name, kind) in [
            ("github", ProviderKind::Github),
            ("x", ProviderKind::Twitter),
            ("corp", ProviderKind::Oidc),
        ] {
            configs.insert(
                name.to_owned(),
                ProviderConfig {
                    kind,
                    client_id: "id".into(),
                    client_secret: String::new(),
                    label: None,
                    auth_url: None,
                    token_url: None,
                    userinfo_url: None,
                    emails_url: None,
                    issuer: (kind == ProviderKind::Oidc).then(|| "https://sso.example".into()),
                    scopes: None,
                },
            );
        }
        let providers =
            Providers::new(&configs, "https://blog.example/", Duration::from_secs(5)).unwrap();
        let labels: Vec<_> = providers.iter().map(|p| p.label()).collect();
        assert_eq!(labels, ["Corp", "GitHub", "X"]);
        assert_eq!(
            providers.get("github").unwrap().callback_url(),
            "https://blog.example/auth/github/callback"
        );
    }

    #[test]
    fn truncate_counts_chars() {
        assert_eq!(truncate("héllo", 2), "hé…");
        assert_eq!(truncate("hi", 2), "hi");
    }
}
