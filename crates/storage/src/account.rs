//! What a reader can do with their own account: see everything kept about them, and leave.

use folio_domain::Comment;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Statement};

use crate::comments::erase_comments;
use crate::entities::{comments, posts, sessions, users};
use crate::posts::PostLink;
use crate::site::bump_content_version;
use crate::{Result, StorageError, Store};

/// What happens to a leaving reader's comments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeavingComments {
    /// They stay, signed "Deleted user".
    Keep,
    /// They go (those with replies stay as "deleted" markers so the replies keep their place).
    Remove,
}

impl Store {
    /// Every comment the user wrote, newest first, with its post.
    pub async fn comments_by_user(&self, user_id: i64) -> Result<Vec<(Comment, PostLink)>> {
        let comments = self
            .comments_with_authors_where(
                &format!("c.author_id = {user_id}"),
                "ORDER BY c.created_at DESC, c.id DESC",
            )
            .await?;
        let mut post_ids: Vec<i64> = comments.iter().map(|c| c.post_id).collect();
        post_ids.sort_unstable();
        post_ids.dedup();
        let links = self.post_links_by_id(&post_ids).await?;
        Ok(comments
            .into_iter()
            .filter_map(|c| links.get(&c.post_id).cloned().map(|link| (c, link)))
            .collect())
    }

    /// The posts the user liked.
    pub async fn liked_posts(&self, user_id: i64) -> Result<Vec<PostLink>> {
        let sql = format!("SELECT post_id FROM post_likes WHERE user_id = {user_id}");
        let rows = self
            .db
            .query_all_raw(Statement::from_string(self.db_backend(), sql))
            .await?;
        let ids = rows
            .iter()
            .map(|row| row.try_get::<i64>("", "post_id"))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(self.post_links_by_id(&ids).await?.into_values().collect())
    }

    /// Deletes the account, its identities, likes and sessions. Refused for someone who
    /// wrote posts: those need a new author first.
    pub async fn delete_account(
        &self,
        user_id: i64,
        comments_choice: LeavingComments,
    ) -> Result<()> {
        let txn = self.begin_write().await?;
        crate::users::refuse_last_admin(&txn, user_id).await?;
        let wrote_posts = posts::Entity::find()
            .filter(posts::Column::AuthorId.eq(user_id))
            .one(&txn)
            .await?
            .is_some();
        if wrote_posts {
            return Err(StorageError::AuthorHasPosts);
        }
        match comments_choice {
            LeavingComments::Keep => {
                comments::Entity::update_many()
                    .col_expr(comments::Column::AuthorId, Expr::value(Option::<i64>::None))
                    .col_expr(comments::Column::AuthorName, Expr::value("Deleted user"))
                    .col_expr(
                        comments::Column::AuthorUrl,
                        Expr::value(Option::<String>::None),
                    )
                    .col_expr(
                        comments::Column::AuthorIp,
                        Expr::value(Option::<String>::None),
                    )
                    .filter(comments::Column::AuthorId.eq(user_id))
                    .exec(&txn)
                    .await?;
            }
            LeavingComments::Remove => {
                erase_comments(&txn, comments::Column::AuthorId.eq(user_id)).await?;
            }
        }
        sessions::Entity::delete_many()
            .filter(sessions::Column::UserId.eq(user_id))
            .exec(&txn)
            .await?;
        users::Entity::delete_by_id(user_id).exec(&txn).await?;
        bump_content_version(&txn).await?;
        txn.commit().await?;
        Ok(())
    }
}
