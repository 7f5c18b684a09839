//! `folio session-for USER` (hidden): opens a session for a user straight in the session
//! store, as a sign-in would, and prints the `folio_session` cookie's value. `cargo xtask
//! screenshots` uses it to show signed-in admin pages. Whoever can run it can already change
//! the database, so it gives nobody anything new.

use anyhow::{Context as _, bail};

use crate::app::open_store;
use crate::config::Settings;

/// USER is an id, an email, an author slug, or provider:login, as for `folio user role`.
pub async fn session_for(settings: &Settings, user: &str) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    let Some(found) = store.find_user(user).await? else {
        bail!("no user {user:?}");
    };
    let (cookie, _csrf) = folio_web::open_session_for(&store, found.id)
        .await
        .context("cannot open a session")?;
    println!("{cookie}");
    Ok(())
}
