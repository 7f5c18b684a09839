//! Folio's HTTP side: the only crate that knows about routes, status codes and HTML.

mod account;
mod admin;
mod cache;
mod discussion;
mod error;
mod federation;
mod feeds;
mod layout;
mod location;
mod media;
mod ops;
mod pages;
mod personal;
mod protected;
mod rendering;
mod routes;
mod session;
mod settings;
mod signin;
mod signin_email;
mod subscriptions;
mod views;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use folio_auth::Providers;
use folio_domain::{CommentLimits, ModerationPolicy};
use folio_storage::Store;

pub use cache::PageCache;
pub use error::AppError;
pub use media::{DEFAULT_MAX_IMAGE_PIXELS, DirectoryMedia, clean_upload, clean_upload_within};
pub use ops::{baseline_router, metrics_handle};
pub use session::{SESSION_COOKIE, open_session_for};

/// What the pages need to know about the site, from configuration.
#[derive(Debug, Clone)]
pub struct SiteSettings {
    pub title: String,
    pub tagline: String,
    /// Absolute, without a trailing slash: feeds, sitemaps and canonical links use it.
    pub base_url: String,
    pub language: String,
    pub posts_per_page: u32,
    /// The front page and archives show whole posts rather than excerpts.
    pub full_text_in_lists: bool,
    pub comment_max_depth: u32,
    pub feed_items: u32,
    /// Past this many addresses, `/sitemap.xml` is an index of `/sitemap/N.xml` files.
    pub sitemap_urls_per_file: u32,
    /// The site's time zone: dates shown, permalinks, date archives and the admin's date
    /// fields use it.
    pub timezone: folio_domain::schedule::SiteZone,
}

#[derive(Debug, Clone)]
pub struct CacheSettings {
    pub enabled: bool,
    pub max_bytes: u64,
    /// Longest a cached page lives, so that posts scheduled for a time appear without a write.
    pub ttl: Duration,
    /// How often to ask the database whether content changed (in another process, say).
    pub poll_interval: Duration,
}

/// The `[comments]` rules.
#[derive(Debug, Clone)]
pub struct CommentSettings {
    pub moderation: ModerationPolicy,
    pub limits: CommentLimits,
    /// How long after posting its author may still change or delete a comment.
    pub edit_window: Duration,
    /// 0: never close by age.
    pub close_after_days: u32,
    /// Top-level comments (each with its replies) per page; 0: all on one page.
    pub per_page: u32,
    /// "Notify me of follow-up comments" starts ticked.
    pub follow_up_checked: bool,
    /// Comments a signed-in reader may post per minute (0: no limit).
    pub per_user_per_minute: u32,
    /// Comments one network address may post per minute (0: no limit).
    pub per_address_per_minute: u32,
}

/// Uploaded images (`[media]`).
#[derive(Debug, Clone)]
pub struct MediaSettings {
    pub directory: std::path::PathBuf,
    pub max_upload_bytes: u64,
    /// Uploads whose header declares more pixels are refused before decoding.
    pub max_image_pixels: u64,
    /// Where pages may load images from besides this site (CSP `img-src` sources such as
    /// `https:` or `http://old-blog.example.org`).
    pub image_sources: Vec<String>,
}

/// Limits that protect the site rather than shape it.
#[derive(Debug, Clone)]
pub struct SecuritySettings {
    /// Client addresses (or ranges) that may read `/metrics`.
    pub metrics_allow_from: Vec<AddressRange>,
    /// A session ends this long after sign-in, however active.
    pub session_absolute_lifetime: Duration,
    /// `Strict-Transport-Security: max-age` sent when the site is https (0: not sent).
    pub hsts_max_age_seconds: u64,
    /// Confirmation emails `/subscribe` sends for one client address per hour (0: no limit).
    pub subscribe_per_address_per_hour: u32,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        SecuritySettings {
            metrics_allow_from: vec![
                AddressRange::single(IpAddr::from([127, 0, 0, 1])),
                AddressRange::single(IpAddr::from(std::net::Ipv6Addr::LOCALHOST)),
            ],
            session_absolute_lifetime: Duration::from_secs(90 * 24 * 3600),
            hsts_max_age_seconds: 31_536_000,
            subscribe_per_address_per_hour: 5,
        }
    }
}

/// An address or a CIDR range of them (`127.0.0.1`, `10.0.0.0/8`, `::1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressRange {
    network: IpAddr,
    prefix: u8,
}

impl AddressRange {
    pub fn single(address: IpAddr) -> Self {
        let prefix = if address.is_ipv4() { 32 } else { 128 };
        AddressRange {
            network: address,
            prefix,
        }
    }

    /// `None` for text that is neither an address nor `address/prefix`.
    pub fn parse(text: &str) -> Option<Self> {
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix.parse::<u8>().ok()?)),
            None => (text.trim(), None),
        };
        let network: IpAddr = address.parse().ok()?;
        let width = if network.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(width);
        (prefix <= width).then_some(AddressRange { network, prefix })
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
            v4 => v4,
        };
        let bits = |ip: IpAddr| match ip {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32u32),
            IpAddr::V6(v6) => (u128::from(v6), 128u32),
        };
        let ((net, width), (addr, addr_width)) = (bits(self.network), bits(address));
        if width != addr_width {
            return false;
        }
        let shift = width - u32::from(self.prefix);
        shift >= width || (net >> shift) == (addr >> shift)
    }
}

#[derive(Debug, Clone)]
pub struct WebSettings {
    pub site: SiteSettings,
    pub cache: CacheSettings,
    pub comments: CommentSettings,
    pub request_timeout: Duration,
    pub media: MediaSettings,
    /// Proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<IpAddr>,
    pub security: SecuritySettings,
    /// `[auth.email] enabled`: readers may sign in with a link sent to their address.
    pub email_sign_in: bool,
    /// `[federation]`: the blog as an ActivityPub actor.
    pub federation: folio_federation::FederationSettings,
}

/// Everything a handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<StateInner>,
}

struct StateInner {
    store: Store,
    providers: Providers,
    /// The configuration's values: what the admin's saved settings override.
    configured_comments: CommentSettings,
    configured_site: SiteSettings,
    /// The configuration with the saved settings applied, as last read from the database.
    effective: std::sync::RwLock<settings::Effective>,
    trusted_proxies: Vec<IpAddr>,
    media: media::DirectoryMedia,
    max_upload_bytes: u64,
    max_image_pixels: u64,
    security: SecuritySettings,
    email_sign_in: bool,
    cache: PageCache,
    chrome: layout::ChromeCache,
    federation: Option<folio_federation::Federation>,
}

impl AppState {
    pub fn new(store: Store, providers: Providers, settings: &WebSettings) -> Self {
        let cache = PageCache::new(&settings.cache);
        let chrome = layout::ChromeCache::new(settings.cache.ttl);
        let store_for_federation = store.clone();
        AppState {
            inner: Arc::new(StateInner {
                store,
                providers,
                configured_comments: settings.comments.clone(),
                configured_site: settings.site.clone(),
                effective: std::sync::RwLock::new(settings::Effective::of(
                    &settings.site,
                    &settings.comments,
                )),
                trusted_proxies: settings.trusted_proxies.clone(),
                media: media::DirectoryMedia::new(settings.media.directory.clone()),
                max_upload_bytes: settings.media.max_upload_bytes,
                max_image_pixels: settings.media.max_image_pixels,
                security: settings.security.clone(),
                email_sign_in: settings.email_sign_in,
                cache,
                chrome,
                federation: settings.federation.enabled.then(|| {
                    folio_federation::Federation::new(
                        store_for_federation,
                        settings.federation.clone(),
                    )
                }),
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn providers(&self) -> &Providers {
        &self.inner.providers
    }

    /// The comment rules in force: the configuration's, with what an admin saved.
    pub fn comments(&self) -> Arc<CommentSettings> {
        self.effective().comments
    }

    pub(crate) fn trusted_proxies(&self) -> &[IpAddr] {
        &self.inner.trusted_proxies
    }

    /// The site's settings in force: the configuration's, with what an admin saved.
    pub fn site(&self) -> Arc<SiteSettings> {
        self.effective().site
    }

    fn effective(&self) -> settings::Effective {
        self.inner
            .effective
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Reads the saved settings again and applies them over the configuration.
    pub async fn reload_settings(&self) -> Result<(), folio_storage::StorageError> {
        let stored = self.store().stored_settings().await?;
        let effective = settings::Effective::with_overrides(
            &self.inner.configured_site,
            &self.inner.configured_comments,
            &stored,
        );
        *self
            .inner
            .effective
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = effective;
        Ok(())
    }

    pub(crate) fn media(&self) -> &media::DirectoryMedia {
        &self.inner.media
    }

    pub(crate) fn max_upload_bytes(&self) -> u64 {
        self.inner.max_upload_bytes
    }

    pub(crate) fn max_image_pixels(&self) -> u64 {
        self.inner.max_image_pixels
    }

    pub(crate) fn security(&self) -> &SecuritySettings {
        &self.inner.security
    }

    /// Whether "Log in with email" is offered.
    pub(crate) fn email_sign_in(&self) -> bool {
        self.inner.email_sign_in
    }

    pub(crate) fn configured_site(&self) -> &SiteSettings {
        &self.inner.configured_site
    }

    pub(crate) fn configured_comments(&self) -> &CommentSettings {
        &self.inner.configured_comments
    }

    /// The blog's fediverse actor, when `federation.enabled` is on.
    pub fn federation(&self) -> Option<&folio_federation::Federation> {
        self.inner.federation.as_ref()
    }

    pub fn cache(&self) -> &PageCache {
        &self.inner.cache
    }

    pub(crate) fn chrome(&self) -> &layout::ChromeCache {
        &self.inner.chrome
    }
}

/// The whole site as one router, with its middleware.
pub fn router(state: AppState, settings: &WebSettings) -> Router {
    routes::build(state, settings)
}

#[cfg(test)]
mod tests {
    use super::AddressRange;

    #[test]
    fn address_ranges_hold_what_they_say() {
        let loopback = AddressRange::parse("127.0.0.1").unwrap();
        assert!(loopback.contains("127.0.0.1".parse().unwrap()));
        assert!(loopback.contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!loopback.contains("127.0.0.2".parse().unwrap()));
        let private = AddressRange::parse("10.0.0.0/8").unwrap();
        assert!(private.contains("10.200.3.4".parse().unwrap()));
        assert!(!private.contains("11.0.0.1".parse().unwrap()));
        assert!(!private.contains("::1".parse().unwrap()));
        let everyone = AddressRange::parse("0.0.0.0/0").unwrap();
        assert!(everyone.contains("203.0.113.9".parse().unwrap()));
        assert!(
            AddressRange::parse("::1")
                .unwrap()
                .contains("::1".parse().unwrap())
        );
        assert!(AddressRange::parse("10.0.0.0/33").is_none());
        assert!(AddressRange::parse("localhost").is_none());
    }
}
