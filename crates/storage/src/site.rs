use folio_domain::PostKind;
use folio_domain::posts::permalink;
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement};
use time::OffsetDateTime;

use crate::entities::posts;
use crate::posts::{PageTree, unprotected, visible};
use crate::{Backend, Result, Store};

/// Where the content stands: see `Store::content_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentState {
    pub version: i64,
    pub changed_at: Option<OffsetDateTime>,
}

/// A month in the archive list, with its number of posts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthCount {
    pub year: i32,
    pub month: u8,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SitemapEntry {
    pub path: String,
    pub updated_at: OffsetDateTime,
}

/// Slug, published, created and updated times, and parent page of a sitemap line.
type SitemapRow = (
    String,
    Option<OffsetDateTime>,
    OffsetDateTime,
    OffsetDateTime,
    Option<i64>,
);

/// The columns `content_state_from_row` reads, from `site_state` in the query's `FROM`;
/// placeholder `$now_param` holds the time now (see `raw::statement`).
pub(crate) fn content_state_columns(now_param: usize) -> String {
    format!(
        "site_state.content_version, site_state.changed_at, \
         (SELECT MAX(published_at) FROM posts WHERE kind IN ('post', 'page') \
          AND status = 'published' AND published_at <= ${now_param}) AS newest_publication"
    )
}

pub(crate) fn content_state_from_row(row: &sea_orm::QueryResult) -> Result<ContentState> {
    let changed_at: Option<OffsetDateTime> = row.try_get("", "changed_at")?;
    let newest: Option<OffsetDateTime> = row.try_get("", "newest_publication")?;
    Ok(ContentState {
        // No state row yet is version 0, as in `Store::content_state`.
        version: row
            .try_get::<Option<i64>>("", "content_version")?
            .unwrap_or(0),
        changed_at: changed_at.max(newest),
    })
}

impl Store {
    /// A number that changes whenever content changes, in this process or any other, and
    /// when that last happened. A scheduled post whose time has come changed the content
    /// too, without a write: `changed_at` is then its publication time, so caches that watch
    /// it drop their pages as soon as the post is due, in every process.
    pub async fn content_state(&self) -> Result<ContentState> {
        let sql = format!(
            "SELECT {} FROM site_state WHERE id = 1",
            content_state_columns(1)
        );
        let row = self
            .db
            .query_one_raw(crate::raw::statement(
                self.db_backend(),
                &sql,
                vec![crate::now().into()],
            ))
            .await?;
        match row {
            Some(row) => content_state_from_row(&row),
            None => Ok(ContentState {
                version: 0,
                changed_at: None,
            }),
        }
    }

    /// Months that have published posts, newest first.
    pub async fn month_counts(&self) -> Result<Vec<MonthCount>> {
        let month_of = match self.backend {
            Backend::Sqlite => "substr(published_at, 1, 7)",
            Backend::Postgres => "to_char(published_at AT TIME ZONE 'UTC', 'YYYY-MM')",
        };
        let now_param = match self.backend {
            Backend::Sqlite => "?",
            Backend::Postgres => "$1",
        };
        let sql = format!(
            "SELECT {month_of} AS month, COUNT(*) AS n FROM posts \
             WHERE kind = 'post' AND status = 'published' AND published_at <= {now_param} \
             GROUP BY {month_of} ORDER BY month DESC"
        );
        let rows = self
            .db
            .query_all_raw(Statement::from_sql_and_values(
                self.db_backend(),
                sql,
                [crate::now().into()],
            ))
            .await?;
        let mut months = Vec::with_capacity(rows.len());
        for row in rows {
            let key: String = row.try_get("", "month")?;
            let n: i64 = row.try_get("", "n")?;
            let (year, month) = key.split_once('-').unwrap_or((&key, "0"));
            if let (Ok(year), Ok(month)) = (year.parse(), month.parse()) {
                months.push(MonthCount {
                    year,
                    month,
                    count: u64::try_from(n).unwrap_or(0),
                });
            }
        }
        Ok(months)
    }

    /// Every published post and page, for `/sitemap.xml`. Password-protected ones are left
    /// out, as WordPress's own sitemaps leave them out: there is nothing there to index.
    pub async fn sitemap_entries(&self) -> Result<Vec<SitemapEntry>> {
        let mut entries = Vec::new();
        let tree = PageTree::load(&self.db).await?;
        for kind in [PostKind::Page, PostKind::Post] {
            // Only what a sitemap line needs, not the posts' bodies.
            let rows: Vec<SitemapRow> = posts::Entity::find()
                .select_only()
                .columns([
                    posts::Column::Slug,
                    posts::Column::PublishedAt,
                    posts::Column::CreatedAt,
                    posts::Column::UpdatedAt,
                    posts::Column::ParentId,
                ])
                .filter(visible(kind))
                .filter(unprotected())
                .order_by_desc(posts::Column::PublishedAt)
                .into_tuple()
                .all(&self.db)
                .await?;
            for (slug, published_at, created_at, updated_at, parent) in rows {
                let Ok(slug) = folio_domain::Slug::parse(&slug) else {
                    continue;
                };
                let published = published_at.unwrap_or(created_at);
                entries.push(SitemapEntry {
                    path: match kind {
                        PostKind::Page => tree.path(parent, &slug),
                        PostKind::Post => permalink(kind, &slug, self.zone.local(published)),
                    },
                    updated_at: updated_at.max(published),
                });
            }
        }
        Ok(entries)
    }
}

pub(crate) async fn bump_content_version<C: ConnectionTrait>(db: &C) -> Result<()> {
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => {
            "UPDATE site_state SET content_version = content_version + 1, changed_at = $1 WHERE id = 1"
        }
        _ => {
            "UPDATE site_state SET content_version = content_version + 1, changed_at = ? WHERE id = 1"
        }
    };
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        sql,
        [crate::now().into()],
    ))
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_write_moves_the_content_state() {
        let dir = std::env::temp_dir().join(format!("folio-state-{}", uuid::Uuid::new_v4()));
        let store = Store::connect(&format!("sqlite://{}/folio.db", dir.display()))
            .await
            .unwrap();
        store.migrate_up().await.unwrap();
        let before = store.content_state().await.unwrap();
        assert_eq!(before.changed_at, None);
        store
            .create_user(crate::NewUser {
                display_name: "A".into(),
                slug: None,
                email: None,
                avatar_url: None,
                bio: String::new(),
                role: folio_domain::Role::Author,
            })
            .await
            .unwrap();
        let author = store.list_users().await.unwrap().remove(0);
        store
            .create_post(crate::NewPost {
                kind: folio_domain::PostKind::Post,
                title: "T".into(),
                slug: None,
                source: "x".into(),
                status: folio_domain::PostStatus::Published,
                published_at: None,
                author_id: author.id,
                categories: vec![],
                tags: vec![],
                comments_open: true,
                featured_image: None,
                password: None,
                parent_id: None,
                sticky: false,
            })
            .await
            .unwrap();
        let after = store.content_state().await.unwrap();
        assert!(after.version > before.version);
        let changed = after.changed_at.expect("a change time");
        assert!((OffsetDateTime::now_utc() - changed).whole_seconds().abs() < 60);
        let _ = std::fs::remove_dir_all(dir);
    }
}
