//! Long conversations: a page of a thread is read by index (the thread keys each comment
//! keeps), and must show exactly what threading every comment of the post shows. A large,
//! messy thread (replies written before their parents as imports have them, held and spam
//! comments, replies to hidden comments, a parent on another post, moderation and deletions
//! afterwards) is read page by page over HTTP and compared with `build_thread` over the
//! whole thread.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Reader, TestApp, signed_in_reader};
use folio_domain::{CommentNode, CommentStatus, build_thread};
use folio_storage::NewComment;

const PER_PAGE: u32 = 7;

/// A small deterministic generator: the same messy thread on every run and database.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % sides
    }
}

/// What a page shows of each comment, in page order: id, depth, and whether it has replies.
fn shown(page: &str) -> Vec<(i64, u32, bool)> {
    let mut out = Vec::new();
    let mut rest = page;
    while let Some(start) = rest.find("<li id=\"comment-") {
        rest = &rest[start + "<li id=\"comment-".len()..];
        let id: i64 = rest[..rest.find('"').unwrap()].parse().unwrap();
        let class_start = rest.find("class=\"").unwrap() + "class=\"".len();
        let class = &rest[class_start..class_start + rest[class_start..].find('"').unwrap()];
        let depth: u32 = class
            .split(' ')
            .find_map(|c| c.strip_prefix("depth-"))
            .unwrap()
            .parse()
            .unwrap();
        out.push((id, depth, class.split(' ').any(|c| c == "parent")));
    }
    out
}

fn walk(nodes: &[CommentNode], out: &mut Vec<(i64, u32, bool)>) {
    for node in nodes {
        out.push((node.comment.id, node.depth, !node.children.is_empty()));
        walk(&node.children, out);
    }
}

struct Thread {
    app: TestApp,
    post_id: i64,
    path: String,
    ids: Vec<i64>,
}

/// About 500 comments under one post, 30% top-level, written in import-sized batches.
async fn messy_thread(max_depth: u32) -> Thread {
    let app = TestApp::spawn_with(|s| {
        s.comments.per_page = PER_PAGE;
        s.comments.max_depth = max_depth;
    })
    .await;
    let author = app.author("Writer").await;
    let start = time::OffsetDateTime::now_utc() - time::Duration::days(30);
    let post = app.post(&author, "Much Discussed", "Body.", start).await;
    let other = app.post(&author, "Elsewhere", "Body.", start).await;
    let elsewhere = app
        .comment(
            other.summary.id,
            None,
            "Far",
            "On another post.",
            CommentStatus::Approved,
        )
        .await;
    let mut dice = Dice(14);
    let mut ids: Vec<i64> = Vec::new();
    for _ in 0..10 {
        let mut batch = Vec::new();
        for n in 0..50 {
            let parent = match dice.roll(20) {
                0..=5 => None,
                6 => Some(elsewhere),
                _ if ids.is_empty() => None,
                _ => Some(ids[dice.roll(ids.len() as u64) as usize]),
            };
            let status = match dice.roll(20) {
                0..=1 => CommentStatus::Pending,
                2 => CommentStatus::Spam,
                _ => CommentStatus::Approved,
            };
            batch.push(NewComment {
                post_id: post.summary.id,
                parent_id: parent,
                author_id: None,
                author_name: format!("Reader {n}"),
                author_url: None,
                source: format!("Thought {n}."),
                status,
                // Out of order, as imported comments often are; some share a second.
                created_at: Some(start + time::Duration::minutes(dice.roll(3000) as i64)),
                author_ip: None,
            });
        }
        // Parents must exist first: a batch's replies point only at earlier batches.
        let created = app.store.create_comments(batch).await.unwrap();
        ids.extend(created.iter().map(|c| c.id));
    }
    let path = post.summary.path();
    Thread {
        app,
        post_id: post.summary.id,
        path,
        ids,
    }
}

impl Thread {
    async fn fetch(&self, reader: Option<&Reader>, path: &str) -> reqwest::Response {
        match reader {
            Some(reader) => reader.get(path).await,
            None => self.app.get(path).await,
        }
    }

    fn page_path(&self, page: usize) -> String {
        match page {
            1 => self.path.clone(),
            n => format!("{}comment-page-{n}/", self.path),
        }
    }

    /// Every page, as `get` fetches it, against the whole thread threaded at once.
    async fn assert_pages_match(&self, viewer: Option<(i64, &Reader)>, max_depth: u32) {
        let (viewer, reader) = (viewer.map(|v| v.0), viewer.map(|v| v.1));
        let all = self
            .app
            .store
            .thread_for(self.post_id, viewer)
            .await
            .unwrap();
        let thoughts = all
            .iter()
            .filter(|c| c.status == CommentStatus::Approved && !c.deleted)
            .count();
        let thread = build_thread(all, max_depth);
        let pages = thread.len().div_ceil(PER_PAGE as usize).max(1);
        assert!(pages > 10, "the thread spans many pages ({pages})");
        for page in 1..=pages {
            let response = self.fetch(reader, &self.page_path(page)).await;
            assert_eq!(response.status(), 200, "page {page}");
            let html = response.text().await.unwrap();
            let from = (page - 1) * PER_PAGE as usize;
            let to = (page * PER_PAGE as usize).min(thread.len());
            let mut expected = Vec::new();
            walk(&thread[from..to], &mut expected);
            assert_eq!(shown(&html), expected, "page {page} for viewer {viewer:?}");
            assert!(
                html.contains(&format!("{thoughts} thoughts on")),
                "the heading counts the approved comments ({thoughts}) on page {page}"
            );
        }
        let past = self.fetch(reader, &self.page_path(pages + 1)).await;
        assert_eq!(past.status(), 404, "no page after the last");
    }

    /// Each comment's permalink leads to the page its conversation is on.
    async fn assert_permalinks_match(&self, max_depth: u32) {
        let all = self.app.store.thread_for(self.post_id, None).await.unwrap();
        let thread = build_thread(all.clone(), max_depth);
        for comment in all.iter().step_by(9) {
            let index = thread
                .iter()
                .position(|root| root.contains(comment.id))
                .unwrap();
            let expected = match index / PER_PAGE as usize + 1 {
                1 => format!("{}#comment-{}", self.path, comment.id),
                n => format!("{}comment-page-{n}/#comment-{}", self.path, comment.id),
            };
            let response = self.app.get(&format!("/comments/{}/", comment.id)).await;
            assert_eq!(response.headers()["location"], expected.as_str());
        }
    }

    /// Moderation and deletions after the fact: hidden parents, approved held comments,
    /// deleted leaves and deleted comments with replies.
    async fn moderate(&self) {
        let moderator = self.app.author("Moderator").await;
        let by_status = |status: CommentStatus| {
            let store = self.app.store.clone();
            let post = self.post_id;
            async move {
                let all = store.thread_for(post, None).await.unwrap();
                let mut found: Vec<i64> = Vec::new();
                for c in all {
                    if c.status == status && !c.deleted {
                        found.push(c.id);
                    }
                }
                found
            }
        };
        let approved = by_status(CommentStatus::Approved).await;
        let hide: Vec<i64> = approved.iter().step_by(11).copied().collect();
        self.app
            .store
            .set_comments_status(&moderator, &hide, CommentStatus::Spam, |_| Vec::new())
            .await
            .unwrap();
        let held: Vec<i64> = self.ids.iter().step_by(13).copied().collect();
        self.app
            .store
            .set_comments_status(&moderator, &held, CommentStatus::Approved, |_| Vec::new())
            .await
            .unwrap();
        for id in self.ids.iter().skip(5).step_by(17) {
            self.app.store.delete_comment(*id).await.unwrap();
        }
    }

    /// The keys the migration computes from scratch are the ones kept at write time.
    async fn assert_migration_agrees(&self) {
        let keys = "SELECT COUNT(*) AS n FROM comments WHERE thread_root_id IS NOT NULL";
        let placed = self.app.count(keys).await;
        let tops = self
            .app
            .count("SELECT COUNT(*) AS n FROM comments WHERE thread_top = TRUE")
            .await;
        self.app
            .sql("CREATE TABLE kept AS SELECT id, thread_root_id, thread_top FROM comments")
            .await;
        self.app
            .sql("CREATE TABLE kept_counts AS SELECT id, comment_count, thread_count FROM posts")
            .await;
        // The thread keys' migration, the conversation counts' after it, and the
        // federation tables' (the last).
        self.app.store.migrate_down(3).await.unwrap();
        self.app.store.migrate_up().await.unwrap();
        let differing = self
            .app
            .count(
                "SELECT COUNT(*) AS n FROM comments c JOIN kept k ON k.id = c.id \
                 WHERE c.thread_top <> k.thread_top \
                 OR COALESCE(c.thread_root_id, 0) <> COALESCE(k.thread_root_id, 0)",
            )
            .await;
        assert_eq!(differing, 0, "backfill and write-time keys agree");
        let miscounted = self
            .app
            .count(
                "SELECT COUNT(*) AS n FROM posts p JOIN kept_counts k ON k.id = p.id \
                 WHERE p.comment_count <> k.comment_count OR p.thread_count <> k.thread_count",
            )
            .await;
        assert_eq!(
            miscounted, 0,
            "counted again, every post's count is the same"
        );
        assert!(
            placed > 300 && tops > 100,
            "{placed} placed, {tops} top-level"
        );
    }
}

#[tokio::test]
async fn pages_of_a_big_thread_are_the_pages_of_the_whole_thread() {
    let thread = messy_thread(3).await;
    thread.assert_pages_match(None, 3).await;
    thread.assert_permalinks_match(3).await;
    thread.moderate().await;
    thread.assert_pages_match(None, 3).await;
    // A signed-in reader with nothing held reads the same pages, by index too.
    let (user, reader) = signed_in_reader(&thread.app, "reader").await;
    thread.assert_pages_match(Some((user.id, &reader)), 3).await;
    thread.assert_permalinks_match(3).await;
    thread.assert_migration_agrees().await;
}

#[tokio::test]
async fn flat_threads_page_by_comment_as_before() {
    let thread = messy_thread(1).await;
    thread.moderate().await;
    thread.assert_pages_match(None, 1).await;
    thread.assert_permalinks_match(1).await;
}

#[tokio::test]
async fn a_reader_sees_their_held_comments_in_place_on_every_page() {
    let thread = messy_thread(3).await;
    let (user, reader) = signed_in_reader(&thread.app, "holder").await;
    // Their held comments: top-level, replies to approved comments, replies to spam; and an
    // approved reply to one of them, top-level for everyone else.
    let mut held = Vec::new();
    for (n, parent) in [None, Some(thread.ids[3]), Some(thread.ids[40]), None]
        .into_iter()
        .enumerate()
    {
        let comment = thread
            .app
            .store
            .create_comment(NewComment {
                post_id: thread.post_id,
                parent_id: parent,
                author_id: Some(user.id),
                author_name: "holder".to_owned(),
                author_url: None,
                source: format!("Held {n}."),
                status: CommentStatus::Pending,
                created_at: Some(
                    time::OffsetDateTime::now_utc() - time::Duration::days(29 - n as i64 * 3),
                ),
                author_ip: None,
            })
            .await
            .unwrap();
        held.push(comment.id);
    }
    thread
        .app
        .comment(
            thread.post_id,
            Some(held[0]),
            "Quick",
            "A reply to a held comment.",
            CommentStatus::Approved,
        )
        .await;
    thread.assert_pages_match(Some((user.id, &reader)), 3).await;
    // Everyone else still reads the public thread by index.
    thread.assert_pages_match(None, 3).await;
}
