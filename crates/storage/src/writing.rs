//! Writing in the admin: the lists of posts and pages in every state, saving with a
//! revision each time, old addresses that answer with a redirect, the trash.

use std::collections::HashMap;

use folio_domain::markdown::{RenderedPost, excerpt, render_post};
use folio_domain::posts::permalink;
use folio_domain::schedule::SiteZone;
use folio_domain::{PageNumber, Paginated, PostKind, PostStatus, Slug, Taxonomy, User};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use time::OffsetDateTime;

use crate::audit::record;
use crate::entities::{comments, post_revisions, post_terms, posts, slug_redirects, terms};
use crate::site::bump_content_version;
use crate::terms::{ensure_term_on, term_from_row};
use crate::users::numbered;
use crate::{Result, StorageError, Store, normalize_time, now};

/// Where a post stands, as the admin shows it. "Scheduled" is a published post whose time
/// has not come: the reading side shows it from that time on, with no job to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditorialStatus {
    Draft,
    Scheduled,
    Published,
    Trash,
}

impl EditorialStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EditorialStatus::Draft => "draft",
            EditorialStatus::Scheduled => "scheduled",
            EditorialStatus::Published => "published",
            EditorialStatus::Trash => "trash",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "draft" => Some(EditorialStatus::Draft),
            "scheduled" => Some(EditorialStatus::Scheduled),
            "published" => Some(EditorialStatus::Published),
            "trash" => Some(EditorialStatus::Trash),
            _ => None,
        }
    }

    fn of(row: &posts::Model, now: OffsetDateTime) -> Self {
        if row.trashed_at.is_some() {
            return EditorialStatus::Trash;
        }
        match PostStatus::parse(&row.status) {
            Some(PostStatus::Draft) | None => EditorialStatus::Draft,
            Some(PostStatus::Scheduled) => EditorialStatus::Scheduled,
            Some(PostStatus::Published) if row.published_at.is_some_and(|at| at > now) => {
                EditorialStatus::Scheduled
            }
            Some(PostStatus::Published) => EditorialStatus::Published,
        }
    }

    fn condition(self, now: OffsetDateTime) -> Condition {
        let live = posts::Column::TrashedAt.is_null();
        match self {
            EditorialStatus::Draft => Condition::all()
                .add(live)
                .add(posts::Column::Status.eq(PostStatus::Draft.as_str())),
            EditorialStatus::Scheduled => Condition::all().add(live).add(
                Condition::any()
                    .add(posts::Column::Status.eq(PostStatus::Scheduled.as_str()))
                    .add(
                        Condition::all()
                            .add(posts::Column::Status.eq(PostStatus::Published.as_str()))
                            .add(posts::Column::PublishedAt.gt(now)),
                    ),
            ),
            EditorialStatus::Published => Condition::all()
                .add(live)
                .add(posts::Column::Status.eq(PostStatus::Published.as_str()))
                .add(posts::Column::PublishedAt.lte(now)),
            EditorialStatus::Trash => Condition::all().add(posts::Column::TrashedAt.is_not_null()),
        }
    }
}

/// Which posts an admin list shows.
#[derive(Debug, Clone)]
pub struct AdminPostQuery {
    pub kind: PostKind,
    /// None: every state but the trash.
    pub status: Option<EditorialStatus>,
    /// Words in the title.
    pub search: String,
    /// Only this author's (an author's own list).
    pub author: Option<i64>,
    pub page: PageNumber,
    pub per_page: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AdminPostRow {
    pub id: i64,
    pub kind: PostKind,
    pub title: String,
    pub status: EditorialStatus,
    pub author_id: i64,
    pub author_name: String,
    pub published_at: Option<OffsetDateTime>,
    pub updated_at: OffsetDateTime,
    pub path: String,
}

/// A post as the editor form shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct EditablePost {
    pub id: i64,
    pub kind: PostKind,
    pub author_id: i64,
    pub title: String,
    pub slug: String,
    pub source: String,
    /// Empty when the excerpt is the one made from the text.
    pub excerpt: String,
    /// `Parent > Child` paths.
    pub categories: Vec<String>,
    pub tags: Vec<String>,
    pub featured_image: Option<String>,
    pub comments_open: bool,
    pub status: EditorialStatus,
    pub published_at: Option<OffsetDateTime>,
    pub path: String,
    /// As the author wrote it; empty: none.
    pub password: String,
    pub parent_id: Option<i64>,
    pub sticky: bool,
}

/// What the editor form saves.
#[derive(Debug, Clone)]
pub struct PostEdit {
    pub title: String,
    /// None: made from the title (with a number when taken).
    pub slug: Option<Slug>,
    pub source: String,
    /// Empty: made from the text.
    pub excerpt: String,
    pub categories: Vec<String>,
    pub tags: Vec<String>,
    pub featured_image: Option<String>,
    pub comments_open: bool,
    /// Draft or Published; a published post with a future time is scheduled.
    pub status: PostStatus,
    /// None with Published: now (or when it was first published).
    pub published_at: Option<OffsetDateTime>,
    /// Empty: none (clears one that was set).
    pub password: String,
    /// Pages only: the page this one sits under.
    pub parent_id: Option<i64>,
    /// Posts only: kept on top of the front page.
    pub sticky: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Revision {
    pub id: i64,
    pub post_id: i64,
    pub saved_by: String,
    pub title: String,
    pub slug: String,
    pub source: String,
    pub excerpt: String,
    pub at: OffsetDateTime,
}

/// The dashboard's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DashboardCounts {
    pub published: u64,
    pub drafts: u64,
    pub scheduled: u64,
    pub held_comments: u64,
}

impl Store {
    pub async fn admin_posts(&self, query: &AdminPostQuery) -> Result<Paginated<AdminPostRow>> {
        let at = now();
        let mut select = posts::Entity::find()
            .filter(posts::Column::Kind.eq(query.kind.as_str()))
            .filter(match query.status {
                Some(status) => status.condition(at),
                None => Condition::all().add(posts::Column::TrashedAt.is_null()),
            });
        if let Some(author) = query.author {
            select = select.filter(posts::Column::AuthorId.eq(author));
        }
        let words = query.search.trim().to_lowercase();
        if !words.is_empty() {
            let pattern = format!("%{}%", words.replace(['%', '_'], " "));
            select = select.filter(
                Expr::expr(Func::lower(Expr::col((
                    posts::Entity,
                    posts::Column::Title,
                ))))
                .like(pattern),
            );
        }
        let total = select.clone().count(&self.db).await?;
        let rows = select
            .order_by_desc(posts::Column::UpdatedAt)
            .order_by_desc(posts::Column::Id)
            .offset(query.page.offset(query.per_page))
            .limit(u64::from(query.per_page))
            .all(&self.db)
            .await?;
        let names = self
            .display_names(rows.iter().map(|r| r.author_id).collect())
            .await?;
        let tree = crate::posts::PageTree::load(&self.db).await?;
        let items = rows
            .into_iter()
            .map(|row| {
                let kind = parse_kind(&row.kind)?;
                Ok(AdminPostRow {
                    id: row.id,
                    kind,
                    status: EditorialStatus::of(&row, at),
                    author_name: names.get(&row.author_id).cloned().unwrap_or_default(),
                    author_id: row.author_id,
                    path: match row.parent_id {
                        Some(_) => tree.path(row.parent_id, &parse_row_slug(&row)?),
                        None => path_of(&self.zone, &row)?,
                    },
                    published_at: row.published_at,
                    updated_at: row.updated_at,
                    title: row.title,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Paginated {
            items,
            page: query.page,
            per_page: query.per_page,
            total,
        })
    }

    pub async fn editable_post(&self, id: i64) -> Result<Option<EditablePost>> {
        let Some(row) = posts::Entity::find_by_id(id).one(&self.db).await? else {
            return Ok(None);
        };
        let categories = categories_by_id(&self.db).await?;
        let term_ids: Vec<i64> = post_terms::Entity::find()
            .filter(post_terms::Column::PostId.eq(id))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|pt| pt.term_id)
            .collect();
        let mut category_paths = Vec::new();
        let mut tags = Vec::new();
        for term in terms::Entity::find()
            .filter(terms::Column::Id.is_in(term_ids))
            .order_by_asc(terms::Column::Name)
            .all(&self.db)
            .await?
        {
            if term.taxonomy == Taxonomy::Category.as_str() {
                category_paths.push(category_path(&categories, term.id));
            } else {
                tags.push(term.name);
            }
        }
        let made = excerpt(&row.plain_text);
        Ok(Some(EditablePost {
            id: row.id,
            kind: parse_kind(&row.kind)?,
            author_id: row.author_id,
            status: EditorialStatus::of(&row, now()),
            path: path_with_parents(&self.db, &self.zone, &row).await?,
            password: row.password.clone().unwrap_or_default(),
            parent_id: row.parent_id,
            sticky: row.sticky,
            excerpt: if row.excerpt == made {
                String::new()
            } else {
                row.excerpt.clone()
            },
            title: row.title,
            slug: row.slug,
            source: row.source,
            categories: category_paths,
            tags,
            featured_image: row.featured_image,
            comments_open: row.comments_open,
            published_at: row.published_at,
        }))
    }

    /// Every category as a `Parent > Child` path, for the editor's suggestions.
    pub async fn category_paths(&self) -> Result<Vec<String>> {
        let categories = categories_by_id(&self.db).await?;
        let mut paths: Vec<String> = categories
            .keys()
            .map(|id| category_path(&categories, *id))
            .collect();
        paths.sort_by_key(|p| p.to_lowercase());
        Ok(paths)
    }

    /// Creates a post (`id` None) or saves one, keeping a revision of what was saved.
    /// `Ok(None)`: no post has that id.
    pub async fn save_post(
        &self,
        actor: &User,
        id: Option<i64>,
        kind: PostKind,
        edit: PostEdit,
    ) -> Result<Option<i64>> {
        let rendered = render_post(&edit.source);
        self.save_rendered_post(actor, id, kind, edit, rendered)
            .await
    }

    /// [`Store::save_post`] with the HTML already rendered from `edit.source`, outside the
    /// transaction (which, on SQLite, holds the one write lock).
    pub async fn save_rendered_post(
        &self,
        actor: &User,
        id: Option<i64>,
        kind: PostKind,
        edit: PostEdit,
        rendered: RenderedPost,
    ) -> Result<Option<i64>> {
        let txn = self.begin_write().await?;
        let existing = match id {
            Some(id) => match posts::Entity::find_by_id(id).one(&txn).await? {
                Some(row) => Some(row),
                None => return Ok(None),
            },
            None => None,
        };
        let kind = match &existing {
            Some(row) => parse_kind(&row.kind)?,
            None => kind,
        };
        let own_id = existing.as_ref().map(|r| r.id);
        let slug = match &edit.slug {
            Some(given) => {
                if slug_taken_by_other(&txn, kind, given, own_id).await? {
                    return Err(StorageError::DuplicateSlug {
                        kind: kind.as_str(),
                        slug: given.to_string(),
                    });
                }
                given.clone()
            }
            None => {
                let base = Slug::from_title(&edit.title, kind.as_str());
                free_slug(&txn, kind, &base, own_id).await?
            }
        };
        let parent_id = match (kind, edit.parent_id) {
            (PostKind::Page, Some(parent)) => {
                check_parent(&txn, own_id, parent).await?;
                Some(parent)
            }
            _ => None,
        };
        let password = folio_domain::posts::normalize_password(Some(&edit.password));
        let sticky = edit.sticky && kind == PostKind::Post;
        let at = now();
        let custom_excerpt = edit.excerpt.trim();
        let excerpt_text = if custom_excerpt.is_empty() {
            excerpt(&rendered.plain_text)
        } else {
            custom_excerpt.to_owned()
        };
        let published_at = match edit.status {
            PostStatus::Draft => None,
            _ => Some(match edit.published_at {
                Some(given) => normalize_time(given),
                None => existing
                    .as_ref()
                    .filter(|r| r.status == PostStatus::Published.as_str())
                    .and_then(|r| r.published_at)
                    .unwrap_or(at),
            }),
        };
        let status = match edit.status {
            PostStatus::Draft => PostStatus::Draft,
            _ => PostStatus::Published,
        };
        let row = match &existing {
            Some(old) => {
                keep_first_text(&txn, old).await?;
                let mut active = old.clone().into_active_model();
                active.slug = Set(slug.as_str().to_owned());
                // A title edited here is plain text: imported markup goes with the old one.
                if old.title != edit.title.trim() {
                    active.title_html = Set(None);
                }
                active.title = Set(edit.title.trim().to_owned());
                active.source = Set(edit.source.clone());
                active.html = Set(rendered.html);
                active.plain_text = Set(rendered.plain_text);
                active.excerpt = Set(excerpt_text.clone());
                active.status = Set(status.as_str().to_owned());
                active.published_at = Set(published_at);
                active.updated_at = Set(at);
                active.comments_open = Set(edit.comments_open);
                active.featured_image = Set(edit.featured_image.clone());
                active.trashed_at = Set(None);
                active.trashed_status = Set(None);
                active.password = Set(password);
                active.parent_id = Set(parent_id);
                active.sticky = Set(sticky);
                active.update(&txn).await?
            }
            None => {
                posts::ActiveModel {
                    kind: Set(kind.as_str().to_owned()),
                    slug: Set(slug.as_str().to_owned()),
                    title: Set(edit.title.trim().to_owned()),
                    source: Set(edit.source.clone()),
                    html: Set(rendered.html),
                    plain_text: Set(rendered.plain_text),
                    excerpt: Set(excerpt_text.clone()),
                    status: Set(status.as_str().to_owned()),
                    published_at: Set(published_at),
                    created_at: Set(at),
                    updated_at: Set(at),
                    author_id: Set(actor.id),
                    comments_open: Set(edit.comments_open),
                    featured_image: Set(edit.featured_image.clone()),
                    password: Set(password),
                    parent_id: Set(parent_id),
                    sticky: Set(sticky),
                    ..Default::default()
                }
                .insert(&txn)
                .await?
            }
        };
        replace_terms(&txn, row.id, &edit.categories, &edit.tags).await?;
        if let Some(old) = &existing {
            keep_old_address(&txn, &self.zone, old, &row, at).await?;
        }
        post_revisions::ActiveModel {
            post_id: Set(row.id),
            saved_by: Set(Some(actor.id)),
            title: Set(row.title.clone()),
            slug: Set(row.slug.clone()),
            source: Set(row.source.clone()),
            excerpt: Set(if custom_excerpt.is_empty() {
                String::new()
            } else {
                excerpt_text
            }),
            created_at: Set(at),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        let action = if existing.is_some() {
            "post.save"
        } else {
            "post.create"
        };
        let shown = EditorialStatus::of(&row, at);
        record(
            &txn,
            actor,
            action,
            &format!("{} {}", kind.as_str(), row.id),
            &format!("{} ({})", row.title, shown.as_str()),
        )
        .await?;
        bump_content_version(&txn).await?;
        txn.commit().await?;
        Ok(Some(row.id))
    }

    /// Moves a post to the trash (hidden like a draft) or back. `false`: no such post.
    pub async fn set_post_trashed(&self, actor: &User, id: i64, trashed: bool) -> Result<bool> {
        let txn = self.begin_write().await?;
        let Some(row) = posts::Entity::find_by_id(id).one(&txn).await? else {
            return Ok(false);
        };
        if row.trashed_at.is_some() == trashed {
            return Ok(true);
        }
        let mut active = row.clone().into_active_model();
        if trashed {
            active.trashed_status = Set(Some(row.status.clone()));
            active.trashed_at = Set(Some(now()));
            active.status = Set(PostStatus::Draft.as_str().to_owned());
        } else {
            active.status = Set(row
                .trashed_status
                .clone()
                .unwrap_or_else(|| PostStatus::Draft.as_str().to_owned()));
            active.trashed_at = Set(None);
            active.trashed_status = Set(None);
        }
        active.update(&txn).await?;
        record(
            &txn,
            actor,
            if trashed {
                "post.trash"
            } else {
                "post.restore"
            },
            &format!("{} {}", row.kind, row.id),
            &row.title,
        )
        .await?;
        bump_content_version(&txn).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// A post's revisions, newest first.
    pub async fn revisions(&self, post_id: i64) -> Result<Vec<Revision>> {
        let rows = post_revisions::Entity::find()
            .filter(post_revisions::Column::PostId.eq(post_id))
            .order_by_desc(post_revisions::Column::Id)
            .all(&self.db)
            .await?;
        self.revisions_from_rows(rows).await
    }

    pub async fn revision(&self, post_id: i64, id: i64) -> Result<Option<Revision>> {
        let rows = post_revisions::Entity::find_by_id(id)
            .filter(post_revisions::Column::PostId.eq(post_id))
            .all(&self.db)
            .await?;
        Ok(self.revisions_from_rows(rows).await?.pop())
    }

    async fn revisions_from_rows(&self, rows: Vec<post_revisions::Model>) -> Result<Vec<Revision>> {
        let names = self
            .display_names(rows.iter().filter_map(|r| r.saved_by).collect())
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| Revision {
                id: r.id,
                post_id: r.post_id,
                saved_by: r
                    .saved_by
                    .and_then(|id| names.get(&id).cloned())
                    .unwrap_or_else(|| "Deleted user".to_owned()),
                title: r.title,
                slug: r.slug,
                source: r.source,
                excerpt: r.excerpt,
                at: r.created_at,
            })
            .collect())
    }

    /// The address a post now answers at, for a path it answered at before its slug or date
    /// changed; None when there is no such path or the post is not public any more.
    /// `old_path` may come percent-encoded in either case or decoded: addresses are kept
    /// decoded, but an import made before that kept them as the export had them.
    pub async fn redirect_for(&self, old_path: &str) -> Result<Option<String>> {
        let decoded = folio_domain::slug::percent_decode(old_path);
        let encoded = folio_domain::slug::percent_encode_path(&decoded);
        let mut spellings = vec![
            decoded,
            folio_domain::slug::lowercase_escapes(&encoded),
            encoded,
        ];
        spellings.dedup();
        let Some(redirect) = slug_redirects::Entity::find()
            .filter(slug_redirects::Column::OldPath.is_in(spellings.clone()))
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let old_path = redirect.old_path.as_str();
        if let Some(term_id) = redirect.term_id {
            return Ok(terms::Entity::find_by_id(term_id)
                .one(&self.db)
                .await?
                .map(term_from_row)
                .transpose()?
                .map(|term| term.path())
                .filter(|path| path != old_path));
        }
        let Some(post_id) = redirect.post_id else {
            return Ok(None);
        };
        let Some(row) = posts::Entity::find_by_id(post_id).one(&self.db).await? else {
            return Ok(None);
        };
        if EditorialStatus::of(&row, now()) != EditorialStatus::Published {
            return Ok(None);
        }
        Ok(Some(path_with_parents(&self.db, &self.zone, &row).await?)
            .filter(|path| path != old_path))
    }

    /// `author`: count only this author's posts and the comments on them.
    pub async fn dashboard_counts(&self, author: Option<i64>) -> Result<DashboardCounts> {
        let at = now();
        let count = |status: EditorialStatus| {
            let mut select = posts::Entity::find()
                .filter(posts::Column::Kind.eq(PostKind::Post.as_str()))
                .filter(status.condition(at));
            if let Some(author) = author {
                select = select.filter(posts::Column::AuthorId.eq(author));
            }
            select.count(&self.db)
        };
        let published = count(EditorialStatus::Published).await?;
        let drafts = count(EditorialStatus::Draft).await?;
        let scheduled = count(EditorialStatus::Scheduled).await?;
        let mut held = comments::Entity::find()
            .filter(comments::Column::Status.eq(folio_domain::CommentStatus::Pending.as_str()));
        if let Some(author) = author {
            held = held.filter(
                comments::Column::PostId.in_subquery(
                    sea_orm::sea_query::Query::select()
                        .column(posts::Column::Id)
                        .from(posts::Entity)
                        .and_where(posts::Column::AuthorId.eq(author))
                        .to_owned(),
                ),
            );
        }
        Ok(DashboardCounts {
            published,
            drafts,
            scheduled,
            held_comments: held.count(&self.db).await?,
        })
    }
}

/// When a public post moves (new slug or date), its old path keeps answering with a 301.
async fn keep_old_address(
    txn: &DatabaseTransaction,
    zone: &SiteZone,
    old: &posts::Model,
    new: &posts::Model,
    at: OffsetDateTime,
) -> Result<()> {
    let new_path = path_with_parents(txn, zone, new).await?;
    // A post renamed back to an earlier slug answers there again, not with a redirect loop.
    slug_redirects::Entity::delete_by_id(new_path.clone())
        .exec(txn)
        .await?;
    let was_public = EditorialStatus::of(old, at) == EditorialStatus::Published;
    let old_path = path_with_parents(txn, zone, old).await?;
    if was_public && old_path != new_path {
        slug_redirects::Entity::delete_by_id(old_path.clone())
            .exec(txn)
            .await?;
        slug_redirects::ActiveModel {
            old_path: Set(old_path),
            post_id: Set(Some(new.id)),
            term_id: Set(None),
            created_at: Set(at),
        }
        .insert(txn)
        .await?;
    }
    Ok(())
}

async fn replace_terms(
    txn: &DatabaseTransaction,
    post_id: i64,
    categories: &[String],
    tags: &[String],
) -> Result<()> {
    post_terms::Entity::delete_many()
        .filter(post_terms::Column::PostId.eq(post_id))
        .exec(txn)
        .await?;
    let mut term_ids = Vec::new();
    for path in categories {
        let mut parent = None;
        for name in path.split('>').map(str::trim).filter(|n| !n.is_empty()) {
            let term = ensure_term_on(txn, Taxonomy::Category, name, parent).await?;
            parent = Some(term.id);
        }
        term_ids.extend(parent);
    }
    for name in tags.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        term_ids.push(ensure_term_on(txn, Taxonomy::Tag, name, None).await?.id);
    }
    term_ids.sort_unstable();
    term_ids.dedup();
    if !term_ids.is_empty() {
        post_terms::Entity::insert_many(term_ids.iter().map(|&term_id| post_terms::ActiveModel {
            post_id: Set(post_id),
            term_id: Set(term_id),
        }))
        .exec(txn)
        .await?;
    }
    Ok(())
}

async fn categories_by_id<C: ConnectionTrait>(
    db: &C,
) -> Result<HashMap<i64, (String, Option<i64>)>> {
    Ok(terms::Entity::find()
        .filter(terms::Column::Taxonomy.eq(Taxonomy::Category.as_str()))
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.id, (t.name, t.parent_id)))
        .collect())
}

fn category_path(all: &HashMap<i64, (String, Option<i64>)>, id: i64) -> String {
    let mut names = Vec::new();
    let mut next = Some(id);
    // Bounded, in case a parent loop ever made it into the table.
    while let Some(current) = next.filter(|_| names.len() < 16) {
        let Some((name, parent)) = all.get(&current) else {
            break;
        };
        names.push(name.clone());
        next = *parent;
    }
    names.reverse();
    names.join(" > ")
}

async fn slug_taken_by_other<C: ConnectionTrait>(
    db: &C,
    kind: PostKind,
    slug: &Slug,
    own_id: Option<i64>,
) -> Result<bool> {
    let mut select = posts::Entity::find()
        .filter(posts::Column::Kind.eq(kind.as_str()))
        .filter(posts::Column::Slug.eq(slug.as_str()));
    if let Some(id) = own_id {
        select = select.filter(posts::Column::Id.ne(id));
    }
    Ok(select.one(db).await?.is_some())
}

async fn free_slug<C: ConnectionTrait>(
    db: &C,
    kind: PostKind,
    base: &Slug,
    own_id: Option<i64>,
) -> Result<Slug> {
    for n in 1..10_000 {
        let candidate = if n == 1 {
            base.clone()
        } else {
            numbered(base, n)
        };
        if !slug_taken_by_other(db, kind, &candidate, own_id).await? {
            return Ok(candidate);
        }
    }
    Err(StorageError::DuplicateSlug {
        kind: kind.as_str(),
        slug: base.to_string(),
    })
}

/// A page may sit under another page, never under itself or one of its own descendants.
async fn check_parent<C: ConnectionTrait>(db: &C, own_id: Option<i64>, parent: i64) -> Result<()> {
    let refused = |why: &str| StorageError::InvalidParent(why.to_owned());
    let mut next = Some(parent);
    let mut steps = 0;
    while let Some(id) = next {
        if Some(id) == own_id {
            return Err(refused(
                "a page cannot sit under itself or under its own subpage",
            ));
        }
        let Some(row) = posts::Entity::find_by_id(id).one(db).await? else {
            return Err(refused("the parent page does not exist"));
        };
        if row.kind != PostKind::Page.as_str() {
            return Err(refused("the parent must be a page"));
        }
        steps += 1;
        if steps > 64 {
            return Err(refused("the pages above it form a loop"));
        }
        next = row.parent_id;
    }
    Ok(())
}

fn parse_row_slug(row: &posts::Model) -> Result<Slug> {
    Slug::parse(&row.slug).map_err(|_| StorageError::unexpected("posts", "slug", &row.slug))
}

/// A post's address; a page's includes its parents' slugs.
async fn path_with_parents<C: ConnectionTrait>(
    db: &C,
    zone: &SiteZone,
    row: &posts::Model,
) -> Result<String> {
    if row.parent_id.is_none() {
        return path_of(zone, row);
    }
    let slug =
        Slug::parse(&row.slug).map_err(|_| StorageError::unexpected("posts", "slug", &row.slug))?;
    Ok(crate::posts::PageTree::load(db)
        .await?
        .path(row.parent_id, &slug))
}

fn path_of(zone: &SiteZone, row: &posts::Model) -> Result<String> {
    let kind = parse_kind(&row.kind)?;
    let slug =
        Slug::parse(&row.slug).map_err(|_| StorageError::unexpected("posts", "slug", &row.slug))?;
    Ok(permalink(
        kind,
        &slug,
        zone.local(row.published_at.unwrap_or(row.created_at)),
    ))
}

fn parse_kind(raw: &str) -> Result<PostKind> {
    PostKind::parse(raw).ok_or_else(|| StorageError::unexpected("posts", "kind", raw))
}

/// A post made outside the editor (`folio post new`, an import, sample content) has no
/// revision yet: its text becomes the first one before the first save replaces it.
async fn keep_first_text<C: ConnectionTrait>(db: &C, old: &posts::Model) -> Result<()> {
    let has_revision = post_revisions::Entity::find()
        .filter(post_revisions::Column::PostId.eq(old.id))
        .one(db)
        .await?
        .is_some();
    if has_revision {
        return Ok(());
    }
    post_revisions::ActiveModel {
        post_id: Set(old.id),
        saved_by: Set(None),
        title: Set(old.title.clone()),
        slug: Set(old.slug.clone()),
        source: Set(old.source.clone()),
        excerpt: Set(String::new()),
        created_at: Set(old.updated_at),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}
