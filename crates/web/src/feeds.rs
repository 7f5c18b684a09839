//! RSS 2.0, Atom, a post's comments feed, the sitemap and robots.txt. Every link in them is
//! absolute, built from `site.base_url`.

use atom_syndication as atom;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use folio_domain::text::make_xml_safe;
use folio_domain::{PageNumber, PostSummary};
use folio_storage::PostFilter;
use rss::extension::dublincore::DublinCoreExtension;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

use crate::AppState;
use crate::error::AppError;
use crate::views::iso;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/feed/", get(rss))
        .route("/feed/atom/", get(atom))
        .route("/comments/feed/", get(comments))
        .route("/sitemap.xml", get(sitemap))
        .route("/robots.txt", get(robots))
}

pub async fn rss(State(state): State<AppState>) -> Result<Response, AppError> {
    let site = state.site();
    let posts = latest_posts(&state).await?;
    let items = posts
        .iter()
        .map(|post| rss_item(&site.base_url, post))
        .collect();
    let built = posts
        .first()
        .map(|p| p.updated_at.max(p.published_at.unwrap_or(p.updated_at)));
    Ok(rss_channel(
        &state,
        site.title.clone(),
        format!("{}/", site.base_url),
        format!("{}/feed/", site.base_url),
        built,
        items,
    ))
}

pub async fn atom(State(state): State<AppState>) -> Result<Response, AppError> {
    let site = state.site();
    let posts = latest_posts(&state).await?;
    let updated = posts
        .iter()
        .map(|p| p.updated_at.max(p.published_at.unwrap_or(p.updated_at)))
        .max()
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let entries = posts
        .iter()
        .map(|post| {
            let url = format!("{}{}", site.base_url, post.path());
            let published = post.published_at.unwrap_or(post.updated_at);
            atom::Entry {
                title: atom::Text::plain(post.title.clone()),
                id: url.clone(),
                updated: fixed(post.updated_at.max(published)),
                published: Some(fixed(published)),
                authors: vec![atom::Person {
                    name: post.author.display_name.clone(),
                    uri: Some(format!("{}/author/{}/", site.base_url, post.author.slug)),
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
                    value: Some(post.html.clone()),
                    ..Default::default()
                }),
                ..Default::default()
            }
        })
        .collect();
    let feed = atom::Feed {
        title: atom::Text::plain(site.title.clone()),
        id: format!("{}/", site.base_url),
        updated: fixed(updated),
        subtitle: (!site.tagline.is_empty()).then(|| atom::Text::plain(site.tagline.clone())),
        links: vec![
            atom::Link {
                href: format!("{}/", site.base_url),
                rel: "alternate".to_owned(),
                mime_type: Some("text/html".to_owned()),
                ..Default::default()
            },
            atom::Link {
                href: format!("{}/feed/atom/", site.base_url),
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
    Ok(xml("application/atom+xml; charset=utf-8", feed.to_string()))
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
    let post_url = format!("{}{}", site.base_url, post_path);
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
                &format!("{}{}", site.base_url, post.path),
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

pub async fn sitemap(State(state): State<AppState>) -> Result<Response, AppError> {
    let base = &state.site().base_url;
    let entries = state.store().sitemap_entries().await?;
    let mut body = String::with_capacity(128 + entries.len() * 120);
    body.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n");
    body.push_str(&format!("<url><loc>{}/</loc></url>\n", escape_xml(base)));
    for entry in entries {
        body.push_str(&format!(
            "<url><loc>{}{}</loc><lastmod>{}</lastmod></url>\n",
            escape_xml(base),
            escape_xml(&entry.path),
            iso(entry.updated_at)
        ));
    }
    body.push_str("</urlset>\n");
    Ok(xml("application/xml; charset=utf-8", body))
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

async fn latest_posts(state: &AppState) -> Result<Vec<PostSummary>, AppError> {
    let listing = state
        .store()
        .published_posts(&PostFilter::All, PageNumber::FIRST, state.site().feed_items)
        .await?;
    // Feeds are public: a protected post is listed with its title and without its body.
    Ok(listing.items.into_iter().map(PostSummary::sealed).collect())
}

fn rss_item(base_url: &str, post: &PostSummary) -> rss::Item {
    let url = format!("{base_url}{}", post.path());
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
        content: Some(post.html.clone()),
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
        description: Some(comment.html.clone()),
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
