//! `cargo xtask dist`: the release archive an operator downloads, with its checksum.

use std::process::Command;

use anyhow::{Context, bail};

use crate::{build_release, command_output, release_binary, root, run_command};

pub fn run() -> anyhow::Result<()> {
    build_release()?;
    let root = root();
    let name = format!(
        "folio-{}-{}-linux",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH
    );
    let dist = root.join("target").join("dist");
    let staging = dist.join(&name);
    if staging.exists() {
        std::fs::remove_dir_all(&staging)
            .with_context(|| format!("cannot empty {}", staging.display()))?;
    }
    std::fs::create_dir_all(&staging)
        .with_context(|| format!("cannot create {}", staging.display()))?;

    std::fs::copy(release_binary(), staging.join("folio"))
        .context("cannot copy target/release/folio")?;
    for (entry, required) in [
        ("config", true),
        ("deploy", false),
        ("README.md", true),
        ("LICENSE", false),
    ] {
        let source = root.join(entry);
        if !source.exists() {
            if required {
                bail!(
                    "{entry} is missing from {}; the archive needs it",
                    root.display()
                );
            }
            continue;
        }
        // `cp -R` keeps folders whole and file modes as they are.
        run_command(Command::new("cp").arg("-R").arg(&source).arg(&staging))?;
    }

    let archive = format!("{name}.tar.gz");
    run_command(
        Command::new("tar")
            .arg("-C")
            .arg(&dist)
            .args(["-czf", &archive, &name])
            .current_dir(&dist),
    )?;
    let checksum = command_output(Command::new("sha256sum").arg(&archive).current_dir(&dist))?;
    let checksum_file = dist.join(format!("{archive}.sha256"));
    std::fs::write(&checksum_file, &checksum)
        .with_context(|| format!("cannot write {}", checksum_file.display()))?;
    std::fs::remove_dir_all(&staging)
        .with_context(|| format!("cannot remove {}", staging.display()))?;

    println!("{}", dist.join(&archive).display());
    println!("{}", checksum_file.display());
    Ok(())
}
