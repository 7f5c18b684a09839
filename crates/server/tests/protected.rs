//! Password-protected posts over HTTP, as WordPress has them: the title and a password form
//! for everyone; the body and the comments for a reader who gave the password, and for no
//! one else, whatever the page cache, the feeds, search, the sitemap or the emails do.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::smtp::Smtp;
use common::{Reader, TestApp, days_ago, location};
use folio_domain::{CommentStatus, Post, PostKind, PostStatus, Role, User};
use folio_storage::{NewPost, NewUser};

const BODY: &str = "The treasure is buried under the old oak.";
const COMMENT: &str = "I found the hidden map";
const PASSWORD: &str = "open sesame";

async fn protected_post(app: &TestApp, author: &User) -> Post {
    app.store
        .create_post(NewPost {
            kind: PostKind::Post,
            title: "Secret plans".to_owned(),
            slug: None,
            source: BODY.to_owned(),
            status: PostStatus::Published,
            published_at: Some(days_ago(2)),
            author_id: author.id,
            categories: vec!["Adventures".to_owned()],
            tags: Vec::new(),
            comments_open: true,
            featured_image: None,
            password: Some(PASSWORD.to_owned()),
            parent_id: None,
            sticky: false,
        })
        .await
        .unwrap()
}

fn assert_sealed(page: &str, what: &str) {
    assert!(!page.contains("treasure"), "{what} shows the body: {page}");
    assert!(!page.contains(COMMENT), "{what} shows the comments: {page}");
}

#[tokio::test]
async fn the_right_password_opens_a_protected_post_for_that_reader_only() {
    let app = TestApp::spawn().await;
    let author = app.author("Ann").await;
    let post = protected_post(&app, &author).await;
    app.comment(
        post.summary.id,
        None,
        "Bo",
        COMMENT,
        CommentStatus::Approved,
    )
    .await;
    let path = post.summary.path();

    // An anonymous reader (whose page the cache keeps): title and form only.
    let locked = app.page(&path).await;
    assert!(locked.contains("Protected: Secret plans"), "{locked}");
    assert!(locked.contains("name=\"post_password\""), "{locked}");
    assert!(!locked.contains("id=\"commentform\""));
    assert_sealed(&locked, "the locked post");

    let reader = Reader::new(&app);
    let id = post.summary.id.to_string();
    let wrong = reader
        .post_form(
            "/post-password",
            &[("post_id", &id), ("post_password", "open sesam")],
        )
        .await;
    assert_eq!(wrong.status(), 403);
    let wrong = wrong.text().await.unwrap();
    assert!(wrong.contains("That password is not right"), "{wrong}");
    assert_sealed(&wrong, "the page after a wrong password");
    assert_sealed(&reader.page(&path).await, "the post after a wrong password");

    let right = reader
        .post_form(
            "/post-password",
            &[("post_id", &id), ("post_password", PASSWORD)],
        )
        .await;
    assert_eq!(right.status(), 303);
    assert_eq!(location(&right), path);
    let open = reader.page(&path).await;
    assert!(open.contains(BODY), "{open}");
    assert!(open.contains(COMMENT), "{open}");
    assert!(!open.contains("name=\"post_password\""));

    // Another anonymous reader, after the first opened it: still locked (the opened page
    // is never cached for others).
    let other = app.page(&path).await;
    assert_sealed(&other, "the post for a second reader");
    assert!(other.contains("name=\"post_password\""));
    let other_reader = Reader::new(&app);
    assert_sealed(
        &other_reader.page(&path).await,
        "the post for a third reader",
    );

    // A new password locks it again for the reader who knew the old one.
    app.sql(&format!(
        "UPDATE posts SET password = 'new words' WHERE id = {}",
        post.summary.id
    ))
    .await;
    app.sql("UPDATE site_state SET content_version = content_version + 1")
        .await;
    app.settle().await;
    assert_sealed(&reader.page(&path).await, "the post after a new password");
}

#[tokio::test]
async fn lists_feeds_search_and_sitemap_never_show_a_protected_body() {
    let app = TestApp::spawn().await;
    let author = app.author("Ann").await;
    let post = protected_post(&app, &author).await;
    app.comment(
        post.summary.id,
        None,
        "Bo",
        COMMENT,
        CommentStatus::Approved,
    )
    .await;
    let open = app
        .post(&author, "Open diary", "Nothing to hide here.", days_ago(1))
        .await;
    app.comment(
        open.summary.id,
        None,
        "Cy",
        "A public thought",
        CommentStatus::Approved,
    )
    .await;
    let path = post.summary.path();

    let front = app.page("/").await;
    assert!(front.contains("Protected: Secret plans"), "{front}");
    assert!(front.contains("There is no excerpt because this is a protected post."));
    assert_sealed(&front, "the front page");
    assert_sealed(
        &app.page("/category/adventures/").await,
        "the category archive",
    );

    let rss = app.page("/feed/").await;
    assert!(rss.contains("Protected: Secret plans"), "{rss}");
    assert!(rss.contains("Nothing to hide here."), "{rss}");
    assert_sealed(&rss, "the RSS feed");
    assert_sealed(&app.page("/feed/atom/").await, "the Atom feed");

    let comments = app.page("/comments/feed/").await;
    assert!(comments.contains("A public thought"), "{comments}");
    assert_sealed(&comments, "the comments feed");
    assert_sealed(
        &app.page(&format!("{path}feed/")).await,
        "the post's comments feed",
    );

    // Not even a hint that a post holds the word (as WordPress for readers not signed in).
    let search = app.main_of("/search?q=treasure").await;
    assert!(search.contains("No posts found."), "{search}");
    assert!(!search.contains("Secret plans"), "{search}");
    assert!(app.page("/search?q=diary").await.contains("Open diary"));

    let sitemap = app.page("/sitemap.xml").await;
    assert!(sitemap.contains(&open.summary.path()), "{sitemap}");
    assert!(!sitemap.contains(&path), "{sitemap}");
}

#[tokio::test]
async fn commenting_on_a_protected_post_needs_its_password() {
    let app = TestApp::spawn_with(|s| s.comments.moderation = "off".to_owned()).await;
    let author = app.author("Ann").await;
    let post = protected_post(&app, &author).await;
    let path = post.summary.path();
    let (_, reader) = common::signed_in_reader(&app, "bo").await;
    let locked = reader.page(&path).await;
    assert!(!locked.contains("id=\"commentform\""), "{locked}");
    let csrf = reader.csrf("/account").await;
    let id = post.summary.id.to_string();
    let refused = reader
        .post_form(
            "/comments",
            &[
                ("comment", "Let me in"),
                ("comment_post_ID", &id),
                ("comment_parent", "0"),
                ("_csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(refused.status(), 403);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM comments").await,
        0,
        "nothing was written"
    );
    let like = reader
        .post_form(&format!("/likes/post/{id}"), &[("_csrf", &csrf)])
        .await;
    assert_eq!(like.status(), 403, "liking waits for the password too");

    let unlocked = reader
        .post_form(
            "/post-password",
            &[("post_id", &id), ("post_password", PASSWORD)],
        )
        .await;
    assert_eq!(unlocked.status(), 303);
    assert!(reader.page(&path).await.contains("id=\"commentform\""));
    reader
        .comment_ok(&path, post.summary.id, None, "Now I can speak")
        .await;
}

#[tokio::test]
async fn an_author_sets_and_clears_a_password_in_the_editor() {
    let app = TestApp::spawn().await;
    let author = app
        .store
        .create_user(NewUser {
            display_name: "Ann".to_owned(),
            slug: None,
            email: Some("ann@example.org".to_owned()),
            avatar_url: None,
            bio: String::new(),
            role: Role::Author,
        })
        .await
        .unwrap();
    let (cookie, csrf) = folio_web::open_session_for(&app.store, author.id)
        .await
        .unwrap();
    let cookie = format!("{}={cookie}", folio_web::SESSION_COOKIE);
    let send = |path: &str, form: Vec<(&str, &str)>| {
        let mut fields = vec![("_csrf", csrf.as_str())];
        fields.extend(form);
        app.client
            .post(app.url(path))
            .header("cookie", &cookie)
            .form(&fields)
            .send()
    };
    let editor = app
        .client
        .get(app.url("/admin/posts/new"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(editor.contains("name=\"password\""), "{editor}");
    assert!(editor.contains("Stick to the top of the blog"), "{editor}");
    let fields = |password: &'static str| {
        vec![
            ("title", "Members only"),
            ("source", BODY),
            ("status", "published"),
            ("comments_open", "1"),
            ("password", password),
        ]
    };
    let created = send("/admin/posts/new", fields(PASSWORD)).await.unwrap();
    assert_eq!(created.status(), 303);
    let admin_path = location(&created);
    let id: i64 = admin_path
        .trim_start_matches("/admin/posts/")
        .parse()
        .unwrap();
    let shown = app
        .client
        .get(app.url(&admin_path))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        shown.contains(&format!("name=\"password\" value=\"{PASSWORD}\"")),
        "the editor shows the password it keeps: {shown}"
    );
    let post = app.store.published_entry(id).await.unwrap().unwrap();
    let path = post.summary.path();
    assert_sealed(&app.page(&path).await, "the post with a password");

    let cleared = send(&admin_path, fields("")).await.unwrap();
    assert_eq!(cleared.status(), 303);
    app.settle().await;
    let open = app.page(&path).await;
    assert!(open.contains(BODY), "{open}");
    assert!(!open.contains("name=\"post_password\""), "{open}");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM posts WHERE id = {id} AND password IS NULL"
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn emails_about_a_protected_post_leave_its_words_out() {
    let smtp = Smtp::start();
    let app = TestApp::spawn_with(|s| {
        s.mail.transport = folio_server::config::MailTransport::Smtp;
        s.mail.smtp_url = format!("smtp://127.0.0.1:{}", smtp.port);
        s.mail.poll_milliseconds = 50;
        s.comments.moderation = "off".to_owned();
        s.comments.per_user_per_minute = 0;
    })
    .await;
    let author = app.author("Ann").await;
    let (fan, _) = common::signed_in_reader(&app, "fan").await;
    app.store
        .subscribe_blog("fan@example.org", Some(fan.id), true, |_| None)
        .await
        .unwrap();
    let post = app
        .store
        .create_post(NewPost {
            published_at: Some(time::OffsetDateTime::now_utc()),
            ..new_protected(&author)
        })
        .await
        .unwrap();
    let mail = smtp.wait_for("fan@example.org", 1).await;
    let text = mail[0].parsed().body_text(0).unwrap().to_string();
    let html = mail[0]
        .parsed()
        .body_html(0)
        .unwrap_or_default()
        .to_string();
    assert!(mail[0].subject().contains("Secret plans"));
    assert!(text.contains(&post.summary.path()), "{text}");
    assert!(!text.contains("treasure"), "{text}");
    assert!(!html.contains("treasure"), "{html}");

    // Bo and Cy both opened the post; Cy's reply reaches Bo without its words.
    let path = post.summary.path();
    let id = post.summary.id.to_string();
    let (_, bo) = common::signed_in_reader(&app, "bo").await;
    let (_, cy) = common::signed_in_reader(&app, "cy").await;
    for reader in [&bo, &cy] {
        let unlocked = reader
            .post_form(
                "/post-password",
                &[("post_id", &id), ("post_password", PASSWORD)],
            )
            .await;
        assert_eq!(unlocked.status(), 303);
    }
    let first = bo
        .comment_ok(&path, post.summary.id, None, "Where is the oak, exactly?")
        .await;
    cy.comment_ok(
        &path,
        post.summary.id,
        Some(first),
        "Behind the treasure chest",
    )
    .await;
    let reply = smtp.wait_for("bo@example.org", 1).await;
    let text = reply[0].parsed().body_text(0).unwrap().to_string();
    assert!(text.contains(&path), "{text}");
    assert!(!text.contains("treasure"), "{text}");
    assert!(!text.contains("oak"), "{text}");
}

fn new_protected(author: &User) -> NewPost {
    NewPost {
        kind: PostKind::Post,
        title: "Secret plans".to_owned(),
        slug: None,
        source: BODY.to_owned(),
        status: PostStatus::Published,
        published_at: Some(days_ago(2)),
        author_id: author.id,
        categories: Vec::new(),
        tags: Vec::new(),
        comments_open: true,
        featured_image: None,
        password: Some(PASSWORD.to_owned()),
        parent_id: None,
        sticky: false,
    }
}
