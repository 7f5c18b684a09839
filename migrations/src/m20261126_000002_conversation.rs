//! Sign-in, comments by signed-in readers, and likes: identities from social providers,
//! database-backed sessions (shared by every server process), likes, and what the comment
//! rules need (author IP for rate limits, edit and delete marks, bans).

use sea_orm_migration::prelude::*;

use crate::dialect::execute_schema;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE",
    "ALTER TABLE users ADD COLUMN notify_replies BOOLEAN NOT NULL DEFAULT TRUE",
    "ALTER TABLE users ADD COLUMN banned_at {ts}",
    "ALTER TABLE users ADD COLUMN banned_until {ts}",
    "ALTER TABLE users ADD COLUMN ban_reason TEXT",
    "ALTER TABLE users ADD COLUMN last_sign_in_at {ts}",
    // A user is found by (provider, subject), never by email, so that an address someone
    // typed unverified at one provider cannot take over an account made through another.
    "CREATE TABLE identities (
        id {id},
        user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        provider TEXT NOT NULL,
        subject TEXT NOT NULL,
        login TEXT,
        display_name TEXT NOT NULL,
        email TEXT,
        email_verified BOOLEAN NOT NULL DEFAULT FALSE,
        avatar_url TEXT,
        profile_url TEXT,
        created_at {ts} NOT NULL,
        last_sign_in_at {ts} NOT NULL,
        UNIQUE (provider, subject)
    )",
    "CREATE INDEX identities_by_user ON identities (user_id)",
    "CREATE INDEX identities_by_login ON identities (provider, login)",
    // Expiry as Unix seconds: compared with one integer on both databases.
    "CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        user_id BIGINT,
        data TEXT NOT NULL,
        expires_at BIGINT NOT NULL
    )",
    "CREATE INDEX sessions_by_expiry ON sessions (expires_at)",
    "CREATE INDEX sessions_by_user ON sessions (user_id)",
    "CREATE TABLE post_likes (
        post_id BIGINT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
        user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at {ts} NOT NULL,
        PRIMARY KEY (post_id, user_id)
    )",
    "CREATE TABLE comment_likes (
        comment_id BIGINT NOT NULL REFERENCES comments (id) ON DELETE CASCADE,
        user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at {ts} NOT NULL,
        PRIMARY KEY (comment_id, user_id)
    )",
    "CREATE INDEX comment_likes_by_user ON comment_likes (user_id)",
    "CREATE INDEX post_likes_by_user ON post_likes (user_id)",
    // `folio user role github:octocat admin` before octocat ever signed in: applied at their
    // first sign-in through that provider.
    "CREATE TABLE role_grants (
        provider TEXT NOT NULL,
        login TEXT NOT NULL,
        role TEXT NOT NULL,
        created_at {ts} NOT NULL,
        PRIMARY KEY (provider, login)
    )",
    "ALTER TABLE comments ADD COLUMN author_ip TEXT",
    "ALTER TABLE comments ADD COLUMN edited_at {ts}",
    // A deleted comment that has replies stays as a marker so its replies keep their place.
    "ALTER TABLE comments ADD COLUMN deleted_at {ts}",
    "CREATE INDEX comments_by_ip ON comments (author_ip, created_at)",
    "CREATE INDEX comments_by_author_date ON comments (author_id, created_at)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_schema(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements: &[&str] = &[
            "DROP TABLE IF EXISTS role_grants",
            "DROP TABLE IF EXISTS comment_likes",
            "DROP TABLE IF EXISTS post_likes",
            "DROP TABLE IF EXISTS sessions",
            "DROP TABLE IF EXISTS identities",
            "DROP INDEX IF EXISTS comments_by_ip",
            "DROP INDEX IF EXISTS comments_by_author_date",
            // SQLite (3.35+) and PostgreSQL both drop columns; an index on one goes first.
            "ALTER TABLE comments DROP COLUMN deleted_at",
            "ALTER TABLE comments DROP COLUMN edited_at",
            "ALTER TABLE comments DROP COLUMN author_ip",
            "ALTER TABLE users DROP COLUMN last_sign_in_at",
            "ALTER TABLE users DROP COLUMN ban_reason",
            "ALTER TABLE users DROP COLUMN banned_until",
            "ALTER TABLE users DROP COLUMN banned_at",
            "ALTER TABLE users DROP COLUMN notify_replies",
            "ALTER TABLE users DROP COLUMN email_verified",
        ];
        execute_schema(manager, statements).await
    }
}
