//! The blog on the fediverse: its WebFinger, actor and NodeInfo documents; a real Fedify
//! server (npm's @fedify/fedify, run by folio-testkit) follows it, receives its posts and
//! replies; and the inbox refuses what is unsigned, forged, stale, tampered with, too big,
//! or would make the blog fetch from a private address.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::TestApp;
use folio_federation::RequestSigner;
use folio_federation::signatures::generate_key_pair;
use serde_json::{Value, json};
use time::OffsetDateTime;

async fn federated_app(allow_private_addresses: bool) -> TestApp {
    TestApp::spawn_with(|settings| {
        settings.federation.enabled = true;
        settings.federation.allow_private_addresses = allow_private_addresses;
        settings.federation.poll_milliseconds = 100;
    })
    .await
}

async fn json_of(app: &TestApp, path: &str, accept: &str) -> Value {
    let response = app
        .client
        .get(app.url(path))
        .header("accept", accept)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "GET {path}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path} is not JSON ({e}): {text}"))
}

#[tokio::test]
async fn the_blog_is_an_actor_found_by_webfinger_with_nodeinfo() {
    let app = federated_app(false).await;
    let host = app.address.trim_start_matches("http://").to_owned();
    let actor_url = app.url("/ap/actor");

    let finger = app
        .get(&format!("/.well-known/webfinger?resource=acct:blog@{host}"))
        .await;
    assert_eq!(finger.status(), 200);
    assert!(
        finger.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/jrd+json")
    );
    let finger: Value = serde_json::from_str(&finger.text().await.unwrap()).unwrap();
    assert_eq!(finger["subject"], format!("acct:blog@{host}"));
    let self_link = finger["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "self")
        .unwrap();
    assert_eq!(self_link["href"], actor_url);
    assert_eq!(self_link["type"], "application/activity+json");
    let nobody = app
        .get(&format!(
            "/.well-known/webfinger?resource=acct:someone@{host}"
        ))
        .await;
    assert_eq!(nobody.status(), 404);

    let actor = json_of(&app, "/ap/actor", "application/activity+json").await;
    assert_eq!(actor["id"], actor_url);
    assert_eq!(actor["preferredUsername"], "blog");
    assert_eq!(actor["name"], "Test Blog");
    assert_eq!(actor["inbox"], app.url("/ap/inbox"));
    assert_eq!(actor["outbox"], app.url("/ap/outbox"));
    assert_eq!(actor["followers"], app.url("/ap/followers"));
    assert_eq!(actor["publicKey"]["id"], format!("{actor_url}#main-key"));
    assert_eq!(actor["publicKey"]["owner"], actor_url);
    assert!(
        actor["publicKey"]["publicKeyPem"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    // The key is made once and kept.
    let again = json_of(&app, "/ap/actor", "application/activity+json").await;
    assert_eq!(again["publicKey"], actor["publicKey"]);

    let links = json_of(&app, "/.well-known/nodeinfo", "application/json").await;
    let href = links["links"][0]["href"].as_str().unwrap().to_owned();
    assert_eq!(href, app.url("/nodeinfo/2.1"));
    let nodeinfo = json_of(&app, "/nodeinfo/2.1", "application/json").await;
    assert_eq!(nodeinfo["software"]["name"], "folio");
    assert_eq!(nodeinfo["protocols"], json!(["activitypub"]));

    let outbox = json_of(&app, "/ap/outbox", "application/activity+json").await;
    assert_eq!(outbox["type"], "OrderedCollection");
    assert_eq!(outbox["totalItems"], 0);
    let followers = json_of(&app, "/ap/followers", "application/activity+json").await;
    assert_eq!(followers["totalItems"], 0);
}

#[tokio::test]
async fn federation_is_off_unless_enabled() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/ap/actor").await.status(), 404);
    assert_eq!(
        app.get("/.well-known/webfinger?resource=acct:blog@127.0.0.1")
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn a_fedify_account_follows_the_blog_and_receives_its_new_posts() {
    let peer = folio_testkit::FedifyPeer::start().await;
    let app = TestApp::spawn_with(|settings| {
        settings.federation.enabled = true;
        settings.federation.allow_private_addresses = true;
        settings.federation.poll_milliseconds = 100;
        settings.comments.moderation = "off".to_owned();
    })
    .await;
    let actor_url = app.url("/ap/actor");

    peer.follow(&actor_url).await;
    let accept = peer
        .wait_for(Duration::from_secs(30), |a| a["type"] == "Accept")
        .await;
    assert_eq!(accept["actor"], actor_url);
    let followers = json_of(&app, "/ap/followers", "application/activity+json").await;
    assert_eq!(followers["totalItems"], 1);

    let author = app.author("Ada Writer").await;
    let post = app
        .post(
            &author,
            "Hello, fediverse",
            "The first post **they** see.",
            OffsetDateTime::now_utc(),
        )
        .await;
    let post_url = app.url(&post.summary.path());
    let create = peer
        .wait_for(Duration::from_secs(30), |a| {
            a["type"] == "Create" && a["object"]["type"] == "Article"
        })
        .await;
    let article = &create["object"];
    assert_eq!(create["actor"], actor_url);
    assert_eq!(article["id"], post_url);
    assert_eq!(article["name"], "Hello, fediverse");
    assert_eq!(article["url"], post_url);
    assert!(
        article["content"]
            .as_str()
            .unwrap()
            .contains("<strong>they</strong>"),
        "{article:#}"
    );
    // The post's own address gives the same article to an ActivityPub client.
    let fetched = json_of(&app, &post.summary.path(), "application/activity+json").await;
    assert_eq!(fetched["type"], "Article");
    assert_eq!(fetched["id"], post_url);
    assert!(app.page(&post.summary.path()).await.contains("<html"));
    let outbox = json_of(&app, "/ap/outbox", "application/activity+json").await;
    assert_eq!(outbox["totalItems"], 1);
    assert_eq!(outbox["orderedItems"][0]["object"]["id"], post_url);

    // An unchanged post is not sent again as an Update.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.count(
            "SELECT COUNT(*) AS n FROM federation_deliveries WHERE dedupe_key LIKE 'update:%'"
        )
        .await,
        0
    );
    // One delivery per inbox: the peer's shared inbox, once.
    assert_eq!(
        app.count(
            "SELECT COUNT(*) AS n FROM federation_deliveries WHERE dedupe_key LIKE 'create:%'"
        )
        .await,
        1
    );

    // alice replies from her server: the reply is a comment under the post, by her, with
    // its words sanitized.
    let note = peer
        .reply(
            &actor_url,
            &post_url,
            "<p><span class=\"h-card\"><a href=\"http://x/\">@<span>blog</span></a></span> Lovely post, <script>alert(1)</script><em>really</em>!</p>",
        )
        .await;
    assert!(!note.is_empty());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let page = loop {
        let page = app.page(&post.summary.path()).await;
        if page.contains("Lovely post") {
            break page;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the reply did not appear under the post:\n{}\npeer log:\n{}",
            page,
            peer.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let thread = common::comment_list(&page);
    assert!(thread.contains("Alice Peer"), "{thread}");
    assert!(thread.contains("<em>really</em>"), "{thread}");
    assert!(!thread.contains("<script>"), "{thread}");
    // The same note delivered again is not a second comment.
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM comments").await, 1);

    // Someone answers her here: the answer goes back to her server as a reply to her note.
    let her_comment = app.count("SELECT MAX(id) AS n FROM comments").await;
    let answer = app
        .comment(
            post.summary.id,
            Some(her_comment),
            "Ada Writer",
            "Thank you, *Alice*!",
            folio_domain::CommentStatus::Approved,
        )
        .await;
    let reply = peer
        .wait_for(Duration::from_secs(30), |a| {
            a["type"] == "Create" && a["object"]["type"] == "Note"
        })
        .await;
    assert_eq!(reply["object"]["inReplyTo"], note);
    assert_eq!(
        reply["object"]["id"],
        app.url(&format!("/comments/{answer}/"))
    );
    let words = reply["object"]["content"].as_str().unwrap();
    assert!(
        words.contains("Ada Writer") && words.contains("<em>Alice</em>"),
        "{words}"
    );

    // She edits it, then likes the post; then deletes her reply.
    peer.update_reply(&actor_url, &note, &post_url, "<p>Lovely post, edited.</p>")
        .await;
    wait_until(&app, &post.summary.path(), |page| {
        page.contains("Lovely post, edited.")
    })
    .await;
    peer.like(&actor_url, &post_url).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while app.count("SELECT COUNT(*) AS n FROM post_likes").await == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the like was not counted"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    peer.delete_reply(&actor_url, &note).await;
    wait_until(&app, &post.summary.path(), |page| {
        !page.contains("Lovely post, edited.")
    })
    .await;

    // The post taken down: followers' servers are told to remove it.
    assert!(
        app.store
            .set_post_trashed(&author, post.summary.id, true)
            .await
            .unwrap()
    );
    let delete = peer
        .wait_for(Duration::from_secs(30), |a| a["type"] == "Delete")
        .await;
    assert_eq!(delete["object"]["id"], post_url, "{delete:#}");

    peer.unfollow(&actor_url).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let followers = json_of(&app, "/ap/followers", "application/activity+json").await;
        if followers["totalItems"] == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the Undo did not remove the follower"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until the page at `path` satisfies `wanted`.
async fn wait_until(app: &TestApp, path: &str, wanted: impl Fn(&str) -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let page = app.page(path).await;
        if wanted(&page) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{path} did not change as expected:\n{page}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A remote actor served from inside the test, counting how often it is fetched.
struct FakeActor {
    url: String,
    signer: RequestSigner,
    fetches: Arc<AtomicUsize>,
}

async fn fake_actor() -> FakeActor {
    fake_actor_with_inbox("/inbox").await
}

/// A fake actor whose inbox is `inbox` on its server: `/inbox` takes activities,
/// `/broken-inbox` answers 500.
async fn fake_actor_with_inbox(inbox: &str) -> FakeActor {
    let (public, private) = generate_key_pair().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let url = format!("{origin}/actor");
    let document = json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": url,
        "type": "Person",
        "preferredUsername": "mallory",
        "inbox": format!("{origin}{inbox}"),
        "publicKey": { "id": format!("{url}#main-key"), "owner": url, "publicKeyPem": public },
    })
    .to_string();
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let router = axum::Router::new()
        .route(
            "/actor",
            axum::routing::get(move || {
                let document = document.clone();
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "application/activity+json",
                        )],
                        document,
                    )
                }
            }),
        )
        .route("/inbox", axum::routing::post(|| async { "" }))
        .route(
            "/broken-inbox",
            axum::routing::post(|| async {
                (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "down")
            }),
        );
    tokio::spawn(async move { axum::serve(listener, router).await });
    FakeActor {
        signer: RequestSigner::new(format!("{url}#main-key"), &private).unwrap(),
        url,
        fetches,
    }
}

fn like(actor: &str, object: &str) -> String {
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{actor}/likes/{}", uuid::Uuid::new_v4()),
        "type": "Like",
        "actor": actor,
        "object": object,
    })
    .to_string()
}

/// POSTs `sent` to the inbox with headers signed by `signer` over `signed` at `date`.
async fn post_signed(
    app: &TestApp,
    signer: &RequestSigner,
    signed: &str,
    sent: &str,
    date: OffsetDateTime,
) -> (u16, String) {
    let url = reqwest::Url::parse(&app.url("/ap/inbox")).unwrap();
    let mut request = app
        .client
        .post(url.clone())
        .header("content-type", "application/activity+json");
    for (name, value) in signer.sign("POST", &url, Some(signed.as_bytes()), date) {
        request = request.header(name, value);
    }
    let response = request.body(sent.to_owned()).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn the_inbox_refuses_unsigned_forged_stale_tampered_and_oversized_posts() {
    let app = federated_app(true).await;
    let mallory = fake_actor().await;
    let object = app.url("/ap/actor");
    let now = OffsetDateTime::now_utc();

    let body = like(&mallory.url, &object);
    let unsigned = app
        .client
        .post(app.url("/ap/inbox"))
        .header("content-type", "application/activity+json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    assert!(unsigned.text().await.unwrap().contains("not signed"));

    // Signed properly: accepted.
    let (status, text) = post_signed(&app, &mallory.signer, &body, &body, now).await;
    assert_eq!(status, 202, "{text}");
    assert_eq!(mallory.fetches.load(Ordering::SeqCst), 1);

    // Signed with another key under the same key id: the key is fetched again (it may have
    // been rotated), and still does not match.
    let (_, other_private) = generate_key_pair().unwrap();
    let forger = RequestSigner::new(format!("{}#main-key", mallory.url), &other_private).unwrap();
    let (status, text) = post_signed(&app, &forger, &body, &body, now).await;
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("does not verify"), "{text}");
    assert_eq!(mallory.fetches.load(Ordering::SeqCst), 2);

    let stale = now - time::Duration::hours(13);
    let (status, text) = post_signed(&app, &mallory.signer, &body, &body, stale).await;
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("Date"), "{text}");

    let tampered = like(&mallory.url, &app.url("/"));
    let (status, text) = post_signed(&app, &mallory.signer, &body, &tampered, now).await;
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("Digest"), "{text}");

    let huge = format!(
        "{{\"type\":\"Like\",\"actor\":\"{}\",\"padding\":\"{}\"}}",
        mallory.url,
        "x".repeat(1024 * 1024 + 10)
    );
    let (status, _) = post_signed(&app, &mallory.signer, &huge, &huge, now).await;
    assert_eq!(status, 413);
}

#[tokio::test]
async fn keys_on_private_addresses_are_not_fetched_by_a_public_instance() {
    let app = federated_app(false).await;
    let mallory = fake_actor().await;
    let body = like(&mallory.url, &app.url("/ap/actor"));
    let (status, text) = post_signed(
        &app,
        &mallory.signer,
        &body,
        &body,
        OffsetDateTime::now_utc(),
    )
    .await;
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("private or loopback address"), "{text}");
    assert_eq!(mallory.fetches.load(Ordering::SeqCst), 0);
}

fn signed_activity(kind: &str, actor: &str, object: Value) -> String {
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{actor}/activities/{}", uuid::Uuid::new_v4()),
        "type": kind,
        "actor": actor,
        "object": object,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
    })
    .to_string()
}

#[tokio::test]
async fn a_first_reply_from_the_fediverse_waits_for_moderation() {
    let app = federated_app(true).await;
    let mallory = fake_actor().await;
    // The blog joins the fediverse (its key is made) when first asked: posts published
    // before that are not announced.
    json_of(&app, "/ap/actor", "application/activity+json").await;
    let author = app.author("Ada Writer").await;
    let post = app
        .post(&author, "Held replies", "Words.", OffsetDateTime::now_utc())
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while json_of(&app, "/ap/outbox", "application/activity+json").await["totalItems"] != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the post was not announced"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let post_url = app.url(&post.summary.path());
    let note = json!({
        "id": format!("{}/notes/1", mallory.url),
        "type": "Note",
        "attributedTo": mallory.url,
        "inReplyTo": post_url,
        "content": "<p>First words from afar</p>",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
    });
    let body = signed_activity("Create", &mallory.url, note);
    let (status, text) = post_signed(
        &app,
        &mallory.signer,
        &body,
        &body,
        OffsetDateTime::now_utc(),
    )
    .await;
    assert_eq!(status, 202, "{text}");
    // comments.moderation = first_time (the default): held, not shown.
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM comments WHERE status = 'pending'")
            .await,
        1
    );
    assert!(
        !app.page(&post.summary.path())
            .await
            .contains("First words from afar")
    );

    // A direct message is never a public comment.
    let private = json!({
        "id": format!("{}/notes/2", mallory.url),
        "type": "Note",
        "attributedTo": mallory.url,
        "inReplyTo": post_url,
        "content": "<p>Just between us</p>",
        "to": [app.url("/ap/actor")],
    });
    let body = signed_activity("Create", &mallory.url, private).replace(
        "\"to\":[\"https://www.w3.org/ns/activitystreams#Public\"],",
        "",
    );
    let (status, text) = post_signed(
        &app,
        &mallory.signer,
        &body,
        &body,
        OffsetDateTime::now_utc(),
    )
    .await;
    assert_eq!(status, 202, "{text}");
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM comments").await, 1);
}

#[tokio::test]
async fn admins_remove_followers_and_block_servers() {
    let app = federated_app(true).await;
    let mallory = fake_actor().await;
    let follow = signed_activity("Follow", &mallory.url, json!(app.url("/ap/actor")));
    let (status, text) = post_signed(
        &app,
        &mallory.signer,
        &follow,
        &follow,
        OffsetDateTime::now_utc(),
    )
    .await;
    assert_eq!(status, 202, "{text}");

    let session = |role| {
        let app = &app;
        async move {
            let user = app
                .store
                .create_user(folio_storage::NewUser {
                    display_name: format!("{role:?}"),
                    slug: None,
                    email: Some(format!("{role:?}@example.org").to_lowercase()),
                    avatar_url: None,
                    bio: String::new(),
                    role,
                })
                .await
                .unwrap();
            folio_web::open_session_for(&app.store, user.id)
                .await
                .unwrap()
        }
    };
    let (admin_cookie, admin_csrf) = session(folio_domain::Role::Admin).await;
    let (editor_cookie, editor_csrf) = session(folio_domain::Role::Editor).await;
    let cookie = |value: &str| format!("{}={value}", folio_web::SESSION_COOKIE);
    let get = |who: String| {
        app.client
            .get(app.url("/admin/fediverse"))
            .header("cookie", who)
            .send()
    };
    let page = get(cookie(&admin_cookie))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("@mallory@127.0.0.1"), "{page}");
    assert_eq!(get(cookie(&editor_cookie)).await.unwrap().status(), 403);

    let post_form = |who: String, path: &str, form: Vec<(&'static str, String)>| {
        app.client
            .post(app.url(path))
            .header("cookie", who)
            .form(&form)
            .send()
    };
    let follower_id = app
        .count("SELECT MAX(id) AS n FROM federation_followers")
        .await;
    let remove = format!("/admin/fediverse/followers/{follower_id}/remove");
    // No CSRF token, or not an admin: nothing changes.
    let refused = post_form(cookie(&admin_cookie), &remove, vec![])
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let refused = post_form(
        cookie(&editor_cookie),
        &remove,
        vec![("_csrf", editor_csrf.clone())],
    )
    .await
    .unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(
        json_of(&app, "/ap/followers", "application/activity+json").await["totalItems"],
        1
    );
    let removed = post_form(
        cookie(&admin_cookie),
        &remove,
        vec![("_csrf", admin_csrf.clone())],
    )
    .await
    .unwrap();
    assert_eq!(removed.status(), 303);
    assert_eq!(
        json_of(&app, "/ap/followers", "application/activity+json").await["totalItems"],
        0
    );

    // Blocking mallory's server: what it sends is refused from then on.
    let domain = mallory
        .url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let blocked = post_form(
        cookie(&admin_cookie),
        "/admin/fediverse/blocks",
        vec![("_csrf", admin_csrf.clone()), ("domain", domain.clone())],
    )
    .await
    .unwrap();
    assert_eq!(blocked.status(), 303);
    let page = get(cookie(&admin_cookie))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&domain), "{page}");
    let follow = signed_activity("Follow", &mallory.url, json!(app.url("/ap/actor")));
    let (status, _) = post_signed(
        &app,
        &mallory.signer,
        &follow,
        &follow,
        OffsetDateTime::now_utc(),
    )
    .await;
    assert_eq!(status, 403);
    let unblocked = post_form(
        cookie(&admin_cookie),
        "/admin/fediverse/blocks/remove",
        vec![("_csrf", admin_csrf.clone()), ("domain", domain.clone())],
    )
    .await
    .unwrap();
    assert_eq!(unblocked.status(), 303);
    let (status, text) = post_signed(
        &app,
        &mallory.signer,
        &follow,
        &follow,
        OffsetDateTime::now_utc(),
    )
    .await;
    assert_eq!(status, 202, "{text}");

    // Blocking one account: it no longer follows, and what it sends is refused.
    let follower_id = app
        .count("SELECT MAX(id) AS n FROM federation_followers")
        .await;
    let blocked = post_form(
        cookie(&admin_cookie),
        &format!("/admin/fediverse/followers/{follower_id}/block"),
        vec![("_csrf", admin_csrf.clone())],
    )
    .await
    .unwrap();
    assert_eq!(blocked.status(), 303);
    assert_eq!(
        json_of(&app, "/ap/followers", "application/activity+json").await["totalItems"],
        0
    );
    let (status, _) = post_signed(
        &app,
        &mallory.signer,
        &follow,
        &follow,
        OffsetDateTime::now_utc(),
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_failed_delivery_is_kept_and_tried_again_later() {
    let app = federated_app(true).await;
    let mallory = fake_actor_with_inbox("/broken-inbox").await;
    let follow = signed_activity("Follow", &mallory.url, json!(app.url("/ap/actor")));
    let (status, text) = post_signed(
        &app,
        &mallory.signer,
        &follow,
        &follow,
        OffsetDateTime::now_utc(),
    )
    .await;
    assert_eq!(status, 202, "{text}");
    // The Accept cannot be delivered: it stays queued, with the error, for a later try.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while app
        .count("SELECT COUNT(*) AS n FROM federation_deliveries WHERE attempts >= 1")
        .await
        == 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the delivery was not tried"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let now_ms = OffsetDateTime::now_utc().unix_timestamp() * 1000;
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM federation_deliveries WHERE status = 'pending' \
             AND attempts = 1 AND last_error LIKE '%500%' AND next_attempt_at > {now_ms}"
        ))
        .await,
        1
    );
}
