//! A real Folio per test: its own database (a SQLite file, or a new PostgreSQL database when
//! FOLIO_TEST_POSTGRES_URL is set), on a random loopback port, spoken to over HTTP.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

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
