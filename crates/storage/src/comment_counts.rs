//! "N thoughts on …" from a counter on the post (`posts.comment_count`: its approved,
//! not deleted comments), kept at write time, instead of counting a long thread's rows on
//! every page that shows the number; and `posts.thread_count` (its top-level items, see
//! `threads`), for where a comment sits in a long thread.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sea_orm::ConnectionTrait;

use crate::Result;

/// What a group of new comments adds to one post's counters.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Added {
    /// Approved comments ("N thoughts on …").
    pub approved: u64,
    /// Top-level items of the public thread.
    pub tops: u64,
}

/// New comments under these posts: one statement for all. Returns each post's count of
/// top-level items after it.
pub(crate) async fn count_new_comments<C: ConnectionTrait>(
    db: &C,
    added: &BTreeMap<i64, Added>,
) -> Result<BTreeMap<i64, u64>> {
    let counted: Vec<(&i64, &Added)> = added
        .iter()
        .filter(|(_, a)| a.approved > 0 || a.tops > 0)
        .collect();
    if counted.is_empty() {
        return Ok(BTreeMap::new());
    }
    let mut approved = String::from("CASE id");
    let mut tops = String::from("CASE id");
    let mut ids = Vec::with_capacity(counted.len());
    for (post_id, added) in counted {
        let _ = write!(approved, " WHEN {post_id} THEN {}", added.approved);
        let _ = write!(tops, " WHEN {post_id} THEN {}", added.tops);
        ids.push(post_id.to_string());
    }
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            format!(
                "UPDATE posts SET comment_count = comment_count + {approved} ELSE 0 END, \
                 thread_count = thread_count + {tops} ELSE 0 END WHERE id IN ({}) \
                 RETURNING id, thread_count",
                ids.join(", ")
            ),
        ))
        .await?;
    let mut threads = BTreeMap::new();
    for row in rows {
        let id: i64 = row.try_get("", "id")?;
        let count: i64 = row.try_get("", "thread_count")?;
        threads.insert(id, u64::try_from(count).unwrap_or(0));
    }
    Ok(threads)
}

/// Counts the comments of these posts again: after moderation or deletions, which are rare
/// and may change many comments at once.
pub(crate) async fn recount_comments<C: ConnectionTrait>(db: &C, post_ids: &[i64]) -> Result<()> {
    if post_ids.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = post_ids.iter().map(i64::to_string).collect();
    db.execute_unprepared(&format!("{RECOUNT} WHERE id IN ({})", ids.join(", ")))
        .await?;
    Ok(())
}

/// Counts every post's comments again (after an import wrote them as raw rows).
pub(crate) async fn recount_all_comments<C: ConnectionTrait>(db: &C) -> Result<()> {
    db.execute_unprepared(RECOUNT).await?;
    Ok(())
}

/// The posts of the comments matching `condition` (SQL from integers and fixed words).
pub(crate) async fn posts_of_comments<C: ConnectionTrait>(
    db: &C,
    condition: &str,
) -> Result<Vec<i64>> {
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            format!("SELECT DISTINCT post_id FROM comments WHERE {condition}"),
        ))
        .await?;
    Ok(rows
        .iter()
        .map(|row| row.try_get::<i64>("", "post_id"))
        .collect::<std::result::Result<_, _>>()?)
}

const RECOUNT: &str = "UPDATE posts SET comment_count = (SELECT COUNT(*) FROM comments c \
     WHERE c.post_id = posts.id AND c.status = 'approved' AND c.deleted_at IS NULL), \
     thread_count = (SELECT COUNT(*) FROM comments c WHERE c.post_id = posts.id AND c.thread_top = TRUE)";
