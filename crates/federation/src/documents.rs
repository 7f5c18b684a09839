//! The JSON(-LD) documents the blog publishes, as plain `serde_json` values: its actor,
//! WebFinger and NodeInfo answers, collections, posts as `Article`s and the activities
//! that carry them.

use folio_domain::posts::PostSummary;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";
const AS_CONTEXT: &str = "https://www.w3.org/ns/activitystreams";
const SECURITY_CONTEXT: &str = "https://w3id.org/security/v1";

/// The blog actor's addresses, all under the site's base URL.
#[derive(Clone, Debug)]
pub struct ActorUrls {
    pub base_url: String,
    pub username: String,
}

impl ActorUrls {
    pub fn actor(&self) -> String {
        format!("{}/ap/actor", self.base_url)
    }
    pub fn key_id(&self) -> String {
        format!("{}#main-key", self.actor())
    }
    pub fn inbox(&self) -> String {
        format!("{}/ap/inbox", self.base_url)
    }
    pub fn outbox(&self) -> String {
        format!("{}/ap/outbox", self.base_url)
    }
    pub fn followers(&self) -> String {
        format!("{}/ap/followers", self.base_url)
    }
    pub fn following(&self) -> String {
        format!("{}/ap/following", self.base_url)
    }
    /// The host part of `acct:user@host`: the base URL's authority (with a port if it has one).
    pub fn host(&self) -> String {
        reqwest::Url::parse(&self.base_url)
            .map(|url| crate::signatures::host_header(&url))
            .unwrap_or_default()
    }
    pub fn acct(&self) -> String {
        format!("acct:{}@{}", self.username, self.host())
    }
    pub fn post(&self, post: &PostSummary) -> String {
        format!("{}{}", self.base_url, post.path())
    }
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

pub fn actor(urls: &ActorUrls, name: &str, summary: &str, public_key_pem: &str) -> Value {
    json!({
        "@context": [
            AS_CONTEXT,
            SECURITY_CONTEXT,
            {
                "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
                "toot": "http://joinmastodon.org/ns#",
                "discoverable": "toot:discoverable"
            }
        ],
        "id": urls.actor(),
        "type": "Person",
        "preferredUsername": urls.username,
        "name": name,
        "summary": html_escape(summary),
        "url": format!("{}/", urls.base_url),
        "inbox": urls.inbox(),
        "outbox": urls.outbox(),
        "followers": urls.followers(),
        "following": urls.following(),
        "endpoints": { "sharedInbox": urls.inbox() },
        "manuallyApprovesFollowers": false,
        "discoverable": true,
        "publicKey": {
            "id": urls.key_id(),
            "owner": urls.actor(),
            "publicKeyPem": public_key_pem,
        },
    })
}

/// The answer to `/.well-known/webfinger?resource=…` when it names the blog (as
/// `acct:user@host` or the actor's URL).
pub fn webfinger(urls: &ActorUrls, resource: &str) -> Option<Value> {
    let acct = urls.acct();
    let matches = resource.eq_ignore_ascii_case(&acct)
        || resource == urls.actor()
        || resource
            .strip_prefix("acct:")
            .is_some_and(|rest| rest.eq_ignore_ascii_case(&acct["acct:".len()..]));
    matches.then(|| {
        json!({
            "subject": acct,
            "aliases": [urls.actor(), format!("{}/", urls.base_url)],
            "links": [
                { "rel": "self", "type": "application/activity+json", "href": urls.actor() },
                { "rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": format!("{}/", urls.base_url) },
            ],
        })
    })
}

pub fn nodeinfo_links(urls: &ActorUrls) -> Value {
    json!({
        "links": [{
            "rel": "http://nodeinfo.diaspora.software/ns/schema/2.1",
            "href": format!("{}/nodeinfo/2.1", urls.base_url),
        }]
    })
}

pub fn nodeinfo(local_posts: u64, version: &str) -> Value {
    json!({
        "version": "2.1",
        "software": {
            "name": "folio",
            "version": version,
        },
        "protocols": ["activitypub"],
        "services": { "inbound": [], "outbound": ["atom1.0", "rss2.0"] },
        "openRegistrations": false,
        "usage": {
            "users": { "total": 1, "activeMonth": 1, "activeHalfyear": 1 },
            "localPosts": local_posts,
        },
        "metadata": {},
    })
}

/// An `OrderedCollection` that only says how many it holds (followers stay private).
pub fn counted_collection(id: &str, total: u64) -> Value {
    json!({
        "@context": AS_CONTEXT,
        "id": id,
        "type": "OrderedCollection",
        "totalItems": total,
    })
}

pub fn outbox(urls: &ActorUrls, total: u64, items: Vec<Value>) -> Value {
    json!({
        "@context": AS_CONTEXT,
        "id": urls.outbox(),
        "type": "OrderedCollection",
        "totalItems": total,
        "orderedItems": items,
    })
}

/// A post as Mastodon shows an `Article`: its title, its excerpt (`summary`) and a link to
/// it; other software reads the whole `content`.
pub fn article(urls: &ActorUrls, post: &PostSummary) -> Value {
    let url = urls.post(post);
    let tags: Vec<Value> = post
        .tags
        .iter()
        .map(|tag| {
            json!({
                "type": "Hashtag",
                "name": format!("#{}", tag.name.replace(' ', "")),
                "href": format!("{}{}", urls.base_url, tag.path()),
            })
        })
        .collect();
    json!({
        "id": url,
        "type": "Article",
        "attributedTo": urls.actor(),
        "name": post.title,
        "summary": html_escape(&post.excerpt),
        "content": post.html,
        "url": url,
        "published": rfc3339(post.published_at.unwrap_or(post.updated_at)),
        "updated": rfc3339(post.updated_at),
        "to": [PUBLIC],
        "cc": [urls.followers()],
        "tag": tags,
    })
}

/// `Create`, `Update` of an object; `id` names the activity.
pub fn wrap(urls: &ActorUrls, kind: &str, id: String, object: Value) -> Value {
    json!({
        "@context": AS_CONTEXT,
        "id": id,
        "type": kind,
        "actor": urls.actor(),
        "published": rfc3339(OffsetDateTime::now_utc()),
        "to": [PUBLIC],
        "cc": [urls.followers()],
        "object": object,
    })
}

/// `Delete` of a post that is no longer public.
pub fn delete(urls: &ActorUrls, object_id: &str, at: OffsetDateTime) -> Value {
    json!({
        "@context": AS_CONTEXT,
        "id": format!("{}/ap/activities/delete/{}", urls.base_url, at.unix_timestamp_nanos() / 1_000_000),
        "type": "Delete",
        "actor": urls.actor(),
        "to": [PUBLIC],
        "cc": [urls.followers()],
        "object": { "id": object_id, "type": "Tombstone" },
    })
}

/// The answer to a `Follow`: the follow itself, accepted.
pub fn accept(urls: &ActorUrls, follow: &Value) -> Value {
    json!({
        "@context": AS_CONTEXT,
        "id": format!("{}/ap/activities/accept/{}", urls.base_url, uuid::Uuid::new_v4().simple()),
        "type": "Accept",
        "actor": urls.actor(),
        "object": follow,
    })
}

fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// A comment written here in answer to a remote note, as a `Note` the blog sends to the
/// note's author: who wrote it, then its words.
pub fn reply_note(
    urls: &ActorUrls,
    comment: &folio_domain::Comment,
    in_reply_to: &str,
    note_author: &str,
    note_author_handle: &str,
) -> Value {
    let id = format!("{}/comments/{}/", urls.base_url, comment.id);
    let content = format!(
        "<p><a href=\"{note_author}\" class=\"mention\">{}</a> <strong>{}</strong> replied:</p>{}",
        html_escape(note_author_handle),
        html_escape(&comment.author_name),
        comment.html
    );
    json!({
        "id": id,
        "type": "Note",
        "attributedTo": urls.actor(),
        "inReplyTo": in_reply_to,
        "content": content,
        "url": id,
        "published": rfc3339(comment.created_at),
        "to": [PUBLIC],
        "cc": [note_author, urls.followers()],
        "tag": [{ "type": "Mention", "href": note_author, "name": note_author_handle }],
    })
}
