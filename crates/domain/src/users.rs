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
