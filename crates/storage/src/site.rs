use folio_domain::PostKind;
use folio_domain::posts::permalink;
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Statement};
use time::OffsetDateTime;

use crate::entities::posts;
use crate::posts::visible;
use crate::{Backend, Result, Store};

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

impl Store {
    /// A number that changes whenever content changes, in this process or any other.
    pub async fn content_version(&self) -> Result<i64> {
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                self.db_backend(),
                "SELECT content_version FROM site_state WHERE id = 1",
            ))
            .await?;
        Ok(match row {
            Some(row) => row.try_get("", "content_version")?,
            None => 0,
        })
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

    /// Every published post and page, for `/sitemap.xml`.
    pub async fn sitemap_entries(&self) -> Result<Vec<SitemapEntry>> {
        let mut entries = Vec::new();
        for kind in [PostKind::Page, PostKind::Post] {
            let rows = posts::Entity::find()
                .filter(visible(kind))
                .order_by_desc(posts::Column::PublishedAt)
                .all(&self.db)
                .await?;
            for row in rows {
                let Ok(slug) = folio_domain::Slug::parse(&row.slug) else {
                    continue;
                };
                let published = row.published_at.unwrap_or(row.created_at);
                entries.push(SitemapEntry {
                    path: permalink(kind, &slug, published),
                    updated_at: row.updated_at.max(published),
                });
            }
        }
        Ok(entries)
    }
}

pub(crate) async fn bump_content_version<C: ConnectionTrait>(db: &C) -> Result<()> {
    db.execute_unprepared(
        "UPDATE site_state SET content_version = content_version + 1 WHERE id = 1",
    )
    .await?;
    Ok(())
}
