//! Sign-in against the OAuth2 stand-in shaped like GitHub, Discord, Facebook and X.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use folio_auth::{AuthError, Profile, ProviderConfig, ProviderKind, Providers};
use folio_testkit::{OAuthStandIn, StandInUser, callback_params};

const BASE_URL: &str = "https://blog.test";

fn providers(name: &str, config: ProviderConfig, timeout: Duration) -> Providers {
    let mut configs = BTreeMap::new();
    configs.insert(name.to_owned(), config);
    Providers::new(&configs, BASE_URL, timeout).unwrap()
}

fn octocat(email_verified: bool) -> StandInUser {
    StandInUser {
        id: 583231,
        login: "octocat".into(),
        name: Some("The Octocat".into()),
        email: Some("octocat@example.org".into()),
        email_verified,
        avatar_url: Some("https://avatars.example/u/583231".into()),
    }
}

/// start -> the provider's authorize page -> finish.
async fn sign_in(
    standin: &OAuthStandIn,
    providers: &Providers,
    name: &str,
    login: &str,
) -> Result<Profile, AuthError> {
    let provider = providers.get(name).unwrap();
    let (url, pending) = provider.start().await.unwrap();
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    assert!(pending.nonce.is_none());
    let location = standin.authorize(&url, login).await;
    assert!(
        location.starts_with(&format!("{BASE_URL}/auth/{name}/callback?")),
        "{location}"
    );
    provider.finish(pending, callback_params(&location)).await
}

#[tokio::test]
async fn github_sign_in_uses_the_primary_verified_email() {
    let standin = OAuthStandIn::start();
    standin.add_user(octocat(true));
    let providers = providers(
        "github",
        standin.provider_config(ProviderKind::Github),
        Duration::from_secs(5),
    );
    assert_eq!(providers.get("github").unwrap().label(), "GitHub");
    let profile = sign_in(&standin, &providers, "github", "octocat")
        .await
        .unwrap();
    assert_eq!(
        profile,
        Profile {
            provider: "github".into(),
            subject: "583231".into(),
            login: Some("octocat".into()),
            display_name: "The Octocat".into(),
            email: Some("octocat@example.org".into()),
            email_verified: true,
            avatar_url: Some("https://avatars.example/u/583231".into()),
            profile_url: Some("https://github.com/octocat".into()),
        }
    );
}

#[tokio::test]
async fn github_without_a_verified_primary_email_gives_no_email() {
    let standin = OAuthStandIn::start();
    standin.add_user(octocat(false));
    standin.add_user(StandInUser {
        id: 2,
        login: "nameless".into(),
        ..Default::default()
    });
    let providers = providers(
        "github",
        standin.provider_config(ProviderKind::Github),
        Duration::from_secs(5),
    );
    let profile = sign_in(&standin, &providers, "github", "octocat")
        .await
        .unwrap();
    assert_eq!(profile.email, None);
    assert!(!profile.email_verified);

    let profile = sign_in(&standin, &providers, "github", "nameless")
        .await
        .unwrap();
    assert_eq!(profile.display_name, "nameless");
    assert_eq!(profile.email, None);
}

#[tokio::test]
async fn discord_profile() {
    let standin = OAuthStandIn::start();
    standin.add_user(StandInUser {
        id: 80351110224678912,
        login: "nelly".into(),
        name: Some("Nelly".into()),
        email: Some("nelly@example.org".into()),
        email_verified: true,
        avatar_url: Some("set".into()),
    });
    let providers = providers(
        "discord",
        standin.provider_config(ProviderKind::Discord),
        Duration::from_secs(5),
    );
    let profile = sign_in(&standin, &providers, "discord", "nelly")
        .await
        .unwrap();
    assert_eq!(
        profile,
        Profile {
            provider: "discord".into(),
            subject: "80351110224678912".into(),
            login: Some("nelly".into()),
            display_name: "Nelly".into(),
            email: Some("nelly@example.org".into()),
            email_verified: true,
            avatar_url: Some(
                "https://cdn.discordapp.com/avatars/80351110224678912/av80351110224678912.png"
                    .into()
            ),
            profile_url: Some("https://discord.com/users/80351110224678912".into()),
        }
    );
}

#[tokio::test]
async fn facebook_profile() {
    let standin = OAuthStandIn::start();
    standin.add_user(StandInUser {
        id: 10158,
        login: "ignored".into(),
        name: Some("Mark Example".into()),
        email: Some("mark@example.org".into()),
        email_verified: true,
        avatar_url: Some("https://fb.example/pic.jpg".into()),
    });
    let providers = providers(
        "facebook",
        standin.provider_config(ProviderKind::Facebook),
        Duration::from_secs(5),
    );
    let profile = sign_in(&standin, &providers, "facebook", "ignored")
        .await
        .unwrap();
    assert_eq!(
        profile,
        Profile {
            provider: "facebook".into(),
            subject: "10158".into(),
            login: None,
            display_name: "Mark Example".into(),
            email: Some("mark@example.org".into()),
            email_verified: true,
            avatar_url: Some("https://fb.example/pic.jpg".into()),
            profile_url: None,
        }
    );
}

#[tokio::test]
async fn x_profile_has_a_handle_and_no_email() {
    let standin = OAuthStandIn::start();
    standin.add_user(StandInUser {
        id: 2244994945,
        login: "XDevelopers".into(),
        name: Some("Developers".into()),
        email: Some("never-shared@example.org".into()),
        email_verified: true,
        avatar_url: Some("https://pbs.example/x.jpg".into()),
    });
    let providers = providers(
        "x",
        standin.provider_config(ProviderKind::Twitter),
        Duration::from_secs(5),
    );
    assert_eq!(providers.get("x").unwrap().label(), "X");
    let profile = sign_in(&standin, &providers, "x", "XDevelopers")
        .await
        .unwrap();
    assert_eq!(
        profile,
        Profile {
            provider: "x".into(),
            subject: "2244994945".into(),
            login: Some("XDevelopers".into()),
            display_name: "Developers".into(),
            email: None,
            email_verified: false,
            avatar_url: Some("https://pbs.example/x.jpg".into()),
            profile_url: Some("https://x.com/XDevelopers".into()),
        }
    );
}

#[tokio::test]
async fn a_provider_that_is_down_is_unavailable() {
    let standin = OAuthStandIn::start();
    standin.add_user(octocat(true));
    standin.set_down(true);
    let providers = providers(
        "github",
        standin.provider_config(ProviderKind::Github),
        Duration::from_secs(5),
    );
    let error = sign_in(&standin, &providers, "github", "octocat")
        .await
        .unwrap_err();
    assert!(
        matches!(error, AuthError::ProviderUnavailable(_)),
        "{error:?}"
    );
    assert_eq!(error.title(), "The sign-in service is not answering");
    assert!(!error.explanation().contains("503"));
}

#[tokio::test]
async fn a_provider_slower_than_the_timeout_is_unavailable() {
    let standin = OAuthStandIn::start();
    standin.add_user(octocat(true));
    standin.set_slow(Duration::from_secs(3));
    let providers = providers(
        "github",
        standin.provider_config(ProviderKind::Github),
        Duration::from_millis(500),
    );
    let started = Instant::now();
    let error = sign_in(&standin, &providers, "github", "octocat")
        .await
        .unwrap_err();
    assert!(
        matches!(error, AuthError::ProviderUnavailable(_)),
        "{error:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn cancel_reuse_and_wrong_secret() {
    let standin = OAuthStandIn::start();
    standin.add_user(octocat(true));
    let providers = providers(
        "github",
        standin.provider_config(ProviderKind::Github),
        Duration::from_secs(5),
    );
    let provider = providers.get("github").unwrap();

    let (url, pending) = provider.start().await.unwrap();
    let location = standin.deny(&url).await;
    let error = provider
        .finish(pending, callback_params(&location))
        .await
        .unwrap_err();
    assert_eq!(error, AuthError::Denied);

    let (url, pending) = provider.start().await.unwrap();
    let callback = callback_params(&standin.authorize(&url, "octocat").await);
    provider
        .finish(pending.clone(), callback.clone())
        .await
        .unwrap();
    let error = provider.finish(pending, callback).await.unwrap_err();
    assert!(matches!(error, AuthError::CodeRejected(_)), "{error:?}");

    let wrong = providers_with_secret(&standin, "not-the-secret");
    let provider = wrong.get("github").unwrap();
    let (url, pending) = provider.start().await.unwrap();
    let callback = callback_params(&standin.authorize(&url, "octocat").await);
    let error = provider.finish(pending, callback).await.unwrap_err();
    assert!(matches!(error, AuthError::Misconfigured(_)), "{error:?}");
    assert!(!error.explanation().contains("not-the-secret"));
}

fn providers_with_secret(standin: &OAuthStandIn, secret: &str) -> Providers {
    let mut config = standin.provider_config(ProviderKind::Github);
    config.client_secret = secret.into();
    providers("github", config, Duration::from_secs(5))
}

#[tokio::test]
async fn a_sign_in_for_another_provider_is_refused() {
    let standin = OAuthStandIn::start();
    standin.add_user(octocat(true));
    let mut configs = BTreeMap::new();
    configs.insert(
        "github".to_owned(),
        standin.provider_config(ProviderKind::Github),
    );
    configs.insert(
        "discord".to_owned(),
        standin.provider_config(ProviderKind::Discord),
    );
    let providers = Providers::new(&configs, BASE_URL, Duration::from_secs(5)).unwrap();
    let names: Vec<_> = providers.iter().map(|p| p.name()).collect();
    assert_eq!(names, ["discord", "github"]);
    let (url, pending) = providers.get("github").unwrap().start().await.unwrap();
    let callback = callback_params(&standin.authorize(&url, "octocat").await);
    let error = providers
        .get("discord")
        .unwrap()
        .finish(pending, callback)
        .await
        .unwrap_err();
    assert_eq!(error, AuthError::StateMismatch);
}
