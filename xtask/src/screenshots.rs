//! `cargo xtask screenshots`: the front page and a post with a threaded conversation, at desktop
//! and phone widths, as PNGs in `docs/screenshots/`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::site::Site;
use crate::{apt_install, build_release, http, root};

const CHROMIUM: &str = "/usr/bin/chromium";
/// Width and height per device; a post is taller so that its conversation is in the picture.
const FRONT_SIZES: [(&str, u32, u32); 2] = [("desktop", 1280, 2000), ("phone", 390, 2400)];
const POST_SIZES: [(&str, u32, u32); 2] = [("desktop", 1280, 3600), ("phone", 390, 6400)];

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
            )?;
            println!("{} ({width}x{height}, {url})", file.display());
        }
    }
    Ok(())
}

fn screenshot(
    url: &str,
    file: &Path,
    width: u32,
    height: u32,
    profile: &Path,
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
}
