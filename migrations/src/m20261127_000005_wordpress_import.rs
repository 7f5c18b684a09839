//! Where imported rows came from, so that importing the same export again changes nothing
//! and a later export of the same site adds only what is new.

use sea_orm_migration::prelude::*;

use crate::dialect::execute_schema;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    // source: the site the rows came from (its URL); kind: post, comment, term, user;
    // external_id: the id (or login, or email) the source gave it.
    "CREATE TABLE import_sources (
        source TEXT NOT NULL,
        kind TEXT NOT NULL,
        external_id TEXT NOT NULL,
        local_id BIGINT NOT NULL,
        created_at {ts} NOT NULL,
        PRIMARY KEY (source, kind, external_id)
    )",
    "CREATE INDEX import_sources_by_local ON import_sources (kind, local_id)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_schema(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_schema(manager, &["DROP TABLE IF EXISTS import_sources"]).await
    }
}
