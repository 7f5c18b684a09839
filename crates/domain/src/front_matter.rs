//! A post written in a file: a TOML (`+++`) or YAML (`---`) header, then Markdown.

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::text::xml_safe;
use crate::{PostKind, PostStatus, Slug};

#[derive(Debug, Clone, PartialEq)]
pub struct PostFile {
    pub title: String,
    pub slug: Option<Slug>,
    pub date: Option<OffsetDateTime>,
    pub status: PostStatus,
    pub kind: PostKind,
    pub categories: Vec<String>,
    pub tags: Vec<String>,
    pub author: Option<String>,
    pub body: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrontMatterError {
    #[error(
        "the file must start with a front-matter header: `+++` (TOML) or `---` (YAML) on the first line"
    )]
    Missing,
    #[error("the front-matter header opened with `{0}` is never closed by a matching line")]
    Unclosed(&'static str),
    #[error("the front-matter header is not valid {format}: {message}")]
    Syntax {
        format: &'static str,
        message: String,
    },
    #[error("front matter needs a `title`")]
    MissingTitle,
    #[error("`date` must be an RFC 3339 date-time such as 2024-05-01T09:00:00Z, got {0:?}")]
    BadDate(String),
    #[error("`status` must be draft or published, got {0:?}")]
    BadStatus(String),
    #[error("`type` must be post or page, got {0:?}")]
    BadKind(String),
    #[error("`slug`: {0}")]
    BadSlug(#[from] crate::slug::SlugError),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    title: Option<String>,
    slug: Option<String>,
    date: Option<DateValue>,
    status: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    categories: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    author: Option<String>,
}

/// TOML has a native date-time type; YAML and quoted TOML give a string.
#[derive(Deserialize)]
#[serde(untagged)]
enum DateValue {
    Text(String),
    Toml(toml::value::Datetime),
}

pub fn parse_post_file(text: &str) -> Result<PostFile, FrontMatterError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (fence, format) = match text.lines().next().map(str::trim_end) {
        Some("+++") => ("+++", "TOML"),
        Some("---") => ("---", "YAML"),
        _ => return Err(FrontMatterError::Missing),
    };
    let after_open = &text[text.find('\n').map_or(text.len(), |i| i + 1)..];
    let mut offset = 0;
    let mut header_end = None;
    for line in after_open.split_inclusive('\n') {
        if line.trim_end() == fence {
            header_end = Some((offset, offset + line.len()));
            break;
        }
        offset += line.len();
    }
    let (end, body_start) = header_end.ok_or(FrontMatterError::Unclosed(fence))?;
    let header_text = &after_open[..end];
    let body = xml_safe(after_open[body_start..].trim_start_matches(['\n', '\r'])).into_owned();

    let header: Header = if format == "TOML" {
        toml::from_str(header_text).map_err(|e| FrontMatterError::Syntax {
            format,
            message: e.message().to_owned(),
        })?
    } else {
        serde_norway::from_str(header_text).map_err(|e| FrontMatterError::Syntax {
            format,
            message: e.to_string(),
        })?
    };

    let title = header
        .title
        .map(|t| xml_safe(&t).trim().to_owned())
        .filter(|t| !t.is_empty())
        .ok_or(FrontMatterError::MissingTitle)?;
    let date = header.date.map(parse_date).transpose()?;
    let status = match header.status.as_deref() {
        None => PostStatus::Published,
        Some(raw @ ("draft" | "published")) => PostStatus::parse(raw).unwrap_or(PostStatus::Draft),
        Some(other) => return Err(FrontMatterError::BadStatus(other.to_owned())),
    };
    let kind = match header.kind.as_deref() {
        None => PostKind::Post,
        Some(raw) => {
            PostKind::parse(raw).ok_or_else(|| FrontMatterError::BadKind(raw.to_owned()))?
        }
    };
    let slug = header.slug.as_deref().map(Slug::parse).transpose()?;
    Ok(PostFile {
        title,
        slug,
        date,
        status,
        kind,
        categories: header
            .categories
            .iter()
            .map(|c| xml_safe(c).into_owned())
            .collect(),
        tags: header
            .tags
            .iter()
            .map(|t| xml_safe(t).into_owned())
            .collect(),
        author: header.author,
        body,
    })
}

fn parse_date(value: DateValue) -> Result<OffsetDateTime, FrontMatterError> {
    let text = match value {
        DateValue::Text(s) => s,
        DateValue::Toml(d) => d.to_string(),
    };
    OffsetDateTime::parse(text.trim(), &Rfc3339).map_err(|_| FrontMatterError::BadDate(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_header() {
        let post = parse_post_file(
            "+++\ntitle = \"Hello\"\ndate = 2024-05-01T09:00:00Z\ncategories = [\"News\"]\ntags = [\"a\", \"b\"]\n+++\n\nBody *here*.\n",
        )
        .unwrap();
        assert_eq!(post.title, "Hello");
        assert_eq!(post.date.unwrap().year(), 2024);
        assert_eq!(post.tags, vec!["a", "b"]);
        assert_eq!(post.body, "Body *here*.\n");
        assert_eq!(post.status, PostStatus::Published);
    }

    #[test]
    fn yaml_header() {
        let post = parse_post_file(
            "---\ntitle: Hello YAML\nslug: hello-yaml\ndate: \"2023-01-02T03:04:05+02:00\"\nstatus: draft\n---\nText\n",
        )
        .unwrap();
        assert_eq!(post.slug.unwrap().as_str(), "hello-yaml");
        assert_eq!(post.status, PostStatus::Draft);
    }

    #[test]
    fn bad_input_is_named() {
        assert_eq!(parse_post_file("no header"), Err(FrontMatterError::Missing));
        assert_eq!(
            parse_post_file("+++\ntitle = \"x\"\n"),
            Err(FrontMatterError::Unclosed("+++"))
        );
        assert_eq!(
            parse_post_file("---\ntitle: x\ndate: yesterday\n---\n"),
            Err(FrontMatterError::BadDate("yesterday".into()))
        );
        assert!(matches!(
            parse_post_file("---\ntitle: x\nstatus: maybe\n---\n"),
            Err(FrontMatterError::BadStatus(_))
        ));
        assert!(matches!(
            parse_post_file("+++\ntitle = \n+++\n"),
            Err(FrontMatterError::Syntax { .. })
        ));
        assert_eq!(
            parse_post_file("+++\n+++\nbody"),
            Err(FrontMatterError::MissingTitle)
        );
    }

    #[test]
    fn characters_xml_forbids_are_dropped_from_header_and_body() {
        let post = parse_post_file(
            "---\ntitle: \"Bell\\x07 \\e[1mbold\\0\"\ntags: [\"a\\x0bb\"]\ncategories: [\"c\\x0cd\"]\n---\nText\u{8} with\u{fffe} NUL\u{0}\n",
        )
        .unwrap();
        assert_eq!(post.title, "Bell [1mbold");
        assert_eq!(post.tags, ["ab"]);
        assert_eq!(post.categories, ["cd"]);
        assert_eq!(post.body, "Text with NUL\n");
    }
}
