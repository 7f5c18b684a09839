use std::collections::{HashMap, HashSet};

use sea_orm::{ConnectionTrait, Statement};

use crate::site::bump_content_version;
use crate::{Result, Store, now};

/// "N bloggers like this": how many, and the first few, oldest like first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Likes {
    pub count: u64,
    pub first: Vec<Liker>,
    /// Whether the person looking has liked it.
    pub by_viewer: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Liker {
    pub user_id: i64,
    pub display_name: String,
    pub avatar_url: Option<String>,
}

impl Store {
    /// Likes the post for this user, or takes the like back; returns whether it is liked now.
    pub async fn toggle_post_like(&self, post_id: i64, user_id: i64) -> Result<bool> {
        self.toggle_like(("post_likes", "post_id"), post_id, user_id)
            .await
    }

    pub async fn toggle_comment_like(&self, comment_id: i64, user_id: i64) -> Result<bool> {
        self.toggle_like(("comment_likes", "comment_id"), comment_id, user_id)
            .await
    }

    /// `table` and `column` are fixed names from this file; the ids are integers.
    async fn toggle_like(
        &self,
        (table, column): (&str, &str),
        target: i64,
        user_id: i64,
    ) -> Result<bool> {
        let backend = self.db_backend();
        let txn = self.begin_write().await?;
        let removed = txn
            .execute_unprepared(&format!(
                "DELETE FROM {table} WHERE {column} = {target} AND user_id = {user_id}"
            ))
            .await?
            .rows_affected();
        if removed == 0 {
            let placeholder = match backend {
                sea_orm::DbBackend::Postgres => "$1",
                _ => "?",
            };
            // Two clicks racing: the second insert finds the first and does nothing.
            txn.execute_raw(Statement::from_sql_and_values(
                backend,
                format!(
                    "INSERT INTO {table} ({column}, user_id, created_at) VALUES ({target}, {user_id}, {placeholder}) \
                     ON CONFLICT DO NOTHING"
                ),
                [now().into()],
            ))
            .await?;
        }
        bump_content_version(&txn).await?;
        txn.commit().await?;
        Ok(removed == 0)
    }

    /// A post's likes with the first `shown` likers, and whether `viewer` is among all of them.
    pub async fn post_likes(&self, post_id: i64, shown: u64, viewer: Option<i64>) -> Result<Likes> {
        let count_sql = format!("SELECT COUNT(*) AS n FROM post_likes WHERE post_id = {post_id}");
        let count: i64 = match self
            .db
            .query_one_raw(Statement::from_string(self.db_backend(), count_sql))
            .await?
        {
            Some(row) => row.try_get("", "n")?,
            None => 0,
        };
        if count == 0 {
            return Ok(Likes::default());
        }
        let first_sql = format!(
            "SELECT u.id, u.display_name, u.avatar_url FROM post_likes l JOIN users u ON u.id = l.user_id \
             WHERE l.post_id = {post_id} ORDER BY l.created_at, l.user_id LIMIT {shown}"
        );
        let rows = self
            .db
            .query_all_raw(Statement::from_string(self.db_backend(), first_sql))
            .await?;
        let first = rows
            .iter()
            .map(|row| {
                Ok(Liker {
                    user_id: row.try_get("", "id")?,
                    display_name: row.try_get("", "display_name")?,
                    avatar_url: row.try_get("", "avatar_url")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let by_viewer = match viewer {
            Some(user_id) => self
                .db
                .query_one_raw(Statement::from_string(
                    self.db_backend(),
                    format!(
                        "SELECT 1 AS liked FROM post_likes WHERE post_id = {post_id} AND user_id = {user_id}"
                    ),
                ))
                .await?
                .is_some(),
            None => false,
        };
        Ok(Likes {
            count: u64::try_from(count).unwrap_or_default(),
            first,
            by_viewer,
        })
    }

    /// Like counts of the comments `ids` (one page of a thread), and which of them `viewer`
    /// liked: a long thread's likes are not all read to show fifty conversations.
    pub async fn comment_likes(
        &self,
        ids: &[i64],
        viewer: Option<i64>,
    ) -> Result<(HashMap<i64, u64>, HashSet<i64>)> {
        if ids.is_empty() {
            return Ok((HashMap::new(), HashSet::new()));
        }
        let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
        self.comment_likes_where(&format!("l.comment_id IN ({})", ids.join(", ")), viewer)
            .await
    }

    /// The comments under a post that `user_id` liked: read from the reader's own likes, so
    /// that it costs the same on a post with ten thousand comments.
    pub async fn comments_liked_by(&self, post_id: i64, user_id: i64) -> Result<HashSet<i64>> {
        let sql = format!(
            "SELECT l.comment_id FROM comment_likes l JOIN comments c ON c.id = l.comment_id \
             WHERE l.user_id = {user_id} AND c.post_id = {post_id}"
        );
        let rows = self
            .db
            .query_all_raw(Statement::from_string(self.db_backend(), sql))
            .await?;
        rows.iter()
            .map(|row| Ok(row.try_get::<i64>("", "comment_id")?))
            .collect()
    }

    /// `condition` is SQL built only from integers and fixed words.
    async fn comment_likes_where(
        &self,
        condition: &str,
        viewer: Option<i64>,
    ) -> Result<(HashMap<i64, u64>, HashSet<i64>)> {
        let sql = format!(
            "SELECT l.comment_id, COUNT(*) AS n, MAX(CASE WHEN l.user_id = {viewer} THEN 1 ELSE 0 END) AS mine \
             FROM comment_likes l WHERE {condition} GROUP BY l.comment_id",
            viewer = viewer.unwrap_or(0),
        );
        let rows = self
            .db
            .query_all_raw(Statement::from_string(self.db_backend(), sql))
            .await?;
        let mut counts = HashMap::new();
        let mut mine = HashSet::new();
        for row in rows {
            let comment_id: i64 = row.try_get("", "comment_id")?;
            let n: i64 = row.try_get("", "n")?;
            let liked: i32 = row.try_get("", "mine")?;
            counts.insert(comment_id, u64::try_from(n).unwrap_or_default());
            if liked == 1 {
                mine.insert(comment_id);
            }
        }
        Ok((counts, mine))
    }
}
