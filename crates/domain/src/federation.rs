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

/// A remote note's HTML as the text a comment is written in: paragraphs and line breaks
/// kept, tags dropped (a link keeps its words), entities decoded, and the mention of the
/// blog that starts a reply (`@blog`) left out. The comment renderer sanitizes what is left.
pub fn note_text(html: &str, blog_username: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        text.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('>') else {
            rest = "";
            break;
        };
        let tag = rest[start + 1..start + end].trim().to_ascii_lowercase();
        let name = tag
            .split([' ', '/'])
            .find(|part| !part.is_empty())
            .unwrap_or("");
        rest = &rest[start + end + 1..];
        let closing = tag.starts_with('/');
        match name {
            "br" => text.push('\n'),
            "p" | "div" | "blockquote" | "li" if closing => text.push_str("\n\n"),
            "em" | "i" => text.push('*'),
            "strong" | "b" => text.push_str("**"),
            "script" | "style" if !closing => {
                // Their content is not words anyone wrote for the reader.
                let end_tag = format!("</{name}");
                rest = rest
                    .to_ascii_lowercase()
                    .find(&end_tag)
                    .map_or("", |at| &rest[at..]);
            }
            _ => {}
        }
    }
    text.push_str(rest);
    let decoded = text
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&amp;", "&");
    let trimmed = decoded.trim();
    let mention = format!("@{blog_username}");
    let without_mention = match trimmed.strip_prefix(&mention) {
        Some(after) if after.starts_with(char::is_whitespace) => after,
        Some(after) if after.starts_with('@') => after
            .split_once(char::is_whitespace)
            .map_or("", |(_, rest)| rest),
        _ => trimmed,
    };
    without_mention.trim().to_owned()
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
    fn notes_become_comment_text() {
        assert_eq!(
            note_text(
                "<p><span class=\"h-card\"><a href=\"https://b.example/ap/actor\">@<span>blog</span></a></span> Lovely post &amp; thanks!</p><p>Second<br>line</p>",
                "blog"
            ),
            "Lovely post & thanks!\n\nSecond\nline"
        );
        assert_eq!(note_text("<p>@blog@b.example hi</p>", "blog"), "hi");
        assert_eq!(note_text("plain <b>bold</b>", "blog"), "plain **bold**");
        assert_eq!(
            note_text("a<script>alert(1)</script> <em>b</em>", "blog"),
            "a *b*"
        );
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
