//! Blog subscribers for admins: the list (confirmed or waiting), removing one, and a CSV
//! export.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use folio_domain::PageNumber;
use folio_domain::permissions::may_manage_users;
use folio_storage::{Subscriber, SubscriberCounts};
use serde::Deserialize;

use super::{AdminNav, AdminPager, AdminResult, admin_only, admin_page, frame, staff_action};
use crate::AppState;
use crate::discussion::private;
use crate::error::AppError;
use crate::layout::Layout;
use crate::session::Viewer;
use crate::signin::see_other;
use crate::views::human_date_time;

const PER_PAGE: u32 = 50;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/subscribers", get(list))
        .route("/admin/subscribers.csv", get(export))
        .route("/admin/subscribers/{id}/remove", post(remove))
}

#[derive(Debug, Deserialize, Default)]
struct PageQuery {
    page: Option<String>,
}

struct SubscriberRow {
    id: i64,
    email: String,
    /// "confirmed 3 May 2026, 10:00" or "waiting for confirmation".
    state: String,
    since: String,
}

#[derive(Template)]
#[template(path = "admin/subscribers.html")]
struct SubscribersPage {
    layout: Layout,
    nav: AdminNav,
    rows: Vec<SubscriberRow>,
    counts: SubscriberCounts,
    pager: AdminPager,
}

async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<PageQuery>,
) -> AdminResult {
    let user = admin_only(&viewer, "/admin/subscribers")?;
    let page = match query.page.as_deref().filter(|p| !p.is_empty()) {
        Some(raw) => PageNumber::parse(raw).ok_or(AppError::NotFound)?,
        None => PageNumber::FIRST,
    };
    let subscribers = state.store().blog_subscribers_page(page, PER_PAGE).await?;
    let counts = state.store().subscriber_counts().await?;
    let pager = AdminPager::of(&subscribers, "/admin/subscribers?");
    let rows = subscribers
        .items
        .into_iter()
        .map(|s| SubscriberRow {
            id: s.id,
            state: match s.confirmed_at {
                Some(at) => format!("confirmed {}", human_date_time(at)),
                None => "waiting for confirmation".to_owned(),
            },
            since: human_date_time(s.created_at),
            email: s.email,
        })
        .collect();
    let (layout, nav) = frame(&state, &viewer, &user, "Subscribers", "/admin/subscribers").await?;
    admin_page(&SubscribersPage {
        layout,
        nav,
        rows,
        counts,
        pager,
    })
}

/// One CSV field: quoted when it needs to be, and never read as a formula by a spreadsheet.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The CSV export: `email,confirmed,confirmed_at,subscribed_at,user_id`, oldest first.
pub(crate) fn subscribers_csv(subscribers: &[Subscriber]) -> String {
    let mut csv = String::from("email,confirmed,confirmed_at,subscribed_at,user_id\r\n");
    for s in subscribers {
        csv.push_str(&format!(
            "{},{},{},{},{}\r\n",
            csv_field(&s.email),
            if s.confirmed_at.is_some() {
                "yes"
            } else {
                "no"
            },
            s.confirmed_at.map(rfc3339).unwrap_or_default(),
            rfc3339(s.created_at),
            s.user_id.map(|id| id.to_string()).unwrap_or_default(),
        ));
    }
    csv
}

async fn export(State(state): State<AppState>, viewer: Viewer) -> AdminResult {
    admin_only(&viewer, "/admin/subscribers.csv")?;
    let subscribers = state.store().all_blog_subscribers().await?;
    Ok(private(
        (
            [
                (CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    CONTENT_DISPOSITION,
                    "attachment; filename=\"subscribers.csv\"",
                ),
            ],
            subscribers_csv(&subscribers),
        )
            .into_response(),
    ))
}

#[derive(Debug, Deserialize)]
struct RemoveForm {
    #[serde(default)]
    _csrf: String,
}

async fn remove(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<RemoveForm>,
) -> AdminResult {
    let user = staff_action(&viewer, &form._csrf).await?;
    if !may_manage_users(&user) {
        return Err(AppError::Forbidden.into());
    }
    let email = state
        .store()
        .remove_blog_subscriber(&user, id)
        .await?
        .ok_or(AppError::NotFound)?;
    viewer
        .set_notice(&format!("{email} no longer gets new posts by email."))
        .await?;
    Ok(see_other("/admin/subscribers"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(csv_field("a@example.org"), "a@example.org");
        assert_eq!(
            csv_field("\"odd,\"@example.org"),
            "\"\"\"odd,\"\"@example.org\""
        );
        assert_eq!(csv_field("=cmd()@example.org"), "'=cmd()@example.org");
    }
}
