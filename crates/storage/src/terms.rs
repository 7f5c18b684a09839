use std::collections::HashMap;

use folio_domain::{Slug, Taxonomy, Term};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    Statement,
};

use crate::entities::terms;
use crate::{Result, StorageError, Store};

/// A category with the number of published posts filed under it directly.
#[derive(Debug, Clone, PartialEq)]
pub struct CategoryCount {
    pub term: Term,
    pub count: u64,
}

impl Store {
    pub async fn term_by_slug(&self, taxonomy: Taxonomy, slug: &str) -> Result<Option<Term>> {
        terms::Entity::find()
            .filter(terms::Column::Taxonomy.eq(taxonomy.as_str()))
            .filter(terms::Column::Slug.eq(slug))
            .one(&self.db)
            .await?
            .map(term_from_row)
            .transpose()
    }

    /// The ids of a category and every category below it, for archives that include children.
    pub async fn category_and_descendants(&self, root: i64) -> Result<Vec<i64>> {
        let all = terms::Entity::find()
            .filter(terms::Column::Taxonomy.eq(Taxonomy::Category.as_str()))
            .all(&self.db)
            .await?;
        let mut ids = vec![root];
        let mut i = 0;
        while i < ids.len() {
            let current = ids[i];
            let children: Vec<i64> = all
                .iter()
                .filter(|t| t.parent_id == Some(current) && !ids.contains(&t.id))
                .map(|t| t.id)
                .collect();
            ids.extend(children);
            i += 1;
        }
        Ok(ids)
    }

    /// Every category with its count of published posts, ordered by name, for the sidebar.
    pub async fn categories_with_counts(&self) -> Result<Vec<CategoryCount>> {
        let all = terms::Entity::find()
            .filter(terms::Column::Taxonomy.eq(Taxonomy::Category.as_str()))
            .order_by_asc(terms::Column::Name)
            .all(&self.db)
            .await?;
        let rows = self
            .db
            .query_all_raw(Statement::from_string(
                self.db_backend(),
                "SELECT pt.term_id AS term_id, COUNT(*) AS n FROM post_terms pt \
                 JOIN posts p ON p.id = pt.post_id \
                 WHERE p.kind = 'post' AND p.status = 'published' GROUP BY pt.term_id",
            ))
            .await?;
        let mut counts = HashMap::new();
        for row in rows {
            let id: i64 = row.try_get("", "term_id")?;
            let n: i64 = row.try_get("", "n")?;
            counts.insert(id, u64::try_from(n).unwrap_or(0));
        }
        all.into_iter()
            .map(|row| {
                let count = counts.get(&row.id).copied().unwrap_or(0);
                Ok(CategoryCount {
                    term: term_from_row(row)?,
                    count,
                })
            })
            .collect()
    }
}

pub(crate) async fn ensure_term_on<C: ConnectionTrait>(
    db: &C,
    taxonomy: Taxonomy,
    name: &str,
    parent_id: Option<i64>,
) -> Result<Term> {
    let name = name.trim();
    let slug = Slug::from_title(name, taxonomy.as_str());
    let existing = terms::Entity::find()
        .filter(terms::Column::Taxonomy.eq(taxonomy.as_str()))
        .filter(terms::Column::Slug.eq(slug.as_str()))
        .one(db)
        .await?;
    if let Some(row) = existing {
        return term_from_row(row);
    }
    let row = terms::ActiveModel {
        taxonomy: Set(taxonomy.as_str().to_owned()),
        slug: Set(slug.as_str().to_owned()),
        name: Set(name.to_owned()),
        parent_id: Set(parent_id.filter(|_| taxonomy == Taxonomy::Category)),
        description: Set(String::new()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    term_from_row(row)
}

pub(crate) fn term_from_row(row: terms::Model) -> Result<Term> {
    Ok(Term {
        id: row.id,
        taxonomy: Taxonomy::parse(&row.taxonomy)
            .ok_or_else(|| StorageError::unexpected("terms", "taxonomy", &row.taxonomy))?,
        slug: Slug::parse(&row.slug)
            .map_err(|_| StorageError::unexpected("terms", "slug", &row.slug))?,
        name: row.name,
        parent_id: row.parent_id,
        description: row.description,
    })
}
