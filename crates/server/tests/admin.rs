//! The admin over HTTP, with signed-in users of every role: writing, scheduling and
//! publishing, who may do what, CSRF, redirects for changed slugs, revisions, moderation
//! and bans. Sessions are opened straight in the session store, as a sign-in would.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{TestApp, csrf_of, days_ago, location};
use folio_domain::{CommentStatus, Role, User};
use folio_storage::{NewComment, NewUser};

/// A signed-in user of the admin.
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

impl Person {
    fn cookie_header(&self) -> String {
        format!("{}={}", folio_web::SESSION_COOKIE, self.cookie)
    }

    async fn get(&self, app: &TestApp, path: &str) -> reqwest::Response {
        app.client
            .get(app.url(path))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap()
    }

    async fn page(&self, app: &TestApp, path: &str) -> String {
        let response = self.get(app, path).await;
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(status, 200, "GET {path} answered {status}: {body}");
        body
    }

    /// POSTs a form with this session's CSRF token.
    async fn post(&self, app: &TestApp, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let mut fields: Vec<(&str, &str)> = vec![("_csrf", &self.csrf)];
        fields.extend_from_slice(form);
        self.post_raw(app, path, &fields).await
    }

    /// POSTs exactly these fields.
    async fn post_raw(
        &self,
        app: &TestApp,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        app.client
            .post(app.url(path))
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap()
    }
}

fn id_in(location: &str) -> i64 {
    location
        .trim_start_matches("/admin/posts/")
        .parse()
        .unwrap_or_else(|_| panic!("{location} is not an edited post"))
}

/// Writes a post through the editor; returns its id.
async fn write(app: &TestApp, who: &Person, form: &[(&str, &str)]) -> i64 {
    let response = who.post(app, "/admin/posts/new", form).await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    id_in(&location(&response))
}

fn local_input(at: time::OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

#[tokio::test]
async fn a_post_goes_from_draft_to_scheduled_to_the_front_page() {
    let app = TestApp::spawn().await;
    let admin = person(&app, "Ada", Role::Admin).await;
    // Something on the front page already, so that it is a list (and cached).
    app.post(&admin.user, "Older news", "Hello.", days_ago(3))
        .await;

    let id = write(
        &app,
        &admin,
        &[
            ("title", "Harvest notes"),
            ("source", "The **apples** are in."),
            ("categories", "Garden > Orchard"),
            ("tags", "apples, autumn"),
            ("featured_image", "https://images.example.org/apples.jpg"),
            ("comments_open", "1"),
            ("status", "draft"),
        ],
    )
    .await;
    let editor = admin.page(&app, &format!("/admin/posts/{id}")).await;
    assert!(
        editor.contains("value=\"harvest-notes\""),
        "slug made from the title"
    );
    assert!(editor.contains("Garden &gt; Orchard") || editor.contains("Garden &#62; Orchard"));
    assert!(
        !app.page("/").await.contains("Harvest notes"),
        "a draft is not public"
    );
    let drafts = admin.page(&app, "/admin/posts?status=draft").await;
    assert!(drafts.contains("Harvest notes"));

    // Scheduled a few seconds ahead, in the site's time zone (UTC here).
    let due = time::OffsetDateTime::now_utc() + time::Duration::seconds(3);
    let due_input = local_input(due);
    let response = admin
        .post(
            &app,
            &format!("/admin/posts/{id}"),
            &[
                ("title", "Harvest notes"),
                ("slug", "harvest-notes"),
                ("source", "The **apples** are in."),
                ("categories", "Garden > Orchard"),
                ("tags", "apples, autumn"),
                ("comments_open", "1"),
                ("status", "scheduled"),
                ("publish_at", &due_input),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert!(
        admin
            .page(&app, "/admin/posts?status=scheduled")
            .await
            .contains("Harvest notes")
    );
    assert!(
        admin
            .page(&app, "/admin/")
            .await
            .contains("<strong id=\"count-scheduled\">1</strong>")
    );
    // Read (and cached) before its time: not there.
    assert!(!app.page("/").await.contains("Harvest notes"));
    tokio::time::sleep(Duration::from_secs(4)).await;
    app.settle().await;
    let front = app.page("/").await;
    assert!(
        front.contains("Harvest notes"),
        "due post appears without a restart"
    );
    let path = format!(
        "/{:04}/{:02}/{:02}/harvest-notes/",
        due.year(),
        u8::from(due.month()),
        due.day()
    );
    let post = app.page(&path).await;
    assert!(post.contains("<strong>apples</strong>"));
    assert!(post.contains("/category/garden/orchard/") || post.contains("/category/orchard/"));

    // Published now from the start.
    write(
        &app,
        &admin,
        &[
            ("title", "Straight out"),
            ("source", "Now."),
            ("status", "published"),
        ],
    )
    .await;
    app.settle().await;
    assert!(app.page("/").await.contains("Straight out"));
}

/// Two server processes on one database, each with its caches and its mail worker: a
/// post scheduled a few seconds ahead appears on both at its time, and its new-post email
/// is queued (and sent) once.
#[tokio::test]
async fn a_scheduled_post_fires_once_with_two_server_processes() {
    let mail = |s: &mut folio_server::Settings| {
        s.mail.transport = folio_server::config::MailTransport::Log;
        s.mail.worker = true;
        s.mail.poll_milliseconds = 20;
    };
    let first = TestApp::spawn_with(mail).await;
    let second = TestApp::spawn_beside(&first, |_| {}).await;
    assert_eq!(first.database_url, second.database_url);
    first
        .store
        .subscribe_blog("fan@example.org", None, true, |_| None)
        .await
        .unwrap();
    let admin = person(&first, "Ada", Role::Admin).await;
    first
        .post(&admin.user, "Older news", "Hello.", days_ago(3))
        .await;
    // The editor takes whole seconds.
    let due = (time::OffsetDateTime::now_utc() + time::Duration::seconds(3))
        .replace_nanosecond(0)
        .unwrap();
    let id = write(
        &first,
        &admin,
        &[
            ("title", "Twice watched"),
            ("source", "Once sent."),
            ("status", "scheduled"),
            ("publish_at", &local_input(due)),
        ],
    )
    .await;
    let new_post_mail =
        format!("SELECT COUNT(*) AS n FROM mail_outbox WHERE kind = 'new_post' AND post_id = {id}");
    // Both processes read (and cache) the front page before its time.
    for app in [&first, &second] {
        assert!(!app.page("/").await.contains("Twice watched"));
    }
    assert_eq!(first.count(&new_post_mail).await, 0);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    for app in [&first, &second] {
        while !app.page("/").await.contains("Twice watched") {
            assert!(
                std::time::Instant::now() < deadline,
                "{} never showed the due post",
                app.address
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert!(
        time::OffsetDateTime::now_utc() >= due,
        "not shown before its time"
    );
    // Both workers keep looking for posts to announce; give them many rounds.
    while first
        .count(&format!(
            "SELECT COUNT(*) AS n FROM mail_outbox WHERE post_id = {id} AND status = 'sent'"
        ))
        .await
        == 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the new-post email was never sent"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(first.count(&new_post_mail).await, 1, "queued once");
    assert_eq!(
        first
            .count(&format!(
                "SELECT COUNT(*) AS n FROM mail_outbox WHERE post_id = {id} AND status = 'sent'"
            ))
            .await,
        1
    );
    assert_eq!(
        first
            .count(&format!(
                "SELECT COUNT(*) AS n FROM post_announcements WHERE post_id = {id}"
            ))
            .await,
        1
    );
    // The older post was published before the workers started looking: never announced.
    assert_eq!(
        first
            .count("SELECT COUNT(*) AS n FROM mail_outbox WHERE kind = 'new_post'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_post_scheduled_for_tomorrow_waits_for_its_time() {
    let app = TestApp::spawn_with(|s| s.site.timezone = "+01:00".to_owned()).await;
    let author = person(&app, "Ben", Role::Author).await;
    let tomorrow = (time::OffsetDateTime::now_utc() + time::Duration::days(1)).date();
    let nine = format!("{tomorrow}T09:00");
    let id = write(
        &app,
        &author,
        &[
            ("title", "Tomorrow morning"),
            ("source", "Soon."),
            ("status", "scheduled"),
            ("publish_at", &nine),
        ],
    )
    .await;
    // 09:00 at +01:00 is 08:00 UTC.
    let stored = app
        .count(&format!(
            "SELECT COUNT(*) AS n FROM posts WHERE id = {id} AND status = 'published'"
        ))
        .await;
    assert_eq!(stored, 1);
    let editor = author.page(&app, &format!("/admin/posts/{id}")).await;
    assert!(
        editor.contains(&format!("value=\"{nine}\"")),
        "shown in the site's zone"
    );
    assert!(editor.contains("<strong class=\"post-status\">scheduled</strong>"));
    assert!(!app.page("/").await.contains("Tomorrow morning"));
    let path = format!("/{}/", tomorrow.to_string().replace('-', "/"));
    assert_eq!(
        app.get(&format!("{path}tomorrow-morning/")).await.status(),
        404
    );
}

/// A user of each role, and content owned by some of them.
struct World {
    app: TestApp,
    reader: Person,
    author: Person,
    editor: Person,
    admin: Person,
    /// The author's post, and a held comment on it.
    own_post: i64,
    own_comment: i64,
    /// Another author's post, a held comment on it, and a page.
    other_post: i64,
    other_comment: i64,
    page: i64,
    /// A blog subscriber (waiting for confirmation, so no email is queued for them).
    subscriber: i64,
}

async fn world() -> World {
    let app = TestApp::spawn().await;
    let reader = person(&app, "Rita", Role::Reader).await;
    let author = person(&app, "Aldo", Role::Author).await;
    let other = person(&app, "Otto", Role::Author).await;
    let editor = person(&app, "Edna", Role::Editor).await;
    let admin = person(&app, "Adam", Role::Admin).await;
    let own_post = app
        .post(&author.user, "Aldo's post", "Mine.", days_ago(2))
        .await;
    let other_post = app
        .post(&other.user, "Otto's post", "His.", days_ago(1))
        .await;
    let own_comment = app
        .comment(
            own_post.summary.id,
            None,
            "Guest",
            "On Aldo's.",
            CommentStatus::Pending,
        )
        .await;
    let other_comment = app
        .comment(
            other_post.summary.id,
            None,
            "Guest",
            "On Otto's.",
            CommentStatus::Pending,
        )
        .await;
    let response = admin
        .post(
            &app,
            "/admin/pages/new",
            &[
                ("title", "About"),
                ("source", "About us."),
                ("status", "published"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    let about = id_in(&location(&response));
    let subscriber = app
        .store
        .subscribe_blog("fan@example.org", None, false, |_| None)
        .await
        .unwrap()
        .id;
    World {
        app,
        reader,
        author,
        editor,
        admin,
        own_post: own_post.summary.id,
        own_comment,
        other_post: other_post.summary.id,
        other_comment,
        page: about,
        subscriber,
    }
}

#[tokio::test]
async fn every_admin_page_answers_each_role_as_the_rules_say() {
    let w = world().await;
    let app = &w.app;
    let (own, other, page) = (w.own_post, w.other_post, w.page);
    let (own_c, other_c) = (w.own_comment, w.other_comment);
    // Expected status for reader, author, editor, admin.
    let table: Vec<(String, [u16; 4])> = vec![
        ("/admin/".into(), [403, 200, 200, 200]),
        ("/admin/posts".into(), [403, 200, 200, 200]),
        (
            "/admin/posts?status=draft&q=post&page=1".into(),
            [403, 200, 200, 200],
        ),
        ("/admin/pages".into(), [403, 403, 200, 200]),
        ("/admin/posts/new".into(), [403, 200, 200, 200]),
        ("/admin/pages/new".into(), [403, 403, 200, 200]),
        (format!("/admin/posts/{own}"), [403, 200, 200, 200]),
        (format!("/admin/posts/{other}"), [403, 403, 200, 200]),
        (format!("/admin/posts/{page}"), [403, 403, 200, 200]),
        (
            format!("/admin/posts/{own}/revisions"),
            [403, 200, 200, 200],
        ),
        (
            format!("/admin/posts/{other}/revisions"),
            [403, 403, 200, 200],
        ),
        ("/admin/comments".into(), [403, 200, 200, 200]),
        ("/admin/comments?status=spam".into(), [403, 200, 200, 200]),
        (
            format!("/admin/comments/{own_c}/edit"),
            [403, 200, 200, 200],
        ),
        (
            format!("/admin/comments/{other_c}/edit"),
            [403, 403, 200, 200],
        ),
        ("/admin/categories".into(), [403, 403, 200, 200]),
        ("/admin/tags".into(), [403, 403, 200, 200]),
        ("/admin/users".into(), [403, 403, 403, 200]),
        ("/admin/settings".into(), [403, 403, 403, 200]),
        ("/admin/media".into(), [403, 200, 200, 200]),
        ("/admin/audit".into(), [403, 403, 403, 200]),
        ("/admin/subscribers".into(), [403, 403, 403, 200]),
        ("/admin/subscribers?page=1".into(), [403, 403, 403, 200]),
        ("/admin/subscribers.csv".into(), [403, 403, 403, 200]),
    ];
    let people = [&w.reader, &w.author, &w.editor, &w.admin];
    for (path, expected) in &table {
        for (who, want) in people.iter().zip(expected) {
            let got = who.get(app, path).await.status().as_u16();
            assert_eq!(got, *want, "{} GET {path}", who.user.display_name);
        }
        // Nobody signed in: sent to sign in.
        let anonymous = app.get(path).await;
        assert_eq!(anonymous.status(), 303, "anonymous GET {path}");
        assert!(location(&anonymous).starts_with("/auth/login?return_to="));
    }
    // The author's lists hold only their own posts and the comments on them.
    let posts = w.author.page(app, "/admin/posts").await;
    assert!(posts.contains("Aldo&#39;s post") || posts.contains("Aldo's post"));
    assert!(!posts.contains("Otto"));
    let queue = w.author.page(app, "/admin/comments").await;
    assert!(queue.contains("On Aldo"));
    assert!(!queue.contains("On Otto"));
}

#[tokio::test]
async fn every_admin_action_refuses_the_wrong_role_and_changes_nothing() {
    let w = world().await;
    let app = &w.app;
    let (own, other) = (w.own_post, w.other_post);
    let other_c = w.other_comment;
    let reader_id = w.reader.user.id.to_string();
    let other_c_text = other_c.to_string();
    let (reader, author, editor, admin) = (&w.reader, &w.author, &w.editor, &w.admin);
    struct Action<'a> {
        path: String,
        form: Vec<(&'a str, &'a str)>,
        refused: Vec<&'a Person>,
        allowed: &'a Person,
        probe: String,
    }
    let actions = vec![
        Action {
            path: "/admin/posts/new".into(),
            form: vec![
                ("title", "New one"),
                ("source", "x"),
                ("status", "published"),
            ],
            refused: vec![reader],
            allowed: author,
            probe: "SELECT COUNT(*) AS n FROM posts".into(),
        },
        Action {
            path: "/admin/pages/new".into(),
            form: vec![
                ("title", "New page"),
                ("source", "x"),
                ("status", "published"),
            ],
            refused: vec![reader, author],
            allowed: editor,
            probe: "SELECT COUNT(*) AS n FROM posts WHERE kind = 'page'".into(),
        },
        Action {
            path: format!("/admin/posts/{other}"),
            form: vec![
                ("title", "Changed"),
                ("source", "x"),
                ("status", "published"),
            ],
            refused: vec![reader, author],
            allowed: editor,
            probe: "SELECT COUNT(*) AS n FROM posts WHERE title = 'Changed'".into(),
        },
        Action {
            path: format!("/admin/posts/{other}/trash"),
            form: vec![],
            refused: vec![reader, author],
            allowed: admin,
            probe: "SELECT COUNT(*) AS n FROM posts WHERE trashed_at IS NOT NULL".into(),
        },
        Action {
            path: format!("/admin/posts/{other}/restore"),
            form: vec![],
            refused: vec![reader, author],
            allowed: editor,
            probe: "SELECT COUNT(*) AS n FROM posts WHERE trashed_at IS NOT NULL".into(),
        },
        Action {
            path: "/admin/comments/moderate".into(),
            form: vec![("action", "approve"), ("id", &other_c_text)],
            refused: vec![reader, author],
            allowed: editor,
            probe: "SELECT COUNT(*) AS n FROM comments WHERE status = 'approved'".into(),
        },
        Action {
            path: format!("/admin/comments/{other_c}/edit"),
            form: vec![("comment", "Edited by someone")],
            refused: vec![reader, author],
            allowed: editor,
            probe: "SELECT COUNT(*) AS n FROM comments WHERE source = 'Edited by someone'".into(),
        },
        Action {
            path: format!("/admin/comments/{other_c}/reply"),
            form: vec![("comment", "A reply")],
            refused: vec![reader, author],
            allowed: admin,
            probe: "SELECT COUNT(*) AS n FROM comments".into(),
        },
        Action {
            path: format!("/admin/users/{reader_id}/ban"),
            form: vec![("reason", "spam")],
            refused: vec![reader, author],
            allowed: editor,
            probe: "SELECT COUNT(*) AS n FROM users WHERE banned_at IS NOT NULL".into(),
        },
        Action {
            path: format!("/admin/users/{reader_id}/unban"),
            form: vec![],
            refused: vec![reader, author],
            allowed: admin,
            probe: "SELECT COUNT(*) AS n FROM users WHERE banned_at IS NOT NULL".into(),
        },
        Action {
            path: format!("/admin/users/{reader_id}/role"),
            form: vec![("role", "author")],
            refused: vec![reader, author, editor],
            allowed: admin,
            probe: "SELECT COUNT(*) AS n FROM users WHERE role = 'author'".into(),
        },
        Action {
            path: format!("/admin/subscribers/{}/remove", w.subscriber),
            form: vec![],
            refused: vec![reader, author, editor],
            allowed: admin,
            probe: "SELECT COUNT(*) AS n FROM blog_subscribers".into(),
        },
    ];
    // The preview renders for staff only.
    assert_eq!(
        reader
            .post(app, "/admin/preview", &[("source", "*hi*")])
            .await
            .status(),
        403
    );
    let preview = author
        .post(app, "/admin/preview", &[("source", "*hi*")])
        .await;
    assert_eq!(preview.status(), 200);
    assert!(preview.text().await.unwrap().contains("<em>hi</em>"));
    for action in &actions {
        let before = app.count(&action.probe).await;
        for who in &action.refused {
            let response = who.post(app, &action.path, &action.form).await;
            assert_eq!(
                response.status(),
                403,
                "{} POST {}",
                who.user.display_name,
                action.path
            );
            assert_eq!(
                app.count(&action.probe).await,
                before,
                "{} changed",
                action.path
            );
        }
        let response = action.allowed.post(app, &action.path, &action.form).await;
        assert_eq!(
            response.status(),
            303,
            "{} POST {}",
            action.allowed.user.display_name,
            action.path
        );
        assert_ne!(
            app.count(&action.probe).await,
            before,
            "{} took effect",
            action.path
        );
    }
    // The author may act on their own post.
    let response = author
        .post(app, &format!("/admin/posts/{own}/trash"), &[])
        .await;
    assert_eq!(response.status(), 303);
    // Every change is in the audit log, which admins read.
    let audit = admin.page(app, "/admin/audit").await;
    for action in [
        "post.create",
        "post.save",
        "post.trash",
        "post.restore",
        "comment.approved",
        "comment.edit",
        "comment.reply",
        "user.ban",
        "user.unban",
        "user.role",
        "subscriber.remove",
    ] {
        assert!(audit.contains(action), "audit log lacks {action}");
    }
}

#[tokio::test]
async fn forms_without_this_sessions_token_are_refused_and_change_nothing() {
    let w = world().await;
    let app = &w.app;
    let other_c = w.other_comment.to_string();
    let forms: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/admin/posts/new".into(),
            vec![
                ("title", "Forged"),
                ("source", "x"),
                ("status", "published"),
            ],
        ),
        (
            format!("/admin/posts/{}", w.other_post),
            vec![
                ("title", "Forged"),
                ("source", "x"),
                ("status", "published"),
            ],
        ),
        (format!("/admin/posts/{}/trash", w.other_post), vec![]),
        (
            "/admin/comments/moderate".into(),
            vec![("action", "spam"), ("id", &other_c)],
        ),
        (
            format!("/admin/users/{}/ban", w.reader.user.id),
            vec![("reason", "x")],
        ),
        (
            format!("/admin/users/{}/role", w.reader.user.id),
            vec![("role", "admin")],
        ),
        (
            format!("/admin/subscribers/{}/remove", w.subscriber),
            vec![],
        ),
    ];
    let probe = "SELECT (SELECT COUNT(*) FROM posts WHERE title = 'Forged' OR trashed_at IS NOT NULL) \
                 + (SELECT COUNT(*) FROM comments WHERE status = 'spam') \
                 + (SELECT COUNT(*) FROM users WHERE banned_at IS NOT NULL OR role = 'admin') \
                 - (SELECT COUNT(*) FROM blog_subscribers) AS n";
    let before = app.count(probe).await;
    for (path, form) in &forms {
        let missing = w.admin.post_raw(app, path, form).await;
        assert_eq!(missing.status(), 403, "no token: {path}");
        let mut forged = vec![("_csrf", "0123456789abcdef")];
        forged.extend_from_slice(form);
        let forged_response = w.admin.post_raw(app, path, &forged).await;
        assert_eq!(forged_response.status(), 403, "forged token: {path}");
        // Another session's real token is no better.
        let mut stolen = vec![("_csrf", w.editor.csrf.as_str())];
        stolen.extend_from_slice(form);
        assert_eq!(w.admin.post_raw(app, path, &stolen).await.status(), 403);
    }
    assert_eq!(app.count(probe).await, before);
}

#[tokio::test]
async fn a_changed_slug_keeps_the_old_address_answering_with_301() {
    let app = TestApp::spawn().await;
    let editor = person(&app, "Eve", Role::Editor).await;
    let id = write(
        &app,
        &editor,
        &[
            ("title", "First name"),
            ("source", "Body."),
            ("status", "published"),
        ],
    )
    .await;
    let editor_page = editor.page(&app, &format!("/admin/posts/{id}")).await;
    let old_path = editor_page
        .split("href=\"")
        .map(|s| s.split('"').next().unwrap_or(""))
        .find(|href| href.ends_with("/first-name/"))
        .expect("a link to the post")
        .to_owned();
    assert_eq!(app.get(&old_path).await.status(), 200);
    let response = editor
        .post(
            &app,
            &format!("/admin/posts/{id}"),
            &[
                ("title", "Second name"),
                ("slug", "second-name"),
                ("source", "Body."),
                ("status", "published"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    app.settle().await;
    let new_path = old_path.replace("first-name", "second-name");
    let moved = app.get(&old_path).await;
    assert_eq!(moved.status(), 301);
    assert_eq!(location(&moved), new_path);
    assert_eq!(app.get(&new_path).await.status(), 200);
    // A slug another post has is refused, and the form keeps what was typed.
    write(
        &app,
        &editor,
        &[("title", "Taken"), ("source", "x"), ("status", "published")],
    )
    .await;
    let clash = editor
        .post(
            &app,
            &format!("/admin/posts/{id}"),
            &[
                ("title", "Second name"),
                ("slug", "taken"),
                ("source", "Typed text."),
                ("status", "published"),
            ],
        )
        .await;
    assert_eq!(clash.status(), 422);
    let body = clash.text().await.unwrap();
    assert!(body.contains("already uses the slug"));
    assert!(body.contains("Typed text."));
    // Trashed, the post is gone and so is its redirect; restored, both are back.
    editor
        .post(&app, &format!("/admin/posts/{id}/trash"), &[])
        .await;
    app.settle().await;
    assert_eq!(app.get(&new_path).await.status(), 404);
    assert_eq!(app.get(&old_path).await.status(), 404);
    editor
        .post(&app, &format!("/admin/posts/{id}/restore"), &[])
        .await;
    app.settle().await;
    assert_eq!(app.get(&new_path).await.status(), 200);
    assert_eq!(app.get(&old_path).await.status(), 301);
}

#[tokio::test]
async fn an_earlier_revision_can_be_compared_and_restored() {
    let app = TestApp::spawn().await;
    let author = person(&app, "Rev", Role::Author).await;
    let id = write(
        &app,
        &author,
        &[
            ("title", "Versions"),
            ("source", "line one\nline two"),
            ("status", "published"),
        ],
    )
    .await;
    let response = author
        .post(
            &app,
            &format!("/admin/posts/{id}"),
            &[
                ("title", "Versions"),
                ("source", "line one\nline 2, rewritten"),
                ("status", "published"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    let list = author
        .page(&app, &format!("/admin/posts/{id}/revisions"))
        .await;
    let revision_ids: Vec<i64> = list
        .split("id=\"revision-")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(revision_ids.len(), 2, "one revision per save");
    let first = *revision_ids.iter().min().unwrap();
    let compare = author
        .page(&app, &format!("/admin/posts/{id}/revisions/{first}"))
        .await;
    assert!(compare.contains("- line two"));
    assert!(compare.contains("+ line 2, rewritten"));
    assert!(compare.contains("  line one"));
    let response = author
        .post(
            &app,
            &format!("/admin/posts/{id}/revisions/{first}/restore"),
            &[],
        )
        .await;
    assert_eq!(response.status(), 303);
    let editor = author.page(&app, &format!("/admin/posts/{id}")).await;
    assert!(editor.contains("line one\nline two</textarea>"));
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM post_revisions WHERE post_id = {id}"
        ))
        .await,
        3,
        "the restore is a save too"
    );
    app.settle().await;
    let public = app.page(&editor_path(&editor)).await;
    assert!(public.contains("line two"));
}

fn editor_path(editor_html: &str) -> String {
    editor_html
        .split("href=\"")
        .map(|s| s.split('"').next().unwrap_or(""))
        .find(|href| href.ends_with("/versions/"))
        .expect("a link to the public post")
        .to_owned()
}

#[tokio::test]
async fn moderators_approve_spam_reply_and_ban() {
    let app = TestApp::spawn().await;
    let admin = person(&app, "Mod", Role::Admin).await;
    let troll = person(&app, "Troll", Role::Reader).await;
    let post = app
        .post(&admin.user, "Open thread", "Talk.", days_ago(1))
        .await;
    let post_id = post.summary.id;
    let held = |who: Option<i64>, text: &str| NewComment {
        post_id,
        parent_id: None,
        author_id: who,
        author_name: "Someone".into(),
        author_url: None,
        source: text.into(),
        status: CommentStatus::Pending,
        created_at: None,
        author_ip: None,
    };
    let a = app
        .store
        .create_comment(held(None, "Kind words"))
        .await
        .unwrap()
        .id;
    let b = app
        .store
        .create_comment(held(None, "More kind words"))
        .await
        .unwrap()
        .id;
    let c = app
        .store
        .create_comment(held(Some(troll.user.id), "Buy pills"))
        .await
        .unwrap()
        .id;
    let d = app
        .store
        .create_comment(held(Some(troll.user.id), "Pills again"))
        .await
        .unwrap()
        .id;
    let queue = admin.page(&app, "/admin/comments").await;
    for id in [a, b, c, d] {
        assert!(queue.contains(&format!("id=\"queued-{id}\"")));
    }
    assert_eq!(csrf_of(&queue), admin.csrf);
    // The admin's menu marks where it is.
    assert!(
        queue.contains("<a href=\"/admin/comments\" aria-current=\"page\">Comments</a>"),
        "{queue}"
    );
    assert!(!queue.contains("<a href=\"/admin/posts\" aria-current"));

    // Two approved at once.
    let (a_s, b_s, c_s) = (a.to_string(), b.to_string(), c.to_string());
    let response = admin
        .post(
            &app,
            "/admin/comments/moderate",
            &[
                ("action", "approve"),
                ("id", &a_s),
                ("id", &b_s),
                ("return_to", "/admin/comments"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    app.settle().await;
    let public = app.page(&post.summary.path()).await;
    assert!(public.contains("Kind words") && public.contains("More kind words"));
    assert!(!public.contains("Buy pills"));

    // One as spam, then its author banned: their other held comment goes to spam too.
    admin
        .post(
            &app,
            "/admin/comments/moderate",
            &[("action", "spam"), ("id", &c_s)],
        )
        .await;
    let response = admin
        .post(
            &app,
            &format!("/admin/users/{}/ban", troll.user.id),
            &[("reason", "selling pills"), ("until", "")],
        )
        .await;
    assert_eq!(response.status(), 303);
    let spam = admin.page(&app, "/admin/comments?status=spam").await;
    assert!(spam.contains(&format!("id=\"queued-{c}\"")));
    assert!(spam.contains(&format!("id=\"queued-{d}\"")));
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM comments WHERE status = 'pending'")
            .await,
        0
    );
    let banned = app.store.user_by_id(troll.user.id).await.unwrap().unwrap();
    assert!(banned.is_banned(time::OffsetDateTime::now_utc()));
    assert_eq!(banned.ban.unwrap().reason, "selling pills");
    // The banned reader cannot comment any more.
    let refused = troll
        .post_raw(
            &app,
            "/wp-comments-post.php",
            &[
                ("_csrf", &troll.csrf),
                ("comment", "Let me back"),
                ("comment_post_ID", &post_id.to_string()),
                ("comment_parent", "0"),
            ],
        )
        .await;
    assert_ne!(
        refused.status(),
        303,
        "a banned reader's comment is not accepted"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM comments WHERE source = 'Let me back'")
            .await,
        0
    );

    // Trash and restore.
    admin
        .post(
            &app,
            "/admin/comments/moderate",
            &[("action", "trash"), ("id", &c_s)],
        )
        .await;
    assert!(
        admin
            .page(&app, "/admin/comments?status=trash")
            .await
            .contains(&format!("id=\"queued-{c}\""))
    );
    admin
        .post(
            &app,
            "/admin/comments/moderate",
            &[("action", "restore"), ("id", &c_s)],
        )
        .await;
    assert!(
        admin
            .page(&app, "/admin/comments?status=held")
            .await
            .contains(&format!("id=\"queued-{c}\""))
    );

    // Edit a comment, and reply from the admin: the reply is approved at once.
    let response = admin
        .post(
            &app,
            &format!("/admin/comments/{a}/edit"),
            &[("comment", "Kind words, tidied")],
        )
        .await;
    assert_eq!(response.status(), 303);
    let response = admin
        .post(
            &app,
            &format!("/admin/comments/{a}/reply"),
            &[("comment", "Thank you!")],
        )
        .await;
    assert_eq!(response.status(), 303);
    app.settle().await;
    let public = app.page(&post.summary.path()).await;
    assert!(public.contains("Kind words, tidied"));
    assert!(public.contains("Thank you!"));

    // Lifted.
    admin
        .post(&app, &format!("/admin/users/{}/unban", troll.user.id), &[])
        .await;
    let lifted = app.store.user_by_id(troll.user.id).await.unwrap().unwrap();
    assert!(lifted.ban.is_none());
    // Nobody bans themselves.
    assert_eq!(
        admin
            .post(
                &app,
                &format!("/admin/users/{}/ban", admin.user.id),
                &[("reason", "oops")]
            )
            .await
            .status(),
        403
    );
}

#[tokio::test]
async fn admins_change_roles_and_see_who_did_what() {
    let app = TestApp::spawn().await;
    let admin = person(&app, "Root", Role::Admin).await;
    let newcomer = person(&app, "Newt", Role::Reader).await;
    assert_eq!(newcomer.get(&app, "/admin/").await.status(), 403);
    let response = admin
        .post(
            &app,
            &format!("/admin/users/{}/role", newcomer.user.id),
            &[("role", "author")],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(newcomer.get(&app, "/admin/").await.status(), 200);
    let users = admin.page(&app, "/admin/users").await;
    assert!(users.contains("Newt"));
    let audit = admin.page(&app, "/admin/audit").await;
    assert!(audit.contains("user.role") && audit.contains("Root") && audit.contains("author"));
    // An admin does not demote themselves.
    assert_eq!(
        admin
            .post(
                &app,
                &format!("/admin/users/{}/role", admin.user.id),
                &[("role", "reader")]
            )
            .await
            .status(),
        403
    );
}

#[tokio::test]
async fn editors_rename_nest_merge_and_delete_categories_and_tags() {
    let app = TestApp::spawn().await;
    let editor = person(&app, "Tess", Role::Editor).await;
    let author = person(&app, "Abe", Role::Author).await;
    let first = app
        .post_in(
            &author.user,
            "Apples",
            "Red.",
            days_ago(2),
            &["Fruit", "Orchard"],
            &["red", "crisp"],
        )
        .await;
    app.post_in(
        &author.user,
        "Pears",
        "Green.",
        days_ago(1),
        &["Orchard"],
        &["green"],
    )
    .await;
    let id_of = |taxonomy: &'static str, slug: &'static str| {
        let app = &app;
        async move {
            app.count(&format!(
                "SELECT id AS n FROM terms WHERE taxonomy = '{taxonomy}' AND slug = '{slug}'"
            ))
            .await
        }
    };
    let fruit = id_of("category", "fruit").await;
    let orchard = id_of("category", "orchard").await;
    let crisp = id_of("tag", "crisp").await;
    let red = id_of("tag", "red").await;

    // Authors and readers have no say over terms.
    assert_eq!(author.get(&app, "/admin/categories").await.status(), 403);
    assert_eq!(
        author
            .post(&app, &format!("/admin/terms/{fruit}/delete"), &[])
            .await
            .status(),
        403
    );
    assert!(
        editor
            .page(&app, "/admin/categories")
            .await
            .contains("Orchard")
    );

    // Renamed, re-slugged and nested: the old address redirects.
    let response = editor
        .post(
            &app,
            &format!("/admin/terms/{orchard}"),
            &[
                ("name", "Trees"),
                ("slug", "trees"),
                ("parent", &fruit.to_string()),
                ("description", ""),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    app.settle().await;
    let moved = app.get("/category/orchard/").await;
    assert_eq!(moved.status(), 301);
    assert_eq!(location(&moved), "/category/trees/");
    assert!(app.page("/category/trees/").await.contains("Pears"));
    // A category may not go under its own child.
    let loop_response = editor
        .post(
            &app,
            &format!("/admin/terms/{fruit}"),
            &[
                ("name", "Fruit"),
                ("slug", "fruit"),
                ("parent", &orchard.to_string()),
            ],
        )
        .await;
    assert_eq!(loop_response.status(), 422);

    // Merged: posts move over, the old tag's address redirects.
    let response = editor
        .post(
            &app,
            &format!("/admin/terms/{crisp}/merge"),
            &[("into", &red.to_string())],
        )
        .await;
    assert_eq!(response.status(), 303);
    app.settle().await;
    assert_eq!(location(&app.get("/tag/crisp/").await), "/tag/red/");

    // Deleted: the post keeps its other terms.
    let response = editor
        .post(&app, &format!("/admin/terms/{fruit}/delete"), &[])
        .await;
    assert_eq!(response.status(), 303);
    app.settle().await;
    let post = app.page(&first.summary.path()).await;
    assert!(post.contains("/category/trees/"));
    assert!(post.contains("/tag/red/"));
    assert!(!post.contains("/category/fruit/"));
    // Trees moved up to the top level.
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM terms WHERE id = {orchard} AND parent_id IS NULL"
        ))
        .await,
        1
    );
    // Created from the list, and logged.
    let response = editor
        .post(
            &app,
            "/admin/tags",
            &[("name", "Late season"), ("slug", "")],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert!(id_of("tag", "late-season").await > 0);
    let audit = app
        .count("SELECT COUNT(*) AS n FROM audit_log WHERE action LIKE 'category.%' OR action LIKE 'tag.%'")
        .await;
    assert_eq!(audit, 4);
}

#[tokio::test]
async fn settings_saved_by_an_admin_override_the_config_file() {
    let app = TestApp::spawn_with(|s| s.comments.moderation = "off".to_owned()).await;
    let admin = person(&app, "Sal", Role::Admin).await;
    let editor = person(&app, "Ed", Role::Editor).await;
    let reader = person(&app, "Ria", Role::Reader).await;
    let first = app.post(&admin.user, "First", "One.", days_ago(2)).await;
    app.post(&admin.user, "Second", "Two.", days_ago(1)).await;
    let form = [
        ("title", "Renamed Blog"),
        ("tagline", "Now with settings"),
        ("posts_per_page", "1"),
        ("moderation", "always"),
        ("max_depth", "3"),
        ("edit_window_minutes", "15"),
        ("close_after_days", "0"),
        ("follow_up_checked", "true"),
    ];
    assert_eq!(
        editor.post(&app, "/admin/settings", &form).await.status(),
        403
    );
    assert_eq!(
        admin
            .post_raw(&app, "/admin/settings", &form)
            .await
            .status(),
        403
    );
    let response = admin.post(&app, "/admin/settings", &form).await;
    assert_eq!(response.status(), 303);
    app.settle().await;
    let front = app.page("/").await;
    assert!(front.contains("Renamed Blog") && front.contains("Now with settings"));
    let listed = app.main_of("/").await;
    assert!(listed.contains("Second") && !listed.contains("First"));
    assert_eq!(
        app.get("/page/2/").await.status(),
        200,
        "one post per page now"
    );
    // Comments are held now, although the file says "off".
    let response = reader
        .post(
            &app,
            "/wp-comments-post.php",
            &[
                ("comment", "Held by the saved policy"),
                ("comment_post_ID", &first.summary.id.to_string()),
                ("comment_parent", "0"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM comments WHERE status = 'pending'")
            .await,
        1
    );
    // The notification default: the follow-up box starts ticked for the reader.
    let followed = r#"id="subscribe_comments" value="subscribe" checked"#;
    let post_page = reader.page(&app, &first.summary.path()).await;
    assert!(post_page.contains(followed), "the follow-up box is ticked");
    // A bad value is refused and nothing changes.
    let mut bad = form;
    bad[2] = ("posts_per_page", "0");
    assert_eq!(
        admin.post(&app, "/admin/settings", &bad).await.status(),
        422
    );
    // Back to the file's values.
    let response = admin.post(&app, "/admin/settings/reset", &[]).await;
    assert_eq!(response.status(), 303);
    app.settle().await;
    assert!(app.page("/").await.contains("Test Blog"));
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM site_settings").await,
        0
    );
    let post_page = reader.page(&app, &first.summary.path()).await;
    assert!(
        post_page.contains(r#"id="subscribe_comments" value="subscribe">"#),
        "unticked again, as the file says"
    );
}

/// A multipart form with the session's token and one file, as a browser sends it.
async fn upload(app: &TestApp, who: &Person, csrf: &str, file: &[u8]) -> reqwest::Response {
    let boundary = "folio-test-boundary-7d3a";
    let mut body = Vec::with_capacity(file.len() + 512);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n{csrf}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo.jpg\"\r\n\
             Content-Type: image/jpeg\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    app.client
        .post(app.url("/admin/media"))
        .header("cookie", who.cookie_header())
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap()
}

fn encoded(format: image::ImageFormat) -> Vec<u8> {
    let picture = image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([
            u8::try_from(x * 4).unwrap(),
            u8::try_from(y * 5).unwrap(),
            128,
        ])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(picture)
        .write_to(&mut out, format)
        .unwrap();
    out.into_inner()
}

/// A JPEG with an EXIF block holding a GPS position, right after the start-of-image marker.
fn jpeg_with_gps() -> Vec<u8> {
    let plain = encoded(image::ImageFormat::Jpeg);
    let mut tiff = b"MM\x00\x2a\x00\x00\x00\x08".to_vec();
    // One entry: GPSInfo (0x8825) pointing at the GPS directory just after this one.
    tiff.extend_from_slice(
        b"\x00\x01\x88\x25\x00\x04\x00\x00\x00\x01\x00\x00\x00\x1a\x00\x00\x00\x00",
    );
    // The GPS directory: GPSLatitudeRef "N", and a note a reader would not want published.
    tiff.extend_from_slice(
        b"\x00\x01\x00\x01\x00\x02\x00\x00\x00\x02N\x00\x00\x00\x00\x00\x00\x00",
    );
    tiff.extend_from_slice(b"GPS 48.8584 N 2.2945 E (home)");
    let mut segment = b"Exif\x00\x00".to_vec();
    segment.extend_from_slice(&tiff);
    let length = u16::try_from(segment.len() + 2).unwrap().to_be_bytes();
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&length);
    out.extend_from_slice(&segment);
    out.extend_from_slice(&plain[2..]);
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn uploaded_images_are_checked_cleaned_and_served_for_a_long_time() {
    let media = tempfile::tempdir().unwrap();
    let directory = media.path().join("media").display().to_string();
    let app = TestApp::spawn_with(|s| s.media.directory = directory).await;
    let author = person(&app, "Pix", Role::Author).await;
    let reader = person(&app, "Rex", Role::Reader).await;
    let png = encoded(image::ImageFormat::Png);

    // Readers cannot upload; nor can anyone without the form's token.
    assert_eq!(
        upload(&app, &reader, &reader.csrf, &png).await.status(),
        403
    );
    assert_eq!(upload(&app, &author, "forged", &png).await.status(), 403);

    let response = upload(&app, &author, &author.csrf, &png).await;
    assert_eq!(response.status(), 303);
    let library = author.page(&app, "/admin/media").await;
    let png_path = library
        .split("<code>")
        .nth(1)
        .and_then(|s| s.split("</code>").next())
        .expect("the image's address")
        .to_owned();
    assert!(png_path.starts_with("/media/") && png_path.ends_with(".png"));
    let served = app.get(&png_path).await;
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "image/png");
    assert!(
        served.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age=31536000")
    );
    let bytes = served.bytes().await.unwrap();
    assert!(image::load_from_memory(&bytes).is_ok());

    // A JPEG with a GPS position: kept, without it.
    let tagged = jpeg_with_gps();
    assert!(contains(&tagged, b"Exif") && contains(&tagged, b"48.8584"));
    let response = upload(&app, &author, &author.csrf, &tagged).await;
    assert_eq!(response.status(), 303);
    let library = author.page(&app, "/admin/media").await;
    let jpg_path = library
        .split("<code>")
        .find_map(|s| s.split("</code>").next().filter(|p| p.ends_with(".jpg")))
        .expect("the JPEG's address")
        .to_owned();
    let cleaned = app.get(&jpg_path).await.bytes().await.unwrap();
    assert!(image::load_from_memory(&cleaned).is_ok());
    assert!(!contains(&cleaned, b"Exif"), "EXIF removed");
    assert!(!contains(&cleaned, b"48.8584"), "GPS position removed");

    // Text that claims to be an image, and a 50 MB file: refused, nothing stored.
    let fake = b"\x89PNG\r\n\x1a\nthis is not really an image".to_vec();
    assert_eq!(
        upload(&app, &author, &author.csrf, &fake).await.status(),
        415
    );
    let mut huge = png.clone();
    huge.resize(50 * 1024 * 1024, 0);
    assert_eq!(
        upload(&app, &author, &author.csrf, &huge).await.status(),
        413
    );
    let library = author.page(&app, "/admin/media").await;
    assert_eq!(library.matches("<li id=\"media-").count(), 2);
    // Names outside the library are not served.
    assert_eq!(app.get("/media/..%2F..%2Fetc%2Fpasswd").await.status(), 404);
    // Stored under content-hash names, in the configured directory only.
    assert_eq!(
        std::fs::read_dir(media.path().join("media"))
            .unwrap()
            .count(),
        2
    );
}

fn png_of_size(width: u32, height: u32) -> Vec<u8> {
    let picture = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([
            u8::try_from(x % 256).unwrap(),
            u8::try_from(y % 256).unwrap(),
            90,
        ])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(picture)
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

/// The addresses in the page's `<code>` elements that are originals (no size suffix).
fn original_paths(page: &str) -> Vec<String> {
    page.split("<code>")
        .skip(1)
        .filter_map(|s| s.split("</code>").next())
        .filter(|p| p.starts_with("/media/") && !p.contains('-'))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn wide_images_get_a_large_and_a_feed_copy_and_small_ones_do_not() {
    let media = tempfile::tempdir().unwrap();
    let directory = media.path().join("media").display().to_string();
    let app = TestApp::spawn_with(|s| s.media.directory = directory).await;
    let author = person(&app, "Wide", Role::Author).await;

    let response = upload(&app, &author, &author.csrf, &png_of_size(2000, 300)).await;
    assert_eq!(response.status(), 303);
    let library = author.page(&app, "/admin/media").await;
    let original = original_paths(&library)
        .into_iter()
        .next()
        .expect("the original's address");
    let stem = original.trim_end_matches(".png");
    let large = format!("{stem}-1200.png");
    let feed = format!("{stem}-600.png");
    // The original is kept as it was; the copies have the widths asked for, same proportions.
    for (path, width, height) in [
        (&original, 2000, 300),
        (&large, 1200, 180),
        (&feed, 600, 90),
    ] {
        let served = app.get(path).await;
        assert_eq!(served.status(), 200, "{path}");
        assert_eq!(served.headers()["content-type"], "image/png");
        assert!(
            served.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
        let decoded = image::load_from_memory(&served.bytes().await.unwrap()).unwrap();
        assert_eq!(
            (decoded.width(), decoded.height()),
            (width, height),
            "{path}"
        );
    }
    // The library shows the sizes and offers the large copy, linking the original.
    assert!(library.contains(&format!("<code>[![]({large})]({original})</code>")));
    assert!(library.contains(&format!("href=\"{feed}\"")));
    assert!(library.contains(&format!("<img src=\"{large}\"")));
    // One entry per image, not per copy.
    assert_eq!(library.matches("<li id=\"media-").count(), 1);

    // A small image: no copies, the Markdown is the original's.
    let response = upload(&app, &author, &author.csrf, &png_of_size(500, 40)).await;
    assert_eq!(response.status(), 303);
    let library = author.page(&app, "/admin/media").await;
    let small = original_paths(&library)
        .into_iter()
        .find(|p| *p != original)
        .expect("the small image's address");
    assert!(library.contains(&format!("<code>![]({small})</code>")));
    let small_stem = small.trim_end_matches(".png");
    assert_eq!(
        app.get(&format!("{small_stem}-600.png")).await.status(),
        404
    );
    assert_eq!(library.matches("<li id=\"media-").count(), 2);
    let mut files: Vec<String> = std::fs::read_dir(media.path().join("media"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files.len(), 4, "{files:?}");
    // Widths other than the ones made are not served.
    assert_eq!(app.get(&format!("{stem}-800.png")).await.status(), 404);
}

#[tokio::test]
async fn the_post_editor_offers_recent_uploads_to_insert() {
    let media = tempfile::tempdir().unwrap();
    let directory = media.path().join("media").display().to_string();
    let app = TestApp::spawn_with(|s| s.media.directory = directory).await;
    let author = person(&app, "Picker", Role::Author).await;

    let empty = author.page(&app, "/admin/posts/new").await;
    assert!(empty.contains("id=\"media-picker\""));
    assert!(empty.contains("No images yet."));

    let response = upload(&app, &author, &author.csrf, &png_of_size(1500, 100)).await;
    assert_eq!(response.status(), 303);
    let response = upload(
        &app,
        &author,
        &author.csrf,
        &encoded(image::ImageFormat::Jpeg),
    )
    .await;
    assert_eq!(response.status(), 303);
    let library = author.page(&app, "/admin/media").await;
    let originals = original_paths(&library);
    assert_eq!(originals.len(), 2);
    let wide = originals.iter().find(|p| p.ends_with(".png")).unwrap();
    let photo = originals.iter().find(|p| p.ends_with(".jpg")).unwrap();
    let wide_large = format!("{}-1200.png", wide.trim_end_matches(".png"));

    let editor = author.page(&app, "/admin/posts/new").await;
    let picker = editor
        .split("id=\"media-picker\"")
        .nth(1)
        .and_then(|s| s.split("</details>").next())
        .expect("the media picker");
    // Each image with its Markdown to copy (without JavaScript) and for the script to insert.
    let wide_markdown = format!("[![]({wide_large})]({wide})");
    let photo_markdown = format!("![]({photo})");
    for markdown in [&wide_markdown, &photo_markdown] {
        assert!(
            picker.contains(&format!("<code>{markdown}</code>")),
            "{picker}"
        );
        assert!(
            picker.contains(&format!("data-markdown=\"{markdown}\"")),
            "{picker}"
        );
    }
    // Newest first.
    assert!(picker.find(&photo_markdown).unwrap() < picker.find(&wide_markdown).unwrap());
    // The script is a file from this site: no inline script for the CSP to refuse.
    assert!(editor.contains("<script src=\"/admin/media-picker.js\" defer></script>"));
    assert!(!editor.contains("<script>"));
    let script = app.get("/admin/media-picker.js").await;
    assert_eq!(script.status(), 200);
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(script.text().await.unwrap().contains("data-markdown"));

    // The editor of an existing post has the picker too.
    let response = author
        .post(
            &app,
            "/admin/posts/new",
            &[
                ("title", "With a picture"),
                ("source", "Hello"),
                ("status", "draft"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let editor = author.page(&app, &location).await;
    assert!(editor.contains(&format!("<code>{photo_markdown}</code>")));
}

#[tokio::test]
async fn admins_list_export_and_remove_subscribers_and_see_the_outbox() {
    let app = TestApp::spawn_with(|s| s.mail.worker = false).await;
    let admin = person(&app, "Ada", Role::Admin).await;
    let editor = person(&app, "Edna", Role::Editor).await;
    let confirmed = app
        .store
        .subscribe_blog("Fan@Example.org", None, true, |_| None)
        .await
        .unwrap();
    let waiting = app
        .store
        .subscribe_blog("=sum(1)@example.org", None, false, |_| None)
        .await
        .unwrap();
    // Two emails queued, one of them given up on.
    let mail = |n: i64| folio_storage::NewMail {
        kind: "test".into(),
        recipient: "fan@example.org".into(),
        user_id: None,
        post_id: None,
        comment_id: None,
        payload: "{}".into(),
        dedupe_key: format!("test:{n}"),
    };
    app.store.enqueue_mail(&[mail(1), mail(2)]).await.unwrap();
    app.sql("UPDATE mail_outbox SET status = 'failed' WHERE dedupe_key = 'test:2'")
        .await;

    let dashboard = admin.page(&app, "/admin/").await;
    assert!(dashboard.contains("<strong id=\"count-subscribers\">1</strong>"));
    assert!(dashboard.contains("(and 1 unconfirmed)"));
    assert!(dashboard.contains("<strong id=\"count-mail-queued\">1</strong>"));
    assert!(dashboard.contains("<strong id=\"count-mail-failed\">1</strong>"));
    // Editors see their counts, not the subscribers.
    let theirs = editor.page(&app, "/admin/").await;
    assert!(theirs.contains("count-published") && !theirs.contains("count-subscribers"));
    assert!(!theirs.contains("/admin/subscribers"));

    let list = admin.page(&app, "/admin/subscribers").await;
    assert!(
        list.contains("fan@example.org"),
        "addresses are kept lowercase"
    );
    assert!(list.contains("=sum(1)@example.org"));
    assert!(list.contains("waiting for confirmation"));
    assert!(list.contains("<strong id=\"count-confirmed\">1</strong>"));
    assert!(list.contains(&format!("/admin/subscribers/{}/remove", waiting.id)));

    let export = admin.get(&app, "/admin/subscribers.csv").await;
    assert_eq!(export.status(), 200);
    assert!(
        export.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        export.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert_eq!(export.headers()["cache-control"], "private, no-store");
    let csv = export.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert_eq!(
        lines[0],
        "email,confirmed,confirmed_at,subscribed_at,user_id"
    );
    assert!(lines[1].starts_with("fan@example.org,yes,20"), "{csv}");
    // A spreadsheet does not take it for a formula.
    assert!(lines[2].starts_with("'=sum(1)@example.org,no,,20"), "{csv}");

    let removed = admin
        .post(
            &app,
            &format!("/admin/subscribers/{}/remove", confirmed.id),
            &[],
        )
        .await;
    assert_eq!(removed.status(), 303);
    assert_eq!(location(&removed), "/admin/subscribers");
    assert_eq!(
        app.store
            .blog_subscription("fan@example.org")
            .await
            .unwrap(),
        None
    );
    let list = admin.page(&app, "/admin/subscribers").await;
    assert!(list.contains("fan@example.org no longer gets new posts by email."));
    assert!(!list.contains(&format!("subscriber-{}", confirmed.id)));
    // Removing one that is gone: 404, nothing else changes.
    let again = admin
        .post(
            &app,
            &format!("/admin/subscribers/{}/remove", confirmed.id),
            &[],
        )
        .await;
    assert_eq!(again.status(), 404);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM blog_subscribers")
            .await,
        1
    );
    let audit = admin.page(&app, "/admin/audit").await;
    assert!(audit.contains("subscriber.remove"));
}

#[tokio::test]
async fn an_editor_can_neither_ban_nor_unban_another_editor() {
    let app = TestApp::spawn().await;
    let admin = person(&app, "Root", Role::Admin).await;
    let editor = person(&app, "Eda", Role::Editor).await;
    let colleague = person(&app, "Ezra", Role::Editor).await;
    let ban = format!("/admin/users/{}/ban", colleague.user.id);
    let unban = format!("/admin/users/{}/unban", colleague.user.id);
    assert_eq!(
        editor
            .post(&app, &ban, &[("reason", "rivalry")])
            .await
            .status(),
        403
    );
    assert!(
        app.store
            .user_by_id(colleague.user.id)
            .await
            .unwrap()
            .unwrap()
            .ban
            .is_none()
    );
    admin.post(&app, &ban, &[("reason", "a pause")]).await;
    // What an admin decided, an editor cannot undo.
    assert_eq!(editor.post(&app, &unban, &[]).await.status(), 403);
    let still = app
        .store
        .user_by_id(colleague.user.id)
        .await
        .unwrap()
        .unwrap();
    assert!(still.ban.is_some());
    admin.post(&app, &unban, &[]).await;
    let lifted = app
        .store
        .user_by_id(colleague.user.id)
        .await
        .unwrap()
        .unwrap();
    assert!(lifted.ban.is_none());
}

#[tokio::test]
async fn the_editor_puts_a_page_under_another_and_sticks_a_post() {
    let app = TestApp::spawn().await;
    let editor = person(&app, "Eve", Role::Editor).await;
    let page = |title: &'static str| {
        vec![
            ("title", title),
            ("source", "Text."),
            ("status", "published"),
        ]
    };
    let created = editor.post(&app, "/admin/pages/new", &page("About")).await;
    assert_eq!(created.status(), 303);
    let about = id_in(&location(&created));
    let form = editor.page(&app, "/admin/pages/new").await;
    assert!(
        form.contains(&format!("<option value=\"{about}\">/about/</option>")),
        "{form}"
    );
    let about_id = about.to_string();
    let mut child = page("Team");
    child.push(("parent_id", &about_id));
    let created = editor.post(&app, "/admin/pages/new", &child).await;
    assert_eq!(created.status(), 303);
    let team = id_in(&location(&created));
    app.settle().await;
    assert!(app.page("/about/team/").await.contains("Text."));
    let shown = editor.page(&app, &format!("/admin/posts/{team}")).await;
    assert!(
        shown.contains(&format!(
            "<option value=\"{about}\" selected>/about/</option>"
        )),
        "{shown}"
    );
    // A page cannot go under its own child.
    let team_id = team.to_string();
    let mut looping = page("About");
    looping.push(("parent_id", &team_id));
    let refused = editor
        .post(&app, &format!("/admin/posts/{about}"), &looping)
        .await;
    assert_eq!(refused.status(), 422);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("Cannot use that parent page")
    );

    let sticky = write(
        &app,
        &editor,
        &[
            ("title", "House rules"),
            ("source", "Read first."),
            ("status", "published"),
            ("publish_at", "2020-01-01T10:00"),
            ("sticky", "1"),
        ],
    )
    .await;
    write(
        &app,
        &editor,
        &[
            ("title", "Newer"),
            ("source", "Later."),
            ("status", "published"),
        ],
    )
    .await;
    app.settle().await;
    let front = app.main_of("/").await;
    let first = &front[front.find("<article").unwrap()..];
    assert!(
        first.starts_with(&format!("<article id=\"post-{sticky}\"")) && first.contains(" sticky "),
        "{front}"
    );
}
