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
    pub title: String,
    pub excerpt: String,
    pub html: String,
    pub status: PostStatus,
    pub published_at: Option<OffsetDateTime>,
    pub updated_at: OffsetDateTime,
    /// The site's offset from UTC when it was published (summer or winter time): its
    /// permalink's date and the date shown are days in the site's zone, as in WordPress.
    pub published_offset: time::UtcOffset,
    pub author: User,
    pub comment_count: u64,
    pub featured_image: Option<String>,
    pub categories: Vec<Term>,
    pub tags: Vec<Term>,
}

impl PostSummary {
    /// WordPress's default permalink: `/YYYY/MM/DD/slug/` for posts, `/slug/` for pages.
    pub fn path(&self) -> String {
        permalink(self.kind, &self.slug, self.published_local())
    }

    /// When it was published, as the site's clock showed it.
    pub fn published_local(&self) -> OffsetDateTime {
        self.published_at
            .unwrap_or(self.updated_at)
            .to_offset(self.published_offset)
    }
}

/// A post or page with everything its own page shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    pub summary: PostSummary,
    pub source: String,
    pub comments_open: bool,
}

/// `date` as the site's clock shows it (see `SiteZone::local`): its day names the post.
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

/// WordPress's page break inside a post: `/slug/2/` shows what follows the first one.
pub const NEXTPAGE: &str = "<!--nextpage-->";

/// The parts of a post's source between page breaks; one part when it has none. Empty parts
/// (a break at the very start or end, or two in a row) are not pages, as in WordPress.
pub fn page_sources(source: &str) -> Vec<&str> {
    if !source.contains(NEXTPAGE) {
        return vec![source];
    }
    let parts: Vec<&str> = source
        .split(NEXTPAGE)
        .filter(|part| !part.trim().is_empty())
        .collect();
    if parts.is_empty() {
        vec![source]
    } else {
        parts
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
    fn nextpage_splits_a_post_into_pages() {
        assert_eq!(page_sources("one"), vec!["one"]);
        assert_eq!(
            page_sources("one\n\n<!--nextpage-->\n\ntwo\n<!--nextpage-->three"),
            vec!["one\n\n", "\n\ntwo\n", "three"]
        );
        assert_eq!(
            page_sources("<!--nextpage-->one<!--nextpage-->"),
            vec!["one"]
        );
    }

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
