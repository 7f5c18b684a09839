//! The blog's vocabulary and rules. Nothing here performs I/O or knows about a framework, so
//! every rule can be tested in microseconds.

pub mod comments;
pub mod federation;
pub mod front_matter;
pub mod markdown;
pub mod notifications;
pub mod pagination;
pub mod permissions;
pub mod posts;
pub mod revisions;
pub mod schedule;
pub mod slug;
pub mod terms;
pub mod text;
pub mod users;
pub mod wordpress;

pub use comments::{
    Comment, CommentLimits, CommentNode, CommentRefusal, CommentStatus, ModerationPolicy,
    build_thread,
};
pub use pagination::{PageNumber, Paginated};
pub use posts::{Post, PostKind, PostStatus, PostSummary};
pub use slug::Slug;
pub use terms::{Taxonomy, Term};
pub use users::{Ban, Identity, Role, User};
