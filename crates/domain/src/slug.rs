use std::fmt;

/// A URL path segment naming a post, page, term or author: lowercase ASCII letters, digits and
/// single hyphens, as WordPress makes them, so imported links keep their shape.
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
        let well_formed = raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !raw.starts_with('-')
            && !raw.ends_with('-')
            && !raw.contains("--");
        if !well_formed {
            return Err(SlugError::InvalidCharacters(raw.to_owned()));
        }
        Ok(Self(raw.to_owned()))
    }

    /// Derives a slug from a title: "Sales Isn't Adversarial!" becomes "sales-isnt-adversarial".
    /// Accented Latin letters lose their accents; other scripts fall back to `fallback`.
    pub fn from_title(title: &str, fallback: &str) -> Self {
        let mut out = String::with_capacity(title.len());
        let mut pending_hyphen = false;
        for ch in title.chars() {
            let folded = fold_accent(ch.to_ascii_lowercase());
            match folded {
                Some(c) if c.is_ascii_alphanumeric() => {
                    if pending_hyphen && !out.is_empty() {
                        out.push('-');
                    }
                    pending_hyphen = false;
                    out.push(c.to_ascii_lowercase());
                }
                // Apostrophes join words ("isn't" -> "isnt") rather than split them.
                _ if matches!(ch, '\'' | '’' | '‘') => {}
                _ => pending_hyphen = true,
            }
            if out.len() >= Self::MAX_LEN {
                break;
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
        assert_eq!(Slug::from_title("日本語", "post-7").as_str(), "post-7");
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
