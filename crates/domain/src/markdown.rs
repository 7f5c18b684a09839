//! Markdown to safe HTML. Posts get CommonMark with tables, footnotes, strikethrough, task
//! lists and captioned images; everything passes through ammonia, so a post can never carry
//! a script even when its author is not an administrator.

use std::collections::HashSet;
use std::sync::LazyLock;

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd, html};

/// What a post's Markdown turns into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedPost {
    pub html: String,
    /// The words alone, for search and for excerpts.
    pub plain_text: String,
}

const EXCERPT_WORDS: usize = 55;

fn post_options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_SMART_PUNCTUATION
}

pub fn render_post(source: &str) -> RenderedPost {
    let events: Vec<Event<'_>> = Parser::new_ext(source, post_options()).collect();
    let plain_text = plain_text_of(&events);
    let mut unsafe_html = String::with_capacity(source.len() * 3 / 2);
    html::push_html(&mut unsafe_html, with_captioned_images(events).into_iter());
    RenderedPost {
        html: POST_SANITIZER.clean(&unsafe_html).to_string(),
        plain_text,
    }
}

/// The first words of a text, ending with an ellipsis when anything was cut, as WordPress's
/// automatic excerpt does.
pub fn excerpt(plain_text: &str) -> String {
    let mut words = plain_text.split_whitespace();
    let head: Vec<&str> = words.by_ref().take(EXCERPT_WORDS).collect();
    let mut out = head.join(" ");
    if words.next().is_some() {
        out.push_str(" […]");
    }
    out
}

fn plain_text_of(events: &[Event<'_>]) -> String {
    let mut text = String::new();
    for event in events {
        match event {
            Event::Text(t) | Event::Code(t) => text.push_str(t),
            // Posts written in HTML (imported ones) have their words in these.
            Event::Html(raw) | Event::InlineHtml(raw) => text_of_html(raw, &mut text),
            Event::SoftBreak | Event::HardBreak | Event::End(_) if !text.ends_with(' ') => {
                text.push(' ')
            }
            _ => {}
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The words of an HTML fragment: tags dropped (block ones leave a space), the usual
/// character references decoded.
fn text_of_html(html: &str, out: &mut String) {
    let mut rest = html;
    while let Some(open) = rest.find(['<', '&']) {
        out.push_str(&rest[..open]);
        rest = &rest[open..];
        if rest.starts_with('<') {
            let Some(close) = rest.find('>') else {
                out.push_str(rest);
                return;
            };
            let name: String = rest[1..close]
                .trim_start_matches('/')
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect::<String>()
                .to_ascii_lowercase();
            if !INLINE_TAGS.contains(&name.as_str()) {
                out.push(' ');
            }
            rest = &rest[close + 1..];
        } else {
            let reference = rest[1..]
                .find(';')
                .filter(|&end| end <= 10)
                .map(|end| &rest[1..=end]);
            let decoded = reference.and_then(decode_reference);
            match (reference, decoded) {
                (Some(reference), Some(ch)) => {
                    out.push(ch);
                    rest = &rest[reference.len() + 2..];
                }
                _ => {
                    out.push('&');
                    rest = &rest[1..];
                }
            }
        }
    }
    out.push_str(rest);
    out.push(' ');
}

/// Text with HTML character references (`&amp;`, `&#8217;`) decoded: for what WordPress keeps
/// escaped but Folio keeps as plain text (titles, names).
pub fn decode_html_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let reference = rest[1..]
            .find(';')
            .filter(|&end| end <= 10)
            .map(|end| &rest[1..=end]);
        match reference.and_then(|r| decode_reference(r).map(|ch| (r, ch))) {
            Some((reference, ch)) => {
                out.push(ch);
                rest = &rest[reference.len() + 2..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

const INLINE_TAGS: &[&str] = &[
    "a", "abbr", "b", "cite", "code", "del", "em", "i", "ins", "kbd", "mark", "q", "s", "small",
    "span", "strong", "sub", "sup", "u", "var",
];

fn decode_reference(name: &str) -> Option<char> {
    if let Some(number) = name.strip_prefix('#') {
        let value = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse().ok()?,
        };
        return char::from_u32(value);
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "hellip" => '…',
        "ndash" => '–',
        "mdash" => '—',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        _ => return None,
    })
}

/// An image alone in its paragraph with a title (`![alt](src "Caption")`) becomes a figure with
/// a caption, marked up as WordPress marks up its captions.
fn with_captioned_images(events: Vec<Event<'_>>) -> Vec<Event<'_>> {
    let mut out = Vec::with_capacity(events.len());
    let mut i = 0;
    while i < events.len() {
        if let Some((figure, consumed)) = captioned_figure(&events[i..]) {
            out.push(Event::Html(CowStr::from(figure)));
            i += consumed;
        } else {
            out.push(events[i].clone());
            i += 1;
        }
    }
    out
}

fn captioned_figure(events: &[Event<'_>]) -> Option<(String, usize)> {
    let [
        Event::Start(Tag::Paragraph),
        Event::Start(Tag::Image {
            dest_url, title, ..
        }),
        rest @ ..,
    ] = events
    else {
        return None;
    };
    if title.trim().is_empty() {
        return None;
    }
    let mut alt = String::new();
    let mut consumed = 2;
    for event in rest {
        consumed += 1;
        match event {
            Event::Text(t) | Event::Code(t) => alt.push_str(t),
            Event::End(TagEnd::Image) => break,
            Event::Start(_) | Event::End(_) | Event::Html(_) | Event::InlineHtml(_) => {}
            _ => {}
        }
    }
    if !matches!(events.get(consumed), Some(Event::End(TagEnd::Paragraph))) {
        return None;
    }
    consumed += 1;
    let figure = format!(
        "<figure class=\"wp-caption\"><img src=\"{}\" alt=\"{}\" loading=\"lazy\"><figcaption class=\"wp-caption-text\">{}</figcaption></figure>\n",
        escape_attribute(dest_url),
        escape_attribute(&alt),
        escape_text(title),
    );
    Some((figure, consumed))
}

fn escape_attribute(raw: &str) -> String {
    escape_text(raw).replace('"', "&quot;")
}

fn escape_text(raw: &str) -> String {
    raw.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

static POST_SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::default();
    builder
        .add_tags(["figure", "figcaption", "input", "section", "audio", "video"])
        .add_tag_attributes("audio", ["src", "controls"])
        .add_tag_attributes("video", ["src", "controls", "poster", "width", "height"])
        .add_tag_attributes("img", ["loading", "width", "height", "class"])
        .add_tag_attributes("input", ["type", "checked", "disabled"])
        // Footnote references link to ids inside the same post.
        .add_tag_attributes("div", ["id", "class"])
        .add_tag_attributes("sup", ["id", "class"])
        .add_tag_attributes("code", ["class"])
        .add_tag_attributes("figure", ["class"])
        .add_tag_attributes("figcaption", ["class"])
        .add_tag_attributes("th", ["style"])
        .add_tag_attributes("td", ["style"])
        .add_tag_attributes("h2", ["id"])
        .add_tag_attributes("h3", ["id"])
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .link_rel(Some("noopener"));
    builder.add_tag_attribute_values("input", "type", ["checkbox"]);
    builder.add_allowed_classes("li", ["task-list-item"]);
    builder.add_generic_attributes(["title"]);
    builder.attribute_filter(|element, attribute, value| match (element, attribute) {
        // Only alignment survives in table cells; nothing else rides in on a style.
        ("th" | "td", "style") => value
            .strip_prefix("text-align: ")
            .filter(|a| matches!(*a, "left" | "center" | "right"))
            .map(|_| value.into()),
        ("input", "type") => (value == "checkbox").then(|| value.into()),
        // WordPress's alignment, size and attachment classes, so imported images sit where
        // they did; no other class.
        ("img", "class") => {
            let kept: Vec<&str> = value
                .split_whitespace()
                .filter(|class| is_wordpress_image_class(class))
                .collect();
            (!kept.is_empty()).then(|| kept.join(" ").into())
        }
        _ => Some(value.into()),
    });
    builder
});

fn is_wordpress_image_class(class: &str) -> bool {
    let word =
        |rest: &str, allowed: fn(char) -> bool| !rest.is_empty() && rest.chars().all(allowed);
    matches!(
        class,
        "alignleft" | "alignright" | "aligncenter" | "alignnone"
    ) || class
        .strip_prefix("size-")
        .is_some_and(|rest| word(rest, |c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        || class
            .strip_prefix("wp-image-")
            .is_some_and(|rest| word(rest, |c| c.is_ascii_digit()))
}

/// A reader's comment: a small Markdown subset, no raw HTML, no images, and links marked as
/// user content so that spam earns nothing.
pub fn render_comment(source: &str) -> String {
    let events = Parser::new_ext(source, Options::ENABLE_STRIKETHROUGH).map(|event| match event {
        // Raw HTML is shown as the text it is, never interpreted.
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        other => other,
    });
    let mut unsafe_html = String::with_capacity(source.len() * 3 / 2);
    html::push_html(&mut unsafe_html, events);
    COMMENT_SANITIZER.clean(&unsafe_html).to_string()
}

/// A comment that arrives as HTML (from a WordPress export): only the tags a Markdown
/// comment can produce survive, and links are marked as user content.
pub fn sanitize_comment_html(html: &str) -> String {
    COMMENT_SANITIZER.clean(html).to_string()
}

static COMMENT_SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::empty();
    builder
        .add_tags([
            "p",
            "br",
            "a",
            "em",
            "strong",
            "del",
            "code",
            "pre",
            "blockquote",
            "ul",
            "ol",
            "li",
        ])
        .add_tag_attributes("a", ["href"])
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .link_rel(Some("nofollow ugc noopener"));
    builder
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commonmark_extensions_render() {
        let html = render_post(
            "| a | b |\n|---|:-:|\n| 1 | 2 |\n\n~~gone~~\n\n- [x] done\n- [ ] todo\n\nText[^1].\n\n[^1]: The note.\n",
        )
        .html;
        assert!(html.contains("<table>"), "{html}");
        assert!(html.contains("<del>gone</del>"), "{html}");
        assert!(html.contains("type=\"checkbox\""), "{html}");
        assert!(html.contains("footnote-definition"), "{html}");
        assert!(html.contains("text-align: center"), "{html}");
    }

    #[test]
    fn image_with_title_gets_a_caption() {
        let html = render_post("![A cat](/media/cat.jpg \"Our cat, 2019\")\n").html;
        assert!(html.contains("<figure class=\"wp-caption\">"), "{html}");
        assert!(
            html.contains("<figcaption class=\"wp-caption-text\">Our cat, 2019</figcaption>"),
            "{html}"
        );
        assert!(html.contains("alt=\"A cat\""), "{html}");
        let plain = render_post("![A cat](/media/cat.jpg)\n").html;
        assert!(!plain.contains("figure"), "{plain}");
    }

    #[test]
    fn scripts_and_handlers_never_survive() {
        let html = render_post(
            "<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n[x](javascript:alert(1))\n\n![c](x \"<script>\")",
        )
        .html;
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
    }

    #[test]
    fn code_blocks_are_escaped_and_keep_their_language() {
        let html = render_post("```rust\nfn main() { println!(\"<b>\"); }\n```\n").html;
        assert!(html.contains("class=\"language-rust\""), "{html}");
        assert!(html.contains("&lt;b&gt;"), "{html}");
    }

    #[test]
    fn comments_lose_html_and_images_and_links_get_ugc() {
        let html = render_comment(
            "<b>hi</b> ![x](http://e/x.png) [site](https://e.org) <script>x</script>",
        );
        assert!(
            !html.contains("<b>") && !html.contains("<img") && !html.contains("<script"),
            "{html}"
        );
        assert!(html.contains("rel=\"nofollow ugc noopener\""), "{html}");
    }

    #[test]
    fn entities_decode_and_stray_ampersands_stay() {
        assert_eq!(
            decode_html_entities("Tom &amp; Jerry&#8217;s &raquo; AT&T"),
            "Tom & Jerry’s &raquo; AT&T"
        );
    }

    #[test]
    fn excerpt_cuts_at_fifty_five_words() {
        let text = (0..100)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let ex = excerpt(&text);
        assert!(ex.ends_with("w54 […]"), "{ex}");
        assert_eq!(excerpt("short text"), "short text");
    }
}
