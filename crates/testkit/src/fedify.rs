//! A remote fediverse server for tests: `fedify/peer.mjs`, built on Fedify (`@fedify/fedify`
//! from npm, pinned in `fedify/package.json`), installed under `<target>/fedify-peer` on first
//! use and run with Node on a free loopback port. It has one account, alice, that follows,
//! unfollows and replies when told to, and records what its inboxes receive.

use std::fs::{self, File, OpenOptions};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::oidc::{tail, target_dir};

const PACKAGE: &str = include_str!("../fedify/package.json");
const PEER: &str = include_str!("../fedify/peer.mjs");

const HOW_TO_GET_NODE: &str = "folio-testkit runs a Fedify server (npm's @fedify/fedify, pinned in \
crates/testkit/fedify/package.json) as the remote fediverse instance. It needs Node.js 20 or newer \
with npm (`node` and `npm` on PATH; Debian: `apt-get install -y nodejs npm`) and access to the npm \
registry for the first run. Delete <target>/fedify-peer to force a fresh install.";

/// A running Fedify peer, killed on drop.
pub struct FedifyPeer {
    child: Child,
    origin: String,
    log_path: PathBuf,
    http: reqwest::Client,
}

fn ensure_installed() -> PathBuf {
    let dir = target_dir().join("fedify-peer");
    let marker = dir.join(".folio-package.json");
    let ready = || {
        fs::read_to_string(&marker).is_ok_and(|m| m == PACKAGE)
            && dir
                .join("node_modules/@fedify/fedify/package.json")
                .exists()
    };
    fs::create_dir_all(&dir).expect("creating <target>/fedify-peer");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(target_dir().join("fedify-peer.lock"))
        .expect("opening the Fedify peer's lock file");
    // Several test binaries may get here at once: one installs, the others wait and reuse.
    lock.lock().expect("locking the Fedify peer's lock file");
    fs::write(dir.join("peer.mjs"), PEER).expect("writing peer.mjs");
    if !ready() {
        fs::write(dir.join("package.json"), PACKAGE).expect("writing package.json");
        let log_path = target_dir().join("fedify-peer-install.log");
        let log = File::create(&log_path).expect("creating the install log");
        let status = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--no-progress"])
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("cloning a file handle"))
            .stderr(log)
            .status();
        let output = || tail(&fs::read_to_string(&log_path).unwrap_or_default(), 30);
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => panic!(
                "npm install of the Fedify peer failed ({s}):\n{}\n\n{HOW_TO_GET_NODE}",
                output()
            ),
            Err(e) => panic!("npm could not run: {e}\n\n{HOW_TO_GET_NODE}"),
        }
        fs::write(&marker, PACKAGE).expect("writing the install marker");
    }
    drop(lock);
    dir
}

impl FedifyPeer {
    /// Installs the peer if needed, starts it and waits until alice's actor answers.
    pub async fn start() -> FedifyPeer {
        let dir = tokio::task::spawn_blocking(ensure_installed)
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()
            .expect("building a reqwest client");
        let logs = target_dir().join("fedify-logs");
        fs::create_dir_all(&logs).expect("creating target/fedify-logs");
        let port = crate::oidc::free_port();
        let log_path = logs.join(format!("peer-{}-{port}.log", std::process::id()));
        let log = File::create(&log_path).expect("creating the peer's log file");
        let mut child = Command::new("node")
            .arg(dir.join("peer.mjs"))
            .arg(port.to_string())
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("cloning a file handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting node: {e}\n{HOW_TO_GET_NODE}"));
        let origin = format!("http://127.0.0.1:{port}");
        let actor = format!("{origin}/users/alice");
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "the Fedify peer exited at start ({status}):\n{}\n{HOW_TO_GET_NODE}",
                    tail(&fs::read_to_string(&log_path).unwrap_or_default(), 40)
                );
            }
            if let Ok(response) = http
                .get(&actor)
                .header("accept", "application/activity+json")
                .timeout(Duration::from_secs(2))
                .send()
                .await
                && response.status().is_success()
            {
                return FedifyPeer {
                    child,
                    origin,
                    log_path,
                    http,
                };
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the Fedify peer did not answer {actor} within 90 s; its log:\n{}",
                    tail(&fs::read_to_string(&log_path).unwrap_or_default(), 40)
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// alice's actor URL.
    pub fn actor(&self) -> String {
        format!("{}/users/alice", self.origin)
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    async fn control(&self, what: &str, input: Value) -> Value {
        let response = self
            .http
            .post(format!("{}/control/{what}", self.origin))
            .header("content-type", "application/json")
            .body(input.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST /control/{what} on the Fedify peer: {e}"));
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "the Fedify peer's /control/{what} answered {status}: {text}\npeer log:\n{}",
            tail(&self.log(), 40)
        );
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// alice follows `actor` (a URL); returns the Follow's id.
    pub async fn follow(&self, actor: &str) -> String {
        let answer = self.control("follow", json!({ "actor": actor })).await;
        answer["sent"].as_str().unwrap_or_default().to_owned()
    }

    pub async fn unfollow(&self, actor: &str) {
        self.control("unfollow", json!({ "actor": actor })).await;
    }

    /// alice replies to `in_reply_to` (a post's or a comment's URL), addressed to `actor`;
    /// returns the Note's id.
    pub async fn reply(&self, actor: &str, in_reply_to: &str, content: &str) -> String {
        let answer = self
            .control(
                "reply",
                json!({ "actor": actor, "inReplyTo": in_reply_to, "content": content }),
            )
            .await;
        answer["note"].as_str().unwrap_or_default().to_owned()
    }

    /// alice changes her note's words (an `Update`).
    pub async fn update_reply(&self, actor: &str, note: &str, in_reply_to: &str, content: &str) {
        self.control(
            "update",
            json!({ "actor": actor, "note": note, "inReplyTo": in_reply_to, "content": content }),
        )
        .await;
    }

    /// alice deletes her note (a `Delete` of a `Tombstone`).
    pub async fn delete_reply(&self, actor: &str, note: &str) {
        self.control("delete", json!({ "actor": actor, "note": note }))
            .await;
    }

    /// alice likes `object` (a post's URL).
    pub async fn like(&self, actor: &str, object: &str) {
        self.control("like", json!({ "actor": actor, "object": object }))
            .await;
    }

    /// Every activity alice's inboxes accepted (signature checked by Fedify), compacted JSON-LD.
    pub async fn received(&self) -> Vec<Value> {
        let response = self
            .http
            .get(format!("{}/control/received", self.origin))
            .send()
            .await
            .expect("GET /control/received on the Fedify peer");
        let text = response.text().await.unwrap_or_default();
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        value.as_array().cloned().unwrap_or_default()
    }

    /// Waits up to `timeout` for a received activity that `wanted` accepts.
    pub async fn wait_for(&self, timeout: Duration, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(found) = self.received().await.into_iter().find(|a| wanted(a)) {
                return found;
            }
            if Instant::now() > deadline {
                panic!(
                    "the Fedify peer did not receive the expected activity within {timeout:?}; it got:\n{:#?}\npeer log:\n{}",
                    self.received().await,
                    tail(&self.log(), 40)
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for FedifyPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = fs::remove_file(&self.log_path);
        }
    }
}
