//! A minimal SMTP server on loopback that accepts every message and notes when: the far end
//! of the mail benchmark. It speaks just enough of RFC 5321 for a well-behaved client.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;

pub struct SmtpSink {
    pub port: u16,
    accepted: Arc<Mutex<Vec<Instant>>>,
}

impl SmtpSink {
    pub fn start() -> anyhow::Result<SmtpSink> {
        let listener = TcpListener::bind("127.0.0.1:0").context("binding the SMTP sink")?;
        let port = listener.local_addr()?.port();
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let shared = accepted.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let accepted = shared.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &accepted);
                });
            }
        });
        Ok(SmtpSink { port, accepted })
    }

    /// When each message was accepted, in order.
    pub fn accepted(&self) -> Vec<Instant> {
        self.accepted.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

fn serve(stream: TcpStream, accepted: &Mutex<Vec<Instant>>) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    writer.write_all(b"220 sink ESMTP\r\n")?;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let verb = line.trim_end().to_ascii_uppercase();
        if verb.starts_with("EHLO") {
            writer.write_all(b"250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")?;
        } else if verb.starts_with("DATA") {
            writer.write_all(b"354 go ahead\r\n")?;
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
            }
            if let Ok(mut list) = accepted.lock() {
                list.push(Instant::now());
            }
            writer.write_all(b"250 accepted\r\n")?;
        } else if verb.starts_with("QUIT") {
            writer.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else {
            writer.write_all(b"250 ok\r\n")?;
        }
    }
}
