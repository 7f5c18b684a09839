//! Who is told what when a comment arrives: a pure decision, so every rule is tested here
//! without a database or an SMTP server.
//!
//! - the author of the parent comment, on a reply (if they kept "email me replies" on);
//! - the thread's followers ("Notify me of follow-up comments");
//! - the post's author and the moderators, on a new comment;
//! - for a held comment, only the moderators (followers hear once it is approved);
//! - nobody of their own comment, nobody at an unverified address, and one email per person
//!   per event, of the most personal kind that applies.

use std::collections::HashSet;

use crate::CommentStatus;

/// Why someone gets an email about a comment; the order is "most personal first": a person
/// in several roles gets the email of the first role that applies to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NoticeKind {
    /// Someone answered your comment.
    Reply,
    /// A new comment in a thread you follow.
    FollowedThread,
    /// A new comment on your post (authors) or on the site (moderators).
    NewComment,
    /// A comment waits for a moderator.
    Moderation,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Reply => "reply",
            NoticeKind::FollowedThread => "follow",
            NoticeKind::NewComment => "new_comment",
            NoticeKind::Moderation => "moderation",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "reply" => Some(NoticeKind::Reply),
            "follow" => Some(NoticeKind::FollowedThread),
            "new_comment" => Some(NoticeKind::NewComment),
            "moderation" => Some(NoticeKind::Moderation),
            _ => None,
        }
    }
}

/// A person who might be told, as far as the decision needs to know them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub user_id: i64,
    pub name: String,
    pub email: Option<String>,
    /// Vouched for by a provider or confirmed by its owner: mail goes nowhere else.
    pub email_verified: bool,
    /// "Email me when someone replies to my comment".
    pub notify_replies: bool,
    /// The person asked for no mail about this post's thread.
    pub muted_thread: bool,
}

impl Person {
    /// The address mail may be sent to, if any.
    pub fn deliverable_address(&self) -> Option<&str> {
        match &self.email {
            Some(address) if self.email_verified && address.contains('@') && !self.muted_thread => {
                Some(address.trim())
            }
            _ => None,
        }
    }
}

/// What is known about a new (or newly approved) comment and the people around it.
#[derive(Debug, Clone)]
pub struct CommentEvent {
    pub comment_id: i64,
    pub comment_author: Option<i64>,
    pub status: CommentStatus,
    /// The author of the comment this one answers, if it is a reply by a user.
    pub parent_author: Option<Person>,
    pub post_author: Option<Person>,
    pub followers: Vec<Person>,
    pub moderators: Vec<Person>,
}

/// One email to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub kind: NoticeKind,
    pub user_id: i64,
    pub name: String,
    pub address: String,
    /// The same for every email about one event and address: the outbox keeps one row per key.
    pub dedupe_key: String,
}

/// The key that makes "one email per person per event" hold in the outbox too, across the
/// moment a held comment is approved.
pub fn comment_dedupe_key(comment_id: i64, address: &str) -> String {
    format!("comment:{comment_id}:{}", address.trim().to_lowercase())
}

/// Who is told of this comment, and why. Empty for spam and trash.
pub fn who_is_told(event: &CommentEvent) -> Vec<Notice> {
    let mut candidates: Vec<(NoticeKind, &Person)> = Vec::new();
    match event.status {
        CommentStatus::Pending => {
            candidates.extend(event.moderators.iter().map(|m| (NoticeKind::Moderation, m)));
        }
        CommentStatus::Approved => {
            if let Some(parent) = &event.parent_author
                && parent.notify_replies
            {
                candidates.push((NoticeKind::Reply, parent));
            }
            candidates.extend(
                event
                    .followers
                    .iter()
                    .map(|f| (NoticeKind::FollowedThread, f)),
            );
            candidates.extend(
                event
                    .post_author
                    .iter()
                    .chain(event.moderators.iter())
                    .map(|p| (NoticeKind::NewComment, p)),
            );
        }
        CommentStatus::Spam | CommentStatus::Trash => {}
    }
    // Most personal first; a stable sort keeps the order of equal kinds.
    candidates.sort_by_key(|(kind, _)| *kind);
    let mut told_users = HashSet::new();
    let mut told_addresses = HashSet::new();
    let mut notices = Vec::new();
    for (kind, person) in candidates {
        if Some(person.user_id) == event.comment_author {
            continue;
        }
        let Some(address) = person.deliverable_address() else {
            continue;
        };
        let normalized = address.to_lowercase();
        if !told_users.insert(person.user_id) || !told_addresses.insert(normalized) {
            continue;
        }
        notices.push(Notice {
            kind,
            user_id: person.user_id,
            name: person.name.clone(),
            address: address.to_owned(),
            dedupe_key: comment_dedupe_key(event.comment_id, address),
        });
    }
    notices
}

/// Whether a blog subscriber may get an email about a new post: only once their address is
/// confirmed (a typed address gets nothing but the confirmation email before that).
pub fn receives_new_posts(confirmed: bool, subscriber_user: Option<i64>, post_author: i64) -> bool {
    confirmed && subscriber_user != Some(post_author)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn person(id: i64) -> Person {
        Person {
            user_id: id,
            name: format!("User {id}"),
            email: Some(format!("user{id}@example.org")),
            email_verified: true,
            notify_replies: true,
            muted_thread: false,
        }
    }

    fn event(status: CommentStatus) -> CommentEvent {
        CommentEvent {
            comment_id: 7,
            comment_author: Some(2),
            status,
            parent_author: Some(person(1)),
            post_author: Some(person(10)),
            followers: vec![person(3)],
            moderators: vec![person(20)],
        }
    }

    fn told(notices: &[Notice]) -> Vec<(i64, NoticeKind)> {
        notices.iter().map(|n| (n.user_id, n.kind)).collect()
    }

    #[test]
    fn a_reply_tells_parent_author_followers_post_author_and_moderators() {
        let notices = who_is_told(&event(CommentStatus::Approved));
        assert_eq!(
            told(&notices),
            vec![
                (1, NoticeKind::Reply),
                (3, NoticeKind::FollowedThread),
                (10, NoticeKind::NewComment),
                (20, NoticeKind::NewComment),
            ]
        );
        assert_eq!(notices[0].address, "user1@example.org");
        assert_eq!(notices[0].dedupe_key, "comment:7:user1@example.org");
    }

    #[test]
    fn parent_author_who_turned_replies_off_is_not_told_unless_following() {
        let mut e = event(CommentStatus::Approved);
        e.parent_author.as_mut().unwrap().notify_replies = false;
        assert!(!told(&who_is_told(&e)).contains(&(1, NoticeKind::Reply)));
        e.followers.push(e.parent_author.clone().unwrap());
        assert!(told(&who_is_told(&e)).contains(&(1, NoticeKind::FollowedThread)));
    }

    #[test]
    fn nobody_is_told_of_their_own_comment() {
        let mut e = event(CommentStatus::Approved);
        e.comment_author = Some(1);
        e.followers.push(person(1));
        e.moderators.push(person(1));
        assert!(who_is_told(&e).iter().all(|n| n.user_id != 1));
        // A moderator's own comment does not notify them either.
        e.comment_author = Some(20);
        assert!(who_is_told(&e).iter().all(|n| n.user_id != 20));
    }

    #[test]
    fn one_email_per_person_of_the_most_personal_kind() {
        let mut e = event(CommentStatus::Approved);
        e.followers.push(person(1));
        e.moderators.push(person(1));
        e.post_author = Some(person(1));
        let notices = who_is_told(&e);
        let for_one: Vec<_> = notices.iter().filter(|n| n.user_id == 1).collect();
        assert_eq!(for_one.len(), 1);
        assert_eq!(for_one[0].kind, NoticeKind::Reply);
    }

    #[test]
    fn two_accounts_with_one_address_get_one_email() {
        let mut e = event(CommentStatus::Approved);
        let mut twin = person(4);
        twin.email = Some("USER3@example.org".into());
        e.followers.push(twin);
        let notices = who_is_told(&e);
        assert_eq!(
            notices
                .iter()
                .filter(|n| n.address.eq_ignore_ascii_case("user3@example.org"))
                .count(),
            1
        );
    }

    #[test]
    fn unverified_missing_or_muted_addresses_get_nothing() {
        let mut e = event(CommentStatus::Approved);
        e.parent_author.as_mut().unwrap().email_verified = false;
        e.followers[0].email = None;
        e.post_author.as_mut().unwrap().muted_thread = true;
        assert_eq!(told(&who_is_told(&e)), vec![(20, NoticeKind::NewComment)]);
    }

    #[test]
    fn a_held_comment_tells_only_moderators() {
        let notices = who_is_told(&event(CommentStatus::Pending));
        assert_eq!(told(&notices), vec![(20, NoticeKind::Moderation)]);
        // Once approved, the same event key keeps the moderator from a second email.
        let approved = who_is_told(&event(CommentStatus::Approved));
        let moderator = approved.iter().find(|n| n.user_id == 20).unwrap();
        assert_eq!(moderator.dedupe_key, notices[0].dedupe_key);
    }

    #[test]
    fn spam_and_trash_tell_nobody() {
        assert!(who_is_told(&event(CommentStatus::Spam)).is_empty());
        assert!(who_is_told(&event(CommentStatus::Trash)).is_empty());
    }

    #[test]
    fn a_top_level_comment_has_no_reply_notice() {
        let mut e = event(CommentStatus::Approved);
        e.parent_author = None;
        assert!(who_is_told(&e).iter().all(|n| n.kind != NoticeKind::Reply));
    }

    #[test]
    fn new_posts_go_only_to_confirmed_subscribers_other_than_the_author() {
        assert!(receives_new_posts(true, None, 1));
        assert!(receives_new_posts(true, Some(2), 1));
        assert!(!receives_new_posts(false, None, 1));
        assert!(!receives_new_posts(true, Some(1), 1));
    }

    #[test]
    fn kinds_round_trip() {
        for kind in [
            NoticeKind::Reply,
            NoticeKind::FollowedThread,
            NoticeKind::NewComment,
            NoticeKind::Moderation,
        ] {
            assert_eq!(NoticeKind::parse(kind.as_str()), Some(kind));
        }
    }
}
