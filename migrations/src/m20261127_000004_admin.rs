//! The admin: revisions of every save, old addresses of posts whose slug or date changed,
//! the trash, and the audit log of what editors and admins did.

use sea_orm_migration::prelude::*;

use crate::dialect::execute_schema;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    // A trashed post is hidden like a draft; the status it had comes back on restore.
    "ALTER TABLE posts ADD COLUMN trashed_at {ts}",
    "ALTER TABLE posts ADD COLUMN trashed_status TEXT",
    "CREATE TABLE post_revisions (
        id {id},
        post_id BIGINT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
        saved_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
        title TEXT NOT NULL,
        slug TEXT NOT NULL,
        source TEXT NOT NULL,
        excerpt TEXT NOT NULL,
        created_at {ts} NOT NULL
    )",
    "CREATE INDEX post_revisions_by_post ON post_revisions (post_id, id)",
    // The path a post (or a category or tag) answered at before its slug or date changed,
    // or before it was merged into another: it answers with a 301 to wherever that is now.
    "CREATE TABLE slug_redirects (
        old_path TEXT PRIMARY KEY,
        post_id BIGINT REFERENCES posts (id) ON DELETE CASCADE,
        term_id BIGINT REFERENCES terms (id) ON DELETE CASCADE,
        created_at {ts} NOT NULL
    )",
    "CREATE INDEX slug_redirects_by_post ON slug_redirects (post_id)",
    "CREATE INDEX slug_redirects_by_term ON slug_redirects (term_id)",
    "CREATE TABLE audit_log (
        id {id},
        actor_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
        actor_name TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        created_at {ts} NOT NULL
    )",
    "CREATE INDEX audit_log_by_date ON audit_log (created_at, id)",
    // What an admin saved in the settings screen; a key that is absent takes the config's.
    "CREATE TABLE site_settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_schema(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements: &[&str] = &[
            "DROP TABLE IF EXISTS site_settings",
            "DROP TABLE IF EXISTS audit_log",
            "DROP TABLE IF EXISTS slug_redirects",
            "DROP TABLE IF EXISTS post_revisions",
            "ALTER TABLE posts DROP COLUMN trashed_status",
            "ALTER TABLE posts DROP COLUMN trashed_at",
        ];
        execute_schema(manager, statements).await
    }
}
