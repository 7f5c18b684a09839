//! Sign-in against a real OpenID provider (oidc-provider-mock) on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use folio_auth::{AuthError, Profile, Provider, Providers};
use folio_testkit::{OidcServer, callback_params};

const BASE_URL: &str = "http://blog.test";

fn providers(oidc: &OidcServer) -> Providers {
    let mut configs = BTreeMap::new();
    configs.insert("corp".to_owned(), oidc.provider_config());
    Providers::new(&configs, BASE_URL, Duration::from_secs(10)).unwrap()
}

fn corp(providers: &Providers) -> &Provider {
    providers.get("corp").unwrap()
}

#[tokio::test]
async fn full_sign_in_gives_the_profile_with_a_verified_email() {
    let oidc = OidcServer::start().await;
    oidc.put_user_claims(
        "alice-1",
        serde_json::json!({
            "email": "alice@example.org",
            "email_verified": true,
            "name": "Alice Liddell",
            "preferred_username": "alice",
            "picture": "https://img.example/alice.png",
        }),
    )
    .await;
    let providers = providers(&oidc);
    let provider = corp(&providers);
    assert_eq!(provider.label(), "Corp");

    let (url, pending) = provider.start().await.unwrap();
    assert!(url.starts_with(&format!("{}/", oidc.issuer())), "{url}");
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    assert!(url.contains("nonce="), "{url}");
    assert!(pending.nonce.is_some());

    let location = oidc.authorize(&url, "alice-1").await;
    assert!(
        location.starts_with("http://blog.test/auth/corp/callback?"),
        "{location}"
    );
    let profile = provider
        .finish(pending, callback_params(&location))
        .await
        .unwrap();
    assert_eq!(
        profile,
        Profile {
            provider: "corp".into(),
            subject: "alice-1".into(),
            login: Some("alice".into()),
            display_name: "Alice Liddell".into(),
            email: Some("alice@example.org".into()),
            email_verified: true,
            avatar_url: Some("https://img.example/alice.png".into()),
            profile_url: None,
        }
    );
}

#[tokio::test]
async fn an_unverified_email_is_reported_as_unverified() {
    let oidc = OidcServer::start().await;
    oidc.put_user("bob", "bob@example.org", false, "Bob").await;
    let providers = providers(&oidc);
    let provider = corp(&providers);
    let (url, pending) = provider.start().await.unwrap();
    let location = oidc.authorize(&url, "bob").await;
    let profile = provider
        .finish(pending, callback_params(&location))
        .await
        .unwrap();
    assert_eq!(profile.subject, "bob");
    assert_eq!(profile.display_name, "Bob");
    assert_eq!(profile.email.as_deref(), Some("bob@example.org"));
    assert!(!profile.email_verified);
}

#[tokio::test]
async fn pressing_deny_cancels_the_sign_in() {
    let oidc = OidcServer::start().await;
    let providers = providers(&oidc);
    let provider = corp(&providers);
    let (url, pending) = provider.start().await.unwrap();
    let location = oidc.deny(&url).await;
    assert!(location.contains("error=access_denied"), "{location}");
    let error = provider
        .finish(pending, callback_params(&location))
        .await
        .unwrap_err();
    assert_eq!(error, AuthError::Denied);
    assert_eq!(error.title(), "Sign-in was cancelled");
}

#[tokio::test]
async fn callbacks_that_do_not_match_the_pending_sign_in_are_refused() {
    let oidc = OidcServer::start().await;
    oidc.put_user("carol", "carol@example.org", true, "Carol")
        .await;
    let providers = providers(&oidc);
    let provider = corp(&providers);

    // Another browser's state.
    let (url, pending) = provider.start().await.unwrap();
    let location = oidc.authorize(&url, "carol").await;
    let mut callback = callback_params(&location);
    callback.state = Some("somebody-elses-state".into());
    let error = provider
        .finish(pending.clone(), callback)
        .await
        .unwrap_err();
    assert_eq!(error, AuthError::StateMismatch);

    // No state at all.
    let mut callback = callback_params(&location);
    callback.state = None;
    let error = provider
        .finish(pending.clone(), callback)
        .await
        .unwrap_err();
    assert_eq!(error, AuthError::StateMismatch);

    // A pending sign-in whose nonce is not the one the provider put in the ID token.
    let mut forged = pending;
    forged.nonce = Some("another-nonce".into());
    let error = provider
        .finish(forged, callback_params(&location))
        .await
        .unwrap_err();
    assert!(matches!(error, AuthError::InvalidToken(_)), "{error:?}");
}

#[tokio::test]
async fn a_sign_in_older_than_ten_minutes_has_expired() {
    let oidc = OidcServer::start().await;
    oidc.put_user("dave", "dave@example.org", true, "Dave")
        .await;
    let providers = providers(&oidc);
    let provider = corp(&providers);
    let (url, mut pending) = provider.start().await.unwrap();
    let location = oidc.authorize(&url, "dave").await;
    pending.created_at -= 601;
    let error = provider
        .finish(pending, callback_params(&location))
        .await
        .unwrap_err();
    assert_eq!(error, AuthError::Expired);
    assert_eq!(error.title(), "This sign-in link has expired");
}

#[tokio::test]
async fn a_code_cannot_be_used_twice() {
    let oidc = OidcServer::start().await;
    oidc.put_user("erin", "erin@example.org", true, "Erin")
        .await;
    let providers = providers(&oidc);
    let provider = corp(&providers);
    let (url, pending) = provider.start().await.unwrap();
    let location = oidc.authorize(&url, "erin").await;
    let callback = callback_params(&location);
    let first = provider
        .finish(pending.clone(), callback.clone())
        .await
        .unwrap();
    assert_eq!(first.subject, "erin");
    let error = provider.finish(pending, callback).await.unwrap_err();
    assert!(matches!(error, AuthError::CodeRejected(_)), "{error:?}");
}

#[tokio::test]
async fn an_unreachable_issuer_is_unavailable_not_a_crash() {
    // A port nothing listens on: discovery fails on start().
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut configs = BTreeMap::new();
    let config: folio_auth::ProviderConfig = toml::from_str(&format!(
        "kind = \"oidc\"\nclient_id = \"folio\"\nclient_secret = \"s\"\nissuer = \"http://127.0.0.1:{port}\"\n"
    ))
    .unwrap();
    configs.insert("corp".to_owned(), config);
    let providers = Providers::new(&configs, BASE_URL, Duration::from_secs(2)).unwrap();
    let error = corp(&providers).start().await.unwrap_err();
    assert!(
        matches!(error, AuthError::ProviderUnavailable(_)),
        "{error:?}"
    );
}
