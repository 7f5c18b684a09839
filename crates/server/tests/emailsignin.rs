//! "Log in with email" end to end: a real Folio over HTTP, its mail worker, and a real SMTP
//! server on loopback that receives the link.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::smtp::Smtp;
use common::{Idp, Reader, TestApp, csrf_of, location};
use folio_testkit::OidcServer;

async fn app_with_email_sign_in(smtp: &Smtp) -> TestApp {
    app_with(smtp, None).await
}

/// Email sign-in, plus the OpenID provider `corp` when given.
async fn app_with(smtp: &Smtp, oidc: Option<&OidcServer>) -> TestApp {
    let port = smtp.port;
    let corp = oidc.map(OidcServer::provider_config);
    TestApp::spawn_with(|s| {
        s.auth.email.enabled = true;
        if let Some(config) = corp {
            s.auth.providers.insert("corp".into(), config);
        }
        s.mail.transport = folio_server::config::MailTransport::Smtp;
        s.mail.smtp_url = format!("smtp://127.0.0.1:{port}");
        s.mail.poll_milliseconds = 50;
        s.mail.timeout_seconds = 5;
    })
    .await
}

/// Asks for a link for `email` through the form, as a browser does.
async fn ask_for_link(reader: &Reader, email: &str, return_to: &str) -> reqwest::Response {
    let page = reader
        .page(&format!(
            "/auth/email/login?return_to={}",
            return_to.replace('/', "%2F")
        ))
        .await;
    assert!(page.contains("name=\"email\""), "no email field: {page}");
    let csrf = csrf_of(&page);
    reader
        .post_form(
            "/auth/email/login",
            &[("_csrf", &csrf), ("email", email), ("return_to", return_to)],
        )
        .await
}

/// The link in the `n`th (from 1) sign-in email `address` received.
async fn link_in_mail(smtp: &Smtp, address: &str, n: usize) -> String {
    let mails = smtp.wait_for(address, n).await;
    let mail = &mails[n - 1];
    assert!(mail.subject().contains("log in"), "{}", mail.subject());
    mail.first_link()
}

/// Opens the link and presses "Log in"; the response to that press.
async fn follow_link(reader: &Reader, link: &str) -> reqwest::Response {
    let page = reader.get(link).await;
    assert_eq!(
        page.status(),
        200,
        "the link's page answered {}",
        page.status()
    );
    let html = page.text().await.unwrap();
    let csrf = csrf_of(&html);
    reader.post_form(link, &[("_csrf", &csrf)]).await
}

/// The name in the account bar, or `None` when not signed in (`/account` sends to sign-in).
async fn account_name(reader: &Reader) -> Option<String> {
    let response = reader.get("/account").await;
    if response.status() == 303 {
        return None;
    }
    let html = response.text().await.unwrap();
    let start = html.find("Logged in as <a href=\"/account\">")?;
    let rest = &html[start + "Logged in as <a href=\"/account\">".len()..];
    Some(rest[..rest.find('<')?].to_owned())
}

#[tokio::test]
async fn an_emailed_link_signs_the_reader_in_once_and_returns_them() {
    let smtp = Smtp::start();
    let app = app_with_email_sign_in(&smtp).await;
    let author = app.author("Ada Writer").await;
    let post = app
        .post(&author, "Bees", "About bees.", common::days_ago(1))
        .await;
    let post_path = post.summary.path();
    let reader = Reader::new(&app);

    let post_page = reader.page(&post_path).await;
    assert!(
        post_page.contains("href=\"/auth/email/login?return_to="),
        "no email choice under the post"
    );
    assert!(
        reader
            .page("/auth/login")
            .await
            .contains("Log in with email")
    );

    let response = ask_for_link(&reader, "  Reader@Example.ORG ", &post_path).await;
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("Check your email"));
    let link = link_in_mail(&smtp, "reader@example.org", 1).await;
    assert!(link.starts_with(&app.address), "{link}");

    // Only the hash of the link's secret is stored.
    let token = link.rsplit('/').next().unwrap();
    let hash = folio_storage::sign_in_token_hash(token);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM sign_in_tokens WHERE token_hash = '{hash}'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM sign_in_tokens WHERE token_hash = '{token}' OR email = '{token}'"
        ))
        .await,
        0
    );

    // Fetching the link (a mail scanner does) signs nobody in and does not spend it.
    let before = reader.session_cookie();
    let scanner = app.get(&link.replace(&app.address, "")).await;
    assert_eq!(scanner.status(), 200);
    assert_eq!(account_name(&reader).await, None);

    let response = follow_link(&reader, &link).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), post_path);
    assert_ne!(
        reader.session_cookie(),
        before,
        "the session id was renewed"
    );
    assert_eq!(account_name(&reader).await.as_deref(), Some("reader"));

    // The link works once.
    let again = Reader::new(&app);
    let replay = again.get(&link).await;
    assert_eq!(replay.status(), 410);
    assert!(replay.text().await.unwrap().contains("used already"));
    let csrf = csrf_of(&again.page("/auth/email/login").await);
    let replay = again.post_form(&link, &[("_csrf", &csrf)]).await;
    assert_eq!(replay.status(), 410);
    assert_eq!(account_name(&again).await, None);
}

#[tokio::test]
async fn an_expired_link_is_refused() {
    let smtp = Smtp::start();
    let app = app_with_email_sign_in(&smtp).await;
    let reader = Reader::new(&app);
    ask_for_link(&reader, "late@example.org", "/").await;
    let link = link_in_mail(&smtp, "late@example.org", 1).await;
    app.sql("UPDATE sign_in_tokens SET expires_at = created_at")
        .await;
    let page = reader.get(&link).await;
    assert_eq!(page.status(), 410);
    assert!(page.text().await.unwrap().contains("expired"));
    let csrf = csrf_of(&reader.page("/auth/email/login").await);
    let response = reader.post_form(&link, &[("_csrf", &csrf)]).await;
    assert_eq!(response.status(), 410);
    assert_eq!(account_name(&reader).await, None);
}

#[tokio::test]
async fn known_and_unknown_addresses_get_the_same_answer() {
    let smtp = Smtp::start();
    let app = app_with_email_sign_in(&smtp).await;
    app.author("Known Person").await;
    let reader = Reader::new(&app);
    let known = ask_for_link(&reader, "known.person@example.org", "/").await;
    let known_status = known.status();
    let known = known.text().await.unwrap();
    let unknown = ask_for_link(&reader, "nobody.here@example.org", "/").await;
    assert_eq!(unknown.status(), known_status);
    let unknown = unknown.text().await.unwrap();
    assert_eq!(
        known.replace("known.person@example.org", "ADDRESS"),
        unknown.replace("nobody.here@example.org", "ADDRESS")
    );
}

#[tokio::test]
async fn links_are_limited_per_address_and_per_network() {
    let smtp = Smtp::start();
    let app = app_with_email_sign_in(&smtp).await;
    let reader = Reader::new(&app);
    for _ in 0..3 {
        assert_eq!(
            ask_for_link(&reader, "eager@example.org", "/")
                .await
                .status(),
            200
        );
    }
    let refused = ask_for_link(&reader, "eager@example.org", "/").await;
    assert_eq!(refused.status(), 429);
    let text = refused.text().await.unwrap();
    assert!(text.contains("no email was sent"), "{text}");
    // Ten per network per hour: seven more addresses, then no more.
    for n in 0..7 {
        let address = format!("other{n}@example.org");
        assert_eq!(ask_for_link(&reader, &address, "/").await.status(), 200);
    }
    assert_eq!(
        ask_for_link(&reader, "eleventh@example.org", "/")
            .await
            .status(),
        429
    );
    smtp.wait_for("other6@example.org", 1).await;
    assert_eq!(smtp.to("eager@example.org").len(), 3);
    assert!(smtp.to("eleventh@example.org").is_empty());
}

#[tokio::test]
async fn a_forged_form_sends_nothing() {
    let smtp = Smtp::start();
    let app = app_with_email_sign_in(&smtp).await;
    let reader = Reader::new(&app);
    reader.page("/auth/email/login").await;
    let forged = reader
        .post_form(
            "/auth/email/login",
            &[("_csrf", "forged"), ("email", "victim@example.org")],
        )
        .await;
    assert_eq!(forged.status(), 403);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM sign_in_tokens").await
            + app
                .count("SELECT COUNT(*) AS n FROM mail_outbox WHERE kind = 'sign_in'")
                .await,
        0
    );
}

#[tokio::test]
async fn a_role_given_on_the_command_line_applies_at_the_first_email_sign_in() {
    let smtp = Smtp::start();
    let app = app_with_email_sign_in(&smtp).await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_folio"))
        .args(["user", "role", "email:Boss@Example.org", "admin"])
        .env("FOLIO__DATABASE__URL", &app.database_url)
        .env("FOLIO__AUTH__EMAIL__ENABLED", "true")
        .env("FOLIO__LOG__LEVEL", "warn")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let reader = Reader::new(&app);
    ask_for_link(&reader, "boss@example.org", "/").await;
    let link = link_in_mail(&smtp, "boss@example.org", 1).await;
    assert_eq!(follow_link(&reader, &link).await.status(), 303);
    assert_eq!(reader.get("/admin/").await.status(), 200);
}

#[tokio::test]
async fn an_imported_person_claims_their_account_by_email() {
    let smtp = Smtp::start();
    let app = app_with_email_sign_in(&smtp).await;
    // Made by an import: an address, no way to sign in yet.
    let imported = app.author("Grace Hopper").await;
    let reader = Reader::new(&app);
    ask_for_link(&reader, "Grace.Hopper@example.org", "/").await;
    let link = link_in_mail(&smtp, "grace.hopper@example.org", 1).await;
    assert_eq!(follow_link(&reader, &link).await.status(), 303);
    assert_eq!(
        account_name(&reader).await.as_deref(),
        Some("Grace Hopper"),
        "the imported account, with its name"
    );
    let user = app
        .store
        .find_user("email:grace.hopper@example.org")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.id, imported.id);
}

#[tokio::test]
async fn email_sign_in_is_off_unless_configured() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/auth/email/login").await.status(), 404);
    assert!(!app.page("/auth/login").await.contains("/auth/email/login"));
}

/// The ways of signing in `/account` lists, as "provider: login" lines.
async fn sign_in_methods(reader: &Reader) -> Vec<String> {
    let html = reader.page("/account").await;
    let start = html.find("<ul class=\"identities\">").unwrap();
    let end = start + html[start..].find("</ul>").unwrap();
    html[start..end]
        .split("<li><strong>")
        .skip(1)
        .map(|item| {
            let (provider, rest) = item.split_once("</strong>: ").unwrap();
            let login = rest.split(" — ").next().unwrap();
            format!("{provider}: {login}")
        })
        .collect()
}

/// Presses "Remove" next to the `index`th (from 0) way of signing in.
async fn remove_method(reader: &Reader, index: usize) -> reqwest::Response {
    let html = reader.page("/account").await;
    let form = html
        .split("action=\"/account/sign-in-methods/remove\"")
        .nth(index + 1)
        .expect("a Remove button");
    let value = |name: &str| {
        let marker = format!("name=\"{name}\" value=\"");
        let start = form.find(&marker).unwrap() + marker.len();
        form[start..start + form[start..].find('"').unwrap()].to_owned()
    };
    let (csrf, provider, subject) = (value("_csrf"), value("provider"), value("subject"));
    reader
        .post_form(
            "/account/sign-in-methods/remove",
            &[
                ("_csrf", &csrf),
                ("provider", &provider),
                ("subject", &subject),
            ],
        )
        .await
}

#[tokio::test]
async fn a_reader_adds_and_removes_ways_of_signing_in() {
    let smtp = Smtp::start();
    let oidc = OidcServer::start().await;
    oidc.put_user("alice", "alice@corp.example.org", true, "Alice Liddell")
        .await;
    let app = app_with(&smtp, Some(&oidc)).await;
    let reader = Reader::new(&app);
    ask_for_link(&reader, "alice@example.org", "/").await;
    let link = link_in_mail(&smtp, "alice@example.org", 1).await;
    assert_eq!(follow_link(&reader, &link).await.status(), 303);
    let me = app
        .store
        .find_user("email:alice@example.org")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sign_in_methods(&reader).await, ["email: alice@example.org"]);
    let account = reader.page("/account").await;
    assert!(
        !account.contains("/account/sign-in-methods/remove"),
        "the only way of signing in has no Remove button"
    );
    assert!(
        account.contains("href=\"/auth/corp/login?return_to=/account&#38;link=1\""),
        "{account}"
    );

    // Adding the OpenID account: the callback attaches it to this user.
    let authorize = reader.start_sign_in_linking("corp").await;
    let back = Idp::Oidc(&oidc).authorize(&authorize, "alice").await;
    let response = reader.callback(&back).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/account");
    assert!(
        reader
            .page("/account")
            .await
            .contains("You can now also log in with Corp")
    );
    assert_eq!(
        sign_in_methods(&reader).await,
        ["email: alice@example.org", "Corp: Alice Liddell"]
    );

    // Signing in with it later is the same person.
    let elsewhere = Reader::new(&app);
    elsewhere
        .sign_in(Idp::Oidc(&oidc), "corp", "alice", "/")
        .await;
    assert_eq!(account_name(&elsewhere).await, account_name(&reader).await);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM users WHERE id <> 0")
            .await,
        1,
        "one account, two ways in"
    );

    // A second address, by email link in this browser.
    let page = reader
        .page("/auth/email/login?return_to=%2Faccount&link=1")
        .await;
    assert!(page.contains("name=\"link\" value=\"1\""), "{page}");
    let csrf = csrf_of(&page);
    reader
        .post_form(
            "/auth/email/login",
            &[
                ("_csrf", &csrf),
                ("email", "alice@home.example.org"),
                ("return_to", "/account"),
                ("link", "1"),
            ],
        )
        .await;
    let link = link_in_mail(&smtp, "alice@home.example.org", 1).await;
    // Not in another browser: there it would slip the address into someone's account.
    let stranger = Reader::new(&app);
    assert_eq!(follow_link(&stranger, &link).await.status(), 403);
    assert_eq!(account_name(&stranger).await, None);
    assert_eq!(follow_link(&reader, &link).await.status(), 303);
    assert_eq!(sign_in_methods(&reader).await.len(), 3);

    // Removing: any but the last.
    assert_eq!(remove_method(&reader, 1).await.status(), 303);
    assert_eq!(
        sign_in_methods(&reader).await,
        ["email: alice@example.org", "email: alice@home.example.org"]
    );
    remove_method(&reader, 1).await;
    assert_eq!(sign_in_methods(&reader).await, ["email: alice@example.org"]);
    let csrf = csrf_of(&reader.page("/account").await);
    let last = reader
        .post_form(
            "/account/sign-in-methods/remove",
            &[
                ("_csrf", &csrf),
                ("provider", "email"),
                ("subject", "alice@example.org"),
            ],
        )
        .await;
    assert_eq!(last.status(), 303);
    assert!(reader.page("/account").await.contains("only way to log in"));
    assert_eq!(sign_in_methods(&reader).await, ["email: alice@example.org"]);
    assert_eq!(
        me.id,
        app.store
            .find_user("email:alice@example.org")
            .await
            .unwrap()
            .unwrap()
            .id
    );
}

#[tokio::test]
async fn an_identity_of_another_account_is_not_taken_over() {
    let smtp = Smtp::start();
    let oidc = OidcServer::start().await;
    oidc.put_user("bob", "bob@example.org", true, "Bob").await;
    let app = app_with(&smtp, Some(&oidc)).await;
    // Bob has his own account through the provider.
    let bob = Reader::new(&app);
    bob.sign_in(Idp::Oidc(&oidc), "corp", "bob", "/").await;
    // Mallory, signed in by email, tries to add Bob's provider account to hers.
    let mallory = Reader::new(&app);
    ask_for_link(&mallory, "mallory@example.org", "/").await;
    let link = link_in_mail(&smtp, "mallory@example.org", 1).await;
    follow_link(&mallory, &link).await;
    let authorize = mallory.start_sign_in_linking("corp").await;
    let back = Idp::Oidc(&oidc).authorize(&authorize, "bob").await;
    assert_eq!(mallory.callback(&back).await.status(), 303);
    assert!(
        mallory
            .page("/account")
            .await
            .contains("already logs in to another account")
    );
    assert_eq!(
        sign_in_methods(&mallory).await,
        ["email: mallory@example.org"]
    );
    assert_eq!(sign_in_methods(&bob).await, ["Corp: Bob"]);
}
