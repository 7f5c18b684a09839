use time::OffsetDateTime;

use crate::{Slug, Term, User};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PostKind {
    Post,
    Page,
}

impl PostKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PostKind::Post => "post",
            PostKind::Page => "page",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "post" => Some(PostKind::Post),
            "page" => Some(PostKind::Page),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PostStatus {
    Draft,
    Scheduled,
    Published,
}

impl PostStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PostStatus::Draft => "draft",
            PostStatus::Scheduled => "scheduled",
            PostStatus::Published => "published",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "draft" => Some(PostStatus::Draft),
            "scheduled" | "future" => Some(PostStatus::Scheduled),
            "published" | "publish" => Some(PostStatus::Published),
            _ => None,
        }
    }
}

/// A post or page as listed on the front page and in archives.
#[derive(Debug, Clone, PartialEq)]
pub struct PostSummary {
    pub id: i64,
    pub kind: PostKind,
    pub slug: Slug,
    /// Plain text: `<title>`, feeds, emails.
    pub title: String,
    /// The title with its inline markup (sanitized), for the heading; None when it has none.
    pub title_html: Option<String>,
    pub excerpt: String,
    pub html: String,
    pub status: PostStatus,
    pub published_at: Option<OffsetDateTime>,
    pub updated_at: OffsetDateTime,
    pub author: User,
    pub comment_count: u64,
    pub featured_image: Option<String>,
    pub categories: Vec<Term>,
    pub tags: Vec<Term>,
}

impl PostSummary {
    /// WordPress's default permalink: `/YYYY/MM/DD/slug/` for posts, `/slug/` for pages.
    pub fn path(&self) -> String {
        permalink(
            self.kind,
            &self.slug,
            self.published_at.unwrap_or(self.updated_at),
        )
    }
}

/// A post or page with everything its own page shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    pub summary: PostSummary,
    pub source: String,
    pub comments_open: bool,
}

pub fn permalink(kind: PostKind, slug: &Slug, date: OffsetDateTime) -> String {
    match kind {
        PostKind::Post => format!(
            "/{:04}/{:02}/{:02}/{}/",
            date.year(),
            u8::from(date.month()),
            date.day(),
            slug
        ),
        PostKind::Page => format!("/{slug}/"),
    }
}

/// Drops the sub-second part so that timestamps compare the same way as stored text
/// (SQLite) and as native timestamps (PostgreSQL).
pub fn whole_seconds(at: OffsetDateTime) -> OffsetDateTime {
    at.replace_nanosecond(0).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn post_permalink_has_wordpress_date_shape() {
        let slug = Slug::parse("hello-world").unwrap();
        assert_eq!(
            permalink(PostKind::Post, &slug, datetime!(2024-03-05 10:00 UTC)),
            "/2024/03/05/hello-world/"
        );
        assert_eq!(
            permalink(PostKind::Page, &slug, datetime!(2024-03-05 10:00 UTC)),
            "/hello-world/"
        );
    }
}
