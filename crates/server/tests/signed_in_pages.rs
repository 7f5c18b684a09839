//! Post pages for signed-in readers come from one rendering shared by all of them, with each
//! reader's own parts put in per request. These tests hold that to two promises: every
//! reader gets, byte for byte, the page a full render gives them (a second server on the
//! same database with the page cache off renders every page in full); and no reader is
//! ever served anything of another's (form token, name, held comments, likes), across
//! interleaved and concurrent requests, content changes, and two server processes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestApp, days_ago};
use folio_domain::{CommentStatus, Role, User};
use folio_storage::{NewComment, NewUser};

/// A signed-in person: their session cookie and its form token.
struct Person {
    user: User,
    cookie: String,
    csrf: String,
}

async fn person(app: &TestApp, name: &str, role: Role) -> Person {
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
    Person { user, cookie, csrf }
}

/// What a browser gets for `path` on `app`: status, Cache-Control, body. `None` asks
/// without a session.
async fn fetch(app: &TestApp, who: Option<&Person>, path: &str) -> (u16, String, String) {
    let mut request = app.client.get(app.url(path));
    if let Some(person) = who {
        request = request.header(
            reqwest::header::COOKIE,
            format!("{}={}", folio_web::SESSION_COOKIE, person.cookie),
        );
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let cache_control = response
        .headers()
        .get(reqwest::header::CACHE_CONTROL)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, cache_control, response.text().await.unwrap())
}

async fn page(app: &TestApp, who: Option<&Person>, path: &str) -> String {
    let (status, cache_control, body) = fetch(app, who, path).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    if who.is_some() {
        assert_eq!(cache_control, "private, no-store", "GET {path}");
    }
    body
}

async fn post_form(app: &TestApp, who: &Person, path: &str, form: &[(&str, &str)]) -> u16 {
    app.client
        .post(app.url(path))
        .header(
            reqwest::header::COOKIE,
            format!("{}={}", folio_web::SESSION_COOKIE, who.cookie),
        )
        .form(form)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn own_comment(
    app: &TestApp,
    post_id: i64,
    who: &Person,
    text: &str,
    status: CommentStatus,
    created_at: Option<time::OffsetDateTime>,
) -> i64 {
    app.store
        .create_comment(NewComment {
            post_id,
            parent_id: None,
            author_id: Some(who.user.id),
            author_name: who.user.display_name.clone(),
            author_url: None,
            source: text.to_owned(),
            status,
            created_at,
            author_ip: None,
        })
        .await
        .unwrap()
        .id
}

/// Where the first difference is, with some context, for a failure message.
fn first_difference(a: &str, b: &str) -> String {
    let at = a
        .bytes()
        .zip(b.bytes())
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let from = a.floor_char_boundary(at.saturating_sub(120));
    let until = |s: &str| s.floor_char_boundary((at + 120).min(s.len()));
    format!(
        "at byte {at}:\n  shared: {:?}\n  full:   {:?}",
        &a[from..until(a)],
        &b[from.min(b.len())..until(b)]
    )
}

fn assert_same_page(shared: &str, full: &str, what: &str) {
    assert!(
        shared == full,
        "{what}: the page differs from a full render {}",
        first_difference(shared, full)
    );
}

#[tokio::test]
async fn every_reader_gets_the_page_a_full_render_gives_them() {
    let app = TestApp::spawn_with(|s| s.comments.per_page = 4).await;
    let full = TestApp::spawn_beside(&app, |s| s.cache.enabled = false).await;
    let author = app.author("Wren Author").await;
    let post = app
        .post(&author, "A long talk", "Body of the post.", days_ago(2))
        .await;
    let (post_id, path) = (post.summary.id, post.summary.path());
    let mut ids = Vec::new();
    for n in 0..7 {
        ids.push(
            app.comment(
                post_id,
                None,
                &format!("Guest {n}"),
                &format!("Comment number {n}"),
                CommentStatus::Approved,
            )
            .await,
        );
    }
    app.comment(
        post_id,
        Some(ids[0]),
        "Guest reply",
        "A reply <b>bold</b> & more",
        CommentStatus::Approved,
    )
    .await;

    let plain = person(&app, "Plain Reader", Role::Reader).await;
    let liker = person(&app, "Liking <Reader> & Co", Role::Reader).await;
    let fresh = person(&app, "Fresh Writer", Role::Reader).await;
    let late = person(&app, "Late Writer", Role::Reader).await;
    let holder = person(&app, "Held Writer", Role::Reader).await;
    let admin = person(&app, "Site Admin", Role::Admin).await;
    let fresh_id = own_comment(
        &app,
        post_id,
        &fresh,
        "Mine, just now",
        CommentStatus::Approved,
        None,
    )
    .await;
    own_comment(
        &app,
        post_id,
        &late,
        "Mine, yesterday",
        CommentStatus::Approved,
        Some(days_ago(1)),
    )
    .await;
    own_comment(
        &app,
        post_id,
        &holder,
        "Mine, waiting for a moderator",
        CommentStatus::Pending,
        None,
    )
    .await;
    let liked_comment = ids[1].to_string();
    assert_eq!(
        post_form(
            &app,
            &liker,
            &format!("/likes/post/{post_id}"),
            &[("_csrf", &liker.csrf)]
        )
        .await,
        303
    );
    assert_eq!(
        post_form(
            &app,
            &liker,
            &format!("/likes/comment/{liked_comment}"),
            &[("_csrf", &liker.csrf)]
        )
        .await,
        303
    );
    app.settle().await;

    let paths = [
        path.clone(),
        format!("{path}comment-page-2/"),
        format!("{path}comment-page-3/"),
        format!("{path}?replytocom={}", ids[0]),
    ];
    let viewers: [(&str, Option<&Person>); 7] = [
        ("anonymous", None),
        ("a plain reader", Some(&plain)),
        ("a reader who liked the post and a comment", Some(&liker)),
        ("a comment's author inside the edit window", Some(&fresh)),
        ("a comment's author after the edit window", Some(&late)),
        ("the author of a held comment", Some(&holder)),
        ("an admin", Some(&admin)),
    ];
    let mut bodies = std::collections::HashMap::new();
    for path in &paths {
        for (what, who) in viewers {
            // Twice: the first may render the shared page, the second comes from it.
            let first = page(&app, who, path).await;
            let second = page(&app, who, path).await;
            let reference = page(&full, who, path).await;
            assert_same_page(&first, &reference, &format!("{what}, {path}"));
            assert_same_page(&second, &reference, &format!("{what}, {path} (again)"));
            bodies.insert((what, path.clone()), first);
        }
    }

    // Each viewer's page is really theirs, so the comparisons above compared something.
    let on = |what: &str, n: usize| bodies[&(what, paths[n].clone())].clone();
    let liked = on("a reader who liked the post and a comment", 0);
    assert!(liked.contains("class=\"like-button liked\" aria-pressed=\"true\">Liked"));
    assert!(liked.contains("You like this."));
    assert!(
        liked.contains("Liking &#60;Reader&#62; &#38; Co")
            || liked.contains("Liking &lt;Reader&gt; &amp; Co")
    );
    assert!(!on("a plain reader", 0).contains("Liked</button>"));
    let fresh_page = format!(
        "{}{}",
        on("a comment's author inside the edit window", 0),
        on("a comment's author inside the edit window", 2)
    );
    assert!(fresh_page.contains(&format!("href=\"/comments/{fresh_id}/edit\"")));
    let late_page = format!(
        "{}{}",
        on("a comment's author after the edit window", 0),
        on("a comment's author after the edit window", 2)
    );
    assert!(late_page.contains("Mine, yesterday"));
    assert!(!late_page.contains("comment-edit-link"));
    let held_page = format!(
        "{}{}",
        on("the author of a held comment", 0),
        on("the author of a held comment", 2)
    );
    assert!(held_page.contains("Mine, waiting for a moderator"));
    assert!(!on("a plain reader", 2).contains("Mine, waiting for a moderator"));
    assert!(on("an admin", 0).contains("<a href=\"/admin/\">Dashboard</a>"));
    assert!(!on("a plain reader", 0).contains("Dashboard"));
    assert!(on("a plain reader", 3).contains(&format!(
        "name=\"comment_parent\" id=\"comment_parent\" value=\"{}\"",
        ids[0]
    )));
    assert!(!on("anonymous", 0).contains("Logged in as"));
}

#[tokio::test]
async fn a_one_time_notice_shows_once_in_the_shared_page_as_in_a_full_render() {
    let app = TestApp::spawn().await;
    let full = TestApp::spawn_beside(&app, |s| s.cache.enabled = false).await;
    let author = app.author("Wren Author").await;
    let post = app.post(&author, "Noticed", "Body.", days_ago(1)).await;
    let path = post.summary.path();
    let reader = person(&app, "Noticing Reader", Role::Reader).await;
    let set_notice = |id: &str| {
        format!(
            "UPDATE sessions SET data = '{{\"user_id\":{},\"csrf\":\"{}\",\"signed_in_at\":{},\"notice\":\"Saved <all> & done\"}}' WHERE id = '{id}'",
            reader.user.id,
            reader.csrf,
            time::OffsetDateTime::now_utc().unix_timestamp()
        )
    };
    app.sql(&set_notice(&reader.cookie)).await;
    let shared_first = page(&app, Some(&reader), &path).await;
    let shared_then = page(&app, Some(&reader), &path).await;
    app.sql(&set_notice(&reader.cookie)).await;
    let full_first = page(&full, Some(&reader), &path).await;
    let full_then = page(&full, Some(&reader), &path).await;
    assert!(shared_first.contains("class=\"site-notice\""));
    assert!(!shared_then.contains("class=\"site-notice\""));
    assert_same_page(&shared_first, &full_first, "with a notice");
    assert_same_page(&shared_then, &full_then, "after the notice");
}

/// What must be on `who`'s page and nowhere else's.
struct Own<'a> {
    person: &'a Person,
    held_text: Option<&'a str>,
}

fn assert_only_theirs(body: &str, who: Option<&Person>, everyone: &[Own<'_>], when: &str) {
    for other in everyone {
        let mine = who.is_some_and(|p| p.user.id == other.person.user.id);
        let bar = format!(
            "Logged in as <a href=\"/account\">{}</a>",
            other.person.user.display_name
        );
        assert_eq!(
            body.contains(&other.person.csrf),
            mine,
            "{when}: {}'s form token on {}'s page",
            other.person.user.display_name,
            who.map_or("an anonymous reader", |p| p.user.display_name.as_str())
        );
        assert_eq!(
            body.contains(&bar),
            mine,
            "{when}: {}'s account bar on {}'s page",
            other.person.user.display_name,
            who.map_or("an anonymous reader", |p| p.user.display_name.as_str())
        );
        if let Some(held) = other.held_text {
            assert_eq!(
                body.contains(held),
                mine,
                "{when}: {}'s held comment on another page",
                other.person.user.display_name
            );
        }
    }
}

#[tokio::test]
async fn no_reader_is_served_another_readers_page() {
    let app = TestApp::spawn_with(|s| s.comments.moderation = "off".to_owned()).await;
    let author = app.author("Wren Author").await;
    let post = app.post(&author, "Busy thread", "Body.", days_ago(1)).await;
    let (post_id, path) = (post.summary.id, post.summary.path());
    let first = app
        .comment(post_id, None, "Guest", "First!", CommentStatus::Approved)
        .await;
    let ann = person(&app, "Ann Reader", Role::Reader).await;
    let bob = person(&app, "Bob Reader", Role::Reader).await;
    let cat = person(&app, "Cat Reader", Role::Reader).await;
    let eve = person(&app, "Eve Editor", Role::Editor).await;
    own_comment(
        &app,
        post_id,
        &cat,
        "Cat's comment held for a moderator",
        CommentStatus::Pending,
        None,
    )
    .await;
    assert_eq!(
        post_form(
            &app,
            &ann,
            &format!("/likes/comment/{first}"),
            &[("_csrf", &ann.csrf)]
        )
        .await,
        303
    );
    let everyone = [
        Own {
            person: &ann,
            held_text: None,
        },
        Own {
            person: &bob,
            held_text: None,
        },
        Own {
            person: &cat,
            held_text: Some("Cat's comment held for a moderator"),
        },
        Own {
            person: &eve,
            held_text: None,
        },
    ];
    let viewers = [None, Some(&ann), Some(&bob), Some(&cat), Some(&eve)];

    for round in 0..3 {
        // Interleaved, one after another, then all at once.
        for who in viewers.iter().chain(viewers.iter().rev()) {
            let body = page(&app, *who, &path).await;
            assert_only_theirs(&body, *who, &everyone, &format!("round {round}"));
            let ann_likes = body.contains("aria-pressed=\"true\">Liked</button>");
            assert_eq!(
                ann_likes,
                who.is_some_and(|p| p.user.id == ann.user.id),
                "round {round}: Ann's like on another's page"
            );
        }
        let mut at_once = tokio::task::JoinSet::new();
        for (n, who) in viewers.iter().cycle().take(20).enumerate() {
            let client = app.client.clone();
            let url = app.url(&path);
            let cookie = who.map(|p| format!("{}={}", folio_web::SESSION_COOKIE, p.cookie));
            at_once.spawn(async move {
                let mut request = client.get(url);
                if let Some(cookie) = cookie {
                    request = request.header(reqwest::header::COOKIE, cookie);
                }
                (n, request.send().await.unwrap().text().await.unwrap())
            });
        }
        let mut all = Vec::new();
        while let Some(done) = at_once.join_next().await {
            let (n, body) = done.unwrap();
            all.push((viewers[n % viewers.len()], body));
        }
        for (who, body) in all {
            assert_only_theirs(&body, who, &everyone, &format!("round {round}, at once"));
        }
        // A change of content between rounds: the shared page is made again.
        let text = format!("Bob says {round}");
        assert_eq!(
            post_form(
                &app,
                &bob,
                "/comments",
                &[
                    ("comment", &text),
                    ("comment_post_ID", &post_id.to_string()),
                    ("_csrf", &bob.csrf),
                ],
            )
            .await,
            303
        );
        // Bob sees his comment at once, with his edit link; the others see it without.
        let bobs = page(&app, Some(&bob), &path).await;
        assert!(bobs.contains(&text));
        let anns = page(&app, Some(&ann), &path).await;
        assert!(anns.contains(&text));
        assert_eq!(
            bobs.matches("comment-edit-link").count(),
            round + 1,
            "Bob may edit each of his comments"
        );
        assert!(!anns.contains("comment-edit-link"));
    }
}

#[tokio::test]
async fn two_processes_serve_each_reader_their_own_fresh_page() {
    let one = TestApp::spawn_with(|s| {
        s.comments.moderation = "off".to_owned();
        // Neither process learns of the other's writes from its poll during this test:
        // what a reader sees must not wait for it.
        s.cache.poll_milliseconds = 60_000;
    })
    .await;
    let two = TestApp::spawn_beside(&one, |_| {}).await;
    let full = TestApp::spawn_beside(&one, |s| s.cache.enabled = false).await;
    let author = one.author("Wren Author").await;
    let post = one
        .post(&author, "Shared by two", "Body.", days_ago(1))
        .await;
    let (post_id, path) = (post.summary.id, post.summary.path());
    let guest = one
        .comment(
            post_id,
            None,
            "Guest",
            "Hello there",
            CommentStatus::Approved,
        )
        .await;
    let ann = person(&one, "Ann Reader", Role::Reader).await;
    let bob = person(&one, "Bob Reader", Role::Reader).await;
    let everyone = [
        Own {
            person: &ann,
            held_text: None,
        },
        Own {
            person: &bob,
            held_text: None,
        },
    ];
    for app in [&one, &two] {
        for who in [Some(&ann), Some(&bob), None] {
            let body = page(app, who, &path).await;
            assert_only_theirs(&body, who, &everyone, "before any change");
        }
    }

    // Ann comments through one and likes through the other; each process shows her both at
    // once, and shows Bob neither her token nor her like.
    let text = "Ann was here";
    assert_eq!(
        post_form(
            &one,
            &ann,
            "/comments",
            &[
                ("comment", text),
                ("comment_post_ID", &post_id.to_string()),
                ("_csrf", &ann.csrf),
            ],
        )
        .await,
        303
    );
    assert_eq!(
        post_form(
            &two,
            &ann,
            &format!("/likes/comment/{guest}"),
            &[("_csrf", &ann.csrf)]
        )
        .await,
        303
    );
    for app in [&two, &one] {
        let anns = page(app, Some(&ann), &path).await;
        assert!(anns.contains(text), "Ann's comment, at once");
        assert!(anns.contains("comment-edit-link"), "Ann's edit link");
        assert!(anns.contains("aria-pressed=\"true\">Liked</button>"));
        assert_only_theirs(&anns, Some(&ann), &everyone, "after Ann's comment");
        let bobs = page(app, Some(&bob), &path).await;
        assert!(bobs.contains(text));
        assert!(!bobs.contains("comment-edit-link"));
        assert!(!bobs.contains("aria-pressed=\"true\""));
        assert_only_theirs(&bobs, Some(&bob), &everyone, "after Ann's comment");
        for (who, body) in [(&ann, anns), (&bob, bobs)] {
            let reference = page(&full, Some(who), &path).await;
            assert_same_page(&body, &reference, "on two processes");
        }
    }
}

#[tokio::test]
async fn a_comment_held_after_the_page_was_seen_shows_to_its_author_at_once() {
    let app = TestApp::spawn_with(|s| {
        s.comments.moderation = "always".to_owned();
        s.cache.poll_milliseconds = 60_000;
    })
    .await;
    let full = TestApp::spawn_beside(&app, |s| s.cache.enabled = false).await;
    let author = app.author("Wren Author").await;
    let post = app.post(&author, "Held", "Body.", days_ago(1)).await;
    let (post_id, path) = (post.summary.id, post.summary.path());
    let ann = person(&app, "Ann Reader", Role::Reader).await;
    let bob = person(&app, "Bob Reader", Role::Reader).await;
    // Both readers' pages are made (and their marks kept) before Ann writes.
    page(&app, Some(&ann), &path).await;
    page(&app, Some(&bob), &path).await;
    let text = "Ann's words, for a moderator first";
    assert_eq!(
        post_form(
            &app,
            &ann,
            "/comments",
            &[
                ("comment", text),
                ("comment_post_ID", &post_id.to_string()),
                ("_csrf", &ann.csrf),
            ],
        )
        .await,
        303
    );
    let anns = page(&app, Some(&ann), &path).await;
    assert!(anns.contains(text), "Ann sees her held comment at once");
    assert!(anns.contains("Your comment is awaiting moderation."));
    assert_same_page(&anns, &page(&full, Some(&ann), &path).await, "Ann, held");
    let bobs = page(&app, Some(&bob), &path).await;
    assert!(!bobs.contains(text), "nobody else sees it");
    assert_same_page(&bobs, &page(&full, Some(&bob), &path).await, "Bob");
}
