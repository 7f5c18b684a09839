//! Addresses a WordPress blog's readers and feed readers already have: non-Latin slugs in any
//! percent-encoding, child pages, multi-page posts, archive feeds, old slugs, and permalink
//! dates on the site's own clock.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{TestApp, at};
use folio_testkit::OidcServer;
use time::macros::datetime;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// `επίπεδο-2` as browsers send it (uppercase escapes) and as WordPress wrote it (lowercase).
const GREEK_UPPER: &str = "%CE%B5%CF%80%CE%AF%CF%80%CE%B5%CE%B4%CE%BF-2";
const GREEK_LOWER: &str = "%ce%b5%cf%80%ce%af%cf%80%ce%b5%ce%b4%ce%bf-2";
/// The post's slug before it was renamed (its `_wp_old_slug`).
const GREEK_OLD: &str = "%CE%B5%CF%80%CE%AF%CF%80%CE%B5%CE%B4%CE%BF-1";
/// `/σχετικά/ομάδα/`: a child page's address in WordPress.
const CHILD_PAGE: &str =
    "/%CF%83%CF%87%CE%B5%CF%84%CE%B9%CE%BA%CE%AC/%CE%BF%CE%BC%CE%AC%CE%B4%CE%B1/";

/// As `folio import wordpress` runs it: on the site's database, in the site's time zone.
async fn import(app: &TestApp, file: &Path) -> String {
    let store = app.store.clone().in_zone(app.settings.zone());
    let summary = folio_server::wordpress::import(
        &store,
        folio_server::wordpress::WordPressImport {
            file,
            uploads: None,
            media: folio_web::DirectoryMedia::new(app.settings.media.directory.clone().into()),
        },
    )
    .await
    .map(|summary| summary.to_string())
    .unwrap_or_else(|error| panic!("folio: {error:#}"));
    app.settle().await;
    summary
}

/// The Greek travel blog of the fixture, on a site whose clock is Athens's, as it was in
/// WordPress.
async fn greek_blog() -> TestApp {
    let media = tempfile::tempdir().unwrap().keep();
    let app = TestApp::spawn_with(|s| {
        s.site.timezone = "Europe/Athens".to_owned();
        s.media.directory = media.display().to_string();
    })
    .await;
    import(&app, &fixture("wordpress-non-latin.xml")).await;
    app
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// Follows redirects by hand (the test client does not), up to a few: the final status, path
/// and body.
async fn follow(app: &TestApp, path: &str) -> (u16, String, String) {
    let mut path = path.to_owned();
    for _ in 0..4 {
        let response = app.get(&path).await;
        if response.status().is_redirection() {
            path = location(&response).replace(&app.address, "");
            continue;
        }
        let status = response.status().as_u16();
        return (status, path, response.text().await.unwrap());
    }
    panic!("too many redirects from {path}");
}

#[tokio::test]
async fn non_latin_slugs_answer_in_either_percent_encoding() {
    let app = greek_blog().await;
    let post = format!("/2024/03/06/{GREEK_UPPER}/");

    // As a browser sends it, and as WordPress's own links have it: the same post, no detour.
    for path in [post.clone(), format!("/2024/03/06/{GREEK_LOWER}/")] {
        let response = app.get(&path).await;
        assert_eq!(response.status(), 200, "{path}");
        let html = response.text().await.unwrap();
        assert!(
            html.contains("<h1 class=\"entry-title\">Επίπεδο 2</h1>"),
            "{html}"
        );
        assert!(html.contains("Υπέροχο ταξίδι!"), "the comment came along");
    }
    // The slug kept its letters, and the links Folio writes carry it percent-encoded.
    let front = app.page("/").await;
    assert!(front.contains(&format!("href=\"{post}\"")), "{front}");
    assert!(
        !front.contains("/2024/03/06/2/"),
        "the letters were not dropped"
    );
    assert!(app.page(&post).await.contains(&format!(
        "<link rel=\"canonical\" href=\"{}{post}\">",
        app.address
    )));
    // Other scripts too.
    for path in [
        "/2024/02/10/%D0%BF%D1%80%D0%B8%D0%B2%D0%B5%D1%82-%D0%BC%D0%B8%D1%80/",
        "/2024/01/20/%E6%97%A5%E6%9C%AC%E8%AA%9E%E3%81%AE%E3%83%86%E3%82%B9%E3%83%88/",
    ] {
        assert_eq!(app.get(path).await.status(), 200, "{path}");
    }
    // Terms with Greek slugs have their archives.
    let category = app.main_of("/category/%CE%BD%CE%AD%CE%B1/").await;
    assert!(category.contains("Επίπεδο 2") && category.contains("Привет, мир"));
    let tag = app
        .main_of("/tag/%cf%84%ce%b1%ce%be%ce%af%ce%b4%ce%b9%ce%b1/")
        .await;
    assert!(tag.contains("Επίπεδο 2") && !tag.contains("Привет, мир"));

    // The slug the post had before its rename (`_wp_old_slug`) moves readers to it.
    let renamed = app.get(&format!("/2024/03/06/{GREEK_OLD}/")).await;
    assert_eq!(renamed.status(), 301);
    assert_eq!(location(&renamed), post);

    // A child page's WordPress address answers, and shows the child.
    let (status, _, html) = follow(&app, CHILD_PAGE).await;
    assert_eq!(status, 200);
    assert!(html.contains("Η Ελένη γράφει"), "{html}");
    let (status, _, html) = follow(&app, &CHILD_PAGE.to_lowercase()).await;
    assert_eq!(status, 200);
    assert!(html.contains("Η Ελένη γράφει"), "{html}");
}

#[tokio::test]
async fn a_post_split_by_nextpage_reads_page_by_page() {
    let app = greek_blog().await;
    let post = format!("/2024/03/06/{GREEK_UPPER}/");

    let first = app.main_of(&post).await;
    assert!(first.contains("Το πρώτο μέρος"), "{first}");
    assert!(!first.contains("Το δεύτερο μέρος"), "{first}");
    assert!(
        first.contains(&format!(
            "<div class=\"page-links\">Pages: <span aria-current=\"page\" class=\"post-page-numbers current\">1</span> <a href=\"{post}2/\" class=\"post-page-numbers\">2</a> <a href=\"{post}3/\" class=\"post-page-numbers\">3</a></div>"
        )),
        "{first}"
    );
    let second = app.main_of(&format!("{post}2/")).await;
    assert!(second.contains("Το δεύτερο μέρος"), "{second}");
    assert!(!second.contains("Το πρώτο μέρος"), "{second}");
    assert!(second.contains(&format!(
        "<a href=\"{post}\" class=\"post-page-numbers\">1</a>"
    )));
    let third = app.main_of(&format!("/2024/03/06/{GREEK_LOWER}/3/")).await;
    assert!(third.contains("Το τρίτο μέρος"), "{third}");

    assert_eq!(app.get(&format!("{post}4/")).await.status(), 404);
    let page_one = app.get(&format!("{post}1/")).await;
    assert_eq!(page_one.status(), 301);
    assert_eq!(location(&page_one), post);
    // A post without page breaks has no second page.
    let russian = "/2024/02/10/%D0%BF%D1%80%D0%B8%D0%B2%D0%B5%D1%82-%D0%BC%D0%B8%D1%80/";
    assert_eq!(app.get(&format!("{russian}2/")).await.status(), 404);
    assert!(!app.page(russian).await.contains("page-links"));
    // Feeds carry the whole post.
    let feed = app.page("/feed/").await;
    assert!(feed.contains("Το πρώτο μέρος") && feed.contains("Το τρίτο μέρος"));
}

#[tokio::test]
async fn archives_have_their_feeds_at_wordpress_addresses() {
    let app = greek_blog().await;

    let category = app.get("/category/%CE%BD%CE%AD%CE%B1/feed/").await;
    assert_eq!(category.status(), 200);
    assert!(
        category.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/rss+xml")
    );
    let channel = rss::Channel::read_from(&category.bytes().await.unwrap()[..]).unwrap();
    let mut titles: Vec<&str> = channel.items().iter().filter_map(|i| i.title()).collect();
    titles.sort_unstable();
    assert_eq!(titles, ["Επίπεδο 2", "Привет, мир"]);
    assert_eq!(
        channel.link(),
        format!("{}/category/%CE%BD%CE%AD%CE%B1/", app.address)
    );
    // Relative links in the content point at the site, for readers that have no page to
    // resolve them against.
    let greek = channel
        .items()
        .iter()
        .find(|i| i.title() == Some("Επίπεδο 2"))
        .unwrap();
    let content = greek.content().unwrap();
    assert!(
        content.contains(&format!("href=\"{}/", app.address)),
        "{content}"
    );
    assert!(!content.contains("href=\"/"), "{content}");

    let tag = app
        .page("/tag/%CF%84%CE%B1%CE%BE%CE%AF%CE%B4%CE%B9%CE%B1/feed/atom/")
        .await;
    let feed = atom_syndication::Feed::read_from(tag.as_bytes()).unwrap();
    assert_eq!(feed.entries().len(), 1);
    assert_eq!(feed.entries()[0].title().as_str(), "Επίπεδο 2");

    let author = app.page("/author/eleni/feed/").await;
    let channel = rss::Channel::read_from(author.as_bytes()).unwrap();
    assert_eq!(channel.items().len(), 3);

    assert_eq!(app.get("/category/nowhere/feed/").await.status(), 404);
    assert_eq!(app.get("/author/nobody/feed/").await.status(), 404);

    // Without its slash, the comments feed moves rather than being read as comment "feed".
    let comments = app.get("/comments/feed").await;
    assert_eq!(comments.status(), 301);
    assert_eq!(location(&comments), "/comments/feed/");
    let feed = app.page("/comments/feed/").await;
    assert!(feed.contains("Υπέροχο ταξίδι!"), "{feed}");
}

#[tokio::test]
async fn relative_links_in_the_site_feeds_become_absolute() {
    let app = TestApp::spawn().await;
    let author = app.author("Ann Author").await;
    let post = app
        .post(
            &author,
            "Linking",
            "See [the other post](/2020/01/01/other/) and ![a picture](/media/pic.png).",
            at(2024, 5, 1),
        )
        .await;
    app.comment(
        post.summary.id,
        None,
        "Reader",
        "Also [this one](/2020/02/02/another/).",
        folio_domain::CommentStatus::Approved,
    )
    .await;
    app.settle().await;
    let base = &app.address;
    let rss = app.page("/feed/").await;
    let atom = app.page("/feed/atom/").await;
    let comments = app.page("/comments/feed/").await;
    let post_comments = app.page(&format!("{}feed/", post.summary.path())).await;
    for (name, feed) in [("rss", &rss), ("atom", &atom)] {
        assert!(
            feed.contains(&format!("href=&quot;{base}/2020/01/01/other/&quot;"))
                || feed.contains(&format!("href=\"{base}/2020/01/01/other/\"")),
            "{name}: {feed}"
        );
        assert!(
            feed.contains(&format!("{base}/media/pic.png")),
            "{name}: {feed}"
        );
    }
    for (name, feed) in [("comments", &comments), ("post comments", &post_comments)] {
        assert!(
            feed.contains(&format!("{base}/2020/02/02/another/")),
            "{name}: {feed}"
        );
    }
    for feed in [&rss, &atom, &comments, &post_comments] {
        assert!(!feed.contains("href=&quot;/2020") && !feed.contains("href=\"/2020"));
    }
}

#[tokio::test]
async fn permalinks_dates_and_archives_follow_a_named_time_zone() {
    let app = TestApp::spawn_with(|s| s.site.timezone = "America/Los_Angeles".to_owned()).await;
    let author = app.author("Ann Author").await;
    // Nine in the evening in Los Angeles, in summer (UTC-7) and in winter (UTC-8): already
    // the next day in UTC.
    let summer = app
        .post(
            &author,
            "Fireworks",
            "Bang.",
            datetime!(2026-07-05 04:00 UTC),
        )
        .await;
    let winter = app
        .post(&author, "Lights", "Glow.", datetime!(2025-12-05 05:00 UTC))
        .await;
    app.settle().await;

    let front = app.page("/").await;
    assert!(front.contains("href=\"/2026/07/04/fireworks/\""), "{front}");
    assert!(front.contains("href=\"/2025/12/04/lights/\""), "{front}");
    let page = app.main_of("/2026/07/04/fireworks/").await;
    assert!(page.contains(">July 4, 2026</time>"), "{page}");
    assert!(
        page.contains("datetime=\"2026-07-04T21:00:00-07:00\""),
        "{page}"
    );

    // The address the post had when dates were UTC keeps working.
    for (old, new) in [
        (summer.summary.path(), "/2026/07/04/fireworks/"),
        (winter.summary.path(), "/2025/12/04/lights/"),
    ] {
        assert_ne!(old, new, "the store in the test reads UTC");
        let response = app.get(&old).await;
        assert_eq!(response.status(), 301, "{old}");
        assert_eq!(location(&response), new);
    }

    // A day's archive runs midnight to midnight in Los Angeles.
    let day = app.main_of("/2026/07/04/").await;
    assert!(day.contains("Fireworks"), "{day}");
    assert_eq!(app.get("/2026/07/05/").await.status(), 404);
    let month = app.main_of("/2025/12/").await;
    assert!(month.contains("Lights") && !month.contains("Fireworks"));
}

#[tokio::test]
async fn fixed_offsets_still_work_and_utc_is_the_default() {
    let app = TestApp::spawn_with(|s| s.site.timezone = "+05:30".to_owned()).await;
    let author = app.author("Ann Author").await;
    app.post(&author, "Late", "Night.", datetime!(2026-03-01 20:00 UTC))
        .await;
    app.settle().await;
    assert!(app.page("/").await.contains("href=\"/2026/03/02/late/\""));

    let utc = TestApp::spawn().await;
    let author = utc.author("Ann Author").await;
    utc.post(&author, "Late", "Night.", datetime!(2026-03-01 20:00 UTC))
        .await;
    utc.settle().await;
    assert!(utc.page("/").await.contains("href=\"/2026/03/01/late/\""));
}

#[tokio::test]
async fn old_addresses_travel_in_folios_wordpress_export() {
    let first = greek_blog().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("leaving.xml");
    {
        let out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        folio_server::wxr::write_wxr(&first.store, &first.settings, out)
            .await
            .unwrap();
    }
    let wxr = std::fs::read_to_string(&file).unwrap();
    // WordPress's own shapes: the slug percent-encoded in lower case, the old one as
    // `_wp_old_slug`; the whole old addresses for Folio.
    assert!(
        wxr.contains(&format!(
            "<wp:post_name><![CDATA[{GREEK_LOWER}]]></wp:post_name>"
        )),
        "{wxr}"
    );
    let old_slug = wxr
        .split("<![CDATA[_wp_old_slug]]></wp:meta_key>")
        .nth(1)
        .expect("an old slug in the export")
        .split("</wp:meta_value>")
        .next()
        .unwrap();
    assert!(
        old_slug.ends_with(&format!("<![CDATA[{}]]>", GREEK_OLD.to_lowercase())),
        "{old_slug}"
    );
    assert!(wxr.contains("<![CDATA[_folio_old_address]]>"), "{wxr}");

    let second = TestApp::spawn_with(|s| s.site.timezone = "Europe/Athens".to_owned()).await;
    import(&second, &file).await;
    let post = format!("/2024/03/06/{GREEK_UPPER}/");
    assert_eq!(second.get(&post).await.status(), 200);
    let renamed = second.get(&format!("/2024/03/06/{GREEK_OLD}/")).await;
    assert_eq!(renamed.status(), 301);
    assert_eq!(location(&renamed), post);
    // The original WordPress id link, which only Folio's postmeta carried.
    let by_id = second.get("/?p=101").await;
    assert_eq!(by_id.status(), 301);
    assert_eq!(location(&by_id), post);
}

#[tokio::test]
async fn an_oidc_issuer_the_provider_does_not_answer_to_stops_the_start() {
    let oidc = OidcServer::start().await;
    let real = oidc.issuer();
    let mut config = oidc.provider_config();
    config.issuer = Some(format!("{real}/"));

    let dir = tempfile::tempdir().unwrap();
    let (database_url, _database) = common::fresh_database(&dir).await;
    let mut settings = common::base_settings(&database_url);
    settings
        .auth
        .providers
        .insert("corp".into(), config.clone());
    let store = folio_storage::Store::connect(&database_url).await.unwrap();
    store.migrate_up().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let error = match folio_server::App::from_parts(listener, store, &settings).await {
        Ok(_) => panic!("a wrong issuer must stop the start"),
        Err(error) => format!("{error:#}"),
    };
    assert!(error.contains("auth.providers.corp.issuer"), "{error}");
    assert!(
        error.contains(&format!("{real:?}")),
        "names the real issuer: {error}"
    );

    // `folio config check` says the same, before anyone starts anything.
    let toml = |issuer: &str| {
        format!(
            "[database]\nurl = \"{database_url}\"\n[auth.providers.corp]\nkind = \"oidc\"\nclient_id = \"folio-test\"\nclient_secret = \"s\"\nissuer = \"{issuer}\"\n"
        )
    };
    let file = dir.path().join("wrong.toml");
    std::fs::write(&file, toml(&format!("{real}/"))).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_folio"))
        .args(["config", "check", "--config", file.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("auth.providers.corp.issuer") && stderr.contains(&format!("{real:?}")),
        "{stderr}"
    );
    std::fs::write(&file, toml(&real)).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_folio"))
        .args(["config", "check", "--config", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
