//! The reading side of the blog, over HTTP, as a reader's browser and feed reader see it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestApp, at, days_ago};
use folio_domain::CommentStatus;

#[tokio::test]
async fn empty_site_explains_how_to_add_the_first_post() {
    let app = TestApp::spawn().await;
    let html = app.page("/").await;
    assert!(html.contains("folio post new --file"), "{html}");
    assert!(
        html.contains("<title>Test Blog – Words about tests</title>"),
        "{html}"
    );
}

#[tokio::test]
async fn front_page_lists_newest_posts_with_pager() {
    let app = TestApp::spawn().await;
    let alice = app.author("Alice Writer").await;
    for i in 0..12 {
        app.post(
            &alice,
            &format!("Numbered post {i:02}"),
            "Some *words*.",
            days_ago(30 - i),
        )
        .await;
    }
    let first = app.page("/").await;
    assert!(first.contains("Numbered post 11"), "newest first");
    assert!(!first.contains("Numbered post 01"), "ten per page");
    assert!(
        first.contains("class=\"next page-numbers\" href=\"/page/2/\""),
        "{first}"
    );
    assert!(first.contains("by <span class=\"author vcard\"><a class=\"url fn n\" href=\"/author/alice-writer/\">Alice Writer</a>"));
    let second = app.page("/page/2/").await;
    assert!(second.contains("Numbered post 01") && second.contains("Numbered post 00"));
    assert!(second.contains("<span aria-current=\"page\" class=\"page-numbers current\">2</span>"));
    for bad in [
        "/page/0/",
        "/page/-1/",
        "/page/999999/",
        "/page/abc/",
        "/page/3/",
        "/page/99999999999999999999/",
    ] {
        let response = app.get(bad).await;
        assert_eq!(response.status(), 404, "{bad}");
        let body = response.text().await.unwrap();
        assert!(
            body.contains("Nothing here") && body.contains("class=\"site-title\""),
            "{bad} in layout: {body}"
        );
    }
    assert_eq!(
        app.get("/page/2").await.status(),
        301,
        "missing slash redirects"
    );
}

#[tokio::test]
async fn post_page_is_shaped_like_a_wordpress_post() {
    let app = TestApp::spawn().await;
    let alice = app.author("Alice").await;
    let older = app
        .post(&alice, "An Older Post", "Before.", at(2024, 3, 1))
        .await;
    let body = "Intro paragraph.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n~~old~~ new[^n]\n\n[^n]: A note.\n\n- [x] done\n\n![A cat](/media/cat.jpg \"The cat, 2019\")\n\n```rust\nlet x = \"<b>\";\n```\n";
    let post = app
        .post_in(
            &alice,
            "Sales Isn't Adversarial",
            body,
            at(2024, 3, 5),
            &["Business > Sales"],
            &["selling", "trust"],
        )
        .await;
    let newer = app
        .post(&alice, "A Newer Post", "After.", at(2024, 3, 9))
        .await;
    let first = app
        .comment(
            post.summary.id,
            None,
            "Bob",
            "Great *post*.",
            CommentStatus::Approved,
        )
        .await;
    let reply = app
        .comment(
            post.summary.id,
            Some(first),
            "Carol",
            "I agree with Bob.",
            CommentStatus::Approved,
        )
        .await;
    app.comment(
        post.summary.id,
        Some(reply),
        "Dave",
        "Me too.",
        CommentStatus::Approved,
    )
    .await;
    app.comment(
        post.summary.id,
        None,
        "Spammer",
        "Buy pills",
        CommentStatus::Spam,
    )
    .await;
    app.comment(
        post.summary.id,
        None,
        "Held",
        "Not yet shown",
        CommentStatus::Pending,
    )
    .await;

    let path = "/2024/03/05/sales-isnt-adversarial/";
    assert_eq!(post.summary.path(), path);
    let html = app.page(path).await;
    assert!(
        html.contains("<h1 class=\"entry-title\">Sales Isn&#39;t Adversarial</h1>")
            || html.contains("<h1 class=\"entry-title\">Sales Isn&#x27;t Adversarial</h1>"),
        "{html}"
    );
    assert!(
        html.contains("datetime=\"2024-03-05T10:00:00Z\">March 5, 2024</time>"),
        "{html}"
    );
    assert!(
        html.contains("<a href=\"/category/sales/\" rel=\"category tag\">Sales</a>"),
        "{html}"
    );
    assert!(html.contains("<a href=\"/tag/selling/\" rel=\"tag\">selling</a>"));
    assert!(
        html.contains("<table>")
            && html.contains("<del>old</del>")
            && html.contains("footnote-definition")
    );
    assert!(html.contains("<figcaption class=\"wp-caption-text\">The cat, 2019</figcaption>"));
    assert!(html.contains("class=\"language-rust\"") && html.contains("&lt;b&gt;"));
    assert!(
        html.contains(&format!(
            "<a href=\"{}\" rel=\"prev\">",
            older.summary.path()
        )),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            "<a href=\"{}\" rel=\"next\">",
            newer.summary.path()
        )),
        "{html}"
    );
    assert!(
        html.contains("3 thoughts on “Sales Isn"),
        "only approved comments count: {html}"
    );
    assert!(!html.contains("Buy pills") && !html.contains("Not yet shown"));
    assert!(html.contains("<ol class=\"comment-list\">"));
    // Carol's reply sits inside Bob's comment, Dave's inside Carol's.
    let bob_at = html.find(&format!("<li id=\"comment-{first}\"")).unwrap();
    let carol_at = html.find(&format!("<li id=\"comment-{reply}\"")).unwrap();
    let children_at = html[bob_at..].find("<ol class=\"children\">").unwrap() + bob_at;
    assert!(
        bob_at < children_at && children_at < carol_at,
        "reply nested under its parent"
    );
    assert!(html.contains("class=\"comment-reply-link\" href=\"?replytocom="));
    assert!(html.contains(&format!(
        "<link rel=\"canonical\" href=\"{}{path}\">",
        app.address
    )));
    assert!(html.contains("<meta property=\"og:type\" content=\"article\">"));
    assert!(html.contains("<meta name=\"twitter:card\""));
    assert!(
        html.contains(&format!("href=\"{}{path}feed/\"", app.address)),
        "comments feed link"
    );
    assert!(html.contains("<a class=\"skip-link screen-reader-text\" href=\"#content\">"));
}

#[tokio::test]
async fn wrong_date_in_post_url_redirects_to_the_real_one() {
    let app = TestApp::spawn().await;
    let alice = app.author("Alice").await;
    app.post(&alice, "Dated", "x", at(2023, 7, 14)).await;
    let response = app.get("/2020/01/01/dated/").await;
    assert_eq!(response.status(), 301);
    assert_eq!(response.headers()["location"], "/2023/07/14/dated/");
    assert_eq!(app.get("/2023/07/14/no-such-post/").await.status(), 404);
}

#[tokio::test]
async fn future_posts_stay_hidden_until_their_time() {
    let app = TestApp::spawn().await;
    let alice = app.author("Alice").await;
    app.post(&alice, "Visible", "x", days_ago(1)).await;
    let future = app.post(&alice, "From The Future", "x", days_ago(-3)).await;
    assert!(!app.page("/").await.contains("From The Future"));
    assert_eq!(app.get(&future.summary.path()).await.status(), 404);
}

#[tokio::test]
async fn pages_outside_the_reading_side_keep_the_site_menu() {
    let app = TestApp::spawn().await;
    let alice = app.author("Alice").await;
    app.page_post(&alice, "About", "Who we are.").await;
    let menu = "<li class=\"menu-item\"><a href=\"/about/\">About</a></li>";
    for path in [
        "/no-such-page/",
        "/moderate/no-such-token",
        "/unsubscribe/no-such-token",
    ] {
        let response = app.get(path).await;
        assert!(response.status().is_client_error(), "{path}");
        let html = response.text().await.unwrap();
        assert!(html.contains(menu), "{path}: {html}");
    }
    // The sign-in page belongs to the site too.
    let sign_in = app.page("/auth/login?return_to=%2F").await;
    assert!(sign_in.contains(menu), "/auth/login: {sign_in}");
}

#[tokio::test]
async fn an_empty_site_says_how_to_write_and_how_to_try_it() {
    let app = TestApp::spawn().await;
    let front = app.main_of("/").await;
    assert!(front.contains("Welcome to your new blog"), "{front}");
    // What a release archive's user types, and what a source checkout's user types.
    assert!(
        front.contains("<code>folio post new --file hello.md</code>"),
        "{front}"
    );
    assert!(front.contains("<code>folio demo</code>"), "{front}");
    assert!(front.contains("<code>cargo xtask try</code>"), "{front}");
}

#[tokio::test]
async fn a_parent_category_counts_its_childrens_posts() {
    let app = TestApp::spawn().await;
    let alice = app.author("Alice").await;
    app.post_in(
        &alice,
        "Kyoto",
        "x",
        at(2024, 3, 1),
        &["Travel > Japan"],
        &[],
    )
    .await;
    app.post_in(
        &alice,
        "Osaka",
        "x",
        at(2024, 3, 2),
        &["Travel > Japan"],
        &[],
    )
    .await;
    let home = app.page("/").await;
    assert!(
        home.contains("<a href=\"/category/travel/\">Travel</a> (2)"),
        "{home}"
    );
    assert!(home.contains(">Japan</a> (2)"), "{home}");
    assert!(!home.contains("(0)"), "{home}");
}

#[tokio::test]
async fn pages_and_archives() {
    let app = TestApp::spawn().await;
    let alice = app.author("Alice").await;
    let bob = app.author("Bob").await;
    app.page_post(&alice, "About", "Who we are.").await;
    app.post_in(
        &alice,
        "Rust Tips",
        "x",
        at(2024, 1, 10),
        &["Engineering > Rust"],
        &["tips"],
    )
    .await;
    app.post_in(
        &bob,
        "Team Notes",
        "x",
        at(2024, 2, 11),
        &["Engineering"],
        &["team"],
    )
    .await;
    app.post_in(&bob, "Holiday", "x", at(2023, 12, 24), &["Life"], &["tips"])
        .await;

    let about = app.page("/about/").await;
    assert!(about.contains("Who we are."));
    assert!(
        app.page("/")
            .await
            .contains("<li class=\"menu-item\"><a href=\"/about/\">About</a></li>")
    );

    let engineering = app.main_of("/category/engineering/").await;
    assert!(
        engineering.contains("Rust Tips") && engineering.contains("Team Notes"),
        "child category included"
    );
    assert!(!engineering.contains("Holiday"));
    assert!(engineering.contains("Category: Engineering"));
    let nested = app.main_of("/category/engineering/rust/").await;
    assert!(nested.contains("Rust Tips") && !nested.contains("Team Notes"));
    let tips = app.main_of("/tag/tips/").await;
    assert!(tips.contains("Rust Tips") && tips.contains("Holiday") && !tips.contains("Team Notes"));
    let by_bob = app.main_of("/author/bob/").await;
    assert!(
        by_bob.contains("Team Notes")
            && !by_bob.contains("Rust Tips")
            && by_bob.contains("Bob writes here.")
    );
    let year = app.main_of("/2024/").await;
    assert!(year.contains("Rust Tips") && year.contains("Team Notes") && !year.contains("Holiday"));
    let month = app.main_of("/2024/02/").await;
    assert!(
        month.contains("Team Notes")
            && !month.contains("Rust Tips")
            && month.contains("Month: February 2024")
    );
    let day = app.page("/2023/12/24/").await;
    assert!(day.contains("Holiday"));
    let sidebar = app.page("/").await;
    assert!(
        sidebar.contains("<a href=\"/2024/02/\">February 2024</a>&nbsp;(1)"),
        "{sidebar}"
    );

    for missing in [
        "/category/nope/",
        "/tag/nope/",
        "/author/nobody/",
        "/1999/",
        "/2024/13/",
        "/2024/02/30/",
        "/no-such-page/",
        "/category/engineering/page/2/",
        "/wp-login.php",
    ] {
        assert_eq!(app.get(missing).await.status(), 404, "{missing}");
    }
}

#[tokio::test]
async fn search_ranks_highlights_and_survives_any_input() {
    let app = TestApp::spawn().await;
    let alice = app.author("Alice").await;
    app.post(
        &alice,
        "PostgreSQL Migration Story",
        "We moved our database to PostgreSQL and it was fine.",
        days_ago(3),
    )
    .await;
    app.post(
        &alice,
        "Gardening",
        "Tomatoes `<need>` sun & water. Nothing about databases here.",
        days_ago(2),
    )
    .await;
    for i in 0..12 {
        app.post(
            &alice,
            &format!("Tomato diary {i}"),
            "More tomatoes today.",
            days_ago(40 + i),
        )
        .await;
    }
    let html = app.main_of("/search?q=postgresql").await;
    assert!(html.contains("PostgreSQL Migration Story"), "{html}");
    assert!(html.contains("<mark>PostgreSQL</mark>"), "{html}");
    assert!(html.contains("1 post found."));
    assert!(!html.contains("Gardening"));
    let escaped = app.main_of("/search?q=sun+water").await;
    assert!(
        escaped.contains("<mark>sun</mark> &amp; <mark>water</mark>"),
        "snippet escaped: {escaped}"
    );
    assert!(
        !escaped.contains("<need>"),
        "no markup from the post leaks into a snippet: {escaped}"
    );
    assert!(
        app.page("/search?q=tomatoes")
            .await
            .contains("13 posts found.")
    );
    assert!(
        app.page("/search?q=tomatoes&page=2")
            .await
            .contains("Tomato diary")
    );
    assert_eq!(app.get("/search?q=tomatoes&page=3").await.status(), 404);
    assert_eq!(app.get("/search?q=tomatoes&page=0").await.status(), 404);
    assert_eq!(app.get("/search?q=tomatoes&page=x").await.status(), 404);
    let response = app.get("/?s=postgresql").await;
    assert_eq!(response.status(), 301);
    assert_eq!(response.headers()["location"], "/search?q=postgresql");

    let junk = "x".repeat(2048);
    let nasty = [
        "\"",
        "\"unbalanced",
        "*",
        "NEAR(",
        "NEAR(a b",
        "-",
        "-postgresql",
        "((((",
        "a OR",
        "AND",
        "title:x",
        "^x",
        "'; DROP TABLE posts; --",
        "%",
        "\\",
        "\u{0}",
        "😀",
        "a:b:c",
        "{}",
        junk.as_str(),
    ];
    for query in nasty {
        let response = app
            .client
            .get(app.url("/search"))
            .query(&[("q", query)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "query {query:?}");
    }
    assert!(app.page("/search").await.contains("Type a few words"));
    // Not even UTF-8: read leniently, or refused with a page in the site's layout, never a 500.
    for unreadable in [
        "/search?q=%FF%FE",
        "/?s=%C3%28",
        "/search?q=a&q=b&page=1&page=2",
    ] {
        let response = app.get(unreadable).await;
        let status = response.status();
        assert!(
            status == 200 || status == 301 || status == 400,
            "{unreadable}: {status}"
        );
        if status != 301 {
            let body = response.text().await.unwrap();
            assert!(
                body.contains("class=\"site-title\""),
                "{unreadable}: {body}"
            );
        }
    }
}

#[tokio::test]
async fn feeds_parse_and_use_absolute_links() {
    let app = TestApp::spawn().await;
    let alice = app.author("Alice").await;
    let post = app
        .post_in(
            &alice,
            "Feed Me & You",
            "Body with <em>html</em> and **bold**.",
            days_ago(2),
            &["News"],
            &["feeds"],
        )
        .await;
    app.post(&alice, "Second", "two", days_ago(1)).await;
    app.comment(
        post.summary.id,
        None,
        "Bob",
        "First comment",
        CommentStatus::Approved,
    )
    .await;
    app.comment(
        post.summary.id,
        None,
        "Eve",
        "Spam comment",
        CommentStatus::Spam,
    )
    .await;

    let response = app.get("/feed/").await;
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/rss+xml")
    );
    let channel = rss::Channel::read_from(response.bytes().await.unwrap().as_ref()).unwrap();
    assert_eq!(channel.title, "Test Blog");
    let self_link = &channel.atom_ext.as_ref().expect("atom:link self").links[0];
    assert_eq!(self_link.href, format!("{}/feed/", app.address));
    assert_eq!(channel.items.len(), 2);
    assert_eq!(channel.items[0].title.as_deref(), Some("Second"));
    let item = &channel.items[1];
    assert_eq!(
        item.link.as_deref(),
        Some(format!("{}{}", app.address, post.summary.path()).as_str())
    );
    assert!(
        item.content
            .as_deref()
            .unwrap()
            .contains("<strong>bold</strong>")
    );
    assert!(item.pub_date.is_some());

    let atom_bytes = app.get("/feed/atom/").await.bytes().await.unwrap();
    let feed = atom_syndication::Feed::read_from(atom_bytes.as_ref()).unwrap();
    assert_eq!(feed.entries.len(), 2);
    assert!(feed.entries[1].links[0].href.starts_with(&app.address));
    assert_eq!(feed.entries[1].title.value, "Feed Me & You");

    let comments = app.get(&format!("{}feed/", post.summary.path())).await;
    assert_eq!(comments.status(), 200);
    let channel = rss::Channel::read_from(comments.bytes().await.unwrap().as_ref()).unwrap();
    assert_eq!(channel.items.len(), 1, "approved comments only");
    let item = &channel.items[0];
    assert!(
        item.link
            .as_deref()
            .unwrap()
            .starts_with(&format!("{}/comments/", app.address)),
        "{item:?}"
    );
    let guid = item.guid.as_ref().unwrap();
    assert!(
        guid.value
            .starts_with(&format!("{}{}#comment-", app.address, post.summary.path()))
            && !guid.permalink,
        "{guid:?}"
    );

    let site_wide = app.get("/comments/feed/").await;
    assert_eq!(site_wide.status(), 200);
    let site_channel = rss::Channel::read_from(site_wide.bytes().await.unwrap().as_ref()).unwrap();
    assert_eq!(site_channel.items.len(), 1, "approved comments only");
    assert_eq!(
        site_channel.items[0].title.as_deref(),
        Some("Comment on Feed Me & You by Bob")
    );
}

#[tokio::test]
async fn sitemap_and_robots() {
    let app = TestApp::spawn().await;
    let alice = app.author("Alice").await;
    let post = app.post(&alice, "Mapped", "x", days_ago(1)).await;
    let sitemap = app.page("/sitemap.xml").await;
    assert!(
        sitemap.contains(&format!(
            "<loc>{}{}</loc>",
            app.address,
            post.summary.path()
        )),
        "{sitemap}"
    );
    let robots = app.page("/robots.txt").await;
    assert!(robots.contains(&format!("Sitemap: {}/sitemap.xml", app.address)));
}

#[tokio::test]
async fn validators_answer_304_and_responses_compress() {
    let app = TestApp::spawn().await;
    let alice = app.author("Alice").await;
    let post = app
        .post(
            &alice,
            "Cacheable",
            &"A long paragraph. ".repeat(200),
            days_ago(1),
        )
        .await;
    let path = post.summary.path();
    let first = app.get(&path).await;
    let etag = first.headers()["etag"].clone();
    let last_modified = first.headers()["last-modified"].clone();
    let again = app
        .client
        .get(app.url(&path))
        .header("if-none-match", etag.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert!(again.bytes().await.unwrap().is_empty());
    let since = app
        .client
        .get(app.url(&path))
        .header("if-modified-since", last_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(since.status(), 304);
    let other = app
        .client
        .get(app.url(&path))
        .header("if-none-match", "\"nope\"")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);

    for encoding in ["gzip", "br"] {
        let response = app
            .client
            .get(app.url(&path))
            .header("accept-encoding", encoding)
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["content-encoding"], encoding);
        assert_eq!(response.headers()["vary"], "accept-encoding");
        let etag = response.headers()["etag"].clone();
        let bytes = response.bytes().await.unwrap();
        let mut text = String::new();
        if encoding == "gzip" {
            use std::io::Read as _;
            flate2::read::GzDecoder::new(bytes.as_ref())
                .read_to_string(&mut text)
                .unwrap();
        } else {
            use std::io::Read as _;
            brotli::Decompressor::new(bytes.as_ref(), 4096)
                .read_to_string(&mut text)
                .unwrap();
        }
        assert!(
            text.contains("Cacheable"),
            "{encoding} body decodes to the page"
        );
        // Each encoding is its own representation, with its own validator.
        let revalidated = app
            .client
            .get(app.url(&path))
            .header("accept-encoding", encoding)
            .header("if-none-match", etag)
            .send()
            .await
            .unwrap();
        assert_eq!(revalidated.status(), 304, "{encoding}");
    }
    let refused = app
        .client
        .get(app.url(&path))
        .header("accept-encoding", "br;q=0, gzip;q=0")
        .send()
        .await
        .unwrap();
    assert!(!refused.headers().contains_key("content-encoding"));
}

#[tokio::test]
async fn a_new_comment_shows_up_even_after_the_page_was_cached() {
    let app = TestApp::spawn().await;
    let alice = app.author("Alice").await;
    let post = app.post(&alice, "Cached Post", "x", days_ago(1)).await;
    let path = post.summary.path();
    assert!(!app.page(&path).await.contains("Fresh comment"));
    // Written by another connection, as another server process or the CLI would.
    let other = folio_storage::Store::connect(&app.database_url)
        .await
        .unwrap();
    other
        .create_comment(folio_storage::NewComment {
            post_id: post.summary.id,
            parent_id: None,
            author_id: None,
            author_name: "Zed".into(),
            author_url: None,
            source: "Fresh comment".into(),
            status: CommentStatus::Approved,
            created_at: None,
            author_ip: None,
        })
        .await
        .unwrap();
    let mut seen = false;
    for _ in 0..50 {
        if app.page(&path).await.contains("Fresh comment") {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(seen, "the cached page was never refreshed");
}

#[tokio::test]
async fn operations_endpoints() {
    let app = TestApp::spawn().await;
    assert_eq!(app.page("/healthz").await, "ok\n");
    assert_eq!(app.page("/readyz").await, "ready\n");
    app.page("/").await;
    let metrics = app.page("/metrics").await;
    assert!(metrics.contains("http_requests_total"), "{metrics}");
    assert!(
        metrics.contains("http_request_duration_seconds_bucket"),
        "{metrics}"
    );
    let response = app.get("/static/style.css").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert!(response.headers().contains_key("x-request-id"));
    let head = app.client.head(app.url("/")).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert!(head.bytes().await.unwrap().is_empty(), "HEAD has no body");
    let front = app.get("/").await;
    assert!(front.headers().contains_key("x-request-id"));
    assert_eq!(front.headers()["x-content-type-options"], "nosniff");
    assert!(
        front.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'self'")
    );
}

#[tokio::test]
async fn many_comments_render_as_one_thread() {
    // comments.per_page = 0: every comment on the post's own page.
    let app = TestApp::spawn_with(|s| s.comments.per_page = 0).await;
    let alice = app.author("Alice").await;
    let post = app.post(&alice, "Busy Thread", "x", days_ago(1)).await;
    let mut batch = Vec::new();
    for i in 0..300 {
        batch.push(folio_storage::NewComment {
            post_id: post.summary.id,
            parent_id: None,
            author_id: None,
            author_name: format!("Reader {i}"),
            author_url: None,
            source: format!("Comment number {i}"),
            status: CommentStatus::Approved,
            created_at: Some(days_ago(1) + time::Duration::minutes(i)),
            author_ip: None,
        });
    }
    app.store.create_comments(batch).await.unwrap();
    let html = app.page(&post.summary.path()).await;
    assert!(html.contains("300 thoughts on “Busy Thread”"));
    assert_eq!(html.matches("<li id=\"comment-").count(), 300);
}

#[tokio::test]
async fn database_gone_gives_a_500_page_in_the_layout_and_not_ready() {
    let app = TestApp::spawn_with(|s| s.cache.enabled = false).await;
    let alice = app.author("Alice").await;
    let post = app.post(&alice, "Soon Unreachable", "x", days_ago(1)).await;
    app.page(&post.summary.path()).await;
    // Closing the shared pool is what the server sees when the database goes away.
    app.store.clone().close().await.unwrap();
    let response = app.get(&post.summary.path()).await;
    assert_eq!(response.status(), 500);
    let body = response.text().await.unwrap();
    assert!(
        body.contains("Something went wrong") && body.contains("class=\"site-title\""),
        "{body}"
    );
    assert!(
        !body.contains("sqlx") && !body.contains("pool"),
        "no internals shown: {body}"
    );
    assert_eq!(app.get("/readyz").await.status(), 503);
    assert_eq!(
        app.page("/healthz").await,
        "ok\n",
        "alive even when the database is not"
    );
}

#[tokio::test]
async fn a_page_is_modified_when_anything_it_shows_changes() {
    let app = TestApp::spawn().await;
    let alice = app.author("Alice").await;
    let old = app.post(&alice, "Old Post", "x", days_ago(400)).await;
    app.settle().await;
    let first = app.get(&old.summary.path()).await;
    let last_modified = first.headers()["last-modified"].clone();
    // One second later a new post appears in this page's sidebar.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    app.post(&alice, "Brand New Post", "y", days_ago(0)).await;
    let mut refreshed = false;
    for _ in 0..50 {
        let response = app
            .client
            .get(app.url(&old.summary.path()))
            .header("if-modified-since", last_modified.clone())
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            assert!(response.text().await.unwrap().contains("Brand New Post"));
            refreshed = true;
            break;
        }
        assert_eq!(response.status(), 304);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        refreshed,
        "If-Modified-Since kept answering 304 after the sidebar changed"
    );
}

#[tokio::test]
async fn a_members_comment_shows_their_current_name_and_avatar() {
    let app = TestApp::spawn().await;
    let alice = app.author("Alice").await;
    let member = app
        .store
        .create_user(folio_storage::NewUser {
            display_name: "Bob Member".into(),
            slug: None,
            email: None,
            avatar_url: Some("https://avatars.example.org/bob.png".into()),
            bio: String::new(),
            role: folio_domain::Role::Reader,
        })
        .await
        .unwrap();
    let post = app.post(&alice, "Members Welcome", "x", days_ago(1)).await;
    app.store
        .create_comment(folio_storage::NewComment {
            post_id: post.summary.id,
            parent_id: None,
            author_id: Some(member.id),
            author_name: "name at the time".into(),
            author_url: None,
            source: "Hello from a member".into(),
            status: CommentStatus::Approved,
            created_at: None,
            author_ip: None,
        })
        .await
        .unwrap();
    let html = app.main_of(&post.summary.path()).await;
    assert!(html.contains("<b class=\"fn\">Bob Member</b>"), "{html}");
    assert!(
        html.contains("src=\"https://avatars.example.org/bob.png\""),
        "{html}"
    );
    assert!(!html.contains("name at the time"));
}

fn new_entry(
    kind: folio_domain::PostKind,
    author_id: i64,
    title: &str,
    published_at: time::OffsetDateTime,
) -> folio_storage::NewPost {
    folio_storage::NewPost {
        kind,
        title: title.into(),
        slug: None,
        source: format!("The text of {title}."),
        status: folio_domain::PostStatus::Published,
        published_at: Some(published_at),
        author_id,
        categories: vec![],
        tags: vec![],
        comments_open: true,
        featured_image: None,
        password: None,
        parent_id: None,
        sticky: false,
    }
}

#[tokio::test]
async fn a_child_page_answers_under_its_parent_and_nests_in_the_menu() {
    use folio_domain::PostKind::Page;
    let app = TestApp::spawn().await;
    let alice = app.author("Alice").await;
    let about = app
        .store
        .create_post(new_entry(Page, alice.id, "About", days_ago(3)))
        .await
        .unwrap();
    let team = app
        .store
        .create_post(folio_storage::NewPost {
            parent_id: Some(about.summary.id),
            ..new_entry(Page, alice.id, "Team", days_ago(2))
        })
        .await
        .unwrap();
    app.store
        .create_post(folio_storage::NewPost {
            parent_id: Some(team.summary.id),
            ..new_entry(Page, alice.id, "Coaches", days_ago(1))
        })
        .await
        .unwrap();
    app.store
        .create_post(new_entry(Page, alice.id, "Contact", days_ago(1)))
        .await
        .unwrap();

    assert_eq!(team.summary.path(), "/about/team/");
    let page = app.page("/about/team/").await;
    assert!(page.contains("The text of Team."), "{page}");
    assert!(
        page.contains(&format!(
            "<link rel=\"canonical\" href=\"{}/about/team/\"",
            app.address
        )),
        "{page}"
    );
    assert!(
        app.page("/about/team/coaches/")
            .await
            .contains("The text of Coaches.")
    );
    // Asked for without its parents, or under the wrong ones: sent to its address.
    for wrong in ["/team/", "/contact/team/"] {
        let response = app.get(wrong).await;
        assert_eq!(response.status(), 301, "{wrong}");
        assert_eq!(common::location(&response), "/about/team/", "{wrong}");
    }
    assert_eq!(app.get("/about/nobody/").await.status(), 404);

    // The menu: About holds Team, which holds Coaches; Contact stands beside About.
    let html = app.page("/").await;
    let start = html.find("<ul class=\"menu\">").unwrap();
    let menu = &html[start..start + html[start..].find("</nav>").unwrap()];
    let squeezed: String = menu
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace("> <", "><");
    assert!(
        squeezed.contains(
            "<li class=\"menu-item menu-item-has-children\"><a href=\"/about/\">About</a>\
             <ul class=\"sub-menu\"><li class=\"menu-item menu-item-has-children\"><a href=\"/about/team/\">Team</a>\
             <ul class=\"sub-menu\"><li class=\"menu-item\"><a href=\"/about/team/coaches/\">Coaches</a></li></ul></li></ul></li>\
             <li class=\"menu-item\"><a href=\"/contact/\">Contact</a></li>"
        ),
        "{squeezed}"
    );
    let sitemap = app.page("/sitemap.xml").await;
    assert!(sitemap.contains("/about/team/coaches/</loc>"), "{sitemap}");
}

#[tokio::test]
async fn sticky_posts_stay_on_top_of_the_first_page_only() {
    use folio_domain::PostKind::Post;
    let app = TestApp::spawn_with(|s| s.site.posts_per_page = 3).await;
    let alice = app.author("Alice").await;
    let old = app
        .store
        .create_post(folio_storage::NewPost {
            sticky: true,
            ..new_entry(Post, alice.id, "House rules", days_ago(40))
        })
        .await
        .unwrap();
    for day in 1..=5 {
        app.store
            .create_post(new_entry(
                Post,
                alice.id,
                &format!("Daily note {day}"),
                days_ago(10 - day),
            ))
            .await
            .unwrap();
    }
    let first = app.main_of("/").await;
    let articles: Vec<&str> = first.split("<article").skip(1).collect();
    assert_eq!(
        articles.len(),
        4,
        "three a page, and the sticky one: {first}"
    );
    assert!(articles[0].contains("House rules"), "{first}");
    assert!(
        articles[0].contains(&format!(
            "post-{} post type-post status-publish sticky",
            old.summary.id
        )),
        "{}",
        articles[0]
    );
    assert!(articles[1].contains("Daily note 5"));
    assert!(articles[1..].iter().all(|a| !a.contains(" sticky ")));
    // Later pages list it where its date puts it, unmarked; its own page does not mark it.
    let last = app.main_of("/page/2/").await;
    assert!(last.contains("House rules"), "{last}");
    assert!(!last.contains(" sticky "), "{last}");
    assert!(!app.main_of(&old.summary.path()).await.contains(" sticky "));
}

#[tokio::test]
async fn a_sitemap_past_its_file_size_becomes_an_index_of_files_holding_every_address() {
    let app = TestApp::spawn_with(|s| s.site.sitemap_urls_per_file = 3).await;
    let alice = app.author("Alice").await;
    let mut paths = Vec::new();
    for n in 0..5 {
        let post = app
            .post(&alice, &format!("Entry {n}"), "Words.", days_ago(n + 1))
            .await;
        paths.push(post.summary.path());
    }
    app.settle().await;
    let index = app.page("/sitemap.xml").await;
    assert!(index.contains("<sitemapindex"), "{index}");
    // The front page and five posts, three a file.
    for part in 1..=2 {
        assert!(
            index.contains(&format!("{}/sitemap/{part}.xml</loc>", app.address)),
            "{index}"
        );
    }
    assert!(!index.contains("/sitemap/3.xml"), "{index}");
    let mut listed = String::new();
    for part in 1..=2 {
        let file = app.page(&format!("/sitemap/{part}.xml")).await;
        assert!(file.contains("<urlset"), "{file}");
        assert_eq!(file.matches("<url>").count(), 3, "{file}");
        listed.push_str(&file);
    }
    assert!(listed.contains(&format!("<loc>{}/</loc>", app.address)));
    for path in &paths {
        assert_eq!(
            listed.matches(&format!("{}{path}<", app.address)).count(),
            1,
            "{path}"
        );
    }
    for missing in ["/sitemap/3.xml", "/sitemap/0.xml", "/sitemap/x.xml"] {
        assert_eq!(app.get(missing).await.status(), 404, "{missing}");
    }
}
