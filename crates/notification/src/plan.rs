//! The outbox rows for an event, planned before the transaction that writes them.

use folio_domain::CommentStatus;
use folio_domain::notifications::{CommentEvent, NoticeKind, who_is_told};
use folio_storage::{BlogSubscription, CommentAudience, NewMail, StorageError, Store};

use crate::messages::{CommentPayload, ConfirmPayload, PostPayload, QuotedComment};

/// What is known of a new comment before it is written.
#[derive(Debug, Clone)]
pub struct CommentFacts<'a> {
    pub post_id: i64,
    pub post_title: &'a str,
    pub post_path: &'a str,
    pub parent_id: Option<i64>,
    pub author_id: Option<i64>,
    pub author_name: &'a str,
    /// The Markdown text.
    pub source: &'a str,
    /// The HTML rendered from it, once, for the page and the emails alike.
    pub html: &'a str,
    pub status: CommentStatus,
    /// The post has a password (the caller has read the post already).
    pub protected: bool,
}

/// The people around a comment and what to tell them; `rows` makes the outbox rows once the
/// comment's id is known (inside its transaction).
#[derive(Debug, Clone)]
pub struct CommentMailPlan {
    audience: CommentAudience,
    author_id: Option<i64>,
    status: CommentStatus,
    post_id: i64,
    post_title: String,
    post_path: String,
    author_name: String,
    source: String,
    html: String,
    parent: Option<QuotedComment>,
    /// The post has a password: readers' emails name the comment without its words.
    protected: bool,
}

/// What a reader's email says instead of a comment on a password-protected post.
const PROTECTED_COMMENT: &str =
    "(This conversation is on a password-protected post: open it to read the comment.)";

/// Loads who may be told of a comment about to be written.
pub async fn plan_comment_mail(
    store: &Store,
    facts: CommentFacts<'_>,
) -> Result<CommentMailPlan, StorageError> {
    let audience = store
        .comment_audience(facts.post_id, facts.parent_id)
        .await?;
    let parent = match facts.parent_id {
        Some(id) => match store.comment(id).await? {
            Some(c) if !c.deleted => Some(QuotedComment {
                id: c.id,
                author_name: c.author_name,
                text: store.comment_source(id).await?.unwrap_or_default(),
                html: c.html,
            }),
            _ => None,
        },
        None => None,
    };
    Ok(CommentMailPlan {
        protected: facts.protected,
        audience,
        author_id: facts.author_id,
        status: facts.status,
        post_id: facts.post_id,
        post_title: facts.post_title.to_owned(),
        post_path: facts.post_path.to_owned(),
        author_name: facts.author_name.to_owned(),
        source: facts.source.to_owned(),
        html: facts.html.to_owned(),
        parent,
    })
}

impl CommentMailPlan {
    /// One outbox row per person to tell about comment `comment_id`.
    pub fn rows(&self, comment_id: i64) -> Vec<NewMail> {
        let event = CommentEvent {
            comment_id,
            comment_author: self.author_id,
            status: self.status,
            parent_author: self.audience.parent_author.clone(),
            post_author: self.audience.post_author.clone(),
            followers: self.audience.followers.clone(),
            moderators: self.audience.moderators.clone(),
        };
        let comment = QuotedComment {
            id: comment_id,
            author_name: self.author_name.clone(),
            text: self.source.clone(),
            html: self.html.clone(),
        };
        who_is_told(&event)
            .into_iter()
            .filter_map(|notice| {
                // Moderators and the post's author see the words (they must judge them, and
                // hold the post); repliers and followers may not have the password.
                let sealed = self.protected
                    && matches!(notice.kind, NoticeKind::Reply | NoticeKind::FollowedThread);
                let (comment, parent) = if sealed {
                    let hidden = QuotedComment {
                        text: PROTECTED_COMMENT.to_owned(),
                        html: format!("<p>{PROTECTED_COMMENT}</p>"),
                        ..comment.clone()
                    };
                    (hidden, None)
                } else {
                    (comment.clone(), self.parent.clone())
                };
                let payload = CommentPayload {
                    recipient_name: notice.name.clone(),
                    post_id: self.post_id,
                    post_title: self.post_title.clone(),
                    post_path: self.post_path.clone(),
                    comment,
                    parent,
                    held: self.status == CommentStatus::Pending,
                };
                let payload = serde_json::to_string(&payload).ok()?;
                Some(NewMail {
                    kind: notice.kind.as_str().to_owned(),
                    recipient: notice.address,
                    user_id: Some(notice.user_id),
                    post_id: Some(self.post_id),
                    comment_id: Some(comment_id),
                    payload,
                    dedupe_key: notice.dedupe_key,
                })
            })
            .collect()
    }
}

/// Plans the emails for a stored comment about to be approved: its followers, the parent's
/// author and the post's author hear of it (moderators told when it was held get no second
/// email: the outbox keeps one row per person and comment). The rows are queued by the
/// storage call that changes the status, only if it does. `None`: the comment is gone.
pub async fn plan_approval_mail(
    store: &Store,
    comment_id: i64,
    post_title: &str,
    post_path: &str,
) -> Result<Option<CommentMailPlan>, StorageError> {
    let Some(comment) = store.comment(comment_id).await? else {
        return Ok(None);
    };
    if comment.deleted {
        return Ok(None);
    }
    let source = store.comment_source(comment_id).await?.unwrap_or_default();
    let protected = store.is_protected(comment.post_id).await?;
    let plan = plan_comment_mail(
        store,
        CommentFacts {
            post_id: comment.post_id,
            post_title,
            post_path,
            parent_id: comment.parent_id,
            author_id: comment.author_id,
            author_name: &comment.author_name,
            source: &source,
            html: &comment.html,
            status: CommentStatus::Approved,
            protected,
        },
    )
    .await?;
    Ok(Some(plan))
}

/// Queues one email per confirmed blog subscriber about a published post.
pub async fn notify_new_post(
    store: &Store,
    payload: &PostPayload,
    author_id: i64,
) -> Result<u64, StorageError> {
    let json = serde_json::to_string(payload).unwrap_or_default();
    store
        .enqueue_new_post_mail(payload.post_id, author_id, &json)
        .await
}

/// The double opt-in email for a typed address.
pub fn confirmation_mail(subscription: &BlogSubscription) -> NewMail {
    let payload = ConfirmPayload {
        confirm_path: format!("/subscribe/confirm/{}", subscription.confirm_token),
    };
    NewMail {
        kind: "confirm_blog".to_owned(),
        recipient: subscription.email.clone(),
        user_id: None,
        post_id: None,
        comment_id: None,
        payload: serde_json::to_string(&payload).unwrap_or_default(),
        dedupe_key: format!("confirm:{}", subscription.id),
    }
}

/// The email with a single-use sign-in link; the outbox's dedupe key is set by the store.
pub fn sign_in_mail(email: &str, token: &str) -> NewMail {
    let payload = crate::messages::SignInPayload {
        link_path: format!("/auth/email/link/{token}"),
    };
    NewMail {
        kind: "sign_in".to_owned(),
        recipient: email.to_owned(),
        user_id: None,
        post_id: None,
        comment_id: None,
        payload: serde_json::to_string(&payload).unwrap_or_default(),
        dedupe_key: String::new(),
    }
}
