//! Posts and pages in the admin: the lists, the editor (with a live preview for those with
//! JavaScript), revisions, the trash.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use folio_domain::permissions::{may_create, may_edit_post, sees_all_posts};
use folio_domain::revisions::{DiffLine, line_diff};
use folio_domain::schedule::{SiteZone, local_datetime_input, parse_local_datetime};
use folio_domain::text::xml_safe;
use folio_domain::{PageNumber, PostKind, PostStatus, Slug, User};
use folio_storage::{
    AdminPostQuery, AdminPostRow, EditablePost, EditorialStatus, PostEdit, StorageError,
};
use serde::Deserialize;

use super::media::{ImageView, recent_images};
use super::{AdminNav, AdminPager, AdminResult, Refusal, admin_page, frame, staff, staff_action};
use crate::AppState;
use crate::discussion::private;
use crate::error::AppError;
use crate::layout::Layout;
use crate::pages::form_urlencode;
use crate::session::Viewer;
use crate::signin::see_other;
use crate::views::human_date_time;

const PER_PAGE: u32 = 20;
const EDITOR_SCRIPT: &str = include_str!("../../static/admin-editor.js");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/posts", get(list_posts))
        .route("/admin/pages", get(list_pages))
        .route("/admin/posts/new", get(new_post).post(create_post))
        .route("/admin/pages/new", get(new_page).post(create_page))
        .route("/admin/posts/{id}", get(edit).post(save))
        .route("/admin/posts/{id}/trash", post(trash))
        .route("/admin/posts/{id}/restore", post(restore))
        .route("/admin/posts/{id}/revisions", get(revisions))
        .route("/admin/posts/{id}/revisions/{rev}", get(compare))
        .route(
            "/admin/posts/{id}/revisions/{rev}/restore",
            post(restore_revision),
        )
        .route("/admin/preview", post(preview))
        .route("/admin/editor.js", get(editor_script))
}

// ---- lists ----

#[derive(Debug, Deserialize, Default)]
struct ListQuery {
    status: Option<String>,
    q: Option<String>,
    page: Option<String>,
}

struct RowView {
    id: i64,
    title: String,
    status: &'static str,
    author: String,
    date: String,
    path: String,
    public: bool,
    trashed: bool,
}

impl RowView {
    fn new(row: AdminPostRow, zone: &SiteZone) -> Self {
        RowView {
            id: row.id,
            title: if row.title.is_empty() {
                "(no title)".to_owned()
            } else {
                row.title
            },
            status: row.status.as_str(),
            author: row.author_name,
            date: human_date_time(zone.local(row.published_at.unwrap_or(row.updated_at))),
            public: row.status == EditorialStatus::Published,
            trashed: row.status == EditorialStatus::Trash,
            path: crate::views::url_path(&row.path),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/posts.html")]
struct ListPage {
    layout: Layout,
    nav: AdminNav,
    heading: &'static str,
    base: &'static str,
    status: String,
    query: String,
    rows: Vec<RowView>,
    pager: AdminPager,
    can_create: bool,
}

async fn list_posts(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<ListQuery>,
) -> AdminResult {
    list(&state, &viewer, PostKind::Post, query).await
}

async fn list_pages(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<ListQuery>,
) -> AdminResult {
    list(&state, &viewer, PostKind::Page, query).await
}

async fn list(state: &AppState, viewer: &Viewer, kind: PostKind, query: ListQuery) -> AdminResult {
    let base = match kind {
        PostKind::Post => "/admin/posts",
        PostKind::Page => "/admin/pages",
    };
    let user = staff(viewer, base)?;
    // Pages belong to the site: an author has none to list.
    if kind == PostKind::Page && !sees_all_posts(&user) {
        return Err(AppError::Forbidden.into());
    }
    let page = match query.page.as_deref().filter(|p| !p.is_empty()) {
        Some(raw) => PageNumber::parse(raw).ok_or(AppError::NotFound)?,
        None => PageNumber::FIRST,
    };
    let status_raw = query.status.unwrap_or_default();
    let status = EditorialStatus::parse(&status_raw);
    let search = query.q.unwrap_or_default();
    let list = state
        .store()
        .admin_posts(&AdminPostQuery {
            kind,
            status,
            search: search.clone(),
            author: (!sees_all_posts(&user)).then_some(user.id),
            page,
            per_page: PER_PAGE,
        })
        .await?;
    let pager = AdminPager::of(
        &list,
        &format!(
            "{base}?status={}&q={}&",
            form_urlencode(&status_raw),
            form_urlencode(&search)
        ),
    );
    let heading = match kind {
        PostKind::Post => "Posts",
        PostKind::Page => "Pages",
    };
    let (layout, nav) = frame(state, viewer, &user, heading, base).await?;
    admin_page(&ListPage {
        layout,
        nav,
        heading,
        base,
        status: status.map_or("", EditorialStatus::as_str).to_owned(),
        query: search,
        rows: list
            .items
            .into_iter()
            .map(|row| RowView::new(row, &state.site().timezone))
            .collect(),
        pager,
        can_create: may_create(&user, kind),
    })
}

// ---- the editor ----

#[derive(Debug, Deserialize, Default)]
struct EditorForm {
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    excerpt: String,
    /// Comma-separated; `Parent > Child` nests.
    #[serde(default)]
    categories: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    featured_image: String,
    /// A checkbox: present when ticked.
    comments_open: Option<String>,
    /// Empty: readable by all; otherwise the body and comments wait for it.
    #[serde(default)]
    password: String,
    /// Pages: the id of the page above, empty for a top page.
    #[serde(default)]
    parent_id: String,
    /// Posts: "Stick to the top of the blog".
    sticky: Option<String>,
    /// draft | scheduled | published
    #[serde(default)]
    status: String,
    /// `YYYY-MM-DDTHH:MM` in the site's time zone.
    #[serde(default)]
    publish_at: String,
}

#[derive(Template)]
#[template(path = "admin/editor.html")]
struct EditorPage {
    layout: Layout,
    nav: AdminNav,
    heading: String,
    action: String,
    id: Option<i64>,
    form: EditorForm,
    comments_open: bool,
    status_now: &'static str,
    path: Option<String>,
    category_choices: Vec<String>,
    timezone: String,
    error: Option<String>,
    /// Recent uploads for the media picker beside the text.
    media: Vec<ImageView>,
    is_page: bool,
    /// Pages this one may sit under: id and address.
    parent_choices: Vec<(i64, String)>,
}

impl EditorPage {
    fn is_parent(&self, id: &i64) -> bool {
        self.form.parent_id.trim() == id.to_string()
    }
}

fn split_list(raw: &str) -> Vec<String> {
    xml_safe(raw)
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn form_of(post: &EditablePost, zone: &SiteZone) -> EditorForm {
    EditorForm {
        _csrf: String::new(),
        title: post.title.clone(),
        slug: post.slug.clone(),
        source: post.source.clone(),
        excerpt: post.excerpt.clone(),
        categories: post.categories.join(", "),
        tags: post.tags.join(", "),
        featured_image: post.featured_image.clone().unwrap_or_default(),
        comments_open: post.comments_open.then(|| "1".to_owned()),
        password: post.password.clone(),
        parent_id: post.parent_id.map(|id| id.to_string()).unwrap_or_default(),
        sticky: post.sticky.then(|| "1".to_owned()),
        status: match post.status {
            EditorialStatus::Trash => "draft",
            other => other.as_str(),
        }
        .to_owned(),
        publish_at: post
            .published_at
            .map(|at| local_datetime_input(at, zone))
            .unwrap_or_default(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn editor_page(
    state: &AppState,
    viewer: &Viewer,
    user: &User,
    kind: PostKind,
    existing: Option<&EditablePost>,
    form: EditorForm,
    error: Option<String>,
) -> AdminResult {
    let (heading, action) = match (existing, kind) {
        (Some(post), _) => (
            format!("Edit “{}”", post.title),
            format!("/admin/posts/{}", post.id),
        ),
        (None, PostKind::Post) => ("New post".to_owned(), "/admin/posts/new".to_owned()),
        (None, PostKind::Page) => ("New page".to_owned(), "/admin/pages/new".to_owned()),
    };
    let (layout, nav) = frame(state, viewer, user, &heading, &action).await?;
    let page = EditorPage {
        layout,
        nav,
        heading,
        action,
        id: existing.map(|p| p.id),
        comments_open: form.comments_open.is_some(),
        form,
        status_now: existing.map_or("new", |p| p.status.as_str()),
        path: existing
            .filter(|p| p.status == EditorialStatus::Published)
            .map(|p| crate::views::url_path(&p.path)),
        category_choices: state.store().category_paths().await?,
        timezone: state.site().timezone.label(),
        error: error.clone(),
        media: recent_images(state).await?,
        is_page: kind == PostKind::Page,
        parent_choices: match kind {
            PostKind::Page => {
                state
                    .store()
                    .parent_page_choices(existing.map(|p| p.id))
                    .await?
            }
            PostKind::Post => Vec::new(),
        },
    };
    let html = page.render()?;
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(private((status, Html(html)).into_response()))
}

async fn new_post(State(state): State<AppState>, viewer: Viewer) -> AdminResult {
    new_form(&state, &viewer, PostKind::Post).await
}

async fn new_page(State(state): State<AppState>, viewer: Viewer) -> AdminResult {
    new_form(&state, &viewer, PostKind::Page).await
}

async fn new_form(state: &AppState, viewer: &Viewer, kind: PostKind) -> AdminResult {
    let user = staff(viewer, "/admin/posts/new")?;
    if !may_create(&user, kind) {
        return Err(AppError::Forbidden.into());
    }
    let form = EditorForm {
        comments_open: Some("1".to_owned()),
        status: "draft".to_owned(),
        ..EditorForm::default()
    };
    editor_page(state, viewer, &user, kind, None, form, None).await
}

async fn create_post(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<EditorForm>,
) -> AdminResult {
    create(&state, &viewer, PostKind::Post, form).await
}

async fn create_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<EditorForm>,
) -> AdminResult {
    create(&state, &viewer, PostKind::Page, form).await
}

async fn create(
    state: &AppState,
    viewer: &Viewer,
    kind: PostKind,
    form: EditorForm,
) -> AdminResult {
    let user = staff_action(viewer, &form._csrf).await?;
    if !may_create(&user, kind) {
        return Err(AppError::Forbidden.into());
    }
    store_edit(state, viewer, &user, kind, None, form).await
}

/// The post behind `/admin/posts/{id}`, when this user may edit it.
async fn editable(state: &AppState, user: &User, id: i64) -> Result<EditablePost, Refusal> {
    let post = state
        .store()
        .editable_post(id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !may_edit_post(user, post.kind, post.author_id) {
        return Err(AppError::Forbidden.into());
    }
    Ok(post)
}

async fn edit(State(state): State<AppState>, viewer: Viewer, Path(id): Path<i64>) -> AdminResult {
    let user = staff(&viewer, &format!("/admin/posts/{id}"))?;
    let post = editable(&state, &user, id).await?;
    let form = form_of(&post, &state.site().timezone);
    editor_page(&state, &viewer, &user, post.kind, Some(&post), form, None).await
}

async fn save(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<EditorForm>,
) -> AdminResult {
    let user = staff_action(&viewer, &form._csrf).await?;
    let post = editable(&state, &user, id).await?;
    store_edit(&state, &viewer, &user, post.kind, Some(&post), form).await
}

/// Reads the form into an edit, or says in words what is wrong with it.
fn edit_of(form: &EditorForm, zone: &SiteZone) -> Result<PostEdit, String> {
    let title = xml_safe(&form.title);
    let title = title.trim();
    if title.is_empty() {
        return Err("Give it a title.".to_owned());
    }
    let slug = match form.slug.trim() {
        "" => None,
        raw => Some(Slug::parse(&raw.to_lowercase()).map_err(|_| {
            "The slug may hold lowercase letters, digits and hyphens only.".to_owned()
        })?),
    };
    let featured = form.featured_image.trim();
    if !featured.is_empty() && !is_image_address(featured) {
        return Err(
            "The featured image must be an http(s):// address or a path on this site.".to_owned(),
        );
    }
    let when = match form.publish_at.trim() {
        "" => None,
        raw => Some(parse_local_datetime(raw, zone).ok_or_else(|| {
            "The date and time could not be read; use the form YYYY-MM-DDTHH:MM.".to_owned()
        })?),
    };
    let (status, published_at) = match form.status.as_str() {
        "draft" | "" => (PostStatus::Draft, None),
        "published" => (PostStatus::Published, when),
        "scheduled" => match when {
            Some(at) => (PostStatus::Published, Some(at)),
            None => return Err("Choose the date and time to publish it.".to_owned()),
        },
        _ => return Err("Choose draft, scheduled or published.".to_owned()),
    };
    let parent_id = match form.parent_id.trim() {
        "" | "0" => None,
        raw => Some(
            raw.parse::<i64>()
                .map_err(|_| "Choose the parent page from the list.".to_owned())?,
        ),
    };
    Ok(PostEdit {
        title: title.to_owned(),
        slug,
        source: xml_safe(&form.source).replace("\r\n", "\n"),
        excerpt: xml_safe(&form.excerpt).trim().to_owned(),
        categories: split_list(&form.categories),
        tags: split_list(&form.tags),
        featured_image: (!featured.is_empty()).then(|| featured.to_owned()),
        comments_open: form.comments_open.is_some(),
        status,
        published_at,
        password: form.password.clone(),
        parent_id,
        sticky: form.sticky.is_some(),
    })
}

async fn store_edit(
    state: &AppState,
    viewer: &Viewer,
    user: &User,
    kind: PostKind,
    existing: Option<&EditablePost>,
    form: EditorForm,
) -> AdminResult {
    let edit = match edit_of(&form, &state.site().timezone) {
        Ok(edit) => edit,
        Err(message) => {
            return editor_page(state, viewer, user, kind, existing, form, Some(message)).await;
        }
    };
    let rendered = match crate::rendering::post(&edit.source).await? {
        Ok(rendered) => rendered,
        Err(refusal) => {
            return editor_page(
                state,
                viewer,
                user,
                kind,
                existing,
                form,
                Some(refusal.to_string()),
            )
            .await;
        }
    };
    let saved = state
        .store()
        .save_rendered_post(user, existing.map(|p| p.id), kind, edit, rendered)
        .await;
    let id = match saved {
        Ok(Some(id)) => id,
        Ok(None) => return Err(AppError::NotFound.into()),
        Err(StorageError::DuplicateSlug { kind, slug }) => {
            let message = format!("Another {kind} already uses the slug “{slug}”: choose another.");
            return editor_page(
                state,
                viewer,
                user,
                kind_of(kind),
                existing,
                form,
                Some(message),
            )
            .await;
        }
        Err(StorageError::InvalidParent(why)) => {
            let message = format!("Cannot use that parent page: {why}.");
            return editor_page(state, viewer, user, kind, existing, form, Some(message)).await;
        }
        Err(other) => return Err(other.into()),
    };
    viewer.set_notice("Saved.").await?;
    Ok(see_other(&format!("/admin/posts/{id}")))
}

/// An absolute http(s) address, or a path on this site (not `//host`).
fn is_image_address(raw: &str) -> bool {
    raw.starts_with("https://")
        || raw.starts_with("http://")
        || (raw.starts_with('/') && !raw.starts_with("//"))
}

fn kind_of(raw: &str) -> PostKind {
    PostKind::parse(raw).unwrap_or(PostKind::Post)
}

// ---- trash ----

#[derive(Debug, Deserialize)]
struct CsrfForm {
    #[serde(default)]
    _csrf: String,
}

async fn trash(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> AdminResult {
    set_trashed(&state, &viewer, id, &form._csrf, true).await
}

async fn restore(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> AdminResult {
    set_trashed(&state, &viewer, id, &form._csrf, false).await
}

async fn set_trashed(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
    csrf: &str,
    trashed: bool,
) -> AdminResult {
    let user = staff_action(viewer, csrf).await?;
    let post = editable(state, &user, id).await?;
    state.store().set_post_trashed(&user, id, trashed).await?;
    let list = match post.kind {
        PostKind::Post => "/admin/posts",
        PostKind::Page => "/admin/pages",
    };
    if trashed {
        viewer.set_notice("Moved to the trash.").await?;
        Ok(see_other(&format!("{list}?status=trash")))
    } else {
        viewer.set_notice("Restored from the trash.").await?;
        Ok(see_other(&format!("/admin/posts/{id}")))
    }
}

// ---- revisions ----

struct RevisionView {
    id: i64,
    saved_by: String,
    at: String,
    title: String,
}

#[derive(Template)]
#[template(path = "admin/revisions.html")]
struct RevisionsPage {
    layout: Layout,
    nav: AdminNav,
    id: i64,
    title: String,
    revisions: Vec<RevisionView>,
}

async fn revisions(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> AdminResult {
    let path = format!("/admin/posts/{id}/revisions");
    let user = staff(&viewer, &path)?;
    let post = editable(&state, &user, id).await?;
    let revisions = state
        .store()
        .revisions(id)
        .await?
        .into_iter()
        .map(|r| RevisionView {
            id: r.id,
            saved_by: r.saved_by,
            at: human_date_time(r.at),
            title: r.title,
        })
        .collect();
    let (layout, nav) = frame(&state, &viewer, &user, "Revisions", &path).await?;
    admin_page(&RevisionsPage {
        layout,
        nav,
        id,
        title: post.title,
        revisions,
    })
}

struct DiffView {
    mark: &'static str,
    class: &'static str,
    text: String,
}

#[derive(Template)]
#[template(path = "admin/revision.html")]
struct ComparePage {
    layout: Layout,
    nav: AdminNav,
    id: i64,
    revision_id: i64,
    saved_by: String,
    at: String,
    title_then: String,
    title_now: String,
    lines: Vec<DiffView>,
}

async fn compare(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, rev)): Path<(i64, i64)>,
) -> AdminResult {
    let path = format!("/admin/posts/{id}/revisions/{rev}");
    let user = staff(&viewer, &path)?;
    let post = editable(&state, &user, id).await?;
    let revision = state
        .store()
        .revision(id, rev)
        .await?
        .ok_or(AppError::NotFound)?;
    let lines = line_diff(&revision.source, &post.source)
        .into_iter()
        .map(|line| match line {
            DiffLine::Same(text) => DiffView {
                mark: " ",
                class: "diff-same",
                text,
            },
            DiffLine::Removed(text) => DiffView {
                mark: "-",
                class: "diff-removed",
                text,
            },
            DiffLine::Added(text) => DiffView {
                mark: "+",
                class: "diff-added",
                text,
            },
        })
        .collect();
    let (layout, nav) = frame(&state, &viewer, &user, "Compare revision", &path).await?;
    admin_page(&ComparePage {
        layout,
        nav,
        id,
        revision_id: revision.id,
        saved_by: revision.saved_by,
        at: human_date_time(revision.at),
        title_then: revision.title,
        title_now: post.title,
        lines,
    })
}

async fn restore_revision(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, rev)): Path<(i64, i64)>,
    Form(form): Form<CsrfForm>,
) -> AdminResult {
    let user = staff_action(&viewer, &form._csrf).await?;
    let post = editable(&state, &user, id).await?;
    let revision = state
        .store()
        .revision(id, rev)
        .await?
        .ok_or(AppError::NotFound)?;
    // The text comes back; where and when the post is published stays as it is now.
    let mut form = form_of(&post, &state.site().timezone);
    form.title = revision.title;
    form.source = revision.source;
    form.excerpt = revision.excerpt;
    let edit = edit_of(&form, &state.site().timezone).map_err(|_| AppError::NotFound)?;
    let rendered = match crate::rendering::post(&edit.source).await? {
        Ok(rendered) => rendered,
        Err(refusal) => {
            viewer.set_notice(&refusal.to_string()).await?;
            return Ok(see_other(&format!("/admin/posts/{id}/revisions")));
        }
    };
    state
        .store()
        .save_rendered_post(&user, Some(id), post.kind, edit, rendered)
        .await?;
    viewer.set_notice("The revision was restored.").await?;
    Ok(see_other(&format!("/admin/posts/{id}")))
}

// ---- live preview ----

#[derive(Debug, Deserialize)]
struct PreviewForm {
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    source: String,
}

/// The Markdown rendered as the post will show it: for the editor's script. A text too long
/// or too complex to render answers 422 with the reason, which the script shows instead.
async fn preview(viewer: Viewer, Form(form): Form<PreviewForm>) -> AdminResult {
    staff_action(&viewer, &form._csrf).await?;
    let source = form.source.replace("\r\n", "\n");
    let response = match crate::rendering::post(&source).await? {
        Ok(rendered) => Html(rendered.html).into_response(),
        Err(refusal) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            // The refusal's words are Folio's own: letters, digits and punctuation, no markup.
            Html(format!("<p class=\"preview-refused\">{refusal}</p>")),
        )
            .into_response(),
    };
    Ok(private(response))
}

async fn editor_script() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        EDITOR_SCRIPT,
    )
        .into_response()
}
