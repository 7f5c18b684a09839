//! The blog on the fediverse (ActivityPub): its own key pair, the remote actors that follow
//! it, blocked domains, remote actors' cached keys, the durable delivery queue, which posts
//! were announced, and which comments and reactions came from elsewhere.

use sea_orm_migration::prelude::*;

use crate::dialect::execute_schema;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    // One row (id = 1): the blog actor's RSA key pair, PEM. created_at also marks when the
    // blog joined the fediverse: posts published before it are not announced.
    "CREATE TABLE federation_actor (
        id INTEGER PRIMARY KEY,
        public_key_pem TEXT NOT NULL,
        private_key_pem TEXT NOT NULL,
        created_at {ts} NOT NULL
    )",
    // Remote actors as last fetched: their key (checked on every signed request, refetched
    // when a signature fails, which is how a rotated key is picked up) and profile.
    "CREATE TABLE federation_remote_actors (
        actor_id TEXT PRIMARY KEY,
        key_id TEXT NOT NULL,
        public_key_pem TEXT NOT NULL,
        inbox TEXT NOT NULL,
        shared_inbox TEXT,
        handle TEXT NOT NULL,
        name TEXT NOT NULL,
        icon_url TEXT,
        profile_url TEXT,
        domain TEXT NOT NULL,
        fetched_at {ts} NOT NULL
    )",
    "CREATE INDEX federation_remote_actors_by_key ON federation_remote_actors (key_id)",
    "CREATE TABLE federation_followers (
        id {id},
        actor_id TEXT NOT NULL UNIQUE,
        inbox TEXT NOT NULL,
        shared_inbox TEXT,
        handle TEXT NOT NULL,
        domain TEXT NOT NULL,
        follow_activity_id TEXT NOT NULL,
        created_at {ts} NOT NULL
    )",
    "CREATE TABLE federation_blocked_domains (
        domain TEXT PRIMARY KEY,
        created_at {ts} NOT NULL
    )",
    "CREATE TABLE federation_blocked_actors (
        actor_id TEXT PRIMARY KEY,
        created_at {ts} NOT NULL
    )",
    // The delivery queue, claimed as the mail outbox is (a lease; FOR UPDATE SKIP LOCKED on
    // PostgreSQL). One row per activity and inbox: dedupe_key keeps a second process from
    // queueing the same delivery twice. Times in Unix milliseconds.
    "CREATE TABLE federation_deliveries (
        id {id},
        inbox TEXT NOT NULL,
        activity TEXT NOT NULL,
        dedupe_key TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at BIGINT NOT NULL,
        locked_by TEXT,
        locked_until BIGINT,
        last_error TEXT,
        created_at {ts} NOT NULL,
        sent_at {ts}
    )",
    "CREATE INDEX federation_deliveries_due ON federation_deliveries (status, next_attempt_at)",
    // Posts announced to followers: the version sent (updated_at), and whether a Delete went.
    "CREATE TABLE federation_posts (
        post_id BIGINT PRIMARY KEY,
        object_id TEXT NOT NULL,
        sent_updated_at {ts} NOT NULL,
        deleted BOOLEAN NOT NULL DEFAULT FALSE,
        created_at {ts} NOT NULL
    )",
    // Comments that arrived as Notes: the Note's id, so that Update and Delete find them.
    "CREATE TABLE federation_comments (
        comment_id BIGINT PRIMARY KEY REFERENCES comments (id) ON DELETE CASCADE,
        object_id TEXT NOT NULL UNIQUE,
        actor_id TEXT NOT NULL
    )",
    // Comments written here in answer to a remote note, sent back to its author as Notes.
    "CREATE TABLE federation_sent_comments (
        comment_id BIGINT PRIMARY KEY REFERENCES comments (id) ON DELETE CASCADE,
        created_at {ts} NOT NULL
    )",
    // Likes and boosts from the fediverse, one per activity; Undo removes it.
    "CREATE TABLE federation_reactions (
        id {id},
        post_id BIGINT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
        actor_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        activity_id TEXT NOT NULL UNIQUE,
        created_at {ts} NOT NULL,
        UNIQUE (post_id, actor_id, kind)
    )",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_schema(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_schema(
            manager,
            &[
                "DROP TABLE IF EXISTS federation_reactions",
                "DROP TABLE IF EXISTS federation_sent_comments",
                "DROP TABLE IF EXISTS federation_comments",
                "DROP TABLE IF EXISTS federation_posts",
                "DROP TABLE IF EXISTS federation_deliveries",
                "DROP TABLE IF EXISTS federation_blocked_actors",
                "DROP TABLE IF EXISTS federation_blocked_domains",
                "DROP TABLE IF EXISTS federation_followers",
                "DROP TABLE IF EXISTS federation_remote_actors",
                "DROP TABLE IF EXISTS federation_actor",
            ],
        )
        .await
    }
}
