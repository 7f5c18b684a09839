//! A real SMTP server on loopback (mailin-embedded) that keeps what it receives, for the
//! tests that follow Folio's email to the mailbox.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mailin_embedded::{Handler, Response, Server, SslConfig, response};

/// One message as the SMTP server received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub to: Vec<String>,
    pub raw: Vec<u8>,
}

impl Received {
    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_owned()
    }

    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(&self.raw)
            .expect("a parsable message")
    }

    /// The first web address in the plain-text body (a log-in or confirmation link).
    pub fn first_link(&self) -> String {
        let text = self
            .parsed()
            .body_text(0)
            .expect("a text body")
            .into_owned();
        let start = text.find("http").expect("a link in the email");
        text[start..].split_whitespace().next().unwrap().to_owned()
    }

    pub fn header(&self, name: &str) -> String {
        self.parsed()
            .header_raw(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .trim()
            .to_owned()
    }
}

#[derive(Clone)]
struct Sink {
    inbox: Arc<Mutex<Vec<Received>>>,
    reject: Arc<AtomicBool>,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Sink {
    fn rcpt(&mut self, _to: &str) -> Response {
        if self.reject.load(Ordering::SeqCst) {
            response::NO_MAILBOX
        } else {
            response::OK
        }
    }

    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.to = to.to_vec();
        self.data.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        self.inbox.lock().unwrap().push(Received {
            to: std::mem::take(&mut self.to),
            raw: std::mem::take(&mut self.data),
        });
        response::OK
    }
}

pub struct Smtp {
    pub port: u16,
    inbox: Arc<Mutex<Vec<Received>>>,
    /// While set, every recipient is refused with 550 (a broken mailbox).
    pub reject: Arc<AtomicBool>,
}

impl Smtp {
    /// A real SMTP server on a random loopback port, for the life of the test binary.
    pub fn start() -> Smtp {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        Self::start_on(listener)
    }

    pub fn start_on(listener: std::net::TcpListener) -> Smtp {
        let port = listener.local_addr().unwrap().port();
        let inbox = Arc::new(Mutex::new(Vec::new()));
        let reject = Arc::new(AtomicBool::new(false));
        let sink = Sink {
            inbox: inbox.clone(),
            reject: reject.clone(),
            to: Vec::new(),
            data: Vec::new(),
        };
        let mut server = Server::new(sink);
        server
            .with_name("sink.test")
            .with_ssl(SslConfig::None)
            .unwrap()
            .with_num_threads(16)
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        Smtp {
            port,
            inbox,
            reject,
        }
    }

    pub fn to(&self, address: &str) -> Vec<Received> {
        self.inbox
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(address)))
            .cloned()
            .collect()
    }

    pub fn all(&self) -> Vec<Received> {
        self.inbox.lock().unwrap().clone()
    }

    /// Waits until `address` has `count` messages; returns them.
    pub async fn wait_for(&self, address: &str, count: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.to(address);
            if got.len() >= count {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{address} received {} emails, expected {count}; all: {:?}",
                got.len(),
                self.all().iter().map(|m| &m.to).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
