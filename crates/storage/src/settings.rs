//! Settings an admin saved: each overrides the configuration file's value of the same name.
//! Kept as text under the config's own key names (`site.title`, `comments.moderation`, ...).

use std::collections::BTreeMap;

use folio_domain::User;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};

use crate::audit::record;
use crate::entities::site_settings;
use crate::site::bump_content_version;
use crate::{Result, Store};

impl Store {
    /// Every saved setting, by key.
    pub async fn stored_settings(&self) -> Result<BTreeMap<String, String>> {
        Ok(site_settings::Entity::find()
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| (row.key, row.value))
            .collect())
    }

    /// Replaces the saved settings with `values` (an empty map: back to the config file's).
    pub async fn save_settings(
        &self,
        actor: &User,
        values: &BTreeMap<String, String>,
    ) -> Result<()> {
        let txn = self.begin_write().await?;
        site_settings::Entity::delete_many().exec(&txn).await?;
        for (key, value) in values {
            site_settings::ActiveModel {
                key: Set(key.clone()),
                value: Set(value.clone()),
            }
            .insert(&txn)
            .await?;
        }
        let detail = values
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let action = if values.is_empty() {
            "settings.reset"
        } else {
            "settings.save"
        };
        record(&txn, actor, action, "settings", &detail).await?;
        // Titles and page sizes are on every page: cached pages must go.
        bump_content_version(&txn).await?;
        txn.commit().await?;
        Ok(())
    }
}
