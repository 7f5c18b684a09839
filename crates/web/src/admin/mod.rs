//! The admin at `/admin/`: writing for authors, editors and admins, moderation, users, and
//! the audit log. Every handler asks `folio_domain::permissions` before it reads or changes
//! anything, and every form carries the session's CSRF token.

mod comments;
mod fediverse;
mod media;
mod posts;
mod site_settings;
mod subscribers;
mod terms;
mod users;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use folio_domain::permissions::{may_enter_admin, may_manage_users, sees_all_posts};
use folio_domain::{Paginated, User};
use folio_storage::{DashboardCounts, OutboxCounts, StorageError, SubscriberCounts};

use crate::AppState;
use crate::discussion::private;
use crate::error::AppError;
use crate::layout::Layout;
use crate::pages::form_urlencode;
use crate::session::Viewer;
use crate::signin::see_other;

pub fn router(max_upload_bytes: u64) -> Router<AppState> {
    Router::new()
        .route("/admin", get(|| async { see_other("/admin/") }))
        .route("/admin/", get(dashboard))
        .merge(posts::router())
        .merge(comments::router())
        .merge(terms::router())
        .merge(site_settings::router())
        .merge(media::router(max_upload_bytes))
        .merge(users::router())
        .merge(subscribers::router())
        .merge(fediverse::router())
}

/// Why an admin request was not served: not signed in (sent to sign in), or an error
/// (403 for the wrong role or a missing CSRF token).
pub(crate) enum Refusal {
    SignIn(String),
    Error(AppError),
}

impl From<AppError> for Refusal {
    fn from(error: AppError) -> Self {
        Refusal::Error(error)
    }
}

impl From<StorageError> for Refusal {
    fn from(error: StorageError) -> Self {
        Refusal::Error(error.into())
    }
}

impl From<askama::Error> for Refusal {
    fn from(error: askama::Error) -> Self {
        Refusal::Error(error.into())
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::SignIn(path) => {
                see_other(&format!("/auth/login?return_to={}", form_urlencode(&path)))
            }
            Refusal::Error(error) => error.into_response(),
        }
    }
}

pub(crate) type AdminResult = Result<Response, Refusal>;

/// The signed-in author, editor or admin looking at an admin page; a reader gets 403, a
/// visitor is sent to sign in.
pub(crate) fn staff(viewer: &Viewer, path: &str) -> Result<User, Refusal> {
    match &viewer.user {
        None => Err(Refusal::SignIn(path.to_owned())),
        Some(user) if may_enter_admin(user) => Ok(user.clone()),
        Some(_) => Err(AppError::Forbidden.into()),
    }
}

/// The same for a form: the role first, then the CSRF token. Either failing is a 403 and
/// nothing changes.
/// An admin (a page only admins see: users, subscribers, the audit log); others get 403.
pub(crate) fn admin_only(viewer: &Viewer, path: &str) -> Result<User, Refusal> {
    let user = staff(viewer, path)?;
    if may_manage_users(&user) {
        Ok(user)
    } else {
        Err(AppError::Forbidden.into())
    }
}

pub(crate) async fn staff_action(viewer: &Viewer, csrf: &str) -> Result<User, Refusal> {
    let user = match &viewer.user {
        Some(user) if may_enter_admin(user) => user.clone(),
        _ => return Err(AppError::Forbidden.into()),
    };
    viewer.check_csrf(csrf).await?;
    Ok(user)
}

/// What every admin page shows besides its content: the admin's menu, and the token its
/// forms carry.
pub(crate) struct AdminNav {
    pub csrf: String,
    pub is_editor: bool,
    pub is_admin: bool,
    /// Which item of the menu this page belongs to, marked as the current one.
    pub section: &'static str,
}

/// The menu item an admin path belongs to: the first path segment after `/admin/`, with the
/// new-post form apart from the list of posts.
fn admin_section(path: &str) -> &'static str {
    let rest = path.trim_start_matches("/admin").trim_start_matches('/');
    if rest.starts_with("posts/new") {
        return "new";
    }
    match rest.split(['/', '?']).next().unwrap_or("") {
        "posts" => "posts",
        "pages" => "pages",
        "categories" => "categories",
        "tags" => "tags",
        "media" => "media",
        "comments" => "comments",
        "users" => "users",
        "subscribers" => "subscribers",
        "fediverse" => "fediverse",
        "settings" => "settings",
        "audit" => "audit",
        _ => "dashboard",
    }
}

/// The site's frame and the admin menu for one admin page.
pub(crate) async fn frame(
    state: &AppState,
    viewer: &Viewer,
    user: &User,
    title: &str,
    path: &str,
) -> Result<(Layout, AdminNav), AppError> {
    let mut layout = Layout::bare(state, title, path);
    layout.noindex = true;
    layout.body_class = "admin";
    layout.for_viewer(viewer, path).await?;
    Ok((
        layout,
        AdminNav {
            csrf: viewer.csrf_token().await?,
            is_editor: sees_all_posts(user),
            is_admin: may_manage_users(user),
            section: admin_section(path),
        },
    ))
}

/// An admin page: never cached anywhere, it is made for one person.
pub(crate) fn admin_page(template: &impl Template) -> AdminResult {
    Ok(private(Html(template.render()?).into_response()))
}

/// "Page 2 of 5" links for an admin list; `base` ends with `?…&` or `?`.
pub(crate) struct AdminPager {
    pub previous: Option<String>,
    pub next: Option<String>,
    pub summary: String,
}

impl AdminPager {
    pub fn of<T>(list: &Paginated<T>, base: &str) -> Self {
        let page = list.page.get();
        AdminPager {
            previous: list
                .has_previous()
                .then(|| format!("{base}page={}", page - 1)),
            next: list.has_next().then(|| format!("{base}page={}", page + 1)),
            summary: format!(
                "{} item{}, page {page} of {}",
                list.total,
                if list.total == 1 { "" } else { "s" },
                list.total_pages()
            ),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct DashboardPage {
    layout: Layout,
    nav: AdminNav,
    counts: DashboardCounts,
    own_only: bool,
    /// Admins only: subscribers and the mail outbox.
    mail: Option<MailCounts>,
}

struct MailCounts {
    subscribers: SubscriberCounts,
    outbox: OutboxCounts,
}

async fn dashboard(State(state): State<AppState>, viewer: Viewer) -> AdminResult {
    let user = staff(&viewer, "/admin/")?;
    let own_only = !sees_all_posts(&user);
    let counts = state
        .store()
        .dashboard_counts(own_only.then_some(user.id))
        .await?;
    let mail = if may_manage_users(&user) {
        Some(MailCounts {
            subscribers: state.store().subscriber_counts().await?,
            outbox: state.store().outbox_counts().await?,
        })
    } else {
        None
    };
    let (layout, nav) = frame(&state, &viewer, &user, "Dashboard", "/admin/").await?;
    admin_page(&DashboardPage {
        layout,
        nav,
        counts,
        own_only,
        mail,
    })
}
