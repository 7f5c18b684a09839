//! `cargo xtask bench`: load-tests a demo site with wrk and compares each page with a server
//! that returns the same post page from memory (the cost of HTTP alone).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::site::{Server, Site, free_address};
use crate::smtp_sink::SmtpSink;
use crate::{apt_install, build_release, command_output, http, on_path, release_binary, root};

pub(crate) const THREADS: u32 = 2;
pub(crate) const WARM_UP_SECONDS: u32 = 2;

struct Options {
    duration: u32,
    connections: u32,
    /// The WordPress import step: run it too (default), skip it, or run only it.
    import: ImportStep,
    /// Only the Markdown rendering step (it always runs with the others).
    only_markdown: bool,
    /// Only the comment writes (`comment_bench`).
    only_comments: bool,
    /// The `folio` to measure the comment writes with instead of this checkout's build.
    binary: Option<std::path::PathBuf>,
    /// Only the big-thread step; with `huge_thread`, also a post with 100,000 comments.
    only_threads: bool,
    huge_thread: bool,
    /// Only the big archive (`scale_bench`); `skip_scale` leaves it out of a full run.
    only_scale: bool,
    skip_scale: bool,
    /// Only the 50-comment post: baseline, anonymous, page cache off, signed-in reader.
    only_signed_in: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ImportStep {
    Also,
    Skip,
    Only,
}

fn parse_options(args: &[String]) -> anyhow::Result<Options> {
    let mut options = Options {
        duration: 10,
        connections: 32,
        import: ImportStep::Also,
        only_markdown: false,
        only_comments: false,
        binary: None,
        only_threads: false,
        huge_thread: false,
        only_scale: false,
        skip_scale: false,
        only_signed_in: false,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> anyhow::Result<u32> {
            let value = args
                .next()
                .with_context(|| format!("{name} needs a number"))?;
            match value.parse::<u32>() {
                Ok(n) if n > 0 => Ok(n),
                _ => bail!("{name} needs a positive whole number, not `{value}`"),
            }
        };
        match arg.as_str() {
            "--duration" => options.duration = number("--duration")?,
            "--connections" => options.connections = number("--connections")?,
            "--skip-import" => options.import = ImportStep::Skip,
            "--only-import" => options.import = ImportStep::Only,
            "--only-markdown" => options.only_markdown = true,
            "--only-comments" => options.only_comments = true,
            "--binary" => {
                options.binary = Some(args.next().context("--binary needs a path")?.into());
            }
            "--only-threads" => options.only_threads = true,
            "--huge-thread" => options.huge_thread = true,
            "--only-scale" => options.only_scale = true,
            "--skip-scale" => options.skip_scale = true,
            "--only-signed-in" => options.only_signed_in = true,
            other => bail!(
                "unknown option `{other}` for bench; usage: cargo xtask bench [--duration SECS] [--connections N] [--skip-import | --only-import | --only-markdown | --only-comments [--binary PATH] | --only-threads | --only-signed-in | --only-scale] [--huge-thread] [--skip-scale]"
            ),
        }
    }
    Ok(options)
}

pub(crate) struct Measurement {
    page: String,
    pub(crate) requests_per_second: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let options = parse_options(args)?;
    let bench_dir = root().join("target").join("bench");
    if options.only_comments {
        return comment_writes_only(&bench_dir, &options);
    }
    build_release()?;
    if options.only_markdown {
        print!("{}", markdown_report()?);
        return Ok(());
    }
    if options.only_threads {
        print!("{}", big_threads(&bench_dir, &options)?);
        return Ok(());
    }
    if options.only_scale {
        print!("{}", crate::scale_bench::run(&bench_dir, options.duration)?);
        return Ok(());
    }
    if options.import == ImportStep::Only {
        let figures = crate::wordpress_bench::run(&bench_dir)?;
        print!("{}", figures.report());
        return Ok(());
    }
    if on_path("wrk").is_none() {
        apt_install("wrk")?;
    }

    let (site, printed) = Site::create(
        &bench_dir.join("site"),
        &[
            "--posts",
            "1000",
            "--comments",
            "20000",
            "--big-post-comments",
            "500",
            "--json",
        ],
    )?;
    let summary = demo_summary(&printed)?;
    let post_path = json_string_field(summary, "post_with_50_comments")
        .context("the demo summary names no post with 50 comments")?;
    let search_term = json_string_field(summary, "search_term")
        .context("the demo summary names no search term")?;
    let big_post_path = json_string_field(summary, "post_with_big_thread")
        .context("the demo summary names no post with 500 comments")?;

    let folio = site.serve()?;
    let post_page = http::get(folio.addr, &post_path)?;
    if post_page.status != 200 {
        bail!(
            "GET {post_path} answered {}, expected 200",
            post_page.status
        );
    }
    let baseline = baseline_server(&release_binary(), &site.dir, "post.html", &post_page.body)?;

    // The same site with the page cache off: what a signed-in reader or a cache miss costs.
    let uncached = site.serve_with(
        "folio-serve-uncached",
        &[("FOLIO__CACHE__ENABLED", "false")],
    )?;

    // What a browser sends; the other rows ask for the plain bytes, like the baseline.
    const BROWSER_ENCODINGS: &str = "gzip, deflate, br, zstd";
    let targets: [(&str, SocketAddr, String, Option<&str>); 10] = [
        (
            "baseline: the post page from memory",
            baseline.addr,
            "/".to_owned(),
            None,
        ),
        ("front page", folio.addr, "/".to_owned(), None),
        ("post with 50 comments", folio.addr, post_path.clone(), None),
        (
            "post with 50 comments, compressed (as browsers ask)",
            folio.addr,
            post_path.clone(),
            Some(BROWSER_ENCODINGS),
        ),
        ("RSS feed", folio.addr, "/feed/".to_owned(), None),
        (
            "search",
            folio.addr,
            format!("/search?q={}", query_encode(&search_term)),
            None,
        ),
        (
            "front page, page cache off",
            uncached.addr,
            "/".to_owned(),
            None,
        ),
        (
            "post with 50 comments, page cache off",
            uncached.addr,
            post_path.clone(),
            None,
        ),
        (
            "post with 500 comments",
            folio.addr,
            big_post_path.clone(),
            None,
        ),
        (
            "post with 500 comments, page cache off",
            uncached.addr,
            big_post_path.clone(),
            None,
        ),
    ];
    let mut results = Vec::with_capacity(targets.len());
    let only_signed_in = [
        "baseline: the post page from memory",
        "post with 50 comments",
        "post with 50 comments, page cache off",
    ];
    for (page, addr, path, encodings) in &targets {
        if options.only_signed_in && !only_signed_in.contains(page) {
            continue;
        }
        let url = format!("http://{addr}{path}");
        println!("wrk: {page} ({url})");
        wrk(
            &url,
            *encodings,
            options.connections,
            WARM_UP_SECONDS,
            false,
        )?;
        let output = wrk(
            &url,
            *encodings,
            options.connections,
            options.duration,
            true,
        )?;
        results.push(
            parse_wrk(page, &output).with_context(|| format!("reading wrk's report for {url}"))?,
        );
    }
    results.push(signed_in_reader(&site, &options, folio.addr, &post_path)?);
    let peak_rss_mb = folio.peak_rss_kib()? as f64 / 1024.0;
    let uncached_rss_mb = uncached.peak_rss_kib()? as f64 / 1024.0;
    drop(baseline);
    drop(folio);
    drop(uncached);
    if options.only_signed_in {
        let report = report(
            &options,
            &results,
            (peak_rss_mb, uncached_rss_mb),
            post_page.body.len(),
        );
        println!();
        print!("{report}");
        return Ok(());
    }
    let sink = SmtpSink::start()?;
    let smtp_url = format!("smtp://127.0.0.1:{}", sink.port);
    results.push(comment_posts(
        &site,
        &options,
        &post_path,
        "comment POSTs by signed-in readers, emails sent (303 each)",
        &[("FOLIO__MAIL__SMTP_URL", smtp_url.as_str())],
    )?);
    results.push(comment_posts(
        &site,
        &options,
        &post_path,
        "comment POSTs, mail worker off (emails only queued)",
        &[("FOLIO__MAIL__WORKER", "false")],
    )?);
    let emails_during_comments = sink.accepted().len();
    let writes = crate::comment_bench::run(&bench_dir, &release_binary(), options.duration)?;
    let mail = mail_delivery(&bench_dir.join("mail"), MAIL_SUBSCRIBERS)?;

    let mut report = report(
        &options,
        &results,
        (peak_rss_mb, uncached_rss_mb),
        post_page.body.len(),
    );
    let _ = writeln!(
        report,
        "\nDuring the first comment run the moderator's emails reached the SMTP sink: {emails_during_comments}.\n\n\
         Mail: publishing a post to {MAIL_SUBSCRIBERS} confirmed subscribers took {:.0} ms (the `folio post new` \
         command); the last of their emails was accepted by a loopback SMTP sink {:.1} s after publishing, \
         {:.0} emails/s from first to last.",
        mail.publish_ms, mail.last_accepted_s, mail.emails_per_second
    );
    report.push_str(&crate::comment_bench::report(
        &writes,
        &release_binary(),
        options.duration,
    ));
    report.push_str(&markdown_report()?);
    report.push_str(&big_threads(&bench_dir, &options)?);
    if !options.skip_scale {
        report.push_str(&crate::scale_bench::run(&bench_dir, options.duration)?);
    }
    if options.import == ImportStep::Also {
        let figures = crate::wordpress_bench::run(&bench_dir)?;
        report.push_str(&figures.report());
    }
    let report_path = bench_dir.join("report.md");
    std::fs::write(&report_path, &report)
        .with_context(|| format!("cannot write {}", report_path.display()))?;
    println!();
    print!("{report}");
    println!();
    println!("Written to {}", report_path.display());
    Ok(())
}

/// `--only-comments`: the comment writes alone, with this checkout's build or `--binary`.
fn comment_writes_only(bench_dir: &std::path::Path, options: &Options) -> anyhow::Result<()> {
    let binary = match &options.binary {
        Some(binary) => binary.clone(),
        None => {
            build_release()?;
            release_binary()
        }
    };
    if on_path("wrk").is_none() {
        apt_install("wrk")?;
    }
    let figures = crate::comment_bench::run(bench_dir, &binary, options.duration)?;
    print!(
        "{}",
        crate::comment_bench::report(&figures, &binary, options.duration)
    );
    Ok(())
}

/// The release binary renders the costliest Markdown within the limits and reports it
/// against a plain paragraph of the same length and the 50 ms target.
fn markdown_report() -> anyhow::Result<String> {
    println!("Rendering the costliest Markdown ...");
    command_output(Command::new(release_binary()).arg("bench-markdown"))
}

/// Signed-in readers posting comments under one post, each request a new comment from one of
/// 200 readers in turn, each from its own address (`X-Forwarded-For` through a trusted proxy).
/// The per-reader limit is raised (its query still runs) so that the figure is what the site
/// can take, not what the limit allows.
fn comment_posts(
    site: &Site,
    options: &Options,
    post_path: &str,
    label: &str,
    mail: &[(&str, &str)],
) -> anyhow::Result<Measurement> {
    const READERS: &str = "200";
    let sessions = command_output(
        Command::new(release_binary())
            .args(["bench-sessions", "--users", READERS, "--moderator"])
            .env("FOLIO__DATABASE__URL", &site.database_url)
            .env("FOLIO__LOG__LEVEL", "warn"),
    )?;
    let mut settings = vec![
        // 200 readers post thousands of comments in seconds: far past the default of 5
        // a minute each. Each request comes from its own address through a trusted
        // proxy, so the per-address limit keeps its default and its query its real cost.
        ("FOLIO__COMMENTS__PER_USER_PER_MINUTE", "1000"),
        ("FOLIO__SERVER__TRUSTED_PROXIES", "[\"127.0.0.1\"]"),
    ];
    settings.extend_from_slice(mail);
    let server = site.serve_with("folio-serve-comments", &settings)?;
    let post_id = post_id_in(&http::get(server.addr, post_path)?.body)?;
    let lua = crate::comment_bench::posting_lua(&sessions, &post_id, true);
    let script = site.dir.join("comment.lua");
    std::fs::write(&script, lua).with_context(|| format!("cannot write {}", script.display()))?;
    let url = format!("http://{}/", server.addr);
    println!("wrk: comment POSTs by signed-in readers ({url}comments)");
    let output = wrk_with(
        &url,
        None,
        options.connections,
        options.duration,
        Some(&script),
    )?;
    parse_wrk(label, &output)
}

/// Readers at once on a big thread: a few busy readers, not a crowd (a crowd is the cache's
/// job, measured above).
const THREAD_READERS: u32 = 4;
/// The default comment page size: the conversations one page shows.
const THREAD_PAGE: usize = 50;

/// What one page of a long conversation costs: a post with 10,000 comments in 2,000
/// conversations (with `--huge-thread` also 100,000 in 20,000), read by a signed-in reader
/// (never cached) on its first and last comment page, and by anonymous readers with the
/// page cache off; beside each figure its target, and the same page served from memory by
/// the baseline server in the same run (the machine is shared: the ratio is the steadier
/// figure).
fn big_threads(bench_dir: &std::path::Path, options: &Options) -> anyhow::Result<String> {
    let mut sizes = vec![(10_000usize, 2_000usize, 1.0f64)];
    if options.huge_thread {
        // Ten times the thread may cost twice the time and memory.
        sizes.push((100_000, 20_000, 2.0));
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n## Big threads\n\n`wrk -t{THREADS} -c{THREAD_READERS} -d{}s --latency`, one post whose \
         comments are conversations of five; {THREAD_PAGE} conversations a page. Targets: p99 under \
         20 ms signed in and for an anonymous cache miss, peak RSS under 60 MB; ten times the \
         comments within twice that.\n",
        options.duration
    );
    let _ = writeln!(
        out,
        "| thread | reader | req/s | p50 | p99 | p99 target | p50 vs baseline |"
    );
    let _ = writeln!(out, "| --- | --- | ---: | ---: | ---: | ---: | ---: |");
    let mut memory = Vec::new();
    for (comments, conversations, scale) in sizes {
        let (site, printed) = Site::create(
            &bench_dir.join(format!("thread-{comments}")),
            &[
                "--posts",
                "30",
                "--comments",
                &(comments + 50).to_string(),
                "--big-post-comments",
                &comments.to_string(),
                "--big-post-threads",
                &conversations.to_string(),
                "--json",
            ],
        )?;
        let summary = demo_summary(&printed)?;
        let path = json_string_field(summary, "post_with_big_thread")
            .context("the demo summary names no post with a big thread")?;
        let last_page = format!(
            "{path}comment-page-{}/",
            conversations.div_ceil(THREAD_PAGE)
        );
        let cookie = session_cookie(&site.database_url)?;

        let folio = site.serve()?;
        let uncached = site.serve_with(
            "folio-serve-uncached",
            &[("FOLIO__CACHE__ENABLED", "false")],
        )?;
        let page = http::get(folio.addr, &path)?;
        if page.status != 200 {
            bail!("GET {path} answered {}, expected 200", page.status);
        }
        let baseline = baseline_server(&release_binary(), &site.dir, "thread.html", &page.body)?;

        let target = 20.0 * scale;
        let rows: [(&str, SocketAddr, &str, Option<&str>, f64); 4] = [
            (
                "baseline: the page from memory",
                baseline.addr,
                "/",
                None,
                0.0,
            ),
            (
                "signed in, first page",
                folio.addr,
                &path,
                Some(&cookie),
                target,
            ),
            (
                "signed in, last page",
                folio.addr,
                &last_page,
                Some(&cookie),
                target,
            ),
            (
                "anonymous, page cache off",
                uncached.addr,
                &path,
                None,
                target,
            ),
        ];
        let mut baseline_p50 = 0.0;
        for (label, addr, row_path, header, target) in rows {
            let url = format!("http://{addr}{row_path}");
            println!("wrk: {comments} comments, {label} ({url})");
            wrk_as(&url, header, THREAD_READERS, WARM_UP_SECONDS)?;
            let output = wrk_as(&url, header, THREAD_READERS, options.duration)?;
            let m = parse_wrk(label, &output)
                .with_context(|| format!("reading wrk's report for {url}"))?;
            if target == 0.0 {
                baseline_p50 = m.p50_ms;
            }
            let target = if target > 0.0 {
                format!("< {target:.0} ms")
            } else {
                String::new()
            };
            let ratio = if baseline_p50 > 0.0 {
                format!("{:.1}×", m.p50_ms / baseline_p50)
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "| {comments} comments in {conversations} | {label} | {:.0} | {:.2} ms | {:.2} ms | {target} | {ratio} |",
                m.requests_per_second, m.p50_ms, m.p99_ms
            );
        }
        memory.push((
            comments,
            folio.peak_rss_kib()? as f64 / 1024.0,
            uncached.peak_rss_kib()? as f64 / 1024.0,
            60.0 * scale,
        ));
    }
    for (comments, served, uncached, target) in memory {
        let _ = writeln!(
            out,
            "\nPeak RSS with {comments} comments (VmHWM): {served:.1} MB; page cache off: {uncached:.1} MB (target < {target:.0} MB)."
        );
    }
    Ok(out)
}

/// wrk with one extra request header (a session cookie), latency percentiles on.
pub(crate) fn wrk_as(
    url: &str,
    header: Option<&str>,
    connections: u32,
    seconds: u32,
) -> anyhow::Result<String> {
    wrk_with(url, header, connections, seconds, None)
}

/// `wrk_as`, with a Lua script choosing each request (`-s`) when one is given.
pub(crate) fn wrk_with(
    url: &str,
    header: Option<&str>,
    connections: u32,
    seconds: u32,
    script: Option<&std::path::Path>,
) -> anyhow::Result<String> {
    let mut command = Command::new("wrk");
    command
        .arg(format!("-t{THREADS}"))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{seconds}s"))
        .arg("--latency");
    if let Some(header) = header {
        command.arg("-H").arg(header);
    }
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    command.arg(url);
    command_output(&mut command)
}

/// A `Cookie:` header for a signed-in reader of the site's database (`folio bench-sessions`).
pub(crate) fn session_cookie(database_url: &str) -> anyhow::Result<String> {
    let sessions = command_output(
        Command::new(release_binary())
            .args(["bench-sessions", "--users", "1"])
            .env("FOLIO__DATABASE__URL", database_url)
            .env("FOLIO__LOG__LEVEL", "warn"),
    )?;
    sessions
        .lines()
        .find_map(|line| line.split_once(' '))
        .map(|(cookie, _)| format!("Cookie: folio_session={cookie}"))
        .context("`folio bench-sessions` printed no session")
}

/// `folio bench-baseline`: `page` served from memory at `/`, what HTTP alone costs, written
/// to `dir/file_name` first.
pub(crate) fn baseline_server(
    binary: &std::path::Path,
    dir: &std::path::Path,
    file_name: &str,
    page: &[u8],
) -> anyhow::Result<Server> {
    let page_file = dir.join(file_name);
    std::fs::write(&page_file, page)
        .with_context(|| format!("cannot write {}", page_file.display()))?;
    let addr = free_address()?;
    let mut command = Command::new(binary);
    command
        .arg("bench-baseline")
        .arg("--bind")
        .arg(addr.to_string())
        .arg("--file")
        .arg(&page_file);
    let mut baseline = Server::start("bench-baseline", command, addr, dir)?;
    baseline.wait_until_ok("/", Duration::from_secs(30))?;
    Ok(baseline)
}

const SIGNED_IN_LABEL: &str = "seed post, 50 comments, signed-in reader";
/// Issue 14's aim for a signed-in reader's post page, against the baseline.
const SIGNED_IN_TARGET_PERCENT: f64 = 30.0;

/// One signed-in reader reading the 50-comment post over and over: their page carries their
/// name and form token, so the anonymous page cache cannot serve it.
fn signed_in_reader(
    site: &Site,
    options: &Options,
    addr: SocketAddr,
    post_path: &str,
) -> anyhow::Result<Measurement> {
    let cookie = session_cookie(&site.database_url)?;
    let page = http::get_with(addr, post_path, Some(&cookie))?.text();
    if !page.contains("class=\"account-bar\"") {
        bail!("GET {post_path} with the bench session shows no signed-in reader");
    }
    let url = format!("http://{addr}{post_path}");
    println!("wrk: {SIGNED_IN_LABEL} ({url})");
    wrk_as(&url, Some(&cookie), options.connections, WARM_UP_SECONDS)?;
    let output = wrk_as(&url, Some(&cookie), options.connections, options.duration)?;
    parse_wrk(SIGNED_IN_LABEL, &output)
}

const MAIL_SUBSCRIBERS: u32 = 10_000;

struct MailFigures {
    publish_ms: f64,
    last_accepted_s: f64,
    emails_per_second: f64,
}

/// A new post on a site with `subscribers` confirmed followers, with `folio serve` sending
/// through a loopback SMTP sink: how long publishing takes, and when the last email is in.
fn mail_delivery(dir: &std::path::Path, subscribers: u32) -> anyhow::Result<MailFigures> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot empty {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let site = Site {
        dir: dir.to_path_buf(),
        database_url: crate::sqlite_url(&dir.join("folio.db")),
    };
    println!("Adding {subscribers} blog subscribers ...");
    command_output(
        Command::new(release_binary())
            .args(["bench-subscribers", "--count", &subscribers.to_string()])
            .env("FOLIO__DATABASE__URL", &site.database_url)
            .env("FOLIO__LOG__LEVEL", "warn"),
    )?;
    let sink = SmtpSink::start()?;
    let smtp_url = format!("smtp://127.0.0.1:{}", sink.port);
    let _server = site.serve_with(
        "folio-serve-mail",
        &[
            ("FOLIO__MAIL__SMTP_URL", smtp_url.as_str()),
            ("FOLIO__MAIL__POLL_MILLISECONDS", "100"),
        ],
    )?;
    let post = dir.join("news.md");
    let date = command_output(Command::new("date").args([
        "-u",
        "-d",
        "1 minute ago",
        "+%Y-%m-%dT%H:%M:%SZ",
    ]))?;
    let date = date.trim();
    std::fs::write(
        &post,
        format!(
            "+++\ntitle = \"News for every subscriber\"\ndate = \"{date}\"\nstatus = \"published\"\n+++\nSomething happened.\n"
        ),
    )
    .with_context(|| format!("cannot write {}", post.display()))?;
    println!("Publishing to {subscribers} subscribers ...");
    let started = Instant::now();
    command_output(
        Command::new(release_binary())
            .args(["post", "new", "--file"])
            .arg(&post)
            .env("FOLIO__DATABASE__URL", &site.database_url)
            .env("FOLIO__LOG__LEVEL", "warn"),
    )?;
    let publish_ms = started.elapsed().as_secs_f64() * 1000.0;
    let deadline = started + Duration::from_secs(300);
    loop {
        let accepted = sink.accepted();
        if accepted.len() >= subscribers as usize {
            let first = accepted.first().copied().unwrap_or(started);
            let last = accepted.last().copied().unwrap_or(started);
            let span = (last - first).as_secs_f64().max(0.001);
            return Ok(MailFigures {
                publish_ms,
                last_accepted_s: (last - started).as_secs_f64(),
                emails_per_second: accepted.len() as f64 / span,
            });
        }
        if Instant::now() > deadline {
            bail!(
                "only {} of {subscribers} emails arrived within 5 minutes",
                accepted.len()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wrk(
    url: &str,
    accept_encoding: Option<&str>,
    connections: u32,
    seconds: u32,
    latency: bool,
) -> anyhow::Result<String> {
    let mut command = Command::new("wrk");
    command
        .arg(format!("-t{THREADS}"))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{seconds}s"));
    if let Some(encodings) = accept_encoding {
        command
            .arg("-H")
            .arg(format!("Accept-Encoding: {encodings}"));
    }
    if latency {
        command.arg("--latency");
    }
    command.arg(url);
    command_output(&mut command)
}

pub(crate) fn parse_wrk(page: &str, output: &str) -> anyhow::Result<Measurement> {
    for line in output.lines().map(str::trim) {
        if line.starts_with("Non-2xx or 3xx responses") || line.starts_with("Socket errors") {
            bail!("{line}");
        }
    }
    let requests_per_second = output
        .lines()
        .find_map(|line| line.trim().strip_prefix("Requests/sec:"))
        .and_then(|value| value.trim().parse::<f64>().ok())
        .context("no Requests/sec line")?;
    let percentile = |label: &str| -> anyhow::Result<f64> {
        output
            .lines()
            .find_map(|line| line.trim().strip_prefix(label))
            .and_then(|value| duration_ms(value.trim()))
            .with_context(|| format!("no {label} latency line"))
    };
    Ok(Measurement {
        page: page.to_owned(),
        requests_per_second,
        p50_ms: percentile("50%")?,
        p99_ms: percentile("99%")?,
    })
}

/// wrk prints durations as `812.00us`, `4.51ms`, `1.02s` or `1.50m`.
fn duration_ms(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    let scale = match unit {
        "us" => 0.001,
        "ms" => 1.0,
        "s" => 1000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        _ => return None,
    };
    Some(value * scale)
}

fn report(
    options: &Options,
    results: &[Measurement],
    (peak_rss_mb, uncached_rss_mb): (f64, f64),
    post_bytes: usize,
) -> String {
    let baseline = results.first().map_or(0.0, |m| m.requests_per_second);
    let cpus = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let mut out = String::new();
    let _ = writeln!(out, "# Folio benchmark\n");
    let _ = writeln!(
        out,
        "`wrk -t{THREADS} -c{} -d{}s --latency` after a {WARM_UP_SECONDS} s warm-up, on {cpus} CPUs. \
         Demo site on SQLite: 1000 posts, 20000 comments. The baseline serves the {post_bytes}-byte \
         post page from memory, so its row is the cost of HTTP alone.\n",
        options.connections, options.duration,
    );
    let _ = writeln!(out, "| page | req/s | p50 | p99 | vs baseline |");
    let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: |");
    for m in results {
        let ratio = if baseline > 0.0 {
            m.requests_per_second / baseline * 100.0
        } else {
            0.0
        };
        let target = if m.page == SIGNED_IN_LABEL {
            format!(" (target ≥ {SIGNED_IN_TARGET_PERCENT:.0}%)")
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "| {} | {:.0} | {:.2} ms | {:.2} ms | {:.0}%{target} |",
            m.page, m.requests_per_second, m.p50_ms, m.p99_ms, ratio
        );
    }
    let rate = |name: &str| {
        results
            .iter()
            .find(|m| m.page == name)
            .map(|m| m.requests_per_second)
    };
    for (label, fifty, five_hundred) in [
        ("cached", "post with 50 comments", "post with 500 comments"),
        (
            "page cache off",
            "post with 50 comments, page cache off",
            "post with 500 comments, page cache off",
        ),
    ] {
        if let (Some(small), Some(big)) = (rate(fifty), rate(five_hundred))
            && big > 0.0
        {
            let _ = writeln!(
                out,
                "\nThe 500-comment page takes {:.1}× the 50-comment page's time ({label}).",
                small / big
            );
        }
    }
    if let (Some(signed_in), true) = (rate(SIGNED_IN_LABEL), baseline > 0.0) {
        let _ = writeln!(
            out,
            "\nA signed-in reader's 50-comment post page: {:.0}% of the baseline (target ≥ {SIGNED_IN_TARGET_PERCENT:.0}%: {}); \
             before shared pages it cost about what the page-cache-off row does.",
            signed_in / baseline * 100.0,
            if signed_in / baseline * 100.0 >= SIGNED_IN_TARGET_PERCENT {
                "met"
            } else {
                "not met"
            }
        );
    }
    let _ = writeln!(
        out,
        "\nPeak RSS of `folio serve` (VmHWM): {peak_rss_mb:.1} MB; with the page cache off: {uncached_rss_mb:.1} MB"
    );
    out
}

/// The value of a top-level string field in a flat JSON object; `None` for null or absent.
/// The id of the post a page shows (its `<article id="post-N">`).
pub(crate) fn post_id_in(page: &[u8]) -> anyhow::Result<String> {
    String::from_utf8_lossy(page)
        .split("<article id=\"post-")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(str::to_owned)
        .context("the post page shows no post id")
}

/// The JSON line `folio demo --json` ends with.
pub(crate) fn demo_summary(printed: &str) -> anyhow::Result<&str> {
    printed
        .lines()
        .rev()
        .find(|line| line.trim_start().starts_with('{'))
        .context("`folio demo` printed no JSON summary")
}

pub(crate) fn json_string_field(json: &str, key: &str) -> Option<String> {
    let start = json.find(&format!("\"{key}\""))? + key.len() + 2;
    let rest = json[start..].trim_start().strip_prefix(':')?.trim_start();
    let mut chars = rest.strip_prefix('"')?.chars();
    let mut value = String::new();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(value),
            '\\' => match chars.next()? {
                'n' => value.push('\n'),
                't' => value.push('\t'),
                'r' => value.push('\r'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    value.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                other => value.push(other),
            },
            c => value.push(c),
        }
    }
    None
}

fn query_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            b' ' => "+".to_owned(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRK: &str = "Running 10s test @ http://127.0.0.1:8080/
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.12ms    2.01ms  30.00ms   80.00%
    Req/Sec     3.12k   200.00     3.50k    70.00%
  Latency Distribution
     50%  812.00us
     75%    6.00ms
     90%    7.50ms
     99%    1.20s
  62345 requests in 10.00s, 1.23GB read
Requests/sec:   6234.50
Transfer/sec:    123.45MB
";

    #[test]
    fn reads_throughput_and_percentiles_from_wrk() -> anyhow::Result<()> {
        let m = parse_wrk("front page", WRK)?;
        assert_eq!(m.requests_per_second, 6234.5);
        assert!((m.p50_ms - 0.812).abs() < 1e-9);
        assert!((m.p99_ms - 1200.0).abs() < 1e-9);
        Ok(())
    }

    #[test]
    fn error_responses_fail_the_run() {
        let output = WRK.replace(
            "Requests/sec",
            "  Non-2xx or 3xx responses: 12\nRequests/sec",
        );
        assert!(parse_wrk("front page", &output).is_err());
    }

    #[test]
    fn reads_the_demo_summary() {
        let json = r#"{"posts":1000,"post_with_50_comments":"/2024/05/06/a-\"b\"/","post_with_big_thread":null,"search_term":"latency"}"#;
        assert_eq!(
            json_string_field(json, "post_with_50_comments").as_deref(),
            Some("/2024/05/06/a-\"b\"/")
        );
        assert_eq!(json_string_field(json, "post_with_big_thread"), None);
        assert_eq!(
            json_string_field(json, "search_term").as_deref(),
            Some("latency")
        );
    }
}
