//! What an imported blog wrote, shown as it was written: a comment keeps the name its
//! commenter signed it with (commenters merged by email into one guest still each show their
//! own), and a title with inline markup (`<em>`) keeps it for the post's heading.

use sea_orm_migration::prelude::*;

use crate::dialect::execute_schema;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    // true: readers see author_name as written, not the author's current display name.
    "ALTER TABLE comments ADD COLUMN keeps_author_name BOOLEAN NOT NULL DEFAULT FALSE",
    // Sanitized inline HTML of the title, when it has markup; title stays the plain text
    // for <title>, feeds and emails.
    "ALTER TABLE posts ADD COLUMN title_html TEXT",
];

const DOWN: &[&str] = &[
    "ALTER TABLE posts DROP COLUMN title_html",
    "ALTER TABLE comments DROP COLUMN keeps_author_name",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_schema(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_schema(manager, DOWN).await
    }
}
