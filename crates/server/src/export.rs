//! `folio export FILE [--format json|wxr]` and `folio import FILE`.
//!
//! The JSON export holds every table (see `folio_storage`'s export module) and is what
//! `folio import` reads back, into SQLite or PostgreSQL alike: the way to move a site from
//! one database to the other. The WXR export is for WordPress. Like backups, an export never
//! overwrites a file and never leaves a half-written one under the name it was given.

use std::path::Path;

use anyhow::{Context as _, bail};
use clap::ValueEnum;
use folio_storage::{ImportError, Store, TransferSummary, redact_password};

use crate::app::open_store;
use crate::backup::partial_path;
use crate::config::Settings;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// Folio's own JSON: every table, read back by `folio import`.
    Json,
    /// WordPress eXtended RSS 1.2, for WordPress's importer.
    Wxr,
}

impl ExportFormat {
    /// `.xml` is WordPress's; anything else is Folio's JSON.
    pub fn from_file_name(file: &Path) -> ExportFormat {
        match file.extension().and_then(|e| e.to_str()) {
            Some(extension) if extension.eq_ignore_ascii_case("xml") => ExportFormat::Wxr,
            _ => ExportFormat::Json,
        }
    }
}

pub async fn export(
    settings: &Settings,
    file: &Path,
    format: Option<ExportFormat>,
) -> anyhow::Result<()> {
    let format = format.unwrap_or_else(|| ExportFormat::from_file_name(file));
    if file.exists() {
        bail!(
            "{} already exists; choose a new file name (exports are never overwritten)",
            file.display()
        );
    }
    if let Some(database) = folio_storage::sqlite_file(&settings.database.url)
        && !database.is_file()
    {
        bail!(
            "there is no database at {} (config key database.url): nothing to export",
            database.display()
        );
    }
    let store = open_store(settings).await?;
    if !store.is_migrated().await {
        store.close().await.ok();
        bail!(
            "{} has no Folio tables (no `folio` has set it up yet; check database.url): nothing to export",
            redact_password(&settings.database.url)
        );
    }
    let partial = partial_path(file)?;
    let written = async {
        let out = std::fs::File::create(&partial)
            .with_context(|| format!("cannot create {}", partial.display()))?;
        let mut out = std::io::BufWriter::new(out);
        match format {
            ExportFormat::Json => {
                let summary = store.export_json(&mut out).await?;
                Ok::<_, anyhow::Error>(format!(
                    "{} rows from {} tables",
                    summary.rows(),
                    summary.tables.len()
                ))
            }
            ExportFormat::Wxr => {
                let summary = crate::wxr::write_wxr(&store, settings, &mut out).await?;
                Ok(format!(
                    "a WordPress export (WXR) of {} posts and pages, {} comments",
                    summary.posts, summary.comments
                ))
            }
        }
    }
    .await;
    store.close().await.ok();
    let what = match written {
        Ok(what) => what,
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            return Err(error.context(format!("exporting to {}", file.display())));
        }
    };
    std::fs::rename(&partial, file)
        .with_context(|| format!("cannot move the export into place at {}", file.display()))?;
    println!("exported {what} to {}", file.display());
    Ok(())
}

/// Writes a Folio JSON export of `store` to `target` (a new file): the PostgreSQL backup
/// when pg_dump is not installed.
pub async fn write_json_export(store: &Store, target: &Path) -> anyhow::Result<TransferSummary> {
    let out = std::fs::File::create(target)
        .with_context(|| format!("cannot create {}", target.display()))?;
    let mut out = std::io::BufWriter::new(out);
    Ok(store.export_json(&mut out).await?)
}

/// `folio import FILE`.
pub async fn import(settings: &Settings, file: &Path) -> anyhow::Result<()> {
    let summary = import_file(settings, file).await?;
    println!(
        "imported {} rows into {} tables of {} from {}",
        summary.rows(),
        summary.tables.len(),
        redact_password(&settings.database.url),
        file.display()
    );
    Ok(())
}

/// Reads a Folio JSON export into the configured database, which must be empty.
pub async fn import_file(settings: &Settings, file: &Path) -> anyhow::Result<TransferSummary> {
    let reader = std::fs::File::open(file)
        .with_context(|| format!("cannot read the export {}", file.display()))?;
    let shown = redact_password(&settings.database.url);
    let store = open_store(settings).await?;
    let imported = store.import_json(reader).await;
    store.close().await.ok();
    match imported {
        Ok(summary) => Ok(summary),
        Err(ImportError::NotEmpty { table, rows }) => bail!(
            "refusing to import into {shown}: it is not empty (table {table} has {rows} rows); \
             import into a new database (nothing was changed)"
        ),
        Err(error) => Err(anyhow::Error::new(error).context(format!(
            "cannot import {} (nothing was imported)",
            file.display()
        ))),
    }
}
