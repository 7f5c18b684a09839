//! HTTP signatures as Mastodon uses them: draft-cavage-http-signatures-12 with `rsa-sha256`,
//! over `(request-target) host date digest`, and a `Digest: SHA-256=…` of the body.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::HeaderMap;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rsa::sha2::{Digest as _, Sha256};
use rsa::signature::{SignatureEncoding as _, Signer as _, Verifier as _};
use rsa::{RsaPrivateKey, RsaPublicKey};
use time::OffsetDateTime;

/// How far a request's `Date` may be from our clock, either way (Mastodon's window).
pub const DATE_WINDOW_SECONDS: i64 = 12 * 3600;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the request is not signed (no Signature header)")]
    Unsigned,
    #[error("the Signature header cannot be read: {0}")]
    Malformed(&'static str),
    #[error("the signature does not cover {0}")]
    MissingHeader(&'static str),
    #[error("the Date header is missing or not an HTTP date")]
    NoDate,
    #[error("the Date header is too far from now (stale or future request)")]
    StaleDate,
    #[error("the Digest header does not match the body")]
    DigestMismatch,
    #[error("only rsa-sha256 (or hs2019 with an RSA key) signatures are accepted")]
    UnsupportedAlgorithm,
    #[error("the signature does not verify with the actor's key")]
    BadSignature,
    #[error("the key is not an RSA public key in PEM")]
    BadKey,
}

/// Makes a new 2048-bit RSA key pair: (public PEM, private PEM). Slow: call it off the
/// async threads.
pub fn generate_key_pair() -> Option<(String, String)> {
    let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).ok()?;
    let private = key.to_pkcs8_pem(LineEnding::LF).ok()?.to_string();
    let public = key.to_public_key().to_public_key_pem(LineEnding::LF).ok()?;
    Some((public, private))
}

/// Reads an RSA public key: SPKI (`BEGIN PUBLIC KEY`, what Mastodon and Fedify publish) or
/// PKCS#1 (`BEGIN RSA PUBLIC KEY`).
pub fn public_key_from_pem(pem: &str) -> Result<RsaPublicKey, SignatureError> {
    use rsa::pkcs1::DecodeRsaPublicKey as _;
    RsaPublicKey::from_public_key_pem(pem.trim())
        .or_else(|_| RsaPublicKey::from_pkcs1_pem(pem.trim()))
        .map_err(|_| SignatureError::BadKey)
}

/// `SHA-256=<base64>` of a body, as the `Digest` header carries it.
pub fn digest_header(body: &[u8]) -> String {
    format!("SHA-256={}", STANDARD.encode(Sha256::digest(body)))
}

/// Signs outgoing requests as the blog actor.
#[derive(Clone)]
pub struct RequestSigner {
    key_id: String,
    key: SigningKey<Sha256>,
}

impl std::fmt::Debug for RequestSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestSigner")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl RequestSigner {
    pub fn new(key_id: String, private_key_pem: &str) -> Result<Self, SignatureError> {
        let key = RsaPrivateKey::from_pkcs8_pem(private_key_pem.trim())
            .map_err(|_| SignatureError::BadKey)?;
        Ok(RequestSigner {
            key_id,
            key: SigningKey::<Sha256>::new(key),
        })
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The headers to send with a request to `url`: `Host`, `Date`, for a body `Digest`, and
    /// `Signature` over them. `date` is normally now.
    pub fn sign(
        &self,
        method: &str,
        url: &reqwest::Url,
        body: Option<&[u8]>,
        date: OffsetDateTime,
    ) -> Vec<(&'static str, String)> {
        let host = host_header(url);
        let date = httpdate::fmt_http_date(std::time::SystemTime::from(date));
        let target = request_target(method, url.path(), url.query());
        let mut headers = vec![("host", host), ("date", date)];
        if let Some(body) = body {
            headers.push(("digest", digest_header(body)));
        }
        let mut signed = format!("(request-target): {target}");
        for (name, value) in &headers {
            signed.push_str(&format!("\n{name}: {value}"));
        }
        let names = std::iter::once("(request-target)")
            .chain(headers.iter().map(|(name, _)| *name))
            .collect::<Vec<_>>()
            .join(" ");
        let signature = STANDARD.encode(self.key.sign(signed.as_bytes()).to_bytes());
        headers.push((
            "signature",
            format!(
                "keyId=\"{}\",algorithm=\"rsa-sha256\",headers=\"{names}\",signature=\"{signature}\"",
                self.key_id
            ),
        ));
        headers
    }
}

/// `Host` as a client sends it: the port only when it is not the scheme's default.
pub fn host_header(url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

fn request_target(method: &str, path: &str, query: Option<&str>) -> String {
    match query {
        Some(query) => format!("{} {path}?{query}", method.to_ascii_lowercase()),
        None => format!("{} {path}", method.to_ascii_lowercase()),
    }
}

/// The parts of a `Signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    pub key_id: String,
    pub algorithm: Option<String>,
    pub headers: Vec<String>,
    pub signature: Vec<u8>,
}

impl SignatureHeader {
    pub fn parse(text: &str) -> Result<Self, SignatureError> {
        let mut key_id = None;
        let mut algorithm = None;
        let mut headers = None;
        let mut signature = None;
        let mut rest = text.trim();
        while !rest.is_empty() {
            let (name, after) = rest
                .split_once('=')
                .ok_or(SignatureError::Malformed("a parameter without a value"))?;
            let after = after
                .strip_prefix('"')
                .ok_or(SignatureError::Malformed("a value without quotes"))?;
            let (value, after) = after
                .split_once('"')
                .ok_or(SignatureError::Malformed("an unterminated value"))?;
            match name.trim().to_ascii_lowercase().as_str() {
                "keyid" => key_id = Some(value.to_owned()),
                "algorithm" => algorithm = Some(value.to_ascii_lowercase()),
                "headers" => {
                    headers = Some(
                        value
                            .split_ascii_whitespace()
                            .map(str::to_ascii_lowercase)
                            .collect(),
                    );
                }
                "signature" => {
                    signature = Some(
                        STANDARD
                            .decode(value)
                            .map_err(|_| SignatureError::Malformed("signature is not base64"))?,
                    );
                }
                _ => {}
            }
            rest = after.trim_start().trim_start_matches(',').trim_start();
        }
        Ok(SignatureHeader {
            key_id: key_id.ok_or(SignatureError::Malformed("no keyId"))?,
            algorithm,
            // The draft's default when absent is only `date`, which we refuse below.
            headers: headers.unwrap_or_else(|| vec!["date".to_owned()]),
            signature: signature.ok_or(SignatureError::Malformed("no signature"))?,
        })
    }
}

/// What of an incoming request's signature can be checked before its key is known: it is
/// signed, covers what it must, is recent, and its body matches its `Digest`.
pub fn check_request(
    headers: &HeaderMap,
    body: Option<&[u8]>,
    now: OffsetDateTime,
) -> Result<SignatureHeader, SignatureError> {
    let text = headers
        .get("signature")
        .and_then(|v| v.to_str().ok())
        .ok_or(SignatureError::Unsigned)?;
    let parsed = SignatureHeader::parse(text)?;
    match parsed.algorithm.as_deref() {
        None | Some("rsa-sha256") | Some("hs2019") => {}
        Some(_) => return Err(SignatureError::UnsupportedAlgorithm),
    }
    let covers = |name: &str| parsed.headers.iter().any(|h| h == name);
    if !covers("(request-target)") {
        return Err(SignatureError::MissingHeader("(request-target)"));
    }
    if !covers("host") {
        return Err(SignatureError::MissingHeader("host"));
    }
    if !covers("date") {
        return Err(SignatureError::MissingHeader("date"));
    }
    let date = headers
        .get("date")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
        .ok_or(SignatureError::NoDate)?;
    let date = OffsetDateTime::from(date);
    if (now - date).whole_seconds().abs() > DATE_WINDOW_SECONDS {
        return Err(SignatureError::StaleDate);
    }
    if let Some(body) = body {
        if !covers("digest") {
            return Err(SignatureError::MissingHeader("digest"));
        }
        let digest = headers
            .get("digest")
            .and_then(|v| v.to_str().ok())
            .ok_or(SignatureError::DigestMismatch)?;
        let expected = digest_header(body);
        // Several digests may be listed; the SHA-256 one must match.
        let matches = digest.split(',').any(|part| {
            let part = part.trim();
            part.len() > 8
                && part[..8].eq_ignore_ascii_case("sha-256=")
                && part[8..] == expected[8..]
        });
        if !matches {
            return Err(SignatureError::DigestMismatch);
        }
    }
    Ok(parsed)
}

/// Verifies the signature with the signer's public key. `path_and_query` is the request's
/// target as received.
pub fn verify(
    parsed: &SignatureHeader,
    method: &str,
    path_and_query: &str,
    headers: &HeaderMap,
    public_key: &RsaPublicKey,
) -> Result<(), SignatureError> {
    let mut lines = Vec::with_capacity(parsed.headers.len());
    for name in &parsed.headers {
        let value = match name.as_str() {
            "(request-target)" => format!("{} {path_and_query}", method.to_ascii_lowercase()),
            other => {
                let values: Vec<&str> = headers
                    .get_all(other)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .map(str::trim)
                    .collect();
                if values.is_empty() {
                    return Err(SignatureError::BadSignature);
                }
                values.join(", ")
            }
        };
        lines.push(format!("{name}: {value}"));
    }
    let signed = lines.join("\n");
    let signature = Signature::try_from(parsed.signature.as_slice())
        .map_err(|_| SignatureError::BadSignature)?;
    VerifyingKey::<Sha256>::new(public_key.clone())
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| SignatureError::BadSignature)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};

    fn as_map(headers: &[(&'static str, String)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(
                HeaderName::from_static(name),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn a_signed_post_verifies_and_a_changed_body_does_not() {
        let (public, private) = generate_key_pair().unwrap();
        let signer =
            RequestSigner::new("https://a.example/actor#main-key".into(), &private).unwrap();
        let url = reqwest::Url::parse("https://b.example/inbox").unwrap();
        let now = OffsetDateTime::now_utc();
        let body = br#"{"type":"Follow"}"#;
        let headers = as_map(&signer.sign("POST", &url, Some(body), now));
        let parsed = check_request(&headers, Some(body), now).unwrap();
        assert_eq!(parsed.key_id, "https://a.example/actor#main-key");
        let key = public_key_from_pem(&public).unwrap();
        verify(&parsed, "POST", "/inbox", &headers, &key).unwrap();
        assert_eq!(
            verify(&parsed, "POST", "/other", &headers, &key),
            Err(SignatureError::BadSignature)
        );
        assert_eq!(
            check_request(&headers, Some(b"{}"), now).unwrap_err(),
            SignatureError::DigestMismatch
        );
        let later = now + time::Duration::hours(13);
        assert_eq!(
            check_request(&headers, Some(body), later).unwrap_err(),
            SignatureError::StaleDate
        );
        assert_eq!(
            check_request(&HeaderMap::new(), Some(body), now).unwrap_err(),
            SignatureError::Unsigned
        );
    }
}
