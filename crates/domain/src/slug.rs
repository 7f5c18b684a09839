use std::fmt;

/// A URL path segment naming a post, page, term or author: lowercase letters and digits of any
/// script and single hyphens, as WordPress's `sanitize_title` makes them (`hello-world`,
/// `επίπεδο-2`), so imported links keep their shape. Held decoded; links percent-encode it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slug(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SlugError {
    #[error("a slug cannot be empty")]
    Empty,
    #[error("a slug can be at most {max} characters long")]
    TooLong { max: usize },
    #[error("a slug may hold only lowercase letters, digits and single hyphens (got {0:?})")]
    InvalidCharacters(String),
}

impl Slug {
    pub const MAX_LEN: usize = 200;

    /// Accepts a slug exactly as given, or explains what is wrong with it.
    pub fn parse(raw: &str) -> Result<Self, SlugError> {
        if raw.is_empty() {
            return Err(SlugError::Empty);
        }
        if raw.len() > Self::MAX_LEN {
            return Err(SlugError::TooLong { max: Self::MAX_LEN });
        }
        let well_formed = raw.chars().all(is_slug_char)
            && !raw.starts_with('-')
            && !raw.ends_with('-')
            && !raw.contains("--");
        if !well_formed {
            return Err(SlugError::InvalidCharacters(raw.to_owned()));
        }
        Ok(Self(raw.to_owned()))
    }

    /// Derives a slug from a title: "Sales Isn't Adversarial!" becomes "sales-isnt-adversarial".
    /// Accented Latin letters lose their accents; letters of other scripts are kept, lower-cased
    /// ("Επίπεδο 2" becomes "επίπεδο-2"), as WordPress keeps them. Nothing usable: `fallback`.
    pub fn from_title(title: &str, fallback: &str) -> Self {
        let mut out = String::with_capacity(title.len());
        let mut pending_hyphen = false;
        'title: for ch in title.chars() {
            // Apostrophes join words ("isn't" -> "isnt") rather than split them; combining
            // accents (a title typed decomposed) belong to the letter before them.
            if matches!(ch, '\'' | '’' | '‘') || is_combining_mark(ch) {
                continue;
            }
            if !ch.is_alphanumeric() {
                pending_hyphen = true;
                continue;
            }
            for lower in ch.to_lowercase() {
                let c = fold_accent(lower).unwrap_or(lower);
                if !is_slug_char(c) || c == '-' {
                    continue;
                }
                let hyphen = usize::from(pending_hyphen && !out.is_empty());
                if out.len() + hyphen + c.len_utf8() > Self::MAX_LEN {
                    break 'title;
                }
                if hyphen == 1 {
                    out.push('-');
                }
                pending_hyphen = false;
                out.push(c);
            }
        }
        let trimmed = out.trim_end_matches('-');
        match Self::parse(trimmed) {
            Ok(slug) => slug,
            Err(_) => Self::parse(fallback).unwrap_or_else(|_| Self("untitled".to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Letters and digits of any script that have no upper case form, and the hyphen.
fn is_slug_char(c: char) -> bool {
    c == '-' || (c.is_alphanumeric() && !c.is_uppercase())
}

/// The combining diacritical marks block: accents typed as separate code points.
fn is_combining_mark(c: char) -> bool {
    ('\u{0300}'..='\u{036F}').contains(&c)
}

/// `%ce%b5` and `%CE%B5` both become `ε`: WordPress stores non-Latin slugs percent-encoded in
/// lowercase, browsers send them in uppercase, and Folio holds them decoded. Escapes that do
/// not decode to UTF-8 leave the text as it was.
pub fn percent_decode(raw: &str) -> String {
    if !raw.contains('%') {
        return raw.to_owned();
    }
    let bytes = raw.as_bytes();
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| Some((hex(*bytes.get(i + 1)?)?, hex(*bytes.get(i + 2)?)?)))
            .flatten();
        match escaped {
            Some((high, low)) => {
                out.push(u8::try_from(high * 16 + low).unwrap_or(b'-'));
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| raw.to_owned())
}

/// A path as it may travel in a URL: every byte outside ASCII's visible unreserved and path
/// characters becomes `%XX` (uppercase, as RFC 3986 recommends and browsers send). Existing
/// escapes and ASCII path syntax are left as they are, so encoding twice changes nothing.
pub fn percent_encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_graphic()
            && !matches!(
                byte,
                b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}'
            )
        {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `%CE%B5` as WordPress writes it, `%ce%b5`; the rest of the text unchanged.
pub fn lowercase_escapes(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut hex_left = 0;
    for c in encoded.chars() {
        if hex_left > 0 {
            out.push(c.to_ascii_lowercase());
            hex_left -= 1;
        } else {
            if c == '%' {
                hex_left = 2;
            }
            out.push(c);
        }
    }
    out
}

fn fold_accent(c: char) -> Option<char> {
    if c.is_ascii() {
        return Some(c);
    }
    let folded = match c.to_lowercase().next().unwrap_or(c) {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' => 'a',
        'ç' | 'ć' | 'č' => 'c',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' => 'e',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'ñ' | 'ń' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => 'o',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'ý' | 'ÿ' => 'y',
        'ß' | 'ś' | 'š' => 's',
        'ž' | 'ź' | 'ż' => 'z',
        'ł' => 'l',
        _ => return None,
    };
    Some(folded)
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Slug {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_becomes_wordpress_shaped_slug() {
        assert_eq!(
            Slug::from_title("Sales Isn't Adversarial!", "x").as_str(),
            "sales-isnt-adversarial"
        );
        assert_eq!(
            Slug::from_title("  Crème brûlée -- 2024 ", "x").as_str(),
            "creme-brulee-2024"
        );
        // WordPress keeps letters of every script (`sanitize_title` percent-encodes them in
        // the database); only titles with no letter or digit at all fall back.
        assert_eq!(Slug::from_title("日本語", "post-7").as_str(), "日本語");
        assert_eq!(Slug::from_title("!!!", "post-7").as_str(), "post-7");
    }

    #[test]
    fn non_latin_titles_keep_their_letters() {
        assert_eq!(Slug::from_title("Επίπεδο 2", "x").as_str(), "επίπεδο-2");
        assert_eq!(Slug::from_title("Привет, мир!", "x").as_str(), "привет-мир");
        assert_eq!(Slug::from_title("Café Ελλάδα", "x").as_str(), "cafe-ελλάδα");
        // Decomposed "é" (e + U+0301) is one letter, not a word break.
        assert_eq!(
            Slug::from_title("Cafe\u{301} noir", "x").as_str(),
            "cafe-noir"
        );
        assert!(Slug::parse("επίπεδο-2").is_ok());
        assert!(Slug::parse("Επίπεδο").is_err());
    }

    #[test]
    fn long_non_latin_titles_are_cut_on_a_character() {
        let slug = Slug::from_title(&"λ".repeat(300), "x");
        assert!(slug.as_str().len() <= Slug::MAX_LEN);
        assert!(slug.as_str().chars().all(|c| c == 'λ'));
    }

    #[test]
    fn percent_encoding_is_read_in_either_case() {
        assert_eq!(percent_decode("%ce%b5%cf%80-2"), "επ-2");
        assert_eq!(percent_decode("%CE%B5%CF%80-2"), "επ-2");
        assert_eq!(percent_decode("100%"), "100%");
        // Not UTF-8 once decoded: left alone rather than mangled.
        assert_eq!(percent_decode("%ff%fe"), "%ff%fe");
        assert_eq!(
            percent_encode_path("/2024/03/05/επ-2/"),
            "/2024/03/05/%CE%B5%CF%80-2/"
        );
        assert_eq!(lowercase_escapes("/A/%CE%B5/"), "/A/%ce%b5/");
        assert_eq!(
            percent_encode_path(&percent_encode_path("/επ a/")),
            "/%CE%B5%CF%80%20a/"
        );
    }

    #[test]
    fn parse_rejects_what_would_break_a_url() {
        assert_eq!(Slug::parse(""), Err(SlugError::Empty));
        assert!(Slug::parse("Hello").is_err());
        assert!(Slug::parse("a--b").is_err());
        assert!(Slug::parse("-a").is_err());
        assert!(Slug::parse("a/b").is_err());
        assert!(Slug::parse("hello-world-2").is_ok());
    }
}
