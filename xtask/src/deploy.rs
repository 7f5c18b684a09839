//! `cargo xtask validate-deploy`: every YAML file under deploy/ parses, the Kubernetes
//! manifests and the compose file have the shape their tools expect, and every `FOLIO__…`
//! variable they (or the Dockerfile and the systemd unit) set is a key Folio knows: an unknown
//! key stops Folio at start, so a typo here would only show up on someone's server.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_norway::Value;

use crate::{config_ref, root};

pub fn run(args: &[String]) -> anyhow::Result<()> {
    if let Some(extra) = args.first() {
        bail!("`validate-deploy` takes no arguments (got `{extra}`)");
    }
    let root = root();
    let deploy = root.join("deploy");
    let known = known_variables(&root)?;
    let mut problems = Vec::new();
    let mut files = Vec::new();
    collect(&deploy, &mut files)?;
    files.sort();
    let mut yaml_files = 0;
    for file in &files {
        let shown = file
            .strip_prefix(&root)
            .unwrap_or(file)
            .display()
            .to_string();
        let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {shown}"))?;
        let extension = file.extension().and_then(|e| e.to_str()).unwrap_or("");
        let variables = if matches!(extension, "yaml" | "yml") {
            yaml_files += 1;
            match check_yaml(file, &text) {
                Ok(variables) => {
                    println!("ok   {shown}");
                    variables
                }
                Err(error) => {
                    problems.push(format!("{shown}: {error:#}"));
                    continue;
                }
            }
        } else {
            // Dockerfile, systemd unit, proxy configs: the variables on lines that are not comments.
            text.lines()
                .filter(|line| !line.trim_start().starts_with('#'))
                .flat_map(folio_variables)
                .collect()
        };
        for variable in variables {
            // Sign-in providers are tables named by the operator: any name is a key there.
            let provider = variable.starts_with("FOLIO__AUTH__PROVIDERS__");
            if !provider && !known.contains(&variable) {
                problems.push(format!(
                    "{shown}: {variable} is not a key of config/default.toml (Folio would refuse to start)"
                ));
            }
        }
    }
    if yaml_files == 0 {
        bail!("no YAML files under {}", deploy.display());
    }
    if !problems.is_empty() {
        for problem in &problems {
            eprintln!("FAIL {problem}");
        }
        bail!("{} problem(s) in deploy/", problems.len());
    }
    println!("deploy/: {yaml_files} YAML files parse; every FOLIO__ variable is a known key");
    Ok(())
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}

fn known_variables(root: &Path) -> anyhow::Result<Vec<String>> {
    let path = root.join("config").join("default.toml");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(config_ref::parse(&text)?
        .iter()
        .map(config_ref::Key::env_var)
        .collect())
}

/// `FOLIO__X__Y` names in a line of text.
fn folio_variables(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("FOLIO__") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        found.push(tail[..end].trim_end_matches('_').to_owned());
        rest = &tail[end..];
    }
    found
}

/// Parses every document of a YAML file; returns the FOLIO__ variables it sets.
fn check_yaml(path: &Path, text: &str) -> anyhow::Result<Vec<String>> {
    let mut documents = Vec::new();
    for document in serde_norway::Deserializer::from_str(text) {
        let value = <Value as serde::Deserialize>::deserialize(document)?;
        if !value.is_null() {
            documents.push(value);
        }
    }
    if documents.is_empty() {
        bail!("holds no YAML document");
    }
    let in_kubernetes = path
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|name| name == "kubernetes");
    let mut variables = Vec::new();
    for document in &documents {
        if in_kubernetes {
            check_manifest(document)?;
        } else if path.file_stem().is_some_and(|s| s == "compose") {
            check_compose(document)?;
        }
        collect_variables(document, &mut variables);
    }
    Ok(variables)
}

fn field<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |value, key| value.get(*key))
}

fn text_field<'a>(value: &'a Value, path: &[&str]) -> anyhow::Result<&'a str> {
    field(value, path)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .with_context(|| format!("missing `{}`", path.join(".")))
}

fn check_manifest(document: &Value) -> anyhow::Result<()> {
    text_field(document, &["apiVersion"])?;
    let kind = text_field(document, &["kind"])?;
    let name = text_field(document, &["metadata", "name"])?;
    let pod = match kind {
        "Deployment" | "Job" => field(document, &["spec", "template", "spec"])
            .with_context(|| format!("{kind} {name}: missing spec.template.spec"))?,
        _ => return Ok(()),
    };
    let containers = field(pod, &["containers"])
        .and_then(Value::as_sequence)
        .filter(|c| !c.is_empty())
        .with_context(|| format!("{kind} {name}: no containers"))?;
    if field(pod, &["securityContext", "runAsNonRoot"]).and_then(Value::as_bool) != Some(true) {
        bail!("{kind} {name}: securityContext.runAsNonRoot must be true");
    }
    for container in containers {
        let container_name = text_field(container, &["name"])?;
        text_field(container, &["image"])
            .with_context(|| format!("{kind} {name}, container {container_name}"))?;
        if kind == "Deployment" {
            for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
                let actual = text_field(container, &[probe, "httpGet", "path"])
                    .with_context(|| format!("{kind} {name}, container {container_name}"))?;
                if actual != path {
                    bail!("{kind} {name}: {probe} must GET {path}, not {actual}");
                }
            }
        }
    }
    Ok(())
}

fn check_compose(document: &Value) -> anyhow::Result<()> {
    let services = field(document, &["services"])
        .and_then(Value::as_mapping)
        .context("missing `services`")?;
    for (name, service) in services {
        let name = name.as_str().unwrap_or("?");
        if field(service, &["image"]).is_none() && field(service, &["build"]).is_none() {
            bail!("service {name} has neither `image` nor `build`");
        }
    }
    Ok(())
}

/// Keys and `name:` values that look like FOLIO__ variables, anywhere in the document.
fn collect_variables(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Mapping(mapping) => {
            for (key, value) in mapping {
                if let Some(key) = key.as_str() {
                    out.extend(folio_variables(key));
                }
                // Kubernetes `env: [{name: FOLIO__X, value: ...}]`.
                if key.as_str() == Some("name")
                    && let Some(text) = value.as_str()
                {
                    out.extend(folio_variables(text));
                }
                collect_variables(value, out);
            }
        }
        Value::Sequence(items) => {
            // Compose's `environment: ["FOLIO__X=..."]`.
            for item in items {
                if let Some((name, _)) = item.as_str().and_then(|text| text.split_once('=')) {
                    out.extend(folio_variables(name));
                }
                collect_variables(item, out);
            }
        }
        Value::Tagged(tagged) => collect_variables(&tagged.value, out),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_deploy_folder_validates() {
        run(&[]).unwrap();
    }

    #[test]
    fn broken_yaml_and_unknown_keys_are_caught() {
        let broken = check_yaml(Path::new("x/compose.yaml"), "services:\n  a: [\n");
        assert!(broken.is_err());
        let variables = check_yaml(
            Path::new("x/kubernetes/c.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  FOLIO__SITE__TITEL: x\n",
        )
        .unwrap();
        assert_eq!(variables, vec!["FOLIO__SITE__TITEL".to_owned()]);
        let root_pod = check_yaml(
            Path::new("x/kubernetes/d.yaml"),
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      containers: [{name: a, image: b}]\n",
        );
        assert!(format!("{:#}", root_pod.unwrap_err()).contains("runAsNonRoot"));
        assert_eq!(
            folio_variables("ENV FOLIO__SERVER__BIND=0.0.0.0 FOLIO__LOG__FORMAT=json"),
            vec!["FOLIO__SERVER__BIND", "FOLIO__LOG__FORMAT"]
        );
    }
}
