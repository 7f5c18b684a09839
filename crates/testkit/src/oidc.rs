//! `oidc-provider-mock` from a virtualenv under the target directory.

use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use folio_auth::{ProviderConfig, ProviderKind};

/// The pinned packages; the venv is rebuilt when this text changes.
const REQUIREMENTS: &str = include_str!("../oidc-requirements.txt");

/// Runs the server; exits by itself when the test process that started it is gone, so a
/// killed test binary leaves no server behind.
const LAUNCHER: &str = r#"
import os, sys, threading, time
parent = os.getppid()
def watch():
    while True:
        if os.getppid() != parent:
            os._exit(0)
        time.sleep(0.5)
threading.Thread(target=watch, daemon=True).start()
from oidc_provider_mock.__main__ import run
run()
"#;

const HOW_TO_GET_PYTHON: &str = "folio-testkit runs the OpenID provider `oidc-provider-mock` from PyPI in a \
virtualenv it creates under the target directory. It needs `python3` with the `venv` module \
(Debian/Ubuntu: `apt-get install -y python3 python3-venv`) and access to PyPI for the first run. \
Delete <target>/oidc-venv to force a fresh install.";

/// A running `oidc-provider-mock`, killed on drop.
///
/// ```ignore
/// let oidc = folio_testkit::OidcServer::start().await;
/// oidc.put_user("alice", "alice@example.org", true, "Alice Liddell").await;
/// let config = oidc.provider_config(); // kind = "oidc", issuer = oidc.issuer()
/// ```
///
/// Its token endpoint accepts any `client_id` and any non-empty `client_secret`.
pub struct OidcServer {
    child: Child,
    issuer: String,
    log_path: PathBuf,
    http: reqwest::Client,
}

impl OidcServer {
    /// Creates the virtualenv if needed (once, under a file lock, so concurrent test binaries
    /// wait for each other), starts the server on a free loopback port and waits until its
    /// discovery document answers. Async because the callers are `#[tokio::test]`s; the
    /// blocking parts run on tokio's blocking pool.
    ///
    /// Panics with instructions when python3, venv or PyPI is missing.
    pub async fn start() -> OidcServer {
        let python = tokio::task::spawn_blocking(|| {
            ensure_venv("oidc-venv", REQUIREMENTS, HOW_TO_GET_PYTHON)
        })
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(20))
            .build()
            .expect("building a reqwest client");
        let logs = target_dir().join("oidc-logs");
        fs::create_dir_all(&logs).expect("creating target/oidc-logs");
        let mut last_log = String::new();
        // A port picked free can be taken before the server binds it; try a few.
        for _attempt in 0..3 {
            let port = free_port();
            let log_path = logs.join(format!("oidc-{}-{port}.log", std::process::id()));
            let log = File::create(&log_path).expect("creating the oidc-provider-mock log file");
            let mut child = Command::new(&python)
                .arg("-c")
                .arg(LAUNCHER)
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .env("NO_COLOR", "1")
                .env("PYTHONUNBUFFERED", "1")
                .env("PYTHONDONTWRITEBYTECODE", "1")
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("cloning a file handle"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("starting {}: {e}\n{HOW_TO_GET_PYTHON}", python.display())
                });
            let issuer = format!("http://127.0.0.1:{port}");
            let discovery = format!("{issuer}/.well-known/openid-configuration");
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if let Ok(Some(_status)) = child.try_wait() {
                    last_log = fs::read_to_string(&log_path).unwrap_or_default();
                    break;
                }
                if let Ok(response) = http
                    .get(&discovery)
                    .timeout(Duration::from_secs(2))
                    .send()
                    .await
                    && response.status().is_success()
                {
                    return OidcServer {
                        child,
                        issuer,
                        log_path,
                        http,
                    };
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "oidc-provider-mock did not answer {discovery} within 60 s; its log is {}:\n{}",
                        log_path.display(),
                        tail(&fs::read_to_string(&log_path).unwrap_or_default(), 40)
                    );
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        panic!(
            "oidc-provider-mock exited at start three times; last log:\n{}",
            tail(&last_log, 40)
        );
    }

    /// `http://127.0.0.1:<port>` (no trailing slash), the `iss` of its tokens.
    pub fn issuer(&self) -> String {
        self.issuer.clone()
    }

    /// Where its stdout/stderr go.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// A `kind = "oidc"` provider pointing at this server (client `folio-test`, secret
    /// `folio-test-secret`; the mock accepts any).
    pub fn provider_config(&self) -> ProviderConfig {
        ProviderConfig {
            kind: ProviderKind::Oidc,
            client_id: "folio-test".to_owned(),
            client_secret: "folio-test-secret".to_owned(),
            label: None,
            auth_url: None,
            token_url: None,
            userinfo_url: None,
            emails_url: None,
            issuer: Some(self.issuer()),
            scopes: None,
        }
    }

    /// Defines (or replaces) user `sub` with `email`, `email_verified` and `name` claims:
    /// its `PUT /users/{sub}` API.
    pub async fn put_user(&self, sub: &str, email: &str, email_verified: bool, name: &str) {
        self.put_user_claims(
            sub,
            serde_json::json!({ "email": email, "email_verified": email_verified, "name": name }),
        )
        .await;
    }

    /// Defines user `sub` with any claims (e.g. `preferred_username`, `picture`).
    pub async fn put_user_claims(&self, sub: &str, claims: serde_json::Value) {
        let mut url = reqwest::Url::parse(&self.issuer).expect("issuer is a URL");
        url.path_segments_mut()
            .expect("issuer URL has a path")
            .extend(["users", sub]);
        let response = self
            .http
            .put(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(claims.to_string())
            .send()
            .await
            .expect("PUT /users/{sub} on oidc-provider-mock");
        let status = response.status();
        assert!(
            status.is_success(),
            "PUT /users/{sub} answered {status}: {}",
            response.text().await.unwrap_or_default()
        );
    }

    /// Does what a person does on the mock's login page: opens `authorize_url`, types `sub`
    /// and presses "Authorize". Returns the redirect's `Location` (the client's callback URL
    /// with `code` and `state`).
    pub async fn authorize(&self, authorize_url: &str, sub: &str) -> String {
        self.open_login_page(authorize_url).await;
        self.submit(authorize_url, &[("sub", sub)]).await
    }

    /// Presses "Deny" on the login page. Returns the redirect's `Location` (the callback URL
    /// with `error=access_denied`).
    pub async fn deny(&self, authorize_url: &str) -> String {
        self.open_login_page(authorize_url).await;
        self.submit(authorize_url, &[("action", "deny")]).await
    }

    async fn open_login_page(&self, authorize_url: &str) {
        let response = self
            .http
            .get(authorize_url)
            .send()
            .await
            .expect("GET the authorize URL");
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert!(
            status.is_success() && body.contains(r#"name="sub""#),
            "the login page at {authorize_url} answered {status} without the sign-in form:\n{}",
            tail(&body, 40)
        );
    }

    /// The page's forms have no `action`, so they post back to the authorize URL itself.
    async fn submit(&self, authorize_url: &str, form: &[(&str, &str)]) -> String {
        let response = self
            .http
            .post(authorize_url)
            .form(form)
            .send()
            .await
            .expect("POST the login form");
        let status = response.status();
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        match location {
            Some(location) if status.is_redirection() => location,
            _ => panic!(
                "the login form answered {status} without a redirect:\n{}",
                tail(&response.text().await.unwrap_or_default(), 40)
            ),
        }
    }
}

impl Drop for OidcServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Keep the log only when a test failed; it is what explains the failure.
        if !std::thread::panicking() {
            let _ = fs::remove_file(&self.log_path);
        }
    }
}

/// `CARGO_TARGET_DIR` if set, else the workspace's `target/`.
pub(crate) fn target_dir() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => workspace.join(dir),
        None => workspace.join("target"),
    }
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding a loopback port")
}

pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Returns the python of `<target>/<name>`, a virtualenv holding `requirements`, creating it
/// first if it is missing or stale. Panics with `how_to` when python3, venv or PyPI is missing.
pub(crate) fn ensure_venv(name: &str, requirements: &str, how_to: &str) -> PathBuf {
    let target = target_dir();
    let venv = target.join(name);
    let python = venv.join("bin").join("python");
    let marker = venv.join(".folio-requirements.txt");
    let ready = || fs::read_to_string(&marker).is_ok_and(|m| m == requirements) && python.exists();
    if ready() {
        return python;
    }
    fs::create_dir_all(&target).expect("creating the target directory");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(target.join(format!("{name}.lock")))
        .expect("opening the virtualenv's lock file");
    // Several test binaries may get here at once: one builds, the others wait and reuse.
    lock.lock().expect("locking the virtualenv's lock file");
    if ready() {
        return python;
    }
    if venv.exists() {
        fs::remove_dir_all(&venv).expect("removing a stale virtualenv");
    }
    let log_path = target.join(format!("{name}-install.log"));
    let run = |what: &str, command: &mut Command| {
        let log = File::create(&log_path).expect("creating the install log");
        let status = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("cloning a file handle"))
            .stderr(log)
            .status();
        let output = || {
            let mut text = String::new();
            let _ = File::open(&log_path).and_then(|mut f| f.read_to_string(&mut text));
            tail(&text, 30)
        };
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => panic!("{what} failed ({s}):\n{}\n\n{how_to}", output()),
            Err(e) => panic!("{what} could not run: {e}\n\n{how_to}"),
        }
    };
    run(
        "python3 -m venv",
        Command::new("python3").arg("-m").arg("venv").arg(&venv),
    );
    let requirements_path = venv.join("requirements.txt");
    fs::write(&requirements_path, requirements).expect("writing requirements.txt");
    run(
        "pip install -r requirements.txt (needs PyPI)",
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "--quiet",
                "-r",
            ])
            .arg(&requirements_path),
    );
    fs::write(&marker, requirements).expect("writing the venv marker");
    drop(lock);
    python
}
