//! `folio bench-markdown` (hidden; run by `cargo xtask bench`): renders the costliest texts
//! of `folio_domain::markdown::stress` at the size limit, as posts and as comments, and
//! reports each against a plain paragraph of the same length and the 50 ms target.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use folio_domain::markdown::{self, MAX_SOURCE_BYTES, RenderRefusal, stress};

/// What the worst text within the limits may cost.
pub const TARGET_MS: f64 = 50.0;

/// Runs per text; the fastest counts, as the others measure the machine's other work.
const RUNS: usize = 5;

struct Row {
    name: &'static str,
    post_ms: f64,
    post: Result<(), RenderRefusal>,
    comment_ms: f64,
    comment: Result<(), RenderRefusal>,
}

fn fastest<T>(mut render: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::MAX;
    let mut last = None;
    for _ in 0..RUNS {
        let started = Instant::now();
        let outcome = render();
        best = best.min(started.elapsed().as_secs_f64() * 1000.0);
        last = Some(outcome);
    }
    match last {
        Some(outcome) => (best, outcome),
        None => (best, render()),
    }
}

/// Renders every case; returns the report (Markdown), whose last line says whether the
/// worst stayed under the target.
pub fn run() -> String {
    // Far enough that the deadline never decides: this measures the work itself.
    let deadline = || Instant::now() + Duration::from_secs(600);
    let rows: Vec<Row> = stress::cases(MAX_SOURCE_BYTES)
        .into_iter()
        .map(|case| {
            let (post_ms, post) =
                fastest(|| markdown::render_post_within(&case.source, deadline()).map(|_| ()));
            let (comment_ms, comment) =
                fastest(|| markdown::render_comment_within(&case.source, deadline()).map(|_| ()));
            Row {
                name: case.name,
                post_ms,
                post,
                comment_ms,
                comment,
            }
        })
        .collect();
    let plain = rows.iter().find(|r| r.name == stress::PLAIN);
    let (plain_post, plain_comment) = plain.map_or((1.0, 1.0), |r| (r.post_ms, r.comment_ms));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nMarkdown: the costliest texts at the size limit ({MAX_SOURCE_BYTES} bytes), fastest of {RUNS} runs, \
         against a plain paragraph of the same length (post {plain_post:.2} ms, comment {plain_comment:.2} ms).\n"
    );
    let _ = writeln!(out, "| text | post | × plain | comment | × plain |");
    let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: |");
    let cell = |ms: f64, outcome: &Result<(), RenderRefusal>| match outcome {
        Ok(()) => format!("{ms:.2} ms"),
        Err(RenderRefusal::TooLong { .. }) => format!("{ms:.2} ms, refused: too long"),
        Err(RenderRefusal::TooDeep { .. }) => format!("{ms:.2} ms, refused: too deep"),
        Err(RenderRefusal::TooComplex) => format!("{ms:.2} ms, refused: too complex"),
    };
    for row in &rows {
        let _ = writeln!(
            out,
            "| {} | {} | {:.0}× | {} | {:.0}× |",
            row.name,
            cell(row.post_ms, &row.post),
            row.post_ms / plain_post.max(0.001),
            cell(row.comment_ms, &row.comment),
            row.comment_ms / plain_comment.max(0.001),
        );
    }
    let worst = rows
        .iter()
        .flat_map(|r| {
            [
                (r.name, "post", r.post_ms),
                (r.name, "comment", r.comment_ms),
            ]
        })
        .max_by(|a, b| a.2.total_cmp(&b.2));
    let within = worst.is_none_or(|(_, _, ms)| ms < TARGET_MS);
    if let Some((name, kind, ms)) = worst {
        let _ = writeln!(
            out,
            "\nWorst: {name} as a {kind}, {ms:.1} ms (target under {TARGET_MS:.0} ms): {}.",
            if within { "within" } else { "OVER" }
        );
    }
    out
}
