//! `cargo xtask config-reference [--check]`: the configuration reference in
//! docs/operations.md, generated from the comments and values of config/default.toml, so the
//! two never disagree.

use std::path::Path;

use anyhow::{Context, bail};

use crate::root;

pub const BEGIN: &str = "<!-- BEGIN config-reference: generated from config/default.toml by `cargo xtask config-reference`; edit that file, not this section -->";
pub const END: &str = "<!-- END config-reference -->";

/// One key of config/default.toml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub section: String,
    pub name: String,
    pub default: String,
    pub doc: String,
}

impl Key {
    pub fn env_var(&self) -> String {
        format!(
            "FOLIO__{}__{}",
            self.section.replace('.', "__").to_uppercase(),
            self.name.to_uppercase()
        )
    }
}

/// A `[section]` of config/default.toml: its keys, and comment blocks that belong to no key
/// (such as commented-out example tables), kept as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub keys: Vec<Key>,
    pub notes: Vec<String>,
}

/// Every key of config/default.toml, in order.
pub fn parse(text: &str) -> anyhow::Result<Vec<Key>> {
    Ok(parse_sections(text)?
        .into_iter()
        .flat_map(|section| section.keys)
        .collect())
}

/// Reads `[section]` headers, `key = value` lines and the comment lines just above each key.
/// A comment block followed by a blank line (or nothing) is a note of its section; comments
/// before the first section are the file's preamble and left out.
pub fn parse_sections(text: &str) -> anyhow::Result<Vec<Section>> {
    let mut sections: Vec<Section> = Vec::new();
    let mut comment: Vec<&str> = Vec::new();
    let mut lines = text.lines().enumerate();
    let flush_note = |sections: &mut Vec<Section>, comment: &mut Vec<&str>| {
        if let Some(section) = sections.last_mut()
            && !comment.is_empty()
        {
            section.notes.push(comment.join("\n"));
        }
        comment.clear();
    };
    while let Some((number, raw)) = lines.next() {
        let line = raw.trim();
        if line.is_empty() {
            flush_note(&mut sections, &mut comment);
        } else if line.starts_with('#') {
            comment.push(line);
        } else if let Some(header) = line.strip_prefix('[') {
            flush_note(&mut sections, &mut comment);
            let name = header
                .strip_suffix(']')
                .with_context(|| format!("config/default.toml:{}: bad header", number + 1))?;
            sections.push(Section {
                name: name.trim().to_owned(),
                ..Section::default()
            });
        } else if let Some((name, value)) = line.split_once('=') {
            let section = sections.last_mut().with_context(|| {
                format!(
                    "config/default.toml:{}: key outside a [section]",
                    number + 1
                )
            })?;
            let mut value = value.trim().to_owned();
            // A multi-line array runs to its closing bracket.
            if value.starts_with('[') && !value.ends_with(']') {
                for (_, more) in lines.by_ref() {
                    value.push(' ');
                    value.push_str(more.trim());
                    if more.trim_end().ends_with(']') {
                        break;
                    }
                }
            }
            let doc: Vec<&str> = comment
                .iter()
                .map(|c| {
                    let text = c.trim_start_matches('#');
                    text.strip_prefix(' ').unwrap_or(text).trim_end()
                })
                .collect();
            section.keys.push(Key {
                section: section.name.clone(),
                name: name.trim().to_owned(),
                default: value,
                doc: doc.join(" "),
            });
            comment.clear();
        } else {
            bail!("config/default.toml:{}: cannot read {line:?}", number + 1);
        }
    }
    flush_note(&mut sections, &mut comment);
    Ok(sections)
}

/// The Markdown between the BEGIN and END markers.
pub fn render(sections: &[Section]) -> String {
    let mut out = String::new();
    for (i, section) in sections.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!("#### `[{}]`\n\n", section.name));
        if !section.keys.is_empty() {
            out.push_str(
                "| key | default | environment variable | meaning |\n| --- | --- | --- | --- |\n",
            );
        }
        for key in &section.keys {
            out.push_str(&format!(
                "| `{}.{}` | `{}` | `{}` | {} |\n",
                key.section,
                key.name,
                key.default.replace('|', "\\|"),
                key.env_var(),
                key.doc
                    .replace('|', "\\|")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
            ));
        }
        for note in &section.notes {
            out.push_str(&format!("\n```toml\n{note}\n```\n"));
        }
    }
    out
}

/// `document` with its generated section replaced by one made from `config`.
pub fn rewrite(document: &str, config: &str) -> anyhow::Result<String> {
    let start = document
        .find(BEGIN)
        .context("docs/operations.md has no config-reference BEGIN marker")?;
    let end = document
        .find(END)
        .context("docs/operations.md has no config-reference END marker")?;
    if end < start {
        bail!("docs/operations.md: the config-reference END marker comes before BEGIN");
    }
    let sections = parse_sections(config)?;
    Ok(format!(
        "{}{BEGIN}\n\n{}\n{}",
        &document[..start],
        render(&sections),
        &document[end..]
    ))
}

fn paths() -> (std::path::PathBuf, std::path::PathBuf) {
    let root = root();
    (
        root.join("docs").join("operations.md"),
        root.join("config").join("default.toml"),
    )
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// The reference as it should be, and as it is.
pub fn expected_and_actual() -> anyhow::Result<(String, String)> {
    let (doc, config) = paths();
    let actual = read(&doc)?;
    let expected = rewrite(&actual, &read(&config)?)?;
    Ok((expected, actual))
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let check = match args {
        [] => false,
        [flag] if flag == "--check" => true,
        [other, ..] => {
            bail!("unknown option `{other}`; usage: cargo xtask config-reference [--check]")
        }
    };
    let (expected, actual) = expected_and_actual()?;
    let (doc, _) = paths();
    if expected == actual {
        println!("{} is up to date", doc.display());
        return Ok(());
    }
    if check {
        bail!(
            "the configuration reference in {} is out of date: run `cargo xtask config-reference`",
            doc.display()
        );
    }
    std::fs::write(&doc, expected).with_context(|| format!("cannot write {}", doc.display()))?;
    println!("rewrote the configuration reference in {}", doc.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn docs_operations_config_reference_is_up_to_date() {
        let (expected, actual) = expected_and_actual().unwrap();
        assert!(
            expected == actual,
            "docs/operations.md's configuration reference differs from config/default.toml: \
             run `cargo xtask config-reference`"
        );
    }

    #[test]
    fn every_key_of_the_default_config_is_documented() {
        let config = read(&paths().1).unwrap();
        let keys = parse(&config).unwrap();
        assert!(keys.iter().any(|k| k.env_var() == "FOLIO__DATABASE__URL"));
        for key in &keys {
            assert!(
                !key.doc.is_empty(),
                "{}.{} has no comment",
                key.section,
                key.name
            );
        }
    }

    #[test]
    fn comments_values_and_arrays_are_read() {
        let text = "# header\n\n[a.b]\n# What it is,\n# and more.\nx = \"1 | 2\"\ny = [\n  1,\n  2,\n]\n\n# An example:\n# [a.b.c]\n# z = 1\n";
        let keys = parse(text).unwrap();
        assert_eq!(keys[0].doc, "What it is, and more.");
        assert_eq!(keys[0].env_var(), "FOLIO__A__B__X");
        assert_eq!(keys[1].default, "[ 1, 2, ]");
        let sections = parse_sections(text).unwrap();
        assert_eq!(sections[0].notes, ["# An example:\n# [a.b.c]\n# z = 1"]);
        let markdown = render(&sections);
        assert!(markdown.contains("`\"1 \\| 2\"`"), "{markdown}");
        assert!(
            markdown.contains("```toml\n# An example:\n# [a.b.c]\n# z = 1\n```"),
            "{markdown}"
        );
    }
}
