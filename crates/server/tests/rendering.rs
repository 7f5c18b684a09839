//! Markdown from readers and authors over HTTP: costly texts come back bounded (nesting
//! capped, too long or too complex refused in words) and never hold up the rest of the site.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestApp, comment_html, comment_id_of, days_ago, location};
use folio_domain::Role;
use folio_domain::markdown::{MAX_NESTING, MAX_SOURCE_BYTES, stress};
use folio_storage::NewUser;

/// Someone signed in, with the session opened straight in the store as a sign-in would.
struct Session {
    cookie: String,
    csrf: String,
}

async fn signed_in(app: &TestApp, name: &str, role: Role) -> Session {
    let user = app
        .store
        .create_user(NewUser {
            display_name: name.to_owned(),
            slug: None,
            email: Some(format!("{}@example.org", name.to_lowercase())),
            avatar_url: None,
            bio: String::new(),
            role,
        })
        .await
        .unwrap();
    let (cookie, csrf) = folio_web::open_session_for(&app.store, user.id)
        .await
        .unwrap();
    Session { cookie, csrf }
}

impl Session {
    fn request(&self, app: &TestApp, path: &str, form: &[(&str, &str)]) -> reqwest::RequestBuilder {
        let mut fields: Vec<(&str, &str)> = vec![("_csrf", &self.csrf)];
        fields.extend_from_slice(form);
        app.client
            .post(app.url(path))
            .header(
                "cookie",
                format!("{}={}", folio_web::SESSION_COOKIE, self.cookie),
            )
            .form(&fields)
    }

    async fn post(&self, app: &TestApp, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.request(app, path, form).send().await.unwrap()
    }
}

/// How many elements named `tag` open in `html`.
fn opened(html: &str, tag: &str) -> usize {
    html.matches(&format!("<{tag}>")).count()
}

#[tokio::test]
async fn a_comment_nested_past_the_limit_keeps_its_words_not_its_depth() {
    let app = TestApp::spawn_with(|s| s.comments.moderation = "off".to_owned()).await;
    let author = app.author("Ann").await;
    let post = app.post(&author, "Lists", "Body.", days_ago(1)).await;
    let reader = signed_in(&app, "Rita", Role::Reader).await;
    let text = format!("{}deepest words", "- ".repeat(2000));
    let post_id = post.summary.id.to_string();
    let response = reader
        .post(
            &app,
            "/comments",
            &[("comment", &text), ("comment_post_ID", &post_id)],
        )
        .await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    let id = comment_id_of(&location(&response));
    let page = app.page(&post.summary.path()).await;
    let comment = comment_html(&page, id).unwrap();
    assert!(comment.contains("deepest words"), "{comment}");
    assert_eq!(opened(&comment, "ul"), MAX_NESTING);
}

#[tokio::test]
async fn a_comment_too_long_to_render_is_refused_in_words_and_kept_in_the_form() {
    // An operator may allow long comments; rendering still stops at its own limit.
    let app = TestApp::spawn_with(|s| s.comments.max_length = 1_000_000).await;
    let author = app.author("Ann").await;
    let post = app.post(&author, "Long", "Body.", days_ago(1)).await;
    let reader = signed_in(&app, "Rita", Role::Reader).await;
    let text = "A sentence that goes on. ".repeat(MAX_SOURCE_BYTES / 25 + 10);
    let post_id = post.summary.id.to_string();
    let response = reader
        .post(
            &app,
            "/comments",
            &[("comment", &text), ("comment_post_ID", &post_id)],
        )
        .await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    assert!(
        page.contains(&format!("at most {MAX_SOURCE_BYTES} bytes can be rendered")),
        "{}",
        &page[..page.len().min(3000)]
    );
    assert!(page.contains("A sentence that goes on. A sentence"));
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM comments").await,
        0,
        "nothing was stored"
    );
}

#[tokio::test]
async fn the_preview_caps_nesting_and_refuses_what_is_too_long() {
    let app = TestApp::spawn().await;
    let author = signed_in(&app, "Ann", Role::Author).await;
    let nested = format!("{}inside", "> - ".repeat(1500));
    let response = author
        .post(&app, "/admin/preview", &[("source", &nested)])
        .await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("inside"), "{html}");
    assert_eq!(
        opened(&html, "blockquote") + opened(&html, "ul"),
        MAX_NESTING
    );

    let long = "word ".repeat(MAX_SOURCE_BYTES / 5 + 1);
    let response = author
        .post(&app, "/admin/preview", &[("source", &long)])
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("preview-refused"), "{html}");
    assert!(html.contains("Shorten it"), "{html}");
}

#[tokio::test]
async fn a_post_too_complex_to_render_is_not_saved_and_the_editor_keeps_it() {
    let app = TestApp::spawn().await;
    let author = signed_in(&app, "Ann", Role::Author).await;
    let source = "<div>".repeat(500) + "the draft";
    let response = author
        .post(
            &app,
            "/admin/posts/new",
            &[("title", "Deep"), ("source", &source), ("status", "draft")],
        )
        .await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    assert!(page.contains("too complex to render"), "{page}");
    assert!(page.contains("the draft"));
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM posts").await, 0);
}

/// Previews of the costliest texts the limits allow are rendered off the threads that
/// answer requests: `/healthz` answers while they are all still being rendered. (Before,
/// each held one of the runtime's two threads, and the site waited for them.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_site_answers_while_costly_previews_render() {
    let app = TestApp::spawn().await;
    let author = signed_in(&app, "Ann", Role::Author).await;
    let costly = stress::cases(MAX_SOURCE_BYTES)
        .into_iter()
        .find(|case| case.name == "table with many columns")
        .unwrap()
        .source;
    let previews: Vec<_> = (0..6)
        .map(|_| {
            let request = author.request(&app, "/admin/preview", &[("source", &costly)]);
            tokio::spawn(async move { request.send().await.unwrap().status() })
        })
        .collect();
    // Give the previews time to arrive and start, so that they would be holding the
    // runtime's threads if they rendered there.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200);
    let finished = previews.iter().filter(|p| p.is_finished()).count();
    assert_eq!(finished, 0, "previews done before /healthz answered");
    for preview in previews {
        let status = preview.await.unwrap();
        assert!(status == 200 || status == 422, "{status}");
    }
}
