//! A real Folio per test: its own database (a SQLite file, or a new PostgreSQL database when
//! FOLIO_TEST_POSTGRES_URL is set), on a random loopback port, spoken to over HTTP.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod smtp;

use std::time::Duration;

use folio_domain::{CommentStatus, PostKind, PostStatus, Role, User};
use folio_server::{App, Settings};
use folio_storage::{NewComment, NewPost, NewUser, Store};
use time::OffsetDateTime;

pub struct TestApp {
    pub address: String,
    pub store: Store,
    pub client: reqwest::Client,
    pub database_url: String,
    pub settings: Settings,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    // Dropped in this order: the server first, then its database, then the folder.
    _database: DatabaseGuard,
    _dir: tempfile::TempDir,
}

pub fn postgres_admin_url() -> Option<String> {
    std::env::var("FOLIO_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

pub fn base_settings(database_url: &str) -> Settings {
    let mut settings = Settings::load_with_env(
        None,
        figment::providers::Env::prefixed("FOLIO_TEST_NEVER_SET__"),
    )
    .unwrap();
    settings.database.url = database_url.to_owned();
    settings.cache.poll_milliseconds = 50;
    settings.log.level = "warn".to_owned();
    settings.site.title = "Test Blog".to_owned();
    settings.site.tagline = "Words about tests".to_owned();
    settings
}

/// A fresh, empty database: its URL, and a guard that drops it (PostgreSQL) when dropped.
pub async fn fresh_database(dir: &tempfile::TempDir) -> (String, DatabaseGuard) {
    match postgres_admin_url() {
        Some(admin) => {
            let name = format!("folio_t_{}", uuid::Uuid::new_v4().simple());
            folio_storage::admin::create_postgres_database(&admin, &name)
                .await
                .expect("create test database");
            (
                folio_storage::admin::sibling_database_url(&admin, &name),
                DatabaseGuard(Some((admin, name))),
            )
        }
        None => (
            format!("sqlite://{}/folio.db", dir.path().display()),
            DatabaseGuard(None),
        ),
    }
}

pub struct DatabaseGuard(Option<(String, String)>);

impl Drop for DatabaseGuard {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.0.take() {
            // Drop is not async: clean up on a thread with its own runtime.
            let _ = std::thread::spawn(move || {
                if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    let _ = runtime
                        .block_on(folio_storage::admin::drop_postgres_database(&admin, &name));
                }
            })
            .join();
        }
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let (database_url, database) = fresh_database(&dir).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut settings = base_settings(&database_url);
        settings.site.base_url = format!("http://127.0.0.1:{port}");
        configure(&mut settings);
        let store = Store::connect(&database_url).await.unwrap();
        store.migrate_up().await.unwrap();
        let app = App::from_parts(listener, store.clone(), &settings)
            .await
            .expect("app builds");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until_stopped(async move {
            let _ = rx.await;
        }));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        TestApp {
            address: format!("http://127.0.0.1:{port}"),
            store,
            client,
            database_url,
            settings,
            shutdown: Some(tx),
            _database: database,
            _dir: dir,
        }
    }

    /// A second server process on `first`'s database, as a deployment with several
    /// processes has: its own port, caches and workers, the same settings unless
    /// `configure` changes them. Drop it before `first` (declare it after), whose guard
    /// owns the database.
    pub async fn spawn_beside(first: &TestApp, configure: impl FnOnce(&mut Settings)) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut settings = first.settings.clone();
        configure(&mut settings);
        let store = Store::connect(&first.database_url).await.unwrap();
        let app = App::from_parts(listener, store.clone(), &settings)
            .await
            .expect("second app builds");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until_stopped(async move {
            let _ = rx.await;
        }));
        TestApp {
            address: format!("http://127.0.0.1:{port}"),
            store,
            client: first.client.clone(),
            database_url: first.database_url.clone(),
            settings,
            shutdown: Some(tx),
            _database: DatabaseGuard(None),
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// GET that must answer 200; returns the body.
    pub async fn page(&self, path: &str) -> String {
        let response = self.get(path).await;
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(status, 200, "GET {path} answered {status}: {body}");
        body
    }

    pub async fn author(&self, name: &str) -> User {
        self.store
            .create_user(NewUser {
                display_name: name.to_owned(),
                slug: None,
                email: Some(format!(
                    "{}@example.org",
                    name.to_lowercase().replace(' ', ".")
                )),
                avatar_url: None,
                bio: format!("{name} writes here."),
                role: Role::Author,
            })
            .await
            .unwrap()
    }

    /// A published page (in the site's menu) without a parent.
    pub async fn page_post(&self, author: &User, title: &str, body: &str) -> folio_domain::Post {
        self.store
            .create_post(NewPost {
                kind: PostKind::Page,
                title: title.to_owned(),
                slug: None,
                source: body.to_owned(),
                status: PostStatus::Published,
                published_at: None,
                author_id: author.id,
                categories: Vec::new(),
                tags: Vec::new(),
                comments_open: false,
                featured_image: None,
                password: None,
                parent_id: None,
                sticky: false,
            })
            .await
            .unwrap()
    }

    pub async fn post(
        &self,
        author: &User,
        title: &str,
        body: &str,
        published_at: OffsetDateTime,
    ) -> folio_domain::Post {
        self.post_in(author, title, body, published_at, &[], &[])
            .await
    }

    pub async fn post_in(
        &self,
        author: &User,
        title: &str,
        body: &str,
        published_at: OffsetDateTime,
        categories: &[&str],
        tags: &[&str],
    ) -> folio_domain::Post {
        self.store
            .create_post(NewPost {
                kind: PostKind::Post,
                title: title.to_owned(),
                slug: None,
                source: body.to_owned(),
                status: PostStatus::Published,
                published_at: Some(published_at),
                author_id: author.id,
                categories: categories.iter().map(|s| (*s).to_owned()).collect(),
                tags: tags.iter().map(|s| (*s).to_owned()).collect(),
                comments_open: true,
                featured_image: None,
                password: None,
                parent_id: None,
                sticky: false,
            })
            .await
            .unwrap()
    }

    pub async fn comment(
        &self,
        post_id: i64,
        parent: Option<i64>,
        name: &str,
        text: &str,
        status: CommentStatus,
    ) -> i64 {
        self.store
            .create_comment(NewComment {
                post_id,
                parent_id: parent,
                author_id: None,
                author_name: name.to_owned(),
                author_url: None,
                source: text.to_owned(),
                status,
                created_at: None,
                author_ip: None,
            })
            .await
            .unwrap()
            .id
    }

    /// The `<main>` element of a page: what the page is about, without the sidebar.
    pub async fn main_of(&self, path: &str) -> String {
        let html = self.page(path).await;
        let start = html.find("<main").expect("page has <main>");
        let end = html.find("</main>").expect("page has </main>");
        html[start..end].to_owned()
    }

    /// Waits until every server process would have noticed the latest write.
    pub async fn settle(&self) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub fn days_ago(days: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc() - time::Duration::days(days)
}

pub fn at(year: i32, month: u8, day: u8) -> OffsetDateTime {
    time::Date::from_calendar_date(year, time::Month::try_from(month).unwrap(), day)
        .unwrap()
        .with_hms(10, 0, 0)
        .unwrap()
        .assume_utc()
}

impl TestApp {
    /// Runs one SQL statement on the app's database (a test's way to set what has no admin
    /// page yet: a ban, an old timestamp).
    pub async fn sql(&self, statement: &str) {
        use sea_orm::ConnectionTrait;
        let db = sea_orm::Database::connect(&self.database_url)
            .await
            .unwrap();
        db.execute_unprepared(statement)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
        db.close().await.unwrap();
    }

    /// One number from SQL (`SELECT COUNT(*) AS n ...`).
    pub async fn count(&self, query: &str) -> i64 {
        use sea_orm::ConnectionTrait;
        let db = sea_orm::Database::connect(&self.database_url)
            .await
            .unwrap();
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                query.to_owned(),
            ))
            .await
            .unwrap_or_else(|e| panic!("{query}: {e}"))
            .expect("a row");
        let n: i64 = row.try_get("", "n").unwrap();
        db.close().await.unwrap();
        n
    }
}

/// Where a reader signs in: the real OpenID provider, or the GitHub/Discord/Facebook/X
/// stand-in.
#[derive(Clone, Copy)]
pub enum Idp<'a> {
    Oidc(&'a folio_testkit::OidcServer),
    StandIn(&'a folio_testkit::OAuthStandIn),
}

impl Idp<'_> {
    /// Does what the person does at the provider: signs in as `who` and presses Authorize.
    /// Returns the provider's redirect back to us.
    pub async fn authorize(&self, authorize_url: &str, who: &str) -> String {
        match self {
            Idp::Oidc(server) => server.authorize(authorize_url, who).await,
            Idp::StandIn(server) => server.authorize(authorize_url, who).await,
        }
    }

    pub async fn deny(&self, authorize_url: &str) -> String {
        match self {
            Idp::Oidc(server) => server.deny(authorize_url).await,
            Idp::StandIn(server) => server.deny(authorize_url).await,
        }
    }
}

/// A person with a browser: their own cookie jar, redirects not followed (so that each
/// step can be checked).
pub struct Reader {
    pub client: reqwest::Client,
    pub jar: std::sync::Arc<reqwest::cookie::Jar>,
    pub base: String,
}

impl Reader {
    pub fn new(app: &TestApp) -> Reader {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_provider(jar.clone())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Reader {
            client,
            jar,
            base: app.address.clone(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{}", self.base, path)
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// GET that must answer 200; returns the body.
    pub async fn page(&self, path: &str) -> String {
        let response = self.get(path).await;
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(status, 200, "GET {path} answered {status}: {body}");
        body
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// The value of the `folio_session` cookie the browser holds, if any.
    pub fn session_cookie(&self) -> Option<String> {
        use reqwest::cookie::CookieStore;
        let url = reqwest::Url::parse(&self.base).unwrap();
        let header = self.jar.cookies(&url)?;
        header
            .to_str()
            .unwrap()
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == "folio_session")
            .map(|(_, value)| value.to_owned())
    }

    /// GET `/auth/{provider}/login`: must send the browser to the provider. Returns the
    /// provider's authorize URL.
    pub async fn start_sign_in(&self, provider: &str, return_to: &str) -> String {
        let response = self
            .client
            .get(self.url(&format!("/auth/{provider}/login")))
            .query(&[("return_to", return_to)])
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert_eq!(
            status,
            303,
            "login answered {status}: {}",
            response.text().await.unwrap_or_default()
        );
        location(&response)
    }

    /// GET `/auth/{provider}/login` in link mode, as `/account`'s "Add" links do: returns
    /// the provider's authorize URL.
    pub async fn start_sign_in_linking(&self, provider: &str) -> String {
        let response = self
            .client
            .get(self.url(&format!("/auth/{provider}/login")))
            .query(&[("return_to", "/account"), ("link", "1")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        location(&response)
    }

    /// Follows the provider's redirect back to our callback (the full URL it gave).
    pub async fn callback(&self, provider_location: &str) -> reqwest::Response {
        assert!(
            provider_location.starts_with(&self.base),
            "the provider sent the browser to {provider_location}, not to this site"
        );
        self.client.get(provider_location).send().await.unwrap()
    }

    /// The whole sign-in as a person does it; returns where the site sent them afterwards.
    pub async fn sign_in(
        &self,
        idp: Idp<'_>,
        provider: &str,
        who: &str,
        return_to: &str,
    ) -> String {
        let authorize = self.start_sign_in(provider, return_to).await;
        let back = idp.authorize(&authorize, who).await;
        let response = self.callback(&back).await;
        let status = response.status();
        if status != 303 {
            panic!(
                "the callback answered {status}: {}",
                response.text().await.unwrap_or_default()
            );
        }
        location(&response)
    }

    /// The CSRF token the forms of `path` carry.
    pub async fn csrf(&self, path: &str) -> String {
        csrf_of(&self.page(path).await)
    }

    /// Posts a comment through the post page's form; the response is not followed.
    pub async fn comment(
        &self,
        post_path: &str,
        post_id: i64,
        parent: Option<i64>,
        text: &str,
    ) -> reqwest::Response {
        let csrf = self.csrf(post_path).await;
        let post_id = post_id.to_string();
        let parent = parent.unwrap_or(0).to_string();
        self.post_form(
            "/comments",
            &[
                ("comment", text),
                ("comment_post_ID", &post_id),
                ("comment_parent", &parent),
                ("_csrf", &csrf),
                ("url", ""),
            ],
        )
        .await
    }

    /// Posts a comment that must be accepted; returns its id (from `#comment-N`).
    pub async fn comment_ok(
        &self,
        post_path: &str,
        post_id: i64,
        parent: Option<i64>,
        text: &str,
    ) -> i64 {
        let response = self.comment(post_path, post_id, parent, text).await;
        let status = response.status();
        if status != 303 {
            panic!(
                "comment {text:?} answered {status}: {}",
                response.text().await.unwrap_or_default()
            );
        }
        comment_id_of(&location(&response))
    }
}

pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(reqwest::header::LOCATION)
        .unwrap_or_else(|| panic!("{} without Location", response.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

/// The first `_csrf` value in a page's forms.
pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"_csrf\" value=\"";
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("no _csrf field in:\n{html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

/// `N` from `...#comment-N`.
pub fn comment_id_of(location: &str) -> i64 {
    location
        .rsplit_once("#comment-")
        .and_then(|(_, id)| id.parse().ok())
        .unwrap_or_else(|| panic!("{location} does not point at a comment"))
}

/// The HTML of `li#comment-N` up to (not including) its replies.
pub fn comment_html(page: &str, id: i64) -> Option<String> {
    let start = page.find(&format!("<li id=\"comment-{id}\""))?;
    let rest = &page[start..];
    let end = rest
        .find("</article>")
        .map(|e| e + "</article>".len())
        .unwrap_or(rest.len());
    Some(rest[..end].to_owned())
}

/// The `<ol class="comment-list">` of a page, or "" when there is none.
pub fn comment_list(page: &str) -> String {
    match page.find("<ol class=\"comment-list\">") {
        Some(start) => {
            let end = page[start..]
                .find("<div id=\"respond\"")
                .or_else(|| page[start..].find("</div>\n"))
                .map_or(page.len(), |e| e + start);
            page[start..end].to_owned()
        }
        None => String::new(),
    }
}

/// A reader signed in with GitHub (verified address `login@example.org`), as a session
/// cookie on a client of their own.
pub async fn signed_in_reader(app: &TestApp, login: &str) -> (User, Reader) {
    let user = app
        .store
        .sign_in(&folio_domain::Identity {
            provider: "github".to_owned(),
            subject: format!("gh-{login}"),
            login: Some(login.to_owned()),
            display_name: login.to_owned(),
            email: Some(format!("{login}@example.org")),
            email_verified: true,
            avatar_url: None,
            profile_url: None,
        })
        .await
        .unwrap();
    let (cookie, _csrf) = folio_web::open_session_for(&app.store, user.id)
        .await
        .unwrap();
    let reader = Reader::new(app);
    let url = reqwest::Url::parse(&app.address).unwrap();
    reader.jar.add_cookie_str(
        &format!("{}={cookie}; Path=/", folio_web::SESSION_COOKIE),
        &url,
    );
    (user, reader)
}
