//! What templates show, prepared in Rust: formatted dates, paths, labels. Templates stay
//! free of logic beyond loops and conditions.

use folio_domain::schedule::SiteZone;
use folio_domain::{Comment, CommentNode, Paginated, PostSummary, Term, User};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

#[derive(Debug, Clone)]
pub struct Link {
    pub title: String,
    pub path: String,
}

#[derive(Debug, Clone)]
pub struct PostView {
    pub id: i64,
    pub path: String,
    pub title: String,
    pub title_html: Option<String>,
    pub date_iso: String,
    pub date_human: String,
    pub modified_iso: String,
    pub author: Link,
    pub excerpt: String,
    pub html: String,
    pub categories: Vec<Link>,
    pub tags: Vec<Link>,
    pub comment_count: u64,
    pub comments_label: String,
    pub featured_image: Option<String>,
    pub is_page: bool,
    pub sticky: bool,
    /// Password-protected: `html` and `excerpt` stay sealed until `unseal`.
    pub protected: bool,
}

impl PostView {
    /// The post as every reader may see it: a protected post's body and excerpt are left
    /// out (see `PostSummary::sealed`).
    pub fn new(post: &PostSummary) -> Self {
        let published = post.published_local();
        let (title, excerpt, html) = if post.protected {
            (
                folio_domain::posts::protected_title(&post.title),
                folio_domain::posts::PROTECTED_EXCERPT.to_owned(),
                String::new(),
            )
        } else {
            (post.title.clone(), post.excerpt.clone(), post.html.clone())
        };
        PostView {
            id: post.id,
            path: url_path(&post.path()),
            // The heading's markup is "Protected: " too, or the lock would not show.
            title_html: post.title_html.as_deref().map(|markup| {
                if post.protected {
                    folio_domain::posts::protected_title(markup)
                } else {
                    markup.to_owned()
                }
            }),
            title,
            date_iso: iso(published),
            date_human: human_date(published),
            modified_iso: iso(post.updated_at.max(published)),
            author: author_link(&post.author),
            excerpt,
            html,
            categories: post.categories.iter().map(term_link).collect(),
            tags: post.tags.iter().map(term_link).collect(),
            comment_count: post.comment_count,
            comments_label: comments_label(post.comment_count),
            featured_image: post.featured_image.clone(),
            is_page: post.kind == folio_domain::PostKind::Page,
            sticky: post.sticky,
            protected: post.protected,
        }
    }

    /// For the reader who gave the password: the body comes back (the title keeps its
    /// "Protected:", as on WordPress).
    pub fn unseal(&mut self, post: &PostSummary) {
        self.html = post.html.clone();
        self.excerpt = post.excerpt.clone();
    }
}

impl From<folio_storage::PostLink> for Link {
    fn from(link: folio_storage::PostLink) -> Self {
        Link {
            title: link.title,
            path: url_path(&link.path),
        }
    }
}

pub fn author_link(user: &User) -> Link {
    Link {
        title: user.display_name.clone(),
        path: url_path(&format!("/author/{}/", user.slug)),
    }
}

pub fn term_link(term: &Term) -> Link {
    Link {
        title: term.name.clone(),
        path: url_path(&term.path()),
    }
}

/// A path of the site as links carry it: slugs in any script percent-encoded
/// (`/2024/03/05/%CE%B5%CF%80%CE%AF/`), as browsers send them back.
pub fn url_path(path: &str) -> String {
    folio_domain::slug::percent_encode_path(path)
}

pub fn comments_label(count: u64) -> String {
    match count {
        0 => "Leave a comment".to_owned(),
        1 => "1 Comment".to_owned(),
        n => format!("{n} Comments"),
    }
}

/// WordPress's heading over a thread: "One thought on “Title”", "3 thoughts on “Title”".
pub fn thoughts_heading(count: u64, title: &str) -> String {
    match count {
        1 => format!("One thought on “{title}”"),
        n => format!("{n} thoughts on “{title}”"),
    }
}

pub fn iso(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

pub fn human_date(at: OffsetDateTime) -> String {
    at.format(format_description!(
        "[month repr:long] [day padding:none], [year]"
    ))
    .unwrap_or_default()
}

pub fn human_date_time(at: OffsetDateTime) -> String {
    let date = human_date(at);
    let time = at
        .format(format_description!(
            "[hour repr:12 padding:none]:[minute] [period case:lower]"
        ))
        .unwrap_or_default();
    format!("{date} at {time}")
}

pub fn month_name(month: u8) -> &'static str {
    const NAMES: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    NAMES
        .get(usize::from(month).wrapping_sub(1))
        .copied()
        .unwrap_or("")
}

/// One comment of a thread, with its replies already rendered below it.
#[derive(Debug, Clone)]
pub struct CommentView {
    pub id: i64,
    pub depth: u32,
    pub parity: &'static str,
    pub author_name: String,
    pub author_url: Option<String>,
    pub avatar_url: String,
    pub date_iso: String,
    pub date_human: String,
    pub html: String,
    pub has_children: bool,
    pub can_reply: bool,
    /// Held for moderation: shown only to its author, with a note.
    pub pending: bool,
    pub deleted: bool,
    pub edited: bool,
    /// The reader looking wrote it and may still edit or delete it.
    pub editable: bool,
    pub likes: u64,
    pub liked: bool,
}

impl CommentView {
    pub fn new(node: &CommentNode, index: usize, max_depth: u32, zone: &SiteZone) -> Self {
        let comment: &Comment = &node.comment;
        CommentView {
            id: comment.id,
            depth: node.depth,
            parity: if index.is_multiple_of(2) {
                "even"
            } else {
                "odd"
            },
            author_name: comment.author_name.clone(),
            author_url: comment
                .author_url
                .clone()
                .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
            avatar_url: avatar_src(comment.author_avatar.as_deref(), &comment.author_name),
            date_iso: iso(comment.created_at),
            date_human: human_date_time(zone.local(comment.created_at)),
            html: comment.html.clone(),
            has_children: !node.children.is_empty(),
            can_reply: node.depth < max_depth && !comment.deleted,
            pending: comment.status == folio_domain::CommentStatus::Pending,
            deleted: comment.deleted,
            edited: comment.edited_at.is_some(),
            editable: false,
            likes: 0,
            liked: false,
        }
    }
}

/// What an `<img src>` shows for someone: their provider's avatar when it is a web address
/// (rows stored before that was checked may hold anything), else the generated one.
pub fn avatar_src(stored: Option<&str>, name: &str) -> String {
    match stored {
        Some(url) if folio_domain::users::is_web_avatar_url(url) => url.to_owned(),
        _ => default_avatar(name),
    }
}

/// A generated avatar (initial on a colour picked from the name), as an inline SVG data URI,
/// so that no third-party avatar service learns who reads what.
pub fn default_avatar(name: &str) -> String {
    const COLOURS: [&str; 8] = [
        "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#b07aa1", "#9c755f", "#6b6ecf",
    ];
    let hash = name
        .bytes()
        .fold(5381u32, |h, b| h.wrapping_mul(33) ^ u32::from(b));
    let colour = COLOURS[(hash as usize) % COLOURS.len()];
    let initial = name
        .chars()
        .find(|c| c.is_alphanumeric())
        .map_or('?', |c| c.to_uppercase().next().unwrap_or(c));
    let svg = format!(
        "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 48 48'><rect width='48' height='48' fill='{colour}'/><text x='50%' y='50%' dy='.35em' text-anchor='middle' font-family='sans-serif' font-size='24' fill='white'>{}</text></svg>",
        xml_text(initial)
    );
    format!("data:image/svg+xml,{}", percent_encode(&svg))
}

fn xml_text(c: char) -> String {
    match c {
        '<' => "&lt;".to_owned(),
        '>' => "&gt;".to_owned(),
        '&' => "&amp;".to_owned(),
        c => c.to_string(),
    }
}

/// Percent-encodes everything but unreserved characters and the few an inline SVG needs
/// unescaped to stay readable; spaces and non-ASCII become `%XX`, as URLs require.
pub(crate) fn percent_encode(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() * 2);
    for byte in raw.bytes() {
        match byte {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'.'
            | b'_'
            | b'~'
            | b'\''
            | b'/'
            | b':'
            | b'=' => {
                out.push(char::from(byte));
            }
            other => {
                // Without a `format!` per byte: every generated avatar of a long thread
                // passes through here.
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(char::from(HEX[usize::from(other >> 4)]));
                out.push(char::from(HEX[usize::from(other & 0x0f)]));
            }
        }
    }
    out
}

/// The numbered pager under a list, WordPress's `paginate_links`.
#[derive(Debug, Clone)]
pub struct Pager {
    pub previous: Option<String>,
    pub next: Option<String>,
    pub pages: Vec<PagerItem>,
}

#[derive(Debug, Clone)]
pub enum PagerItem {
    Current(u32),
    Link(u32, String),
    Dots,
}

impl Pager {
    /// `page_path(n)` gives the URL of page n.
    pub fn new<T>(list: &Paginated<T>, page_path: impl Fn(u32) -> String) -> Option<Self> {
        let total = list.total_pages();
        if total <= 1 {
            return None;
        }
        let current = list.page.get();
        let mut pages = Vec::new();
        let mut last_shown = 0;
        for n in 1..=total {
            let near = n.abs_diff(current) <= 2 || n == 1 || n == total;
            if near {
                if last_shown + 1 < n {
                    pages.push(PagerItem::Dots);
                }
                pages.push(if n == current {
                    PagerItem::Current(n)
                } else {
                    PagerItem::Link(n, page_path(n))
                });
                last_shown = n;
            }
        }
        Some(Pager {
            previous: list.has_previous().then(|| page_path(current - 1)),
            next: list.has_next().then(|| page_path(current + 1)),
            pages,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use folio_domain::PageNumber;

    #[test]
    fn percent_encoding_writes_each_other_byte_as_two_upper_hex_digits() {
        assert_eq!(
            percent_encode("a b<#>é/x='y'"),
            "a%20b%3C%23%3E%C3%A9/x='y'"
        );
        assert_eq!(percent_encode("\u{0}\u{7f}"), "%00%7F");
    }

    #[test]
    fn pager_elides_far_pages() {
        let list = Paginated::<()> {
            items: vec![],
            page: PageNumber::new(10).unwrap(),
            per_page: 10,
            total: 200,
        };
        let pager = Pager::new(&list, |n| format!("/page/{n}/")).unwrap();
        let shape: Vec<String> = pager
            .pages
            .iter()
            .map(|p| match p {
                PagerItem::Current(n) => format!("[{n}]"),
                PagerItem::Link(n, _) => n.to_string(),
                PagerItem::Dots => "…".into(),
            })
            .collect();
        assert_eq!(shape.join(" "), "1 … 8 9 [10] 11 12 … 20");
        assert_eq!(pager.previous.as_deref(), Some("/page/9/"));
    }

    #[test]
    fn default_avatar_is_a_valid_data_url() {
        let url = default_avatar("Émile <Zola>");
        assert!(url.starts_with("data:image/svg+xml,"));
        assert!(
            !url.contains(' ') && !url.contains('<') && url.is_ascii(),
            "{url}"
        );
        assert!(
            url.contains("%C3%89"),
            "the initial is É, UTF-8 encoded: {url}"
        );
    }

    #[test]
    fn thread_heading_reads_like_wordpress() {
        assert_eq!(thoughts_heading(1, "Hi"), "One thought on “Hi”");
        assert_eq!(thoughts_heading(3, "Hi"), "3 thoughts on “Hi”");
    }
}
