//! What operators and their tools talk to: health, readiness, metrics, static assets.

use std::sync::OnceLock;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::AppState;

const STYLE: &str = include_str!("../static/style.css");
const FAVICON: &str = include_str!("../static/favicon.svg");
const COMMENT_REPLY: &str = include_str!("../static/comment-reply.js");

/// Changes whenever the stylesheet does, so that it can be cached for a year.
pub const ASSET_VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/static/style.css", get(stylesheet))
        .route("/favicon.ico", get(favicon))
        .route("/static/comment-reply.js", get(comment_reply_script))
}

pub async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready when the database answers; a load balancer stops sending traffic otherwise.
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.store().ping().await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(error) => {
            tracing::warn!(error = %error, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n").into_response()
        }
    }
}

/// Prometheus's page, for the addresses `server.metrics_allow_from` lists (loopback by
/// default): request counts by route are no business of the public. A request a proxy
/// forwarded counts as coming from its client, and when the proxy is not trusted, from
/// nowhere allowed, so that a proxy on the same machine does not publish the page.
pub async fn metrics(State(state): State<AppState>, request: Request) -> Response {
    let trusted = state.trusted_proxies();
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip());
    let forwarded = request.headers().contains_key("x-forwarded-for")
        || request.headers().contains_key(header::FORWARDED);
    let vouched = !forwarded || peer.is_some_and(|p| trusted.contains(&p));
    let client = crate::session::client_address(request.extensions(), request.headers(), trusted);
    let allowed = vouched
        && client.is_some_and(|client| {
            state
                .security()
                .metrics_allow_from
                .iter()
                .any(|range| range.contains(client))
        });
    if !allowed {
        return crate::error::AppError::NotForThisAddress.into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        metrics_handle().render(),
    )
        .into_response()
}

pub async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

pub async fn comment_reply_script() -> Response {
    asset("text/javascript; charset=utf-8", COMMENT_REPLY)
}

pub async fn favicon() -> Response {
    asset("image/svg+xml", FAVICON)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        body,
    )
        .into_response()
}

/// The process's one Prometheus recorder. A process has one global recorder, and tests start
/// several apps in one process, so it is made once and shared.
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        const SECONDS: &[f64] = &[
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ];
        let recorder = PrometheusBuilder::new()
            .set_buckets(SECONDS)
            .map(PrometheusBuilder::build_recorder)
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics may be empty");
        }
        // Histogram samples pile up until they are folded into buckets; without a scraper
        // calling /metrics, only upkeep keeps that memory bounded.
        let upkeep = handle.clone();
        let spawned = std::thread::Builder::new()
            .name("metrics-upkeep".to_owned())
            .spawn(move || {
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(2));
                    upkeep.run_upkeep();
                }
            });
        if let Err(error) = spawned {
            tracing::warn!(%error, "cannot start the metrics upkeep thread");
        }
        handle
    })
}

/// Counts requests and their latency by route (the route's pattern, not the raw path, so
/// that the number of series stays bounded).
pub(crate) async fn record_metrics(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "content".to_owned(), |m| m.as_str().to_owned());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("route", route), ("method", method), ("status", status)];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels[..2])
        .record(started.elapsed().as_secs_f64());
    response
}

/// A handler that serves fixed bytes from memory: the benchmark's yardstick for how fast this
/// stack can answer at all (`folio bench-baseline`).
pub fn baseline_router(body: Bytes) -> Router {
    Router::new().fallback(get(move || {
        let body = body.clone();
        async move {
            (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                )],
                body,
            )
        }
    }))
}
