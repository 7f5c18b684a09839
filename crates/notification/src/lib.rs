//! Folio's email: what each notification says (askama templates, one folder per message),
//! the outbox worker that sends them, and the lettre transports (SMTP, `.eml` files, log).
//!
//! Who is told what is decided in `folio_domain::notifications`; the rows are written by
//! `folio_storage` in the same transaction as the comment. This crate plans those rows
//! (`plan`), turns a claimed row into a message (`messages`) and delivers it (`worker`).

mod error;
mod messages;
mod plan;
mod transport;
mod worker;

pub use error::MailError;
pub use lettre::message::Mailbox;
pub use messages::{
    CommentPayload, ConfirmPayload, PostPayload, QuotedComment, SiteInfo, render_message,
    test_message,
};
pub use plan::{
    CommentFacts, CommentMailPlan, confirmation_mail, notify_new_post, plan_approval_mail,
    plan_comment_mail, sign_in_mail,
};
pub use transport::{Mailer, SendError, TransportSettings};
pub use worker::{MailSettings, Worker, retry_delay};
