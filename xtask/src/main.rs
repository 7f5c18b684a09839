//! `cargo xtask ...`: developer and operator commands for a source checkout (matklad's xtask
//! convention; `.cargo/config.toml` defines the alias). Everything here runs the `folio`
//! binary or standard tools; nothing in the product depends on this crate.

mod bench;
mod ci;
mod comment_bench;
mod config_ref;
mod deploy;
mod dist;
mod http;
mod scale_bench;
mod screenshots;
mod site;
mod smtp_sink;
mod wordpress_bench;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, bail};

const HELP: &str = "\
Usage: cargo xtask <command> [options]

Trying it out
  try [--data DIR]                   a demo site (DIR/try.db, default ./data) with email sign-in on and
                                     emails printed in this terminal; log in as the demo admin clara@example.org
  demo [--data DIR] [-- DEMO-ARGS]   fill DIR/folio.db (default: ./data) with sample posts and comments
  screenshots                        PNGs of the front page and a post (desktop, phone) and of the admin's editor and moderation queue, in docs/screenshots/

Checks and releases
  ci                                 formatting, clippy, deploy/validate, tests on SQLite, then on PostgreSQL (as .ci/run)
  bench [--duration SECS] [--connections N] [--skip-import | --only-import | --only-markdown]
                                     load-test a demo site with wrk, time the costliest Markdown, then a
                                     10,000-post WordPress import; report in target/bench/report.md
                                     then big threads and the big archive (--skip-scale leaves it out)
  bench --only-comments [--binary FILE]
                                     comments stored/s by 40 signed-in readers (SQLite; also PostgreSQL
                                     when FOLIO_BENCH_POSTGRES_URL is set); --binary: measure FILE, no build
  bench --only-signed-in             a signed-in reader on the 50-comment post, beside the baseline
  bench --only-threads [--huge-thread]
                                     a post with 10,000 comments (--huge-thread: also 100,000), signed in
                                     and anonymous with the page cache off; peak RSS
  bench --only-scale                 a signed-in reader on 100,000 posts with 1,000,000 comments (SQLite;
                                     also PostgreSQL with FOLIO_BENCH_POSTGRES_URL); kept in target/bench/
  dist [--debug | --binary FILE] [--out DIR]
                                     release build packed as target/dist/folio-<version>-<arch>-linux.tar.gz (+ .sha256)
                                     (--debug: a debug build; --binary: pack FILE, no build; --out: another folder)
  validate-deploy                    YAML under deploy/ parses; FOLIO__ variables there are real keys (deploy/validate)
  config-reference [--check]         regenerate the configuration reference in docs/operations.md

Operating a site from a checkout (each runs `cargo run --release -p folio-server -- ...`)
  migrate [up|down|status]           folio migrate
  check-config [ARGS]                folio config check
  post-new FILE [ARGS]               folio post new --file FILE
  post-list [ARGS]                   folio post list
  create-admin USER                  folio user role USER admin (USER: id, email or provider:login)
  backup FILE                        folio backup FILE (consistent while the site serves)
  restore FILE                       folio restore FILE (into an empty database only)
  export FILE [ARGS]                 folio export FILE (Folio JSON; FILE.xml: WordPress WXR)
  import FILE                        folio import FILE (a Folio JSON export, into an empty database)
  import-wordpress FILE [--uploads DIR]
                                     folio import wordpress FILE
  mail-test ADDRESS                  folio mail test ADDRESS

  help                               this text
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line, with the chain of causes: scripts and people both read it.
            eprintln!("xtask: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> anyhow::Result<()> {
    let Some((command, rest)) = args.split_first() else {
        print!("{HELP}");
        return Ok(());
    };
    match command.as_str() {
        "help" | "--help" | "-h" => {
            print!("{HELP}");
            Ok(())
        }
        "demo" => demo(rest),
        "try" => try_it(rest),
        "screenshots" => no_options("screenshots", rest).and_then(|()| screenshots::run()),
        "bench" => bench::run(rest),
        "ci" => no_options("ci", rest).and_then(|()| ci::run()),
        "dist" => dist::run(rest),
        "validate-deploy" => deploy::run(rest),
        "config-reference" => config_ref::run(rest),
        "migrate" => folio(["migrate"], rest),
        "check-config" => folio(["config", "check"], rest),
        "post-new" => {
            let Some((file, extra)) = rest.split_first() else {
                bail!("post-new needs a Markdown file: cargo xtask post-new POST.md");
            };
            let file = absolute(Path::new(file))?;
            let mut args: Vec<OsString> =
                vec!["post".into(), "new".into(), "--file".into(), file.into()];
            args.extend(extra.iter().map(OsString::from));
            cargo_run_folio(&args)
        }
        "post-list" => folio(["post", "list"], rest),
        "create-admin" => match rest {
            [user] => folio(["user", "role", user.as_str(), "admin"], &[]),
            _ => bail!(
                "create-admin needs one user: cargo xtask create-admin github:octocat (or an id or email)"
            ),
        },
        "backup" => with_file("backup", &["backup"], rest),
        "restore" => with_file("restore", &["restore"], rest),
        "export" => with_file("export", &["export"], rest),
        "import" => with_file("import", &["import"], rest),
        "import-wordpress" => {
            // `folio` runs from the workspace root: a relative uploads folder is made absolute
            // here, as the file is.
            let mut rest = rest.to_vec();
            if let Some(at) = rest.iter().position(|a| a == "--uploads")
                && let Some(dir) = rest.get(at + 1)
            {
                rest[at + 1] = absolute(Path::new(dir))?.display().to_string();
            }
            with_file("import-wordpress", &["import", "wordpress"], &rest)
        }
        "mail-test" => match rest {
            [address] => folio(["mail", "test", address.as_str()], &[]),
            _ => bail!("mail-test needs one address: cargo xtask mail-test you@example.org"),
        },
        other => bail!("unknown command `{other}`; `cargo xtask help` lists them"),
    }
}

fn no_options(command: &str, rest: &[String]) -> anyhow::Result<()> {
    match rest.first() {
        Some(extra) => bail!("`{command}` takes no arguments (got `{extra}`)"),
        None => Ok(()),
    }
}

/// `cargo xtask demo [--data DIR] [-- DEMO-ARGS]`
fn demo(args: &[String]) -> anyhow::Result<()> {
    let mut data: Option<PathBuf> = None;
    let mut passthrough: Vec<OsString> = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--data" => {
                data = Some(PathBuf::from(
                    args.next().context("--data needs a directory")?,
                ))
            }
            "--" => passthrough.extend(args.by_ref().map(OsString::from)),
            other => bail!(
                "unknown option `{other}` for demo; usage: cargo xtask demo [--data DIR] [-- DEMO-ARGS]"
            ),
        }
    }
    let custom = data.is_some();
    let dir = match data {
        Some(dir) => absolute(&dir)?,
        None => root().join("data"),
    };
    let url = sqlite_url(&dir.join("folio.db"));
    let mut demo_args: Vec<OsString> = vec!["demo".into()];
    demo_args.extend(passthrough);
    let mut command = cargo_command();
    command
        .args(["run", "--release", "-p", "folio-server", "--"])
        .args(&demo_args);
    command
        .current_dir(root())
        .env("FOLIO__DATABASE__URL", &url);
    run_command(&mut command)?;

    println!();
    println!("Sample content is in {}.", dir.display());
    if custom {
        println!("Start the site:  FOLIO__DATABASE__URL={url} cargo run --release");
    } else {
        println!("Start the site:  cargo run --release");
    }
    println!("then open http://127.0.0.1:8080/ (or the [server] bind address in your config).");
    Ok(())
}

/// The demo's admin: email sign-in claims this account (it has an address and no sign-in yet).
const DEMO_ADMIN_EMAIL: &str = "clara@example.org";

/// `cargo xtask try [--data DIR]`: sample content on first run, then the site with email
/// sign-in on and mail printed to the terminal, so that a newcomer can comment (and reach
/// the admin) without registering anything anywhere.
fn try_it(args: &[String]) -> anyhow::Result<()> {
    let dir = match args {
        [] => root().join("data"),
        [flag, dir] if flag == "--data" => absolute(Path::new(dir))?,
        _ => bail!("usage: cargo xtask try [--data DIR]"),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let db = dir.join("try.db");
    let url = sqlite_url(&db);
    let site = |command: &mut Command| {
        command
            .args(["run", "--release", "-p", "folio-server", "--"])
            .current_dir(root())
            .env("FOLIO__DATABASE__URL", &url)
            .env("FOLIO__AUTH__EMAIL__ENABLED", "true")
            .env("FOLIO__MAIL__TRANSPORT", "log");
    };
    if !db.exists() {
        let mut command = cargo_command();
        site(&mut command);
        command.arg("demo");
        run_command(&mut command)?;
    }
    println!();
    println!("Trying Folio with sample content in {}.", db.display());
    println!(
        "Open http://127.0.0.1:8080/ (or your [server] bind address), choose \"Log in with email\""
    );
    println!("and type any address: the email with your log-in link is printed right here.");
    println!("The demo admin is {DEMO_ADMIN_EMAIL}: log in with that address to reach /admin/.");
    println!("Stop with Ctrl-C; delete {} to start over.", db.display());
    println!();
    let mut command = cargo_command();
    site(&mut command);
    command.arg("serve");
    run_command(&mut command)
}

/// `folio <fixed> FILE [extra]`, FILE made absolute first: cargo runs folio from the
/// workspace root, not from where the operator typed the command.
fn with_file(command: &str, fixed: &[&str], rest: &[String]) -> anyhow::Result<()> {
    let Some((file, extra)) = rest.split_first() else {
        bail!("{command} needs a file: cargo xtask {command} FILE");
    };
    let mut args: Vec<OsString> = fixed.iter().map(OsString::from).collect();
    args.push(absolute(Path::new(file))?.into());
    args.extend(extra.iter().map(OsString::from));
    cargo_run_folio(&args)
}

/// Runs `folio <fixed> <extra>` through cargo, from the workspace root.
fn folio<const N: usize>(fixed: [&str; N], extra: &[String]) -> anyhow::Result<()> {
    let mut args: Vec<OsString> = fixed.iter().map(OsString::from).collect();
    args.extend(extra.iter().map(OsString::from));
    cargo_run_folio(&args)
}

fn cargo_run_folio(args: &[OsString]) -> anyhow::Result<()> {
    let mut command = cargo_command();
    command
        .args(["run", "--release", "-p", "folio-server", "--"])
        .args(args)
        .current_dir(root());
    run_command(&mut command)
}

/// The workspace root: this crate's parent folder.
pub(crate) fn root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The cargo that runs us (cargo sets `CARGO`), so a rustup toolchain choice carries over.
pub(crate) fn cargo_command() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(root());
    // `cargo run` gave this process the variables it sets for a running package; build
    // scripts (ring's, for one) rerun when they change, so passing them on would rebuild
    // half the dependency tree whenever a build alternates between here and a shell.
    for (name, _) in std::env::vars_os() {
        let inherited_from_run = name.to_str().is_some_and(|n| {
            n.starts_with("CARGO_PKG_")
                || matches!(
                    n,
                    "CARGO_MANIFEST_DIR"
                        | "CARGO_MANIFEST_PATH"
                        | "CARGO_CRATE_NAME"
                        | "CARGO_BIN_NAME"
                        | "CARGO_PRIMARY_PACKAGE"
                        | "CARGO_RUSTC_CURRENT_DIR"
                )
        });
        if inherited_from_run {
            command.env_remove(&name);
        }
    }
    command
}

pub(crate) fn release_binary() -> PathBuf {
    // Where cargo put it: CARGO_TARGET_DIR when set (a target folder shared between checkouts).
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                root().join(dir)
            }
        })
        .unwrap_or_else(|| root().join("target"))
        .join("release")
        .join("folio")
}

pub(crate) fn build_release() -> anyhow::Result<()> {
    run_command(cargo_command().args(["build", "--release", "-p", "folio-server"]))
}

/// Runs a command with inherited stdio; a non-zero exit is an error naming the command.
pub(crate) fn run_command(command: &mut Command) -> anyhow::Result<()> {
    let shown = describe(command);
    let status = command
        .status()
        .with_context(|| format!("could not start `{shown}`"))?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(())
}

/// Runs a command and returns its stdout; stderr passes through.
pub(crate) fn command_output(command: &mut Command) -> anyhow::Result<String> {
    let shown = describe(command);
    let output = command
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("could not start `{shown}`"))?;
    if !output.status.success() {
        bail!("`{shown}` failed ({})", output.status);
    }
    String::from_utf8(output.stdout)
        .with_context(|| format!("`{shown}` printed something that is not UTF-8"))
}

pub(crate) fn describe(command: &Command) -> String {
    let mut shown = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        shown.push(' ');
        shown.push_str(&arg.to_string_lossy());
    }
    shown
}

pub(crate) fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))
}

pub(crate) fn sqlite_url(file: &Path) -> String {
    format!("sqlite://{}", file.display())
}

/// Looks a program up on `PATH`, as a shell would.
pub(crate) fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Installs a Debian package, refreshing the package lists only when the first try fails.
pub(crate) fn apt_install(package: &str) -> anyhow::Result<()> {
    println!("Installing {package} with apt-get...");
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "-q", package])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(std::process::Stdio::null())
            .status()
    };
    if install().is_ok_and(|status| status.success()) {
        return Ok(());
    }
    run_command(
        Command::new("apt-get")
            .args(["update", "-q"])
            .stdin(std::process::Stdio::null()),
    )
    .with_context(|| format!("installing {package} failed, and so did apt-get update"))?;
    let status = install().context("could not start apt-get")?;
    if !status.success() {
        bail!("`apt-get install -y {package}` failed ({status}); install {package} and retry");
    }
    Ok(())
}
