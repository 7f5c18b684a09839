//! Requests to other servers, with a size and a time limit, and never to a private,
//! loopback or link-local address unless `federation.allow_private_addresses` says so
//! (a request forged through the blog must not reach the machine's own network).
//!
//! The host is resolved here, every address checked, and the connection pinned to the
//! checked addresses, so that a second DNS answer cannot point elsewhere. Redirects are not
//! followed.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use time::OffsetDateTime;

use crate::signatures::RequestSigner;

/// The most a response (or an incoming activity) may weigh.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub const ACTIVITY_JSON: &str = "application/activity+json";
const ACCEPT: &str = "application/activity+json, application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"";

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("not an http(s) URL: {0}")]
    BadUrl(String),
    #[error(
        "refused to fetch {0}: it is a private or loopback address (federation.allow_private_addresses is off)"
    )]
    PrivateAddress(String),
    #[error("cannot resolve {0}")]
    Unresolved(String),
    #[error("request to {url} failed")]
    Request {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url} answered {status}")]
    Status { url: String, status: u16 },
    #[error("{0} sent more than 1 MB")]
    TooLarge(String),
    #[error("{0} did not send JSON")]
    NotJson(String),
}

impl FetchError {
    /// Whether trying again later may help (a refusal by the other side does not).
    pub fn is_permanent(&self) -> bool {
        match self {
            FetchError::BadUrl(_) | FetchError::PrivateAddress(_) | FetchError::TooLarge(_) => true,
            FetchError::Status { status, .. } => {
                (400..500).contains(status) && *status != 408 && *status != 429
            }
            _ => false,
        }
    }
}

/// Whether `address` is on the public internet (not loopback, private, link-local, shared,
/// multicast, documentation or otherwise reserved).
pub fn is_public_address(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_address(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8
                || (first == 0x0064 && v6.segments()[1] == 0xff9b))
        }
    }
}

#[derive(Clone, Debug)]
pub struct Fetcher {
    allow_private: bool,
    timeout: Duration,
    user_agent: String,
}

impl Fetcher {
    pub fn new(allow_private: bool, user_agent: String) -> Self {
        Fetcher {
            allow_private,
            timeout: Duration::from_secs(10),
            user_agent,
        }
    }

    /// A client whose only way to `url`'s host is through addresses checked here.
    async fn client_for(&self, url: &reqwest::Url) -> Result<reqwest::Client, FetchError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FetchError::BadUrl(url.to_string()));
        }
        let host = url
            .host_str()
            .ok_or_else(|| FetchError::BadUrl(url.to_string()))?
            .to_owned();
        let port = url
            .port_or_known_default()
            .ok_or_else(|| FetchError::BadUrl(url.to_string()))?;
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addresses: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::time::timeout(self.timeout, tokio::net::lookup_host((bare, port)))
                .await
                .map_err(|_| FetchError::Unresolved(host.clone()))?
                .map_err(|_| FetchError::Unresolved(host.clone()))?
                .collect(),
        };
        if addresses.is_empty() {
            return Err(FetchError::Unresolved(host));
        }
        if !self.allow_private && addresses.iter().any(|a| !is_public_address(a.ip())) {
            return Err(FetchError::PrivateAddress(url.to_string()));
        }
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.timeout)
            .connect_timeout(self.timeout)
            .user_agent(self.user_agent.clone());
        if bare.parse::<IpAddr>().is_err() {
            builder = builder.resolve_to_addrs(&host, &addresses);
        }
        builder.build().map_err(|source| FetchError::Request {
            url: url.to_string(),
            source,
        })
    }

    /// GETs an ActivityPub document, signed (servers in "secure mode" want that).
    pub async fn get_json(
        &self,
        url: &str,
        signer: Option<&RequestSigner>,
    ) -> Result<serde_json::Value, FetchError> {
        let parsed = reqwest::Url::parse(url).map_err(|_| FetchError::BadUrl(url.to_owned()))?;
        let client = self.client_for(&parsed).await?;
        let mut request = client.get(parsed.clone()).header("accept", ACCEPT);
        if let Some(signer) = signer {
            for (name, value) in signer.sign("GET", &parsed, None, OffsetDateTime::now_utc()) {
                request = request.header(name, value);
            }
        }
        let response = request.send().await.map_err(|source| FetchError::Request {
            url: url.to_owned(),
            source,
        })?;
        let body = read_limited(url, response).await?;
        serde_json::from_slice(&body).map_err(|_| FetchError::NotJson(url.to_owned()))
    }

    /// POSTs an activity to an inbox, signed.
    pub async fn post_activity(
        &self,
        inbox: &str,
        activity: &str,
        signer: &RequestSigner,
    ) -> Result<(), FetchError> {
        let parsed =
            reqwest::Url::parse(inbox).map_err(|_| FetchError::BadUrl(inbox.to_owned()))?;
        let client = self.client_for(&parsed).await?;
        let mut request = client
            .post(parsed.clone())
            .header("content-type", ACTIVITY_JSON)
            .header("accept", ACCEPT);
        for (name, value) in signer.sign(
            "POST",
            &parsed,
            Some(activity.as_bytes()),
            OffsetDateTime::now_utc(),
        ) {
            request = request.header(name, value);
        }
        let response = request
            .body(activity.to_owned())
            .send()
            .await
            .map_err(|source| FetchError::Request {
                url: inbox.to_owned(),
                source,
            })?;
        read_limited(inbox, response).await.map(|_| ())
    }
}

async fn read_limited(url: &str, mut response: reqwest::Response) -> Result<Vec<u8>, FetchError> {
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(FetchError::Status {
            url: url.to_owned(),
            status,
        });
    }
    if response
        .content_length()
        .is_some_and(|length| length > MAX_BODY_BYTES as u64)
    {
        return Err(FetchError::TooLarge(url.to_owned()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|source| FetchError::Request {
            url: url.to_owned(),
            source,
        })?
    {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(FetchError::TooLarge(url.to_owned()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::is_public_address;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public_address(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "2606:4700::1111", "1.1.1.1"] {
            assert!(is_public_address(public.parse().unwrap()), "{public}");
        }
    }
}
