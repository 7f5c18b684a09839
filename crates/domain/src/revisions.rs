//! Comparing two versions of a post's text, line by line, as the revision screen shows them.

/// One line of a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiffLine {
    Same(String),
    Removed(String),
    Added(String),
}

/// Longer texts than this (in lines, each side) are compared as "all removed, all added":
/// the table below grows with the product of both lengths.
const MAX_LINES: usize = 4000;

/// The lines of `old` and `new`, marked kept, removed or added (a longest common subsequence).
pub fn line_diff(old: &str, new: &str) -> Vec<DiffLine> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    if a.len() > MAX_LINES || b.len() > MAX_LINES {
        return a
            .iter()
            .map(|l| DiffLine::Removed((*l).to_owned()))
            .chain(b.iter().map(|l| DiffLine::Added((*l).to_owned())))
            .collect();
    }
    // lcs[i][j]: length of the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            out.push(DiffLine::Same(a[i].to_owned()));
            i += 1;
            j += 1;
        } else if lcs[i + 1][j] >= lcs[i][j + 1] {
            out.push(DiffLine::Removed(a[i].to_owned()));
            i += 1;
        } else {
            out.push(DiffLine::Added(b[j].to_owned()));
            j += 1;
        }
    }
    out.extend(a[i..].iter().map(|l| DiffLine::Removed((*l).to_owned())));
    out.extend(b[j..].iter().map(|l| DiffLine::Added((*l).to_owned())));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_line_shows_as_removed_then_added() {
        let diff = line_diff("one\ntwo\nthree", "one\n2\nthree\nfour");
        assert_eq!(
            diff,
            vec![
                DiffLine::Same("one".into()),
                DiffLine::Removed("two".into()),
                DiffLine::Added("2".into()),
                DiffLine::Same("three".into()),
                DiffLine::Added("four".into()),
            ]
        );
    }

    #[test]
    fn equal_texts_have_no_changes() {
        assert!(
            line_diff("a\nb", "a\nb")
                .iter()
                .all(|l| matches!(l, DiffLine::Same(_)))
        );
    }
}
