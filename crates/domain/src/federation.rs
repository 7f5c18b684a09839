//! The fediverse's rules, without I/O: what a domain block names, and where a remote reply
//! belongs in a post's thread.

/// A domain as an admin types it to block a server (`Social.Example.org`,
/// `https://social.example.org/`, `@alice@social.example.org`), as blocks compare it:
/// lower case, the host (and port) alone. `None` when it is not a host name.
pub fn normalize_domain(text: &str) -> Option<String> {
    let mut text = text.trim().to_ascii_lowercase();
    for prefix in ["https://", "http://"] {
        if let Some(rest) = text.strip_prefix(prefix) {
            text = rest.to_owned();
        }
    }
    let mut host = text.split(['/', '?', '#']).next().unwrap_or("").to_owned();
    if let Some((_, after)) = host.rsplit_once('@') {
        host = after.to_owned();
    }
    let valid = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        && !host.starts_with(['.', '-']);
    valid.then_some(host)
}

/// Where a remote reply goes: under the post itself, or under one of its comments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyTarget {
    Post(i64),
    Comment { post_id: i64, comment_id: i64 },
}

/// The comment id named by a comment's permalink on this site (`{base}/comments/N/`, or a
/// post URL with `#comment-N`), if `url` is one.
pub fn comment_id_in(base_url: &str, url: &str) -> Option<i64> {
    let rest = url.strip_prefix(base_url)?;
    if let Some(id) = rest
        .strip_prefix("/comments/")
        .map(|r| r.trim_end_matches('/'))
        .and_then(|r| r.parse().ok())
    {
        return Some(id);
    }
    let (_, fragment) = rest.split_once("#comment-")?;
    fragment.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_normalized_from_what_admins_type() {
        assert_eq!(
            normalize_domain(" Social.Example.org ").as_deref(),
            Some("social.example.org")
        );
        assert_eq!(
            normalize_domain("https://social.example.org/@alice").as_deref(),
            Some("social.example.org")
        );
        assert_eq!(
            normalize_domain("@alice@social.example.org").as_deref(),
            Some("social.example.org")
        );
        assert_eq!(normalize_domain("not a domain"), None);
        assert_eq!(normalize_domain(""), None);
    }

    #[test]
    fn comment_permalinks_name_their_comment() {
        let base = "https://blog.example.org";
        assert_eq!(
            comment_id_in(base, "https://blog.example.org/comments/42/"),
            Some(42)
        );
        assert_eq!(
            comment_id_in(
                base,
                "https://blog.example.org/2026/12/05/a-post/#comment-7"
            ),
            Some(7)
        );
        assert_eq!(
            comment_id_in(base, "https://blog.example.org/2026/12/05/a-post/"),
            None
        );
        assert_eq!(
            comment_id_in(base, "https://elsewhere.example/comments/42/"),
            None
        );
    }
}
