//! `posts.thread_count`: how many top-level items the post's public thread has (its
//! `thread_top` comments, see `m20261204_000013_comment_thread_keys`), kept at write time
//! like `comment_count`. Where a comment sits in a long thread (which page holds it) is then
//! the count less the conversations after it, rather than a count of every one before it.

use sea_orm_migration::prelude::*;

use crate::dialect::execute_schema;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_schema(
            manager,
            &[
                "ALTER TABLE posts ADD COLUMN thread_count BIGINT NOT NULL DEFAULT 0",
                "UPDATE posts SET thread_count = (SELECT COUNT(*) FROM comments c \
                 WHERE c.post_id = posts.id AND c.thread_top = TRUE)",
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_schema(manager, &["ALTER TABLE posts DROP COLUMN thread_count"]).await
    }
}
