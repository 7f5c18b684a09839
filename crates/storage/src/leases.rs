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
