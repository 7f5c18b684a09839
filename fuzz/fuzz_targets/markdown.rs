//! Markdown rendering and sanitizing, as text typed on the site (every limit and a deadline)
//! and as an import (no limits): never a panic, never a hang, never a script in the output.
#![no_main]

use std::time::{Duration, Instant};

use folio_domain::markdown;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(2);
    let outputs = [
        markdown::render_post_within(source, deadline).map(|p| p.html),
        markdown::render_comment_within(source, deadline),
        Ok(markdown::render_post(source).html),
        Ok(markdown::render_comment(source)),
    ];
    for html in outputs.into_iter().flatten() {
        let lower = html.to_ascii_lowercase();
        assert!(!lower.contains("<script"), "{html}");
        assert!(!lower.contains("href=\"javascript:"), "{html}");
    }
});
