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
    let received = match federation.receive(&target, &headers, &body).await {
        Ok(folio_federation::Received::Reply(reply)) => accept_reply(&state, federation, *reply)
            .await
            .map_err(Refused::App),
        Ok(folio_federation::Received::Done(outcome)) => Ok(outcome),
        Ok(other) => apply_change(&state, federation, other)
            .await
            .map_err(Refused::App),
        Err(error) => Err(Refused::Inbox(error)),
    };
    match received {
        Err(Refused::App(error)) => {
            tracing::error!(?error, "a reply from the fediverse could not be written");
            json_answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                "application/json",
                &json!({"error": "internal error"}),
            )
        }
        Ok(outcome) => {
            tracing::debug!(outcome, "inbox activity handled");
            json_answer(
                StatusCode::ACCEPTED,
                "application/json",
                &json!({"ok": outcome}),
            )
        }
        Err(Refused::Inbox(error)) => {
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

enum Refused {
    Inbox(folio_federation::InboxError),
    App(crate::error::AppError),
}

/// The identity provider name remote authors get: `activitypub:<actor URL>`.
pub(crate) const ACTIVITYPUB_PROVIDER: &str = "activitypub";

/// A remote reply becomes a comment as a reader's does: its author is a reader (found or
/// made from the remote actor: name, avatar, profile link), then bans, closed threads, the
/// length and link limits, the per-user rate limit, moderation and the reply emails apply
/// as they do on the site's own form, through the same storage call.
async fn accept_reply(
    state: &AppState,
    federation: &Federation,
    reply: folio_federation::RemoteReply,
) -> Result<&'static str, crate::error::AppError> {
    use folio_domain::CommentStatus;
    use folio_storage::{CommentChecks, NewComment};
    let store = state.store();
    if store.federated_comment(&reply.note_id).await?.is_some() {
        return Ok("reply already here");
    }
    let base = &federation.urls().base_url;
    let (post_id, parent) = if let Some(post_id) =
        store.federated_post_by_object(&reply.in_reply_to).await?
    {
        (post_id, None)
    } else {
        let comment_id = match folio_domain::federation::comment_id_in(base, &reply.in_reply_to) {
            Some(id) => Some(id),
            None => store.federated_comment(&reply.in_reply_to).await?,
        };
        let Some(comment) = (match comment_id {
            Some(id) => store.comment(id).await?,
            None => None,
        }) else {
            return Ok("ignored: not a reply to this site");
        };
        if comment.deleted || comment.status != CommentStatus::Approved {
            return Ok("ignored: a reply to a comment not shown");
        }
        (comment.post_id, Some(comment.id))
    };
    let Some(target) = store.comment_target(post_id).await? else {
        return Ok("ignored: no such post");
    };
    if target.password.is_some() {
        return Ok("ignored: a protected post");
    }
    let author = &reply.author;
    let user = store.sign_in(&remote_identity(author)).await?;
    let settings = state.comments();
    let now = time::OffsetDateTime::now_utc();
    if user.is_banned(now) {
        return Ok("refused: the author is banned");
    }
    if !folio_domain::comments::comments_open(
        target.comments_open,
        target.published_at,
        now,
        settings.close_after_days,
    ) {
        return Ok("refused: comments are closed");
    }
    let text =
        folio_domain::federation::note_text(&reply.content_html, &author_username(federation));
    let Ok(source) = settings.limits.check(&text) else {
        return Ok("refused: too long, empty or too many links");
    };
    let Ok(html) = crate::rendering::comment(&source).await? else {
        return Ok("refused: cannot be rendered");
    };
    let trusted = user.moderates();
    let has_approved = !trusted
        && settings.moderation == folio_domain::ModerationPolicy::FirstTime
        && store.has_approved_comment(user.id).await?;
    let status = settings.moderation.initial_status(trusted, has_approved);
    let plan = folio_notification::plan_comment_mail(
        store,
        folio_notification::CommentFacts {
            post_id: target.post_id,
            post_title: &target.link.title,
            post_path: &target.link.path,
            parent_id: parent,
            author_id: Some(user.id),
            author_name: &user.display_name,
            source: &source,
            html: &html,
            status,
            protected: target.password.is_some(),
        },
    )
    .await?;
    let new = NewComment {
        post_id: target.post_id,
        parent_id: parent,
        author_id: Some(user.id),
        author_name: user.display_name.clone(),
        author_url: author.profile_url.clone(),
        source,
        status,
        created_at: None,
        author_ip: None,
    };
    let checks = CommentChecks {
        since: now - time::Duration::minutes(1),
        per_user: settings.per_user_per_minute,
        per_address: 0,
    };
    match store
        .create_comment_checked_notifying(new, html, checks, false, move |id| plan.rows(id))
        .await?
    {
        Ok(stored) => {
            let comment_id = stored.id;
            store
                .record_federated_comment(comment_id, &reply.note_id, &author.actor_id)
                .await?;
            tracing::info!(comment_id, actor = %author.actor_id, ?status, "reply from the fediverse");
            Ok("reply added as a comment")
        }
        Err(refusal) => {
            tracing::info!(actor = %author.actor_id, ?refusal, "reply from the fediverse refused");
            Ok("refused")
        }
    }
}

fn author_username(federation: &Federation) -> String {
    federation.urls().username.clone()
}

/// Edits, deletions, likes and boosts from the fediverse. Only a note's own author may change
/// or delete the comment it became.
async fn apply_change(
    state: &AppState,
    federation: &Federation,
    received: folio_federation::Received,
) -> Result<&'static str, crate::error::AppError> {
    use folio_federation::Received;
    let store = state.store();
    match received {
        Received::NoteUpdated(reply) => {
            let Some(comment_id) = store.federated_comment(&reply.note_id).await? else {
                return Ok("ignored: not a comment here");
            };
            if store.federated_comment_author(comment_id).await?.as_deref()
                != Some(reply.author.actor_id.as_str())
            {
                return Ok("ignored: not the author's");
            }
            let text = folio_domain::federation::note_text(
                &reply.content_html,
                &federation.urls().username,
            );
            let Ok(source) = state.comments().limits.check(&text) else {
                return Ok("refused: too long, empty or too many links");
            };
            let Ok(html) = crate::rendering::comment(&source).await? else {
                return Ok("refused: cannot be rendered");
            };
            store.edit_comment(comment_id, &source, html).await?;
            Ok("comment updated")
        }
        Received::NoteDeleted { note_id, actor_id } => {
            let Some(comment_id) = store.federated_comment(&note_id).await? else {
                return Ok("ignored");
            };
            if store.federated_comment_author(comment_id).await?.as_deref() != Some(&actor_id) {
                return Ok("ignored: not the author's");
            }
            store.delete_comment(comment_id).await?;
            Ok("comment deleted")
        }
        Received::Reaction(reaction) => {
            let Some(post_id) = store.federated_post_by_object(&reaction.object).await? else {
                return Ok("ignored: not a post here");
            };
            let actor = &reaction.actor;
            if !store
                .add_reaction(
                    post_id,
                    &actor.actor_id,
                    reaction.kind,
                    &reaction.activity_id,
                )
                .await?
            {
                return Ok("already counted");
            }
            if reaction.kind == "like" {
                // A like from the fediverse is a like of the post, as a reader's is.
                let user = store.sign_in(&remote_identity(actor)).await?;
                if !store.toggle_post_like(post_id, user.id).await? {
                    store.toggle_post_like(post_id, user.id).await?;
                }
            }
            Ok("reaction counted")
        }
        Received::ReactionUndone {
            activity_id,
            actor_id,
        } => {
            let Some((post_id, kind)) = store.remove_reaction(&activity_id, &actor_id).await?
            else {
                return Ok("ignored");
            };
            if kind == "like"
                && let Some(actor) = store.remote_actor(&actor_id).await?
            {
                let user = store.sign_in(&remote_identity(&actor)).await?;
                if store.toggle_post_like(post_id, user.id).await? {
                    store.toggle_post_like(post_id, user.id).await?;
                }
            }
            Ok("reaction withdrawn")
        }
        Received::Done(outcome) => Ok(outcome),
        Received::Reply(_) => Ok("ignored"),
    }
}

/// The reader a remote actor is on this site: `activitypub:<actor URL>`.
fn remote_identity(actor: &folio_storage::RemoteActor) -> folio_domain::Identity {
    folio_domain::Identity {
        provider: ACTIVITYPUB_PROVIDER.to_owned(),
        subject: actor.actor_id.clone(),
        login: Some(actor.handle.trim_start_matches('@').to_owned()),
        display_name: actor.name.clone(),
        email: None,
        email_verified: false,
        avatar_url: actor.icon_url.clone(),
        profile_url: actor.profile_url.clone(),
    }
}

/// A post's own address answers with its `Article` to a client that asks for ActivityPub
/// (`Accept: application/activity+json`), as Mastodon does when someone pastes the link
/// into its search; everyone else gets the page.
pub(crate) async fn articles(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let wants_activity = request.method() == axum::http::Method::GET
        && request
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| {
                accept.contains("application/activity+json")
                    || accept.contains("application/ld+json")
            });
    let Some(federation) = enabled(&state).filter(|_| wants_activity) else {
        return next.run(request).await;
    };
    let path = request.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let is_post_path = segments.len() == 4
        && segments[..3]
            .iter()
            .all(|part| part.chars().all(|c| c.is_ascii_digit()));
    if is_post_path
        && let Ok(Some(post)) = state.store().published_post(segments[3]).await
        && !post.summary.protected
        && post.summary.path() == path
    {
        let mut response = activity(&federation.article(&post.summary));
        response
            .headers_mut()
            .insert(header::VARY, HeaderValue::from_static("Accept"));
        return response;
    }
    next.run(request).await
}
