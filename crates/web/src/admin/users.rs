//! Users for admins (roles, bans) and the audit log; bans for editors too, from the queue.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::routing::{get, post};
use folio_domain::permissions::{may_ban, may_change_user, may_manage_users};
use folio_domain::schedule::parse_local_datetime;
use folio_domain::{PageNumber, Role, User};
use serde::Deserialize;

use super::{
    AdminNav, AdminPager, AdminResult, Refusal, admin_only, admin_page, frame, staff_action,
};
use crate::AppState;
use crate::error::AppError;
use crate::layout::Layout;
use crate::session::{Viewer, safe_return_to};
use crate::signin::see_other;
use crate::views::human_date_time;

const PER_PAGE: u32 = 50;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(list))
        .route("/admin/users/{id}/role", post(change_role))
        .route("/admin/users/{id}/ban", post(ban))
        .route("/admin/users/{id}/unban", post(unban))
        .route("/admin/audit", get(audit))
}

#[derive(Debug, Deserialize, Default)]
struct PageQuery {
    page: Option<String>,
}

fn page_of(query: &PageQuery) -> Result<PageNumber, AppError> {
    match query.page.as_deref().filter(|p| !p.is_empty()) {
        Some(raw) => PageNumber::parse(raw).ok_or(AppError::NotFound),
        None => Ok(PageNumber::FIRST),
    }
}

struct UserRow {
    id: i64,
    name: String,
    email: String,
    role: &'static str,
    /// Every role, and whether it is this user's.
    role_choices: Vec<(&'static str, bool)>,
    joined: String,
    ban: Option<String>,
    is_self: bool,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    layout: Layout,
    nav: AdminNav,
    rows: Vec<UserRow>,
    pager: AdminPager,
}

async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<PageQuery>,
) -> AdminResult {
    let user = admin_only(&viewer, "/admin/users")?;
    let page = page_of(&query)?;
    let users = state.store().users_page(page, PER_PAGE).await?;
    let pager = AdminPager::of(&users, "/admin/users?");
    let now = time::OffsetDateTime::now_utc();
    let rows = users
        .items
        .into_iter()
        .map(|u| UserRow {
            id: u.id,
            is_self: u.id == user.id,
            role: u.role.as_str(),
            role_choices: [Role::Reader, Role::Author, Role::Editor, Role::Admin]
                .into_iter()
                .map(|r| (r.as_str(), r == u.role))
                .collect(),
            email: u.email.clone().unwrap_or_default(),
            joined: human_date_time(u.created_at),
            ban: u
                .ban
                .as_ref()
                .filter(|b| b.in_force(now))
                .map(|b| match b.until {
                    Some(until) => format!("banned until {}: {}", human_date_time(until), b.reason),
                    None => format!("banned: {}", b.reason),
                }),
            name: u.display_name,
        })
        .collect();
    let (layout, nav) = frame(&state, &viewer, &user, "Users", "/admin/users").await?;
    admin_page(&UsersPage {
        layout,
        nav,
        rows,
        pager,
    })
}

#[derive(Debug, Deserialize)]
struct RoleForm {
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    role: String,
}

async fn change_role(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<RoleForm>,
) -> AdminResult {
    let user = staff_action(&viewer, &form._csrf).await?;
    if !may_manage_users(&user) || !may_change_user(&user, id) {
        return Err(AppError::Forbidden.into());
    }
    let role = Role::parse(&form.role).ok_or(AppError::NotFound)?;
    state
        .store()
        .user_by_id(id)
        .await?
        .ok_or(AppError::NotFound)?;
    let changed = match state.store().change_role(&user, id, role).await {
        Ok(changed) => changed,
        Err(refused @ folio_storage::StorageError::LastAdmin) => {
            viewer
                .set_notice(&format!("Nothing was changed: {refused}."))
                .await?;
            return Ok(see_other("/admin/users"));
        }
        Err(other) => return Err(AppError::from(other).into()),
    };
    viewer
        .set_notice(&format!(
            "{} is now {}.",
            changed.display_name,
            role.as_str()
        ))
        .await?;
    Ok(see_other("/admin/users"))
}

#[derive(Debug, Deserialize)]
struct BanForm {
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    reason: String,
    /// `YYYY-MM-DDTHH:MM` in the site's time zone; empty: until lifted.
    #[serde(default)]
    until: String,
    #[serde(default)]
    return_to: String,
}

fn back_to(raw: &str) -> String {
    let back = safe_return_to(Some(raw));
    if back.starts_with("/admin/") {
        back
    } else {
        "/admin/users".to_owned()
    }
}

async fn ban(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<BanForm>,
) -> AdminResult {
    let (user, target) = ban_target(&state, &viewer, id, &form._csrf).await?;
    let until = match form.until.trim() {
        "" => None,
        raw => match parse_local_datetime(raw, &state.site().timezone) {
            Some(at) => Some(at),
            None => {
                viewer
                    .set_notice("The ban's end could not be read; nothing was changed.")
                    .await?;
                return Ok(see_other(&back_to(&form.return_to)));
            }
        },
    };
    let reason = form.reason.trim();
    if let Err(error) = state.store().ban_user(&user, id, reason, until).await {
        return match error {
            refused @ folio_storage::StorageError::LastAdmin => {
                viewer
                    .set_notice(&format!("Nothing was changed: {refused}."))
                    .await?;
                Ok(see_other(&back_to(&form.return_to)))
            }
            other => Err(AppError::from(other).into()),
        };
    }
    viewer
        .set_notice(&format!(
            "{} is banned; their held comments went to spam.",
            target.display_name
        ))
        .await?;
    Ok(see_other(&back_to(&form.return_to)))
}

/// The acting editor or admin and the person they may ban or unban: never themselves, and
/// an editor or an admin only by an admin (editors moderate readers and authors).
async fn ban_target(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
    csrf: &str,
) -> Result<(User, User), Refusal> {
    let user = staff_action(viewer, csrf).await?;
    if !may_ban(&user) || !may_change_user(&user, id) {
        return Err(AppError::Forbidden.into());
    }
    let target = state
        .store()
        .user_by_id(id)
        .await?
        .ok_or(AppError::NotFound)?;
    if target.role >= Role::Editor && !may_manage_users(&user) {
        return Err(AppError::Forbidden.into());
    }
    Ok((user, target))
}

async fn unban(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<BanForm>,
) -> AdminResult {
    let (user, target) = ban_target(&state, &viewer, id, &form._csrf).await?;
    state.store().unban_user(&user, id).await?;
    viewer
        .set_notice(&format!("{} is no longer banned.", target.display_name))
        .await?;
    Ok(see_other(&back_to(&form.return_to)))
}

struct AuditRow {
    at: String,
    actor: String,
    action: String,
    subject: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    layout: Layout,
    nav: AdminNav,
    rows: Vec<AuditRow>,
    pager: AdminPager,
}

async fn audit(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<PageQuery>,
) -> AdminResult {
    let user = admin_only(&viewer, "/admin/audit")?;
    let page = page_of(&query)?;
    let entries = state.store().audit_log(page, PER_PAGE).await?;
    let pager = AdminPager::of(&entries, "/admin/audit?");
    let rows = entries
        .items
        .into_iter()
        .map(|e| AuditRow {
            at: human_date_time(e.at),
            actor: e.actor_name,
            action: e.action,
            subject: e.subject,
            detail: e.detail,
        })
        .collect();
    let (layout, nav) = frame(&state, &viewer, &user, "Audit log", "/admin/audit").await?;
    admin_page(&AuditPage {
        layout,
        nav,
        rows,
        pager,
    })
}
