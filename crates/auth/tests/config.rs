//! Configuration mistakes stop the start with a message that names the key.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use folio_auth::{AuthError, ProviderConfig, ProviderKind, Providers};

/// Parses `[auth.providers]` tables the way the server's config does.
fn parse(toml_text: &str) -> BTreeMap<String, ProviderConfig> {
    toml::from_str(toml_text).unwrap()
}

fn error_of(toml_text: &str) -> String {
    match Providers::new(
        &parse(toml_text),
        "https://blog.example",
        Duration::from_secs(5),
    ) {
        Ok(_) => panic!("expected an error for:\n{toml_text}"),
        Err(AuthError::Misconfigured(message)) => message,
        Err(other) => panic!("expected Misconfigured, got {other:?}"),
    }
}

#[test]
fn oidc_without_issuer_names_the_key() {
    let message = error_of(
        r#"
        [corp]
        kind = "oidc"
        client_id = "folio"
        client_secret = "s"
        "#,
    );
    assert!(
        message.starts_with("auth.providers.corp.issuer"),
        "{message}"
    );
}

#[test]
fn empty_client_id_names_the_key() {
    let message = error_of(
        r#"
        [github]
        kind = "github"
        client_id = ""
        client_secret = "s"
        "#,
    );
    assert!(
        message.starts_with("auth.providers.github.client_id"),
        "{message}"
    );
}

#[test]
fn a_bad_endpoint_override_names_the_key() {
    let message = error_of(
        r#"
        [gitlab]
        kind = "gitlab"
        client_id = "id"
        client_secret = "s"
        token_url = "not a url"
        "#,
    );
    assert!(
        message.starts_with("auth.providers.gitlab.token_url"),
        "{message}"
    );
}

#[test]
fn keys_for_other_kinds_are_refused() {
    let message = error_of(
        r#"
        [discord]
        kind = "discord"
        client_id = "id"
        client_secret = "s"
        emails_url = "https://discord.example/emails"
        "#,
    );
    assert!(
        message.starts_with("auth.providers.discord.emails_url"),
        "{message}"
    );
}

#[test]
fn a_name_that_cannot_be_a_path_segment_is_refused() {
    let message = error_of(
        r#"
        ["my sso"]
        kind = "google"
        client_id = "id"
        client_secret = "s"
        "#,
    );
    assert!(message.starts_with("auth.providers.my sso:"), "{message}");
}

#[test]
fn unknown_keys_and_kinds_are_refused_when_parsing() {
    let unknown_key = toml::from_str::<BTreeMap<String, ProviderConfig>>(
        "[github]\nkind = \"github\"\nclient_id = \"id\"\nclient_secret = \"s\"\nclient_secrt = \"typo\"\n",
    );
    assert!(
        unknown_key
            .unwrap_err()
            .to_string()
            .contains("client_secrt")
    );
    let unknown_kind = toml::from_str::<BTreeMap<String, ProviderConfig>>(
        "[mastodon]\nkind = \"mastodon\"\nclient_id = \"id\"\nclient_secret = \"s\"\n",
    );
    assert!(unknown_kind.is_err());
}

#[test]
fn a_bad_base_url_names_site_base_url() {
    let configs = parse(
        r#"
        [google]
        kind = "google"
        client_id = "id"
        client_secret = "s"
        "#,
    );
    let error = Providers::new(&configs, "blog.example", Duration::from_secs(5)).unwrap_err();
    assert!(error.to_string().starts_with("site.base_url"), "{error}");
}

#[test]
fn labels_defaults_and_overrides() {
    let providers = Providers::new(
        &parse(
            r#"
            [google]
            kind = "google"
            client_id = "id"
            client_secret = ""

            [gitlab]
            kind = "gitlab"
            client_id = "id"
            client_secret = "s"
            label = "Company GitLab"

            [sso]
            kind = "oidc"
            client_id = "id"
            client_secret = "s"
            issuer = "https://sso.example"

            [facebook]
            kind = "facebook"
            client_id = "id"
            client_secret = "s"
            "#,
        ),
        "https://blog.example/",
        Duration::from_secs(5),
    )
    .unwrap();
    let seen: Vec<_> = providers
        .iter()
        .map(|p| (p.name(), p.label(), p.kind()))
        .collect();
    assert_eq!(
        seen,
        [
            ("facebook", "Facebook", ProviderKind::Facebook),
            ("gitlab", "Company GitLab", ProviderKind::Gitlab),
            ("google", "Google", ProviderKind::Google),
            ("sso", "Sso", ProviderKind::Oidc),
        ]
    );
    assert_eq!(
        providers.get("sso").unwrap().callback_url(),
        "https://blog.example/auth/sso/callback"
    );
    assert!(providers.get("github").is_none());
    assert!(!providers.is_empty());
}
