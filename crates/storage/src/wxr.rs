//! What a WordPress export (WXR) of the site is made of: the authors of posts, every
//! category and tag, and the posts and pages with their terms and whole comment threads
//! (held, spam and deleted ones too: WordPress keeps them in the same states). Read in
//! batches of posts, with one query each for the batch's terms and comments, so that the
//! writer holds one batch at a time.

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, Statement};
use time::OffsetDateTime;

use crate::{Result, Store};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WxrAuthor {
    pub id: i64,
    /// The author's slug: WordPress's `user_login` and `dc:creator`.
    pub login: String,
    pub email: Option<String>,
    pub display_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WxrTerm {
    pub id: i64,
    /// `category` or `tag`.
    pub taxonomy: String,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub parent_slug: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WxrPost {
    pub id: i64,
    /// `post` or `page`.
    pub kind: String,
    pub slug: String,
    pub title: String,
    /// The title's inline markup, when it came with some.
    pub title_html: Option<String>,
    pub html: String,
    pub excerpt: String,
    /// `draft`, `scheduled` or `published`.
    pub status: String,
    pub published_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub author_login: String,
    pub comments_open: bool,
    pub featured_image: Option<String>,
    pub trashed: bool,
    /// `wp:post_password`, as written (WordPress exports it in plain text too).
    pub password: Option<String>,
    /// `wp:post_parent`: a page's parent page.
    pub parent_id: Option<i64>,
    /// The slugs of a page's parents, outermost first, for its `link`.
    pub ancestors: Vec<String>,
    /// `wp:is_sticky`.
    pub sticky: bool,
    /// Addresses it answered at before (an earlier slug or date, an imported site's links),
    /// which redirect to it: carried as postmeta so that they survive a move.
    pub old_addresses: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WxrPostTerm {
    pub taxonomy: String,
    pub slug: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WxrComment {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub user_id: Option<i64>,
    pub author_name: String,
    pub author_email: Option<String>,
    pub author_url: Option<String>,
    pub author_ip: Option<String>,
    pub html: String,
    /// `pending`, `approved`, `spam` or `trash`.
    pub status: String,
    pub deleted: bool,
    pub created_at: OffsetDateTime,
}

impl Store {
    /// Users who wrote at least one post or page.
    pub async fn wxr_authors(&self) -> Result<Vec<WxrAuthor>> {
        let rows = self
            .db
            .query_all_raw(Statement::from_string(
                self.db_backend(),
                "SELECT id, slug, email, display_name FROM users \
                 WHERE id IN (SELECT author_id FROM posts) ORDER BY id",
            ))
            .await?;
        rows.into_iter()
            .map(|row| {
                Ok(WxrAuthor {
                    id: row.try_get("", "id")?,
                    login: row.try_get("", "slug")?,
                    email: row.try_get("", "email")?,
                    display_name: row.try_get("", "display_name")?,
                })
            })
            .collect()
    }

    /// Every category and tag, each category after its parent (WordPress's importer looks a
    /// parent up by its slug when it meets the child).
    pub async fn wxr_terms(&self) -> Result<Vec<WxrTerm>> {
        let rows = self
            .db
            .query_all_raw(Statement::from_string(
                self.db_backend(),
                "SELECT t.id, t.taxonomy, t.slug, t.name, t.description, p.slug AS parent_slug \
                 FROM terms t LEFT JOIN terms p ON p.id = t.parent_id ORDER BY t.taxonomy, t.id",
            ))
            .await?;
        let mut pending: Vec<WxrTerm> = rows
            .into_iter()
            .map(|row| {
                Ok(WxrTerm {
                    id: row.try_get("", "id")?,
                    taxonomy: row.try_get("", "taxonomy")?,
                    slug: row.try_get("", "slug")?,
                    name: row.try_get("", "name")?,
                    description: row.try_get("", "description")?,
                    parent_slug: row.try_get("", "parent_slug")?,
                })
            })
            .collect::<Result<_>>()?;
        let mut ordered: Vec<WxrTerm> = Vec::with_capacity(pending.len());
        while !pending.is_empty() {
            let before = pending.len();
            let mut index = 0;
            while index < pending.len() {
                let term = &pending[index];
                let parent_placed = match &term.parent_slug {
                    None => true,
                    Some(parent) => ordered
                        .iter()
                        .any(|t| t.taxonomy == term.taxonomy && &t.slug == parent),
                };
                if parent_placed {
                    ordered.push(pending.remove(index));
                } else {
                    index += 1;
                }
            }
            // A parent that cannot be placed (a loop): keep the rest in id order.
            if pending.len() == before {
                ordered.append(&mut pending);
            }
        }
        Ok(ordered)
    }

    /// Up to `limit` posts and pages (every status, trashed ones too) with ids above `after`.
    pub async fn wxr_posts(&self, after: i64, limit: u64) -> Result<Vec<WxrPost>> {
        let rows = self
            .rows(
                &format!(
                    "SELECT p.id, p.kind, p.slug, p.title, p.title_html, p.html, p.excerpt, p.status, \
                     p.published_at, p.created_at, p.updated_at, u.slug AS author_login, \
                     p.comments_open, p.featured_image, p.trashed_at, p.password, p.parent_id, p.sticky \
                     FROM posts p JOIN users u ON u.id = p.author_id \
                     WHERE p.id > $1 ORDER BY p.id LIMIT {limit}"
                ),
                vec![after.into()],
            )
            .await?;
        let mut old_addresses: HashMap<i64, Vec<String>> = HashMap::new();
        if let Some(last) = rows.last() {
            let through: i64 = last.try_get("", "id")?;
            for row in self
                .rows(
                    "SELECT post_id, old_path FROM slug_redirects \
                     WHERE post_id > $1 AND post_id <= $2 ORDER BY old_path",
                    vec![after.into(), through.into()],
                )
                .await?
            {
                old_addresses
                    .entry(row.try_get("", "post_id")?)
                    .or_default()
                    .push(row.try_get("", "old_path")?);
            }
        }
        let tree = crate::posts::PageTree::load(&self.db).await?;
        rows.into_iter()
            .map(|row| {
                let trashed_at: Option<OffsetDateTime> = row.try_get("", "trashed_at")?;
                let id: i64 = row.try_get("", "id")?;
                let parent_id: Option<i64> = row.try_get("", "parent_id")?;
                let password: Option<String> = row.try_get("", "password")?;
                Ok(WxrPost {
                    old_addresses: old_addresses.remove(&id).unwrap_or_default(),
                    id,
                    kind: row.try_get("", "kind")?,
                    slug: row.try_get("", "slug")?,
                    title: row.try_get("", "title")?,
                    title_html: row.try_get("", "title_html")?,
                    html: row.try_get("", "html")?,
                    excerpt: row.try_get("", "excerpt")?,
                    status: row.try_get("", "status")?,
                    published_at: row.try_get("", "published_at")?,
                    created_at: row.try_get("", "created_at")?,
                    updated_at: row.try_get("", "updated_at")?,
                    author_login: row.try_get("", "author_login")?,
                    comments_open: row.try_get("", "comments_open")?,
                    featured_image: row.try_get("", "featured_image")?,
                    trashed: trashed_at.is_some(),
                    password: folio_domain::posts::normalize_password(password.as_deref()),
                    ancestors: tree
                        .ancestors(parent_id)
                        .into_iter()
                        .map(|s| s.as_str().to_owned())
                        .collect(),
                    parent_id,
                    sticky: row.try_get("", "sticky")?,
                })
            })
            .collect()
    }

    /// The categories and tags of the posts with ids in `(after, through]` (one batch of
    /// `wxr_posts`), by post: one query for the batch, not one per post.
    pub async fn wxr_post_terms(
        &self,
        after: i64,
        through: i64,
    ) -> Result<HashMap<i64, Vec<WxrPostTerm>>> {
        let rows = self
            .rows(
                "SELECT pt.post_id, t.taxonomy, t.slug, t.name \
                 FROM post_terms pt JOIN terms t ON t.id = pt.term_id \
                 WHERE pt.post_id > $1 AND pt.post_id <= $2 ORDER BY pt.post_id, t.taxonomy, t.slug",
                vec![after.into(), through.into()],
            )
            .await?;
        let mut by_post: HashMap<i64, Vec<WxrPostTerm>> = HashMap::new();
        for row in rows {
            by_post
                .entry(row.try_get("", "post_id")?)
                .or_default()
                .push(WxrPostTerm {
                    taxonomy: row.try_get("", "taxonomy")?,
                    slug: row.try_get("", "slug")?,
                    name: row.try_get("", "name")?,
                });
        }
        Ok(by_post)
    }

    /// Every comment on the posts with ids in `(after, through]`, by post, oldest first,
    /// with the signed-in author's address.
    pub async fn wxr_comments(
        &self,
        after: i64,
        through: i64,
    ) -> Result<HashMap<i64, Vec<WxrComment>>> {
        let rows = self
            .rows(
                "SELECT c.post_id, c.id, c.parent_id, c.author_id, c.author_name, u.email AS author_email, \
                 c.author_url, c.author_ip, c.html, c.status, c.deleted_at, c.created_at \
                 FROM comments c LEFT JOIN users u ON u.id = c.author_id \
                 WHERE c.post_id > $1 AND c.post_id <= $2 ORDER BY c.post_id, c.id",
                vec![after.into(), through.into()],
            )
            .await?;
        let mut by_post: HashMap<i64, Vec<WxrComment>> = HashMap::new();
        for row in rows {
            let deleted_at: Option<OffsetDateTime> = row.try_get("", "deleted_at")?;
            by_post
                .entry(row.try_get("", "post_id")?)
                .or_default()
                .push(WxrComment {
                    id: row.try_get("", "id")?,
                    parent_id: row.try_get("", "parent_id")?,
                    user_id: row.try_get("", "author_id")?,
                    author_name: row.try_get("", "author_name")?,
                    author_email: row.try_get("", "author_email")?,
                    author_url: row.try_get("", "author_url")?,
                    author_ip: row.try_get("", "author_ip")?,
                    html: row.try_get("", "html")?,
                    status: row.try_get("", "status")?,
                    deleted: deleted_at.is_some(),
                    created_at: row.try_get("", "created_at")?,
                });
        }
        Ok(by_post)
    }

    /// The largest post id: attachments in a WXR file take ids above it.
    pub async fn wxr_max_post_id(&self) -> Result<i64> {
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                self.db_backend(),
                "SELECT COALESCE(MAX(id), 0) AS n FROM posts",
            ))
            .await?;
        Ok(match row {
            Some(row) => row.try_get("", "n")?,
            None => 0,
        })
    }
}
