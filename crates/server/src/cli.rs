//! The `folio` command line, as CONTRACT.md lists it.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use folio_domain::front_matter::parse_post_file;
use folio_domain::{Role, Slug};
use folio_storage::{NewPost, NewUser, StorageError, Store};

use crate::app::{App, open_store, shutdown_signal};
use crate::backup;
use crate::config::Settings;
use crate::demo::{self, DemoOptions};
use crate::export::{self, ExportFormat};

#[derive(Debug, Parser)]
#[command(
    name = "folio",
    version,
    about = "A self-hosted blog: one binary, SQLite or PostgreSQL."
)]
pub struct Cli {
    /// A TOML file whose keys override the built-in defaults (see config/default.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the site (the default when no command is given).
    Serve,
    /// Apply, roll back or list schema migrations.
    Migrate {
        #[arg(value_enum, default_value = "up")]
        direction: MigrateDirection,
    },
    /// Create and list posts.
    #[command(subcommand)]
    Post(PostCommand),
    /// List users.
    #[command(subcommand)]
    User(UserCommand),
    /// Check the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Write a consistent copy of the database to FILE while the site keeps serving
    /// (SQLite: a database file; PostgreSQL: a pg_dump archive).
    Backup {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Restore a backup into an empty database, then apply migrations. Stop the site first.
    Restore {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Write everything needed to rebuild the site elsewhere to FILE: a Folio JSON export
    /// (every table; `folio import` reads it), or a WordPress export (WXR) when FILE ends in
    /// `.xml` or with `--format wxr`. The site may keep serving meanwhile.
    Export {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// json or wxr; by default from FILE's extension (.xml is WXR).
        #[arg(long, value_enum)]
        format: Option<ExportFormat>,
    },
    /// Read a Folio JSON export into an empty database (SQLite or PostgreSQL), after
    /// migrating it, in one transaction; or bring a WordPress site in:
    /// `folio import wordpress FILE.xml`.
    Import(ImportArgs),
    /// Run only the mail worker (with `[mail] worker = false` on the web processes).
    Worker,
    /// Send a test email; list and retry emails that could not be delivered.
    #[command(subcommand)]
    Mail(MailCommand),
    /// Fill the site with realistic sample content, to try it or benchmark it.
    Demo {
        #[arg(long, default_value_t = 48)]
        posts: usize,
        #[arg(long, default_value_t = 400)]
        comments: usize,
        /// Also make one post with this many comments (and one with 50).
        #[arg(long, default_value_t = 0)]
        big_post_comments: usize,
        /// Lay the big post's comments out as this many conversations (0: as readers happen
        /// to reply); the benchmark's long thread.
        #[arg(long, default_value_t = 0)]
        big_post_threads: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Add to a site that already has posts (normally refused, to keep real sites clean).
        #[arg(long)]
        append: bool,
        /// Print the summary as one line of JSON (for scripts and the benchmark).
        #[arg(long)]
        json: bool,
    },
    /// Makes `users` readers with open sessions and prints one `cookie csrf` line each, for
    /// the comment benchmark.
    #[command(hide = true)]
    BenchSessions {
        #[arg(long, default_value_t = 100)]
        users: u32,
        /// Also make an editor with a verified address, so that every comment is mailed to
        /// a moderator as on a real site.
        #[arg(long)]
        moderator: bool,
    },
    /// Adds `count` confirmed blog subscribers, for the mail benchmark.
    #[command(hide = true)]
    BenchSubscribers {
        #[arg(long, default_value_t = 10_000)]
        count: u32,
    },
    /// Opens a session for USER and prints its cookie value (for `cargo xtask screenshots`).
    #[command(hide = true)]
    SessionFor { user: String },
    /// Times the costliest Markdown within the limits (for `cargo xtask bench`).
    #[command(hide = true)]
    BenchMarkdown,
    /// Serve a file's bytes from memory: the benchmark's baseline.
    #[command(hide = true)]
    BenchBaseline {
        #[arg(long)]
        bind: String,
        #[arg(long)]
        file: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ImportArgs {
    #[command(subcommand)]
    pub source: Option<ImportSource>,
    /// A Folio JSON export (`folio export FILE`), read into an empty database. For a
    /// WordPress export, use `folio import wordpress FILE.xml`.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ImportSource {
    /// A WordPress export (WXR, from Tools → Export → All content): posts, pages, comments,
    /// authors, categories and tags; importing the same file again changes nothing.
    Wordpress {
        #[arg(value_name = "FILE.xml")]
        file: PathBuf,
        /// A copy of the old site's wp-content/uploads folder: the images the posts use are
        /// copied into the media library. Without it they keep their original URLs.
        #[arg(long, value_name = "DIR")]
        uploads: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum MigrateDirection {
    Up,
    Down,
    Status,
}

#[derive(Debug, Subcommand)]
pub enum PostCommand {
    /// Create a post (or page) from Markdown with a TOML (+++) or YAML (---) header.
    New {
        #[arg(long, value_name = "POST.md")]
        file: PathBuf,
    },
    /// Replace the post (or page) with the file's slug (its `slug`, or the one made from its
    /// title) by the file's contents, keeping the old text as a revision.
    Update {
        #[arg(long, value_name = "POST.md")]
        file: PathBuf,
    },
    /// List every post and page, newest first.
    List,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    List,
    /// Give a user a role. USER is an id, an email, an author slug, or provider:login
    /// (github:octocat); a provider:login that has not signed in yet gets the role at its
    /// first sign-in.
    Role {
        user: String,
        #[arg(value_parser = ["reader", "author", "editor", "admin"])]
        role: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Send one email through the configured transport and print what the server answered.
    Test { address: String },
    /// List emails marked failed, with the last error.
    Failed,
    /// Queue failed emails again: all of them, or the one with this id.
    Retry { id: Option<i64> },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration and print it, secrets hidden.
    Check,
}

impl Cli {
    /// A one-off command whose output is for a person, not a long-running process whose log
    /// is read later (`serve`, `worker`) nor `migrate`, whose work the migrations are.
    pub fn is_routine(&self) -> bool {
        !matches!(
            self.command,
            None | Some(Command::Serve | Command::Worker | Command::Migrate { .. })
        )
    }
}

pub async fn run(cli: Cli, settings: Settings) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&settings).await,
        Command::Migrate { direction } => migrate(&settings, direction).await,
        Command::Post(PostCommand::New { file }) => post_new(&settings, &file).await,
        Command::Post(PostCommand::Update { file }) => post_update(&settings, &file).await,
        Command::Post(PostCommand::List) => post_list(&settings).await,
        Command::Backup { file } => backup::backup(&settings, &file).await,
        Command::Restore { file } => backup::restore(&settings, &file).await,
        Command::Export { file, format } => export::export(&settings, &file, format).await,
        Command::User(UserCommand::List) => user_list(&settings).await,
        Command::User(UserCommand::Role { user, role }) => user_role(&settings, &user, &role).await,
        Command::Import(args) => import(&settings, args).await,
        Command::Worker => worker(&settings).await,
        Command::Mail(command) => mail(&settings, command).await,
        Command::Config(ConfigCommand::Check) => {
            print!("{}", settings.to_redacted_toml());
            check_providers(&settings).await?;
            eprintln!("configuration is valid");
            Ok(())
        }
        Command::Demo {
            posts,
            comments,
            big_post_comments,
            big_post_threads,
            seed,
            append,
            json,
        } => {
            let store = migrated_store(&settings).await?;
            let existing = store.all_posts().await?.len();
            if existing > 0 && !append {
                bail!(
                    "this site already has {existing} posts and pages; sample content goes into an empty database \
                     (e.g. FOLIO__DATABASE__URL=sqlite://data/demo.db), or pass --append"
                );
            }
            let summary = demo::fill(
                &store,
                &DemoOptions {
                    posts,
                    comments,
                    big_post_comments,
                    big_post_threads,
                    seed,
                },
            )
            .await?;
            if json {
                println!("{}", summary.to_json());
            } else {
                println!("{}", summary.to_text(&settings.site.base_url));
            }
            Ok(())
        }
        Command::BenchBaseline { bind, file } => bench_baseline(&bind, &file).await,
        Command::BenchMarkdown => {
            print!("{}", crate::markdown_bench::run());
            Ok(())
        }
        Command::BenchSessions { users, moderator } => {
            bench_sessions(&settings, users, moderator).await
        }
        Command::BenchSubscribers { count } => bench_subscribers(&settings, count).await,
        Command::SessionFor { user } => crate::session_cli::session_for(&settings, &user).await,
    }
}

async fn serve(settings: &Settings) -> anyhow::Result<()> {
    // Before the port opens: from then on a SIGTERM must find the handler in place.
    let stop = shutdown_signal();
    if let Some(warning) = settings.base_url_warning() {
        tracing::warn!("{warning}");
    }
    let app = App::build(settings).await?;
    let address = app.local_addr()?;
    tracing::info!(%address, base_url = %settings.site.base_url, "Folio is serving");
    eprintln!("Folio is serving on http://{address}/ (Ctrl-C to stop)");
    app.run_until_stopped(stop).await
}

async fn worker(settings: &Settings) -> anyhow::Result<()> {
    let store = migrated_store(settings).await?;
    let worker = crate::app::mail_worker(store.clone(), settings)?;
    eprintln!(
        "Folio mail worker {} is running (Ctrl-C to stop)",
        worker.id()
    );
    let stop = shutdown_signal();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(worker.run(stop_rx.clone()));
    // The fediverse deliveries too, when federation is on (whatever federation.worker says:
    // this command is where a separate worker runs).
    let federation = settings.federation.enabled.then(|| {
        let federation = folio_federation::Federation::new(store, settings.federation_settings());
        let worker = folio_federation::Worker::new(federation, settings.federation_worker());
        eprintln!("Folio federation worker {} is running", worker.id());
        tokio::spawn(worker.run(stop_rx))
    });
    stop.await;
    let _ = stop_tx.send(true);
    task.await.context("the mail worker stopped unexpectedly")?;
    if let Some(task) = federation {
        task.await
            .context("the federation worker stopped unexpectedly")?;
    }
    Ok(())
}

async fn mail(settings: &Settings, command: MailCommand) -> anyhow::Result<()> {
    match command {
        MailCommand::Test { address } => {
            let mailer = folio_notification::Mailer::new(&settings.mail_transport())
                .context("setting up the mail transport ([mail])")?;
            let from: folio_notification::Mailbox =
                settings.mail.from.parse().context("config key mail.from")?;
            let message = folio_notification::test_message(&settings.mail_site(), &from, &address)
                .with_context(|| format!("cannot make an email to {address:?}"))?;
            match mailer.send(message).await {
                Ok(answer) => {
                    println!("{answer}");
                    Ok(())
                }
                Err(error) => bail!("the email to {address} was not sent: {error}"),
            }
        }
        MailCommand::Failed => {
            let store = migrated_store(settings).await?;
            let failed = store.failed_mail().await?;
            if failed.is_empty() {
                eprintln!("no failed emails");
            }
            for mail in failed {
                println!(
                    "{}\t{}\t{}\t{} attempts\t{}",
                    mail.id, mail.kind, mail.recipient, mail.attempts, mail.last_error
                );
            }
            Ok(())
        }
        MailCommand::Retry { id } => {
            let store = migrated_store(settings).await?;
            let queued = store.retry_failed_mail(id).await?;
            println!("{queued} emails queued again");
            Ok(())
        }
    }
}

async fn import(settings: &Settings, args: ImportArgs) -> anyhow::Result<()> {
    match (args.source, args.file) {
        (Some(ImportSource::Wordpress { file, uploads }), _) => {
            let store = migrated_store(settings).await?;
            let summary = crate::wordpress::import(
                &store,
                crate::wordpress::WordPressImport {
                    file: &file,
                    uploads: uploads.as_deref(),
                    media: folio_web::DirectoryMedia::new(settings.media.directory.clone().into()),
                },
            )
            .await?;
            print!("{summary}");
            Ok(())
        }
        (None, Some(file)) if looks_like_xml(&file) => bail!(
            "{} is XML, not a Folio export: for a WordPress export use `folio import wordpress {}`",
            file.display(),
            file.display()
        ),
        (None, Some(file)) => export::import(settings, &file).await,
        (None, None) => bail!(
            "import what? `folio import FILE.json` reads a Folio export; \
             `folio import wordpress FILE.xml` imports a WordPress export"
        ),
    }
}

/// A WordPress export handed to the JSON import: say which command reads it.
fn looks_like_xml(file: &std::path::Path) -> bool {
    use std::io::Read as _;
    let mut start = [0u8; 64];
    let read = std::fs::File::open(file)
        .and_then(|mut f| f.read(&mut start))
        .unwrap_or(0);
    start[..read]
        .iter()
        .find(|b| !b.is_ascii_whitespace() && **b != 0xEF && **b != 0xBB && **b != 0xBF)
        == Some(&b'<')
}

async fn migrated_store(settings: &Settings) -> anyhow::Result<Store> {
    let store = open_store(settings).await?;
    store
        .migrate_up()
        .await
        .context("applying database migrations")?;
    Ok(store)
}

async fn migrate(settings: &Settings, direction: MigrateDirection) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    match direction {
        MigrateDirection::Up => {
            store.migrate_up().await.context("applying migrations")?;
            println!("database is up to date");
        }
        MigrateDirection::Down => {
            store
                .migrate_down(1)
                .await
                .context("rolling back the last migration")?;
            println!("rolled back one migration");
        }
        MigrateDirection::Status => {
            for migration in store.migration_status().await? {
                println!(
                    "{:<8} {}",
                    if migration.applied {
                        "applied"
                    } else {
                        "pending"
                    },
                    migration.name
                );
            }
        }
    }
    Ok(())
}

async fn post_new(settings: &Settings, file: &std::path::Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let parsed = parse_post_file(&text).with_context(|| format!("{}", file.display()))?;
    let store = migrated_store(settings).await?;
    let slug = file_slug(&parsed);
    if let Some(id) = store.post_id_by_slug(parsed.kind, &slug).await? {
        // Running the same command twice must not make a `-2` copy of the post.
        bail!(
            "{file}: a {kind} with the slug {slug:?} already exists (id {id}); to replace it, run `folio post update --file {file}`, or set another `slug` in the header",
            file = file.display(),
            kind = parsed.kind.as_str(),
            slug = slug.as_str(),
        );
    }
    let author = match &parsed.author {
        Some(key) => store.find_user(key).await?.with_context(|| {
            format!(
                "{}: `author` {key:?} matches no user (folio user list shows them)",
                file.display()
            )
        })?,
        None => default_author(&store).await?,
    };
    let created = store
        .create_post(NewPost {
            kind: parsed.kind,
            title: parsed.title,
            slug: parsed.slug,
            source: parsed.body,
            status: parsed.status,
            published_at: parsed.date,
            author_id: author.id,
            categories: parsed.categories,
            tags: parsed.tags,
            comments_open: true,
            featured_image: None,
            password: None,
            parent_id: None,
            sticky: false,
        })
        .await;
    let post = match created {
        Err(StorageError::DuplicateSlug { kind, slug }) => {
            bail!(
                "{}: a {kind} with the slug {slug:?} already exists; set another `slug` in the header",
                file.display()
            )
        }
        other => other?,
    };
    println!(
        "{}\t{}\t{}{}",
        post.summary.id,
        post.summary.status.as_str(),
        settings.site.base_url,
        post.summary.path()
    );
    Ok(())
}

/// The slug a post file stands for: its header's, or the one made from its title.
fn file_slug(parsed: &folio_domain::front_matter::PostFile) -> Slug {
    parsed
        .slug
        .clone()
        .unwrap_or_else(|| Slug::from_title(&parsed.title, parsed.kind.as_str()))
}

async fn post_update(settings: &Settings, file: &std::path::Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let parsed = parse_post_file(&text).with_context(|| format!("{}", file.display()))?;
    let store = migrated_store(settings).await?;
    let slug = file_slug(&parsed);
    let Some(id) = store.post_id_by_slug(parsed.kind, &slug).await? else {
        bail!(
            "{}: no {} has the slug {:?}; to add it, run `folio post new --file {}`",
            file.display(),
            parsed.kind.as_str(),
            slug.as_str(),
            file.display()
        );
    };
    let current = store
        .editable_post(id)
        .await?
        .with_context(|| format!("post {id} vanished"))?;
    let actor = match &parsed.author {
        Some(key) => store.find_user(key).await?.with_context(|| {
            format!(
                "{}: `author` {key:?} matches no user (folio user list shows them)",
                file.display()
            )
        })?,
        None => default_author(&store).await?,
    };
    // What the file does not say (comments, image, password, parent, sticky, excerpt) stays.
    let edit = folio_storage::PostEdit {
        title: parsed.title,
        slug: Some(slug),
        source: parsed.body,
        excerpt: current.excerpt,
        categories: parsed.categories,
        tags: parsed.tags,
        featured_image: current.featured_image,
        comments_open: current.comments_open,
        status: parsed.status,
        published_at: parsed.date,
        password: current.password,
        parent_id: current.parent_id,
        sticky: current.sticky,
    };
    store
        .save_post(&actor, Some(id), parsed.kind, edit)
        .await?
        .with_context(|| format!("post {id} vanished"))?;
    let saved = store
        .editable_post(id)
        .await?
        .with_context(|| format!("post {id} vanished"))?;
    println!(
        "{}\t{}\t{}{}",
        id,
        saved.status.as_str(),
        settings.site.base_url,
        saved.path
    );
    Ok(())
}

/// Posts from the command line without an `author` go to the first administrator, made on
/// first use so that a new site needs no other step.
async fn default_author(store: &Store) -> anyhow::Result<folio_domain::User> {
    let users = store.list_users().await?;
    if let Some(user) = users
        .iter()
        .find(|u| u.role == Role::Admin)
        .or_else(|| users.iter().find(|u| u.role >= Role::Author))
    {
        return Ok(user.clone());
    }
    let user = store
        .create_user(NewUser {
            display_name: "admin".to_owned(),
            slug: Slug::parse("admin").ok(),
            email: None,
            avatar_url: None,
            bio: String::new(),
            role: Role::Admin,
        })
        .await?;
    Ok(user)
}

async fn post_list(settings: &Settings) -> anyhow::Result<()> {
    let store = migrated_store(settings).await?;
    let rows = store.all_posts().await?;
    if rows.is_empty() {
        eprintln!("no posts yet: add one with `folio post new --file POST.md`");
    }
    for row in rows {
        let date = row
            .published_at
            .map(|d| d.date().to_string())
            .unwrap_or_else(|| "-".to_owned());
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            row.id,
            row.kind.as_str(),
            row.status.as_str(),
            date,
            row.path,
            row.title
        );
    }
    Ok(())
}

async fn user_list(settings: &Settings) -> anyhow::Result<()> {
    let store = migrated_store(settings).await?;
    for user in store.list_users().await? {
        println!(
            "{}\t{}\t{}\t{}",
            user.id,
            user.role.as_str(),
            user.slug,
            user.display_name
        );
    }
    Ok(())
}

async fn user_role(settings: &Settings, key: &str, role: &str) -> anyhow::Result<()> {
    let role = Role::parse(role).with_context(|| format!("unknown role {role:?}"))?;
    let store = migrated_store(settings).await?;
    if let Some(user) = store.find_user(key).await? {
        let user = store.set_role(user.id, role).await?;
        println!(
            "{} ({}) is now {}",
            user.display_name,
            user.id,
            user.role.as_str()
        );
        return Ok(());
    }
    match key.split_once(':') {
        Some((folio_domain::users::EMAIL_PROVIDER, address))
            if folio_domain::users::is_plausible_email(&folio_domain::users::normalize_email(
                address,
            )) =>
        {
            let address = folio_domain::users::normalize_email(address);
            store
                .grant_role_at_sign_in(folio_domain::users::EMAIL_PROVIDER, &address, role)
                .await?;
            let hint = if settings.auth.email.enabled {
                ""
            } else {
                " (email sign-in is off: set [auth.email] enabled = true)"
            };
            println!(
                "email:{address} has not signed in yet: they become {} when they first log in with email{hint}",
                role.as_str()
            );
            Ok(())
        }
        Some((provider, login))
            if settings.auth.providers.contains_key(provider) && !login.is_empty() =>
        {
            store.grant_role_at_sign_in(provider, login, role).await?;
            println!(
                "{key} has not signed in yet: they become {} when they first sign in with {provider}",
                role.as_str()
            );
            Ok(())
        }
        Some((provider, _)) if !provider.is_empty() && !provider.contains('@') => {
            anyhow::bail!(
                "no provider named {provider:?} in the config ([auth.providers.{provider}]), and no user matches {key:?}"
            )
        }
        _ => anyhow::bail!("no user matches {key:?} (folio user list shows them)"),
    }
}

async fn bench_sessions(settings: &Settings, users: u32, moderator: bool) -> anyhow::Result<()> {
    let store = migrated_store(settings).await?;
    if moderator {
        let editor = store
            .sign_in(&folio_domain::Identity {
                provider: "bench".to_owned(),
                subject: "moderator".to_owned(),
                login: Some("moderator".to_owned()),
                display_name: "Bench Moderator".to_owned(),
                email: Some("moderator@example.org".to_owned()),
                email_verified: true,
                avatar_url: None,
                profile_url: None,
            })
            .await?;
        store.set_role(editor.id, Role::Editor).await?;
    }
    for n in 1..=users {
        let user = store
            .create_user(NewUser {
                display_name: format!("Bench Reader {n}"),
                slug: None,
                email: None,
                avatar_url: None,
                bio: String::new(),
                role: Role::Reader,
            })
            .await?;
        let (cookie, csrf) = folio_web::open_session_for(&store, user.id).await?;
        println!("{cookie} {csrf}");
    }
    Ok(())
}

async fn bench_subscribers(settings: &Settings, count: u32) -> anyhow::Result<()> {
    let store = migrated_store(settings).await?;
    for n in 0..count {
        store
            .subscribe_blog(&format!("reader{n}@example.org"), None, true, |_| None)
            .await?;
    }
    Ok(())
}

async fn bench_baseline(bind: &str, file: &std::path::Path) -> anyhow::Result<()> {
    let body = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let stop = shutdown_signal();
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("cannot listen on {bind}"))?;
    axum::serve(listener, folio_web::baseline_router(body.into()))
        .with_graceful_shutdown(stop)
        .await
        .context("serving the baseline")
}

/// Asks each OpenID Connect provider for its discovery document, as `serve` does at start:
/// a wrong `issuer` is reported with the one the provider names.
async fn check_providers(settings: &Settings) -> anyhow::Result<()> {
    let providers = settings.providers()?;
    for unreachable in providers.check_discovery().await? {
        eprintln!(
            "warning: {unreachable} (not checked; discovery is tried again at first sign-in)"
        );
    }
    Ok(())
}
