//! What backup and restore need from the database: a consistent copy of a SQLite database
//! while the site serves, whether a database already holds a site, and every row of every
//! table as text, to compare two databases row by row.

use std::path::{Path, PathBuf};

use sea_orm::{ConnectionTrait, Statement};

use crate::{Backend, Result, Store};

/// Tables that exist in every migrated database whatever it holds: migration bookkeeping and
/// the one-row content version. SQLite's full-text index tables (`posts_fts*`) are left out too.
const BOOKKEEPING: &[&str] = &["seaql_migrations", "site_state"];

/// The file behind a `sqlite:` URL, or None for other databases and in-memory SQLite.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    crate::connect::sqlite_path(url)
        .filter(|path| !path.is_empty() && *path != ":memory:")
        .map(PathBuf::from)
}

fn quoted(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// The site's data tables on `db` (a connection or a transaction), in name order.
pub(crate) async fn data_tables_on<C: ConnectionTrait>(
    db: &C,
    backend: Backend,
) -> Result<Vec<String>> {
    let sql = match backend {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE 'posts\\_fts%' ESCAPE '\\' \
             ORDER BY name"
        }
        Backend::Postgres => {
            "SELECT CAST(table_name AS TEXT) AS name FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
        }
    };
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?;
    let mut tables = Vec::with_capacity(rows.len());
    for row in rows {
        let name: String = row.try_get("", "name")?;
        if !BOOKKEEPING.contains(&name.as_str()) {
            tables.push(name);
        }
    }
    Ok(tables)
}

impl Store {
    /// Writes a consistent copy of the whole SQLite database to `target`, which must not
    /// exist yet. Other connections keep reading and writing meanwhile: `VACUUM INTO` reads
    /// one snapshot, and the copy is compact and needs no WAL file beside it.
    pub async fn sqlite_backup(&self, target: &Path) -> Result<()> {
        let target = target.to_string_lossy().replace('\'', "''");
        self.db
            .execute_unprepared(&format!("VACUUM INTO '{target}'"))
            .await?;
        Ok(())
    }

    /// Tables that hold the site's data, in name order.
    pub async fn data_tables(&self) -> Result<Vec<String>> {
        data_tables_on(&self.db, self.backend).await
    }

    /// The first data table that holds rows, with its row count; None for an empty site
    /// (no tables yet, or freshly migrated ones). Restore refuses a database that is not empty.
    pub async fn first_table_with_rows(&self) -> Result<Option<(String, i64)>> {
        for table in self.data_tables().await? {
            let row = self
                .db
                .query_one_raw(Statement::from_string(
                    self.db_backend(),
                    format!("SELECT COUNT(*) AS n FROM {}", quoted(&table)),
                ))
                .await?;
            let count: i64 = match row {
                Some(row) => row.try_get("", "n")?,
                None => 0,
            };
            if count > 0 {
                return Ok(Some((table, count)));
            }
        }
        Ok(None)
    }

    /// The column names of `table`, in their order.
    pub async fn table_columns(&self, table: &str) -> Result<Vec<String>> {
        let statement = match self.backend {
            Backend::Sqlite => Statement::from_sql_and_values(
                self.db_backend(),
                "SELECT name FROM pragma_table_info(?) ORDER BY cid",
                [table.into()],
            ),
            Backend::Postgres => Statement::from_sql_and_values(
                self.db_backend(),
                "SELECT CAST(column_name AS TEXT) AS name FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
                [table.into()],
            ),
        };
        let rows = self.db.query_all_raw(statement).await?;
        rows.iter()
            .map(|row| Ok(row.try_get::<String>("", "name")?))
            .collect()
    }

    /// Every row of `table`, each value as text (NULL as None), sorted by all columns in
    /// order: two databases with the same content give equal results.
    pub async fn table_rows(&self, table: &str) -> Result<Vec<Vec<Option<String>>>> {
        let columns = self.table_columns(table).await?;
        if columns.is_empty() {
            return Ok(Vec::new());
        }
        let selected: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| format!("CAST({} AS TEXT) AS c{i}", quoted(c)))
            .collect();
        let order: Vec<String> = (1..=columns.len()).map(|i| i.to_string()).collect();
        let sql = format!(
            "SELECT {} FROM {} ORDER BY {}",
            selected.join(", "),
            quoted(table),
            order.join(", ")
        );
        let rows = self
            .db
            .query_all_raw(Statement::from_string(self.db_backend(), sql))
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut values = Vec::with_capacity(columns.len());
            for i in 0..columns.len() {
                values.push(row.try_get::<Option<String>>("", &format!("c{i}"))?);
            }
            out.push(values);
        }
        Ok(out)
    }
}
