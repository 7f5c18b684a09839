//! `cargo xtask bench --only-comments`: how many comments a second 40 signed-in readers get
//! stored, with the rate limits and moderation off and the emails only queued (no mail
//! worker), on SQLite and, when `FOLIO_BENCH_POSTGRES_URL` names a PostgreSQL server, on
//! PostgreSQL too. `--binary PATH` measures another build of `folio` (an older one, for a
//! before-and-after comparison).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::command_output;
use crate::site::{Server, free_address};

/// The readers posting at once, one wrk connection each.
const READERS: u32 = 40;
/// What the write path should take on either database.
const TARGET_PER_SECOND: f64 = 2000.0;

pub struct CommentWrites {
    /// What is measured: the baseline (a page from memory: HTTP alone) or a database.
    pub database: &'static str,
    pub stored_per_second: f64,
    /// Requests that did not answer 303 (a comment not stored).
    pub failed: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// Measures each database this machine offers; the binary is `binary`.
pub fn run(bench_dir: &Path, binary: &Path, seconds: u32) -> anyhow::Result<Vec<CommentWrites>> {
    let mut figures = Vec::new();
    let dir = bench_dir.join("comment-writes");
    let sqlite = fresh_dir(&dir.join("sqlite"))?;
    let url = crate::sqlite_url(&sqlite.join("folio.db"));
    let (measured, page) = measure("SQLite", binary, &sqlite, &url, seconds)?;
    figures.push(baseline(binary, &sqlite, &page, seconds)?);
    figures.push(measured);
    if let Some(admin) = std::env::var("FOLIO_BENCH_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        let postgres = fresh_dir(&dir.join("postgres"))?;
        let url = fresh_postgres_database(&admin, "folio_bench_comment_writes")?;
        figures.push(measure("PostgreSQL", binary, &postgres, &url, seconds)?.0);
    }
    Ok(figures)
}

/// The report's section, with the target beside each figure.
pub fn report(figures: &[CommentWrites], binary: &Path, seconds: u32) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n## Comment writes\n\n{READERS} signed-in readers post new comments under one post for {seconds} s \
         (`wrk -c{READERS}`), rate limits and moderation off, emails queued but not sent (no mail \
         worker). Stored/s counts the answers that were a 303 to the stored comment. \
         Binary: `{}`.\n",
        binary.display()
    );
    let baseline = figures
        .iter()
        .find(|f| f.database == BASELINE)
        .map_or(0.0, |f| f.stored_per_second);
    let _ = writeln!(
        out,
        "| database | stored/s | target | p50 | p99 | vs baseline | not stored |"
    );
    let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for f in figures {
        let target = if f.database == BASELINE {
            "— (requests/s)".to_owned()
        } else if f.stored_per_second >= TARGET_PER_SECOND {
            format!(">= {TARGET_PER_SECOND:.0}/s: met")
        } else {
            format!(">= {TARGET_PER_SECOND:.0}/s: not met")
        };
        let ratio = if baseline > 0.0 {
            f.stored_per_second / baseline * 100.0
        } else {
            0.0
        };
        let _ = writeln!(
            out,
            "| {} | {:.0} | {target} | {:.2} ms | {:.2} ms | {ratio:.1}% | {:.0} |",
            f.database, f.stored_per_second, f.p50_ms, f.p99_ms, f.failed
        );
    }
    out
}

const BASELINE: &str = "baseline: the post page from memory (GET)";

/// The same post page served from memory by `folio bench-baseline`, with as many
/// connections: the cost of HTTP alone on this machine, now.
fn baseline(binary: &Path, dir: &Path, page: &[u8], seconds: u32) -> anyhow::Result<CommentWrites> {
    let server = super::bench::baseline_server(binary, dir, "post.html", page)?;
    let addr = server.addr;
    println!("wrk: baseline, the post page from memory (http://{addr}/)");
    let output = super::bench::wrk_as(&format!("http://{addr}/"), None, READERS, seconds)?;
    let measured = super::bench::parse_wrk(BASELINE, &output)?;
    Ok(CommentWrites {
        database: BASELINE,
        failed: 0.0,
        stored_per_second: measured.requests_per_second,
        p50_ms: measured.p50_ms,
        p99_ms: measured.p99_ms,
    })
}

fn fresh_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot empty {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir.to_path_buf())
}

/// Drops and creates `name` on the server `admin` points at (with `psql`); its URL.
pub(crate) fn fresh_postgres_database(admin: &str, name: &str) -> anyhow::Result<String> {
    command_output(
        Command::new("psql")
            .arg(admin)
            .args(["-q", "-v", "ON_ERROR_STOP=1"])
            .arg("-c")
            .arg(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .arg("-c")
            .arg(format!("CREATE DATABASE {name}")),
    )
    .context("FOLIO_BENCH_POSTGRES_URL: creating the benchmark's database with psql")?;
    database_url(admin, name)
}

/// The URL of database `name` on the server `admin` points at.
pub(crate) fn database_url(admin: &str, name: &str) -> anyhow::Result<String> {
    let (base, query) = match admin.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (admin, String::new()),
    };
    let Some((server, _)) = base.rsplit_once('/') else {
        bail!("FOLIO_BENCH_POSTGRES_URL should look like postgres://USER@HOST:PORT/DB");
    };
    Ok(format!("{server}/{name}{query}"))
}

fn measure(
    database: &'static str,
    binary: &Path,
    dir: &Path,
    url: &str,
    seconds: u32,
) -> anyhow::Result<(CommentWrites, Vec<u8>)> {
    println!("Comment writes on {database}: sample content ...");
    let printed = command_output(
        Command::new(binary)
            .args([
                "demo",
                "--posts",
                "20",
                "--comments",
                "400",
                "--big-post-comments",
                "100",
                "--json",
            ])
            .env("FOLIO__DATABASE__URL", url)
            .env("FOLIO__LOG__LEVEL", "warn"),
    )?;
    let post_path = super::bench::json_string_field(
        super::bench::demo_summary(&printed)?,
        "post_with_50_comments",
    )
    .context("`folio demo` named no post to comment on")?;
    let sessions = command_output(
        Command::new(binary)
            .args(["bench-sessions", "--users", &READERS.to_string()])
            .env("FOLIO__DATABASE__URL", url)
            .env("FOLIO__LOG__LEVEL", "warn"),
    )?;
    let addr = free_address()?;
    let mut command = Command::new(binary);
    command
        .arg("serve")
        .env("FOLIO__DATABASE__URL", url)
        .env("FOLIO__SERVER__BIND", addr.to_string())
        .env("FOLIO__SITE__BASE_URL", format!("http://{addr}"))
        .env("FOLIO__LOG__LEVEL", "warn")
        .env("FOLIO__COMMENTS__MODERATION", "off")
        .env("FOLIO__COMMENTS__PER_USER_PER_MINUTE", "0")
        .env("FOLIO__COMMENTS__PER_ADDRESS_PER_MINUTE", "0")
        .env("FOLIO__MAIL__WORKER", "false");
    let mut server = Server::start("folio-serve-comment-writes", command, addr, dir)?;
    server.wait_until_ok("/readyz", Duration::from_secs(60))?;
    let fetched = crate::http::get(server.addr, &post_path)?;
    let post_id = super::bench::post_id_in(&fetched.body)?;
    let script = dir.join("comment-writes.lua");
    std::fs::write(&script, posting_lua(&sessions, &post_id, false))
        .with_context(|| format!("cannot write {}", script.display()))?;
    let url = format!("http://{}/", server.addr);
    println!("wrk: {READERS} readers posting comments ({url}comments)");
    let output = super::bench::wrk_with(&url, None, READERS, seconds, Some(&script))?;
    // A refused or failed comment is not stored: counted apart rather than failing the run,
    // so that an older build that fails some can still be compared.
    let failed = wrk_count(&output, "Non-2xx or 3xx responses:");
    let requests = output
        .lines()
        .find_map(|line| line.trim().split_once(" requests in "))
        .and_then(|(n, _)| n.trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    let kept: String = output
        .lines()
        .filter(|line| !line.trim().starts_with("Non-2xx or 3xx responses"))
        .map(|line| format!("{line}\n"))
        .collect();
    let measured = super::bench::parse_wrk("comment writes", &kept)?;
    if failed > 0.0 {
        println!("  {failed} of {requests} comment POSTs did not answer 303");
    }
    let stored_share = if requests > 0.0 {
        (requests - failed) / requests
    } else {
        1.0
    };
    drop(server);
    let figures = CommentWrites {
        database,
        failed,
        stored_per_second: measured.requests_per_second * stored_share,
        p50_ms: measured.p50_ms,
        p99_ms: measured.p99_ms,
    };
    Ok((figures, fetched.body))
}

/// The number on wrk's line that starts with `label`, or 0.
fn wrk_count(output: &str, label: &str) -> f64 {
    output
        .lines()
        .find_map(|line| line.trim().strip_prefix(label))
        .and_then(|rest| rest.trim().parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// Each wrk connection is one reader (its own session), each request a new comment; with
/// `own_addresses`, each request also comes from an address of its own (`X-Forwarded-For`,
/// for a server that trusts loopback as its proxy).
pub(crate) fn posting_lua(sessions: &str, post_id: &str, own_addresses: bool) -> String {
    let mut lua = String::from("local sessions = {\n");
    for line in sessions.lines() {
        if let Some((cookie, csrf)) = line.split_once(' ') {
            let _ = writeln!(lua, "  {{\"{cookie}\", \"{csrf}\"}},");
        }
    }
    let (address, forwarded) = if own_addresses {
        (
            "\n  local address = \"10.\" .. thread_id .. \".\" .. math.floor(counter / 250) % 250 .. \".\" .. counter % 250",
            ", [\"X-Forwarded-For\"] = address",
        )
    } else {
        ("", "")
    };
    let _ = write!(
        lua,
        r#"}}
local counter = 0
local next_thread = 0
setup = function(thread)
  thread:set("thread_id", next_thread)
  next_thread = next_thread + 1
end
request = function()
  counter = counter + 1
  local s = sessions[(counter % #sessions) + 1]
  local body = "comment=Benchmark+comment+" .. thread_id .. "-" .. counter .. "&comment_post_ID={post_id}&_csrf=" .. s[2]{address}
  return wrk.format("POST", "/comments", {{["Content-Type"] = "application/x-www-form-urlencoded", ["Cookie"] = "folio_session=" .. s[1]{forwarded}}}, body)
end
"#
    );
    lua
}
