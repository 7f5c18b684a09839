use time::OffsetDateTime;

use crate::Slug;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Reader,
    Author,
    Editor,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Author => "author",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "reader" => Some(Role::Reader),
            "author" => Some(Role::Author),
            "editor" => Some(Role::Editor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    /// The author archive lives at `/author/{slug}/`.
    pub slug: Slug,
    pub display_name: String,
    pub email: Option<String>,
    pub avatar_url: Option<String>,
    pub bio: String,
    pub role: Role,
    pub created_at: OffsetDateTime,
    /// True when a provider vouched for `email` (or its owner confirmed it): only then is mail sent.
    pub email_verified: bool,
    /// "Email me when someone replies to my comment".
    pub notify_replies: bool,
    pub ban: Option<Ban>,
}

impl User {
    pub fn is_banned(&self, now: OffsetDateTime) -> bool {
        self.ban.as_ref().is_some_and(|ban| ban.in_force(now))
    }

    /// Editors and admins moderate; their own comments are never held.
    pub fn moderates(&self) -> bool {
        self.role >= Role::Editor
    }
}

/// Whether an avatar address from a provider may be stored and shown: an absolute `https:`
/// or `http:` address and nothing else. A `javascript:` or `data:` address (a provider, or
/// someone posing as one, can send any string) would otherwise land in an `<img src>`.
pub fn is_web_avatar_url(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &url[8..]
    } else if lower.starts_with("http://") {
        &url[7..]
    } else {
        return false;
    };
    !rest.is_empty()
        && !rest.starts_with('/')
        && !url
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '"' | '<' | '>' | '\\'))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    pub since: OffsetDateTime,
    /// None: until lifted by hand.
    pub until: Option<OffsetDateTime>,
    pub reason: String,
}

impl Ban {
    pub fn in_force(&self, now: OffsetDateTime) -> bool {
        self.until.is_none_or(|until| now < until)
    }
}

/// One way of signing in: an account at a provider, known by the provider's stable subject.
/// Users are found by (provider, subject) and never by email, so that an address someone
/// typed at one provider cannot open an account made through another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The provider's name in the config (`[auth.providers.<name>]`).
    pub provider: String,
    pub subject: String,
    pub login: Option<String>,
    pub display_name: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub avatar_url: Option<String>,
    pub profile_url: Option<String>,
}

/// The provider name of the built-in email sign-in (`email:someone@example.org`).
pub const EMAIL_PROVIDER: &str = "email";

impl Identity {
    /// The identity an email sign-in link proves: the address (normalized), verified by
    /// the reader's following the link. It carries no name beyond the address's local
    /// part, which a new account starts with.
    pub fn for_email(address: &str) -> Identity {
        let address = normalize_email(address);
        let local = address.split('@').next().unwrap_or_default().to_owned();
        Identity {
            provider: EMAIL_PROVIDER.to_owned(),
            subject: address.clone(),
            login: Some(address.clone()),
            display_name: if local.is_empty() {
                "Reader".to_owned()
            } else {
                local
            },
            email: Some(address),
            email_verified: true,
            avatar_url: None,
            profile_url: None,
        }
    }

    /// Whether signing in with this identity leaves the user's name and picture as they
    /// are: an email address has neither, so the ones a user chose or brought (from an
    /// import, another provider) stay.
    pub fn keeps_user_profile(&self) -> bool {
        self.provider == EMAIL_PROVIDER
    }
}

/// An address as email sign-in keys it: trimmed and lowercased, so that `Ann@Example.org `
/// and `ann@example.org` are one person.
pub fn normalize_email(address: &str) -> String {
    address.trim().to_lowercase()
}

/// Whether `address` is worth sending a sign-in link to: one `@` with something on both
/// sides, a dot in the domain, no spaces or controls, not absurdly long.
pub fn is_plausible_email(address: &str) -> bool {
    address.len() <= 254
        && address.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        })
        && !address.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod email_tests {
    use super::{Identity, is_plausible_email, normalize_email};

    #[test]
    fn addresses_are_trimmed_and_lowercased() {
        assert_eq!(normalize_email("  Ann@Example.ORG "), "ann@example.org");
        let identity = Identity::for_email(" Ann@Example.org");
        assert_eq!(identity.subject, "ann@example.org");
        assert_eq!(identity.login.as_deref(), Some("ann@example.org"));
        assert_eq!(identity.display_name, "ann");
        assert!(identity.email_verified);
    }

    #[test]
    fn only_plausible_addresses_get_a_link() {
        assert!(is_plausible_email("ann@example.org"));
        for bad in [
            "",
            "ann",
            "@example.org",
            "ann@localhost",
            "a b@example.org",
            "a@b@c.org",
        ] {
            assert!(!is_plausible_email(bad), "{bad:?}");
        }
    }
}

#[cfg(test)]
mod avatar_tests {
    use super::is_web_avatar_url;

    #[test]
    fn only_http_and_https_avatars_pass() {
        assert!(is_web_avatar_url("https://avatars.example.com/u/1?v=4"));
        assert!(is_web_avatar_url("HTTP://cdn.example.org/a.png"));
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:image/svg+xml,<svg onload=alert(1)>",
            "vbscript:x",
            "//evil.example/a.png",
            "https://",
            "https:///path",
            "https://a.example/\u{0}x",
            "https://a.example/ x",
            "/relative.png",
            "",
        ] {
            assert!(!is_web_avatar_url(bad), "{bad:?} passed");
        }
    }
}
