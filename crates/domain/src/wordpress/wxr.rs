//! A streaming reader for WordPress's export format (WXR 1.1 and 1.2): one record at a time,
//! so that a gigabyte export is read in the memory of its largest post.

use std::collections::VecDeque;
use std::fmt;
use std::io::BufRead;

use quick_xml::Reader;

use crate::text::make_xml_safe;
use quick_xml::events::{BytesStart, Event};
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

/// The most one text node (a post's content, say) may hold. WordPress posts are kilobytes;
/// a text node past this is a damaged or hostile file, refused before it fills the memory.
pub const MAX_TEXT_BYTES: usize = 64 * 1024 * 1024;

/// Why a file could not be read, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {problem}")]
pub struct WxrError {
    pub line: u64,
    pub column: u64,
    pub problem: WxrProblem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WxrProblem {
    /// The XML itself is broken.
    Malformed(String),
    /// The prolog declares an encoding other than UTF-8.
    Encoding(String),
    /// Bytes that are not UTF-8.
    NotUtf8,
    TextTooLarge {
        limit: usize,
    },
    /// The file stops inside an element.
    Truncated {
        open: String,
    },
    /// Well-formed XML, but not an RSS channel as WordPress writes it.
    NotWxr,
    Io(String),
}

impl fmt::Display for WxrProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WxrProblem::Malformed(detail) => write!(f, "the XML is malformed ({detail})"),
            WxrProblem::Encoding(name) => write!(
                f,
                "the file declares the encoding {name:?}; only UTF-8 is read (WordPress writes UTF-8: convert it first, e.g. with `iconv -f {name} -t UTF-8`)"
            ),
            WxrProblem::NotUtf8 => write!(f, "the file holds bytes that are not UTF-8"),
            WxrProblem::TextTooLarge { limit } => write!(
                f,
                "one text node is larger than {} MB; this is not a WordPress export this importer accepts",
                limit / (1024 * 1024)
            ),
            WxrProblem::Truncated { open } => write!(
                f,
                "the file ends inside <{open}>: it looks truncated (export it again)"
            ),
            WxrProblem::NotWxr => write!(
                f,
                "this is not a WordPress export (no <rss><channel> with WordPress's wp: elements)"
            ),
            WxrProblem::Io(detail) => write!(f, "cannot read the file: {detail}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WxrAuthor {
    pub id: Option<i64>,
    pub login: String,
    pub email: String,
    pub display_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WxrTerm {
    pub id: Option<i64>,
    pub slug: String,
    pub name: String,
    /// The parent's slug (categories only).
    pub parent: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WxrComment {
    pub id: i64,
    pub author: String,
    pub author_email: String,
    pub author_url: String,
    pub author_ip: String,
    /// UTC.
    pub date: Option<OffsetDateTime>,
    pub content: String,
    /// `1`, `0`, `spam`, `trash`, `post-trashed`.
    pub approved: String,
    /// Empty or `comment` for a comment; `pingback`, `trackback`.
    pub kind: String,
    pub parent: i64,
    pub user_id: i64,
}

/// One `<item>`: a post, page, attachment, or anything else WordPress keeps as a post.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WxrItem {
    /// 0 when the export gives none (some hosts' exports have no `wp:post_id`).
    pub id: i64,
    /// The title as text (character references decoded).
    pub title: String,
    /// The title as WordPress keeps it: HTML, which may hold inline markup (`<em>`).
    pub title_html: String,
    pub link: String,
    pub guid: String,
    pub creator: String,
    pub content: String,
    pub excerpt: String,
    /// UTC; None for a draft never given a date.
    pub date: Option<OffsetDateTime>,
    pub modified: Option<OffsetDateTime>,
    pub slug: String,
    pub status: String,
    pub post_type: String,
    pub parent: i64,
    pub comment_status: String,
    pub password: String,
    /// `wp:is_sticky` (WordPress 6 writes it on every post).
    pub sticky: bool,
    pub attachment_url: String,
    /// `(taxonomy, slug, name)` as the item lists them.
    pub terms: Vec<(String, String, String)>,
    /// `(key, value)`; only the keys the importer uses are kept.
    pub meta: Vec<(String, String)>,
    pub comments: Vec<WxrComment>,
}

impl WxrItem {
    /// What identifies this item among the exports of its site, so that importing it again
    /// finds it: WordPress's post id, else its GUID, else its link, else its type, slug and
    /// date. Two items of one file may still share a key (a host that writes one GUID for
    /// all); the importer tells those apart by their order.
    pub fn source_key(&self) -> String {
        if self.id > 0 {
            return self.id.to_string();
        }
        if !self.guid.trim().is_empty() {
            return format!("guid:{}", self.guid.trim());
        }
        if !self.link.trim().is_empty() {
            return format!("link:{}", self.link.trim());
        }
        let date = self
            .date
            .map_or_else(|| "undated".to_owned(), |d| d.unix_timestamp().to_string());
        format!(
            "item:{:016x}",
            stable_hash(&[&self.post_type, &self.slug, &date])
        )
    }

    pub fn meta(&self, key: &str) -> Option<&str> {
        self.meta
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// FNV-1a: the same number for the same parts in every build and on every machine (the
/// standard library's hasher promises neither), for keys that are stored.
fn stable_hash(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// A blog's address as a key: scheme and host in lowercase, no trailing slash.
pub fn site_address(raw: &str) -> String {
    let raw = raw.trim().trim_end_matches('/');
    match raw.split_once("://") {
        Some((scheme, rest)) => {
            let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            format!(
                "{}://{}{path}",
                scheme.to_ascii_lowercase(),
                host.to_ascii_lowercase()
            )
        }
        None => raw.to_owned(),
    }
}

/// What the reader hands out, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WxrRecord {
    /// The blog the export came from.
    Site {
        /// The blog's own address ([`site_address`] of the channel's `<link>`, else of
        /// `wp:base_blog_url`, else of `wp:base_site_url`).
        url: String,
        /// `wp:base_site_url` as earlier Folio releases remembered imports under it. Every
        /// blog on WordPress.com (and on one multisite network) shares it.
        shared_url: String,
        title: String,
    },
    Author(WxrAuthor),
    Category(WxrTerm),
    Tag(WxrTerm),
    Item(Box<WxrItem>),
}

/// Post meta keys worth keeping; the rest (edit locks, plugin settings) is dropped as read.
/// `_wp_old_slug` (WordPress's earlier slugs) and `_folio_old_address` (Folio's old addresses)
/// keep a moved post's old links working.
const KEPT_META: &[&str] = &[
    "_thumbnail_id",
    "_wp_attached_file",
    "_wp_page_template",
    "_wp_old_slug",
    "_folio_old_address",
];

/// Counts the lines a `BufRead` has given out, so that an error can say where it is, and
/// refuses to hand out more than a limit between two events (one text node, really).
struct Positioned<R> {
    inner: R,
    consumed: u64,
    lines: u64,
    /// Offsets of the most recent line starts, to place an error a little behind the
    /// position read so far.
    line_starts: VecDeque<(u64, u64)>,
    since_event: usize,
    limit: usize,
}

impl<R: BufRead> std::io::Read for Positioned<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Positioned<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.since_event > self.limit {
            return Err(std::io::Error::other(TOO_LARGE_MARK));
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        if let Ok(buffer) = self.inner.fill_buf() {
            let taken = &buffer[..amount.min(buffer.len())];
            for (i, _) in taken.iter().enumerate().filter(|(_, b)| **b == b'\n') {
                self.lines += 1;
                let start = self.consumed + i as u64 + 1;
                if self.line_starts.len() == 64 {
                    self.line_starts.pop_front();
                }
                self.line_starts.push_back((self.lines, start));
            }
        }
        self.consumed += amount as u64;
        self.since_event += amount;
        self.inner.consume(amount);
    }
}

const TOO_LARGE_MARK: &str = "folio: text node too large";

impl<R> Positioned<R> {
    /// 1-based line and column of a byte offset at or a little before the read position.
    fn place(&self, offset: u64) -> (u64, u64) {
        let found = self
            .line_starts
            .iter()
            .rev()
            .find(|(_, start)| *start <= offset);
        match found {
            Some(&(newlines, start)) => (newlines + 1, offset - start + 1),
            // Before every remembered line start: on the first line if none was forgotten.
            None if self.lines <= self.line_starts.len() as u64 => (1, offset + 1),
            None => (self.lines + 1, 1),
        }
    }

    /// Whether everything has been read.
    fn at_end(&mut self) -> bool
    where
        R: BufRead,
    {
        self.inner.fill_buf().map(<[u8]>::is_empty).unwrap_or(false)
    }
}

/// Reads records from a WXR file. Call [`WxrReader::next_record`] until it gives `None`.
pub struct WxrReader<R: BufRead> {
    xml: Reader<Positioned<R>>,
    buffer: Vec<u8>,
    /// Names of the open elements.
    open: Vec<String>,
    text: String,
    text_limit: usize,
    seen_channel: bool,
    site_sent: bool,
    channel_link: String,
    base_blog_url: String,
    base_site_url: String,
    channel_title: String,
    /// A record read while the site record was still owed: handed out right after it.
    queued: Option<WxrRecord>,
    author: Option<WxrAuthor>,
    term: Option<WxrTerm>,
    item: Option<WxrItem>,
    comment: Option<WxrComment>,
    meta: Option<(String, String)>,
    in_comment_meta: bool,
    item_term: Option<(String, String)>,
    finished: bool,
}

impl<R: BufRead> WxrReader<R> {
    pub fn new(input: R) -> Self {
        Self::with_text_limit(input, MAX_TEXT_BYTES)
    }

    pub fn with_text_limit(input: R, text_limit: usize) -> Self {
        let mut xml = Reader::from_reader(Positioned {
            inner: input,
            consumed: 0,
            lines: 0,
            line_starts: VecDeque::with_capacity(64),
            since_event: 0,
            limit: text_limit,
        });
        let config = xml.config_mut();
        config.check_end_names = true;
        // WordPress writes `&` raw into some fields of old exports; a lone `&` is text.
        config.allow_dangling_amp = true;
        WxrReader {
            xml,
            buffer: Vec::with_capacity(64 * 1024),
            open: Vec::new(),
            text: String::new(),
            text_limit,
            seen_channel: false,
            site_sent: false,
            channel_link: String::new(),
            base_blog_url: String::new(),
            base_site_url: String::new(),
            channel_title: String::new(),
            queued: None,
            author: None,
            term: None,
            item: None,
            comment: None,
            meta: None,
            in_comment_meta: false,
            item_term: None,
            finished: false,
        }
    }

    /// Bytes read so far (for a progress bar).
    pub fn bytes_read(&self) -> u64 {
        self.xml.get_ref().consumed
    }

    fn fail(&self, problem: WxrProblem) -> WxrError {
        let offset = match &problem {
            WxrProblem::Malformed(_) if self.xml.error_position() > 0 => self.xml.error_position(),
            _ => self.xml.buffer_position(),
        };
        let (line, column) = self.xml.get_ref().place(offset);
        WxrError {
            line,
            column,
            problem,
        }
    }

    fn push_text(&mut self, piece: &str) -> Result<(), WxrError> {
        if self.text.len() + piece.len() > self.text_limit {
            return Err(self.fail(WxrProblem::TextTooLarge {
                limit: self.text_limit,
            }));
        }
        self.text.push_str(piece);
        Ok(())
    }

    pub fn next_record(&mut self) -> Result<Option<WxrRecord>, WxrError> {
        if let Some(record) = self.queued.take() {
            return Ok(Some(record));
        }
        while !self.finished {
            self.buffer.clear();
            self.xml.get_mut().since_event = 0;
            let event = match self.xml.read_event_into(&mut self.buffer) {
                Ok(event) => event.into_owned(),
                Err(error) => {
                    self.finished = true;
                    return Err(self.xml_error(error));
                }
            };
            if let Some(record) = self.take(event)? {
                return Ok(Some(record));
            }
        }
        Ok(None)
    }

    fn xml_error(&mut self, error: quick_xml::Error) -> WxrError {
        match error {
            // A tag or CDATA section cut off by the end of the file.
            quick_xml::Error::Syntax(_) if self.xml.get_mut().at_end() => {
                let open = self
                    .open
                    .last()
                    .cloned()
                    .unwrap_or_else(|| "rss".to_owned());
                self.fail(WxrProblem::Truncated { open })
            }
            quick_xml::Error::Io(io) if io.to_string().contains(TOO_LARGE_MARK) => {
                self.fail(WxrProblem::TextTooLarge {
                    limit: self.text_limit,
                })
            }
            quick_xml::Error::Io(io) => self.fail(WxrProblem::Io(io.to_string())),
            quick_xml::Error::Encoding(_) => self.fail(WxrProblem::NotUtf8),
            other => self.fail(WxrProblem::Malformed(other.to_string())),
        }
    }

    fn take(&mut self, event: Event<'static>) -> Result<Option<WxrRecord>, WxrError> {
        match event {
            Event::Decl(decl) => {
                if let Some(Ok(encoding)) = decl.encoding() {
                    let name = String::from_utf8_lossy(&encoding).to_string();
                    if !matches!(name.to_ascii_lowercase().as_str(), "utf-8" | "utf8") {
                        return Err(self.fail(WxrProblem::Encoding(name)));
                    }
                }
                Ok(None)
            }
            Event::Start(start) => {
                let name = self.name_of(&start)?;
                self.open_element(&name, &start)?;
                self.open.push(name);
                self.text.clear();
                Ok(None)
            }
            Event::Empty(start) => {
                let name = self.name_of(&start)?;
                self.open_element(&name, &start)?;
                self.text.clear();
                let record = self.close_element(&name)?;
                Ok(self.site_first(record))
            }
            Event::End(_) => {
                let Some(name) = self.open.pop() else {
                    return Ok(None);
                };
                let record = self.close_element(&name)?;
                self.text.clear();
                Ok(self.site_first(record))
            }
            Event::Text(text) => {
                let piece = text
                    .xml10_content()
                    .map_err(|_| self.fail(WxrProblem::NotUtf8))?;
                self.push_text(&piece)?;
                Ok(None)
            }
            Event::CData(data) => {
                let piece = data
                    .xml10_content()
                    .map_err(|_| self.fail(WxrProblem::NotUtf8))?;
                self.push_text(&piece)?;
                Ok(None)
            }
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(ch)) => ch.to_string(),
                    Ok(None) => {
                        let name = reference
                            .decode()
                            .map_err(|_| self.fail(WxrProblem::NotUtf8))?;
                        match name.as_ref() {
                            "amp" => "&".to_owned(),
                            "lt" => "<".to_owned(),
                            "gt" => ">".to_owned(),
                            "quot" => "\"".to_owned(),
                            "apos" => "'".to_owned(),
                            other => format!("&{other};"),
                        }
                    }
                    Err(error) => return Err(self.fail(WxrProblem::Malformed(error.to_string()))),
                };
                self.push_text(&resolved)?;
                Ok(None)
            }
            Event::Eof => {
                self.finished = true;
                if let Some(open) = self.open.last() {
                    return Err(self.fail(WxrProblem::Truncated { open: open.clone() }));
                }
                if !self.seen_channel {
                    return Err(self.fail(WxrProblem::NotWxr));
                }
                Ok(self.site_record())
            }
            Event::Comment(_) | Event::PI(_) | Event::DocType(_) => Ok(None),
        }
    }

    fn name_of(&self, start: &BytesStart<'_>) -> Result<String, WxrError> {
        std::str::from_utf8(start.name().as_ref())
            .map(str::to_owned)
            .map_err(|_| self.fail(WxrProblem::NotUtf8))
    }

    fn attribute(&self, start: &BytesStart<'_>, key: &str) -> Result<String, WxrError> {
        for attribute in start.attributes() {
            let attribute =
                attribute.map_err(|error| self.fail(WxrProblem::Malformed(error.to_string())))?;
            if attribute.key.as_ref() == key.as_bytes() {
                return attribute
                    .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .map(|value| value.into_owned())
                    .map_err(|error| self.fail(WxrProblem::Malformed(error.to_string())));
            }
        }
        Ok(String::new())
    }

    fn open_element(&mut self, name: &str, start: &BytesStart<'_>) -> Result<(), WxrError> {
        let depth = self.open.len();
        if depth == 0 && name != "rss" {
            return Err(self.fail(WxrProblem::NotWxr));
        }
        match name {
            "channel" if depth == 1 => self.seen_channel = true,
            "item" if depth == 2 => self.item = Some(WxrItem::default()),
            "wp:author" if depth == 2 => self.author = Some(WxrAuthor::default()),
            "wp:category" | "wp:tag" if depth == 2 => self.term = Some(WxrTerm::default()),
            "wp:comment" if self.item.is_some() => self.comment = Some(WxrComment::default()),
            "wp:commentmeta" => self.in_comment_meta = true,
            "wp:postmeta" if self.item.is_some() => self.meta = Some(Default::default()),
            "category" if self.item.is_some() && depth == 3 => {
                let taxonomy = self.attribute(start, "domain")?;
                let slug = self.attribute(start, "nicename")?;
                self.item_term = Some((taxonomy, slug));
            }
            _ => {}
        }
        Ok(())
    }

    /// The header's addresses come in any order before the first author, term or item: the
    /// site record goes out just before that first record.
    fn site_first(&mut self, record: Option<WxrRecord>) -> Option<WxrRecord> {
        match record {
            Some(record) if !self.site_sent => match self.site_record() {
                Some(site) => {
                    self.queued = Some(record);
                    Some(site)
                }
                None => Some(record),
            },
            other => other,
        }
    }

    fn site_record(&mut self) -> Option<WxrRecord> {
        let own = [&self.channel_link, &self.base_blog_url, &self.base_site_url]
            .into_iter()
            .find(|address| !address.is_empty())?;
        if self.site_sent {
            return None;
        }
        let url = site_address(own);
        // Earlier releases took `wp:base_site_url` over the link, as it was written.
        let shared_url = if self.base_site_url.is_empty() {
            &self.channel_link
        } else {
            &self.base_site_url
        }
        .trim_end_matches('/')
        .to_owned();
        self.site_sent = true;
        Some(WxrRecord::Site {
            url,
            shared_url,
            title: self.channel_title.clone(),
        })
    }

    fn close_element(&mut self, name: &str) -> Result<Option<WxrRecord>, WxrError> {
        let mut text = std::mem::take(&mut self.text);
        make_xml_safe(&mut text);
        let depth = self.open.len();
        if self.in_comment_meta {
            if name == "wp:commentmeta" {
                self.in_comment_meta = false;
            }
            return Ok(None);
        }
        if let Some(comment) = self.comment.as_mut() {
            let value = text.trim();
            match name {
                "wp:comment_id" => comment.id = value.parse().unwrap_or(0),
                "wp:comment_author" => comment.author = decode_html_entities(value),
                "wp:comment_author_email" => comment.author_email = value.to_owned(),
                "wp:comment_author_url" => comment.author_url = value.to_owned(),
                "wp:comment_author_IP" => comment.author_ip = value.to_owned(),
                "wp:comment_date_gmt" => comment.date = parse_date(value).or(comment.date),
                "wp:comment_date" if comment.date.is_none() => comment.date = parse_date(value),
                "wp:comment_content" => comment.content = text,
                "wp:comment_approved" => comment.approved = value.to_owned(),
                "wp:comment_type" => comment.kind = value.to_owned(),
                "wp:comment_parent" => comment.parent = value.parse().unwrap_or(0),
                "wp:comment_user_id" => comment.user_id = value.parse().unwrap_or(0),
                "wp:comment" => {
                    if let (Some(done), Some(item)) = (self.comment.take(), self.item.as_mut()) {
                        item.comments.push(done);
                    }
                }
                _ => {}
            }
            return Ok(None);
        }
        if let Some(meta) = self.meta.as_mut() {
            match name {
                "wp:meta_key" => meta.0 = text.trim().to_owned(),
                "wp:meta_value" => meta.1 = text,
                "wp:postmeta" => {
                    if let (Some((key, value)), Some(item)) = (self.meta.take(), self.item.as_mut())
                        && KEPT_META.contains(&key.as_str())
                    {
                        item.meta.push((key, value.trim().to_owned()));
                    }
                }
                _ => {}
            }
            return Ok(None);
        }
        if let Some(item) = self.item.as_mut() {
            let value = text.trim();
            match name {
                "title" => {
                    item.title = decode_html_entities(value);
                    item.title_html = value.to_owned();
                }
                "link" => item.link = value.to_owned(),
                "guid" => item.guid = value.to_owned(),
                "dc:creator" => item.creator = value.to_owned(),
                "content:encoded" => item.content = text,
                "excerpt:encoded" => item.excerpt = text,
                "wp:post_id" => item.id = value.parse().unwrap_or(0),
                "wp:post_date_gmt" => item.date = parse_date(value).or(item.date),
                "wp:post_date" if item.date.is_none() => item.date = parse_date(value),
                "wp:post_modified_gmt" => item.modified = parse_date(value),
                "wp:post_name" => item.slug = value.to_owned(),
                "wp:status" => item.status = value.to_owned(),
                "wp:post_type" => item.post_type = value.to_owned(),
                "wp:post_parent" => item.parent = value.parse().unwrap_or(0),
                "wp:comment_status" => item.comment_status = value.to_owned(),
                // As written: a password's spaces are part of it.
                "wp:post_password" => item.password = text,
                "wp:is_sticky" => item.sticky = value == "1",
                "wp:attachment_url" => item.attachment_url = value.to_owned(),
                "category" => {
                    if let Some((taxonomy, slug)) = self.item_term.take() {
                        item.terms
                            .push((taxonomy, slug, decode_html_entities(value)));
                    }
                }
                "item" if depth == 2 => {
                    return Ok(self.item.take().map(|done| WxrRecord::Item(Box::new(done))));
                }
                _ => {}
            }
            return Ok(None);
        }
        if let Some(author) = self.author.as_mut() {
            let value = text.trim();
            match name {
                "wp:author_id" => author.id = value.parse().ok(),
                "wp:author_login" => author.login = value.to_owned(),
                "wp:author_email" => author.email = value.to_owned(),
                "wp:author_display_name" => author.display_name = decode_html_entities(value),
                "wp:author" => return Ok(self.author.take().map(WxrRecord::Author)),
                _ => {}
            }
            return Ok(None);
        }
        if let Some(term) = self.term.as_mut() {
            let value = text.trim();
            match name {
                "wp:term_id" => term.id = value.parse().ok(),
                "wp:category_nicename" | "wp:tag_slug" => term.slug = value.to_owned(),
                "wp:cat_name" | "wp:tag_name" => term.name = decode_html_entities(value),
                "wp:category_parent" => term.parent = value.to_owned(),
                "wp:category_description" | "wp:tag_description" => {
                    term.description = value.to_owned()
                }
                "wp:category" => return Ok(self.term.take().map(WxrRecord::Category)),
                "wp:tag" => return Ok(self.term.take().map(WxrRecord::Tag)),
                _ => {}
            }
            return Ok(None);
        }
        if depth == 2 {
            match name {
                "title" => self.channel_title = decode_html_entities(text.trim()),
                "link" if self.channel_link.is_empty() => {
                    self.channel_link = text.trim().to_owned()
                }
                "wp:base_site_url" => self.base_site_url = text.trim().to_owned(),
                "wp:base_blog_url" => self.base_blog_url = text.trim().to_owned(),
                _ => {}
            }
        }
        Ok(None)
    }
}

/// The entity decoding of WordPress's plain-text fields, which never yields what XML forbids
/// (WordPress keeps a `&#27;` typed into a title; Folio's feeds could not carry it).
fn decode_html_entities(text: &str) -> String {
    let mut decoded = crate::markdown::decode_html_entities(text);
    make_xml_safe(&mut decoded);
    decoded
}

/// WordPress's `2024-03-05 10:00:00`; `0000-00-00 00:00:00` (a draft never dated) is None.
pub fn parse_date(raw: &str) -> Option<OffsetDateTime> {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    PrimitiveDateTime::parse(raw.trim(), format)
        .ok()
        .map(PrimitiveDateTime::assume_utc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(xml: &str) -> Result<Vec<WxrRecord>, WxrError> {
        let mut reader = WxrReader::new(xml.as_bytes());
        let mut out = Vec::new();
        while let Some(record) = reader.next_record()? {
            out.push(record);
        }
        Ok(out)
    }

    const SMALL: &str = r#"<?xml version="1.0" encoding="UTF-8" ?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:wp="http://wordpress.org/export/1.2/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
  <title>Old Blog</title>
  <link>https://old.example.com</link>
  <wp:wxr_version>1.2</wp:wxr_version>
  <wp:base_site_url>https://old.example.com/</wp:base_site_url>
  <wp:author><wp:author_id>1</wp:author_id><wp:author_login><![CDATA[ann]]></wp:author_login><wp:author_email><![CDATA[ann@example.com]]></wp:author_email><wp:author_display_name><![CDATA[Ann Lee]]></wp:author_display_name></wp:author>
  <wp:category><wp:term_id>3</wp:term_id><wp:category_nicename><![CDATA[local]]></wp:category_nicename><wp:category_parent><![CDATA[news]]></wp:category_parent><wp:cat_name><![CDATA[Local & Near]]></wp:cat_name></wp:category>
  <wp:shiny>unknown elements are skipped</wp:shiny>
  <item>
    <title>Tom &amp; Jerry</title>
    <dc:creator><![CDATA[ann]]></dc:creator>
    <content:encoded><![CDATA[Hello <b>there</b>]]></content:encoded>
    <wp:post_id>7</wp:post_id>
    <wp:post_date_gmt><![CDATA[2024-03-05 10:00:00]]></wp:post_date_gmt>
    <wp:post_name><![CDATA[tom-jerry]]></wp:post_name>
    <wp:status><![CDATA[publish]]></wp:status>
    <wp:post_type><![CDATA[post]]></wp:post_type>
    <category domain="category" nicename="local"><![CDATA[Local]]></category>
    <wp:postmeta><wp:meta_key><![CDATA[_thumbnail_id]]></wp:meta_key><wp:meta_value><![CDATA[9]]></wp:meta_value></wp:postmeta>
    <wp:postmeta><wp:meta_key><![CDATA[_edit_lock]]></wp:meta_key><wp:meta_value><![CDATA[1]]></wp:meta_value></wp:postmeta>
    <wp:comment><wp:comment_id>4</wp:comment_id><wp:comment_author><![CDATA[Bo]]></wp:comment_author><wp:comment_content><![CDATA[Nice]]></wp:comment_content><wp:comment_approved>1</wp:comment_approved><wp:comment_parent>0</wp:comment_parent>
      <wp:commentmeta><wp:meta_key>akismet</wp:meta_key><wp:meta_value>x</wp:meta_value></wp:commentmeta></wp:comment>
  </item>
</channel>
</rss>
"#;

    #[test]
    fn reads_site_authors_terms_items_and_comments() {
        let all = records(SMALL).unwrap();
        assert_eq!(
            all[0],
            WxrRecord::Site {
                url: "https://old.example.com".into(),
                shared_url: "https://old.example.com".into(),
                title: "Old Blog".into()
            }
        );
        let WxrRecord::Author(author) = &all[1] else {
            panic!("{all:?}")
        };
        assert_eq!(author.login, "ann");
        assert_eq!(author.display_name, "Ann Lee");
        let WxrRecord::Category(category) = &all[2] else {
            panic!("{all:?}")
        };
        assert_eq!(category.name, "Local & Near");
        assert_eq!(category.parent, "news");
        let WxrRecord::Item(item) = &all[3] else {
            panic!("{all:?}")
        };
        assert_eq!(item.title, "Tom & Jerry");
        assert_eq!(item.id, 7);
        assert_eq!(item.content, "Hello <b>there</b>");
        assert_eq!(item.meta("_thumbnail_id"), Some("9"));
        assert_eq!(item.meta.len(), 1, "only kept meta keys");
        assert_eq!(item.terms[0].1, "local");
        assert_eq!(item.comments.len(), 1);
        assert_eq!(item.comments[0].content, "Nice");
        assert_eq!(all.len(), 4);
    }

    #[test]
    fn truncated_file_says_so_with_a_line() {
        let cut = &SMALL[..SMALL.find("<wp:post_type>").unwrap()];
        let error = records(cut).unwrap_err();
        assert!(
            matches!(error.problem, WxrProblem::Truncated { .. }),
            "{error}"
        );
        assert!(error.line > 10, "{error}");
    }

    #[test]
    fn mismatched_tag_names_its_line_and_column() {
        let broken = SMALL.replace("</dc:creator>", "</dc:creatr>");
        let error = records(&broken).unwrap_err();
        assert!(matches!(error.problem, WxrProblem::Malformed(_)), "{error}");
        assert_eq!(error.line, 13, "{error}");
        assert!(error.column > 1, "{error}");
    }

    #[test]
    fn other_encodings_are_refused_by_name() {
        let latin = SMALL.replace("UTF-8", "ISO-8859-1");
        let error = records(&latin).unwrap_err();
        assert_eq!(error.problem, WxrProblem::Encoding("ISO-8859-1".into()));
        assert!(error.to_string().contains("line 1"), "{error}");
    }

    #[test]
    fn invalid_utf8_bytes_are_refused() {
        let mut bytes = SMALL.as_bytes().to_vec();
        let at = SMALL.find("Nice").unwrap();
        bytes[at] = 0xE9;
        let mut reader = WxrReader::new(bytes.as_slice());
        let error = loop {
            match reader.next_record() {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("read to the end"),
                Err(error) => break error,
            }
        };
        assert_eq!(error.problem, WxrProblem::NotUtf8, "{error}");
    }

    #[test]
    fn a_huge_text_node_is_refused() {
        let huge = SMALL.replace("Hello <b>there</b>", &"x".repeat(10_000));
        let mut reader = WxrReader::with_text_limit(huge.as_bytes(), 4096);
        let error = loop {
            match reader.next_record() {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("read to the end"),
                Err(error) => break error,
            }
        };
        assert_eq!(
            error.problem,
            WxrProblem::TextTooLarge { limit: 4096 },
            "{error}"
        );
    }

    #[test]
    fn other_xml_is_not_wxr() {
        let error = records("<html><body/></html>").unwrap_err();
        assert_eq!(error.problem, WxrProblem::NotWxr);
    }

    #[test]
    fn a_wordpress_com_blog_is_known_by_its_own_link_not_the_shared_site_url() {
        let blog = SMALL
            .replace(
                "<link>https://old.example.com</link>",
                "<link>https://Tomatoes.WordPress.com/</link>",
            )
            .replace(
                "<wp:base_site_url>https://old.example.com/</wp:base_site_url>",
                "<wp:base_site_url>http://wordpress.com/</wp:base_site_url>\n  <wp:base_blog_url>https://tomatoes.wordpress.com</wp:base_blog_url>",
            );
        let all = records(&blog).unwrap();
        assert_eq!(
            all[0],
            WxrRecord::Site {
                url: "https://tomatoes.wordpress.com".into(),
                shared_url: "http://wordpress.com".into(),
                title: "Old Blog".into()
            }
        );
        assert_eq!(all.len(), 4, "the site once, then the rest: {all:?}");
        // No channel link: the blog's own address, then the site's.
        let no_link = blog.replace("<link>https://Tomatoes.WordPress.com/</link>", "");
        let WxrRecord::Site { url, .. } = &records(&no_link).unwrap()[0] else {
            panic!()
        };
        assert_eq!(url, "https://tomatoes.wordpress.com");
    }

    #[test]
    fn items_without_post_ids_are_known_by_guid_then_link_then_type_slug_and_date() {
        let mut item = WxrItem {
            id: 12,
            guid: "https://x.example/?p=12".into(),
            link: "https://x.example/hello/".into(),
            post_type: "post".into(),
            slug: "hello".into(),
            date: parse_date("2024-03-05 10:00:00"),
            ..Default::default()
        };
        assert_eq!(item.source_key(), "12");
        item.id = 0;
        assert_eq!(item.source_key(), "guid:https://x.example/?p=12");
        item.guid.clear();
        assert_eq!(item.source_key(), "link:https://x.example/hello/");
        item.link.clear();
        let by_parts = item.source_key();
        assert!(by_parts.starts_with("item:"), "{by_parts}");
        assert_eq!(by_parts, item.clone().source_key(), "stable");
        item.slug = "hello-2".into();
        assert_ne!(item.source_key(), by_parts);
        // Fixed, so that a key stored by one build is found by the next.
        assert_eq!(
            stable_hash(&["post", "hello"]),
            stable_hash(&["post", "hello"])
        );
        assert_ne!(
            stable_hash(&["post", "hello"]),
            stable_hash(&["posth", "ello"])
        );
    }

    #[test]
    fn zero_dates_are_none() {
        assert_eq!(parse_date("0000-00-00 00:00:00"), None);
        assert!(parse_date("2024-03-05 10:00:00").is_some());
    }

    #[test]
    fn characters_xml_forbids_are_dropped_raw_or_as_references() {
        let xml = SMALL
            .replace(
                "<title>Tom &amp; Jerry</title>",
                "<title>Tom\u{b} &amp;#27;&amp; &#x1b;Jerry</title>",
            )
            .replace("Hello <b>there</b>", "Hello\u{0}\u{8} <b>there</b>\u{fffe}")
            .replace("[CDATA[Bo]]", "[CDATA[B\u{c}o&#1;]]");
        let all = records(&xml).unwrap();
        let Some(WxrRecord::Item(item)) = all.iter().find(|r| matches!(r, WxrRecord::Item(_)))
        else {
            panic!("{all:?}")
        };
        assert_eq!(item.title, "Tom & Jerry");
        assert_eq!(item.content, "Hello <b>there</b>");
        assert_eq!(item.comments[0].author, "Bo");
    }
}
