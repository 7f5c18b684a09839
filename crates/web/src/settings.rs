//! The settings in force: the configuration file's, overridden by what an admin saved in
//! `/admin/settings`. Every process reloads them when the content version moves (saving
//! bumps it), so a change shows everywhere within the cache's poll interval.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use folio_domain::ModerationPolicy;

use crate::{AppState, CommentSettings, SiteSettings};

/// The keys an admin may save, under the config file's own names.
pub const TITLE: &str = "site.title";
pub const TAGLINE: &str = "site.tagline";
pub const POSTS_PER_PAGE: &str = "site.posts_per_page";
pub const MODERATION: &str = "comments.moderation";
pub const MAX_DEPTH: &str = "comments.max_depth";
pub const EDIT_WINDOW_MINUTES: &str = "comments.edit_window_minutes";
pub const CLOSE_AFTER_DAYS: &str = "comments.close_after_days";
pub const FOLLOW_UP_CHECKED: &str = "comments.follow_up_checked";

#[derive(Debug, Clone)]
pub struct Effective {
    pub site: Arc<SiteSettings>,
    pub comments: Arc<CommentSettings>,
}

impl Effective {
    pub fn of(site: &SiteSettings, comments: &CommentSettings) -> Self {
        Effective {
            site: Arc::new(site.clone()),
            comments: Arc::new(comments.clone()),
        }
    }

    /// The configuration with each saved value that is valid applied over it. An invalid
    /// one (written by hand, say) is ignored, not fatal.
    pub fn with_overrides(
        site: &SiteSettings,
        comments: &CommentSettings,
        stored: &BTreeMap<String, String>,
    ) -> Self {
        let mut site = site.clone();
        let mut comments = comments.clone();
        for (key, value) in stored {
            let applied = match key.as_str() {
                TITLE => valid_title(value).map(|v| site.title = v).is_some(),
                TAGLINE => {
                    site.tagline = valid_tagline(value);
                    true
                }
                POSTS_PER_PAGE => valid_posts_per_page(value)
                    .map(|v| site.posts_per_page = v)
                    .is_some(),
                MODERATION => ModerationPolicy::parse(value)
                    .map(|v| comments.moderation = v)
                    .is_some(),
                MAX_DEPTH => valid_max_depth(value)
                    .map(|v| site.comment_max_depth = v)
                    .is_some(),
                EDIT_WINDOW_MINUTES => valid_edit_window(value)
                    .map(|v| comments.edit_window = Duration::from_secs(u64::from(v) * 60))
                    .is_some(),
                CLOSE_AFTER_DAYS => valid_close_after(value)
                    .map(|v| comments.close_after_days = v)
                    .is_some(),
                FOLLOW_UP_CHECKED => value
                    .parse::<bool>()
                    .map(|v| comments.follow_up_checked = v)
                    .is_ok(),
                _ => false,
            };
            if !applied {
                tracing::warn!(
                    key,
                    value,
                    "ignoring a saved setting this version cannot use"
                );
            }
        }
        Effective {
            site: Arc::new(site),
            comments: Arc::new(comments),
        }
    }
}

pub fn valid_title(raw: &str) -> Option<String> {
    let title = folio_domain::text::xml_safe(raw);
    let title = title.trim();
    (!title.is_empty() && title.chars().count() <= 200).then(|| title.to_owned())
}

pub fn valid_tagline(raw: &str) -> String {
    folio_domain::text::xml_safe(raw).trim().to_owned()
}

pub fn valid_posts_per_page(raw: &str) -> Option<u32> {
    raw.trim().parse().ok().filter(|n| (1..=100).contains(n))
}

pub fn valid_max_depth(raw: &str) -> Option<u32> {
    raw.trim().parse().ok().filter(|n| (1..=10).contains(n))
}

pub fn valid_edit_window(raw: &str) -> Option<u32> {
    raw.trim().parse().ok().filter(|n| *n <= 24 * 60)
}

pub fn valid_close_after(raw: &str) -> Option<u32> {
    raw.trim().parse().ok().filter(|n| *n <= 36_500)
}

/// Reloads the settings now and whenever the content version moves. Runs until the
/// runtime stops.
pub fn watch(state: AppState, every: Duration) {
    tokio::spawn(async move {
        let mut seen = None;
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let version = state.cache().known_version();
            if version == seen {
                continue;
            }
            match state.reload_settings().await {
                Ok(()) => seen = version,
                // The configuration's values stay in force until the database answers.
                Err(error) => tracing::warn!(error = %error, "cannot read the saved settings"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_values_override_and_bad_ones_are_ignored() {
        let site = SiteSettings {
            title: "Config".into(),
            tagline: "From the file".into(),
            base_url: "http://x".into(),
            language: "en".into(),
            posts_per_page: 10,
            full_text_in_lists: false,
            comment_max_depth: 5,
            feed_items: 10,
            sitemap_urls_per_file: 20_000,
            timezone: folio_domain::schedule::SiteZone::UTC,
        };
        let comments = CommentSettings {
            moderation: ModerationPolicy::FirstTime,
            limits: folio_domain::CommentLimits {
                max_length: 100,
                max_links: 2,
            },
            edit_window: Duration::from_secs(900),
            close_after_days: 0,
            per_user_per_minute: 0,
            per_address_per_minute: 0,
            per_page: 50,
            follow_up_checked: false,
        };
        let stored: BTreeMap<String, String> = [
            (TITLE, "Saved"),
            (POSTS_PER_PAGE, "0"),
            (MODERATION, "always"),
            (EDIT_WINDOW_MINUTES, "5"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let effective = Effective::with_overrides(&site, &comments, &stored);
        assert_eq!(effective.site.title, "Saved");
        assert_eq!(effective.site.tagline, "From the file");
        assert_eq!(effective.site.posts_per_page, 10, "0 is not a page size");
        assert_eq!(effective.comments.moderation, ModerationPolicy::Always);
        assert_eq!(effective.comments.edit_window, Duration::from_secs(300));
    }
}
