#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error(transparent)]
    Storage(#[from] folio_storage::StorageError),
    #[error("not a usable SMTP URL (smtp://HOST:PORT, smtp://...?tls=required, smtps://...): {0}")]
    SmtpUrl(String),
    #[error("mail.from is not an email address such as \"Blog <noreply@example.org>\": {0}")]
    From(String),
    #[error("cannot make the message: {0}")]
    Message(String),
    #[error("the payload of a queued email cannot be read: {0}")]
    Payload(#[from] serde_json::Error),
    #[error("rendering an email template: {0}")]
    Template(#[from] askama::Error),
}
