//! `cargo xtask ci`: the same commands, in the same order, as `.ci/run`.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::{cargo_command, run_command};

const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub fn run() -> anyhow::Result<()> {
    step("versions");
    for args in [
        &["--version"][..],
        &["fmt", "--version"],
        &["clippy", "--version"],
    ] {
        cargo(args)?;
    }
    run_command(Command::new("rustc").arg("--version"))?;

    step("cargo fmt --all --check");
    cargo(&["fmt", "--all", "--check"])?;
    step("cargo clippy --workspace --all-targets -- -D warnings");
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    step("deploy/validate");
    run_command(Command::new("bash").arg(crate::root().join("deploy").join("validate")))?;
    step("cargo test --workspace (SQLite)");
    cargo(&["test", "--workspace"])?;

    step("cargo test --workspace (PostgreSQL)");
    ensure_postgres()?;
    run_command(ci_cargo(&["test", "--workspace"]).env("FOLIO_TEST_POSTGRES_URL", POSTGRES_URL))?;
    step("all checks passed");
    Ok(())
}

fn step(title: &str) {
    println!("\n==> {title}");
}

fn cargo(args: &[&str]) -> anyhow::Result<()> {
    run_command(&mut ci_cargo(args))
}

fn ci_cargo(args: &[&str]) -> Command {
    let mut command = cargo_command();
    command
        .args(args)
        .env("CARGO_TERM_COLOR", "never")
        .env("CARGO_INCREMENTAL", "0");
    command
}

fn postgres_ready() -> bool {
    Command::new("pg_isready")
        .args(["-h", "127.0.0.1", "-p", "5432", "-q"])
        .status()
        .is_ok_and(|status| status.success())
}

/// Starts the machine's PostgreSQL cluster when it is not running, as `.ci/run` does.
fn ensure_postgres() -> anyhow::Result<()> {
    if postgres_ready() {
        return Ok(());
    }
    let mut versions: Vec<String> = std::fs::read_dir("/etc/postgresql")
        .context(
            "PostgreSQL is not running and /etc/postgresql does not exist; install PostgreSQL",
        )?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .collect();
    versions.sort_by_key(|v| {
        v.split('.')
            .map(|p| p.parse::<u32>().unwrap_or(0))
            .collect::<Vec<_>>()
    });
    let version = versions
        .last()
        .context("no cluster under /etc/postgresql")?;
    run_command(Command::new("pg_ctlcluster").args([
        "--skip-systemctl-redirect",
        version,
        "main",
        "start",
    ]))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !postgres_ready() {
        if Instant::now() > deadline {
            bail!("PostgreSQL {version} did not accept connections on 127.0.0.1:5432 within 30 s");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    Ok(())
}
