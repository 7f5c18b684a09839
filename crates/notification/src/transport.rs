//! Where messages go: an SMTP server (plain on loopback, STARTTLS, implicit TLS, with or
//! without login, through a connection pool), `.eml` files in a folder, or the log.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::extension::ClientId;

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
    /// Plain SMTP to a relay (`smtp://host:port`, no TLS, no login): our own small pool of
    /// connections with Nagle's algorithm off, so that the end-of-data line is not held back
    /// by the relay's delayed ACK (about 40 ms per message otherwise).
    Relay(Arc<Relay>),
    File(AsyncFileTransport<Tokio1Executor>, PathBuf),
    Log,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never prints the SMTP URL: it may hold a password.
        f.write_str(match self {
            Mailer::Smtp(_) => "Mailer::Smtp",
            Mailer::Relay(_) => "Mailer::Relay",
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
                if let Some(address) = plain_relay_address(url) {
                    return Ok(Mailer::Relay(Arc::new(Relay {
                        address,
                        timeout: *timeout,
                        max_idle: usize::try_from(*pool_max_connections).unwrap_or(4).max(1),
                        idle: std::sync::Mutex::new(Vec::new()),
                        hello: ClientId::default(),
                    })));
                }
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
            Mailer::Relay(relay) => relay.send(&message).await,
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

/// `host:port` of a plain `smtp://host[:port]` URL without TLS options or credentials.
fn plain_relay_address(url: &str) -> Option<String> {
    let rest = url.strip_prefix("smtp://")?.trim_end_matches('/');
    if rest.is_empty() || rest.contains(['?', '@', '/']) {
        return None;
    }
    let has_port = match rest.rsplit_once(':') {
        // An IPv6 address in brackets has colons of its own.
        Some((host, port)) => !host.ends_with(':') && port.chars().all(|c| c.is_ascii_digit()),
        None => false,
    };
    Some(if has_port {
        rest.to_owned()
    } else {
        format!("{rest}:25")
    })
}

pub struct Relay {
    address: String,
    timeout: Duration,
    max_idle: usize,
    idle: std::sync::Mutex<Vec<AsyncSmtpConnection>>,
    hello: ClientId,
}

impl Relay {
    fn take_idle(&self) -> Option<AsyncSmtpConnection> {
        self.idle.lock().ok()?.pop()
    }

    fn give_back(&self, connection: AsyncSmtpConnection) {
        if connection.has_broken() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < self.max_idle
        {
            idle.push(connection);
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let stream =
            tokio::time::timeout(self.timeout, tokio::net::TcpStream::connect(&self.address))
                .await
                .map_err(|_| {
                    SendError::Transient(format!("connecting to {} timed out", self.address))
                })?
                .map_err(|e| {
                    SendError::Transient(format!("cannot connect to {}: {e}", self.address))
                })?;
        stream
            .set_nodelay(true)
            .map_err(|e| SendError::Transient(e.to_string()))?;
        tokio::time::timeout(
            self.timeout,
            AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello),
        )
        .await
        .map_err(|_| SendError::Transient(format!("{} did not greet in time", self.address)))?
        .map_err(|e| classify(&e))
    }

    async fn send(&self, message: &Message) -> Result<String, SendError> {
        let envelope = message.envelope().clone();
        let bytes = message.formatted();
        // A kept connection the relay has closed meanwhile fails at once: then once more on
        // a new one.
        let mut reused = self.take_idle();
        loop {
            let was_reused = reused.is_some();
            let mut connection = match reused.take() {
                Some(connection) => connection,
                None => self.connect().await?,
            };
            let sent = tokio::time::timeout(self.timeout, connection.send(&envelope, &bytes)).await;
            match sent {
                Ok(Ok(response)) => {
                    self.give_back(connection);
                    return Ok(format!(
                        "{} {}",
                        response.code(),
                        response.message().collect::<Vec<_>>().join(" ")
                    ));
                }
                Ok(Err(error)) => {
                    let classified = classify(&error);
                    if error.is_permanent() || error.is_transient() {
                        // The relay answered: the connection is still good.
                        self.give_back(connection);
                    }
                    if was_reused
                        && matches!(classified, SendError::Transient(_))
                        && !error.is_transient()
                    {
                        continue;
                    }
                    return Err(classified);
                }
                Err(_) => {
                    connection.abort().await;
                    return Err(SendError::Transient(format!(
                        "{} did not answer in time",
                        self.address
                    )));
                }
            }
        }
    }
}

fn classify(error: &lettre::transport::smtp::Error) -> SendError {
    let text = describe(error);
    if error.is_permanent() {
        SendError::Permanent(text)
    } else {
        SendError::Transient(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_relay_urls_are_recognized() {
        assert_eq!(
            plain_relay_address("smtp://127.0.0.1:1025").as_deref(),
            Some("127.0.0.1:1025")
        );
        assert_eq!(
            plain_relay_address("smtp://localhost").as_deref(),
            Some("localhost:25")
        );
        assert_eq!(plain_relay_address("smtp://h:587?tls=required"), None);
        assert_eq!(plain_relay_address("smtp://u:p@h:25"), None);
        assert_eq!(plain_relay_address("smtps://h:465"), None);
    }
}
