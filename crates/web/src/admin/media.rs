//! The media library: upload an image (authors and up), see them all with their narrower
//! copies, copy the Markdown that puts one in a post or the address for a featured image.
//! Also the post editor's media picker: its list of recent uploads and its script.

use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use folio_domain::User;

use super::{AdminNav, AdminResult, frame, staff};
use crate::AppState;
use crate::discussion::private;
use crate::error::AppError;
use crate::layout::Layout;
use crate::media::{StoredImage, UploadRefusal, clean_upload_within};
use crate::session::Viewer;
use crate::signin::see_other;

/// Room for the form's other fields and the multipart framing around the file.
const FORM_OVERHEAD: u64 = 64 * 1024;
/// How many uploads the post editor's picker offers, newest first.
const PICKER_SIZE: usize = 12;
const PICKER_SCRIPT: &str = include_str!("../../static/admin-media-picker.js");

pub fn router(max_upload_bytes: u64) -> Router<AppState> {
    let limit =
        usize::try_from(max_upload_bytes.saturating_add(FORM_OVERHEAD)).unwrap_or(usize::MAX);
    Router::new()
        .route(
            "/admin/media",
            get(library)
                .post(upload)
                .layer(DefaultBodyLimit::max(limit)),
        )
        .route("/admin/media-picker.js", get(picker_script))
}

/// One image as the library and the editor's picker show it.
pub(super) struct ImageView {
    pub path: String,
    pub name: String,
    /// The copy to show in a post (the large one when the image is wide).
    pub page_path: String,
    /// `(width, address)` of each narrower copy, widest first.
    pub variants: Vec<(u32, String)>,
    pub markdown: String,
}

impl ImageView {
    fn new(image: StoredImage) -> Self {
        ImageView {
            page_path: image.page_path().to_owned(),
            markdown: image.markdown(),
            variants: image
                .variants
                .iter()
                .map(|v| (v.width, v.path.clone()))
                .collect(),
            path: image.path,
            name: image.name,
        }
    }
}

async fn stored_images(state: &AppState) -> Result<Vec<StoredImage>, AppError> {
    state.media().list().await.map_err(|error| {
        tracing::error!(%error, "cannot list the media directory");
        AppError::Internal("cannot list the media directory")
    })
}

/// The newest uploads, for the post editor's picker.
pub(super) async fn recent_images(state: &AppState) -> Result<Vec<ImageView>, AppError> {
    Ok(stored_images(state)
        .await?
        .into_iter()
        .take(PICKER_SIZE)
        .map(ImageView::new)
        .collect())
}

async fn picker_script() -> Response {
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
        PICKER_SCRIPT,
    )
        .into_response()
}

#[derive(Template)]
#[template(path = "admin/media.html")]
struct LibraryPage {
    layout: Layout,
    nav: AdminNav,
    images: Vec<ImageView>,
    max_megabytes: u64,
    error: Option<String>,
}

async fn page(
    state: &AppState,
    viewer: &Viewer,
    user: &User,
    status: StatusCode,
    error: Option<String>,
) -> AdminResult {
    let images = stored_images(state)
        .await?
        .into_iter()
        .map(ImageView::new)
        .collect();
    let (layout, nav) = frame(state, viewer, user, "Media", "/admin/media").await?;
    let page = LibraryPage {
        layout,
        nav,
        images,
        max_megabytes: state.max_upload_bytes() / (1024 * 1024),
        error,
    };
    Ok(private((status, Html(page.render()?)).into_response()))
}

async fn library(State(state): State<AppState>, viewer: Viewer) -> AdminResult {
    let user = staff(&viewer, "/admin/media")?;
    page(&state, &viewer, &user, StatusCode::OK, None).await
}

async fn upload(State(state): State<AppState>, viewer: Viewer, mut form: Multipart) -> AdminResult {
    // The role before reading a byte of the body; the token once the form is read.
    let user = match &viewer.user {
        Some(user) if folio_domain::permissions::may_enter_admin(user) => user.clone(),
        _ => return Err(AppError::Forbidden.into()),
    };
    let mut csrf = String::new();
    let mut file = None;
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(error) => return Ok(upload_failed(error)),
        };
        match field.name() {
            Some("_csrf") => match field.text().await {
                Ok(text) => csrf = text,
                Err(error) => return Ok(upload_failed(error)),
            },
            Some("file") => match field.bytes().await {
                Ok(bytes) => file = Some(bytes),
                Err(error) => return Ok(upload_failed(error)),
            },
            _ => {}
        }
    }
    viewer.check_csrf(&csrf).await?;
    let Some(bytes) = file.filter(|b| !b.is_empty()) else {
        let message = "Choose an image to upload.".to_owned();
        return page(
            &state,
            &viewer,
            &user,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(message),
        )
        .await;
    };
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > state.max_upload_bytes() {
        let message = UploadRefusal::TooLarge.message();
        return page(
            &state,
            &viewer,
            &user,
            StatusCode::PAYLOAD_TOO_LARGE,
            Some(message),
        )
        .await;
    }
    // Decoding and resizing are CPU work: off the request threads.
    let max_pixels = state.max_image_pixels();
    let cleaned = tokio::task::spawn_blocking(move || clean_upload_within(&bytes, max_pixels))
        .await
        .map_err(|_| AppError::Internal("the image decoder stopped"))?;
    let cleaned = match cleaned {
        Ok(cleaned) => cleaned,
        Err(refusal) => {
            let status = match refusal {
                UploadRefusal::NotAnImage => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                UploadRefusal::TooLarge | UploadRefusal::TooManyPixels { .. } => {
                    StatusCode::PAYLOAD_TOO_LARGE
                }
            };
            return page(&state, &viewer, &user, status, Some(refusal.message())).await;
        }
    };
    let stored = state.media().put_upload(&cleaned).await.map_err(|error| {
        tracing::error!(%error, "cannot write an uploaded image");
        AppError::Internal("cannot write an uploaded image")
    })?;
    state
        .store()
        .record_admin_action(&user, "media.upload", &stored.path, "")
        .await?;
    viewer
        .set_notice(&format!("Uploaded: {}", stored.path))
        .await?;
    Ok(see_other("/admin/media"))
}

/// A body cut off at the size limit, or not a multipart form: its status (413, 400) with a
/// plain message, which the error-page layer turns into a page.
fn upload_failed(error: axum::extract::multipart::MultipartError) -> axum::response::Response {
    let status = error.status();
    tracing::info!(%error, %status, "upload refused");
    (status, error.body_text()).into_response()
}
