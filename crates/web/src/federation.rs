//! The blog's ActivityPub side over HTTP: WebFinger, NodeInfo, the actor, its inbox,
//! outbox and collections. Everything answers 404 while `federation.enabled` is off.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use folio_federation::{Federation, MAX_BODY_BYTES};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;

const ACTIVITY_JSON: &str = "application/activity+json; charset=utf-8";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/.well-known/webfinger", get(webfinger))
        .route("/.well-known/nodeinfo", get(nodeinfo_links))
        .route("/nodeinfo/2.1", get(nodeinfo))
        .route("/ap/actor", get(actor))
        .route("/ap/outbox", get(outbox))
        .route("/ap/followers", get(followers))
        .route("/ap/following", get(following))
        .route(
            "/ap/inbox",
            post(inbox).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
}

fn enabled(state: &AppState) -> Option<&Federation> {
    state.federation().filter(|f| f.enabled())
}

fn not_found() -> Response {
    json_answer(
        StatusCode::NOT_FOUND,
        "application/json",
        &json!({"error": "not found"}),
    )
}

fn json_answer(status: StatusCode, content_type: &'static str, value: &Value) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            ),
        ],
        value.to_string(),
    )
        .into_response()
}

fn activity(value: &Value) -> Response {
    json_answer(StatusCode::OK, ACTIVITY_JSON, value)
}

fn failed(error: &dyn std::error::Error) -> Response {
    tracing::error!(%error, "federation request failed");
    json_answer(
        StatusCode::INTERNAL_SERVER_ERROR,
        "application/json",
        &json!({"error": "internal error"}),
    )
}

#[derive(Deserialize)]
struct WebFingerQuery {
    resource: Option<String>,
}

async fn webfinger(State(state): State<AppState>, Query(query): Query<WebFingerQuery>) -> Response {
    let Some(federation) = enabled(&state) else {
        return not_found();
    };
    let Some(resource) = query.resource else {
        return json_answer(
            StatusCode::BAD_REQUEST,
            "application/json",
            &json!({"error": "resource is required"}),
        );
    };
    match federation.webfinger(&resource) {
        Some(document) => json_answer(
            StatusCode::OK,
            "application/jrd+json; charset=utf-8",
            &document,
        ),
        None => json_answer(
            StatusCode::NOT_FOUND,
            "application/json",
            &json!({"error": "no such account here"}),
        ),
    }
}

async fn nodeinfo_links(State(state): State<AppState>) -> Response {
    match enabled(&state) {
        Some(f) => json_answer(StatusCode::OK, "application/json", &f.nodeinfo_links()),
        None => not_found(),
    }
}

async fn nodeinfo(State(state): State<AppState>) -> Response {
    let Some(federation) = enabled(&state) else {
        return not_found();
    };
    match federation.nodeinfo().await {
        Ok(document) => json_answer(
            StatusCode::OK,
            "application/json; profile=\"http://nodeinfo.diaspora.software/ns/schema/2.1#\"",
            &document,
        ),
        Err(error) => failed(&error),
    }
}

async fn actor(State(state): State<AppState>) -> Response {
    let Some(federation) = enabled(&state) else {
        return not_found();
    };
    match federation.actor_document().await {
        Ok(document) => activity(&document),
        Err(error) => failed(&error),
    }
}

async fn outbox(State(state): State<AppState>) -> Response {
    let Some(federation) = enabled(&state) else {
        return not_found();
    };
    match federation.outbox().await {
        Ok(document) => activity(&document),
        Err(error) => failed(&error),
    }
}

async fn followers(State(state): State<AppState>) -> Response {
    let Some(federation) = enabled(&state) else {
        return not_found();
    };
    match federation.followers_collection().await {
        Ok(document) => activity(&document),
        Err(error) => failed(&error),
    }
}

async fn following(State(state): State<AppState>) -> Response {
    match enabled(&state) {
        Some(f) => activity(&f.following_collection()),
        None => not_found(),
    }
}

/// Signed activities from other servers. 202 once handled; 401 for a missing, stale or
/// wrong signature (or a key that cannot be fetched), 403 for a blocked server.
async fn inbox(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(federation) = enabled(&state) else {
        return not_found();
    };
    let target = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned());
    match federation.receive(&target, &headers, &body).await {
        Ok(outcome) => {
            tracing::debug!(outcome, "inbox activity handled");
            json_answer(
                StatusCode::ACCEPTED,
                "application/json",
                &json!({"ok": outcome}),
            )
        }
        Err(error) => {
            let status =
                StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if status.is_server_error() {
                return failed(&error);
            }
            tracing::info!(%error, "inbox activity refused");
            json_answer(
                status,
                "application/json",
                &json!({"error": error.to_string()}),
            )
        }
    }
}
