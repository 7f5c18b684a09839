//! The whole conversation in a real browser: Debian's Chromium, driven through chromedriver,
//! against the real app and a real OpenID Connect server. A reader opens a post, signs in on
//! the provider's login page, comments, likes the post and signs out; a second reader replies
//! through the "Reply" link (moved under the comment by the page's script). A third logs in
//! with an emailed link, received by a real SMTP server, and comments.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write as _;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::TestApp;
use common::smtp::Smtp;
use fantoccini::{Client, ClientBuilder, Locator};
use folio_testkit::OidcServer;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: chromedriver and the browsers it started, even after a failed
        // assertion skipped closing the session.
        let _ = Command::new("kill")
            .arg("--")
            .arg(format!("-{}", self.child.id()))
            .status();
        let _ = self.child.wait();
    }
}

/// chromedriver on a free loopback port, or None (with the reason printed) when the browser
/// is not installed. On CI the test must not pass without it.
async fn start_driver(test: &str) -> Option<Driver> {
    let missing = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .find(|path| !std::path::Path::new(path).exists());
    if let Some(path) = missing {
        let how = "install it with `apt-get install -y chromium chromium-driver` (.ci/run does)";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{path} is missing: {how}");
        }
        // Straight to the process's stderr, past the test harness's capture (which hides
        // eprintln! of a passing test): a skipped browser test must not read as a silent ok.
        let _ = writeln!(
            std::io::stderr(),
            "\nSKIPPED: browser test ({test}): {path} not found; {how}\n"
        );
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let driver = Driver { child, port };
    let status = format!("http://127.0.0.1:{port}/status");
    for _ in 0..100 {
        if reqwest::get(&status).await.is_ok() {
            return Some(driver);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not answer on port {port}");
}

async fn browser(driver: &Driver, profile: &tempfile::TempDir) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        serde_json::json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,1600",
                format!("--user-data-dir={}", profile.path().display()),
            ]
        }),
    );
    let _ = rustls::crypto::ring::default_provider().install_default();
    ClientBuilder::rustls()
        .expect("rustls connector")
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("open a browser session")
}

async fn sign_in(browser: &Client, who: &str) {
    browser
        .find(Locator::Css("#respond a.social-login"))
        .await
        .expect("a Log in link under the post")
        .click()
        .await
        .unwrap();
    // The provider's own login page: type the user, press Authorize.
    let field = browser
        .wait()
        .for_element(Locator::Css("input[name=sub]"))
        .await
        .expect("the provider's login form");
    field.send_keys(who).await.unwrap();
    browser
        .find(Locator::XPath(
            "//button[not(@value='deny') and (@type='submit' or not(@type))]",
        ))
        .await
        .expect("the Authorize button")
        .click()
        .await
        .unwrap();
    browser
        .wait()
        .for_element(Locator::Css("form#commentform"))
        .await
        .expect("back on the post, at the comment form");
}

async fn sign_out(browser: &Client) {
    browser
        .find(Locator::Css(".logout-form button"))
        .await
        .expect("a Log out button")
        .click()
        .await
        .unwrap();
    browser
        .wait()
        .for_element(Locator::Css("#respond a.social-login"))
        .await
        .expect("signed out: the Log in links are back");
}

async fn post_comment(browser: &Client, text: &str) {
    browser
        .find(Locator::Css("textarea#comment"))
        .await
        .unwrap()
        .send_keys(text)
        .await
        .unwrap();
    browser
        .find(Locator::Css("#commentform #submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// A post by a new author, published an hour ago; its path.
async fn post_an_hour_ago(app: &TestApp, title: &str) -> String {
    let author = app.author("Writer").await;
    let post = app
        .post(
            &author,
            title,
            "Body of the post.",
            time::OffsetDateTime::now_utc() - time::Duration::hours(1),
        )
        .await;
    post.summary.path()
}

#[tokio::test]
async fn two_readers_converse_in_a_real_browser_or_skipped() {
    let Some(driver) = start_driver("two_readers_converse_in_a_real_browser_or_skipped").await
    else {
        return;
    };
    let oidc = OidcServer::start().await;
    oidc.put_user("alice", "alice@example.org", true, "Alice Reader")
        .await;
    oidc.put_user("bob", "bob@example.org", true, "Bob Replier")
        .await;
    let provider = oidc.provider_config();
    let app = TestApp::spawn_with(move |settings| {
        settings.auth.providers.insert("sso".to_owned(), provider);
        settings.comments.moderation = "off".to_owned();
    })
    .await;
    let path = post_an_hour_ago(&app, "Browsers Read Too").await;
    let post_url = app.url(&path);

    let profile = tempfile::tempdir().unwrap();
    let browser = browser(&driver, &profile).await;
    let outcome = async {
        browser.goto(&post_url).await.unwrap();
        sign_in(&browser, "alice").await;
        assert_eq!(browser.current_url().await.unwrap().path(), path);
        post_comment(&browser, "Hello from a **real** browser.").await;
        let alice_comment = browser
            .wait()
            .for_element(Locator::Css("ol.comment-list > li.comment"))
            .await
            .expect("the comment in the thread");
        let alice_id = alice_comment.attr("id").await.unwrap().unwrap();
        assert!(
            alice_comment
                .html(false)
                .await
                .unwrap()
                .contains("<strong>real</strong>")
        );

        browser
            .find(Locator::Css("button.like-button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let summary = browser
            .wait()
            .for_element(Locator::Css("button.like-button.liked"))
            .await
            .expect("the post is liked");
        drop(summary);
        let likes = browser
            .find(Locator::Css(".likes-summary"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(likes, "You like this.");
        sign_out(&browser).await;

        sign_in(&browser, "bob").await;
        // The script moves the form under the comment being answered.
        browser
            .find(Locator::Css(&format!("#{alice_id} .comment-reply-link")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let parent_field = browser
            .find(Locator::Css("#comment_parent"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap();
        assert_eq!(
            Some(alice_id.trim_start_matches("comment-").to_owned()),
            parent_field
        );
        post_comment(&browser, "And a reply from Bob.").await;
        let reply = browser
            .wait()
            .for_element(Locator::Css(&format!(
                "#{alice_id} ol.children > li.comment"
            )))
            .await
            .expect("the reply nested under Alice's comment");
        assert!(
            reply
                .text()
                .await
                .unwrap()
                .contains("And a reply from Bob.")
        );
        let likes = browser
            .find(Locator::Css(".likes-summary"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(likes, "One blogger likes this.");
        assert!(
            browser
                .find(Locator::Css(".likes-avatars img[alt='Alice Reader']"))
                .await
                .is_ok(),
            "Alice's avatar is among the likers"
        );
        sign_out(&browser).await;
    }
    .await;
    browser.close().await.unwrap();
    outcome
}

#[tokio::test]
async fn a_reader_logs_in_with_an_emailed_link_and_comments_or_skipped() {
    let Some(driver) =
        start_driver("a_reader_logs_in_with_an_emailed_link_and_comments_or_skipped").await
    else {
        return;
    };
    let smtp = Smtp::start();
    let smtp_port = smtp.port;
    let app = TestApp::spawn_with(move |settings| {
        settings.auth.email.enabled = true;
        settings.comments.moderation = "off".to_owned();
        settings.mail.transport = folio_server::config::MailTransport::Smtp;
        settings.mail.smtp_url = format!("smtp://127.0.0.1:{smtp_port}");
        settings.mail.poll_milliseconds = 50;
        settings.mail.timeout_seconds = 5;
    })
    .await;
    let path = post_an_hour_ago(&app, "Letters Welcome").await;

    let profile = tempfile::tempdir().unwrap();
    let browser = browser(&driver, &profile).await;
    let outcome = async {
        browser.goto(&app.url(&path)).await.unwrap();
        browser
            .find(Locator::Css("#respond a.signin-email"))
            .await
            .expect("a Log in with email link under the post")
            .click()
            .await
            .unwrap();
        browser
            .wait()
            .for_element(Locator::Css("input#signin-email"))
            .await
            .expect("the email form")
            .send_keys("dana@example.org")
            .await
            .unwrap();
        browser
            .find(Locator::Css("form.signin-email-form button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let answer = browser
            .wait()
            .for_element(Locator::Css("section.signin-email .page-content"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(answer.contains("dana@example.org"), "{answer}");

        // The link from the email, opened in the same browser, as a mail client would.
        let link = smtp.wait_for("dana@example.org", 1).await[0].first_link();
        browser.goto(&link).await.unwrap();
        browser
            .wait()
            .for_element(Locator::Css("form.signin-email-confirm button"))
            .await
            .expect("the link's page asks to press Log in")
            .click()
            .await
            .unwrap();
        browser
            .wait()
            .for_element(Locator::Css("form#commentform"))
            .await
            .expect("back on the post, signed in, at the comment form");
        assert_eq!(browser.current_url().await.unwrap().path(), path);

        post_comment(&browser, "Written after logging in by *email*.").await;
        let comment = browser
            .wait()
            .for_element(Locator::Css("ol.comment-list > li.comment"))
            .await
            .expect("the comment in the thread");
        let html = comment.html(false).await.unwrap();
        assert!(html.contains("<em>email</em>"), "{html}");
        assert!(html.contains("dana"), "the commenter's name: {html}");
        sign_out(&browser).await;
    }
    .await;
    browser.close().await.unwrap();
    outcome
}
