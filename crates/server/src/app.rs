use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use folio_storage::Store;
use folio_web::AppState;
use tokio::net::TcpListener;

use crate::config::Settings;

/// The running site: a bound listener, the router, and the database behind it.
pub struct App {
    listener: TcpListener,
    router: Router,
    store: Store,
    shutdown_grace: Duration,
    limits: crate::connections::ConnectionLimits,
    /// The outbox worker, when `[mail] worker` runs it in this process.
    mail_worker: Option<folio_notification::Worker>,
    /// The ActivityPub delivery worker, when `[federation]` is on and runs it here.
    federation_worker: Option<folio_federation::Worker>,
}

impl App {
    /// Connects to the database (migrating it unless told not to), binds the listener and
    /// builds the router. Every failure here names what to fix.
    pub async fn build(settings: &Settings) -> anyhow::Result<App> {
        let store = open_store(settings).await?;
        if settings.database.migrate_on_start {
            store
                .migrate_up()
                .await
                .context("applying database migrations")?;
        }
        let listener = TcpListener::bind(settings.bind_address())
            .await
            .with_context(|| {
                format!(
                    "cannot listen on {} (config key server.bind)",
                    settings.server.bind
                )
            })?;
        Self::from_parts(listener, store, settings).await
    }

    /// For tests and tools that bring their own listener (port 0) and store.
    pub async fn from_parts(
        listener: TcpListener,
        store: Store,
        settings: &Settings,
    ) -> anyhow::Result<App> {
        let store = store.in_zone(settings.zone());
        let web = settings.web();
        let providers = settings
            .providers()
            .context("setting up the sign-in providers ([auth.providers])")?;
        // A wrong issuer would otherwise show only when the first reader tries to sign in.
        for unreachable in providers
            .check_discovery()
            .await
            .context("checking the sign-in providers ([auth.providers])")?
        {
            tracing::warn!(
                problem = %unreachable,
                "sign-in provider not reachable at start; discovery is tried again at first sign-in"
            );
        }
        let state = AppState::new(store.clone(), providers, &web);
        state.cache().prime(&store).await;
        let mail_worker = if settings.mail.worker {
            Some(mail_worker(store.clone(), settings)?)
        } else {
            None
        };
        let federation_worker = federation_worker(store.clone(), settings);
        Ok(App {
            mail_worker,
            federation_worker,
            router: folio_web::router(state, &web),
            listener,
            store,
            shutdown_grace: Duration::from_secs(settings.server.shutdown_grace_seconds),
            limits: crate::connections::ConnectionLimits {
                header_read_timeout: Duration::from_secs(
                    settings.server.header_read_timeout_seconds,
                ),
                max_connections: settings.server.max_connections,
            },
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Serves until `shutdown` resolves; requests in flight then get the grace period to finish.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stopping_tx, stopping_rx) = tokio::sync::watch::channel(false);
        let signal = async move {
            shutdown.await;
            let _ = stopping_tx.send(true);
        };
        let grace = self.shutdown_grace;
        let worker = self.mail_worker.map(|worker| {
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            (stop_tx, tokio::spawn(worker.run(stop_rx)))
        });
        let federation = self.federation_worker.map(|worker| {
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            (stop_tx, tokio::spawn(worker.run(stop_rx)))
        });
        let server = crate::connections::serve(self.listener, self.router, self.limits, signal);
        let sweeper = tokio::spawn(sweep_expired_sessions(self.store.clone()));
        let mut stopping = stopping_rx;
        let deadline = async move {
            let _ = stopping.wait_for(|stopping| *stopping).await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            () = server => {},
            () = deadline => tracing::warn!("requests still running after the shutdown grace period; stopping anyway"),
        }
        sweeper.abort();
        if let Some((stop, task)) = worker {
            // The email being sent is finished; the rest stay queued for the next start.
            let _ = stop.send(true);
            let _ = tokio::time::timeout(grace.max(Duration::from_secs(1)), task).await;
        }
        if let Some((stop, task)) = federation {
            let _ = stop.send(true);
            let _ = tokio::time::timeout(grace.max(Duration::from_secs(1)), task).await;
        }
        self.store.close().await.ok();
        Ok(())
    }
}

/// The outbox worker as `[mail]` configures it.
pub fn mail_worker(
    store: Store,
    settings: &Settings,
) -> anyhow::Result<folio_notification::Worker> {
    let mailer = folio_notification::Mailer::new(&settings.mail_transport())
        .context("setting up the mail transport ([mail])")?;
    folio_notification::Worker::new(store, mailer, settings.mail_worker(), settings.mail_site())
        .context("setting up the mail worker ([mail])")
}

/// The ActivityPub delivery worker, when `federation.enabled` and `federation.worker` are on.
pub fn federation_worker(store: Store, settings: &Settings) -> Option<folio_federation::Worker> {
    (settings.federation.enabled && settings.federation.worker).then(|| {
        let federation = folio_federation::Federation::new(store, settings.federation_settings());
        folio_federation::Worker::new(federation, settings.federation_worker())
    })
}

/// Sessions past their expiry are refused when read; this removes them from the table now
/// and then. Several processes may sweep at once: deleting twice is harmless.
async fn sweep_expired_sessions(store: Store) {
    let mut every = tokio::time::interval(Duration::from_secs(3600));
    loop {
        every.tick().await;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        match store.delete_expired_sessions(now).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "expired sessions removed"),
            Err(error) => tracing::warn!(%error, "could not remove expired sessions"),
        }
    }
}

pub async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let store = Store::connect(&settings.database.url)
        .await
        .with_context(|| {
            format!(
                "cannot open the database {} (config key database.url)",
                folio_storage::redact_password(&settings.database.url)
            )
        })?;
    Ok(store.in_zone(settings.zone()))
}

/// One arrival of `signal`; never, when its handler could not be installed.
#[cfg(unix)]
async fn received(signal: Option<&mut tokio::signal::unix::Signal>) {
    match signal {
        Some(signal) => {
            signal.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    // Installed now, not when the future is first polled: a SIGTERM that arrives while the
    // server is still starting (systemd stopping a unit it just started) is then a clean
    // stop instead of the default action, which kills the process mid-write.
    #[cfg(unix)]
    let (terminate, interrupt) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::interrupt()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let (mut terminate, mut interrupt) = (terminate, interrupt);
            tokio::select! {
                () = received(terminate.as_mut()) => {},
                () = received(interrupt.as_mut()) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down: finishing requests in flight");
    }
}
