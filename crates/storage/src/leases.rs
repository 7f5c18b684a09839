//! Durable queues (the mail outbox, fediverse deliveries) are claimed the same way: a worker
//! leases due rows for a while, so that several processes on one PostgreSQL database never
//! send the same row twice and a crashed worker's rows come due again when its lease ends.

use sea_orm::{ConnectionTrait, DbBackend, QueryResult};

use crate::Result;
use crate::raw::statement;

/// Whether `table` has a row due at `now_ms` that nobody holds. An idle worker only reads:
/// on SQLite every write would compete with the site's.
pub(crate) async fn any_due<C: ConnectionTrait>(db: &C, table: &str, now_ms: i64) -> Result<bool> {
    let due = db
        .query_one_raw(statement(
            db.get_database_backend(),
            &format!(
                "SELECT id FROM {table} WHERE status = 'pending' AND next_attempt_at <= $1 \
                 AND (locked_until IS NULL OR locked_until < $2) LIMIT 1"
            ),
            vec![now_ms.into(), now_ms.into()],
        ))
        .await?;
    Ok(due.is_some())
}

/// Leases up to `limit` due rows of `table` to `worker` until `lease_until_ms`, oldest due
/// first, and returns their `returning` columns.
pub(crate) async fn claim_due<C: ConnectionTrait>(
    db: &C,
    table: &str,
    returning: &str,
    worker: &str,
    limit: u32,
    lease_until_ms: i64,
    now_ms: i64,
) -> Result<Vec<QueryResult>> {
    let backend = db.get_database_backend();
    // Two PostgreSQL workers claiming at once each take rows the other has not locked.
    let lock = if backend == DbBackend::Postgres {
        "FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let text = format!(
        "UPDATE {table} SET locked_by = $1, locked_until = $2 WHERE id IN (\
         SELECT id FROM {table} WHERE status = 'pending' AND next_attempt_at <= $3 \
         AND (locked_until IS NULL OR locked_until < $4) ORDER BY next_attempt_at, id LIMIT $5 {lock}) \
         RETURNING {returning}"
    );
    Ok(db
        .query_all_raw(statement(
            backend,
            &text,
            vec![
                worker.into(),
                lease_until_ms.into(),
                now_ms.into(),
                now_ms.into(),
                i64::from(limit).into(),
            ],
        ))
        .await?)
}

/// A failed attempt at a row `worker` holds: due again at `retry_at_ms`, or marked failed
/// when `None` (a permanent refusal, or the last attempt).
pub(crate) async fn attempt_failed<C: ConnectionTrait>(
    db: &C,
    table: &str,
    id: i64,
    worker: &str,
    error: &str,
    retry_at_ms: Option<i64>,
) -> Result<()> {
    let (status, next) = match retry_at_ms {
        Some(at) => ("pending", at),
        None => (
            "failed",
            crate::mail::millis(time::OffsetDateTime::now_utc()),
        ),
    };
    db.execute_raw(statement(
        db.get_database_backend(),
        &format!(
            "UPDATE {table} SET status = $1, next_attempt_at = $2, attempts = attempts + 1, \
             last_error = $3, locked_by = NULL, locked_until = NULL WHERE id = $4 AND locked_by = $5"
        ),
        vec![
            status.into(),
            next.into(),
            error.chars().take(2000).collect::<String>().into(),
            id.into(),
            worker.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Gives a row `worker` holds back without counting an attempt (the worker is stopping).
pub(crate) async fn release<C: ConnectionTrait>(
    db: &C,
    table: &str,
    id: i64,
    worker: &str,
) -> Result<()> {
    db.execute_raw(statement(
        db.get_database_backend(),
        &format!("UPDATE {table} SET locked_by = NULL, locked_until = NULL WHERE id = $1 AND locked_by = $2"),
        vec![id.into(), worker.into()],
    ))
    .await?;
    Ok(())
}
