//! Settings: the defaults built into the binary, then an optional file, then `FOLIO__…`
//! environment variables; checked once at start and passed down, never global.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use folio_domain::schedule::SiteZone;
use serde::{Deserialize, Serialize};

pub const DEFAULT_CONFIG: &str = include_str!("../../../config/default.toml");

#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub site: SiteSection,
    pub server: ServerSection,
    pub database: DatabaseSection,
    pub comments: CommentsSection,
    pub auth: AuthSection,
    pub cache: CacheSection,
    pub media: MediaSection,
    pub session: SessionSection,
    pub log: LogSection,
    pub mail: MailSection,
    pub federation: FederationSection,
}

/// `[federation]`: the blog as an ActivityPub actor that fediverse accounts follow.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FederationSection {
    pub enabled: bool,
    pub username: String,
    pub allow_private_addresses: bool,
    pub worker: bool,
    pub poll_milliseconds: u64,
    pub max_attempts: u32,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSection {
    pub title: String,
    pub tagline: String,
    pub base_url: String,
    /// `base_url` was not set and comes from `server.bind`.
    #[serde(skip)]
    pub base_url_derived: bool,
    pub language: String,
    pub posts_per_page: u32,
    pub full_text_in_lists: bool,
    pub feed_items: u32,
    pub sitemap_urls_per_file: u32,
    /// A fixed offset from UTC such as "+01:00": the admin's dates and times are in it.
    pub timezone: String,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    pub bind: String,
    pub request_timeout_seconds: u64,
    pub shutdown_grace_seconds: u64,
    pub trusted_proxies: Vec<String>,
    pub header_read_timeout_seconds: u64,
    pub max_connections: usize,
    /// Client addresses or CIDR ranges that may read /metrics.
    pub metrics_allow_from: Vec<String>,
    pub hsts_max_age_seconds: u64,
}

#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSection {
    pub url: String,
    pub migrate_on_start: bool,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CommentsSection {
    pub max_depth: u32,
    pub per_page: u32,
    pub moderation: String,
    pub edit_window_minutes: u64,
    pub close_after_days: u32,
    pub max_length: usize,
    pub max_links: usize,
    pub follow_up_checked: bool,
    pub per_user_per_minute: u32,
    pub per_address_per_minute: u32,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    pub timeout_seconds: u64,
    /// One table per provider offered; the key is its name in URLs (`/auth/{name}/login`).
    #[serde(default)]
    pub providers: BTreeMap<String, folio_auth::ProviderConfig>,
    /// `[auth.email]`: the built-in sign-in with a link sent by email.
    #[serde(default)]
    pub email: EmailSignInSection,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSignInSection {
    #[serde(default)]
    pub enabled: bool,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MediaSection {
    pub directory: String,
    pub max_upload_megabytes: u64,
    pub max_image_pixels: u64,
    /// CSP img-src sources besides this site: `https:`, `http://old-blog.example.org`.
    pub image_sources: Vec<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSection {
    pub absolute_lifetime_days: u32,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSection {
    pub enabled: bool,
    pub max_megabytes: u64,
    pub ttl_seconds: u64,
    pub poll_milliseconds: u64,
}

#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MailSection {
    pub transport: MailTransport,
    pub smtp_url: String,
    pub from: String,
    pub file_dir: String,
    pub worker: bool,
    pub max_attempts: u32,
    pub retry_base_seconds: u64,
    pub retry_max_seconds: u64,
    pub per_second: u32,
    pub batch_size: u32,
    pub poll_milliseconds: u64,
    pub lease_seconds: u64,
    pub timeout_seconds: u64,
    pub pool_max_connections: u32,
    pub confirmations_per_address_per_hour: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransport {
    Smtp,
    File,
    Log,
}

impl fmt::Debug for MailSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailSection")
            .field("transport", &self.transport)
            .field("smtp_url", &folio_storage::redact_password(&self.smtp_url))
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    pub level: String,
    pub format: LogFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// A setting that cannot be used, naming the key.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Settings {
    /// Layers the built-in defaults, `file` (if any) and the environment, then checks values.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with_env(file, Env::prefixed("FOLIO__").split("__"))
    }

    pub fn load_with_env(file: Option<&Path>, env: Env) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULT_CONFIG));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError(format!(
                    "config file {} does not exist or is not a file",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        let settings: Settings = figment.merge(env).extract().map_err(|error| {
            let messages: Vec<String> = error.into_iter().map(|e| describe(&e)).collect();
            ConfigError(messages.join("; "))
        })?;
        settings.validated()
    }

    fn validated(mut self) -> Result<Self, ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError(format!("config key {key}: {why}")));
        let bind_error = |bind: &str| {
            format!("must be an address and port such as 127.0.0.1:8080, got {bind:?}")
        };
        if self.site.base_url.trim().is_empty() {
            // Not set: the site is where it listens, so changing only the port moves links too.
            let Ok(bind) = self.server.bind.parse::<SocketAddr>() else {
                return bad("server.bind", &bind_error(&self.server.bind));
            };
            self.site.base_url = base_url_for(bind);
            self.site.base_url_derived = true;
        }
        let base = self.site.base_url.trim().trim_end_matches('/').to_owned();
        let host_part = base
            .strip_prefix("https://")
            .or_else(|| base.strip_prefix("http://"));
        match host_part {
            Some(rest) if !rest.is_empty() && !rest.contains(char::is_whitespace) => {}
            _ => {
                return bad(
                    "site.base_url",
                    &format!(
                        "must be an absolute http:// or https:// URL, got {:?}",
                        self.site.base_url
                    ),
                );
            }
        }
        self.site.base_url = base;
        if self.site.title.trim().is_empty() {
            return bad("site.title", "must not be empty");
        }
        let username = &self.federation.username;
        if username.is_empty()
            || username.len() > 64
            || !username
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return bad(
                "federation.username",
                "must be 1 to 64 lower-case letters, digits or underscores (the blog is @username@host)",
            );
        }
        if !(1..=100).contains(&self.site.posts_per_page) {
            return bad("site.posts_per_page", "must be between 1 and 100");
        }
        if !(1..=100).contains(&self.site.feed_items) {
            return bad("site.feed_items", "must be between 1 and 100");
        }
        if !(1..=50_000).contains(&self.site.sitemap_urls_per_file) {
            return bad(
                "site.sitemap_urls_per_file",
                "must be between 1 and 50000 (the sitemap protocol's limit)",
            );
        }
        if self.server.bind.parse::<SocketAddr>().is_err() {
            return bad("server.bind", &bind_error(&self.server.bind));
        }
        if self.server.request_timeout_seconds == 0 {
            return bad("server.request_timeout_seconds", "must be at least 1");
        }
        let url = &self.database.url;
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return bad("database.url", "must start with sqlite:// or postgres://");
        }
        if !(1..=10).contains(&self.comments.max_depth) {
            return bad("comments.max_depth", "must be between 1 and 10");
        }
        if folio_domain::ModerationPolicy::parse(&self.comments.moderation).is_none() {
            return bad(
                "comments.moderation",
                &format!(
                    "must be off, first_time or always, got {:?}",
                    self.comments.moderation
                ),
            );
        }
        if self.comments.max_length == 0 {
            return bad("comments.max_length", "must be at least 1");
        }
        for (index, proxy) in self.server.trusted_proxies.iter().enumerate() {
            if proxy.parse::<IpAddr>().is_err() {
                return bad(
                    &format!("server.trusted_proxies[{index}]"),
                    &format!("must be an IP address, got {proxy:?}"),
                );
            }
        }
        if self.server.header_read_timeout_seconds == 0 {
            return bad("server.header_read_timeout_seconds", "must be at least 1");
        }
        if self.server.max_connections == 0 {
            return bad("server.max_connections", "must be at least 1");
        }
        for (index, range) in self.server.metrics_allow_from.iter().enumerate() {
            if folio_web::AddressRange::parse(range).is_none() {
                return bad(
                    &format!("server.metrics_allow_from[{index}]"),
                    &format!("must be an IP address or a range such as 10.0.0.0/8, got {range:?}"),
                );
            }
        }
        for (index, source) in self.media.image_sources.iter().enumerate() {
            // A source expression, one word: a semicolon or quote would end the policy or
            // add keywords to it.
            let plain = !source.is_empty()
                && source
                    .chars()
                    .all(|c| c.is_ascii_graphic() && !matches!(c, ';' | ',' | '\'' | '"'));
            if !plain {
                return bad(
                    &format!("media.image_sources[{index}]"),
                    &format!(
                        "must be a scheme (https:) or a host (https://images.example.org), got {source:?}"
                    ),
                );
            }
        }
        if self.media.max_image_pixels == 0 {
            return bad("media.max_image_pixels", "must be at least 1");
        }
        if self.session.absolute_lifetime_days == 0 {
            return bad("session.absolute_lifetime_days", "must be at least 1");
        }
        if self
            .auth
            .providers
            .contains_key(folio_domain::users::EMAIL_PROVIDER)
        {
            return bad(
                "auth.providers.email",
                "\"email\" is the built-in email sign-in's name: turn it on with [auth.email] enabled = true, or give this provider another name",
            );
        }
        for name in self.auth.providers.keys() {
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            {
                return bad(
                    &format!("auth.providers.{name}"),
                    "a provider's name appears in URLs: use lowercase letters, digits, - and _",
                );
            }
        }
        self.providers()
            .map_err(|e| ConfigError(format!("config: {e}")))?;
        if self.media.directory.trim().is_empty() {
            return bad("media.directory", "must name a directory");
        }
        if !(1..=1024).contains(&self.media.max_upload_megabytes) {
            return bad("media.max_upload_megabytes", "must be from 1 to 1024");
        }
        if SiteZone::parse(&self.site.timezone).is_none() {
            return bad(
                "site.timezone",
                &format!(
                    "must be a fixed offset from UTC such as \"+01:00\" or an IANA time zone \
                     such as \"America/Los_Angeles\", got {:?}",
                    self.site.timezone
                ),
            );
        }
        if self.cache.poll_milliseconds < 50 {
            return bad("cache.poll_milliseconds", "must be at least 50");
        }
        if self.mail.transport == MailTransport::Smtp
            && let Err(error) = folio_notification::Mailer::check_smtp_url(&self.mail.smtp_url)
        {
            return bad("mail.smtp_url", &error.to_string());
        }
        if self
            .mail
            .from
            .parse::<folio_notification::Mailbox>()
            .is_err()
        {
            return bad(
                "mail.from",
                &format!(
                    "must be an address such as \"Blog <noreply@example.org>\", got {:?}",
                    self.mail.from
                ),
            );
        }
        if self.mail.max_attempts == 0 {
            return bad("mail.max_attempts", "must be at least 1");
        }
        if self.mail.poll_milliseconds < 10 {
            return bad("mail.poll_milliseconds", "must be at least 10");
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return bad(
                "log.level",
                &format!("is not a level or filter: {:?}", self.log.level),
            );
        }
        Ok(self)
    }

    /// A `site.base_url` set on this machine's loopback address but on another port than
    /// `server.bind`: links, feeds and the sign-in callback would point at nothing.
    pub fn base_url_warning(&self) -> Option<String> {
        if self.site.base_url_derived {
            return None;
        }
        let (scheme, rest) = self.site.base_url.split_once("://")?;
        let authority = rest.split('/').next().unwrap_or(rest);
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => (host, port.parse::<u16>().ok()?),
            _ => (authority, if scheme == "https" { 443 } else { 80 }),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        let bind = self.bind_address();
        (loopback && port != bind.port()).then(|| {
            format!(
                "site.base_url is {} but the server listens on {bind}: links, feeds and sign-in \
                 callbacks will point at port {port}; set site.base_url to match or remove it \
                 to have it follow server.bind",
                self.site.base_url
            )
        })
    }

    pub fn bind_address(&self) -> SocketAddr {
        self.server
            .bind
            .parse()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8080)))
    }

    /// The sign-in providers the config offers.
    pub fn providers(&self) -> Result<folio_auth::Providers, folio_auth::AuthError> {
        folio_auth::Providers::new(
            &self.auth.providers,
            &self.site.base_url,
            Duration::from_secs(self.auth.timeout_seconds.max(1)),
        )
    }

    /// `site.timezone`, checked by `validate`.
    pub fn zone(&self) -> SiteZone {
        SiteZone::parse(&self.site.timezone).unwrap_or_default()
    }

    pub fn web(&self) -> folio_web::WebSettings {
        folio_web::WebSettings {
            site: folio_web::SiteSettings {
                title: self.site.title.clone(),
                tagline: self.site.tagline.clone(),
                base_url: self.site.base_url.clone(),
                language: self.site.language.clone(),
                posts_per_page: self.site.posts_per_page,
                full_text_in_lists: self.site.full_text_in_lists,
                comment_max_depth: self.comments.max_depth,
                feed_items: self.site.feed_items,
                sitemap_urls_per_file: self.site.sitemap_urls_per_file,
                timezone: self.zone(),
            },
            cache: folio_web::CacheSettings {
                enabled: self.cache.enabled,
                max_bytes: self.cache.max_megabytes.saturating_mul(1024 * 1024),
                ttl: Duration::from_secs(self.cache.ttl_seconds.max(1)),
                poll_interval: Duration::from_millis(self.cache.poll_milliseconds),
            },
            request_timeout: Duration::from_secs(self.server.request_timeout_seconds),
            media: folio_web::MediaSettings {
                directory: self.media.directory.clone().into(),
                max_upload_bytes: self.media.max_upload_megabytes.saturating_mul(1024 * 1024),
                max_image_pixels: self.media.max_image_pixels,
                image_sources: self.media.image_sources.clone(),
            },
            comments: folio_web::CommentSettings {
                moderation: folio_domain::ModerationPolicy::parse(&self.comments.moderation)
                    .unwrap_or(folio_domain::ModerationPolicy::FirstTime),
                limits: folio_domain::CommentLimits {
                    max_length: self.comments.max_length,
                    max_links: self.comments.max_links,
                },
                edit_window: Duration::from_secs(self.comments.edit_window_minutes * 60),
                close_after_days: self.comments.close_after_days,
                per_page: self.comments.per_page,
                follow_up_checked: self.comments.follow_up_checked,
                per_user_per_minute: self.comments.per_user_per_minute,
                per_address_per_minute: self.comments.per_address_per_minute,
            },
            trusted_proxies: self
                .server
                .trusted_proxies
                .iter()
                .filter_map(|p| p.parse().ok())
                .collect(),
            security: folio_web::SecuritySettings {
                metrics_allow_from: self
                    .server
                    .metrics_allow_from
                    .iter()
                    .filter_map(|range| folio_web::AddressRange::parse(range))
                    .collect(),
                session_absolute_lifetime: Duration::from_secs(
                    u64::from(self.session.absolute_lifetime_days) * 24 * 3600,
                ),
                hsts_max_age_seconds: self.server.hsts_max_age_seconds,
                subscribe_per_address_per_hour: self.mail.confirmations_per_address_per_hour,
            },
            email_sign_in: self.auth.email.enabled,
            federation: self.federation_settings(),
        }
    }

    pub fn federation_settings(&self) -> folio_federation::FederationSettings {
        folio_federation::FederationSettings {
            enabled: self.federation.enabled,
            username: self.federation.username.clone(),
            allow_private_addresses: self.federation.allow_private_addresses,
            base_url: self.site.base_url.trim_end_matches('/').to_owned(),
            display_name: self.site.title.clone(),
            summary: self.site.tagline.clone(),
        }
    }

    pub fn federation_worker(&self) -> folio_federation::WorkerSettings {
        folio_federation::WorkerSettings {
            poll_interval: Duration::from_millis(self.federation.poll_milliseconds.max(10)),
            max_attempts: self.federation.max_attempts.max(1),
            ..folio_federation::WorkerSettings::default()
        }
    }

    pub fn mail_transport(&self) -> folio_notification::TransportSettings {
        match self.mail.transport {
            MailTransport::Smtp => folio_notification::TransportSettings::Smtp {
                url: self.mail.smtp_url.clone(),
                timeout: Duration::from_secs(self.mail.timeout_seconds.max(1)),
                pool_max_connections: self.mail.pool_max_connections,
            },
            MailTransport::File => folio_notification::TransportSettings::File {
                dir: self.mail.file_dir.clone().into(),
            },
            MailTransport::Log => folio_notification::TransportSettings::Log,
        }
    }

    pub fn mail_worker(&self) -> folio_notification::MailSettings {
        folio_notification::MailSettings {
            from: self.mail.from.clone(),
            max_attempts: self.mail.max_attempts,
            retry_base: Duration::from_secs(self.mail.retry_base_seconds),
            retry_max: Duration::from_secs(self.mail.retry_max_seconds.max(1)),
            per_second: self.mail.per_second,
            batch_size: self.mail.batch_size.max(1),
            poll_interval: Duration::from_millis(self.mail.poll_milliseconds),
            lease: Duration::from_secs(self.mail.lease_seconds.max(1)),
            concurrency: self.mail.pool_max_connections.max(1),
        }
    }

    pub fn mail_site(&self) -> folio_notification::SiteInfo {
        folio_notification::SiteInfo {
            title: self.site.title.clone(),
            base_url: self.site.base_url.clone(),
        }
    }

    /// The effective configuration as TOML, passwords replaced by `***`.
    pub fn to_redacted_toml(&self) -> String {
        let mut shown = self.clone();
        shown.database.url = folio_storage::redact_password(&shown.database.url);
        shown.mail.smtp_url = folio_storage::redact_password(&shown.mail.smtp_url);
        for provider in shown.auth.providers.values_mut() {
            if !provider.client_secret.is_empty() {
                provider.client_secret = "***".to_owned();
            }
        }
        toml::to_string_pretty(&shown)
            .unwrap_or_else(|e| format!("# cannot print the configuration: {e}\n"))
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_redacted_toml())
    }
}

impl fmt::Debug for DatabaseSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSection")
            .field("url", &folio_storage::redact_password(&self.url))
            .field("migrate_on_start", &self.migrate_on_start)
            .finish()
    }
}

fn describe(error: &figment::Error) -> String {
    let key = error.path.join(".");
    let kind = error.kind.to_string();
    if key.is_empty() {
        format!("configuration: {kind}")
    } else {
        format!("config key {key}: {kind}")
    }
}

/// Where readers reach a server bound to `bind` when `site.base_url` is not set; one bound
/// to every interface is reached on this machine through loopback.
fn base_url_for(bind: SocketAddr) -> String {
    match bind {
        SocketAddr::V4(v4) if v4.ip().is_unspecified() => {
            format!("http://127.0.0.1:{}", v4.port())
        }
        SocketAddr::V6(v6) if v6.ip().is_unspecified() => {
            format!("http://localhost:{}", v6.port())
        }
        other => format!("http://{other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_load_and_are_valid() {
        let settings =
            Settings::load_with_env(None, Env::prefixed("FOLIO_TEST_NEVER_SET__")).unwrap();
        assert_eq!(settings.server.bind, "127.0.0.1:8080");
        assert_eq!(settings.database.url, "sqlite://data/folio.db");
        assert_eq!(settings.site.base_url, "http://127.0.0.1:8080");
        assert_eq!(settings.base_url_warning(), None);
    }

    #[test]
    fn base_url_follows_the_bind_address_unless_set() {
        for (bind, expected) in [
            ("127.0.0.1:3000", "http://127.0.0.1:3000"),
            ("0.0.0.0:3001", "http://127.0.0.1:3001"),
            ("[::]:3002", "http://localhost:3002"),
            ("[::1]:3003", "http://[::1]:3003"),
            ("192.0.2.7:3004", "http://192.0.2.7:3004"),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("c.toml");
            std::fs::write(&path, format!("[server]\nbind = \"{bind}\"\n")).unwrap();
            let settings =
                Settings::load_with_env(Some(&path), Env::prefixed("FOLIO_TEST_NEVER_SET__"))
                    .unwrap();
            assert_eq!(settings.site.base_url, expected, "{bind}");
            assert_eq!(settings.base_url_warning(), None, "{bind}");
        }
    }

    #[test]
    fn a_set_loopback_base_url_on_another_port_is_warned_about() {
        let warning = |base: &str| {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("c.toml");
            std::fs::write(
                &path,
                format!("[site]\nbase_url = \"{base}\"\n[server]\nbind = \"0.0.0.0:3000\"\n"),
            )
            .unwrap();
            Settings::load_with_env(Some(&path), Env::prefixed("FOLIO_TEST_NEVER_SET__"))
                .unwrap()
                .base_url_warning()
        };
        assert!(warning("http://127.0.0.1:8080").unwrap().contains("8080"));
        assert!(warning("http://localhost").is_some());
        assert!(warning("http://[::1]:8080/blog").is_some());
        assert_eq!(warning("http://localhost:3000"), None);
        // A public address is behind a proxy, on whatever port it likes.
        assert_eq!(warning("https://blog.example.org"), None);
    }

    #[test]
    fn unknown_key_in_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[site]\ntitel = \"typo\"\n").unwrap();
        let error = Settings::load_with_env(Some(&path), Env::prefixed("FOLIO_TEST_NEVER_SET__"))
            .unwrap_err();
        assert!(error.0.contains("titel"), "{}", error.0);
    }

    #[test]
    fn bad_value_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[server]\nbind = \"localhost\"\n").unwrap();
        let error = Settings::load_with_env(Some(&path), Env::prefixed("FOLIO_TEST_NEVER_SET__"))
            .unwrap_err();
        assert!(error.0.contains("server.bind"), "{}", error.0);
        std::fs::write(&path, "[site]\nposts_per_page = \"ten\"\n").unwrap();
        let error = Settings::load_with_env(Some(&path), Env::prefixed("FOLIO_TEST_NEVER_SET__"))
            .unwrap_err();
        assert!(error.0.contains("site.posts_per_page"), "{}", error.0);
    }

    #[test]
    fn secrets_are_hidden() {
        let mut settings =
            Settings::load_with_env(None, Env::prefixed("FOLIO_TEST_NEVER_SET__")).unwrap();
        settings.database.url = "postgres://folio:hunter2@db/folio".into();
        assert!(!settings.to_redacted_toml().contains("hunter2"));
        assert!(!format!("{settings:?}").contains("hunter2"));
    }
}
