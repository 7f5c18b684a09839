//! The blog on the open social web (ActivityPub): the blog is one actor (`@blog@host`) that
//! remote people follow; new posts go to their inboxes through a durable queue.
//!
//! Protocol code lives here; HTTP routes in `folio-web` call [`Federation`], and the server
//! runs [`Worker`] beside the mail worker.

pub mod documents;
pub mod fetch;
mod inbox;
pub mod signatures;
mod worker;

use std::sync::Arc;

use folio_storage::{RemoteActor, StorageError, Store};
use serde_json::Value;

pub use documents::ActorUrls;
pub use fetch::{FetchError, Fetcher, MAX_BODY_BYTES};
pub use inbox::{InboxError, Reaction, Received, RemoteReply};
pub use signatures::{RequestSigner, SignatureError};
pub use worker::{Worker, WorkerSettings};

/// `[federation]` as the server reads it, plus what the actor shows of the site.
#[derive(Clone, Debug)]
pub struct FederationSettings {
    pub enabled: bool,
    /// The actor's name: `@username@host`.
    pub username: String,
    /// Allows fetching from and delivering to loopback and private addresses (tests, a
    /// private network); never on a public instance.
    pub allow_private_addresses: bool,
    /// The site's base URL, without a trailing slash.
    pub base_url: String,
    /// The actor's display name and bio: the site's title and tagline.
    pub display_name: String,
    pub summary: String,
}

impl Default for FederationSettings {
    fn default() -> Self {
        FederationSettings {
            enabled: false,
            username: "blog".to_owned(),
            allow_private_addresses: false,
            base_url: "http://127.0.0.1:8080".to_owned(),
            display_name: "Folio".to_owned(),
            summary: String::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    #[error("federation storage")]
    Storage(#[from] StorageError),
    #[error("cannot make or read the blog's key pair")]
    Keys,
}

/// The blog actor: its settings, its keys (made on first use) and a way to reach others.
#[derive(Clone)]
pub struct Federation {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    settings: FederationSettings,
    urls: ActorUrls,
    fetcher: Fetcher,
    keys: tokio::sync::OnceCell<Keys>,
}

struct Keys {
    public_key_pem: String,
    signer: RequestSigner,
    created_at: time::OffsetDateTime,
}

impl Federation {
    pub fn new(store: Store, settings: FederationSettings) -> Self {
        let urls = ActorUrls {
            base_url: settings.base_url.trim_end_matches('/').to_owned(),
            username: settings.username.clone(),
        };
        let fetcher = Fetcher::new(
            settings.allow_private_addresses,
            format!("Folio/{} (+{}/)", env!("CARGO_PKG_VERSION"), urls.base_url),
        );
        Federation {
            inner: Arc::new(Inner {
                store,
                settings,
                urls,
                fetcher,
                keys: tokio::sync::OnceCell::new(),
            }),
        }
    }

    pub fn enabled(&self) -> bool {
        self.inner.settings.enabled
    }

    pub fn urls(&self) -> &ActorUrls {
        &self.inner.urls
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub(crate) fn fetcher(&self) -> &Fetcher {
        &self.inner.fetcher
    }

    async fn keys(&self) -> Result<&Keys, FederationError> {
        self.inner
            .keys
            .get_or_try_init(|| async {
                let store = &self.inner.store;
                let stored = match store.federation_keys(|| None).await? {
                    Some(keys) => keys,
                    None => {
                        let pair = tokio::task::spawn_blocking(signatures::generate_key_pair)
                            .await
                            .map_err(|_| FederationError::Keys)?
                            .ok_or(FederationError::Keys)?;
                        store
                            .federation_keys(move || Some(pair))
                            .await?
                            .ok_or(FederationError::Keys)?
                    }
                };
                let signer = RequestSigner::new(self.inner.urls.key_id(), &stored.private_key_pem)
                    .map_err(|_| FederationError::Keys)?;
                Ok(Keys {
                    public_key_pem: stored.public_key_pem,
                    signer,
                    created_at: stored.created_at,
                })
            })
            .await
    }

    pub(crate) async fn signer(&self) -> Result<&RequestSigner, FederationError> {
        Ok(&self.keys().await?.signer)
    }

    /// When the blog joined the fediverse: posts published before are not announced.
    pub(crate) async fn joined_at(&self) -> Result<time::OffsetDateTime, FederationError> {
        Ok(self.keys().await?.created_at)
    }

    pub async fn actor_document(&self) -> Result<Value, FederationError> {
        let keys = self.keys().await?;
        Ok(documents::actor(
            &self.inner.urls,
            &self.inner.settings.display_name,
            &self.inner.settings.summary,
            &keys.public_key_pem,
        ))
    }

    pub fn webfinger(&self, resource: &str) -> Option<Value> {
        documents::webfinger(&self.inner.urls, resource)
    }

    pub fn nodeinfo_links(&self) -> Value {
        documents::nodeinfo_links(&self.inner.urls)
    }

    pub async fn nodeinfo(&self) -> Result<Value, FederationError> {
        let posts = self.inner.store.count_published_posts().await?;
        Ok(documents::nodeinfo(posts, env!("CARGO_PKG_VERSION")))
    }

    pub async fn followers_collection(&self) -> Result<Value, FederationError> {
        let total = self.inner.store.follower_count().await?;
        Ok(documents::counted_collection(
            &self.inner.urls.followers(),
            total,
        ))
    }

    pub fn following_collection(&self) -> Value {
        documents::counted_collection(&self.inner.urls.following(), 0)
    }

    /// The latest announced posts, as the `Create` activities that carried them.
    pub async fn outbox(&self) -> Result<Value, FederationError> {
        let (total, ids) = self.inner.store.federated_posts(20).await?;
        let mut items = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(post) = self.inner.store.published_entry(id).await? {
                items.push(self.create_activity(&post.summary));
            }
        }
        Ok(documents::outbox(&self.inner.urls, total, items))
    }

    /// A published post as an `Article`, for a request that asks for ActivityPub.
    pub fn article(&self, post: &folio_domain::PostSummary) -> Value {
        let mut article = documents::article(&self.inner.urls, post);
        if let Some(object) = article.as_object_mut() {
            object.insert(
                "@context".to_owned(),
                Value::String("https://www.w3.org/ns/activitystreams".to_owned()),
            );
        }
        article
    }

    pub(crate) fn create_activity(&self, post: &folio_domain::PostSummary) -> Value {
        documents::wrap(
            &self.inner.urls,
            "Create",
            format!(
                "{}/ap/activities/create/{}",
                self.inner.urls.base_url, post.id
            ),
            documents::article(&self.inner.urls, post),
        )
    }

    /// Reads a remote actor (signed GET), keeping what the blog needs of it.
    pub(crate) async fn fetch_actor(
        &self,
        url: &str,
        wanted_key: Option<&str>,
    ) -> Result<RemoteActor, InboxError> {
        let signer = self.signer().await?;
        let document = self.inner.fetcher.get_json(url, Some(signer)).await?;
        inbox::remote_actor_from(&document, url, wanted_key)
    }
}
