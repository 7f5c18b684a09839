//! What other servers POST to the blog's inbox: checked (signature, date, digest, the
//! signer is the activity's actor, neither is blocked), then acted on.

use folio_storage::{NewDelivery, RemoteActor, StorageError};
use reqwest::header::HeaderMap;
use serde_json::Value;
use time::OffsetDateTime;

use crate::signatures::{self, SignatureError};
use crate::{Federation, FederationError, FetchError, documents};

/// What an accepted activity asks of the site, beyond what this crate did itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// Handled here (a follow, an unfollow), or nothing to do: a word for the log.
    Done(&'static str),
    /// A public reply (`Create{Note}`) to something on this site: the web side turns it
    /// into a comment through the same path as a reader's.
    Reply(Box<RemoteReply>),
    /// The author changed a note that became a comment here.
    NoteUpdated(Box<RemoteReply>),
    /// The author deleted a note that became a comment here.
    NoteDeleted { note_id: String, actor_id: String },
    /// A `Like` or an `Announce` (boost) of something here, by `actor`.
    Reaction(Box<Reaction>),
    /// The `Undo` of a like or a boost: its activity id.
    ReactionUndone {
        activity_id: String,
        actor_id: String,
    },
}

/// A like or a boost from the fediverse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaction {
    pub actor: RemoteActor,
    /// `like` or `announce`.
    pub kind: &'static str,
    pub activity_id: String,
    /// What was liked or boosted: a post's URL.
    pub object: String,
}

/// A remote `Note` that replies to a post or a comment here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteReply {
    pub author: RemoteActor,
    pub note_id: String,
    /// What it replies to: a post's URL, a comment's, or another remote note's id.
    pub in_reply_to: String,
    /// The note's HTML, as sent (not yet sanitized).
    pub content_html: String,
}

#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error("the signer's key could not be fetched: {0}")]
    KeyFetch(#[source] FetchError),
    #[error("the activity's actor is not the one who signed it")]
    ActorMismatch,
    #[error("this server or account is blocked here")]
    Blocked,
    #[error("not an activity this inbox can read: {0}")]
    BadActivity(&'static str),
    #[error("the remote actor's document cannot be used: {0}")]
    BadActor(&'static str),
    #[error("federation storage")]
    Storage(#[from] StorageError),
    #[error("federation keys")]
    Keys(#[from] FederationError),
}

impl From<FetchError> for InboxError {
    fn from(error: FetchError) -> Self {
        InboxError::KeyFetch(error)
    }
}

impl InboxError {
    /// The HTTP status an inbox answers with.
    pub fn status(&self) -> u16 {
        match self {
            InboxError::Signature(SignatureError::Unsigned)
            | InboxError::Signature(_)
            | InboxError::KeyFetch(_)
            | InboxError::ActorMismatch => 401,
            InboxError::Blocked => 403,
            InboxError::BadActivity(_) | InboxError::BadActor(_) => 400,
            InboxError::Storage(_) | InboxError::Keys(_) => 500,
        }
    }
}

/// The `id` of a value that is either a URL or an object with an `id`.
pub(crate) fn id_of(value: &Value) -> Option<&str> {
    match value {
        Value::String(id) => Some(id),
        Value::Object(object) => object.get("id").and_then(Value::as_str),
        _ => None,
    }
}

/// The host (and port) of a URL: what domain blocks name.
pub(crate) fn domain_of(url: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).ok()?;
    Some(signatures::host_header(&url).to_ascii_lowercase())
}

fn same_origin(a: &str, b: &str) -> bool {
    match (reqwest::Url::parse(a), reqwest::Url::parse(b)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

/// What the blog keeps of a fetched actor document. `fetched_from` is where it came from:
/// the document's `id` must be on the same server.
pub(crate) fn remote_actor_from(
    document: &Value,
    fetched_from: &str,
    wanted_key: Option<&str>,
) -> Result<RemoteActor, InboxError> {
    let id = document
        .get("id")
        .and_then(Value::as_str)
        .ok_or(InboxError::BadActor("no id"))?;
    if !same_origin(id, fetched_from) {
        return Err(InboxError::BadActor("its id is on another server"));
    }
    let keys: Vec<&Value> = match document.get("publicKey") {
        Some(Value::Array(keys)) => keys.iter().collect(),
        Some(key @ Value::Object(_)) => vec![key],
        _ => Vec::new(),
    };
    let key = keys
        .iter()
        .find(|key| wanted_key.is_some() && id_of(key) == wanted_key)
        .or_else(|| keys.first())
        .ok_or(InboxError::BadActor("no publicKey"))?;
    let key_id = id_of(key).ok_or(InboxError::BadActor("a key without an id"))?;
    let pem = key
        .get("publicKeyPem")
        .and_then(Value::as_str)
        .ok_or(InboxError::BadActor("a key without publicKeyPem"))?;
    if key
        .get("owner")
        .and_then(Value::as_str)
        .is_some_and(|owner| owner != id)
    {
        return Err(InboxError::BadActor("its key belongs to someone else"));
    }
    let inbox = document
        .get("inbox")
        .and_then(Value::as_str)
        .ok_or(InboxError::BadActor("no inbox"))?;
    let shared_inbox = document
        .get("endpoints")
        .and_then(|e| e.get("sharedInbox"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let domain = domain_of(id).ok_or(InboxError::BadActor("its id is not a URL"))?;
    let username = document
        .get("preferredUsername")
        .and_then(Value::as_str)
        .unwrap_or("someone");
    let name = document
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .unwrap_or(username);
    let icon_url = match document.get("icon") {
        Some(Value::Array(icons)) => icons.first().and_then(|i| i.get("url")),
        Some(icon) => icon.get("url"),
        None => None,
    }
    .and_then(|url| match url {
        Value::String(url) => Some(url.clone()),
        other => other.get("href").and_then(Value::as_str).map(str::to_owned),
    });
    let profile_url = match document.get("url") {
        Some(Value::String(url)) => Some(url.clone()),
        Some(other) => other.get("href").and_then(Value::as_str).map(str::to_owned),
        None => None,
    }
    .or_else(|| Some(id.to_owned()));
    Ok(RemoteActor {
        actor_id: id.to_owned(),
        key_id: key_id.to_owned(),
        public_key_pem: pem.to_owned(),
        inbox: inbox.to_owned(),
        shared_inbox,
        handle: format!("@{username}@{domain}"),
        name: name.chars().take(200).collect(),
        icon_url,
        profile_url,
        domain,
    })
}

fn is_public(value: &Value) -> bool {
    matches!(
        id_of(value),
        Some(documents::PUBLIC | "as:Public" | "Public")
    )
}

/// The reply a `Create` carries, if it is a public `Note` by the activity's actor that
/// answers something.
fn reply_in(object: &Value, actor: &RemoteActor) -> Option<RemoteReply> {
    if object.get("type").and_then(Value::as_str) != Some("Note") {
        return None;
    }
    let note_id = object.get("id").and_then(Value::as_str)?;
    let author = object.get("attributedTo").and_then(id_of)?;
    if author != actor.actor_id || !same_origin(note_id, &actor.actor_id) {
        return None;
    }
    let public = ["to", "cc"].iter().any(|field| match object.get(*field) {
        Some(Value::Array(values)) => values.iter().any(is_public),
        Some(value) => is_public(value),
        None => false,
    });
    if !public {
        // A direct or followers-only message is not a comment for everyone to read.
        return None;
    }
    let in_reply_to = object.get("inReplyTo").and_then(id_of)?;
    let content_html = object.get("content").and_then(Value::as_str)?;
    Some(RemoteReply {
        author: actor.clone(),
        note_id: note_id.to_owned(),
        in_reply_to: in_reply_to.to_owned(),
        content_html: content_html.to_owned(),
    })
}

impl Federation {
    /// Checks and handles one POST to the inbox. `path_and_query` is the request's target as
    /// received; `body` at most [`crate::MAX_BODY_BYTES`] (the route limits it).
    pub async fn receive(
        &self,
        path_and_query: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Received, InboxError> {
        let now = OffsetDateTime::now_utc();
        let parsed = signatures::check_request(headers, Some(body), now)?;
        let activity: Value =
            serde_json::from_slice(body).map_err(|_| InboxError::BadActivity("not JSON"))?;
        let actor_id = activity
            .get("actor")
            .and_then(id_of)
            .ok_or(InboxError::BadActivity("no actor"))?
            .to_owned();
        let actor_domain =
            domain_of(&actor_id).ok_or(InboxError::BadActivity("actor is not a URL"))?;
        let key_domain = domain_of(&parsed.key_id).ok_or(InboxError::Signature(
            SignatureError::Malformed("keyId is not a URL"),
        ))?;
        let store = self.store();
        if store
            .is_federation_blocked(&actor_id, &actor_domain)
            .await?
            || store.is_federation_blocked(&actor_id, &key_domain).await?
        {
            return Err(InboxError::Blocked);
        }
        // A deleted account says goodbye to every server it knew; its key is gone with it
        // (410), so it cannot be checked. Nothing is kept of an account never seen here.
        if activity.get("type").and_then(Value::as_str) == Some("Delete")
            && activity.get("object").and_then(id_of) == Some(actor_id.as_str())
            && store.remote_actor(&actor_id).await?.is_none()
        {
            return Ok(Received::Done("ignored: an unknown account deleted"));
        }
        let actor = self
            .verified_signer(&parsed, path_and_query, headers)
            .await?;
        if actor.actor_id != actor_id {
            return Err(InboxError::ActorMismatch);
        }
        self.handle(&activity, &actor).await
    }

    /// The actor whose key made the signature: from the cache, or fetched (again, when the
    /// cached key no longer verifies: the actor may have rotated it).
    async fn verified_signer(
        &self,
        parsed: &signatures::SignatureHeader,
        path_and_query: &str,
        headers: &HeaderMap,
    ) -> Result<RemoteActor, InboxError> {
        let check = |actor: &RemoteActor| -> Result<(), InboxError> {
            let key = signatures::public_key_from_pem(&actor.public_key_pem)?;
            signatures::verify(parsed, "POST", path_and_query, headers, &key)?;
            Ok(())
        };
        if let Some(cached) = self.store().remote_actor_by_key(&parsed.key_id).await?
            && check(&cached).is_ok()
        {
            return Ok(cached);
        }
        let key_url = parsed.key_id.split('#').next().unwrap_or_default();
        let actor = self.fetch_actor(key_url, Some(&parsed.key_id)).await?;
        if actor.key_id != parsed.key_id {
            return Err(InboxError::BadActor("it does not publish the signing key"));
        }
        check(&actor)?;
        self.store().save_remote_actor(&actor).await?;
        Ok(actor)
    }

    async fn handle(&self, activity: &Value, actor: &RemoteActor) -> Result<Received, InboxError> {
        let kind = activity.get("type").and_then(Value::as_str).unwrap_or("");
        let object = activity.get("object").unwrap_or(&Value::Null);
        match kind {
            "Follow" => self.follow(activity, actor).await.map(Received::Done),
            "Create" => Ok(
                reply_in(object, actor).map_or(Received::Done("ignored"), |reply| {
                    Received::Reply(Box::new(reply))
                }),
            ),
            "Update" => Ok(
                reply_in(object, actor).map_or(Received::Done("ignored"), |reply| {
                    Received::NoteUpdated(Box::new(reply))
                }),
            ),
            "Like" | "Announce" => {
                let (Some(activity_id), Some(target)) =
                    (activity.get("id").and_then(Value::as_str), id_of(object))
                else {
                    return Ok(Received::Done("ignored"));
                };
                Ok(Received::Reaction(Box::new(Reaction {
                    actor: actor.clone(),
                    kind: if kind == "Like" { "like" } else { "announce" },
                    activity_id: activity_id.to_owned(),
                    object: target.to_owned(),
                })))
            }
            "Undo" => {
                let undone = object.get("type").and_then(Value::as_str).unwrap_or("");
                let undone_id = id_of(object).unwrap_or("");
                let follows = self.store().followers().await?;
                let is_follow = undone == "Follow"
                    || follows
                        .iter()
                        .any(|f| f.actor_id == actor.actor_id && f.follow_activity_id == undone_id);
                if is_follow {
                    self.store().remove_follower(&actor.actor_id).await?;
                    tracing::info!(actor = %actor.actor_id, "fediverse follower left");
                    Ok(Received::Done("unfollowed"))
                } else if matches!(undone, "Like" | "Announce" | "") && !undone_id.is_empty() {
                    Ok(Received::ReactionUndone {
                        activity_id: undone_id.to_owned(),
                        actor_id: actor.actor_id.clone(),
                    })
                } else {
                    Ok(Received::Done("ignored"))
                }
            }
            "Delete" if id_of(object) == Some(actor.actor_id.as_str()) => {
                self.store().remove_follower(&actor.actor_id).await?;
                Ok(Received::Done("actor deleted"))
            }
            "Delete" => match id_of(object) {
                Some(note_id) => Ok(Received::NoteDeleted {
                    note_id: note_id.to_owned(),
                    actor_id: actor.actor_id.clone(),
                }),
                None => Ok(Received::Done("ignored")),
            },
            _ => Ok(Received::Done("ignored")),
        }
    }

    async fn follow(
        &self,
        activity: &Value,
        actor: &RemoteActor,
    ) -> Result<&'static str, InboxError> {
        let target = activity.get("object").and_then(id_of).unwrap_or("");
        if target != self.urls().actor() {
            return Err(InboxError::BadActivity("a Follow of someone else"));
        }
        let follow_id = activity
            .get("id")
            .and_then(Value::as_str)
            .ok_or(InboxError::BadActivity("a Follow without an id"))?;
        let mut follow = activity.clone();
        if let Some(object) = follow.as_object_mut() {
            object.remove("@context");
        }
        let accept = documents::accept(self.urls(), &follow);
        let delivery = NewDelivery {
            inbox: actor.inbox.clone(),
            activity: accept.to_string(),
            dedupe_key: format!("accept:{follow_id}"),
        };
        self.store()
            .add_follower(actor, follow_id, delivery)
            .await?;
        tracing::info!(actor = %actor.actor_id, "new fediverse follower");
        Ok("followed")
    }
}
