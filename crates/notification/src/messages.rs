//! From a claimed outbox row to a message: multipart text + HTML from the templates in
//! `templates/<kind>/` (subject, text, html), with the headers mail clients rely on.

use askama::Template;
use folio_storage::ClaimedMail;
use lettre::Message;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use serde::{Deserialize, Serialize};

use crate::MailError;

/// What every message needs to know about the site.
#[derive(Debug, Clone)]
pub struct SiteInfo {
    pub title: String,
    /// Absolute, without a trailing slash; every link in an email starts with it.
    pub base_url: String,
}

impl SiteInfo {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The host part of the base URL, for Message-IDs.
    pub fn host(&self) -> &str {
        let rest = self
            .base_url
            .split_once("://")
            .map_or(self.base_url.as_str(), |(_, rest)| rest);
        let host = rest.split('/').next().unwrap_or(rest);
        let host = host.rsplit('@').next().unwrap_or(host);
        host.split(':')
            .next()
            .filter(|h| !h.is_empty())
            .unwrap_or("localhost")
    }
}

/// A comment quoted in an email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotedComment {
    pub id: i64,
    pub author_name: String,
    /// The Markdown it was written in: quoted in the text part.
    pub text: String,
    /// Sanitized HTML: quoted in the HTML part.
    pub html: String,
}

/// `reply`, `follow`, `new_comment` and `moderation` emails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentPayload {
    pub recipient_name: String,
    pub post_id: i64,
    pub post_title: String,
    /// Path of the post, from the site root (`/2026/11/27/slug/`).
    pub post_path: String,
    pub comment: QuotedComment,
    pub parent: Option<QuotedComment>,
    pub held: bool,
}

/// `new_post` emails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostPayload {
    pub post_id: i64,
    pub post_title: String,
    pub post_path: String,
    pub author_name: String,
    pub excerpt: String,
}

/// `confirm_blog` emails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmPayload {
    pub confirm_path: String,
}

/// `sign_in` emails: the path of the single-use link (its secret is nowhere else in clear).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInPayload {
    pub link_path: String,
}

/// Everything a template may show; each message uses its part.
struct View {
    site_title: String,
    base_url: String,
    recipient_name: String,
    post_title: String,
    post_url: String,
    author_name: String,
    comment_url: String,
    comment_text: String,
    comment_html: String,
    parent: Option<QuotedView>,
    held: bool,
    excerpt: String,
    confirm_url: String,
    unsubscribe_url: String,
    /// Moderation emails: the page with the single-use Approve / Spam / Trash buttons.
    moderate_url: String,
}

struct QuotedView {
    author_name: String,
    text: String,
    html: String,
    url: String,
}

/// `text` with every line prefixed by `> `, as a mail client quotes.
fn quote(text: &str) -> String {
    text.lines()
        .map(|line| {
            if line.is_empty() {
                ">".to_owned()
            } else {
                format!("> {line}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Rendered mail as it leaves: rows stored before Folio dropped the characters XML forbids
/// may still hold some, and a NUL or an ESC has no business in a mail client either.
fn without_xml_forbidden(mut rendered: String) -> String {
    folio_domain::text::make_xml_safe(&mut rendered);
    rendered
}

macro_rules! message_templates {
    ($($kind:literal => $subject:ident $subject_path:tt, $text:ident $text_path:tt, $html:ident $html_path:tt;)*) => {
        $(
            #[derive(Template)]
            #[template(path = $subject_path)]
            struct $subject<'a> { m: &'a View }
            #[derive(Template)]
            #[template(path = $text_path)]
            struct $text<'a> { m: &'a View }
            #[derive(Template)]
            #[template(path = $html_path)]
            struct $html<'a> { m: &'a View }
        )*

        /// Subject, text and HTML of one kind of message.
        fn render_parts(kind: &str, m: &View) -> Result<(String, String, String), MailError> {
            match kind {
                $(
                    $kind => Ok((
                        without_xml_forbidden($subject { m }.render()?),
                        without_xml_forbidden($text { m }.render()?),
                        without_xml_forbidden($html { m }.render()?),
                    )),
                )*
                other => Err(MailError::Message(format!("no templates for emails of kind {other:?}"))),
            }
        }
    };
}

message_templates! {
    "reply" => ReplySubject "reply/subject.txt", ReplyText "reply/text.txt", ReplyHtml "reply/html.html";
    "follow" => FollowSubject "follow/subject.txt", FollowText "follow/text.txt", FollowHtml "follow/html.html";
    "new_comment" => NewCommentSubject "new_comment/subject.txt", NewCommentText "new_comment/text.txt", NewCommentHtml "new_comment/html.html";
    "moderation" => ModerationSubject "moderation/subject.txt", ModerationText "moderation/text.txt", ModerationHtml "moderation/html.html";
    "new_post" => NewPostSubject "new_post/subject.txt", NewPostText "new_post/text.txt", NewPostHtml "new_post/html.html";
    "confirm_blog" => ConfirmSubject "confirm_blog/subject.txt", ConfirmText "confirm_blog/text.txt", ConfirmHtml "confirm_blog/html.html";
    "sign_in" => SignInSubject "sign_in/subject.txt", SignInText "sign_in/text.txt", SignInHtml "sign_in/html.html";
    "test" => TestSubject "test/subject.txt", TestText "test/text.txt", TestHtml "test/html.html";
}

struct ListUnsubscribe(String);

impl lettre::message::header::Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(s.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), format!("<{}>", self.0))
    }
}

impl Clone for ListUnsubscribe {
    fn clone(&self) -> Self {
        ListUnsubscribe(self.0.clone())
    }
}

#[derive(Clone)]
struct ListUnsubscribePost;

impl lettre::message::header::Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribePost)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".to_owned())
    }
}

/// RFC 3834: sent by a program, not a person, so that vacation responders and other
/// automatic replies stay quiet.
#[derive(Clone)]
struct AutoSubmitted;

impl lettre::message::header::Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_owned())
    }
}

fn view_for(mail: &ClaimedMail, site: &SiteInfo) -> Result<View, MailError> {
    let mut view = View {
        site_title: site.title.clone(),
        base_url: site.base_url.clone(),
        recipient_name: String::new(),
        post_title: String::new(),
        post_url: String::new(),
        author_name: String::new(),
        comment_url: String::new(),
        comment_text: String::new(),
        comment_html: String::new(),
        parent: None,
        held: false,
        excerpt: String::new(),
        confirm_url: String::new(),
        unsubscribe_url: site.url(&format!("/unsubscribe/{}", mail.unsubscribe_token)),
        moderate_url: mail
            .action_token
            .as_ref()
            .map(|token| site.url(&format!("/moderate/{token}")))
            .unwrap_or_default(),
    };
    match mail.kind.as_str() {
        "reply" | "follow" | "new_comment" | "moderation" => {
            let p: CommentPayload = serde_json::from_str(&mail.payload)?;
            let post_url = site.url(&p.post_path);
            view.recipient_name = p.recipient_name;
            view.post_title = p.post_title;
            view.comment_url = format!("{post_url}#comment-{}", p.comment.id);
            view.author_name = p.comment.author_name;
            view.comment_text = quote(&p.comment.text);
            view.comment_html = p.comment.html;
            view.parent = p.parent.map(|q| QuotedView {
                url: format!("{post_url}#comment-{}", q.id),
                author_name: q.author_name,
                text: quote(&q.text),
                html: q.html,
            });
            view.held = p.held;
            view.post_url = post_url;
        }
        "new_post" => {
            let p: PostPayload = serde_json::from_str(&mail.payload)?;
            view.post_url = site.url(&p.post_path);
            view.post_title = p.post_title;
            view.author_name = p.author_name;
            view.excerpt = p.excerpt;
        }
        "confirm_blog" => {
            let p: ConfirmPayload = serde_json::from_str(&mail.payload)?;
            view.confirm_url = site.url(&p.confirm_path);
        }
        "sign_in" => {
            let p: SignInPayload = serde_json::from_str(&mail.payload)?;
            view.confirm_url = site.url(&p.link_path);
        }
        _ => {}
    }
    Ok(view)
}

/// The plain-text part of a claimed outbox row's message, as its reader would see it:
/// what `mail.transport = "log"` prints, so that a link in it can be followed from a
/// terminal.
pub fn plain_text(mail: &ClaimedMail, site: &SiteInfo) -> Result<String, MailError> {
    let view = view_for(mail, site)?;
    let (_, text, _) = render_parts(&mail.kind, &view)?;
    Ok(text)
}

/// The message for a claimed outbox row.
pub fn render_message(
    mail: &ClaimedMail,
    site: &SiteInfo,
    from: &Mailbox,
) -> Result<Message, MailError> {
    let view = view_for(mail, site)?;
    let (subject, text, html) = render_parts(&mail.kind, &view)?;
    let to: Mailbox = mail
        .recipient
        .parse()
        .map_err(|e| MailError::Message(format!("recipient {:?}: {e}", mail.recipient)))?;
    let host = site.host();
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject.trim())
        .date_now()
        .message_id(Some(format!(
            "<folio.{}.{}@{host}>",
            mail.id,
            &mail.unsubscribe_token[..mail.unsubscribe_token.len().min(12)]
        )))
        .header(ListUnsubscribe(view.unsubscribe_url.clone()))
        .header(ListUnsubscribePost)
        .header(AutoSubmitted);
    if let Some(post_id) = mail.post_id {
        // One thread per post in the reader's mail client.
        let thread = format!("<post-{post_id}@{host}>");
        builder = builder.in_reply_to(thread.clone()).references(thread);
    }
    builder
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(text),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html),
                ),
        )
        .map_err(|e| MailError::Message(e.to_string()))
}

/// A message that is not in the outbox: `folio mail test`.
pub fn test_message(site: &SiteInfo, from: &Mailbox, to: &str) -> Result<Message, MailError> {
    let mail = ClaimedMail {
        id: 0,
        kind: "test".to_owned(),
        recipient: to.to_owned(),
        user_id: None,
        post_id: None,
        comment_id: None,
        payload: "{}".to_owned(),
        attempts: 0,
        unsubscribe_token: folio_storage::random_token(),
        action_token: None,
    };
    render_message(&mail, site, from)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn quotes_every_line() {
        assert_eq!(quote("a\n\nb"), "> a\n>\n> b");
    }

    #[test]
    fn host_from_base_url() {
        let site = SiteInfo {
            title: "T".into(),
            base_url: "https://blog.example.org:8443/sub".into(),
        };
        assert_eq!(site.host(), "blog.example.org");
    }

    #[test]
    fn a_reply_renders_with_both_comments_and_headers() {
        let payload = CommentPayload {
            recipient_name: "Alice".into(),
            post_id: 3,
            post_title: "Sales Isn't Adversarial".into(),
            post_path: "/2026/11/27/sales/".into(),
            comment: QuotedComment {
                id: 9,
                author_name: "Bob".into(),
                text: "I disagree <b>kindly</b>".into(),
                html: "<p>I disagree</p>".into(),
            },
            parent: Some(QuotedComment {
                id: 8,
                author_name: "Alice".into(),
                text: "First!".into(),
                html: "<p>First!</p>".into(),
            }),
            held: false,
        };
        let mail = ClaimedMail {
            id: 1,
            kind: "reply".into(),
            recipient: "alice@example.org".into(),
            user_id: Some(1),
            post_id: Some(3),
            comment_id: Some(9),
            payload: serde_json::to_string(&payload).unwrap(),
            attempts: 0,
            unsubscribe_token: "tok123".into(),
            action_token: None,
        };
        let site = SiteInfo {
            title: "Blog".into(),
            base_url: "https://blog.example.org".into(),
        };
        let from: Mailbox = "Blog <noreply@example.org>".parse().unwrap();
        let raw =
            String::from_utf8(render_message(&mail, &site, &from).unwrap().formatted()).unwrap();
        assert!(raw.contains("List-Unsubscribe: <https://blog.example.org/unsubscribe/tok123>"));
        assert!(raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
        assert!(raw.contains("In-Reply-To: <post-3@blog.example.org>"));
        assert!(raw.contains("Subject: Bob replied to your comment on"));
        assert!(raw.contains("multipart/alternative"));
    }
}
