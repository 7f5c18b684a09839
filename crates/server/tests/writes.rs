//! Many readers writing at once, over HTTP: every comment they were told was stored is
//! stored once, with its emails queued once; the limits hold inside a burst; and nobody
//! gets "database is locked" because someone else was writing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::{Reader, TestApp, comment_id_of, days_ago, location, signed_in_reader};
use folio_auth::ProviderKind;
use folio_server::Settings;
use folio_testkit::{OAuthStandIn, StandInUser};
use tokio::task::JoinSet;

const READERS: usize = 40;
const COMMENTS_EACH: usize = 5;

fn quiet_comments(settings: &mut Settings) {
    settings.comments.moderation = "off".into();
    settings.comments.per_user_per_minute = 0;
    settings.comments.per_address_per_minute = 0;
    // The outbox is counted as queued, not as sent.
    settings.mail.worker = false;
}

/// A reader with the CSRF token of the post's form, shareable between tasks.
struct Poster {
    reader: Reader,
    csrf: String,
}

impl Poster {
    async fn new(app: &TestApp, login: &str, path: &str) -> Arc<Poster> {
        let (_, reader) = signed_in_reader(app, login).await;
        let csrf = reader.csrf(path).await;
        Arc::new(Poster { reader, csrf })
    }

    /// POST /comments; the status and, when stored, the comment's id.
    async fn comment(&self, post_id: i64, parent: Option<i64>, text: &str) -> (u16, Option<i64>) {
        let post_id = post_id.to_string();
        let parent = parent.unwrap_or(0).to_string();
        let response = self
            .reader
            .post_form(
                "/comments",
                &[
                    ("comment", text),
                    ("comment_post_ID", &post_id),
                    ("comment_parent", &parent),
                    ("_csrf", &self.csrf),
                    ("url", ""),
                ],
            )
            .await;
        let status = response.status().as_u16();
        let id = (status == 303).then(|| comment_id_of(&location(&response)));
        (status, id)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn comments_from_many_readers_at_once_are_each_stored_once_with_their_emails() {
    let app = TestApp::spawn_with(quiet_comments).await;
    let author = app.author("Alice Writer").await;
    let post = app.post(&author, "Busy", "Talk.", days_ago(1)).await;
    let (path, post_id) = (post.summary.path(), post.summary.id);

    // Someone who follows the conversation and writes nothing: one email per comment.
    let (_, watcher) = signed_in_reader(&app, "watcher").await;
    let csrf = watcher.csrf(&path).await;
    let followed = watcher
        .post_form(
            &format!("/follow/{post_id}"),
            &[("_csrf", &csrf), ("follow", "1")],
        )
        .await;
    assert_eq!(followed.status(), 303);

    let mut posters = Vec::new();
    for n in 0..READERS {
        posters.push(Poster::new(&app, &format!("reader{n}"), &path).await);
    }
    // Everyone's first comment at once, then the rest at once, replies among them: the
    // reply's parent must exist before the reply is sent.
    let mut firsts = JoinSet::new();
    for (n, poster) in posters.iter().enumerate() {
        let poster = poster.clone();
        firsts.spawn(async move {
            (
                n,
                poster
                    .comment(post_id, None, &format!("First from {n}"))
                    .await,
            )
        });
    }
    let mut first_ids = vec![0; READERS];
    while let Some(done) = firsts.join_next().await {
        let (n, (status, id)) = done.unwrap();
        assert_eq!(status, 303, "reader {n}'s first comment");
        first_ids[n] = id.unwrap();
    }
    let mut rest = JoinSet::new();
    let mut replies = 0;
    for (n, poster) in posters.iter().enumerate() {
        for k in 1..COMMENTS_EACH {
            // Every other comment answers the next reader's first one.
            let parent = (k % 2 == 1).then(|| first_ids[(n + 1) % READERS]);
            replies += usize::from(parent.is_some());
            let poster = poster.clone();
            rest.spawn(async move {
                poster
                    .comment(post_id, parent, &format!("Comment {k} from {n}"))
                    .await
            });
        }
    }
    let mut ids = first_ids.clone();
    while let Some(done) = rest.join_next().await {
        let (status, id) = done.unwrap();
        assert_eq!(status, 303, "every comment is accepted");
        ids.push(id.unwrap());
    }
    let total = READERS * COMMENTS_EACH;
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), total, "each answer names its own comment");

    let count = |sql: String| {
        let app = &app;
        async move { app.count(&sql).await as usize }
    };
    assert_eq!(
        count(format!(
            "SELECT COUNT(*) AS n FROM comments WHERE post_id = {post_id}"
        ))
        .await,
        total,
        "no comment lost or stored twice"
    );
    let listed = ids
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    assert_eq!(
        count(format!(
            "SELECT COUNT(*) AS n FROM comments WHERE id IN ({listed})"
        ))
        .await,
        total,
        "every comment a reader was sent to is there"
    );
    assert_eq!(
        count(
            "SELECT COUNT(DISTINCT comment_id) AS n FROM mail_outbox WHERE recipient = 'watcher@example.org' AND kind = 'follow'"
                .to_owned()
        )
        .await,
        total,
        "the follower hears of every comment"
    );
    assert_eq!(
        count(
            "SELECT COUNT(*) AS n FROM mail_outbox WHERE recipient = 'watcher@example.org'"
                .to_owned()
        )
        .await,
        total,
        "and of each once"
    );
    assert_eq!(
        count("SELECT COUNT(*) AS n FROM mail_outbox WHERE kind = 'reply'".to_owned()).await,
        replies,
        "each reply tells its parent's author once"
    );
    assert_eq!(
        count(
            "SELECT COUNT(DISTINCT comment_id) AS n FROM mail_outbox WHERE kind = 'reply'"
                .to_owned()
        )
        .await,
        replies,
    );
    assert_eq!(
        count("SELECT COUNT(*) AS n FROM mail_outbox WHERE comment_id NOT IN (SELECT id FROM comments)".to_owned()).await,
        0,
        "no email about a comment that is not there"
    );
}

/// The per-reader limit and duplicate detection count the comments written just before, in
/// the same moment: a burst cannot slip past them together.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_from_one_reader_meets_the_limit_and_a_double_click_stores_one() {
    let app = TestApp::spawn_with(|s| {
        quiet_comments(s);
        s.comments.per_user_per_minute = 3;
    })
    .await;
    let author = app.author("Alice Writer").await;
    let post = app.post(&author, "Busy", "Talk.", days_ago(1)).await;
    let (path, post_id) = (post.summary.path(), post.summary.id);
    let hasty = Poster::new(&app, "hasty", &path).await;
    let clicker = Poster::new(&app, "clicker", &path).await;
    let others: Vec<Arc<Poster>> = posters(&app, &path, 10).await;

    let mut burst = JoinSet::new();
    for k in 0..8 {
        let hasty = hasty.clone();
        burst.spawn(async move {
            (
                "hasty",
                hasty.comment(post_id, None, &format!("Quick {k}")).await.0,
            )
        });
    }
    for _ in 0..2 {
        let clicker = clicker.clone();
        burst.spawn(async move {
            (
                "clicker",
                clicker.comment(post_id, None, "Same words").await.0,
            )
        });
    }
    for (n, other) in others.iter().enumerate() {
        let other = other.clone();
        burst.spawn(async move {
            (
                "other",
                other.comment(post_id, None, &format!("Hello {n}")).await.0,
            )
        });
    }
    let mut statuses: std::collections::BTreeMap<(&str, u16), usize> = Default::default();
    while let Some(done) = burst.join_next().await {
        *statuses.entry(done.unwrap()).or_default() += 1;
    }
    let expected: std::collections::BTreeMap<(&str, u16), usize> = [
        (("hasty", 303), 3),
        (("hasty", 429), 5),
        (("clicker", 303), 1),
        (("clicker", 422), 1),
        (("other", 303), 10),
    ]
    .into_iter()
    .collect();
    assert_eq!(statuses, expected);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM comments WHERE post_id = {post_id}"
        ))
        .await,
        3 + 1 + 10
    );
}

/// `count` more signed-in readers, ready to comment on the post at `path`.
async fn posters(app: &TestApp, path: &str, count: usize) -> Vec<Arc<Poster>> {
    let mut posters = Vec::new();
    for n in 0..count {
        posters.push(Poster::new(app, &format!("other{n}"), path).await);
    }
    posters
}

/// Readers signing in (a write transaction that reads first) while others comment: on
/// SQLite a transaction that began reading and then wanted to write failed at once with
/// "database is locked" (SQLITE_BUSY_SNAPSHOT) whenever another write had committed in
/// between; the sign-in then ended in an error page.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readers_sign_in_while_others_comment_without_database_locked_errors() {
    const NEWCOMERS: u64 = 30;
    let github = OAuthStandIn::start();
    for id in 1..=NEWCOMERS {
        github.add_user(StandInUser {
            id,
            login: format!("newcomer{id}"),
            name: Some(format!("Newcomer {id}")),
            email: Some(format!("newcomer{id}@example.org")),
            email_verified: true,
            avatar_url: None,
        });
    }
    let config = github.provider_config(ProviderKind::Github);
    let app = TestApp::spawn_with(|s| {
        quiet_comments(s);
        s.auth.providers.insert("github".into(), config);
    })
    .await;
    let author = app.author("Alice Writer").await;
    let post = app.post(&author, "Busy", "Talk.", days_ago(1)).await;
    let (path, post_id) = (post.summary.path(), post.summary.id);
    let posters = posters(&app, &path, 20).await;
    let github = Arc::new(github);

    let mut work = JoinSet::new();
    for (n, poster) in posters.iter().enumerate() {
        let poster = poster.clone();
        work.spawn(async move {
            for k in 0..10 {
                let (status, _) = poster
                    .comment(post_id, None, &format!("Words {k} from {n}"))
                    .await;
                if status != 303 {
                    return format!("comment {k} from {n} answered {status}");
                }
            }
            String::new()
        });
    }
    for id in 1..=NEWCOMERS {
        let reader = Reader::new(&app);
        let github = github.clone();
        let path = path.clone();
        work.spawn(async move {
            // Two sign-ins each: the second finds the account the first made.
            for _ in 0..2 {
                let authorize = reader.start_sign_in("github", &path).await;
                let back = github.authorize(&authorize, &format!("newcomer{id}")).await;
                let response = reader.callback(&back).await;
                let status = response.status();
                if status != 303 {
                    return format!("sign-in of newcomer{id} answered {status}");
                }
            }
            String::new()
        });
    }
    let mut failures = Vec::new();
    while let Some(done) = work.join_next().await {
        let failure = done.unwrap();
        if !failure.is_empty() {
            failures.push(failure);
        }
    }
    assert!(
        failures.is_empty(),
        "{} failed: {failures:#?}",
        failures.len()
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM users WHERE email LIKE 'newcomer%'")
            .await,
        NEWCOMERS as i64
    );
}

/// Where a reader is sent after commenting on a long threaded conversation: the comment's
/// own page, as its permalink gives it, though the writer worked out its place from the
/// group it was written in rather than by reading the thread again. Many at once, some of
/// them replies.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_commenting_on_a_long_thread_each_reader_lands_on_their_comments_page() {
    let app = TestApp::spawn_with(|s| {
        quiet_comments(s);
        s.comments.per_page = 4;
        s.comments.max_depth = 3;
    })
    .await;
    let author = app.author("Alice Writer").await;
    let post = app.post(&author, "Long", "Talk.", days_ago(1)).await;
    let (path, post_id) = (post.summary.path(), post.summary.id);
    let mut earlier = Vec::new();
    for n in 0..9 {
        earlier.push(
            app.comment(
                post_id,
                None,
                "Early",
                &format!("Early {n}"),
                folio_domain::CommentStatus::Approved,
            )
            .await,
        );
    }
    let posters = posters(&app, &path, 12).await;
    let mut writes = JoinSet::new();
    for (n, poster) in posters.iter().enumerate() {
        let poster = poster.clone();
        let parent = (n % 3 == 0).then(|| earlier[n % earlier.len()]);
        writes.spawn(async move {
            let mut landed = Vec::new();
            for k in 0..3 {
                let parent = if k == 1 { parent } else { None };
                let response = poster
                    .reader
                    .post_form(
                        "/comments",
                        &[
                            ("comment", format!("Reader {n}, thought {k}").as_str()),
                            ("comment_post_ID", &post_id.to_string()),
                            ("comment_parent", &parent.unwrap_or(0).to_string()),
                            ("_csrf", &poster.csrf),
                            ("url", ""),
                        ],
                    )
                    .await;
                assert_eq!(response.status(), 303);
                landed.push(location(&response));
            }
            landed
        });
    }
    let mut landings = Vec::new();
    while let Some(done) = writes.join_next().await {
        landings.extend(done.unwrap());
    }
    assert_eq!(landings.len(), 36);
    let mut later_pages = 0;
    for landing in landings {
        let id = comment_id_of(&landing);
        let permalink = app.get(&format!("/comments/{id}/")).await;
        assert_eq!(location(&permalink), landing, "comment {id}");
        later_pages += usize::from(landing.contains("comment-page-"));
    }
    assert!(later_pages > 20, "the thread runs over many pages");
}
