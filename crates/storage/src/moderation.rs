//! The moderation queue, and what moderators do to comments and to the people who write them:
//! approve, spam, trash, restore, edit, reply, ban, change role. Each change is one
//! transaction with its audit-log line.

use std::collections::HashMap;

use folio_domain::{CommentStatus, PageNumber, Paginated, Role, User};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use time::OffsetDateTime;

use crate::audit::record;
use crate::entities::{comments, posts, users};
use crate::site::bump_content_version;
use crate::users::{refuse_last_admin, user_from_row};
use crate::{Result, StorageError, Store, now};

/// A comment in the moderation queue, with what the moderator needs beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedComment {
    pub id: i64,
    pub post_id: i64,
    pub post_title: String,
    pub post_author_id: i64,
    pub author_id: Option<i64>,
    pub author_name: String,
    pub author_ip: Option<String>,
    pub source: String,
    pub html: String,
    pub status: CommentStatus,
    pub created_at: OffsetDateTime,
}

impl Store {
    /// One page of comments in `status`, newest first; `post_author`: only comments on that
    /// author's posts.
    pub async fn moderation_queue(
        &self,
        status: CommentStatus,
        post_author: Option<i64>,
        page: PageNumber,
        per_page: u32,
    ) -> Result<Paginated<QueuedComment>> {
        let mut select = comments::Entity::find()
            .filter(comments::Column::Status.eq(status.as_str()))
            .filter(comments::Column::DeletedAt.is_null());
        if let Some(author) = post_author {
            select = select.filter(
                comments::Column::PostId.in_subquery(
                    sea_orm::sea_query::Query::select()
                        .column(posts::Column::Id)
                        .from(posts::Entity)
                        .and_where(posts::Column::AuthorId.eq(author))
                        .to_owned(),
                ),
            );
        }
        let total = select.clone().count(&self.db).await?;
        let rows = select
            .order_by_desc(comments::Column::CreatedAt)
            .order_by_desc(comments::Column::Id)
            .offset(page.offset(per_page))
            .limit(u64::from(per_page))
            .all(&self.db)
            .await?;
        let items = self.queued(rows).await?;
        Ok(Paginated {
            items,
            page,
            per_page,
            total,
        })
    }

    /// One comment as the queue shows it.
    pub async fn queued_comment(&self, id: i64) -> Result<Option<QueuedComment>> {
        let rows = comments::Entity::find_by_id(id).all(&self.db).await?;
        Ok(self.queued(rows).await?.pop())
    }

    async fn queued(&self, rows: Vec<comments::Model>) -> Result<Vec<QueuedComment>> {
        let mut post_ids: Vec<i64> = rows.iter().map(|r| r.post_id).collect();
        post_ids.sort_unstable();
        post_ids.dedup();
        let posts_by_id: HashMap<i64, (String, i64)> = posts::Entity::find()
            .filter(posts::Column::Id.is_in(post_ids))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|p| (p.id, (p.title, p.author_id)))
            .collect();
        let names = self
            .display_names(rows.iter().filter_map(|r| r.author_id).collect())
            .await?;
        rows.into_iter()
            .map(|row| {
                let (post_title, post_author_id) = posts_by_id
                    .get(&row.post_id)
                    .cloned()
                    .ok_or_else(|| StorageError::unexpected("comments", "post_id", "missing"))?;
                Ok(QueuedComment {
                    id: row.id,
                    post_id: row.post_id,
                    post_title,
                    post_author_id,
                    author_name: row
                        .author_id
                        .filter(|_| !row.keeps_author_name)
                        .and_then(|id| names.get(&id).cloned())
                        .unwrap_or(row.author_name),
                    author_id: row.author_id,
                    author_ip: row.author_ip,
                    source: row.source,
                    html: row.html,
                    status: CommentStatus::parse(&row.status).ok_or_else(|| {
                        StorageError::unexpected("comments", "status", &row.status)
                    })?,
                    created_at: row.created_at,
                })
            })
            .collect()
    }

    /// Moves comments to `status` (approve, spam, trash, hold). `mail` plans the emails of a
    /// comment this approves (see [`crate::mail::queue_comment_mail`]); they are queued in
    /// the same transaction, and only for a comment whose status this changed.
    pub async fn set_comments_status(
        &self,
        actor: &User,
        ids: &[i64],
        status: CommentStatus,
        mail: impl Fn(i64) -> Vec<crate::NewMail>,
    ) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let txn = self.begin_write().await?;
        for &id in ids {
            let changed = comments::Entity::update_many()
                .col_expr(comments::Column::Status, Expr::value(status.as_str()))
                .col_expr(comments::Column::UpdatedAt, Expr::value(now()))
                .filter(comments::Column::Id.eq(id))
                .filter(comments::Column::Status.ne(status.as_str()))
                .exec(&txn)
                .await?;
            if changed.rows_affected == 1 {
                crate::threads::status_changed(&txn, id).await?;
            }
            if changed.rows_affected == 1 && status == CommentStatus::Approved {
                crate::mail::queue_comment_mail(&txn, mail(id)).await?;
            }
            record(
                &txn,
                actor,
                &format!("comment.{}", status.as_str()),
                &format!("comment {id}"),
                "",
            )
            .await?;
        }
        bump_content_version(&txn).await?;
        txn.commit().await?;
        Ok(())
    }

    /// A moderator's change to someone's comment (`html` rendered from `source`), logged in
    /// the same transaction.
    pub async fn moderator_edit_comment(
        &self,
        actor: &User,
        id: i64,
        source: &str,
        html: String,
    ) -> Result<()> {
        let txn = self.begin_write().await?;
        let at = now();
        comments::Entity::update_many()
            .col_expr(comments::Column::Source, Expr::value(source))
            .col_expr(comments::Column::Html, Expr::value(html))
            .col_expr(comments::Column::EditedAt, Expr::value(at))
            .col_expr(comments::Column::UpdatedAt, Expr::value(at))
            .filter(comments::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        record(&txn, actor, "comment.edit", &format!("comment {id}"), "").await?;
        bump_content_version(&txn).await?;
        txn.commit().await?;
        Ok(())
    }

    /// A moderator's answer (`html` rendered from `source`), shown at once, logged in the
    /// same transaction.
    pub async fn moderator_reply(
        &self,
        actor: &User,
        parent: &QueuedComment,
        source: &str,
        html: String,
        mail: impl FnOnce(i64) -> Vec<crate::NewMail>,
    ) -> Result<i64> {
        let txn = self.begin_write().await?;
        let at = now();
        let row = comments::ActiveModel {
            post_id: Set(parent.post_id),
            parent_id: Set(Some(parent.id)),
            author_id: Set(Some(actor.id)),
            author_name: Set(actor.display_name.clone()),
            author_url: Set(None),
            author_ip: Set(None),
            html: Set(html),
            source: Set(source.to_owned()),
            status: Set(CommentStatus::Approved.as_str().to_owned()),
            created_at: Set(at),
            updated_at: Set(at),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        crate::threads::comments_written(&txn, std::slice::from_ref(&row)).await?;
        record(
            &txn,
            actor,
            "comment.reply",
            &format!("comment {}", row.id),
            &format!("in reply to comment {}", parent.id),
        )
        .await?;
        crate::mail::queue_comment_mail(&txn, mail(row.id)).await?;
        bump_content_version(&txn).await?;
        txn.commit().await?;
        Ok(row.id)
    }

    /// Bans a user until `until` (None: until lifted); their held comments go to spam.
    pub async fn ban_user(
        &self,
        actor: &User,
        user_id: i64,
        reason: &str,
        until: Option<OffsetDateTime>,
    ) -> Result<()> {
        let txn = self.begin_write().await?;
        refuse_last_admin(&txn, user_id).await?;
        let at = now();
        users::Entity::update_many()
            .col_expr(users::Column::BannedAt, Expr::value(at))
            .col_expr(
                users::Column::BannedUntil,
                Expr::value(until.map(crate::normalize_time)),
            )
            .col_expr(users::Column::BanReason, Expr::value(reason))
            .filter(users::Column::Id.eq(user_id))
            .exec(&txn)
            .await?;
        comments::Entity::update_many()
            .col_expr(
                comments::Column::Status,
                Expr::value(CommentStatus::Spam.as_str()),
            )
            .col_expr(comments::Column::UpdatedAt, Expr::value(at))
            .filter(comments::Column::AuthorId.eq(user_id))
            .filter(comments::Column::Status.eq(CommentStatus::Pending.as_str()))
            .exec(&txn)
            .await?;
        let detail = match until {
            Some(until) => format!("{reason} (until {until})"),
            None => reason.to_owned(),
        };
        record(&txn, actor, "user.ban", &format!("user {user_id}"), &detail).await?;
        bump_content_version(&txn).await?;
        txn.commit().await?;
        Ok(())
    }

    pub async fn unban_user(&self, actor: &User, user_id: i64) -> Result<()> {
        let txn = self.begin_write().await?;
        users::Entity::update_many()
            .col_expr(
                users::Column::BannedAt,
                Expr::value(Option::<OffsetDateTime>::None),
            )
            .col_expr(
                users::Column::BannedUntil,
                Expr::value(Option::<OffsetDateTime>::None),
            )
            .col_expr(
                users::Column::BanReason,
                Expr::value(Option::<String>::None),
            )
            .filter(users::Column::Id.eq(user_id))
            .exec(&txn)
            .await?;
        record(&txn, actor, "user.unban", &format!("user {user_id}"), "").await?;
        txn.commit().await?;
        Ok(())
    }

    /// An admin's change of someone's role.
    pub async fn change_role(&self, actor: &User, user_id: i64, role: Role) -> Result<User> {
        let txn = self.begin_write().await?;
        if role != Role::Admin {
            refuse_last_admin(&txn, user_id).await?;
        }
        users::Entity::update_many()
            .col_expr(users::Column::Role, Expr::value(role.as_str()))
            .filter(users::Column::Id.eq(user_id))
            .exec(&txn)
            .await?;
        record(
            &txn,
            actor,
            "user.role",
            &format!("user {user_id}"),
            role.as_str(),
        )
        .await?;
        let row = users::Entity::find_by_id(user_id)
            .one(&txn)
            .await?
            .ok_or_else(|| StorageError::UnknownUser(user_id.to_string()))?;
        txn.commit().await?;
        user_from_row(row)
    }

    /// Users, newest first, a page at a time.
    pub async fn users_page(&self, page: PageNumber, per_page: u32) -> Result<Paginated<User>> {
        let total = users::Entity::find().count(&self.db).await?;
        let items = users::Entity::find()
            .order_by_desc(users::Column::Id)
            .offset(page.offset(per_page))
            .limit(u64::from(per_page))
            .all(&self.db)
            .await?
            .into_iter()
            .map(user_from_row)
            .collect::<Result<_>>()?;
        Ok(Paginated {
            items,
            page,
            per_page,
            total,
        })
    }
}
