//! The mail outbox, thread follows and blog subscribers.
//!
//! Outbox rows are written in the same transaction as what they tell of (see
//! `create_comment_with_notifications`), so a comment is never saved without its emails nor
//! an email queued for a comment that was rolled back. Workers claim due rows under a lease:
//! `FOR UPDATE SKIP LOCKED` on PostgreSQL, SQLite's single writer elsewhere; a worker that
//! dies leaves its rows to be claimed again once the lease runs out.

use folio_domain::CommentStatus;
use folio_domain::notifications::Person;
use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement, Value};
use time::OffsetDateTime;

use crate::raw::statement;
use crate::{Result, Store, now};

/// One email to queue, as the caller decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMail {
    /// Which message: `reply`, `follow`, `new_comment`, `moderation`, `new_post`,
    /// `confirm_blog`, `test`.
    pub kind: String,
    pub recipient: String,
    pub user_id: Option<i64>,
    pub post_id: Option<i64>,
    pub comment_id: Option<i64>,
    /// JSON: what the message's template needs.
    pub payload: String,
    /// One row per key: a second row for the same person and event is not queued.
    pub dedupe_key: String,
}

/// A row a worker holds under its lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedMail {
    pub id: i64,
    pub kind: String,
    pub recipient: String,
    pub user_id: Option<i64>,
    pub post_id: Option<i64>,
    pub comment_id: Option<i64>,
    pub payload: String,
    /// Attempts before this one.
    pub attempts: i32,
    pub unsubscribe_token: String,
    /// Moderation emails: the token of their Approve / Spam / Trash links.
    pub action_token: Option<String>,
}

/// A row that will not be sent again unless retried by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedMail {
    pub id: i64,
    pub kind: String,
    pub recipient: String,
    pub attempts: i32,
    pub last_error: String,
    pub created_at: OffsetDateTime,
}

/// What an unsubscribe token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubscribeTarget {
    pub kind: String,
    pub recipient: String,
    pub user_id: Option<i64>,
    pub post_id: Option<i64>,
    /// The token belongs to a blog subscription rather than to one email.
    pub blog_subscription: bool,
}

/// A blog subscriber after `subscribe_blog`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlogSubscription {
    pub id: i64,
    pub email: String,
    pub confirmed: bool,
    /// Set when this call created the subscription: the confirmation link's token.
    pub confirm_token: String,
    pub unsubscribe_token: String,
}

/// Counts by status, for `folio mail` and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub pending: u64,
    pub sent: u64,
    pub failed: u64,
    pub cancelled: u64,
}

/// Unix milliseconds.
pub fn millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// A random token for links in emails: 244 bits from the operating system's generator.
pub fn random_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

pub(crate) async fn insert_mail<C: ConnectionTrait>(db: &C, mail: &NewMail) -> Result<bool> {
    Ok(insert_mails(db, std::slice::from_ref(mail)).await? > 0)
}

/// [`insert_mail`] for many rows, a few dozen per statement: a group of comments queues
/// its emails in a handful of statements rather than one each. Returns how many were new
/// (a row whose `dedupe_key` is queued already is left out).
pub(crate) async fn insert_mails<C: ConnectionTrait>(db: &C, mails: &[NewMail]) -> Result<u64> {
    const COLUMNS: [&str; 13] = [
        "kind",
        "recipient",
        "user_id",
        "post_id",
        "comment_id",
        "payload",
        "dedupe_key",
        "unsubscribe_token",
        "action_token",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
    ];
    // Well under SQLite's 32766 and PostgreSQL's 65535 parameters.
    const ROWS: usize = 64;
    let backend = db.get_database_backend();
    let at = now();
    let mut inserted = 0;
    for chunk in mails.chunks(ROWS) {
        let mut sql = crate::raw::insert_rows_sql(backend, "mail_outbox", &COLUMNS, chunk.len());
        sql.push_str(" ON CONFLICT (dedupe_key) DO NOTHING");
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * COLUMNS.len());
        for mail in chunk {
            values.extend([
                mail.kind.clone().into(),
                mail.recipient.clone().into(),
                mail.user_id.into(),
                mail.post_id.into(),
                mail.comment_id.into(),
                mail.payload.clone().into(),
                mail.dedupe_key.clone().into(),
                random_token().into(),
                (mail.kind == "moderation").then(random_token).into(),
                "pending".into(),
                0i32.into(),
                millis(at).into(),
                at.into(),
            ]);
        }
        inserted += db
            .execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?
            .rows_affected();
    }
    Ok(inserted)
}

/// Queues the emails a comment's arrival causes, inside the transaction that wrote it or
/// changed its status. Every path that makes a comment visible (a comment that needs no
/// moderation, approval in the admin or by an email link, a moderator's reply) and every
/// held comment (its moderators are asked) comes through here, and only when the status
/// really changed: approving an approved comment tells nobody twice.
pub(crate) async fn queue_comment_mail<C: ConnectionTrait>(
    db: &C,
    mails: Vec<NewMail>,
) -> Result<u64> {
    let mut queued = 0;
    for mail in &mails {
        if insert_mail(db, mail).await? {
            queued += 1;
        }
    }
    Ok(queued)
}

pub(crate) async fn set_follow<C: ConnectionTrait>(
    db: &C,
    post_id: i64,
    user_id: i64,
    following: bool,
) -> Result<()> {
    let backend = db.get_database_backend();
    db.execute_raw(statement(
        backend,
        "INSERT INTO thread_follows (post_id, user_id, following, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (post_id, user_id) DO UPDATE SET following = excluded.following",
        vec![post_id.into(), user_id.into(), following.into(), now().into()],
    ))
    .await?;
    Ok(())
}

/// Follows each (post, user) thread, as [`set_follow`] does one, in one statement.
pub(crate) async fn set_follows<C: ConnectionTrait>(db: &C, follows: &[(i64, i64)]) -> Result<()> {
    let mut follows = follows.to_vec();
    // One row per key: PostgreSQL refuses an upsert that would change a row twice.
    follows.sort_unstable();
    follows.dedup();
    if follows.is_empty() {
        return Ok(());
    }
    let backend = db.get_database_backend();
    let at = now();
    for chunk in follows.chunks(1000) {
        let mut sql = crate::raw::insert_rows_sql(
            backend,
            "thread_follows",
            &["post_id", "user_id", "following", "created_at"],
            chunk.len(),
        );
        sql.push_str(
            " ON CONFLICT (post_id, user_id) DO UPDATE SET following = excluded.following",
        );
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 4);
        for &(post_id, user_id) in chunk {
            values.extend([post_id.into(), user_id.into(), true.into(), at.into()]);
        }
        db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}

fn claimed_from_row(row: &QueryResult) -> Result<ClaimedMail> {
    Ok(ClaimedMail {
        id: row.try_get("", "id")?,
        kind: row.try_get("", "kind")?,
        recipient: row.try_get("", "recipient")?,
        user_id: row.try_get("", "user_id")?,
        post_id: row.try_get("", "post_id")?,
        comment_id: row.try_get("", "comment_id")?,
        payload: row.try_get("", "payload")?,
        attempts: row.try_get("", "attempts")?,
        unsubscribe_token: row.try_get("", "unsubscribe_token")?,
        action_token: row.try_get("", "action_token")?,
    })
}

impl Store {
    /// Queues emails outside a comment (approval, publication, confirmation, tests). Returns
    /// how many were new.
    pub async fn enqueue_mail(&self, mails: &[NewMail]) -> Result<u64> {
        let txn = self.begin_write().await?;
        let mut queued = 0;
        for mail in mails {
            if insert_mail(&txn, mail).await? {
                queued += 1;
            }
        }
        txn.commit().await?;
        Ok(queued)
    }

    /// The people a new comment on `post_id` (answering `parent_id`) may concern.
    pub async fn comment_audience(
        &self,
        post_id: i64,
        parent_id: Option<i64>,
    ) -> Result<CommentAudience> {
        // One statement for the four groups: a comment's request asks for them before it
        // is written, and each statement is a round trip.
        let person = "u.id, u.display_name, u.email, u.email_verified, u.notify_replies, \
                      COALESCE((SELECT CASE WHEN f.following THEN 0 ELSE 1 END FROM thread_follows f \
                      WHERE f.post_id = $1 AND f.user_id = u.id), 0) AS muted";
        let text = format!(
            "SELECT 0 AS relation, {person} FROM users u \
               WHERE u.id = (SELECT c.author_id FROM comments c WHERE c.id = $2 AND c.deleted_at IS NULL) \
             UNION ALL SELECT 1 AS relation, {person} FROM users u \
               WHERE u.id = (SELECT p.author_id FROM posts p WHERE p.id = $1) \
             UNION ALL SELECT 2 AS relation, {person} FROM users u \
               WHERE u.id IN (SELECT f.user_id FROM thread_follows f WHERE f.post_id = $1 AND f.following) \
             UNION ALL SELECT 3 AS relation, {person} FROM users u WHERE u.role IN ('editor', 'admin') \
             ORDER BY relation, id"
        );
        // No parent: an id no comment has, so its group is empty.
        // Each parameter appears several times: SQLite numbers them (`?1`) rather than
        // taking them in order, as `raw::statement` would.
        let text = match self.db_backend() {
            DbBackend::Postgres => text,
            _ => text.replace('$', "?"),
        };
        let rows = self
            .db
            .query_all_raw(Statement::from_sql_and_values(
                self.db_backend(),
                text,
                [post_id.into(), parent_id.unwrap_or(0).into()],
            ))
            .await?;
        let mut parent_author = None;
        let mut post_author = None;
        let mut followers = Vec::new();
        let mut moderators = Vec::new();
        for row in &rows {
            let muted: i64 = row
                .try_get::<i32>("", "muted")
                .map(i64::from)
                .or_else(|_| row.try_get::<i64>("", "muted"))?;
            let relation: i64 = row
                .try_get::<i32>("", "relation")
                .map(i64::from)
                .or_else(|_| row.try_get::<i64>("", "relation"))?;
            let person = Person {
                user_id: row.try_get("", "id")?,
                name: row.try_get("", "display_name")?,
                email: row.try_get("", "email")?,
                email_verified: row.try_get("", "email_verified")?,
                notify_replies: row.try_get("", "notify_replies")?,
                muted_thread: muted != 0,
            };
            match relation {
                0 => parent_author = Some(person),
                1 => post_author = Some(person),
                2 => followers.push(person),
                _ => moderators.push(person),
            }
        }
        Ok(CommentAudience {
            parent_author,
            post_author,
            followers,
            moderators,
        })
    }

    /// Follows (or mutes, `following = false`) a post's thread for a user.
    pub async fn set_thread_follow(
        &self,
        post_id: i64,
        user_id: i64,
        following: bool,
    ) -> Result<()> {
        set_follow(&self.db, post_id, user_id, following).await
    }

    /// Whether the user follows the thread: `None` when they never chose.
    pub async fn thread_follow(&self, post_id: i64, user_id: i64) -> Result<Option<bool>> {
        let backend = self.db_backend();
        let row = self
            .db
            .query_one_raw(statement(
                backend,
                "SELECT following FROM thread_follows WHERE post_id = $1 AND user_id = $2",
                vec![post_id.into(), user_id.into()],
            ))
            .await?;
        Ok(match row {
            Some(row) => Some(row.try_get("", "following")?),
            None => None,
        })
    }

    /// Claims up to `limit` due rows for `worker` until `lease_until` (Unix ms). Rows whose
    /// comment was deleted (or turned to spam or trash) before sending are cancelled first.
    pub async fn claim_mail(
        &self,
        worker: &str,
        limit: u32,
        lease_until_ms: i64,
    ) -> Result<Vec<ClaimedMail>> {
        let backend = self.db_backend();
        let now_ms = millis(OffsetDateTime::now_utc());
        if !crate::leases::any_due(&self.db, "mail_outbox", now_ms).await? {
            return Ok(Vec::new());
        }
        self.db
            .execute_raw(statement(
                backend,
                "UPDATE mail_outbox SET status = 'cancelled', locked_by = NULL, locked_until = NULL \
                 WHERE status = 'pending' AND comment_id IS NOT NULL AND NOT EXISTS (\
                 SELECT 1 FROM comments c WHERE c.id = mail_outbox.comment_id AND c.deleted_at IS NULL \
                 AND (c.status = 'approved' OR (c.status = 'pending' AND mail_outbox.kind = 'moderation')))",
                vec![],
            ))
            .await?;
        let rows = crate::leases::claim_due(
            &self.db,
            "mail_outbox",
            "id, kind, recipient, user_id, post_id, comment_id, payload, attempts, unsubscribe_token, action_token",
            worker,
            limit,
            lease_until_ms,
            now_ms,
        )
        .await?;
        let mut claimed = rows
            .iter()
            .map(claimed_from_row)
            .collect::<Result<Vec<_>>>()?;
        claimed.sort_by_key(|m| m.id);
        Ok(claimed)
    }

    /// Marks a claimed row sent. False when the lease was lost to another worker.
    pub async fn mark_mail_sent(&self, id: i64, worker: &str) -> Result<bool> {
        let backend = self.db_backend();
        let result = self
            .db
            .execute_raw(statement(
                backend,
                "UPDATE mail_outbox SET status = 'sent', sent_at = $1, attempts = attempts + 1, \
                 locked_by = NULL, locked_until = NULL, last_error = NULL WHERE id = $2 AND locked_by = $3",
                vec![now().into(), id.into(), worker.into()],
            ))
            .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Marks many claimed rows sent in one statement (one commit for a whole batch); how
    /// many this worker still held.
    pub async fn mark_mails_sent(&self, ids: &[i64], worker: &str) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let backend = self.db_backend();
        // Ids are integers from our own rows: safe to write into the statement.
        let list = ids
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let result = self
            .db
            .execute_raw(statement(
                backend,
                &format!(
                    "UPDATE mail_outbox SET status = 'sent', sent_at = $1, attempts = attempts + 1, \
                     locked_by = NULL, locked_until = NULL, last_error = NULL \
                     WHERE locked_by = $2 AND id IN ({list})"
                ),
                vec![now().into(), worker.into()],
            ))
            .await?;
        Ok(result.rows_affected())
    }

    /// A failed attempt: tried again at `retry_at_ms`, or marked failed when `retry_at_ms`
    /// is `None` (a permanent refusal, or the last attempt).
    pub async fn mark_mail_attempt_failed(
        &self,
        id: i64,
        worker: &str,
        error: &str,
        retry_at_ms: Option<i64>,
    ) -> Result<()> {
        crate::leases::attempt_failed(&self.db, "mail_outbox", id, worker, error, retry_at_ms).await
    }

    /// Gives a claimed row back without counting an attempt (the worker is stopping).
    pub async fn release_mail(&self, id: i64, worker: &str) -> Result<()> {
        crate::leases::release(&self.db, "mail_outbox", id, worker).await
    }

    /// Cancels a claimed row whose message can no longer be made.
    pub async fn cancel_mail(&self, id: i64, reason: &str) -> Result<()> {
        let backend = self.db_backend();
        self.db
            .execute_raw(statement(
                backend,
                "UPDATE mail_outbox SET status = 'cancelled', last_error = $1, locked_by = NULL, locked_until = NULL WHERE id = $2",
                vec![reason.into(), id.into()],
            ))
            .await?;
        Ok(())
    }

    pub async fn failed_mail(&self) -> Result<Vec<FailedMail>> {
        let rows = self
            .db
            .query_all_raw(Statement::from_string(
                self.db_backend(),
                "SELECT id, kind, recipient, attempts, last_error, created_at FROM mail_outbox \
                 WHERE status = 'failed' ORDER BY id",
            ))
            .await?;
        rows.iter()
            .map(|row| {
                Ok(FailedMail {
                    id: row.try_get("", "id")?,
                    kind: row.try_get("", "kind")?,
                    recipient: row.try_get("", "recipient")?,
                    attempts: row.try_get("", "attempts")?,
                    last_error: row
                        .try_get::<Option<String>>("", "last_error")?
                        .unwrap_or_default(),
                    created_at: row.try_get("", "created_at")?,
                })
            })
            .collect()
    }

    /// Puts failed rows back in the queue with a fresh count of attempts: all of them, or one.
    pub async fn retry_failed_mail(&self, id: Option<i64>) -> Result<u64> {
        let backend = self.db_backend();
        let now_ms = millis(OffsetDateTime::now_utc());
        let result = match id {
            Some(id) => self
                .db
                .execute_raw(statement(
                    backend,
                    "UPDATE mail_outbox SET status = 'pending', attempts = 0, next_attempt_at = $1 \
                         WHERE status = 'failed' AND id = $2",
                    vec![now_ms.into(), id.into()],
                ))
                .await?,
            None => self
                .db
                .execute_raw(statement(
                    backend,
                    "UPDATE mail_outbox SET status = 'pending', attempts = 0, next_attempt_at = $1 \
                         WHERE status = 'failed'",
                    vec![now_ms.into()],
                ))
                .await?,
        };
        Ok(result.rows_affected())
    }

    pub async fn outbox_counts(&self) -> Result<OutboxCounts> {
        let rows = self
            .db
            .query_all_raw(Statement::from_string(
                self.db_backend(),
                "SELECT status, COUNT(*) AS n FROM mail_outbox GROUP BY status",
            ))
            .await?;
        let mut counts = OutboxCounts::default();
        for row in rows {
            let status: String = row.try_get("", "status")?;
            let n: i64 = row.try_get("", "n")?;
            let n = u64::try_from(n).unwrap_or(0);
            match status.as_str() {
                "pending" => counts.pending = n,
                "sent" => counts.sent = n,
                "failed" => counts.failed = n,
                "cancelled" => counts.cancelled = n,
                _ => {}
            }
        }
        Ok(counts)
    }

    /// What an unsubscribe link's token stands for: one email, or a blog subscription.
    pub async fn unsubscribe_target(&self, token: &str) -> Result<Option<UnsubscribeTarget>> {
        let backend = self.db_backend();
        if let Some(row) = self
            .db
            .query_one_raw(statement(
                backend,
                "SELECT kind, recipient, user_id, post_id FROM mail_outbox WHERE unsubscribe_token = $1",
                vec![token.into()],
            ))
            .await?
        {
            return Ok(Some(UnsubscribeTarget {
                kind: row.try_get("", "kind")?,
                recipient: row.try_get("", "recipient")?,
                user_id: row.try_get("", "user_id")?,
                post_id: row.try_get("", "post_id")?,
                blog_subscription: false,
            }));
        }
        let row = self
            .db
            .query_one_raw(statement(
                backend,
                "SELECT email, user_id FROM blog_subscribers WHERE unsubscribe_token = $1",
                vec![token.into()],
            ))
            .await?;
        Ok(match row {
            Some(row) => Some(UnsubscribeTarget {
                kind: "new_post".to_owned(),
                recipient: row.try_get("", "email")?,
                user_id: row.try_get("", "user_id")?,
                post_id: None,
                blog_subscription: true,
            }),
            None => None,
        })
    }

    /// Subscribes an address to new posts. `confirmed` for an address a provider vouched
    /// for; otherwise it waits for its owner to follow the confirmation link, and `confirm`
    /// (given the subscription, with its token) decides the confirmation email, queued in
    /// the same transaction. An address already subscribed is left as it is.
    pub async fn subscribe_blog(
        &self,
        email: &str,
        user_id: Option<i64>,
        confirmed: bool,
        confirm: impl FnOnce(&BlogSubscription) -> Option<NewMail>,
    ) -> Result<BlogSubscription> {
        let txn = self.begin_write().await?;
        let (subscription, _) = subscribe_blog_in(&txn, email, user_id, confirmed, confirm).await?;
        txn.commit().await?;
        Ok(subscription)
    }

    /// A stranger's `/subscribe` from `address`: [`Store::subscribe_blog`] unless that
    /// address already had `per_hour` confirmation emails sent in the last hour (0: no
    /// limit); `None` then, and nothing is sent. Counted in the database, so the limit holds
    /// across server processes.
    pub async fn subscribe_blog_from_address(
        &self,
        email: &str,
        address: &str,
        per_hour: u32,
        confirm: impl FnOnce(&BlogSubscription) -> Option<NewMail>,
    ) -> Result<Option<BlogSubscription>> {
        const KIND: &str = "subscribe_confirmation";
        let backend = self.db_backend();
        let txn = self.begin_write().await?;
        let at = now();
        if per_hour > 0 {
            crate::address_limits::lock_address(
                &txn,
                crate::address_limits::AddressLimit::SubscribeConfirmations,
                address,
            )
            .await?;
            let recent = txn
                .query_one_raw(statement(
                    backend,
                    "SELECT COUNT(*) AS n FROM address_events \
                     WHERE kind = $1 AND address = $2 AND created_at > $3",
                    vec![
                        KIND.into(),
                        address.into(),
                        (at - time::Duration::hours(1)).into(),
                    ],
                ))
                .await?
                .map(|row| row.try_get::<i64>("", "n"))
                .transpose()?
                .unwrap_or(0);
            if recent >= i64::from(per_hour) {
                return Ok(None);
            }
        }
        let (subscription, mailed) = subscribe_blog_in(&txn, email, None, false, confirm).await?;
        if mailed {
            txn.execute_raw(statement(
                backend,
                "DELETE FROM address_events WHERE created_at < $1",
                vec![(at - time::Duration::days(1)).into()],
            ))
            .await?;
            txn.execute_raw(statement(
                backend,
                "INSERT INTO address_events (kind, address, created_at) VALUES ($1, $2, $3)",
                vec![KIND.into(), address.into(), at.into()],
            ))
            .await?;
        }
        txn.commit().await?;
        Ok(Some(subscription))
    }
}

/// The subscription for `email` inside the caller's transaction, and whether a confirmation
/// email was queued.
async fn subscribe_blog_in(
    txn: &sea_orm::DatabaseTransaction,
    email: &str,
    user_id: Option<i64>,
    confirmed: bool,
    confirm: impl FnOnce(&BlogSubscription) -> Option<NewMail>,
) -> Result<(BlogSubscription, bool)> {
    let backend = txn.get_database_backend();
    let email = email.trim().to_lowercase();
    let confirmed_at: Option<OffsetDateTime> = confirmed.then(now);
    txn.execute_raw(statement(
        backend,
        "INSERT INTO blog_subscribers (email, user_id, confirm_token, confirmed_at, unsubscribe_token, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (email) DO NOTHING",
        vec![
            email.clone().into(),
            user_id.into(),
            random_token().into(),
            confirmed_at.into(),
            random_token().into(),
            now().into(),
        ],
    ))
    .await?;
    if confirmed {
        // A verified address confirms an earlier typed, unconfirmed one.
        txn.execute_raw(statement(
            backend,
            "UPDATE blog_subscribers SET confirmed_at = $1, user_id = COALESCE(user_id, $2) \
             WHERE email = $3 AND confirmed_at IS NULL",
            vec![now().into(), user_id.into(), email.clone().into()],
        ))
        .await?;
    }
    let row = txn
        .query_one_raw(statement(
            backend,
            "SELECT id, email, confirm_token, confirmed_at, unsubscribe_token FROM blog_subscribers WHERE email = $1",
            vec![email.into()],
        ))
        .await?
        .ok_or_else(|| {
            crate::StorageError::unexpected("blog_subscribers", "email", "vanished")
        })?;
    let subscription = BlogSubscription {
        id: row.try_get("", "id")?,
        email: row.try_get("", "email")?,
        confirmed: row
            .try_get::<Option<OffsetDateTime>>("", "confirmed_at")?
            .is_some(),
        confirm_token: row.try_get("", "confirm_token")?,
        unsubscribe_token: row.try_get("", "unsubscribe_token")?,
    };
    let mut mailed = false;
    if !subscription.confirmed
        && let Some(mail) = confirm(&subscription)
    {
        insert_mail(txn, &mail).await?;
        mailed = true;
    }
    Ok((subscription, mailed))
}

impl Store {
    /// Confirms the subscription behind a confirmation link; its address, or `None` for an
    /// unknown token.
    pub async fn confirm_blog_subscription(&self, token: &str) -> Result<Option<String>> {
        let backend = self.db_backend();
        self.db
            .execute_raw(statement(
                backend,
                "UPDATE blog_subscribers SET confirmed_at = $1 WHERE confirm_token = $2 AND confirmed_at IS NULL",
                vec![now().into(), token.into()],
            ))
            .await?;
        let row = self
            .db
            .query_one_raw(statement(
                backend,
                "SELECT email FROM blog_subscribers WHERE confirm_token = $1",
                vec![token.into()],
            ))
            .await?;
        Ok(match row {
            Some(row) => Some(row.try_get("", "email")?),
            None => None,
        })
    }

    /// Whether the address gets new posts (confirmed), waits for confirmation, or neither.
    pub async fn blog_subscription(&self, email: &str) -> Result<Option<bool>> {
        let backend = self.db_backend();
        let row = self
            .db
            .query_one_raw(statement(
                backend,
                "SELECT confirmed_at FROM blog_subscribers WHERE email = $1",
                vec![email.trim().to_lowercase().into()],
            ))
            .await?;
        Ok(match row {
            Some(row) => Some(
                row.try_get::<Option<OffsetDateTime>>("", "confirmed_at")?
                    .is_some(),
            ),
            None => None,
        })
    }

    /// Ends a blog subscription by address (and any of the user's).
    pub async fn unsubscribe_blog(&self, email: &str, user_id: Option<i64>) -> Result<u64> {
        let backend = self.db_backend();
        let result = self
            .db
            .execute_raw(statement(
                backend,
                "DELETE FROM blog_subscribers WHERE email = $1 OR (user_id IS NOT NULL AND user_id = $2)",
                vec![email.trim().to_lowercase().into(), user_id.into()],
            ))
            .await?;
        Ok(result.rows_affected())
    }

    /// Stops every thread email for a user: follows become mutes.
    pub async fn unfollow_all_threads(&self, user_id: i64) -> Result<()> {
        let backend = self.db_backend();
        self.db
            .execute_raw(statement(
                backend,
                "UPDATE thread_follows SET following = FALSE WHERE user_id = $1",
                vec![user_id.into()],
            ))
            .await?;
        Ok(())
    }

    /// Queues one email per confirmed blog subscriber about a new post, in one statement
    /// (10,000 subscribers do not mean 10,000 round trips). `payload` is the same for all;
    /// each row gets its own unsubscribe token.
    pub async fn enqueue_new_post_mail(
        &self,
        post_id: i64,
        author_id: i64,
        payload: &str,
    ) -> Result<u64> {
        let backend = self.db_backend();
        let token = match backend {
            // gen_random_uuid (PostgreSQL 13+) draws from a cryptographic generator.
            DbBackend::Postgres => {
                "replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', '')"
            }
            _ => "lower(hex(randomblob(32)))",
        };
        let text = format!(
            "INSERT INTO mail_outbox (kind, recipient, user_id, post_id, comment_id, payload, dedupe_key, \
             unsubscribe_token, status, attempts, next_attempt_at, created_at) \
             SELECT 'new_post', s.email, s.user_id, $1, NULL, $2, 'post:' || $3 || ':' || s.email, {token}, \
             'pending', 0, $4, $5 FROM blog_subscribers s \
             WHERE s.confirmed_at IS NOT NULL AND (s.user_id IS NULL OR s.user_id <> $6) \
             ON CONFLICT (dedupe_key) DO NOTHING"
        );
        let result = self
            .db
            .execute_raw(statement(
                backend,
                &text,
                vec![
                    post_id.into(),
                    payload.into(),
                    post_id.to_string().into(),
                    millis(now()).into(),
                    now().into(),
                    author_id.into(),
                ],
            ))
            .await?;
        Ok(result.rows_affected())
    }
}

/// What a moderation link may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModerationLink {
    /// Not used yet, and its comment still waits: the comment it is about.
    Usable(i64),
    AlreadyUsed,
    /// Another moderator's link for the same comment was used.
    OtherLinkUsed,
    /// The comment is no longer waiting (moderated in the admin, say): its status now.
    AlreadyModerated(CommentStatus),
    /// The person the link was sent to no longer moderates (role lowered, banned, gone).
    NotAModerator,
    Expired,
}

impl Store {
    /// What the moderation link with this token may still do; `None` for an unknown token.
    /// A link acts for the moderator it was sent to, so it works only while they moderate,
    /// while the comment waits, and while no other link for it was used.
    pub async fn moderation_link(
        &self,
        token: &str,
        valid_for: time::Duration,
    ) -> Result<Option<ModerationLink>> {
        let backend = self.db_backend();
        let row = self
            .db
            .query_one_raw(statement(
                backend,
                "SELECT o.comment_id, o.action_used_at, o.created_at, o.user_id, c.status AS comment_status, \
                 c.deleted_at AS comment_deleted_at, \
                 (SELECT COUNT(*) FROM mail_outbox x WHERE x.kind = 'moderation' AND x.comment_id = o.comment_id \
                  AND x.id <> o.id AND x.action_used_at IS NOT NULL) AS others_used \
                 FROM mail_outbox o LEFT JOIN comments c ON c.id = o.comment_id \
                 WHERE o.action_token = $1 AND o.kind = 'moderation'",
                vec![token.into()],
            ))
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let used: Option<OffsetDateTime> = row.try_get("", "action_used_at")?;
        let created: OffsetDateTime = row.try_get("", "created_at")?;
        let comment: Option<i64> = row.try_get("", "comment_id")?;
        let moderator: Option<i64> = row.try_get("", "user_id")?;
        let status: Option<String> = row.try_get("", "comment_status")?;
        let deleted: Option<OffsetDateTime> = row.try_get("", "comment_deleted_at")?;
        let others_used: i64 = row.try_get("", "others_used")?;
        if used.is_some() {
            return Ok(Some(ModerationLink::AlreadyUsed));
        }
        if created + valid_for < now() {
            return Ok(Some(ModerationLink::Expired));
        }
        let (Some(comment_id), Some(status), None) = (comment, status, deleted) else {
            return Ok(Some(ModerationLink::Expired));
        };
        if others_used > 0 {
            return Ok(Some(ModerationLink::OtherLinkUsed));
        }
        let status = CommentStatus::parse(&status)
            .ok_or_else(|| crate::StorageError::unexpected("comments", "status", &status))?;
        if status != CommentStatus::Pending {
            return Ok(Some(ModerationLink::AlreadyModerated(status)));
        }
        let still_moderates = match moderator {
            Some(id) => self
                .user_by_id(id)
                .await?
                .is_some_and(|u| u.moderates() && !u.is_banned(now())),
            None => false,
        };
        if !still_moderates {
            return Ok(Some(ModerationLink::NotAModerator));
        }
        Ok(Some(ModerationLink::Usable(comment_id)))
    }

    /// Uses a moderation link once: sets the comment's status. The comment's id, or `None`
    /// when the link was already used (by a second click or another moderator's email being
    /// the same link) or the comment is gone.
    /// `mail`: the emails the comment's new status causes (see [`queue_comment_mail`]),
    /// queued in the same transaction, only when the status changed.
    pub async fn use_moderation_link(
        &self,
        token: &str,
        status: CommentStatus,
        mail: impl FnOnce(i64) -> Vec<NewMail>,
    ) -> Result<Option<i64>> {
        let backend = self.db_backend();
        let txn = self.begin_write().await?;
        let used = txn
            .execute_raw(statement(
                backend,
                "UPDATE mail_outbox SET action_used_at = $1 \
                 WHERE action_token = $2 AND kind = 'moderation' AND action_used_at IS NULL",
                vec![now().into(), token.into()],
            ))
            .await?;
        if used.rows_affected() != 1 {
            return Ok(None);
        }
        let row = txn
            .query_one_raw(statement(
                backend,
                "SELECT comment_id FROM mail_outbox WHERE action_token = $1",
                vec![token.into()],
            ))
            .await?;
        let Some(comment_id) = row
            .map(|r| r.try_get::<Option<i64>>("", "comment_id"))
            .transpose()?
            .flatten()
        else {
            return Ok(None);
        };
        let changed = txn
            .execute_raw(statement(
                backend,
                // Only a comment still waiting: two links pressed at once, or a link pressed
                // while a moderator acts in the admin, change it once.
                "UPDATE comments SET status = $1, updated_at = $2 WHERE id = $3 AND deleted_at IS NULL \
                 AND status = 'pending'",
                vec![status.as_str().into(), now().into(), comment_id.into()],
            ))
            .await?;
        if changed.rows_affected() != 1 {
            return Ok(None);
        }
        crate::threads::status_changed(&txn, comment_id).await?;
        queue_comment_mail(&txn, mail(comment_id)).await?;
        crate::site::bump_content_version(&txn).await?;
        txn.commit().await?;
        Ok(Some(comment_id))
    }
}

impl Store {
    /// Published posts whose time has come within `window` and whose new-post emails are
    /// not queued yet, oldest first. Older posts (an import, say) are never announced.
    pub async fn posts_to_announce(&self, window: time::Duration) -> Result<Vec<i64>> {
        let backend = self.db_backend();
        let at = now();
        let rows = self
            .db
            .query_all_raw(statement(
                backend,
                "SELECT p.id FROM posts p WHERE p.kind = 'post' AND p.status = 'published' \
                 AND p.published_at <= $1 AND p.published_at > $2 \
                 AND NOT EXISTS (SELECT 1 FROM post_announcements a WHERE a.post_id = p.id) \
                 ORDER BY p.published_at, p.id LIMIT 20",
                vec![at.into(), (at - window).into()],
            ))
            .await?;
        rows.iter().map(|row| Ok(row.try_get("", "id")?)).collect()
    }

    /// Records that a post's new-post emails are queued.
    pub async fn mark_post_announced(&self, post_id: i64) -> Result<()> {
        let backend = self.db_backend();
        self.db
            .execute_raw(statement(
                backend,
                "INSERT INTO post_announcements (post_id, announced_at) VALUES ($1, $2) \
                 ON CONFLICT (post_id) DO NOTHING",
                vec![post_id.into(), now().into()],
            ))
            .await?;
        Ok(())
    }
}

impl Store {
    /// The posts whose conversations a user follows, newest follow first, with their ids.
    pub async fn followed_threads(&self, user_id: i64) -> Result<Vec<(i64, crate::PostLink)>> {
        let backend = self.db_backend();
        let rows = self
            .db
            .query_all_raw(statement(
                backend,
                "SELECT post_id FROM thread_follows WHERE user_id = $1 AND following \
                 ORDER BY created_at DESC, post_id DESC",
                vec![user_id.into()],
            ))
            .await?;
        let ids = rows
            .iter()
            .map(|row| row.try_get::<i64>("", "post_id"))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let links = self.post_links_by_id(&ids).await?;
        Ok(ids
            .into_iter()
            .filter_map(|id| links.get(&id).cloned().map(|link| (id, link)))
            .collect())
    }
}

/// The people around a new comment, for `folio_domain::notifications::who_is_told`.
#[derive(Debug, Clone, Default)]
pub struct CommentAudience {
    pub parent_author: Option<Person>,
    pub post_author: Option<Person>,
    pub followers: Vec<Person>,
    pub moderators: Vec<Person>,
}

/// Whether a comment in this state may still be told of.
pub fn still_tellable(status: CommentStatus, deleted: bool) -> bool {
    !deleted && matches!(status, CommentStatus::Approved | CommentStatus::Pending)
}

/// A blog subscriber as the admin lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    pub id: i64,
    pub email: String,
    pub user_id: Option<i64>,
    /// `None` while the address waits for its owner to confirm.
    pub confirmed_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

/// How many blog subscribers there are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SubscriberCounts {
    pub confirmed: u64,
    pub unconfirmed: u64,
}

fn subscriber_from_row(row: &QueryResult) -> Result<Subscriber> {
    Ok(Subscriber {
        id: row.try_get("", "id")?,
        email: row.try_get("", "email")?,
        user_id: row.try_get("", "user_id")?,
        confirmed_at: row.try_get("", "confirmed_at")?,
        created_at: row.try_get("", "created_at")?,
    })
}

const SUBSCRIBER_COLUMNS: &str = "id, email, user_id, confirmed_at, created_at";

impl Store {
    /// Blog subscribers, confirmed or not, newest first, a page at a time.
    pub async fn blog_subscribers_page(
        &self,
        page: folio_domain::PageNumber,
        per_page: u32,
    ) -> Result<folio_domain::Paginated<Subscriber>> {
        let backend = self.db_backend();
        let counts = self.subscriber_counts().await?;
        let rows = self
            .db
            .query_all_raw(statement(
                backend,
                &format!(
                    "SELECT {SUBSCRIBER_COLUMNS} FROM blog_subscribers ORDER BY id DESC LIMIT $1 OFFSET $2"
                ),
                vec![
                    i64::from(per_page).into(),
                    i64::try_from(page.offset(per_page))
                        .unwrap_or(i64::MAX)
                        .into(),
                ],
            ))
            .await?;
        Ok(folio_domain::Paginated {
            items: rows
                .iter()
                .map(subscriber_from_row)
                .collect::<Result<_>>()?,
            page,
            per_page,
            total: counts.confirmed + counts.unconfirmed,
        })
    }

    /// Every blog subscriber, oldest first (for the CSV export).
    pub async fn all_blog_subscribers(&self) -> Result<Vec<Subscriber>> {
        let backend = self.db_backend();
        let rows = self
            .db
            .query_all_raw(statement(
                backend,
                &format!("SELECT {SUBSCRIBER_COLUMNS} FROM blog_subscribers ORDER BY id"),
                vec![],
            ))
            .await?;
        rows.iter().map(subscriber_from_row).collect()
    }

    pub async fn subscriber_counts(&self) -> Result<SubscriberCounts> {
        let backend = self.db_backend();
        let mut counts = SubscriberCounts::default();
        for (confirmed, condition) in [(true, "IS NOT NULL"), (false, "IS NULL")] {
            let n = match self
                .db
                .query_one_raw(statement(
                    backend,
                    &format!(
                        "SELECT COUNT(*) AS n FROM blog_subscribers WHERE confirmed_at {condition}"
                    ),
                    vec![],
                ))
                .await?
            {
                Some(row) => u64::try_from(row.try_get::<i64>("", "n")?).unwrap_or(0),
                None => 0,
            };
            if confirmed {
                counts.confirmed = n;
            } else {
                counts.unconfirmed = n;
            }
        }
        Ok(counts)
    }

    /// Removes one blog subscriber, in the audit log; their address, or `None` when there is
    /// no such subscriber. Emails already queued for them still go out.
    pub async fn remove_blog_subscriber(
        &self,
        actor: &folio_domain::User,
        id: i64,
    ) -> Result<Option<String>> {
        let backend = self.db_backend();
        let txn = self.begin_write().await?;
        let Some(row) = txn
            .query_one_raw(statement(
                backend,
                "SELECT email FROM blog_subscribers WHERE id = $1",
                vec![id.into()],
            ))
            .await?
        else {
            return Ok(None);
        };
        let email: String = row.try_get("", "email")?;
        txn.execute_raw(statement(
            backend,
            "DELETE FROM blog_subscribers WHERE id = $1",
            vec![id.into()],
        ))
        .await?;
        crate::audit::record(
            &txn,
            actor,
            "subscriber.remove",
            &format!("subscriber {id}"),
            &email,
        )
        .await?;
        txn.commit().await?;
        Ok(Some(email))
    }
}
