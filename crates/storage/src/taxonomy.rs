//! Managing categories and tags: create, rename, change slug (the old address redirects),
//! nest, merge, delete. Posts keep their other terms throughout.

use std::collections::HashMap;

use folio_domain::{Slug, Taxonomy, Term, User};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set,
};

use crate::audit::record;
use crate::entities::{post_terms, slug_redirects, terms};
use crate::site::bump_content_version;
use crate::terms::term_from_row;
use crate::{Result, StorageError, Store, now};

/// A category or tag with the number of posts and pages (in any state) filed under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermUsage {
    pub term: Term,
    pub posts: u64,
}

/// What the term form saves.
#[derive(Debug, Clone)]
pub struct TermEdit {
    pub name: String,
    pub slug: Slug,
    /// Categories only; None: at the top.
    pub parent_id: Option<i64>,
    pub description: String,
}

/// Why a term change was refused, in words for the editor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TermRefusal {
    NoSuchTerm,
    /// A category cannot sit under itself or under one of its own children.
    ParentLoop,
    /// Merging across taxonomies, or into itself.
    BadMerge,
}

impl Store {
    /// Every term of `taxonomy`, by name, with its use.
    pub async fn terms_with_usage(&self, taxonomy: Taxonomy) -> Result<Vec<TermUsage>> {
        let rows = terms::Entity::find()
            .filter(terms::Column::Taxonomy.eq(taxonomy.as_str()))
            .order_by_asc(terms::Column::Name)
            .all(&self.db)
            .await?;
        let ids: Vec<i64> = rows.iter().map(|t| t.id).collect();
        let counts: HashMap<i64, i64> = post_terms::Entity::find()
            .select_only()
            .column(post_terms::Column::TermId)
            .column_as(post_terms::Column::PostId.count(), "n")
            .filter(post_terms::Column::TermId.is_in(ids))
            .group_by(post_terms::Column::TermId)
            .into_tuple::<(i64, i64)>()
            .all(&self.db)
            .await?
            .into_iter()
            .collect();
        rows.into_iter()
            .map(|row| {
                let posts = u64::try_from(counts.get(&row.id).copied().unwrap_or(0)).unwrap_or(0);
                Ok(TermUsage {
                    term: term_from_row(row)?,
                    posts,
                })
            })
            .collect()
    }

    pub async fn term(&self, id: i64) -> Result<Option<Term>> {
        terms::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .map(term_from_row)
            .transpose()
    }

    pub async fn create_term(
        &self,
        actor: &User,
        taxonomy: Taxonomy,
        edit: TermEdit,
    ) -> Result<std::result::Result<Term, TermRefusal>> {
        let txn = self.begin_write().await?;
        ensure_slug_free(&txn, taxonomy, &edit.slug, None).await?;
        if let Some(parent) = edit.parent_id
            && !is_category(&txn, parent).await?
        {
            return Ok(Err(TermRefusal::NoSuchTerm));
        }
        let row = terms::ActiveModel {
            taxonomy: Set(taxonomy.as_str().to_owned()),
            slug: Set(edit.slug.as_str().to_owned()),
            name: Set(edit.name.trim().to_owned()),
            parent_id: Set(edit.parent_id.filter(|_| taxonomy == Taxonomy::Category)),
            description: Set(edit.description),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        record(
            &txn,
            actor,
            &format!("{}.create", taxonomy.as_str()),
            &format!("{} {}", taxonomy.as_str(), row.id),
            &row.name,
        )
        .await?;
        bump_content_version(&txn).await?;
        txn.commit().await?;
        Ok(Ok(term_from_row(row)?))
    }

    /// Renames, re-slugs, moves (categories) a term. A new slug leaves the old address
    /// answering with a 301.
    pub async fn update_term(
        &self,
        actor: &User,
        id: i64,
        edit: TermEdit,
    ) -> Result<std::result::Result<Term, TermRefusal>> {
        let txn = self.begin_write().await?;
        let Some(row) = terms::Entity::find_by_id(id).one(&txn).await? else {
            return Ok(Err(TermRefusal::NoSuchTerm));
        };
        let old = term_from_row(row.clone())?;
        ensure_slug_free(&txn, old.taxonomy, &edit.slug, Some(id)).await?;
        let parent = edit
            .parent_id
            .filter(|_| old.taxonomy == Taxonomy::Category);
        if let Some(parent) = parent {
            if !is_category(&txn, parent).await? {
                return Ok(Err(TermRefusal::NoSuchTerm));
            }
            if descendants(&txn, id).await?.contains(&parent) {
                return Ok(Err(TermRefusal::ParentLoop));
            }
        }
        let mut active = row.into_active_model();
        active.name = Set(edit.name.trim().to_owned());
        active.slug = Set(edit.slug.as_str().to_owned());
        active.parent_id = Set(parent);
        active.description = Set(edit.description);
        let saved = term_from_row(active.update(&txn).await?)?;
        if saved.path() != old.path() {
            redirect_term(&txn, &old.path(), saved.id).await?;
        }
        slug_redirects::Entity::delete_by_id(saved.path())
            .exec(&txn)
            .await?;
        record(
            &txn,
            actor,
            &format!("{}.save", saved.taxonomy.as_str()),
            &format!("{} {}", saved.taxonomy.as_str(), saved.id),
            &format!("{} ({})", saved.name, saved.slug),
        )
        .await?;
        bump_content_version(&txn).await?;
        txn.commit().await?;
        Ok(Ok(saved))
    }

    /// Files every post of `from` under `into`, moves `from`'s children there, and removes
    /// `from`; its address redirects to `into`.
    pub async fn merge_terms(
        &self,
        actor: &User,
        from: i64,
        into: i64,
    ) -> Result<std::result::Result<Term, TermRefusal>> {
        let txn = self.begin_write().await?;
        let (Some(source), Some(target)) = (
            terms::Entity::find_by_id(from).one(&txn).await?,
            terms::Entity::find_by_id(into).one(&txn).await?,
        ) else {
            return Ok(Err(TermRefusal::NoSuchTerm));
        };
        if source.id == target.id || source.taxonomy != target.taxonomy {
            return Ok(Err(TermRefusal::BadMerge));
        }
        if descendants(&txn, from).await?.contains(&into) {
            return Ok(Err(TermRefusal::ParentLoop));
        }
        let post_ids: Vec<i64> = post_terms::Entity::find()
            .filter(post_terms::Column::TermId.eq(from))
            .all(&txn)
            .await?
            .into_iter()
            .map(|pt| pt.post_id)
            .collect();
        if !post_ids.is_empty() {
            post_terms::Entity::insert_many(post_ids.iter().map(|&post_id| {
                post_terms::ActiveModel {
                    post_id: Set(post_id),
                    term_id: Set(into),
                }
            }))
            .on_conflict(
                OnConflict::columns([post_terms::Column::PostId, post_terms::Column::TermId])
                    .do_nothing()
                    .to_owned(),
            )
            // Posts filed under both keep one filing: nothing is inserted for them.
            .exec_without_returning(&txn)
            .await?;
        }
        terms::Entity::update_many()
            .col_expr(terms::Column::ParentId, Expr::value(into))
            .filter(terms::Column::ParentId.eq(from))
            .exec(&txn)
            .await?;
        let source = term_from_row(source)?;
        let target = term_from_row(target)?;
        // Redirects that pointed at the merged term now point at the one it joined.
        slug_redirects::Entity::update_many()
            .col_expr(slug_redirects::Column::TermId, Expr::value(into))
            .filter(slug_redirects::Column::TermId.eq(from))
            .exec(&txn)
            .await?;
        terms::Entity::delete_by_id(from).exec(&txn).await?;
        redirect_term(&txn, &source.path(), into).await?;
        record(
            &txn,
            actor,
            &format!("{}.merge", source.taxonomy.as_str()),
            &format!("{} {}", source.taxonomy.as_str(), from),
            &format!("{} into {}", source.name, target.name),
        )
        .await?;
        bump_content_version(&txn).await?;
        txn.commit().await?;
        Ok(Ok(target))
    }

    /// Removes a term; posts keep their other terms, child categories move up a level.
    pub async fn delete_term(&self, actor: &User, id: i64) -> Result<bool> {
        let txn = self.begin_write().await?;
        let Some(row) = terms::Entity::find_by_id(id).one(&txn).await? else {
            return Ok(false);
        };
        terms::Entity::update_many()
            .col_expr(terms::Column::ParentId, Expr::value(row.parent_id))
            .filter(terms::Column::ParentId.eq(id))
            .exec(&txn)
            .await?;
        post_terms::Entity::delete_many()
            .filter(post_terms::Column::TermId.eq(id))
            .exec(&txn)
            .await?;
        slug_redirects::Entity::delete_many()
            .filter(slug_redirects::Column::TermId.eq(id))
            .exec(&txn)
            .await?;
        terms::Entity::delete_by_id(id).exec(&txn).await?;
        record(
            &txn,
            actor,
            &format!("{}.delete", row.taxonomy),
            &format!("{} {}", row.taxonomy, id),
            &row.name,
        )
        .await?;
        bump_content_version(&txn).await?;
        txn.commit().await?;
        Ok(true)
    }
}

async fn ensure_slug_free(
    txn: &DatabaseTransaction,
    taxonomy: Taxonomy,
    slug: &Slug,
    own_id: Option<i64>,
) -> Result<()> {
    let mut select = terms::Entity::find()
        .filter(terms::Column::Taxonomy.eq(taxonomy.as_str()))
        .filter(terms::Column::Slug.eq(slug.as_str()));
    if let Some(id) = own_id {
        select = select.filter(terms::Column::Id.ne(id));
    }
    if select.one(txn).await?.is_some() {
        return Err(StorageError::DuplicateSlug {
            kind: taxonomy.as_str(),
            slug: slug.to_string(),
        });
    }
    Ok(())
}

async fn is_category<C: ConnectionTrait>(db: &C, id: i64) -> Result<bool> {
    Ok(terms::Entity::find_by_id(id)
        .filter(terms::Column::Taxonomy.eq(Taxonomy::Category.as_str()))
        .one(db)
        .await?
        .is_some())
}

/// A category and every category below it.
async fn descendants<C: ConnectionTrait>(db: &C, root: i64) -> Result<Vec<i64>> {
    let all: Vec<(i64, Option<i64>)> = terms::Entity::find()
        .select_only()
        .columns([terms::Column::Id, terms::Column::ParentId])
        .filter(terms::Column::Taxonomy.eq(Taxonomy::Category.as_str()))
        .into_tuple()
        .all(db)
        .await?;
    let mut found = vec![root];
    let mut index = 0;
    while index < found.len() {
        let current = found[index];
        for (id, parent) in &all {
            if *parent == Some(current) && !found.contains(id) {
                found.push(*id);
            }
        }
        index += 1;
    }
    Ok(found)
}

async fn redirect_term(txn: &DatabaseTransaction, old_path: &str, term_id: i64) -> Result<()> {
    slug_redirects::Entity::delete_by_id(old_path.to_owned())
        .exec(txn)
        .await?;
    slug_redirects::ActiveModel {
        old_path: Set(old_path.to_owned()),
        post_id: Set(None),
        term_id: Set(Some(term_id)),
        created_at: Set(now()),
    }
    .insert(txn)
    .await?;
    Ok(())
}
