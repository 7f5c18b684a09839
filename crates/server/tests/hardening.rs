//! What an attacker tried and must not get: moderation links that outlive their purpose,
//! limits raced or dodged, unsafe avatars, banned readers taking part, slow or greedy
//! connections, image bombs, metrics for all, inline styles, endless sessions, a site
//! without an admin. Each over HTTP (or a raw socket) against a real Folio.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Idp, Reader, TestApp, location};
use folio_domain::{CommentStatus, Identity, Role, User};
use folio_testkit::{OAuthStandIn, StandInUser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A person signed in through GitHub (address verified), with a browser holding their
/// session cookie; `forwarded_for`: the X-Forwarded-For their requests carry.
struct Person {
    user: User,
    client: reqwest::Client,
    csrf: String,
}

async fn person(app: &TestApp, login: &str, role: Role, forwarded_for: Option<&str>) -> Person {
    let user = app
        .store
        .sign_in(&Identity {
            provider: "github".to_owned(),
            subject: format!("gh-{login}"),
            login: Some(login.to_owned()),
            display_name: login.to_owned(),
            email: Some(format!("{login}@example.org")),
            email_verified: true,
            avatar_url: None,
            profile_url: None,
        })
        .await
        .unwrap();
    let user = if role == Role::Reader {
        user
    } else {
        app.store.set_role(user.id, role).await.unwrap()
    };
    let (cookie, csrf) = folio_web::open_session_for(&app.store, user.id)
        .await
        .unwrap();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::COOKIE,
        format!("{}={cookie}", folio_web::SESSION_COOKIE)
            .parse()
            .unwrap(),
    );
    if let Some(address) = forwarded_for {
        headers.insert("x-forwarded-for", address.parse().unwrap());
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    Person { user, client, csrf }
}

impl Person {
    async fn post(&self, app: &TestApp, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let mut fields = form.to_vec();
        fields.push(("_csrf", &self.csrf));
        self.client
            .post(app.url(path))
            .form(&fields)
            .send()
            .await
            .unwrap()
    }

    async fn comment(
        &self,
        app: &TestApp,
        post: &folio_domain::Post,
        text: &str,
    ) -> reqwest::Response {
        let post_id = post.summary.id.to_string();
        self.post(
            app,
            "/comments",
            &[
                ("comment", text),
                ("comment_post_ID", &post_id),
                ("comment_parent", "0"),
                ("url", ""),
            ],
        )
        .await
    }
}

async fn a_post(app: &TestApp) -> folio_domain::Post {
    let writer = app.author("Writer").await;
    app.post(
        &writer,
        "Open thread",
        "Say something.",
        common::days_ago(3),
    )
    .await
}

/// One text value from SQL (`SELECT ... AS v`).
async fn text_of(app: &TestApp, query: &str) -> Option<String> {
    use sea_orm::ConnectionTrait;
    let db = sea_orm::Database::connect(&app.database_url).await.unwrap();
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            query.to_owned(),
        ))
        .await
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    let value = row.and_then(|r| r.try_get::<Option<String>>("", "v").unwrap());
    db.close().await.unwrap();
    value
}

// ---- 5. Moderation links ----

async fn moderation_token(app: &TestApp, comment: i64, moderator: &User) -> String {
    text_of(
        app,
        &format!(
            "SELECT action_token AS v FROM mail_outbox WHERE kind = 'moderation' \
             AND comment_id = {comment} AND user_id = {}",
            moderator.id
        ),
    )
    .await
    .unwrap_or_else(|| panic!("no moderation email to {} about {comment}", moderator.id))
}

async fn open_link(app: &TestApp, token: &str) -> (u16, String) {
    let response = app.get(&format!("/moderate/{token}")).await;
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn press(app: &TestApp, token: &str, action: &str) -> (u16, String) {
    let response = app
        .client
        .post(app.url(&format!("/moderate/{token}")))
        .form(&[("action", action)])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn a_moderation_link_works_only_while_its_comment_waits_and_its_moderator_moderates() {
    let app = TestApp::spawn_with(|s| {
        s.comments.moderation = "always".to_owned();
        s.comments.per_user_per_minute = 0;
        s.mail.worker = false;
    })
    .await;
    let post = a_post(&app).await;
    let first = person(&app, "mona", Role::Editor, None).await;
    let second = person(&app, "otto", Role::Admin, None).await;
    let reader = person(&app, "rita", Role::Reader, None).await;
    let mut held = Vec::new();
    for text in ["Held one.", "Held two.", "Held three."] {
        let response = reader.comment(&app, &post, text).await;
        assert_eq!(response.status(), 303);
        held.push(common::comment_id_of(&location(&response)));
    }

    // Moderated in the admin: both moderators' links now say so and change nothing.
    app.store
        .set_comments_status(&second.user, &[held[0]], CommentStatus::Spam, |_| {
            Vec::new()
        })
        .await
        .unwrap();
    let token = moderation_token(&app, held[0], &first.user).await;
    let (status, page) = open_link(&app, &token).await;
    assert_eq!(status, 410, "{page}");
    assert!(
        page.contains("already moderated") && page.contains("spam"),
        "{page}"
    );
    let (status, page) = press(&app, &token, "approve").await;
    assert_eq!(status, 410, "{page}");
    assert_eq!(
        app.store.comment(held[0]).await.unwrap().unwrap().status,
        CommentStatus::Spam,
        "the old link did not undo the admin's decision"
    );

    // One moderator's link used: the other's stops working.
    let mine = moderation_token(&app, held[1], &first.user).await;
    let theirs = moderation_token(&app, held[1], &second.user).await;
    assert_eq!(press(&app, &mine, "approve").await.0, 200);
    let (status, page) = open_link(&app, &theirs).await;
    assert_eq!(status, 410, "{page}");
    assert!(page.contains("Another moderator"), "{page}");
    let (status, _) = press(&app, &theirs, "trash").await;
    assert_eq!(status, 410);
    assert_eq!(
        app.store.comment(held[1]).await.unwrap().unwrap().status,
        CommentStatus::Approved
    );

    // A moderator who no longer is one: demoted, or banned.
    let demoted = moderation_token(&app, held[2], &first.user).await;
    app.store
        .change_role(&second.user, first.user.id, Role::Author)
        .await
        .unwrap();
    let (status, page) = open_link(&app, &demoted).await;
    assert_eq!(status, 410, "{page}");
    assert!(page.contains("no longer moderates"), "{page}");
    assert_eq!(press(&app, &demoted, "approve").await.0, 410);
    let banned = moderation_token(&app, held[2], &second.user).await;
    assert_eq!(open_link(&app, &banned).await.0, 200, "still a moderator");
    let spare_admin = person(&app, "sam", Role::Admin, None).await;
    app.store
        .ban_user(&spare_admin.user, second.user.id, "compromised", None)
        .await
        .unwrap();
    let (status, page) = open_link(&app, &banned).await;
    assert_eq!(status, 410, "{page}");
    assert!(page.contains("no longer moderates"), "{page}");
    assert_eq!(
        app.store.comment(held[2]).await.unwrap().unwrap().status,
        CommentStatus::Pending,
        "nobody's stale link changed it"
    );
}

// ---- 6. Per-address comment limit under concurrency ----

#[tokio::test]
async fn readers_sharing_an_address_get_exactly_the_address_limit_through_at_once() {
    let app = TestApp::spawn_with(|s| {
        s.comments.moderation = "off".to_owned();
        s.comments.per_user_per_minute = 0;
        s.comments.per_address_per_minute = 2;
        s.server.trusted_proxies = vec!["127.0.0.1".to_owned()];
        s.mail.worker = false;
    })
    .await;
    let post = a_post(&app).await;
    // A few rounds, each from its own address: one lucky round proves little.
    for round in 0..3 {
        let address = format!("203.0.113.{}", 70 + round);
        let mut readers = Vec::new();
        for n in 0..12 {
            let reader = person(&app, &format!("r{round}x{n}"), Role::Reader, Some(&address)).await;
            // Connected beforehand, so that the comments leave together.
            reader.client.get(app.url("/healthz")).send().await.unwrap();
            readers.push(reader);
        }
        let attempts = readers.iter().enumerate().map(|(n, reader)| {
            let (app, post) = (&app, &post);
            async move {
                reader
                    .comment(app, post, &format!("Comment number {n}"))
                    .await
                    .status()
                    .as_u16()
            }
        });
        let statuses = futures_join_all(attempts).await;
        let stored = app
            .count(&format!(
                "SELECT COUNT(*) AS n FROM comments WHERE author_ip = '{address}'"
            ))
            .await;
        assert_eq!(stored, 2, "round {round}, answers: {statuses:?}");
        assert_eq!(
            statuses.iter().filter(|s| **s == 303).count(),
            2,
            "{statuses:?}"
        );
    }
}

/// Runs the futures at once (tokio has no join_all; spawning would need 'static).
async fn futures_join_all<F: std::future::Future<Output = u16>>(
    futures: impl Iterator<Item = F>,
) -> Vec<u16> {
    let mut pinned: Vec<_> = futures.map(Box::pin).collect();
    let mut results: Vec<Option<u16>> = vec![None; pinned.len()];
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (index, future) in pinned.iter_mut().enumerate() {
            if results[index].is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => results[index] = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    results.into_iter().map(|r| r.unwrap()).collect()
}

// ---- 7. Avatars ----

#[tokio::test]
async fn an_avatar_that_is_not_a_web_address_is_neither_stored_nor_shown() {
    let github = OAuthStandIn::start();
    github.add_user(StandInUser {
        id: 4242,
        login: "mallory".into(),
        name: Some("Mallory".into()),
        email: Some("mallory@example.org".into()),
        email_verified: true,
        avatar_url: Some("javascript:alert(document.cookie)".into()),
    });
    github.add_user(StandInUser {
        id: 4343,
        login: "alice".into(),
        name: Some("Alice".into()),
        email: Some("alice@example.org".into()),
        email_verified: true,
        avatar_url: Some("https://avatars.example.com/u/4343".into()),
    });
    let config = github.provider_config(folio_auth::ProviderKind::Github);
    let app = TestApp::spawn_with(|s| {
        s.auth.providers.insert("github".into(), config);
        s.comments.moderation = "off".to_owned();
    })
    .await;
    let post = a_post(&app).await;
    let mallory = Reader::new(&app);
    mallory
        .sign_in(Idp::StandIn(&github), "github", "mallory", "/")
        .await;
    let alice = Reader::new(&app);
    alice
        .sign_in(Idp::StandIn(&github), "github", "alice", "/")
        .await;
    let stored = text_of(
        &app,
        "SELECT u.avatar_url AS v FROM users u WHERE u.display_name = 'Mallory'",
    )
    .await;
    assert_eq!(stored, None, "the javascript: avatar was stored");
    assert_eq!(
        text_of(
            &app,
            "SELECT avatar_url AS v FROM users WHERE display_name = 'Alice'"
        )
        .await,
        Some("https://avatars.example.com/u/4343".to_owned())
    );
    let path = post.summary.path();
    mallory
        .comment_ok(&path, post.summary.id, None, "Hello from Mallory.")
        .await;
    alice
        .comment_ok(&path, post.summary.id, None, "Hello from Alice.")
        .await;
    // A row stored before the check: never put in a page.
    app.sql("UPDATE users SET avatar_url = 'data:image/svg+xml,<svg onload=alert(1)>' WHERE display_name = 'Mallory'")
        .await;
    let page = app.page(&path).await;
    assert!(
        page.contains("src=\"https://avatars.example.com/u/4343\""),
        "{page}"
    );
    assert!(!page.contains("onload"), "a stored data: avatar was shown");
    assert!(!page.contains("javascript:"), "{page}");
    let account = mallory.page("/account").await;
    assert!(!account.contains("onload"), "{account}");
}

// ---- 8. Banned readers ----

#[tokio::test]
async fn a_banned_reader_cannot_like_or_follow() {
    let app = TestApp::spawn_with(|s| {
        s.comments.moderation = "off".to_owned();
        s.mail.worker = false;
    })
    .await;
    let post = a_post(&app).await;
    let moderator = person(&app, "mod", Role::Editor, None).await;
    let comment = app
        .comment(
            post.summary.id,
            None,
            "Someone",
            "Likeable.",
            CommentStatus::Approved,
        )
        .await;
    let banned = person(&app, "troll", Role::Reader, None).await;
    app.store
        .ban_user(&moderator.user, banned.user.id, "spam", None)
        .await
        .unwrap();
    let post_id = post.summary.id.to_string();
    for path in [
        format!("/likes/post/{post_id}"),
        format!("/likes/comment/{comment}"),
        format!("/follow/{post_id}"),
    ] {
        let response = banned.post(&app, &path, &[("follow", "1")]).await;
        assert_eq!(response.status(), 403, "{path}");
        let page = response.text().await.unwrap();
        assert!(page.contains("banned"), "{path}: {page}");
    }
    let response = banned
        .post(
            &app,
            "/account/subscriptions",
            &[("action", "new_posts_on")],
        )
        .await;
    assert_eq!(response.status(), 403);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM post_likes").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM comment_likes").await,
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM thread_follows").await,
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM blog_subscribers")
            .await,
        0
    );
    // Someone not banned still can.
    let fan = person(&app, "fan", Role::Reader, None).await;
    let response = fan.post(&app, &format!("/likes/post/{post_id}"), &[]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM post_likes").await, 1);
}

// ---- 9. Slow and greedy clients ----

/// Reads until the server closes the connection; what it sent, or `None` on timeout.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&received).into()),
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
        }
    }
}

fn host_port(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_owned()
}

#[tokio::test]
async fn a_request_header_that_never_finishes_is_cut_off() {
    let app = TestApp::spawn_with(|s| s.server.header_read_timeout_seconds = 1).await;
    let mut slow = TcpStream::connect(host_port(&app)).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: blog\r\nX-Slow: ")
        .await
        .unwrap();
    let started = Instant::now();
    let closed = read_until_closed(&mut slow, Duration::from_secs(8)).await;
    assert!(
        closed.is_some(),
        "a partial request was still open after 8 s"
    );
    assert!(started.elapsed() >= Duration::from_millis(800));
    // Whole requests are still served.
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_until_others_close() {
    let app = TestApp::spawn_with(|s| {
        s.server.max_connections = 2;
        s.server.header_read_timeout_seconds = 30;
    })
    .await;
    let address = host_port(&app);
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: blog\r\n")
            .await
            .unwrap();
        held.push(stream);
    }
    // Let the server take both before the third arrives.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut third = TcpStream::connect(&address).await.unwrap();
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: blog\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(
        read_until_closed(&mut third, Duration::from_millis(1500)).await,
        None,
        "a third connection was served while two were open"
    );
    drop(held.pop());
    let answer = read_until_closed(&mut third, Duration::from_secs(10))
        .await
        .expect("served once a slot was free");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

// ---- 10. /subscribe ----

#[tokio::test]
async fn one_address_cannot_mail_many_strangers_through_subscribe() {
    let app = TestApp::spawn_with(|s| {
        s.mail.worker = false;
        s.mail.confirmations_per_address_per_hour = 5;
    })
    .await;
    let mut refused = Vec::new();
    for n in 0..30 {
        let response = app
            .client
            .post(app.url("/subscribe"))
            .form(&[
                ("email", format!("stranger{n}@example.net").as_str()),
                ("url", ""),
            ])
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        if status != 200 {
            refused.push((status, response.text().await.unwrap()));
        }
    }
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM mail_outbox WHERE kind = 'confirm_blog'")
            .await,
        5
    );
    assert_eq!(refused.len(), 25);
    assert_eq!(refused[0].0, 429);
    assert!(
        refused[0].1.contains("Too many subscriptions"),
        "{}",
        refused[0].1
    );
}

// ---- 11. Image bombs ----

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut chunk = u32::try_from(data.len()).unwrap().to_be_bytes().to_vec();
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    chunk.extend_from_slice(&body);
    chunk.extend_from_slice(&crc32(&body).to_be_bytes());
    chunk
}

/// A small PNG whose header declares 11000 × 11000 RGB pixels (363 MB once unpacked); its
/// image data holds the first rows, all zero, as a bomb's highly compressible data would.
fn png_declaring(width: u32, height: u32) -> Vec<u8> {
    use std::io::Write as _;
    let mut header = width.to_be_bytes().to_vec();
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]);
    let row = vec![0u8; 1 + 3 * usize::try_from(width).unwrap()];
    let mut deflate = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    for _ in 0..64 {
        deflate.write_all(&row).unwrap();
    }
    let data = deflate.finish().unwrap();
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(png_chunk(b"IHDR", &header));
    png.extend(png_chunk(b"IDAT", &data));
    png.extend(png_chunk(b"IEND", &[]));
    png
}

#[tokio::test]
async fn an_image_declaring_too_many_pixels_is_refused_before_decoding() {
    let media = tempfile::tempdir().unwrap();
    let directory = media.path().join("media");
    let configured = directory.display().to_string();
    let app = TestApp::spawn_with(|s| s.media.directory = configured).await;
    let author = person(&app, "pix", Role::Author, None).await;
    let bomb = png_declaring(11_000, 11_000);
    assert!(
        bomb.len() < 1024 * 1024,
        "the bomb is small: {}",
        bomb.len()
    );
    let boundary = "folio-bomb-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n{}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.png\"\r\n\
         Content-Type: image/png\r\n\r\n",
        author.csrf
    )
    .into_bytes();
    body.extend_from_slice(&bomb);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let response = author
        .client
        .post(app.url("/admin/media"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let page = response.text().await.unwrap();
    assert_eq!(status, 413, "{page}");
    assert!(page.contains("11000 × 11000 pixels"), "{page}");
    assert!(page.contains("megapixels"), "{page}");
    let stored = std::fs::read_dir(&directory).map_or(0, |d| d.count());
    assert_eq!(stored, 0, "something was stored");
}

// ---- 12. /metrics ----

#[tokio::test]
async fn metrics_are_served_only_to_the_allowed_addresses() {
    let app = TestApp::spawn_with(|s| {
        s.server.trusted_proxies = vec!["127.0.0.1".to_owned()];
    })
    .await;
    // This machine, directly: Prometheus beside Folio.
    let local = app.get("/metrics").await;
    assert_eq!(local.status(), 200);
    assert!(local.text().await.unwrap().contains("http_requests_total"));
    // Through the proxy, from the Internet.
    let outside = app
        .client
        .get(app.url("/metrics"))
        .header("x-forwarded-for", "198.51.100.23")
        .send()
        .await
        .unwrap();
    assert_eq!(outside.status(), 403);
    let page = outside.text().await.unwrap();
    assert!(!page.contains("http_requests_total"));
    assert!(page.contains("metrics_allow_from"), "{page}");

    // A proxy Folio was not told about forwards the Internet: refused too.
    let untrusted = TestApp::spawn().await;
    let forwarded = untrusted
        .client
        .get(untrusted.url("/metrics"))
        .header("x-forwarded-for", "198.51.100.23")
        .send()
        .await
        .unwrap();
    assert_eq!(forwarded.status(), 403);

    // A scraper elsewhere, listed by range.
    let listed = TestApp::spawn_with(|s| {
        s.server.trusted_proxies = vec!["127.0.0.1".to_owned()];
        s.server.metrics_allow_from = vec!["10.1.0.0/16".to_owned()];
    })
    .await;
    let scraper = listed
        .client
        .get(listed.url("/metrics"))
        .header("x-forwarded-for", "10.1.2.3")
        .send()
        .await
        .unwrap();
    assert_eq!(scraper.status(), 200);
    assert_eq!(
        listed.get("/metrics").await.status(),
        403,
        "loopback not listed"
    );
}

// ---- 13. CSP and HSTS ----

fn no_inline_styles(path: &str, html: &str) {
    assert!(!html.contains(" style=\""), "{path} has a style attribute");
    assert!(!html.contains("<style"), "{path} has a <style> block");
}

#[tokio::test]
async fn pages_need_no_inline_styles_and_the_policy_allows_none() {
    let app = TestApp::spawn().await;
    let writer = person(&app, "writer", Role::Admin, None).await;
    let author = app.author("Ann").await;
    let post = app
        .post_in(
            &author,
            "Nested",
            "A post filed deep.",
            common::days_ago(1),
            &["Travel", "Europe"],
            &["tag"],
        )
        .await;
    // Europe under Travel: the sidebar indents it.
    app.sql(
        "UPDATE terms SET parent_id = (SELECT t.id FROM terms t WHERE t.slug = 'travel') \
         WHERE slug = 'europe'",
    )
    .await;
    app.settle().await;
    let response = app.get("/").await;
    let policy = response
        .headers()
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(!policy.contains("'unsafe-inline'"), "{policy}");
    assert!(policy.contains("style-src 'self'"), "{policy}");
    assert!(!policy.contains("img-src *"), "{policy}");
    assert!(policy.contains("img-src 'self' data: https:"), "{policy}");
    assert!(
        response
            .headers()
            .get("strict-transport-security")
            .is_none(),
        "HSTS over http"
    );
    let front = response.text().await.unwrap();
    assert!(
        front.contains("cat-item depth-1"),
        "no nested category: {front}"
    );
    no_inline_styles("/", &front);
    no_inline_styles("post", &app.page(&post.summary.path()).await);
    for path in [
        "/admin/",
        "/admin/posts/new",
        &format!("/admin/posts/{}", post.summary.id),
    ] {
        let response = writer.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        no_inline_styles(path, &response.text().await.unwrap());
    }
}

#[tokio::test]
async fn an_https_site_sends_hsts_and_its_configured_image_hosts() {
    let app = TestApp::spawn_with(|s| {
        s.site.base_url = "https://blog.example.org".to_owned();
        s.media.image_sources = vec!["http://old-blog.example.org".to_owned()];
    })
    .await;
    let response = app.get("/").await;
    assert_eq!(
        response
            .headers()
            .get("strict-transport-security")
            .map(|v| v.to_str().unwrap().to_owned()),
        Some("max-age=31536000".to_owned())
    );
    let policy = response
        .headers()
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        policy.contains("img-src 'self' data: http://old-blog.example.org;"),
        "{policy}"
    );
}

// ---- Sessions and admins ----

#[tokio::test]
async fn a_sign_in_ends_after_its_absolute_lifetime_however_active() {
    let app = TestApp::spawn_with(|s| s.session.absolute_lifetime_days = 90).await;
    let reader = person(&app, "old", Role::Reader, None).await;
    assert_eq!(
        reader
            .client
            .get(app.url("/account"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Signed in 91 days ago, and active ever since (the inactivity expiry is in the future).
    let data = text_of(
        &app,
        "SELECT data AS v FROM sessions WHERE user_id IS NOT NULL",
    )
    .await
    .unwrap();
    let mut data: serde_json::Value = serde_json::from_str(&data).unwrap();
    let long_ago = time::OffsetDateTime::now_utc() - time::Duration::days(91);
    data["signed_in_at"] = long_ago.unix_timestamp().into();
    app.sql(&format!(
        "UPDATE sessions SET data = '{}' WHERE user_id = {}",
        data, reader.user.id
    ))
    .await;
    let response = reader.client.get(app.url("/account")).send().await.unwrap();
    assert_eq!(response.status(), 303, "still signed in after 91 days");
    assert!(
        location(&response).contains("/login"),
        "{}",
        location(&response)
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM sessions WHERE user_id = {}",
            reader.user.id
        ))
        .await,
        0,
        "the session was removed"
    );
    // One that began 89 days ago still works.
    let recent = person(&app, "recent", Role::Reader, None).await;
    let data = text_of(
        &app,
        &format!(
            "SELECT data AS v FROM sessions WHERE user_id = {}",
            recent.user.id
        ),
    )
    .await
    .unwrap();
    let mut data: serde_json::Value = serde_json::from_str(&data).unwrap();
    data["signed_in_at"] = (time::OffsetDateTime::now_utc() - time::Duration::days(89))
        .unix_timestamp()
        .into();
    app.sql(&format!(
        "UPDATE sessions SET data = '{}' WHERE user_id = {}",
        data, recent.user.id
    ))
    .await;
    assert_eq!(
        recent
            .client
            .get(app.url("/account"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn the_last_admin_cannot_be_demoted_banned_or_deleted() {
    let app = TestApp::spawn().await;
    let only = person(&app, "root", Role::Admin, None).await;
    // From the command line.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_folio"))
        .args(["user", "role", "root@example.org", "editor"])
        .env("FOLIO__DATABASE__URL", &app.database_url)
        .env("FOLIO__LOG__LEVEL", "warn")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("last admin"), "{stderr}");
    // Deleting their own account from the account page.
    let response = only
        .post(
            &app,
            "/account/delete",
            &[("comments", "keep"), ("confirm", "on")],
        )
        .await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().contains("last admin"));
    let still = app.store.user_by_id(only.user.id).await.unwrap().unwrap();
    assert_eq!(still.role, Role::Admin);

    // With a second admin, one may be demoted; then the other is the last again, and a
    // banned admin who still holds the role is no admin to leave the site to.
    let second = person(&app, "deputy", Role::Admin, None).await;
    let response = second
        .post(
            &app,
            &format!("/admin/users/{}/role", only.user.id),
            &[("role", "editor")],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        app.store
            .user_by_id(only.user.id)
            .await
            .unwrap()
            .unwrap()
            .role,
        Role::Editor
    );
    let third = person(&app, "third", Role::Admin, None).await;
    app.store
        .ban_user(&third.user, second.user.id, "lost laptop", None)
        .await
        .unwrap();
    let response = second
        .post(
            &app,
            &format!("/admin/users/{}/role", third.user.id),
            &[("role", "reader")],
        )
        .await;
    assert_eq!(response.status(), 303);
    let notice = second
        .client
        .get(app.url("/admin/users"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(notice.contains("last admin"), "{notice}");
    assert_eq!(
        app.store
            .user_by_id(third.user.id)
            .await
            .unwrap()
            .unwrap()
            .role,
        Role::Admin
    );
}
