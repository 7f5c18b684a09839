//! An OAuth2 provider shaped like GitHub (and like Discord, Facebook and X at their token and
//! profile endpoints), on loopback, in-process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use folio_auth::{ProviderConfig, ProviderKind};
use sha2::{Digest, Sha256};

const CLIENT_ID: &str = "folio-test-client";
const CLIENT_SECRET: &str = "folio-test-secret";

/// A user the stand-in can sign in as.
#[derive(Debug, Clone, Default)]
pub struct StandInUser {
    /// GitHub's numeric id; Discord, Facebook and X get it as a string.
    pub id: u64,
    pub login: String,
    pub name: Option<String>,
    /// Served by GitHub's `/user/emails` (as the primary address), Discord and Facebook.
    pub email: Option<String>,
    pub email_verified: bool,
    /// Served as is by GitHub, Facebook and X. Discord serves an avatar hash instead:
    /// `av<id>` when this is set, so the client builds
    /// `https://cdn.discordapp.com/avatars/<id>/av<id>.png`.
    pub avatar_url: Option<String>,
}

/// Endpoint URLs of the stand-in for one provider kind, ready for a [`ProviderConfig`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandInEndpoints {
    pub auth_url: String,
    pub token_url: String,
    pub userinfo_url: String,
    /// GitHub only.
    pub emails_url: Option<String>,
}

#[derive(Default)]
struct Inner {
    users: HashMap<String, StandInUser>,
    next_user: Option<String>,
    grants: HashMap<String, Grant>,
    tokens: HashMap<String, String>,
    slow: Duration,
    down: bool,
    token_requests: usize,
}

struct Grant {
    redirect_uri: String,
    code_challenge: String,
    login: String,
    scope: String,
    used: bool,
}

type Shared = Arc<Mutex<Inner>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Inner> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// The stand-in server. Runs on its own thread and runtime, so it works from sync and async
/// tests alike; stopped on drop.
///
/// ```ignore
/// let standin = folio_testkit::OAuthStandIn::start();
/// standin.add_user(StandInUser { id: 1, login: "octocat".into(), email: Some("o@example.org".into()),
///                                email_verified: true, ..Default::default() });
/// let config = standin.provider_config(ProviderKind::Github);
/// // ... Provider::start() gives the authorize URL; sign in as octocat:
/// let callback = standin.authorize(&authorize_url, "octocat").await; // or add &test_user=octocat and GET it
/// ```
///
/// The authorize endpoint redirects straight back to `redirect_uri` with a code and the given
/// `state`, signing in the user named by the query parameter `test_user` (or the one given to
/// [`set_next_user`](Self::set_next_user)); `test_deny=1` answers `error=access_denied`.
/// The token endpoint checks the client credentials (HTTP Basic or form), `redirect_uri` and
/// the PKCE `code_verifier` against the S256 `code_challenge`, and refuses a reused code with
/// `invalid_grant`; X's token endpoint takes the credentials only through HTTP Basic.
pub struct OAuthStandIn {
    base_url: String,
    shared: Shared,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    http: reqwest::Client,
}

impl OAuthStandIn {
    /// Binds `127.0.0.1:0` and serves until dropped.
    pub fn start() -> OAuthStandIn {
        let shared: Shared = Arc::default();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a loopback port");
        listener
            .set_nonblocking(true)
            .expect("setting the listener non-blocking");
        let addr = listener.local_addr().expect("reading the bound address");
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = router(shared.clone());
        let thread = std::thread::Builder::new()
            .name("oauth-standin".to_owned())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("building the stand-in's runtime");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .expect("handing the listener to tokio");
                    // Dropping the server future on stop also drops requests in flight (a
                    // slow token endpoint), so drop never waits for them.
                    tokio::select! {
                        _ = axum::serve(listener, app) => {}
                        _ = stopped => {}
                    }
                });
            })
            .expect("spawning the stand-in's thread");
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(20))
            .build()
            .expect("building a reqwest client");
        OAuthStandIn {
            base_url: format!("http://{addr}"),
            shared,
            shutdown: Some(shutdown),
            thread: Some(thread),
            http,
        }
    }

    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    pub fn client_id(&self) -> &'static str {
        CLIENT_ID
    }

    pub fn client_secret(&self) -> &'static str {
        CLIENT_SECRET
    }

    /// Adds or replaces (by login) a user.
    pub fn add_user(&self, user: StandInUser) {
        lock(&self.shared).users.insert(user.login.clone(), user);
    }

    /// The user the next authorize request without `test_user` signs in as.
    pub fn set_next_user(&self, login: &str) {
        lock(&self.shared).next_user = Some(login.to_owned());
    }

    /// The token endpoint sleeps this long before answering.
    pub fn set_slow(&self, delay: Duration) {
        lock(&self.shared).slow = delay;
    }

    /// The token endpoint answers 503 while down.
    pub fn set_down(&self, down: bool) {
        lock(&self.shared).down = down;
    }

    /// How many requests reached the token endpoint.
    pub fn token_requests(&self) -> usize {
        lock(&self.shared).token_requests
    }

    /// The stand-in's endpoints shaped like `kind` (github, discord, facebook, twitter).
    /// Panics for the OpenID Connect kinds: use [`OidcServer`](crate::OidcServer) for those.
    pub fn endpoints(&self, kind: ProviderKind) -> StandInEndpoints {
        let b = &self.base_url;
        let (auth, token, userinfo, emails) = match kind {
            ProviderKind::Github => (
                "/login/oauth/authorize",
                "/login/oauth/access_token",
                "/user",
                Some("/user/emails"),
            ),
            ProviderKind::Discord => (
                "/discord/oauth2/authorize",
                "/discord/api/oauth2/token",
                "/discord/users/@me",
                None,
            ),
            ProviderKind::Facebook => (
                "/facebook/dialog/oauth",
                "/facebook/oauth/access_token",
                "/facebook/me",
                None,
            ),
            ProviderKind::Twitter => (
                "/twitter/i/oauth2/authorize",
                "/twitter/2/oauth2/token",
                "/twitter/2/users/me",
                None,
            ),
            ProviderKind::Google | ProviderKind::Gitlab | ProviderKind::Oidc => {
                panic!("OAuthStandIn imitates plain OAuth2 providers; use OidcServer for {kind:?}")
            }
        };
        StandInEndpoints {
            auth_url: format!("{b}{auth}"),
            token_url: format!("{b}{token}"),
            userinfo_url: format!("{b}{userinfo}"),
            emails_url: emails.map(|e| format!("{b}{e}")),
        }
    }

    /// A complete provider table for `kind` pointing at the stand-in, with its client
    /// credentials.
    pub fn provider_config(&self, kind: ProviderKind) -> ProviderConfig {
        let endpoints = self.endpoints(kind);
        ProviderConfig {
            kind,
            client_id: CLIENT_ID.to_owned(),
            client_secret: CLIENT_SECRET.to_owned(),
            label: None,
            auth_url: Some(endpoints.auth_url),
            token_url: Some(endpoints.token_url),
            userinfo_url: Some(endpoints.userinfo_url),
            emails_url: endpoints.emails_url,
            issuer: None,
            scopes: None,
        }
    }

    /// Follows `authorize_url` (as a browser would) signing in as `login`; returns the
    /// redirect's `Location`: the callback URL with `code` and `state`.
    pub async fn authorize(&self, authorize_url: &str, login: &str) -> String {
        let mut url = reqwest::Url::parse(authorize_url).expect("authorize URL");
        url.query_pairs_mut().append_pair("test_user", login);
        self.follow(url).await
    }

    /// Follows `authorize_url` as if the person pressed "Cancel"; returns the `Location` with
    /// `error=access_denied`.
    pub async fn deny(&self, authorize_url: &str) -> String {
        let mut url = reqwest::Url::parse(authorize_url).expect("authorize URL");
        url.query_pairs_mut().append_pair("test_deny", "1");
        self.follow(url).await
    }

    async fn follow(&self, url: reqwest::Url) -> String {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .expect("GET the authorize URL");
        let status = response.status();
        match response.headers().get(header::LOCATION) {
            Some(location) if status.is_redirection() => {
                location.to_str().expect("ASCII Location").to_owned()
            }
            _ => panic!(
                "the stand-in's authorize endpoint answered {status}: {}",
                response.text().await.unwrap_or_default()
            ),
        }
    }
}

impl Drop for OAuthStandIn {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn router(shared: Shared) -> Router {
    Router::new()
        .route("/login/oauth/authorize", get(authorize))
        .route("/discord/oauth2/authorize", get(authorize))
        .route("/facebook/dialog/oauth", get(authorize))
        .route("/twitter/i/oauth2/authorize", get(authorize))
        .route("/login/oauth/access_token", post(token))
        .route("/discord/api/oauth2/token", post(token))
        .route("/facebook/oauth/access_token", post(token))
        .route("/twitter/2/oauth2/token", post(token))
        .route("/user", get(github_user))
        .route("/user/emails", get(github_emails))
        .route("/discord/users/@me", get(discord_me))
        .route("/facebook/me", get(facebook_me))
        .route("/twitter/2/users/me", get(twitter_me))
        .with_state(shared)
}

fn json(status: StatusCode, value: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json(
        status,
        serde_json::json!({ "error": error, "error_description": description }),
    )
}

fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    let Ok(mut url) = reqwest::Url::parse(redirect_uri) else {
        return (StatusCode::BAD_REQUEST, "redirect_uri is not a URL").into_response();
    };
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in params {
            query.append_pair(k, v);
        }
    }
    (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
}

async fn authorize(
    State(shared): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let param = |k: &str| q.get(k).map(String::as_str).unwrap_or_default();
    if param("client_id") != CLIENT_ID {
        return (StatusCode::BAD_REQUEST, "unknown client_id").into_response();
    }
    let redirect_uri = param("redirect_uri");
    if redirect_uri.is_empty() {
        return (StatusCode::BAD_REQUEST, "redirect_uri is missing").into_response();
    }
    let state = param("state");
    if param("response_type") != "code" {
        return redirect_with(
            redirect_uri,
            &[("error", "unsupported_response_type"), ("state", state)],
        );
    }
    if param("code_challenge").is_empty() || param("code_challenge_method") != "S256" {
        return redirect_with(
            redirect_uri,
            &[
                ("error", "invalid_request"),
                ("error_description", "PKCE with S256 is required"),
                ("state", state),
            ],
        );
    }
    if param("test_deny") == "1" {
        return redirect_with(
            redirect_uri,
            &[
                ("error", "access_denied"),
                (
                    "error_description",
                    "The user has denied your application access.",
                ),
                ("state", state),
            ],
        );
    }
    let mut inner = lock(&shared);
    let login = match q.get("test_user") {
        Some(login) => login.clone(),
        None => match inner.next_user.take() {
            Some(login) => login,
            None => {
                return (
                    StatusCode::BAD_REQUEST,
                    "no user chosen: add &test_user=LOGIN or call set_next_user",
                )
                    .into_response();
            }
        },
    };
    if !inner.users.contains_key(&login) {
        return (
            StatusCode::BAD_REQUEST,
            format!("no stand-in user {login:?}"),
        )
            .into_response();
    }
    let code = uuid::Uuid::new_v4().simple().to_string();
    inner.grants.insert(
        code.clone(),
        Grant {
            redirect_uri: redirect_uri.to_owned(),
            code_challenge: param("code_challenge").to_owned(),
            login,
            scope: param("scope").to_owned(),
            used: false,
        },
    );
    drop(inner);
    redirect_with(redirect_uri, &[("code", &code), ("state", state)])
}

/// Client credentials from HTTP Basic (form-urlencoded parts, RFC 6749 §2.3.1) or the body.
fn client_credentials(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> (Option<String>, Option<String>) {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    if let Some(pair) = basic
        && let Some((id, secret)) = pair.split_once(':')
    {
        let decode = |s: &str| url_decode(s).unwrap_or_else(|| s.to_owned());
        return (Some(decode(id)), Some(decode(secret)));
    }
    (
        form.get("client_id").cloned(),
        form.get("client_secret").cloned(),
    )
}

fn url_decode(s: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(&format!("http://x/?v={s}")).ok()?;
    parsed
        .query_pairs()
        .find(|(k, _)| k == "v")
        .map(|(_, v)| v.into_owned())
}

async fn token(
    State(shared): State<Shared>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    let (down, slow) = {
        let mut inner = lock(&shared);
        inner.token_requests += 1;
        (inner.down, inner.slow)
    };
    if !slow.is_zero() {
        tokio::time::sleep(slow).await;
    }
    if down {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/html")],
            "<h1>503 Service Unavailable</h1>",
        )
            .into_response();
    }
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    if field("grant_type") != "authorization_code" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only authorization_code",
        );
    }
    // X takes a confidential client's credentials only through HTTP Basic.
    if uri.path().starts_with("/twitter/") && !headers.contains_key(header::AUTHORIZATION) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            "Missing valid authorization header",
        );
    }
    let (id, secret) = client_credentials(&headers, &form);
    if id.as_deref() != Some(CLIENT_ID) || secret.as_deref() != Some(CLIENT_SECRET) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    }
    let mut inner = lock(&shared);
    let Some(grant) = inner.grants.get_mut(field("code")) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown code");
    };
    if grant.used {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the code was already used",
        );
    }
    grant.used = true;
    if grant.redirect_uri != field("redirect_uri") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "redirect_uri differs from the authorization request",
        );
    }
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(field("code_verifier").as_bytes()));
    if challenge != grant.code_challenge {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "code_verifier does not match code_challenge",
        );
    }
    let login = grant.login.clone();
    let scope = grant.scope.clone();
    let access_token = format!("standin_{}", uuid::Uuid::new_v4().simple());
    inner.tokens.insert(access_token.clone(), login);
    json(
        StatusCode::OK,
        serde_json::json!({
            "access_token": access_token,
            "token_type": "bearer",
            "scope": scope,
            "expires_in": 7200,
        }),
    )
}

/// The signed-in user for a bearer token, or the 401 to answer.
/// Why a REST request is refused, answered the way GitHub does.
enum Refusal {
    BadCredentials,
    NoUserAgent,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::BadCredentials => json(
                StatusCode::UNAUTHORIZED,
                serde_json::json!({ "message": "Bad credentials" }),
            ),
            Refusal::NoUserAgent => json(
                StatusCode::FORBIDDEN,
                serde_json::json!({ "message": "Request forbidden by administrative rules. Please make sure your request has a User-Agent header." }),
            ),
        }
    }
}

fn bearer_user(shared: &Shared, headers: &HeaderMap) -> Result<StandInUser, Refusal> {
    let inner = lock(shared);
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .and_then(|token| inner.tokens.get(token))
        .and_then(|login| inner.users.get(login))
        .cloned()
        .ok_or(Refusal::BadCredentials)
}

/// GitHub refuses API requests without a User-Agent.
fn require_user_agent(headers: &HeaderMap) -> Result<(), Refusal> {
    if headers.contains_key(header::USER_AGENT) {
        Ok(())
    } else {
        Err(Refusal::NoUserAgent)
    }
}

async fn github_user(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let user = match require_user_agent(&headers).and_then(|()| bearer_user(&shared, &headers)) {
        Ok(user) => user,
        Err(refusal) => return refusal.into_response(),
    };
    json(
        StatusCode::OK,
        serde_json::json!({
            "id": user.id,
            "login": user.login,
            "name": user.name,
            "avatar_url": user.avatar_url,
            "html_url": format!("https://github.com/{}", user.login),
            "email": null,
            "type": "User",
        }),
    )
}

async fn github_emails(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let user = match require_user_agent(&headers).and_then(|()| bearer_user(&shared, &headers)) {
        Ok(user) => user,
        Err(refusal) => return refusal.into_response(),
    };
    let mut emails = vec![serde_json::json!({
        "email": format!("{}@users.noreply.github.com", user.id),
        "primary": false,
        "verified": true,
        "visibility": null,
    })];
    if let Some(email) = &user.email {
        emails.insert(
            0,
            serde_json::json!({
                "email": email,
                "primary": true,
                "verified": user.email_verified,
                "visibility": "public",
            }),
        );
    }
    json(StatusCode::OK, serde_json::Value::Array(emails))
}

async fn discord_me(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let user = match bearer_user(&shared, &headers) {
        Ok(user) => user,
        Err(refusal) => return refusal.into_response(),
    };
    json(
        StatusCode::OK,
        serde_json::json!({
            "id": user.id.to_string(),
            "username": user.login,
            "global_name": user.name,
            "discriminator": "0",
            "avatar": user.avatar_url.as_ref().map(|_| format!("av{}", user.id)),
            "email": user.email,
            "verified": user.email_verified,
        }),
    )
}

async fn facebook_me(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let user = match bearer_user(&shared, &headers) {
        Ok(user) => user,
        Err(refusal) => return refusal.into_response(),
    };
    let fields: Vec<&str> = q
        .get("fields")
        .map(|f| f.split(',').collect())
        .unwrap_or_else(|| vec!["id", "name"]);
    let mut body = serde_json::Map::new();
    body.insert("id".into(), user.id.to_string().into());
    if fields.contains(&"name")
        && let Some(name) = &user.name
    {
        body.insert("name".into(), name.clone().into());
    }
    // Facebook only returns confirmed addresses, and only when asked for.
    if fields.contains(&"email")
        && user.email_verified
        && let Some(email) = &user.email
    {
        body.insert("email".into(), email.clone().into());
    }
    if fields.contains(&"picture")
        && let Some(url) = &user.avatar_url
    {
        body.insert(
            "picture".into(),
            serde_json::json!({ "data": { "url": url, "is_silhouette": false, "height": 50, "width": 50 } }),
        );
    }
    json(StatusCode::OK, serde_json::Value::Object(body))
}

async fn twitter_me(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let user = match bearer_user(&shared, &headers) {
        Ok(user) => user,
        Err(refusal) => return refusal.into_response(),
    };
    let fields = q.get("user.fields").cloned().unwrap_or_default();
    let mut data = serde_json::json!({
        "id": user.id.to_string(),
        "name": user.name.clone().unwrap_or_else(|| user.login.clone()),
        "username": user.login,
    });
    if fields.split(',').any(|f| f == "profile_image_url")
        && let Some(url) = &user.avatar_url
    {
        data["profile_image_url"] = url.clone().into();
    }
    json(StatusCode::OK, serde_json::json!({ "data": data }))
}
