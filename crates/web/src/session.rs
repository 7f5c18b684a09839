//! Who is reading: sessions kept in the database (so every server process sees the same
//! sign-ins), the signed-in user, and the CSRF token every state-changing form carries.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use folio_domain::User;
use folio_storage::{ContentState, SessionWithReader, Store, StoredSession};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions::{Expiry, Session, SessionManagerLayer};

use crate::AppState;
use crate::error::AppError;

/// The cookie's name. The page cache serves shared pages only to requests without it.
pub const SESSION_COOKIE: &str = "folio_session";
const USER_KEY: &str = "user_id";
const CSRF_KEY: &str = "csrf";
const PENDING_KEY: &str = "pending_sign_in";
const NOTICE_KEY: &str = "notice";
/// When the reader signed in (Unix seconds): the session ends `absolute_lifetime` later.
const SIGNED_IN_AT_KEY: &str = "signed_in_at";
/// A signed-in reader stays signed in while they come back at least this often.
const INACTIVITY_DAYS: i64 = 30;
/// The day (days since 1970) a page last moved the session's inactivity expiry forward.
const KEPT_ON_KEY: &str = "kept_on";

#[derive(Debug, Clone)]
pub struct DatabaseSessions {
    store: Store,
    /// However active, a sign-in ends this long after it began: a stolen cookie does not
    /// work forever.
    absolute_lifetime: time::Duration,
}

impl DatabaseSessions {
    pub fn layer(
        store: Store,
        secure: bool,
        absolute_lifetime: std::time::Duration,
    ) -> SessionManagerLayer<DatabaseSessions> {
        let absolute_lifetime =
            time::Duration::try_from(absolute_lifetime).unwrap_or(time::Duration::MAX);
        SessionManagerLayer::new(DatabaseSessions {
            store,
            absolute_lifetime,
        })
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(tower_sessions::cookie::SameSite::Lax)
        .with_secure(secure)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(time::Duration::days(INACTIVITY_DAYS)))
    }
}

fn backend(error: folio_storage::StorageError) -> session_store::Error {
    session_store::Error::Backend(error.to_string())
}

fn stored(record: &Record) -> session_store::Result<(Option<i64>, StoredSession)> {
    let data = serde_json::to_string(&record.data)
        .map_err(|e| session_store::Error::Encode(e.to_string()))?;
    let user_id = record.data.get(USER_KEY).and_then(|v| v.as_i64());
    Ok((
        user_id,
        StoredSession {
            data,
            expires_at: record.expiry_date.unix_timestamp(),
        },
    ))
}

#[async_trait::async_trait]
impl SessionStore for DatabaseSessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A fresh random id collides with an existing one only by astronomical bad luck;
        // if it does, draw again rather than overwrite someone's session.
        loop {
            let (user_id, session) = stored(record)?;
            let created = self
                .store
                .create_session(&record.id.to_string(), user_id, session)
                .await
                .map_err(backend)?;
            if created {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    /// Called only for a session loaded from the table (new ones go through `create`). If
    /// it was deleted meanwhile (signed out through another process), it stays deleted.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let (user_id, session) = stored(record)?;
        self.store
            .update_session(&record.id.to_string(), user_id, session)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let Some(SessionWithReader {
            session: found,
            user,
            content,
        }) = self
            .store
            .load_session_with_reader(&id.to_string(), now)
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        remember_loaded(*id, user, content);
        let mut data: std::collections::HashMap<String, serde_json::Value> =
            serde_json::from_str(&found.data)
                .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        if data.contains_key(USER_KEY) {
            match data
                .get(SIGNED_IN_AT_KEY)
                .and_then(serde_json::Value::as_i64)
            {
                Some(signed_in_at)
                    if now.saturating_sub(signed_in_at)
                        > self.absolute_lifetime.whole_seconds() =>
                {
                    self.store
                        .delete_session(&id.to_string())
                        .await
                        .map_err(backend)?;
                    return Ok(None);
                }
                Some(_) => {}
                // Signed in before sign-ins had a start: the lifetime counts from now.
                None => {
                    data.insert(SIGNED_IN_AT_KEY.to_owned(), now.into());
                }
            }
        }
        let expiry_date = OffsetDateTime::from_unix_timestamp(found.expires_at)
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(Record {
            id: *id,
            data,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.store
            .delete_session(&id.to_string())
            .await
            .map_err(backend)
    }
}

/// The reader making the request: signed in or not, with their session.
pub struct Viewer {
    pub session: Session,
    pub user: Option<User>,
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::Internal("the session layer is missing"))?;
        let user_id: Option<i64> = session.get(USER_KEY).await.map_err(session_failed)?;
        let user = match user_id {
            Some(id) => match loaded_user(session.id(), id) {
                Some(user) => Some(user),
                None => state.store().user_by_id(id).await?,
            },
            None => None,
        };
        Ok(Viewer { session, user })
    }
}

tokio::task_local! {
    /// What loading this request's session read besides the session (see
    /// `Store::load_session_with_reader`), for the rest of the request to use instead of
    /// asking the database again.
    static LOADED: std::sync::Mutex<Option<Loaded>>;
}

struct Loaded {
    session_id: Id,
    user: Option<User>,
    content: Option<ContentState>,
}

/// Runs the request with a place for what its session's loading reads: around the session
/// layer, so that the loading (which happens inside the handler, on first use) finds it.
pub(crate) async fn keep_what_session_loading_reads(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    LOADED
        .scope(std::sync::Mutex::new(None), next.run(request))
        .await
}

fn remember_loaded(session_id: Id, user: Option<User>, content: ContentState) {
    let _ = LOADED.try_with(|slot| {
        if let Ok(mut slot) = slot.lock() {
            *slot = Some(Loaded {
                session_id,
                user,
                content: Some(content),
            });
        }
    });
}

/// The user loaded with session `session_id`, when that session's loading found user
/// `user_id` in this request.
fn loaded_user(session_id: Option<Id>, user_id: i64) -> Option<User> {
    LOADED
        .try_with(|slot| {
            let slot = slot.lock().ok()?;
            let loaded = slot.as_ref()?;
            let user = loaded.user.as_ref()?;
            (Some(loaded.session_id) == session_id && user.id == user_id).then(|| user.clone())
        })
        .ok()
        .flatten()
}

/// The content state read with this request's session, once: as fresh as a query made now
/// (the session is loaded in this same request), without the query. A second call, or a
/// request whose session was not loaded, asks the database.
pub(crate) async fn content_state_now(store: &Store) -> Result<ContentState, AppError> {
    let taken = LOADED
        .try_with(|slot| {
            slot.lock()
                .ok()
                .and_then(|mut slot| slot.as_mut()?.content.take())
        })
        .ok()
        .flatten();
    match taken {
        Some(content) => Ok(content),
        None => Ok(store.content_state().await?),
    }
}

pub(crate) fn session_failed(error: tower_sessions::session::Error) -> AppError {
    tracing::error!(%error, "session store failed");
    AppError::Internal("the session store failed")
}

impl Viewer {
    pub fn user_id(&self) -> Option<i64> {
        self.user.as_ref().map(|u| u.id)
    }

    /// The token forms carry; made on first use and kept for the session.
    pub async fn csrf_token(&self) -> Result<String, AppError> {
        if let Some(token) = self
            .session
            .get::<String>(CSRF_KEY)
            .await
            .map_err(session_failed)?
        {
            return Ok(token);
        }
        let token = new_token();
        self.session
            .insert(CSRF_KEY, &token)
            .await
            .map_err(session_failed)?;
        Ok(token)
    }

    /// Refuses a state-changing request whose form does not carry this session's token.
    pub async fn check_csrf(&self, submitted: &str) -> Result<(), AppError> {
        let expected: Option<String> = self.session.get(CSRF_KEY).await.map_err(session_failed)?;
        match expected {
            Some(expected) if constant_time_eq(expected.as_bytes(), submitted.as_bytes()) => Ok(()),
            _ => Err(AppError::Forbidden),
        }
    }

    /// The signed-in reader sending a state-changing form with this session's token.
    pub async fn acting_user(&self, submitted_csrf: &str) -> Result<i64, AppError> {
        self.check_csrf(submitted_csrf).await?;
        self.user_id().ok_or(AppError::Forbidden)
    }

    /// [`Viewer::acting_user`] who may also take part (like, follow): not banned.
    pub async fn participating_user(&self, submitted_csrf: &str) -> Result<i64, AppError> {
        let user_id = self.acting_user(submitted_csrf).await?;
        match &self.user {
            Some(user) if user.is_banned(OffsetDateTime::now_utc()) => Err(AppError::Banned),
            _ => Ok(user_id),
        }
    }

    /// Starts a signed-in session under a new id (so that an id someone planted before
    /// sign-in is worthless afterwards), with a new CSRF token.
    pub async fn sign_in(&self, user_id: i64) -> Result<(), AppError> {
        self.session.cycle_id().await.map_err(session_failed)?;
        self.session
            .insert(USER_KEY, user_id)
            .await
            .map_err(session_failed)?;
        self.session
            .insert(SIGNED_IN_AT_KEY, OffsetDateTime::now_utc().unix_timestamp())
            .await
            .map_err(session_failed)?;
        self.session
            .insert(CSRF_KEY, new_token())
            .await
            .map_err(session_failed)?;
        Ok(())
    }

    pub async fn sign_out(&self) -> Result<(), AppError> {
        self.session.flush().await.map_err(session_failed)
    }

    /// A one-time message for the next page this reader sees.
    pub async fn set_notice(&self, text: &str) -> Result<(), AppError> {
        self.session
            .insert(NOTICE_KEY, text)
            .await
            .map_err(session_failed)
    }

    pub async fn take_notice(&self) -> Result<Option<String>, AppError> {
        if self.user.is_none() {
            return Ok(None);
        }
        let notice: Option<String> = self.session.get(NOTICE_KEY).await.map_err(session_failed)?;
        if notice.is_some() {
            return self
                .session
                .remove(NOTICE_KEY)
                .await
                .map_err(session_failed);
        }
        self.keep_alive().await?;
        Ok(None)
    }

    /// Moves the inactivity expiry forward (a session is saved, with a new expiry, when it
    /// changes), once a day: a reader who comes back stays signed in, without a write to
    /// the sessions table on every page they read.
    async fn keep_alive(&self) -> Result<(), AppError> {
        let today = OffsetDateTime::now_utc()
            .unix_timestamp()
            .div_euclid(86_400);
        let kept_on: Option<i64> = self
            .session
            .get(KEPT_ON_KEY)
            .await
            .map_err(session_failed)?;
        if kept_on != Some(today) {
            self.session
                .insert(KEPT_ON_KEY, today)
                .await
                .map_err(session_failed)?;
        }
        Ok(())
    }

    pub async fn remember_pending(&self, pending: &PendingSignIn) -> Result<(), AppError> {
        self.session
            .insert(PENDING_KEY, pending)
            .await
            .map_err(session_failed)
    }

    /// The sign-in in progress, taken out of the session so that a callback works once.
    pub async fn take_pending(&self) -> Result<Option<PendingSignIn>, AppError> {
        self.session
            .remove(PENDING_KEY)
            .await
            .map_err(session_failed)
    }
}

/// What the session keeps between sending a reader to a provider and their return.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingSignIn {
    pub flow: folio_auth::PendingSignIn,
    /// A path on this site.
    pub return_to: String,
    /// Started from `/account` to add this provider to the signed-in reader's account
    /// rather than to sign in.
    #[serde(default)]
    pub link: bool,
}

fn new_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `return_to` as this site accepts it: a path here (not `//host`, not a URL, no
/// backslashes that browsers read as slashes), or the front page.
pub fn safe_return_to(raw: Option<&str>) -> String {
    match raw {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/auth/")
                && !path.contains('\\')
                && !path.chars().any(char::is_control) =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// The reader's network address: the peer, or, when the peer is a trusted proxy, the last
/// address in `X-Forwarded-For` that is not one of our proxies.
pub struct ClientAddress(pub Option<std::net::IpAddr>);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(client_address(
            &parts.extensions,
            &parts.headers,
            state.trusted_proxies(),
        )))
    }
}

/// The reader's address: the peer's, unless the peer is a trusted proxy, in which case the
/// nearest address in `X-Forwarded-For` that is not itself a trusted proxy. Headers from
/// anyone else are ignored, so nobody can pose as another address by sending them.
pub(crate) fn client_address(
    extensions: &axum::http::Extensions,
    headers: &axum::http::HeaderMap,
    trusted: &[std::net::IpAddr],
) -> Option<std::net::IpAddr> {
    let peer = extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip())?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let client = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<std::net::IpAddr>().ok())
        .rev()
        .find(|a| !trusted.contains(a))
        .unwrap_or(peer);
    Some(client)
}

/// Opens a signed-in session for `user_id` directly in the store, as a sign-in would, and
/// returns the cookie value and the session's CSRF token. For tools that need signed-in
/// traffic without a provider (the benchmark, test helpers); the web never calls it.
pub async fn open_session_for(
    store: &Store,
    user_id: i64,
) -> Result<(String, String), folio_storage::StorageError> {
    let id = Id::default();
    let csrf = new_token();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let data =
        serde_json::json!({ USER_KEY: user_id, CSRF_KEY: csrf, SIGNED_IN_AT_KEY: now }).to_string();
    let expires_at =
        (OffsetDateTime::now_utc() + time::Duration::days(INACTIVITY_DAYS)).unix_timestamp();
    store
        .save_session(
            &id.to_string(),
            Some(user_id),
            StoredSession { data, expires_at },
        )
        .await?;
    Ok((id.to_string(), csrf))
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, SocketAddr};

    use axum::extract::ConnectInfo;
    use axum::http::{Extensions, HeaderMap, HeaderValue};

    use super::client_address;

    fn from_peer(peer: &str, forwarded: &[&str]) -> (Extensions, HeaderMap) {
        let mut extensions = Extensions::new();
        let peer: IpAddr = peer.parse().unwrap();
        extensions.insert(ConnectInfo(SocketAddr::new(peer, 40_000)));
        let mut headers = HeaderMap::new();
        for value in forwarded {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        (extensions, headers)
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn only_a_trusted_proxy_is_believed_and_only_up_to_the_first_untrusted_hop() {
        let proxies: Vec<IpAddr> = vec!["127.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()];

        let (extensions, headers) = from_peer("198.51.100.7", &["203.0.113.9"]);
        assert_eq!(
            client_address(&extensions, &headers, &proxies),
            ip("198.51.100.7"),
            "a peer that is not a proxy cannot pose as another address"
        );

        // The client made up the first entry; our two proxies appended the real hops.
        let (extensions, headers) =
            from_peer("127.0.0.1", &["203.0.113.9, 198.51.100.7", "10.0.0.2"]);
        assert_eq!(
            client_address(&extensions, &headers, &proxies),
            ip("198.51.100.7")
        );

        let (extensions, headers) = from_peer("127.0.0.1", &[]);
        assert_eq!(
            client_address(&extensions, &headers, &proxies),
            ip("127.0.0.1"),
            "a proxy that forwards nothing is the client"
        );

        assert_eq!(
            client_address(&Extensions::new(), &HeaderMap::new(), &proxies),
            None
        );
    }
}
