//! `cargo xtask screenshots`: the front page and a post with a threaded conversation, at desktop
//! and phone widths, and the admin's dashboard, posts, post editor and moderation queue (also on
//! a phone), as PNGs in
//! `docs/screenshots/`.
//!
//! Chromium takes no cookie on its command line, so the admin pages are taken through a small
//! loopback proxy that adds the session cookie of the demo's admin (opened with the hidden
//! `folio session-for`) to every request.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::site::Site;
use crate::{apt_install, build_release, command_output, http, release_binary, root};

const CHROMIUM: &str = "/usr/bin/chromium";
/// Width and height per device; a post is taller so that its conversation is in the picture.
const FRONT_SIZES: [(&str, u32, u32); 2] = [("desktop", 1280, 2000), ("phone", 390, 2400)];
const POST_SIZES: [(&str, u32, u32); 2] = [("desktop", 1280, 3600), ("phone", 390, 6400)];
/// The admin pages, at desktop width, and the moderation queue on a phone.
const ADMIN_SIZE: (u32, u32) = (1280, 1600);
const ADMIN_PHONE_SIZE: (u32, u32) = (390, 1400);
/// The demo's admin.
const ADMIN: &str = "clara@example.org";

pub fn run() -> anyhow::Result<()> {
    if !Path::new(CHROMIUM).exists() {
        apt_install("chromium")?;
    }
    build_release()?;
    let work = root().join("target").join("screenshots");
    let (site, _) = Site::create(&work.join("site"), &[])?;
    let server = site.serve()?;

    let front = http::get(server.addr, "/")?;
    if front.status != 200 {
        bail!("GET / answered {}, expected 200", front.status);
    }
    // The demo gives its newest post (the first on the front page) a threaded conversation.
    let post = first_post_link(&front.text()).context("the front page links to no post")?;

    let out_dir = root().join("docs").join("screenshots");
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let mut profile = 0;
    for (name, path, sizes) in [
        ("front", "/", FRONT_SIZES),
        ("post", post.as_str(), POST_SIZES),
    ] {
        for (device, width, height) in sizes {
            profile += 1;
            let file = out_dir.join(format!("{name}-{device}.png"));
            let url = format!("http://{}{path}", server.addr);
            screenshot(
                &url,
                &file,
                width,
                height,
                &site.dir.join(format!("chromium-profile-{profile}")),
                &[],
            )?;
            println!("{} ({width}x{height}, {url})", file.display());
        }
    }

    let cookie = command_output(
        Command::new(release_binary())
            .args(["session-for", ADMIN])
            .env("FOLIO__DATABASE__URL", &site.database_url)
            .env("FOLIO__LOG__LEVEL", "warn"),
    )?;
    let proxy = signed_in_proxy(server.addr, cookie.trim().to_owned())?;
    let posts = http::get(proxy, "/admin/posts")?;
    if posts.status != 200 {
        bail!("GET /admin/posts as {ADMIN} answered {}", posts.status);
    }
    let editor = first_editor_link(&posts.text()).context("/admin/posts links to no post")?;
    let (width, height) = ADMIN_SIZE;
    let (phone_width, phone_height) = ADMIN_PHONE_SIZE;
    for (name, path, width, height) in [
        ("admin-dashboard", "/admin/", width, height / 2),
        ("admin-posts", "/admin/posts", width, height),
        ("admin-editor", editor.as_str(), width, height),
        ("admin-moderation", "/admin/comments", width, height),
        (
            "admin-moderation-phone",
            "/admin/comments",
            phone_width,
            phone_height,
        ),
    ] {
        profile += 1;
        let file = out_dir.join(format!("{name}.png"));
        let url = format!("http://{proxy}{path}");
        screenshot(
            &url,
            &file,
            width,
            height,
            &site.dir.join(format!("chromium-profile-{profile}")),
            // Time for the editor's live preview to arrive.
            &["--virtual-time-budget=5000"],
        )?;
        println!(
            "{} ({width}x{height}, {path} signed in as {ADMIN})",
            file.display()
        );
    }
    Ok(())
}

/// A proxy on a free loopback port in front of `upstream` that signs every request in with
/// the `folio_session` cookie `cookie`, and closes each connection after one answer so that
/// every request passes through it. It runs until xtask exits.
fn signed_in_proxy(upstream: SocketAddr, cookie: String) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot listen on 127.0.0.1")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let cookie = cookie.clone();
            std::thread::spawn(move || {
                if let Err(error) = relay(client, upstream, &cookie) {
                    eprintln!("screenshot proxy: {error}");
                }
            });
        }
    });
    Ok(addr)
}

fn relay(mut client: TcpStream, upstream: SocketAddr, cookie: &str) -> anyhow::Result<()> {
    let timeout = Some(Duration::from_secs(30));
    client.set_read_timeout(timeout)?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte)? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
        if head.len() > 64 * 1024 {
            bail!("a request head over 64 KiB");
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n").filter(|line| !line.is_empty());
    let mut request = format!("{}\r\n", lines.next().unwrap_or_default());
    let mut body_length = 0usize;
    for line in lines {
        let name = line
            .split(':')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if name == "content-length" {
            body_length = line[line.find(':').map_or(line.len(), |i| i + 1)..]
                .trim()
                .parse()
                .context("a bad Content-Length")?;
        }
        if !matches!(name.as_str(), "cookie" | "connection" | "keep-alive") {
            request.push_str(line);
            request.push_str("\r\n");
        }
    }
    request.push_str(&format!(
        "Cookie: folio_session={cookie}\r\nConnection: close\r\n\r\n"
    ));
    let mut server = TcpStream::connect_timeout(&upstream, Duration::from_secs(2))?;
    server.set_read_timeout(timeout)?;
    server.write_all(request.as_bytes())?;
    let mut body = vec![0u8; body_length];
    client.read_exact(&mut body)?;
    server.write_all(&body)?;
    std::io::copy(&mut server, &mut client)?;
    Ok(())
}

/// The first `/admin/posts/N` link of the admin's post list: the newest post's editor.
fn first_editor_link(html: &str) -> Option<String> {
    html.match_indices("href=\"/admin/posts/")
        .find_map(|(at, quote)| {
            let rest = &html[at + quote.len()..];
            let id = &rest[..rest.find('"')?];
            (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
                .then(|| format!("/admin/posts/{id}"))
        })
}

fn screenshot(
    url: &str,
    file: &Path,
    width: u32,
    height: u32,
    profile: &Path,
    extra_args: &[&str],
) -> anyhow::Result<()> {
    if file.exists() {
        std::fs::remove_file(file).with_context(|| format!("cannot replace {}", file.display()))?;
    }
    let log = profile.with_extension("log");
    let log_file =
        std::fs::File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--window-size={width},{height}"))
        .arg(format!("--screenshot={}", file.display()))
        .args(extra_args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .spawn()
        .context("could not start chromium")?;
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "chromium took over 90 s on {url}; its log is {}",
                log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    if !status.success() || !file.exists() {
        bail!(
            "chromium made no screenshot of {url} ({status}); its log is {}",
            log.display()
        );
    }
    Ok(())
}

/// The first link of the form `/YYYY/MM/DD/slug/` in a page.
fn first_post_link(html: &str) -> Option<String> {
    html.match_indices("href=\"").find_map(|(at, quote)| {
        let rest = &html[at + quote.len()..];
        let link = &rest[..rest.find('"')?];
        is_post_path(link).then(|| link.to_owned())
    })
}

fn is_post_path(link: &str) -> bool {
    let Some(inner) = link.strip_prefix('/').and_then(|l| l.strip_suffix('/')) else {
        return false;
    };
    let parts: Vec<&str> = inner.split('/').collect();
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    matches!(parts.as_slice(), [y, m, d, slug]
        if digits(y, 4) && digits(m, 2) && digits(d, 2) && !slug.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_post_link() {
        let html = r#"<a href="/about/">About</a><a href="/2025/01/14/sales-isnt-adversarial/#comments">3</a>
            <a href="/2025/01/14/sales-isnt-adversarial/">Sales</a><a href="/2024/12/01/other/">Other</a>"#;
        assert_eq!(
            first_post_link(html).as_deref(),
            Some("/2025/01/14/sales-isnt-adversarial/")
        );
    }

    #[test]
    fn finds_the_first_editor_link() {
        let html = r#"<a href="/admin/posts/new">New</a><a href="/admin/posts?status=draft">Drafts</a>
            <a href="/admin/posts/48">Newest</a><a href="/admin/posts/47">Older</a>"#;
        assert_eq!(first_editor_link(html).as_deref(), Some("/admin/posts/48"));
    }
}
