//! Uploaded images: checked by their content (PNG or JPEG, whatever the file claims),
//! decoded and encoded again so that nothing but pixels survives (EXIF, GPS positions,
//! comments), and kept under a name made from a hash of the result. Served with long cache
//! headers, since a name never changes its content.
//!
//! An image wider than the page also gets narrower copies made at upload, kept under the
//! original's name with the width appended (`<hash>-1200.png`): a "large" one for the page and
//! a small one for feeds. The original is kept as it came (cleaned), for a link to full size.

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
/// Pixels an image may have when the configuration does not say (`media.max_image_pixels`):
/// 50 megapixels, more than most cameras and phones take.
pub const DEFAULT_MAX_IMAGE_PIXELS: u64 = 50_000_000;
/// The narrower copies made of a wide image, widest first: for the page (the text column is
/// 42rem, so this is about twice that for dense screens) and for feeds.
pub const VARIANT_WIDTHS: [u32; 2] = [LARGE_WIDTH, FEED_WIDTH];
pub const LARGE_WIDTH: u32 = 1200;
pub const FEED_WIDTH: u32 = 600;

pub fn router() -> Router<AppState> {
    Router::new().route("/media/{name}", get(serve))
}

/// Why an upload was not kept, in words for the person who sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadRefusal {
    NotAnImage,
    TooLarge,
    /// The header declares more pixels than allowed (a small file can unpack to gigabytes).
    TooManyPixels {
        width: u32,
        height: u32,
        max_pixels: u64,
    },
}

impl UploadRefusal {
    pub fn message(&self) -> String {
        match self {
            UploadRefusal::NotAnImage => {
                "That file is not a PNG or JPEG image (its content was checked, not its name)."
                    .to_owned()
            }
            UploadRefusal::TooLarge => "That image is larger than this site accepts.".to_owned(),
            UploadRefusal::TooManyPixels {
                width,
                height,
                max_pixels,
            } => format!(
                "That image is {width} × {height} pixels, more than the {:.1} megapixels this site accepts (setting media.max_image_pixels). Nothing was stored; scale it down and upload it again.",
                // Megapixels with one decimal; exactness does not matter in a message.
                *max_pixels as f64 / 1_000_000.0
            ),
        }
    }
}

/// A stored image, with the narrower copies kept beside it (widest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredImage {
    pub name: String,
    pub path: String,
    pub variants: Vec<StoredVariant>,
}

/// A narrower copy of a stored image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVariant {
    pub width: u32,
    pub path: String,
}

impl StoredImage {
    /// The copy for the page: the large variant if there is one, else the original.
    pub fn page_path(&self) -> &str {
        self.variant(LARGE_WIDTH).unwrap_or(&self.path)
    }

    pub fn variant(&self, width: u32) -> Option<&str> {
        self.variants
            .iter()
            .find(|v| v.width == width)
            .map(|v| v.path.as_str())
    }

    /// The Markdown that puts this image in a post: the page-sized copy, linking the
    /// original when they differ.
    pub fn markdown(&self) -> String {
        let page = self.page_path();
        if page == self.path {
            format!("![]({page})")
        } else {
            format!("[![]({page})]({})", self.path)
        }
    }
}

/// A cleaned upload and the narrower copies made of it, ready to store.
#[derive(Debug)]
pub struct CleanUpload {
    pub bytes: Vec<u8>,
    pub extension: &'static str,
    /// `(width, encoded bytes)`, widest first; empty for an image no wider than the feed's.
    pub variants: Vec<(u32, Vec<u8>)>,
}

/// Re-encodes an upload (only PNG and JPEG, told apart by their first bytes) and makes its
/// narrower copies (see [`VARIANT_WIDTHS`]).
pub fn clean_upload(bytes: &[u8]) -> Result<CleanUpload, UploadRefusal> {
    clean_upload_within(bytes, DEFAULT_MAX_IMAGE_PIXELS)
}

/// [`clean_upload`] refusing, before decoding, an image whose header declares more than
/// `max_pixels` pixels.
pub fn clean_upload_within(bytes: &[u8], max_pixels: u64) -> Result<CleanUpload, UploadRefusal> {
    let (decoded, format, extension) = decode(bytes, max_pixels)?;
    let clean = encode(&decoded, format)?;
    let mut variants = Vec::new();
    for width in VARIANT_WIDTHS {
        if decoded.width() <= width {
            continue;
        }
        let height = scaled_height(decoded.width(), decoded.height(), width);
        let smaller = decoded.resize_exact(width, height, image::imageops::FilterType::Triangle);
        variants.push((width, encode(&smaller, format)?));
    }
    Ok(CleanUpload {
        bytes: clean,
        extension,
        variants,
    })
}

/// The height that keeps the aspect ratio at `width`, at least one pixel.
fn scaled_height(original_width: u32, original_height: u32, width: u32) -> u32 {
    let scaled = (u64::from(original_height) * u64::from(width) + u64::from(original_width) / 2)
        / u64::from(original_width.max(1));
    u32::try_from(scaled).unwrap_or(u32::MAX).max(1)
}

fn decode(
    bytes: &[u8],
    max_pixels: u64,
) -> Result<(DynamicImage, ImageFormat, &'static str), UploadRefusal> {
    let format = image::guess_format(bytes).map_err(|_| UploadRefusal::NotAnImage)?;
    let extension = match format {
        ImageFormat::Png => "png",
        ImageFormat::Jpeg => "jpg",
        _ => return Err(UploadRefusal::NotAnImage),
    };
    let limits = || {
        let mut limits = Limits::default();
        limits.max_image_width = Some(MAX_SIDE);
        limits.max_image_height = Some(MAX_SIDE);
        // Eight bytes a pixel covers 16-bit RGBA, the widest PNG this decodes.
        limits.max_alloc = Some(MAX_DECODE_BYTES.min(max_pixels.saturating_mul(8)));
        limits
    };
    // The header alone first: a few hundred kilobytes can declare 11000 × 11000 pixels.
    let mut header = ImageReader::with_format(Cursor::new(bytes), format);
    header.limits(limits());
    let (width, height) = header.into_dimensions().map_err(|error| match error {
        image::ImageError::Limits(_) => UploadRefusal::TooLarge,
        _ => UploadRefusal::NotAnImage,
    })?;
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(UploadRefusal::TooManyPixels {
            width,
            height,
            max_pixels,
        });
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits());
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
    Ok((decoded, format, extension))
}

fn encode(picture: &DynamicImage, format: ImageFormat) -> Result<Vec<u8>, UploadRefusal> {
    let mut out = Cursor::new(Vec::new());
    picture
        .write_to(&mut out, format)
        .map_err(|_| UploadRefusal::NotAnImage)?;
    Ok(out.into_inner())
}

/// The name a cleaned image is kept under: its content's hash.
pub fn content_name(bytes: &[u8], extension: &str) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{hex}.{extension}")
}

/// The name of an image's copy `width` pixels wide: `<hash>-<width>.<extension>`.
pub fn variant_name(name: &str, width: u32) -> String {
    match name.split_once('.') {
        Some((stem, extension)) => format!("{stem}-{width}.{extension}"),
        None => format!("{name}-{width}"),
    }
}

/// An original's name, or a variant's: the original's name and the width.
fn parse_name(name: &str) -> Option<(String, Option<u32>)> {
    valid_name(name)?;
    let (stem, extension) = name.split_once('.')?;
    match stem.split_once('-') {
        Some((hash, width)) => {
            let width = width.parse().ok()?;
            Some((format!("{hash}.{extension}"), Some(width)))
        }
        None => Some((name.to_owned(), None)),
    }
}

/// Only names this module made: 32 hex digits, a width this module makes for a variant, and
/// an extension it writes.
fn valid_name(name: &str) -> Option<&'static str> {
    let (stem, extension) = name.split_once('.')?;
    let stem = match stem.split_once('-') {
        Some((hash, width)) if VARIANT_WIDTHS.iter().any(|w| w.to_string() == width) => hash,
        Some(_) => return None,
        None => stem,
    };
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
            variants: Vec::new(),
        })
    }

    /// Keeps a cleaned upload and its narrower copies; the copies first, so that an original
    /// in the library always has its copies beside it.
    pub async fn put_upload(&self, upload: &CleanUpload) -> std::io::Result<StoredImage> {
        let name = content_name(&upload.bytes, upload.extension);
        let mut variants = Vec::new();
        for (width, bytes) in &upload.variants {
            let stored = self.put(&variant_name(&name, *width), bytes).await?;
            variants.push(StoredVariant {
                width: *width,
                path: stored.path,
            });
        }
        let mut stored = self.put(&name, &upload.bytes).await?;
        stored.variants = variants;
        Ok(stored)
    }

    pub async fn get(&self, name: &str) -> std::io::Result<Option<Vec<u8>>> {
        match tokio::fs::read(self.root.join(name)).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Every image, newest first, each with its narrower copies.
    pub async fn list(&self) -> std::io::Result<Vec<StoredImage>> {
        let mut entries = match tokio::fs::read_dir(&self.root).await {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(error),
        };
        let mut found = Vec::new();
        let mut variants: std::collections::HashMap<String, Vec<StoredVariant>> =
            std::collections::HashMap::new();
        while let Some(entry) = entries.next_entry().await? {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some((original, width)) = parse_name(&name) else {
                continue;
            };
            if let Some(width) = width {
                variants.entry(original).or_default().push(StoredVariant {
                    width,
                    path: format!("/media/{name}"),
                });
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
            .map(|(_, name)| {
                let mut copies = variants.remove(&name).unwrap_or_default();
                copies.sort_by_key(|copy| std::cmp::Reverse(copy.width));
                StoredImage {
                    path: format!("/media/{name}"),
                    variants: copies,
                    name,
                }
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
        let variant = variant_name(&name, LARGE_WIDTH);
        assert!(variant.ends_with("-1200.png"));
        assert!(valid_name(&variant).is_some());
        assert_eq!(parse_name(&variant), Some((name.clone(), Some(1200))));
        assert!(valid_name("0123456789abcdef0123456789abcdef-7.png").is_none());
        assert!(valid_name("0123456789abcdef0123456789abcdef-.png").is_none());
    }

    #[test]
    fn heights_keep_the_aspect_ratio() {
        assert_eq!(scaled_height(2000, 1000, 1200), 600);
        assert_eq!(scaled_height(2000, 1, 600), 1);
        assert_eq!(scaled_height(1999, 1333, 600), 400);
    }

    #[test]
    fn markdown_links_the_original_from_the_large_copy() {
        let mut image = StoredImage {
            name: "a.png".into(),
            path: "/media/a.png".into(),
            variants: Vec::new(),
        };
        assert_eq!(image.markdown(), "![](/media/a.png)");
        image.variants.push(StoredVariant {
            width: LARGE_WIDTH,
            path: "/media/a-1200.png".into(),
        });
        assert_eq!(image.markdown(), "[![](/media/a-1200.png)](/media/a.png)");
    }

    #[test]
    fn text_claiming_to_be_an_image_is_refused() {
        assert_eq!(
            clean_upload(b"GIF89a not really").unwrap_err(),
            UploadRefusal::NotAnImage
        );
        assert_eq!(
            clean_upload(b"\x89PNG\r\n\x1a\n broken").unwrap_err(),
            UploadRefusal::NotAnImage
        );
    }
}
