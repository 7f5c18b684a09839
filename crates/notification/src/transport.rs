//! Where messages go: an SMTP server (plain on loopback, STARTTLS, implicit TLS, with or
//! without login, through a connection pool), `.eml` files in a folder, or the log.

use std::path::PathBuf;
use std::time::Duration;

use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::MailError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportSettings {
    /// `smtp://host:port` (plain: for a relay on loopback), `smtp://host:587?tls=required`
    /// (STARTTLS), `smtps://host:465` (implicit TLS); `user:password@` logs in.
    Smtp {
        url: String,
        timeout: Duration,
        pool_max_connections: u32,
    },
    /// Each message becomes a `.eml` file in this folder.
    File { dir: PathBuf },
    /// Messages are only logged.
    Log,
}

/// Why a message was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Worth trying again later: connection refused, timeout, a 4xx answer.
    Transient(String),
    /// The server refused for good (5xx): trying again would not help.
    Permanent(String),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Transient(e) => write!(f, "temporary failure: {e}"),
            SendError::Permanent(e) => write!(f, "permanent failure: {e}"),
        }
    }
}

#[derive(Clone)]
pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File(AsyncFileTransport<Tokio1Executor>, PathBuf),
    Log,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never prints the SMTP URL: it may hold a password.
        f.write_str(match self {
            Mailer::Smtp(_) => "Mailer::Smtp",
            Mailer::File(..) => "Mailer::File",
            Mailer::Log => "Mailer::Log",
        })
    }
}

impl Mailer {
    /// Whether `url` is an SMTP URL lettre understands; needs no runtime, connects nowhere.
    pub fn check_smtp_url(url: &str) -> Result<(), MailError> {
        AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map(|_| ())
            .map_err(|e| MailError::SmtpUrl(e.to_string()))
    }

    /// Builds the transport (inside a Tokio runtime: the pool starts a task); nothing
    /// connects until the first message.
    pub fn new(settings: &TransportSettings) -> Result<Self, MailError> {
        Ok(match settings {
            TransportSettings::Smtp {
                url,
                timeout,
                pool_max_connections,
            } => {
                let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| MailError::SmtpUrl(e.to_string()))?;
                Mailer::Smtp(
                    builder
                        .timeout(Some(*timeout))
                        .pool_config(PoolConfig::new().max_size((*pool_max_connections).max(1)))
                        .build(),
                )
            }
            TransportSettings::File { dir } => {
                Mailer::File(AsyncFileTransport::<Tokio1Executor>::new(dir), dir.clone())
            }
            TransportSettings::Log => Mailer::Log,
        })
    }

    /// Sends one message; on success, what the server answered.
    pub async fn send(&self, message: Message) -> Result<String, SendError> {
        match self {
            Mailer::Smtp(smtp) => match smtp.send(message).await {
                Ok(response) => Ok(format!(
                    "{} {}",
                    response.code(),
                    response.message().collect::<Vec<_>>().join(" ")
                )),
                Err(error) => {
                    let text = describe(&error);
                    if error.is_permanent() {
                        Err(SendError::Permanent(text))
                    } else {
                        Err(SendError::Transient(text))
                    }
                }
            },
            Mailer::File(file, dir) => {
                if let Err(error) = tokio::fs::create_dir_all(dir).await {
                    return Err(SendError::Transient(format!(
                        "cannot create {}: {error}",
                        dir.display()
                    )));
                }
                file.send(message)
                    .await
                    .map(|id| format!("written to {}/{id}.eml", dir.display()))
                    .map_err(|e| SendError::Transient(e.to_string()))
            }
            Mailer::Log => {
                let to: Vec<String> = message
                    .envelope()
                    .to()
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                let subject = message
                    .headers()
                    .get_raw("Subject")
                    .unwrap_or_default()
                    .to_owned();
                tracing::info!(to = %to.join(", "), %subject, "email (mail.transport = \"log\": not sent)");
                Ok("logged".to_owned())
            }
        }
    }
}

/// An SMTP error with its causes, without the URL or credentials.
fn describe(error: &lettre::transport::smtp::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
