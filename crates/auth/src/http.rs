//! One reqwest client per provider: no redirects, a timeout, a User-Agent, and 5xx/429
//! answers turned into transport errors so they read as "provider unavailable" everywhere.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse};
use serde::de::DeserializeOwned;

use crate::AuthError;

const USER_AGENT: &str = concat!("Folio/", env!("CARGO_PKG_VERSION"), " (social sign-in)");

#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    #[error("{}", describe_reqwest(.0))]
    Transport(#[from] reqwest::Error),
    #[error("HTTP status {0}")]
    Status(u16),
    #[error("malformed response: {0}")]
    Build(String),
}

pub(crate) fn describe_reqwest(e: &reqwest::Error) -> String {
    let host = e
        .url()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "the provider".to_owned());
    if e.is_timeout() {
        format!("{host} did not answer in time")
    } else if e.is_connect() {
        format!("could not connect to {host}")
    } else {
        format!("request to {host} failed: {e}")
    }
}

impl From<HttpError> for AuthError {
    fn from(e: HttpError) -> Self {
        match e {
            HttpError::Transport(_) | HttpError::Status(_) => {
                AuthError::ProviderUnavailable(e.to_string())
            }
            HttpError::Build(_) => AuthError::ProviderError(e.to_string()),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct HttpClient {
    client: reqwest::Client,
}

impl HttpClient {
    pub(crate) fn new(timeout: Duration) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(USER_AGENT)
            .build()?;
        Ok(Self { client })
    }

    /// GET a public JSON document (a discovery document), without credentials.
    pub(crate) async fn get_public_json(&self, url: &str) -> Result<serde_json::Value, AuthError> {
        let response = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(HttpError::Transport)?;
        let status = response.status();
        if !status.is_success() {
            return Err(HttpError::Status(status.as_u16()).into());
        }
        let body = response.bytes().await.map_err(HttpError::Transport)?;
        serde_json::from_slice(&body)
            .map_err(|e| AuthError::ProviderError(format!("unexpected document at {url}: {e}")))
    }

    /// GET a JSON document with a bearer token.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        url: &str,
        access_token: &str,
        what: &str,
    ) -> Result<T, AuthError> {
        let response = self
            .client
            .get(url)
            .bearer_auth(access_token)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(HttpError::Transport)?;
        let status = response.status();
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(HttpError::Status(status.as_u16()).into());
        }
        if status.as_u16() == 401 {
            return Err(AuthError::InvalidToken(format!(
                "the provider refused the access token when fetching the {what}"
            )));
        }
        if !status.is_success() {
            return Err(AuthError::ProviderError(format!(
                "fetching the {what} answered HTTP {status}"
            )));
        }
        let body = response.bytes().await.map_err(HttpError::Transport)?;
        serde_json::from_slice(&body)
            .map_err(|e| AuthError::ProviderError(format!("unexpected {what} document: {e}")))
    }
}

impl<'c> AsyncHttpClient<'c> for HttpClient {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request: reqwest::Request = request.try_into()?;
            let response = self.client.execute(request).await?;
            let status = response.status();
            if status.is_server_error() || status.as_u16() == 429 {
                return Err(HttpError::Status(status.as_u16()));
            }
            let mut builder = oauth2::http::Response::builder().status(status);
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = response.bytes().await?;
            builder
                .body(body.to_vec())
                .map_err(|e| HttpError::Build(e.to_string()))
        })
    }
}
