//! Where each comment sits in its post's public thread, kept at write time, so that one page
//! of a long conversation is read by index instead of threading every comment of the post.
//!
//! `thread_root_id`: for a comment readers see (approved), the top-level comment whose
//! conversation holds it (its own id when it is top-level); NULL for held, spam and trash.
//! `thread_top`: whether it is a top-level comment of the public thread: approved, and its
//! parent is none, itself, on another post, or not approved (a reply whose parent is hidden is
//! shown at the top level). A page is "the `thread_top` comments of page N, by
//! (created_at, id)" plus every comment whose `thread_root_id` is one of them.
//!
//! `posts.comment_count`: the post's approved, not deleted comments ("N thoughts on …").

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

use crate::dialect::execute_schema;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "ALTER TABLE comments ADD COLUMN thread_root_id BIGINT",
    "ALTER TABLE comments ADD COLUMN thread_top BOOLEAN NOT NULL DEFAULT FALSE",
    // The top-level comments of one post in page order: OFFSET walks this index only.
    "CREATE INDEX comments_thread_tops ON comments (post_id, thread_top, created_at, id)",
    // One conversation's comments in display order.
    "CREATE INDEX comments_by_thread ON comments (thread_root_id, created_at, id)",
    // "N thoughts on …": the post's approved, not deleted comments, counted at write time.
    "ALTER TABLE posts ADD COLUMN comment_count BIGINT NOT NULL DEFAULT 0",
    "UPDATE posts SET comment_count = (SELECT COUNT(*) FROM comments c \
     WHERE c.post_id = posts.id AND c.status = 'approved' AND c.deleted_at IS NULL)",
];

/// Top-level comments first; then, one reply level per round, every approved comment whose
/// parent is placed takes its parent's conversation. Threads are shallow, so there are few
/// rounds; the same statements run on both databases.
const PLACE_TOPS: &str = "UPDATE comments SET thread_root_id = id, thread_top = TRUE \
     WHERE status = 'approved' AND (parent_id IS NULL OR parent_id = id OR NOT EXISTS (\
       SELECT 1 FROM comments p WHERE p.id = comments.parent_id AND p.post_id = comments.post_id \
       AND p.status = 'approved'))";
const PLACE_REPLIES: &str = "UPDATE comments SET thread_root_id = (\
       SELECT p.thread_root_id FROM comments p WHERE p.id = comments.parent_id) \
     WHERE status = 'approved' AND thread_root_id IS NULL AND EXISTS (\
       SELECT 1 FROM comments p WHERE p.id = comments.parent_id AND p.thread_root_id IS NOT NULL)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_schema(manager, UP).await?;
        let connection = manager.get_connection();
        connection.execute_unprepared(PLACE_TOPS).await?;
        while connection
            .execute_unprepared(PLACE_REPLIES)
            .await?
            .rows_affected()
            > 0
        {}
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_schema(
            manager,
            &[
                "DROP INDEX IF EXISTS comments_by_thread",
                "DROP INDEX IF EXISTS comments_thread_tops",
                "ALTER TABLE comments DROP COLUMN thread_top",
                "ALTER TABLE comments DROP COLUMN thread_root_id",
                "ALTER TABLE posts DROP COLUMN comment_count",
            ],
        )
        .await
    }
}
