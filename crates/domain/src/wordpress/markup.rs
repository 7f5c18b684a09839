//! WordPress's stored post markup turned into clean HTML: Gutenberg's block comments dropped,
//! shortcodes expanded, and paragraphs made from blank lines as WordPress's `wpautop` does
//! at render time (WordPress stores posts without their `<p>` tags).
//!
//! The result is kept as the post's source. It is laid out as Markdown's HTML blocks (each
//! top-level element starts a line, no blank line inside one), so that the Markdown renderer
//! passes it through unchanged and saving an imported post in the editor gives the same page.

use std::collections::HashMap;

use crate::markdown::decode_html_entities;

/// What the markup needs to know about the export's attachments.
pub trait AttachmentLookup {
    /// The file's URL (after any rewriting to this site's media).
    fn url(&self, id: i64) -> Option<String>;
    /// Title or alternative text.
    fn alt(&self, id: i64) -> String;
    /// The images attached to a post, for a `[gallery]` that names none.
    fn attached_to(&self, post_id: i64) -> Vec<i64>;
}

/// Attachments by their WordPress id.
#[derive(Debug, Default, Clone)]
pub struct AttachmentIndex {
    entries: HashMap<i64, (String, String, i64)>,
}

impl AttachmentIndex {
    pub fn insert(&mut self, id: i64, url: String, alt: String, parent: i64) {
        self.entries.insert(id, (url, alt, parent));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn set_url(&mut self, id: i64, url: String) {
        if let Some(entry) = self.entries.get_mut(&id) {
            entry.0 = url;
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (i64, &str)> {
        self.entries
            .iter()
            .map(|(id, (url, _, _))| (*id, url.as_str()))
    }
}

impl AttachmentLookup for AttachmentIndex {
    fn url(&self, id: i64) -> Option<String> {
        self.entries.get(&id).map(|(url, _, _)| url.clone())
    }

    fn alt(&self, id: i64) -> String {
        self.entries
            .get(&id)
            .map(|(_, alt, _)| alt.clone())
            .unwrap_or_default()
    }

    fn attached_to(&self, post_id: i64) -> Vec<i64> {
        let mut ids: Vec<i64> = self
            .entries
            .iter()
            .filter(|(_, (url, _, parent))| *parent == post_id && is_image_url(url))
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids
    }
}

fn is_image_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    [".jpg", ".jpeg", ".png", ".gif", ".webp"]
        .iter()
        .any(|ext| lower.ends_with(ext))
}

/// A post's stored content as clean HTML laid out for the Markdown renderer. Page breaks
/// (`<!--nextpage-->`) stay, each on its own line, so that the post keeps its pages.
pub fn post_source(content: &str, post_id: i64, attachments: &dyn AttachmentLookup) -> String {
    if content.contains(crate::posts::NEXTPAGE) {
        let pages: Vec<String> = content
            .split(crate::posts::NEXTPAGE)
            .map(|page| page_source(page, post_id, attachments))
            .collect();
        return pages.join(&format!("\n\n{}\n\n", crate::posts::NEXTPAGE));
    }
    page_source(content, post_id, attachments)
}

fn page_source(content: &str, post_id: i64, attachments: &dyn AttachmentLookup) -> String {
    let without_comments = strip_html_comments(content);
    let modern = modernize_tags(&without_comments);
    let expanded = expand_shortcodes(&modern, post_id, attachments);
    let linked = link_bare_urls(&expanded);
    autop(&linked)
}

/// A WordPress title (HTML) as Folio keeps it: the text, for `<title>`, feeds and emails;
/// and, when it has inline markup (`<em>`), that markup sanitized, for the post's heading.
pub fn title_text_and_markup(raw: &str) -> (String, Option<String>) {
    let modern = modernize_tags(raw);
    let mut text = String::with_capacity(modern.len());
    let mut i = 0;
    while let Some(at) = modern[i..].find('<') {
        let position = i + at;
        text.push_str(&modern[i..position]);
        match tag_at(&modern, position) {
            Some(tag) => i = tag.end,
            None => {
                text.push('<');
                i = position + 1;
            }
        }
    }
    text.push_str(&modern[i..]);
    let text = decode_html_entities(&text)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let has_markup = modern
        .match_indices('<')
        .any(|(at, _)| tag_at(&modern, at).is_some());
    let markup = has_markup
        .then(|| TITLE_SANITIZER.clean(modern.trim()).to_string())
        .filter(|html| html.contains('<'));
    (text, markup)
}

/// A heading holds phrasing content only: emphasis, code, sub- and superscripts, and the like.
static TITLE_SANITIZER: std::sync::LazyLock<ammonia::Builder<'static>> =
    std::sync::LazyLock::new(|| {
        let mut builder = ammonia::Builder::empty();
        builder
            .add_tags([
                "em", "strong", "i", "b", "code", "sub", "sup", "abbr", "s", "del", "ins", "mark",
                "small", "q", "cite", "kbd", "var", "span", "br",
            ])
            .add_tag_attributes("abbr", ["title"]);
        builder
    });

/// A comment's stored text as HTML paragraphs (still to be sanitized).
pub fn comment_paragraphs(content: &str) -> String {
    autop(&strip_html_comments(content))
}

/// The part after `/wp-content/uploads/` of every URL in `text` that points into an uploads
/// folder, each once, in order of appearance: `(url, relative path)`.
pub fn upload_references(text: &str) -> Vec<(String, String)> {
    const MARK: &str = "/wp-content/uploads/";
    let mut found: Vec<(String, String)> = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find(MARK) {
        let mark = from + at;
        let start = text[..mark]
            .rfind(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '(' | '[' | '=' | '>'))
            .map_or(0, |i| i + 1);
        let end = text[mark..]
            .find(|c: char| {
                c.is_whitespace() || matches!(c, '"' | '\'' | ')' | ']' | '<' | '?' | '#')
            })
            .map_or(text.len(), |i| mark + i);
        let url = &text[start..end];
        let relative = &text[mark + MARK.len()..end];
        if (url.starts_with("http://") || url.starts_with("https://") || url.starts_with('/'))
            && !relative.is_empty()
            && !relative.split('/').any(|part| part == "..")
            && !found.iter().any(|(u, _)| u == url)
        {
            found.push((url.to_owned(), relative.to_owned()));
        }
        from = end.max(mark + MARK.len());
    }
    found
}

/// Replaces each old URL with its new one (longest first, so that a URL is never cut by a
/// shorter one that starts it).
pub fn replace_urls(text: &str, replacements: &[(String, String)]) -> String {
    let mut ordered: Vec<&(String, String)> = replacements.iter().collect();
    ordered.sort_by_key(|(old, _)| std::cmp::Reverse(old.len()));
    let mut out = text.to_owned();
    for (old, new) in ordered {
        if out.contains(old.as_str()) {
            out = out.replace(old.as_str(), new);
        }
    }
    out
}

fn strip_html_comments(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        match rest[start + 4..].find("-->") {
            Some(end) => rest = &rest[start + 4 + end + 3..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// HTML's obsolete elements as their modern equivalents (`acronym` → `abbr`, `tt` → `code`,
/// `strike` → `s`, `center` → a centred `div`); those with none (`font`, `big`, `blink`,
/// `marquee`) give way to their text.
fn modernize_tags(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut i = 0;
    while let Some(at) = input[i..].find('<') {
        let position = i + at;
        out.push_str(&input[i..position]);
        let Some(tag) = tag_at(input, position) else {
            out.push('<');
            i = position + 1;
            continue;
        };
        let original = &input[position..tag.end];
        let slash = if tag.closing { "/" } else { "" };
        match tag.name.as_str() {
            "acronym" | "tt" | "strike" => {
                let modern = match tag.name.as_str() {
                    "acronym" => "abbr",
                    "tt" => "code",
                    _ => "s",
                };
                // Keep the attributes (an acronym's title is its expansion).
                let after_name = 1 + slash.len() + tag.name.len();
                out.push_str(&format!("<{slash}{modern}{}", &original[after_name..]));
            }
            "center" if tag.closing => out.push_str("</div>"),
            "center" => out.push_str("<div class=\"has-text-align-center\">"),
            "font" | "big" | "blink" | "marquee" | "basefont" => {}
            _ => out.push_str(original),
        }
        i = tag.end;
    }
    out.push_str(&input[i..]);
    out
}

struct Shortcode<'a> {
    name: String,
    attributes: Vec<(String, String)>,
    /// Between the opening and closing tags, for an enclosing shortcode.
    content: Option<&'a str>,
    /// Byte length of the whole shortcode in the input.
    length: usize,
}

impl Shortcode<'_> {
    fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn expand_shortcodes(input: &str, post_id: i64, attachments: &dyn AttachmentLookup) -> String {
    let mut out = String::with_capacity(input.len());
    let mut i = 0;
    while let Some(at) = input[i..].find('[') {
        let start = i + at;
        out.push_str(&input[i..start]);
        let rest = &input[start..];
        // `[[name]]` is WordPress's escape for a shortcode shown as text.
        if rest.starts_with("[[")
            && let Some(end) = rest.find("]]")
            && !rest[2..end].contains('[')
        {
            out.push_str(&rest[1..end + 1]);
            i = start + end + 2;
            continue;
        }
        match parse_shortcode(rest) {
            Some(code) => {
                out.push_str(&render_shortcode(&code, post_id, attachments));
                i = start + code.length;
            }
            None => {
                out.push('[');
                i = start + 1;
            }
        }
    }
    out.push_str(&input[i..]);
    out
}

fn parse_shortcode(text: &str) -> Option<Shortcode<'_>> {
    let body = text.strip_prefix('[')?;
    let name_length = body
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(body.len());
    if name_length == 0 || !body[..1].chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let name = body[..name_length].to_ascii_lowercase();
    // The opening tag ends at the first `]` outside quotes.
    let mut quote = None;
    let mut close = None;
    for (offset, c) in body[name_length..].char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '[') => return None,
            (None, ']') => {
                close = Some(name_length + offset);
                break;
            }
            _ => {}
        }
    }
    let close = close?;
    let raw_attributes = body[name_length..close].trim();
    let self_closing = raw_attributes.ends_with('/');
    let attributes = parse_attributes(raw_attributes.trim_end_matches('/'));
    let open_length = 1 + close + 1;
    if !self_closing {
        let closing = format!("[/{name}]");
        let after = &text[open_length..];
        if let Some(end) = find_ignoring_case(after, &closing) {
            return Some(Shortcode {
                name,
                attributes,
                content: Some(&after[..end]),
                length: open_length + end + closing.len(),
            });
        }
    }
    Some(Shortcode {
        name,
        attributes,
        content: None,
        length: open_length,
    })
}

fn find_ignoring_case(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .to_ascii_lowercase()
        .find(&needle.to_ascii_lowercase())
}

fn parse_attributes(raw: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = raw.trim();
    let mut position = 0;
    while !rest.is_empty() {
        // A bare address (`[audio https://e.org/a.mp3?x=1]`) is one value, `=` and all.
        let key_end = if rest.starts_with("http://") || rest.starts_with("https://") {
            rest.find(char::is_whitespace).unwrap_or(rest.len())
        } else {
            rest.find(|c: char| c == '=' || c.is_whitespace())
                .unwrap_or(rest.len())
        };
        let (key, after) = rest.split_at(key_end);
        let after = after.trim_start();
        if let Some(value_part) = after.strip_prefix('=') {
            let value_part = value_part.trim_start();
            let (value, remaining) = match value_part.chars().next() {
                Some(q @ ('"' | '\'')) => match value_part[1..].find(q) {
                    Some(end) => (&value_part[1..1 + end], &value_part[end + 2..]),
                    None => (&value_part[1..], ""),
                },
                _ => {
                    let end = value_part
                        .find(char::is_whitespace)
                        .unwrap_or(value_part.len());
                    (&value_part[..end], &value_part[end..])
                }
            };
            out.push((key.to_ascii_lowercase(), value.to_owned()));
            rest = remaining.trim_start();
        } else {
            let value = key.trim_matches(|c| c == '"' || c == '\'');
            out.push((position.to_string(), value.to_owned()));
            position += 1;
            rest = after;
        }
    }
    out
}

fn render_shortcode(
    code: &Shortcode<'_>,
    post_id: i64,
    attachments: &dyn AttachmentLookup,
) -> String {
    let inner = code
        .content
        .map(|content| expand_shortcodes(content, post_id, attachments))
        .unwrap_or_default();
    match code.name.as_str() {
        "caption" | "wp_caption" => caption(code, &inner),
        "gallery" => gallery(code, post_id, attachments),
        "embed" => {
            let url = inner.trim();
            let url = if url.is_empty() {
                code.attribute("src").unwrap_or("")
            } else {
                url
            };
            link_block(url)
        }
        "audio" | "video" => media_player(code, &inner),
        // A plugin's shortcode means nothing without the plugin: keep what it wrapped.
        _ => inner,
    }
}

fn caption(code: &Shortcode<'_>, inner: &str) -> String {
    // The picture is the image, with the link around it when there is one; whatever
    // follows, links included, is the caption's text.
    let image_end = inner.find("<img").and_then(|image| {
        let tag_end = tag_at(inner, image).map(|tag| tag.end)?;
        let linked =
            inner[..image].trim_start().starts_with("<a") && !inner[..image].contains("</a>");
        match inner[tag_end..].find("</a>") {
            Some(close) if linked => Some(tag_end + close + "</a>".len()),
            _ => Some(tag_end),
        }
    });
    let (picture, text) = match image_end {
        Some(end) => (inner[..end].trim(), inner[end..].trim()),
        None => ("", inner.trim()),
    };
    let text = code
        .attribute("caption")
        .filter(|given| !given.trim().is_empty())
        .unwrap_or(text);
    let align = code
        .attribute("align")
        .filter(|a| matches!(*a, "alignleft" | "alignright" | "aligncenter" | "alignnone"))
        .map(|a| format!(" {a}"))
        .unwrap_or_default();
    format!(
        "\n\n<figure class=\"wp-caption{align}\">{picture}<figcaption class=\"wp-caption-text\">{text}</figcaption></figure>\n\n"
    )
}

fn gallery(code: &Shortcode<'_>, post_id: i64, attachments: &dyn AttachmentLookup) -> String {
    let ids: Vec<i64> = match code.attribute("ids").or_else(|| code.attribute("include")) {
        Some(list) => list
            .split(',')
            .filter_map(|id| id.trim().parse().ok())
            .collect(),
        // An item without a post id has no attachments of its own (parent 0 means none).
        None if post_id > 0 => attachments.attached_to(post_id),
        None => Vec::new(),
    };
    let images: String = ids
        .iter()
        .filter_map(|&id| {
            attachments.url(id).map(|url| {
                format!(
                    "<img src=\"{}\" alt=\"{}\" loading=\"lazy\">",
                    escape_attribute(&url),
                    escape_attribute(&attachments.alt(id))
                )
            })
        })
        .collect();
    if images.is_empty() {
        return String::new();
    }
    // WordPress lays a gallery out in three columns unless told otherwise, at most nine.
    let columns = code
        .attribute("columns")
        .and_then(|n| n.trim().parse::<u8>().ok())
        .filter(|n| (1..=9).contains(n))
        .unwrap_or(3);
    format!(
        "\n\n<figure class=\"wp-block-gallery gallery-columns-{columns}\">{images}</figure>\n\n"
    )
}

fn media_player(code: &Shortcode<'_>, inner: &str) -> String {
    let keys: &[&str] = if code.name == "audio" {
        &["src", "mp3", "m4a", "ogg", "wav"]
    } else {
        &["src", "mp4", "m4v", "webm", "ogv"]
    };
    // `[audio https://…/a.mp3]`: the address given without a name.
    let positional = code
        .attribute("0")
        .filter(|url| url.starts_with("http://") || url.starts_with("https://"));
    let source = keys
        .iter()
        .find_map(|key| code.attribute(key))
        .or(positional)
        .map(str::to_owned)
        .unwrap_or_else(|| inner.trim().to_owned());
    if source.is_empty() {
        return String::new();
    }
    format!(
        "\n\n<figure class=\"wp-block-{kind}\"><{kind} controls src=\"{src}\"></{kind}></figure>\n\n",
        kind = code.name,
        src = escape_attribute(&decode_html_entities(&source))
    )
}

fn link_block(url: &str) -> String {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return String::new();
    }
    let url = escape_attribute(&decode_html_entities(url));
    format!("\n\n<p><a href=\"{url}\">{url}</a></p>\n\n")
}

/// A URL alone on its line is how WordPress embeds a video or a tweet (oEmbed). Without the
/// provider's script, a link to it is the honest rendering.
fn link_bare_urls(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for line in input.split_inclusive('\n') {
        let trimmed = line.trim();
        let is_bare_url = (trimmed.starts_with("http://") || trimmed.starts_with("https://"))
            && !trimmed.contains(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"'));
        if is_bare_url {
            // The editor keeps `&` as `&amp;` in HTML; escaped once more it would read
            // `&amp;amp;`.
            let url = escape_attribute(&decode_html_entities(trimmed));
            out.push_str(&format!("<a href=\"{url}\">{url}</a>"));
            if line.ends_with('\n') {
                out.push('\n');
            }
        } else {
            out.push_str(line);
        }
    }
    out
}

fn escape_attribute(raw: &str) -> String {
    raw.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Elements that stand on their own: text beside them is not wrapped into their paragraph.
const BLOCK_ELEMENTS: &[&str] = &[
    "address",
    "article",
    "aside",
    "audio",
    "blockquote",
    "details",
    "div",
    "dl",
    "fieldset",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "hr",
    "iframe",
    "map",
    "math",
    "menu",
    "nav",
    "object",
    "ol",
    "p",
    "pre",
    "script",
    "section",
    "select",
    "style",
    "table",
    "ul",
    "video",
];

/// Of those, the ones CommonMark reads as the start of an HTML block from any line; the
/// others are wrapped in a `div` so that the Markdown renderer keeps them whole.
const MARKDOWN_BLOCK_STARTS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "details",
    "div",
    "dl",
    "fieldset",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "iframe",
    "menu",
    "nav",
    "ol",
    "p",
    "pre",
    "script",
    "section",
    "style",
    "table",
    "ul",
];

const VOID_ELEMENTS: &[&str] = &["hr", "br", "img", "input", "col", "embed", "source"];

struct TagAt {
    name: String,
    closing: bool,
    self_closing: bool,
    end: usize,
}

fn tag_at(input: &str, at: usize) -> Option<TagAt> {
    let rest = input.get(at..)?;
    let body = rest.strip_prefix('<')?;
    let (closing, body) = match body.strip_prefix('/') {
        Some(after) => (true, after),
        None => (false, body),
    };
    let name_length = body
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(body.len());
    if name_length == 0 || !body.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let mut quote = None;
    for (offset, c) in body[name_length..].char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => {
                let inside = &body[name_length..name_length + offset];
                return Some(TagAt {
                    name: body[..name_length].to_ascii_lowercase(),
                    closing,
                    self_closing: inside.trim_end().ends_with('/'),
                    end: at + 1 + usize::from(closing) + name_length + offset + 1,
                });
            }
            _ => {}
        }
    }
    None
}

/// Where the element opened by `open` (ending at `from`) closes: the end of its closing tag.
fn element_end(input: &str, open: &TagAt, from: usize) -> usize {
    if open.self_closing || VOID_ELEMENTS.contains(&open.name.as_str()) {
        return from;
    }
    let mut depth = 1;
    let mut i = from;
    while let Some(at) = input[i..].find('<') {
        let position = i + at;
        match tag_at(input, position) {
            Some(tag) if tag.name == open.name => {
                if tag.closing {
                    depth -= 1;
                    if depth == 0 {
                        return tag.end;
                    }
                } else if !tag.self_closing {
                    depth += 1;
                }
                i = tag.end;
            }
            Some(tag) => i = tag.end,
            None => i = position + 1,
        }
    }
    input.len()
}

/// WordPress's `wpautop`, the part that matters: blank lines make paragraphs, single line
/// breaks make `<br />`, block elements are left as they are.
fn autop(input: &str) -> String {
    let mut blocks: Vec<String> = Vec::new();
    let mut text_start = 0;
    let mut i = 0;
    while let Some(at) = input[i..].find('<') {
        let position = i + at;
        let Some(tag) = tag_at(input, position) else {
            i = position + 1;
            continue;
        };
        if tag.closing || !BLOCK_ELEMENTS.contains(&tag.name.as_str()) {
            i = tag.end;
            continue;
        }
        paragraphs(&input[text_start..position], &mut blocks);
        let end = element_end(input, &tag, tag.end);
        let element = &input[position..end];
        let element = if tag.name == "blockquote" && end > tag.end {
            let inner_end = element.rfind("</").unwrap_or(element.len());
            let opening = &input[position..tag.end];
            let inner = &element[opening.len()..inner_end];
            format!(
                "{opening}\n{}\n{}",
                autop(inner).replace("\n\n", "\n"),
                &element[inner_end..]
            )
        } else {
            element.to_owned()
        };
        if MARKDOWN_BLOCK_STARTS.contains(&tag.name.as_str()) {
            blocks.push(element);
        } else {
            blocks.push(format!("<div>{element}</div>"));
        }
        i = end;
        text_start = end;
    }
    paragraphs(&input[text_start..], &mut blocks);
    blocks
        .iter()
        .map(|block| without_blank_lines(block))
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn paragraphs(text: &str, blocks: &mut Vec<String>) {
    let normalized = text.replace("\r\n", "\n");
    let mut current: Vec<&str> = Vec::new();
    let flush = |lines: &mut Vec<&str>, blocks: &mut Vec<String>| {
        if !lines.is_empty() {
            blocks.push(format!("<p>{}</p>", lines.join("<br />\n")));
            lines.clear();
        }
    };
    for line in normalized.split('\n') {
        let line = line.trim();
        if line.is_empty() {
            flush(&mut current, blocks);
        } else {
            current.push(line);
        }
    }
    flush(&mut current, blocks);
}

/// A blank line would end Markdown's HTML block. Outside `<pre>` it means nothing in HTML and
/// goes; inside, the line break is kept as a character reference.
fn without_blank_lines(block: &str) -> String {
    let mut out = String::with_capacity(block.len());
    let mut pre_depth: i32 = 0;
    for line in block.trim().split('\n') {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            if pre_depth > 0 {
                if out.ends_with('\n') {
                    out.pop();
                }
                out.push_str("&#10;\n");
            }
            continue;
        }
        let lower = line.to_ascii_lowercase();
        pre_depth += lower.matches("<pre").count() as i32;
        pre_depth -= lower.matches("</pre>").count() as i32;
        out.push_str(line);
        out.push('\n');
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::markdown::render_post;

    fn attachments() -> AttachmentIndex {
        let mut index = AttachmentIndex::default();
        index.insert(
            5,
            "https://old.example.com/wp-content/uploads/2024/03/cat.jpg".into(),
            "A cat".into(),
            7,
        );
        index.insert(
            6,
            "https://old.example.com/wp-content/uploads/2024/03/dog.png".into(),
            "A dog".into(),
            7,
        );
        index
    }

    fn source(content: &str) -> String {
        post_source(content, 7, &attachments())
    }

    #[test]
    fn blank_lines_make_paragraphs_and_single_breaks_make_br() {
        let out = source("First line\nsecond line\n\nNext paragraph");
        assert_eq!(
            out,
            "<p>First line<br />\nsecond line</p>\n\n<p>Next paragraph</p>"
        );
    }

    #[test]
    fn block_elements_are_not_wrapped_in_paragraphs() {
        let out = source("Intro\n<ul>\n<li>one</li>\n\n<li>two</li>\n</ul>\nOutro");
        assert_eq!(
            out,
            "<p>Intro</p>\n\n<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n\n<p>Outro</p>"
        );
    }

    #[test]
    fn page_breaks_stay_between_the_pages() {
        let out = source(
            "<!-- wp:paragraph -->\n<p>One</p>\n<!-- /wp:paragraph -->\n\n<!-- wp:nextpage -->\n<!--nextpage-->\n<!-- /wp:nextpage -->\n\nTwo",
        );
        assert_eq!(out, "<p>One</p>\n\n<!--nextpage-->\n\n<p>Two</p>");
    }

    #[test]
    fn gutenberg_comments_go_and_their_html_stays() {
        let out = source(
            "<!-- wp:paragraph -->\n<p>Hello <strong>world</strong></p>\n<!-- /wp:paragraph -->\n\n<!-- wp:heading -->\n<h2>Part</h2>\n<!-- /wp:heading -->",
        );
        assert_eq!(out, "<p>Hello <strong>world</strong></p>\n\n<h2>Part</h2>");
    }

    #[test]
    fn caption_becomes_a_figure() {
        let out = source(
            r#"[caption id="attachment_5" align="aligncenter" width="300"]<a href="https://old.example.com/cat/"><img class="size-medium" src="https://old.example.com/wp-content/uploads/2024/03/cat-300x200.jpg" alt="A cat" width="300" height="200" /></a> Our cat, 2019[/caption]"#,
        );
        assert!(
            out.starts_with("<figure class=\"wp-caption aligncenter\"><a href="),
            "{out}"
        );
        assert!(
            out.ends_with(
                "<figcaption class=\"wp-caption-text\">Our cat, 2019</figcaption></figure>"
            ),
            "{out}"
        );
        let html = render_post(&out).html;
        assert!(
            html.contains("<figcaption class=\"wp-caption-text\">Our cat, 2019</figcaption>"),
            "{html}"
        );
        assert!(html.contains("<img"), "{html}");
    }

    #[test]
    fn a_caption_with_a_link_in_its_text_keeps_all_of_it() {
        let linked_image = source(
            r#"[caption id="attachment_5" align="alignright" width="300"]<a href="https://old.example.com/cat/"><img class="wp-image-5 size-medium" src="https://old.example.com/cat.jpg" alt="A cat" /></a> Photo by <a href="https://ann.example.org">Ann</a>, 2019[/caption]"#,
        );
        assert!(
            linked_image.contains("<figcaption class=\"wp-caption-text\">Photo by <a href=\"https://ann.example.org\">Ann</a>, 2019</figcaption>"),
            "{linked_image}"
        );
        assert!(
            linked_image.contains("wp-caption alignright"),
            "{linked_image}"
        );
        let bare_image = source(
            r#"[caption align="alignleft"]<img src="https://old.example.com/cat.jpg" alt="" /> Seen on <a href="https://e.org/">e.org</a>[/caption]"#,
        );
        assert!(
            bare_image.contains("<img src=\"https://old.example.com/cat.jpg\" alt=\"\" /><figcaption class=\"wp-caption-text\">Seen on <a href=\"https://e.org/\">e.org</a></figcaption>"),
            "{bare_image}"
        );
    }

    #[test]
    fn positional_audio_gets_a_player() {
        let out = source("[audio https://e.org/song.mp3?dl=1&amp;x=2]");
        assert!(
            out.contains("<audio controls src=\"https://e.org/song.mp3?dl=1&amp;x=2\"></audio>"),
            "{out}"
        );
    }

    #[test]
    fn gallery_columns_become_a_class() {
        assert!(
            source("[gallery ids=\"5,6\" columns=\"4\"]")
                .contains("wp-block-gallery gallery-columns-4"),
        );
        assert!(source("[gallery ids=\"5,6\"]").contains("gallery-columns-3"));
        assert!(source("[gallery ids=\"5,6\" columns=\"40\"]").contains("gallery-columns-3"));
    }

    #[test]
    fn a_url_alone_on_a_line_is_escaped_once() {
        let out = source("Look:\n\nhttps://www.youtube.com/watch?v=abc&amp;t=30s\n\nEnd");
        assert!(
            out.contains("<a href=\"https://www.youtube.com/watch?v=abc&amp;t=30s\">"),
            "{out}"
        );
        let html = render_post(&out).html;
        assert!(!html.contains("&amp;amp;"), "{html}");
    }

    #[test]
    fn obsolete_tags_become_modern_ones_or_text() {
        let out = source(
            "<acronym title=\"World Wide Web\">WWW</acronym> <tt>code</tt> <strike>old</strike> <font color=\"red\">red</font> <big>big</big>\n\n<center>Centred</center>",
        );
        assert!(
            out.contains("<abbr title=\"World Wide Web\">WWW</abbr>"),
            "{out}"
        );
        assert!(out.contains("<code>code</code>"), "{out}");
        assert!(out.contains("<s>old</s>"), "{out}");
        assert!(out.contains(" red big"), "{out}");
        assert!(
            out.contains("<div class=\"has-text-align-center\">Centred</div>"),
            "{out}"
        );
        for gone in ["acronym", "<tt", "strike", "<font", "<big", "center>"] {
            assert!(!out.contains(gone), "{gone}: {out}");
        }
    }

    #[test]
    fn image_alignment_survives_the_sanitizer() {
        let html = render_post(&source(
            r#"<img class="alignleft size-thumbnail wp-image-12 evil-class" src="https://e.org/a.jpg" alt="" />"#,
        ))
        .html;
        assert!(
            html.contains("class=\"alignleft size-thumbnail wp-image-12\""),
            "{html}"
        );
        assert!(!html.contains("evil"), "{html}");
    }

    #[test]
    fn titles_keep_inline_markup_apart_from_their_text() {
        assert_eq!(
            title_text_and_markup("Tom &amp; Jerry"),
            ("Tom & Jerry".to_owned(), None)
        );
        let (text, markup) = title_text_and_markup(
            "The <em>best</em> &amp; <acronym title=\"x\">BBQ</acronym><script>alert(1)</script>",
        );
        assert_eq!(text, "The best & BBQalert(1)");
        assert_eq!(
            markup.as_deref(),
            Some("The <em>best</em> &amp; <abbr title=\"x\">BBQ</abbr>")
        );
        assert_eq!(title_text_and_markup("a < b").1, None);
    }

    #[test]
    fn gallery_lists_its_images() {
        let by_ids = source("[gallery ids=\"6,5\" columns=\"2\"]");
        assert!(
            by_ids.find("dog.png").unwrap() < by_ids.find("cat.jpg").unwrap(),
            "{by_ids}"
        );
        assert!(by_ids.contains("alt=\"A dog\""), "{by_ids}");
        let attached = source("[gallery]");
        assert!(
            attached.contains("cat.jpg") && attached.contains("dog.png"),
            "{attached}"
        );
    }

    #[test]
    fn embeds_and_bare_urls_become_links() {
        let out = source(
            "Watch:\n\n[embed]https://www.youtube.com/watch?v=abc[/embed]\n\nhttps://twitter.com/x/status/1\n\nEnd",
        );
        assert!(
            out.contains("<p><a href=\"https://www.youtube.com/watch?v=abc\">"),
            "{out}"
        );
        assert!(
            out.contains("<a href=\"https://twitter.com/x/status/1\">"),
            "{out}"
        );
    }

    #[test]
    fn audio_and_video_get_players_and_unknown_shortcodes_keep_their_text() {
        let out = source(
            "[audio mp3=\"https://e.org/a.mp3\"][/audio]\n\n[contact-form-7 id=\"3\"]\n\n[highlight]kept words[/highlight]\n\n[[gallery]]",
        );
        assert!(
            out.contains("<audio controls src=\"https://e.org/a.mp3\"></audio>"),
            "{out}"
        );
        assert!(!out.contains("contact-form"), "{out}");
        assert!(out.contains("<p>kept words</p>"), "{out}");
        assert!(out.contains("<p>[gallery]</p>"), "{out}");
        let html = render_post(&out).html;
        assert!(html.contains("<audio controls"), "{html}");
    }

    #[test]
    fn preformatted_blank_lines_survive_markdown() {
        let out = source("<pre>a\n\nb</pre>\n\nText");
        let html = render_post(&out).html;
        assert!(html.contains("<pre>a\n\nb</pre>"), "{html}");
        assert!(html.contains("<p>Text</p>"), "{html}");
    }

    #[test]
    fn rendering_the_source_keeps_it_and_finds_its_words() {
        let out = source(
            "Some *stars* and_underscores_ here\n\n<blockquote>Quoted\n\nwords</blockquote>",
        );
        let rendered = render_post(&out);
        assert!(
            rendered
                .html
                .contains("<p>Some *stars* and_underscores_ here</p>"),
            "{}",
            rendered.html
        );
        assert!(rendered.html.contains("<blockquote>"), "{}", rendered.html);
        assert!(
            rendered.plain_text.contains("Quoted words"),
            "{}",
            rendered.plain_text
        );
    }

    #[test]
    fn upload_references_are_found_once_each() {
        let found = upload_references(
            r#"<img src="https://old.example.com/wp-content/uploads/2024/03/cat-300x200.jpg"> <a href="https://old.example.com/wp-content/uploads/2024/03/cat.jpg">x</a> https://old.example.com/wp-content/uploads/2024/03/cat.jpg and /wp-content/uploads/../../etc/passwd"#,
        );
        assert_eq!(
            found,
            vec![
                (
                    "https://old.example.com/wp-content/uploads/2024/03/cat-300x200.jpg".to_owned(),
                    "2024/03/cat-300x200.jpg".to_owned()
                ),
                (
                    "https://old.example.com/wp-content/uploads/2024/03/cat.jpg".to_owned(),
                    "2024/03/cat.jpg".to_owned()
                ),
            ]
        );
        let replaced = replace_urls(
            "a https://x/wp-content/uploads/c.jpg b https://x/wp-content/uploads/c-300x200.jpg",
            &[(
                "https://x/wp-content/uploads/c.jpg".into(),
                "/media/1.jpg".into(),
            )],
        );
        assert_eq!(
            replaced,
            "a /media/1.jpg b https://x/wp-content/uploads/c-300x200.jpg"
        );
    }
}
