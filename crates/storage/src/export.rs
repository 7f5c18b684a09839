//! Folio's own export: every table of the schema as one JSON document, written and read back
//! row by row so that a site of any size moves in bounded memory.
//!
//! The dump is driven by the live schema (column names and declared types read from the
//! database), with values typed portably: integers, booleans as JSON booleans (SQLite keeps
//! 0/1), timestamps as RFC 3339 UTC strings, text, null. SQLite declares timestamps as TEXT,
//! so there a TEXT column named `*_at` or `*_until` is a timestamp (the schema's convention).
//! Tables come in foreign-key order and rows in primary-key order (byte order for text keys,
//! on both databases), so two exports of the same data are byte-identical whichever database
//! they came from, apart from the header's time.
//!
//! Reading streams too: a table's rows go to the database in batches as they are parsed,
//! since each table's name and columns come before its rows. (A file whose keys a tool has
//! sorted still reads; such a table is held in memory first.)
//!
//! ```text
//! {
//!   "format": "folio-export",
//!   "format_version": 1,
//!   "folio_version": "0.1.0",
//!   "schema": "m20261127_000004_admin",
//!   "exported_at": "2026-11-27T02:00:00Z",
//!   "tables": [
//!     {"table": "users", "columns": ["id", "slug", ...], "rows": [
//!       [1, "alice", ...]
//!     ]},
//!     ...
//!   ]
//! }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::{Read, Write};

use folio_migrations::{Migrator, MigratorTrait};
use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseTransaction, IsolationLevel, Statement, TransactionTrait,
    Value,
};
use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::raw::insert_rows_sql;
use crate::{Backend, Result, StorageError, Store};

pub const EXPORT_FORMAT: &str = "folio-export";
pub const EXPORT_FORMAT_VERSION: u64 = 1;

/// Sign-in sessions stay behind: a session id is a bearer credential (an admin's is the whole
/// site), and an export is a file that gets copied around. After a move readers sign in again.
/// So do the last day's actions per network address (rate limits): short-lived, and personal;
/// and email sign-in links, which last minutes.
const NOT_EXPORTED: &[&str] = &["sessions", "address_events", "sign_in_tokens"];

/// Rows read per query while exporting, and rows per INSERT while importing.
const PAGE_ROWS: usize = 1000;
const MAX_BATCH_ROWS: usize = 500;
/// Both databases bind at least this many parameters in one statement.
const MAX_BATCH_PARAMETERS: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColumnType {
    Integer,
    Boolean,
    Timestamp,
    Real,
    Text,
}

#[derive(Debug, Clone)]
struct Column {
    name: String,
    kind: ColumnType,
}

#[derive(Debug, Clone)]
struct TableShape {
    name: String,
    columns: Vec<Column>,
    /// Primary-key columns, in key order (empty: the table has none).
    key: Vec<String>,
    /// Columns that reference another row of the same table (a reply's parent comment).
    self_references: Vec<String>,
    /// Other tables this one references.
    references: BTreeSet<String>,
}

impl TableShape {
    fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The single integer key keyset paging and self-reference ordering rely on.
    fn integer_key(&self) -> Option<&str> {
        match self.key.as_slice() {
            [key] if self.column(key).map(|c| c.kind) == Some(ColumnType::Integer) => Some(key),
            _ => None,
        }
    }
}

/// What an export or import moved: rows per table, in the order they were written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransferSummary {
    pub tables: Vec<(String, u64)>,
}

impl TransferSummary {
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|(_, n)| n).sum()
    }
}

/// Why an export file could not be imported. Each reads as one line for the operator.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the file is not valid JSON: {0}")]
    Syntax(#[source] serde_json::Error),
    #[error("this is not a Folio export: {0}")]
    NotAnExport(String),
    #[error(
        "the export was made by a newer Folio (schema {schema}; this binary knows up to {known}); \
         upgrade Folio, then import"
    )]
    NewerSchema { schema: String, known: String },
    #[error("the export's table {0:?} does not exist in this version's schema")]
    UnknownTable(String),
    #[error("the export's column {table}.{column} does not exist in this version's schema")]
    UnknownColumn { table: String, column: String },
    #[error("table {table}, row {row}: {reason}")]
    BadValue {
        table: String,
        row: u64,
        reason: String,
    },
    #[error(
        "the database is not empty (table {table} has {rows} rows); import into a new database"
    )]
    NotEmpty { table: String, rows: i64 },
    #[error("cannot read the export")]
    Read(#[source] std::io::Error),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

fn quoted(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// The newest migration this binary knows: an export's `schema` is compared with it.
pub fn latest_migration() -> String {
    Migrator::migrations()
        .last()
        .map(|m| m.name().to_owned())
        .unwrap_or_default()
}

fn format_timestamp(at: OffsetDateTime) -> Result<String> {
    at.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .map_err(|e| StorageError::unexpected("export", "timestamp", &e.to_string()))
}

impl Store {
    /// Writes the whole site as a Folio JSON export to `out`, from one consistent snapshot
    /// (the site may keep serving meanwhile), row by row.
    pub async fn export_json<W: Write>(&self, out: &mut W) -> Result<TransferSummary> {
        let txn = match self.backend {
            Backend::Postgres => {
                self.db
                    .begin_with_config(
                        Some(IsolationLevel::RepeatableRead),
                        Some(AccessMode::ReadOnly),
                    )
                    .await?
            }
            // A read transaction on a WAL database sees one snapshot from its first read.
            Backend::Sqlite => self.db.begin().await?,
        };
        let result = self.write_export(&txn, out).await;
        txn.rollback().await?;
        result
    }

    async fn write_export<W: Write>(
        &self,
        txn: &DatabaseTransaction,
        out: &mut W,
    ) -> Result<TransferSummary> {
        let write_failed = StorageError::ExportWrite;
        let schema = applied_schema(txn).await?;
        let shapes = self.table_shapes(txn).await?;
        let exported_at = format_timestamp(crate::now())?;
        let header = format!(
            "{{\n  \"format\": {},\n  \"format_version\": {},\n  \"folio_version\": {},\n  \
             \"schema\": {},\n  \"exported_at\": {},\n  \"tables\": [",
            json_string(EXPORT_FORMAT),
            EXPORT_FORMAT_VERSION,
            json_string(env!("CARGO_PKG_VERSION")),
            json_string(&schema),
            json_string(&exported_at),
        );
        out.write_all(header.as_bytes()).map_err(write_failed)?;
        let mut summary = TransferSummary::default();
        for (index, shape) in shapes.iter().enumerate() {
            let columns: Vec<String> = shape.columns.iter().map(|c| json_string(&c.name)).collect();
            write!(
                out,
                "{}\n    {{\"table\": {}, \"columns\": [{}], \"rows\": [",
                if index == 0 { "" } else { "," },
                json_string(&shape.name),
                columns.join(", ")
            )
            .map_err(write_failed)?;
            let rows = self.write_table_rows(txn, shape, out).await?;
            write!(out, "{}]}}", if rows == 0 { "" } else { "\n    " }).map_err(write_failed)?;
            summary.tables.push((shape.name.clone(), rows));
        }
        out.write_all(b"\n  ]\n}\n").map_err(write_failed)?;
        out.flush().map_err(write_failed)?;
        Ok(summary)
    }

    async fn write_table_rows<W: Write>(
        &self,
        txn: &DatabaseTransaction,
        shape: &TableShape,
        out: &mut W,
    ) -> Result<u64> {
        let selected: Vec<String> = shape
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| self.select_as_portable(c, i))
            .collect();
        let order_columns: Vec<&Column> = if shape.key.is_empty() {
            shape.columns.iter().collect()
        } else {
            shape
                .key
                .iter()
                .filter_map(|name| shape.column(name))
                .collect()
        };
        let order: Vec<String> = order_columns.iter().map(|c| self.byte_ordered(c)).collect();
        let integer_key = shape.integer_key();
        let mut written = 0u64;
        let mut last_key: Option<i64> = None;
        loop {
            let (filter, values): (String, Vec<Value>) = match (integer_key, last_key) {
                (Some(key), Some(last)) => (
                    format!("WHERE {} > {}", quoted(key), self.placeholder(1)),
                    vec![last.into()],
                ),
                _ => (String::new(), Vec::new()),
            };
            let paging = if integer_key.is_some() {
                format!("LIMIT {PAGE_ROWS}")
            } else {
                format!("LIMIT {PAGE_ROWS} OFFSET {written}")
            };
            let sql = format!(
                "SELECT {} FROM {} {filter} ORDER BY {} {paging}",
                selected.join(", "),
                quoted(&shape.name),
                order.join(", ")
            );
            let rows = txn
                .query_all_raw(Statement::from_sql_and_values(
                    self.db_backend(),
                    sql,
                    values,
                ))
                .await?;
            let fetched = rows.len();
            for row in rows {
                let mut values = Vec::with_capacity(shape.columns.len());
                for (i, column) in shape.columns.iter().enumerate() {
                    values.push(portable_value(&row, i, column, &shape.name)?);
                }
                if let Some(key) = integer_key {
                    let position = shape.columns.iter().position(|c| c.name == key);
                    last_key = position.and_then(|p| values[p].as_i64());
                }
                let line = serde_json::Value::Array(values).to_string();
                write!(out, "{}\n      {line}", if written == 0 { "" } else { "," })
                    .map_err(StorageError::ExportWrite)?;
                written += 1;
            }
            if fetched < PAGE_ROWS {
                return Ok(written);
            }
        }
    }

    /// The column as the one Rust type its portable kind is read as.
    fn select_as_portable(&self, column: &Column, index: usize) -> String {
        let name = quoted(&column.name);
        let expression = match (column.kind, self.backend) {
            (ColumnType::Integer | ColumnType::Boolean, Backend::Sqlite) => {
                format!("CAST({name} AS INTEGER)")
            }
            (ColumnType::Integer, Backend::Postgres) => format!("CAST({name} AS BIGINT)"),
            (ColumnType::Real, Backend::Sqlite) => format!("CAST({name} AS REAL)"),
            (ColumnType::Real, Backend::Postgres) => format!("CAST({name} AS DOUBLE PRECISION)"),
            (ColumnType::Text, _) => format!("CAST({name} AS TEXT)"),
            (ColumnType::Boolean | ColumnType::Timestamp, _) => name,
        };
        format!("{expression} AS c{index}")
    }

    /// Text sorts by bytes on both databases (SQLite's default; PostgreSQL's "C" collation).
    fn byte_ordered(&self, column: &Column) -> String {
        match (column.kind, self.backend) {
            (ColumnType::Text, Backend::Postgres) => {
                format!("{} COLLATE \"C\"", quoted(&column.name))
            }
            _ => quoted(&column.name),
        }
    }

    /// Every exported table with its columns, keys and references, in foreign-key order
    /// (a table after the tables it references; ties by name).
    async fn table_shapes<C: ConnectionTrait>(&self, db: &C) -> Result<Vec<TableShape>> {
        let mut shapes = BTreeMap::new();
        for table in self.data_tables_on(db).await? {
            if NOT_EXPORTED.contains(&table.as_str()) {
                continue;
            }
            let shape = self.table_shape(db, &table).await?;
            shapes.insert(table, shape);
        }
        let mut ordered: Vec<TableShape> = Vec::with_capacity(shapes.len());
        let mut placed: BTreeSet<String> = BTreeSet::new();
        while !shapes.is_empty() {
            let ready: Vec<String> = shapes
                .values()
                .filter(|s| {
                    s.references
                        .iter()
                        .all(|r| placed.contains(r) || !shapes.contains_key(r))
                })
                .map(|s| s.name.clone())
                .collect();
            // A cycle between tables (none in Folio's schema): take them by name.
            let next = if ready.is_empty() {
                shapes.keys().take(1).cloned().collect()
            } else {
                ready
            };
            for name in next {
                if let Some(shape) = shapes.remove(&name) {
                    placed.insert(name);
                    ordered.push(shape);
                }
            }
        }
        Ok(ordered)
    }

    async fn table_shape<C: ConnectionTrait>(&self, db: &C, table: &str) -> Result<TableShape> {
        let backend = self.db_backend();
        let mut columns = Vec::new();
        let mut key: Vec<(i64, String)> = Vec::new();
        let mut foreign: Vec<(String, String)> = Vec::new();
        match self.backend {
            Backend::Sqlite => {
                let rows = db
                    .query_all_raw(Statement::from_sql_and_values(
                        backend,
                        "SELECT name, type, pk FROM pragma_table_info(?) ORDER BY cid",
                        [table.into()],
                    ))
                    .await?;
                for row in rows {
                    let name: String = row.try_get("", "name")?;
                    let declared: String = row.try_get("", "type")?;
                    let position: i64 = row.try_get("", "pk")?;
                    if position > 0 {
                        key.push((position, name.clone()));
                    }
                    let kind = sqlite_column_type(&name, &declared);
                    columns.push(Column { name, kind });
                }
                let rows = db
                    .query_all_raw(Statement::from_sql_and_values(
                        backend,
                        "SELECT \"table\" AS target, \"from\" AS source FROM pragma_foreign_key_list(?)",
                        [table.into()],
                    ))
                    .await?;
                for row in rows {
                    foreign.push((row.try_get("", "target")?, row.try_get("", "source")?));
                }
            }
            Backend::Postgres => {
                let rows = db
                    .query_all_raw(Statement::from_sql_and_values(
                        backend,
                        "SELECT CAST(column_name AS TEXT) AS name, CAST(data_type AS TEXT) AS type, \
                         CAST(is_generated AS TEXT) AS generated FROM information_schema.columns \
                         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
                        [table.into()],
                    ))
                    .await?;
                for row in rows {
                    let name: String = row.try_get("", "name")?;
                    let declared: String = row.try_get("", "type")?;
                    let generated: Option<String> = row.try_get("", "generated")?;
                    // Derived columns (the full-text `search_vector`) are rebuilt by the database.
                    if generated.as_deref() == Some("ALWAYS") || declared == "tsvector" {
                        continue;
                    }
                    let kind = postgres_column_type(&declared);
                    columns.push(Column { name, kind });
                }
                let rows = db
                    .query_all_raw(Statement::from_sql_and_values(
                        backend,
                        "SELECT CAST(a.attname AS TEXT) AS name, \
                         CAST(array_position(c.conkey, a.attnum) AS BIGINT) AS position \
                         FROM pg_constraint c JOIN pg_attribute a \
                         ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) \
                         WHERE c.contype = 'p' AND c.conrelid = to_regclass(quote_ident($1))",
                        [table.into()],
                    ))
                    .await?;
                for row in rows {
                    key.push((row.try_get("", "position")?, row.try_get("", "name")?));
                }
                let rows = db
                    .query_all_raw(Statement::from_sql_and_values(
                        backend,
                        "SELECT CAST(t.relname AS TEXT) AS target, CAST(a.attname AS TEXT) AS source \
                         FROM pg_constraint c JOIN pg_class t ON t.oid = c.confrelid \
                         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) \
                         WHERE c.contype = 'f' AND c.conrelid = to_regclass(quote_ident($1))",
                        [table.into()],
                    ))
                    .await?;
                for row in rows {
                    foreign.push((row.try_get("", "target")?, row.try_get("", "source")?));
                }
            }
        }
        key.sort();
        let mut self_references = Vec::new();
        let mut references = BTreeSet::new();
        for (target, source) in foreign {
            if target == table {
                self_references.push(source);
            } else {
                references.insert(target);
            }
        }
        self_references.sort();
        self_references.dedup();
        Ok(TableShape {
            name: table.to_owned(),
            columns,
            key: key.into_iter().map(|(_, name)| name).collect(),
            self_references,
            references,
        })
    }

    /// Reads a Folio JSON export into this database, which must hold no site yet: migrates
    /// it, then inserts everything in one transaction (nothing stays behind if any of it
    /// fails), resets PostgreSQL's id sequences, and bumps the content version so every
    /// server process drops its cached pages. The file is parsed as it is read, never held
    /// whole in memory.
    pub async fn import_json<R: Read + Send + 'static>(
        &self,
        reader: R,
    ) -> Result<TransferSummary, ImportError> {
        if let Some((table, rows)) = self
            .first_table_with_rows()
            .await
            .map_err(ImportError::Storage)?
        {
            return Err(ImportError::NotEmpty { table, rows });
        }
        self.migrate_up().await.map_err(ImportError::Storage)?;
        let shapes: BTreeMap<String, TableShape> = self
            .table_shapes(&self.db)
            .await
            .map_err(ImportError::Storage)?
            .into_iter()
            .map(|s| (s.name.clone(), s))
            .collect();

        let (sender, mut receiver) = tokio::sync::mpsc::channel::<Parsed>(4);
        let parser = tokio::task::spawn_blocking(move || parse_export(reader, sender));

        let txn = self.begin_write().await.map_err(db_error)?;
        let loaded = self.load(&txn, &shapes, &mut receiver).await;
        // Whatever the loader made of it, the parser's own verdict on the file comes first:
        // a syntax error explains a load that stopped half way.
        receiver.close();
        let parsed = parser
            .await
            .map_err(|e| ImportError::NotAnExport(format!("the reader stopped: {e}")))?;
        let outcome = match (parsed, loaded) {
            (Err(ParseFailure::Json(error)), _) => Err(json_error(error)),
            (Err(ParseFailure::Read(error)), _) => Err(ImportError::Read(error)),
            (Err(ParseFailure::Stopped), Err(error)) | (Ok(()), Err(error)) => Err(error),
            (Err(ParseFailure::Stopped), Ok(summary)) => Ok(summary),
            (Ok(()), Ok(summary)) => Ok(summary),
        };
        match outcome {
            Ok(summary) => {
                txn.commit().await.map_err(db_error)?;
                Ok(summary)
            }
            Err(error) => {
                txn.rollback().await.map_err(db_error)?;
                Err(error)
            }
        }
    }

    async fn load(
        &self,
        txn: &DatabaseTransaction,
        shapes: &BTreeMap<String, TableShape>,
        receiver: &mut tokio::sync::mpsc::Receiver<Parsed>,
    ) -> Result<TransferSummary, ImportError> {
        let mut summary = TransferSummary::default();
        let mut header_seen = false;
        let mut current: Option<TableLoad<'_>> = None;
        while let Some(message) = receiver.recv().await {
            match message {
                Parsed::Header(header) => {
                    check_header(&header)?;
                    header_seen = true;
                }
                Parsed::Table { name, columns } => {
                    if !header_seen {
                        return Err(ImportError::NotAnExport(
                            "`tables` comes before the header (`format`, `schema`)".to_owned(),
                        ));
                    }
                    current = Some(TableLoad::new(shapes, name, columns)?);
                }
                Parsed::Rows(rows) => {
                    let Some(table) = current.as_mut() else {
                        return Err(ImportError::NotAnExport("rows outside a table".to_owned()));
                    };
                    self.insert_rows(txn, table, rows).await?;
                }
                Parsed::TableEnd => {
                    if let Some(table) = current.take() {
                        self.finish_table(txn, &table).await?;
                        summary
                            .tables
                            .push((table.shape.name.clone(), table.rows_seen));
                    }
                }
                Parsed::End => {
                    if !header_seen {
                        return Err(ImportError::NotAnExport(
                            "no `format` header and no `tables`".to_owned(),
                        ));
                    }
                    self.reset_sequences(txn, shapes)
                        .await
                        .map_err(ImportError::Storage)?;
                    // An export from before the thread keys has none.
                    crate::threads::place_unplaced(txn)
                        .await
                        .map_err(ImportError::Storage)?;
                    crate::comment_counts::recount_all_comments(txn)
                        .await
                        .map_err(ImportError::Storage)?;
                    crate::site::bump_content_version(txn)
                        .await
                        .map_err(ImportError::Storage)?;
                    return Ok(summary);
                }
            }
        }
        // The parser stopped without reaching the end: its error says why.
        Err(ImportError::NotAnExport("the file ended early".to_owned()))
    }

    async fn insert_rows(
        &self,
        txn: &DatabaseTransaction,
        table: &mut TableLoad<'_>,
        rows: Vec<Vec<serde_json::Value>>,
    ) -> Result<(), ImportError> {
        let width = table.columns.len();
        if width == 0 {
            table.rows_seen += rows.len() as u64;
            return Ok(());
        }
        let per_statement = MAX_BATCH_ROWS.min((MAX_BATCH_PARAMETERS / width).max(1));
        let mut pending: Vec<Value> = Vec::new();
        let mut pending_rows = 0usize;
        for row in rows {
            table.rows_seen += 1;
            let number = table.rows_seen;
            if row.len() != width {
                return Err(ImportError::BadValue {
                    table: table.shape.name.clone(),
                    row: number,
                    reason: format!("{} values for {width} columns", row.len()),
                });
            }
            let mut values = Vec::with_capacity(width);
            for (value, column) in row.into_iter().zip(&table.columns) {
                values.push(database_value(value, column).map_err(|reason| {
                    ImportError::BadValue {
                        table: table.shape.name.clone(),
                        row: number,
                        reason: format!("column {}: {reason}", column.name),
                    }
                })?);
            }
            table.defer_forward_references(&mut values);
            pending.extend(values);
            pending_rows += 1;
            if pending_rows == per_statement {
                self.insert_batch(txn, table, std::mem::take(&mut pending), pending_rows)
                    .await?;
                pending_rows = 0;
            }
        }
        if pending_rows > 0 {
            self.insert_batch(txn, table, pending, pending_rows).await?;
        }
        Ok(())
    }

    async fn insert_batch(
        &self,
        txn: &DatabaseTransaction,
        table: &TableLoad<'_>,
        values: Vec<Value>,
        rows: usize,
    ) -> Result<(), ImportError> {
        let names: Vec<String> = table.columns.iter().map(|c| quoted(&c.name)).collect();
        let sql = insert_rows_sql(self.db_backend(), &quoted(&table.shape.name), &names, rows);
        txn.execute_raw(Statement::from_sql_and_values(
            self.db_backend(),
            sql,
            values,
        ))
        .await
        .map_err(|e| ImportError::BadValue {
            table: table.shape.name.clone(),
            row: table.rows_seen,
            reason: format!("the database refused the rows: {e}"),
        })?;
        Ok(())
    }

    /// Sets the references to rows that came later in the file, now that they exist.
    async fn finish_table(
        &self,
        txn: &DatabaseTransaction,
        table: &TableLoad<'_>,
    ) -> Result<(), ImportError> {
        let Some(key) = table.shape.integer_key() else {
            return Ok(());
        };
        for (column, id, target) in &table.deferred {
            let sql = format!(
                "UPDATE {} SET {} = {} WHERE {} = {}",
                quoted(&table.shape.name),
                quoted(column),
                self.placeholder(1),
                quoted(key),
                self.placeholder(2)
            );
            txn.execute_raw(Statement::from_sql_and_values(
                self.db_backend(),
                sql,
                [(*target).into(), (*id).into()],
            ))
            .await
            .map_err(|e| ImportError::BadValue {
                table: table.shape.name.clone(),
                row: 0,
                reason: format!("{column} of {key} {id} points at {target}: {e}"),
            })?;
        }
        Ok(())
    }

    /// PostgreSQL's identity sequences do not move when ids are inserted explicitly; without
    /// this the next new row would collide with an imported one. (SQLite takes the next id
    /// from the largest in the table.)
    async fn reset_sequences(
        &self,
        txn: &DatabaseTransaction,
        shapes: &BTreeMap<String, TableShape>,
    ) -> Result<()> {
        if self.backend != Backend::Postgres {
            return Ok(());
        }
        for shape in shapes.values() {
            let Some(key) = shape.integer_key() else {
                continue;
            };
            let sql = format!(
                "SELECT setval(CAST(s AS regclass), COALESCE((SELECT MAX({key}) FROM {table}), 0) + 1, false) \
                 FROM pg_get_serial_sequence($1, $2) AS s WHERE s IS NOT NULL",
                key = quoted(key),
                table = quoted(&shape.name),
            );
            txn.query_all_raw(Statement::from_sql_and_values(
                self.db_backend(),
                sql,
                [quoted(&shape.name).into(), key.into()],
            ))
            .await?;
        }
        Ok(())
    }

    async fn data_tables_on<C: ConnectionTrait>(&self, db: &C) -> Result<Vec<String>> {
        crate::backup::data_tables_on(db, self.backend).await
    }
}

fn db_error(error: sea_orm::DbErr) -> ImportError {
    ImportError::Storage(StorageError::Database(error))
}

fn json_error(error: serde_json::Error) -> ImportError {
    if error.is_io() {
        ImportError::Read(std::io::Error::other(error.to_string()))
    } else if error.is_data() {
        ImportError::NotAnExport(error.to_string())
    } else {
        ImportError::Syntax(error)
    }
}

/// The newest migration applied. Read directly: the migrator's own query would first create
/// its table, which a read-only snapshot refuses.
async fn applied_schema(txn: &DatabaseTransaction) -> Result<String> {
    let row = txn
        .query_one_raw(Statement::from_string(
            txn.get_database_backend(),
            "SELECT MAX(version) AS version FROM seaql_migrations",
        ))
        .await?;
    Ok(match row {
        Some(row) => row
            .try_get::<Option<String>>("", "version")?
            .unwrap_or_default(),
        None => String::new(),
    })
}

fn check_header(header: &Header) -> Result<(), ImportError> {
    if header.format.as_deref() != Some(EXPORT_FORMAT) {
        return Err(ImportError::NotAnExport(format!(
            "its `format` is {:?}, not {EXPORT_FORMAT:?}",
            header.format.as_deref().unwrap_or("missing")
        )));
    }
    let version = header.format_version.unwrap_or(0);
    if version == 0 || version > EXPORT_FORMAT_VERSION {
        return Err(ImportError::NotAnExport(format!(
            "format_version {version} is not one this Folio reads (1 to {EXPORT_FORMAT_VERSION})"
        )));
    }
    let schema = header.schema.clone().unwrap_or_default();
    let known: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    if !known.contains(&schema) {
        let latest = latest_migration();
        // Migration names start with their date, so a name after ours is a newer schema.
        if schema > latest {
            return Err(ImportError::NewerSchema {
                schema,
                known: latest,
            });
        }
        return Err(ImportError::NotAnExport(format!(
            "its schema {schema:?} is not a migration of this Folio"
        )));
    }
    Ok(())
}

fn sqlite_column_type(name: &str, declared: &str) -> ColumnType {
    let declared = declared.to_ascii_uppercase();
    if declared.contains("INT") {
        ColumnType::Integer
    } else if declared.contains("BOOL") {
        ColumnType::Boolean
    } else if declared.contains("REAL") || declared.contains("FLOA") || declared.contains("DOUB") {
        ColumnType::Real
    } else if declared.contains("TIME")
        || ((declared.is_empty() || declared.contains("TEXT"))
            && (name.ends_with("_at") || name.ends_with("_until")))
    {
        ColumnType::Timestamp
    } else {
        ColumnType::Text
    }
}

fn postgres_column_type(declared: &str) -> ColumnType {
    match declared {
        "bigint" | "integer" | "smallint" => ColumnType::Integer,
        "boolean" => ColumnType::Boolean,
        "real" | "double precision" | "numeric" => ColumnType::Real,
        d if d.starts_with("timestamp") => ColumnType::Timestamp,
        _ => ColumnType::Text,
    }
}

fn json_string(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

fn portable_value(
    row: &sea_orm::QueryResult,
    index: usize,
    column: &Column,
    table: &str,
) -> Result<serde_json::Value> {
    use serde_json::Value as Json;
    let alias = format!("c{index}");
    Ok(match column.kind {
        ColumnType::Integer => row
            .try_get::<Option<i64>>("", &alias)?
            .map_or(Json::Null, Json::from),
        ColumnType::Boolean => match row.try_get::<Option<bool>>("", &alias) {
            Ok(value) => value.map_or(Json::Null, Json::Bool),
            // SQLite's 0/1 comes back as an integer.
            Err(_) => row
                .try_get::<Option<i64>>("", &alias)?
                .map_or(Json::Null, |n| Json::Bool(n != 0)),
        },
        ColumnType::Timestamp => match row.try_get::<Option<OffsetDateTime>>("", &alias) {
            Ok(value) => match value {
                Some(at) => Json::String(format_timestamp(at)?),
                None => Json::Null,
            },
            Err(_) => {
                let text: Option<String> = row.try_get("", &alias).unwrap_or(None);
                return Err(StorageError::UnexpectedValue {
                    table: "export",
                    column: "timestamp",
                    value: format!("{table}.{}: {}", column.name, text.unwrap_or_default()),
                });
            }
        },
        ColumnType::Real => row
            .try_get::<Option<f64>>("", &alias)?
            .map_or(Json::Null, Json::from),
        ColumnType::Text => row
            .try_get::<Option<String>>("", &alias)?
            .map_or(Json::Null, Json::String),
    })
}

/// A JSON value as the database value for a column of this type.
fn database_value(value: serde_json::Value, column: &Column) -> Result<Value, String> {
    use serde_json::Value as Json;
    let expected = |what: &str, found: &Json| format!("expected {what}, found {found}");
    Ok(match (column.kind, value) {
        (ColumnType::Integer, Json::Null) => Value::BigInt(None),
        (ColumnType::Integer, Json::Number(n)) => match n.as_i64() {
            Some(n) => Value::BigInt(Some(n)),
            None => return Err(expected("an integer", &Json::Number(n))),
        },
        (ColumnType::Boolean, Json::Null) => Value::Bool(None),
        (ColumnType::Boolean, Json::Bool(b)) => Value::Bool(Some(b)),
        (ColumnType::Boolean, Json::Number(n)) if n.as_i64().is_some() => {
            Value::Bool(Some(n.as_i64() != Some(0)))
        }
        (ColumnType::Timestamp, Json::Null) => Value::TimeDateTimeWithTimeZone(None),
        (ColumnType::Timestamp, Json::String(text)) => match OffsetDateTime::parse(&text, &Rfc3339)
        {
            Ok(at) => at.to_offset(time::UtcOffset::UTC).into(),
            Err(_) => return Err(format!("{text:?} is not an RFC 3339 time")),
        },
        (ColumnType::Real, Json::Null) => Value::Double(None),
        (ColumnType::Real, Json::Number(n)) => match n.as_f64() {
            Some(n) => Value::Double(Some(n)),
            None => return Err(expected("a number", &Json::Number(n))),
        },
        (ColumnType::Text, Json::Null) => Value::String(None),
        // Text that entered Folio before it dropped what XML forbids, or that was edited by
        // hand, would otherwise come back in through here.
        (ColumnType::Text, Json::String(mut text)) => {
            folio_domain::text::make_xml_safe(&mut text);
            Value::String(Some(text))
        }
        (kind, other) => {
            let what = match kind {
                ColumnType::Integer => "an integer",
                ColumnType::Boolean => "true or false",
                ColumnType::Timestamp => "an RFC 3339 time",
                ColumnType::Real => "a number",
                ColumnType::Text => "text",
            };
            return Err(expected(what, &other));
        }
    })
}

/// One table being imported: the export's columns matched to the database's.
struct TableLoad<'a> {
    shape: &'a TableShape,
    columns: Vec<Column>,
    rows_seen: u64,
    key_index: Option<usize>,
    self_reference_indexes: Vec<usize>,
    /// (column, row id, referenced id): references to rows later in the file.
    deferred: Vec<(String, i64, i64)>,
}

impl<'a> TableLoad<'a> {
    fn new(
        shapes: &'a BTreeMap<String, TableShape>,
        name: String,
        names: Vec<String>,
    ) -> Result<Self, ImportError> {
        let Some(shape) = shapes.get(&name) else {
            return Err(ImportError::UnknownTable(name));
        };
        let mut columns = Vec::with_capacity(names.len());
        for column in names {
            match shape.column(&column) {
                Some(found) => columns.push(found.clone()),
                None => {
                    return Err(ImportError::UnknownColumn {
                        table: name,
                        column,
                    });
                }
            }
        }
        let key_index = shape
            .integer_key()
            .and_then(|key| columns.iter().position(|c| c.name == key));
        let self_reference_indexes = shape
            .self_references
            .iter()
            .filter_map(|r| columns.iter().position(|c| &c.name == r))
            .collect();
        Ok(TableLoad {
            shape,
            columns,
            rows_seen: 0,
            key_index,
            self_reference_indexes,
            deferred: Vec::new(),
        })
    }

    /// Rows come in id order, so a reference to a larger id points at a row not inserted
    /// yet (a category given a parent made after it): insert NULL now, set it at the end.
    fn defer_forward_references(&mut self, values: &mut [Value]) {
        let Some(key_index) = self.key_index else {
            return;
        };
        let Value::BigInt(Some(id)) = values[key_index] else {
            return;
        };
        for &index in &self.self_reference_indexes {
            if let Value::BigInt(Some(target)) = values[index]
                && target >= id
            {
                values[index] = Value::BigInt(None);
                self.deferred
                    .push((self.columns[index].name.clone(), id, target));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Reading the file: a serde visitor walks the document as it streams in and hands the
// loader one message at a time, rows in batches, over a bounded channel.

#[derive(Debug, Default)]
struct Header {
    format: Option<String>,
    format_version: Option<u64>,
    schema: Option<String>,
}

enum Parsed {
    Header(Header),
    Table { name: String, columns: Vec<String> },
    Rows(Vec<Vec<serde_json::Value>>),
    TableEnd,
    End,
}

enum ParseFailure {
    Json(serde_json::Error),
    Read(std::io::Error),
    /// The loader stopped listening (it found a problem of its own).
    Stopped,
}

const STOPPED: &str = "folio-import-stopped";

fn parse_export<R: Read>(
    reader: R,
    sender: tokio::sync::mpsc::Sender<Parsed>,
) -> std::result::Result<(), ParseFailure> {
    let mut deserializer = serde_json::Deserializer::from_reader(std::io::BufReader::new(reader));
    let outcome = DocumentSeed { sender: &sender }
        .deserialize(&mut deserializer)
        .and_then(|()| deserializer.end());
    match outcome {
        Ok(()) => {
            if sender.blocking_send(Parsed::End).is_err() {
                return Err(ParseFailure::Stopped);
            }
            Ok(())
        }
        Err(error) if error.to_string().starts_with(STOPPED) => Err(ParseFailure::Stopped),
        Err(error) if error.is_io() => {
            Err(ParseFailure::Read(std::io::Error::other(error.to_string())))
        }
        Err(error) => Err(ParseFailure::Json(error)),
    }
}

fn send<E: serde::de::Error>(
    sender: &tokio::sync::mpsc::Sender<Parsed>,
    message: Parsed,
) -> Result<(), E> {
    sender
        .blocking_send(message)
        .map_err(|_| E::custom(STOPPED))
}

struct DocumentSeed<'s> {
    sender: &'s tokio::sync::mpsc::Sender<Parsed>,
}

impl<'de> DeserializeSeed<'de> for DocumentSeed<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for DocumentSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Folio export (a JSON object with `format` and `tables`)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut header = Some(Header::default());
        let mut tables_seen = false;
        while let Some(key) = map.next_key::<String>()? {
            match (key.as_str(), header.as_mut()) {
                ("format", Some(h)) => h.format = Some(map.next_value()?),
                ("format_version", Some(h)) => h.format_version = Some(map.next_value()?),
                ("schema", Some(h)) => h.schema = Some(map.next_value()?),
                ("tables", _) => {
                    if let Some(h) = header.take() {
                        send(self.sender, Parsed::Header(h))?;
                    }
                    map.next_value_seed(TablesSeed {
                        sender: self.sender,
                    })?;
                    tables_seen = true;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if let Some(h) = header.take() {
            send(self.sender, Parsed::Header(h))?;
        }
        if !tables_seen {
            return Err(A::Error::missing_field("tables"));
        }
        Ok(())
    }
}

struct TablesSeed<'s> {
    sender: &'s tokio::sync::mpsc::Sender<Parsed>,
}

impl<'de> DeserializeSeed<'de> for TablesSeed<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for TablesSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of tables")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(TableSeed {
                sender: self.sender,
            })?
            .is_some()
        {}
        Ok(())
    }
}

struct TableSeed<'s> {
    sender: &'s tokio::sync::mpsc::Sender<Parsed>,
}

impl<'de> DeserializeSeed<'de> for TableSeed<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TableSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a table: {\"table\", \"columns\", \"rows\"}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut name: Option<String> = None;
        let mut columns: Option<Vec<String>> = None;
        let mut rows_seen = false;
        // Rows that came before the table's name (a tool that sorted the keys): held until
        // the name is known. Folio writes the name first, so its own files stream.
        let mut early_rows: Option<Vec<Vec<serde_json::Value>>> = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "table" => name = Some(map.next_value()?),
                "columns" => columns = Some(map.next_value()?),
                "rows" => {
                    rows_seen = true;
                    match (name.take(), columns.take()) {
                        (Some(name), Some(columns)) => {
                            send(self.sender, Parsed::Table { name, columns })?;
                            map.next_value_seed(RowsSeed {
                                sender: self.sender,
                            })?;
                            send(self.sender, Parsed::TableEnd)?;
                        }
                        (taken_name, taken_columns) => {
                            name = taken_name;
                            columns = taken_columns;
                            early_rows = Some(map.next_value()?);
                        }
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !rows_seen {
            return Err(A::Error::missing_field("rows"));
        }
        if let Some(rows) = early_rows {
            let (Some(name), Some(columns)) = (name, columns) else {
                return Err(A::Error::custom(
                    "a table needs `table`, `columns` and `rows`",
                ));
            };
            send(self.sender, Parsed::Table { name, columns })?;
            let mut rows = rows.into_iter().peekable();
            while rows.peek().is_some() {
                let batch: Vec<_> = rows.by_ref().take(MAX_BATCH_ROWS).collect();
                send(self.sender, Parsed::Rows(batch))?;
            }
            send(self.sender, Parsed::TableEnd)?;
        }
        Ok(())
    }
}

struct RowsSeed<'s> {
    sender: &'s tokio::sync::mpsc::Sender<Parsed>,
}

impl<'de> DeserializeSeed<'de> for RowsSeed<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RowsSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of rows")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut batch = Vec::with_capacity(MAX_BATCH_ROWS);
        while let Some(row) = seq.next_element::<Vec<serde_json::Value>>()? {
            batch.push(row);
            if batch.len() == MAX_BATCH_ROWS {
                send(
                    self.sender,
                    Parsed::Rows(std::mem::replace(
                        &mut batch,
                        Vec::with_capacity(MAX_BATCH_ROWS),
                    )),
                )?;
            }
        }
        if !batch.is_empty() {
            send(self.sender, Parsed::Rows(batch))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_recognised_by_declared_type_or_name() {
        assert_eq!(
            sqlite_column_type("created_at", "TEXT"),
            ColumnType::Timestamp
        );
        assert_eq!(
            sqlite_column_type("banned_until", "TEXT"),
            ColumnType::Timestamp
        );
        assert_eq!(
            sqlite_column_type("locked_until", "BIGINT"),
            ColumnType::Integer
        );
        assert_eq!(
            sqlite_column_type("comments_open", "BOOLEAN"),
            ColumnType::Boolean
        );
        assert_eq!(sqlite_column_type("slug", "TEXT"), ColumnType::Text);
        assert_eq!(
            postgres_column_type("timestamp with time zone"),
            ColumnType::Timestamp
        );
    }

    #[test]
    fn a_newer_schema_is_refused_by_name() {
        let header = Header {
            format: Some(EXPORT_FORMAT.to_owned()),
            format_version: Some(1),
            schema: Some("m29991231_000099_future".to_owned()),
        };
        assert!(matches!(
            check_header(&header),
            Err(ImportError::NewerSchema { .. })
        ));
        let current = Header {
            schema: Some(latest_migration()),
            ..header
        };
        assert!(check_header(&current).is_ok());
    }
}
