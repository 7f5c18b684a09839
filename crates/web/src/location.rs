//! Where Folio sends a browser. Every redirect built from a path (the request's own, a stored
//! old address, a `return_to`) gets its `Location` here, so that no path can become another
//! site's address: browsers read `//evil.example/x` and `/\evil.example/x` as addresses on
//! evil.example, and drop tabs and line breaks from a URL before reading it.

use axum::http::HeaderValue;

/// A `Location` that stays on this site, whatever path it was built from.
pub(crate) fn same_site(target: &str) -> HeaderValue {
    HeaderValue::from_str(&same_site_path(target)).unwrap_or(HeaderValue::from_static("/"))
}

/// `target` as a path on this site: it must begin with one `/`; a second slash right after it
/// is encoded (`/%2F...`, still this site's path, which then answers as any unknown path
/// does), and so are backslashes, spaces, controls and non-ASCII characters. Anything not
/// starting with `/` (a URL, a scheme-relative address) becomes the front page.
pub(crate) fn same_site_path(target: &str) -> String {
    if !target.starts_with('/') {
        return "/".to_owned();
    }
    let encoded = folio_domain::slug::percent_encode_path(target);
    match encoded.strip_prefix("//") {
        Some(rest) => format!("/%2F{rest}"),
        None => encoded,
    }
}

#[cfg(test)]
mod tests {
    use super::same_site_path;

    #[test]
    fn paths_that_browsers_read_as_another_host_stay_here() {
        for (target, expected) in [
            ("//evil.example/x/", "/%2Fevil.example/x/"),
            ("///evil.example/x/", "/%2F/evil.example/x/"),
            ("/\\evil.example/x/", "/%5Cevil.example/x/"),
            ("/\\/evil.example/", "/%5C/evil.example/"),
            ("/\t/evil.example/", "/%09/evil.example/"),
            ("/\n/evil.example/", "/%0A/evil.example/"),
            ("/ /evil.example/", "/%20/evil.example/"),
            ("https://evil.example/", "/"),
            ("evil.example", "/"),
            ("\\\\evil.example", "/"),
            ("", "/"),
        ] {
            assert_eq!(same_site_path(target), expected, "{target:?}");
        }
    }

    #[test]
    fn ordinary_paths_pass_unchanged() {
        for target in [
            "/",
            "/2024/03/05/hello/",
            "/search?q=a+b%2Fc",
            "/admin/comments?status=approved",
            "/2024/03/05/hello/#comment-12",
            "/%2F%2Fevil.example/",
            "/%5Cevil.example/",
            "/a//b/",
        ] {
            assert_eq!(same_site_path(target), target);
        }
    }

    #[test]
    fn non_ascii_is_percent_encoded() {
        assert_eq!(same_site_path("/été/"), "/%C3%A9t%C3%A9/");
    }
}
