//! `cargo xtask dist [--debug | --binary FILE] [--out DIR]`: the release archive an operator
//! downloads, with its checksum. The archive unpacks into one folder, `folio-<version>-<arch>-linux/`, holding
//! the `folio` binary, `config/`, `deploy/`, `docs/operations.md`, README.md and LICENSE.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::{absolute, cargo_command, command_output, release_binary, root, run_command};

struct Options {
    debug: bool,
    /// Pack this binary instead of building one (tests pass the one cargo test built).
    binary: Option<PathBuf>,
    out: Option<PathBuf>,
}

fn parse(args: &[String]) -> anyhow::Result<Options> {
    let mut options = Options {
        debug: false,
        binary: None,
        out: None,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--debug" => options.debug = true,
            "--binary" => {
                let file = args.next().context("--binary needs a file")?;
                options.binary = Some(absolute(Path::new(file))?);
            }
            "--out" => {
                let dir = args.next().context("--out needs a folder")?;
                options.out = Some(absolute(Path::new(dir))?);
            }
            other => bail!(
                "unknown option `{other}` for dist; usage: cargo xtask dist [--debug | --binary FILE] [--out DIR]"
            ),
        }
    }
    Ok(options)
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let options = parse(args)?;
    let root = root();
    let binary = if let Some(binary) = options.binary {
        binary
    } else if options.debug {
        run_command(cargo_command().args(["build", "-p", "folio-server", "--bin", "folio"]))?;
        root.join("target").join("debug").join("folio")
    } else {
        run_command(cargo_command().args([
            "build",
            "--release",
            "--locked",
            "-p",
            "folio-server",
            "--bin",
            "folio",
        ]))?;
        release_binary()
    };
    let dist = options
        .out
        .unwrap_or_else(|| root.join("target").join("dist"));
    let name = format!(
        "folio-{}-{}-linux",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH
    );
    let (archive, checksum) = pack(&root, &binary, &dist, &name)?;
    println!("{}", archive.display());
    println!("{}", checksum.display());
    Ok(())
}

/// Stages the files under `dist/name/`, packs them as `dist/name.tar.gz` and writes
/// `dist/name.tar.gz.sha256` in `sha256sum -c` format.
fn pack(root: &Path, binary: &Path, dist: &Path, name: &str) -> anyhow::Result<(PathBuf, PathBuf)> {
    let staging = dist.join(name);
    if staging.exists() {
        std::fs::remove_dir_all(&staging)
            .with_context(|| format!("cannot empty {}", staging.display()))?;
    }
    std::fs::create_dir_all(staging.join("docs"))
        .with_context(|| format!("cannot create {}", staging.display()))?;

    std::fs::copy(binary, staging.join("folio"))
        .with_context(|| format!("cannot copy {}", binary.display()))?;
    for entry in [
        "config",
        "deploy",
        "README.md",
        "LICENSE",
        "LICENSE-MIT",
        "LICENSE-APACHE",
    ] {
        let source = root.join(entry);
        if !source.exists() {
            bail!(
                "{entry} is missing from {}; the archive needs it",
                root.display()
            );
        }
        // `cp -R` keeps folders whole and file modes (deploy/validate stays executable).
        run_command(Command::new("cp").arg("-R").arg(&source).arg(&staging))?;
    }
    let operations = root.join("docs").join("operations.md");
    std::fs::copy(&operations, staging.join("docs").join("operations.md"))
        .with_context(|| format!("cannot copy {}", operations.display()))?;

    let archive = format!("{name}.tar.gz");
    // Owner and group 0 so the archive does not carry the builder's user names.
    run_command(
        Command::new("tar")
            .args([
                "--owner=0",
                "--group=0",
                "--numeric-owner",
                "-czf",
                &archive,
                name,
            ])
            .current_dir(dist),
    )?;
    let checksum = command_output(Command::new("sha256sum").arg(&archive).current_dir(dist))?;
    let checksum_file = dist.join(format!("{archive}.sha256"));
    std::fs::write(&checksum_file, &checksum)
        .with_context(|| format!("cannot write {}", checksum_file.display()))?;
    std::fs::remove_dir_all(&staging)
        .with_context(|| format!("cannot remove {}", staging.display()))?;
    Ok((dist.join(archive), checksum_file))
}
