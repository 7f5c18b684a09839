//! Markdown to safe HTML. Posts get CommonMark with tables, footnotes, strikethrough, task
//! lists and captioned images; everything passes through ammonia, so a post can never carry
//! a script even when its author is not an administrator.
//!
//! Rendering is bounded, because readers and authors choose the input: the sanitizer's HTML
//! parser costs about the square of how deep elements nest, so lists and quotes deeper than
//! [`MAX_NESTING`] keep their text but lose their extra levels, and text typed on the site
//! ([`render_post_within`], [`render_comment_within`]) is refused when it is too long, nests
//! raw HTML too deep, grows into too much HTML, or is still not done at its deadline.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;
use std::time::Instant;

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd, html};

pub mod stress;

/// What a post's Markdown turns into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedPost {
    pub html: String,
    /// The words alone, for search and for excerpts.
    pub plain_text: String,
}

/// The longest text typed on the site that is rendered, in bytes (posts, previews, comments):
/// about 10,000 words of prose. Imported posts are not held to it. The costliest Markdown of
/// this size renders in tens of milliseconds (`cargo xtask bench --only-markdown`); twice
/// the size costs more than twice as much.
pub const MAX_SOURCE_BYTES: usize = 64 * 1024;

/// How deep lists and block quotes nest. Deeper levels are drawn at this depth, their text
/// kept: no one reads a list 17 levels deep, and each level costs the sanitizer more.
pub const MAX_NESTING: usize = 16;

/// How deep the elements of a text's HTML (raw HTML in a post included) may nest.
pub const MAX_HTML_DEPTH: usize = 128;

/// How deep Markdown's own elements nest (emphasis in a link in a list item in a quote ...):
/// past it, deeper elements keep their text and lose their markup, as deep lists do.
const MAX_MARKDOWN_DEPTH: usize = 64;

/// The most HTML one text typed on the site may grow into before it is sanitized, in bytes.
/// Prose grows about 1.2 times; a text made only of footnote references twentyfold.
pub const MAX_HTML_BYTES: usize = 512 * 1024;

/// Why a text typed on the site was not rendered, in words for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderRefusal {
    #[error(
        "This text is {length} bytes long; at most {max} bytes can be rendered. Shorten it, or split it in two."
    )]
    TooLong { length: usize, max: usize },
    #[error(
        "This text is too complex to render: its HTML nests elements more than {max} levels deep. Simplify it and try again."
    )]
    TooDeep { max: usize },
    #[error(
        "This text is too complex to render. Simplify it (fewer nested lists, quotes, footnotes or references) and try again."
    )]
    TooComplex,
}

/// When rendering gives up: `None` renders whatever it takes (imports and the command line,
/// where an operator chose the input); `Some` holds text typed on the site to every limit.
type Deadline = Option<Instant>;

/// Events between two looks at the clock: a look costs tens of nanoseconds, an event about as
/// much, so the deadline is seen within microseconds of passing.
const EVENTS_PER_CLOCK_CHECK: usize = 64;

const EXCERPT_WORDS: usize = 55;

fn post_options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_SMART_PUNCTUATION
}

/// A post's HTML, whatever it takes: for imports and the command line. Text typed on the
/// site goes through [`render_post_within`].
pub fn render_post(source: &str) -> RenderedPost {
    match rendered_post(source, None) {
        Ok(rendered) => rendered,
        // Without a deadline nothing is refused; the arm only satisfies the type.
        Err(_) => RenderedPost {
            html: String::new(),
            plain_text: String::new(),
        },
    }
}

/// A post's HTML, refused when the text is over the limits or not done by `deadline`.
pub fn render_post_within(source: &str, deadline: Instant) -> Result<RenderedPost, RenderRefusal> {
    rendered_post(source, Some(deadline))
}

fn rendered_post(source: &str, deadline: Deadline) -> Result<RenderedPost, RenderRefusal> {
    check_length(source, deadline)?;
    let events = collect_events(
        CappedNesting::new(Parser::new_ext(source, post_options())),
        deadline,
    )?;
    let plain_text = plain_text_of(&events);
    let mut unsafe_html = String::with_capacity(source.len() * 3 / 2);
    html::push_html(&mut unsafe_html, with_captioned_images(events).into_iter());
    check_html(&unsafe_html, deadline)?;
    Ok(RenderedPost {
        html: POST_SANITIZER.clean(&unsafe_html).to_string(),
        plain_text,
    })
}

fn check_length(source: &str, deadline: Deadline) -> Result<(), RenderRefusal> {
    if deadline.is_some() && source.len() > MAX_SOURCE_BYTES {
        return Err(RenderRefusal::TooLong {
            length: source.len(),
            max: MAX_SOURCE_BYTES,
        });
    }
    check_clock(deadline)
}

fn check_clock(deadline: Deadline) -> Result<(), RenderRefusal> {
    match deadline {
        Some(at) if Instant::now() >= at => Err(RenderRefusal::TooComplex),
        _ => Ok(()),
    }
}

/// The parser's events, giving up when the deadline passes: the parser reads inline
/// Markdown (emphasis, links, code spans) as its events are taken, so this is where a
/// costly text spends its time.
fn collect_events<'a>(
    events: impl Iterator<Item = Event<'a>>,
    deadline: Deadline,
) -> Result<Vec<Event<'a>>, RenderRefusal> {
    let mut out = Vec::new();
    for (index, event) in events.enumerate() {
        if index % EVENTS_PER_CLOCK_CHECK == 0 {
            check_clock(deadline)?;
        }
        out.push(event);
    }
    check_clock(deadline)?;
    Ok(out)
}

/// The last checks before the sanitizer, which cannot be stopped once started: its cost
/// follows the size of the HTML and how deep its elements nest, both bounded here.
fn check_html(unsafe_html: &str, deadline: Deadline) -> Result<(), RenderRefusal> {
    if deadline.is_none() {
        return Ok(());
    }
    if unsafe_html.len() > MAX_HTML_BYTES {
        return Err(RenderRefusal::TooComplex);
    }
    if html_nesting_exceeds(unsafe_html, MAX_HTML_DEPTH) {
        return Err(RenderRefusal::TooDeep {
            max: MAX_HTML_DEPTH,
        });
    }
    check_clock(deadline)
}

/// Lists and block quotes past [`MAX_NESTING`] levels, and any element past
/// [`MAX_MARKDOWN_DEPTH`], lose their own markup, not their text: the events inside pass
/// through in the deepest element kept, and the end of each dropped list item becomes a line
/// break so items do not run together.
struct CappedNesting<'a, I: Iterator<Item = Event<'a>>> {
    events: I,
    /// For every open tag, whether its start was let through.
    kept: Vec<bool>,
    /// Tags open and let through, and of them lists and quotes.
    depth: usize,
    levels: usize,
}

impl<'a, I: Iterator<Item = Event<'a>>> CappedNesting<'a, I> {
    fn new(events: I) -> Self {
        CappedNesting {
            events,
            kept: Vec::new(),
            depth: 0,
            levels: 0,
        }
    }
}

fn is_level(tag: &Tag<'_>) -> bool {
    matches!(tag, Tag::List(_) | Tag::BlockQuote(_))
}

fn ends_level(tag: &TagEnd) -> bool {
    matches!(tag, TagEnd::List(_) | TagEnd::BlockQuote(_))
}

impl<'a, I: Iterator<Item = Event<'a>>> Iterator for CappedNesting<'a, I> {
    type Item = Event<'a>;

    fn next(&mut self) -> Option<Event<'a>> {
        loop {
            let event = self.events.next()?;
            match &event {
                Event::Start(tag) => {
                    let keep = match tag {
                        _ if self.depth >= MAX_MARKDOWN_DEPTH => false,
                        _ if is_level(tag) => self.levels < MAX_NESTING,
                        // An item belongs to its list: kept with it, dropped with it.
                        Tag::Item => self.kept.last().copied().unwrap_or(true),
                        _ => true,
                    };
                    self.kept.push(keep);
                    if keep {
                        self.depth += 1;
                        if is_level(tag) {
                            self.levels += 1;
                        }
                        return Some(event);
                    }
                }
                Event::End(tag) => {
                    let keep = self.kept.pop().unwrap_or(true);
                    if keep {
                        self.depth = self.depth.saturating_sub(1);
                        if ends_level(tag) {
                            self.levels = self.levels.saturating_sub(1);
                        }
                        return Some(event);
                    }
                    if matches!(tag, TagEnd::Item) {
                        return Some(Event::SoftBreak);
                    }
                }
                _ => return Some(event),
            }
        }
    }
}

/// Whether the elements of `html` nest deeper than `max`, counted as an HTML parser stacks
/// them: void elements (`<br>`, `<img>`) and those a parser closes by itself (`<p>`, `<li>`,
/// table cells) are not counted, and an end tag closes its element and any left open inside
/// it, or nothing when no such element is open.
pub fn html_nesting_exceeds(html: &str, max: usize) -> bool {
    let mut open: Vec<String> = Vec::new();
    let mut open_by_name: HashMap<String, usize> = HashMap::new();
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        rest = &rest[at + 1..];
        let (closing, name_start) = match rest.strip_prefix('/') {
            Some(after) => (true, after),
            None => (false, rest),
        };
        let name: String = name_start
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if name.is_empty()
            || !name.starts_with(|c: char| c.is_ascii_alphabetic())
            || NOT_STACKED.contains(&name.as_str())
        {
            continue;
        }
        if closing {
            let Some(count) = open_by_name.get_mut(&name).filter(|count| **count > 0) else {
                continue;
            };
            *count -= 1;
            while let Some(top) = open.pop() {
                if top == name {
                    break;
                }
                if let Some(count) = open_by_name.get_mut(&top) {
                    *count = count.saturating_sub(1);
                }
            }
        } else {
            *open_by_name.entry(name.clone()).or_default() += 1;
            open.push(name);
            if open.len() > max {
                return true;
            }
        }
    }
    false
}

/// Elements that never hold others (void) or that a parser closes when a sibling starts.
const NOT_STACKED: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "thead", "tbody", "tfoot", "option",
    "optgroup", "rb", "rt", "rp", "rtc", "colgroup", "caption",
];

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
/// user content so that spam earns nothing. Whatever it takes: for imports, the command line
/// and tests; what readers type goes through [`render_comment_within`].
pub fn render_comment(source: &str) -> String {
    rendered_comment(source, None).unwrap_or_default()
}

/// A comment's HTML, refused when the text is over the limits or not done by `deadline`.
pub fn render_comment_within(source: &str, deadline: Instant) -> Result<String, RenderRefusal> {
    rendered_comment(source, Some(deadline))
}

fn rendered_comment(source: &str, deadline: Deadline) -> Result<String, RenderRefusal> {
    check_length(source, deadline)?;
    let parser = Parser::new_ext(source, Options::ENABLE_STRIKETHROUGH).map(|event| match event {
        // Raw HTML is shown as the text it is, never interpreted.
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        other => other,
    });
    let events = collect_events(CappedNesting::new(parser), deadline)?;
    let mut unsafe_html = String::with_capacity(source.len() * 3 / 2);
    html::push_html(&mut unsafe_html, events.into_iter());
    check_html(&unsafe_html, deadline)?;
    Ok(COMMENT_SANITIZER.clean(&unsafe_html).to_string())
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

    fn far_off() -> Instant {
        Instant::now() + std::time::Duration::from_secs(3600)
    }

    #[test]
    fn lists_nested_past_the_limit_keep_their_text_not_their_levels() {
        let source = format!("{}deep\n", "- ".repeat(200));
        let html = render_post(&source).html;
        assert_eq!(html.matches("<ul>").count(), MAX_NESTING, "{html}");
        assert!(html.contains("deep"), "{html}");
        let comment = render_comment_within(&source, far_off()).unwrap();
        assert_eq!(comment.matches("<ul>").count(), MAX_NESTING, "{comment}");
        assert!(comment.contains("deep"), "{comment}");
    }

    #[test]
    fn quotes_and_lists_count_as_levels_together() {
        let source = format!("{}deep\n", "> 1. ".repeat(100));
        let html = render_post_within(&source, far_off()).unwrap().html;
        let levels = html.matches("<blockquote>").count() + html.matches("<ol>").count();
        assert_eq!(levels, MAX_NESTING, "{html}");
        assert!(html.contains("deep"), "{html}");
    }

    #[test]
    fn a_heading_and_the_next_sentence_stay_apart_in_the_plain_text() {
        // Search snippets and excerpts are cut from the plain text.
        for source in [
            "Intro.\n\n## What I'd do differently\nWhat surprised me",
            "Intro.\n\nWhat I'd do differently\n---\nWhat surprised me",
            "<p>Intro.</p><h2>What I'd do differently</h2><p>What surprised me</p>",
            "<!-- wp:heading --><h2 class=\"wp-block-heading\">What I'd do differently</h2><!-- /wp:heading --><!-- wp:paragraph --><p>What surprised me</p><!-- /wp:paragraph -->",
        ] {
            let rendered = render_post(source);
            assert!(
                rendered.plain_text.contains("differently What surprised"),
                "{source:?} gave {:?}",
                rendered.plain_text
            );
        }
    }

    #[test]
    fn items_of_a_dropped_list_stay_apart() {
        let deep = "  ".repeat(MAX_NESTING);
        let mut source = String::new();
        for level in 0..MAX_NESTING {
            source.push_str(&format!("{}- level{level}\n", "  ".repeat(level)));
        }
        source.push_str(&format!("{deep}- first\n{deep}- second\n"));
        let rendered = render_post(&source);
        assert_eq!(rendered.html.matches("<ul>").count(), MAX_NESTING);
        assert!(
            rendered.plain_text.contains("first second"),
            "{}",
            rendered.plain_text
        );
    }

    #[test]
    fn text_over_the_size_limit_is_refused_on_the_site_only() {
        let source = "word ".repeat(MAX_SOURCE_BYTES / 5 + 1);
        let refusal = RenderRefusal::TooLong {
            length: source.len(),
            max: MAX_SOURCE_BYTES,
        };
        assert_eq!(render_post_within(&source, far_off()), Err(refusal.clone()));
        assert_eq!(
            render_comment_within(&source, far_off()),
            Err(refusal.clone())
        );
        assert!(refusal.to_string().contains(&MAX_SOURCE_BYTES.to_string()));
        // An import keeps what the old site had.
        assert!(render_post(&source).html.starts_with("<p>word word"));
    }

    #[test]
    fn a_passed_deadline_stops_the_work() {
        let source = "*a **a [b](c) ".repeat(2000);
        let passed = Instant::now();
        assert_eq!(
            render_post_within(&source, passed),
            Err(RenderRefusal::TooComplex)
        );
        assert_eq!(
            render_comment_within(&source, passed),
            Err(RenderRefusal::TooComplex)
        );
        assert!(
            RenderRefusal::TooComplex
                .to_string()
                .starts_with("This text is too complex to render")
        );
    }

    #[test]
    fn raw_html_nested_too_deep_is_refused() {
        let deep = "<div>".repeat(MAX_HTML_DEPTH + 1);
        assert_eq!(
            render_post_within(&deep, far_off()),
            Err(RenderRefusal::TooDeep {
                max: MAX_HTML_DEPTH
            })
        );
        // End tags of elements never opened close nothing, so they hide no depth.
        let hiding = "<div></span>".repeat(MAX_HTML_DEPTH + 1);
        assert!(render_post_within(&hiding, far_off()).is_err());
        // Many elements side by side, or closed by the parser itself, are not deep.
        let wide = "<div>x</div>".repeat(1000) + &"<p>x".repeat(1000) + &"<br>".repeat(1000);
        assert!(render_post_within(&wide, far_off()).is_ok());
    }

    #[test]
    fn nesting_is_counted_as_a_parser_stacks_elements() {
        assert!(!html_nesting_exceeds(
            "<ul><li><ul><li>x</li></ul></li></ul>",
            2
        ));
        assert!(html_nesting_exceeds("<ul><li><ul><li><ul>", 2));
        // </b> closes what was left open inside the <b>.
        assert!(!html_nesting_exceeds("<b><i><u></b><b><i>", 3));
        assert!(!html_nesting_exceeds(
            "a < b and <3 and <!-- c --> <img src=x>",
            0
        ));
        assert!(html_nesting_exceeds("<DIV><Div>", 1));
    }

    #[test]
    fn html_growing_far_past_its_source_is_refused() {
        let source = "[^1]".repeat(MAX_SOURCE_BYTES / 4 - 10) + "\n\n[^1]: note\n";
        assert_eq!(
            render_post_within(&source, far_off()),
            Err(RenderRefusal::TooComplex)
        );
    }

    #[test]
    fn every_stress_case_renders_or_is_refused_in_words() {
        for case in stress::cases(16 * 1024) {
            match render_post_within(&case.source, far_off()) {
                Ok(rendered) => assert!(
                    !html_nesting_exceeds(&rendered.html, MAX_HTML_DEPTH),
                    "{}",
                    case.name
                ),
                Err(refusal) => assert!(
                    matches!(refusal, RenderRefusal::TooDeep { .. }),
                    "{}: {refusal}",
                    case.name
                ),
            }
            let comment = render_comment_within(&case.source, far_off())
                .unwrap_or_else(|refusal| panic!("{}: {refusal}", case.name));
            assert!(
                !html_nesting_exceeds(&comment, MAX_MARKDOWN_DEPTH),
                "{}",
                case.name
            );
        }
    }

    /// The first tag of sanitized HTML that could run a script: a script or style element,
    /// an `on...` attribute, or a `javascript:` address. Text is escaped, so every `<` in
    /// sanitized HTML starts a tag.
    fn executable_tag(html: &str) -> Option<&str> {
        html.split('<').skip(1).find_map(|rest| {
            let tag = &rest[..rest.find('>').unwrap_or(rest.len())];
            let lower = tag.to_ascii_lowercase();
            let name = lower
                .trim_start_matches('/')
                .split_whitespace()
                .next()
                .unwrap_or("");
            let attribute_names = lower
                .split_whitespace()
                .skip(1)
                .map(|attribute| attribute.split('=').next().unwrap_or(""));
            let bad = matches!(name, "script" | "style" | "iframe" | "object" | "embed")
                || lower.contains("javascript:")
                || attribute_names.into_iter().any(|a| a.starts_with("on"));
            bad.then_some(tag)
        })
    }

    /// Random texts made of the pieces that cost or attack: every one renders, nothing
    /// executable survives, and nothing nests past the limits. Seeded, so a failure repeats.
    #[test]
    fn random_nested_texts_render_safely() {
        const PIECES: &[&str] = &[
            "- ",
            "1. ",
            "> ",
            "  ",
            "\n",
            "\n\n",
            "*",
            "**",
            "_",
            "~~",
            "`",
            "```\n",
            "[",
            "]",
            "(",
            ")",
            "![",
            "[^1]",
            "[^1]: ",
            "<",
            ">",
            "</",
            "div",
            "script",
            "<script>",
            "<img src=x onerror=alert(1)>",
            "javascript:alert(1)",
            "[x](javascript:alert(1))",
            "<a href=\"javascript:x\">",
            "| a | b |\n|---|---|\n",
            "&#",
            ";",
            "&amp;",
            "word ",
            "<div>",
            "</div>",
            "<b>",
            "</b>",
            "\\",
            "#",
            "---\n",
            "    ",
            "\t",
            "[r]: /u\n",
            "[r]",
            "<http://a>",
            "<style>",
            "on",
            "=",
            "\"",
        ];
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..300 {
            let length = (next() % 400) as usize;
            let source: String = (0..length)
                .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                .collect();
            let post = render_post_within(&source, far_off());
            let comment = render_comment_within(&source, far_off())
                .unwrap_or_else(|refusal| panic!("{source:?}: {refusal}"));
            for html in post.iter().map(|p| &p.html).chain([&comment]) {
                if let Some(tag) = executable_tag(html) {
                    panic!("{tag} in {html:?} from {source:?}");
                }
                assert!(!html_nesting_exceeds(html, MAX_HTML_DEPTH), "{source:?}");
            }
            assert!(!comment.contains("<img"), "{source:?}");
        }
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
