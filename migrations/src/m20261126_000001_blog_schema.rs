use sea_orm_migration::prelude::*;

use crate::dialect::{execute_schema, is_postgres};

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLES: &[&str] = &[
    "CREATE TABLE users (
        id {id},
        slug TEXT NOT NULL UNIQUE,
        display_name TEXT NOT NULL,
        email TEXT,
        avatar_url TEXT,
        bio TEXT NOT NULL DEFAULT '',
        role TEXT NOT NULL DEFAULT 'reader',
        created_at {ts} NOT NULL
    )",
    "CREATE TABLE posts (
        id {id},
        kind TEXT NOT NULL,
        slug TEXT NOT NULL,
        title TEXT NOT NULL,
        source TEXT NOT NULL,
        html TEXT NOT NULL,
        plain_text TEXT NOT NULL,
        excerpt TEXT NOT NULL,
        status TEXT NOT NULL,
        published_at {ts},
        created_at {ts} NOT NULL,
        updated_at {ts} NOT NULL,
        author_id BIGINT NOT NULL REFERENCES users (id),
        comments_open BOOLEAN NOT NULL DEFAULT TRUE,
        featured_image TEXT,
        UNIQUE (kind, slug)
    )",
    // Front page, feeds, archives by date, previous/next: newest published first.
    "CREATE INDEX posts_by_date ON posts (kind, status, published_at, id)",
    "CREATE INDEX posts_by_author ON posts (author_id, kind, status, published_at)",
    "CREATE TABLE terms (
        id {id},
        taxonomy TEXT NOT NULL,
        slug TEXT NOT NULL,
        name TEXT NOT NULL,
        parent_id BIGINT REFERENCES terms (id) ON DELETE SET NULL,
        description TEXT NOT NULL DEFAULT '',
        UNIQUE (taxonomy, slug)
    )",
    "CREATE INDEX terms_by_parent ON terms (parent_id)",
    "CREATE TABLE post_terms (
        post_id BIGINT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
        term_id BIGINT NOT NULL REFERENCES terms (id) ON DELETE CASCADE,
        PRIMARY KEY (post_id, term_id)
    )",
    "CREATE INDEX post_terms_by_term ON post_terms (term_id, post_id)",
    "CREATE TABLE comments (
        id {id},
        post_id BIGINT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
        parent_id BIGINT REFERENCES comments (id) ON DELETE SET NULL,
        author_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
        author_name TEXT NOT NULL,
        author_url TEXT,
        source TEXT NOT NULL,
        html TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at {ts} NOT NULL,
        updated_at {ts} NOT NULL
    )",
    // A post's thread and its count; the site-wide recent comments.
    "CREATE INDEX comments_by_post ON comments (post_id, status, created_at, id)",
    "CREATE INDEX comments_by_date ON comments (status, created_at)",
    "CREATE INDEX comments_by_parent ON comments (parent_id)",
    "CREATE INDEX comments_by_author ON comments (author_id)",
    // Bumped by every write that changes what a page shows, so that each server process can
    // drop its cached pages when another process (or the CLI) changed the content; the time
    // of that change is every page's Last-Modified.
    "CREATE TABLE site_state (
        id INTEGER PRIMARY KEY,
        content_version BIGINT NOT NULL,
        changed_at {ts}
    )",
    "INSERT INTO site_state (id, content_version, changed_at) VALUES (1, 0, NULL)",
];

const SQLITE_SEARCH: &[&str] = &[
    "CREATE VIRTUAL TABLE posts_fts USING fts5(
        title, plain_text, content='posts', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2'
    )",
    "CREATE TRIGGER posts_fts_insert AFTER INSERT ON posts BEGIN
        INSERT INTO posts_fts (rowid, title, plain_text) VALUES (new.id, new.title, new.plain_text);
    END",
    "CREATE TRIGGER posts_fts_delete AFTER DELETE ON posts BEGIN
        INSERT INTO posts_fts (posts_fts, rowid, title, plain_text) VALUES ('delete', old.id, old.title, old.plain_text);
    END",
    "CREATE TRIGGER posts_fts_update AFTER UPDATE OF title, plain_text ON posts BEGIN
        INSERT INTO posts_fts (posts_fts, rowid, title, plain_text) VALUES ('delete', old.id, old.title, old.plain_text);
        INSERT INTO posts_fts (rowid, title, plain_text) VALUES (new.id, new.title, new.plain_text);
    END",
];

const POSTGRES_SEARCH: &[&str] = &[
    "ALTER TABLE posts ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', plain_text), 'B')
    ) STORED",
    "CREATE INDEX posts_search ON posts USING GIN (search_vector)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_schema(manager, TABLES).await?;
        if is_postgres(manager) {
            execute_schema(manager, POSTGRES_SEARCH).await
        } else {
            execute_schema(manager, SQLITE_SEARCH).await
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let drops: &[&str] = if is_postgres(manager) {
            &["DROP TABLE IF EXISTS site_state, comments, post_terms, terms, posts, users CASCADE"]
        } else {
            &[
                "DROP TABLE IF EXISTS posts_fts",
                "DROP TABLE IF EXISTS site_state",
                "DROP TABLE IF EXISTS comments",
                "DROP TABLE IF EXISTS post_terms",
                "DROP TABLE IF EXISTS terms",
                "DROP TABLE IF EXISTS posts",
                "DROP TABLE IF EXISTS users",
            ]
        };
        execute_schema(manager, drops).await
    }
}
