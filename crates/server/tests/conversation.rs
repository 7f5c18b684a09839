//! The conversation under a post, over HTTP as a reader's browser has it: signing in through a
//! real OpenID provider and through GitHub-, Discord-, Facebook- and X-shaped stand-ins,
//! commenting, replying, moderation, the limits that keep it clean, CSRF, likes and the
//! reader's own account.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{
    Idp, Reader, TestApp, comment_html, comment_id_of, comment_list, csrf_of, days_ago, location,
};
use folio_auth::ProviderKind;
use folio_domain::{CommentStatus, Role};
use folio_server::Settings;
use folio_storage::NewComment;
use folio_testkit::{OAuthStandIn, OidcServer, StandInUser};

/// A site with one post and GitHub-shaped sign-in (the stand-in), every comment approved at
/// once and no rate limits unless `configure` says otherwise.
struct Site {
    app: TestApp,
    github: OAuthStandIn,
    post_id: i64,
    path: String,
}

const READERS: [(u64, &str, &str); 3] = [
    (1, "octocat", "The Octocat"),
    (2, "hubot", "Hubot Robot"),
    (3, "mona", "Mona Lisa"),
];

fn standin_with_readers() -> OAuthStandIn {
    let standin = OAuthStandIn::start();
    for (id, login, name) in READERS {
        standin.add_user(StandInUser {
            id,
            login: login.into(),
            name: Some(name.into()),
            email: Some(format!("{login}@example.org")),
            email_verified: true,
            avatar_url: Some(format!("https://avatars.example/{login}.png")),
        });
    }
    standin
}

fn quiet_comments(settings: &mut Settings) {
    settings.comments.moderation = "off".into();
    settings.comments.per_user_per_minute = 0;
    settings.comments.per_address_per_minute = 0;
}

async fn site(configure: impl FnOnce(&mut Settings)) -> Site {
    let github = standin_with_readers();
    let config = github.provider_config(ProviderKind::Github);
    let app = TestApp::spawn_with(|s| {
        s.auth.providers.insert("github".into(), config);
        quiet_comments(s);
        configure(s);
    })
    .await;
    let author = app.author("Alice Writer").await;
    let post = app
        .post(
            &author,
            "Hello Conversation",
            "The post's body.",
            days_ago(1),
        )
        .await;
    Site {
        path: post.summary.path(),
        post_id: post.summary.id,
        app,
        github,
    }
}

impl Site {
    async fn reader(&self, login: &str) -> Reader {
        let reader = Reader::new(&self.app);
        let landed = reader
            .sign_in(Idp::StandIn(&self.github), "github", login, &self.path)
            .await;
        assert_eq!(landed, self.path);
        reader
    }

    async fn comment_count(&self) -> i64 {
        self.app.count("SELECT COUNT(*) AS n FROM comments").await
    }

    /// The post as a reader without a session sees it, once the page cache has noticed the
    /// latest write (it polls the database's content version).
    async fn anonymous_page(&self) -> String {
        self.app.settle().await;
        self.app.page(&self.path).await
    }
}

/// Asserts a refused comment: the status, the reason, and the text back in the textarea.
async fn assert_refused(response: reqwest::Response, status: u16, reason: &str, text: &str) {
    let got = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(got, status, "{body}");
    assert!(body.contains(reason), "reason {reason:?} missing: {body}");
    let textarea = body
        .split("name=\"comment\"")
        .nth(1)
        .unwrap_or_else(|| panic!("no comment form on the refusal page: {body}"));
    let kept = textarea
        .split_once('>')
        .map(|(_, rest)| rest.split("</textarea>").next().unwrap_or(""))
        .unwrap_or("");
    assert_eq!(kept, text, "the text was not kept in the form");
}

// ---------------------------------------------------------------------------------------
// Signing in

#[tokio::test]
async fn signs_in_with_an_openid_provider_and_lands_back_at_the_form() {
    let oidc = OidcServer::start().await;
    oidc.put_user("alice", "alice@example.org", true, "Alice Liddell")
        .await;
    let config = oidc.provider_config();
    let app = TestApp::spawn_with(|s| {
        s.auth.providers.insert("corp".into(), config);
        quiet_comments(s);
    })
    .await;
    let author = app.author("Writer").await;
    let post = app.post(&author, "A Post", "Words.", days_ago(1)).await;
    let path = post.summary.path();

    // The anonymous page offers the provider, pointing back at the form.
    let page = app.page(&path).await;
    assert!(page.contains("Log in with Corp"), "{page}");
    let href = page
        .split("href=\"/auth/corp/login?return_to=")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no sign-in link: {page}"));
    assert!(
        [
            format!("{path}%23respond"),
            format!("{}%23respond", path.replace('/', "%2F"))
        ]
        .contains(&href.to_owned()),
        "the sign-in link does not come back to the form: {href}"
    );

    let reader = Reader::new(&app);
    let return_to = format!("{path}#respond");
    let authorize = reader.start_sign_in("corp", &return_to).await;
    assert!(authorize.starts_with(&oidc.issuer()), "{authorize}");
    for part in ["code_challenge_method=S256", "state=", "nonce="] {
        assert!(authorize.contains(part), "{part} missing: {authorize}");
    }
    let before = reader
        .session_cookie()
        .expect("a session holds the pending sign-in");
    let back = oidc.authorize(&authorize, "alice").await;
    let response = reader.callback(&back).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), return_to);
    let set_cookie: Vec<String> = response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let session = set_cookie
        .iter()
        .find(|c| c.starts_with("folio_session="))
        .unwrap_or_else(|| panic!("no new session cookie at sign-in: {set_cookie:?}"));
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Lax"), "{session}");
    assert!(!session.contains("Secure"), "plain http site: {session}");
    let after = reader.session_cookie().unwrap();
    assert_ne!(before, after, "the session id must change at sign-in");

    let page = reader.page(&path).await;
    assert!(
        page.contains("Logged in as <a href=\"/account\">Alice Liddell</a>"),
        "{page}"
    );
    assert!(page.contains("id=\"commentform\""), "{page}");

    // Someone who planted or kept the id from before sign-in is not signed in with it.
    let planted = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = planted
        .get(app.url(&path))
        .header(reqwest::header::COOKIE, format!("folio_session={before}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("Alice Liddell"), "{page}");
    assert!(!page.contains("id=\"commentform\""));
}

#[tokio::test]
async fn signs_in_with_github_discord_facebook_and_x_shaped_providers() {
    let standin = standin_with_readers();
    let configs = [
        ("github", ProviderKind::Github, "GitHub"),
        ("discord", ProviderKind::Discord, "Discord"),
        ("facebook", ProviderKind::Facebook, "Facebook"),
        ("x", ProviderKind::Twitter, "X"),
    ];
    let app = TestApp::spawn_with(|s| {
        for (name, kind, _) in configs {
            s.auth
                .providers
                .insert(name.into(), standin.provider_config(kind));
        }
    })
    .await;
    let author = app.author("Writer").await;
    let post = app.post(&author, "A Post", "Words.", days_ago(1)).await;
    let path = post.summary.path();
    let choose = app.page("/auth/login?return_to=%2F").await;
    for (name, _, label) in configs {
        assert!(
            choose.contains(&format!("href=\"/auth/{name}/login?return_to="))
                && choose.contains(&format!(">Log in with {label}</a>")),
            "{label}: {choose}"
        );
    }
    for (name, _, label) in configs {
        let reader = Reader::new(&app);
        let landed = reader
            .sign_in(Idp::StandIn(&standin), name, "mona", &path)
            .await;
        assert_eq!(landed, path, "{label}");
        let page = reader.page(&path).await;
        assert!(
            page.contains("Logged in as <a href=\"/account\">Mona Lisa</a>"),
            "{label}: {page}"
        );
        let account = reader.page("/account").await;
        assert!(
            account.contains(&format!("<strong>{label}</strong>")),
            "{label}: {account}"
        );
    }
    // Four providers, four people: a provider is never trusted to vouch for another's user.
    assert_eq!(app.store.list_users().await.unwrap().len(), 5);
}

#[tokio::test]
async fn secure_cookie_when_the_site_is_https() {
    let standin = standin_with_readers();
    let config = standin.provider_config(ProviderKind::Github);
    let app = TestApp::spawn_with(|s| {
        s.site.base_url = s.site.base_url.replace("http://", "https://");
        s.auth.providers.insert("github".into(), config);
    })
    .await;
    let response = app.get("/auth/github/login?return_to=%2F").await;
    assert_eq!(response.status(), 303);
    let cookie = response
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .expect("the pending sign-in is kept in a session")
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("folio_session="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute}: {cookie}");
    }
    assert!(location(&response).contains("redirect_uri=https%3A%2F%2F127.0.0.1"));
}

/// A friendly page: the status, in the site's layout, saying `what`, with "Try again".
async fn assert_friendly(response: reqwest::Response, status: u16, what: &str) {
    let got = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(got, status, "{body}");
    assert!(
        body.contains("class=\"site-title\""),
        "not in the layout: {body}"
    );
    assert!(body.contains(what), "{what:?} missing: {body}");
    assert!(body.contains(">Try again</a>"), "no Try again link: {body}");
    assert!(!body.contains("Internal"), "{body}");
}

#[tokio::test]
async fn every_sign_in_failure_ends_on_a_friendly_page() {
    let oidc = OidcServer::start().await;
    oidc.put_user("alice", "alice@example.org", true, "Alice")
        .await;
    let standin = standin_with_readers();
    let oidc_config = oidc.provider_config();
    let github_config = standin.provider_config(ProviderKind::Github);
    let app = TestApp::spawn_with(|s| {
        s.auth.providers.insert("corp".into(), oidc_config);
        s.auth.providers.insert("github".into(), github_config);
        s.auth.timeout_seconds = 1;
    })
    .await;

    // Deny at the OpenID provider and at the stand-in.
    let reader = Reader::new(&app);
    let authorize = reader.start_sign_in("corp", "/").await;
    let back = oidc.deny(&authorize).await;
    assert_friendly(reader.callback(&back).await, 400, "Sign-in was cancelled").await;
    let authorize = reader.start_sign_in("github", "/").await;
    let back = standin.deny(&authorize).await;
    assert_friendly(reader.callback(&back).await, 400, "Sign-in was cancelled").await;

    // State mismatch: somebody else's answer arrives in this browser.
    let authorize = reader.start_sign_in("corp", "/").await;
    let back = oidc.authorize(&authorize, "alice").await;
    let mut forged = reqwest::Url::parse(&back).unwrap();
    let pairs: Vec<(String, String)> = forged
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" {
                "forged-state".into()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(pairs);
    assert_friendly(
        reader.callback(forged.as_str()).await,
        400,
        "could not be matched to your browser",
    )
    .await;

    // The callback replayed after a finished sign-in: no sign-in is pending any more.
    let authorize = reader.start_sign_in("github", "/").await;
    let back = standin.authorize(&authorize, "octocat").await;
    assert_eq!(reader.callback(&back).await.status(), 303);
    assert_friendly(reader.callback(&back).await, 400, "expired").await;

    // A callback in a browser that never started a sign-in.
    let stranger = Reader::new(&app);
    assert_friendly(
        stranger
            .get("/auth/github/callback?code=abc&state=def")
            .await,
        400,
        "expired",
    )
    .await;
    assert_friendly(stranger.get("/auth/corp/callback").await, 400, "expired").await;

    // The provider is down, then slower than auth.timeout_seconds.
    let reader = Reader::new(&app);
    standin.set_down(true);
    let authorize = reader.start_sign_in("github", "/").await;
    let back = standin.authorize(&authorize, "octocat").await;
    assert_friendly(reader.callback(&back).await, 502, "not answering").await;
    standin.set_down(false);
    standin.set_slow(Duration::from_secs(3));
    let authorize = reader.start_sign_in("github", "/").await;
    let back = standin.authorize(&authorize, "octocat").await;
    // Had Folio waited the provider out, the sign-in would have succeeded (303): the 502 is
    // the timeout at work.
    assert_friendly(reader.callback(&back).await, 502, "not answering").await;
    standin.set_slow(Duration::ZERO);
    // None of that signed anyone in.
    assert!(
        !signed_in(&reader).await,
        "a failed sign-in must not sign in"
    );
    assert_eq!(
        app.store.list_users().await.unwrap().len(),
        1,
        "only the one finished sign-in made a user"
    );
}

#[tokio::test]
async fn an_unreachable_openid_provider_is_a_friendly_page_at_the_start() {
    // A port that was free a moment ago: nothing answers there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = TestApp::spawn_with(|s| {
        s.auth.providers.insert(
            "corp".into(),
            folio_auth::ProviderConfig {
                kind: ProviderKind::Oidc,
                client_id: "folio-test".into(),
                client_secret: "secret".into(),
                label: Some("Company SSO".into()),
                auth_url: None,
                token_url: None,
                userinfo_url: None,
                emails_url: None,
                issuer: Some(format!("http://127.0.0.1:{port}")),
                scopes: None,
            },
        );
    })
    .await;
    let reader = Reader::new(&app);
    assert_friendly(
        reader.get("/auth/corp/login?return_to=%2F").await,
        502,
        "not answering",
    )
    .await;
    let unknown = reader.get("/auth/nosuch/login").await;
    assert_eq!(unknown.status(), 404);
    assert!(
        unknown
            .text()
            .await
            .unwrap()
            .contains("class=\"site-title\"")
    );
}

/// Whether the reader's session is signed in: /account answers, rather than sending them
/// to sign in.
async fn signed_in(reader: &Reader) -> bool {
    let response = reader.get("/account").await;
    match response.status().as_u16() {
        200 => true,
        303 => {
            assert!(location(&response).starts_with("/auth/login"));
            false
        }
        other => panic!("/account answered {other}"),
    }
}

#[tokio::test]
async fn return_to_another_site_is_refused() {
    let site = site(|_| {}).await;
    for evil in [
        "https://evil.example/",
        "//evil.example",
        "//evil.example/path",
        "/\\evil.example",
        "https:evil.example",
        "javascript:alert(1)",
        "/auth/github/login",
    ] {
        let reader = Reader::new(&site.app);
        let landed = reader
            .sign_in(Idp::StandIn(&site.github), "github", "octocat", evil)
            .await;
        assert_eq!(landed, "/", "return_to={evil}");
    }
    let reader = Reader::new(&site.app);
    let landed = reader
        .sign_in(
            Idp::StandIn(&site.github),
            "github",
            "octocat",
            "/2020/?x=1#frag",
        )
        .await;
    assert_eq!(landed, "/2020/?x=1#frag", "a path on this site is kept");
}

#[tokio::test]
async fn sign_out_needs_a_post_with_the_form_token_and_ends_the_session() {
    let site = site(|_| {}).await;
    let reader = site.reader("octocat").await;
    let session = reader.session_cookie().unwrap();
    let page = reader.page(&site.path).await;
    assert!(page.contains("action=\"/auth/logout\""), "{page}");
    let csrf = csrf_of(&page);

    // A GET only asks: the page offers the POST form, and the reader stays signed in.
    let get = reader.get("/auth/logout").await;
    assert_eq!(get.status(), 200);
    let ask = get.text().await.unwrap();
    assert!(
        ask.contains("Log out?") && ask.contains("method=\"post\" action=\"/auth/logout\""),
        "{ask}"
    );
    assert!(signed_in(&reader).await, "a GET signs nobody out");
    assert_eq!(reader.post_form("/auth/logout", &[]).await.status(), 403);
    assert_eq!(
        reader
            .post_form("/auth/logout", &[("_csrf", "forged")])
            .await
            .status(),
        403
    );
    assert!(signed_in(&reader).await, "refused sign-outs change nothing");

    let out = reader
        .post_form(
            "/auth/logout",
            &[("_csrf", &csrf), ("return_to", &site.path)],
        )
        .await;
    assert_eq!(out.status(), 303);
    assert_eq!(location(&out), site.path);
    assert!(!signed_in(&reader).await);
    let page = reader.page(&site.path).await;
    assert!(!page.contains("Logged in as"), "{page}");
    // The old session id is dead in the database, not just forgotten by this browser.
    let stolen = reqwest::Client::new()
        .get(site.app.url("/account"))
        .header(reqwest::header::COOKIE, format!("folio_session={session}"))
        .send()
        .await
        .unwrap();
    assert!(
        stolen.url().path().starts_with("/auth/login"),
        "the old session still works: {}",
        stolen.url()
    );
}

#[tokio::test]
async fn a_person_is_known_by_provider_and_subject_never_by_email() {
    let oidc = OidcServer::start().await;
    oidc.put_user("alice", "shared@example.org", true, "Alice")
        .await;
    let github = OAuthStandIn::start();
    github.add_user(StandInUser {
        id: 77,
        login: "mallory".into(),
        name: Some("Mallory".into()),
        email: Some("shared@example.org".into()),
        email_verified: true,
        avatar_url: None,
    });
    let oidc_config = oidc.provider_config();
    let github_config = github.provider_config(ProviderKind::Github);
    let app = TestApp::spawn_with(|s| {
        s.auth.providers.insert("corp".into(), oidc_config);
        s.auth.providers.insert("github".into(), github_config);
    })
    .await;
    let first = Reader::new(&app);
    first.sign_in(Idp::Oidc(&oidc), "corp", "alice", "/").await;
    // The same person again, in another browser, with a new name at the provider.
    oidc.put_user("alice", "shared@example.org", true, "Alice Liddell")
        .await;
    let again = Reader::new(&app);
    again.sign_in(Idp::Oidc(&oidc), "corp", "alice", "/").await;
    let users = app.store.list_users().await.unwrap();
    assert_eq!(users.len(), 1, "same (provider, subject), same user");
    assert_eq!(users[0].display_name, "Alice Liddell", "name refreshed");

    let mallory = Reader::new(&app);
    mallory
        .sign_in(Idp::StandIn(&github), "github", "mallory", "/")
        .await;
    let users = app.store.list_users().await.unwrap();
    assert_eq!(
        users.len(),
        2,
        "a second provider with the same email is someone else"
    );
    let account = mallory.page("/account").await;
    assert!(account.contains("Mallory"), "{account}");
    assert!(
        !account.contains("Alice"),
        "took over Alice's account: {account}"
    );
}

#[tokio::test]
async fn an_unverified_email_is_not_kept_as_the_users_address() {
    let oidc = OidcServer::start().await;
    oidc.put_user("bob", "bob@example.org", false, "Bob").await;
    let config = oidc.provider_config();
    let app = TestApp::spawn_with(|s| {
        s.auth.providers.insert("corp".into(), config);
    })
    .await;
    let reader = Reader::new(&app);
    reader
        .sign_in(Idp::Oidc(&oidc), "corp", "bob", "/account")
        .await;
    let users = app.store.list_users().await.unwrap();
    assert_eq!(users[0].email, None);
    assert!(!users[0].email_verified);
    let account = reader.page("/account").await;
    assert!(
        account.contains("did not confirm that bob@example.org"),
        "{account}"
    );
    assert!(
        account.contains("not verified by the provider"),
        "{account}"
    );
    assert!(account.contains("No verified email address"), "{account}");
}

#[tokio::test]
async fn a_role_granted_before_the_first_sign_in_applies_at_it() {
    let site = site(|s| s.comments.moderation = "always".into()).await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_folio"))
        .args(["user", "role", "github:OctoCat", "admin"])
        .env("FOLIO__DATABASE__URL", &site.app.database_url)
        .env("FOLIO__LOG__LEVEL", "warn")
        .env("FOLIO__AUTH__PROVIDERS__GITHUB__KIND", "github")
        .env("FOLIO__AUTH__PROVIDERS__GITHUB__CLIENT_ID", "id")
        .env("FOLIO__AUTH__PROVIDERS__GITHUB__CLIENT_SECRET", "secret")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let admin = site.reader("octocat").await;
    let other = site.reader("hubot").await;
    let users = site.app.store.list_users().await.unwrap();
    let role_of = |name: &str| users.iter().find(|u| u.display_name == name).unwrap().role;
    assert_eq!(role_of("The Octocat"), Role::Admin);
    assert_eq!(role_of("Hubot Robot"), Role::Reader);
    let page = admin.page(&site.path).await;
    assert!(page.contains("href=\"/admin/\">Dashboard</a>"), "{page}");
    // Moderators are never held, even when every comment is.
    let id = admin
        .comment_ok(&site.path, site.post_id, None, "Admin here.")
        .await;
    assert!(
        site.anonymous_page()
            .await
            .contains(&format!("id=\"comment-{id}\""))
    );
    let held = other
        .comment_ok(&site.path, site.post_id, None, "Reader here.")
        .await;
    assert!(
        !site
            .anonymous_page()
            .await
            .contains(&format!("id=\"comment-{held}\""))
    );
}

// ---------------------------------------------------------------------------------------
// Comments and replies

#[tokio::test]
async fn a_comment_renders_markdown_and_a_reply_nests_under_it() {
    let site = site(|_| {}).await;
    let octocat = site.reader("octocat").await;
    let hubot = site.reader("hubot").await;
    let first = octocat
        .comment_ok(
            &site.path,
            site.post_id,
            None,
            "Hello **world**, `code` and *more*.",
        )
        .await;
    let page = site.anonymous_page().await;
    let html = comment_html(&page, first).expect("the comment is shown");
    assert!(
        html.contains("<p>Hello <strong>world</strong>, <code>code</code> and <em>more</em>.</p>"),
        "{html}"
    );
    assert!(html.contains("The Octocat"), "{html}");
    assert!(
        html.contains("https://avatars.example/octocat.png"),
        "{html}"
    );
    assert!(
        page.contains("One thought on “Hello Conversation”"),
        "{page}"
    );

    // The Reply link works without JavaScript.
    let reply_link = format!("href=\"?replytocom={first}#respond\"");
    assert!(html.contains(&reply_link), "{html}");
    let reply_page = hubot
        .page(&format!("{}?replytocom={first}", site.path))
        .await;
    assert!(reply_page.contains("Reply to The Octocat"), "{reply_page}");
    assert!(
        reply_page.contains(&format!(
            "name=\"comment_parent\" id=\"comment_parent\" value=\"{first}\""
        )),
        "{reply_page}"
    );
    let reply = hubot
        .comment_ok(&site.path, site.post_id, Some(first), "I agree.")
        .await;
    let page = site.anonymous_page().await;
    let list = comment_list(&page);
    let parent_at = list.find(&format!("<li id=\"comment-{first}\"")).unwrap();
    let children_at = list[parent_at..].find("<ol class=\"children\">").unwrap() + parent_at;
    let reply_at = list.find(&format!("<li id=\"comment-{reply}\"")).unwrap();
    assert!(parent_at < children_at && children_at < reply_at, "{list}");
    assert!(
        list[reply_at..].starts_with(&format!(
            "<li id=\"comment-{reply}\" class=\"comment even depth-2"
        )) || list[reply_at..].contains("depth-2"),
        "{list}"
    );
    assert!(
        page.contains("2 thoughts on “Hello Conversation”"),
        "{page}"
    );
}

#[tokio::test]
async fn replies_stop_nesting_at_max_depth() {
    let site = site(|s| s.comments.max_depth = 2).await;
    let reader = site.reader("octocat").await;
    let top = reader
        .comment_ok(&site.path, site.post_id, None, "Top.")
        .await;
    let second = reader
        .comment_ok(&site.path, site.post_id, Some(top), "Second level.")
        .await;
    let page = site.anonymous_page().await;
    assert!(
        comment_html(&page, top)
            .unwrap()
            .contains("comment-reply-link")
    );
    let deepest = comment_html(&page, second).unwrap();
    assert!(deepest.contains("depth-2"), "{deepest}");
    assert!(
        !deepest.contains("comment-reply-link"),
        "no Reply at max depth: {deepest}"
    );
    // A hand-made form answering the deepest comment: kept, shown at the deepest level.
    let forged = reader
        .comment_ok(&site.path, site.post_id, Some(second), "Third level.")
        .await;
    let page = site.anonymous_page().await;
    let shown = comment_html(&page, forged).expect("the deeper reply is shown");
    assert!(shown.contains("depth-2"), "{shown}");
    let list = comment_list(&page);
    let top_at = list.find(&format!("<li id=\"comment-{top}\"")).unwrap();
    let forged_at = list.find(&format!("<li id=\"comment-{forged}\"")).unwrap();
    assert!(top_at < forged_at);
    assert_eq!(list.matches("<ol class=\"children\">").count(), 1, "{list}");
}

#[tokio::test]
async fn first_time_moderation_holds_the_first_comment_for_its_author_only() {
    let site = site(|s| s.comments.moderation = "first_time".into()).await;
    let octocat = site.reader("octocat").await;
    let hubot = site.reader("hubot").await;
    let held = octocat
        .comment_ok(&site.path, site.post_id, None, "My very first comment.")
        .await;
    let own = octocat.page(&site.path).await;
    let html = comment_html(&own, held).expect("its author sees it");
    assert!(html.contains("awaiting moderation"), "{html}");
    assert!(!html.contains("comment-reply-link"), "{html}");
    for (who, page) in [
        ("anonymous", site.anonymous_page().await),
        ("another reader", hubot.page(&site.path).await),
    ] {
        assert!(!page.contains("My very first comment"), "{who}: {page}");
        assert!(!page.contains(&format!("comment-{held}\"")), "{who}");
        assert!(!page.contains("thought on"), "{who}: counted: {page}");
        assert!(!page.contains("thoughts on"), "{who}: counted: {page}");
    }
    assert!(
        !own.contains("thought on"),
        "held comments are not counted: {own}"
    );
    let feed = site.app.page(&format!("{}feed/", site.path)).await;
    assert!(!feed.contains("My very first comment"), "{feed}");
    let home = site.app.page("/").await;
    assert!(
        !home.contains("1 Comment") && !home.contains("One thought"),
        "{home}"
    );
    // Nobody may reply to it yet.
    let response = hubot
        .comment(
            &site.path,
            site.post_id,
            Some(held),
            "A reply to a held one.",
        )
        .await;
    assert_eq!(response.status(), 422);

    // Once a moderator lets it through, the next one appears at once.
    approve(&site.app, held).await;
    site.app.settle().await;
    let next = octocat
        .comment_ok(&site.path, site.post_id, None, "And a second one.")
        .await;
    let page = site.anonymous_page().await;
    assert!(comment_html(&page, next).is_some(), "{page}");
    assert!(page.contains("2 thoughts on"), "{page}");
}

/// A moderator lets a held comment through (as the admin's Approve does): its place in the
/// thread moves with its status.
async fn approve(app: &TestApp, id: i64) {
    let moderator = app.author("Moderator").await;
    app.store
        .set_comments_status(&moderator, &[id], CommentStatus::Approved, |_| Vec::new())
        .await
        .unwrap();
}

#[tokio::test]
async fn always_holds_every_comment_and_off_holds_none() {
    let always = site(|s| s.comments.moderation = "always".into()).await;
    let reader = always.reader("octocat").await;
    let first = reader
        .comment_ok(&always.path, always.post_id, None, "One.")
        .await;
    approve(&always.app, first).await;
    let second = reader
        .comment_ok(&always.path, always.post_id, None, "Two.")
        .await;
    let page = always.anonymous_page().await;
    assert!(comment_html(&page, first).is_some());
    assert!(
        comment_html(&page, second).is_none(),
        "always: held even after an approval"
    );
    assert!(
        comment_html(&reader.page(&always.path).await, second)
            .unwrap()
            .contains("awaiting moderation")
    );

    let off = site(|s| s.comments.moderation = "off".into()).await;
    let reader = off.reader("octocat").await;
    let id = reader
        .comment_ok(&off.path, off.post_id, None, "Straight in.")
        .await;
    let html = comment_html(&off.anonymous_page().await, id).unwrap();
    assert!(!html.contains("awaiting moderation"), "{html}");
}

#[tokio::test]
async fn edit_within_the_window_and_refused_after_it_with_the_text_kept() {
    let site = site(|_| {}).await;
    let reader = site.reader("octocat").await;
    let id = reader
        .comment_ok(&site.path, site.post_id, None, "Frist!")
        .await;
    let page = reader.page(&site.path).await;
    assert!(
        comment_html(&page, id)
            .unwrap()
            .contains(&format!("href=\"/comments/{id}/edit\""))
    );
    let form = reader.page(&format!("/comments/{id}/edit")).await;
    assert!(form.contains(">Frist!</textarea>"), "{form}");
    let csrf = csrf_of(&form);
    let saved = reader
        .post_form(
            &format!("/comments/{id}/edit"),
            &[("comment", "First, *properly*."), ("_csrf", &csrf)],
        )
        .await;
    assert_eq!(saved.status(), 303);
    assert_eq!(location(&saved), format!("{}#comment-{id}", site.path));
    let html = comment_html(&site.anonymous_page().await, id).unwrap();
    assert!(html.contains("First, <em>properly</em>."), "{html}");
    assert!(html.contains("(edited)"), "{html}");

    // A comment written twenty minutes ago (the window is fifteen).
    let user = site.app.store.list_users().await.unwrap();
    let octocat = user
        .iter()
        .find(|u| u.display_name == "The Octocat")
        .unwrap();
    let old = site
        .app
        .store
        .create_comment(NewComment {
            post_id: site.post_id,
            parent_id: None,
            author_id: Some(octocat.id),
            author_name: octocat.display_name.clone(),
            author_url: None,
            source: "Old words.".into(),
            status: CommentStatus::Approved,
            created_at: Some(time::OffsetDateTime::now_utc() - time::Duration::minutes(20)),
            author_ip: None,
        })
        .await
        .unwrap()
        .id;
    let page = reader.page(&site.path).await;
    assert!(
        !comment_html(&page, old).unwrap().contains("/edit\""),
        "no Edit link after the window"
    );
    let shown = reader.page(&format!("/comments/{old}/edit")).await;
    assert!(!shown.contains("<textarea"), "{shown}");
    let refused = reader
        .post_form(
            &format!("/comments/{old}/edit"),
            &[("comment", "New words, too late."), ("_csrf", &csrf)],
        )
        .await;
    assert_eq!(refused.status(), 403);
    let body = refused.text().await.unwrap();
    assert!(body.contains("15 minutes"), "{body}");
    assert!(
        body.contains("New words, too late."),
        "the text is kept: {body}"
    );
    let deleted = reader
        .post_form(&format!("/comments/{old}/delete"), &[("_csrf", &csrf)])
        .await;
    assert_eq!(deleted.status(), 403);
    let html = comment_html(&site.anonymous_page().await, old).unwrap();
    assert!(html.contains("Old words."), "{html}");
}

#[tokio::test]
async fn deleting_your_own_comment_with_and_without_replies() {
    let site = site(|_| {}).await;
    let octocat = site.reader("octocat").await;
    let hubot = site.reader("hubot").await;
    let alone = octocat
        .comment_ok(&site.path, site.post_id, None, "Lonely.")
        .await;
    let answered = octocat
        .comment_ok(&site.path, site.post_id, None, "Answered.")
        .await;
    let reply = hubot
        .comment_ok(&site.path, site.post_id, Some(answered), "An answer.")
        .await;
    let csrf = octocat.csrf(&site.path).await;
    for id in [alone, answered] {
        let response = octocat
            .post_form(&format!("/comments/{id}/delete"), &[("_csrf", &csrf)])
            .await;
        assert_eq!(response.status(), 303, "{id}");
    }
    let page = site.anonymous_page().await;
    assert!(comment_html(&page, alone).is_none(), "{page}");
    assert!(!page.contains("Lonely."));
    let marker = comment_html(&page, answered).expect("kept as a marker");
    assert!(marker.contains("This comment was deleted."), "{marker}");
    assert!(
        !marker.contains("Answered.") && !marker.contains("The Octocat"),
        "{marker}"
    );
    assert!(comment_html(&page, reply).unwrap().contains("An answer."));
    // The feeds carry what is left: the reply, not an empty item for the deleted one.
    for feed in [format!("{}feed/", site.path), "/comments/feed/".to_owned()] {
        let xml = site.app.page(&feed).await;
        assert_eq!(xml.matches("<item>").count(), 1, "{feed}: {xml}");
        assert!(xml.contains("An answer."), "{feed}: {xml}");
    }
    // Re-posting the deleted text is not a duplicate.
    octocat
        .comment_ok(&site.path, site.post_id, None, "Lonely.")
        .await;
}

#[tokio::test]
async fn nobody_can_edit_or_delete_someone_elses_comment() {
    let site = site(|_| {}).await;
    let octocat = site.reader("octocat").await;
    let hubot = site.reader("hubot").await;
    let id = octocat
        .comment_ok(&site.path, site.post_id, None, "Mine.")
        .await;
    let html = comment_html(&hubot.page(&site.path).await, id).unwrap();
    assert!(!html.contains("/edit\""), "{html}");
    assert_eq!(
        hubot.get(&format!("/comments/{id}/edit")).await.status(),
        404
    );
    let csrf = hubot.csrf(&site.path).await;
    let edit = hubot
        .post_form(
            &format!("/comments/{id}/edit"),
            &[("comment", "Hijacked."), ("_csrf", &csrf)],
        )
        .await;
    assert!(
        matches!(edit.status().as_u16(), 403 | 404),
        "{}",
        edit.status()
    );
    let delete = hubot
        .post_form(&format!("/comments/{id}/delete"), &[("_csrf", &csrf)])
        .await;
    assert!(
        matches!(delete.status().as_u16(), 403 | 404),
        "{}",
        delete.status()
    );
    // Signed out: no form token to match, refused.
    let anonymous = site
        .app
        .client
        .post(site.app.url(&format!("/comments/{id}/delete")))
        .form(&[("_csrf", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 403);
    let html = comment_html(&site.anonymous_page().await, id).unwrap();
    assert!(
        html.contains("Mine.") && !html.contains("(edited)"),
        "{html}"
    );
}

// ---------------------------------------------------------------------------------------
// Keeping it clean

#[tokio::test]
async fn the_per_user_rate_limit_refuses_with_429_and_keeps_the_text() {
    let site = site(|s| s.comments.per_user_per_minute = 2).await;
    let reader = site.reader("octocat").await;
    reader
        .comment_ok(&site.path, site.post_id, None, "One.")
        .await;
    reader
        .comment_ok(&site.path, site.post_id, None, "Two.")
        .await;
    let third = reader
        .comment(&site.path, site.post_id, None, "Three, too fast.")
        .await;
    assert_refused(third, 429, "commenting too quickly", "Three, too fast.").await;
    // Another reader is not limited by this one.
    site.reader("hubot")
        .await
        .comment_ok(&site.path, site.post_id, None, "Hubot's one.")
        .await;
    assert_eq!(site.comment_count().await, 3);
}

#[tokio::test]
async fn the_per_address_rate_limit_counts_everyone_behind_one_address() {
    let site = site(|s| s.comments.per_address_per_minute = 2).await;
    let octocat = site.reader("octocat").await;
    let hubot = site.reader("hubot").await;
    octocat
        .comment_ok(&site.path, site.post_id, None, "One.")
        .await;
    hubot
        .comment_ok(&site.path, site.post_id, None, "Two.")
        .await;
    // A forged X-Forwarded-For from a peer that is not a trusted proxy changes nothing.
    let csrf = octocat.csrf(&site.path).await;
    let post_id = site.post_id.to_string();
    let response = octocat
        .client
        .post(octocat.url("/comments"))
        .header("x-forwarded-for", "203.0.113.9")
        .form(&[
            ("comment", "Three, from a made-up address."),
            ("comment_post_ID", post_id.as_str()),
            ("comment_parent", "0"),
            ("_csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_refused(
        response,
        429,
        "commenting too quickly",
        "Three, from a made-up address.",
    )
    .await;
    assert_eq!(site.comment_count().await, 2);
}

#[tokio::test]
async fn refused_comments_say_why_and_keep_the_text() {
    let site = site(|s| {
        s.comments.max_length = 60;
        s.comments.max_links = 1;
    })
    .await;
    let reader = site.reader("octocat").await;
    let csrf = reader.csrf(&site.path).await;
    let post_id = site.post_id.to_string();
    let honeypot = reader
        .post_form(
            "/comments",
            &[
                ("comment", "Buy now"),
                ("comment_post_ID", &post_id),
                ("comment_parent", "0"),
                ("_csrf", &csrf),
                ("url", "https://spam.example"),
            ],
        )
        .await;
    assert_refused(honeypot, 422, "looked automated", "Buy now").await;
    let long = "a".repeat(61);
    assert_refused(
        reader.comment(&site.path, site.post_id, None, &long).await,
        422,
        "the limit is 60",
        &long,
    )
    .await;
    let links = "See https://a.example and https://b.example";
    assert_refused(
        reader.comment(&site.path, site.post_id, None, links).await,
        422,
        "more than 1 links",
        links,
    )
    .await;
    assert_eq!(site.comment_count().await, 0, "nothing stored");
    reader
        .comment_ok(&site.path, site.post_id, None, "Said once.")
        .await;
    assert_refused(
        reader
            .comment(&site.path, site.post_id, None, "Said once.")
            .await,
        422,
        "already posted this comment",
        "Said once.",
    )
    .await;
    assert_eq!(site.comment_count().await, 1);

    let users = site.app.store.list_users().await.unwrap();
    let octocat = users
        .iter()
        .find(|u| u.display_name == "The Octocat")
        .unwrap();
    site.app
        .sql(&format!(
            "UPDATE users SET banned_at = created_at, ban_reason = 'spam' WHERE id = {}",
            octocat.id
        ))
        .await;
    assert_refused(
        reader
            .comment(&site.path, site.post_id, None, "Banned words.")
            .await,
        403,
        "may not comment",
        "Banned words.",
    )
    .await;
    assert_eq!(site.comment_count().await, 1);
}

#[tokio::test]
async fn closed_comments_show_no_form_and_refuse_posts() {
    let site = site(|s| s.comments.close_after_days = 14).await;
    let reader = site.reader("octocat").await;
    let csrf = reader.csrf(&site.path).await;
    let author = site.app.author("Closer").await;
    let closed = site
        .app
        .store
        .create_post(folio_storage::NewPost {
            kind: folio_domain::PostKind::Post,
            title: "Closed By Hand".into(),
            slug: None,
            source: "No talking.".into(),
            status: folio_domain::PostStatus::Published,
            published_at: Some(days_ago(2)),
            author_id: author.id,
            categories: vec![],
            tags: vec![],
            comments_open: false,
            featured_image: None,
            password: None,
            parent_id: None,
            sticky: false,
        })
        .await
        .unwrap();
    let old = site
        .app
        .post(&author, "Closed By Age", "Old news.", days_ago(30))
        .await;
    for post in [&closed, &old] {
        let path = post.summary.path();
        let page = reader.page(&path).await;
        assert!(page.contains("Comments are closed."), "{page}");
        assert!(!page.contains("id=\"commentform\""), "{page}");
        let id = post.summary.id.to_string();
        let response = reader
            .post_form(
                "/comments",
                &[
                    ("comment", "Let me in."),
                    ("comment_post_ID", &id),
                    ("comment_parent", "0"),
                    ("_csrf", &csrf),
                ],
            )
            .await;
        assert_eq!(response.status(), 403, "{path}");
        let body = response.text().await.unwrap();
        assert!(body.contains("Comments are closed"), "{body}");
    }
    assert_eq!(site.comment_count().await, 0);
}

#[tokio::test]
async fn a_ten_megabyte_body_is_refused_cleanly() {
    let site = site(|_| {}).await;
    let reader = site.reader("octocat").await;
    let csrf = reader.csrf(&site.path).await;
    let huge = "x".repeat(10 * 1024 * 1024);
    let post_id = site.post_id.to_string();
    let response = reader
        .post_form(
            "/comments",
            &[
                ("_csrf", csrf.as_str()),
                ("comment_post_ID", &post_id),
                ("comment", &huge),
            ],
        )
        .await;
    assert_eq!(response.status(), 413);
    let body = response.text().await.unwrap();
    assert!(body.contains("class=\"site-title\""), "{body}");
    assert!(body.contains("too much to send"), "{body}");
    assert_eq!(site.comment_count().await, 0);
    // The reader can carry on.
    reader
        .comment_ok(&site.path, site.post_id, None, "Shorter.")
        .await;
}

#[tokio::test]
async fn every_form_without_its_token_is_refused_and_changes_nothing() {
    let site = site(|_| {}).await;
    let reader = site.reader("octocat").await;
    let id = reader
        .comment_ok(&site.path, site.post_id, None, "Kept.")
        .await;
    let post_id = site.post_id.to_string();
    let comment_id = id.to_string();
    let routes: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/comments".into(),
            vec![
                ("comment", "Sneaky."),
                ("comment_post_ID", &post_id),
                ("comment_parent", &comment_id),
            ],
        ),
        (
            format!("/comments/{id}/edit"),
            vec![("comment", "Changed.")],
        ),
        (format!("/comments/{id}/delete"), vec![]),
        (format!("/likes/post/{}", site.post_id), vec![]),
        (format!("/likes/comment/{id}"), vec![]),
        ("/auth/logout".into(), vec![]),
        ("/account".into(), vec![("notify_replies", "1")]),
        (
            "/account/delete".into(),
            vec![("comments", "remove"), ("confirm", "1")],
        ),
    ];
    let notify_before = site.app.store.list_users().await.unwrap()[1].notify_replies;
    for (path, fields) in &routes {
        for token in [None, Some("forged-token"), Some("")] {
            let mut form = fields.clone();
            if let Some(token) = token {
                form.push(("_csrf", token));
            }
            let response = reader.post_form(path, &form).await;
            let status = response.status();
            let body = response.text().await.unwrap();
            assert_eq!(status, 403, "{path} with {token:?}: {body}");
            assert!(body.contains("Nothing was changed"), "{path}: {body}");
        }
    }
    assert!(signed_in(&reader).await);
    assert_eq!(site.comment_count().await, 1);
    assert_eq!(
        site.app.count("SELECT COUNT(*) AS n FROM post_likes").await,
        0
    );
    assert_eq!(
        site.app
            .count("SELECT COUNT(*) AS n FROM comment_likes")
            .await,
        0
    );
    let users = site.app.store.list_users().await.unwrap();
    assert_eq!(users.len(), 2, "account not deleted");
    assert_eq!(users[1].notify_replies, notify_before);
    let html = comment_html(&site.anonymous_page().await, id).unwrap();
    assert!(
        html.contains("Kept.") && !html.contains("(edited)"),
        "{html}"
    );
    // A token from another session is as good as a forged one.
    let other = site.reader("hubot").await;
    let foreign = other.csrf(&site.path).await;
    let response = reader
        .post_form(&format!("/comments/{id}/delete"), &[("_csrf", &foreign)])
        .await;
    assert_eq!(response.status(), 403);
    assert_eq!(site.comment_count().await, 1);
}

/// The tags of a piece of HTML, as written (`<a href=...>`), lower-cased.
fn tags_of(html: &str) -> Vec<String> {
    let mut tags = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let end = rest[start..]
            .find('>')
            .map_or(rest.len(), |e| e + start + 1);
        tags.push(rest[start..end].to_lowercase());
        rest = &rest[end..];
    }
    tags
}

#[tokio::test]
async fn an_xss_corpus_is_rendered_harmless() {
    let site = site(|s| s.comments.max_links = 20).await;
    let reader = site.reader("octocat").await;
    let baseline = site.anonymous_page().await.matches("<script").count();
    let corpus = [
        "<script>alert(1)</script>",
        "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
        "<scr<script>ipt>alert(2)</script>",
        "\"><script>alert(3)</script>",
        "[click](javascript:alert(4))",
        "[click](JaVaScRiPt:alert(5))",
        "[click](jav&#x09;ascript:alert(6))",
        "<javascript:alert(7)>",
        "![img](javascript:alert(8))",
        "<a href=\"javascript:alert(9)\">x</a>",
        "<img src=x onerror=alert(10)>",
        "<svg onload=alert(11)>",
        "<svg><script>alert(12)</script></svg>",
        "<p onmouseover=\"alert(13)\">hover</p>",
        "<iframe src=\"https://evil.example\"></iframe>",
        "<div style=\"background:url(javascript:alert(14))\">styled</div>",
        "<b>unclosed <i>markup <a href='",
        "<math><mi xlink:href=\"javascript:alert(15)\">x</mi></math>",
        "<object data=\"javascript:alert(16)\"></object>",
        "`<script>alert(17)</script>` in code",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxOCk8L3NjcmlwdD4=)",
        "<form action=https://evil.example><input name=x></form>",
        "<body onload=alert(19)>",
        "[ok](https://example.org/\" onclick=\"alert(20))",
        "![tracker](https://evil.example/pixel.png)",
    ];
    let mut ids = Vec::new();
    for text in corpus {
        ids.push((
            text,
            reader
                .comment_ok(&site.path, site.post_id, None, text)
                .await,
        ));
    }
    // A name from the provider is text too.
    site.github.add_user(StandInUser {
        id: 66,
        login: "evil".into(),
        name: Some("<script>alert('name')</script><img src=x onerror=alert(1)>".into()),
        email: None,
        email_verified: false,
        avatar_url: Some("\"><script>alert('avatar')</script>".into()),
    });
    let evil = site.reader("evil").await;
    let by_evil = evil.comment_ok(&site.path, site.post_id, None, "Hi.").await;
    like(&evil, &site.path, format!("/likes/post/{}", site.post_id)).await;
    for page in [site.anonymous_page().await, reader.page(&site.path).await] {
        assert_eq!(page.matches("<script").count(), baseline, "a script got in");
        assert!(!page.contains("<img src=x"), "{page}");
        let name = comment_html(&page, by_evil).unwrap();
        assert!(
            name.contains("&lt;script&gt;") || name.contains("&#60;script&#62;"),
            "the name is shown as text: {name}"
        );
        assert!(!page.contains("<script>alert"), "{page}");
        for (text, id) in &ids {
            let html = comment_html(&page, *id).unwrap_or_else(|| panic!("{text}: not shown"));
            let wrapper = "<div class=\"comment-content\">";
            let start = html.find(wrapper).unwrap() + wrapper.len();
            let content = &html[start..];
            let content = &content[..content.find("<div class=\"comment-actions\">").unwrap()];
            let content = &content[..content.rfind("</div>").unwrap()];
            for tag in tags_of(content) {
                let name: String = tag[1..]
                    .trim_start_matches('/')
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect();
                assert!(
                    !matches!(
                        name.as_str(),
                        "script"
                            | "svg"
                            | "img"
                            | "iframe"
                            | "object"
                            | "embed"
                            | "style"
                            | "math"
                            | "form"
                            | "input"
                            | "body"
                            | "div"
                            | "b"
                            | "i"
                            | "link"
                            | "meta"
                            | "base"
                    ),
                    "{text}: tag {tag} in {content}"
                );
                assert!(!tag.contains("javascript:"), "{text}: {tag}");
                assert!(!tag.contains("data:"), "{text}: {tag}");
                assert!(!tag.contains("style="), "{text}: {tag}");
                assert!(
                    !tag.split(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '/')
                        .any(|word| word.starts_with("on") && word.contains('=')),
                    "{text}: event handler in {tag}"
                );
            }
        }
    }
}

#[tokio::test]
async fn links_in_comments_are_nofollow_ugc_noopener() {
    let site = site(|_| {}).await;
    let reader = site.reader("octocat").await;
    let id = reader
        .comment_ok(
            &site.path,
            site.post_id,
            None,
            "Read [my post](https://example.org/post) please.",
        )
        .await;
    let html = comment_html(&site.anonymous_page().await, id).unwrap();
    let anchor = tags_of(&html)
        .into_iter()
        .find(|t| t.contains("href=\"https://example.org/post\""))
        .unwrap_or_else(|| panic!("{html}"));
    let rel = anchor
        .split("rel=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("no rel: {anchor}"));
    for word in ["nofollow", "ugc", "noopener"] {
        assert!(
            rel.split(' ').any(|w| w == word),
            "{word} missing: {anchor}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Likes

/// Presses a Like button (the form on `post`); returns where the site sends the reader.
async fn like(reader: &Reader, post: &str, action: String) -> String {
    let csrf = reader.csrf(post).await;
    let response = reader.post_form(&action, &[("_csrf", &csrf)]).await;
    assert_eq!(response.status(), 303, "{action}");
    location(&response)
}

#[tokio::test]
async fn likes_toggle_count_once_per_person_and_show_who() {
    let site = site(|_| {}).await;
    let octocat = site.reader("octocat").await;
    let hubot = site.reader("hubot").await;
    let anonymous = site.anonymous_page().await;
    assert!(
        anonymous.contains("Be the first to like this."),
        "{anonymous}"
    );
    assert!(
        anonymous.contains("href=\"/auth/login?return_to="),
        "{anonymous}"
    );
    let like = |reader, path| like(reader, &site.path, path);
    let post_like = format!("/likes/post/{}", site.post_id);
    assert_eq!(
        like(&octocat, post_like.clone()).await,
        format!("{}#likes", site.path)
    );
    let page = octocat.page(&site.path).await;
    assert!(page.contains("You like this."), "{page}");
    assert!(
        page.contains("aria-pressed=\"true\">Liked</button>"),
        "{page}"
    );
    assert!(page.contains("alt=\"The Octocat\""), "{page}");
    like(&hubot, post_like.clone()).await;
    let page = site.anonymous_page().await;
    assert!(page.contains("2 bloggers like this."), "{page}");
    assert!(
        page.contains("src=\"https://avatars.example/octocat.png\" alt=\"The Octocat\""),
        "{page}"
    );
    assert!(
        page.contains("src=\"https://avatars.example/hubot.png\" alt=\"Hubot Robot\""),
        "{page}"
    );
    // The same person in a second browser is still one like, and sees it as theirs.
    let octocat_again = site.reader("octocat").await;
    let page = octocat_again.page(&site.path).await;
    assert!(
        page.contains("2 bloggers like this.") && page.contains(">Liked</button>"),
        "{page}"
    );
    // Pressing again takes the like back.
    like(&octocat, post_like.clone()).await;
    let page = site.anonymous_page().await;
    assert!(page.contains("One blogger likes this."), "{page}");
    assert!(!page.contains("alt=\"The Octocat\""), "{page}");
    assert_eq!(
        site.app.count("SELECT COUNT(*) AS n FROM post_likes").await,
        1
    );

    // Comment likes.
    let id = octocat
        .comment_ok(&site.path, site.post_id, None, "Like me.")
        .await;
    like(&hubot, format!("/likes/comment/{id}")).await;
    like(&octocat, format!("/likes/comment/{id}")).await;
    let html = comment_html(&site.anonymous_page().await, id).unwrap();
    assert!(html.contains("2 likes"), "{html}");
    like(&hubot, format!("/likes/comment/{id}")).await;
    let html = comment_html(&hubot.page(&site.path).await, id).unwrap();
    assert!(html.contains("comment-like-count\">1<"), "{html}");
    assert!(html.contains("aria-pressed=\"false\""), "{html}");
    // Signed out, a like is refused.
    let anonymous = site
        .app
        .client
        .post(site.app.url(&post_like))
        .form(&[("_csrf", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 403);
}

#[tokio::test]
async fn pressing_like_many_times_at_once_counts_at_most_once() {
    let site = site(|_| {}).await;
    let reader = site.reader("octocat").await;
    let csrf = reader.csrf(&site.path).await;
    let action = format!("/likes/post/{}", site.post_id);
    let presses: Vec<_> = (0..6)
        .map(|_| {
            let request = reader
                .client
                .post(reader.url(&action))
                .form(&[("_csrf", csrf.as_str())]);
            tokio::spawn(request.send())
        })
        .collect();
    for press in presses {
        assert_eq!(press.await.unwrap().unwrap().status(), 303);
    }
    let likes = site.app.count("SELECT COUNT(*) AS n FROM post_likes").await;
    assert!(likes <= 1, "{likes} likes from one person");
}

/// Several readers commenting at the same moment: every comment is stored, none fails.
#[tokio::test]
async fn readers_commenting_at_once_all_get_through() {
    let site = site(|_| {}).await;
    let mut readers = Vec::new();
    for (_, login, _) in READERS {
        readers.push(site.reader(login).await);
    }
    let post_id = site.post_id.to_string();
    let mut posts = Vec::new();
    for (i, reader) in readers.iter().enumerate() {
        let csrf = reader.csrf(&site.path).await;
        for n in 0..3 {
            let request = reader.client.post(reader.url("/comments")).form(&[
                ("comment", format!("Reader {i}, comment {n}.").as_str()),
                ("comment_post_ID", &post_id),
                ("comment_parent", "0"),
                ("_csrf", &csrf),
            ]);
            posts.push(tokio::spawn(request.send()));
        }
    }
    for post in posts {
        let response = post.await.unwrap().unwrap();
        let status = response.status();
        assert_eq!(status, 303, "{}", response.text().await.unwrap());
    }
    assert_eq!(site.comment_count().await, 9);
}

// ---------------------------------------------------------------------------------------
// Caching, the account, long threads

#[tokio::test]
async fn anonymous_pages_stay_cacheable_and_signed_in_pages_private() {
    let site = site(|_| {}).await;
    let reader = site.reader("octocat").await;
    reader
        .comment_ok(&site.path, site.post_id, None, "Cache me.")
        .await;
    site.app.settle().await;
    let first = site.app.get(&site.path).await;
    assert_eq!(first.status(), 200);
    assert!(
        first.headers().get(reqwest::header::SET_COOKIE).is_none(),
        "anonymous GET set a cookie"
    );
    let etag = first
        .headers()
        .get(reqwest::header::ETAG)
        .expect("an ETag")
        .clone();
    let body = first.text().await.unwrap();
    assert!(!body.contains("Logged in as"), "{body}");
    assert!(
        !body.contains("name=\"_csrf\""),
        "a form token in a shared page: {body}"
    );
    let again = site
        .app
        .client
        .get(site.app.url(&site.path))
        .header(reqwest::header::IF_NONE_MATCH, etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert!(again.headers().get(reqwest::header::SET_COOKIE).is_none());

    let mine = reader.get(&site.path).await;
    assert_eq!(mine.status(), 200);
    assert_eq!(
        mine.headers()[reqwest::header::CACHE_CONTROL],
        "private, no-store"
    );
    // Never kept, so never revalidated: no ETag is computed for it.
    assert!(mine.headers().get(reqwest::header::ETAG).is_none());
    for path in ["/account", "/account/export"] {
        let response = reader.get(path).await;
        assert_eq!(
            response.headers()[reqwest::header::CACHE_CONTROL],
            "private, no-store",
            "{path}"
        );
    }
    // And the anonymous copy is not the reader's.
    let body = site.anonymous_page().await;
    assert!(!body.contains("Logged in as"), "{body}");
}

#[tokio::test]
async fn the_account_page_lists_identities_and_exports_the_readers_data() {
    let site = site(|_| {}).await;
    let reader = site.reader("octocat").await;
    let id = reader
        .comment_ok(&site.path, site.post_id, None, "For the record.")
        .await;
    let account = reader.page("/account").await;
    assert!(
        account.contains("<strong>GitHub</strong>: octocat — octocat@example.org (verified)"),
        "{account}"
    );
    assert!(account.contains("You wrote 1 comment here."), "{account}");
    let csrf = csrf_of(&account);
    let saved = reader
        .post_form("/account", &[("_csrf", &csrf), ("notify_replies", "1")])
        .await;
    assert_eq!(saved.status(), 303);
    let account = reader.page("/account").await;
    assert!(account.contains("Your settings were saved."), "{account}");
    assert!(account.contains("value=\"1\" checked"), "{account}");

    let export = reader.get("/account/export").await;
    assert_eq!(export.status(), 200);
    assert!(
        export.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let data: serde_json::Value = serde_json::from_str(&export.text().await.unwrap()).unwrap();
    assert_eq!(data["user"]["name"], "The Octocat");
    assert_eq!(data["user"]["notify_replies"], true);
    assert_eq!(data["identities"][0]["login"], "octocat");
    assert_eq!(data["comments"][0]["id"], id);
    assert!(
        data["comments"][0]["html"]
            .as_str()
            .unwrap()
            .contains("For the record.")
    );
    assert!(
        data["comments"][0]["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("{}#comment-{id}", site.path))
    );
    // Signed out, there is nothing to show or export.
    let anonymous = site.app.get("/account/export").await;
    assert_eq!(anonymous.status(), 303);
}

#[tokio::test]
async fn deleting_an_account_keeps_or_removes_the_comments_as_chosen() {
    let site = site(|_| {}).await;
    let keeper = site.reader("octocat").await;
    let remover = site.reader("hubot").await;
    let other = site.reader("mona").await;
    let kept = keeper
        .comment_ok(&site.path, site.post_id, None, "I stay.")
        .await;
    let alone = remover
        .comment_ok(&site.path, site.post_id, None, "I go.")
        .await;
    let answered = remover
        .comment_ok(&site.path, site.post_id, None, "I go, but was answered.")
        .await;
    let answer = other
        .comment_ok(&site.path, site.post_id, Some(answered), "An answer stays.")
        .await;

    like(&keeper, &site.path, format!("/likes/post/{}", site.post_id)).await;
    like(&remover, &site.path, format!("/likes/comment/{answer}")).await;
    let keeper_elsewhere = site.reader("octocat").await;
    // Without the confirmation box nothing happens.
    let csrf = keeper.csrf("/account").await;
    let unconfirmed = keeper
        .post_form("/account/delete", &[("_csrf", &csrf), ("comments", "keep")])
        .await;
    assert_eq!(unconfirmed.status(), 422);
    assert!(unconfirmed.text().await.unwrap().contains("Tick the box"));
    assert_eq!(site.app.store.list_users().await.unwrap().len(), 4);

    let gone = keeper
        .post_form(
            "/account/delete",
            &[("_csrf", &csrf), ("comments", "keep"), ("confirm", "1")],
        )
        .await;
    assert_eq!(gone.status(), 303);
    assert!(!signed_in(&keeper).await);
    assert!(
        !signed_in(&keeper_elsewhere).await,
        "every session of a deleted account ends"
    );
    let csrf = remover.csrf("/account").await;
    let gone = remover
        .post_form(
            "/account/delete",
            &[("_csrf", &csrf), ("comments", "remove"), ("confirm", "1")],
        )
        .await;
    assert_eq!(gone.status(), 303);
    assert!(!signed_in(&remover).await);

    let page = site.anonymous_page().await;
    let html = comment_html(&page, kept).unwrap();
    assert!(
        html.contains("I stay.") && html.contains("Deleted user"),
        "{html}"
    );
    assert!(!html.contains("The Octocat"), "{html}");
    assert!(
        comment_html(&page, alone).is_none() && !page.contains("I go."),
        "{page}"
    );
    assert!(
        comment_html(&page, answered)
            .unwrap()
            .contains("This comment was deleted.")
    );
    assert!(
        comment_html(&page, answer)
            .unwrap()
            .contains("An answer stays.")
    );
    let users = site.app.store.list_users().await.unwrap();
    assert_eq!(users.len(), 2, "{users:?}");
    assert_eq!(
        site.app.count("SELECT COUNT(*) AS n FROM identities").await,
        1
    );
    assert!(
        page.contains("Be the first to like this."),
        "likes went with the account: {page}"
    );
    assert!(
        !comment_html(&page, answer).unwrap().contains("like"),
        "{page}"
    );
    assert_eq!(
        site.app.count("SELECT COUNT(*) AS n FROM post_likes").await,
        0
    );
    assert_eq!(
        site.app
            .count("SELECT COUNT(*) AS n FROM comment_likes")
            .await,
        0
    );
    // Signing in again makes a new, empty account.
    let back = site.reader("octocat").await;
    assert!(
        back.page("/account")
            .await
            .contains("You wrote 0 comments here.")
    );
}

#[tokio::test]
async fn a_post_with_two_thousand_comments_still_renders() {
    let site = site(|_| {}).await;
    let mut batch = Vec::new();
    let start = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    for i in 0..1000 {
        batch.push(NewComment {
            post_id: site.post_id,
            parent_id: None,
            author_id: None,
            author_name: format!("Guest {i}"),
            author_url: None,
            source: format!("Top-level comment number {i}."),
            status: CommentStatus::Approved,
            created_at: Some(start + time::Duration::seconds(i)),
            author_ip: None,
        });
    }
    let tops = site.app.store.create_comments(batch).await.unwrap();
    let replies: Vec<NewComment> = tops
        .iter()
        .enumerate()
        .map(|(i, top)| NewComment {
            post_id: site.post_id,
            parent_id: Some(top.id),
            author_id: None,
            author_name: format!("Replier {i}"),
            author_url: None,
            source: format!("Reply number {i}."),
            status: CommentStatus::Approved,
            created_at: Some(start + time::Duration::seconds(2000 + i64::try_from(i).unwrap())),
            author_ip: None,
        })
        .collect();
    site.app.store.create_comments(replies).await.unwrap();
    site.app.settle().await;
    // 1,000 conversations of two comments, 50 conversations a page.
    let page = site.anonymous_page().await;
    assert_eq!(page.matches("<li id=\"comment-").count(), 100);
    assert!(
        page.contains("2000 thoughts on"),
        "{}",
        &page[..2000.min(page.len())]
    );
    let last = site
        .app
        .page(&format!("{}comment-page-20/", site.path))
        .await;
    assert!(last.contains("Top-level comment number 999.") && last.contains("Reply number 999."));
    let reader = site.reader("octocat").await;
    let mine = reader.page(&format!("{}comment-page-20/", site.path)).await;
    assert_eq!(mine.matches("<li id=\"comment-").count(), 100);
    // A new conversation starts page 21, and posting it lands there.
    let response = reader
        .comment(&site.path, site.post_id, None, "Number 2001.")
        .await;
    assert_eq!(response.status(), 303);
    let landed = location(&response);
    let id = comment_id_of(&landed);
    assert_eq!(
        landed,
        format!("{}comment-page-21/#comment-{id}", site.path)
    );
    site.app.settle().await;
    let newest = site
        .app
        .page(&format!("{}comment-page-21/", site.path))
        .await;
    assert!(comment_html(&newest, id).is_some());
}

/// Posts `texts` from one reader all at once; returns the statuses.
async fn burst(site: &Site, reader: &Reader, texts: &[String]) -> Vec<u16> {
    let csrf = reader.csrf(&site.path).await;
    let post_id = site.post_id.to_string();
    let mut posts = Vec::new();
    for text in texts {
        let request = reader.client.post(reader.url("/comments")).form(&[
            ("comment", text.as_str()),
            ("comment_post_ID", &post_id),
            ("comment_parent", "0"),
            ("_csrf", &csrf),
        ]);
        posts.push(tokio::spawn(request.send()));
    }
    let mut statuses = Vec::new();
    for post in posts {
        statuses.push(post.await.unwrap().unwrap().status().as_u16());
    }
    statuses.sort_unstable();
    statuses
}

#[tokio::test]
async fn a_burst_of_comments_cannot_outrun_the_rate_limit() {
    let site = site(|s| s.comments.per_user_per_minute = 2).await;
    let reader = site.reader("octocat").await;
    let texts: Vec<String> = (0..8).map(|n| format!("Burst {n}.")).collect();
    let statuses = burst(&site, &reader, &texts).await;
    assert_eq!(statuses, [303, 303, 429, 429, 429, 429, 429, 429]);
    assert_eq!(site.comment_count().await, 2);
}

#[tokio::test]
async fn a_double_clicked_post_button_stores_one_comment() {
    let site = site(|_| {}).await;
    let reader = site.reader("octocat").await;
    let texts = vec!["Clicked twice.".to_owned(); 4];
    let statuses = burst(&site, &reader, &texts).await;
    assert_eq!(statuses, [303, 422, 422, 422]);
    assert_eq!(site.comment_count().await, 1);
}

#[tokio::test]
async fn expired_sessions_are_refused_and_swept() {
    let app = TestApp::spawn().await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let session = |expires_at| folio_storage::StoredSession {
        data: "{}".to_owned(),
        expires_at,
    };
    app.store
        .save_session("old", None, session(now - 10))
        .await
        .unwrap();
    app.store
        .save_session("live", None, session(now + 3600))
        .await
        .unwrap();
    assert!(app.store.load_session("old", now).await.unwrap().is_none());
    // The server's own sweeper may have removed it first; either way it is gone after a sweep.
    assert!(app.store.delete_expired_sessions(now).await.unwrap() <= 1);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM sessions WHERE id = 'old'")
            .await,
        0
    );
    assert!(app.store.load_session("live", now).await.unwrap().is_some());
}

#[tokio::test]
async fn a_long_thread_continues_on_comment_pages() {
    let app = TestApp::spawn_with(|settings| settings.comments.per_page = 50).await;
    let author = app.author("Writer").await;
    let post = app
        .post(
            &author,
            "Much Discussed",
            "Body.",
            time::OffsetDateTime::now_utc() - time::Duration::days(1),
        )
        .await;
    let start = time::OffsetDateTime::now_utc() - time::Duration::hours(20);
    let batch = (0..120)
        .map(|n| NewComment {
            post_id: post.summary.id,
            parent_id: None,
            author_id: None,
            author_name: format!("Reader {n}"),
            author_url: None,
            source: format!("Thought number {n}."),
            status: CommentStatus::Approved,
            created_at: Some(start + time::Duration::minutes(n)),
            author_ip: None,
        })
        .collect();
    let comments = app.store.create_comments(batch).await.unwrap();
    let path = post.summary.path();
    let first = app.page(&path).await;
    assert_eq!(first.matches("class=\"comment ").count(), 50);
    assert!(first.contains("Thought number 0.") && !first.contains("Thought number 50."));
    assert!(first.contains(&format!("href=\"{path}comment-page-2/#comments\"")));
    assert!(
        first.contains("120 thoughts on"),
        "the heading counts every comment"
    );
    let third = app.page(&format!("{path}comment-page-3/")).await;
    assert_eq!(third.matches("class=\"comment ").count(), 20);
    assert!(third.contains("Thought number 119."));
    assert!(third.contains(&format!(
        "<link rel=\"canonical\" href=\"{}{path}comment-page-3/\">",
        app.address
    )));
    assert_eq!(
        app.get(&format!("{path}comment-page-4/")).await.status(),
        404
    );
    // WordPress links the first comment page as the post itself: the old address moves there.
    let first_page = app.get(&format!("{path}comment-page-1/")).await;
    assert_eq!(first_page.status(), 301);
    assert_eq!(first_page.headers()["location"], path.as_str());
    // A comment's permalink finds its page.
    let late = &comments[101];
    let response = app.get(&format!("/comments/{}/", late.id)).await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        format!("{path}comment-page-3/#comment-{}", late.id).as_str()
    );
    // The feed links each comment through that permalink, so a reader lands on its page.
    let feed = app.page(&format!("{path}feed/")).await;
    let channel = rss::Channel::read_from(feed.as_bytes()).unwrap();
    let newest = &channel.items[0];
    assert_eq!(
        newest.link.as_deref(),
        Some(format!("{}/comments/{}/", app.address, comments[119].id).as_str())
    );
    let landed = app
        .get(
            newest
                .link
                .as_deref()
                .unwrap()
                .trim_start_matches(&app.address),
        )
        .await;
    assert_eq!(
        landed.headers()["location"],
        format!("{path}comment-page-3/#comment-{}", comments[119].id).as_str()
    );
}
