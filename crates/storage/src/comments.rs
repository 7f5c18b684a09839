use std::collections::HashMap;

use folio_domain::markdown::render_comment;
use folio_domain::{Comment, CommentRefusal, CommentStatus, PostKind};
use sea_orm::Condition;
use sea_orm::sea_query::{Alias, Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement,
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

/// A reader's comment once it is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredComment {
    pub id: i64,
    /// The index (from 0) of its conversation among the top-level items of the thread its
    /// author sees, when the writing already tells: a new top-level comment, by an author
    /// with nothing held for moderation under the post. Otherwise `Store::thread_position`.
    pub conversation_index: Option<u64>,
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
        let stored = self
            .create_comment_checked_notifying(new, html, checks, false, |_| Vec::new())
            .await?;
        Ok(stored.map(|comment| comment.id))
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
    ) -> Result<std::result::Result<StoredComment, CommentRefusal>> {
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
        let rows = insert_comments(&txn, rendered).await?;
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
/// Writes `batch` (each comment with its rendered HTML) in multi-row INSERTs and returns the
/// rows in the batch's order: one statement per few hundred comments instead of one each,
/// which is most of what a group of comments costs.
pub(crate) async fn insert_comments<C: ConnectionTrait>(
    db: &C,
    batch: Vec<(NewComment, String)>,
) -> Result<Vec<comments::Model>> {
    // 11 values a row: far under SQLite's 32766 and PostgreSQL's 65535 parameters.
    const ROWS: usize = 500;
    let mut written = Vec::with_capacity(batch.len());
    let mut batch = batch.into_iter().peekable();
    while batch.peek().is_some() {
        let chunk: Vec<comments::ActiveModel> = batch
            .by_ref()
            .take(ROWS)
            .map(|(new, html)| {
                let created = new.created_at.map_or_else(now, normalize_time);
                comments::ActiveModel {
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
            })
            .collect();
        let expected = chunk.len();
        let mut rows = comments::Entity::insert_many(chunk)
            .exec_with_returning(db)
            .await?;
        if rows.len() != expected {
            return Err(StorageError::unexpected(
                "comments",
                "id",
                "a batch insert returned fewer rows than it was given",
            ));
        }
        // Both databases number a multi-row INSERT's rows in the order of its VALUES; the
        // order RETURNING lists them in is not promised, so ids put them back in that order.
        rows.sort_unstable_by_key(|row| row.id);
        written.extend(rows);
    }
    Ok(written)
}

/// The limits [`Store::create_comment_checked`] applies: comments since `since` per user and
/// per network address (0: no limit).
#[derive(Debug, Clone, Copy)]
pub struct CommentChecks {
    pub since: OffsetDateTime,
    pub per_user: u32,
    pub per_address: u32,
}

/// What [`refusals`] found for a group of comments.
pub(crate) struct GroupChecks {
    /// Why each comment may not be written now, if it may not; in the group's order.
    pub refusals: Vec<Option<CommentRefusal>>,
    /// (author, post) where the author has comments held for moderation, those of the group
    /// included.
    pub holding: std::collections::HashSet<(i64, i64)>,
}

/// Why each comment of `group` may not be written now, if it may not, in the group's order:
/// one too many for the last minute from its author or its address (its `checks`), or the
/// same text its author already left under the post. Run inside the transaction that would
/// write the group, after the locks that keep its authors' other comments out (see
/// `comment_writer`). The group is checked as if its comments came one after another: each
/// also counts the ones before it that pass. Three reads for the whole group, not three per
/// comment.
pub(crate) async fn refusals(
    txn: &DatabaseTransaction,
    group: &[(&NewComment, CommentChecks)],
) -> Result<GroupChecks> {
    use std::collections::HashSet;

    let earliest = |limited: &dyn Fn(&CommentChecks) -> bool| {
        group
            .iter()
            .filter(|(_, checks)| limited(checks))
            .map(|(_, checks)| normalize_time(checks.since))
            .min()
    };
    let mut users: Vec<i64> = group
        .iter()
        .filter(|(_, checks)| checks.per_user > 0)
        .filter_map(|(new, _)| new.author_id)
        .collect();
    users.sort_unstable();
    users.dedup();
    let mut addresses: Vec<String> = group
        .iter()
        .filter(|(_, checks)| checks.per_address > 0)
        .filter_map(|(new, _)| new.author_ip.clone())
        .collect();
    addresses.sort_unstable();
    addresses.dedup();

    // When each author's and each address's recent comments were written. A limited author
    // has at most their limit of them, since any more were refused.
    let mut by_user: HashMap<i64, Vec<OffsetDateTime>> = HashMap::new();
    if let (Some(since), false) = (earliest(&|c| c.per_user > 0), users.is_empty()) {
        let rows: Vec<(Option<i64>, OffsetDateTime)> = comments::Entity::find()
            .select_only()
            .column(comments::Column::AuthorId)
            .column(comments::Column::CreatedAt)
            .filter(comments::Column::CreatedAt.gt(since))
            .filter(comments::Column::AuthorId.is_in(users))
            .into_tuple()
            .all(txn)
            .await?;
        for (user, at) in rows {
            if let Some(user) = user {
                by_user.entry(user).or_default().push(at);
            }
        }
    }
    let mut by_address: HashMap<String, Vec<OffsetDateTime>> = HashMap::new();
    if let (Some(since), false) = (earliest(&|c| c.per_address > 0), addresses.is_empty()) {
        let rows: Vec<(Option<String>, OffsetDateTime)> = comments::Entity::find()
            .select_only()
            .column(comments::Column::AuthorIp)
            .column(comments::Column::CreatedAt)
            .filter(comments::Column::CreatedAt.gt(since))
            .filter(comments::Column::AuthorIp.is_in(addresses))
            .into_tuple()
            .all(txn)
            .await?;
        for (address, at) in rows {
            if let Some(address) = address {
                by_address.entry(address).or_default().push(at);
            }
        }
    }

    // The texts its authors already left under these posts, to refuse a second copy.
    let signed: Vec<&NewComment> = group
        .iter()
        .map(|(new, _)| *new)
        .filter(|new| new.author_id.is_some())
        .collect();
    let mut left: HashSet<(i64, i64, String)> = HashSet::new();
    let mut holding: HashSet<(i64, i64)> = HashSet::new();
    if !signed.is_empty() {
        let mut authors: Vec<i64> = signed.iter().filter_map(|new| new.author_id).collect();
        authors.sort_unstable();
        authors.dedup();
        let mut posts: Vec<i64> = signed.iter().map(|new| new.post_id).collect();
        posts.sort_unstable();
        posts.dedup();
        let mut texts: Vec<&str> = signed.iter().map(|new| new.source.as_str()).collect();
        texts.sort_unstable();
        texts.dedup();
        // The same read finds the authors' held comments there: the thread they see differs.
        let rows: Vec<(Option<i64>, i64, String, String)> = comments::Entity::find()
            .select_only()
            .column(comments::Column::AuthorId)
            .column(comments::Column::PostId)
            .column(comments::Column::Source)
            .column(comments::Column::Status)
            .filter(comments::Column::AuthorId.is_in(authors))
            .filter(comments::Column::PostId.is_in(posts))
            .filter(
                Condition::any()
                    .add(comments::Column::Source.is_in(texts))
                    .add(comments::Column::Status.eq(CommentStatus::Pending.as_str())),
            )
            .filter(comments::Column::DeletedAt.is_null())
            .into_tuple()
            .all(txn)
            .await?;
        for (author, post, text, status) in rows {
            let Some(author) = author else { continue };
            if status == CommentStatus::Pending.as_str() {
                holding.insert((author, post));
            }
            left.insert((author, post, text));
        }
    }

    let mut outcomes = Vec::with_capacity(group.len());
    for (new, checks) in group {
        let since = normalize_time(checks.since);
        let recent = |times: Option<&Vec<OffsetDateTime>>| {
            times.map_or(0, |times| times.iter().filter(|at| **at > since).count())
        };
        let too_many_from_user = new.author_id.is_some_and(|user| {
            checks.per_user > 0
                && recent(by_user.get(&user)) >= usize::try_from(checks.per_user).unwrap_or(0)
        });
        let too_many_from_address = new.author_ip.as_ref().is_some_and(|address| {
            checks.per_address > 0
                && recent(by_address.get(address))
                    >= usize::try_from(checks.per_address).unwrap_or(0)
        });
        let duplicate = new
            .author_id
            .is_some_and(|user| left.contains(&(user, new.post_id, new.source.clone())));
        let outcome = if too_many_from_user || too_many_from_address {
            Some(CommentRefusal::TooFast)
        } else if duplicate {
            Some(CommentRefusal::Duplicate)
        } else {
            None
        };
        if outcome.is_none() {
            // Written in this transaction: the comments after it count it.
            let at = new.created_at.map_or_else(now, normalize_time);
            if let Some(user) = new.author_id {
                by_user.entry(user).or_default().push(at);
                left.insert((user, new.post_id, new.source.clone()));
                if new.status == CommentStatus::Pending {
                    holding.insert((user, new.post_id));
                }
            }
            if let Some(address) = &new.author_ip {
                by_address.entry(address.clone()).or_default().push(at);
            }
        }
        outcomes.push(outcome);
    }
    Ok(GroupChecks {
        refusals: outcomes,
        holding,
    })
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
