//! `cargo xtask bench --only-scale`: a signed-in reader on a site the size of a big blog's
//! archive, 100,000 posts and 1,000,000 comments, on SQLite and, when
//! `FOLIO_BENCH_POSTGRES_URL` names a PostgreSQL server, on PostgreSQL. The site takes
//! minutes to make, so it is kept under `target/bench/` and used again while it still has
//! what the bench asks for.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

use crate::bench::{
    THREADS, WARM_UP_SECONDS, baseline_server, demo_summary, json_string_field, parse_wrk,
    session_cookie, wrk_as, wrk_with,
};
use crate::site::Site;
use crate::{command_output, http, release_binary, sqlite_url};

const POSTS: usize = 100_000;
const COMMENTS: usize = 1_000_000;
/// A few busy readers, as for the big threads: what one reader waits, not a crowd's
/// throughput.
const READERS: u32 = 4;
const TARGET_P99_MS: f64 = 10.0;
/// Posts the "any post" row reads, spread evenly over the archive.
const SAMPLED_POSTS: usize = 2_000;
const POSTGRES_DATABASE: &str = "folio_bench_scale";

/// What `folio demo` is asked for; written beside the SQLite site to know it can be used again.
fn demo_args() -> Vec<String> {
    [
        "--posts",
        &POSTS.to_string(),
        "--comments",
        &COMMENTS.to_string(),
        "--big-post-comments",
        "50",
        "--json",
    ]
    .map(str::to_owned)
    .to_vec()
}

pub fn run(bench_dir: &Path, seconds: u32) -> anyhow::Result<String> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n## A big archive\n\n{POSTS} posts and {COMMENTS} comments (`folio demo`), \
         `wrk -t{THREADS} -c{READERS} -d{seconds}s --latency` as one signed-in reader: the post \
         with 50 comments over and over, then any of {SAMPLED_POSTS} posts spread over the \
         archive (`-s`, a random one each request). Target: p99 under {TARGET_P99_MS:.0} ms. \
         The baseline is the 50-comment page from memory, in the same run.\n"
    );
    let _ = writeln!(
        out,
        "| database | reader | req/s | p50 | p99 | p99 target | p50 vs baseline |"
    );
    let _ = writeln!(out, "| --- | --- | ---: | ---: | ---: | ---: | ---: |");
    let dir = bench_dir.join("scale-sqlite");
    let (site, summary) = sqlite_site(&dir)?;
    measure("SQLite", &site, &summary, seconds, &mut out)?;
    if let Some(admin) = std::env::var("FOLIO_BENCH_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        let dir = bench_dir.join("scale-postgres");
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let (site, summary) = postgres_site(&admin, &dir)?;
        measure("PostgreSQL", &site, &summary, seconds, &mut out)?;
    }
    Ok(out)
}

/// The SQLite site, made again only when the one kept was made with other arguments.
fn sqlite_site(dir: &Path) -> anyhow::Result<(Site, String)> {
    let marker = dir.join("demo-args.txt");
    let summary_file = dir.join("demo-summary.json");
    let wanted = demo_args().join(" ");
    if std::fs::read_to_string(&marker).is_ok_and(|made| made == wanted)
        && let Ok(summary) = std::fs::read_to_string(&summary_file)
    {
        println!("Using the big archive kept in {}", dir.display());
        let site = Site {
            dir: dir.to_path_buf(),
            database_url: sqlite_url(&dir.join("folio.db")),
        };
        return Ok((site, summary));
    }
    let args = demo_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (site, printed) = Site::create(dir, &args)?;
    let summary = demo_summary(&printed)?.to_owned();
    std::fs::write(&summary_file, &summary)?;
    std::fs::write(&marker, wanted)?;
    Ok((site, summary))
}

/// The PostgreSQL site: the database kept from an earlier run when it holds the archive,
/// made anew otherwise.
fn postgres_site(admin: &str, dir: &Path) -> anyhow::Result<(Site, String)> {
    let url = crate::comment_bench::database_url(admin, POSTGRES_DATABASE)?;
    let summary_file = dir.join("demo-summary.json");
    let counted = command_output(Command::new("psql").arg(&url).args([
        "-tA",
        "-c",
        "SELECT COUNT(*) FROM comments",
    ]));
    if counted.is_ok_and(|n| n.trim() == COMMENTS.to_string())
        && let Ok(summary) = std::fs::read_to_string(&summary_file)
    {
        println!("Using the big archive kept in PostgreSQL ({POSTGRES_DATABASE})");
        return Ok((
            Site {
                dir: dir.to_path_buf(),
                database_url: url,
            },
            summary,
        ));
    }
    let url = crate::comment_bench::fresh_postgres_database(admin, POSTGRES_DATABASE)?;
    println!("Creating the big archive in PostgreSQL ({POSTGRES_DATABASE}) ...");
    let started = Instant::now();
    let printed = command_output(
        Command::new(release_binary())
            .arg("demo")
            .args(demo_args())
            .env("FOLIO__DATABASE__URL", &url)
            .env("FOLIO__LOG__LEVEL", "warn"),
    )?;
    println!("  done in {:.1} s", started.elapsed().as_secs_f64());
    let summary = demo_summary(&printed)?.to_owned();
    std::fs::write(&summary_file, &summary)?;
    Ok((
        Site {
            dir: dir.to_path_buf(),
            database_url: url,
        },
        summary,
    ))
}

fn measure(
    database: &str,
    site: &Site,
    summary: &str,
    seconds: u32,
    out: &mut String,
) -> anyhow::Result<()> {
    let fifty = json_string_field(summary, "post_with_50_comments")
        .context("the demo summary names no post with 50 comments")?;
    let cookie = session_cookie(&site.database_url)?;
    let folio = site.serve()?;
    let page = http::get_with(folio.addr, &fifty, Some(&cookie))?;
    if page.status != 200 || !page.text().contains("class=\"account-bar\"") {
        bail!(
            "GET {fifty} as the bench's reader answered {} without the account bar",
            page.status
        );
    }
    let posts = sampled_posts(folio.addr)?;
    let script = site.dir.join("any-post.lua");
    std::fs::write(&script, lua_choosing(&posts))
        .with_context(|| format!("cannot write {}", script.display()))?;
    let anonymous = http::get(folio.addr, &fifty)?;
    let baseline = baseline_server(&release_binary(), &site.dir, "fifty.html", &anonymous.body)?;

    let mut baseline_p50 = 0.0;
    let fifty_url = format!("http://{}{fifty}", folio.addr);
    let rows: [(&str, String, Option<&str>, Option<&Path>); 3] = [
        (
            "baseline: the page from memory",
            format!("http://{}/", baseline.addr),
            None,
            None,
        ),
        (
            "signed in, the 50-comment post",
            fifty_url.clone(),
            Some(&cookie),
            None,
        ),
        (
            "signed in, any post",
            fifty_url,
            Some(&cookie),
            Some(&script),
        ),
    ];
    for (label, url, header, script) in rows {
        println!("wrk: {database}, {label} ({url})");
        wrk_as(&url, header, READERS, WARM_UP_SECONDS)?;
        let output = wrk_with(&url, header, READERS, seconds, script)?;
        let m =
            parse_wrk(label, &output).with_context(|| format!("reading wrk's report for {url}"))?;
        let non_2xx = output
            .lines()
            .find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:"))
            .map(str::trim);
        if let Some(n) = non_2xx {
            bail!("{label}: {n} answers were not 2xx or 3xx");
        }
        let (target, ratio) = if header.is_none() {
            baseline_p50 = m.p50_ms;
            (String::new(), String::new())
        } else {
            (
                format!("< {TARGET_P99_MS:.0} ms"),
                if baseline_p50 > 0.0 {
                    format!("{:.1}×", m.p50_ms / baseline_p50)
                } else {
                    String::new()
                },
            )
        };
        let _ = writeln!(
            out,
            "| {database} | {label} | {:.0} | {:.2} ms | {:.2} ms | {target} | {ratio} |",
            m.requests_per_second, m.p50_ms, m.p99_ms
        );
    }
    Ok(())
}

/// Every `SAMPLED_POSTS`-th share of the sitemap's addresses, as paths.
fn sampled_posts(addr: std::net::SocketAddr) -> anyhow::Result<Vec<String>> {
    let sitemap = http::get(addr, "/sitemap.xml")?;
    if sitemap.status != 200 {
        bail!("GET /sitemap.xml answered {}", sitemap.status);
    }
    let base = format!("http://{addr}");
    let locations = |text: &str| -> Vec<String> {
        text.split("<loc>")
            .skip(1)
            .filter_map(|rest| rest.split_once("</loc>").map(|(loc, _)| loc))
            .filter_map(|loc| loc.strip_prefix(&base))
            .filter(|path| path.len() > 1)
            .map(|path| path.replace("&amp;", "&"))
            .collect()
    };
    let text = sitemap.text();
    let mut paths = Vec::new();
    if text.contains("<sitemapindex") {
        // A big site's sitemap is an index of files of addresses.
        for file in locations(&text) {
            let part = http::get(addr, &file)?;
            if part.status != 200 {
                bail!("GET {file} answered {}", part.status);
            }
            paths.extend(locations(&part.text()));
        }
    } else {
        paths = locations(&text);
    }
    if paths.len() < SAMPLED_POSTS {
        bail!(
            "the sitemap lists {} addresses; the archive should have {POSTS}",
            paths.len()
        );
    }
    let step = paths.len() / SAMPLED_POSTS;
    Ok(paths
        .into_iter()
        .step_by(step)
        .take(SAMPLED_POSTS)
        .collect())
}

/// A wrk script that asks for one of `paths` at random each request.
fn lua_choosing(paths: &[String]) -> String {
    let mut lua = String::from("local paths = {\n");
    for path in paths {
        // Sitemap paths are percent-encoded: no quote or backslash can end the string.
        let _ = writeln!(lua, "  \"{path}\",");
    }
    lua.push_str(
        "}\nmath.randomseed(os.time())\nrequest = function()\n  \
         return wrk.format(nil, paths[math.random(#paths)])\nend\n",
    );
    lua
}
