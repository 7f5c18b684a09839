//! Rendered pages kept in memory, and the validators (ETag, Last-Modified) that let browsers
//! and proxies skip a download. Anonymous readers get the same bytes, so one rendering serves
//! many of them; the cache is dropped whenever the content version in the database moves,
//! whichever process moved it.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hasher};
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use folio_storage::Store;
use moka::sync::Cache;

use crate::{AppState, CacheSettings};

/// Pages larger than this are served but not kept.
const MAX_BODY: usize = 4 * 1024 * 1024;
/// Below this, compression saves less than its headers cost.
const MIN_COMPRESS: usize = 1024;

#[derive(Clone)]
pub struct PageCache {
    pages: Option<Cache<String, Arc<CachedPage>>>,
    version: Arc<AtomicI64>,
    /// Unix time of the last content change, `i64::MIN` while unknown.
    changed_at: Arc<AtomicI64>,
    poll_interval: std::time::Duration,
    poller_started: Arc<AtomicBool>,
    /// One render per page at a time: when many readers ask for a page that is not cached
    /// (a new post on a busy site), the first renders it and the others wait for its copy.
    renders: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    /// Post pages shared by signed-in readers: dropped together with the anonymous pages.
    readers: Option<crate::personal::ReaderPages>,
}

struct CachedPage {
    version: i64,
    headers: HeaderMap,
    body: Bytes,
    /// The body's fingerprint, without quotes; each encoding's ETag adds a suffix to it.
    fingerprint: String,
    /// Compressed once, on the first request that asks for the encoding: compressing a
    /// 70 KB page on every request would cost more than everything else together.
    gzip: OnceLock<Option<Bytes>>,
    brotli: OnceLock<Option<Bytes>>,
}

impl CachedPage {
    fn new(version: i64, headers: HeaderMap, body: Bytes) -> Self {
        CachedPage {
            fingerprint: fingerprint_of(&body),
            version,
            headers,
            body,
            gzip: OnceLock::new(),
            brotli: OnceLock::new(),
        }
    }

    /// The representation for what the client accepts: body, ETag, and Content-Encoding.
    fn representation(&self, accepted: Encoding) -> (Bytes, HeaderValue, Option<&'static str>) {
        let compressed = match accepted {
            _ if self.body.len() < MIN_COMPRESS => None,
            Encoding::Brotli => self
                .brotli
                .get_or_init(|| brotli_bytes(&self.body))
                .clone()
                .map(|b| (b, "br")),
            Encoding::Gzip => self
                .gzip
                .get_or_init(|| gzip_bytes(&self.body))
                .clone()
                .map(|b| (b, "gzip")),
            Encoding::Identity => None,
        };
        match compressed {
            Some((bytes, name)) => (
                bytes,
                etag_header(&format!("{}-{name}", self.fingerprint)),
                Some(name),
            ),
            None => (self.body.clone(), etag_header(&self.fingerprint), None),
        }
    }
}

impl PageCache {
    pub fn new(settings: &CacheSettings) -> Self {
        let pages = settings.enabled.then(|| {
            Cache::builder()
                .max_capacity(settings.max_bytes)
                .weigher(|key: &String, page: &Arc<CachedPage>| {
                    u32::try_from(key.len() + page.body.len() + 256).unwrap_or(u32::MAX)
                })
                .time_to_live(settings.ttl)
                .build()
        });
        PageCache {
            pages,
            version: Arc::new(AtomicI64::new(i64::MIN)),
            changed_at: Arc::new(AtomicI64::new(i64::MIN)),
            poll_interval: settings.poll_interval,
            poller_started: Arc::new(AtomicBool::new(false)),
            renders: Arc::new(Mutex::new(HashMap::new())),
            readers: settings
                .enabled
                .then(|| crate::personal::ReaderPages::new(settings)),
        }
    }

    /// Reads the content state once now, so that the first requests already have validators
    /// and can be cached.
    pub async fn prime(&self, store: &Store) {
        match store.content_state().await {
            Ok(state) => self.observe(state),
            Err(error) => tracing::warn!(error = %error, "cannot read the content version"),
        }
    }

    /// Starts the task that watches the content version. Runs until the runtime stops.
    pub fn watch(&self, store: Store) {
        if self.poller_started.swap(true, Ordering::SeqCst) {
            return;
        }
        let cache = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(cache.poll_interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                match store.content_state().await {
                    Ok(state) => cache.observe(state),
                    // While the database is away, cached pages keep being served.
                    Err(error) => tracing::warn!(error = %error, "cannot read the content version"),
                }
            }
        });
    }

    fn observe(&self, state: folio_storage::ContentState) {
        let changed_at = state
            .changed_at
            .map_or(i64::MIN, time::OffsetDateTime::unix_timestamp);
        // The change time moves alone when a scheduled post falls due: that is a change too.
        let previous_change = self.changed_at.swap(changed_at, Ordering::SeqCst);
        let version = state.version;
        let previous = self.version.swap(version, Ordering::SeqCst);
        if previous != version || previous_change != changed_at {
            if let Some(pages) = &self.pages {
                pages.invalidate_all();
            }
            if let Some(readers) = &self.readers {
                readers.invalidate_all();
            }
        }
    }

    /// The signed-in readers' shared pages; `None` when the page cache is off.
    pub(crate) fn reader_pages(&self) -> Option<&crate::personal::ReaderPages> {
        self.readers.as_ref()
    }

    /// When content last changed anywhere, as last seen in the database.
    pub(crate) fn last_change(&self) -> Option<time::OffsetDateTime> {
        let at = self.changed_at.load(Ordering::SeqCst);
        (at != i64::MIN)
            .then(|| time::OffsetDateTime::from_unix_timestamp(at).ok())
            .flatten()
    }

    /// Takes a content state read by a request as news, when it is newer than the last one
    /// seen: the pages (and the menu and sidebar) made after it then show what it counts.
    pub(crate) fn observe_newer(&self, state: folio_storage::ContentState) {
        let known = self.version.load(Ordering::SeqCst);
        let changed_at = state
            .changed_at
            .map_or(i64::MIN, time::OffsetDateTime::unix_timestamp);
        if state.version > known
            || (state.version == known && changed_at != self.changed_at.load(Ordering::SeqCst))
        {
            self.observe(state);
        }
    }

    /// The content version last seen in the database; `None` until it has been read once.
    pub(crate) fn known_version(&self) -> Option<i64> {
        Some(self.version.load(Ordering::SeqCst)).filter(|v| *v != i64::MIN)
    }

    fn lookup(&self, key: &str, version: i64) -> Option<Arc<CachedPage>> {
        self.pages
            .as_ref()?
            .get(key)
            .filter(|hit| hit.version == version)
    }

    fn render_gate(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut renders = self
            .renders
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        renders.entry(key.to_owned()).or_default().clone()
    }

    fn release_gate(&self, key: &str, gate: &Arc<tokio::sync::Mutex<()>>) {
        let mut renders = self
            .renders
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // The map's copy and ours: nobody else is waiting.
        if renders.get(key).is_some_and(|g| Arc::ptr_eq(g, gate)) && Arc::strong_count(gate) <= 2 {
            renders.remove(key);
        }
    }
}

/// Serves cached pages, stores fresh ones, and answers conditional requests with 304.
fn has_session_cookie(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .any(|pair| {
            pair.trim()
                .split_once('=')
                .is_some_and(|(name, _)| name == crate::session::SESSION_COOKIE)
        })
}

pub(crate) async fn page_cache(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    if method != Method::GET && method != Method::HEAD {
        return next.run(request).await;
    }
    let cache = state.cache();
    let conditions = Conditions::of(request.headers());
    // A reader with a session may see a page made for them (their form, their held
    // comments); never share it. Other cookies (analytics, say) change nothing here.
    let shareable = !has_session_cookie(request.headers());
    let version = cache
        .known_version()
        .filter(|_| shareable && cache.pages.is_some());
    let Some(version) = version else {
        return render_and_validate(request, next, &conditions, None).await;
    };
    let key = request.uri().to_string();
    if let Some(hit) = cache.lookup(&key, version) {
        return conditions.answer_cached(&hit);
    }
    let gate = cache.render_gate(&key);
    let turn = gate.lock().await;
    let response = match cache.lookup(&key, version) {
        Some(hit) => conditions.answer_cached(&hit),
        None => {
            render_and_validate(
                request,
                next,
                &conditions,
                Some((cache, key.clone(), version)),
            )
            .await
        }
    };
    drop(turn);
    cache.release_gate(&key, &gate);
    response
}

async fn render_and_validate(
    request: Request,
    next: Next,
    conditions: &Conditions,
    store_as: Option<(&PageCache, String, i64)>,
) -> Response {
    let response = next.run(request).await;
    if response.status() != StatusCode::OK || !is_html_or_xml(response.headers()) {
        return response;
    }
    // A page made for one reader is neither kept nor revalidated (`no-store`): hashing it
    // for an ETag would be work for nothing on every signed-in page view.
    if is_private(response.headers()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::warn!(error = %error, "response body too large to buffer");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    if let Some((cache, key, version)) = store_as
        && let Some(pages) = &cache.pages
    {
        let page = Arc::new(CachedPage::new(version, parts.headers, body));
        pages.insert(key, page.clone());
        return conditions.answer_cached(&page);
    }
    // Not shared: the compression layer compresses it on the way out.
    let etag = etag_header(&fingerprint_of(&body));
    conditions.answer(parts.headers, etag, body)
}

/// A page its handler made for one reader (a protected post they opened): never shared,
/// whatever the request looked like.
fn is_private(headers: &HeaderMap) -> bool {
    headers
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("private") || v.contains("no-store"))
}

fn is_html_or_xml(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.starts_with("text/html") || ct.contains("xml") || ct.starts_with("text/plain")
        })
}

fn fingerprint_of(body: &[u8]) -> String {
    let mut hasher = DefaultHasher::new();
    hasher.write(body);
    format!("{:016x}-{:x}", hasher.finish(), body.len())
}

fn etag_header(fingerprint: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{fingerprint}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

fn gzip_bytes(body: &[u8]) -> Option<Bytes> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::new(6),
    );
    encoder.write_all(body).ok()?;
    encoder.finish().ok().map(Bytes::from)
}

fn brotli_bytes(body: &[u8]) -> Option<Bytes> {
    // Quality 5 with a 1 MB window: better than gzip on HTML, a few MB of working memory
    // (quality 9 and up needs tens of MB, which showed in the server's peak RSS).
    const QUALITY: u32 = 5;
    const WINDOW_BITS: u32 = 20;
    let mut out = Vec::with_capacity(body.len() / 4);
    {
        let mut writer = brotli::CompressorWriter::new(&mut out, 4096, QUALITY, WINDOW_BITS);
        writer.write_all(body).ok()?;
        writer.flush().ok()?;
    }
    Some(Bytes::from(out))
}

/// What the client accepts, best first: brotli, then gzip (RFC 9110 `Accept-Encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

impl Encoding {
    fn accepted(headers: &HeaderMap) -> Self {
        let Some(value) = headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
        else {
            return Encoding::Identity;
        };
        let mut brotli = false;
        let mut gzip = false;
        for item in value.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            if refused {
                continue;
            }
            match name.as_str() {
                "br" => brotli = true,
                "gzip" | "x-gzip" => gzip = true,
                _ => {}
            }
        }
        if brotli {
            Encoding::Brotli
        } else if gzip {
            Encoding::Gzip
        } else {
            Encoding::Identity
        }
    }
}

struct Conditions {
    if_none_match: Option<HeaderValue>,
    if_modified_since: Option<SystemTime>,
    encoding: Encoding,
}

impl Conditions {
    fn of(headers: &HeaderMap) -> Self {
        Conditions {
            if_none_match: headers.get(header::IF_NONE_MATCH).cloned(),
            if_modified_since: headers
                .get(header::IF_MODIFIED_SINCE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| httpdate::parse_http_date(v).ok()),
            encoding: Encoding::accepted(headers),
        }
    }

    fn answer_cached(&self, page: &CachedPage) -> Response {
        let (body, etag, encoding) = page.representation(self.encoding);
        let mut headers = page.headers.clone();
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        if let Some(encoding) = encoding {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
            headers.remove(header::CONTENT_LENGTH);
        }
        self.answer(headers, etag, body)
    }

    fn answer(&self, mut headers: HeaderMap, etag: HeaderValue, body: Bytes) -> Response {
        let not_modified = match (&self.if_none_match, self.if_modified_since) {
            // RFC 9110: If-None-Match wins over If-Modified-Since when both are sent.
            (Some(candidates), _) => candidates.to_str().ok().is_some_and(|c| {
                c.trim() == "*" || c.split(',').any(|tag| weak_eq(tag.trim(), &etag))
            }),
            (None, Some(since)) => headers
                .get(header::LAST_MODIFIED)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| httpdate::parse_http_date(v).ok())
                .is_some_and(|modified| modified <= since),
            (None, None) => false,
        };
        headers.insert(header::ETAG, etag);
        // A page made for one reader says so (`private, no-store`); only the others are
        // offered to shared caches.
        headers
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static(
                "public, max-age=0, must-revalidate",
            ));
        if not_modified {
            headers.remove(header::CONTENT_LENGTH);
            headers.remove(header::CONTENT_TYPE);
            let mut response = StatusCode::NOT_MODIFIED.into_response();
            response.headers_mut().extend(headers);
            return response;
        }
        let mut response = Response::new(Body::from(body));
        *response.headers_mut() = headers;
        response
    }
}

fn weak_eq(candidate: &str, etag: &HeaderValue) -> bool {
    let strip = |s: &str| s.strip_prefix("W/").unwrap_or(s).to_owned();
    etag.to_str().is_ok_and(|e| strip(candidate) == strip(e))
}
