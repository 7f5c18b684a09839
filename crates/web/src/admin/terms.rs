//! Categories and tags for editors and admins: create, rename, change slug (the old address
//! redirects), nest, merge, delete.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};
use folio_domain::permissions::may_manage_terms;
use folio_domain::text::xml_safe;
use folio_domain::{Slug, Taxonomy, Term, User};
use folio_storage::{StorageError, TermEdit, TermRefusal, TermUsage};
use serde::Deserialize;

use super::{AdminNav, AdminResult, Refusal, frame, staff, staff_action};
use crate::AppState;
use crate::discussion::private;
use crate::error::AppError;
use crate::layout::Layout;
use crate::session::Viewer;
use crate::signin::see_other;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/categories", get(categories).post(create_category))
        .route("/admin/tags", get(tags).post(create_tag))
        .route("/admin/terms/{id}", get(edit_form).post(save))
        .route("/admin/terms/{id}/merge", post(merge))
        .route("/admin/terms/{id}/delete", post(delete))
}

fn list_path(taxonomy: Taxonomy) -> &'static str {
    match taxonomy {
        Taxonomy::Category => "/admin/categories",
        Taxonomy::Tag => "/admin/tags",
    }
}

fn editor(viewer: &Viewer, path: &str) -> Result<User, Refusal> {
    let user = staff(viewer, path)?;
    if may_manage_terms(&user) {
        Ok(user)
    } else {
        Err(AppError::Forbidden.into())
    }
}

async fn editor_action(viewer: &Viewer, csrf: &str) -> Result<User, Refusal> {
    let user = staff_action(viewer, csrf).await?;
    if may_manage_terms(&user) {
        Ok(user)
    } else {
        Err(AppError::Forbidden.into())
    }
}

struct TermRow {
    id: i64,
    /// Indented by depth for categories.
    label: String,
    slug: String,
    path: String,
    posts: u64,
}

/// Categories in tree order (each followed by its children), with their depth.
fn tree_order(all: &[TermUsage]) -> Vec<(usize, &TermUsage)> {
    fn visit<'a>(
        all: &'a [TermUsage],
        parent: Option<i64>,
        depth: usize,
        out: &mut Vec<(usize, &'a TermUsage)>,
    ) {
        for usage in all.iter().filter(|u| u.term.parent_id == parent) {
            if out.iter().any(|(_, seen)| seen.term.id == usage.term.id) || depth > 16 {
                continue;
            }
            out.push((depth, usage));
            visit(all, Some(usage.term.id), depth + 1, out);
        }
    }
    let mut out = Vec::with_capacity(all.len());
    visit(all, None, 0, &mut out);
    // Any whose parent is missing still shows, at the top.
    for usage in all {
        if !out.iter().any(|(_, seen)| seen.term.id == usage.term.id) {
            out.push((0, usage));
        }
    }
    out
}

#[derive(Template)]
#[template(path = "admin/terms.html")]
struct ListPage {
    layout: Layout,
    nav: AdminNav,
    heading: &'static str,
    action: &'static str,
    nests: bool,
    rows: Vec<TermRow>,
    parents: Vec<(i64, String)>,
    error: Option<String>,
}

async fn categories(State(state): State<AppState>, viewer: Viewer) -> AdminResult {
    list(&state, &viewer, Taxonomy::Category, None).await
}

async fn tags(State(state): State<AppState>, viewer: Viewer) -> AdminResult {
    list(&state, &viewer, Taxonomy::Tag, None).await
}

async fn list(
    state: &AppState,
    viewer: &Viewer,
    taxonomy: Taxonomy,
    error: Option<String>,
) -> AdminResult {
    let path = list_path(taxonomy);
    let user = editor(viewer, path)?;
    let all = state.store().terms_with_usage(taxonomy).await?;
    let ordered = match taxonomy {
        Taxonomy::Category => tree_order(&all),
        Taxonomy::Tag => all.iter().map(|u| (0, u)).collect(),
    };
    let rows: Vec<TermRow> = ordered
        .iter()
        .map(|(depth, usage)| TermRow {
            id: usage.term.id,
            label: format!("{}{}", "— ".repeat(*depth), usage.term.name),
            slug: usage.term.slug.to_string(),
            path: usage.term.path(),
            posts: usage.posts,
        })
        .collect();
    let parents = rows.iter().map(|r| (r.id, r.label.clone())).collect();
    let heading = match taxonomy {
        Taxonomy::Category => "Categories",
        Taxonomy::Tag => "Tags",
    };
    let (layout, nav) = frame(state, viewer, &user, heading, path).await?;
    let page = ListPage {
        layout,
        nav,
        heading,
        action: path,
        nests: taxonomy == Taxonomy::Category,
        rows,
        parents,
        error: error.clone(),
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(private((status, Html(page.render()?)).into_response()))
}

#[derive(Debug, Deserialize, Default)]
struct TermForm {
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    slug: String,
    /// A category's id, or empty for the top level.
    #[serde(default)]
    parent: String,
    #[serde(default)]
    description: String,
}

fn edit_of(form: &TermForm, taxonomy: Taxonomy) -> Result<TermEdit, String> {
    let name = xml_safe(&form.name);
    let name = name.trim();
    if name.is_empty() {
        return Err("Give it a name.".to_owned());
    }
    let slug = match form.slug.trim() {
        "" => Slug::from_title(name, taxonomy.as_str()),
        raw => Slug::parse(&raw.to_lowercase()).map_err(|_| {
            "The slug may hold lowercase letters, digits and hyphens only.".to_owned()
        })?,
    };
    let parent_id = match form.parent.trim() {
        "" | "0" => None,
        raw => Some(
            raw.parse::<i64>()
                .map_err(|_| "Choose a parent from the list.".to_owned())?,
        ),
    };
    Ok(TermEdit {
        name: name.to_owned(),
        slug,
        parent_id,
        description: xml_safe(&form.description).trim().to_owned(),
    })
}

fn refusal_text(refusal: &TermRefusal) -> &'static str {
    match refusal {
        TermRefusal::NoSuchTerm => "That category does not exist (any more).",
        TermRefusal::ParentLoop => "A category cannot sit under itself or one of its own children.",
        TermRefusal::BadMerge => "Choose another term of the same kind to merge into.",
    }
}

async fn create_category(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<TermForm>,
) -> AdminResult {
    create(&state, &viewer, Taxonomy::Category, form).await
}

async fn create_tag(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<TermForm>,
) -> AdminResult {
    create(&state, &viewer, Taxonomy::Tag, form).await
}

async fn create(
    state: &AppState,
    viewer: &Viewer,
    taxonomy: Taxonomy,
    form: TermForm,
) -> AdminResult {
    let user = editor_action(viewer, &form._csrf).await?;
    let edit = match edit_of(&form, taxonomy) {
        Ok(edit) => edit,
        Err(message) => return list(state, viewer, taxonomy, Some(message)).await,
    };
    let message = match state.store().create_term(&user, taxonomy, edit).await {
        Ok(Ok(term)) => {
            viewer
                .set_notice(&format!("“{}” was added.", term.name))
                .await?;
            return Ok(see_other(list_path(taxonomy)));
        }
        Ok(Err(refusal)) => refusal_text(&refusal).to_owned(),
        Err(StorageError::DuplicateSlug { slug, .. }) => {
            format!(
                "Another {} already uses the slug “{slug}”.",
                taxonomy.as_str()
            )
        }
        Err(other) => return Err(other.into()),
    };
    list(state, viewer, taxonomy, Some(message)).await
}

#[derive(Template)]
#[template(path = "admin/term.html")]
struct EditPage {
    layout: Layout,
    nav: AdminNav,
    term: Term,
    path: String,
    nests: bool,
    parent: i64,
    /// Where it may move to (categories), or be merged into: id and label.
    others: Vec<(i64, String)>,
    error: Option<String>,
}

async fn edit_page(
    state: &AppState,
    viewer: &Viewer,
    user: &User,
    term: Term,
    error: Option<String>,
) -> AdminResult {
    let path = format!("/admin/terms/{}", term.id);
    let all = state.store().terms_with_usage(term.taxonomy).await?;
    let others = match term.taxonomy {
        Taxonomy::Category => tree_order(&all)
            .into_iter()
            .filter(|(_, u)| u.term.id != term.id)
            .map(|(depth, u)| (u.term.id, format!("{}{}", "— ".repeat(depth), u.term.name)))
            .collect(),
        Taxonomy::Tag => all
            .iter()
            .filter(|u| u.term.id != term.id)
            .map(|u| (u.term.id, u.term.name.clone()))
            .collect(),
    };
    let (layout, nav) = frame(state, viewer, user, &format!("Edit “{}”", term.name), &path).await?;
    let page = EditPage {
        layout,
        nav,
        path: term.path(),
        nests: term.taxonomy == Taxonomy::Category,
        parent: term.parent_id.unwrap_or(0),
        term,
        others,
        error: error.clone(),
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(private((status, Html(page.render()?)).into_response()))
}

async fn existing(state: &AppState, id: i64) -> Result<Term, Refusal> {
    Ok(state.store().term(id).await?.ok_or(AppError::NotFound)?)
}

async fn edit_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> AdminResult {
    let user = editor(&viewer, &format!("/admin/terms/{id}"))?;
    let term = existing(&state, id).await?;
    edit_page(&state, &viewer, &user, term, None).await
}

async fn save(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<TermForm>,
) -> AdminResult {
    let user = editor_action(&viewer, &form._csrf).await?;
    let term = existing(&state, id).await?;
    let edit = match edit_of(&form, term.taxonomy) {
        Ok(edit) => edit,
        Err(message) => return edit_page(&state, &viewer, &user, term, Some(message)).await,
    };
    let message = match state.store().update_term(&user, id, edit).await {
        Ok(Ok(saved)) => {
            viewer
                .set_notice(&format!("“{}” was saved.", saved.name))
                .await?;
            return Ok(see_other(list_path(saved.taxonomy)));
        }
        Ok(Err(refusal)) => refusal_text(&refusal).to_owned(),
        Err(StorageError::DuplicateSlug { slug, .. }) => {
            format!(
                "Another {} already uses the slug “{slug}”.",
                term.taxonomy.as_str()
            )
        }
        Err(other) => return Err(other.into()),
    };
    edit_page(&state, &viewer, &user, term, Some(message)).await
}

#[derive(Debug, Deserialize)]
struct MergeForm {
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    into: String,
}

async fn merge(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<MergeForm>,
) -> AdminResult {
    let user = editor_action(&viewer, &form._csrf).await?;
    let term = existing(&state, id).await?;
    let Ok(into) = form.into.trim().parse::<i64>() else {
        return edit_page(
            &state,
            &viewer,
            &user,
            term,
            Some("Choose where to merge it.".to_owned()),
        )
        .await;
    };
    match state.store().merge_terms(&user, id, into).await? {
        Ok(target) => {
            viewer
                .set_notice(&format!(
                    "“{}” was merged into “{}”.",
                    term.name, target.name
                ))
                .await?;
            Ok(see_other(list_path(term.taxonomy)))
        }
        Err(refusal) => {
            let message = refusal_text(&refusal).to_owned();
            edit_page(&state, &viewer, &user, term, Some(message)).await
        }
    }
}

#[derive(Debug, Deserialize)]
struct CsrfForm {
    #[serde(default)]
    _csrf: String,
}

async fn delete(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> AdminResult {
    let user = editor_action(&viewer, &form._csrf).await?;
    let term = existing(&state, id).await?;
    state.store().delete_term(&user, id).await?;
    viewer
        .set_notice(&format!(
            "“{}” was deleted; its posts keep their other categories and tags.",
            term.name
        ))
        .await?;
    Ok(see_other(list_path(term.taxonomy)))
}
