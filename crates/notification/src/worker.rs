//! The outbox worker: claims due rows, renders, sends, marks. Transient failures back off
//! exponentially with jitter; permanent refusals and the last attempt mark the row failed.

use std::time::{Duration, Instant};

use folio_storage::{ClaimedMail, Store, millis};
use lettre::message::Mailbox;
use time::OffsetDateTime;
use tokio::sync::{Mutex, watch};
use tokio::task::JoinSet;

use crate::MailError;
use crate::messages::{PostPayload, SiteInfo, render_message};
use crate::plan::notify_new_post;

/// Posts published longer ago than this when a worker first sees them are not announced
/// (imported archives, a worker that was off for a long time).
const ANNOUNCE_WINDOW_DAYS: i64 = 2;
use crate::transport::{Mailer, SendError};

/// The `[mail]` settings the worker uses.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub from: String,
    /// Attempts before a row is marked failed.
    pub max_attempts: u32,
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// Emails per second at most (0: no limit), for SMTP plans that count.
    pub per_second: u32,
    pub batch_size: u32,
    /// How long to wait when the outbox is empty.
    pub poll_interval: Duration,
    /// How long a claimed row stays with this worker before another may take it.
    pub lease: Duration,
    /// Messages on their way at once (one SMTP connection each).
    pub concurrency: u32,
}

/// The delay before attempt `attempt + 1`, after `attempt` failures (1, 2, ...):
/// `base * 2^(attempt-1)`, at most `max`, then scaled into [50%, 100%] by `unit` (a random
/// number in [0, 1)) so that many failures at once do not retry at once.
pub fn retry_delay(attempt: u32, base: Duration, max: Duration, unit: f64) -> Duration {
    let exponent = attempt.saturating_sub(1).min(30);
    let full = base.saturating_mul(1u32 << exponent).min(max);
    full.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0))
}

fn random_unit() -> f64 {
    let bits = uuid::Uuid::new_v4().as_u128() & 0xFFFF_FFFF;
    // Exact: 32 bits fit an f64.
    #[allow(clippy::cast_precision_loss)]
    let unit = bits as f64 / 4_294_967_296.0;
    unit
}

pub struct Worker {
    store: Store,
    mailer: Mailer,
    settings: MailSettings,
    site: SiteInfo,
    from: Mailbox,
    id: String,
    next_send: Mutex<Instant>,
}

impl Worker {
    pub fn new(
        store: Store,
        mailer: Mailer,
        settings: MailSettings,
        site: SiteInfo,
    ) -> Result<Self, MailError> {
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|e| MailError::From(format!("{:?}: {e}", settings.from)))?;
        let id = format!(
            "{}-{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        Ok(Worker {
            store,
            mailer,
            settings,
            site,
            from,
            id,
            next_send: Mutex::new(Instant::now()),
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Claims one batch of due rows and handles each; how many were claimed. Up to
    /// `concurrency` messages are on their way at once; the sent ones are marked together.
    pub async fn run_once(&self) -> Result<usize, MailError> {
        let batch = self.settings.batch_size.max(1);
        let mut lease = self.settings.lease;
        if let Some(seconds) = batch.checked_div(self.settings.per_second) {
            // The whole batch must fit in the lease even at the send-rate limit.
            lease += Duration::from_secs(u64::from(seconds + 1) * 2);
        }
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2);
        let until = millis(OffsetDateTime::now_utc()).saturating_add(lease_ms);
        let claimed = self.store.claim_mail(&self.id, batch, until).await?;
        let count = claimed.len();
        let concurrency = usize::try_from(self.settings.concurrency.max(1)).unwrap_or(1);
        let mut sending = JoinSet::new();
        let mut sent = Vec::with_capacity(count);
        for mail in claimed {
            let message = match render_message(&mail, &self.site, &self.from) {
                Ok(message) => message,
                Err(error) => {
                    tracing::error!(id = mail.id, kind = %mail.kind, %error, "email cannot be made; marked failed");
                    self.store
                        .mark_mail_attempt_failed(mail.id, &self.id, &error.to_string(), None)
                        .await?;
                    continue;
                }
            };
            if matches!(self.mailer, crate::Mailer::Log)
                && let Ok(text) = crate::messages::plain_text(&mail, &self.site)
            {
                // The log transport is for trying Folio out: the email's words (a sign-in
                // link, say) go to the terminal as they are, where a log line would
                // escape or cut them.
                eprintln!(
                    "\n---- email to {} (mail.transport = \"log\": not sent) ----\n{}\n----\n",
                    mail.recipient,
                    text.trim_end()
                );
            }
            self.pace().await;
            while sending.len() >= concurrency {
                if let Some(done) = sending.join_next().await {
                    self.settle(done, &mut sent).await?;
                }
            }
            let mailer = self.mailer.clone();
            sending.spawn(async move {
                let outcome = mailer.send(message).await;
                (mail, outcome)
            });
        }
        while let Some(done) = sending.join_next().await {
            self.settle(done, &mut sent).await?;
        }
        self.flush_sent(&mut sent).await?;
        Ok(count)
    }

    /// Marks the emails sent so far; a worker killed later resends none of them.
    async fn flush_sent(&self, sent: &mut Vec<i64>) -> Result<(), MailError> {
        let marked = self.store.mark_mails_sent(sent, &self.id).await?;
        if marked < sent.len() as u64 {
            tracing::warn!(
                sent = sent.len(),
                marked,
                "emails sent after this worker's lease ran out; some may be sent twice"
            );
        }
        sent.clear();
        Ok(())
    }

    async fn pace(&self) {
        if self.settings.per_second == 0 {
            return;
        }
        let gap = Duration::from_secs(1) / self.settings.per_second;
        let mut next = self.next_send.lock().await;
        let now = Instant::now();
        if *next > now {
            tokio::time::sleep(*next - now).await;
        }
        *next = (*next).max(now) + gap;
    }

    /// Records one send's outcome: sent ids are collected; failures are written at once.
    async fn settle(
        &self,
        done: Result<(ClaimedMail, Result<String, SendError>), tokio::task::JoinError>,
        sent: &mut Vec<i64>,
    ) -> Result<(), MailError> {
        let Ok((mail, outcome)) = done else {
            // A send task panicked: its row stays claimed and is tried again after the lease.
            tracing::error!("an email send task failed");
            return Ok(());
        };
        match outcome {
            Ok(answer) => {
                tracing::debug!(id = mail.id, kind = %mail.kind, %answer, "email sent");
                sent.push(mail.id);
                // One commit per few dozen emails at full speed; at a send-rate limit, one
                // per email (then commits are cheap and a kill resends nothing).
                let flush_at = if self.settings.per_second > 0 { 1 } else { 32 };
                if sent.len() >= flush_at {
                    self.flush_sent(sent).await?;
                }
            }
            Err(SendError::Permanent(error)) => {
                tracing::warn!(id = mail.id, kind = %mail.kind, %error, "email refused for good; marked failed");
                self.store
                    .mark_mail_attempt_failed(mail.id, &self.id, &error, None)
                    .await?;
            }
            Err(SendError::Transient(error)) => {
                let attempts = u32::try_from(mail.attempts).unwrap_or(0) + 1;
                let retry_at = (attempts < self.settings.max_attempts).then(|| {
                    let delay = retry_delay(
                        attempts,
                        self.settings.retry_base,
                        self.settings.retry_max,
                        random_unit(),
                    );
                    millis(OffsetDateTime::now_utc())
                        + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 4)
                });
                match retry_at {
                    Some(_) => {
                        tracing::info!(id = mail.id, attempts, %error, "email not sent; will try again")
                    }
                    None => {
                        tracing::warn!(id = mail.id, attempts, %error, "email not sent after the last attempt; marked failed")
                    }
                }
                self.store
                    .mark_mail_attempt_failed(mail.id, &self.id, &error, retry_at)
                    .await?;
            }
        }
        Ok(())
    }

    /// Queues the new-post emails of posts just published or whose scheduled time came.
    /// Two workers doing this at once queue each email once (the outbox's dedupe key).
    pub async fn announce_new_posts(&self) -> Result<u64, MailError> {
        let mut queued = 0;
        for post_id in self
            .store
            .posts_to_announce(time::Duration::days(ANNOUNCE_WINDOW_DAYS))
            .await?
        {
            if let Some(post) = self.store.published_entry(post_id).await? {
                // Subscribers get what the public sees: a protected post's title, no words.
                let summary = &post.summary.sealed();
                let payload = PostPayload {
                    post_id,
                    post_title: summary.title.clone(),
                    post_path: folio_domain::slug::percent_encode_path(&summary.path()),
                    author_name: summary.author.display_name.clone(),
                    excerpt: summary.excerpt.clone(),
                };
                queued += notify_new_post(&self.store, &payload, summary.author.id).await?;
            }
            self.store.mark_post_announced(post_id).await?;
        }
        Ok(queued)
    }

    /// Sends until `stop` turns true: batch after batch while there is work, then a look
    /// every `poll_interval`. A database error is logged and tried again later.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        tracing::info!(worker = %self.id, "mail worker started");
        loop {
            if *stop.borrow() {
                break;
            }
            if let Err(error) = self.announce_new_posts().await {
                tracing::warn!(%error, "mail worker: cannot queue new-post emails; will try again");
            }
            let idle = match self.run_once().await {
                Ok(0) => true,
                Ok(_) => false,
                Err(error) => {
                    tracing::warn!(%error, "mail worker: will try again");
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
        tracing::info!(worker = %self.id, "mail worker stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_with_jitter_and_a_ceiling() {
        let base = Duration::from_secs(30);
        let max = Duration::from_secs(3600);
        assert_eq!(retry_delay(1, base, max, 1.0), Duration::from_secs(30));
        assert_eq!(retry_delay(2, base, max, 1.0), Duration::from_secs(60));
        assert_eq!(retry_delay(3, base, max, 0.0), Duration::from_secs(60));
        assert_eq!(retry_delay(20, base, max, 1.0), max);
        let jittered = retry_delay(4, base, max, 0.5);
        assert!(jittered > Duration::from_secs(120) && jittered < Duration::from_secs(240));
    }
}
