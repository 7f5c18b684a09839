//! ID tokens that must be refused: a tiny OpenID provider written here hands out tokens with
//! a bad signature, an expired `exp`, another audience or another issuer (oidc-provider-mock
//! only makes good ones). It signs with HS256 and the client secret, which its discovery
//! document announces.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use folio_auth::{AuthError, CallbackParams, ProviderConfig, ProviderKind, Providers};
use hmac::{Hmac, Mac};
use sha2::Sha256;

const CLIENT_ID: &str = "folio";
const CLIENT_SECRET: &str = "a-long-enough-client-secret-for-hs256";

fn json(value: serde_json::Value) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
}

fn sign(claims: &serde_json::Value, key: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(format!("{header}.{payload}").as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{header}.{payload}.{signature}")
}

/// The test picks the token's flaw through the code it sends: `"<flaw>:<nonce>"`.
async fn token(
    State(issuer): State<String>,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> impl IntoResponse {
    let (flaw, nonce) = form["code"].split_once(':').unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut claims = serde_json::json!({
        "iss": issuer,
        "sub": "user-1",
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 300,
        "nonce": nonce,
        "email": "user@example.org",
        "email_verified": true,
        "name": "User One",
    });
    let mut key = CLIENT_SECRET;
    match flaw {
        "good" => {}
        "bad-signature" => key = "somebody-elses-secret-of-some-length",
        "expired" => {
            claims["iat"] = (now - 3600).into();
            claims["exp"] = (now - 1800).into();
        }
        "other-audience" => claims["aud"] = "another-client".into(),
        "other-issuer" => claims["iss"] = "https://evil.example".into(),
        other => panic!("unknown flaw {other}"),
    }
    json(serde_json::json!({
        "access_token": "at-1",
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": sign(&claims, key),
    }))
}

async fn start_provider() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let discovery = serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["HS256"],
    });
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { json(discovery) }),
        )
        .route(
            "/jwks",
            get(|| async { json(serde_json::json!({ "keys": [] })) }),
        )
        .route("/token", post(token))
        .with_state(issuer.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    issuer
}

async fn finish_with(flaw: &str) -> Result<folio_auth::Profile, AuthError> {
    let issuer = start_provider().await;
    let mut configs = BTreeMap::new();
    configs.insert(
        "tiny".to_owned(),
        ProviderConfig {
            kind: ProviderKind::Oidc,
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            label: None,
            auth_url: None,
            token_url: None,
            userinfo_url: None,
            emails_url: None,
            issuer: Some(issuer),
            scopes: None,
        },
    );
    let providers = Providers::new(&configs, "http://blog.test", Duration::from_secs(5)).unwrap();
    let provider = providers.get("tiny").unwrap();
    let (_url, pending) = provider.start().await.unwrap();
    let callback = CallbackParams {
        code: Some(format!("{flaw}:{}", pending.nonce.clone().unwrap())),
        state: Some(pending.state.clone()),
        ..Default::default()
    };
    provider.finish(pending, callback).await
}

#[tokio::test]
async fn a_well_formed_token_signs_in() {
    let profile = finish_with("good").await.unwrap();
    assert_eq!(profile.subject, "user-1");
    assert_eq!(profile.display_name, "User One");
    assert!(profile.email_verified);
}

#[tokio::test]
async fn flawed_id_tokens_are_refused() {
    for flaw in ["bad-signature", "expired", "other-audience", "other-issuer"] {
        let error = finish_with(flaw).await.unwrap_err();
        assert!(
            matches!(error, AuthError::InvalidToken(_)),
            "{flaw}: {error:?}"
        );
        assert_eq!(error.title(), "The sign-in could not be verified");
    }
}
