//! The attack corpus (tests/fixtures/attack-corpus/) pushed through every way into Folio and
//! read back from every way out, as the software of Folio's readers reads it: HTML pages and
//! the admin through an HTML parser, feeds through PyPI's feedparser, the sitemap through a
//! strict XML parser, email from a real SMTP server. Nothing may become live markup, no
//! document may stop parsing, no redirect may leave the site, and nothing may answer 5xx.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::smtp::Smtp;
use common::{Idp, Reader, TestApp, comment_id_of, csrf_of, days_ago, location};
use folio_auth::ProviderKind;
use folio_domain::Role;
use folio_server::Settings;
use folio_storage::NewUser;
use folio_testkit::inspect::{Document, FeedReading, read_all};
use folio_testkit::{OAuthStandIn, StandInUser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// ---------------------------------------------------------------------------------------
// The corpus and the checks

/// The payloads of one corpus file, escapes decoded (see the corpus README).
fn corpus(name: &str) -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/attack-corpus")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let payloads: Vec<String> = text
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(unescape)
        .collect();
    assert!(
        payloads.len() >= 10,
        "{name} has only {} payloads",
        payloads.len()
    );
    payloads
}

fn unescape(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let (decoded, used) = match rest.as_bytes().get(1) {
            Some(b'x') if rest.len() >= 4 => {
                let byte = u8::from_str_radix(&rest[2..4], 16).expect("\\xHH");
                assert!(byte < 0x80, "\\x{byte:02x}: write \\u{{..}} above 0x7f");
                (char::from(byte), 4)
            }
            Some(b'u') if rest[1..].starts_with("u{") => {
                let end = rest.find('}').expect("\\u{...}");
                let code = u32::from_str_radix(&rest[3..end], 16).expect("\\u{hex}");
                (char::from_u32(code).expect("a character"), end + 1)
            }
            Some(b'n') => ('\n', 2),
            Some(b'r') => ('\r', 2),
            Some(b't') => ('\t', 2),
            Some(b'\\') => ('\\', 2),
            _ => ('\\', 1),
        };
        out.push(decoded);
        rest = &rest[used..];
    }
    out.push_str(rest);
    out
}

/// Characters XML 1.0 forbids.
fn forbidden(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| !folio_domain::text::is_xml_char(c))
        .collect()
}

/// Whether a browser on this site, following `location`, stays on it (resolved as browsers
/// resolve it: backslashes as slashes, tabs and line breaks dropped).
fn stays_on_site(app: &TestApp, location: &str) -> bool {
    let base = reqwest::Url::parse(&app.address).unwrap();
    base.join(location).is_ok_and(|url| {
        url.scheme() == base.scheme()
            && url.host_str() == base.host_str()
            && url.port_or_known_default() == base.port_or_known_default()
    })
}

/// GET with the request target sent byte for byte (an HTTP client library would normalise
/// `/\x` and `/../`): the status and the `Location`, if any.
async fn raw_get(app: &TestApp, target: &str) -> (u16, Option<String>) {
    let host = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let request = format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut response))
        .await
        .unwrap_or_else(|_| panic!("GET {target:?}: no answer in 30 s"))
        .unwrap();
    let text = String::from_utf8_lossy(&response);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("GET {target:?}: no status line in {head:?}"));
    let location = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("location")
            .then(|| value.trim().to_owned())
    });
    (status, location)
}

/// Reads every document; panics naming each one with live markup, a feed feedparser calls
/// malformed, or XML a strict parser refuses.
async fn assert_inert(documents: &[(String, Document<'_>)]) {
    let readings = read_all(
        &documents
            .iter()
            .map(|(_, d)| match d {
                Document::Feed(t) => Document::Feed(t),
                Document::Xml(t) => Document::Xml(t),
                Document::Html(t) => Document::Html(t),
            })
            .collect::<Vec<_>>(),
    )
    .await;
    let mut problems = Vec::new();
    for ((name, document), reading) in documents.iter().zip(readings) {
        match document {
            Document::Feed(_) => {
                let feed = reading.feed();
                if feed.bozo {
                    problems.push(format!("{name}: feedparser: {}", feed.bozo_exception));
                }
                // RSS has no type for titles: Folio sends them as plain text (escaped once for
                // XML), and checks below that they arrive as written. feedparser guesses HTML
                // for a title that looks like markup; that guess is the reader's, not Folio's.
                for field in feed.fields.iter().filter(|f| !f.place.ends_with(".title")) {
                    if !field.live.is_empty() {
                        problems.push(format!(
                            "{name} {} ({}): live {:?}",
                            field.place, field.kind, field.live
                        ));
                    }
                }
            }
            Document::Xml(_) => {
                let xml = reading.xml();
                if !xml.ok {
                    problems.push(format!("{name}: not XML 1.0: {}", xml.error));
                }
            }
            Document::Html(text) => {
                let live = reading.html().live;
                if !live.is_empty() {
                    problems.push(format!("{name}: live {live:?}"));
                }
                let bad = forbidden(text);
                if !bad.is_empty() {
                    problems.push(format!("{name}: characters XML forbids: {bad:?}"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------------------
// People

/// A signed-in admin with a session opened in the store, as a sign-in would.
struct Admin {
    cookie: String,
    csrf: String,
    /// Posts written so far: each is dated a minute after the one before.
    written: std::cell::Cell<i64>,
}

impl Admin {
    async fn new(app: &TestApp) -> Admin {
        let user = app
            .store
            .create_user(NewUser {
                display_name: "Ada Admin".to_owned(),
                slug: None,
                email: Some("ada@example.org".to_owned()),
                avatar_url: None,
                bio: String::new(),
                role: Role::Admin,
            })
            .await
            .unwrap();
        let (cookie, csrf) = folio_web::open_session_for(&app.store, user.id)
            .await
            .unwrap();
        Admin {
            cookie,
            csrf,
            written: std::cell::Cell::new(0),
        }
    }

    async fn get(&self, app: &TestApp, path: &str) -> String {
        let response = app
            .client
            .get(app.url(path))
            .header(
                "cookie",
                format!("{}={}", folio_web::SESSION_COOKIE, self.cookie),
            )
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(status, 200, "GET {path} answered {status}: {body}");
        body
    }

    async fn post(&self, app: &TestApp, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let mut fields = vec![("_csrf", self.csrf.as_str())];
        fields.extend_from_slice(form);
        app.client
            .post(app.url(path))
            .header(
                "cookie",
                format!("{}={}", folio_web::SESSION_COOKIE, self.cookie),
            )
            .form(&fields)
            .send()
            .await
            .unwrap()
    }

    /// Writes and publishes a post through the editor; returns its id. Dated three days ago
    /// (a minute apart, in the order written), past the window in which the mail worker
    /// announces new posts, so that no worker write races the test's own on SQLite.
    async fn write(
        &self,
        app: &TestApp,
        title: &str,
        source: &str,
        excerpt: &str,
        tags: &str,
    ) -> i64 {
        let written = self.written.get();
        self.written.set(written + 1);
        let at = days_ago(3) + time::Duration::minutes(written);
        let publish_at = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute()
        );
        let response = self
            .post(
                app,
                "/admin/posts/new",
                &[
                    ("publish_at", &publish_at),
                    ("title", title),
                    ("source", source),
                    ("excerpt", excerpt),
                    ("tags", tags),
                    ("categories", ""),
                    ("comments_open", "on"),
                    ("status", "published"),
                ],
            )
            .await;
        let status = response.status();
        assert_eq!(status, 303, "{title:?}: {}", response.text().await.unwrap());
        location(&response)
            .trim_start_matches("/admin/posts/")
            .parse()
            .unwrap()
    }

    async fn set_tagline(&self, app: &TestApp, tagline: &str) {
        let response = self
            .post(
                app,
                "/admin/settings",
                &[
                    ("title", "Test Blog"),
                    ("tagline", tagline),
                    ("posts_per_page", "10"),
                    ("moderation", "off"),
                    ("max_depth", "5"),
                    ("edit_window_minutes", "15"),
                    ("close_after_days", "0"),
                ],
            )
            .await;
        assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    }
}

/// The path of post `id` as the site shows it.
async fn path_of(app: &TestApp, id: i64) -> String {
    app.store
        .published_posts_by_ids(&[id])
        .await
        .unwrap()
        .into_iter()
        .next()
        .map(|p| p.path())
        .expect("the post")
}

fn open_site(settings: &mut Settings) {
    settings.comments.moderation = "off".into();
    settings.comments.per_user_per_minute = 0;
    settings.comments.per_address_per_minute = 0;
    settings.comments.max_links = 100;
    settings.site.feed_items = 100;
}

/// A GitHub-shaped provider with one reader named `name`.
fn github_with(name: &str) -> OAuthStandIn {
    let github = OAuthStandIn::start();
    github.add_user(StandInUser {
        id: 7,
        login: "mallory".into(),
        name: Some(name.into()),
        email: Some("mallory@example.org".into()),
        email_verified: true,
        avatar_url: None,
    });
    github
}

/// Posts a comment through the form; the answer must be a redirect to it (its id) or a
/// refusal in words (None), never a failure.
async fn comment(
    reader: &Reader,
    path: &str,
    post_id: i64,
    parent: Option<i64>,
    text: &str,
) -> Option<i64> {
    let response = reader.comment(path, post_id, parent, text).await;
    let status = response.status().as_u16();
    match status {
        303 => Some(comment_id_of(&location(&response))),
        400..=499 => None,
        _ => panic!(
            "comment {text:?} answered {status}: {}",
            response.text().await.unwrap_or_default()
        ),
    }
}

// ---------------------------------------------------------------------------------------
// Redirects

#[tokio::test]
async fn request_paths_naming_another_host_redirect_only_within_the_site() {
    let app = TestApp::spawn().await;
    let named = [
        "//evil.example/x",
        "/\\evil.example/x",
        "///evil.example/x",
        "/%2F%2Fevil.example",
        "/%5Cevil.example",
    ];
    let all = named
        .iter()
        .map(|p| (*p).to_owned())
        .chain(corpus("paths.txt"));
    for path in all {
        let (status, location) = raw_get(&app, &path).await;
        assert!(
            [200, 301, 302, 303, 307, 308, 400, 404].contains(&status),
            "GET {path:?} answered {status}"
        );
        let Some(location) = location.filter(|_| (300..400).contains(&status)) else {
            continue;
        };
        assert!(
            stays_on_site(&app, &location),
            "GET {path:?} sent the browser to {location:?}"
        );
        // Where it leads answers too, and stays here.
        let (next, further) = raw_get(&app, &location).await;
        assert!(
            [200, 301, 302, 303, 307, 308, 400, 404].contains(&next),
            "GET {path:?} -> {location:?} answered {next}"
        );
        if let Some(further) = further.filter(|_| (300..400).contains(&next)) {
            assert!(
                stays_on_site(&app, &further),
                "{path:?} -> {location:?} -> {further:?}"
            );
        }
    }
}

#[tokio::test]
async fn return_to_values_bring_the_reader_back_to_this_site() {
    let github = github_with("Mallory");
    let config = github.provider_config(ProviderKind::Github);
    let app = TestApp::spawn_with(|s| {
        s.auth.providers.insert("github".into(), config);
    })
    .await;
    for return_to in corpus("redirects.txt") {
        // Signed out, `/auth/logout` sends the browser straight to `return_to`.
        let (status, first) = raw_get(&app, &format!("/auth/logout?return_to={return_to}")).await;
        assert_eq!(status, 303, "logout with return_to={return_to:?}");
        let first = first.unwrap();
        assert!(
            stays_on_site(&app, &first),
            "logout with return_to={return_to:?} sent the browser to {first:?}"
        );

        // A whole sign-in, which ends at `return_to`.
        let reader = Reader::new(&app);
        let authorize = reader
            .get(&format!("/auth/github/login?return_to={return_to}"))
            .await;
        assert_eq!(
            authorize.status(),
            303,
            "login with return_to={return_to:?}"
        );
        let back = github.authorize(&location(&authorize), "mallory").await;
        let landed = reader.callback(&back).await;
        assert_eq!(
            landed.status(),
            303,
            "callback with return_to={return_to:?}"
        );
        let landed = location(&landed);
        assert!(
            stays_on_site(&app, &landed),
            "signing in with return_to={return_to:?} ended at {landed:?}"
        );

        // Signed in, the logout form's `return_to` is where the browser goes next.
        let csrf = csrf_of(&reader.page("/auth/logout").await);
        let out = reader
            .post_form(
                "/auth/logout",
                &[("_csrf", &csrf), ("return_to", &return_to)],
            )
            .await;
        assert_eq!(
            out.status(),
            303,
            "logout form with return_to={return_to:?}"
        );
        let out = location(&out);
        assert!(
            stays_on_site(&app, &out),
            "the logout form with return_to={return_to:?} sent the browser to {out:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Feeds

fn field<'a>(feed: &'a FeedReading, place: &str) -> &'a folio_testkit::inspect::FeedField {
    feed.fields
        .iter()
        .find(|f| f.place == place)
        .unwrap_or_else(|| panic!("no {place} in {feed:?}"))
}

/// HTML text as a reader shows it (the few references Folio's escaping writes).
fn shown(html: &str) -> String {
    html.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn feeds_carry_quoted_markup_as_text_and_posts_as_sanitized_html() {
    let app = TestApp::spawn_with(open_site).await;
    let admin = Admin::new(&app).await;
    admin
        .set_tagline(
            &app,
            "Notes on <b>markup</b> & <img src=x onerror=alert(1)>",
        )
        .await;
    let quoting = admin
        .write(
            &app,
            "Why <img src=x onerror=alert(1)> is dangerous",
            "Never let `<img src=x onerror=alert(1)>` through.\n\n<script>alert(2)</script> <a href=\"javascript:alert(3)\">x</a>",
            "",
            "<svg onload=alert(1)>",
        )
        .await;
    let excerpted = admin
        .write(
            &app,
            "An excerpt with markup",
            "The body.",
            "<b onmouseover=alert(1)>Bold</b> <script>alert(1)</script>",
            "",
        )
        .await;
    let quoting_path = path_of(&app, quoting).await;
    let (_reader, reader) = common::signed_in_reader(&app, "mallory").await;
    let _ = excerpted;
    comment(
        &reader,
        &quoting_path,
        quoting,
        None,
        "Try `<script>alert(1)</script>` and <img src=x onerror=alert(1)>",
    )
    .await
    .expect("the comment is accepted");

    let rss = app.page("/feed/").await;
    let atom = app.page("/feed/atom/").await;
    let comments = app.page("/comments/feed/").await;
    let post_comments = app.page(&format!("{quoting_path}feed/")).await;
    let documents = [
        ("/feed/".to_owned(), Document::Feed(&rss)),
        ("/feed/atom/".to_owned(), Document::Feed(&atom)),
        ("/comments/feed/".to_owned(), Document::Feed(&comments)),
        (
            format!("{quoting_path}feed/"),
            Document::Feed(&post_comments),
        ),
    ];
    assert_inert(&documents).await;

    // Plain text arrives as the same text: escaped once for HTML fields, as is for titles.
    let readings = read_all(&[Document::Feed(&rss), Document::Feed(&atom)]).await;
    let mut readings = readings.into_iter();
    let rss = readings.next().unwrap().feed();
    let atom = readings.next().unwrap().feed();
    assert_eq!(rss.version, "rss20");
    assert_eq!(atom.version, "atom10");
    assert_eq!(
        shown(&field(&rss, "feed.subtitle").value),
        "Notes on <b>markup</b> & <img src=x onerror=alert(1)>"
    );
    assert_eq!(
        field(&atom, "feed.subtitle").value,
        "Notes on <b>markup</b> & <img src=x onerror=alert(1)>"
    );
    for feed in [&rss, &atom] {
        let titles: Vec<&str> = feed
            .fields
            .iter()
            .filter(|f| f.place.ends_with(".title") && f.place.starts_with("entry"))
            .map(|f| f.value.as_str())
            .collect();
        assert!(
            titles.contains(&"Why <img src=x onerror=alert(1)> is dangerous"),
            "{titles:?}"
        );
    }
    // Newest first: entry0 is the post with the author's excerpt.
    assert_eq!(
        shown(&field(&rss, "entry0.summary").value),
        "<b onmouseover=alert(1)>Bold</b> <script>alert(1)</script>"
    );
    assert_eq!(
        field(&atom, "entry0.summary").value,
        "<b onmouseover=alert(1)>Bold</b> <script>alert(1)</script>"
    );
    assert!(
        shown(&field(&rss, "entry1.summary").value)
            .contains("Never let <img src=x onerror=alert(1)> through."),
        "{:?}",
        field(&rss, "entry1.summary")
    );
    for feed in [&rss, &atom] {
        let content = &field(feed, "entry1.content0").value;
        assert!(
            content.contains("<code>&lt;img src=x onerror=alert(1)&gt;</code>"),
            "the code span is shown, not run: {content}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Characters XML forbids

const CONTROLS: &str = "\u{b}\u{1b}\u{8}\u{1}\u{0}\u{c}\u{fffe}";

#[tokio::test]
async fn characters_xml_forbids_never_reach_pages_feeds_or_the_sitemap() {
    let github = github_with(&format!("Mal{CONTROLS}lory"));
    let config = github.provider_config(ProviderKind::Github);
    let app = TestApp::spawn_with(|s| {
        s.auth.providers.insert("github".into(), config);
        open_site(s);
    })
    .await;
    let admin = Admin::new(&app).await;
    admin.set_tagline(&app, &format!("Tag{CONTROLS}line")).await;
    let id = admin
        .write(
            &app,
            &format!("Con{CONTROLS}trol"),
            &format!("Body{CONTROLS} text &#x1b; `code{CONTROLS}`"),
            &format!("Ex{CONTROLS}cerpt"),
            &format!("t{CONTROLS}ag"),
        )
        .await;
    let path = path_of(&app, id).await;
    let reader = Reader::new(&app);
    reader
        .sign_in(Idp::StandIn(&github), "github", "mallory", "/")
        .await;
    let first = comment(&reader, &path, id, None, &format!("Com{CONTROLS}ment"))
        .await
        .expect("the comment is accepted");
    // An edit goes through the same door.
    let csrf = reader.csrf(&format!("/comments/{first}/edit")).await;
    let edited = reader
        .post_form(
            &format!("/comments/{first}/edit"),
            &[("_csrf", &csrf), ("comment", &format!("Ed{CONTROLS}ited"))],
        )
        .await;
    assert_eq!(edited.status(), 303, "{}", edited.text().await.unwrap());

    // The admin's doors: a category, and a moderator's edit of a comment and reply to it.
    let category = admin
        .post(
            &app,
            "/admin/categories",
            &[
                ("name", &format!("Cate{CONTROLS}gory")),
                ("slug", ""),
                ("parent", ""),
                ("description", &format!("About{CONTROLS} it")),
            ],
        )
        .await;
    assert_eq!(category.status(), 303, "{}", category.text().await.unwrap());
    let reply = admin
        .post(
            &app,
            &format!("/admin/comments/{first}/reply"),
            &[("comment", &format!("Re{CONTROLS}ply"))],
        )
        .await;
    assert_eq!(reply.status(), 303, "{}", reply.text().await.unwrap());
    let second = comment(&reader, &path, id, None, "Second comment")
        .await
        .expect("the comment is accepted");
    let moderated = admin
        .post(
            &app,
            &format!("/admin/comments/{second}/edit"),
            &[("comment", &format!("Mod{CONTROLS}erated"))],
        )
        .await;
    assert_eq!(
        moderated.status(),
        303,
        "{}",
        moderated.text().await.unwrap()
    );
    let categories = admin.get(&app, "/admin/categories").await;
    assert!(categories.contains("Category"), "{categories}");
    let queue = admin.get(&app, "/admin/comments?status=approved").await;
    for words in ["Reply", "Moderated", "Edited"] {
        assert!(
            queue.contains(words),
            "{words:?} is not in the queue:\n{queue}"
        );
    }

    // What was stored holds none of them: the page shows the words, whole.
    let page = app.page(&path).await;
    for words in ["Control", "Body text", "Edited", "Mallory", "Tagline"] {
        assert!(
            page.contains(words),
            "{words:?} is not on the page:\n{page}"
        );
    }
    let editor = admin.get(&app, &format!("/admin/posts/{id}")).await;
    assert!(editor.contains("Excerpt"), "{editor}");
    assert!(
        editor.contains(">Excerpt<") || editor.contains("Excerpt</textarea>"),
        "{editor}"
    );

    // Rows stored before the rule (or by another program) are filtered on the way out.
    app.comment(
        id,
        None,
        "Old\u{1b}\u{b} row",
        "Old\u{8}\u{c} text \u{fffe}",
        folio_domain::CommentStatus::Approved,
    )
    .await;

    let rss = app.page("/feed/").await;
    let atom = app.page("/feed/atom/").await;
    let comments = app.page("/comments/feed/").await;
    let post_comments = app.page(&format!("{path}feed/")).await;
    let sitemap = app.page("/sitemap.xml").await;
    let page = app.page(&path).await;
    let home = app.page("/").await;
    let mut documents = vec![
        ("page".to_owned(), Document::Html(&page)),
        ("home".to_owned(), Document::Html(&home)),
        ("editor".to_owned(), Document::Html(&editor)),
        ("categories".to_owned(), Document::Html(&categories)),
        ("moderation queue".to_owned(), Document::Html(&queue)),
    ];
    for (name, text) in [
        ("/feed/", &rss),
        ("/feed/atom/", &atom),
        ("/comments/feed/", &comments),
        ("post comments feed", &post_comments),
    ] {
        assert!(forbidden(text).is_empty(), "{name}: {:?}", forbidden(text));
        documents.push((name.to_owned(), Document::Feed(text)));
        documents.push((name.to_owned(), Document::Xml(text)));
    }
    documents.push(("/sitemap.xml".to_owned(), Document::Xml(&sitemap)));
    // The old row is on the page as stored; the page is HTML, not XML, and browsers read it.
    documents.retain(|(name, _)| name != "page");
    assert_inert(&documents).await;
    assert!(comments.contains("Mallory"), "{comments}");
    assert!(comments.contains("Old row"), "{comments}");
}

// ---------------------------------------------------------------------------------------
// Every payload, every surface

#[tokio::test]
async fn every_payload_stays_inert_on_every_surface() {
    let xss = corpus("xss.txt");
    let control = corpus("control.txt");
    let payloads: Vec<String> = xss.iter().chain(&control).cloned().collect();
    let smtp = Smtp::start();
    let github = github_with(&xss[1]);
    let config = github.provider_config(ProviderKind::Github);
    let app = TestApp::spawn_with(|s| {
        s.auth.providers.insert("github".into(), config);
        open_site(s);
        s.mail.transport = folio_server::config::MailTransport::Smtp;
        s.mail.smtp_url = format!("smtp://127.0.0.1:{}", smtp.port);
        s.mail.poll_milliseconds = 50;
        s.mail.timeout_seconds = 5;
    })
    .await;
    let admin = Admin::new(&app).await;
    admin.set_tagline(&app, &xss[0]).await;

    // Posts: the payloads as titles, excerpts and tags in a few posts, and all of them in
    // one body.
    let mut ids = Vec::new();
    for chunk in payloads.chunks(12) {
        let title = chunk.join(" ");
        let tags = chunk
            .iter()
            .map(|p| p.replace(',', " "))
            .collect::<Vec<_>>()
            .join(",");
        ids.push(
            admin
                .write(&app, &title, &chunk.join("\n\n"), &title, &tags)
                .await,
        );
    }
    let everything = admin
        .write(&app, "Everything", &payloads.join("\n\n"), "", "")
        .await;
    ids.push(everything);
    let path = path_of(&app, everything).await;

    // Comments: a reader whose display name is a payload, answering another who gets the
    // reply by email; one comment per payload, and all of them in one.
    let (_alice, alice) = common::signed_in_reader(&app, "alice").await;
    let parent = comment(&alice, &path, everything, None, "A plain first comment.")
        .await
        .unwrap();
    let mallory = Reader::new(&app);
    mallory
        .sign_in(Idp::StandIn(&github), "github", "mallory", "/")
        .await;
    comment(
        &mallory,
        &path,
        everything,
        Some(parent),
        &payloads.join("\n\n"),
    )
    .await
    .expect("the comment with every payload is accepted");
    for payload in &payloads {
        comment(&mallory, &path, everything, None, payload).await;
    }
    let replies = smtp.wait_for("alice@example.org", 1).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.store.outbox_counts().await.unwrap().pending > 0 {
        assert!(Instant::now() < deadline, "the outbox did not drain");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Read everything back.
    let mut pages: Vec<(String, String)> = Vec::new();
    for path in [
        "/",
        "/feed/",
        "/feed/atom/",
        "/comments/feed/",
        "/sitemap.xml",
    ] {
        pages.push((path.to_owned(), app.page(path).await));
    }
    for id in &ids {
        let path = path_of(&app, *id).await;
        pages.push((path.clone(), app.page(&path).await));
        pages.push((
            format!("{path}feed/"),
            app.page(&format!("{path}feed/")).await,
        ));
        pages.push((
            format!("/admin/posts/{id}"),
            admin.get(&app, &format!("/admin/posts/{id}")).await,
        ));
    }
    for path in [
        "/admin/posts",
        "/admin/comments?status=approved",
        "/admin/",
        "/admin/tags",
    ] {
        pages.push((path.to_owned(), admin.get(&app, path).await));
    }
    pages.push(("signed-in post page".to_owned(), mallory.page(&path).await));
    let mut documents: Vec<(String, Document<'_>)> = Vec::new();
    for (name, text) in &pages {
        let is_feed = name.ends_with("feed/") || name.ends_with("atom/");
        if is_feed {
            documents.push((name.clone(), Document::Feed(text)));
            documents.push((name.clone(), Document::Xml(text)));
        } else if name.ends_with(".xml") {
            documents.push((name.clone(), Document::Xml(text)));
        } else {
            documents.push((name.clone(), Document::Html(text)));
        }
    }

    let mail = smtp.all();
    assert!(!mail.is_empty());
    assert!(
        !replies.is_empty() && replies[0].subject().contains("replied"),
        "{:?}",
        replies[0].subject()
    );
    let mut htmls = Vec::new();
    for message in &mail {
        let parsed = message.parsed();
        let subject = parsed.subject().unwrap_or_default().to_owned();
        let text = parsed
            .body_text(0)
            .map(|t| t.to_string())
            .unwrap_or_default();
        let html = parsed
            .body_html(0)
            .map(|t| t.to_string())
            .unwrap_or_default();
        for (part, content) in [("subject", &subject), ("text", &text)] {
            assert!(
                forbidden(content).is_empty(),
                "email {subject:?} {part}: {:?}",
                forbidden(content)
            );
        }
        assert!(
            !subject.contains('\n') && !subject.contains('\r'),
            "{subject:?}"
        );
        htmls.push((format!("email {subject:?}"), html));
    }
    for (name, html) in &htmls {
        documents.push((name.clone(), Document::Html(html)));
    }
    assert_inert(&documents).await;

    // And the reply email names its author and quotes them as text, not as markup.
    let reply = replies[0].parsed();
    let html = reply.body_html(0).unwrap().to_string();
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{html}"
    );
}

#[tokio::test]
async fn the_subscribe_form_refuses_addresses_with_characters_xml_forbids() {
    let smtp = Smtp::start();
    let app = TestApp::spawn_with(|s| {
        s.mail.transport = folio_server::config::MailTransport::Smtp;
        s.mail.smtp_url = format!("smtp://127.0.0.1:{}", smtp.port);
        s.mail.poll_milliseconds = 50;
    })
    .await;
    for email in corpus("control.txt")
        .iter()
        .map(|c| format!("{}@example.org", c.replace(' ', "")))
        .chain([
            "mal\u{1b}lory@example.org".to_owned(),
            "mallory\u{0}@example.org".to_owned(),
        ])
    {
        let response = app
            .client
            .post(app.url("/subscribe"))
            .form(&[("email", email.as_str()), ("url", "")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "{email:?}");
    }
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM blog_subscribers")
            .await,
        0,
        "nobody was subscribed"
    );
}

#[tokio::test]
async fn a_json_import_drops_characters_xml_forbids() {
    let app = TestApp::spawn().await;
    let author = app.author("Writer").await;
    let post = app
        .post(&author, "Clean Title", "Clean body.", days_ago(1))
        .await;
    let mut export = Vec::new();
    app.store.export_json(&mut export).await.unwrap();
    // As an export edited by hand, or written by an older Folio, could hold them.
    let tampered = String::from_utf8(export)
        .unwrap()
        .replace("Clean Title", "Clean\\u001b\\u000b Ti\\ufffetle")
        .replace("Clean body.", "Clean\\b\\f body\\u0001.");
    assert!(tampered.contains("\\u001b"), "the export names the post");

    let dir = tempfile::tempdir().unwrap();
    let (url, _guard) = common::fresh_database(&dir).await;
    let store = folio_storage::Store::connect(&url).await.unwrap();
    store
        .import_json(std::io::Cursor::new(tampered.into_bytes()))
        .await
        .unwrap();
    let imported = store
        .published_posts_by_ids(&[post.summary.id])
        .await
        .unwrap();
    assert_eq!(imported.len(), 1);
    assert_eq!(imported[0].title, "Clean Title");
    assert!(
        imported[0].html.contains("Clean body."),
        "{}",
        imported[0].html
    );
    assert!(forbidden(&imported[0].excerpt).is_empty());
}
