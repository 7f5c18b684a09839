//! The blog on the fediverse: its key pair, followers, blocked domains, remote actors' keys,
//! the delivery queue and which posts were announced.
//!
//! Deliveries are claimed as the mail outbox's rows are (see `mail.rs`): a lease per worker,
//! `FOR UPDATE SKIP LOCKED` on PostgreSQL, SQLite's single writer elsewhere. A worker that
//! dies leaves its rows to be claimed again once the lease runs out.

use sea_orm::{ConnectionTrait, DbBackend, QueryResult, TransactionTrait, Value};
use time::OffsetDateTime;

use crate::mail::millis;
use crate::raw::statement;
use crate::{Result, Store, now};

/// The blog actor's key pair (PEM) and when it was made.
#[derive(Clone, Debug)]
pub struct ActorKeys {
    pub public_key_pem: String,
    pub private_key_pem: String,
    pub created_at: OffsetDateTime,
}

/// A remote actor as last fetched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteActor {
    pub actor_id: String,
    pub key_id: String,
    pub public_key_pem: String,
    pub inbox: String,
    pub shared_inbox: Option<String>,
    /// `@name@host`.
    pub handle: String,
    pub name: String,
    pub icon_url: Option<String>,
    pub profile_url: Option<String>,
    pub domain: String,
}

/// Someone on another server who follows the blog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Follower {
    pub id: i64,
    pub actor_id: String,
    pub inbox: String,
    pub shared_inbox: Option<String>,
    pub handle: String,
    pub domain: String,
    pub follow_activity_id: String,
    pub created_at: OffsetDateTime,
}

/// One activity to deliver to one inbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDelivery {
    pub inbox: String,
    /// The activity, JSON.
    pub activity: String,
    /// One row per key: the same activity is never queued twice for the same inbox.
    pub dedupe_key: String,
}

/// A delivery a worker holds under its lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub inbox: String,
    pub activity: String,
    /// Attempts before this one.
    pub attempts: i32,
}

/// A comment written here that answers a remote note: sent back to the note's author.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalReply {
    pub comment_id: i64,
    pub post_id: i64,
    /// The note it answers, and who wrote that note.
    pub note_id: String,
    pub note_author: String,
}

/// A post announced to followers: what was sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnnouncedPost {
    pub post_id: i64,
    pub object_id: String,
    pub sent_updated_at: OffsetDateTime,
}

impl Store {
    /// The blog actor's keys, made by `generate` (public PEM, private PEM) the first time.
    /// Several processes may start at once: the first insert wins and all read it back.
    pub async fn federation_keys(
        &self,
        generate: impl FnOnce() -> Option<(String, String)>,
    ) -> Result<Option<ActorKeys>> {
        if let Some(keys) = self.stored_federation_keys().await? {
            return Ok(Some(keys));
        }
        let Some((public, private)) = generate() else {
            return Ok(None);
        };
        let backend = self.db_backend();
        self.db
            .execute_raw(statement(
                backend,
                "INSERT INTO federation_actor (id, public_key_pem, private_key_pem, created_at) \
                 VALUES (1, $1, $2, $3) ON CONFLICT (id) DO NOTHING",
                vec![public.into(), private.into(), now().into()],
            ))
            .await?;
        self.stored_federation_keys().await
    }

    async fn stored_federation_keys(&self) -> Result<Option<ActorKeys>> {
        let row = self
            .db
            .query_one_raw(statement(
                self.db_backend(),
                "SELECT public_key_pem, private_key_pem, created_at FROM federation_actor WHERE id = 1",
                vec![],
            ))
            .await?;
        row.map(|row| {
            Ok(ActorKeys {
                public_key_pem: row.try_get("", "public_key_pem")?,
                private_key_pem: row.try_get("", "private_key_pem")?,
                created_at: row.try_get("", "created_at")?,
            })
        })
        .transpose()
    }

    pub async fn remote_actor_by_key(&self, key_id: &str) -> Result<Option<RemoteActor>> {
        self.remote_actor_where("key_id", key_id).await
    }

    pub async fn remote_actor(&self, actor_id: &str) -> Result<Option<RemoteActor>> {
        self.remote_actor_where("actor_id", actor_id).await
    }

    async fn remote_actor_where(&self, column: &str, value: &str) -> Result<Option<RemoteActor>> {
        let text = format!(
            "SELECT actor_id, key_id, public_key_pem, inbox, shared_inbox, handle, name, icon_url, \
             profile_url, domain FROM federation_remote_actors WHERE {column} = $1"
        );
        let row = self
            .db
            .query_one_raw(statement(self.db_backend(), &text, vec![value.into()]))
            .await?;
        row.map(|row| remote_actor_from_row(&row)).transpose()
    }

    /// Keeps (or replaces) what was fetched about a remote actor.
    pub async fn save_remote_actor(&self, actor: &RemoteActor) -> Result<()> {
        self.db
            .execute_raw(statement(
                self.db_backend(),
                "INSERT INTO federation_remote_actors (actor_id, key_id, public_key_pem, inbox, \
                 shared_inbox, handle, name, icon_url, profile_url, domain, fetched_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (actor_id) DO UPDATE SET key_id = excluded.key_id, \
                 public_key_pem = excluded.public_key_pem, inbox = excluded.inbox, \
                 shared_inbox = excluded.shared_inbox, handle = excluded.handle, \
                 name = excluded.name, icon_url = excluded.icon_url, \
                 profile_url = excluded.profile_url, domain = excluded.domain, \
                 fetched_at = excluded.fetched_at",
                vec![
                    actor.actor_id.clone().into(),
                    actor.key_id.clone().into(),
                    actor.public_key_pem.clone().into(),
                    actor.inbox.clone().into(),
                    actor.shared_inbox.clone().into(),
                    actor.handle.clone().into(),
                    actor.name.clone().into(),
                    actor.icon_url.clone().into(),
                    actor.profile_url.clone().into(),
                    actor.domain.clone().into(),
                    now().into(),
                ],
            ))
            .await?;
        Ok(())
    }

    /// Adds a follower (or refreshes one who followed again) and queues the `Accept` for
    /// it, in one transaction: a follower is never kept without its answer.
    pub async fn add_follower(
        &self,
        actor: &RemoteActor,
        follow_activity_id: &str,
        accept: NewDelivery,
    ) -> Result<()> {
        let backend = self.db_backend();
        let txn = self.db.begin().await?;
        txn.execute_raw(statement(
            backend,
            "INSERT INTO federation_followers (actor_id, inbox, shared_inbox, handle, domain, \
             follow_activity_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (actor_id) DO UPDATE SET inbox = excluded.inbox, \
             shared_inbox = excluded.shared_inbox, handle = excluded.handle, \
             follow_activity_id = excluded.follow_activity_id",
            vec![
                actor.actor_id.clone().into(),
                actor.inbox.clone().into(),
                actor.shared_inbox.clone().into(),
                actor.handle.clone().into(),
                actor.domain.clone().into(),
                follow_activity_id.into(),
                now().into(),
            ],
        ))
        .await?;
        queue_deliveries(&txn, backend, std::slice::from_ref(&accept)).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Removes a follower by their actor id; whether there was one.
    pub async fn remove_follower(&self, actor_id: &str) -> Result<bool> {
        let result = self
            .db
            .execute_raw(statement(
                self.db_backend(),
                "DELETE FROM federation_followers WHERE actor_id = $1",
                vec![actor_id.into()],
            ))
            .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Removes a follower by the row's id (the admin's Remove button).
    pub async fn remove_follower_by_id(&self, id: i64) -> Result<Option<Follower>> {
        let follower = self
            .followers()
            .await?
            .into_iter()
            .find(|follower| follower.id == id);
        if let Some(follower) = &follower {
            self.remove_follower(&follower.actor_id).await?;
        }
        Ok(follower)
    }

    /// Every follower, oldest first.
    pub async fn followers(&self) -> Result<Vec<Follower>> {
        let rows = self
            .db
            .query_all_raw(statement(
                self.db_backend(),
                "SELECT id, actor_id, inbox, shared_inbox, handle, domain, follow_activity_id, \
                 created_at FROM federation_followers ORDER BY id",
                vec![],
            ))
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Follower {
                    id: row.try_get("", "id")?,
                    actor_id: row.try_get("", "actor_id")?,
                    inbox: row.try_get("", "inbox")?,
                    shared_inbox: row.try_get("", "shared_inbox")?,
                    handle: row.try_get("", "handle")?,
                    domain: row.try_get("", "domain")?,
                    follow_activity_id: row.try_get("", "follow_activity_id")?,
                    created_at: row.try_get("", "created_at")?,
                })
            })
            .collect()
    }

    pub async fn follower_count(&self) -> Result<u64> {
        let row = self
            .db
            .query_one_raw(statement(
                self.db_backend(),
                "SELECT COUNT(*) AS n FROM federation_followers",
                vec![],
            ))
            .await?;
        let n: i64 = match row {
            Some(row) => row.try_get("", "n")?,
            None => 0,
        };
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Where an activity for every follower goes: each server's shared inbox once, and the
    /// personal inbox of followers whose server has none.
    pub async fn follower_inboxes(&self) -> Result<Vec<String>> {
        let rows = self
            .db
            .query_all_raw(statement(
                self.db_backend(),
                "SELECT DISTINCT COALESCE(shared_inbox, inbox) AS inbox FROM federation_followers \
                 ORDER BY inbox",
                vec![],
            ))
            .await?;
        rows.iter()
            .map(|row| Ok(row.try_get("", "inbox")?))
            .collect()
    }

    pub async fn block_domain(&self, domain: &str) -> Result<()> {
        let backend = self.db_backend();
        let txn = self.db.begin().await?;
        txn.execute_raw(statement(
            backend,
            "INSERT INTO federation_blocked_domains (domain, created_at) VALUES ($1, $2) \
             ON CONFLICT (domain) DO NOTHING",
            vec![domain.into(), now().into()],
        ))
        .await?;
        // A blocked server's people stop following: nothing more is sent there.
        txn.execute_raw(statement(
            backend,
            "DELETE FROM federation_followers WHERE domain = $1",
            vec![domain.into()],
        ))
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Blocks one remote account: it stops following, and nothing it sends is accepted.
    pub async fn block_actor(&self, actor_id: &str) -> Result<()> {
        let backend = self.db_backend();
        let txn = self.db.begin().await?;
        txn.execute_raw(statement(
            backend,
            "INSERT INTO federation_blocked_actors (actor_id, created_at) VALUES ($1, $2) \
             ON CONFLICT (actor_id) DO NOTHING",
            vec![actor_id.into(), now().into()],
        ))
        .await?;
        txn.execute_raw(statement(
            backend,
            "DELETE FROM federation_followers WHERE actor_id = $1",
            vec![actor_id.into()],
        ))
        .await?;
        txn.commit().await?;
        Ok(())
    }

    pub async fn unblock_actor(&self, actor_id: &str) -> Result<bool> {
        let result = self
            .db
            .execute_raw(statement(
                self.db_backend(),
                "DELETE FROM federation_blocked_actors WHERE actor_id = $1",
                vec![actor_id.into()],
            ))
            .await?;
        Ok(result.rows_affected() > 0)
    }

    pub async fn blocked_actors(&self) -> Result<Vec<String>> {
        let rows = self
            .db
            .query_all_raw(statement(
                self.db_backend(),
                "SELECT actor_id FROM federation_blocked_actors ORDER BY actor_id",
                vec![],
            ))
            .await?;
        rows.iter()
            .map(|row| Ok(row.try_get("", "actor_id")?))
            .collect()
    }

    pub async fn unblock_domain(&self, domain: &str) -> Result<bool> {
        let result = self
            .db
            .execute_raw(statement(
                self.db_backend(),
                "DELETE FROM federation_blocked_domains WHERE domain = $1",
                vec![domain.into()],
            ))
            .await?;
        Ok(result.rows_affected() > 0)
    }

    pub async fn blocked_domains(&self) -> Result<Vec<String>> {
        let rows = self
            .db
            .query_all_raw(statement(
                self.db_backend(),
                "SELECT domain FROM federation_blocked_domains ORDER BY domain",
                vec![],
            ))
            .await?;
        rows.iter()
            .map(|row| Ok(row.try_get("", "domain")?))
            .collect()
    }

    /// Whether the actor, or its whole domain, is blocked.
    pub async fn is_federation_blocked(&self, actor_id: &str, domain: &str) -> Result<bool> {
        let row = self
            .db
            .query_one_raw(statement(
                self.db_backend(),
                "SELECT (SELECT COUNT(*) FROM federation_blocked_domains WHERE domain = $1) \
                 + (SELECT COUNT(*) FROM federation_blocked_actors WHERE actor_id = $2) AS n",
                vec![domain.into(), actor_id.into()],
            ))
            .await?;
        let n: i64 = match row {
            Some(row) => row.try_get("", "n")?,
            None => 0,
        };
        Ok(n > 0)
    }

    /// Queues deliveries; a row whose `dedupe_key` is already queued is left as it is.
    pub async fn queue_deliveries(&self, deliveries: &[NewDelivery]) -> Result<()> {
        queue_deliveries(&self.db, self.db_backend(), deliveries).await
    }

    /// Published posts not announced yet, published at or after `since`, oldest first:
    /// their ids. Password-protected posts are never announced.
    pub async fn posts_to_federate(&self, since: OffsetDateTime) -> Result<Vec<i64>> {
        let rows = self
            .db
            .query_all_raw(statement(
                self.db_backend(),
                "SELECT id FROM posts WHERE kind = 'post' AND status = 'published' \
                 AND published_at >= $1 AND published_at <= $2 \
                 AND (password IS NULL OR password = '') \
                 AND NOT EXISTS (SELECT 1 FROM federation_posts f WHERE f.post_id = posts.id) \
                 ORDER BY published_at, id LIMIT 20",
                vec![crate::normalize_time(since).into(), now().into()],
            ))
            .await?;
        rows.iter().map(|row| Ok(row.try_get("", "id")?)).collect()
    }

    /// Announced posts changed since they were sent, and still public.
    pub async fn federated_posts_changed(&self) -> Result<Vec<AnnouncedPost>> {
        self.announced_where(
            "f.deleted = $1 AND p.status = 'published' AND p.published_at <= $2 \
             AND (p.password IS NULL OR p.password = '') AND p.updated_at > f.sent_updated_at",
        )
        .await
    }

    /// Announced posts that are no longer public (deleted, back to draft, protected).
    pub async fn federated_posts_withdrawn(&self) -> Result<Vec<AnnouncedPost>> {
        let rows = self
            .db
            .query_all_raw(statement(
                self.db_backend(),
                "SELECT f.post_id, f.object_id, f.sent_updated_at FROM federation_posts f \
                 WHERE f.deleted = $1 AND NOT EXISTS (SELECT 1 FROM posts p WHERE p.id = f.post_id \
                 AND p.status = 'published' AND p.published_at <= $2 \
                 AND (p.password IS NULL OR p.password = '')) LIMIT 20",
                vec![false.into(), now().into()],
            ))
            .await?;
        rows.iter().map(announced_from_row).collect()
    }

    async fn announced_where(&self, condition: &str) -> Result<Vec<AnnouncedPost>> {
        let text = format!(
            "SELECT f.post_id, f.object_id, f.sent_updated_at FROM federation_posts f \
             JOIN posts p ON p.id = f.post_id WHERE {condition} ORDER BY f.post_id LIMIT 20"
        );
        let rows = self
            .db
            .query_all_raw(statement(
                self.db_backend(),
                &text,
                vec![false.into(), now().into()],
            ))
            .await?;
        rows.iter().map(announced_from_row).collect()
    }

    /// Records that a post went out (Create) and queues its deliveries, in one transaction.
    /// False when another process announced it first: nothing is queued then.
    pub async fn record_federated_post(
        &self,
        post_id: i64,
        object_id: &str,
        updated_at: OffsetDateTime,
        deliveries: &[NewDelivery],
    ) -> Result<bool> {
        let backend = self.db_backend();
        let txn = self.db.begin().await?;
        let inserted = txn
            .execute_raw(statement(
                backend,
                "INSERT INTO federation_posts (post_id, object_id, sent_updated_at, deleted, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (post_id) DO NOTHING",
                vec![
                    post_id.into(),
                    object_id.into(),
                    crate::normalize_time(updated_at).into(),
                    false.into(),
                    now().into(),
                ],
            ))
            .await?
            .rows_affected();
        if inserted == 0 {
            txn.rollback().await?;
            return Ok(false);
        }
        queue_deliveries(&txn, backend, deliveries).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Records that an announced post's new version (Update) or its withdrawal (Delete,
    /// `deleted`) went out, and queues the deliveries, in one transaction. False when
    /// another process did it first.
    pub async fn record_post_change(
        &self,
        announced: &AnnouncedPost,
        updated_at: OffsetDateTime,
        deleted: bool,
        deliveries: &[NewDelivery],
    ) -> Result<bool> {
        let backend = self.db_backend();
        let txn = self.db.begin().await?;
        let changed = txn
            .execute_raw(statement(
                backend,
                "UPDATE federation_posts SET sent_updated_at = $1, deleted = $2 \
                 WHERE post_id = $3 AND sent_updated_at = $4 AND deleted = $5",
                vec![
                    crate::normalize_time(updated_at).into(),
                    deleted.into(),
                    announced.post_id.into(),
                    announced.sent_updated_at.into(),
                    false.into(),
                ],
            ))
            .await?
            .rows_affected();
        if changed == 0 {
            txn.rollback().await?;
            return Ok(false);
        }
        queue_deliveries(&txn, backend, deliveries).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Announced, still public posts, newest first: the outbox.
    pub async fn federated_posts(&self, limit: u32) -> Result<(u64, Vec<i64>)> {
        let backend = self.db_backend();
        let count = self
            .db
            .query_one_raw(statement(
                backend,
                "SELECT COUNT(*) AS n FROM federation_posts WHERE deleted = $1",
                vec![false.into()],
            ))
            .await?;
        let n: i64 = match count {
            Some(row) => row.try_get("", "n")?,
            None => 0,
        };
        let rows = self
            .db
            .query_all_raw(statement(
                backend,
                "SELECT post_id FROM federation_posts WHERE deleted = $1 \
                 ORDER BY created_at DESC, post_id DESC LIMIT $2",
                vec![false.into(), i64::from(limit).into()],
            ))
            .await?;
        let ids = rows
            .iter()
            .map(|row| Ok(row.try_get("", "post_id")?))
            .collect::<Result<Vec<i64>>>()?;
        Ok((u64::try_from(n).unwrap_or(0), ids))
    }

    /// The announced post whose object id (its URL when announced) is `object_id`.
    pub async fn federated_post_by_object(&self, object_id: &str) -> Result<Option<i64>> {
        let row = self
            .db
            .query_one_raw(statement(
                self.db_backend(),
                "SELECT post_id FROM federation_posts WHERE object_id = $1",
                vec![object_id.into()],
            ))
            .await?;
        row.map(|row| Ok(row.try_get("", "post_id")?)).transpose()
    }

    /// The comment a remote note became, if it did.
    pub async fn federated_comment(&self, note_id: &str) -> Result<Option<i64>> {
        let row = self
            .db
            .query_one_raw(statement(
                self.db_backend(),
                "SELECT comment_id FROM federation_comments WHERE object_id = $1",
                vec![note_id.into()],
            ))
            .await?;
        row.map(|row| Ok(row.try_get("", "comment_id")?))
            .transpose()
    }

    /// Remembers which remote note a comment came from (so that a second delivery of it,
    /// its Update or its Delete find the comment). False when it was already recorded.
    pub async fn record_federated_comment(
        &self,
        comment_id: i64,
        note_id: &str,
        actor_id: &str,
    ) -> Result<bool> {
        let result = self
            .db
            .execute_raw(statement(
                self.db_backend(),
                "INSERT INTO federation_comments (comment_id, object_id, actor_id) \
                 VALUES ($1, $2, $3) ON CONFLICT (object_id) DO NOTHING",
                vec![comment_id.into(), note_id.into(), actor_id.into()],
            ))
            .await?;
        Ok(result.rows_affected() > 0)
    }

    /// The remote actor a federated comment came from, if it came from one.
    pub async fn federated_comment_author(&self, comment_id: i64) -> Result<Option<String>> {
        let row = self
            .db
            .query_one_raw(statement(
                self.db_backend(),
                "SELECT actor_id FROM federation_comments WHERE comment_id = $1",
                vec![comment_id.into()],
            ))
            .await?;
        row.map(|row| Ok(row.try_get("", "actor_id")?)).transpose()
    }

    /// Records a like or boost from the fediverse; false when the actor already did it.
    pub async fn add_reaction(
        &self,
        post_id: i64,
        actor_id: &str,
        kind: &str,
        activity_id: &str,
    ) -> Result<bool> {
        let result = self
            .db
            .execute_raw(statement(
                self.db_backend(),
                "INSERT INTO federation_reactions (post_id, actor_id, kind, activity_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                vec![
                    post_id.into(),
                    actor_id.into(),
                    kind.into(),
                    activity_id.into(),
                    now().into(),
                ],
            ))
            .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Removes a like or boost by its activity id (and actor): its post and kind, if there was one.
    pub async fn remove_reaction(
        &self,
        activity_id: &str,
        actor_id: &str,
    ) -> Result<Option<(i64, String)>> {
        let backend = self.db_backend();
        let row = self
            .db
            .query_one_raw(statement(
                backend,
                "SELECT post_id, kind FROM federation_reactions WHERE activity_id = $1 AND actor_id = $2",
                vec![activity_id.into(), actor_id.into()],
            ))
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let found = (row.try_get("", "post_id")?, row.try_get("", "kind")?);
        self.db
            .execute_raw(statement(
                backend,
                "DELETE FROM federation_reactions WHERE activity_id = $1 AND actor_id = $2",
                vec![activity_id.into(), actor_id.into()],
            ))
            .await?;
        Ok(Some(found))
    }

    /// Likes and boosts a post got from the fediverse: (likes, boosts).
    pub async fn reaction_counts(&self, post_id: i64) -> Result<(u64, u64)> {
        let rows = self
            .db
            .query_all_raw(statement(
                self.db_backend(),
                "SELECT kind, COUNT(*) AS n FROM federation_reactions WHERE post_id = $1 GROUP BY kind",
                vec![post_id.into()],
            ))
            .await?;
        let mut counts = (0, 0);
        for row in rows {
            let kind: String = row.try_get("", "kind")?;
            let n = u64::try_from(row.try_get::<i64>("", "n")?).unwrap_or(0);
            match kind.as_str() {
                "like" => counts.0 = n,
                "announce" => counts.1 = n,
                _ => {}
            }
        }
        Ok(counts)
    }

    /// Approved comments written here since `since` in answer to a remote note, not sent yet.
    pub async fn local_replies_to_send(&self, since: OffsetDateTime) -> Result<Vec<LocalReply>> {
        let rows = self
            .db
            .query_all_raw(statement(
                self.db_backend(),
                "SELECT c.id, c.post_id, f.object_id, f.actor_id FROM comments c \
                 JOIN federation_comments f ON f.comment_id = c.parent_id \
                 WHERE c.status = 'approved' AND c.deleted_at IS NULL AND c.created_at >= $1 \
                 AND NOT EXISTS (SELECT 1 FROM federation_comments o WHERE o.comment_id = c.id) \
                 AND NOT EXISTS (SELECT 1 FROM federation_sent_comments s WHERE s.comment_id = c.id) \
                 ORDER BY c.id LIMIT 20",
                vec![crate::normalize_time(since).into()],
            ))
            .await?;
        rows.iter()
            .map(|row| {
                Ok(LocalReply {
                    comment_id: row.try_get("", "id")?,
                    post_id: row.try_get("", "post_id")?,
                    note_id: row.try_get("", "object_id")?,
                    note_author: row.try_get("", "actor_id")?,
                })
            })
            .collect()
    }

    /// Records that a local reply went out and queues its deliveries, in one transaction.
    /// False when another process sent it first.
    pub async fn record_local_reply(
        &self,
        comment_id: i64,
        deliveries: &[NewDelivery],
    ) -> Result<bool> {
        let backend = self.db_backend();
        let txn = self.db.begin().await?;
        let inserted = txn
            .execute_raw(statement(
                backend,
                "INSERT INTO federation_sent_comments (comment_id, created_at) VALUES ($1, $2) \
                 ON CONFLICT (comment_id) DO NOTHING",
                vec![comment_id.into(), now().into()],
            ))
            .await?
            .rows_affected();
        if inserted == 0 {
            txn.rollback().await?;
            return Ok(false);
        }
        queue_deliveries(&txn, backend, deliveries).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Claims up to `limit` due deliveries for `worker` until `lease_until_ms`.
    pub async fn claim_deliveries(
        &self,
        worker: &str,
        limit: u32,
        lease_until_ms: i64,
    ) -> Result<Vec<ClaimedDelivery>> {
        let now_ms = millis(OffsetDateTime::now_utc());
        if !crate::leases::any_due(&self.db, "federation_deliveries", now_ms).await? {
            return Ok(Vec::new());
        }
        let rows = crate::leases::claim_due(
            &self.db,
            "federation_deliveries",
            "id, inbox, activity, attempts",
            worker,
            limit,
            lease_until_ms,
            now_ms,
        )
        .await?;
        let mut claimed = rows
            .iter()
            .map(|row| {
                Ok(ClaimedDelivery {
                    id: row.try_get("", "id")?,
                    inbox: row.try_get("", "inbox")?,
                    activity: row.try_get("", "activity")?,
                    attempts: row.try_get("", "attempts")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        claimed.sort_by_key(|d| d.id);
        Ok(claimed)
    }

    /// Marks a claimed delivery done. False when the lease was lost to another worker.
    pub async fn mark_delivery_sent(&self, id: i64, worker: &str) -> Result<bool> {
        let result = self
            .db
            .execute_raw(statement(
                self.db_backend(),
                "UPDATE federation_deliveries SET status = 'sent', sent_at = $1, \
                 attempts = attempts + 1, locked_by = NULL, locked_until = NULL, last_error = NULL \
                 WHERE id = $2 AND locked_by = $3",
                vec![now().into(), id.into(), worker.into()],
            ))
            .await?;
        Ok(result.rows_affected() > 0)
    }

    /// A failed attempt: tried again at `retry_at_ms`, or given up when `None`.
    pub async fn mark_delivery_failed(
        &self,
        id: i64,
        worker: &str,
        error: &str,
        retry_at_ms: Option<i64>,
    ) -> Result<()> {
        crate::leases::attempt_failed(
            &self.db,
            "federation_deliveries",
            id,
            worker,
            error,
            retry_at_ms,
        )
        .await
    }

    /// Gives a claimed delivery back without counting an attempt (the worker is stopping).
    pub async fn release_delivery(&self, id: i64, worker: &str) -> Result<()> {
        crate::leases::release(&self.db, "federation_deliveries", id, worker).await
    }

    /// Deliveries by state: (pending, sent, failed).
    pub async fn delivery_counts(&self) -> Result<(u64, u64, u64)> {
        let rows = self
            .db
            .query_all_raw(statement(
                self.db_backend(),
                "SELECT status, COUNT(*) AS n FROM federation_deliveries GROUP BY status",
                vec![],
            ))
            .await?;
        let mut counts = (0, 0, 0);
        for row in rows {
            let status: String = row.try_get("", "status")?;
            let n: i64 = row.try_get("", "n")?;
            let n = u64::try_from(n).unwrap_or(0);
            match status.as_str() {
                "pending" => counts.0 = n,
                "sent" => counts.1 = n,
                "failed" => counts.2 = n,
                _ => {}
            }
        }
        Ok(counts)
    }
}

async fn queue_deliveries<C: ConnectionTrait>(
    db: &C,
    backend: DbBackend,
    deliveries: &[NewDelivery],
) -> Result<()> {
    let now_ms = millis(OffsetDateTime::now_utc());
    for delivery in deliveries {
        let values: Vec<Value> = vec![
            delivery.inbox.clone().into(),
            delivery.activity.clone().into(),
            delivery.dedupe_key.clone().into(),
            now_ms.into(),
            now().into(),
        ];
        db.execute_raw(statement(
            backend,
            "INSERT INTO federation_deliveries (inbox, activity, dedupe_key, status, attempts, \
             next_attempt_at, created_at) VALUES ($1, $2, $3, 'pending', 0, $4, $5) \
             ON CONFLICT (dedupe_key) DO NOTHING",
            values,
        ))
        .await?;
    }
    Ok(())
}

fn remote_actor_from_row(row: &QueryResult) -> Result<RemoteActor> {
    Ok(RemoteActor {
        actor_id: row.try_get("", "actor_id")?,
        key_id: row.try_get("", "key_id")?,
        public_key_pem: row.try_get("", "public_key_pem")?,
        inbox: row.try_get("", "inbox")?,
        shared_inbox: row.try_get("", "shared_inbox")?,
        handle: row.try_get("", "handle")?,
        name: row.try_get("", "name")?,
        icon_url: row.try_get("", "icon_url")?,
        profile_url: row.try_get("", "profile_url")?,
        domain: row.try_get("", "domain")?,
    })
}

fn announced_from_row(row: &QueryResult) -> Result<AnnouncedPost> {
    Ok(AnnouncedPost {
        post_id: row.try_get("", "post_id")?,
        object_id: row.try_get("", "object_id")?,
        sent_updated_at: row.try_get("", "sent_updated_at")?,
    })
}
