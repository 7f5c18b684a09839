//! One page of a post's conversation, read by index.
//!
//! Every comment readers see keeps, from the moment it is written or moderated, the
//! top-level comment whose conversation holds it (`thread_root_id`) and whether it is one
//! itself (`thread_top`); see migration `m20261204_000013_comment_thread_keys`. A page of a
//! long thread is then "the top-level comments of page N, by (created_at, id), and their
//! conversations": two indexed queries, whatever the size of the post. `build_thread` over
//! those comments gives exactly the nodes that threading every comment gives for that page.

use folio_domain::{Comment, build_thread};
use sea_orm::{ConnectionTrait, FromQueryResult, Statement};
use time::OffsetDateTime;

use crate::{Result, Store};

/// The comments of one page of a thread, as one reader sees it.
#[derive(Debug, Clone)]
pub struct ThreadPage {
    /// The page's conversations, oldest first, ready for `build_thread`.
    pub comments: Vec<Comment>,
    /// How many top-level items the whole thread has for this reader (the pages count them).
    pub conversations: u64,
    /// When the newest comment this reader sees under the post was written.
    pub newest: Option<OffsetDateTime>,
}

/// Which page of a thread: `per_page` top-level conversations each (0: all on one page).
#[derive(Debug, Clone, Copy)]
pub struct ThreadPaging {
    pub max_depth: u32,
    pub per_page: u64,
    pub page: u64,
}

impl ThreadPaging {
    /// At one level of depth every comment is a top-level item, as `build_thread` lays it out.
    fn flat(self) -> bool {
        self.max_depth <= 1
    }
}

#[derive(Debug, FromQueryResult)]
struct Count {
    n: i64,
}

#[derive(Debug, FromQueryResult)]
struct Position {
    held: i64,
    n: i64,
}

#[derive(Debug, FromQueryResult)]
struct Id {
    id: i64,
}

#[derive(Debug, FromQueryResult)]
struct Newest {
    created_at: OffsetDateTime,
}

impl Store {
    /// Page `paging.page` of the thread under post `post_id` as `viewer` sees it: approved
    /// comments, and their own held ones.
    pub async fn thread_page(
        &self,
        post_id: i64,
        viewer: Option<i64>,
        paging: ThreadPaging,
    ) -> Result<ThreadPage> {
        if self.holds_for(post_id, viewer).await? {
            return self
                .thread_page_threading_all(post_id, viewer, paging)
                .await;
        }
        let approved = format!("c.post_id = {post_id} AND c.status = 'approved'");
        let tops = if paging.flat() {
            approved.clone()
        } else {
            format!("c.post_id = {post_id} AND c.thread_top = TRUE")
        };
        let conversations = self
            .count(&format!(
                "SELECT COUNT(*) AS n FROM comments c WHERE {tops}"
            ))
            .await?;
        let newest = self
            .first::<Newest>(&format!(
                "SELECT c.created_at FROM comments c WHERE {approved} \
                 ORDER BY c.created_at DESC, c.id DESC LIMIT 1"
            ))
            .await?
            .map(|row| row.created_at);
        let order = "ORDER BY c.created_at, c.id";
        let offset = paging
            .page
            .saturating_sub(1)
            .saturating_mul(paging.per_page);
        let comments = if paging.per_page == 0 {
            self.comments_with_authors_where(&approved, order).await?
        } else if offset >= conversations.max(0) as u64 {
            Vec::new()
        } else if paging.flat() {
            let window = format!("{order} LIMIT {} OFFSET {offset}", paging.per_page);
            self.comments_with_authors_where(&approved, &window).await?
        } else {
            let roots = self
                .all::<Id>(&format!(
                    "SELECT c.id FROM comments c WHERE {tops} {order} LIMIT {} OFFSET {offset}",
                    paging.per_page
                ))
                .await?;
            let ids: Vec<String> = roots.iter().map(|r| r.id.to_string()).collect();
            if ids.is_empty() {
                Vec::new()
            } else {
                let members = format!("c.thread_root_id IN ({})", ids.join(", "));
                self.comments_with_authors_where(&members, order).await?
            }
        };
        Ok(ThreadPage {
            comments,
            conversations: conversations.max(0) as u64,
            newest,
        })
    }

    /// Where comment `id` is in the thread `viewer` sees: the index (from 0) of the top-level
    /// item that holds it; `None` when they do not see it.
    pub async fn thread_position(
        &self,
        post_id: i64,
        id: i64,
        viewer: Option<i64>,
        max_depth: u32,
    ) -> Result<Option<usize>> {
        let threading_all = async || -> Result<Option<usize>> {
            let thread = build_thread(self.thread_for(post_id, viewer).await?, max_depth);
            Ok(thread.iter().position(|root| root.contains(id)))
        };
        if max_depth <= 1 {
            if self.holds_for(post_id, viewer).await? {
                return threading_all().await;
            }
            // Flat: every approved comment is a top-level item, in (created_at, id) order.
            let Some(anchor) = self
                .first::<Id>(&format!(
                    "SELECT id FROM comments WHERE id = {id} AND post_id = {post_id} AND status = 'approved'"
                ))
                .await?
            else {
                return Ok(None);
            };
            let before = self
                .count(&format!(
                    "SELECT COUNT(*) AS n FROM comments t JOIN comments r ON r.id = {anchor} \
                     WHERE t.post_id = {post_id} AND t.status = 'approved' AND t.created_at <= r.created_at \
                     AND (t.created_at < r.created_at OR t.id < r.id)",
                    anchor = anchor.id
                ))
                .await?;
            return Ok(Some(usize::try_from(before).unwrap_or_default()));
        }
        // The post's count of conversations less those after this comment's: the comment
        // just written, or an answer in a recent conversation, has few after it, however long
        // the thread. Whether the viewer has comments held there (which reorder their thread)
        // is read in the same statement.
        let held = match viewer {
            Some(user_id) => format!(
                "(SELECT COUNT(*) FROM (SELECT 1 FROM comments h WHERE h.author_id = {user_id} \
                 AND h.post_id = {post_id} AND h.status = 'pending' LIMIT 1) held)"
            ),
            // PostgreSQL reads a bare 0 as a 32-bit integer.
            None => "CAST(0 AS BIGINT)".to_owned(),
        };
        let position = self
            .first::<Position>(&format!(
                "SELECT {held} AS held, p.thread_count - 1 - (SELECT COUNT(*) FROM comments t \
                   WHERE t.post_id = {post_id} AND t.thread_top = TRUE AND t.created_at >= r.created_at \
                   AND (t.created_at > r.created_at OR t.id > r.id)) AS n \
                 FROM posts p \
                 JOIN comments a ON a.id = {id} AND a.post_id = p.id AND a.thread_root_id IS NOT NULL \
                 JOIN comments r ON r.id = a.thread_root_id \
                 WHERE p.id = {post_id}"
            ))
            .await?;
        match position {
            Some(Position { held: 0, n }) => Ok(Some(usize::try_from(n).unwrap_or_default())),
            Some(_) => threading_all().await,
            // Not in the public thread: perhaps one of the viewer's held comments.
            None if self.holds_for(post_id, viewer).await? => threading_all().await,
            None => Ok(None),
        }
    }

    /// Whether `viewer` has comments held for moderation under the post. They see those in
    /// the thread, where they can move other comments (a reply to a held comment is
    /// top-level for everyone else), so their thread is threaded whole; it is rare and brief.
    pub async fn holds_for(&self, post_id: i64, viewer: Option<i64>) -> Result<bool> {
        let Some(user_id) = viewer else {
            return Ok(false);
        };
        Ok(self
            .first::<Id>(&format!(
                "SELECT id FROM comments WHERE author_id = {user_id} AND post_id = {post_id} \
                 AND status = 'pending' LIMIT 1"
            ))
            .await?
            .is_some())
    }

    /// The page from every comment the viewer sees, threaded here: what the page was before
    /// the thread keys, for a reader with held comments.
    async fn thread_page_threading_all(
        &self,
        post_id: i64,
        viewer: Option<i64>,
        paging: ThreadPaging,
    ) -> Result<ThreadPage> {
        let all = self.thread_for(post_id, viewer).await?;
        let newest = all.iter().map(|c| c.created_at).max();
        let thread = build_thread(all.clone(), paging.max_depth);
        let conversations = thread.len() as u64;
        let per_page = usize::try_from(paging.per_page).unwrap_or(usize::MAX);
        let page = usize::try_from(paging.page.max(1)).unwrap_or(usize::MAX);
        let on_page = match per_page {
            0 => &thread[..],
            n => {
                let start = (page - 1).saturating_mul(n).min(thread.len());
                &thread[start..page.saturating_mul(n).min(thread.len())]
            }
        };
        let mut shown = std::collections::HashSet::new();
        let mut stack: Vec<&folio_domain::CommentNode> = on_page.iter().collect();
        while let Some(node) = stack.pop() {
            shown.insert(node.comment.id);
            stack.extend(node.children.iter());
        }
        Ok(ThreadPage {
            comments: all.into_iter().filter(|c| shown.contains(&c.id)).collect(),
            conversations,
            newest,
        })
    }

    async fn count(&self, sql: &str) -> Result<i64> {
        Ok(self.first::<Count>(sql).await?.map_or(0, |row| row.n))
    }

    async fn first<T: FromQueryResult>(&self, sql: &str) -> Result<Option<T>> {
        let row = self
            .db
            .query_one_raw(Statement::from_string(self.db_backend(), sql.to_owned()))
            .await?;
        Ok(row.map(|row| T::from_query_result(&row, "")).transpose()?)
    }

    async fn all<T: FromQueryResult>(&self, sql: &str) -> Result<Vec<T>> {
        let rows = self
            .db
            .query_all_raw(Statement::from_string(self.db_backend(), sql.to_owned()))
            .await?;
        Ok(rows
            .iter()
            .map(|row| T::from_query_result(row, ""))
            .collect::<std::result::Result<_, _>>()?)
    }
}

/// What placing a comment in its thread reads of it.
#[derive(Debug, FromQueryResult)]
struct Placement {
    id: i64,
    post_id: i64,
    parent_id: Option<i64>,
    status: String,
    thread_root_id: Option<i64>,
    thread_top: bool,
}

type ThreadKey = (Option<i64>, bool);

impl Placement {
    fn key(&self) -> ThreadKey {
        (self.thread_root_id, self.thread_top)
    }

    /// Where this comment belongs under a parent (on `parent_post`) whose conversation is
    /// `parent_root`: the rules of `build_thread`, for the public thread.
    fn key_under(&self, parent: Option<(i64, Option<i64>)>) -> ThreadKey {
        if self.status != "approved" {
            return (None, false);
        }
        match parent {
            Some((post, Some(root))) if post == self.post_id => (Some(root), false),
            _ => (Some(self.id), true),
        }
    }
}

async fn placements<C: ConnectionTrait>(db: &C, condition: &str) -> Result<Vec<Placement>> {
    let sql = format!(
        "SELECT id, post_id, parent_id, status, thread_root_id, thread_top FROM comments WHERE {condition}"
    );
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?;
    Ok(rows
        .iter()
        .map(|row| Placement::from_query_result(row, ""))
        .collect::<std::result::Result<_, _>>()?)
}

async fn set_key<C: ConnectionTrait>(db: &C, id: i64, (root, top): ThreadKey) -> Result<()> {
    let root = root.map_or_else(|| "NULL".to_owned(), |r| r.to_string());
    let top = if top { "TRUE" } else { "FALSE" };
    db.execute_unprepared(&format!(
        "UPDATE comments SET thread_root_id = {root}, thread_top = {top} WHERE id = {id}"
    ))
    .await?;
    Ok(())
}

/// Puts comment `id` where it now belongs in its post's thread, after it was written or its
/// status changed, and moves the replies that follow it (inside the caller's transaction).
/// A reply's place depends only on its own status and its parent's place, so the walk stops
/// at every reply whose place did not change: a new comment costs one read and one write.
pub(crate) async fn place_comment<C: ConnectionTrait>(db: &C, id: i64) -> Result<()> {
    let Some(comment) = placements(db, &format!("id = {id}")).await?.pop() else {
        return Ok(());
    };
    let parent = match comment.parent_id {
        Some(parent) if parent != comment.id => placements(db, &format!("id = {parent}"))
            .await?
            .pop()
            .map(|p| (p.post_id, p.thread_root_id)),
        _ => None,
    };
    let key = comment.key_under(parent);
    if key == comment.key() {
        return Ok(());
    }
    set_key(db, comment.id, key).await?;
    let mut moved = vec![(comment.id, comment.post_id, key.0)];
    while let Some((parent, post, root)) = moved.pop() {
        for reply in placements(db, &format!("parent_id = {parent} AND id <> {parent}")).await? {
            let key = reply.key_under(Some((post, root)));
            if key != reply.key() {
                set_key(db, reply.id, key).await?;
                moved.push((reply.id, reply.post_id, key.0));
            }
        }
    }
    Ok(())
}

/// What new comments change besides their own rows: their places in their threads, their
/// posts' counts. For a group written in one transaction, in the order written (a reply may
/// answer a comment of the same group): a new comment has no replies yet, so only its own
/// place is set, and the writes are a few statements for the whole group rather than
/// several per comment.
///
/// Returns, for each new top-level comment, the index of its conversation among its post's
/// top-level items, counted as if it came after every one already there: true of a comment
/// written now, not of an imported one with an older date.
pub(crate) async fn comments_written<C: ConnectionTrait>(
    db: &C,
    rows: &[crate::entities::comments::Model],
) -> Result<std::collections::HashMap<i64, u64>> {
    use std::collections::{BTreeMap, HashMap};
    use std::fmt::Write as _;

    let written: std::collections::HashSet<i64> = rows.iter().map(|row| row.id).collect();
    let outside: Vec<String> = rows
        .iter()
        .filter_map(|row| row.parent_id)
        .filter(|parent| !written.contains(parent))
        .map(|parent| parent.to_string())
        .collect();
    // Parents written before this group: (post, conversation) of each.
    let mut places: HashMap<i64, (i64, Option<i64>)> = HashMap::new();
    if !outside.is_empty() {
        for parent in placements(db, &format!("id IN ({})", outside.join(", "))).await? {
            places.insert(parent.id, (parent.post_id, parent.thread_root_id));
        }
    }
    let mut tops = Vec::new();
    let mut replies: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    let mut added: BTreeMap<i64, crate::comment_counts::Added> = BTreeMap::new();
    let mut new_tops = std::collections::HashSet::new();
    for row in rows {
        let placement = Placement {
            id: row.id,
            post_id: row.post_id,
            parent_id: row.parent_id,
            status: row.status.clone(),
            thread_root_id: None,
            thread_top: false,
        };
        let parent = row
            .parent_id
            .filter(|parent| *parent != row.id)
            .and_then(|parent| places.get(&parent).copied());
        let key = placement.key_under(parent);
        places.insert(row.id, (row.post_id, key.0));
        if key.1 {
            added.entry(row.post_id).or_default().tops += 1;
            new_tops.insert(row.id);
        }
        match key {
            (Some(_), true) => tops.push(row.id.to_string()),
            (Some(root), false) => replies.entry(root).or_default().push(row.id.to_string()),
            // Not in the public thread: the row's columns already say so.
            (None, _) => {}
        }
        if row.status == "approved" {
            added.entry(row.post_id).or_default().approved += 1;
        }
    }
    if !tops.is_empty() {
        db.execute_unprepared(&format!(
            "UPDATE comments SET thread_root_id = id, thread_top = TRUE WHERE id IN ({})",
            tops.join(", ")
        ))
        .await?;
    }
    if !replies.is_empty() {
        // One statement for every conversation the group answered, however many.
        let mut roots = String::from("CASE id");
        let mut ids = Vec::new();
        for (root, members) in &replies {
            for id in members {
                let _ = write!(roots, " WHEN {id} THEN {root}");
                ids.push(id.as_str());
            }
        }
        roots.push_str(" END");
        db.execute_unprepared(&format!(
            "UPDATE comments SET thread_root_id = {roots}, thread_top = FALSE WHERE id IN ({})",
            ids.join(", ")
        ))
        .await?;
    }
    let threads = crate::comment_counts::count_new_comments(db, &added).await?;
    // The group's top-level comments of a post are its last ones, in the order written.
    let mut after: HashMap<i64, u64> = HashMap::new();
    let mut indexes = HashMap::new();
    for row in rows.iter().rev() {
        if !new_tops.contains(&row.id) {
            continue;
        }
        let later = after.entry(row.post_id).or_default();
        if let Some(count) = threads.get(&row.post_id) {
            indexes.insert(row.id, count.saturating_sub(*later + 1));
        }
        *later += 1;
    }
    Ok(indexes)
}

/// A comment's status changed: its place and its post's count follow.
pub(crate) async fn status_changed<C: ConnectionTrait>(db: &C, id: i64) -> Result<()> {
    place_comment(db, id).await?;
    let posts = crate::comment_counts::posts_of_comments(db, &format!("id = {id}")).await?;
    crate::comment_counts::recount_comments(db, &posts).await
}

/// Places every approved comment that has no place yet (written in bulk by an import):
/// top-level ones first, then one level of replies per round.
pub(crate) async fn place_unplaced<C: ConnectionTrait>(db: &C) -> Result<()> {
    db.execute_unprepared(
        "UPDATE comments SET thread_root_id = id, thread_top = TRUE \
         WHERE status = 'approved' AND thread_root_id IS NULL AND (parent_id IS NULL OR parent_id = id \
         OR NOT EXISTS (SELECT 1 FROM comments p WHERE p.id = comments.parent_id \
           AND p.post_id = comments.post_id AND p.status = 'approved'))",
    )
    .await?;
    while db
        .execute_unprepared(
            "UPDATE comments SET thread_root_id = (\
               SELECT p.thread_root_id FROM comments p WHERE p.id = comments.parent_id) \
             WHERE status = 'approved' AND thread_root_id IS NULL AND EXISTS (\
               SELECT 1 FROM comments p WHERE p.id = comments.parent_id AND p.thread_root_id IS NOT NULL)",
        )
        .await?
        .rows_affected()
        > 0
    {}
    Ok(())
}
