use axum::Router;
use axum::http::{HeaderName, HeaderValue, Request, header};
use axum::middleware::{from_fn, from_fn_with_state};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use crate::error::error_pages;
use crate::session::DatabaseSessions;
use crate::{
    AppState, WebSettings, account, admin, cache, discussion, federation, feeds, ops, pages,
    protected, signin, signin_email, subscriptions,
};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Pages run only our own scripts and styles (no inline ones); images come from this site,
/// inline `data:` (the generated avatars) and the configured sources (`media.image_sources`:
/// providers' avatars, imported posts' old hosts); nothing may frame the site.
fn content_security_policy(image_sources: &[String]) -> String {
    let images = image_sources.join(" ");
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; \
         style-src-attr 'unsafe-hashes' {TABLE_ALIGNMENT}; img-src 'self' data: {images}; \
         media-src 'self' {images}; object-src 'none'; base-uri 'self'; form-action 'self'; \
         frame-ancestors 'self'"
    )
}

/// The only inline styles a page may carry: the column alignment Markdown tables get
/// (`style="text-align: center"`, the one style the sanitizer keeps), by the hashes of
/// `text-align: left`, `center` and `right`. Any other `style=` is ignored by the browser.
const TABLE_ALIGNMENT: &str = "'sha256-6l+tpow5lGPV0MHWZlDv8nD7HrL77FGFldqQ7zc5gxY=' \
     'sha256-Y9v1MZrln1N8aPBY5lmpxYKwFkcp/nyBMMEnn7WFjuw=' \
     'sha256-i0JPB0qmRu5AViJTxOIzqXnfGoiWFw+oNAm4uJd7ZQk='";

pub fn build(state: AppState, settings: &WebSettings) -> Router {
    let csp = HeaderValue::from_str(&content_security_policy(&settings.media.image_sources))
        .unwrap_or_else(|_| {
            HeaderValue::from_static("default-src 'self'; img-src 'self' data: https:")
        });
    // Browsers keep to https for this long once they have seen the site over it; a site
    // served over http must not send it.
    let hsts = (settings.site.base_url.starts_with("https://")
        && settings.security.hsts_max_age_seconds > 0)
        .then(|| {
            HeaderValue::from_str(&format!(
                "max-age={}",
                settings.security.hsts_max_age_seconds
            ))
            .ok()
        })
        .flatten();
    state.cache().watch(state.store().clone());
    crate::settings::watch(state.clone(), settings.cache.poll_interval);
    // Install the recorder before the first request, so that it is counted.
    ops::metrics_handle();
    // What readers read goes through the page cache; what operators poll does not.
    let readable = pages::router()
        .merge(feeds::router())
        .layer(from_fn_with_state(state.clone(), cache::page_cache))
        .layer(from_fn_with_state(state.clone(), federation::articles));
    let secure_cookies = state.site().base_url.starts_with("https://");
    readable
        .merge(signin::router())
        .merge(signin_email::router())
        .merge(discussion::router())
        .merge(protected::router())
        .merge(account::router())
        .merge(admin::router(settings.media.max_upload_bytes))
        .merge(subscriptions::router())
        .layer(DatabaseSessions::layer(
            state.store().clone(),
            secure_cookies,
            settings.security.session_absolute_lifetime,
        ))
        .layer(from_fn(crate::session::keep_what_session_loading_reads))
        .merge(ops::router())
        .merge(federation::router())
        .merge(crate::media::router())
        .layer(from_fn_with_state(state.clone(), error_pages))
        .layer(from_fn(ops::record_metrics))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with({
                            let trusted = state.trusted_proxies().to_vec();
                            move |request: &Request<_>| request_span(request, &trusted)
                        })
                        // One line per answered request at info: the access log.
                        .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(CatchPanicLayer::new())
                .layer(TimeoutLayer::with_status_code(
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    settings.request_timeout,
                ))
                .layer(CompressionLayer::new())
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("strict-origin-when-cross-origin"),
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::CONTENT_SECURITY_POLICY,
                    csp,
                ))
                .option_layer(hsts.map(|value| {
                    SetResponseHeaderLayer::if_not_present(header::STRICT_TRANSPORT_SECURITY, value)
                })),
        )
        .with_state(state)
}

/// The access log's fields: who asked (through trusted proxies, as rate limits see it).
fn request_span<B>(request: &Request<B>, trusted_proxies: &[std::net::IpAddr]) -> tracing::Span {
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    let client =
        crate::session::client_address(request.extensions(), request.headers(), trusted_proxies)
            .map_or_else(|| "-".to_owned(), |address| address.to_string());
    tracing::info_span!(
        "request",
        id = %id,
        client = %client,
        method = %request.method(),
        path = %request.uri().path()
    )
}
