//! The settings screen: title, tagline, posts per page and the comment policy, saved in the
//! database over the configuration file's values. Admins only.

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};
use folio_domain::ModerationPolicy;
use folio_domain::User;
use folio_domain::permissions::may_manage_users;
use serde::Deserialize;

use super::{AdminNav, AdminResult, Refusal, frame, staff, staff_action};
use crate::AppState;
use crate::discussion::private;
use crate::error::AppError;
use crate::layout::Layout;
use crate::session::Viewer;
use crate::settings::{
    CLOSE_AFTER_DAYS, EDIT_WINDOW_MINUTES, FOLLOW_UP_CHECKED, MAX_DEPTH, MODERATION,
    POSTS_PER_PAGE, TAGLINE, TITLE, valid_close_after, valid_edit_window, valid_max_depth,
    valid_posts_per_page, valid_tagline, valid_title,
};
use crate::signin::see_other;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/settings", get(show).post(save))
        .route("/admin/settings/reset", post(reset))
}

fn moderation_name(policy: ModerationPolicy) -> &'static str {
    match policy {
        ModerationPolicy::Off => "off",
        ModerationPolicy::FirstTime => "first_time",
        ModerationPolicy::Always => "always",
    }
}

#[derive(Debug, Deserialize, Default)]
struct SettingsForm {
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    tagline: String,
    #[serde(default)]
    posts_per_page: String,
    #[serde(default)]
    moderation: String,
    #[serde(default)]
    max_depth: String,
    #[serde(default)]
    edit_window_minutes: String,
    #[serde(default)]
    close_after_days: String,
    /// A checkbox: present (any value but "false") when ticked.
    #[serde(default)]
    follow_up_checked: String,
}

impl SettingsForm {
    fn follow_up_ticked(&self) -> bool {
        !self.follow_up_checked.is_empty() && self.follow_up_checked != "false"
    }
}

#[derive(Template)]
#[template(path = "admin/settings.html")]
struct SettingsPage {
    layout: Layout,
    nav: AdminNav,
    form: SettingsForm,
    /// The configuration file's values, shown as the defaults.
    defaults: SettingsForm,
    overridden: Vec<String>,
    moderation_choices: [(&'static str, &'static str); 3],
    error: Option<String>,
}

fn settings_admin(viewer: &Viewer) -> Result<User, Refusal> {
    let user = staff(viewer, "/admin/settings")?;
    if may_manage_users(&user) {
        Ok(user)
    } else {
        Err(AppError::Forbidden.into())
    }
}

fn form_of(site: &crate::SiteSettings, comments: &crate::CommentSettings) -> SettingsForm {
    SettingsForm {
        _csrf: String::new(),
        title: site.title.clone(),
        tagline: site.tagline.clone(),
        posts_per_page: site.posts_per_page.to_string(),
        moderation: moderation_name(comments.moderation).to_owned(),
        max_depth: site.comment_max_depth.to_string(),
        edit_window_minutes: (comments.edit_window.as_secs() / 60).to_string(),
        close_after_days: comments.close_after_days.to_string(),
        follow_up_checked: comments.follow_up_checked.to_string(),
    }
}

async fn page(
    state: &AppState,
    viewer: &Viewer,
    user: &User,
    form: SettingsForm,
    error: Option<String>,
) -> AdminResult {
    let overridden = state.store().stored_settings().await?.into_keys().collect();
    let (layout, nav) = frame(state, viewer, user, "Settings", "/admin/settings").await?;
    let page = SettingsPage {
        layout,
        nav,
        form,
        defaults: form_of(state.configured_site(), state.configured_comments()),
        overridden,
        moderation_choices: [
            ("off", "Approve every comment at once"),
            (
                "first_time",
                "Hold a person's comments until one is approved",
            ),
            ("always", "Hold every comment"),
        ],
        error: error.clone(),
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(private((status, Html(page.render()?)).into_response()))
}

async fn show(State(state): State<AppState>, viewer: Viewer) -> AdminResult {
    let user = settings_admin(&viewer)?;
    let form = form_of(&state.site(), &state.comments());
    page(&state, &viewer, &user, form, None).await
}

/// The values to keep: those that differ from the configuration file's.
fn values_of(
    form: &SettingsForm,
    defaults: &SettingsForm,
) -> Result<BTreeMap<String, String>, &'static str> {
    let title = valid_title(&form.title).ok_or("Give the site a title (up to 200 characters).")?;
    let posts_per_page = valid_posts_per_page(&form.posts_per_page)
        .ok_or("Posts per page must be a number from 1 to 100.")?;
    let moderation = ModerationPolicy::parse(&form.moderation)
        .map(moderation_name)
        .ok_or("Choose how comments are moderated.")?;
    let max_depth =
        valid_max_depth(&form.max_depth).ok_or("Reply nesting must be a number from 1 to 10.")?;
    let edit_window = valid_edit_window(&form.edit_window_minutes)
        .ok_or("The edit window must be a number of minutes, at most 1440.")?;
    let close_after = valid_close_after(&form.close_after_days)
        .ok_or("Closing after N days needs a number of days (0: never).")?;
    let candidates = [
        (TITLE, title, &defaults.title),
        (TAGLINE, valid_tagline(&form.tagline), &defaults.tagline),
        (
            POSTS_PER_PAGE,
            posts_per_page.to_string(),
            &defaults.posts_per_page,
        ),
        (MODERATION, moderation.to_owned(), &defaults.moderation),
        (MAX_DEPTH, max_depth.to_string(), &defaults.max_depth),
        (
            EDIT_WINDOW_MINUTES,
            edit_window.to_string(),
            &defaults.edit_window_minutes,
        ),
        (
            CLOSE_AFTER_DAYS,
            close_after.to_string(),
            &defaults.close_after_days,
        ),
        (
            FOLLOW_UP_CHECKED,
            form.follow_up_ticked().to_string(),
            &defaults.follow_up_checked,
        ),
    ];
    Ok(candidates
        .into_iter()
        .filter(|(_, value, default)| value != *default)
        .map(|(key, value, _)| (key.to_owned(), value))
        .collect())
}

async fn save(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<SettingsForm>,
) -> AdminResult {
    let user = staff_action(&viewer, &form._csrf).await?;
    if !may_manage_users(&user) {
        return Err(AppError::Forbidden.into());
    }
    let defaults = form_of(state.configured_site(), state.configured_comments());
    let values = match values_of(&form, &defaults) {
        Ok(values) => values,
        Err(message) => return page(&state, &viewer, &user, form, Some(message.to_owned())).await,
    };
    state.store().save_settings(&user, &values).await?;
    // This process at once; the others when they see the content version move.
    state.reload_settings().await?;
    viewer.set_notice("The settings were saved.").await?;
    Ok(see_other("/admin/settings"))
}

#[derive(Debug, Deserialize)]
struct CsrfForm {
    #[serde(default)]
    _csrf: String,
}

async fn reset(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<CsrfForm>,
) -> AdminResult {
    let user = staff_action(&viewer, &form._csrf).await?;
    if !may_manage_users(&user) {
        return Err(AppError::Forbidden.into());
    }
    state.store().save_settings(&user, &BTreeMap::new()).await?;
    state.reload_settings().await?;
    viewer
        .set_notice("The settings are the configuration file's again.")
        .await?;
    Ok(see_other("/admin/settings"))
}
