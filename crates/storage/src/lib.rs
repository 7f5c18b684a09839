//! Folio's database. Owns the sea-orm entities and hands out `folio_domain` types; nothing
//! above this crate sees a row.

mod account;
mod address_limits;
pub mod admin;
mod audit;
mod backup;
mod comment_counts;
mod comment_writer;
mod comments;
mod connect;
mod entities;
mod error;
mod export;
mod federation;
mod identities;
mod leases;
mod likes;
mod mail;
mod moderation;
mod posts;
mod raw;
mod search;
mod sessions;
mod settings;
mod sign_in_links;
mod site;
mod taxonomy;
mod terms;
mod threads;
mod users;
mod wordpress_import;
mod writing;
mod wxr;

pub use account::LeavingComments;
pub use audit::AuditEntry;
pub use backup::sqlite_file;
pub use comments::{CommentChecks, NewComment, StoredComment};
pub use connect::{Backend, MigrationState, redact_password};
pub use error::StorageError;
pub use export::{
    EXPORT_FORMAT, EXPORT_FORMAT_VERSION, ImportError, TransferSummary, latest_migration,
};
pub use federation::{
    ActorKeys, AnnouncedPost, ClaimedDelivery, Follower, LocalReply, NewDelivery, RemoteActor,
};
pub use identities::{LinkOutcome, UnlinkOutcome};
pub use likes::{Liker, Likes};
pub use mail::{
    BlogSubscription, ClaimedMail, CommentAudience, FailedMail, ModerationLink, NewMail,
    OutboxCounts, Subscriber, SubscriberCounts, UnsubscribeTarget, millis, random_token,
    still_tellable,
};
pub use moderation::QueuedComment;
pub use posts::{
    Adjacent, CommentTarget, NewPost, PageLink, PostFilter, PostLink, PostListing, PostRow,
};
pub use search::SearchHit;
pub use sessions::{SessionWithReader, StoredSession};
pub use sign_in_links::{SignInLinkLimits, SignInLinkRequest, SignInLinkState, sign_in_token_hash};
pub use site::{ContentState, MonthCount, SitemapEntry};
pub use taxonomy::{TermEdit, TermRefusal, TermUsage};
pub use terms::CategoryCount;
pub use threads::{ThreadPage, ThreadPaging};
pub use users::NewUser;
pub use wordpress_import::{
    ImportCounts, ImportedAuthor, ImportedComment, ImportedPost, ImportedTerm, WordPressImport,
};
pub use writing::{
    AdminPostQuery, AdminPostRow, DashboardCounts, EditablePost, EditorialStatus, PostEdit,
    Revision,
};
pub use wxr::{WxrAuthor, WxrComment, WxrPost, WxrPostTerm, WxrTerm};

use sea_orm::DatabaseConnection;

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// A handle on the database, cheap to clone (it wraps a connection pool).
#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
    backend: Backend,
    /// The site's time zone: permalink dates (`/YYYY/MM/DD/`) are days in it.
    zone: folio_domain::schedule::SiteZone,
    /// Started by the first reader's comment; shared by every clone of this store.
    comment_writer: std::sync::Arc<std::sync::OnceLock<comment_writer::CommentWriter>>,
}

/// Storage keeps every timestamp in UTC, whole seconds, so that text (SQLite) and native
/// (PostgreSQL) timestamps sort and compare the same way.
pub(crate) fn normalize_time(at: time::OffsetDateTime) -> time::OffsetDateTime {
    folio_domain::posts::whole_seconds(at.to_offset(time::UtcOffset::UTC))
}

pub(crate) fn now() -> time::OffsetDateTime {
    normalize_time(time::OffsetDateTime::now_utc())
}
