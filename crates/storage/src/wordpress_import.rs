//! Writing a WordPress export into the database: one transaction for the whole import (a
//! file that turns out broken halfway leaves the database as it was), rows inserted in
//! batches, and every imported row remembered in `import_sources` with the id it had in
//! WordPress, so that importing the same export again adds nothing and a later export of the
//! same site adds only what is new.

use std::collections::{HashMap, HashSet, VecDeque};

use folio_domain::markdown::{excerpt, render_post, sanitize_comment_html};
use folio_domain::posts::permalink;
use folio_domain::slug::percent_decode;
use folio_domain::wordpress::markup::comment_paragraphs;
use folio_domain::{CommentStatus, PostKind, PostStatus, Role, Slug, Taxonomy};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement, Value};
use time::OffsetDateTime;

use crate::raw::insert_rows_sql;
use crate::site::bump_content_version;
use crate::users::numbered;
use crate::{Result, StorageError, Store, normalize_time, now};

/// Rows per multi-row INSERT: well under SQLite's limit of bound values with the widest
/// table (posts, 15 columns).
const POST_BATCH: usize = 200;
const COMMENT_BATCH: usize = 1000;

/// A post or page, ready to be written.
#[derive(Debug, Clone)]
pub struct ImportedPost {
    /// 0 when the export gave none.
    pub wordpress_id: i64,
    /// What finds the post again in a later import of the same site
    /// (`folio_domain::wordpress::WxrItem::source_key`).
    pub source_key: String,
    pub kind: PostKind,
    pub status: PostStatus,
    /// Plain text.
    pub title: String,
    /// The title's inline markup, sanitized, when it has any.
    pub title_html: Option<String>,
    /// WordPress's slug (`post_name`), possibly empty or percent-encoded.
    pub slug: String,
    /// Clean HTML laid out for the Markdown renderer (see `folio_domain::wordpress::markup`).
    pub source: String,
    /// The author's own excerpt, as plain text; empty for the one made from the text.
    pub excerpt: String,
    pub published_at: Option<OffsetDateTime>,
    pub modified_at: Option<OffsetDateTime>,
    /// The author's WordPress login.
    pub author_login: String,
    pub comments_open: bool,
    pub featured_image: Option<String>,
    /// `(taxonomy, slug, name)` with taxonomy `category` or `post_tag`.
    pub terms: Vec<(String, String, String)>,
    /// The path WordPress served it at, when it had a pretty one.
    pub old_path: Option<String>,
    /// Earlier slugs (`_wp_old_slug`, possibly percent-encoded): the post's permalink with
    /// each of them redirects to it, as in WordPress.
    pub old_slugs: Vec<String>,
    /// Earlier addresses, whole (`_folio_old_address`, written by Folio's own WXR export).
    pub old_addresses: Vec<String>,
    pub comments: Vec<ImportedComment>,
    /// `wp:post_password`; empty: none.
    pub password: String,
    /// `wp:post_parent`: the WordPress id of a page's parent page; 0: none.
    pub parent: i64,
    /// `wp:is_sticky`.
    pub sticky: bool,
}

#[derive(Debug, Clone)]
pub struct ImportedComment {
    /// 0 when the export gave none.
    pub wordpress_id: i64,
    /// 0 for a top-level comment.
    pub parent: i64,
    pub author_name: String,
    pub author_email: String,
    pub author_url: String,
    pub author_ip: String,
    /// WordPress's user id when a registered user wrote it.
    pub wordpress_user_id: i64,
    pub created_at: Option<OffsetDateTime>,
    /// The comment as WordPress stored it (HTML allowed, paragraphs by blank lines).
    pub content: String,
    pub status: CommentStatus,
}

#[derive(Debug, Clone)]
pub struct ImportedTerm {
    pub wordpress_id: Option<i64>,
    pub taxonomy: Taxonomy,
    pub slug: String,
    pub name: String,
    pub description: String,
    /// The parent category's slug.
    pub parent: String,
}

#[derive(Debug, Clone)]
pub struct ImportedAuthor {
    pub wordpress_id: Option<i64>,
    pub login: String,
    pub email: String,
    pub display_name: String,
}

/// What an import added, and what it found already there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub posts: u64,
    pub pages: u64,
    pub comments: u64,
    pub authors: u64,
    pub commenters: u64,
    pub terms: u64,
    pub redirects: u64,
    /// Posts, pages and comments imported before (by an earlier run of the same export).
    pub already_there: u64,
    /// Pages whose parent page is not in the export (nor imported before): they stand at
    /// the top of the menu instead.
    pub parents_missing: u64,
}

/// Ids handed out inside the import's transaction, so that rows can be inserted many at a
/// time and still point at each other.
struct IdBlock {
    table: &'static str,
    ready: VecDeque<i64>,
    next_sqlite: Option<i64>,
}

impl IdBlock {
    fn new(table: &'static str) -> Self {
        IdBlock {
            table,
            ready: VecDeque::new(),
            next_sqlite: None,
        }
    }

    async fn next(&mut self, txn: &DatabaseTransaction) -> Result<i64> {
        let backend = txn.get_database_backend();
        if backend == DbBackend::Postgres {
            if self.ready.is_empty() {
                // nextval keeps other writers (a live site) clear of these ids.
                let sql = format!(
                    "SELECT nextval(pg_get_serial_sequence('{}', 'id')) AS id FROM generate_series(1, 1000)",
                    self.table
                );
                for row in txn
                    .query_all_raw(Statement::from_string(backend, sql))
                    .await?
                {
                    self.ready.push_back(row.try_get("", "id")?);
                }
            }
            return self
                .ready
                .pop_front()
                .ok_or_else(|| StorageError::unexpected(self.table, "id", "no id from sequence"));
        }
        // SQLite: the transaction already holds the write lock (the content version was
        // bumped first), so nobody else takes an id meanwhile. AUTOINCREMENT's counter is
        // respected so that deleted ids are not reused.
        let next = match self.next_sqlite {
            Some(next) => next,
            None => {
                let sql = format!(
                    "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '{0}'), 0), \
                     COALESCE((SELECT MAX(id) FROM {0}), 0)) + 1 AS id",
                    self.table
                );
                txn.query_one_raw(Statement::from_string(backend, sql))
                    .await?
                    .map(|row| row.try_get::<i64>("", "id"))
                    .transpose()?
                    .unwrap_or(1)
            }
        };
        self.next_sqlite = Some(next + 1);
        Ok(next)
    }
}

/// Rows waiting for their multi-row INSERT.
struct Pending {
    table: &'static str,
    columns: &'static [&'static str],
    ignore_conflicts: bool,
    rows: Vec<Vec<Value>>,
}

impl Pending {
    fn new(table: &'static str, columns: &'static [&'static str], ignore_conflicts: bool) -> Self {
        Pending {
            table,
            columns,
            ignore_conflicts,
            rows: Vec::new(),
        }
    }

    async fn flush(&mut self, txn: &DatabaseTransaction) -> Result<u64> {
        if self.rows.is_empty() {
            return Ok(0);
        }
        let backend = txn.get_database_backend();
        let width = self.columns.len();
        // Bound values per statement stay under SQLite's 32766.
        let per_statement = (30_000 / width).max(1);
        let mut written = 0;
        for chunk in std::mem::take(&mut self.rows).chunks(per_statement) {
            let mut sql = insert_rows_sql(backend, self.table, self.columns, chunk.len());
            let values: Vec<Value> = chunk.iter().flatten().cloned().collect();
            if self.ignore_conflicts {
                sql.push_str(" ON CONFLICT DO NOTHING");
            }
            written += txn
                .execute_raw(Statement::from_sql_and_values(backend, sql, values))
                .await?
                .rows_affected();
        }
        Ok(written)
    }
}

const POST_COLUMNS: &[&str] = &[
    "id",
    "kind",
    "slug",
    "title",
    "source",
    "html",
    "plain_text",
    "excerpt",
    "status",
    "published_at",
    "created_at",
    "updated_at",
    "author_id",
    "comments_open",
    "featured_image",
    "title_html",
    "password",
    "sticky",
];
const COMMENT_COLUMNS: &[&str] = &[
    "id",
    "post_id",
    "parent_id",
    "author_id",
    "author_name",
    "author_url",
    "source",
    "html",
    "status",
    "created_at",
    "updated_at",
    "author_ip",
    "keeps_author_name",
];

/// A post remembered under a shared address, with what shows whether it is this item.
#[derive(Debug, Clone)]
struct SharedPost {
    source: String,
    local_id: i64,
    kind: String,
    title: String,
    slug: String,
}

/// An import under way. Nothing is visible to the site until [`WordPressImport::finish`];
/// dropping it unfinished rolls everything back.
pub struct WordPressImport {
    txn: DatabaseTransaction,
    source: String,
    /// The address earlier releases used (`wp:base_site_url`), when it is not this one.
    shared_source: String,
    /// The site's time zone: an old address that is the post's own permalink needs no redirect.
    zone: folio_domain::schedule::SiteZone,
    touched: bool,
    /// By source key (the post id, for exports that have one).
    known_posts: HashMap<String, i64>,
    known_comments: HashMap<String, i64>,
    /// Posts and comments remembered under an address this site may share with others
    /// (see [`Store::begin_wordpress_import`]): taken only when they match.
    shared_posts: HashMap<String, SharedPost>,
    shared_comments: HashMap<String, (i64, i64)>,
    /// Keys met so far in this file, to tell apart items (and comments) that share one.
    /// How often each (kind, key) came up in this file: posts and comments are counted
    /// apart, since WordPress numbers them separately and their ids overlap.
    keys_in_file: HashMap<(&'static str, String), u32>,
    /// Users and terms, by `kind:external id`.
    known_other: HashMap<String, i64>,
    users_by_email: HashMap<String, i64>,
    user_slugs: HashSet<String>,
    post_slugs: HashSet<(String, String)>,
    terms_by_slug: HashMap<(String, String), i64>,
    /// WordPress user id → login, for comments written by registered users.
    author_logins: HashMap<i64, String>,
    unresolved_parents: Vec<(i64, String)>,
    /// Imported pages and their parent's WordPress id: resolved at the end, as a parent may
    /// come later in the file than its child.
    page_parents: Vec<(i64, i64)>,
    post_ids: IdBlock,
    comment_ids: IdBlock,
    posts: Pending,
    post_terms: Pending,
    comments: Pending,
    redirects: Pending,
    sources: Pending,
    counts: ImportCounts,
}

impl Store {
    /// Starts importing the export of the blog at `source` (its own address). Imports are
    /// remembered under that address. Earlier releases remembered them under
    /// `shared_source` (`wp:base_site_url`), which every blog on WordPress.com or on one
    /// multisite network shares: its users and terms are taken as they are, its posts and
    /// comments only where they match this export's, and those are then moved to `source`.
    pub async fn begin_wordpress_import(
        &self,
        source: &str,
        shared_source: &str,
    ) -> Result<WordPressImport> {
        let txn = self.begin_write().await?;
        let backend = txn.get_database_backend();
        let mut known_posts = HashMap::new();
        let mut known_comments = HashMap::new();
        let mut known_other = HashMap::new();
        let mut shared_posts = HashMap::new();
        let mut shared_comments = HashMap::new();
        // The same blog after a move from http to https is the same blog.
        let other_scheme = match source.split_once("://") {
            Some(("https", rest)) => format!("http://{rest}"),
            Some(("http", rest)) => format!("https://{rest}"),
            _ => source.to_owned(),
        };
        let own = [source.to_owned(), other_scheme];
        let shared = Some(shared_source.to_owned()).filter(|s| !own.contains(s));
        let placeholders = |from: usize, n: usize| match backend {
            DbBackend::Postgres => (from..from + n)
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", "),
            _ => vec!["?"; n].join(", "),
        };
        let sql = format!(
            "SELECT source, kind, external_id, local_id FROM import_sources WHERE source IN ({})",
            placeholders(1, 3)
        );
        let sources: Vec<Value> = vec![
            own[0].clone().into(),
            own[1].clone().into(),
            shared.clone().unwrap_or_default().into(),
        ];
        for row in txn
            .query_all_raw(Statement::from_sql_and_values(backend, sql, sources))
            .await?
        {
            let from: String = row.try_get("", "source")?;
            let kind: String = row.try_get("", "kind")?;
            let external: String = row.try_get("", "external_id")?;
            let local: i64 = row.try_get("", "local_id")?;
            let is_own = own.contains(&from);
            match kind.as_str() {
                // Earlier releases kept every item without a post id under "0": which
                // one it was is checked like a shared one.
                "post" if is_own && external != "0" => {
                    known_posts.insert(external, local);
                }
                "comment" if is_own => {
                    known_comments.insert(external, local);
                }
                "post" | "comment" => {}
                // Logins, email addresses and slugs mean the same on every blog of a host.
                _ => {
                    known_other.insert(format!("{kind}:{external}"), local);
                }
            }
        }
        let shared_sql = format!(
            "SELECT i.source, i.external_id, p.id, p.kind, p.title, p.slug FROM import_sources i \
             JOIN posts p ON p.id = i.local_id \
             WHERE i.kind = 'post' AND (i.source = {} OR (i.source IN ({}) AND i.external_id = '0'))",
            placeholders(1, 1),
            placeholders(2, 2)
        );
        for row in txn
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                shared_sql,
                [
                    shared.clone().unwrap_or_default().into(),
                    own[0].clone().into(),
                    own[1].clone().into(),
                ],
            ))
            .await?
        {
            shared_posts.insert(
                row.try_get::<String>("", "external_id")?,
                SharedPost {
                    source: row.try_get("", "source")?,
                    local_id: row.try_get("", "id")?,
                    kind: row.try_get("", "kind")?,
                    title: row.try_get("", "title")?,
                    slug: row.try_get("", "slug")?,
                },
            );
        }
        if let Some(shared) = &shared {
            let sql = format!(
                "SELECT i.external_id, c.id, c.post_id FROM import_sources i \
                 JOIN comments c ON c.id = i.local_id WHERE i.kind = 'comment' AND i.source = {}",
                placeholders(1, 1)
            );
            for row in txn
                .query_all_raw(Statement::from_sql_and_values(
                    backend,
                    sql,
                    [shared.clone().into()],
                ))
                .await?
            {
                shared_comments.insert(
                    row.try_get::<String>("", "external_id")?,
                    (row.try_get("", "id")?, row.try_get("", "post_id")?),
                );
            }
        }
        let mut users_by_email = HashMap::new();
        let mut user_slugs = HashSet::new();
        for row in txn
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT id, slug, email FROM users",
            ))
            .await?
        {
            let id: i64 = row.try_get("", "id")?;
            user_slugs.insert(row.try_get::<String>("", "slug")?);
            if let Some(email) = row.try_get::<Option<String>>("", "email")? {
                users_by_email.entry(email.to_lowercase()).or_insert(id);
            }
        }
        let mut post_slugs = HashSet::new();
        for row in txn
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT kind, slug FROM posts",
            ))
            .await?
        {
            post_slugs.insert((row.try_get("", "kind")?, row.try_get("", "slug")?));
        }
        let mut terms_by_slug = HashMap::new();
        for row in txn
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT id, taxonomy, slug FROM terms",
            ))
            .await?
        {
            terms_by_slug.insert(
                (row.try_get("", "taxonomy")?, row.try_get("", "slug")?),
                row.try_get("", "id")?,
            );
        }
        Ok(WordPressImport {
            txn,
            source: source.to_owned(),
            shared_source: shared.clone().unwrap_or_default(),
            zone: self.zone.clone(),
            touched: false,
            known_posts,
            known_comments,
            shared_posts,
            shared_comments,
            keys_in_file: HashMap::new(),
            known_other,
            users_by_email,
            user_slugs,
            post_slugs,
            terms_by_slug,
            author_logins: HashMap::new(),
            unresolved_parents: Vec::new(),
            page_parents: Vec::new(),
            post_ids: IdBlock::new("posts"),
            comment_ids: IdBlock::new("comments"),
            posts: Pending::new("posts", POST_COLUMNS, false),
            post_terms: Pending::new("post_terms", &["post_id", "term_id"], true),
            comments: Pending::new("comments", COMMENT_COLUMNS, false),
            redirects: Pending::new(
                "slug_redirects",
                &["old_path", "post_id", "term_id", "created_at"],
                true,
            ),
            sources: Pending::new(
                "import_sources",
                &["source", "kind", "external_id", "local_id", "created_at"],
                true,
            ),
            counts: ImportCounts::default(),
        })
    }
}

impl WordPressImport {
    /// The first write takes SQLite's write lock (ids are counted from there) and tells every
    /// server process that the content changed.
    async fn touch(&mut self) -> Result<()> {
        if !self.touched {
            bump_content_version(&self.txn).await?;
            self.touched = true;
        }
        Ok(())
    }

    fn remember(&mut self, kind: &str, external_id: String, local_id: i64) {
        self.sources.rows.push(vec![
            self.source.clone().into(),
            kind.into(),
            external_id.into(),
            local_id.into(),
            now().into(),
        ]);
    }

    /// Old addresses are kept decoded (`/2019/04/επίπεδο/`), as lookups decode what browsers
    /// send, whatever case the export's percent-encoding had.
    fn redirect(&mut self, old_path: String, post_id: Option<i64>, term_id: Option<i64>) {
        self.redirects.rows.push(vec![
            percent_decode(&old_path).into(),
            post_id.into(),
            term_id.into(),
            now().into(),
        ]);
        self.counts.redirects += 1;
    }

    fn free_user_slug(&mut self, base: &Slug) -> Slug {
        let mut candidate = base.clone();
        let mut n = 2;
        while self.user_slugs.contains(candidate.as_str()) {
            candidate = numbered(base, n);
            n += 1;
        }
        self.user_slugs.insert(candidate.as_str().to_owned());
        candidate
    }

    async fn insert_user(
        &mut self,
        display_name: &str,
        slug_base: &Slug,
        email: Option<String>,
        role: Role,
    ) -> Result<i64> {
        self.touch().await?;
        let slug = self.free_user_slug(slug_base);
        let backend = self.txn.get_database_backend();
        let sql = match backend {
            DbBackend::Postgres => {
                "INSERT INTO users (slug, display_name, email, bio, role, created_at) VALUES ($1, $2, $3, '', $4, $5) RETURNING id"
            }
            _ => {
                "INSERT INTO users (slug, display_name, email, bio, role, created_at) VALUES (?, ?, ?, '', ?, ?) RETURNING id"
            }
        };
        let row = self
            .txn
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                sql,
                [
                    slug.as_str().into(),
                    display_name.into(),
                    email.clone().into(),
                    role.as_str().into(),
                    now().into(),
                ],
            ))
            .await?
            .ok_or_else(|| StorageError::unexpected("users", "id", "no id returned"))?;
        let id: i64 = row.try_get("", "id")?;
        if let Some(email) = email {
            self.users_by_email.insert(email.to_lowercase(), id);
        }
        Ok(id)
    }

    /// A WordPress author becomes an author here, or is matched to the user who already has
    /// their email address.
    pub async fn add_author(&mut self, author: &ImportedAuthor) -> Result<i64> {
        if let Some(wordpress_id) = author.wordpress_id {
            self.author_logins
                .insert(wordpress_id, author.login.clone());
        }
        let key = format!("user:login:{}", author.login);
        if let Some(&id) = self.known_other.get(&key) {
            return Ok(id);
        }
        let email = Some(author.email.trim().to_owned()).filter(|e| e.contains('@'));
        let existing = email
            .as_ref()
            .and_then(|e| self.users_by_email.get(&e.to_lowercase()).copied());
        let id = match existing {
            Some(id) => id,
            None => {
                let name = if author.display_name.trim().is_empty() {
                    author.login.as_str()
                } else {
                    author.display_name.trim()
                };
                let base = Slug::from_title(&author.login, "author");
                self.counts.authors += 1;
                self.insert_user(name, &base, email, Role::Author).await?
            }
        };
        self.touch().await?;
        self.known_other.insert(key, id);
        self.remember("user", format!("login:{}", author.login), id);
        Ok(id)
    }

    /// A category or tag, matched by slug to one that already exists.
    pub async fn add_term(&mut self, term: &ImportedTerm) -> Result<i64> {
        let decoded = percent_decode(term.slug.trim());
        let slug = Slug::parse(&decoded)
            .unwrap_or_else(|_| Slug::from_title(&term.name, term.taxonomy.as_str()));
        let key = (term.taxonomy.as_str().to_owned(), slug.as_str().to_owned());
        let id = match self.terms_by_slug.get(&key) {
            Some(&id) => id,
            None => {
                self.touch().await?;
                let name = if term.name.trim().is_empty() {
                    slug.as_str()
                } else {
                    term.name.trim()
                };
                let backend = self.txn.get_database_backend();
                let sql = match backend {
                    DbBackend::Postgres => {
                        "INSERT INTO terms (taxonomy, slug, name, description) VALUES ($1, $2, $3, $4) RETURNING id"
                    }
                    _ => {
                        "INSERT INTO terms (taxonomy, slug, name, description) VALUES (?, ?, ?, ?) RETURNING id"
                    }
                };
                let row = self
                    .txn
                    .query_one_raw(Statement::from_sql_and_values(
                        backend,
                        sql,
                        [
                            term.taxonomy.as_str().into(),
                            slug.as_str().into(),
                            name.into(),
                            term.description.clone().into(),
                        ],
                    ))
                    .await?
                    .ok_or_else(|| StorageError::unexpected("terms", "id", "no id returned"))?;
                let id: i64 = row.try_get("", "id")?;
                self.terms_by_slug.insert(key, id);
                self.counts.terms += 1;
                if term.taxonomy == Taxonomy::Category && !term.parent.trim().is_empty() {
                    self.unresolved_parents
                        .push((id, term.parent.trim().to_owned()));
                }
                if let Some(wordpress_id) = term.wordpress_id {
                    let query = match term.taxonomy {
                        Taxonomy::Category => format!("/?cat={wordpress_id}"),
                        Taxonomy::Tag => format!("/?tag={decoded}"),
                    };
                    self.redirect(query, None, Some(id));
                }
                self.remember("term", format!("{}:{}", term.taxonomy.as_str(), slug), id);
                id
            }
        };
        Ok(id)
    }

    async fn term_for_item(
        &mut self,
        taxonomy: &str,
        slug: &str,
        name: &str,
    ) -> Result<Option<i64>> {
        let taxonomy = match taxonomy {
            "category" => Taxonomy::Category,
            "post_tag" => Taxonomy::Tag,
            _ => return Ok(None),
        };
        self.add_term(&ImportedTerm {
            wordpress_id: None,
            taxonomy,
            slug: slug.to_owned(),
            name: name.to_owned(),
            description: String::new(),
            parent: String::new(),
        })
        .await
        .map(Some)
    }

    async fn author_id(&mut self, login: &str) -> Result<i64> {
        let key = format!("user:login:{login}");
        if let Some(&id) = self.known_other.get(&key) {
            return Ok(id);
        }
        // An item by an author the header did not list.
        self.add_author(&ImportedAuthor {
            wordpress_id: None,
            login: if login.is_empty() {
                "wordpress".to_owned()
            } else {
                login.to_owned()
            },
            email: String::new(),
            display_name: login.to_owned(),
        })
        .await
    }

    /// A commenter is a guest: a user with no way to sign in, until someone signs in with a
    /// verified address equal to theirs and so takes the account (and these comments) over.
    async fn commenter_id(&mut self, comment: &ImportedComment) -> Result<Option<i64>> {
        if comment.wordpress_user_id != 0
            && let Some(login) = self.author_logins.get(&comment.wordpress_user_id).cloned()
        {
            return self.author_id(&login).await.map(Some);
        }
        let email = comment.author_email.trim().to_lowercase();
        let name = comment.author_name.trim();
        if email.is_empty() && name.is_empty() {
            return Ok(None);
        }
        if email.contains('@')
            && let Some(&id) = self.users_by_email.get(&email)
        {
            return Ok(Some(id));
        }
        let key = if email.contains('@') {
            format!("email:{email}")
        } else {
            format!("name:{}", name.to_lowercase())
        };
        if let Some(&id) = self.known_other.get(&format!("user:{key}")) {
            return Ok(Some(id));
        }
        let display = if name.is_empty() { "Anonymous" } else { name };
        let id = self
            .insert_user(
                display,
                &Slug::from_title(display, "reader"),
                Some(email).filter(|e| e.contains('@')),
                Role::Reader,
            )
            .await?;
        self.counts.commenters += 1;
        self.known_other.insert(format!("user:{key}"), id);
        self.remember("user", key, id);
        Ok(Some(id))
    }

    fn free_post_slug(&mut self, kind: PostKind, base: &Slug) -> Slug {
        let mut candidate = base.clone();
        let mut n = 2;
        while self
            .post_slugs
            .contains(&(kind.as_str().to_owned(), candidate.as_str().to_owned()))
        {
            candidate = numbered(base, n);
            n += 1;
        }
        self.post_slugs
            .insert((kind.as_str().to_owned(), candidate.as_str().to_owned()));
        candidate
    }

    /// Adds a post with its terms, redirects and comments; for a post imported before, adds
    /// only the comments that are new.
    pub async fn add_post(&mut self, post: ImportedPost) -> Result<()> {
        let key = self.distinct_key("post", &post.source_key);
        let post_id = match self.known_post(&key, &post).await? {
            Some(id) => {
                self.counts.already_there += 1;
                id
            }
            None => self.insert_post(&post, &key).await?,
        };
        // WordPress's comment ids are unique in a site, and earlier releases kept them as
        // they are. An export without post ids may number comments per post: those are
        // kept inside their post's key.
        let scope = (post.wordpress_id <= 0).then_some(key.as_str());
        self.add_comments(post_id, &key, scope, post.comments)
            .await?;
        if self.comments.rows.len() >= COMMENT_BATCH || self.posts.rows.len() >= POST_BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    /// The key itself the first time this file uses it, then `key#2`, `key#3`: items that
    /// share a key are still different items, told apart by their order in the file.
    fn distinct_key(&mut self, kind: &'static str, key: &str) -> String {
        let seen = self.keys_in_file.entry((kind, key.to_owned())).or_insert(0);
        *seen += 1;
        if *seen == 1 {
            key.to_owned()
        } else {
            format!("{key}#{seen}")
        }
    }

    /// The post this item became in an earlier import, if any.
    async fn known_post(&mut self, key: &str, post: &ImportedPost) -> Result<Option<i64>> {
        if let Some(&id) = self.known_posts.get(key) {
            return Ok(Some(id));
        }
        let earlier_key = if post.wordpress_id > 0 {
            key.to_owned()
        } else {
            "0".to_owned()
        };
        let Some(candidate) = self.shared_posts.get(&earlier_key) else {
            return Ok(None);
        };
        let slug = percent_decode(&post.slug).to_lowercase();
        let title = post.title.trim();
        let same = candidate.kind == post.kind.as_str()
            && ((!title.is_empty() && candidate.title == title)
                || (!slug.is_empty() && candidate.slug == slug));
        if !same {
            return Ok(None);
        }
        let Some(candidate) = self.shared_posts.remove(&earlier_key) else {
            return Ok(None);
        };
        self.adopt("post", &candidate.source, &earlier_key, key)
            .await?;
        self.known_posts.insert(key.to_owned(), candidate.local_id);
        Ok(Some(candidate.local_id))
    }

    /// Moves what an earlier release remembered under another address (or key) to this
    /// site's address and key.
    async fn adopt(&mut self, kind: &str, from: &str, earlier_key: &str, key: &str) -> Result<()> {
        self.touch().await?;
        let backend = self.txn.get_database_backend();
        let sql = match backend {
            DbBackend::Postgres => {
                "UPDATE import_sources SET source = $1, external_id = $2 WHERE source = $3 AND kind = $4 AND external_id = $5"
            }
            _ => {
                "UPDATE import_sources SET source = ?, external_id = ? WHERE source = ? AND kind = ? AND external_id = ?"
            }
        };
        self.txn
            .execute_raw(Statement::from_sql_and_values(
                backend,
                sql,
                [
                    self.source.clone().into(),
                    key.into(),
                    from.into(),
                    kind.into(),
                    earlier_key.into(),
                ],
            ))
            .await?;
        Ok(())
    }

    async fn insert_post(&mut self, post: &ImportedPost, key: &str) -> Result<i64> {
        self.touch().await?;
        let author_id = self.author_id(&post.author_login).await?;
        let id = self.post_ids.next(&self.txn).await?;
        let decoded = percent_decode(&post.slug);
        let base = if decoded.trim().is_empty() {
            Slug::from_title(&post.title, post.kind.as_str())
        } else {
            Slug::parse(&decoded).unwrap_or_else(|_| Slug::from_title(&decoded, post.kind.as_str()))
        };
        let slug = self.free_post_slug(post.kind, &base);
        let rendered = render_post(&post.source);
        let made_excerpt = excerpt(&rendered.plain_text);
        let custom = post
            .excerpt
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let at = now();
        let published_at = post.published_at.map(normalize_time);
        let updated_at = post
            .modified_at
            .or(published_at)
            .map(normalize_time)
            .unwrap_or(at);
        let created_at = published_at.unwrap_or(updated_at);
        // An untitled post stays untitled (WordPress allows it); lists say "(no title)".
        let title = post.title.trim().to_owned();
        self.posts.rows.push(vec![
            id.into(),
            post.kind.as_str().into(),
            slug.as_str().into(),
            title.into(),
            post.source.clone().into(),
            rendered.html.into(),
            rendered.plain_text.into(),
            if custom.is_empty() {
                made_excerpt
            } else {
                custom
            }
            .into(),
            post.status.as_str().into(),
            published_at.into(),
            created_at.into(),
            updated_at.into(),
            author_id.into(),
            post.comments_open.into(),
            post.featured_image.clone().into(),
            post.title_html.clone().into(),
            folio_domain::posts::normalize_password(Some(&post.password)).into(),
            (post.sticky && post.kind == PostKind::Post).into(),
        ]);
        if post.kind == PostKind::Page && post.parent > 0 {
            self.page_parents.push((id, post.parent));
        }
        match post.kind {
            PostKind::Post => self.counts.posts += 1,
            PostKind::Page => self.counts.pages += 1,
        }
        let mut term_ids = Vec::new();
        for (taxonomy, slug, name) in &post.terms {
            if let Some(term) = self.term_for_item(taxonomy, slug, name).await? {
                term_ids.push(term);
            }
        }
        term_ids.sort_unstable();
        term_ids.dedup();
        for term in term_ids {
            self.post_terms.rows.push(vec![id.into(), term.into()]);
        }
        let folio_path = permalink(
            post.kind,
            &slug,
            self.zone.local(published_at.unwrap_or(updated_at)),
        );
        if post.wordpress_id > 0 {
            self.redirect(format!("/?p={}", post.wordpress_id), Some(id), None);
            if post.kind == PostKind::Page {
                self.redirect(format!("/?page_id={}", post.wordpress_id), Some(id), None);
            }
        }
        let mut old_paths: Vec<String> = post
            .old_path
            .iter()
            .chain(&post.old_addresses)
            .map(|old| percent_decode(old))
            .collect();
        for old_slug in &post.old_slugs {
            if let Ok(old_slug) = Slug::parse(&percent_decode(old_slug)) {
                old_paths.push(permalink(
                    post.kind,
                    &old_slug,
                    self.zone.local(published_at.unwrap_or(updated_at)),
                ));
            }
        }
        old_paths.sort_unstable();
        old_paths.dedup();
        for old in old_paths {
            if old != folio_path && old.starts_with('/') && old != "/" {
                self.redirect(old, Some(id), None);
            }
        }
        self.known_posts.insert(key.to_owned(), id);
        self.remember("post", key.to_owned(), id);
        Ok(id)
    }

    /// A comment's key: WordPress's comment id, inside `scope` when there is one; a comment
    /// without an id is known by its post and date.
    fn comment_key(
        &mut self,
        post_key: &str,
        scope: Option<&str>,
        comment: &ImportedComment,
    ) -> String {
        let key = match (comment.wordpress_id, scope) {
            (id, None) if id > 0 => id.to_string(),
            (id, Some(scope)) if id > 0 => format!("{scope}#comment-{id}"),
            _ => format!(
                "{post_key}#comment@{}",
                comment.created_at.map_or(0, |at| at.unix_timestamp())
            ),
        };
        self.distinct_key("comment", &key)
    }

    /// Whether a comment came in before: remembered under this site, or under its shared
    /// address on this same post.
    async fn known_comment(&mut self, key: &str, post_id: i64) -> Result<bool> {
        if self.known_comments.contains_key(key) {
            return Ok(true);
        }
        match self.shared_comments.get(key) {
            Some(&(local, on_post)) if on_post == post_id => {
                self.shared_comments.remove(key);
                let from = self.shared_source.clone();
                self.adopt("comment", &from, key, key).await?;
                self.known_comments.insert(key.to_owned(), local);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn add_comments(
        &mut self,
        post_id: i64,
        post_key: &str,
        scope: Option<&str>,
        comments: Vec<ImportedComment>,
    ) -> Result<()> {
        // Keys of the comments' own ids, so that a reply finds its parent's key.
        let mut keys_by_id: HashMap<i64, String> = HashMap::new();
        let mut new: Vec<(String, ImportedComment)> = Vec::new();
        for comment in comments {
            let key = self.comment_key(post_key, scope, &comment);
            if comment.wordpress_id > 0 {
                keys_by_id
                    .entry(comment.wordpress_id)
                    .or_insert(key.clone());
            }
            if self.known_comment(&key, post_id).await? {
                self.counts.already_there += 1;
            } else {
                new.push((key, comment));
            }
        }
        if new.is_empty() {
            return Ok(());
        }
        self.touch().await?;
        // Parents before their replies, so that every reply finds its parent's id.
        let in_item: HashSet<i64> = new.iter().map(|(_, c)| c.wordpress_id).collect();
        let mut ordered: Vec<(String, ImportedComment)> = Vec::with_capacity(new.len());
        let mut waiting = new;
        let mut placed: HashSet<i64> = HashSet::new();
        while !waiting.is_empty() {
            let before = waiting.len();
            let (ready, rest): (Vec<_>, Vec<_>) = waiting.into_iter().partition(|(_, c)| {
                c.parent == 0 || !in_item.contains(&c.parent) || placed.contains(&c.parent)
            });
            for (key, comment) in ready {
                placed.insert(comment.wordpress_id);
                ordered.push((key, comment));
            }
            waiting = rest;
            if waiting.len() == before {
                // A cycle of parents: keep them all, as top-level comments.
                ordered.append(&mut waiting);
            }
        }
        for (key, comment) in ordered {
            let id = self.comment_ids.next(&self.txn).await?;
            let parent_key = match (keys_by_id.get(&comment.parent), scope) {
                (Some(key), _) => Some(key.clone()),
                // A parent on another post, as earlier exports of the same site had it.
                (None, None) if comment.parent > 0 => Some(comment.parent.to_string()),
                _ => None,
            };
            let parent_id = parent_key.and_then(|key| self.known_comments.get(&key).copied());
            let author_id = self.commenter_id(&comment).await?;
            let created = comment.created_at.map(normalize_time).unwrap_or_else(now);
            let html = sanitize_comment_html(&comment_paragraphs(&comment.content));
            let name = if comment.author_name.trim().is_empty() {
                "Anonymous".to_owned()
            } else {
                comment.author_name.trim().to_owned()
            };
            let url = Some(comment.author_url.trim().to_owned())
                .filter(|u| u.starts_with("http://") || u.starts_with("https://"));
            let ip = Some(comment.author_ip.trim().to_owned()).filter(|ip| !ip.is_empty());
            self.comments.rows.push(vec![
                id.into(),
                post_id.into(),
                parent_id.into(),
                author_id.into(),
                name.into(),
                url.into(),
                comment.content.into(),
                html.into(),
                comment.status.as_str().into(),
                created.into(),
                created.into(),
                ip.into(),
                // Shown as the commenter signed it, whoever the guest account merges.
                true.into(),
            ]);
            self.known_comments.insert(key.clone(), id);
            self.remember("comment", key, id);
            self.counts.comments += 1;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        self.posts.flush(&self.txn).await?;
        self.post_terms.flush(&self.txn).await?;
        self.comments.flush(&self.txn).await?;
        self.redirects.flush(&self.txn).await?;
        self.sources.flush(&self.txn).await?;
        Ok(())
    }

    /// Writes what is still pending and commits: the site shows the import from now on.
    pub async fn finish(mut self) -> Result<ImportCounts> {
        self.flush().await?;
        let backend = self.txn.get_database_backend();
        for (child, parent_slug) in std::mem::take(&mut self.unresolved_parents) {
            let parent = Slug::parse(&percent_decode(&parent_slug))
                .map(|s| s.as_str().to_owned())
                .unwrap_or(parent_slug);
            if let Some(&parent_id) = self
                .terms_by_slug
                .get(&(Taxonomy::Category.as_str().to_owned(), parent))
                && parent_id != child
            {
                let sql = match backend {
                    DbBackend::Postgres => "UPDATE terms SET parent_id = $1 WHERE id = $2",
                    _ => "UPDATE terms SET parent_id = ? WHERE id = ?",
                };
                self.txn
                    .execute_raw(Statement::from_sql_and_values(
                        backend,
                        sql,
                        [parent_id.into(), child.into()],
                    ))
                    .await?;
            }
        }
        self.set_page_parents().await?;
        // Comments went in as raw rows, in batches: their places in the threads follow.
        crate::threads::place_unplaced(&self.txn).await?;
        crate::comment_counts::recount_all_comments(&self.txn).await?;
        self.txn.commit().await?;
        Ok(self.counts)
    }

    async fn set_page_parents(&mut self) -> Result<()> {
        let backend = self.txn.get_database_backend();
        let sql = match backend {
            DbBackend::Postgres => {
                "UPDATE posts SET parent_id = $1 WHERE id = $2 AND kind = 'page' \
                 AND EXISTS (SELECT 1 FROM posts p WHERE p.id = $1 AND p.kind = 'page')"
            }
            _ => {
                "UPDATE posts SET parent_id = ?1 WHERE id = ?2 AND kind = 'page' \
                 AND EXISTS (SELECT 1 FROM posts p WHERE p.id = ?1 AND p.kind = 'page')"
            }
        };
        for (child, wordpress_parent) in std::mem::take(&mut self.page_parents) {
            let parent = self
                .known_posts
                // Items with ids are keyed by their id; `wp:post_parent` names one.
                .get(&wordpress_parent.to_string())
                .copied()
                .filter(|&parent| parent != child);
            let set = match parent {
                Some(parent) => self
                    .txn
                    .execute_raw(Statement::from_sql_and_values(
                        backend,
                        sql,
                        [parent.into(), child.into()],
                    ))
                    .await?
                    .rows_affected(),
                None => 0,
            };
            if set == 0 {
                self.counts.parents_missing += 1;
            }
        }
        Ok(())
    }
}

/// WordPress keeps non-ASCII slugs percent-encoded (`%e6%97%a5`).
#[cfg(test)]
mod tests {
    use folio_domain::slug::percent_decode;

    #[test]
    fn percent_encoded_slugs_decode() {
        assert_eq!(percent_decode("caf%c3%a9-au-lait"), "café-au-lait");
        assert_eq!(percent_decode("100%-sure%"), "100%-sure%");
    }
}
