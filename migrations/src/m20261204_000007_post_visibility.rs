//! What WordPress keeps on a post besides its text: a password that hides the body and the
//! comments, a parent page (so `/parent/child/` is a page's address and the menu nests), and
//! the sticky flag that keeps a post on top of the front page.

use sea_orm_migration::prelude::*;

use crate::dialect::execute_schema;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    // Kept as WordPress keeps post_password: the words the author chose, so that an export
    // carries them and the author can read them back in the editor.
    "ALTER TABLE posts ADD COLUMN password TEXT",
    "ALTER TABLE posts ADD COLUMN parent_id BIGINT REFERENCES posts (id) ON DELETE SET NULL",
    "ALTER TABLE posts ADD COLUMN sticky BOOLEAN NOT NULL DEFAULT FALSE",
    "CREATE INDEX posts_by_parent ON posts (parent_id)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_schema(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements: &[&str] = &[
            "DROP INDEX IF EXISTS posts_by_parent",
            "ALTER TABLE posts DROP COLUMN sticky",
            "ALTER TABLE posts DROP COLUMN parent_id",
            "ALTER TABLE posts DROP COLUMN password",
        ];
        execute_schema(manager, statements).await
    }
}
