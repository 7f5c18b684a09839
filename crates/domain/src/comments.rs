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
}

#[derive(Debug, Clone, PartialEq)]
pub struct CommentNode {
    pub comment: Comment,
    pub depth: u32,
    pub children: Vec<CommentNode>,
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
        }
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
