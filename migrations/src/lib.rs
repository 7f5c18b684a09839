//! One migration per schema change, for SQLite and PostgreSQL alike. A released migration is
//! never edited; a change is a new file.

pub use sea_orm_migration::prelude::*;

mod dialect;
mod m20261126_000001_blog_schema;
mod m20261126_000002_conversation;
mod m20261127_000003_notifications;
mod m20261127_000004_admin;
mod m20261127_000005_wordpress_import;
mod m20261204_000006_address_events;
mod m20261204_000007_post_visibility;
mod m20261204_000008_imported_names_and_titles;
mod m20261204_000012_email_sign_in;
mod m20261204_000013_comment_thread_keys;
mod m20261205_000014_thread_counts;
mod m20261205_000020_federation;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_blog_schema::Migration),
            Box::new(m20261126_000002_conversation::Migration),
            Box::new(m20261127_000003_notifications::Migration),
            Box::new(m20261127_000004_admin::Migration),
            Box::new(m20261127_000005_wordpress_import::Migration),
            Box::new(m20261204_000006_address_events::Migration),
            Box::new(m20261204_000007_post_visibility::Migration),
            Box::new(m20261204_000008_imported_names_and_titles::Migration),
            Box::new(m20261204_000012_email_sign_in::Migration),
            Box::new(m20261204_000013_comment_thread_keys::Migration),
            Box::new(m20261205_000014_thread_counts::Migration),
            Box::new(m20261205_000020_federation::Migration),
        ]
    }
}
