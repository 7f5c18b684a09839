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
    /// The site's offset from UTC when it was published (summer or winter time): its
    /// permalink's date and the date shown are days in the site's zone, as in WordPress.
    pub published_offset: time::UtcOffset,
    pub author: User,
    pub comment_count: u64,
    pub featured_image: Option<String>,
    pub categories: Vec<Term>,
    pub tags: Vec<Term>,
    /// A password hides the body, the excerpt and the comments from anyone who has not given it.
    pub protected: bool,
    /// Kept on top of the front page's first page, as WordPress's sticky posts.
    pub sticky: bool,
    /// A page's parent page.
    pub parent_id: Option<i64>,
    /// The slugs of a page's parent pages, outermost first: `/parent/child/` is its address.
    pub ancestors: Vec<Slug>,
}

/// What lists and feeds show instead of a protected post's excerpt (WordPress's words).
pub const PROTECTED_EXCERPT: &str = "There is no excerpt because this is a protected post.";

impl PostSummary {
    /// WordPress's default permalink: `/YYYY/MM/DD/slug/` for posts, `/slug/` for pages
    /// (`/parent/child/` for a page under another).
    pub fn path(&self) -> String {
        match self.kind {
            PostKind::Page => page_path(&self.ancestors, &self.slug),
            PostKind::Post => permalink(self.kind, &self.slug, self.published_local()),
        }
    }

    /// When it was published, as the site's clock showed it.
    pub fn published_local(&self) -> OffsetDateTime {
        self.published_at
            .unwrap_or(self.updated_at)
            .to_offset(self.published_offset)
    }

    /// The post as anyone without its password sees it: titled "Protected: …", with neither
    /// body nor excerpt. Unprotected posts come back unchanged.
    pub fn sealed(mut self) -> Self {
        if self.protected {
            self.title = protected_title(&self.title);
            self.html = String::new();
            self.excerpt = PROTECTED_EXCERPT.to_owned();
        }
        self
    }
}

/// WordPress's title for a password-protected post.
pub fn protected_title(title: &str) -> String {
    format!("Protected: {title}")
}

/// A page's address under its parents: `/about/team/`.
pub fn page_path(ancestors: &[Slug], slug: &Slug) -> String {
    let mut path = String::from("/");
    for ancestor in ancestors.iter().chain(std::iter::once(slug)) {
        path.push_str(ancestor.as_str());
        path.push('/');
    }
    path
}

/// Sticky posts first, each group newest first as it came: the front page's first page.
pub fn sticky_first(posts: Vec<PostSummary>) -> Vec<PostSummary> {
    let (mut sticky, rest): (Vec<_>, Vec<_>) = posts.into_iter().partition(|p| p.sticky);
    sticky.extend(rest);
    sticky
}

/// A post's password as stored: `None` when there is none (an empty field clears it).
/// WordPress keeps it as written (`post_password`), and so does Folio, so that an export
/// carries it and the author can read it back in the editor.
pub fn normalize_password(raw: Option<&str>) -> Option<String> {
    raw.filter(|p| !p.trim().is_empty()).map(str::to_owned)
}

/// A post or page with everything its own page shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    pub summary: PostSummary,
    pub source: String,
    pub comments_open: bool,
    /// Kept as the author wrote it (as WordPress's `post_password`); never shown to readers.
    pub password: Option<String>,
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
    fn child_page_lives_under_its_parents() {
        let parent = Slug::parse("about").unwrap();
        let child = Slug::parse("team").unwrap();
        assert_eq!(page_path(&[], &child), "/team/");
        assert_eq!(page_path(&[parent], &child), "/about/team/");
    }

    #[test]
    fn empty_password_is_no_password() {
        assert_eq!(normalize_password(Some("")), None);
        assert_eq!(normalize_password(Some("  ")), None);
        assert_eq!(normalize_password(None), None);
        assert_eq!(
            normalize_password(Some(" open sesame")).as_deref(),
            Some(" open sesame")
        );
    }

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
