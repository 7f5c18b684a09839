//! Moving a site: `folio export` (Folio JSON and WordPress WXR) and `folio import`, between
//! SQLite and PostgreSQL, and `folio backup`/`restore` on PostgreSQL without pg_dump. Runs on
//! SQLite, and across both databases with FOLIO_TEST_POSTGRES_URL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use common::{at, base_settings, fresh_database, postgres_admin_url};
use folio_domain::{CommentStatus, Identity, PostKind, PostStatus, Role, Slug, Taxonomy, User};
use folio_server::App;
use folio_server::demo::{self, DemoOptions};
use folio_storage::{NewComment, NewMail, NewPost, NewUser, PostEdit, Store, TermEdit};
use quick_xml::events::Event;
use serde_json::Value;

const SPECIAL_TITLE: &str = "Grüße & <tags> ]]> from Köln";
const SPECIAL_BODY: &str = "Ünïcödé travels: 日本語のテキスト, emoji 🦀.\n\n\
    A CDATA end inside text: `a]]>b` and again ]]> here.";

/// Runs the real `folio` binary, off the async threads; `path` replaces PATH when given.
async fn folio_with(database_url: &str, args: &[&str], path: Option<&Path>) -> Output {
    let url = database_url.to_owned();
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    let path = path.map(Path::to_path_buf);
    tokio::task::spawn_blocking(move || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_folio"));
        command
            .args(&args)
            .env("FOLIO__DATABASE__URL", &url)
            .env("FOLIO__LOG__LEVEL", "warn");
        if let Some(path) = path {
            command.env("PATH", path);
        }
        command.output().unwrap()
    })
    .await
    .unwrap()
}

async fn folio(database_url: &str, args: &[&str]) -> Output {
    folio_with(database_url, args, None).await
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_ok(output: &Output, what: &str) {
    assert!(output.status.success(), "{what} failed: {}", stderr(output));
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// A new empty database (PostgreSQL when the suite has one) in its own folder.
struct Fresh {
    url: String,
    _guard: common::DatabaseGuard,
    _dir: tempfile::TempDir,
}

async fn fresh() -> Fresh {
    let dir = tempfile::tempdir().unwrap();
    let (url, guard) = fresh_database(&dir).await;
    Fresh {
        url,
        _guard: guard,
        _dir: dir,
    }
}

fn sqlite_url(dir: &tempfile::TempDir, name: &str) -> String {
    format!("sqlite://{}/{name}", dir.path().display())
}

/// A server on an existing database, as `folio serve` runs it.
async fn serve(url: &str) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut settings = base_settings(url);
    settings.site.base_url = format!("http://127.0.0.1:{port}");
    let store = Store::connect(url).await.unwrap();
    store.migrate_up().await.unwrap();
    let app = App::from_parts(listener, store, &settings)
        .await
        .expect("app builds");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async move {
        let _ = rx.await;
    }));
    (format!("http://127.0.0.1:{port}"), tx)
}

/// The `<main>` of a page, with the site's own address taken out (it differs by port).
async fn main_of(base: &str, page: &str) -> String {
    let response = reqwest::get(format!("{base}{page}")).await.unwrap();
    assert_eq!(response.status(), 200, "GET {base}{page}");
    let html = response.text().await.unwrap();
    let start = html.find("<main").expect("page has <main>");
    let end = html.find("</main>").expect("page has </main>");
    html[start..end].replace(base, "SITE")
}

/// What `fill` made that the checks look for.
struct Filled {
    /// A word the demo's posts use, to search for.
    search_term: String,
    special_id: i64,
    special_path: String,
    comment_ids: Vec<i64>,
    draft_id: i64,
    scheduled_id: i64,
    trashed_id: i64,
    page_id: i64,
}

async fn user(store: &Store, name: &str, role: Role) -> User {
    store
        .create_user(NewUser {
            display_name: name.to_owned(),
            slug: None,
            email: Some(format!(
                "{}@example.org",
                name.to_lowercase().replace(' ', ".")
            )),
            avatar_url: None,
            bio: format!("{name} writes here."),
            role,
        })
        .await
        .unwrap()
}

async fn post(
    store: &Store,
    author: &User,
    kind: PostKind,
    title: &str,
    body: &str,
    status: PostStatus,
    published_at: Option<time::OffsetDateTime>,
) -> folio_domain::Post {
    store
        .create_post(NewPost {
            kind,
            title: title.to_owned(),
            slug: None,
            source: body.to_owned(),
            status,
            published_at,
            author_id: author.id,
            categories: vec!["Operations > Backups".to_owned()],
            tags: vec!["sqlite".to_owned(), "postgres".to_owned()],
            comments_open: true,
            featured_image: None,
            password: None,
            parent_id: None,
            sticky: false,
        })
        .await
        .unwrap()
}

async fn comment(
    store: &Store,
    post_id: i64,
    parent: Option<i64>,
    author: Option<&User>,
    name: &str,
    text: &str,
    status: CommentStatus,
) -> i64 {
    store
        .create_comment(NewComment {
            post_id,
            parent_id: parent,
            author_id: author.map(|u| u.id),
            author_name: name.to_owned(),
            author_url: Some("https://example.org/~someone".to_owned()),
            source: text.to_owned(),
            status,
            created_at: None,
            author_ip: Some("203.0.113.9".to_owned()),
        })
        .await
        .unwrap()
        .id
}

/// A site with content of every kind: the demo's posts, pages and comments, and by hand
/// what the demo does not make (identities, role grants, likes, follows, subscribers,
/// settings, redirects, revisions, audit entries, outbox rows, a trashed post, a category
/// whose parent was made after it, a session).
async fn fill(store: &Store) -> Filled {
    let demo = demo::fill(
        store,
        &DemoOptions {
            posts: 8,
            comments: 40,
            big_post_comments: 0,
            big_post_threads: 0,
            seed: 7,
        },
    )
    .await
    .unwrap();
    let admin = user(store, "Ada Admin", Role::Admin).await;
    let author = user(store, "Alice Archer", Role::Author).await;
    let reader = store
        .sign_in(&Identity {
            provider: "github".to_owned(),
            subject: "583231".to_owned(),
            login: Some("octocat".to_owned()),
            display_name: "The Octocat".to_owned(),
            email: Some("octocat@example.org".to_owned()),
            email_verified: true,
            avatar_url: None,
            profile_url: Some("https://github.com/octocat".to_owned()),
        })
        .await
        .unwrap();
    store
        .grant_role_at_sign_in("github", "newcomer", Role::Editor)
        .await
        .unwrap();
    store
        .create_session(
            "a-session-that-stays-behind",
            Some(admin.id),
            folio_storage::StoredSession {
                data: "{}".to_owned(),
                expires_at: 4_102_444_800,
            },
        )
        .await
        .unwrap();

    let special = post(
        store,
        &author,
        PostKind::Post,
        SPECIAL_TITLE,
        SPECIAL_BODY,
        PostStatus::Published,
        Some(at(2024, 3, 5)),
    )
    .await;
    let special_id = special.summary.id;
    let root = comment(
        store,
        special_id,
        None,
        Some(&reader),
        "The Octocat",
        "First, with *emphasis*.",
        CommentStatus::Approved,
    )
    .await;
    let reply = comment(
        store,
        special_id,
        Some(root),
        None,
        "Dave",
        "A reply — with ünïcödé.",
        CommentStatus::Approved,
    )
    .await;
    let deeper = comment(
        store,
        special_id,
        Some(reply),
        None,
        "Erin",
        "Deeper still.",
        CommentStatus::Approved,
    )
    .await;
    let held = comment(
        store,
        special_id,
        None,
        None,
        "Frank",
        "Held for moderation",
        CommentStatus::Pending,
    )
    .await;
    let spam = comment(
        store,
        special_id,
        None,
        None,
        "Mallory",
        "Buy pills",
        CommentStatus::Spam,
    )
    .await;
    let gone = comment(
        store,
        special_id,
        None,
        None,
        "Grace",
        "I will delete this.",
        CommentStatus::Approved,
    )
    .await;
    let answer = comment(
        store,
        special_id,
        Some(gone),
        None,
        "Heidi",
        "An answer that outlives its parent.",
        CommentStatus::Approved,
    )
    .await;
    store.delete_comment(gone).await.unwrap();
    store.toggle_post_like(special_id, reader.id).await.unwrap();
    store.toggle_comment_like(reply, reader.id).await.unwrap();
    store
        .set_thread_follow(special_id, reader.id, true)
        .await
        .unwrap();
    store.mark_post_announced(special_id).await.unwrap();
    store
        .subscribe_blog("fan@example.org", None, true, |_| None)
        .await
        .unwrap();
    store
        .subscribe_blog("maybe@example.org", None, false, |_| None)
        .await
        .unwrap();
    store
        .enqueue_mail(&[NewMail {
            kind: "reply".to_owned(),
            recipient: "octocat@example.org".to_owned(),
            user_id: Some(reader.id),
            post_id: Some(special_id),
            comment_id: Some(reply),
            payload: "{\"note\":\"ünïcödé\"}".to_owned(),
            dedupe_key: format!("reply:{reply}:octocat@example.org"),
        }])
        .await
        .unwrap();
    store
        .save_settings(
            &admin,
            &BTreeMap::from([("site.tagline".to_owned(), "Moved, not lost".to_owned())]),
        )
        .await
        .unwrap();
    store
        .record_admin_action(&admin, "export.test", "site", "an audit entry")
        .await
        .unwrap();

    // A category given a parent that was made after it: its row refers forward.
    let zeta = store
        .create_term(
            &admin,
            Taxonomy::Category,
            TermEdit {
                name: "Zeta".to_owned(),
                slug: Slug::parse("zeta").unwrap(),
                parent_id: None,
                description: "Made first.".to_owned(),
            },
        )
        .await
        .unwrap()
        .unwrap();
    let later = store
        .create_term(
            &admin,
            Taxonomy::Category,
            TermEdit {
                name: "Later Parent".to_owned(),
                slug: Slug::parse("later-parent").unwrap(),
                parent_id: None,
                description: String::new(),
            },
        )
        .await
        .unwrap()
        .unwrap();
    store
        .update_term(
            &admin,
            zeta.id,
            TermEdit {
                name: "Zeta".to_owned(),
                slug: Slug::parse("zeta").unwrap(),
                parent_id: Some(later.id),
                description: "Made first.".to_owned(),
            },
        )
        .await
        .unwrap()
        .unwrap();

    let page = post(
        store,
        &admin,
        PostKind::Page,
        "About the move",
        "A page.",
        PostStatus::Published,
        Some(at(2024, 1, 2)),
    )
    .await;
    // A child page with a password, and a sticky post: the columns WordPress has for them.
    store
        .create_post(NewPost {
            kind: PostKind::Page,
            title: "Crew".to_owned(),
            slug: None,
            source: "Who rows where.".to_owned(),
            status: PostStatus::Published,
            published_at: Some(at(2024, 1, 3)),
            author_id: admin.id,
            categories: vec![],
            tags: vec![],
            comments_open: true,
            featured_image: None,
            password: Some("oars up".to_owned()),
            parent_id: Some(page.summary.id),
            sticky: false,
        })
        .await
        .unwrap();
    store
        .create_post(NewPost {
            kind: PostKind::Post,
            title: "House rules".to_owned(),
            slug: None,
            source: "Read these first.".to_owned(),
            status: PostStatus::Published,
            published_at: Some(at(2023, 6, 1)),
            author_id: admin.id,
            categories: vec![],
            tags: vec![],
            comments_open: true,
            featured_image: None,
            password: None,
            parent_id: None,
            sticky: true,
        })
        .await
        .unwrap();
    let draft = post(
        store,
        &author,
        PostKind::Post,
        "Unfinished thoughts",
        "Draft text.",
        PostStatus::Draft,
        None,
    )
    .await;
    let scheduled = post(
        store,
        &author,
        PostKind::Post,
        "Coming soon",
        "Scheduled text.",
        PostStatus::Published,
        Some(time::OffsetDateTime::now_utc() + time::Duration::days(30)),
    )
    .await;
    let trashed = post(
        store,
        &author,
        PostKind::Post,
        "Thrown away",
        "Trash text.",
        PostStatus::Published,
        Some(at(2024, 2, 2)),
    )
    .await;
    store
        .set_post_trashed(&admin, trashed.summary.id, true)
        .await
        .unwrap();
    // A save with a new slug: a revision, a redirect from the old address, a featured image.
    store
        .save_post(
            &admin,
            Some(special_id),
            PostKind::Post,
            PostEdit {
                title: SPECIAL_TITLE.to_owned(),
                slug: Some(Slug::parse("gruesse-aus-koeln").unwrap()),
                source: SPECIAL_BODY.to_owned(),
                excerpt: String::new(),
                categories: vec!["Operations > Backups".to_owned(), "Zeta".to_owned()],
                tags: vec!["sqlite".to_owned(), "postgres".to_owned()],
                featured_image: Some("/media/2024/03/cover.png".to_owned()),
                comments_open: true,
                status: PostStatus::Published,
                published_at: Some(at(2024, 3, 5)),
                password: String::new(),
                parent_id: None,
                sticky: false,
            },
        )
        .await
        .unwrap()
        .unwrap();
    Filled {
        search_term: demo.search_term,
        special_id,
        special_path: "/2024/03/05/gruesse-aus-koeln/".to_owned(),
        comment_ids: vec![root, reply, deeper, held, spam, gone, answer],
        draft_id: draft.summary.id,
        scheduled_id: scheduled.summary.id,
        trashed_id: trashed.summary.id,
        page_id: page.summary.id,
    }
}

fn read_json(file: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

/// Two exports hold the same rows, compared table by table and row by row, and are the
/// same bytes apart from the time in the header.
fn assert_same_export(first: &Path, second: &Path) {
    let (a, b) = (read_json(first), read_json(second));
    for key in ["format", "format_version", "folio_version", "schema"] {
        assert_eq!(a[key], b[key], "header {key}");
    }
    let tables = |v: &Value| -> Vec<String> {
        v["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["table"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(tables(&a), tables(&b), "the same tables in the same order");
    for (ta, tb) in a["tables"]
        .as_array()
        .unwrap()
        .iter()
        .zip(b["tables"].as_array().unwrap())
    {
        let name = ta["table"].as_str().unwrap();
        assert_eq!(ta["columns"], tb["columns"], "{name}: columns");
        let (ra, rb) = (
            ta["rows"].as_array().unwrap(),
            tb["rows"].as_array().unwrap(),
        );
        assert_eq!(ra.len(), rb.len(), "{name}: row count");
        for (i, (x, y)) in ra.iter().zip(rb).enumerate() {
            assert_eq!(x, y, "{name}: row {i}");
        }
    }
    let without_time = |file: &Path| -> String {
        std::fs::read_to_string(file)
            .unwrap()
            .lines()
            .filter(|l| !l.trim_start().starts_with("\"exported_at\""))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        without_time(first) == without_time(second),
        "the exports are byte-identical apart from the time"
    );
}

fn column_of(export: &Value, table: &str, column: &str) -> usize {
    export["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == table)
        .unwrap()["columns"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c == column)
        .unwrap_or_else(|| panic!("no column {table}.{column}"))
}

fn rows<'a>(export: &'a Value, table: &str) -> &'a Vec<Value> {
    export["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == table)
        .unwrap_or_else(|| panic!("no table {table}"))["rows"]
        .as_array()
        .unwrap()
}

/// Exports a filled site on `source_url`, imports it into `target_url`, and checks that the
/// target holds the same rows and serves the same pages, and takes new rows with new ids.
async fn move_site(source_url: &str, target_url: &str) {
    let source = Store::connect(source_url).await.unwrap();
    source.migrate_up().await.unwrap();
    let filled = fill(&source).await;
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("site.json");
    let output = folio(source_url, &["export", &path(&first)]).await;
    assert_ok(&output, "export");
    assert!(String::from_utf8_lossy(&output.stdout).contains("rows"));

    let export = read_json(&first);
    assert_eq!(export["format"], "folio-export");
    assert!(
        export["schema"].as_str().unwrap().starts_with('m'),
        "{}",
        export["schema"]
    );
    let names: Vec<&str> = export["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["table"].as_str().unwrap())
        .collect();
    for table in [
        "users",
        "identities",
        "posts",
        "post_revisions",
        "terms",
        "post_terms",
        "comments",
        "post_likes",
        "comment_likes",
        "thread_follows",
        "blog_subscribers",
        "site_settings",
        "slug_redirects",
        "audit_log",
        "role_grants",
        "mail_outbox",
        "post_announcements",
    ] {
        assert!(
            !rows(&export, table).is_empty(),
            "{table} is exported with rows"
        );
    }
    for left_out in ["sessions", "seaql_migrations", "site_state", "posts_fts"] {
        assert!(!names.contains(&left_out), "{left_out} is not exported");
    }
    assert!(
        names.iter().position(|t| *t == "users") < names.iter().position(|t| *t == "posts")
            && names.iter().position(|t| *t == "posts")
                < names.iter().position(|t| *t == "comments"),
        "tables in foreign-key order: {names:?}"
    );
    let post_columns = export["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "posts")
        .unwrap()["columns"]
        .as_array()
        .unwrap()
        .clone();
    assert!(!post_columns.contains(&Value::from("search_vector")));
    let open = column_of(&export, "posts", "comments_open");
    let created = column_of(&export, "posts", "created_at");
    let a_post = &rows(&export, "posts")[0];
    assert!(a_post[open].is_boolean(), "booleans are JSON booleans");
    assert!(
        a_post[created].as_str().unwrap().ends_with('Z'),
        "times are RFC 3339 UTC: {}",
        a_post[created]
    );

    // Passwords, parents and sticky flags are in the export, as WordPress's are in its own.
    let (password, parent, sticky) = (
        column_of(&export, "posts", "password"),
        column_of(&export, "posts", "parent_id"),
        column_of(&export, "posts", "sticky"),
    );
    let posts = rows(&export, "posts");
    assert!(
        posts
            .iter()
            .any(|r| r[password] == "oars up" && r[parent].as_i64() == Some(filled.page_id)),
        "the child page with its password"
    );
    assert!(posts.iter().any(|r| r[sticky] == true), "the sticky post");

    let output = folio(target_url, &["import", &path(&first)]).await;
    assert_ok(&output, "import");
    let second = dir.path().join("again.json");
    let output = folio(target_url, &["export", &path(&second)]).await;
    assert_ok(&output, "export of the imported site");
    assert_same_export(&first, &second);
    let target = Store::connect(target_url).await.unwrap();
    assert!(
        target.table_rows("sessions").await.unwrap().is_empty(),
        "sessions stay behind"
    );

    // Both sites serve the same pages.
    let (old_site, _stop_old) = serve(source_url).await;
    let (new_site, _stop_new) = serve(target_url).await;
    for page in [
        filled.special_path.as_str(),
        "/",
        "/category/operations/backups/",
        "/tag/sqlite/",
        "/2024/03/",
        "/about-the-move/",
        "/about-the-move/crew/",
    ] {
        assert_eq!(
            main_of(&new_site, page).await,
            main_of(&old_site, page).await,
            "{page} reads the same after the move"
        );
    }
    let thread = main_of(&new_site, &filled.special_path).await;
    for id in [
        filled.comment_ids[0],
        filled.comment_ids[1],
        filled.comment_ids[2],
    ] {
        assert!(
            thread.contains(&format!("id=\"comment-{id}\"")),
            "comment {id}"
        );
    }
    assert!(thread.contains("日本語のテキスト") && thread.contains("Deeper still."));
    assert!(!thread.contains("Buy pills"), "spam stays hidden");
    // The address the post had before its slug changed still leads to it.
    let old_path = column_of(&export, "slug_redirects", "old_path");
    let redirect_post = column_of(&export, "slug_redirects", "post_id");
    let old_address = rows(&export, "slug_redirects")
        .iter()
        .find(|r| r[redirect_post].as_i64() == Some(filled.special_id))
        .expect("a redirect from the old slug")[old_path]
        .as_str()
        .unwrap()
        .to_owned();
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{new_site}{old_address}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 301, "{old_address} still redirects");
    assert!(
        response.headers()["location"]
            .to_str()
            .unwrap()
            .ends_with(&filled.special_path)
    );
    // Search: the same page on the same kind of database; across kinds, the post is found
    // (SQLite's FTS5 and PostgreSQL's text search rank and cut snippets each their own way).
    let same_kind = source_url.split(':').next() == target_url.split(':').next();
    for query in ["/search?q=K%C3%B6ln", "/search?q=travels"] {
        let found = main_of(&new_site, query).await;
        assert!(
            found.contains(&filled.special_path),
            "search {query} finds the post after the move"
        );
        if same_kind {
            assert_eq!(found, main_of(&old_site, query).await, "{query}");
        }
    }
    let demo_search = format!("/search?q={}", filled.search_term);
    let found = main_of(&new_site, &demo_search).await;
    assert!(
        found.matches("<article").count() >= 2,
        "{demo_search} finds the demo's posts: {found}"
    );
    if same_kind {
        assert_eq!(found, main_of(&old_site, &demo_search).await);
    }

    // New rows take fresh ids (PostgreSQL's sequences were moved past the imported ids).
    let largest = rows(&export, "comments")
        .iter()
        .map(|r| r[0].as_i64().unwrap())
        .max()
        .unwrap();
    let new_comment = comment(
        &target,
        filled.special_id,
        Some(filled.comment_ids[0]),
        None,
        "Ivan",
        "Written after the move.",
        CommentStatus::Approved,
    )
    .await;
    assert!(
        new_comment > largest,
        "new comment {new_comment} after {largest}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let thread = main_of(&new_site, &filled.special_path).await;
    assert!(
        thread.contains(&format!("id=\"comment-{new_comment}\""))
            && thread.contains("Written after the move."),
        "the new comment shows in the thread"
    );
    let admin = target.find_user("ada-admin").await.unwrap().unwrap();
    let new_post = target
        .create_post(NewPost {
            kind: PostKind::Post,
            title: "After the move".to_owned(),
            slug: None,
            source: "New.".to_owned(),
            status: PostStatus::Published,
            published_at: Some(at(2025, 1, 1)),
            author_id: admin.id,
            categories: vec!["A New Category".to_owned()],
            tags: vec![],
            comments_open: true,
            featured_image: None,
            password: None,
            parent_id: None,
            sticky: false,
        })
        .await
        .unwrap();
    assert!(new_post.summary.id > filled.trashed_id.max(filled.scheduled_id));
    source.close().await.unwrap();
    target.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_site_moves_through_json_and_reads_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let source = sqlite_url(&dir, "source.db");
    // Into PostgreSQL when the suite has one, else into another SQLite file.
    let new_db = fresh().await;
    let target = new_db.url.clone();
    move_site(&source, &target).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_moves_back_into_sqlite_and_reads_the_same() {
    let dir = tempfile::tempdir().unwrap();
    // From PostgreSQL when the suite has one.
    let new_db = fresh().await;
    let source = new_db.url.clone();
    let target = sqlite_url(&dir, "target.db");
    move_site(&source, &target).await;
}

async fn row_count(url: &str) -> Option<(String, i64)> {
    let store = Store::connect(url).await.unwrap();
    let found = store.first_table_with_rows().await.unwrap();
    store.close().await.unwrap();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_refuses_a_used_database_and_broken_or_newer_exports() {
    let dir = tempfile::tempdir().unwrap();
    let source = sqlite_url(&dir, "source.db");
    let store = Store::connect(&source).await.unwrap();
    store.migrate_up().await.unwrap();
    fill(&store).await;
    store.close().await.unwrap();
    let file = dir.path().join("site.json");
    assert_ok(&folio(&source, &["export", &path(&file)]).await, "export");

    // A database no Folio has set up: said so, and no file is written.
    let empty = fresh().await;
    if let Some(database) = folio_storage::sqlite_file(&empty.url) {
        std::fs::File::create(database).unwrap();
    }
    let nothing = dir.path().join("nothing.json");
    let refused = folio(&empty.url, &["export", &path(&nothing)]).await;
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("has no Folio tables"),
        "{}",
        stderr(&refused)
    );
    assert!(!nothing.exists());

    // An export is never written over an existing file.
    let again = folio(&source, &["export", &path(&file)]).await;
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );

    // Into a site with content: refused, one line, nothing changed.
    let used_db = fresh().await;
    let used = used_db.url.clone();
    let store = Store::connect(&used).await.unwrap();
    store.migrate_up().await.unwrap();
    let someone = user(&store, "Zed Zephyr", Role::Author).await;
    post(
        &store,
        &someone,
        PostKind::Post,
        "Already here",
        "This site has a post.",
        PostStatus::Published,
        Some(at(2025, 1, 2)),
    )
    .await;
    let before: Vec<_> = store.table_rows("posts").await.unwrap();
    let output = folio(&used, &["import", &path(&file)]).await;
    assert!(!output.status.success(), "import into a used site");
    let message = stderr(&output);
    assert_eq!(message.trim().lines().count(), 1, "one line: {message}");
    assert!(message.contains("not empty"), "{message}");
    assert_eq!(store.table_rows("posts").await.unwrap(), before);
    assert_eq!(store.table_rows("users").await.unwrap().len(), 1);
    store.close().await.unwrap();

    // A truncated file and a malformed one: the line and column, and nothing imported.
    let text = std::fs::read_to_string(&file).unwrap();
    let truncated = dir.path().join("truncated.json");
    std::fs::write(&truncated, &text[..text.len() * 2 / 3]).unwrap();
    let broken = dir.path().join("broken.json");
    let comments_at = text.find("\"table\": \"comments\"").unwrap();
    let comma = comments_at + text[comments_at..].find("],").unwrap() + 1;
    let mut broken_text = text.clone();
    broken_text.replace_range(comma..=comma, ";");
    std::fs::write(&broken, &broken_text).unwrap();
    let broken_line = text[..comma].lines().count();
    for (file, line) in [(&truncated, None), (&broken, Some(broken_line))] {
        let new_db = fresh().await;
        let empty = new_db.url.clone();
        let output = folio(&empty, &["import", &path(file)]).await;
        assert!(!output.status.success(), "{} was imported", file.display());
        let message = stderr(&output);
        assert_eq!(message.trim().lines().count(), 1, "one line: {message}");
        assert!(
            message.contains("line") && message.contains("column"),
            "{message}"
        );
        if let Some(line) = line {
            assert!(message.contains(&format!("line {line} ")), "{message}");
        }
        assert_eq!(row_count(&empty).await, None, "nothing was imported");
    }

    // An export from a newer Folio is refused before anything is written.
    let newer = dir.path().join("newer.json");
    let schema = read_json(&file)["schema"].as_str().unwrap().to_owned();
    std::fs::write(
        &newer,
        text.replacen(&schema, "m29991231_000001_from_the_future", 1),
    )
    .unwrap();
    let new_db = fresh().await;
    let empty = new_db.url.clone();
    let output = folio(&empty, &["import", &path(&newer)]).await;
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("newer Folio") && message.contains("upgrade"),
        "{message}"
    );
    assert_eq!(row_count(&empty).await, None);

    // An export from an older schema is taken: a column it lacks gets its default.
    let mut older = read_json(&file);
    older["schema"] = Value::from("m20261126_000001_blog_schema");
    for table in older["tables"].as_array_mut().unwrap() {
        if table["table"] == "users" {
            let columns = table["columns"].as_array_mut().unwrap();
            let dropped = columns.iter().position(|c| c == "notify_replies").unwrap();
            columns.remove(dropped);
            for row in table["rows"].as_array_mut().unwrap() {
                row.as_array_mut().unwrap().remove(dropped);
            }
        }
    }
    let older_file = dir.path().join("older.json");
    std::fs::write(&older_file, serde_json::to_string(&older).unwrap()).unwrap();
    let older_db = fresh().await;
    let output = folio(&older_db.url, &["import", &path(&older_file)]).await;
    assert_ok(&output, "import of an older export");
    let imported = dir.path().join("imported.json");
    assert_ok(
        &folio(&older_db.url, &["export", &path(&imported)]).await,
        "export",
    );
    let imported = read_json(&imported);
    let notify = column_of(&imported, "users", "notify_replies");
    let users = rows(&imported, "users");
    assert_eq!(users.len(), rows(&read_json(&file), "users").len());
    assert!(users.iter().all(|u| u[notify] == Value::Bool(true)));

    // Something else entirely.
    let other = dir.path().join("other.json");
    std::fs::write(&other, "{\"hello\": \"world\"}").unwrap();
    let output = folio(&empty, &["import", &path(&other)]).await;
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("not a Folio export"),
        "{}",
        stderr(&output)
    );
    assert_eq!(row_count(&empty).await, None);
}

/// An XML element, enough to look a WXR file over.
#[derive(Debug, Default, Clone)]
struct Element {
    name: String,
    attributes: BTreeMap<String, String>,
    children: Vec<Element>,
    text: String,
}

impl Element {
    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    fn one(&self, name: &str) -> &Element {
        self.children
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("<{}> has no <{name}>", self.name))
    }

    fn text_of(&self, name: &str) -> &str {
        &self.one(name).text
    }
}

/// Parses the whole file with quick-xml, failing on anything not well-formed.
fn parse_xml(text: &str) -> Element {
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack = vec![Element::default()];
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(start) => {
                let mut element = Element {
                    name: String::from_utf8(start.name().as_ref().to_vec()).unwrap(),
                    ..Element::default()
                };
                for attribute in start.attributes() {
                    let attribute = attribute.unwrap();
                    element.attributes.insert(
                        String::from_utf8(attribute.key.as_ref().to_vec()).unwrap(),
                        quick_xml::escape::unescape(std::str::from_utf8(&attribute.value).unwrap())
                            .unwrap()
                            .into_owned(),
                    );
                }
                stack.push(element);
            }
            Event::Empty(start) => {
                let name = String::from_utf8(start.name().as_ref().to_vec()).unwrap();
                stack.last_mut().unwrap().children.push(Element {
                    name,
                    ..Element::default()
                });
            }
            Event::End(_) => {
                let done = stack.pop().unwrap();
                stack.last_mut().unwrap().children.push(done);
            }
            Event::Text(text) => {
                let text = text.decode().unwrap();
                let unescaped = quick_xml::escape::unescape(&text).unwrap().into_owned();
                stack.last_mut().unwrap().text.push_str(&unescaped);
            }
            Event::GeneralRef(reference) => {
                let name = reference.decode().unwrap();
                let character = match name.as_ref() {
                    "amp" => "&".to_owned(),
                    "lt" => "<".to_owned(),
                    "gt" => ">".to_owned(),
                    "quot" => "\"".to_owned(),
                    "apos" => "'".to_owned(),
                    other => panic!("unexpected entity &{other};"),
                };
                stack.last_mut().unwrap().text.push_str(&character);
            }
            Event::CData(data) => {
                let data = String::from_utf8(data.into_inner().into_owned()).unwrap();
                stack.last_mut().unwrap().text.push_str(&data);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(stack.len(), 1, "every element is closed");
    stack.pop().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wxr_export_is_what_wordpress_imports() {
    let dir = tempfile::tempdir().unwrap();
    let new_db = fresh().await;
    let url = new_db.url.clone();
    let store = Store::connect(&url).await.unwrap();
    store.migrate_up().await.unwrap();
    let filled = fill(&store).await;
    let file = dir.path().join("wordpress.xml");
    let output = folio(&url, &["export", &path(&file)]).await;
    assert_ok(&output, "WXR export");
    assert!(String::from_utf8_lossy(&output.stdout).contains("WXR"));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    let document = parse_xml(&text);
    let rss = document.one("rss");
    assert_eq!(rss.attributes["version"], "2.0");
    for (prefix, namespace) in [
        ("excerpt", "http://wordpress.org/export/1.2/excerpt/"),
        ("content", "http://purl.org/rss/1.0/modules/content/"),
        ("wfw", "http://wellformedweb.org/CommentAPI/"),
        ("dc", "http://purl.org/dc/elements/1.1/"),
        ("wp", "http://wordpress.org/export/1.2/"),
    ] {
        assert_eq!(rss.attributes[&format!("xmlns:{prefix}")], namespace);
    }
    let channel = rss.one("channel");
    assert_eq!(channel.text_of("wp:wxr_version"), "1.2");
    assert!(channel.text_of("wp:base_site_url").starts_with("http"));
    assert_eq!(channel.text_of("description"), "Moved, not lost");

    let logins: Vec<&str> = channel
        .all("wp:author")
        .map(|a| a.text_of("wp:author_login"))
        .collect();
    assert!(
        logins.contains(&"alice-archer") && logins.contains(&"ada-admin"),
        "{logins:?}"
    );
    let reader = store
        .find_user("octocat@example.org")
        .await
        .unwrap()
        .unwrap();
    assert!(
        !logins.contains(&reader.slug.as_str()),
        "readers who wrote nothing are not authors: {logins:?}"
    );

    let categories: BTreeMap<&str, &str> = channel
        .all("wp:category")
        .map(|c| {
            (
                c.text_of("wp:category_nicename"),
                c.text_of("wp:category_parent"),
            )
        })
        .collect();
    assert_eq!(categories["backups"], "operations");
    assert_eq!(categories["operations"], "");
    assert_eq!(categories["zeta"], "later-parent");
    let order: Vec<&str> = channel
        .all("wp:category")
        .map(|c| c.text_of("wp:category_nicename"))
        .collect();
    let position = |slug: &str| order.iter().position(|s| *s == slug).unwrap();
    assert!(
        position("later-parent") < position("zeta"),
        "parents come first"
    );
    let tags: Vec<&str> = channel
        .all("wp:tag")
        .map(|t| t.text_of("wp:tag_slug"))
        .collect();
    assert!(tags.contains(&"sqlite") && tags.contains(&"postgres"));

    let items: Vec<&Element> = channel.all("item").collect();
    let by_id = |id: i64| {
        items
            .iter()
            .find(|i| i.text_of("wp:post_id") == id.to_string())
            .unwrap_or_else(|| panic!("no item {id}"))
    };
    let all_posts = store.all_posts().await.unwrap();
    assert_eq!(
        items
            .iter()
            .filter(|i| i.text_of("wp:post_type") != "attachment")
            .count(),
        all_posts.len(),
        "one item per post and page (the trashed one too)"
    );
    assert_eq!(by_id(filled.draft_id).text_of("wp:status"), "draft");
    assert_eq!(
        by_id(filled.draft_id).text_of("wp:post_date_gmt"),
        "0000-00-00 00:00:00"
    );
    assert_eq!(by_id(filled.scheduled_id).text_of("wp:status"), "future");
    assert_eq!(by_id(filled.trashed_id).text_of("wp:status"), "trash");
    assert_eq!(by_id(filled.page_id).text_of("wp:post_type"), "page");

    let special = by_id(filled.special_id);
    // WordPress's titles are HTML: a title's own `&` and `<` are escaped.
    assert_eq!(
        special.text_of("title"),
        SPECIAL_TITLE.replace('&', "&amp;").replace('<', "&lt;")
    );
    assert_eq!(special.text_of("wp:status"), "publish");
    assert_eq!(special.text_of("wp:post_type"), "post");
    assert_eq!(special.text_of("wp:post_name"), "gruesse-aus-koeln");
    assert_eq!(special.text_of("wp:post_date_gmt"), "2024-03-05 10:00:00");
    assert_eq!(special.text_of("dc:creator"), "alice-archer");
    assert!(special.text_of("link").ends_with(&filled.special_path));
    let content = special.text_of("content:encoded");
    assert!(
        content.contains("日本語のテキスト") && content.contains("🦀"),
        "{content}"
    );
    assert!(
        content.contains("a]]&gt;b") || content.contains("a]]>b"),
        "{content}"
    );
    assert!(content.contains("again ]]&gt; here") || content.contains("again ]]> here"));
    assert!(content.contains("<p>"), "the rendered HTML: {content}");
    assert!(
        text.contains("]]]]><![CDATA[>"),
        "the title's ]]> is split between two CDATA sections"
    );
    let terms: Vec<(String, String)> = special
        .all("category")
        .map(|c| {
            (
                c.attributes["domain"].clone(),
                c.attributes["nicename"].clone(),
            )
        })
        .collect();
    for expected in [
        ("category", "backups"),
        ("category", "zeta"),
        ("post_tag", "sqlite"),
        ("post_tag", "postgres"),
    ] {
        assert!(
            terms.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "{expected:?} in {terms:?}"
        );
    }

    // The comment thread, with parents, states and who wrote what.
    let comments: BTreeMap<i64, &Element> = special
        .all("wp:comment")
        .map(|c| (c.text_of("wp:comment_id").parse().unwrap(), c))
        .collect();
    let [root, reply, deeper, held, spam, gone, answer] = filled.comment_ids[..] else {
        panic!()
    };
    assert_eq!(comments.len(), 7, "every comment of the post");
    let parent = |id: i64| comments[&id].text_of("wp:comment_parent").to_owned();
    assert_eq!(parent(root), "0");
    assert_eq!(parent(reply), root.to_string());
    assert_eq!(parent(deeper), reply.to_string());
    assert_eq!(parent(answer), gone.to_string());
    let approved = |id: i64| comments[&id].text_of("wp:comment_approved").to_owned();
    assert_eq!(approved(root), "1");
    assert_eq!(approved(held), "0");
    assert_eq!(approved(spam), "spam");
    assert_eq!(approved(gone), "trash");
    assert_eq!(comments[&root].text_of("wp:comment_author"), "The Octocat");
    assert_eq!(
        comments[&root].text_of("wp:comment_author_email"),
        "octocat@example.org"
    );
    assert_ne!(comments[&root].text_of("wp:comment_user_id"), "0");
    assert_eq!(comments[&reply].text_of("wp:comment_user_id"), "0");
    assert!(
        comments[&reply]
            .text_of("wp:comment_content")
            .contains("ünïcödé")
    );

    // The featured image: an attachment item, and the post's _thumbnail_id pointing at it.
    let thumbnail = special
        .all("wp:postmeta")
        .find(|m| m.text_of("wp:meta_key") == "_thumbnail_id")
        .expect("_thumbnail_id")
        .text_of("wp:meta_value")
        .to_owned();
    let attachment = items
        .iter()
        .find(|i| i.text_of("wp:post_id") == thumbnail)
        .expect("the attachment item");
    assert_eq!(attachment.text_of("wp:post_type"), "attachment");
    assert_eq!(
        attachment.text_of("wp:post_parent"),
        filled.special_id.to_string()
    );
    assert!(
        attachment
            .text_of("wp:attachment_url")
            .ends_with("/media/2024/03/cover.png")
    );
    store.close().await.unwrap();

    // `--format wxr` writes WXR whatever the name; `--format json` the other way round.
    let named = dir.path().join("wordpress.export");
    assert_ok(
        &folio(&url, &["export", &path(&named), "--format", "wxr"]).await,
        "--format wxr",
    );
    assert!(
        std::fs::read_to_string(&named)
            .unwrap()
            .starts_with("<?xml")
    );
    let json = dir.path().join("folio.xml");
    assert_ok(
        &folio(&url, &["export", &path(&json), "--format", "json"]).await,
        "--format json",
    );
    assert!(std::fs::read_to_string(&json).unwrap().starts_with('{'));
}

type Snapshot = BTreeMap<String, Vec<Vec<Option<String>>>>;

async fn snapshot(url: &str) -> Snapshot {
    let store = Store::connect(url).await.unwrap();
    let mut tables = Snapshot::new();
    for table in store.data_tables().await.unwrap() {
        if table != "sessions" {
            let rows = store.table_rows(&table).await.unwrap();
            tables.insert(table, rows);
        }
    }
    store.close().await.unwrap();
    tables
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_without_pg_dump_round_trips_through_json() {
    let dir = tempfile::tempdir().unwrap();
    let new_db = fresh().await;
    let url = new_db.url.clone();
    let store = Store::connect(&url).await.unwrap();
    store.migrate_up().await.unwrap();
    let filled = fill(&store).await;
    store.close().await.unwrap();
    // A PATH where no pg_dump can be found.
    let no_tools = tempfile::tempdir().unwrap();
    let file = dir.path().join("site.backup");
    let output = folio_with(&url, &["backup", &path(&file)], Some(no_tools.path())).await;
    assert_ok(&output, "backup");
    let head = std::fs::read(&file).unwrap();
    if postgres_admin_url().is_some() {
        assert!(
            stderr(&output).contains("pg_dump is not on PATH")
                && stderr(&output).contains("JSON export"),
            "the operator is told: {}",
            stderr(&output)
        );
        assert!(head.starts_with(b"{"), "a JSON export");
    } else {
        assert!(
            head.starts_with(b"SQLite format 3"),
            "SQLite backs up without tools"
        );
    }
    let restored_db = fresh().await;
    let restored = restored_db.url.clone();
    let output = folio_with(&restored, &["restore", &path(&file)], Some(no_tools.path())).await;
    assert_ok(&output, "restore");
    assert_eq!(
        snapshot(&restored).await,
        snapshot(&url).await,
        "every row of every table (sessions aside) is back"
    );

    // `folio restore` also takes a JSON export, into either database.
    let export = dir.path().join("site.json");
    assert_ok(&folio(&url, &["export", &path(&export)]).await, "export");
    let into_sqlite = sqlite_url(&dir, "from-json.db");
    assert_ok(
        &folio(&into_sqlite, &["restore", &path(&export)]).await,
        "restore of a JSON export",
    );
    let (site, _stop) = serve(&into_sqlite).await;
    let thread = main_of(&site, &filled.special_path).await;
    assert!(thread.contains("Deeper still.") && thread.contains("日本語のテキスト"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_taken_while_readers_write_is_one_consistent_snapshot() {
    let source = fresh().await;
    let store = Store::connect(&source.url).await.unwrap();
    store.migrate_up().await.unwrap();
    let filled = fill(&store).await;
    // Replies pile onto replies while the export runs: a copy that saw a reply without its
    // parent (or a comment without its post) would not import.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (store, stop) = (store.clone(), stop.clone());
        let mut parent = filled.comment_ids[2];
        let post_id = filled.special_id;
        tokio::spawn(async move {
            let mut written = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                parent = comment(
                    &store,
                    post_id,
                    Some(parent),
                    None,
                    "Busy Reader",
                    &format!("Reply {written} during the export"),
                    CommentStatus::Approved,
                )
                .await;
                written += 1;
            }
            written
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("busy.json");
    let output = folio(&source.url, &["export", &path(&file)]).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.await.unwrap();
    assert_ok(&output, "export while writing");
    assert!(written > 1, "writes went on during the export");
    let target = fresh().await;
    assert_ok(
        &folio(&target.url, &["import", &path(&file)]).await,
        "import of the export taken while writing",
    );
    let exported = rows(&read_json(&file), "comments").len();
    let live = store.table_rows("comments").await.unwrap().len();
    assert!(
        exported < live,
        "the export is a snapshot: {exported} of {live}"
    );
    store.close().await.unwrap();
}
