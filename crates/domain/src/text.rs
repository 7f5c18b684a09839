//! Text as XML 1.0 can carry it. Feeds, sitemaps and the HTML pages are XML or close to it,
//! and one stray control character (a NUL, an ESC, a form feed pasted from a terminal or a
//! word processor) makes a whole feed unreadable to every feed reader. So every place where
//! text enters Folio passes it through [`xml_safe`], and every XML writer does once more,
//! for rows stored before the rule existed.

use std::borrow::Cow;

/// Whether XML 1.0 allows this character in a document: tab, line feed and carriage return
/// among the C0 controls, and everything else except U+FFFE and U+FFFF. (Surrogates, the
/// remaining excluded range, cannot occur in a Rust `char`.)
pub fn is_xml_char(c: char) -> bool {
    match c {
        '\t' | '\n' | '\r' => true,
        '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => false,
        _ => true,
    }
}

/// The text without the characters XML 1.0 forbids; borrowed when there were none, which is
/// nearly always.
pub fn xml_safe(text: &str) -> Cow<'_, str> {
    if text.chars().all(is_xml_char) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.chars().filter(|&c| is_xml_char(c)).collect())
    }
}

/// [`xml_safe`] for text already owned, without copying it when it is clean.
pub fn make_xml_safe(text: &mut String) {
    if !text.chars().all(is_xml_char) {
        text.retain(is_xml_char);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_controls_are_dropped_and_whitespace_kept() {
        let raw = "a\u{0}b\u{1}c\u{8}d\u{b}e\u{c}f\u{1b}g\u{1f}h\u{fffe}i\u{ffff}j\tk\nl\rm";
        assert_eq!(xml_safe(raw), "abcdefghij\tk\nl\rm");
    }

    #[test]
    fn clean_text_is_borrowed_unchanged() {
        let raw = "Grüße — 日本語 \u{7f} \u{85} \u{fffd} \u{10ffff} <b>&amp;</b>";
        assert!(matches!(xml_safe(raw), Cow::Borrowed(same) if same == raw));
    }

    #[test]
    fn owned_text_is_cleaned_in_place() {
        let mut text = String::from("Title\u{1b}[31m red\u{0}");
        make_xml_safe(&mut text);
        assert_eq!(text, "Title[31m red");
    }

    #[test]
    fn every_c0_control_but_tab_newline_return_is_forbidden() {
        for byte in 0u8..0x20 {
            let c = char::from(byte);
            assert_eq!(is_xml_char(c), matches!(c, '\t' | '\n' | '\r'), "{byte:#x}");
        }
        assert!(!is_xml_char('\u{fffe}'));
        assert!(!is_xml_char('\u{ffff}'));
        assert!(is_xml_char(' '));
    }
}
