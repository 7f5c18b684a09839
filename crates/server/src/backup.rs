//! `folio backup FILE` and `folio restore FILE`.
//!
//! SQLite: the backup is a consistent copy of the database file taken while the site serves
//! (`VACUUM INTO`), itself a SQLite database. PostgreSQL: `pg_dump --format=custom`, restored
//! with `pg_restore`; where pg_dump is not installed, a Folio JSON export taken from one
//! snapshot instead, which restore recognises and imports (into either database). Restore
//! only fills an empty database (absent, or with no rows yet) and then applies migrations, so
//! a backup from an older version comes up to date. Neither ever leaves a half-written file
//! under the name it was given.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use folio_storage::{Store, redact_password};

use crate::app::open_store;
use crate::config::Settings;

const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";
const PG_DUMP_MAGIC: &[u8] = b"PGDMP";

/// What a backup file is, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BackupKind {
    Sqlite,
    PgDump,
    /// A Folio JSON export (`folio export`, or `folio backup` without pg_dump).
    Json,
}

pub async fn backup(settings: &Settings, file: &Path) -> anyhow::Result<()> {
    let url = &settings.database.url;
    if file.exists() {
        bail!(
            "{} already exists; choose a new file name (backups are never overwritten)",
            file.display()
        );
    }
    let partial = partial_path(file)?;
    let result = match folio_storage::sqlite_file(url) {
        Some(database) => {
            if !database.is_file() {
                bail!(
                    "there is no database at {} (config key database.url): nothing to back up",
                    database.display()
                );
            }
            let store = open_store(settings).await?;
            let result = store
                .sqlite_backup(&partial)
                .await
                .with_context(|| format!("copying {} to {}", database.display(), file.display()));
            store.close().await.ok();
            result
        }
        None if on_path("pg_dump").is_none() => {
            eprintln!(
                "pg_dump is not on PATH: writing a Folio JSON export instead \
                 (`folio restore` reads it back; install postgresql-client for pg_dump archives)"
            );
            let store = open_store(settings).await?;
            let result = crate::export::write_json_export(&store, &partial)
                .await
                .map(|_| ());
            store.close().await.ok();
            result
        }
        None => {
            let (url, password) = libpq_url(url);
            let mut command = Command::new("pg_dump");
            command
                .args(["--format=custom", "--no-owner", "--no-privileges", "--file"])
                .arg(&partial)
                .arg("--dbname")
                .arg(&url);
            run_pg_tool(command, password, "pg_dump").await
        }
    };
    if let Err(error) = result {
        let _ = std::fs::remove_file(&partial);
        return Err(error);
    }
    std::fs::rename(&partial, file)
        .with_context(|| format!("cannot move the backup into place at {}", file.display()))?;
    let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    println!(
        "backed up {} to {} ({size} bytes)",
        redact_password(url),
        file.display()
    );
    Ok(())
}

pub async fn restore(settings: &Settings, file: &Path) -> anyhow::Result<()> {
    let url = &settings.database.url;
    let kind = backup_kind(file)?;
    match (folio_storage::sqlite_file(url), kind) {
        (_, BackupKind::Json) => {
            crate::export::import_file(settings, file).await?;
        }
        (Some(database), BackupKind::Sqlite) => restore_sqlite(settings, file, &database).await?,
        (None, BackupKind::PgDump) => restore_postgres(settings, file).await?,
        (Some(_), BackupKind::PgDump) => bail!(
            "{} is a PostgreSQL backup (pg_dump) but database.url is SQLite; restore it into PostgreSQL",
            file.display()
        ),
        (None, BackupKind::Sqlite) => bail!(
            "{} is a SQLite backup but database.url is PostgreSQL; restore it into a sqlite:// database",
            file.display()
        ),
    }
    println!("restored {} into {}", file.display(), redact_password(url));
    Ok(())
}

/// Which kind of backup a file is, from its first bytes.
fn backup_kind(file: &Path) -> anyhow::Result<BackupKind> {
    use std::io::Read as _;
    let mut head = [0u8; 16];
    let mut opened = std::fs::File::open(file)
        .with_context(|| format!("cannot read the backup {}", file.display()))?;
    let read = opened
        .read(&mut head)
        .with_context(|| format!("cannot read the backup {}", file.display()))?;
    let head = &head[..read];
    if head.starts_with(SQLITE_MAGIC) {
        Ok(BackupKind::Sqlite)
    } else if head.starts_with(PG_DUMP_MAGIC) {
        Ok(BackupKind::PgDump)
    } else if head.trim_ascii_start().starts_with(b"{") {
        Ok(BackupKind::Json)
    } else {
        bail!(
            "{} is not a Folio backup (neither a SQLite database, a pg_dump archive nor a Folio JSON export)",
            file.display()
        )
    }
}

/// Refuses, with the reason, a database that already holds a site.
async fn ensure_empty(store: &Store, shown: &str) -> anyhow::Result<()> {
    if let Some((table, rows)) = store.first_table_with_rows().await? {
        bail!(
            "refusing to restore into {shown}: it is not empty (table {table} has {rows} rows); \
             restore into a new database, or move this one aside first"
        );
    }
    Ok(())
}

async fn restore_sqlite(settings: &Settings, file: &Path, database: &Path) -> anyhow::Result<()> {
    let shown = database.display().to_string();
    if database.exists() {
        let store = open_store(settings).await?;
        let checked = ensure_empty(&store, &shown).await;
        store.close().await.ok();
        checked?;
    }
    if let Some(dir) = database.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    }
    // Copy beside the target, check and migrate the copy, then move it into place: the
    // target changes only when everything before has worked.
    let partial = partial_path(database)?;
    let prepared = prepare_sqlite_copy(file, &partial).await;
    if let Err(error) = prepared {
        remove_sqlite_files(&partial);
        return Err(error);
    }
    remove_sqlite_files(database);
    for suffix in ["", "-wal", "-shm"] {
        let from = with_suffix(&partial, suffix);
        if from.exists() {
            std::fs::rename(&from, with_suffix(database, suffix)).with_context(|| {
                format!("cannot move the restored database into place at {shown}")
            })?;
        }
    }
    Ok(())
}

async fn prepare_sqlite_copy(file: &Path, partial: &Path) -> anyhow::Result<()> {
    std::fs::copy(file, partial)
        .with_context(|| format!("cannot copy {} to {}", file.display(), partial.display()))?;
    let store = Store::connect(&format!("sqlite://{}", partial.display()))
        .await
        .with_context(|| format!("cannot open the backup {}", file.display()))?;
    let result = async {
        let applied = store
            .migration_status()
            .await
            .with_context(|| format!("{} is not a Folio database", file.display()))?;
        if !applied.iter().any(|m| m.applied) {
            bail!(
                "{} is not a Folio database (no migrations applied)",
                file.display()
            );
        }
        store
            .migrate_up()
            .await
            .context("applying database migrations to the restored database")
    }
    .await;
    store.close().await.ok();
    result
}

async fn restore_postgres(settings: &Settings, file: &Path) -> anyhow::Result<()> {
    let shown = redact_password(&settings.database.url);
    let store = open_store(settings).await?;
    let checked = ensure_empty(&store, &shown).await;
    store.close().await.ok();
    checked?;
    let (url, password) = libpq_url(&settings.database.url);
    let mut command = Command::new("pg_restore");
    // One transaction: a failed restore leaves the database as it was. --clean drops the
    // empty tables a first start may have made, so the dump's own definitions come in whole.
    command
        .args([
            "--no-owner",
            "--no-privileges",
            "--clean",
            "--if-exists",
            "--single-transaction",
            "--exit-on-error",
            "--dbname",
        ])
        .arg(&url)
        .arg(file);
    run_pg_tool(command, password, "pg_restore").await?;
    let store = open_store(settings).await?;
    let migrated = store
        .migrate_up()
        .await
        .context("applying database migrations to the restored database");
    store.close().await.ok();
    migrated
}

/// Runs pg_dump or pg_restore, the password passed in the environment rather than on the
/// command line (where `ps` shows it). A failure carries the tool's own last words.
async fn run_pg_tool(
    mut command: Command,
    password: Option<String>,
    tool: &'static str,
) -> anyhow::Result<()> {
    if let Some(password) = password {
        command.env("PGPASSWORD", password);
    }
    command.stdin(std::process::Stdio::null());
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .with_context(|| format!("waiting for {tool}"))?;
    let output = match output {
        Ok(output) => output,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => bail!(
            "{tool} is not installed or not on PATH; PostgreSQL backups need the PostgreSQL \
             client tools (Debian: apt-get install postgresql-client)"
        ),
        Err(error) => return Err(error).with_context(|| format!("cannot start {tool}")),
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let reason = stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        bail!("{tool} failed ({}): {reason}", output.status);
    }
    Ok(())
}

/// The database URL for libpq without its password, and the password (percent-decoded).
fn libpq_url(url: &str) -> (String, Option<String>) {
    let (Some(scheme_end), Some(at)) = (url.find("://"), url.rfind('@')) else {
        return (url.to_owned(), None);
    };
    if at < scheme_end {
        return (url.to_owned(), None);
    }
    let credentials = &url[scheme_end + 3..at];
    match credentials.split_once(':') {
        Some((user, password)) => (
            format!("{}{user}{}", &url[..scheme_end + 3], &url[at..]),
            Some(percent_decode(password)),
        ),
        None => (url.to_owned(), None),
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
            && let Ok(byte) = u8::try_from(high * 16 + low)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The program's path if it is on PATH.
fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// `dir/.name.partial-PID`: where a file is written before it takes its real name.
pub(crate) fn partial_path(file: &Path) -> anyhow::Result<PathBuf> {
    let name = file
        .file_name()
        .with_context(|| format!("{} is not a file name", file.display()))?;
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        bail!("the folder {} does not exist", dir.display());
    }
    Ok(dir.join(format!(
        ".{}.partial-{}",
        name.to_string_lossy(),
        std::process::id()
    )))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn remove_sqlite_files(database: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(with_suffix(database, suffix));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_leave_the_url() {
        assert_eq!(
            libpq_url("postgres://folio:p%40ss@db:5432/folio?sslmode=require"),
            (
                "postgres://folio@db:5432/folio?sslmode=require".to_owned(),
                Some("p@ss".to_owned())
            )
        );
        assert_eq!(
            libpq_url("postgres://postgres@127.0.0.1/x"),
            ("postgres://postgres@127.0.0.1/x".to_owned(), None)
        );
        assert_eq!(percent_decode("a%2"), "a%2");
    }
}
