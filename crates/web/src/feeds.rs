//! RSS 2.0, Atom, a post's comments feed, the sitemap and robots.txt. Every link in them is
//! absolute, built from `site.base_url`.

use atom_syndication as atom;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use folio_domain::text::make_xml_safe;
use folio_domain::{PageNumber, PostSummary, Taxonomy};
use folio_storage::{PostFilter, SitemapEntry};
use rss::extension::dublincore::DublinCoreExtension;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

use crate::AppState;
use crate::error::AppError;
use crate::views::{iso, url_path};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/feed/", get(rss))
        .route("/feed/atom/", get(atom))
        .route("/comments/feed/", get(comments))
        // Without the slash it would be read as comment number "feed".
        .route(
            "/comments/feed",
            get(|| async { crate::pages::moved_permanently("/comments/feed/") }),
        )
        .route("/sitemap.xml", get(sitemap))
        .route("/sitemap/{file}", get(sitemap_part))
        .route("/robots.txt", get(robots))
}

pub async fn rss(State(state): State<AppState>) -> Result<Response, AppError> {
    let site = state.site();
    let posts = latest_posts(&state, &PostFilter::All).await?;
    Ok(rss_feed(
        &state,
        site.title.clone(),
        format!("{}/", site.base_url),
        &posts,
    ))
}

pub async fn atom(State(state): State<AppState>) -> Result<Response, AppError> {
    let site = state.site();
    let posts = latest_posts(&state, &PostFilter::All).await?;
    Ok(atom_feed(
        &state,
        site.title.clone(),
        format!("{}/", site.base_url),
        &posts,
    ))
}

/// An archive that has its own feed, by the slug in its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Archive {
    Category(String),
    Tag(String),
    Author(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Rss,
    Atom,
}

/// `/category/x/feed/`, `/tag/x/feed/`, `/author/x/feed/` (and `feed/atom/`): the newest
/// posts of one archive, as WordPress offers them.
pub(crate) async fn archive(
    state: &AppState,
    archive: Archive,
    format: Format,
) -> Result<Response, AppError> {
    let site = state.site();
    let store = state.store();
    let (filter, name, path) = match &archive {
        Archive::Category(slug) | Archive::Tag(slug) => {
            let taxonomy = match archive {
                Archive::Category(_) => Taxonomy::Category,
                _ => Taxonomy::Tag,
            };
            let term = store
                .term_by_slug(taxonomy, slug)
                .await?
                .ok_or(AppError::NotFound)?;
            let filter = match taxonomy {
                Taxonomy::Category => {
                    PostFilter::Terms(store.category_and_descendants(term.id).await?)
                }
                Taxonomy::Tag => PostFilter::Terms(vec![term.id]),
            };
            (filter, term.name.clone(), term.path())
        }
        Archive::Author(slug) => {
            let author = store.user_by_slug(slug).await?.ok_or(AppError::NotFound)?;
            (
                PostFilter::Author(author.id),
                author.display_name.clone(),
                format!("/author/{}/", author.slug),
            )
        }
    };
    let posts = latest_posts(state, &filter).await?;
    if posts.is_empty() && matches!(archive, Archive::Author(_)) {
        // As the author archive: readers who never wrote a post have no public page.
        return Err(AppError::NotFound);
    }
    let title = format!("{} » {name}", site.title);
    let link = format!("{}{}", site.base_url, url_path(&path));
    Ok(match format {
        Format::Rss => rss_feed(state, title, link, &posts),
        Format::Atom => atom_feed(state, title, link, &posts),
    })
}

/// The newest posts as RSS 2.0; `link` is the page they are listed on, the feed is at
/// `{link}feed/`.
fn rss_feed(state: &AppState, title: String, link: String, posts: &[PostSummary]) -> Response {
    let site = state.site();
    let items = posts
        .iter()
        .map(|post| rss_item(&site.base_url, post))
        .collect();
    let built = posts
        .first()
        .map(|p| p.updated_at.max(p.published_at.unwrap_or(p.updated_at)));
    let self_url = format!("{link}feed/");
    rss_channel(state, title, link, self_url, built, items)
}

/// The newest posts as Atom; `link` is the page they are listed on, the feed is at
/// `{link}feed/atom/`.
fn atom_feed(state: &AppState, title: String, link: String, posts: &[PostSummary]) -> Response {
    let site = state.site();
    let updated = posts
        .iter()
        .map(|p| p.updated_at.max(p.published_at.unwrap_or(p.updated_at)))
        .max()
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let entries = posts
        .iter()
        .map(|post| {
            let url = format!("{}{}", site.base_url, url_path(&post.path()));
            let published = post.published_at.unwrap_or(post.updated_at);
            atom::Entry {
                title: atom::Text::plain(post.title.clone()),
                id: url.clone(),
                updated: fixed(post.updated_at.max(published)),
                published: Some(fixed(published)),
                authors: vec![atom::Person {
                    name: post.author.display_name.clone(),
                    uri: Some(format!(
                        "{}{}",
                        site.base_url,
                        url_path(&format!("/author/{}/", post.author.slug))
                    )),
                    ..Default::default()
                }],
                links: vec![atom::Link {
                    href: url,
                    rel: "alternate".to_owned(),
                    mime_type: Some("text/html".to_owned()),
                    ..Default::default()
                }],
                categories: post
                    .categories
                    .iter()
                    .chain(&post.tags)
                    .map(|t| atom::Category {
                        term: t.name.clone(),
                        ..Default::default()
                    })
                    .collect(),
                summary: Some(atom::Text::plain(post.excerpt.clone())),
                content: Some(atom::Content {
                    content_type: Some("html".to_owned()),
                    value: Some(absolute_links(&post.html, &site.base_url)),
                    ..Default::default()
                }),
                ..Default::default()
            }
        })
        .collect();
    let feed = atom::Feed {
        title: atom::Text::plain(title),
        id: link.clone(),
        updated: fixed(updated),
        subtitle: (!site.tagline.is_empty()).then(|| atom::Text::plain(site.tagline.clone())),
        links: vec![
            atom::Link {
                href: link.clone(),
                rel: "alternate".to_owned(),
                mime_type: Some("text/html".to_owned()),
                ..Default::default()
            },
            atom::Link {
                href: format!("{link}feed/atom/"),
                rel: "self".to_owned(),
                mime_type: Some("application/atom+xml".to_owned()),
                ..Default::default()
            },
        ],
        generator: Some(atom::Generator {
            value: "Folio".to_owned(),
            ..Default::default()
        }),
        lang: Some(site.language.clone()),
        entries,
        ..Default::default()
    };
    xml("application/atom+xml; charset=utf-8", feed.to_string())
}

/// `/YYYY/MM/DD/slug/feed/`: the newest approved comments on one post.
pub async fn post_comments(
    state: &AppState,
    post_path: &str,
    slug: &str,
) -> Result<Response, AppError> {
    let site = state.site();
    let post = state
        .store()
        .published_post(slug)
        .await?
        .ok_or(AppError::NotFound)?;
    if post.summary.path() != post_path {
        return Err(AppError::NotFound);
    }
    let post_url = format!("{}{}", site.base_url, url_path(post_path));
    // A protected post's comments are behind its password, in feeds as on the page.
    let comments = match post.password {
        Some(_) => Vec::new(),
        None => {
            state
                .store()
                .latest_approved_comments(post.summary.id, u64::from(site.feed_items))
                .await?
        }
    };
    let post = post.summary.sealed();
    let items = comments
        .iter()
        .map(|comment| {
            comment_item(
                &site.base_url,
                comment,
                &post_url,
                format!("By: {}", comment.author_name),
            )
        })
        .collect();
    Ok(rss_channel(
        state,
        format!("Comments on: {}", post.title),
        post_url.clone(),
        format!("{post_url}feed/"),
        comments.first().map(|c| c.created_at),
        items,
    ))
}

/// `/comments/feed/`: the newest approved comments across the site.
pub async fn comments(State(state): State<AppState>) -> Result<Response, AppError> {
    let site = state.site();
    let recent = state
        .store()
        .recent_approved_comments(u64::from(site.feed_items))
        .await?;
    let items = recent
        .iter()
        .map(|(comment, post)| {
            comment_item(
                &site.base_url,
                comment,
                &format!("{}{}", site.base_url, url_path(&post.path)),
                format!("Comment on {} by {}", post.title, comment.author_name),
            )
        })
        .collect();
    Ok(rss_channel(
        &state,
        format!("Comments for {}", site.title),
        format!("{}/", site.base_url),
        format!("{}/comments/feed/", site.base_url),
        recent.first().map(|(c, _)| c.created_at),
        items,
    ))
}

/// `/sitemap.xml`: every address, or, past `site.sitemap_urls_per_file` of them, an index of the files
/// `/sitemap/N.xml` that hold them.
pub async fn sitemap(State(state): State<AppState>) -> Result<Response, AppError> {
    let base = &state.site().base_url;
    let entries = state.store().sitemap_entries().await?;
    let per_file = sitemap_file_size(&state);
    let body = match sitemap_parts(entries.len(), per_file) {
        1 => urlset(base, true, &entries),
        parts => {
            let mut body = String::from(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
            );
            for part in 1..=parts {
                let newest = sitemap_part_entries(&entries, part, per_file)
                    .iter()
                    .map(|e| e.updated_at)
                    .max();
                body.push_str(&format!(
                    "<sitemap><loc>{}/sitemap/{part}.xml</loc>{}</sitemap>\n",
                    escape_xml(base),
                    newest
                        .map(|at| format!("<lastmod>{}</lastmod>", iso(at)))
                        .unwrap_or_default()
                ));
            }
            body.push_str("</sitemapindex>\n");
            body
        }
    };
    Ok(xml("application/xml; charset=utf-8", body))
}

/// `/sitemap/N.xml`: the Nth file of a sitemap too long for one.
async fn sitemap_part(
    State(state): State<AppState>,
    axum::extract::Path(file): axum::extract::Path<String>,
) -> Result<Response, AppError> {
    let part = file
        .strip_suffix(".xml")
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n >= 1)
        .ok_or(AppError::NotFound)?;
    let entries = state.store().sitemap_entries().await?;
    let per_file = sitemap_file_size(&state);
    let parts = sitemap_parts(entries.len(), per_file);
    if parts == 1 || part > parts {
        return Err(AppError::NotFound);
    }
    let base = &state.site().base_url;
    Ok(xml(
        "application/xml; charset=utf-8",
        urlset(
            base,
            part == 1,
            sitemap_part_entries(&entries, part, per_file),
        ),
    ))
}

fn sitemap_file_size(state: &AppState) -> usize {
    usize::try_from(state.site().sitemap_urls_per_file)
        .unwrap_or(usize::MAX)
        .max(1)
}

/// How many files the sitemap takes: the front page and each entry, `per_file` a file.
fn sitemap_parts(entries: usize, per_file: usize) -> usize {
    (entries + 1).div_ceil(per_file).max(1)
}

/// The entries of file `part` (from 1); the first file also holds the front page, so it has
/// one entry fewer.
fn sitemap_part_entries(entries: &[SitemapEntry], part: usize, per_file: usize) -> &[SitemapEntry] {
    let start = ((part - 1) * per_file).saturating_sub(1).min(entries.len());
    let end = (part * per_file - 1).min(entries.len());
    &entries[start..end]
}

fn urlset(base: &str, with_front_page: bool, entries: &[SitemapEntry]) -> String {
    let mut body = String::with_capacity(128 + entries.len() * 120);
    body.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n");
    if with_front_page {
        body.push_str(&format!("<url><loc>{}/</loc></url>\n", escape_xml(base)));
    }
    for entry in entries {
        body.push_str(&format!(
            "<url><loc>{}{}</loc><lastmod>{}</lastmod></url>\n",
            escape_xml(base),
            escape_xml(&url_path(&entry.path)),
            iso(entry.updated_at)
        ));
    }
    body.push_str("</urlset>\n");
    body
}

pub async fn robots(State(state): State<AppState>, _uri: Uri) -> Response {
    let body = format!(
        "User-agent: *\nDisallow: /admin/\nDisallow: /auth/\nDisallow: /search\n\nSitemap: {}/sitemap.xml\n",
        state.site().base_url
    );
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

async fn latest_posts(state: &AppState, filter: &PostFilter) -> Result<Vec<PostSummary>, AppError> {
    let listing = state
        .store()
        .published_posts(filter, PageNumber::FIRST, state.site().feed_items)
        .await?;
    // Feeds are public: a protected post is listed with its title and without its body.
    Ok(listing.items.into_iter().map(PostSummary::sealed).collect())
}

fn rss_item(base_url: &str, post: &PostSummary) -> rss::Item {
    let url = format!("{base_url}{}", url_path(&post.path()));
    rss::Item {
        title: Some(post.title.clone()),
        link: Some(url.clone()),
        guid: Some(rss::Guid {
            value: url.clone(),
            permalink: true,
        }),
        pub_date: Some(rfc2822(post.published_at.unwrap_or(post.updated_at))),
        // RSS's description holds HTML, and the excerpt is plain text (it may quote markup,
        // as a post about HTML does): escaped, a feed reader shows it as written.
        description: Some(html_escape(&post.excerpt)),
        content: Some(absolute_links(&post.html, base_url)),
        comments: Some(format!("{url}#comments")),
        categories: post
            .categories
            .iter()
            .chain(&post.tags)
            .map(|t| rss::Category {
                name: t.name.clone(),
                domain: None,
            })
            .collect(),
        dublin_core_ext: Some(DublinCoreExtension {
            creators: vec![post.author.display_name.clone()],
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// An RSS 2.0 answer: every feed of the site shares its language, description and generator,
/// and names its own URL.
fn rss_channel(
    state: &AppState,
    title: String,
    link: String,
    self_url: String,
    last_build: Option<OffsetDateTime>,
    items: Vec<rss::Item>,
) -> Response {
    let site = state.site();
    let channel = rss::Channel {
        title,
        link,
        atom_ext: self_link(self_url),
        // Feed readers read a channel's description as HTML too; the tagline is plain text.
        description: html_escape(&site.tagline),
        language: Some(site.language.clone()),
        last_build_date: last_build.map(rfc2822),
        generator: Some("Folio".to_owned()),
        items,
        ..Default::default()
    };
    xml("application/rss+xml; charset=utf-8", channel.to_string())
}

/// One comment as a feed item, linking to its anchor on the post.
/// The link is the comment's permalink, which finds the comment page it is on (a long
/// thread's later comments are not on the post's first page); the guid stays the anchor on
/// the post, as it always was, so feed readers do not see old comments as new.
fn comment_item(
    base_url: &str,
    comment: &folio_domain::Comment,
    post_url: &str,
    title: String,
) -> rss::Item {
    rss::Item {
        title: Some(title),
        link: Some(format!("{base_url}/comments/{}/", comment.id)),
        guid: Some(rss::Guid {
            value: format!("{post_url}#comment-{}", comment.id),
            permalink: false,
        }),
        pub_date: Some(rfc2822(comment.created_at)),
        description: Some(absolute_links(&comment.html, base_url)),
        dublin_core_ext: Some(DublinCoreExtension {
            creators: vec![comment.author_name.clone()],
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// `<atom:link rel="self">`: feed readers and validators expect a feed to name its own URL.
fn self_link(url: String) -> Option<rss::extension::atom::AtomExtension> {
    Some(rss::extension::atom::AtomExtension {
        links: vec![atom::Link {
            href: url,
            rel: "self".to_owned(),
            mime_type: Some("application/rss+xml".to_owned()),
            ..Default::default()
        }],
    })
}

/// Feed readers have no page to resolve a link against: `href="/…"` and `src="/…"` in a
/// post's or comment's HTML become absolute on `base_url`. Protocol-relative `//host/…` and
/// full URLs are left as they are.
fn absolute_links(html: &str, base_url: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    let next = |text: &str| match (text.find("=\"/"), text.find("='/")) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    while let Some(at) = next(rest) {
        let (before, after) = rest.split_at(at + 2);
        out.push_str(before);
        let attribute = before[..at]
            .rsplit(|c: char| c.is_ascii_whitespace())
            .next()
            .unwrap_or("");
        let is_link =
            attribute.eq_ignore_ascii_case("href") || attribute.eq_ignore_ascii_case("src");
        if is_link && !after.starts_with("//") {
            out.push_str(base_url);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

fn rfc2822(at: OffsetDateTime) -> String {
    at.format(&Rfc2822).unwrap_or_default()
}

fn fixed(at: OffsetDateTime) -> atom::FixedDateTime {
    atom::FixedDateTime::parse_from_rfc3339(&iso(at)).unwrap_or_default()
}

/// Plain text as HTML that shows it: what the XML writer then escapes once more.
fn html_escape(text: &str) -> String {
    escape_xml(text).replace('\'', "&#39;")
}

fn escape_xml(raw: &str) -> String {
    raw.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Every feed and the sitemap leave through here. Text entering Folio is already without the
/// characters XML 1.0 forbids, but rows stored before that rule (or rendered from a character
/// reference such as `&#27;`) may hold some, and one of them makes the whole document
/// unreadable. The writers never put such a character in markup, only in text and attribute
/// values, so dropping them from the document leaves well-formed XML.
fn xml(content_type: &'static str, mut body: String) -> Response {
    make_xml_safe(&mut body);
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::{SitemapEntry, absolute_links, sitemap_part_entries, sitemap_parts};

    const SITEMAP_URLS: usize = 20_000;

    #[test]
    fn a_long_sitemap_splits_into_files_that_hold_every_address_once() {
        let at = time::OffsetDateTime::UNIX_EPOCH;
        for count in [
            0,
            SITEMAP_URLS - 1,
            SITEMAP_URLS,
            2 * SITEMAP_URLS + 5,
            100_000,
        ] {
            let entries: Vec<SitemapEntry> = (0..count)
                .map(|i| SitemapEntry {
                    path: format!("/p{i}/"),
                    updated_at: at,
                })
                .collect();
            let parts = sitemap_parts(count, SITEMAP_URLS);
            assert_eq!(parts, (count + 1).div_ceil(SITEMAP_URLS).max(1), "{count}");
            let mut seen = Vec::new();
            for part in 1..=parts {
                let files = sitemap_part_entries(&entries, part, SITEMAP_URLS);
                // The first file also holds the front page.
                let urls = files.len() + usize::from(part == 1);
                assert!(urls <= SITEMAP_URLS, "{count}: file {part} has {urls}");
                seen.extend(files.iter().map(|e| e.path.clone()));
            }
            let all: Vec<String> = entries.iter().map(|e| e.path.clone()).collect();
            assert_eq!(seen, all, "{count}");
        }
    }

    #[test]
    fn relative_links_in_feed_content_become_absolute() {
        let base = "https://blog.example";
        assert_eq!(
            absolute_links(
                r#"<p><a href="/2024/03/05/hi/">hi</a> <img src="/media/a.png" alt="/x"></p>"#,
                base
            ),
            r#"<p><a href="https://blog.example/2024/03/05/hi/">hi</a> <img src="https://blog.example/media/a.png" alt="/x"></p>"#
        );
        let untouched = r#"<a href="https://else.example/x">x</a><img src="//cdn.example/a.png"><a title="/x">t</a>"#;
        assert_eq!(absolute_links(untouched, base), untouched);
    }
}
