//! The delivery worker: turns newly published, changed and withdrawn posts into activities
//! queued for every follower's (shared) inbox, and delivers queued activities, signed, with
//! retries that back off. Several workers (processes) share the queue safely: each claims
//! rows under a lease, as the mail worker does.

use std::time::Duration;

use folio_storage::{AnnouncedPost, ClaimedDelivery, NewDelivery, millis};
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::{Federation, FederationError, documents};

#[derive(Clone, Debug)]
pub struct WorkerSettings {
    /// How long to wait when there is nothing to do.
    pub poll_interval: Duration,
    /// Tries before a delivery is given up.
    pub max_attempts: u32,
    /// The wait after the first failure; it doubles each time, up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// Deliveries on their way at once.
    pub concurrency: usize,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            poll_interval: Duration::from_secs(1),
            max_attempts: 10,
            retry_base: Duration::from_secs(60),
            retry_max: Duration::from_secs(6 * 3600),
            concurrency: 8,
        }
    }
}

pub struct Worker {
    federation: Federation,
    settings: WorkerSettings,
    id: String,
}

/// The wait before the next try after `attempts` failures: `base * 2^(attempts-1)`, at
/// most `max`, with up to half of it taken off at random so that failures spread out.
fn retry_delay(attempts: u32, base: Duration, max: Duration) -> Duration {
    let exponent = attempts.saturating_sub(1).min(30);
    let full = base.saturating_mul(1u32 << exponent).min(max);
    let bits = uuid::Uuid::new_v4().as_u128() & 0xFFFF;
    let unit = u32::try_from(bits).unwrap_or(0);
    full / 2 + (full / 2) * unit / 0xFFFF
}

impl Worker {
    pub fn new(federation: Federation, settings: WorkerSettings) -> Self {
        let id = format!(
            "ap-{}-{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        Worker {
            federation,
            settings,
            id,
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn deliveries_to_followers(
        inboxes: &[String],
        activity: &serde_json::Value,
        key: &str,
    ) -> Vec<NewDelivery> {
        let text = activity.to_string();
        inboxes
            .iter()
            .map(|inbox| NewDelivery {
                inbox: inbox.clone(),
                activity: text.clone(),
                dedupe_key: format!("{key}:{inbox}"),
            })
            .collect()
    }

    /// Queues `Create` for posts published since the blog joined the fediverse, `Update`
    /// for announced posts changed since, `Delete` for those no longer public. Each post
    /// change is recorded with its deliveries in one transaction; two workers doing this at
    /// once queue each delivery once.
    pub async fn publish(&self) -> Result<usize, FederationError> {
        let federation = &self.federation;
        let store = federation.store();
        let urls = federation.urls();
        let since = federation.joined_at().await?;
        let mut queued = 0;
        queued += self.send_local_replies(since).await?;
        let new_posts = store.posts_to_federate(since).await?;
        let changed = store.federated_posts_changed().await?;
        let withdrawn = store.federated_posts_withdrawn().await?;
        if new_posts.is_empty() && changed.is_empty() && withdrawn.is_empty() {
            return Ok(0);
        }
        let inboxes = store.follower_inboxes().await?;
        for post_id in new_posts {
            let Some(post) = store.published_entry(post_id).await? else {
                continue;
            };
            let summary = &post.summary;
            let activity = federation.create_activity(summary);
            let deliveries =
                Self::deliveries_to_followers(&inboxes, &activity, &format!("create:{post_id}"));
            if store
                .record_federated_post(
                    post_id,
                    &urls.post(summary),
                    summary.updated_at,
                    &deliveries,
                )
                .await?
            {
                queued += deliveries.len();
                tracing::info!(
                    post_id,
                    inboxes = deliveries.len(),
                    "post sent to the fediverse"
                );
            }
        }
        for announced in changed {
            queued += self.update(&announced, &inboxes).await?;
        }
        for announced in withdrawn {
            let activity = documents::delete(urls, &announced.object_id, OffsetDateTime::now_utc());
            let deliveries = Self::deliveries_to_followers(
                &inboxes,
                &activity,
                &format!("delete:{}", announced.post_id),
            );
            if store
                .record_post_change(&announced, announced.sent_updated_at, true, &deliveries)
                .await?
            {
                queued += deliveries.len();
            }
        }
        Ok(queued)
    }

    /// Comments written here in answer to remote notes go to the notes' authors (their
    /// inbox), as Notes by the blog that name the comment's writer.
    async fn send_local_replies(&self, since: OffsetDateTime) -> Result<usize, FederationError> {
        let store = self.federation.store();
        let urls = self.federation.urls();
        let mut queued = 0;
        for reply in store.local_replies_to_send(since).await? {
            let (Some(comment), Some(author)) = (
                store.comment(reply.comment_id).await?,
                store.remote_actor(&reply.note_author).await?,
            ) else {
                // Nothing to send, and nowhere: recorded so that it is not looked at again.
                store.record_local_reply(reply.comment_id, &[]).await?;
                continue;
            };
            let note = documents::reply_note(
                urls,
                &comment,
                &reply.note_id,
                &author.actor_id,
                &author.handle,
            );
            let id = format!("{}/ap/activities/reply/{}", urls.base_url, comment.id);
            let mut activity = documents::wrap(urls, "Create", id, note);
            if let Some(object) = activity.as_object_mut() {
                object.insert(
                    "cc".to_owned(),
                    serde_json::json!([author.actor_id, urls.followers()]),
                );
            }
            let delivery = NewDelivery {
                inbox: author.shared_inbox.clone().unwrap_or(author.inbox.clone()),
                activity: activity.to_string(),
                dedupe_key: format!("reply:{}", comment.id),
            };
            if store
                .record_local_reply(reply.comment_id, std::slice::from_ref(&delivery))
                .await?
            {
                queued += 1;
                tracing::info!(comment_id = comment.id, to = %author.actor_id, "reply sent to the fediverse");
            }
        }
        Ok(queued)
    }

    async fn update(
        &self,
        announced: &AnnouncedPost,
        inboxes: &[String],
    ) -> Result<usize, FederationError> {
        let store = self.federation.store();
        let urls = self.federation.urls();
        let Some(post) = store.published_entry(announced.post_id).await? else {
            return Ok(0);
        };
        let summary = &post.summary;
        let version = summary.updated_at.unix_timestamp();
        let activity = documents::wrap(
            urls,
            "Update",
            format!(
                "{}/ap/activities/update/{}/{version}",
                urls.base_url, announced.post_id
            ),
            documents::article(urls, summary),
        );
        let deliveries = Self::deliveries_to_followers(
            inboxes,
            &activity,
            &format!("update:{}:{version}", announced.post_id),
        );
        if store
            .record_post_change(announced, summary.updated_at, false, &deliveries)
            .await?
        {
            return Ok(deliveries.len());
        }
        Ok(0)
    }

    /// Claims one batch of due deliveries and sends them; how many were claimed.
    pub async fn deliver_once(&self) -> Result<usize, FederationError> {
        let store = self.federation.store();
        let lease_ms = 5 * 60 * 1000;
        let until = millis(OffsetDateTime::now_utc()) + lease_ms;
        let signer = self.federation.signer().await?.clone();
        let claimed = store.claim_deliveries(&self.id, 32, until).await?;
        let count = claimed.len();
        let mut sending = JoinSet::new();
        for delivery in claimed {
            while sending.len() >= self.settings.concurrency.max(1) {
                if let Some(done) = sending.join_next().await {
                    self.settle(done).await?;
                }
            }
            let fetcher = self.federation.fetcher().clone();
            let signer = signer.clone();
            sending.spawn(async move {
                let outcome = fetcher
                    .post_activity(&delivery.inbox, &delivery.activity, &signer)
                    .await;
                (delivery, outcome)
            });
        }
        while let Some(done) = sending.join_next().await {
            self.settle(done).await?;
        }
        Ok(count)
    }

    async fn settle(
        &self,
        done: Result<(ClaimedDelivery, Result<(), crate::FetchError>), tokio::task::JoinError>,
    ) -> Result<(), FederationError> {
        let Ok((delivery, outcome)) = done else {
            // The row stays claimed and is tried again after the lease.
            tracing::error!("a delivery task failed");
            return Ok(());
        };
        let store = self.federation.store();
        match outcome {
            Ok(()) => {
                tracing::debug!(id = delivery.id, inbox = %delivery.inbox, "activity delivered");
                store.mark_delivery_sent(delivery.id, &self.id).await?;
            }
            Err(error) => {
                let attempts = u32::try_from(delivery.attempts).unwrap_or(0) + 1;
                let retry_at = (!error.is_permanent() && attempts < self.settings.max_attempts)
                    .then(|| {
                        let delay = retry_delay(
                            attempts,
                            self.settings.retry_base,
                            self.settings.retry_max,
                        );
                        millis(OffsetDateTime::now_utc())
                            + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 4)
                    });
                tracing::warn!(id = delivery.id, inbox = %delivery.inbox, attempts, %error, retry = retry_at.is_some(), "activity not delivered");
                store
                    .mark_delivery_failed(delivery.id, &self.id, &error.to_string(), retry_at)
                    .await?;
            }
        }
        Ok(())
    }

    /// Works until `stop` turns true. A database error is logged and tried again later.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        tracing::info!(worker = %self.id, "federation worker started");
        loop {
            if *stop.borrow() {
                break;
            }
            if let Err(error) = self.publish().await {
                tracing::warn!(%error, "federation worker: cannot queue post activities; will try again");
            }
            let idle = match self.deliver_once().await {
                Ok(0) => true,
                Ok(_) => false,
                Err(error) => {
                    tracing::warn!(%error, "federation worker: will try again");
                    true
                }
            };
            if idle {
                tokio::select! {
                    () = tokio::time::sleep(self.settings.poll_interval) => {}
                    _ = stop.changed() => {}
                }
            }
        }
        tracing::info!(worker = %self.id, "federation worker stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::retry_delay;
    use std::time::Duration;

    #[test]
    fn retries_back_off_up_to_a_ceiling() {
        let base = Duration::from_secs(60);
        let max = Duration::from_secs(3600);
        assert!(retry_delay(1, base, max) <= base);
        assert!(retry_delay(3, base, max) >= base * 2);
        assert!(retry_delay(20, base, max) <= max);
    }
}
