//! The tables as sea-orm sees them. Nothing outside this crate sees these types.

pub mod comments;
pub mod identities;
pub mod post_terms;
pub mod posts;
pub mod sessions;
pub mod terms;
pub mod users;
