//! `cargo xtask dist` makes an archive an operator can use: it unpacks into one folder whose
//! binary starts from there, makes its SQLite database there, and answers /healthz.
//! The archive packs the `folio` this test run built (`--binary`), so the test costs no
//! second build; the packing and the archive's layout are those of a release.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw).ok()?;
    let status = raw.split(' ').nth(1)?.parse().ok()?;
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run(command: &mut Command) -> String {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn dist_archive_unpacks_starts_and_answers_healthz() {
    let out = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut xtask = Command::new(env!("CARGO"));
    xtask
        .args(["run", "--quiet", "-p", "xtask", "--", "dist", "--binary"])
        .arg(env!("CARGO_BIN_EXE_folio"))
        .arg("--out")
        .arg(out.path())
        .current_dir(&root)
        .stdin(Stdio::null());
    // What cargo set for this test process describes this package, not xtask.
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(|n| {
            n.starts_with("CARGO_PKG_")
                || n.starts_with("CARGO_BIN_EXE_")
                || matches!(
                    n,
                    "CARGO_MANIFEST_DIR"
                        | "CARGO_MANIFEST_PATH"
                        | "CARGO_CRATE_NAME"
                        | "CARGO_PRIMARY_PACKAGE"
                )
        }) {
            xtask.env_remove(name);
        }
    }
    let printed = run(&mut xtask);
    let archive = printed
        .lines()
        .find(|l| l.ends_with(".tar.gz"))
        .expect("dist prints the archive's path");
    let archive = Path::new(archive);
    let name = archive
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .trim_end_matches(".tar.gz")
        .to_owned();
    assert!(
        name.starts_with("folio-") && name.ends_with("-linux"),
        "{name}"
    );

    // The checksum file verifies with the standard tool; nothing else is left in --out.
    run(Command::new("sha256sum")
        .args(["-c", &format!("{name}.tar.gz.sha256")])
        .current_dir(out.path()));
    let mut left: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(
        left,
        [format!("{name}.tar.gz"), format!("{name}.tar.gz.sha256")]
    );

    // One top folder holding what an operator needs.
    let listing = run(Command::new("tar").arg("-tzf").arg(archive));
    for entry in [
        "folio",
        "config/default.toml",
        "deploy/folio.service",
        "deploy/Dockerfile",
        "deploy/compose.yaml",
        "deploy/kubernetes/deployment.yaml",
        "docs/operations.md",
        "README.md",
        "LICENSE",
    ] {
        let wanted = format!("{name}/{entry}");
        assert!(
            listing.lines().any(|l| l == wanted),
            "{wanted} missing:\n{listing}"
        );
    }
    assert!(
        listing.lines().all(|l| l.starts_with(&format!("{name}/"))),
        "{listing}"
    );

    let unpacked = tempfile::tempdir().unwrap();
    run(Command::new("tar")
        .arg("-xzf")
        .arg(archive)
        .arg("-C")
        .arg(unpacked.path()));
    let home = unpacked.path().join(&name);

    // Started from its folder with nothing but a port: the default database path is
    // relative, so the site's data lands beside the binary.
    let port = free_port();
    let child = Command::new(home.join("folio"))
        .arg("serve")
        .current_dir(&home)
        .env("FOLIO__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("FOLIO__SITE__BASE_URL", format!("http://127.0.0.1:{port}"))
        .env("FOLIO__LOG__LEVEL", "warn")
        .env_remove("FOLIO__DATABASE__URL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Running(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    let answer = loop {
        if let Some(answer) = get(port, "/healthz") {
            break answer;
        }
        if let Some(status) = server.0.try_wait().unwrap() {
            let mut stderr = String::new();
            server
                .0
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            panic!("the archive's folio exited ({status}): {stderr}");
        }
        assert!(
            Instant::now() < deadline,
            "no answer on /healthz within 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(answer.0, 200, "/healthz: {}", answer.1);
    let (status, _) = get(port, "/readyz").unwrap();
    assert_eq!(status, 200, "/readyz: the database in the folder answers");
    assert!(
        home.join("data").join("folio.db").is_file(),
        "database made beside the binary"
    );
}
