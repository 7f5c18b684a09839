//! The blog's fediverse audience for admins: who follows it (remove one), and the servers
//! it will not talk to (block or unblock a domain).

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::routing::{get, post};
use folio_domain::permissions::may_manage_users;
use serde::Deserialize;

use super::{AdminNav, AdminResult, admin_only, admin_page, frame, staff_action};
use crate::AppState;
use crate::error::AppError;
use crate::layout::Layout;
use crate::session::Viewer;
use crate::signin::see_other;
use crate::views::human_date_time;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/fediverse", get(overview))
        .route(
            "/admin/fediverse/followers/{id}/remove",
            post(remove_follower),
        )
        .route("/admin/fediverse/blocks", post(block))
        .route("/admin/fediverse/blocks/remove", post(unblock))
        .route(
            "/admin/fediverse/followers/{id}/block",
            post(block_follower),
        )
        .route("/admin/fediverse/accounts/unblock", post(unblock_account))
}

struct FollowerRow {
    id: i64,
    handle: String,
    actor_id: String,
    since: String,
}

#[derive(Template)]
#[template(path = "admin/fediverse.html")]
struct FediversePage {
    layout: Layout,
    nav: AdminNav,
    enabled: bool,
    handle: String,
    followers: Vec<FollowerRow>,
    blocked: Vec<String>,
    blocked_accounts: Vec<String>,
    pending: u64,
    failed: u64,
}

async fn overview(State(state): State<AppState>, viewer: Viewer) -> AdminResult {
    let user = admin_only(&viewer, "/admin/fediverse")?;
    let store = state.store();
    let followers = store
        .followers()
        .await?
        .into_iter()
        .map(|f| FollowerRow {
            id: f.id,
            handle: f.handle,
            actor_id: f.actor_id,
            since: human_date_time(f.created_at),
        })
        .collect();
    let blocked = store.blocked_domains().await?;
    let blocked_accounts = store.blocked_actors().await?;
    let (pending, _sent, failed) = store.delivery_counts().await?;
    let (enabled, handle) = match state.federation() {
        Some(federation) => (
            federation.enabled(),
            federation
                .urls()
                .acct()
                .trim_start_matches("acct:")
                .to_owned(),
        ),
        None => (false, String::new()),
    };
    let (layout, nav) = frame(&state, &viewer, &user, "Fediverse", "/admin/fediverse").await?;
    admin_page(&FediversePage {
        layout,
        nav,
        enabled,
        handle,
        followers,
        blocked,
        blocked_accounts,
        pending,
        failed,
    })
}

#[derive(Debug, Deserialize)]
struct CsrfForm {
    #[serde(default)]
    _csrf: String,
}

#[derive(Debug, Deserialize)]
struct DomainForm {
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    domain: String,
}

async fn admin_action(viewer: &Viewer, csrf: &str) -> Result<(), super::Refusal> {
    let user = staff_action(viewer, csrf).await?;
    if may_manage_users(&user) {
        Ok(())
    } else {
        Err(AppError::Forbidden.into())
    }
}

async fn remove_follower(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> AdminResult {
    admin_action(&viewer, &form._csrf).await?;
    let follower = state
        .store()
        .remove_follower_by_id(id)
        .await?
        .ok_or(AppError::NotFound)?;
    viewer
        .set_notice(&format!("{} no longer follows the blog.", follower.handle))
        .await?;
    Ok(see_other("/admin/fediverse"))
}

async fn block(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<DomainForm>,
) -> AdminResult {
    admin_action(&viewer, &form._csrf).await?;
    let Some(domain) = folio_domain::federation::normalize_domain(&form.domain) else {
        viewer
            .set_notice("That is not a domain name (example: social.example.org).")
            .await?;
        return Ok(see_other("/admin/fediverse"));
    };
    state.store().block_domain(&domain).await?;
    viewer
        .set_notice(&format!(
            "{domain} is blocked: its accounts no longer follow, reply or like here."
        ))
        .await?;
    Ok(see_other("/admin/fediverse"))
}

async fn unblock(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<DomainForm>,
) -> AdminResult {
    admin_action(&viewer, &form._csrf).await?;
    let domain = form.domain.trim().to_ascii_lowercase();
    if state.store().unblock_domain(&domain).await? {
        viewer
            .set_notice(&format!("{domain} is no longer blocked."))
            .await?;
    }
    Ok(see_other("/admin/fediverse"))
}

/// Blocks a follower's account: it stops following, and nothing it sends is accepted.
async fn block_follower(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> AdminResult {
    admin_action(&viewer, &form._csrf).await?;
    let follower = state
        .store()
        .followers()
        .await?
        .into_iter()
        .find(|f| f.id == id)
        .ok_or(AppError::NotFound)?;
    state.store().block_actor(&follower.actor_id).await?;
    viewer
        .set_notice(&format!("{} is blocked.", follower.handle))
        .await?;
    Ok(see_other("/admin/fediverse"))
}

#[derive(Debug, Deserialize)]
struct AccountForm {
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    actor: String,
}

async fn unblock_account(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<AccountForm>,
) -> AdminResult {
    admin_action(&viewer, &form._csrf).await?;
    if state.store().unblock_actor(form.actor.trim()).await? {
        viewer
            .set_notice(&format!("{} is no longer blocked.", form.actor.trim()))
            .await?;
    }
    Ok(see_other("/admin/fediverse"))
}
