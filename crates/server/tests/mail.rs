//! Email notifications end to end: a real Folio over HTTP, its mail worker, and a real SMTP
//! server on loopback (mailin-embedded) whose messages are parsed with mail-parser.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::smtp::Smtp;
use common::{TestApp, comment_id_of, location};
use folio_domain::{Identity, User};

async fn app_with_smtp(port: u16) -> TestApp {
    TestApp::spawn_with(|s| {
        s.mail.transport = folio_server::config::MailTransport::Smtp;
        s.mail.smtp_url = format!("smtp://127.0.0.1:{port}");
        s.mail.poll_milliseconds = 50;
        s.mail.retry_base_seconds = 1;
        s.mail.retry_max_seconds = 2;
        s.mail.timeout_seconds = 5;
        s.comments.moderation = "off".to_owned();
        s.comments.per_user_per_minute = 0;
    })
    .await
}

/// A reader who signed in with GitHub, whose address GitHub vouched for.
async fn reader(app: &TestApp, login: &str, name: &str) -> (User, reqwest::Client) {
    signed_in_reader(app, login, name, true).await
}

/// A reader signed in with GitHub; `verified`: whether GitHub vouched for their address.
async fn signed_in_reader(
    app: &TestApp,
    login: &str,
    name: &str,
    verified: bool,
) -> (User, reqwest::Client) {
    let user = app
        .store
        .sign_in(&Identity {
            provider: "github".to_owned(),
            subject: format!("gh-{login}"),
            login: Some(login.to_owned()),
            display_name: name.to_owned(),
            email: Some(format!("{login}@example.org")),
            email_verified: verified,
            avatar_url: None,
            profile_url: None,
        })
        .await
        .unwrap();
    let (cookie, _csrf) = folio_web::open_session_for(&app.store, user.id)
        .await
        .unwrap();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::COOKIE,
        format!("{}={cookie}", folio_web::SESSION_COOKIE)
            .parse()
            .unwrap(),
    );
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .unwrap();
    (user, client)
}

/// Posts a comment through the form, as a browser does; returns its id.
async fn comment(
    app: &TestApp,
    client: &reqwest::Client,
    post: &folio_domain::Post,
    parent: Option<i64>,
    text: &str,
    extra: &[(&str, &str)],
) -> i64 {
    let path = post_path(post);
    let page = client.get(app.url(&path)).send().await.unwrap();
    let html = page.text().await.unwrap();
    assert!(
        html.contains("name=\"subscribe_comments\""),
        "no follow-up checkbox"
    );
    assert!(
        html.contains("name=\"subscribe_blog\""),
        "no new-posts checkbox"
    );
    let csrf = common::csrf_of(&html);
    let post_id = post.summary.id.to_string();
    let parent = parent.unwrap_or(0).to_string();
    let mut form = vec![
        ("comment", text),
        ("comment_post_ID", post_id.as_str()),
        ("comment_parent", parent.as_str()),
        ("_csrf", csrf.as_str()),
        ("url", ""),
    ];
    form.extend_from_slice(extra);
    let response = client
        .post(app.url("/comments"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    comment_id_of(&location(&response))
}

fn post_path(post: &folio_domain::Post) -> String {
    post.summary.path()
}

/// Waits until the outbox has nothing left to send now.
async fn drained(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let counts = app.store.outbox_counts().await.unwrap();
        if counts.pending == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "outbox not drained: {counts:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sales_post(app: &TestApp) -> folio_domain::Post {
    let writer = app.author("Writer").await;
    // Older than the announcement window: these tests are about comments, and no worker
    // write (a new-post announcement) should race the test's own sign-ins on SQLite.
    app.post(
        &writer,
        "Sales Isn't Adversarial",
        "Selling is helping someone decide.",
        common::days_ago(3),
    )
    .await
}

#[tokio::test]
async fn alice_hears_of_bobs_reply_once_and_unsubscribes_with_one_click() {
    let smtp = Smtp::start();
    let app = app_with_smtp(smtp.port).await;
    let post = sales_post(&app).await;
    let (_alice, alice_client) = reader(&app, "alice", "Alice").await;
    let (_bob, bob_client) = reader(&app, "bob", "Bob").await;

    let alice_comment = comment(
        &app,
        &alice_client,
        &post,
        None,
        "Good salespeople **listen** first.",
        &[("subscribe_comments", "subscribe")],
    )
    .await;
    let bob_reply = comment(
        &app,
        &bob_client,
        &post,
        Some(alice_comment),
        "Agreed, and they say no when it doesn't fit.",
        &[],
    )
    .await;

    let mail = smtp.wait_for("alice@example.org", 1).await;
    drained(&app).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.to("alice@example.org").len(), 1, "one email per event");
    assert!(
        smtp.to("bob@example.org").is_empty(),
        "nobody hears of their own comment"
    );

    let message = &mail[0];
    let parsed = message.parsed();
    assert_eq!(
        parsed.subject().unwrap(),
        "Bob replied to your comment on “Sales Isn't Adversarial”"
    );
    let text = parsed.body_text(0).unwrap().to_string();
    let html = parsed.body_html(0).unwrap().to_string();
    let link = format!("{}{}#comment-{bob_reply}", app.address, post_path(&post));
    for part in [&text, &html] {
        assert!(part.contains("listen"), "quotes Alice: {part}");
        assert!(part.contains("say no when it"), "quotes Bob: {part}");
        assert!(part.contains(&link), "links to Bob's reply: {part}");
    }
    assert!(parsed.message_id().is_some());
    assert!(parsed.date().is_some());
    assert!(
        message
            .header("In-Reply-To")
            .contains(&format!("post-{}", post.summary.id))
    );
    assert!(
        message
            .header("References")
            .contains(&format!("post-{}", post.summary.id))
    );
    assert_eq!(
        message.header("List-Unsubscribe-Post"),
        "List-Unsubscribe=One-Click"
    );
    let unsubscribe = message.header("List-Unsubscribe");
    let unsubscribe = unsubscribe
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned();
    assert!(unsubscribe.starts_with(&format!("{}/unsubscribe/", app.address)));

    // The unsubscribe page works without signing in.
    let page = app.client.get(&unsubscribe).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("value=\"thread\""), "{page}");
    assert!(page.contains("value=\"everything\""), "{page}");

    // What the mail client's own button does (RFC 8058): a bare POST, no cookie, no token.
    let one_click = app
        .client
        .post(&unsubscribe)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(one_click.status(), 200);
    assert_eq!(
        app.store
            .thread_follow(post.summary.id, _alice.id)
            .await
            .unwrap(),
        Some(false)
    );

    // Another reply to Alice: she asked for no more email about this thread.
    let (_carol, carol_client) = reader(&app, "carol", "Carol").await;
    comment(
        &app,
        &carol_client,
        &post,
        Some(alice_comment),
        "Me too.",
        &[],
    )
    .await;
    drained(&app).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.to("alice@example.org").len(), 1);
}

#[tokio::test]
async fn nobody_is_told_of_their_own_comment() {
    let smtp = Smtp::start();
    let app = app_with_smtp(smtp.port).await;
    let post = sales_post(&app).await;
    let (_alice, alice) = reader(&app, "alice", "Alice").await;
    let first = comment(
        &app,
        &alice,
        &post,
        None,
        "A thought.",
        &[("subscribe_comments", "subscribe")],
    )
    .await;
    comment(
        &app,
        &alice,
        &post,
        Some(first),
        "And a second thought.",
        &[],
    )
    .await;
    drained(&app).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(smtp.all().is_empty(), "{:?}", smtp.all().len());
    assert_eq!(app.store.outbox_counts().await.unwrap().sent, 0);
}

#[tokio::test]
async fn the_post_author_and_followers_hear_of_new_comments_once_each() {
    let smtp = Smtp::start();
    let app = app_with_smtp(smtp.port).await;
    let post = sales_post(&app).await;
    app.sql("UPDATE users SET email_verified = TRUE WHERE email = 'writer@example.org'")
        .await;
    let (_alice, alice) = reader(&app, "alice", "Alice").await;
    let (_bob, bob) = reader(&app, "bob", "Bob").await;
    let (_carol, carol) = reader(&app, "carol", "Carol").await;
    let first = comment(
        &app,
        &alice,
        &post,
        None,
        "First comment.",
        &[("subscribe_comments", "subscribe")],
    )
    .await;
    // Writer hears of Alice's comment.
    let writer_mail = smtp.wait_for("writer@example.org", 1).await;
    assert!(
        writer_mail[0]
            .parsed()
            .subject()
            .unwrap()
            .starts_with("Alice commented on")
    );
    // Carol follows the conversation without commenting.
    let page = carol
        .get(app.url(&post_path(&post)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Follow this conversation"));
    let followed = carol
        .post(app.url(&format!("/follow/{}", post.summary.id)))
        .form(&[("_csrf", common::csrf_of(&page).as_str()), ("follow", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(followed.status(), 303);
    // Bob follows too and answers: Alice gets a reply email (not also a follower one), the
    // writer one more, Carol a follower's one.
    comment(
        &app,
        &bob,
        &post,
        Some(first),
        "An answer.",
        &[("subscribe_comments", "subscribe")],
    )
    .await;
    smtp.wait_for("alice@example.org", 1).await;
    smtp.wait_for("writer@example.org", 2).await;
    drained(&app).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.to("alice@example.org").len(), 1);
    assert_eq!(smtp.to("writer@example.org").len(), 2);
    assert!(smtp.to("bob@example.org").is_empty());
    let to_carol = smtp.to("carol@example.org");
    assert_eq!(to_carol.len(), 1);
    assert!(
        to_carol[0]
            .parsed()
            .subject()
            .unwrap()
            .starts_with("New comment on")
    );
}

#[tokio::test]
async fn smtp_down_then_up_delivers_exactly_once() {
    // A port with nobody listening, for now.
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let app = app_with_smtp(port).await;
    let post = sales_post(&app).await;
    let (_alice, alice) = reader(&app, "alice", "Alice").await;
    let (_bob, bob) = reader(&app, "bob", "Bob").await;
    let first = comment(
        &app,
        &alice,
        &post,
        None,
        "Down?",
        &[("subscribe_comments", "subscribe")],
    )
    .await;
    comment(&app, &bob, &post, Some(first), "Up!", &[]).await;
    // The worker tried and failed (connection refused): the email waits, not lost.
    let deadline = Instant::now() + Duration::from_secs(20);
    while app
        .count("SELECT COUNT(*) AS n FROM mail_outbox WHERE status = 'pending' AND attempts >= 1")
        .await
        < 1
    {
        assert!(Instant::now() < deadline, "no failed attempt recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let smtp = Smtp::start_on(std::net::TcpListener::bind(("127.0.0.1", port)).unwrap());
    smtp.wait_for("alice@example.org", 1).await;
    drained(&app).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(smtp.all().len(), 1, "delivered exactly once");
    let counts = app.store.outbox_counts().await.unwrap();
    assert_eq!((counts.sent, counts.failed, counts.pending), (1, 0, 0));
}

#[tokio::test]
async fn a_permanent_refusal_marks_the_email_failed_without_retrying() {
    let smtp = Smtp::start();
    smtp.reject.store(true, Ordering::SeqCst);
    let app = app_with_smtp(smtp.port).await;
    let post = sales_post(&app).await;
    let (_alice, alice) = reader(&app, "alice", "Alice").await;
    let (_bob, bob) = reader(&app, "bob", "Bob").await;
    let first = comment(
        &app,
        &alice,
        &post,
        None,
        "Refused?",
        &[("subscribe_comments", "subscribe")],
    )
    .await;
    comment(&app, &bob, &post, Some(first), "Refused.", &[]).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.store.failed_mail().await.unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the email was not marked failed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let failed = app.store.failed_mail().await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].attempts, 1, "not retried: {failed:?}");
    assert!(failed[0].last_error.contains("550"), "{failed:?}");
    assert!(smtp.all().is_empty());

    // `folio mail retry` puts it back; now the server accepts.
    smtp.reject.store(false, Ordering::SeqCst);
    assert_eq!(app.store.retry_failed_mail(None).await.unwrap(), 1);
    smtp.wait_for("alice@example.org", 1).await;
}

#[tokio::test]
async fn a_typed_address_gets_only_the_confirmation_until_confirmed() {
    let smtp = Smtp::start();
    let app = app_with_smtp(smtp.port).await;
    let writer = app.author("Writer").await;
    let response = app
        .client
        .post(app.url("/subscribe"))
        .form(&[("email", "reader@example.org"), ("url", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let confirmation = smtp.wait_for("reader@example.org", 1).await;
    let parsed = confirmation[0].parsed();
    assert!(
        parsed
            .subject()
            .unwrap()
            .starts_with("Confirm your subscription")
    );
    let text = parsed.body_text(0).unwrap().to_string();
    let start = text
        .find(&format!("{}/subscribe/confirm/", app.address))
        .unwrap();
    let confirm_url: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();

    // A post published before confirmation: the worker announces it, to nobody.
    let early = app
        .post(&writer, "Before", "text", common::days_ago(0))
        .await;
    announced(&app, early.summary.id).await;
    drained(&app).await;
    assert_eq!(smtp.to("reader@example.org").len(), 1);
    // Subscribing again sends no second confirmation.
    app.client
        .post(app.url("/subscribe"))
        .form(&[("email", "reader@example.org"), ("url", "")])
        .send()
        .await
        .unwrap();

    // Opening the link shows a button; pressing it confirms.
    assert_eq!(
        app.client.get(&confirm_url).send().await.unwrap().status(),
        200
    );
    assert_eq!(
        app.store
            .blog_subscription("reader@example.org")
            .await
            .unwrap(),
        Some(false)
    );
    let confirmed = app.client.post(&confirm_url).send().await.unwrap();
    assert_eq!(confirmed.status(), 200);
    assert_eq!(
        app.store
            .blog_subscription("reader@example.org")
            .await
            .unwrap(),
        Some(true)
    );

    // Publishing does not wait for email: the worker queues one per confirmed subscriber.
    let later = app
        .post(&writer, "After", "text", common::days_ago(0))
        .await;
    announced(&app, later.summary.id).await;
    // An imported old post is never announced.
    let old = app
        .post(&writer, "Archive", "text", common::days_ago(400))
        .await;
    let mail = smtp.wait_for("reader@example.org", 2).await;
    drained(&app).await;
    assert_eq!(smtp.to("reader@example.org").len(), 2);
    let news = mail
        .iter()
        .find(|m| m.parsed().subject().unwrap().contains("After"))
        .expect("the new post's email");
    let unsubscribe = news.header("List-Unsubscribe");
    let unsubscribe = unsubscribe.trim_start_matches('<').trim_end_matches('>');
    let done = app
        .client
        .post(unsubscribe)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    assert_eq!(
        app.store
            .blog_subscription("reader@example.org")
            .await
            .unwrap(),
        None
    );
    assert!(
        !news.parsed().subject().unwrap().contains("Archive")
            && app
                .count(&format!(
                    "SELECT COUNT(*) AS n FROM mail_outbox WHERE post_id = {}",
                    old.summary.id
                ))
                .await
                == 0
    );
}

/// Waits until a mail worker has queued a post's new-post emails.
async fn announced(app: &TestApp, post_id: i64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while app
        .count(&format!(
            "SELECT COUNT(*) AS n FROM post_announcements WHERE post_id = {post_id}"
        ))
        .await
        == 0
    {
        assert!(Instant::now() < deadline, "post {post_id} never announced");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn app_without_worker(port: u16, moderation: &str) -> TestApp {
    let moderation = moderation.to_owned();
    TestApp::spawn_with(move |s| {
        s.mail.transport = folio_server::config::MailTransport::Smtp;
        s.mail.smtp_url = format!("smtp://127.0.0.1:{port}");
        s.mail.worker = false;
        s.mail.poll_milliseconds = 20;
        s.comments.moderation = moderation;
        s.comments.per_user_per_minute = 0;
    })
    .await
}

/// Runs one mail worker (as `folio worker` would) until the outbox has nothing due.
async fn run_worker_until_drained(app: &TestApp) {
    let worker = folio_server::app::mail_worker(app.store.clone(), &app.settings).unwrap();
    while worker.run_once().await.unwrap() > 0 {}
}

#[tokio::test]
async fn a_comment_deleted_before_sending_is_not_sent() {
    let smtp = Smtp::start();
    let app = app_without_worker(smtp.port, "off").await;
    let post = sales_post(&app).await;
    let (_alice, alice) = reader(&app, "alice", "Alice").await;
    let (_bob, bob) = reader(&app, "bob", "Bob").await;
    let first = comment(
        &app,
        &alice,
        &post,
        None,
        "Hello.",
        &[("subscribe_comments", "subscribe")],
    )
    .await;
    let reply = comment(&app, &bob, &post, Some(first), "Oops, wrong post.", &[]).await;
    assert_eq!(app.store.outbox_counts().await.unwrap().pending, 1);
    // Bob deletes his reply within the edit window, before any worker ran.
    let csrf = common::csrf_of(
        &bob.get(app.url(&format!("/comments/{reply}/edit")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    let deleted = bob
        .post(app.url(&format!("/comments/{reply}/delete")))
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 303);
    run_worker_until_drained(&app).await;
    let counts = app.store.outbox_counts().await.unwrap();
    assert_eq!((counts.sent, counts.cancelled), (0, 1));
    assert!(smtp.all().is_empty());
}

#[tokio::test]
async fn a_held_comment_tells_only_moderators_until_approved() {
    let smtp = Smtp::start();
    let app = app_without_worker(smtp.port, "always").await;
    let post = sales_post(&app).await;
    app.sql("UPDATE users SET email_verified = TRUE WHERE email = 'writer@example.org'")
        .await;
    let (moderator, _) = reader(&app, "mod", "Moderator").await;
    app.store
        .set_role(moderator.id, folio_domain::Role::Editor)
        .await
        .unwrap();
    let (_alice, alice) = reader(&app, "alice", "Alice").await;
    let (_bob, bob) = reader(&app, "bob", "Bob").await;
    // Alice's comment is approved at once by SQL, so that Bob can answer it.
    let first = comment(
        &app,
        &alice,
        &post,
        None,
        "Held first.",
        &[("subscribe_comments", "subscribe")],
    )
    .await;
    run_worker_until_drained(&app).await;
    assert_eq!(
        smtp.to("mod@example.org").len(),
        1,
        "the moderator is asked"
    );
    assert!(
        smtp.to("writer@example.org").is_empty(),
        "held: only moderators"
    );
    let moderation = smtp.to("mod@example.org")[0]
        .parsed()
        .subject()
        .unwrap()
        .to_owned();
    assert!(moderation.starts_with("Please moderate"), "{moderation}");
    let path = post_path(&post);
    let plan =
        folio_notification::plan_approval_mail(&app.store, first, &post.summary.title, &path)
            .await
            .unwrap()
            .unwrap();
    app.store
        .set_comments_status(
            &moderator,
            &[first],
            folio_domain::CommentStatus::Approved,
            |id| plan.rows(id),
        )
        .await
        .unwrap();
    run_worker_until_drained(&app).await;
    assert_eq!(
        smtp.to("writer@example.org").len(),
        1,
        "the author hears once approved"
    );
    assert_eq!(
        smtp.to("mod@example.org").len(),
        1,
        "no second email for the moderator"
    );

    let reply = comment(&app, &bob, &post, Some(first), "Held reply.", &[]).await;
    run_worker_until_drained(&app).await;
    assert!(
        smtp.to("alice@example.org").is_empty(),
        "followers wait for approval"
    );
    assert_eq!(smtp.to("mod@example.org").len(), 2);
    // The moderator approves from the email: a link that works once, without signing in.
    let ask = &smtp.to("mod@example.org")[1];
    let text = ask.parsed().body_text(0).unwrap().to_string();
    let start = text.find(&format!("{}/moderate/", app.address)).unwrap();
    let moderate: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    let page = app.client.get(&moderate).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Held reply."));
    assert_eq!(
        app.store.comment(reply).await.unwrap().unwrap().status,
        folio_domain::CommentStatus::Pending,
        "opening the link changes nothing"
    );
    let approved = app
        .client
        .post(&moderate)
        .form(&[("action", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 200);
    assert_eq!(
        app.store.comment(reply).await.unwrap().unwrap().status,
        folio_domain::CommentStatus::Approved
    );
    let again = app
        .client
        .post(&moderate)
        .form(&[("action", "spam")])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 410, "single use");
    run_worker_until_drained(&app).await;
    let to_alice = smtp.to("alice@example.org");
    assert_eq!(to_alice.len(), 1);
    assert!(
        to_alice[0]
            .parsed()
            .subject()
            .unwrap()
            .starts_with("Bob replied to your comment")
    );
}

/// A moderator in the admin: their client and the session's CSRF token.
async fn moderator_in_admin(app: &TestApp) -> (User, reqwest::Client, String) {
    let (moderator, _) = reader(app, "mod", "Moderator").await;
    app.store
        .set_role(moderator.id, folio_domain::Role::Editor)
        .await
        .unwrap();
    let (cookie, csrf) = folio_web::open_session_for(&app.store, moderator.id)
        .await
        .unwrap();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::COOKIE,
        format!("{}={cookie}", folio_web::SESSION_COOKIE)
            .parse()
            .unwrap(),
    );
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .unwrap();
    (moderator, client, csrf)
}

/// Presses a button of `/admin/comments` for `ids`.
async fn admin_moderates(
    app: &TestApp,
    client: &reqwest::Client,
    csrf: &str,
    action: &str,
    ids: &[i64],
) {
    let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
    let mut form = vec![("_csrf", csrf), ("action", action)];
    form.extend(ids.iter().map(|id| ("id", id.as_str())));
    let response = client
        .post(app.url("/admin/comments/moderate"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
}

fn replies_to(smtp: &Smtp, address: &str) -> Vec<String> {
    smtp.to(address)
        .iter()
        .map(|m| m.parsed().subject().unwrap().to_owned())
        .filter(|subject| subject.contains("replied to your comment"))
        .collect()
}

#[tokio::test]
async fn approving_in_the_admin_tells_the_parent_author_once() {
    let smtp = Smtp::start();
    let app = app_without_worker(smtp.port, "always").await;
    let post = sales_post(&app).await;
    let (_moderator, admin, csrf) = moderator_in_admin(&app).await;
    let (_alice, alice) = reader(&app, "alice", "Alice").await;
    let (_bob, bob) = reader(&app, "bob", "Bob").await;
    let (_carol, carol) = reader(&app, "carol", "Carol").await;
    let (_dave, dave) = reader(&app, "dave", "Dave").await;
    let first = comment(&app, &alice, &post, None, "Held first.", &[]).await;
    admin_moderates(&app, &admin, &csrf, "approve", &[first]).await;

    // One approval of Bob's reply: Alice hears of it once, however often it is approved.
    let reply = comment(&app, &bob, &post, Some(first), "Bob's answer.", &[]).await;
    run_worker_until_drained(&app).await;
    assert!(replies_to(&smtp, "alice@example.org").is_empty(), "held");
    admin_moderates(&app, &admin, &csrf, "approve", &[reply]).await;
    admin_moderates(&app, &admin, &csrf, "approve", &[reply]).await;
    run_worker_until_drained(&app).await;
    assert_eq!(
        replies_to(&smtp, "alice@example.org"),
        vec!["Bob replied to your comment on “Sales Isn't Adversarial”"]
    );

    // A bulk approval: one email per reply.
    let c = comment(&app, &carol, &post, Some(first), "Carol's answer.", &[]).await;
    let d = comment(&app, &dave, &post, Some(first), "Dave's answer.", &[]).await;
    admin_moderates(&app, &admin, &csrf, "approve", &[c, d]).await;
    admin_moderates(&app, &admin, &csrf, "approve", &[c, d]).await;
    run_worker_until_drained(&app).await;
    let mut told = replies_to(&smtp, "alice@example.org");
    told.sort();
    assert_eq!(told.len(), 3, "{told:?}");
    assert!(told[1].starts_with("Carol replied") && told[2].starts_with("Dave replied"));
}

#[tokio::test]
async fn a_moderators_reply_from_the_queue_tells_the_comment_author() {
    let smtp = Smtp::start();
    let app = app_without_worker(smtp.port, "always").await;
    let post = sales_post(&app).await;
    let (_moderator, admin, csrf) = moderator_in_admin(&app).await;
    let (_alice, alice) = reader(&app, "alice", "Alice").await;
    let (_bob, bob) = reader(&app, "bob", "Bob").await;
    let first = comment(&app, &alice, &post, None, "A question?", &[]).await;
    admin_moderates(&app, &admin, &csrf, "approve", &[first]).await;
    // Bob's held reply is answered from the queue: that approves it (Alice hears of Bob's
    // reply) and publishes the moderator's answer (Bob hears of it).
    let held = comment(&app, &bob, &post, Some(first), "Another question?", &[]).await;
    let response = admin
        .post(app.url(&format!("/admin/comments/{held}/reply")))
        .form(&[("_csrf", csrf.as_str()), ("comment", "Both answered.")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    run_worker_until_drained(&app).await;
    assert_eq!(
        replies_to(&smtp, "bob@example.org"),
        vec!["Moderator replied to your comment on “Sales Isn't Adversarial”"]
    );
    assert_eq!(replies_to(&smtp, "alice@example.org").len(), 1);
}

#[tokio::test]
async fn two_workers_on_one_database_send_each_email_once() {
    let smtp = Smtp::start();
    let app = app_without_worker(smtp.port, "off").await;
    let total = 300;
    let mails: Vec<folio_storage::NewMail> = (0..total)
        .map(|i| folio_storage::NewMail {
            kind: "test".to_owned(),
            recipient: format!("reader{i}@example.org"),
            user_id: None,
            post_id: None,
            comment_id: None,
            payload: "{}".to_owned(),
            dedupe_key: format!("load:{i}"),
        })
        .collect();
    assert_eq!(app.store.enqueue_mail(&mails).await.unwrap(), total);
    // Two processes' worth: each worker with its own connection pool.
    let mut settings = app.settings.clone();
    settings.mail.batch_size = 10;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let store = folio_storage::Store::connect(&app.database_url)
            .await
            .unwrap();
        let worker = folio_server::app::mail_worker(store, &settings).unwrap();
        tasks.push(tokio::spawn(worker.run(stop_rx.clone())));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while smtp.all().len() < total as usize {
        assert!(
            Instant::now() < deadline,
            "only {} delivered",
            smtp.all().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drained(&app).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = stop_tx.send(true);
    for task in tasks {
        task.await.unwrap();
    }
    let mut recipients: Vec<String> = smtp.all().iter().flat_map(|m| m.to.clone()).collect();
    assert_eq!(recipients.len(), total as usize);
    recipients.sort();
    recipients.dedup();
    assert_eq!(recipients.len(), total as usize, "an email was sent twice");
    assert_eq!(app.store.outbox_counts().await.unwrap().sent, total);
}

#[tokio::test]
async fn a_worker_killed_mid_batch_loses_nothing() {
    let smtp = Smtp::start();
    let app = app_without_worker(smtp.port, "off").await;
    let mails: Vec<folio_storage::NewMail> = (0..5)
        .map(|i| folio_storage::NewMail {
            kind: "test".to_owned(),
            recipient: format!("reader{i}@example.org"),
            user_id: None,
            post_id: None,
            comment_id: None,
            payload: "{}".to_owned(),
            dedupe_key: format!("killed:{i}"),
        })
        .collect();
    app.store.enqueue_mail(&mails).await.unwrap();
    // A worker claims the batch under a short lease and dies before sending.
    let now = folio_storage::millis(time::OffsetDateTime::now_utc());
    let claimed = app
        .store
        .claim_mail("dead-worker", 50, now + 300)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 5);
    // While the lease holds, nobody else takes them.
    let worker = folio_server::app::mail_worker(app.store.clone(), &app.settings).unwrap();
    assert_eq!(worker.run_once().await.unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(400)).await;
    // Once it ran out, the next worker sends them all, once.
    while worker.run_once().await.unwrap() > 0 {}
    assert_eq!(smtp.all().len(), 5);
    assert_eq!(app.store.outbox_counts().await.unwrap().sent, 5);
    // The dead worker's late report changes nothing.
    assert!(
        !app.store
            .mark_mail_sent(claimed[0].id, "dead-worker")
            .await
            .unwrap()
    );
}

#[tokio::test]
#[ignore = "a measurement, not a test: cargo test --test mail -- --ignored --nocapture"]
async fn measure_delivery_rate() {
    let smtp = Smtp::start();
    let app = app_without_worker(smtp.port, "off").await;
    let total = 2000;
    let mails: Vec<folio_storage::NewMail> = (0..total)
        .map(|i| folio_storage::NewMail {
            kind: "test".to_owned(),
            recipient: format!("reader{i}@example.org"),
            user_id: None,
            post_id: None,
            comment_id: None,
            payload: "{}".to_owned(),
            dedupe_key: format!("rate:{i}"),
        })
        .collect();
    app.store.enqueue_mail(&mails).await.unwrap();
    let mut settings = app.settings.clone();
    if let Ok(n) = std::env::var("FOLIO_MEASURE_CONNECTIONS") {
        settings.mail.pool_max_connections = n.parse().unwrap();
    }
    if std::env::var("FOLIO_MEASURE_LOG").is_ok() {
        settings.mail.transport = folio_server::config::MailTransport::Log;
    }
    let worker = folio_server::app::mail_worker(app.store.clone(), &settings).unwrap();
    let start = Instant::now();
    while worker.run_once().await.unwrap() > 0 {}
    let elapsed = start.elapsed();
    println!(
        "{total} emails in {elapsed:.2?}: {:.0} emails/s",
        f64::from(total) / elapsed.as_secs_f64()
    );
}

#[tokio::test]
async fn lettres_pooled_transport_delivers_too() {
    // `?tls=opportunistic` goes through lettre's own pooled SMTP transport (the one used for
    // STARTTLS, implicit TLS and logins); the sink offers no STARTTLS, so it stays plain.
    let smtp = Smtp::start();
    let app = app_without_worker(smtp.port, "off").await;
    let mails: Vec<folio_storage::NewMail> = (0..3)
        .map(|i| folio_storage::NewMail {
            kind: "test".to_owned(),
            recipient: format!("reader{i}@example.org"),
            user_id: None,
            post_id: None,
            comment_id: None,
            payload: "{}".to_owned(),
            dedupe_key: format!("lettre:{i}"),
        })
        .collect();
    app.store.enqueue_mail(&mails).await.unwrap();
    let mut settings = app.settings.clone();
    settings.mail.smtp_url = format!("smtp://127.0.0.1:{}?tls=opportunistic", smtp.port);
    let worker = folio_server::app::mail_worker(app.store.clone(), &settings).unwrap();
    while worker.run_once().await.unwrap() > 0 {}
    assert_eq!(smtp.all().len(), 3);
    let parsed = smtp.all()[0].parsed().subject().unwrap().to_owned();
    assert_eq!(parsed, "Test email from Test Blog");
}

fn folio_command(database_url: &str, smtp_port: u16, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_folio"))
        .args(args)
        .env("FOLIO__DATABASE__URL", database_url)
        .env("FOLIO__LOG__LEVEL", "warn")
        .env(
            "FOLIO__MAIL__SMTP_URL",
            format!("smtp://127.0.0.1:{smtp_port}"),
        )
        .output()
        .unwrap()
}

#[tokio::test]
async fn folio_mail_test_failed_and_retry() {
    let smtp = Smtp::start();
    let app = app_without_worker(smtp.port, "off").await;
    let sent = folio_command(
        &app.database_url,
        smtp.port,
        &["mail", "test", "ops@example.org"],
    );
    let stdout = String::from_utf8_lossy(&sent.stdout);
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    assert!(
        stdout.starts_with("250"),
        "prints the server's answer: {stdout}"
    );
    assert_eq!(smtp.to("ops@example.org").len(), 1);

    smtp.reject.store(true, Ordering::SeqCst);
    let refused = folio_command(
        &app.database_url,
        smtp.port,
        &["mail", "test", "ops@example.org"],
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("550"));

    // A failed email is listed, and retried on request.
    app.store
        .enqueue_mail(&[folio_storage::NewMail {
            kind: "test".to_owned(),
            recipient: "reader@example.org".to_owned(),
            user_id: None,
            post_id: None,
            comment_id: None,
            payload: "{}".to_owned(),
            dedupe_key: "cli:1".to_owned(),
        }])
        .await
        .unwrap();
    run_worker_until_drained(&app).await;
    let failed = folio_command(&app.database_url, smtp.port, &["mail", "failed"]);
    let listed = String::from_utf8_lossy(&failed.stdout);
    assert!(
        listed.contains("reader@example.org") && listed.contains("550"),
        "{listed}"
    );
    smtp.reject.store(false, Ordering::SeqCst);
    let retried = folio_command(&app.database_url, smtp.port, &["mail", "retry"]);
    assert!(String::from_utf8_lossy(&retried.stdout).contains("1 emails queued again"));
    run_worker_until_drained(&app).await;
    assert_eq!(smtp.to("reader@example.org").len(), 1);
}

#[tokio::test]
async fn a_scheduled_post_is_announced_at_its_time() {
    let smtp = Smtp::start();
    let app = app_with_smtp(smtp.port).await;
    let writer = app.author("Writer").await;
    let (reader_user, _) = reader(&app, "fan", "Fan").await;
    app.store
        .subscribe_blog("fan@example.org", Some(reader_user.id), true, |_| None)
        .await
        .unwrap();
    let at = time::OffsetDateTime::now_utc() + time::Duration::seconds(2);
    let post = app.post(&writer, "Scheduled", "Later.", at).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(smtp.to("fan@example.org").is_empty(), "not before its time");
    let mail = smtp.wait_for("fan@example.org", 1).await;
    // Storage keeps whole seconds.
    assert!(time::OffsetDateTime::now_utc() >= at.replace_nanosecond(0).unwrap());
    let parsed = mail[0].parsed();
    assert_eq!(parsed.subject().unwrap(), "Test Blog: Scheduled");
    let text = parsed.body_text(0).unwrap().to_string();
    assert!(text.contains(&format!("{}{}", app.address, post.summary.path())));
}

#[tokio::test]
async fn new_posts_checkbox_subscribes_a_provider_verified_address_at_once() {
    let smtp = Smtp::start();
    let app = app_with_smtp(smtp.port).await;
    let post = sales_post(&app).await;
    let (_alice, alice) = reader(&app, "alice", "Alice").await;
    comment(
        &app,
        &alice,
        &post,
        None,
        "Send me new posts.",
        &[("subscribe_blog", "subscribe")],
    )
    .await;
    assert_eq!(
        app.store
            .blog_subscription("alice@example.org")
            .await
            .unwrap(),
        Some(true),
        "verified by the provider: subscribed at once"
    );
    // A reader whose provider did not vouch for their address.
    let (_, dave) = signed_in_reader(&app, "dave", "Dave", false).await;
    comment(
        &app,
        &dave,
        &post,
        None,
        "Me too.",
        &[
            ("subscribe_blog", "subscribe"),
            ("subscribe_comments", "subscribe"),
        ],
    )
    .await;
    // An unverified address never becomes the account's address: nothing is subscribed and
    // nothing is sent there (the form for readers who are not signed in remains).
    assert_eq!(
        app.store
            .blog_subscription("dave@example.org")
            .await
            .unwrap(),
        None
    );
    // Followed, but unverified: a new comment tells Dave nothing.
    comment(&app, &alice, &post, None, "Another one.", &[]).await;
    drained(&app).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(smtp.to("dave@example.org").is_empty());
}

#[tokio::test]
async fn a_reader_manages_their_subscriptions_on_one_page() {
    let smtp = Smtp::start();
    let app = app_with_smtp(smtp.port).await;
    let post = sales_post(&app).await;
    let (alice_user, alice) = reader(&app, "alice", "Alice").await;
    comment(
        &app,
        &alice,
        &post,
        None,
        "Following.",
        &[("subscribe_comments", "subscribe")],
    )
    .await;
    let page = alice
        .get(app.url("/account/subscriptions"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Sales Isn"), "{page}");
    assert!(page.contains("alice@example.org"));
    let csrf = common::csrf_of(&page);
    let post_id = post.summary.id.to_string();
    for form in [
        vec![
            ("_csrf", csrf.as_str()),
            ("action", "unfollow"),
            ("post", post_id.as_str()),
        ],
        vec![("_csrf", csrf.as_str()), ("action", "new_posts_on")],
        vec![("_csrf", csrf.as_str()), ("action", "replies_off")],
    ] {
        let response = alice
            .post(app.url("/account/subscriptions"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
    }
    assert_eq!(
        app.store
            .thread_follow(post.summary.id, alice_user.id)
            .await
            .unwrap(),
        Some(false)
    );
    assert_eq!(
        app.store
            .blog_subscription("alice@example.org")
            .await
            .unwrap(),
        Some(true)
    );
    assert!(
        !app.store
            .user_by_id(alice_user.id)
            .await
            .unwrap()
            .unwrap()
            .notify_replies
    );
    // Without the form token nothing changes.
    let forged = alice
        .post(app.url("/account/subscriptions"))
        .form(&[("_csrf", "wrong"), ("action", "new_posts_off")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
}

#[tokio::test]
#[ignore = "a measurement, not a test: cargo test --test mail -- --ignored --nocapture"]
async fn measure_publish_to_ten_thousand_subscribers() {
    let smtp = Smtp::start();
    let app = app_without_worker(smtp.port, "off").await;
    let writer = app.author("Writer").await;
    let total: usize = std::env::var("FOLIO_MEASURE_SUBSCRIBERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let mut values = Vec::new();
    for i in 0..total {
        values.push(format!(
            "('fan{i}@example.org', 'c{i}', '2026-01-01 00:00:00+00:00', 'u{i}', '2026-01-01 00:00:00+00:00')"
        ));
        if values.len() == 1000 || i + 1 == total {
            app.sql(&format!(
                "INSERT INTO blog_subscribers (email, confirm_token, confirmed_at, unsubscribe_token, created_at) VALUES {}",
                values.join(", ")
            ))
            .await;
            values.clear();
        }
    }
    let mut settings = app.settings.clone();
    settings.mail.batch_size = 200;
    if let Ok(n) = std::env::var("FOLIO_MEASURE_CONNECTIONS") {
        settings.mail.pool_max_connections = n.parse().unwrap();
    }
    let worker = folio_server::app::mail_worker(app.store.clone(), &settings).unwrap();
    let start = Instant::now();
    app.post(&writer, "Big news", "Read this.", common::days_ago(0))
        .await;
    let published = start.elapsed();
    let queued = worker.announce_new_posts().await.unwrap();
    let announced = start.elapsed();
    while worker.run_once().await.unwrap() > 0 {}
    let elapsed = start.elapsed();
    assert_eq!(queued, total as u64);
    assert_eq!(smtp.all().len(), total);
    println!(
        "publish {published:.2?}; {total} emails queued at {announced:.2?}; last accepted at {elapsed:.2?} ({:.0} emails/s)",
        total as f64 / (elapsed - announced).as_secs_f64()
    );
}

/// A `folio worker` process of its own, stopped (killed) when dropped.
struct WorkerProcess(std::process::Child);

impl WorkerProcess {
    fn start(database_url: &str, smtp_port: u16, extra: &[(&str, &str)]) -> WorkerProcess {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_folio"));
        command
            .arg("worker")
            .env("FOLIO__DATABASE__URL", database_url)
            .env("FOLIO__LOG__LEVEL", "warn")
            .env(
                "FOLIO__MAIL__SMTP_URL",
                format!("smtp://127.0.0.1:{smtp_port}"),
            )
            .env("FOLIO__MAIL__POLL_MILLISECONDS", "50")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        for (key, value) in extra {
            command.env(key, value);
        }
        WorkerProcess(command.spawn().unwrap())
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn queue_test_mails(prefix: &str, count: usize) -> Vec<folio_storage::NewMail> {
    (0..count)
        .map(|i| folio_storage::NewMail {
            kind: "test".to_owned(),
            recipient: format!("{prefix}{i}@example.org"),
            user_id: None,
            post_id: None,
            comment_id: None,
            payload: "{}".to_owned(),
            dedupe_key: format!("{prefix}:{i}"),
        })
        .collect()
}

#[tokio::test]
async fn two_folio_processes_deliver_a_thousand_emails_exactly_once() {
    let smtp = Smtp::start();
    let app = app_without_worker(smtp.port, "off").await;
    app.store
        .enqueue_mail(&queue_test_mails("many", 1000))
        .await
        .unwrap();
    let _first = WorkerProcess::start(
        &app.database_url,
        smtp.port,
        &[("FOLIO__MAIL__BATCH_SIZE", "20")],
    );
    let _second = WorkerProcess::start(
        &app.database_url,
        smtp.port,
        &[("FOLIO__MAIL__BATCH_SIZE", "20")],
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    while app.store.outbox_counts().await.unwrap().sent < 1000 {
        assert!(
            Instant::now() < deadline,
            "only {} delivered",
            smtp.all().len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut recipients: Vec<String> = smtp.all().iter().flat_map(|m| m.to.clone()).collect();
    assert_eq!(recipients.len(), 1000);
    recipients.sort();
    recipients.dedup();
    assert_eq!(recipients.len(), 1000, "an email was sent twice");
}

#[tokio::test]
async fn a_worker_process_killed_while_sending_loses_nothing() {
    let smtp = Smtp::start();
    let app = app_without_worker(smtp.port, "off").await;
    app.store
        .enqueue_mail(&queue_test_mails("kill", 60))
        .await
        .unwrap();
    // Slow (20 emails a second) with a short lease, so that it dies mid-batch.
    let slow = [
        ("FOLIO__MAIL__PER_SECOND", "20"),
        ("FOLIO__MAIL__BATCH_SIZE", "30"),
        ("FOLIO__MAIL__LEASE_SECONDS", "1"),
    ];
    let first = WorkerProcess::start(&app.database_url, smtp.port, &slow);
    let deadline = Instant::now() + Duration::from_secs(30);
    while smtp.all().len() < 10 {
        assert!(Instant::now() < deadline, "the first worker sent nothing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(first); // SIGKILL: no chance to finish or give anything back
    let _second = WorkerProcess::start(&app.database_url, smtp.port, &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while app.store.outbox_counts().await.unwrap().sent < 60 {
        assert!(
            Instant::now() < deadline,
            "emails lost: {:?}",
            app.store.outbox_counts().await.unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut recipients: Vec<String> = smtp.all().iter().flat_map(|m| m.to.clone()).collect();
    let received = recipients.len();
    recipients.sort();
    recipients.dedup();
    assert_eq!(recipients.len(), 60, "every email arrived");
    // Each email is marked sent as soon as the server accepted it: at most those in flight
    // when the process died (one per connection, 4 by default) are sent again.
    assert!(received <= 64, "{received} deliveries for 60 emails");
}

#[tokio::test]
async fn notification_emails_say_they_were_sent_by_a_program() {
    let smtp = Smtp::start();
    let app = app_with_smtp(smtp.port).await;
    let post = sales_post(&app).await;
    let (_alice, alice_client) = reader(&app, "alice", "Alice").await;
    let (_bob, bob_client) = reader(&app, "bob", "Bob").await;
    let first = comment(
        &app,
        &alice_client,
        &post,
        None,
        "Tell me when someone answers.",
        &[("subscribe_comments", "subscribe")],
    )
    .await;
    comment(&app, &bob_client, &post, Some(first), "Answering.", &[]).await;

    let mail = smtp.wait_for("alice@example.org", 1).await;
    // RFC 3834: vacation responders do not answer it.
    assert_eq!(mail[0].header("Auto-Submitted"), "auto-generated");
}
