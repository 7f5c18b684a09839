use std::collections::HashMap;

use folio_domain::markdown::render_comment;
use folio_domain::{Comment, CommentRefusal, CommentStatus, PostKind};
use sea_orm::sea_query::{Alias, Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};
use time::OffsetDateTime;

use crate::comment_writer::{CommentWriter, PendingComment};
use crate::entities::{comments, posts, users};
use crate::posts::{PostLink, visible};
use crate::site::bump_content_version;
use crate::{Result, StorageError, Store, normalize_time, now};

#[derive(Debug, Clone)]
pub struct NewComment {
    pub post_id: i64,
    pub parent_id: Option<i64>,
    pub author_id: Option<i64>,
    /// Shown when the comment has no user (imported guests) or the user is gone.
    pub author_name: String,
    pub author_url: Option<String>,
    pub source: String,
    pub status: CommentStatus,
    pub created_at: Option<OffsetDateTime>,
    /// Kept for per-address rate limits and moderation; never shown to readers.
    pub author_ip: Option<String>,
}

impl Store {
    pub async fn create_comment(&self, new: NewComment) -> Result<Comment> {
        let mut created = self.create_comments(vec![new]).await?;
        created
            .pop()
            .ok_or_else(|| StorageError::unexpected("comments", "id", "vanished after insert"))
    }

    /// Writes a reader's comment unless, checked inside the same transaction, it is one too
    /// many for the last minute (`checks`) or the same text they already left under the post.
    /// The author's other comments are held back until this one is in (one writer per
    /// process, the write lock on SQLite, a row lock on the author across PostgreSQL
    /// processes): a burst of requests, or a double-clicked button, cannot all pass the
    /// checks before any is stored.
    pub async fn create_comment_checked(
        &self,
        new: NewComment,
        checks: CommentChecks,
    ) -> Result<std::result::Result<i64, CommentRefusal>> {
        let html = render_comment(&new.source);
        self.create_comment_checked_notifying(new, html, checks, false, |_| Vec::new())
            .await
    }

    /// [`Store::create_comment_checked`] for a comment already rendered (`html`, from its
    /// source, outside any transaction), and in the same transaction the emails about the
    /// comment (`mail` gets its id; see `folio_notification::plan_comment_mail`) and, when
    /// asked, the author's follow of the thread. A refused comment queues nothing. The
    /// comment joins others waiting to be written (see `comment_writer`); this returns once
    /// it is committed.
    pub async fn create_comment_checked_notifying(
        &self,
        new: NewComment,
        html: String,
        checks: CommentChecks,
        follow_thread: bool,
        mail: impl Fn(i64) -> Vec<crate::NewMail> + Send + Sync + 'static,
    ) -> Result<std::result::Result<i64, CommentRefusal>> {
        let writer = self
            .comment_writer
            .get_or_init(|| CommentWriter::start(self.db.clone(), self.backend));
        writer
            .write(PendingComment {
                new,
                html,
                checks,
                follow_thread,
                mail: Box::new(mail),
            })
            .await
    }

    /// Writes many comments in one transaction (imports, sample content). A comment's parent
    /// must already exist.
    pub async fn create_comments(&self, batch: Vec<NewComment>) -> Result<Vec<Comment>> {
        // Rendered before the transaction opens: on SQLite it holds the one write lock.
        let rendered: Vec<(NewComment, String)> = batch
            .into_iter()
            .map(|new| {
                let html = render_comment(&new.source);
                (new, html)
            })
            .collect();
        let txn = self.begin_write().await?;
        let mut rows = Vec::with_capacity(rendered.len());
        for (new, html) in rendered {
            rows.push(insert_comment(&txn, new, html).await?);
        }
        crate::threads::comments_written(&txn, &rows).await?;
        bump_content_version(&txn).await?;
        txn.commit().await?;
        self.comments_from_rows(rows).await
    }

    /// A post's approved comments, oldest first, ready for `build_thread`.
    pub async fn approved_comments(&self, post_id: i64) -> Result<Vec<Comment>> {
        self.comments_with_authors_where(
            &format!("c.post_id = {post_id} AND c.status = 'approved'"),
            "ORDER BY c.created_at, c.id",
        )
        .await
    }

    /// What one reader sees under a post: the approved comments and, when signed in, their
    /// own comments still awaiting moderation; oldest first.
    pub async fn thread_for(&self, post_id: i64, viewer: Option<i64>) -> Result<Vec<Comment>> {
        let condition = match viewer {
            Some(user_id) => format!(
                "c.post_id = {post_id} AND (c.status = 'approved' OR (c.status = 'pending' AND c.author_id = {user_id}))"
            ),
            None => format!("c.post_id = {post_id} AND c.status = 'approved'"),
        };
        self.comments_with_authors_where(&condition, "ORDER BY c.created_at, c.id")
            .await
    }

    pub async fn comment(&self, id: i64) -> Result<Option<Comment>> {
        Ok(self
            .comments_with_authors_where(&format!("c.id = {id}"), "")
            .await?
            .pop())
    }

    /// The Markdown a comment was written in, for its author's edit form.
    pub async fn comment_source(&self, id: i64) -> Result<Option<String>> {
        Ok(comments::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .map(|row| row.source))
    }

    /// Whether the user has a comment a moderator (or the policy) let through.
    pub async fn has_approved_comment(&self, user_id: i64) -> Result<bool> {
        Ok(comments::Entity::find()
            .filter(comments::Column::AuthorId.eq(user_id))
            .filter(comments::Column::Status.eq(CommentStatus::Approved.as_str()))
            .one(&self.db)
            .await?
            .is_some())
    }

    /// Replaces a comment's text (its author's edit) and its HTML, rendered from it.
    pub async fn edit_comment(&self, id: i64, source: &str, html: String) -> Result<()> {
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
        bump_content_version(&txn).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Deletes a comment for its author. One with replies stays as a "deleted" marker so
    /// the replies keep their place in the thread.
    pub async fn delete_comment(&self, id: i64) -> Result<()> {
        let txn = self.begin_write().await?;
        erase_comments(&txn, comments::Column::Id.eq(id)).await?;
        bump_content_version(&txn).await?;
        txn.commit().await?;
        Ok(())
    }

    /// A post's newest approved comments, newest first, for its comments feed.
    pub async fn latest_approved_comments(&self, post_id: i64, count: u64) -> Result<Vec<Comment>> {
        self.comments_with_authors_where(
            &format!("c.post_id = {post_id} AND c.status = 'approved' AND c.deleted_at IS NULL"),
            &format!("ORDER BY c.created_at DESC, c.id DESC LIMIT {count}"),
        )
        .await
    }

    /// Comments with their authors' current names and avatars, in one query. `condition` and
    /// `order` are SQL built only from integers and fixed words, never from input text.
    pub(crate) async fn comments_with_authors_where(
        &self,
        condition: &str,
        order: &str,
    ) -> Result<Vec<Comment>> {
        let sql = format!(
            "SELECT c.id, c.post_id, c.parent_id, c.author_id, c.author_name, c.author_url, c.source, c.html, \
             c.status, c.created_at, c.updated_at, c.author_ip, c.edited_at, c.deleted_at, c.keeps_author_name, c.thread_root_id, c.thread_top, u.display_name AS user_name, u.avatar_url AS user_avatar \
             FROM comments c LEFT JOIN users u ON u.id = c.author_id WHERE {condition} {order}"
        );
        let rows = self
            .db
            .query_all_raw(Statement::from_string(self.db_backend(), sql))
            .await?;
        rows.iter()
            .map(|row| {
                let comment = comments::Model::from_query_result(row, "")?;
                let user_name: Option<String> = row.try_get("", "user_name")?;
                let user_avatar: Option<String> = row.try_get("", "user_avatar")?;
                comment_from_row(comment, user_name, user_avatar)
            })
            .collect()
    }

    /// The newest approved comments on published posts, newest first, each with a link to its
    /// post: the site-wide comments feed.
    pub async fn recent_approved_comments(&self, count: u64) -> Result<Vec<(Comment, PostLink)>> {
        let rows = comments::Entity::find()
            .filter(comments::Column::Status.eq(CommentStatus::Approved.as_str()))
            .filter(comments::Column::DeletedAt.is_null())
            .filter(
                comments::Column::PostId.in_subquery(
                    sea_orm::sea_query::Query::select()
                        .column(posts::Column::Id)
                        .from(posts::Entity)
                        .cond_where(visible(PostKind::Post))
                        // Their comments are behind the password too.
                        .cond_where(crate::posts::unprotected())
                        .to_owned(),
                ),
            )
            .order_by_desc(comments::Column::CreatedAt)
            .order_by_desc(comments::Column::Id)
            .limit(count)
            .all(&self.db)
            .await?;
        let mut post_ids: Vec<i64> = rows.iter().map(|r| r.post_id).collect();
        post_ids.sort_unstable();
        post_ids.dedup();
        let links = self.post_links_by_id(&post_ids).await?;
        let comments = self.comments_from_rows(rows).await?;
        Ok(comments
            .into_iter()
            .filter_map(|c| links.get(&c.post_id).cloned().map(|link| (c, link)))
            .collect())
    }

    pub(crate) async fn comments_from_rows(
        &self,
        rows: Vec<comments::Model>,
    ) -> Result<Vec<Comment>> {
        let mut author_ids: Vec<i64> = rows.iter().filter_map(|r| r.author_id).collect();
        author_ids.sort_unstable();
        author_ids.dedup();
        let authors: HashMap<i64, users::Model> = if author_ids.is_empty() {
            HashMap::new()
        } else {
            users::Entity::find()
                .filter(users::Column::Id.is_in(author_ids))
                .all(&self.db)
                .await?
                .into_iter()
                .map(|u| (u.id, u))
                .collect()
        };
        rows.into_iter()
            .map(|row| {
                let author = row.author_id.and_then(|id| authors.get(&id));
                let name = author.map(|a| a.display_name.clone());
                let avatar = author.and_then(|a| a.avatar_url.clone());
                comment_from_row(row, name, avatar)
            })
            .collect()
    }
}

/// Inserts one comment with its HTML (inside the caller's transaction). Its place in the
/// thread and its post's count follow from `threads::comments_written`, called once the
/// caller's comments are all in.
pub(crate) async fn insert_comment<C: ConnectionTrait>(
    db: &C,
    new: NewComment,
    html: String,
) -> Result<comments::Model> {
    let created = new.created_at.map_or_else(now, normalize_time);
    let row = comments::ActiveModel {
        post_id: Set(new.post_id),
        parent_id: Set(new.parent_id),
        author_id: Set(new.author_id),
        author_name: Set(new.author_name),
        author_url: Set(new.author_url),
        author_ip: Set(new.author_ip),
        html: Set(html),
        source: Set(new.source),
        status: Set(new.status.as_str().to_owned()),
        created_at: Set(created),
        updated_at: Set(created),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(row)
}

/// The limits [`Store::create_comment_checked`] applies: comments since `since` per user and
/// per network address (0: no limit).
#[derive(Debug, Clone, Copy)]
pub struct CommentChecks {
    pub since: OffsetDateTime,
    pub per_user: u32,
    pub per_address: u32,
}

#[derive(Debug, Clone, Copy)]
enum CommentAuthorKey<'a> {
    User(i64),
    Address(&'a str),
}

/// Why `new` may not be written now, if it may not: one too many for the last minute from
/// its author or its address (`checks`), or the same text its author already left under the
/// post. Run inside the transaction that would write it, after the locks that keep the
/// author's other comments out (see `comment_writer`), so it also sees the comments written
/// before it in that transaction.
pub(crate) async fn refusal(
    txn: &DatabaseTransaction,
    new: &NewComment,
    checks: CommentChecks,
) -> Result<Option<CommentRefusal>> {
    // Counting stops at the limit: a busy address costs no more than a quiet one.
    let recent = |key: CommentAuthorKey<'_>, limit: u32| {
        let query = comments::Entity::find()
            .filter(comments::Column::CreatedAt.gt(normalize_time(checks.since)))
            .limit(u64::from(limit));
        match key {
            CommentAuthorKey::User(id) => query.filter(comments::Column::AuthorId.eq(id)),
            CommentAuthorKey::Address(ip) => {
                query.filter(comments::Column::AuthorIp.eq(ip.to_owned()))
            }
        }
    };
    if let Some(user_id) = new.author_id
        && checks.per_user > 0
        && recent(CommentAuthorKey::User(user_id), checks.per_user)
            .count(txn)
            .await?
            >= u64::from(checks.per_user)
    {
        return Ok(Some(CommentRefusal::TooFast));
    }
    if let Some(address) = new.author_ip.as_deref()
        && checks.per_address > 0
        && recent(CommentAuthorKey::Address(address), checks.per_address)
            .count(txn)
            .await?
            >= u64::from(checks.per_address)
    {
        return Ok(Some(CommentRefusal::TooFast));
    }
    if let Some(user_id) = new.author_id {
        let duplicate = comments::Entity::find()
            .filter(comments::Column::AuthorId.eq(user_id))
            .filter(comments::Column::PostId.eq(new.post_id))
            .filter(comments::Column::Source.eq(new.source.as_str()))
            .filter(comments::Column::DeletedAt.is_null())
            .one(txn)
            .await?
            .is_some();
        if duplicate {
            return Ok(Some(CommentRefusal::Duplicate));
        }
    }
    Ok(None)
}

/// Removes the comments matching `which`: those with replies become markers, the rest go.
pub(crate) async fn erase_comments<C: ConnectionTrait>(
    db: &C,
    which: sea_orm::sea_query::SimpleExpr,
) -> Result<()> {
    let at = now();
    let posts: Vec<i64> = comments::Entity::find()
        .select_only()
        .column(comments::Column::PostId)
        .distinct()
        .filter(which.clone())
        .into_tuple::<i64>()
        .all(db)
        .await?;
    let has_replies = Expr::exists(
        sea_orm::sea_query::Query::select()
            .expr(Expr::val(1))
            .from_as(comments::Entity, Alias::new("r"))
            .and_where(
                Expr::col((Alias::new("r"), comments::Column::ParentId))
                    .equals((comments::Entity, comments::Column::Id)),
            )
            .to_owned(),
    );
    comments::Entity::update_many()
        .col_expr(comments::Column::Source, Expr::value(""))
        .col_expr(comments::Column::Html, Expr::value(""))
        .col_expr(comments::Column::AuthorId, Expr::value(Option::<i64>::None))
        .col_expr(comments::Column::AuthorName, Expr::value(""))
        .col_expr(
            comments::Column::AuthorUrl,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            comments::Column::AuthorIp,
            Expr::value(Option::<String>::None),
        )
        .col_expr(comments::Column::DeletedAt, Expr::value(at))
        .col_expr(comments::Column::UpdatedAt, Expr::value(at))
        .filter(which.clone())
        .filter(has_replies.clone())
        .exec(db)
        .await?;
    comments::Entity::delete_many()
        .filter(which)
        .filter(comments::Column::DeletedAt.is_null())
        .filter(has_replies.not())
        .exec(db)
        .await?;
    crate::comment_counts::recount_comments(db, &posts).await
}

/// A comment as readers see it: under its author's current name, or the name it was left
/// with when it has no (remaining) user or keeps that name (an imported comment: its
/// commenter may share a guest account with others who signed differently).
fn comment_from_row(
    row: comments::Model,
    user_name: Option<String>,
    user_avatar: Option<String>,
) -> Result<Comment> {
    Ok(Comment {
        id: row.id,
        post_id: row.post_id,
        parent_id: row.parent_id,
        author_id: row.author_id,
        author_name: match user_name {
            Some(name) if !row.keeps_author_name => name,
            _ => row.author_name,
        },
        author_url: row.author_url,
        author_avatar: user_avatar,
        html: row.html,
        status: CommentStatus::parse(&row.status)
            .ok_or_else(|| StorageError::unexpected("comments", "status", &row.status))?,
        created_at: row.created_at,
        edited_at: row.edited_at,
        deleted: row.deleted_at.is_some(),
    })
}
