//! Scale-out: two real `folio serve` processes on one PostgreSQL database, each with its
//! page cache, scheduler and mail worker, sharing one configuration file (one `base_url`, one
//! sign-in provider). A reader signs in on one and comments through the other; limits,
//! sign-out, scheduled publishing and the outbox hold across both.
//!
//! PostgreSQL only (FOLIO_TEST_POSTGRES_URL): SQLite is one file for one process
//! (docs/operations.md), so the SQLite pass says so and skips.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::smtp::Smtp;
use common::{Idp, Reader, comment_html, fresh_database, location, postgres_admin_url};
use folio_storage::Store;
use folio_testkit::OidcServer;

/// Long enough for a loaded 2-core machine; every wait polls and ends as soon as it can.
const PATIENCE: Duration = Duration::from_secs(30);
/// How often each process looks for content changed by the other (`cache.poll_milliseconds`).
const CACHE_POLL_MS: u64 = 200;
/// How often an idle mail worker looks at the outbox (`mail.poll_milliseconds`).
const MAIL_POLL_MS: u64 = 100;
const PER_USER_PER_MINUTE: usize = 3;
const SUBSCRIBERS: usize = 200;

// ---------------------------------------------------------------------------------------
// Two `folio serve` processes

/// A `folio serve` process; killed when dropped.
struct Process {
    child: Child,
    address: String,
    log: PathBuf,
}

impl Process {
    /// Starts `folio --config CONFIG serve` on `port` and waits until `/readyz` answers.
    async fn start(config: &Path, port: u16, log: PathBuf) -> Process {
        let log_file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_folio"))
            .arg("--config")
            .arg(config)
            .arg("serve")
            .env("FOLIO__SERVER__BIND", format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap();
        let mut process = Process {
            child,
            address: format!("http://127.0.0.1:{port}"),
            log,
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = process.child.try_wait().unwrap() {
                panic!(
                    "folio serve on port {port} exited ({status}):\n{}",
                    process.log_text()
                );
            }
            let ready = client
                .get(format!("{}/readyz", process.address))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if ready {
                return process;
            }
            assert!(
                Instant::now() < deadline,
                "folio serve on port {port} not ready within 60 s:\n{}",
                process.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Emails this process's worker handed to the SMTP server (its debug log says so).
    fn emails_sent(&self) -> usize {
        self.log_text().matches("email sent").count()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One configuration file for every process, as an operator gives them.
fn shared_config(database_url: &str, base_url: &str, smtp_port: u16, issuer: &str) -> String {
    format!(
        r#"
[site]
title = "Scale-out Blog"
base_url = "{base_url}"

[database]
url = "{database_url}"

[comments]
moderation = "off"
per_user_per_minute = {PER_USER_PER_MINUTE}
per_address_per_minute = 0

[cache]
poll_milliseconds = {CACHE_POLL_MS}

[mail]
transport = "smtp"
smtp_url = "smtp://127.0.0.1:{smtp_port}"
poll_milliseconds = {MAIL_POLL_MS}
# Small batches, so that both workers take part in a big send.
batch_size = 10
timeout_seconds = 10

[log]
level = "warn,folio_notification=debug"

[auth.providers.corp]
kind = "oidc"
label = "Corp"
issuer = "{issuer}"
client_id = "folio-test"
client_secret = "folio-test-secret"
"#
    )
}

/// Runs the `folio` binary with the shared configuration; its stdout.
async fn folio(config: &Path, args: &[&str]) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_folio"));
    command.arg("--config").arg(config).args(args);
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "folio {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

// ---------------------------------------------------------------------------------------
// Readers

/// The same browser (cookie jar) pointed at the other process: cookies belong to the host,
/// not the port, so one sign-in cookie reaches both, as behind one address.
fn same_browser_on(reader: &Reader, process: &Process) -> Reader {
    Reader {
        client: reader.client.clone(),
        jar: reader.jar.clone(),
        base: process.address.clone(),
    }
}

fn new_browser_on(process: &Process) -> Reader {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    Reader {
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_provider(jar.clone())
            .timeout(PATIENCE)
            .build()
            .unwrap(),
        jar,
        base: process.address.clone(),
    }
}

/// A page as a reader without a session gets it: from the process's page cache.
async fn anonymous_page(process: &Process, path: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .get(process.url(path))
        .timeout(PATIENCE)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Polls until `check` holds; panics with `what` (and the last value) at the deadline.
async fn eventually<T: std::fmt::Debug, F: Future<Output = T>>(
    what: &str,
    mut probe: impl FnMut() -> F,
    check: impl Fn(&T) -> bool,
) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let value = probe().await;
        if check(&value) {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}; last seen: {value:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the outbox has `expected` rows sent and none left to send, then a while
/// longer than both workers need to look again, so that a second copy would have come.
async fn outbox_drained(store: &Store, expected: u64) {
    eventually(
        &format!("the outbox never had {expected} emails sent and none pending"),
        || async { store.outbox_counts().await.unwrap() },
        |counts| counts.sent >= expected && counts.pending == 0,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(10 * MAIL_POLL_MS)).await;
}

async fn signed_in_as(reader: &Reader, post_path: &str, name: &str) -> bool {
    reader
        .page(post_path)
        .await
        .contains(&format!("Logged in as <a href=\"/account\">{name}</a>"))
}

// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_processes_share_sessions_limits_schedule_and_outbox() {
    if postgres_admin_url().is_none() {
        println!(
            "skipped: two `folio serve` processes need PostgreSQL (SQLite is one file for one \
             process, docs/operations.md); set FOLIO_TEST_POSTGRES_URL to run this test"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (database_url, _database) = fresh_database(&dir).await;
    let smtp = Smtp::start();
    let oidc = OidcServer::start().await;
    oidc.put_user("alice", "alice@example.org", true, "Alice Liddell")
        .await;
    oidc.put_user("bob", "bob@example.org", true, "Bob Marley")
        .await;
    oidc.put_user("carol", "carol@example.org", true, "Carol Danvers")
        .await;

    // Readers reach the site at one address; here that is A's, and B answers the same.
    let (port_a, port_b) = (free_port(), free_port());
    let base_url = format!("http://127.0.0.1:{port_a}");
    let config = dir.path().join("folio.toml");
    std::fs::write(
        &config,
        shared_config(&database_url, &base_url, smtp.port, &oidc.issuer()),
    )
    .unwrap();
    // Both start at once on the empty database, each migrating it on start: one applies
    // the migrations, the other waits its turn and finds nothing left to do.
    let (a, b) = tokio::join!(
        Process::start(&config, port_a, dir.path().join("a.log")),
        Process::start(&config, port_b, dir.path().join("b.log")),
    );
    let store = Store::connect(&database_url).await.unwrap();

    let post_file = dir.path().join("post.md");
    std::fs::write(
        &post_file,
        "+++\ntitle = \"Two Doors\"\nslug = \"two-doors\"\ndate = 2026-01-15T09:00:00Z\nstatus = \"published\"\n+++\n\nOne house, two doors.\n",
    )
    .unwrap();
    let created = folio(
        &config,
        &["post", "new", "--file", &post_file.display().to_string()],
    )
    .await;
    let post_id: i64 = created.split('\t').next().unwrap().parse().unwrap();
    let post_path = "/2026/01/15/two-doors/";
    // Both caches hold the page before anyone comments, so what follows must come through
    // the content version, not a first render.
    for process in [&a, &b] {
        let (status, page) = anonymous_page(process, post_path).await;
        assert_eq!(status, 200);
        assert!(page.contains("One house, two doors."), "{page}");
        assert!(!page.contains("id=\"comment-"), "no comments yet: {page}");
    }

    // 1. Alice signs in through A (the whole OpenID Connect flow); B knows her.
    let alice_on_a = new_browser_on(&a);
    let landed = alice_on_a
        .sign_in(Idp::Oidc(&oidc), "corp", "alice", post_path)
        .await;
    assert_eq!(landed, post_path);
    assert!(signed_in_as(&alice_on_a, post_path, "Alice Liddell").await);
    let alice_on_b = same_browser_on(&alice_on_a, &b);
    assert!(
        signed_in_as(&alice_on_b, post_path, "Alice Liddell").await,
        "B does not know A's sign-in"
    );

    // 2. She comments through B with the form token A gave her.
    let token_from_a = alice_on_a.csrf(post_path).await;
    let post_id_text = post_id.to_string();
    let response = alice_on_b
        .post_form(
            "/comments",
            &[
                ("comment", "Which door is the front one?"),
                ("comment_post_ID", &post_id_text),
                ("comment_parent", "0"),
                ("_csrf", &token_from_a),
                ("url", ""),
            ],
        )
        .await;
    let status = response.status();
    assert_eq!(
        status,
        303,
        "B refused A's token: {}",
        response.text().await.unwrap()
    );
    let question = common::comment_id_of(&location(&response));

    // Bob signs in on B. The provider sends him to the one address; the proxy hands that
    // request to B.
    let bob_on_b = new_browser_on(&b);
    let authorize = bob_on_b.start_sign_in("corp", post_path).await;
    let back = Idp::Oidc(&oidc).authorize(&authorize, "bob").await;
    let back_to_b = back.replacen(&base_url, &b.address, 1);
    let response = bob_on_b.callback(&back_to_b).await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    assert!(signed_in_as(&bob_on_b, post_path, "Bob Marley").await);
    // ... and replies through A.
    let bob_on_a = same_browser_on(&bob_on_b, &a);
    let answer = bob_on_a
        .comment_ok(post_path, post_id, Some(question), "The one with the bell.")
        .await;

    for process in [&a, &b] {
        eventually(
            &format!(
                "{} never showed both comments to anonymous readers",
                process.address
            ),
            || anonymous_page(process, post_path),
            |(_, page)| {
                comment_html(page, question).is_some_and(|c| c.contains("Which door"))
                    && comment_html(page, answer).is_some_and(|c| c.contains("with the bell"))
            },
        )
        .await;
    }

    // Both workers run; Alice hears of Bob's reply once.
    eventually(
        "Alice was not told of Bob's reply",
        || async { smtp.to("alice@example.org").len() },
        |n| *n >= 1,
    )
    .await;
    outbox_drained(&store, 1).await;
    let to_alice = smtp.to("alice@example.org");
    assert_eq!(to_alice.len(), 1, "Alice was told twice");
    assert!(
        to_alice[0].subject().contains("Bob Marley replied"),
        "{}",
        to_alice[0].subject()
    );
    assert!(
        smtp.to("bob@example.org").is_empty(),
        "not of his own reply"
    );

    // Carol starts signing in on B and the provider sends her back to the one address,
    // which the proxy hands to A: the sign-in in progress is shared too.
    let carol_on_b = new_browser_on(&b);
    let authorize = carol_on_b.start_sign_in("corp", post_path).await;
    let back = Idp::Oidc(&oidc).authorize(&authorize, "carol").await;
    let carol_on_a = same_browser_on(&carol_on_b, &a);
    let response = carol_on_a.callback(&back).await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    assert!(signed_in_as(&carol_on_b, post_path, "Carol Danvers").await);

    // 3. The per-user limit counts comments made through either process.
    let carol = [&carol_on_a, &carol_on_b];
    for n in 0..PER_USER_PER_MINUTE {
        carol[n % 2]
            .comment_ok(
                post_path,
                post_id,
                None,
                &format!("Carol thinks, number {n}."),
            )
            .await;
    }
    for n in PER_USER_PER_MINUTE..PER_USER_PER_MINUTE + 2 {
        let text = format!("Carol thinks, number {n}, one too many.");
        let response = carol[n % 2].comment(post_path, post_id, None, &text).await;
        let status = response.status();
        let page = response.text().await.unwrap();
        assert_eq!(
            status,
            429,
            "comment {n} through {}: {page}",
            carol[n % 2].base
        );
        assert!(page.contains("commenting too quickly"), "{page}");
        assert!(page.contains(&text), "the refused text is kept: {page}");
    }
    for process in [&a, &b] {
        eventually(
            &format!("{} never showed Carol's comments", process.address),
            || anonymous_page(process, post_path),
            |(_, page)| page.matches("Carol thinks, number").count() == PER_USER_PER_MINUTE,
        )
        .await;
    }
    assert_eq!(
        count(
            &database_url,
            &format!("SELECT COUNT(*) AS n FROM comments WHERE post_id = {post_id}")
        )
        .await,
        2 + PER_USER_PER_MINUTE as i64,
        "exactly the limit got through"
    );

    // All at once: Dave sends twice his limit through both processes together. The two
    // processes count in one place, so the limit holds under a race too.
    oidc.put_user("dave", "dave@example.org", true, "Dave Grohl")
        .await;
    let dave_on_a = new_browser_on(&a);
    dave_on_a
        .sign_in(Idp::Oidc(&oidc), "corp", "dave", post_path)
        .await;
    let dave_on_b = same_browser_on(&dave_on_a, &b);
    let mut burst = tokio::task::JoinSet::new();
    for n in 0..2 * PER_USER_PER_MINUTE {
        let dave = if n % 2 == 0 { &dave_on_a } else { &dave_on_b };
        let dave = Reader {
            client: dave.client.clone(),
            jar: dave.jar.clone(),
            base: dave.base.clone(),
        };
        burst.spawn(async move {
            dave.comment(post_path, post_id, None, &format!("Dave at once, {n}."))
                .await
                .status()
                .as_u16()
        });
    }
    let mut statuses = burst.join_all().await;
    statuses.sort_unstable();
    let expected: Vec<u16> = [303]
        .repeat(PER_USER_PER_MINUTE)
        .into_iter()
        .chain([429].repeat(PER_USER_PER_MINUTE))
        .collect();
    assert_eq!(statuses, expected, "Dave's burst through both processes");

    // 4. Alice signs out through A: her session is gone on B too, even for a copied cookie.
    let cookie = alice_on_a.session_cookie().expect("a session cookie");
    let token = alice_on_a.csrf(post_path).await;
    let response = alice_on_a
        .post_form(
            "/auth/logout",
            &[("_csrf", &token), ("return_to", post_path)],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert!(!signed_in_as(&alice_on_b, post_path, "Alice Liddell").await);
    let copied = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(b.url("/account"))
        .header(reqwest::header::COOKIE, format!("folio_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(copied.status(), 303, "B still knows the signed-out session");
    assert!(location(&copied).starts_with("/auth/login"));

    // 5 and 6. A post scheduled a few seconds ahead, with many subscribers: published once,
    // each subscriber told once, though both processes run the scheduler and a worker.
    subscribe(&database_url, SUBSCRIBERS).await;
    let at = time::OffsetDateTime::now_utc() + time::Duration::seconds(6);
    let at_text = at
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let date_path = format!(
        "/{}/{:02}/{:02}/news-for-everyone/",
        at.year(),
        u8::from(at.month()),
        at.day()
    );
    std::fs::write(
        &post_file,
        format!(
            "+++\ntitle = \"News for Everyone\"\nslug = \"news-for-everyone\"\ndate = {at_text}\nstatus = \"published\"\n+++\n\nTold once each.\n"
        ),
    )
    .unwrap();
    let sent_before = store.outbox_counts().await.unwrap().sent;
    let created = folio(
        &config,
        &["post", "new", "--file", &post_file.display().to_string()],
    )
    .await;
    let news_id: i64 = created.split('\t').next().unwrap().parse().unwrap();
    if time::OffsetDateTime::now_utc() + time::Duration::seconds(1) < at {
        let (status, _) = anonymous_page(&a, &date_path).await;
        assert_eq!(status, 404, "a scheduled post is not shown before its time");
        // Cached without it on both, so that showing it later takes the scheduled time
        // reaching every process's cache.
        for process in [&a, &b] {
            let (_, front) = anonymous_page(process, "/").await;
            assert!(front.contains("Two Doors") && !front.contains("News for Everyone"));
        }
        assert!(
            smtp.all()
                .iter()
                .all(|m| !m.subject().contains("News for Everyone")),
            "announced before its time"
        );
    }
    for process in [&a, &b] {
        eventually(
            &format!("{} never showed the scheduled post", process.address),
            || anonymous_page(process, "/"),
            |(_, page)| page.contains("News for Everyone"),
        )
        .await;
        let (status, _) = anonymous_page(process, &date_path).await;
        assert_eq!(status, 200, "{}{date_path}", process.address);
    }
    outbox_drained(&store, sent_before + SUBSCRIBERS as u64).await;
    let mut told: BTreeMap<String, usize> = BTreeMap::new();
    for mail in smtp.all() {
        if mail.subject().contains("News for Everyone") {
            for to in mail.to {
                *told.entry(to.to_lowercase()).or_default() += 1;
            }
        }
    }
    assert_eq!(told.len(), SUBSCRIBERS, "every subscriber is told");
    let twice: Vec<_> = told.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "told more than once: {twice:?}");
    assert_eq!(
        count(
            &database_url,
            &format!("SELECT COUNT(*) AS n FROM post_announcements WHERE post_id = {news_id}")
        )
        .await,
        1
    );
    assert_eq!(
        smtp.to("alice@example.org").len(),
        1,
        "nothing more for Alice"
    );
    println!(
        "emails sent by A: {}, by B: {}",
        a.emails_sent(),
        b.emails_sent()
    );
}

/// `n` confirmed blog subscribers, written straight to the table (the subscribe form is
/// tested elsewhere).
async fn subscribe(database_url: &str, n: usize) {
    use sea_orm::ConnectionTrait;
    let values: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "('fan{i}@example.org', 'c{i}', '2026-01-01 00:00:00+00:00', 'u{i}', '2026-01-01 00:00:00+00:00')"
            )
        })
        .collect();
    let db = sea_orm::Database::connect(database_url).await.unwrap();
    db.execute_unprepared(&format!(
        "INSERT INTO blog_subscribers (email, confirm_token, confirmed_at, unsubscribe_token, created_at) VALUES {}",
        values.join(", ")
    ))
    .await
    .unwrap();
    db.close().await.unwrap();
}

/// One number from SQL (`SELECT COUNT(*) AS n ...`).
async fn count(database_url: &str, query: &str) -> i64 {
    use sea_orm::ConnectionTrait;
    let db = sea_orm::Database::connect(database_url).await.unwrap();
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            query.to_owned(),
        ))
        .await
        .unwrap()
        .expect("a row");
    let n: i64 = row.try_get("", "n").unwrap();
    db.close().await.unwrap();
    n
}

/// A request that loaded a reader's session on one process just before they signed out
/// through another saves it on its way out (a notice, say): the session must stay ended.
#[tokio::test]
async fn a_session_ended_elsewhere_is_not_brought_back_by_a_late_save() {
    let dir = tempfile::tempdir().unwrap();
    let (database_url, _database) = fresh_database(&dir).await;
    let store = Store::connect(&database_url).await.unwrap();
    store.migrate_up().await.unwrap();
    let reader = store
        .create_user(folio_storage::NewUser {
            display_name: "Dora".to_owned(),
            slug: None,
            email: Some("dora@example.org".to_owned()),
            avatar_url: None,
            bio: String::new(),
            role: folio_domain::Role::Reader,
        })
        .await
        .unwrap();
    let (cookie, _csrf) = folio_web::open_session_for(&store, reader.id)
        .await
        .unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let loaded_by_b = store.load_session(&cookie, now).await.unwrap().unwrap();
    store.delete_session(&cookie).await.unwrap(); // signed out through A
    let saved = store
        .update_session(&cookie, Some(reader.id), loaded_by_b)
        .await
        .unwrap();
    assert!(!saved);
    assert!(
        store.load_session(&cookie, now).await.unwrap().is_none(),
        "the signed-out session came back"
    );
    store.close().await.unwrap();
}
