//! Uploaded images: checked by their content (PNG or JPEG, whatever the file claims),
//! decoded and encoded again so that nothing but pixels survives (EXIF, GPS positions,
//! comments), and kept under a name made from a hash of the result. Served with long cache
//! headers, since a name never changes its content.

use std::io::Cursor;
use std::path::PathBuf;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use image::{DynamicImage, ImageFormat, ImageReader, Limits};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::AppError;

/// Width or height beyond this is refused before any pixel is decoded.
const MAX_SIDE: u32 = 12_000;
/// Memory the decoder may take for one image.
const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new().route("/media/{name}", get(serve))
}

/// Why an upload was not kept, in words for the person who sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadRefusal {
    NotAnImage,
    TooLarge,
}

impl UploadRefusal {
    pub fn message(&self) -> &'static str {
        match self {
            UploadRefusal::NotAnImage => {
                "That file is not a PNG or JPEG image (its content was checked, not its name)."
            }
            UploadRefusal::TooLarge => "That image is larger than this site accepts.",
        }
    }
}

/// A stored image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredImage {
    pub name: String,
    pub path: String,
}

/// Re-encodes an upload: only PNG and JPEG, told apart by their first bytes.
pub fn clean_image(bytes: &[u8]) -> Result<(Vec<u8>, &'static str), UploadRefusal> {
    let format = image::guess_format(bytes).map_err(|_| UploadRefusal::NotAnImage)?;
    let extension = match format {
        ImageFormat::Png => "png",
        ImageFormat::Jpeg => "jpg",
        _ => return Err(UploadRefusal::NotAnImage),
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let decoded = reader.decode().map_err(|error| match error {
        image::ImageError::Limits(_) => UploadRefusal::TooLarge,
        _ => UploadRefusal::NotAnImage,
    })?;
    // JPEG has no alpha channel: the encoder takes RGB or grey only.
    let decoded = match (format, decoded) {
        (ImageFormat::Jpeg, DynamicImage::ImageLuma8(grey)) => DynamicImage::ImageLuma8(grey),
        (ImageFormat::Jpeg, other) => DynamicImage::ImageRgb8(other.to_rgb8()),
        (_, other) => other,
    };
    let mut out = Cursor::new(Vec::new());
    decoded
        .write_to(&mut out, format)
        .map_err(|_| UploadRefusal::NotAnImage)?;
    Ok((out.into_inner(), extension))
}

/// The name a cleaned image is kept under: its content's hash.
pub fn content_name(bytes: &[u8], extension: &str) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{hex}.{extension}")
}

/// Only names this module made: 32 hex digits and an extension it writes.
fn valid_name(name: &str) -> Option<&'static str> {
    let (stem, extension) = name.split_once('.')?;
    if stem.len() != 32
        || !stem
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return None;
    }
    match extension {
        "png" => Some("image/png"),
        "jpg" => Some("image/jpeg"),
        _ => None,
    }
}

/// Where images live. A directory today; the same three calls could front object storage.
#[derive(Debug, Clone)]
pub struct DirectoryMedia {
    root: PathBuf,
}

impl DirectoryMedia {
    pub fn new(root: PathBuf) -> Self {
        DirectoryMedia { root }
    }

    /// Keeps a cleaned image; the same content twice is kept once.
    pub async fn put(&self, name: &str, bytes: &[u8]) -> std::io::Result<StoredImage> {
        tokio::fs::create_dir_all(&self.root).await?;
        let target = self.root.join(name);
        if tokio::fs::metadata(&target).await.is_err() {
            // Written aside and renamed, so that a reader never sees half a file.
            let partial = self
                .root
                .join(format!(".{name}.{}", uuid::Uuid::new_v4().simple()));
            tokio::fs::write(&partial, bytes).await?;
            tokio::fs::rename(&partial, &target).await?;
        }
        Ok(StoredImage {
            name: name.to_owned(),
            path: format!("/media/{name}"),
        })
    }

    pub async fn get(&self, name: &str) -> std::io::Result<Option<Vec<u8>>> {
        match tokio::fs::read(self.root.join(name)).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Every image, newest first.
    pub async fn list(&self) -> std::io::Result<Vec<StoredImage>> {
        let mut entries = match tokio::fs::read_dir(&self.root).await {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(error),
        };
        let mut found = Vec::new();
        while let Some(entry) = entries.next_entry().await? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if valid_name(&name).is_none() {
                continue;
            }
            let modified = entry
                .metadata()
                .await
                .and_then(|m| m.modified())
                .unwrap_or(std::time::SystemTime::UNIX_EPOCH);
            found.push((modified, name));
        }
        found.sort_by(|a, b| b.cmp(a));
        Ok(found
            .into_iter()
            .map(|(_, name)| StoredImage {
                path: format!("/media/{name}"),
                name,
            })
            .collect())
    }
}

async fn serve(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    let content_type = valid_name(&name).ok_or(AppError::NotFound)?;
    let bytes = state.media().get(&name).await.map_err(|error| {
        tracing::error!(%error, name, "cannot read an uploaded image");
        AppError::Internal("cannot read an uploaded image")
    })?;
    let bytes = bytes.ok_or(AppError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_hashes_of_the_content() {
        let name = content_name(b"pixels", "png");
        assert_eq!(name.len(), 36);
        assert!(valid_name(&name).is_some());
        assert!(valid_name("../../etc/passwd").is_none());
        assert!(valid_name("0123456789abcdef0123456789abcdef.gif").is_none());
    }

    #[test]
    fn text_claiming_to_be_an_image_is_refused() {
        assert_eq!(
            clean_image(b"GIF89a not really").unwrap_err(),
            UploadRefusal::NotAnImage
        );
        assert_eq!(
            clean_image(b"\x89PNG\r\n\x1a\n broken").unwrap_err(),
            UploadRefusal::NotAnImage
        );
    }
}
