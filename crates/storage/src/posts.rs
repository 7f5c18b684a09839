use std::collections::{HashMap, HashSet};

use folio_domain::markdown::{excerpt, render_post};
use folio_domain::posts::permalink;
use folio_domain::schedule::SiteZone;
use folio_domain::{
    PageNumber, Paginated, Post, PostKind, PostStatus, PostSummary, Slug, Taxonomy, Term, User,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};
use time::OffsetDateTime;

use crate::entities::{post_terms, posts, terms, users};
use crate::site::bump_content_version;
use crate::terms::{ensure_term_on, term_from_row};
use crate::users::{numbered, user_from_row};
use crate::{Result, StorageError, Store, normalize_time, now};

#[derive(Debug, Clone)]
pub struct NewPost {
    pub kind: PostKind,
    pub title: String,
    /// Derived from the title when absent; a derived slug that is taken gets a number, a
    /// given one that is taken is an error.
    pub slug: Option<Slug>,
    pub source: String,
    pub status: PostStatus,
    /// Publication time; a published post with a time in the future appears at that time.
    pub published_at: Option<OffsetDateTime>,
    pub author_id: i64,
    /// Category names; `Parent > Child` files the post under a nested category.
    pub categories: Vec<String>,
    pub tags: Vec<String>,
    pub comments_open: bool,
    pub featured_image: Option<String>,
    /// Hides the body and the comments until a reader gives it; `None` or empty: none.
    pub password: Option<String>,
    /// A page's parent page.
    pub parent_id: Option<i64>,
    pub sticky: bool,
}

/// Which published posts a listing shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostFilter {
    All,
    /// Any of these terms (a category and its descendants, or one tag).
    Terms(Vec<i64>),
    Author(i64),
    /// `from` inclusive, `until` exclusive.
    Published {
        from: OffsetDateTime,
        until: OffsetDateTime,
    },
}

pub type PostListing = Paginated<PostSummary>;

/// A post as a new comment sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentTarget {
    pub post_id: i64,
    pub link: PostLink,
    pub published_at: Option<OffsetDateTime>,
    pub comments_open: bool,
    pub author_id: i64,
    /// Approved comments, as the post's heading counts them.
    pub comment_count: u64,
    /// Without it, nobody may comment (nor read the comments).
    pub password: Option<String>,
}

/// A published page in the site's menu, with its published child pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageLink {
    pub link: PostLink,
    pub children: Vec<PageLink>,
}

/// A link to a neighbouring post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostLink {
    pub title: String,
    pub path: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Adjacent {
    pub previous: Option<PostLink>,
    pub next: Option<PostLink>,
}

/// A row of `folio post list`.
#[derive(Debug, Clone, PartialEq)]
pub struct PostRow {
    pub id: i64,
    pub kind: PostKind,
    pub status: PostStatus,
    pub title: String,
    pub path: String,
    pub published_at: Option<OffsetDateTime>,
}

impl Store {
    pub async fn create_post(&self, new: NewPost) -> Result<Post> {
        self.create_posts(vec![new])
            .await?
            .pop()
            .ok_or_else(|| StorageError::unexpected("posts", "id", "vanished after insert"))
    }

    /// Writes many posts in one transaction (sample content, bulk loads), each as
    /// [`Store::create_post`] would; the posts in the same order. A duplicate slug fails the
    /// whole batch.
    pub async fn create_posts(&self, batch: Vec<NewPost>) -> Result<Vec<Post>> {
        // Rendered before the transaction opens: on SQLite it holds the one write lock.
        let rendered: Vec<(NewPost, _)> = batch
            .into_iter()
            .map(|new| {
                let rendered = render_post(&new.source);
                (new, rendered)
            })
            .collect();
        let txn = self.begin_write().await?;
        // A batch files many posts under the same few terms: each is looked up once.
        let mut terms: HashMap<(Taxonomy, String, Option<i64>), i64> = HashMap::new();
        let mut rows = Vec::with_capacity(rendered.len());
        let mut filed = Vec::new();
        for (new, rendered) in rendered {
            let slug = match &new.slug {
                Some(given) => {
                    if slug_taken(&txn, new.kind, given).await? {
                        return Err(StorageError::DuplicateSlug {
                            kind: new.kind.as_str(),
                            slug: given.to_string(),
                        });
                    }
                    given.clone()
                }
                None => {
                    let base = Slug::from_title(&new.title, new.kind.as_str());
                    free_slug(&txn, new.kind, &base).await?
                }
            };
            let created = now();
            let published_at = match (new.status, new.published_at) {
                (_, Some(at)) => Some(normalize_time(at)),
                (PostStatus::Published, None) => Some(created),
                (_, None) => None,
            };
            let row = posts::ActiveModel {
                kind: Set(new.kind.as_str().to_owned()),
                slug: Set(slug.as_str().to_owned()),
                title: Set(new.title.trim().to_owned()),
                source: Set(new.source),
                html: Set(rendered.html),
                excerpt: Set(excerpt(&rendered.plain_text)),
                plain_text: Set(rendered.plain_text),
                status: Set(new.status.as_str().to_owned()),
                published_at: Set(published_at),
                created_at: Set(created),
                updated_at: Set(created),
                author_id: Set(new.author_id),
                comments_open: Set(new.comments_open),
                featured_image: Set(new.featured_image),
                password: Set(folio_domain::posts::normalize_password(
                    new.password.as_deref(),
                )),
                parent_id: Set(new.parent_id.filter(|_| new.kind == PostKind::Page)),
                sticky: Set(new.sticky && new.kind == PostKind::Post),
                ..Default::default()
            }
            .insert(&txn)
            .await?;

            let mut term_ids = Vec::new();
            let mut term = async |taxonomy: Taxonomy, name: &str, parent: Option<i64>| {
                let key = (taxonomy, name.to_owned(), parent);
                if let Some(&id) = terms.get(&key) {
                    return Ok::<i64, StorageError>(id);
                }
                let id = ensure_term_on(&txn, taxonomy, name, parent).await?.id;
                terms.insert(key, id);
                Ok(id)
            };
            for path in &new.categories {
                let mut parent = None;
                for name in path.split('>').map(str::trim).filter(|n| !n.is_empty()) {
                    parent = Some(term(Taxonomy::Category, name, parent).await?);
                }
                term_ids.extend(parent);
            }
            for name in new.tags.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
                term_ids.push(term(Taxonomy::Tag, name, None).await?);
            }
            term_ids.sort_unstable();
            term_ids.dedup();
            filed.extend(term_ids.into_iter().map(|term_id| (row.id, term_id)));
            rows.push(row);
        }
        // Every post's terms in a few statements.
        for chunk in filed.chunks(5000) {
            post_terms::Entity::insert_many(chunk.iter().map(|&(post_id, term_id)| {
                post_terms::ActiveModel {
                    post_id: Set(post_id),
                    term_id: Set(term_id),
                }
            }))
            .exec(&txn)
            .await?;
        }
        bump_content_version(&txn).await?;
        txn.commit().await?;
        self.posts_from_rows(rows).await
    }

    /// One page of published posts, newest first.
    pub async fn published_posts(
        &self,
        filter: &PostFilter,
        page: PageNumber,
        per_page: u32,
    ) -> Result<PostListing> {
        let query = posts::Entity::find()
            .filter(visible(PostKind::Post))
            .filter(filter_condition(filter));
        let total = query.clone().count(&self.db).await?;
        let rows = query
            .order_by_desc(posts::Column::PublishedAt)
            .order_by_desc(posts::Column::Id)
            .offset(page.offset(per_page))
            .limit(u64::from(per_page))
            .all(&self.db)
            .await?;
        let items = self.summaries(rows).await?;
        Ok(Paginated {
            items,
            page,
            per_page,
            total,
        })
    }

    /// The sticky published posts, newest first: the top of the front page.
    pub async fn sticky_posts(&self) -> Result<Vec<PostSummary>> {
        let rows = posts::Entity::find()
            .filter(visible(PostKind::Post))
            .filter(posts::Column::Sticky.eq(true))
            .order_by_desc(posts::Column::PublishedAt)
            .order_by_desc(posts::Column::Id)
            .all(&self.db)
            .await?;
        self.summaries(rows).await
    }

    /// A published post by its slug. The caller compares the date in the URL with the post's
    /// own path and redirects when they differ.
    pub async fn published_post(&self, slug: &str) -> Result<Option<Post>> {
        self.published_by_slug(PostKind::Post, slug).await
    }

    pub async fn published_page(&self, slug: &str) -> Result<Option<Post>> {
        self.published_by_slug(PostKind::Page, slug).await
    }

    async fn published_by_slug(&self, kind: PostKind, slug: &str) -> Result<Option<Post>> {
        let row = posts::Entity::find()
            .filter(visible(kind))
            .filter(posts::Column::Slug.eq(slug))
            .one(&self.db)
            .await?;
        match row {
            Some(row) => Ok(self.posts_from_rows(vec![row]).await?.pop()),
            None => Ok(None),
        }
    }

    /// What posting a comment needs to know about the post or page it names, in one query:
    /// nothing is loaded that the comment does not use.
    pub async fn comment_target(&self, id: i64) -> Result<Option<CommentTarget>> {
        let backend = self.db_backend();
        let placeholder = match backend {
            sea_orm::DbBackend::Postgres => "$1",
            _ => "?",
        };
        let sql = format!(
            "SELECT p.kind, p.slug, p.title, p.published_at, p.created_at, p.comments_open, p.author_id, p.password, p.parent_id, \
             p.comment_count FROM posts p WHERE p.id = {id} AND p.status = 'published' AND p.published_at <= {placeholder}"
        );
        let Some(row) = self
            .db
            .query_one_raw(Statement::from_sql_and_values(backend, sql, [now().into()]))
            .await?
        else {
            return Ok(None);
        };
        let published_at: Option<OffsetDateTime> = row.try_get("", "published_at")?;
        let mut link = link_of(
            &self.zone,
            (
                row.try_get("", "kind")?,
                row.try_get("", "slug")?,
                row.try_get("", "title")?,
                published_at,
                row.try_get("", "created_at")?,
            ),
        )?;
        let parent_id: Option<i64> = row.try_get("", "parent_id")?;
        if parent_id.is_some() {
            let slug: String = row.try_get("", "slug")?;
            link.path = PageTree::load(&self.db)
                .await?
                .path(parent_id, &parse_slug(&slug)?);
        }
        let comment_count: i64 = row.try_get("", "comment_count")?;
        Ok(Some(CommentTarget {
            post_id: id,
            link,
            published_at,
            comments_open: row.try_get("", "comments_open")?,
            author_id: row.try_get("", "author_id")?,
            comment_count: u64::try_from(comment_count).unwrap_or_default(),
            password: folio_domain::posts::normalize_password(
                row.try_get::<Option<String>>("", "password")?.as_deref(),
            ),
        }))
    }

    /// Whether the post has a password.
    pub async fn is_protected(&self, id: i64) -> Result<bool> {
        let password: Option<Option<String>> = posts::Entity::find_by_id(id)
            .select_only()
            .column(posts::Column::Password)
            .into_tuple()
            .one(&self.db)
            .await?;
        Ok(password.flatten().is_some_and(|p| !p.trim().is_empty()))
    }

    /// A published post or page by id: what a comment form names.
    /// The post or page of `kind` with this slug, whatever its status (drafts and the trash
    /// too): the one `folio post update` edits.
    pub async fn post_id_by_slug(&self, kind: PostKind, slug: &Slug) -> Result<Option<i64>> {
        Ok(posts::Entity::find()
            .filter(posts::Column::Kind.eq(kind.as_str()))
            .filter(posts::Column::Slug.eq(slug.as_str()))
            .one(&self.db)
            .await?
            .map(|row| row.id))
    }

    pub async fn published_entry(&self, id: i64) -> Result<Option<Post>> {
        let row = posts::Entity::find_by_id(id)
            .filter(posts::Column::Status.eq(PostStatus::Published.as_str()))
            .filter(posts::Column::PublishedAt.lte(now()))
            .one(&self.db)
            .await?;
        match row {
            Some(row) => Ok(self.posts_from_rows(vec![row]).await?.pop()),
            None => Ok(None),
        }
    }

    pub async fn published_posts_by_ids(&self, ids: &[i64]) -> Result<Vec<PostSummary>> {
        let rows = posts::Entity::find()
            .filter(visible(PostKind::Post))
            .filter(posts::Column::Id.is_in(ids.iter().copied()))
            .all(&self.db)
            .await?;
        let mut summaries = self.summaries(rows).await?;
        summaries.sort_by_key(|s| ids.iter().position(|id| *id == s.id));
        Ok(summaries)
    }

    /// The published posts just before and after this one in time.
    pub async fn adjacent_posts(&self, post: &PostSummary) -> Result<Adjacent> {
        let Some(at) = post.published_at else {
            return Ok(Adjacent::default());
        };
        // Each side also bounds `published_at` on its own, so that the index is read from
        // this post outwards: the `OR` alone made SQLite walk from the far end of the archive
        // (16 ms a page with 100,000 posts).
        let earlier = Condition::all()
            .add(posts::Column::PublishedAt.lte(at.min(now())))
            .add(
                Condition::any().add(posts::Column::PublishedAt.lt(at)).add(
                    Condition::all()
                        .add(posts::Column::PublishedAt.eq(at))
                        .add(posts::Column::Id.lt(post.id)),
                ),
            );
        let later = Condition::all()
            .add(posts::Column::PublishedAt.gte(at))
            .add(
                Condition::any().add(posts::Column::PublishedAt.gt(at)).add(
                    Condition::all()
                        .add(posts::Column::PublishedAt.eq(at))
                        .add(posts::Column::Id.gt(post.id)),
                ),
            );
        let previous = link_columns(
            posts::Entity::find()
                .filter(published(PostKind::Post))
                .filter(earlier)
                .order_by_desc(posts::Column::PublishedAt)
                .order_by_desc(posts::Column::Id),
        )
        .one(&self.db)
        .await?;
        let next = link_columns(
            posts::Entity::find()
                .filter(visible(PostKind::Post))
                .filter(later)
                .order_by_asc(posts::Column::PublishedAt)
                .order_by_asc(posts::Column::Id),
        )
        .one(&self.db)
        .await?;
        Ok(Adjacent {
            previous: previous.map(|row| link_of(&self.zone, row)).transpose()?,
            next: next.map(|row| link_of(&self.zone, row)).transpose()?,
        })
    }

    /// The newest published posts, as links.
    pub async fn recent_post_links(&self, count: u64) -> Result<Vec<PostLink>> {
        link_columns(
            posts::Entity::find()
                .filter(visible(PostKind::Post))
                .order_by_desc(posts::Column::PublishedAt)
                .order_by_desc(posts::Column::Id)
                .limit(count),
        )
        .all(&self.db)
        .await?
        .into_iter()
        .map(|row| link_of(&self.zone, row))
        .collect()
    }

    /// Links to the given posts and pages, by id.
    pub(crate) async fn post_links_by_id(&self, ids: &[i64]) -> Result<HashMap<i64, PostLink>> {
        let rows: Vec<IdentifiedLinkRow> = posts::Entity::find()
            .select_only()
            .columns([
                posts::Column::Id,
                posts::Column::Kind,
                posts::Column::Slug,
                posts::Column::Title,
                posts::Column::PublishedAt,
                posts::Column::CreatedAt,
                posts::Column::ParentId,
            ])
            .filter(posts::Column::Id.is_in(ids.iter().copied()))
            .into_tuple()
            .all(&self.db)
            .await?;
        let tree = if rows.iter().any(|r| r.6.is_some()) {
            PageTree::load(&self.db).await?
        } else {
            PageTree::default()
        };
        rows.into_iter()
            .map(|(id, kind, slug, title, published, created, parent)| {
                let mut link =
                    link_of(&self.zone, (kind, slug.clone(), title, published, created))?;
                if parent.is_some() {
                    link.path = tree.path(parent, &parse_slug(&slug)?);
                }
                Ok((id, link))
            })
            .collect()
    }

    /// Published pages, each under its parent, for the site's menu. A page whose parent is
    /// not published stands at the top.
    pub async fn page_menu(&self) -> Result<Vec<PageLink>> {
        let rows: Vec<(i64, String, String, Option<i64>)> = posts::Entity::find()
            .select_only()
            .columns([
                posts::Column::Id,
                posts::Column::Slug,
                posts::Column::Title,
                posts::Column::ParentId,
            ])
            .filter(visible(PostKind::Page))
            .order_by_asc(posts::Column::Title)
            .order_by_asc(posts::Column::Id)
            .into_tuple()
            .all(&self.db)
            .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let tree = PageTree::load(&self.db).await?;
        let shown: HashSet<i64> = rows.iter().map(|r| r.0).collect();
        let mut children: HashMap<Option<i64>, Vec<(i64, PostLink)>> = HashMap::new();
        for (id, slug, title, parent) in rows {
            let path = tree.path(parent, &parse_slug(&slug)?);
            let under = parent.filter(|p| shown.contains(p) && tree.reaches_top(*p));
            children
                .entry(under)
                .or_default()
                .push((id, PostLink { title, path }));
        }
        Ok(nest_pages(&mut children, None, 0))
    }

    /// Published pages, for the site's menu.
    pub async fn page_links(&self) -> Result<Vec<PostLink>> {
        fn flatten(pages: Vec<PageLink>, out: &mut Vec<PostLink>) {
            for page in pages {
                out.push(page.link);
                flatten(page.children, out);
            }
        }
        let mut links = Vec::new();
        flatten(self.page_menu().await?, &mut links);
        Ok(links)
    }

    /// Published pages other than `except` and its descendants, with their addresses: the
    /// editor's choice of a parent page.
    pub async fn parent_page_choices(&self, except: Option<i64>) -> Result<Vec<(i64, String)>> {
        let tree = PageTree::load(&self.db).await?;
        let mut choices: Vec<(i64, String)> = tree
            .pages
            .iter()
            .filter(|(id, _)| except.is_none_or(|e| !tree.descends_from(**id, e)))
            .filter_map(|(id, (slug, parent))| {
                let slug = Slug::parse(slug).ok()?;
                Some((*id, tree.path(*parent, &slug)))
            })
            .collect();
        choices.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(choices)
    }

    /// Every post and page in any state, newest first, for `folio post list`.
    pub async fn all_posts(&self) -> Result<Vec<PostRow>> {
        let tree = PageTree::load(&self.db).await?;
        posts::Entity::find()
            .order_by_desc(posts::Column::CreatedAt)
            .order_by_desc(posts::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| {
                let kind = parse_kind(&row.kind)?;
                let slug = parse_slug(&row.slug)?;
                Ok(PostRow {
                    id: row.id,
                    kind,
                    status: parse_status(&row.status)?,
                    path: match row.parent_id {
                        Some(_) => tree.path(row.parent_id, &slug),
                        None => permalink(
                            kind,
                            &slug,
                            self.zone.local(row.published_at.unwrap_or(row.created_at)),
                        ),
                    },
                    title: row.title,
                    published_at: row.published_at,
                })
            })
            .collect()
    }

    pub async fn count_published_posts(&self) -> Result<u64> {
        Ok(posts::Entity::find()
            .filter(visible(PostKind::Post))
            .count(&self.db)
            .await?)
    }

    pub(crate) async fn posts_from_rows(&self, rows: Vec<posts::Model>) -> Result<Vec<Post>> {
        let extras: Vec<(String, bool, Option<String>)> = rows
            .iter()
            .map(|r| (r.source.clone(), r.comments_open, r.password.clone()))
            .collect();
        let summaries = self.summaries(rows).await?;
        Ok(summaries
            .into_iter()
            .zip(extras)
            .map(|(summary, (source, comments_open, password))| Post {
                summary,
                source,
                comments_open,
                password: folio_domain::posts::normalize_password(password.as_deref()),
            })
            .collect())
    }

    /// Turns rows into summaries with their authors, terms and approved-comment counts, in
    /// three batched queries whatever the number of rows.
    pub(crate) async fn summaries(&self, rows: Vec<posts::Model>) -> Result<Vec<PostSummary>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let post_ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let mut author_ids: Vec<i64> = rows.iter().map(|r| r.author_id).collect();
        author_ids.sort_unstable();
        author_ids.dedup();
        let authors: HashMap<i64, User> = users::Entity::find()
            .filter(users::Column::Id.is_in(author_ids))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|u| user_from_row(u).map(|u| (u.id, u)))
            .collect::<Result<_>>()?;
        let terms_by_post = self.terms_of_posts(&post_ids).await?;
        let tree = if rows.iter().any(|r| r.parent_id.is_some()) {
            PageTree::load(&self.db).await?
        } else {
            PageTree::default()
        };
        rows.into_iter()
            .map(|row| {
                let author = authors.get(&row.author_id).cloned().ok_or_else(|| {
                    StorageError::unexpected("posts", "author_id", &row.author_id.to_string())
                })?;
                let (categories, tags): (Vec<Term>, Vec<Term>) = terms_by_post
                    .get(&row.id)
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .partition(|t| t.taxonomy == Taxonomy::Category);
                Ok(PostSummary {
                    id: row.id,
                    kind: parse_kind(&row.kind)?,
                    slug: parse_slug(&row.slug)?,
                    protected: row
                        .password
                        .as_deref()
                        .is_some_and(|p| !p.trim().is_empty()),
                    sticky: row.sticky,
                    parent_id: row.parent_id,
                    ancestors: tree.ancestors(row.parent_id),
                    status: parse_status(&row.status)?,
                    comment_count: u64::try_from(row.comment_count).unwrap_or(0),
                    title: row.title,
                    title_html: row.title_html,
                    excerpt: row.excerpt,
                    html: row.html,
                    published_offset: self
                        .zone
                        .offset_at(row.published_at.unwrap_or(row.updated_at)),
                    published_at: row.published_at,
                    updated_at: row.updated_at,
                    author,
                    featured_image: row.featured_image,
                    categories,
                    tags,
                })
            })
            .collect()
    }

    /// Each post's categories and tags, in one query.
    async fn terms_of_posts(&self, post_ids: &[i64]) -> Result<HashMap<i64, Vec<Term>>> {
        if post_ids.is_empty() {
            return Ok(HashMap::new());
        }
        // Ids are integers, so listing them in the text is safe and spares a placeholder
        // syntax per database.
        let ids: Vec<String> = post_ids.iter().map(i64::to_string).collect();
        let sql = format!(
            "SELECT pt.post_id AS post_id, t.id, t.taxonomy, t.slug, t.name, t.parent_id, t.description \
             FROM post_terms pt JOIN terms t ON t.id = pt.term_id WHERE pt.post_id IN ({})",
            ids.join(",")
        );
        let rows = self
            .db
            .query_all_raw(Statement::from_string(self.db_backend(), sql))
            .await?;
        let mut by_post: HashMap<i64, Vec<Term>> = HashMap::new();
        for row in rows {
            let post_id: i64 = row.try_get("", "post_id")?;
            let term = term_from_row(terms::Model::from_query_result(&row, "")?)?;
            by_post.entry(post_id).or_default().push(term);
        }
        for terms in by_post.values_mut() {
            terms.sort_by_key(|t| t.name.to_lowercase());
        }
        Ok(by_post)
    }
}

/// The slug and parent of every page: pages are few, and a child page's address needs its
/// parents' slugs.
#[derive(Debug, Default)]
pub(crate) struct PageTree {
    pages: HashMap<i64, (String, Option<i64>)>,
}

impl PageTree {
    /// WordPress stops there too; deeper nesting is not a menu anyone reads.
    const MAX_DEPTH: usize = 16;

    pub(crate) async fn load<C: ConnectionTrait>(db: &C) -> Result<Self> {
        let rows: Vec<(i64, String, Option<i64>)> = posts::Entity::find()
            .select_only()
            .columns([
                posts::Column::Id,
                posts::Column::Slug,
                posts::Column::ParentId,
            ])
            .filter(posts::Column::Kind.eq(PostKind::Page.as_str()))
            .into_tuple()
            .all(db)
            .await?;
        Ok(PageTree {
            pages: rows
                .into_iter()
                .map(|(id, slug, parent)| (id, (slug, parent)))
                .collect(),
        })
    }

    /// The ids from `parent` up to the top page. A loop (which the editor refuses but an
    /// import or a database edit may hold) ends the walk instead of running forever.
    fn chain(&self, parent: Option<i64>) -> Vec<i64> {
        let mut chain = Vec::new();
        let mut seen = HashSet::new();
        let mut next = parent;
        while let Some(id) = next {
            if !seen.insert(id) || chain.len() >= Self::MAX_DEPTH {
                break;
            }
            let Some((_, up)) = self.pages.get(&id) else {
                break;
            };
            chain.push(id);
            next = *up;
        }
        chain
    }

    /// The slugs of the pages above one whose parent is `parent`, outermost first.
    pub(crate) fn ancestors(&self, parent: Option<i64>) -> Vec<Slug> {
        let mut slugs: Vec<Slug> = self
            .chain(parent)
            .iter()
            .filter_map(|id| self.pages.get(id))
            .filter_map(|(slug, _)| Slug::parse(slug).ok())
            .collect();
        slugs.reverse();
        slugs
    }

    pub(crate) fn path(&self, parent: Option<i64>, slug: &Slug) -> String {
        folio_domain::posts::page_path(&self.ancestors(parent), slug)
    }

    fn descends_from(&self, page: i64, ancestor: i64) -> bool {
        page == ancestor
            || self
                .chain(self.pages.get(&page).and_then(|p| p.1))
                .contains(&ancestor)
    }

    /// Whether walking up from `page` ends at a top page rather than in a loop.
    fn reaches_top(&self, page: i64) -> bool {
        let chain = self.chain(Some(page));
        chain
            .last()
            .and_then(|top| self.pages.get(top))
            .is_some_and(|(_, up)| up.is_none())
    }
}

/// The menu's pages under `parent`, each with its own children.
fn nest_pages(
    children: &mut HashMap<Option<i64>, Vec<(i64, PostLink)>>,
    parent: Option<i64>,
    depth: usize,
) -> Vec<PageLink> {
    let Some(here) = children.remove(&parent) else {
        return Vec::new();
    };
    here.into_iter()
        .map(|(id, link)| PageLink {
            link,
            children: if depth < PageTree::MAX_DEPTH {
                nest_pages(children, Some(id), depth + 1)
            } else {
                Vec::new()
            },
        })
        .collect()
}

/// Without a password: what search, the sitemap and the comment feeds may show.
pub(crate) fn unprotected() -> Condition {
    Condition::any()
        .add(posts::Column::Password.is_null())
        .add(posts::Column::Password.eq(""))
}

/// Published, whenever: with a bound on the time of its own (`visible` adds now).
fn published(kind: PostKind) -> Condition {
    Condition::all()
        .add(posts::Column::Kind.eq(kind.as_str()))
        .add(posts::Column::Status.eq(PostStatus::Published.as_str()))
}

/// Published, and its publication time has come.
pub(crate) fn visible(kind: PostKind) -> Condition {
    Condition::all()
        .add(posts::Column::Kind.eq(kind.as_str()))
        .add(posts::Column::Status.eq(PostStatus::Published.as_str()))
        .add(posts::Column::PublishedAt.lte(now()))
}

fn filter_condition(filter: &PostFilter) -> Condition {
    match filter {
        PostFilter::All => Condition::all(),
        PostFilter::Terms(ids) => Condition::all().add(
            posts::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(post_terms::Column::PostId)
                    .from(post_terms::Entity)
                    .and_where(post_terms::Column::TermId.is_in(ids.iter().copied()))
                    .to_owned(),
            ),
        ),
        PostFilter::Author(id) => Condition::all().add(posts::Column::AuthorId.eq(*id)),
        PostFilter::Published { from, until } => Condition::all()
            .add(posts::Column::PublishedAt.gte(normalize_time(*from)))
            .add(posts::Column::PublishedAt.lt(normalize_time(*until))),
    }
}

async fn slug_taken<C: ConnectionTrait>(db: &C, kind: PostKind, slug: &Slug) -> Result<bool> {
    Ok(posts::Entity::find()
        .filter(posts::Column::Kind.eq(kind.as_str()))
        .filter(posts::Column::Slug.eq(slug.as_str()))
        .one(db)
        .await?
        .is_some())
}

async fn free_slug<C: ConnectionTrait>(db: &C, kind: PostKind, base: &Slug) -> Result<Slug> {
    for n in 1..10_000 {
        let candidate = if n == 1 {
            base.clone()
        } else {
            numbered(base, n)
        };
        if !slug_taken(db, kind, &candidate).await? {
            return Ok(candidate);
        }
    }
    Err(StorageError::DuplicateSlug {
        kind: kind.as_str(),
        slug: base.to_string(),
    })
}

/// What a link to a post needs: kind, slug, title, published and created times.
type LinkRow = (
    String,
    String,
    String,
    Option<OffsetDateTime>,
    OffsetDateTime,
);

/// A link's columns with the post's id first and its parent page's id last.
type IdentifiedLinkRow = (
    i64,
    String,
    String,
    String,
    Option<OffsetDateTime>,
    OffsetDateTime,
    Option<i64>,
);

/// Selects only a link's columns, not the post's body.
fn link_columns(
    query: sea_orm::Select<posts::Entity>,
) -> sea_orm::Selector<sea_orm::SelectGetableTuple<LinkRow>> {
    query
        .select_only()
        .columns([
            posts::Column::Kind,
            posts::Column::Slug,
            posts::Column::Title,
            posts::Column::PublishedAt,
            posts::Column::CreatedAt,
        ])
        .into_tuple::<LinkRow>()
}

fn link_of(
    zone: &SiteZone,
    (kind, slug, title, published_at, created_at): LinkRow,
) -> Result<PostLink> {
    let kind = parse_kind(&kind)?;
    let slug = parse_slug(&slug)?;
    Ok(PostLink {
        path: permalink(kind, &slug, zone.local(published_at.unwrap_or(created_at))),
        title,
    })
}

fn parse_kind(raw: &str) -> Result<PostKind> {
    PostKind::parse(raw).ok_or_else(|| StorageError::unexpected("posts", "kind", raw))
}

fn parse_status(raw: &str) -> Result<PostStatus> {
    PostStatus::parse(raw).ok_or_else(|| StorageError::unexpected("posts", "status", raw))
}

fn parse_slug(raw: &str) -> Result<Slug> {
    Slug::parse(raw).map_err(|_| StorageError::unexpected("posts", "slug", raw))
}
