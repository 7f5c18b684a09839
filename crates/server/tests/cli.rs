//! The `folio` binary as an operator runs it: exit codes, one-line errors, the effect on the site.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::fresh_database;

fn folio(database_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_folio"))
        .args(args)
        .env("FOLIO__DATABASE__URL", database_url)
        .env("FOLIO__LOG__LEVEL", "warn")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[tokio::test]
async fn post_new_from_toml_and_yaml_front_matter_then_list() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _pg) = fresh_database(&dir).await;
    let toml = write(
        dir.path(),
        "hello.md",
        "+++\ntitle = \"Hello, World\"\ndate = 2024-05-01T09:00:00Z\ncategories = [\"News\"]\ntags = [\"first\"]\n+++\n\nMy **first** post.\n",
    );
    let created = folio(&url, &["post", "new", "--file", &toml]);
    assert!(created.status.success(), "{}", stderr(&created));
    assert!(
        stdout(&created).contains("/2024/05/01/hello-world/"),
        "{}",
        stdout(&created)
    );

    let yaml = write(
        dir.path(),
        "about.md",
        "---\ntitle: About\ntype: page\nstatus: published\n---\nWho we are.\n",
    );
    let page = folio(&url, &["post", "new", "--file", &yaml]);
    assert!(page.status.success(), "{}", stderr(&page));

    let list = folio(&url, &["post", "list"]);
    assert!(list.status.success());
    let listed = stdout(&list);
    assert!(
        listed.contains("Hello, World") && listed.contains("/about/"),
        "{listed}"
    );

    let store = folio_storage::Store::connect(&url).await.unwrap();
    let post = store
        .published_post("hello-world")
        .await
        .unwrap()
        .expect("post exists");
    assert!(post.summary.html.contains("<strong>first</strong>"));
    assert_eq!(post.summary.categories[0].name, "News");
    assert_eq!(
        post.summary.author.role,
        folio_domain::Role::Admin,
        "first post gets a first admin"
    );
}

#[tokio::test]
async fn post_new_refuses_bad_files_with_a_clear_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _pg) = fresh_database(&dir).await;
    let cases = [
        (
            "nodate.md",
            "---\ntitle: X\ndate: next tuesday\n---\nx\n",
            "RFC 3339",
        ),
        ("noheader.md", "Just text\n", "front-matter header"),
        ("notitle.md", "+++\ntags = [\"a\"]\n+++\nx\n", "title"),
        (
            "unknown.md",
            "+++\ntitle = \"x\"\ncolour = \"red\"\n+++\nx\n",
            "colour",
        ),
    ];
    for (name, text, expected) in cases {
        let path = write(dir.path(), name, text);
        let output = folio(&url, &["post", "new", "--file", &path]);
        assert!(!output.status.success(), "{name} accepted");
        let message = stderr(&output);
        assert!(message.contains(expected), "{name}: {message}");
        assert_eq!(message.trim().lines().count(), 1, "one line: {message}");
    }
    let first = write(
        dir.path(),
        "a.md",
        "+++\ntitle = \"Same\"\nslug = \"same\"\n+++\nx\n",
    );
    assert!(
        folio(&url, &["post", "new", "--file", &first])
            .status
            .success()
    );
    let again = folio(&url, &["post", "new", "--file", &first]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("slug \"same\" already exists"),
        "{}",
        stderr(&again)
    );
    let missing = folio(&url, &["post", "new", "--file", "/nonexistent/post.md"]);
    assert!(!missing.status.success() && stderr(&missing).contains("cannot read"));
}

#[tokio::test]
async fn post_new_twice_refuses_and_post_update_edits_keeping_a_revision() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _pg) = fresh_database(&dir).await;
    let file = write(
        dir.path(),
        "hello.md",
        "+++\ntitle = \"Hello, World\"\ntags = [\"first\"]\n+++\n\nFirst draft.\n",
    );
    let created = folio(&url, &["post", "new", "--file", &file]);
    assert!(created.status.success(), "{}", stderr(&created));

    // The same file again: no `hello-world-2` copy, and the way to do what was meant.
    let again = folio(&url, &["post", "new", "--file", &file]);
    assert!(!again.status.success());
    let message = stderr(&again);
    assert_eq!(message.trim().lines().count(), 1, "one line: {message}");
    assert!(
        message.contains("slug \"hello-world\" already exists")
            && message.contains(&format!("folio post update --file {file}")),
        "{message}"
    );

    std::fs::write(
        &file,
        "+++\ntitle = \"Hello, World\"\ntags = [\"second\"]\n+++\n\nSecond **draft**.\n",
    )
    .unwrap();
    let updated = folio(&url, &["post", "update", "--file", &file]);
    assert!(updated.status.success(), "{}", stderr(&updated));
    assert!(
        stdout(&updated).contains("/hello-world/"),
        "{}",
        stdout(&updated)
    );

    let store = folio_storage::Store::connect(&url).await.unwrap();
    let rows = store.all_posts().await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let post = store.published_post("hello-world").await.unwrap().unwrap();
    assert!(post.summary.html.contains("<strong>draft</strong>"));
    assert_eq!(post.summary.tags[0].name, "second");
    let revisions = store.revisions(post.summary.id).await.unwrap();
    assert!(
        revisions
            .iter()
            .any(|r| r.source.contains("Second **draft**")),
        "the update is a revision"
    );
    assert!(
        revisions.iter().any(|r| r.source.contains("First draft.")),
        "the text it replaced is kept"
    );

    // Updating a post that is not there says how to add it.
    let other = write(dir.path(), "other.md", "+++\ntitle = \"Other\"\n+++\nx\n");
    let missing = folio(&url, &["post", "update", "--file", &other]);
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("folio post new --file"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn config_errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "c.toml", "[site]\ntitel = \"typo\"\n");
    let output = Command::new(env!("CARGO_BIN_EXE_folio"))
        .args(["--config", &file, "config", "check"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("titel"), "{}", stderr(&output));
    // The contract's order, `folio serve --config FILE`, fails the same way before serving.
    let output = Command::new(env!("CARGO_BIN_EXE_folio"))
        .args(["serve", "--config", &file])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("titel"), "{}", stderr(&output));

    // A good file is layered under the environment: the file sets the title, the
    // environment wins for the tagline.
    let good = write(
        dir.path(),
        "good.toml",
        "[site]\ntitle = \"From File\"\ntagline = \"file\"\n",
    );
    let output = Command::new(env!("CARGO_BIN_EXE_folio"))
        .args(["config", "check", "--config", &good])
        .env("FOLIO__SITE__TAGLINE", "from env")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("title = \"From File\""),
        "{}",
        stdout(&output)
    );
    assert!(
        stdout(&output).contains("tagline = \"from env\""),
        "{}",
        stdout(&output)
    );

    let output = Command::new(env!("CARGO_BIN_EXE_folio"))
        .args(["config", "check"])
        .env("FOLIO__SITE__POSTS_PER_PAGE", "0")
        .output()
        .unwrap();
    assert!(
        stderr(&output).contains("site.posts_per_page"),
        "{}",
        stderr(&output)
    );

    let output = Command::new(env!("CARGO_BIN_EXE_folio"))
        .args(["config", "check"])
        .env(
            "FOLIO__DATABASE__URL",
            "postgres://folio:hunter2@127.0.0.1/folio",
        )
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(stdout(&output).contains("postgres://folio:***@127.0.0.1/folio"));
    assert!(!stdout(&output).contains("hunter2"));
}

#[test]
fn unusable_database_stops_the_start_with_a_reason() {
    let output = folio("mysql://nowhere/db", &["serve"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("database.url"),
        "{}",
        stderr(&output)
    );

    let output = folio("postgres://postgres@127.0.0.1:1/none", &["migrate"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("cannot open the database"),
        "{}",
        stderr(&output)
    );

    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file-not-dir");
    std::fs::write(&blocker, "").unwrap();
    let output = folio(
        &format!("sqlite://{}/sub/folio.db", blocker.display()),
        &["serve"],
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("data directory"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn migrate_status_lists_applied_migrations() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _pg) = fresh_database(&dir).await;
    assert!(folio(&url, &["migrate"]).status.success());
    let status = folio(&url, &["migrate", "status"]);
    assert!(
        stdout(&status).contains("applied  m20261126_000001_blog_schema"),
        "{}",
        stdout(&status)
    );
    let down = folio(&url, &["migrate", "down"]);
    assert!(down.status.success(), "{}", stderr(&down));
    let status = folio(&url, &["migrate", "status"]);
    let lines: Vec<String> = stdout(&status).lines().map(str::to_owned).collect();
    let (newest, older) = lines.split_last().expect("migrations listed");
    assert!(
        newest.starts_with("pending ") && older.iter().all(|l| l.starts_with("applied ")),
        "rolling back undoes the newest migration only: {}",
        stdout(&status)
    );
    assert!(
        folio(&url, &["migrate", "up"]).status.success(),
        "the schema comes back after a rollback"
    );
}

#[test]
fn serve_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut child = Command::new(env!("CARGO_BIN_EXE_folio"))
        .arg("serve")
        .env(
            "FOLIO__DATABASE__URL",
            format!("sqlite://{}/data/folio.db", dir.path().display()),
        )
        .env("FOLIO__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("FOLIO__LOG__LEVEL", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Generous: CI runs this beside every other test binary on two cores.
    let mut up = false;
    for _ in 0..600 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(up, "server did not start");
    assert!(
        dir.path().join("data/folio.db").exists(),
        "database created on first start"
    );
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut exited = None;
    for _ in 0..300 {
        if let Some(status) = child.try_wait().unwrap() {
            exited = Some(status);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let status = exited.unwrap_or_else(|| {
        let _ = child.kill();
        panic!("server ignored SIGTERM")
    });
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn changing_only_the_port_moves_the_links_too() {
    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let database = format!("sqlite://{}/data/folio.db", dir.path().display());
    let bind = format!("127.0.0.1:{port}");
    let expected = format!("http://127.0.0.1:{port}");

    let check = Command::new(env!("CARGO_BIN_EXE_folio"))
        .args(["config", "check"])
        .env("FOLIO__DATABASE__URL", &database)
        .env("FOLIO__SERVER__BIND", &bind)
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", stderr(&check));
    assert!(
        stdout(&check).contains(&format!("base_url = \"{expected}\"")),
        "{}",
        stdout(&check)
    );

    let mut child = Command::new(env!("CARGO_BIN_EXE_folio"))
        .arg("serve")
        .env("FOLIO__DATABASE__URL", &database)
        .env("FOLIO__SERVER__BIND", &bind)
        .env("FOLIO__LOG__LEVEL", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut home = None;
    for _ in 0..600 {
        if let Ok(response) = reqwest::get(format!("{expected}/")).await {
            home = Some(response.text().await.unwrap());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let home = home.expect("server did not start");
    assert!(
        home.contains(&format!("<link rel=\"canonical\" href=\"{expected}/")),
        "{home}"
    );
    assert!(
        home.contains(&format!("href=\"{expected}/feed/\"")),
        "{home}"
    );
    assert!(!home.contains(":8080"), "{home}");
}

#[tokio::test]
async fn routine_commands_do_not_print_migration_logs() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _pg) = fresh_database(&dir).await;
    let file = write(dir.path(), "a.md", "+++\ntitle = \"A\"\n+++\nx\n");
    for args in [
        vec!["post", "list"],
        vec!["post", "new", "--file", file.as_str()],
        vec!["user", "list"],
        vec!["config", "check"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_folio"))
            .args(&args)
            .env("FOLIO__DATABASE__URL", &url)
            .env("FOLIO__LOG__LEVEL", "info")
            .output()
            .unwrap();
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        let printed = format!("{}{}", stdout(&output), stderr(&output));
        assert!(
            !printed.contains("sea_orm_migration") && !printed.contains("Applying"),
            "{args:?}: {printed}"
        );
    }
}

#[tokio::test]
async fn demo_fills_an_empty_site_and_leaves_a_used_one_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _pg) = fresh_database(&dir).await;
    let filled = folio(&url, &["demo", "--posts", "12", "--comments", "40"]);
    assert!(filled.status.success(), "{}", stderr(&filled));
    let summary = stdout(&filled);
    assert!(
        summary.starts_with("Sample content added: 12 posts and pages, 40 comments.")
            && summary.contains("/search?q=")
            && summary.contains("folio serve")
            && !summary.contains('{'),
        "a summary for people: {summary}"
    );
    let more = folio(
        &url,
        &[
            "demo",
            "--posts",
            "1",
            "--comments",
            "0",
            "--append",
            "--json",
        ],
    );
    assert!(more.status.success(), "{}", stderr(&more));
    assert!(stdout(&more).contains("\"posts\":1"), "{}", stdout(&more));
    let store = folio_storage::Store::connect(&url).await.unwrap();
    assert_eq!(store.count_published_posts().await.unwrap(), 13);
    let again = folio(&url, &["demo"]);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("already has"), "{}", stderr(&again));
    assert_eq!(
        store.count_published_posts().await.unwrap(),
        13,
        "nothing added"
    );
}

#[tokio::test]
async fn session_for_prints_a_cookie_that_signs_the_user_in() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _pg) = fresh_database(&dir).await;
    let store = folio_storage::Store::connect(&url).await.unwrap();
    store.migrate_up().await.unwrap();
    let admin = store
        .create_user(folio_storage::NewUser {
            display_name: "Clara".to_owned(),
            slug: None,
            email: Some("clara@example.org".to_owned()),
            avatar_url: None,
            bio: String::new(),
            role: folio_domain::Role::Admin,
        })
        .await
        .unwrap();
    let output = folio(&url, &["session-for", "clara@example.org"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let cookie = stdout(&output).trim().to_owned();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let session = store
        .load_session(&cookie, now)
        .await
        .unwrap()
        .expect("a session");
    let data: serde_json::Value = serde_json::from_str(&session.data).unwrap();
    assert_eq!(data["user_id"], admin.id, "{}", session.data);
    // Hidden from the help; an unknown user is a clear error.
    assert!(!stdout(&folio(&url, &["--help"])).contains("session-for"));
    let unknown = folio(&url, &["session-for", "nobody@example.org"]);
    assert!(!unknown.status.success());
    assert!(stderr(&unknown).contains("no user"), "{}", stderr(&unknown));
}
