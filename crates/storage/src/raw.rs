//! Hand-written SQL for both databases: written once with PostgreSQL's `$N` placeholders,
//! and turned into SQLite's `?` when that is the backend.

use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement, Value};

use crate::{Backend, Result, Store};

/// `text` with `$N` placeholders, as `backend` wants it. Each `$N` must appear once and in
/// order, since SQLite's `?` is positional.
pub(crate) fn sql(backend: DbBackend, text: &str) -> String {
    if backend == DbBackend::Postgres {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

/// `INSERT INTO table (columns) VALUES (…), (…)` with placeholders for `rows` rows: one
/// statement for a whole batch, which both databases take far faster than a row at a time.
pub(crate) fn insert_rows_sql<S: AsRef<str>>(
    backend: DbBackend,
    table: &str,
    columns: &[S],
    rows: usize,
) -> String {
    use std::fmt::Write as _;
    let width = columns.len();
    let names: Vec<&str> = columns.iter().map(AsRef::as_ref).collect();
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", names.join(", "));
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..width {
            if c > 0 {
                sql.push_str(", ");
            }
            match backend {
                DbBackend::Postgres => {
                    let _ = write!(sql, "${}", r * width + c + 1);
                }
                _ => sql.push('?'),
            }
        }
        sql.push(')');
    }
    sql
}

pub(crate) fn statement(backend: DbBackend, text: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(backend, sql(backend, text), values)
}

impl Store {
    /// The `n`th (from 1) placeholder of a statement built at run time.
    pub(crate) fn placeholder(&self, n: usize) -> String {
        match self.backend {
            Backend::Sqlite => "?".to_owned(),
            Backend::Postgres => format!("${n}"),
        }
    }

    /// Every row `text` (with `$N` placeholders) selects.
    pub(crate) async fn rows(&self, text: &str, values: Vec<Value>) -> Result<Vec<QueryResult>> {
        Ok(self
            .db
            .query_all_raw(statement(self.db_backend(), text, values))
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_backend() {
        assert_eq!(
            sql(DbBackend::Sqlite, "a = $1 AND b = $12"),
            "a = ? AND b = ?"
        );
        assert_eq!(sql(DbBackend::Postgres, "a = $1"), "a = $1");
    }

    #[test]
    fn a_batch_insert_numbers_every_value() {
        assert_eq!(
            insert_rows_sql(DbBackend::Postgres, "t", &["a", "b"], 2),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"
        );
        assert_eq!(
            insert_rows_sql(DbBackend::Sqlite, "t", &["a", "b"], 2),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)"
        );
    }
}
