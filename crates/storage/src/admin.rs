//! Creating and dropping whole PostgreSQL databases: for test suites that give every test its
//! own database, and for operators preparing a target for `folio import`.

use sea_orm::{ConnectionTrait, Database};

use crate::{Result, StorageError};

fn checked_name(name: &str) -> Result<&str> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && name.as_bytes()[0].is_ascii_lowercase();
    if ok {
        Ok(name)
    } else {
        Err(StorageError::UnsupportedUrl(format!(
            "database name {name:?}"
        )))
    }
}

/// `admin_url` points at any database of the server (such as `postgres`).
pub async fn create_postgres_database(admin_url: &str, name: &str) -> Result<()> {
    let db = Database::connect(admin_url).await?;
    db.execute_unprepared(&format!("CREATE DATABASE {}", checked_name(name)?))
        .await?;
    db.close().await?;
    Ok(())
}

pub async fn drop_postgres_database(admin_url: &str, name: &str) -> Result<()> {
    let db = Database::connect(admin_url).await?;
    db.execute_unprepared(&format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        checked_name(name)?
    ))
    .await?;
    db.close().await?;
    Ok(())
}

/// The URL of database `name` on the same server as `admin_url`.
pub fn sibling_database_url(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin_url, None),
    };
    let prefix = match base.rfind('/') {
        Some(i) if i > base.find("://").map_or(0, |s| s + 2) => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{prefix}/{name}?{q}"),
        None => format!("{prefix}/{name}"),
    }
}
