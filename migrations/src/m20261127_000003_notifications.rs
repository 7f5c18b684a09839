//! Email notifications: the outbox the mail worker sends from, thread follows, and blog
//! subscribers (double opt-in). Times the worker compares on every claim (`next_attempt_at`,
//! `locked_until`) are Unix milliseconds, one integer comparison on both databases.

use sea_orm_migration::prelude::*;

use crate::dialect::execute_schema;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    // One row per email to send. `dedupe_key` makes "one email per person per event" a
    // database rule: a second row for the same event and address is not inserted.
    "CREATE TABLE mail_outbox (
        id {id},
        kind TEXT NOT NULL,
        recipient TEXT NOT NULL,
        user_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
        post_id BIGINT,
        comment_id BIGINT,
        payload TEXT NOT NULL,
        dedupe_key TEXT NOT NULL UNIQUE,
        unsubscribe_token TEXT NOT NULL UNIQUE,
        -- Moderation emails: the single-use Approve / Spam / Trash link's token.
        action_token TEXT UNIQUE,
        action_used_at {ts},
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at BIGINT NOT NULL,
        locked_until BIGINT,
        locked_by TEXT,
        last_error TEXT,
        created_at {ts} NOT NULL,
        sent_at {ts}
    )",
    "CREATE INDEX mail_outbox_due ON mail_outbox (status, next_attempt_at)",
    "CREATE INDEX mail_outbox_by_comment ON mail_outbox (comment_id)",
    // `following = FALSE` is a mute: the reader asked for no mail about this thread at all,
    // not even replies to their own comment.
    "CREATE TABLE thread_follows (
        post_id BIGINT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
        user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        following BOOLEAN NOT NULL DEFAULT TRUE,
        created_at {ts} NOT NULL,
        PRIMARY KEY (post_id, user_id)
    )",
    "CREATE INDEX thread_follows_by_user ON thread_follows (user_id)",
    "CREATE TABLE blog_subscribers (
        id {id},
        email TEXT NOT NULL UNIQUE,
        user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
        confirm_token TEXT NOT NULL UNIQUE,
        confirmed_at {ts},
        unsubscribe_token TEXT NOT NULL UNIQUE,
        created_at {ts} NOT NULL
    )",
    // Posts whose new-post emails are queued. A post published (or reaching its scheduled
    // time) is announced once by whichever mail worker sees it first; the posts already
    // there when this migration runs count as announced.
    "CREATE TABLE post_announcements (
        post_id BIGINT PRIMARY KEY REFERENCES posts (id) ON DELETE CASCADE,
        announced_at {ts} NOT NULL
    )",
    "INSERT INTO post_announcements (post_id, announced_at) SELECT id, updated_at FROM posts",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_schema(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements: &[&str] = &[
            "DROP TABLE IF EXISTS post_announcements",
            "DROP TABLE IF EXISTS blog_subscribers",
            "DROP TABLE IF EXISTS thread_follows",
            "DROP TABLE IF EXISTS mail_outbox",
        ];
        execute_schema(manager, statements).await
    }
}
