//! Readers' comments are written in groups. One task per process takes every comment waiting
//! when it is free and writes them in one transaction: on SQLite a transaction holds the one
//! write lock and its commit waits for the disk, so comments written one per transaction
//! queue behind each other's commits; in a group they share one. Each comment gets the same
//! checks as alone (rate limits, duplicates), in order, inside that transaction, so a check
//! sees the comments written before it in the same group. A request hears back only once
//! its own comment is committed.

use folio_domain::CommentRefusal;
use sea_orm::sea_query::LockType;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};
use tokio::sync::{mpsc, oneshot, watch};

use crate::address_limits::{AddressLimit, lock_addresses};
use crate::comments::{CommentChecks, NewComment, StoredComment, insert_comments, refusals};
use crate::entities::users;
use crate::mail::{NewMail, insert_mails, set_follows};
use crate::site::bump_content_version;
use crate::threads::comments_written;
use crate::{Backend, Result, StorageError};

/// Comments waiting beyond this make their requests wait to be queued: memory stays bounded
/// however many readers post at once.
const QUEUE: usize = 1024;
/// The most comments in one transaction: enough to share a commit among many, few enough
/// that the write lock is not held long.
const GROUP: usize = 256;

/// The outbox rows for a comment once its id is known. Called again if its group is
/// written a second time (see `write_group`).
pub(crate) type MailFor = Box<dyn Fn(i64) -> Vec<NewMail> + Send + Sync>;

/// The outcome of one comment: its id, or why it was refused.
pub(crate) type Written = std::result::Result<StoredComment, CommentRefusal>;

/// A reader's comment, rendered and planned, waiting for the writer.
pub(crate) struct PendingComment {
    pub new: NewComment,
    pub html: String,
    pub checks: CommentChecks,
    pub follow_thread: bool,
    pub mail: MailFor,
}

struct Job {
    comment: PendingComment,
    answer: oneshot::Sender<Result<Written>>,
}

/// The queue into the writer task and the means to stop it.
pub(crate) struct CommentWriter {
    jobs: mpsc::Sender<Job>,
    stop: watch::Sender<bool>,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for CommentWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommentWriter").finish_non_exhaustive()
    }
}

impl CommentWriter {
    /// Starts the writer task on the current runtime.
    pub(crate) fn start(db: DatabaseConnection, backend: Backend) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let (stop, stopping) = watch::channel(false);
        let task = tokio::spawn(run(db, backend, queue, stopping));
        CommentWriter {
            jobs,
            stop,
            task: std::sync::Mutex::new(Some(task)),
        }
    }

    /// Queues `comment` and waits until it is committed (or refused).
    pub(crate) async fn write(&self, comment: PendingComment) -> Result<Written> {
        let (answer, answered) = oneshot::channel();
        self.jobs
            .send(Job { comment, answer })
            .await
            .map_err(|_| StorageError::ShuttingDown)?;
        answered.await.map_err(|_| StorageError::ShuttingDown)?
    }

    /// Takes no more comments, writes those already queued, and returns once they are in.
    pub(crate) async fn finish(&self) {
        let _ = self.stop.send(true);
        let task = self.task.lock().ok().and_then(|mut task| task.take());
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

async fn run(
    db: DatabaseConnection,
    backend: Backend,
    mut queue: mpsc::Receiver<Job>,
    mut stopping: watch::Receiver<bool>,
) {
    loop {
        let first = tokio::select! {
            job = queue.recv() => job,
            // Told to stop (or its store is gone).
            _ = stopping.changed() => {
                // Refuse new comments; the ones already queued are still written below.
                queue.close();
                queue.recv().await
            }
        };
        let Some(first) = first else { break };
        let mut jobs = vec![first];
        while jobs.len() < GROUP {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        write_jobs(&db, backend, jobs).await;
    }
}

/// Writes a group and answers each request. A group that fails as a whole (a comment whose
/// post was deleted meanwhile, a lost connection) is written again a comment at a time, so
/// one comment's trouble stays its own.
async fn write_jobs(db: &DatabaseConnection, backend: Backend, jobs: Vec<Job>) {
    let comments: Vec<&PendingComment> = jobs.iter().map(|job| &job.comment).collect();
    match write_group(db, backend, &comments).await {
        Ok(outcomes) => {
            for (job, outcome) in jobs.into_iter().zip(outcomes) {
                let _ = job.answer.send(Ok(outcome));
            }
        }
        Err(error) if jobs.len() == 1 => {
            if let Some(job) = jobs.into_iter().next() {
                let _ = job.answer.send(Err(error));
            }
        }
        Err(error) => {
            tracing::warn!(%error, comments = jobs.len(), "a group of comments failed; writing them one at a time");
            for job in jobs {
                let outcome =
                    write_group(db, backend, &[&job.comment])
                        .await
                        .and_then(|mut outcomes| {
                            outcomes.pop().ok_or_else(|| {
                                StorageError::unexpected(
                                    "comments",
                                    "id",
                                    "no outcome for a comment",
                                )
                            })
                        });
                let _ = job.answer.send(outcome);
            }
        }
    }
}

/// One transaction for `comments`; their outcomes in the same order.
async fn write_group(
    db: &DatabaseConnection,
    backend: Backend,
    comments: &[&PendingComment],
) -> Result<Vec<Written>> {
    let txn = crate::connect::begin_write(db, backend).await?;
    if backend == Backend::Postgres {
        hold_authors(&txn, comments).await?;
    }
    let checked: Vec<(&NewComment, CommentChecks)> =
        comments.iter().map(|c| (&c.new, c.checks)).collect();
    let checks = refusals(&txn, &checked).await?;
    let passed: Vec<&PendingComment> = comments
        .iter()
        .zip(&checks.refusals)
        .filter(|(_, refusal)| refusal.is_none())
        .map(|(comment, _)| *comment)
        .collect();
    let rows = insert_comments(
        &txn,
        passed
            .iter()
            .map(|c| (c.new.clone(), c.html.clone()))
            .collect(),
    )
    .await?;
    let follows: Vec<(i64, i64)> = passed
        .iter()
        .zip(&rows)
        .filter(|(comment, _)| comment.follow_thread)
        .filter_map(|(comment, row)| comment.new.author_id.map(|user| (row.post_id, user)))
        .collect();
    set_follows(&txn, &follows).await?;
    let mut mails = Vec::new();
    for (comment, row) in passed.iter().zip(&rows) {
        mails.extend((comment.mail)(row.id));
    }
    let indexes = comments_written(&txn, &rows).await?;
    let mut stored = passed.iter().zip(&rows).map(|(comment, row)| {
        // Its author's own thread has their held comments in it: placed apart, not here.
        let holding = comment
            .new
            .author_id
            .is_some_and(|user| checks.holding.contains(&(user, row.post_id)));
        StoredComment {
            id: row.id,
            conversation_index: indexes.get(&row.id).copied().filter(|_| !holding),
        }
    });
    let mut outcomes = Vec::with_capacity(comments.len());
    for refusal in checks.refusals {
        outcomes.push(match refusal {
            Some(refused) => Err(refused),
            None => Ok(stored.next().ok_or_else(|| {
                StorageError::unexpected("comments", "id", "a written comment has no row")
            })?),
        });
    }
    insert_mails(&txn, &mails).await?;
    if !rows.is_empty() {
        bump_content_version(&txn).await?;
    }
    txn.commit().await?;
    Ok(outcomes)
}

/// PostgreSQL lets several processes write at once: before counting, take the locks that
/// keep one author's (and one address's) comments apart across processes, as one comment
/// alone would. Always in the same order (addresses, then users, each sorted), so two
/// processes' groups wait for each other instead of deadlocking. SQLite needs none of this:
/// `BEGIN IMMEDIATE` already holds its one write lock.
async fn hold_authors(txn: &DatabaseTransaction, comments: &[&PendingComment]) -> Result<()> {
    let addresses: Vec<&str> = comments
        .iter()
        .filter(|c| c.checks.per_address > 0)
        .filter_map(|c| c.new.author_ip.as_deref())
        .collect();
    lock_addresses(txn, AddressLimit::Comments, &addresses).await?;
    let mut authors: Vec<i64> = comments.iter().filter_map(|c| c.new.author_id).collect();
    authors.sort_unstable();
    authors.dedup();
    if authors.is_empty() {
        return Ok(());
    }
    // The lock an `UPDATE` of the row takes, without writing it.
    let query = users::Entity::find()
        .select_only()
        .column(users::Column::Id)
        .filter(users::Column::Id.is_in(authors))
        .order_by_asc(users::Column::Id)
        .lock(LockType::NoKeyUpdate);
    let statement = query.build(txn.get_database_backend());
    txn.query_all_raw(statement).await?;
    Ok(())
}
