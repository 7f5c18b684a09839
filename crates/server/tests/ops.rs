//! Operating a site: `folio backup` while it serves, `folio restore` into a fresh database,
//! and what restore refuses. Runs on SQLite, and on PostgreSQL with FOLIO_TEST_POSTGRES_URL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::{TestApp, at, base_settings, fresh_database};
use folio_domain::CommentStatus;
use folio_server::App;
use folio_storage::Store;

type Snapshot = BTreeMap<String, Vec<Vec<Option<String>>>>;

/// Runs the real `folio` binary, off the async threads so the site keeps serving meanwhile.
async fn folio(database_url: &str, args: &[&str]) -> Output {
    let url = database_url.to_owned();
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_folio"))
            .args(&args)
            .env("FOLIO__DATABASE__URL", &url)
            .env("FOLIO__LOG__LEVEL", "warn")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// Every row of every table, as text.
async fn snapshot(url: &str) -> Snapshot {
    let store = Store::connect(url).await.unwrap();
    let mut tables = Snapshot::new();
    for table in store.data_tables().await.unwrap() {
        let rows = store.table_rows(&table).await.unwrap();
        tables.insert(table, rows);
    }
    store.close().await.unwrap();
    tables
}

/// Where each column sits in a snapshot's rows, as `table.column`.
async fn column_indexes(url: &str) -> std::collections::HashMap<String, usize> {
    let store = Store::connect(url).await.unwrap();
    let mut indexes = std::collections::HashMap::new();
    for table in ["posts", "comments"] {
        for (i, column) in store
            .table_columns(table)
            .await
            .unwrap()
            .into_iter()
            .enumerate()
        {
            indexes.insert(format!("{table}.{column}"), i);
        }
    }
    store.close().await.unwrap();
    indexes
}

/// A second server on an existing database (already migrated), for comparing sites.
async fn serve(url: &str) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut settings = base_settings(url);
    settings.site.base_url = format!("http://127.0.0.1:{port}");
    let store = Store::connect(url).await.unwrap();
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
async fn main_of(client: &reqwest::Client, base: &str, page: &str) -> String {
    let response = client.get(format!("{base}{page}")).send().await.unwrap();
    assert_eq!(response.status(), 200, "GET {base}{page}");
    let html = response.text().await.unwrap();
    let start = html.find("<main").expect("page has <main>");
    let end = html.find("</main>").expect("page has </main>");
    html[start..end].replace(base, "SITE")
}

/// A small site: two authors, posts with categories and tags, threaded comments in every
/// status, and a reader who signed in with GitHub, likes things and has a session.
/// Returns the posts' ids and paths.
async fn fill(app: &TestApp) -> Vec<(i64, String)> {
    let alice = app.author("Alice Archer").await;
    let bob = app.author("Bob Baker").await;
    let reader = app
        .store
        .sign_in(&folio_domain::Identity {
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
    app.store
        .create_session(
            "session-id-for-the-backup-test",
            Some(reader.id),
            folio_storage::StoredSession {
                data: "{\"csrf\":\"x\"}".to_owned(),
                expires_at: 4_102_444_800,
            },
        )
        .await
        .unwrap();
    let mut paths = Vec::new();
    for (i, author) in [&alice, &bob, &alice].into_iter().enumerate() {
        let post = app
            .post_in(
                author,
                &format!("Backup matters, part {i}"),
                &format!("Part {i}: **copies** you have *tested* are the only copies.\n\n| a | b |\n|---|---|\n| 1 | 2 |"),
                at(2024, 3, 1 + i as u8),
                &["Operations > Backups"],
                &["sqlite", "postgres"],
            )
            .await;
        let root = app
            .comment(
                post.summary.id,
                None,
                "Carol",
                "First!",
                CommentStatus::Approved,
            )
            .await;
        let reply = app
            .comment(
                post.summary.id,
                Some(root),
                "Dave",
                "A reply, with <em>markup</em>.",
                CommentStatus::Approved,
            )
            .await;
        app.comment(
            post.summary.id,
            Some(reply),
            "Erin",
            "Deeper still.",
            CommentStatus::Approved,
        )
        .await;
        app.store
            .toggle_post_like(post.summary.id, reader.id)
            .await
            .unwrap();
        app.store
            .toggle_comment_like(reply, reader.id)
            .await
            .unwrap();
        app.comment(
            post.summary.id,
            None,
            "Mallory",
            "Buy pills",
            CommentStatus::Spam,
        )
        .await;
        app.comment(
            post.summary.id,
            None,
            "Frank",
            "Held for moderation",
            CommentStatus::Pending,
        )
        .await;
        paths.push((post.summary.id, post.summary.path()));
    }
    paths
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_while_serving_then_restore_gives_the_same_site() {
    let app = TestApp::spawn().await;
    let posts = fill(&app).await;
    app.settle().await;
    let dir = tempfile::tempdir().unwrap();

    // Readers and a writer keep going while the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicUsize::new(0));
    let busy = {
        let (stop, written) = (stop.clone(), written.clone());
        let (store, client, base) = (app.store.clone(), app.client.clone(), app.address.clone());
        let (post_id, post_path) = posts[0].clone();
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let n = written.fetch_add(1, Ordering::Relaxed);
                store
                    .create_comment(folio_storage::NewComment {
                        post_id,
                        parent_id: None,
                        author_id: None,
                        author_name: format!("Reader {n}"),
                        author_url: None,
                        source: format!("Comment {n} while the backup runs"),
                        status: CommentStatus::Approved,
                        created_at: None,
                        author_ip: Some("203.0.113.7".to_owned()),
                    })
                    .await
                    .unwrap();
                let response = client
                    .get(format!("{base}{post_path}"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200, "the site kept serving");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let during = dir.path().join("during.backup");
    let output = folio(&app.database_url, &["backup", &path(&during)]).await;
    assert!(
        output.status.success(),
        "backup failed: {}",
        stderr(&output)
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.store(true, Ordering::Relaxed);
    busy.await.unwrap();
    assert!(
        written.load(Ordering::Relaxed) > 1,
        "writes went on during the backup"
    );
    // No leftovers beside the backup.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["during.backup".to_owned()]);

    // The copy taken during the writes is consistent: restored, every row it has is a row of
    // the live site, and everything written before it started is there.
    let during_dir = tempfile::tempdir().unwrap();
    let (during_url, _during_db) = fresh_database(&during_dir).await;
    let output = folio(&during_url, &["restore", &path(&during)]).await;
    assert!(
        output.status.success(),
        "restore failed: {}",
        stderr(&output)
    );
    let mut live = snapshot(&app.database_url).await;
    let mut restored = snapshot(&during_url).await;
    assert_eq!(
        restored.keys().collect::<Vec<_>>(),
        live.keys().collect::<Vec<_>>()
    );
    // A post's comment counter moves with every comment written since: in the copy it must
    // count the comments the copy holds; the rest of the post is compared as it is.
    let columns = column_indexes(&during_url).await;
    let (post_id, count) = (columns["posts.id"], columns["posts.comment_count"]);
    let threads = columns["posts.thread_count"];
    for post in &restored["posts"] {
        let conversations = restored["comments"]
            .iter()
            .filter(|c| {
                c[columns["comments.post_id"]] == post[post_id]
                    && matches!(
                        c[columns["comments.thread_top"]].as_deref(),
                        Some("1" | "true")
                    )
            })
            .count();
        assert_eq!(
            post[threads].as_deref(),
            Some(conversations.to_string().as_str()),
            "post {:?} counts the conversations the copy holds",
            post[post_id]
        );
        let counted = restored["comments"]
            .iter()
            .filter(|c| {
                c[columns["comments.post_id"]] == post[post_id]
                    && c[columns["comments.status"]].as_deref() == Some("approved")
                    && c[columns["comments.deleted_at"]].is_none()
            })
            .count();
        assert_eq!(
            post[count].as_deref(),
            Some(counted.to_string().as_str()),
            "post {:?} counts the comments the copy holds",
            post[post_id]
        );
    }
    for rows in [&mut live, &mut restored] {
        for post in rows.get_mut("posts").unwrap() {
            post[count] = None;
            post[threads] = None;
        }
    }
    for (table, rows) in &restored {
        for row in rows {
            assert!(
                live[table].contains(row),
                "{table}: {row:?} is not in the live site"
            );
        }
    }
    assert_eq!(restored["posts"], live["posts"]);
    assert_eq!(restored["users"], live["users"]);
    assert!(
        restored["comments"].len() >= 15,
        "comments before the backup are there"
    );

    // A backup of the quiet site, restored into a database a first start had already
    // migrated, is the same site row for row, and serves the same pages.
    let after = dir.path().join("after.backup");
    let output = folio(&app.database_url, &["backup", &path(&after)]).await;
    assert!(
        output.status.success(),
        "backup failed: {}",
        stderr(&output)
    );
    let target_dir = tempfile::tempdir().unwrap();
    let (target_url, _target_db) = fresh_database(&target_dir).await;
    let output = folio(&target_url, &["migrate", "up"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let output = folio(&target_url, &["restore", &path(&after)]).await;
    assert!(
        output.status.success(),
        "restore failed: {}",
        stderr(&output)
    );
    let live = snapshot(&app.database_url).await;
    let restored = snapshot(&target_url).await;
    assert_eq!(restored, live, "every row of every table is restored");
    for table in [
        "posts",
        "comments",
        "users",
        "terms",
        "post_terms",
        "identities",
        "sessions",
        "post_likes",
        "comment_likes",
    ] {
        assert!(!restored[table].is_empty(), "{table} has rows");
    }

    let (restored_site, _stop) = serve(&target_url).await;
    for page in posts.iter().map(|(_, p)| p.as_str()).chain([
        "/",
        "/category/operations/backups/",
        "/tag/sqlite/",
    ]) {
        assert_eq!(
            main_of(&app.client, &restored_site, page).await,
            main_of(&app.client, &app.address, page).await,
            "{page} reads the same on the restored site"
        );
    }
    let post = main_of(&app.client, &restored_site, &posts[0].1).await;
    assert!(post.contains("Deeper still.") && post.contains("while the backup runs"));
    assert!(
        !post.contains("Buy pills"),
        "spam stays hidden after a restore"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_into_a_site_with_content_is_refused_and_changes_nothing() {
    let source = TestApp::spawn().await;
    fill(&source).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("source.backup");
    let output = folio(&source.database_url, &["backup", &path(&file)]).await;
    assert!(output.status.success(), "{}", stderr(&output));

    let target = TestApp::spawn().await;
    let author = target.author("Zed Zephyr").await;
    let post = target
        .post(
            &author,
            "Already here",
            "This site has a post.",
            at(2025, 1, 2),
        )
        .await;
    target
        .comment(
            post.summary.id,
            None,
            "Yan",
            "And a comment.",
            CommentStatus::Approved,
        )
        .await;
    let before = snapshot(&target.database_url).await;
    let page_before = target.main_of(&post.summary.path()).await;

    let output = folio(&target.database_url, &["restore", &path(&file)]).await;
    assert!(
        !output.status.success(),
        "restore into a used site was accepted"
    );
    let message = stderr(&output);
    assert_eq!(message.trim().lines().count(), 1, "one line: {message}");
    assert!(
        message.contains("not empty") && message.contains("rows"),
        "{message}"
    );
    assert_eq!(
        snapshot(&target.database_url).await,
        before,
        "nothing changed"
    );
    assert_eq!(target.main_of(&post.summary.path()).await, page_before);

    // A backup is never overwritten, and a file that is not a backup is not restored.
    let again = folio(&source.database_url, &["backup", &path(&file)]).await;
    assert!(
        !again.status.success() && stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    let junk = dir.path().join("junk.backup");
    std::fs::write(&junk, "not a backup at all").unwrap();
    let empty_dir = tempfile::tempdir().unwrap();
    let (empty_url, _empty_db) = fresh_database(&empty_dir).await;
    let output = folio(&empty_url, &["restore", &path(&junk)]).await;
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("not a Folio backup"),
        "{}",
        stderr(&output)
    );
    let missing = folio(&empty_url, &["restore", &path(&dir.path().join("nope"))]).await;
    assert!(
        !missing.status.success() && stderr(&missing).contains("cannot read"),
        "{}",
        stderr(&missing)
    );
}
