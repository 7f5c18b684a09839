//! The reading side: front page, posts, pages, archives, search.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use folio_domain::schedule::SiteZone;
use folio_domain::{PageNumber, Paginated, Post, PostSummary, Taxonomy};
use folio_storage::PostFilter;
use serde::Deserialize;
use time::{Date, Month, OffsetDateTime, Time};

use crate::AppState;
use crate::discussion::{CommentDraft, Conversation};
use crate::error::AppError;
use crate::layout::Layout;
use crate::personal::Reader;
use crate::protected::{PasswordPrompt, is_unlocked};
use crate::session::Viewer;
use crate::views::{Link, Pager, PostView, human_date, month_name};

#[derive(Template)]
#[template(path = "list.html")]
struct ListPage {
    layout: Layout,
    heading: Option<String>,
    description: String,
    posts: Vec<PostView>,
    full_text: bool,
    pager: Option<Pager>,
    empty_message: String,
}

#[derive(Template)]
#[template(path = "single.html")]
struct SinglePage {
    layout: Layout,
    post: PostView,
    /// WordPress's "Pages: 1 2 3" under a post split by `<!--nextpage-->`; empty otherwise.
    post_pages: Vec<PostPageLink>,
    previous: Option<Link>,
    next: Option<Link>,
    conversation: Conversation,
    /// A protected post this reader has not opened: the form instead of the body.
    password_prompt: Option<PasswordPrompt>,
}

/// One number of a multi-page post's page links: a link, or the page being read.
struct PostPageLink {
    number: usize,
    href: Option<String>,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    layout: Layout,
    query: String,
    summary: String,
    hits: Vec<HitView>,
    pager: Option<Pager>,
}

struct HitView {
    post: PostView,
    snippet: String,
}

#[derive(Template)]
#[template(path = "welcome.html")]
struct WelcomePage {
    layout: Layout,
}

/// Search, and every WordPress-shaped path (the fallback: front page, posts, pages, archives).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/search", get(search))
        .route("/search/", get(search))
        .fallback(get(content))
}

/// What a WordPress-shaped path asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ContentPath {
    Home,
    Post {
        year: i32,
        month: u8,
        day: u8,
        slug: String,
        /// WordPress's `comment-page-N/`: a later page of a long thread.
        comment_page: u32,
        /// WordPress's `/slug/N/`: page N of a post split by `<!--nextpage-->`.
        post_page: u32,
    },
    PostCommentsFeed {
        slug: String,
    },
    Page {
        slug: String,
    },
    Category {
        slug: String,
    },
    Tag {
        slug: String,
    },
    Author {
        slug: String,
    },
    /// `/category/x/feed/`, `/tag/x/feed/`, `/author/x/feed/` (and `feed/atom/`).
    ArchiveFeed {
        archive: crate::feeds::Archive,
        format: crate::feeds::Format,
    },
    Date {
        year: i32,
        month: Option<u8>,
        day: Option<u8>,
    },
}

impl ContentPath {
    /// Splits `/…/page/N/` into the listing and its page number. `None` means no such page.
    fn parse(path: &str) -> Option<(ContentPath, PageNumber)> {
        let mut segments: Vec<&str> = path
            .trim_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        let mut page = PageNumber::FIRST;
        if segments.len() >= 2 && segments[segments.len() - 2] == "page" {
            page = PageNumber::parse(segments[segments.len() - 1])?;
            segments.truncate(segments.len() - 2);
        }
        let is_listing_page = page != PageNumber::FIRST;
        let number = |s: &str, digits: usize| {
            (s.len() == digits && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<i32>().ok())
                .flatten()
        };
        if !is_listing_page && let Some(feed) = Self::archive_feed(&segments) {
            return Some((feed, page));
        }
        let content = match segments.as_slice() {
            [] => ContentPath::Home,
            ["category", .., last] => ContentPath::Category {
                slug: (*last).to_owned(),
            },
            ["tag", slug] => ContentPath::Tag {
                slug: (*slug).to_owned(),
            },
            ["author", slug] => ContentPath::Author {
                slug: (*slug).to_owned(),
            },
            [y] if number(y, 4).is_some() => ContentPath::Date {
                year: number(y, 4)?,
                month: None,
                day: None,
            },
            [y, m] if number(y, 4).is_some() => ContentPath::Date {
                year: number(y, 4)?,
                month: Some(u8::try_from(number(m, 2)?).ok()?),
                day: None,
            },
            [y, m, d] if number(y, 4).is_some() && number(d, 2).is_some() => ContentPath::Date {
                year: number(y, 4)?,
                month: Some(u8::try_from(number(m, 2)?).ok()?),
                day: Some(u8::try_from(number(d, 2)?).ok()?),
            },
            [y, m, d, slug] if !is_listing_page => ContentPath::Post {
                year: number(y, 4)?,
                month: u8::try_from(number(m, 2)?).ok()?,
                day: u8::try_from(number(d, 2)?).ok()?,
                slug: (*slug).to_owned(),
                comment_page: 1,
                post_page: 1,
            },
            [y, m, d, slug, n]
                if !is_listing_page && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) =>
            {
                let post_page: u32 = n.parse().ok()?;
                // `/slug/1/` is the post itself; WordPress answers it at the plain address.
                if post_page < 1 || n.starts_with('0') {
                    return None;
                }
                ContentPath::Post {
                    year: number(y, 4)?,
                    month: u8::try_from(number(m, 2)?).ok()?,
                    day: u8::try_from(number(d, 2)?).ok()?,
                    slug: (*slug).to_owned(),
                    comment_page: 1,
                    post_page,
                }
            }
            [y, m, d, slug, page] if !is_listing_page && page.starts_with("comment-page-") => {
                let n: u32 = page.strip_prefix("comment-page-")?.parse().ok()?;
                // `comment-page-1/` is the post's own page: `post` sends it there.
                if n < 1 || page.contains('+') {
                    return None;
                }
                ContentPath::Post {
                    year: number(y, 4)?,
                    month: u8::try_from(number(m, 2)?).ok()?,
                    day: u8::try_from(number(d, 2)?).ok()?,
                    slug: (*slug).to_owned(),
                    comment_page: n,
                    post_page: 1,
                }
            }
            [y, m, d, slug, "feed"]
                if !is_listing_page
                    && number(y, 4).is_some()
                    && number(m, 2).is_some()
                    && number(d, 2).is_some() =>
            {
                ContentPath::PostCommentsFeed {
                    slug: (*slug).to_owned(),
                }
            }
            [slug] if !is_listing_page => ContentPath::Page {
                slug: (*slug).to_owned(),
            },
            // A child page under its parents: `/about/team/`. The page is found by its own
            // slug and answers only at its own address (the rest is checked against it).
            [first, .., last]
                if !is_listing_page
                    && segments.len() <= 8
                    && number(first, 4).is_none()
                    && !matches!(*first, "category" | "tag" | "author" | "feed" | "comments")
                    && !matches!(*last, "feed" | "trackback" | "embed")
                    && !last.starts_with("comment-page-")
                    && !last.bytes().all(|b| b.is_ascii_digit()) =>
            {
                ContentPath::Page {
                    slug: (*last).to_owned(),
                }
            }
            _ => return None,
        };
        Some((content, page))
    }
}

impl ContentPath {
    /// WordPress's archive feeds: `…/feed/` (also `feed/rss2/`) and `…/feed/atom/`.
    fn archive_feed(segments: &[&str]) -> Option<ContentPath> {
        use crate::feeds::{Archive, Format};
        let (archive, format) = match segments {
            [archive @ .., "feed"] | [archive @ .., "feed", "rss2" | "rss"] => {
                (archive, Format::Rss)
            }
            [archive @ .., "feed", "atom"] => (archive, Format::Atom),
            _ => return None,
        };
        let archive = match archive {
            ["category", .., slug] => Archive::Category((*slug).to_owned()),
            ["tag", slug] => Archive::Tag((*slug).to_owned()),
            ["author", slug] => Archive::Author((*slug).to_owned()),
            _ => return None,
        };
        Some(ContentPath::ArchiveFeed { archive, format })
    }
}

#[derive(Debug, Deserialize)]
pub struct HomeQuery {
    s: Option<String>,
    /// WordPress's reply link: `?replytocom=N#respond` opens the form as a reply to N.
    replytocom: Option<String>,
    /// WordPress's plain links, kept by an import: `/?p=ID`, `/?page_id=ID`, `/?cat=ID`,
    /// `/?tag=slug`.
    p: Option<String>,
    page_id: Option<String>,
    cat: Option<String>,
    tag: Option<String>,
}

impl HomeQuery {
    /// The old address as the import recorded it (`/?p=12`), when this is one.
    fn wordpress_link(&self) -> Option<String> {
        let numeric = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .map(str::to_owned)
        };
        if let Some(id) = numeric(&self.p) {
            return Some(format!("/?p={id}"));
        }
        if let Some(id) = numeric(&self.page_id) {
            return Some(format!("/?page_id={id}"));
        }
        if let Some(id) = numeric(&self.cat) {
            return Some(format!("/?cat={id}"));
        }
        self.tag
            .as_deref()
            .filter(|t| !t.is_empty() && t.len() <= 200)
            .map(|t| format!("/?tag={t}"))
    }
}

/// Everything that is not a fixed route: the front page, posts, pages and archives, at the
/// paths WordPress gives them.
pub async fn content(
    State(state): State<AppState>,
    uri: Uri,
    Query(query): Query<HomeQuery>,
    viewer: Viewer,
) -> Result<Response, AppError> {
    let reply_to = query.replytocom.as_deref().and_then(|r| r.parse().ok());
    // Slugs are kept decoded: `%CE%B5` from a browser and `%ce%b5` from an old link both
    // find `ε`.
    let decoded = folio_domain::slug::percent_decode(uri.path());
    // No slug or stored address holds a control character, and PostgreSQL refuses NUL in
    // a query: such a path names nothing here.
    if decoded.chars().any(|c| c.is_control()) {
        return Err(AppError::NotFound);
    }
    let path = decoded.as_str();
    if path == "/"
        && let Some(q) = query.s
    {
        return Ok(moved_permanently(&format!(
            "/search?q={}",
            form_urlencode(&q)
        )));
    }
    if path == "/"
        && let Some(old) = query.wordpress_link()
    {
        return match state.store().redirect_for(&old).await? {
            Some(target) => Ok(moved_permanently(&target)),
            None => Err(AppError::NotFound),
        };
    }
    let last_segment = path.rsplit('/').find(|s| !s.is_empty()).unwrap_or("");
    // An imported site's old permalinks may have no trailing slash (`/archives/16`) or an
    // extension (`/2019/04/hello.html`).
    if (last_segment.contains('.') || !path.ends_with('/'))
        && let Some(target) = state.store().redirect_for(path).await?
    {
        return Ok(moved_permanently(&target));
    }
    if last_segment.contains('.') {
        return Err(AppError::NotFound);
    }
    if !path.ends_with('/') {
        let target = match uri.query() {
            Some(q) => format!("{path}/?{q}"),
            None => format!("{path}/"),
        };
        return Ok(moved_permanently(&target));
    }
    let answer = match ContentPath::parse(path) {
        Some((content, page)) => {
            answer_content(&state, path, content, page, &viewer, reply_to).await
        }
        None => Err(AppError::NotFound),
    };
    match answer {
        // A post whose slug (or date) changed keeps answering at its old address.
        Err(AppError::NotFound) => match state.store().redirect_for(path).await? {
            Some(target) => Ok(moved_permanently(&target)),
            None => Err(AppError::NotFound),
        },
        other => other,
    }
}

async fn answer_content(
    state: &AppState,
    path: &str,
    content: ContentPath,
    page: PageNumber,
    viewer: &Viewer,
    reply_to: Option<i64>,
) -> Result<Response, AppError> {
    match content {
        ContentPath::Home => home(state, page).await,
        ContentPath::Post {
            year,
            month,
            day,
            slug,
            comment_page,
            post_page,
        } => {
            if let Some(response) =
                crate::personal::answer_made(state, path, reply_to, viewer).await?
            {
                return Ok(response);
            }
            let suffix = match (comment_page, post_page) {
                (1, 1) => String::new(),
                (1, n) => format!("{n}/"),
                (n, _) => format!("comment-page-{n}/"),
            };
            let post_path = path.strip_suffix(&suffix).unwrap_or(path).to_owned();
            let shown = Shown {
                reply_to,
                comment_page,
                wrong_password: false,
                post_page,
            };
            post(state, &post_path, (year, month, day), &slug, viewer, shown).await
        }
        ContentPath::PostCommentsFeed { slug } => {
            let post_path = path.strip_suffix("feed/").unwrap_or(path);
            crate::feeds::post_comments(state, post_path, &slug).await
        }
        ContentPath::Page { slug } => {
            if let Some(response) =
                crate::personal::answer_made(state, path, reply_to, viewer).await?
            {
                return Ok(response);
            }
            let shown = Shown {
                reply_to,
                comment_page: 1,
                wrong_password: false,
                post_page: 1,
            };
            page_of_site(state, path, &slug, viewer, shown).await
        }
        ContentPath::Category { slug } => {
            term_archive(state, Taxonomy::Category, &slug, page).await
        }
        ContentPath::Tag { slug } => term_archive(state, Taxonomy::Tag, &slug, page).await,
        ContentPath::Author { slug } => author_archive(state, &slug, page).await,
        ContentPath::ArchiveFeed { archive, format } => {
            crate::feeds::archive(state, archive, format).await
        }
        ContentPath::Date { year, month, day } => date_archive(state, year, month, day, page).await,
    }
}

async fn home(state: &AppState, page: PageNumber) -> Result<Response, AppError> {
    let site = state.site();
    let mut list = state
        .store()
        .published_posts(&PostFilter::All, page, site.posts_per_page)
        .await?;
    if page == PageNumber::FIRST {
        // As WordPress: sticky posts on top of the first page, in addition to its usual
        // number; later pages list them where their dates put them.
        let sticky = state.store().sticky_posts().await?;
        if !sticky.is_empty() {
            list.items.retain(|p| !p.sticky);
            list.items.splice(0..0, sticky);
        }
    }
    if list.total == 0 && page == PageNumber::FIRST && state.store().page_links().await?.is_empty()
    {
        let mut layout = Layout::bare(state, "", "/");
        layout.body_class = "home blog";
        return render(&WelcomePage { layout }, last_modified(state, None));
    }
    let path = if page == PageNumber::FIRST {
        "/".to_owned()
    } else {
        format!("/page/{}/", page.get())
    };
    let title = if page == PageNumber::FIRST {
        String::new()
    } else {
        format!("Page {}", page.get())
    };
    let mut layout = Layout::full(state, &title, &path).await?;
    layout.body_class = "home blog";
    list_page(state, layout, None, String::new(), list, |n| paged("/", n))
}

async fn post(
    state: &AppState,
    requested: &str,
    _date: (i32, u8, u8),
    slug: &str,
    viewer: &Viewer,
    shown: Shown,
) -> Result<Response, AppError> {
    let post = state
        .store()
        .published_post(slug)
        .await?
        .ok_or(AppError::NotFound)?;
    let canonical = post.summary.path();
    if canonical != requested {
        // The date in the URL is wrong (or the post moved): send readers to the right one.
        return Ok(moved_permanently(&canonical));
    }
    single(state, post, viewer, shown, None).await
}

async fn page_of_site(
    state: &AppState,
    requested: &str,
    slug: &str,
    viewer: &Viewer,
    shown: Shown,
) -> Result<Response, AppError> {
    let page = state
        .store()
        .published_page(slug)
        .await?
        .ok_or(AppError::NotFound)?;
    let canonical = page.summary.path();
    if canonical != requested {
        // A child page asked for without its parents (or under old ones): its real address.
        return Ok(moved_permanently(&canonical));
    }
    single(state, page, viewer, shown, None).await
}

/// Which part of a post's conversation a request asks for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shown {
    /// `?replytocom=N`: the form answers comment N.
    pub reply_to: Option<i64>,
    /// 1 for the post's own URL, N for `comment-page-N/`.
    pub comment_page: u32,
    /// A protected post's form after a wrong password.
    pub wrong_password: bool,
    /// 1 for the post's own URL, N for `N/`: the part after the (N-1)th `<!--nextpage-->`.
    pub post_page: u32,
}

/// A post or page with its conversation. `draft` brings back a refused comment with the
/// reason, so that nothing the reader typed is lost.
pub(crate) async fn single(
    state: &AppState,
    post: Post,
    viewer: &Viewer,
    shown: Shown,
    draft: Option<CommentDraft>,
) -> Result<Response, AppError> {
    if draft.is_none()
        && let Some(response) = crate::personal::answer(state, &post, viewer, shown).await?
    {
        return Ok(response);
    }
    let page = single_page(state, &post, Reader::One(viewer), shown, draft).await?;
    let status = page.conversation.status;
    let newest = page.conversation.newest_activity;
    let mut response = render(&page, last_modified(state, Some(newest)))?;
    *response.status_mut() = status;
    let signed_in = viewer.user.is_some();
    let opened = post.password.is_some() && page.password_prompt.is_none();
    // The opened page of a protected post is for this reader alone: no cache may keep it.
    if signed_in || opened {
        // Made for one reader (their form token, their held comments): no shared cache
        // may keep it.
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
        response.headers_mut().remove(header::LAST_MODIFIED);
    }
    Ok(response)
}

/// A post page rendered once for every signed-in reader, with markers where each reader's
/// own parts go, and what filling them in needs. `None` for a protected post.
pub(crate) async fn shared_single(
    state: &AppState,
    post: &Post,
    shown: Shown,
) -> Result<Option<(String, crate::discussion::SharedThread)>, AppError> {
    if post.password.is_some() {
        return Ok(None);
    }
    let mut page = single_page(state, post, Reader::AnySignedIn, shown, None).await?;
    let Some(shared) = page.conversation.shared.take() else {
        return Ok(None);
    };
    Ok(Some((page.render()?, shared)))
}

async fn single_page(
    state: &AppState,
    post: &Post,
    reader: Reader<'_>,
    shown: Shown,
    draft: Option<CommentDraft>,
) -> Result<SinglePage, AppError> {
    let site = state.site();
    let summary = &post.summary;
    let mut view = PostView::new(summary);
    view.sticky = false;
    let locked = match (&post.password, reader) {
        (Some(password), Reader::One(viewer)) => !is_unlocked(viewer, summary.id, password).await?,
        (Some(_), Reader::AnySignedIn) => true,
        (None, _) => false,
    };
    if !locked {
        view.unseal(summary);
    }
    let parts = folio_domain::posts::page_sources(&post.source);
    let current_part = usize::try_from(shown.post_page).unwrap_or(usize::MAX);
    let part = parts
        .get(current_part.saturating_sub(1))
        .ok_or(AppError::NotFound)?;
    // A locked post shows no body, so no page links either.
    let post_pages = if parts.len() > 1 && !locked {
        view.html = folio_domain::markdown::render_post(part).html;
        (1..=parts.len())
            .map(|number| PostPageLink {
                number,
                href: (number != current_part).then(|| match number {
                    1 => view.path.clone(),
                    n => format!("{}{n}/", view.path),
                }),
            })
            .collect()
    } else {
        Vec::new()
    };
    let page_path = match (shown.comment_page, shown.post_page) {
        (1, 1) => view.path.clone(),
        (1, n) => format!("{}{n}/", view.path),
        (n, _) => format!("{}comment-page-{n}/", view.path),
    };
    let mut layout = Layout::full(state, &summary.title, &page_path).await?;
    match reader {
        Reader::One(viewer) => layout.for_viewer(viewer, &page_path).await?,
        Reader::AnySignedIn => layout.for_any_reader = true,
    }
    layout.body_class = if view.is_page { "page" } else { "single" };
    layout.og_type = if view.is_page { "website" } else { "article" };
    layout.description = view.excerpt.clone();
    layout.og_image = summary
        .featured_image
        .as_ref()
        .map(|i| absolute(&site.base_url, i));
    if !view.is_page {
        layout.published_time = Some(view.date_iso.clone());
        layout.modified_time = Some(view.modified_iso.clone());
        layout.comments_feed = Some(format!("{}{}feed/", site.base_url, view.path));
    }
    let adjacent = if view.is_page {
        Default::default()
    } else {
        state.store().adjacent_posts(summary).await?
    };
    let conversation = if locked {
        Conversation::locked(&view)
    } else {
        Conversation::load(state, post, &view, reader, shown, draft).await?
    };
    let password_prompt = locked.then(|| PasswordPrompt {
        post_id: summary.id,
        error: shown
            .wrong_password
            .then_some("That password is not right. Try again."),
    });
    Ok(SinglePage {
        post_pages,
        previous: adjacent.previous.map(Link::from),
        next: adjacent.next.map(Link::from),
        post: view,
        layout,
        conversation,
        password_prompt,
    })
}

async fn term_archive(
    state: &AppState,
    taxonomy: Taxonomy,
    slug: &str,
    page: PageNumber,
) -> Result<Response, AppError> {
    let store = state.store();
    let term = store
        .term_by_slug(taxonomy, slug)
        .await?
        .ok_or(AppError::NotFound)?;
    let filter = match taxonomy {
        Taxonomy::Category => PostFilter::Terms(store.category_and_descendants(term.id).await?),
        Taxonomy::Tag => PostFilter::Terms(vec![term.id]),
    };
    let list = store
        .published_posts(&filter, page, state.site().posts_per_page)
        .await?;
    let base = crate::views::url_path(&term.path());
    let (label, class) = match taxonomy {
        Taxonomy::Category => ("Category", "archive category"),
        Taxonomy::Tag => ("Tag", "archive tag"),
    };
    let heading = format!("{label}: {}", term.name);
    let mut layout = Layout::full(state, &heading, &paged(&base, page.get())).await?;
    layout.body_class = class;
    if !term.description.is_empty() {
        layout.description = term.description.clone();
    }
    list_page(
        state,
        layout,
        Some(heading),
        term.description.clone(),
        list,
        |n| paged(&base, n),
    )
}

async fn author_archive(
    state: &AppState,
    slug: &str,
    page: PageNumber,
) -> Result<Response, AppError> {
    let store = state.store();
    let author = store.user_by_slug(slug).await?.ok_or(AppError::NotFound)?;
    let list = store
        .published_posts(
            &PostFilter::Author(author.id),
            page,
            state.site().posts_per_page,
        )
        .await?;
    if list.total == 0 {
        // Readers who never wrote a post have no public archive.
        return Err(AppError::NotFound);
    }
    let base = crate::views::url_path(&format!("/author/{}/", author.slug));
    let heading = format!("Author: {}", author.display_name);
    let mut layout = Layout::full(state, &heading, &paged(&base, page.get())).await?;
    layout.body_class = "archive author";
    list_page(
        state,
        layout,
        Some(heading),
        author.bio.clone(),
        list,
        |n| paged(&base, n),
    )
}

async fn date_archive(
    state: &AppState,
    year: i32,
    month: Option<u8>,
    day: Option<u8>,
    page: PageNumber,
) -> Result<Response, AppError> {
    let zone = state.site().timezone.clone();
    let (from, until, heading, base) =
        date_range(year, month, day, &zone).ok_or(AppError::NotFound)?;
    let list = state
        .store()
        .published_posts(
            &PostFilter::Published { from, until },
            page,
            state.site().posts_per_page,
        )
        .await?;
    if list.total == 0 {
        return Err(AppError::NotFound);
    }
    let mut layout = Layout::full(state, &heading, &paged(&base, page.get())).await?;
    layout.body_class = "archive date";
    list_page(state, layout, Some(heading), String::new(), list, |n| {
        paged(&base, n)
    })
}

/// The days of a date archive run from midnight to midnight on the site's clock, as its
/// permalinks' dates do.
fn date_range(
    year: i32,
    month: Option<u8>,
    day: Option<u8>,
    zone: &SiteZone,
) -> Option<(OffsetDateTime, OffsetDateTime, String, String)> {
    if !(1970..=9999).contains(&year) {
        return None;
    }
    let at = |d: Date| {
        zone.start_of(d)
            .unwrap_or_else(|| d.with_time(Time::MIDNIGHT).assume_utc())
    };
    match (month, day) {
        (None, _) => {
            let from = Date::from_calendar_date(year, Month::January, 1).ok()?;
            let until = Date::from_calendar_date(year + 1, Month::January, 1).ok()?;
            Some((
                at(from),
                at(until),
                format!("Year: {year}"),
                format!("/{year:04}/"),
            ))
        }
        (Some(m), None) => {
            let month = Month::try_from(m).ok()?;
            let from = Date::from_calendar_date(year, month, 1).ok()?;
            let until = if month == Month::December {
                Date::from_calendar_date(year + 1, Month::January, 1).ok()?
            } else {
                Date::from_calendar_date(year, month.next(), 1).ok()?
            };
            Some((
                at(from),
                at(until),
                format!("Month: {} {year}", month_name(m)),
                format!("/{year:04}/{m:02}/"),
            ))
        }
        (Some(m), Some(d)) => {
            let from = Date::from_calendar_date(year, Month::try_from(m).ok()?, d).ok()?;
            let until = from.next_day()?;
            Some((
                at(from),
                at(until),
                format!("Day: {}", human_date(at(from))),
                format!("/{year:04}/{m:02}/{d:02}/"),
            ))
        }
    }
}

fn list_page(
    state: &AppState,
    layout: Layout,
    heading: Option<String>,
    description: String,
    list: Paginated<PostSummary>,
    page_path: impl Fn(u32) -> String,
) -> Result<Response, AppError> {
    if list.is_past_the_end() {
        return Err(AppError::NotFound);
    }
    let newest_post = list
        .items
        .iter()
        .map(|p| p.updated_at.max(p.published_at.unwrap_or(p.updated_at)))
        .max();
    // WordPress marks sticky posts `sticky` only where they are on top: the front page's
    // first page, the one list without a heading.
    let sticky_on_top = heading.is_none() && list.page == PageNumber::FIRST;
    let posts = list
        .items
        .iter()
        .map(|p| {
            let mut view = PostView::new(p);
            view.sticky &= sticky_on_top;
            view
        })
        .collect();
    let page = ListPage {
        pager: Pager::new(&list, page_path),
        posts,
        full_text: state.site().full_text_in_lists,
        empty_message: "Nothing has been published here yet.".to_owned(),
        layout,
        heading,
        description,
    };
    render(&page, last_modified(state, newest_post))
}

#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
    page: Option<String>,
}

pub async fn search(
    State(state): State<AppState>,
    Query(params): Query<SearchQuery>,
) -> Result<Response, AppError> {
    let query: String = params
        .q
        .unwrap_or_default()
        .trim()
        .chars()
        .take(500)
        .collect();
    let page = match params.page.as_deref() {
        None | Some("") => PageNumber::FIRST,
        Some(raw) => PageNumber::parse(raw).ok_or(AppError::NotFound)?,
    };
    let per_page = state.site().posts_per_page;
    let results = state.store().search(&query, page, per_page).await?;
    if page != PageNumber::FIRST && results.is_past_the_end() {
        return Err(AppError::NotFound);
    }
    let encoded = form_urlencode(&query);
    let title = if query.is_empty() {
        "Search".to_owned()
    } else {
        format!("Search Results for “{query}”")
    };
    let mut layout = Layout::full(&state, &title, &format!("/search?q={encoded}")).await?;
    layout.body_class = "search";
    layout.search_query = query.clone();
    layout.noindex = true;
    let summary = match results.total {
        0 => "No posts found.".to_owned(),
        1 => "1 post found.".to_owned(),
        n => format!("{n} posts found."),
    };
    let page = SearchPage {
        pager: Pager::new(&results, |n| format!("/search?q={encoded}&page={n}")),
        hits: results
            .items
            .iter()
            .map(|hit| HitView {
                post: PostView::new(&hit.post),
                snippet: hit.snippet_html.clone(),
            })
            .collect(),
        layout,
        query,
        summary,
    };
    render(&page, last_modified(&state, None))
}

/// 301 to a path on this site, as WordPress answers for moved content, so that search engines
/// move their links.
pub(crate) fn moved_permanently(target: &str) -> Response {
    (
        StatusCode::MOVED_PERMANENTLY,
        [(header::LOCATION, crate::location::same_site(target))],
    )
        .into_response()
}

fn paged(base: &str, n: u32) -> String {
    if n <= 1 {
        base.to_owned()
    } else {
        format!("{base}page/{n}/")
    }
}

pub(crate) fn absolute(base_url: &str, path_or_url: &str) -> String {
    if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
        path_or_url.to_owned()
    } else {
        format!("{base_url}{path_or_url}")
    }
}

/// Percent-encodes a query value (`application/x-www-form-urlencoded`: spaces as `+`).
pub(crate) fn form_urlencode(raw: &str) -> String {
    crate::views::percent_encode(raw).replace("%20", "+")
}

/// A page changes when any content does (its sidebar lists the newest posts), so its
/// Last-Modified is the site's last change, or the newest time on the page itself if later (a
/// post whose publication time has just come). Unknown until the first look at the database.
fn last_modified(state: &AppState, on_page: Option<OffsetDateTime>) -> Option<OffsetDateTime> {
    match (state.cache().last_change(), on_page) {
        (Some(site), Some(page)) => Some(site.max(page)),
        (site, page) => site.or(page),
    }
}

fn render(
    page: &impl Template,
    last_modified: Option<OffsetDateTime>,
) -> Result<Response, AppError> {
    let html = page.render()?;
    let mut headers = HeaderMap::new();
    if let Some(at) = last_modified
        && let Ok(value) = HeaderValue::from_str(&httpdate::fmt_http_date(at.into()))
    {
        headers.insert(header::LAST_MODIFIED, value);
    }
    Ok((headers, Html(html)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wordpress_paths_are_understood() {
        let p = |s: &str| ContentPath::parse(s).map(|(c, n)| (c, n.get()));
        assert_eq!(p("/"), Some((ContentPath::Home, 1)));
        assert_eq!(p("/page/3/"), Some((ContentPath::Home, 3)));
        assert_eq!(p("/page/0/"), None);
        assert_eq!(p("/page/-1/"), None);
        assert_eq!(p("/page/abc/"), None);
        assert_eq!(
            p("/2024/03/05/hello/"),
            Some((
                ContentPath::Post {
                    year: 2024,
                    month: 3,
                    day: 5,
                    slug: "hello".into(),
                    comment_page: 1,
                    post_page: 1,
                },
                1
            ))
        );
        assert_eq!(
            p("/2024/03/05/hello/comment-page-2/"),
            Some((
                ContentPath::Post {
                    year: 2024,
                    month: 3,
                    day: 5,
                    slug: "hello".into(),
                    comment_page: 2,
                    post_page: 1,
                },
                1
            ))
        );
        assert_eq!(p("/2024/03/05/hello/comment-page-x/"), None);
        assert_eq!(
            p("/2024/03/05/hello/3/"),
            Some((
                ContentPath::Post {
                    year: 2024,
                    month: 3,
                    day: 5,
                    slug: "hello".into(),
                    comment_page: 1,
                    post_page: 3,
                },
                1
            ))
        );
        assert_eq!(p("/2024/03/05/hello/0/"), None);
        assert_eq!(p("/2024/03/05/hello/02/"), None);
        assert_eq!(
            p("/category/news/local/page/2/"),
            Some((
                ContentPath::Category {
                    slug: "local".into()
                },
                2
            ))
        );
        assert_eq!(
            p("/2024/"),
            Some((
                ContentPath::Date {
                    year: 2024,
                    month: None,
                    day: None
                },
                1
            ))
        );
        assert_eq!(
            p("/about/"),
            Some((
                ContentPath::Page {
                    slug: "about".into()
                },
                1
            ))
        );
        assert_eq!(p("/about/page/2/"), None);
        assert_eq!(
            p("/about/team/"),
            Some((
                ContentPath::Page {
                    slug: "team".into()
                },
                1
            ))
        );
        use crate::feeds::{Archive, Format};
        let feed = |archive, format| Some((ContentPath::ArchiveFeed { archive, format }, 1));
        assert_eq!(
            p("/category/news/local/feed/"),
            feed(Archive::Category("local".into()), Format::Rss)
        );
        assert_eq!(
            p("/tag/rust/feed/atom/"),
            feed(Archive::Tag("rust".into()), Format::Atom)
        );
        assert_eq!(
            p("/author/ann/feed/rss2/"),
            feed(Archive::Author("ann".into()), Format::Rss)
        );
        // A category whose slug is "feed" is still an archive.
        assert_eq!(
            p("/category/feed/"),
            Some((
                ContentPath::Category {
                    slug: "feed".into()
                },
                1
            ))
        );
        assert_eq!(p("/about/team/page/2/"), None);
        assert_eq!(p("/a/b/c/d/e/f/g/h/i/"), None);
    }

    #[test]
    fn bad_dates_are_not_archives() {
        let utc = SiteZone::UTC;
        assert!(date_range(2024, Some(13), None, &utc).is_none());
        assert!(date_range(2024, Some(2), Some(30), &utc).is_none());
        assert!(date_range(20000, None, None, &utc).is_none());
        assert!(date_range(2024, Some(12), None, &utc).is_some());
    }
}
