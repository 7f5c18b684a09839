use std::collections::HashMap;

use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommentStatus {
    Pending,
    Approved,
    Spam,
    Trash,
}

impl CommentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CommentStatus::Pending => "pending",
            CommentStatus::Approved => "approved",
            CommentStatus::Spam => "spam",
            CommentStatus::Trash => "trash",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "pending" | "hold" => Some(CommentStatus::Pending),
            "approved" | "approve" => Some(CommentStatus::Approved),
            "spam" => Some(CommentStatus::Spam),
            "trash" => Some(CommentStatus::Trash),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    pub id: i64,
    pub post_id: i64,
    pub parent_id: Option<i64>,
    pub author_id: Option<i64>,
    pub author_name: String,
    pub author_url: Option<String>,
    pub author_avatar: Option<String>,
    pub html: String,
    pub status: CommentStatus,
    pub created_at: OffsetDateTime,
    pub edited_at: Option<OffsetDateTime>,
    /// Deleted by its author while it had replies: shown as a marker that keeps them in place.
    pub deleted: bool,
}

impl Comment {
    /// Whether `viewer` may still change or delete this comment: their own, not yet deleted,
    /// and within the edit window after it was written.
    pub fn editable_by(&self, viewer: i64, now: OffsetDateTime, window: time::Duration) -> bool {
        self.author_id == Some(viewer) && !self.deleted && now - self.created_at <= window
    }
}

/// Which new comments wait for a moderator, as in the `[comments] moderation` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModerationPolicy {
    /// Every comment appears at once.
    Off,
    /// Held until the person has one approved comment (WordPress's "comment author must have
    /// a previously approved comment").
    FirstTime,
    /// Every comment waits.
    Always,
}

impl ModerationPolicy {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "off" => Some(ModerationPolicy::Off),
            "first_time" => Some(ModerationPolicy::FirstTime),
            "always" => Some(ModerationPolicy::Always),
            _ => None,
        }
    }

    /// The status a new comment gets. Moderators are never held.
    pub fn initial_status(self, author_moderates: bool, has_approved: bool) -> CommentStatus {
        let held = match self {
            _ if author_moderates => false,
            ModerationPolicy::Off => false,
            ModerationPolicy::FirstTime => !has_approved,
            ModerationPolicy::Always => true,
        };
        if held {
            CommentStatus::Pending
        } else {
            CommentStatus::Approved
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommentLimits {
    pub max_length: usize,
    pub max_links: usize,
}

/// Why a comment was not accepted, in words for the person who wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommentRefusal {
    Empty,
    TooLong { max: usize, length: usize },
    TooManyLinks { max: usize },
    Duplicate,
    TooFast,
    Closed,
    Banned,
    LooksAutomated,
    NoSuchParent,
}

impl CommentRefusal {
    pub fn message(&self) -> String {
        match self {
            CommentRefusal::Empty => "Your comment is empty. Please type something before posting.".into(),
            CommentRefusal::TooLong { max, length } => format!(
                "Your comment is {length} characters long; the limit is {max}. Please shorten it and post again."
            ),
            CommentRefusal::TooManyLinks { max } => format!(
                "Your comment has more than {max} links. Please remove some and post again."
            ),
            CommentRefusal::Duplicate => "You already posted this comment here.".into(),
            CommentRefusal::TooFast => "You are commenting too quickly. Please wait a minute and post again.".into(),
            CommentRefusal::Closed => "Comments are closed on this post.".into(),
            CommentRefusal::Banned => "Your account may not comment on this site.".into(),
            CommentRefusal::LooksAutomated => "This comment looked automated and was not posted. If you are a person, please post it again.".into(),
            CommentRefusal::NoSuchParent => "The comment you replied to is no longer there. Your text is kept below: post it as a new comment.".into(),
        }
    }
}

impl CommentLimits {
    /// Checks a comment's text and returns it trimmed, without the characters XML forbids
    /// (they would break every feed the comment appears in).
    pub fn check(&self, text: &str) -> Result<String, CommentRefusal> {
        let cleaned = crate::text::xml_safe(text);
        let text = cleaned.trim();
        if text.is_empty() {
            return Err(CommentRefusal::Empty);
        }
        let length = text.chars().count();
        if length > self.max_length {
            return Err(CommentRefusal::TooLong {
                max: self.max_length,
                length,
            });
        }
        if count_links(text) > self.max_links {
            return Err(CommentRefusal::TooManyLinks {
                max: self.max_links,
            });
        }
        Ok(text.to_owned())
    }
}

/// Links as a spammer writes them: every `http://`, `https://` or `www.` in the text.
fn count_links(text: &str) -> usize {
    let lower = text.to_ascii_lowercase();
    ["http://", "https://", "www."]
        .iter()
        .map(|marker| lower.matches(marker).count())
        .sum::<usize>()
        .saturating_sub(lower.matches("://www.").count())
}

/// Whether a post still takes comments: open, and (when `close_after_days` is set) published
/// recently enough.
pub fn comments_open(
    open: bool,
    published_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
    close_after_days: u32,
) -> bool {
    if !open {
        return false;
    }
    match (close_after_days, published_at) {
        (0, _) | (_, None) => true,
        (days, Some(published)) => now - published < time::Duration::days(i64::from(days)),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CommentNode {
    pub comment: Comment,
    pub depth: u32,
    pub children: Vec<CommentNode>,
}

impl CommentNode {
    /// Whether comment `id` is this one or among its replies.
    pub fn contains(&self, id: i64) -> bool {
        self.comment.id == id || self.children.iter().any(|child| child.contains(id))
    }
}

/// Arranges comments (in display order, oldest first) into a thread. Replies nested deeper than
/// `max_depth` are shown at the deepest level, as WordPress does; a reply whose parent is not
/// in the list (held, deleted) is shown at the top level rather than hidden.
pub fn build_thread(comments: Vec<Comment>, max_depth: u32) -> Vec<CommentNode> {
    let max_depth = max_depth.max(1);
    let known: std::collections::HashSet<i64> = comments.iter().map(|c| c.id).collect();
    let mut children_of: HashMap<Option<i64>, Vec<Comment>> = HashMap::new();
    for comment in comments {
        let parent = comment
            .parent_id
            .filter(|p| known.contains(p) && *p != comment.id);
        children_of.entry(parent).or_default().push(comment);
    }
    let roots = children_of.remove(&None).unwrap_or_default();
    if max_depth == 1 {
        return flatten_at(roots, 1, &mut children_of);
    }
    roots
        .into_iter()
        .map(|root| attach(root, 1, max_depth, &mut children_of))
        .collect()
}

fn attach(
    comment: Comment,
    depth: u32,
    max_depth: u32,
    children_of: &mut HashMap<Option<i64>, Vec<Comment>>,
) -> CommentNode {
    let direct = children_of.remove(&Some(comment.id)).unwrap_or_default();
    let children = if depth + 1 < max_depth {
        direct
            .into_iter()
            .map(|child| attach(child, depth + 1, max_depth, children_of))
            .collect()
    } else {
        flatten_at(direct, max_depth, children_of)
    };
    CommentNode {
        comment,
        depth,
        children,
    }
}

/// Puts `comments` and all their descendants side by side at one level, in time order.
fn flatten_at(
    comments: Vec<Comment>,
    depth: u32,
    children_of: &mut HashMap<Option<i64>, Vec<Comment>>,
) -> Vec<CommentNode> {
    let mut flattened = Vec::new();
    let mut stack = comments;
    while let Some(next) = stack.pop() {
        stack.extend(children_of.remove(&Some(next.id)).unwrap_or_default());
        flattened.push(next);
    }
    flattened.sort_by_key(|c| (c.created_at, c.id));
    flattened
        .into_iter()
        .map(|comment| CommentNode {
            comment,
            depth,
            children: Vec::new(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn comment(id: i64, parent: Option<i64>) -> Comment {
        Comment {
            id,
            post_id: 1,
            parent_id: parent,
            author_id: None,
            author_name: format!("reader {id}"),
            author_url: None,
            author_avatar: None,
            html: String::new(),
            status: CommentStatus::Approved,
            created_at: datetime!(2024-01-01 00:00 UTC) + time::Duration::minutes(id),
            edited_at: None,
            deleted: false,
        }
    }

    #[test]
    fn moderation_holds_per_policy() {
        use ModerationPolicy::*;
        assert_eq!(
            FirstTime.initial_status(false, false),
            CommentStatus::Pending
        );
        assert_eq!(
            FirstTime.initial_status(false, true),
            CommentStatus::Approved
        );
        assert_eq!(Always.initial_status(false, true), CommentStatus::Pending);
        assert_eq!(Always.initial_status(true, false), CommentStatus::Approved);
        assert_eq!(Off.initial_status(false, false), CommentStatus::Approved);
    }

    #[test]
    fn limits_refuse_with_reasons() {
        let limits = CommentLimits {
            max_length: 10,
            max_links: 1,
        };
        assert_eq!(limits.check("  hi  "), Ok("hi".to_owned()));
        assert_eq!(
            limits.check("\u{1b}[1mhi\u{0}\u{b}"),
            Ok("[1mhi".to_owned())
        );
        assert_eq!(
            limits.check("\u{8}\u{c} \u{fffe}"),
            Err(CommentRefusal::Empty)
        );
        assert_eq!(limits.check(" \n "), Err(CommentRefusal::Empty));
        assert!(matches!(
            limits.check("01234567890"),
            Err(CommentRefusal::TooLong {
                max: 10,
                length: 11
            })
        ));
        let links = CommentLimits {
            max_length: 1000,
            max_links: 1,
        };
        assert_eq!(
            links.check("see https://www.a.example"),
            Ok("see https://www.a.example".to_owned())
        );
        assert_eq!(
            links.check("http://a.example www.b.example"),
            Err(CommentRefusal::TooManyLinks { max: 1 })
        );
    }

    #[test]
    fn edit_window_and_closing() {
        let mut own = comment(1, None);
        own.author_id = Some(7);
        let window = time::Duration::minutes(15);
        assert!(own.editable_by(7, own.created_at + time::Duration::minutes(14), window));
        assert!(!own.editable_by(7, own.created_at + time::Duration::minutes(16), window));
        assert!(!own.editable_by(8, own.created_at, window));
        let published = Some(datetime!(2024-01-01 00:00 UTC));
        assert!(comments_open(
            true,
            published,
            datetime!(2024-01-10 00:00 UTC),
            14
        ));
        assert!(!comments_open(
            true,
            published,
            datetime!(2024-01-20 00:00 UTC),
            14
        ));
        assert!(comments_open(
            true,
            published,
            datetime!(2030-01-20 00:00 UTC),
            0
        ));
        assert!(!comments_open(
            false,
            published,
            datetime!(2024-01-02 00:00 UTC),
            0
        ));
    }

    #[test]
    fn replies_nest_under_their_parents() {
        let thread = build_thread(
            vec![
                comment(1, None),
                comment(2, Some(1)),
                comment(3, None),
                comment(4, Some(2)),
            ],
            5,
        );
        assert_eq!(thread.len(), 2);
        assert_eq!(thread[0].children[0].comment.id, 2);
        assert_eq!(thread[0].children[0].children[0].comment.id, 4);
        assert_eq!(thread[0].children[0].children[0].depth, 3);
    }

    #[test]
    fn replies_past_max_depth_stay_at_the_deepest_level() {
        let chain = || {
            vec![
                comment(1, None),
                comment(2, Some(1)),
                comment(3, Some(2)),
                comment(4, Some(3)),
            ]
        };
        let thread = build_thread(chain(), 2);
        let level2: Vec<(i64, u32)> = thread[0]
            .children
            .iter()
            .map(|n| (n.comment.id, n.depth))
            .collect();
        assert_eq!(level2, vec![(2, 2), (3, 2), (4, 2)]);
        let flat: Vec<i64> = build_thread(chain(), 1)
            .iter()
            .map(|n| n.comment.id)
            .collect();
        assert_eq!(flat, vec![1, 2, 3, 4]);
    }

    #[test]
    fn orphaned_reply_is_shown_not_lost() {
        let thread = build_thread(vec![comment(5, Some(99))], 5);
        assert_eq!(thread[0].comment.id, 5);
    }
}
