//! A throw-away Folio site for benchmarks and screenshots: a demo database in a fresh folder
//! and `folio serve` on a free loopback port, stopped when the handle is dropped.

use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::{command_output, http, release_binary, sqlite_url};

pub struct Site {
    pub dir: PathBuf,
    pub database_url: String,
}

impl Site {
    /// Empties `dir` and fills a new SQLite database there with `folio demo ARGS`; returns the
    /// site and what `folio demo` printed.
    pub fn create(dir: &Path, demo_args: &[&str]) -> anyhow::Result<(Site, String)> {
        if dir.exists() {
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("cannot empty {}", dir.display()))?;
        }
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let site = Site {
            dir: dir.to_path_buf(),
            database_url: sqlite_url(&dir.join("folio.db")),
        };
        println!("Creating sample content in {} ...", dir.display());
        let started = Instant::now();
        let printed = command_output(
            Command::new(release_binary())
                .arg("demo")
                .args(demo_args)
                .env("FOLIO__DATABASE__URL", &site.database_url)
                .env("FOLIO__LOG__LEVEL", "warn"),
        )?;
        println!("  done in {:.1} s", started.elapsed().as_secs_f64());
        Ok((site, printed))
    }

    /// Starts `folio serve` on a free port and waits until `/readyz` answers 200.
    pub fn serve(&self) -> anyhow::Result<Server> {
        self.serve_with("folio-serve", &[])
    }

    /// `serve` with extra `FOLIO__…` settings, logging to `{name}.out`/`.err`.
    pub fn serve_with(&self, name: &str, settings: &[(&str, &str)]) -> anyhow::Result<Server> {
        let addr = free_address()?;
        let mut command = Command::new(release_binary());
        command
            .arg("serve")
            .env("FOLIO__DATABASE__URL", &self.database_url)
            .env("FOLIO__SERVER__BIND", addr.to_string())
            .env("FOLIO__SITE__BASE_URL", format!("http://{addr}"))
            .env("FOLIO__LOG__LEVEL", "warn")
            .envs(settings.iter().copied());
        let mut server = Server::start(name, command, addr, &self.dir)?;
        server.wait_until_ok("/readyz", Duration::from_secs(60))?;
        Ok(server)
    }
}

/// A background process we started; killed (by its own pid) when dropped, also on errors.
pub struct Server {
    name: String,
    child: Child,
    pub addr: SocketAddr,
    stderr_path: PathBuf,
}

impl Server {
    /// Spawns `command` with stdin from /dev/null and its output in `{dir}/{name}.{out,err}`,
    /// so no pipe can keep us waiting.
    pub fn start(
        name: &str,
        mut command: Command,
        addr: SocketAddr,
        dir: &Path,
    ) -> anyhow::Result<Server> {
        let stdout_path = dir.join(format!("{name}.out"));
        let stderr_path = dir.join(format!("{name}.err"));
        let stdout = File::create(&stdout_path)
            .with_context(|| format!("cannot create {}", stdout_path.display()))?;
        let stderr = File::create(&stderr_path)
            .with_context(|| format!("cannot create {}", stderr_path.display()))?;
        let shown = crate::describe(&command);
        let child = command
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("could not start `{shown}`"))?;
        Ok(Server {
            name: name.to_owned(),
            child,
            addr,
            stderr_path,
        })
    }

    pub fn wait_until_ok(&mut self, path: &str, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited ({status}) before it was ready: {}",
                    self.name,
                    self.last_error_line()
                );
            }
            match http::get(self.addr, path) {
                Ok(response) if response.status == 200 => return Ok(()),
                Ok(response) if Instant::now() > deadline => {
                    bail!(
                        "{} answered {} to GET {path} for {}s",
                        self.name,
                        response.status,
                        timeout.as_secs()
                    )
                }
                Err(error) if Instant::now() > deadline => {
                    bail!(
                        "{} was not ready after {}s: {error:#}",
                        self.name,
                        timeout.as_secs()
                    )
                }
                _ => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The most memory the process has held so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> anyhow::Result<u64> {
        let path = format!("/proc/{}/status", self.pid());
        let status =
            std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no VmHWM line in {path}"))
    }

    fn last_error_line(&self) -> String {
        std::fs::read_to_string(&self.stderr_path)
            .ok()
            .and_then(|text| {
                text.lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| format!("nothing on stderr ({})", self.stderr_path.display()))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Only the child we spawned, by its pid; it may already have exited.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback address nothing listens on right now.
pub fn free_address() -> anyhow::Result<SocketAddr> {
    let listener =
        TcpListener::bind("127.0.0.1:0").context("cannot find a free port on 127.0.0.1")?;
    Ok(listener.local_addr()?)
}
