//! Recent actions per network address, for limits that must hold across server processes
//! (confirmation emails sent by `/subscribe`). Rows older than a day are removed as new
//! ones arrive.

use sea_orm_migration::prelude::*;

use crate::dialect::execute_schema;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    // kind: what the address did (subscribe_confirmation); address: the client's IP address.
    "CREATE TABLE address_events (
        id {id},
        kind TEXT NOT NULL,
        address TEXT NOT NULL,
        created_at {ts} NOT NULL
    )",
    "CREATE INDEX address_events_by_address ON address_events (kind, address, created_at)",
    "CREATE INDEX address_events_by_age ON address_events (created_at)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_schema(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_schema(manager, &["DROP TABLE IF EXISTS address_events"]).await
    }
}
