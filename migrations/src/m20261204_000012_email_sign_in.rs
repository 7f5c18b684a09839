//! Email sign-in links: only a hash of each link's secret is kept, so that reading the
//! database (a backup, a copy) signs nobody in. A link works once, until `expires_at`.

use sea_orm_migration::prelude::*;

use crate::dialect::execute_schema;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    // token_hash: SHA-256 of the link's secret, hex; email: the normalized address it signs
    // in; return_to: a path on this site; client_address: who asked, for the per-network
    // limit; used_at: set by the one sign-in the link allows; link_user_id: set when a
    // signed-in reader adds this address to their account instead of signing in.
    "CREATE TABLE sign_in_tokens (
        id {id},
        token_hash TEXT NOT NULL UNIQUE,
        email TEXT NOT NULL,
        return_to TEXT NOT NULL,
        client_address TEXT NOT NULL,
        created_at {ts} NOT NULL,
        expires_at {ts} NOT NULL,
        used_at {ts},
        link_user_id BIGINT REFERENCES users (id) ON DELETE CASCADE
    )",
    "CREATE INDEX sign_in_tokens_by_email ON sign_in_tokens (email, created_at)",
    "CREATE INDEX sign_in_tokens_by_address ON sign_in_tokens (client_address, created_at)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_schema(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_schema(manager, &["DROP TABLE IF EXISTS sign_in_tokens"]).await
    }
}
