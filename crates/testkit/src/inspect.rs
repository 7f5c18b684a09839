//! Reads Folio's output as its readers' software does: PyPI's `feedparser` (what many feed
//! readers are built on), a strict XML 1.0 parser (expat), and an HTML parser that reports
//! live markup (scripts, event attributes, `javascript:` URLs). Run from a virtualenv under
//! `<target>/feedparser-venv`, created on first use from `feedparser-requirements.txt`.

use std::io::Write;
use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::oidc::{ensure_venv, tail};

const REQUIREMENTS: &str = include_str!("../feedparser-requirements.txt");
const SCRIPT: &str = include_str!("../inspect.py");

const HOW_TO_GET_PYTHON: &str = "folio-testkit reads feeds with `feedparser` from PyPI in a \
virtualenv it creates under the target directory. It needs `python3` with the `venv` module \
(Debian/Ubuntu: `apt-get install -y python3 python3-venv`) and access to PyPI for the first run. \
Delete <target>/feedparser-venv to force a fresh install.";

/// One document to read, as its reader would.
pub enum Document<'a> {
    /// RSS or Atom, read by feedparser.
    Feed(&'a str),
    /// Any XML (a sitemap), read by a strict XML 1.0 parser.
    Xml(&'a str),
    /// An HTML page, a fragment or an email's HTML part.
    Html(&'a str),
}

/// What feedparser made of a feed.
#[derive(Debug, Clone, Deserialize)]
pub struct FeedReading {
    /// feedparser's flag for a malformed feed.
    pub bozo: bool,
    pub bozo_exception: String,
    /// `rss20`, `atom10`, ...
    pub version: String,
    pub entries: usize,
    pub fields: Vec<FeedField>,
}

/// One field of a feed as feedparser read it.
#[derive(Debug, Clone, Deserialize)]
pub struct FeedField {
    /// `feed.title`, `entry0.summary`, `entry2.content0`, ...
    #[serde(rename = "where")]
    pub place: String,
    /// `text/plain`, `text/html`, `application/xhtml+xml`.
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
    /// The live markup in an HTML-typed field; empty for text.
    pub live: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct XmlReading {
    pub ok: bool,
    pub error: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HtmlReading {
    pub live: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum Reading {
    Feed(FeedReading),
    Xml(XmlReading),
    Html(HtmlReading),
}

impl Reading {
    pub fn feed(self) -> FeedReading {
        match self {
            Reading::Feed(reading) => reading,
            other => panic!("not a feed reading: {other:?}"),
        }
    }

    pub fn xml(self) -> XmlReading {
        match self {
            Reading::Xml(reading) => reading,
            other => panic!("not an XML reading: {other:?}"),
        }
    }

    pub fn html(self) -> HtmlReading {
        match self {
            Reading::Html(reading) => reading,
            other => panic!("not an HTML reading: {other:?}"),
        }
    }
}

/// Reads every document in one Python process (starting one costs more than reading).
/// Panics with instructions when python3, venv or PyPI is missing: a test that needs it never
/// passes silently.
pub async fn read_all(documents: &[Document<'_>]) -> Vec<Reading> {
    let input = serde_json::Value::Array(
        documents
            .iter()
            .map(|document| {
                let (kind, text) = match document {
                    Document::Feed(text) => ("feed", text),
                    Document::Xml(text) => ("xml", text),
                    Document::Html(text) => ("html", text),
                };
                serde_json::json!({ "kind": kind, "text": text })
            })
            .collect(),
    )
    .to_string();
    let output = tokio::task::spawn_blocking(move || run(&input))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    let raw: Vec<serde_json::Value> = serde_json::from_str(&output)
        .unwrap_or_else(|e| panic!("the inspector's answer is not JSON ({e}):\n{output}"));
    assert_eq!(raw.len(), documents.len(), "one reading per document");
    documents
        .iter()
        .zip(raw)
        .map(|(document, value)| match document {
            Document::Feed(_) => {
                Reading::Feed(serde_json::from_value(value).expect("a feed reading"))
            }
            Document::Xml(_) => {
                Reading::Xml(serde_json::from_value(value).expect("an XML reading"))
            }
            Document::Html(_) => {
                Reading::Html(serde_json::from_value(value).expect("an HTML reading"))
            }
        })
        .collect()
}

fn run(input: &str) -> String {
    let python = ensure_venv("feedparser-venv", REQUIREMENTS, HOW_TO_GET_PYTHON);
    let mut child = Command::new(&python)
        .arg("-c")
        .arg(SCRIPT)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}\n{HOW_TO_GET_PYTHON}", python.display()));
    let mut stdin = child.stdin.take().expect("the inspector's stdin");
    let writer = {
        let input = input.to_owned();
        std::thread::spawn(move || stdin.write_all(input.as_bytes()))
    };
    let output = child.wait_with_output().expect("waiting for the inspector");
    let _ = writer.join();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "the inspector failed ({}):\n{}",
        output.status,
        tail(&String::from_utf8_lossy(&output.stderr), 40)
    );
    stdout
}
