//! Texts built to be as costly to render as Markdown allows, each filling a given size: what
//! the limits in [`super`] were measured against. `folio bench-markdown` times them (the
//! target: every one under 50 ms at [`super::MAX_SOURCE_BYTES`]), the tests render them, and
//! the fuzz targets start from them.

/// One costly text and what makes it costly.
#[derive(Debug, Clone)]
pub struct StressCase {
    pub name: &'static str,
    pub source: String,
}

/// Every case at about `bytes` long (never longer), then a plain paragraph of the same length
/// to compare them with.
pub fn cases(bytes: usize) -> Vec<StressCase> {
    let case = |name: &'static str, source: String| StressCase { name, source };
    vec![
        case(
            "nested lists on one line",
            fill(bytes, "", |_| "- ".to_owned(), "x\n"),
        ),
        case(
            "nested ordered lists",
            fill(bytes, "", |_| "1. ".to_owned(), "x\n"),
        ),
        case(
            "nested lists, one item a line",
            fill(bytes, "", |i| format!("{}- x\n", "  ".repeat(i % 40)), ""),
        ),
        case("nested quotes", fill(bytes, "", |_| ">".to_owned(), " x\n")),
        case(
            "quotes holding lists",
            fill(bytes, "", |_| "> - ".to_owned(), "x\n"),
        ),
        case(
            "deepest list, many paragraphs",
            fill(
                bytes,
                &"> - ".repeat(super::MAX_NESTING),
                |_| {
                    let inside = indent(super::MAX_NESTING);
                    format!("x\n{inside}\n{inside}")
                },
                "",
            ),
        ),
        case("link reference definitions", link_references(bytes)),
        case(
            "emphasis runs",
            fill(bytes, "", |_| "*a **a ".to_owned(), ""),
        ),
        case("nested emphasis", nested_emphasis(bytes)),
        case("unclosed brackets", fill(bytes, "", |_| "[".to_owned(), "")),
        case("unclosed links", fill(bytes, "", |_| "[a](".to_owned(), "")),
        case("unclosed images", fill(bytes, "", |_| "![a".to_owned(), "")),
        case(
            "backtick runs",
            fill(bytes, "", |i| format!("{} a ", "`".repeat(i % 64 + 1)), ""),
        ),
        case("table with many columns", wide_table(bytes)),
        case(
            "footnote references",
            fill(bytes, "", |i| format!("[^{}]", i % 50), "\n\n[^0]: x\n"),
        ),
        case(
            "raw HTML nested",
            fill(bytes, "", |_| "<div>".to_owned(), ""),
        ),
        case(
            "raw HTML at the deepest",
            fill(
                bytes,
                &"<div>".repeat(super::MAX_HTML_DEPTH),
                |_| "<div></div>".to_owned(),
                "",
            ),
        ),
        case(
            "raw HTML misnested",
            fill(bytes, "", |_| "<b><p>x</b></p>".to_owned(), ""),
        ),
        case(
            "raw HTML closing nothing",
            fill(bytes, "", |_| "<div></span>".to_owned(), ""),
        ),
        case("entities", fill(bytes, "", |_| "&#1;&amp;&".to_owned(), "")),
        case("autolinks", fill(bytes, "", |_| "<http://a".to_owned(), "")),
        case(
            "task lists",
            fill(
                bytes,
                "",
                |i| format!("{}- [ ] x\n", "  ".repeat(i % 40)),
                "",
            ),
        ),
        case(PLAIN, fill(bytes, "", |_| "word ".to_owned(), "")),
    ]
}

/// The name of the plain paragraph every case is compared with.
pub const PLAIN: &str = "plain paragraph";

/// `head`, then `unit(0)`, `unit(1)`, ... for as long as it fits, then `tail`.
fn fill(bytes: usize, head: &str, unit: impl Fn(usize) -> String, tail: &str) -> String {
    let mut out = String::with_capacity(bytes);
    out.push_str(head);
    for i in 0.. {
        let next = unit(i);
        if out.len() + next.len() + tail.len() > bytes {
            break;
        }
        out.push_str(&next);
    }
    out.push_str(tail);
    out
}

/// What continues a line inside `levels` of `> - ` (a quote, then a list item in it).
fn indent(levels: usize) -> String {
    ">   ".repeat(levels)
}

fn link_references(bytes: usize) -> String {
    let half = bytes / 2;
    let definitions = fill(half, "", |i| format!("[r{i}]: https://e.org/{i}\n"), "\n");
    let uses = fill(bytes - definitions.len(), "", |i| format!("[r{i}] "), "");
    definitions + &uses
}

fn nested_emphasis(bytes: usize) -> String {
    let side = bytes.saturating_sub(1) / 2;
    format!("{}a{}", "*".repeat(side), "*".repeat(side))
}

fn wide_table(bytes: usize) -> String {
    let columns = bytes / 8;
    let mut out = "|a".repeat(columns) + "|\n" + &"|-".repeat(columns) + "|\n";
    out = fill(bytes, &out, |_| "|b".to_owned(), "|\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_fits_its_size() {
        for case in cases(10_000) {
            assert!(case.source.len() <= 10_000, "{}", case.name);
            assert!(
                case.source.len() > 5_000,
                "{}: {}",
                case.name,
                case.source.len()
            );
        }
    }
}
