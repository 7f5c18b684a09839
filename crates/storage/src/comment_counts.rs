//! "N thoughts on …" from a counter on the post (`posts.comment_count`: its approved,
//! not deleted comments), kept at write time, instead of counting a long thread's rows on
//! every page that shows the number.

use sea_orm::ConnectionTrait;

use crate::Result;

/// One more approved comment under the post (a new one, written approved).
pub(crate) async fn count_new_comments<C: ConnectionTrait>(
    db: &C,
    post_id: i64,
    approved: u64,
) -> Result<()> {
    if approved > 0 {
        db.execute_unprepared(&format!(
            "UPDATE posts SET comment_count = comment_count + {approved} WHERE id = {post_id}"
        ))
        .await?;
    }
    Ok(())
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
     WHERE c.post_id = posts.id AND c.status = 'approved' AND c.deleted_at IS NULL)";
