//! The moderation queue: held, approved, spam and trash, with one-click and bulk actions,
//! editing, replying as the signed-in moderator, and banning a comment's author.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::routing::{get, post};
use folio_domain::permissions::{may_ban, may_moderate_comment, sees_all_posts};
use folio_domain::text::xml_safe;
use folio_domain::{CommentStatus, PageNumber, User};
use folio_storage::QueuedComment;
use serde::Deserialize;

use super::{AdminNav, AdminPager, AdminResult, Refusal, admin_page, frame, staff, staff_action};
use crate::AppState;
use crate::error::AppError;
use crate::layout::Layout;
use crate::session::{Viewer, safe_return_to};
use crate::signin::see_other;
use crate::views::human_date_time;

const PER_PAGE: u32 = 30;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/comments", get(queue))
        .route("/admin/comments/moderate", post(moderate))
        .route("/admin/comments/{id}/edit", get(edit_form).post(edit))
        .route("/admin/comments/{id}/reply", post(reply))
}

/// The queue's tabs. "held" is what the database calls pending.
fn status_of_tab(tab: &str) -> Option<CommentStatus> {
    match tab {
        "" | "held" => Some(CommentStatus::Pending),
        "approved" => Some(CommentStatus::Approved),
        "spam" => Some(CommentStatus::Spam),
        "trash" => Some(CommentStatus::Trash),
        _ => None,
    }
}

#[derive(Debug, Deserialize, Default)]
struct QueueQuery {
    status: Option<String>,
    page: Option<String>,
}

struct QueueRow {
    id: i64,
    post_id: i64,
    post_title: String,
    author: String,
    author_id: Option<i64>,
    html: String,
    date: String,
}

#[derive(Template)]
#[template(path = "admin/comments.html")]
struct QueuePage {
    layout: Layout,
    nav: AdminNav,
    tab: String,
    return_to: String,
    rows: Vec<QueueRow>,
    pager: AdminPager,
    can_ban: bool,
    /// Each comment's buttons: the action sent, and its label.
    /// What can be done from this tab: only the moves that change something.
    actions: &'static [(&'static str, &'static str)],
}

async fn queue(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<QueueQuery>,
) -> AdminResult {
    let user = staff(&viewer, "/admin/comments")?;
    let tab = query.status.unwrap_or_default();
    let status = status_of_tab(&tab).ok_or(AppError::NotFound)?;
    let tab = if tab.is_empty() {
        "held".to_owned()
    } else {
        tab
    };
    let page = match query.page.as_deref().filter(|p| !p.is_empty()) {
        Some(raw) => PageNumber::parse(raw).ok_or(AppError::NotFound)?,
        None => PageNumber::FIRST,
    };
    let list = state
        .store()
        .moderation_queue(
            status,
            (!sees_all_posts(&user)).then_some(user.id),
            page,
            PER_PAGE,
        )
        .await?;
    let pager = AdminPager::of(&list, &format!("/admin/comments?status={tab}&"));
    let rows = list
        .items
        .into_iter()
        .map(|c| QueueRow {
            id: c.id,
            post_id: c.post_id,
            post_title: c.post_title,
            author: c.author_name,
            author_id: c.author_id,
            html: c.html,
            date: human_date_time(state.site().timezone.local(c.created_at)),
        })
        .collect();
    let (layout, nav) = frame(&state, &viewer, &user, "Comments", "/admin/comments").await?;
    admin_page(&QueuePage {
        layout,
        nav,
        return_to: format!("/admin/comments?status={tab}"),
        tab,
        rows,
        pager,
        can_ban: may_ban(&user),
        actions: match status {
            CommentStatus::Pending => {
                &[("approve", "Approve"), ("spam", "Spam"), ("trash", "Trash")]
            }
            CommentStatus::Approved => {
                &[("hold", "Unapprove"), ("spam", "Spam"), ("trash", "Trash")]
            }
            CommentStatus::Spam => &[("restore", "Not spam"), ("trash", "Trash")],
            CommentStatus::Trash => &[("restore", "Restore"), ("spam", "Spam")],
        },
    })
}

/// The comment, when this user may moderate it.
async fn moderatable(state: &AppState, user: &User, id: i64) -> Result<QueuedComment, Refusal> {
    let comment = state
        .store()
        .queued_comment(id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !may_moderate_comment(user, comment.post_author_id) {
        return Err(AppError::Forbidden.into());
    }
    Ok(comment)
}

/// One comment's buttons and the bulk form both send `action`, one or more `id`, and
/// where to go back to.
async fn moderate(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(fields): Form<Vec<(String, String)>>,
) -> AdminResult {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    };
    let user = staff_action(&viewer, field("_csrf")).await?;
    let status = match field("action") {
        "approve" => CommentStatus::Approved,
        "spam" => CommentStatus::Spam,
        "trash" => CommentStatus::Trash,
        // Back from spam or trash: held again, for a moderator to look at.
        "restore" | "hold" => CommentStatus::Pending,
        _ => return Err(AppError::NotFound.into()),
    };
    let mut ids = Vec::new();
    for (_, raw) in fields.iter().filter(|(k, _)| k == "id") {
        let id: i64 = raw.parse().map_err(|_| AppError::NotFound)?;
        // All or nothing: one comment this user may not touch refuses the whole request.
        moderatable(&state, &user, id).await?;
        ids.push(id);
    }
    let plans = approval_plans(&state, &ids, status).await?;
    state
        .store()
        .set_comments_status(&user, &ids, status, |id| {
            plans.get(&id).map(|p| p.rows(id)).unwrap_or_default()
        })
        .await?;
    let done = match ids.len() {
        0 => "No comments were selected.".to_owned(),
        1 => format!("The comment is now {}.", label(status)),
        n => format!("{n} comments are now {}.", label(status)),
    };
    viewer.set_notice(&done).await?;
    let back = safe_return_to(Some(field("return_to")));
    Ok(see_other(if back.starts_with("/admin/") {
        &back
    } else {
        "/admin/comments"
    }))
}

/// The emails each comment's approval would queue, by comment id; none for another status.
/// A comment on a post that is not published tells nobody: its link would lead nowhere.
async fn approval_plans(
    state: &AppState,
    ids: &[i64],
    status: CommentStatus,
) -> Result<HashMap<i64, folio_notification::CommentMailPlan>, AppError> {
    let mut plans = HashMap::new();
    if status != CommentStatus::Approved {
        return Ok(plans);
    }
    for &id in ids {
        let Some(comment) = state.store().comment(id).await? else {
            continue;
        };
        let Some(post) = state.store().published_entry(comment.post_id).await? else {
            continue;
        };
        if let Some(plan) = crate::subscriptions::approval_plan(state, id, &post).await? {
            plans.insert(id, plan);
        }
    }
    Ok(plans)
}

fn label(status: CommentStatus) -> &'static str {
    match status {
        CommentStatus::Pending => "held",
        CommentStatus::Approved => "approved",
        CommentStatus::Spam => "marked as spam",
        CommentStatus::Trash => "in the trash",
    }
}

#[derive(Template)]
#[template(path = "admin/comment_edit.html")]
struct EditPage {
    layout: Layout,
    nav: AdminNav,
    id: i64,
    post_title: String,
    author: String,
    source: String,
}

async fn edit_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> AdminResult {
    let path = format!("/admin/comments/{id}/edit");
    let user = staff(&viewer, &path)?;
    let comment = moderatable(&state, &user, id).await?;
    let (layout, nav) = frame(&state, &viewer, &user, "Edit comment", &path).await?;
    admin_page(&EditPage {
        layout,
        nav,
        id,
        post_title: comment.post_title,
        author: comment.author_name,
        source: comment.source,
    })
}

#[derive(Debug, Deserialize)]
struct TextForm {
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    comment: String,
}

async fn edit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<TextForm>,
) -> AdminResult {
    let user = staff_action(&viewer, &form._csrf).await?;
    moderatable(&state, &user, id).await?;
    let cleaned = xml_safe(&form.comment);
    let text = cleaned.trim();
    if text.is_empty() {
        viewer
            .set_notice("A comment cannot be empty; to remove it, move it to the trash.")
            .await?;
        return Ok(see_other(&format!("/admin/comments/{id}/edit")));
    }
    let text = text.replace("\r\n", "\n");
    let html = match crate::rendering::comment(&text).await? {
        Ok(html) => html,
        Err(refusal) => {
            viewer.set_notice(&refusal.to_string()).await?;
            return Ok(see_other(&format!("/admin/comments/{id}/edit")));
        }
    };
    state
        .store()
        .moderator_edit_comment(&user, id, &text, html)
        .await?;
    viewer.set_notice("The comment was saved.").await?;
    Ok(see_other("/admin/comments"))
}

async fn reply(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<TextForm>,
) -> AdminResult {
    let user = staff_action(&viewer, &form._csrf).await?;
    let parent = moderatable(&state, &user, id).await?;
    let cleaned = xml_safe(&form.comment);
    let text = cleaned.trim();
    if text.is_empty() {
        viewer.set_notice("Your reply was empty.").await?;
        return Ok(see_other("/admin/comments"));
    }
    let text = text.replace("\r\n", "\n");
    let html = match crate::rendering::comment(&text).await? {
        Ok(html) => html,
        Err(refusal) => {
            viewer.set_notice(&refusal.to_string()).await?;
            return Ok(see_other("/admin/comments"));
        }
    };
    // Answering a held comment approves it, as in WordPress: the reply would otherwise
    // answer something readers cannot see.
    if parent.status == CommentStatus::Pending {
        let plans = approval_plans(&state, &[parent.id], CommentStatus::Approved).await?;
        state
            .store()
            .set_comments_status(&user, &[parent.id], CommentStatus::Approved, |id| {
                plans.get(&id).map(|p| p.rows(id)).unwrap_or_default()
            })
            .await?;
    }
    let plan = match state.store().published_entry(parent.post_id).await? {
        Some(post) => Some(
            folio_notification::plan_comment_mail(
                state.store(),
                folio_notification::CommentFacts {
                    post_id: parent.post_id,
                    post_title: &post.summary.title,
                    post_path: &crate::views::url_path(&post.summary.path()),
                    parent_id: Some(parent.id),
                    author_id: Some(user.id),
                    author_name: &user.display_name,
                    source: &text,
                    html: &html,
                    status: CommentStatus::Approved,
                    protected: post.summary.protected,
                },
            )
            .await?,
        ),
        None => None,
    };
    state
        .store()
        .moderator_reply(&user, &parent, &text, html, |id| {
            plan.map(|p| p.rows(id)).unwrap_or_default()
        })
        .await?;
    viewer.set_notice("Your reply is published.").await?;
    Ok(see_other("/admin/comments?status=approved"))
}
