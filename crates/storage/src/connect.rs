use std::path::Path;
use std::time::Duration;

use folio_domain::schedule::SiteZone;
use folio_migrations::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use crate::{Result, StorageError, Store};

/// Any constant both processes agree on: the advisory lock that serialises migrations.
const MIGRATION_LOCK_KEY: i64 = 0x666f_6c69_6f00; // "folio"

/// Held while this process migrates the database (see `Store::migration_turn`).
struct MigrationTurn(Option<DatabaseTransaction>);

impl MigrationTurn {
    async fn finish(self) -> Result<()> {
        if let Some(txn) = self.0 {
            txn.commit().await?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationState {
    pub name: String,
    pub applied: bool,
}

impl Store {
    /// Opens the database at `url`. For SQLite the file (and its folder) is created on first
    /// use, so a new site needs no setup.
    pub async fn connect(url: &str) -> Result<Self> {
        let (backend, url) = if let Some(path) = sqlite_path(url) {
            prepare_sqlite_directory(path)?;
            let url = if url.contains('?') {
                url.to_owned()
            } else {
                format!("{url}?mode=rwc")
            };
            (Backend::Sqlite, url)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_owned())
        } else {
            return Err(StorageError::UnsupportedUrl(redact_password(url)));
        };
        let mut options = ConnectOptions::new(url);
        options
            .max_connections(if backend == Backend::Sqlite { 4 } else { 16 })
            .min_connections(1)
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(Duration::from_secs(10))
            .sqlx_logging(false);
        let db = Database::connect(options).await?;
        if backend == Backend::Sqlite {
            // WAL lets readers go on while a writer commits; the setting lives in the file.
            db.execute_unprepared("PRAGMA journal_mode = WAL").await?;
        }
        Ok(Store {
            db,
            backend,
            zone: SiteZone::UTC,
            comment_writer: Default::default(),
        })
    }

    /// A transaction that will write. On SQLite it takes the write lock at `BEGIN`
    /// (`IMMEDIATE`), waiting out other writers there: a deferred one that reads first and
    /// writes later fails with "database is locked" (SQLITE_BUSY_SNAPSHOT, 517) whenever
    /// another writer committed in between, and that failure skips the busy timeout.
    pub(crate) async fn begin_write(&self) -> std::result::Result<DatabaseTransaction, DbErr> {
        begin_write(&self.db, self.backend).await
    }

    /// The same database, with permalink dates in `zone` (`site.timezone`).
    pub fn in_zone(mut self, zone: SiteZone) -> Self {
        self.zone = zone;
        self
    }

    pub fn zone(&self) -> &SiteZone {
        &self.zone
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn db_backend(&self) -> DbBackend {
        match self.backend {
            Backend::Sqlite => DbBackend::Sqlite,
            Backend::Postgres => DbBackend::Postgres,
        }
    }

    /// Cheap round trip for `/readyz`.
    pub async fn ping(&self) -> Result<()> {
        self.db.ping().await?;
        Ok(())
    }

    pub async fn migrate_up(&self) -> Result<()> {
        let turn = self.migration_turn().await?;
        Migrator::up(&self.db, None).await?;
        turn.finish().await
    }

    pub async fn migrate_down(&self, steps: u32) -> Result<()> {
        let turn = self.migration_turn().await?;
        Migrator::down(&self.db, Some(steps)).await?;
        turn.finish().await
    }

    /// Waits until no other process is migrating this database. Several `folio serve`
    /// processes starting at once on one fresh PostgreSQL database would otherwise all
    /// apply the same migration, and all but one fail. The lock is a transaction-scoped
    /// advisory lock: it goes when the turn ends, however the migration went. SQLite's
    /// single writer needs no more.
    async fn migration_turn(&self) -> Result<MigrationTurn> {
        if self.backend != Backend::Postgres {
            return Ok(MigrationTurn(None));
        }
        let txn = self.db.begin().await?;
        txn.execute_unprepared(&format!(
            "SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"
        ))
        .await?;
        Ok(MigrationTurn(Some(txn)))
    }

    /// Whether any `folio` has set this database up: false for an empty one (or someone
    /// else's). Unlike `migration_status`, it creates nothing.
    pub async fn is_migrated(&self) -> bool {
        self.db
            .query_one_raw(sea_orm::Statement::from_string(
                self.db_backend(),
                "SELECT 1 FROM seaql_migrations LIMIT 1",
            ))
            .await
            .is_ok_and(|row| row.is_some())
    }

    pub async fn migration_status(&self) -> Result<Vec<MigrationState>> {
        let applied: Vec<String> = Migrator::get_applied_migrations(&self.db)
            .await?
            .iter()
            .map(|m| m.name().to_owned())
            .collect();
        Ok(Migrator::migrations()
            .iter()
            .map(|m| MigrationState {
                name: m.name().to_owned(),
                applied: applied.iter().any(|a| a == m.name()),
            })
            .collect())
    }

    /// Writes the comments still queued, then closes the connections.
    pub async fn close(self) -> Result<()> {
        if let Some(writer) = self.comment_writer.get() {
            writer.finish().await;
        }
        self.db.close().await?;
        Ok(())
    }
}

/// See [`Store::begin_write`].
pub(crate) async fn begin_write(
    db: &DatabaseConnection,
    backend: Backend,
) -> std::result::Result<DatabaseTransaction, DbErr> {
    let mode = match backend {
        Backend::Sqlite => Some(SqliteTransactionMode::Immediate),
        Backend::Postgres => None,
    };
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: mode,
        ..TransactionOptions::default()
    })
    .await
}

pub(crate) fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    Some(rest.split('?').next().unwrap_or(rest))
}

fn prepare_sqlite_directory(path: &str) -> Result<()> {
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    let Some(dir) = Path::new(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    else {
        return Ok(());
    };
    let failed = |source| StorageError::DataDirectory {
        path: dir.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(failed)?;
    // Fail now with the folder's name rather than later with SQLite's "unable to open".
    // Named per process: a `folio` command starting beside a running server must not
    // remove the server's probe before the server does.
    let probe = dir.join(format!(".folio-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(failed)?;
    std::fs::remove_file(&probe).map_err(failed)?;
    Ok(())
}

/// Database URLs carry passwords; error messages must not.
pub fn redact_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..scheme_end + 3], user, &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            redact_password("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(
            redact_password("sqlite://data/folio.db"),
            "sqlite://data/folio.db"
        );
    }
}
