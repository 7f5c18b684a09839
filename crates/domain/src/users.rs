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
