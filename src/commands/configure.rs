//! `configure`: adds (or, with `--remove`, removes) `credHelpers` entries in docker's
//! config.json. Every other key keeps its value and its place (serde_json with
//! `preserve_order`), the old file is kept as `config.json.bak`, and the new one replaces
//! it atomically. Running it twice changes nothing the second time.

use super::{Context, default_registry};
use crate::atomic_file;
use crate::config::{DOCKER_CONFIG, expand_home};
use crate::error::Error;
use crate::registry::url_host;
use crate::report::{self, PROGRAM};
use crate::settings::Settings;
use crate::token_source::IdentitySource;
use serde_json::{Map, Value};
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The helper name docker turns into `docker-credential-ecr`.
pub const HELPER: &str = "ecr";
/// What the reference helper is called in existing configs; `--remove` removes it too.
const LEGACY_HELPER: &str = "ecr-login";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigureArgs {
    pub registries: Vec<String>,
    pub public: bool,
    pub dry_run: bool,
    pub remove: bool,
}

#[derive(Debug, Error)]
pub enum ConfigureError {
    #[error("cannot {action} {path}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path} is not valid JSON (line {line}, column {column}); fix or move it first")]
    Malformed {
        path: PathBuf,
        line: usize,
        column: usize,
    },
    #[error("{path} is not a JSON object, or its credHelpers is not one")]
    NotAnObject { path: PathBuf },
    #[error("no home directory to find ~/.docker in; set DOCKER_CONFIG")]
    NoHome,
}

/// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
pub fn docker_config_path(ctx: &Context<'_>) -> Result<PathBuf, ConfigureError> {
    match ctx.env.var(DOCKER_CONFIG) {
        Some(dir) => Ok(expand_home(&dir, ctx.env).join("config.json")),
        None => ctx
            .env
            .home_dir()
            .map(|home| home.join(".docker/config.json"))
            .ok_or(ConfigureError::NoHome),
    }
}

/// The config as an ordered map; a missing file is an empty one.
pub fn read_docker_config(path: &Path) -> Result<Option<Map<String, Value>>, ConfigureError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ConfigureError::Io {
                action: "read",
                path: path.to_owned(),
                source,
            });
        }
    };
    if text.trim().is_empty() {
        return Ok(Some(Map::new()));
    }
    match serde_json::from_str(&text) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(_) => Err(ConfigureError::NotAnObject {
            path: path.to_owned(),
        }),
        Err(err) => Err(ConfigureError::Malformed {
            path: path.to_owned(),
            line: err.line(),
            column: err.column(),
        }),
    }
}

pub fn configure(
    ctx: &mut Context<'_>,
    args: &ConfigureArgs,
    out: &mut dyn Write,
    identity: &dyn IdentitySource,
) -> Result<(), Error> {
    let path = docker_config_path(ctx)?;
    let settings = Settings::load(ctx.env)?;
    let mut hosts = Vec::new();
    for registry in &args.registries {
        let resolved = settings
            .resolve(registry)
            .map_err(|not_ecr| Error::NotRegistry {
                host: not_ecr.input,
            })?;
        hosts.push(
            resolved
                .alias
                .unwrap_or_else(|| resolved.registry.host().to_owned()),
        );
    }
    if args.public {
        hosts.push("public.ecr.aws".to_owned());
    }
    if hosts.is_empty() {
        let host = default_registry(ctx, identity)?;
        let _ = writeln!(
            out,
            "No --registry given: using {host}, the registry of the current AWS identity's account in the default region."
        );
        hosts.push(host);
    }

    let existing = read_docker_config(&path)?;
    let mut config = existing.clone().unwrap_or_default();
    let changed = if args.remove {
        remove_helpers(&mut config, &hosts, &path)?
    } else {
        add_helpers(&mut config, &hosts, &path)?
    };
    if !args.remove {
        warn_shadowing(ctx, &config, &hosts);
    }
    let text =
        serde_json::to_string_pretty(&Value::Object(config)).map_err(|err| ConfigureError::Io {
            action: "encode",
            path: path.clone(),
            source: io::Error::other(err),
        })? + "\n";
    if args.dry_run {
        let _ = writeln!(out, "Would write {}:", path.display());
        return out.write_all(text.as_bytes()).map_err(Error::Output);
    }
    if changed.is_empty() {
        let _ = writeln!(
            out,
            "{} already {} for {}; nothing to do.",
            path.display(),
            if args.remove {
                "has no entry"
            } else {
                "sends these registries to docker-credential-ecr"
            },
            hosts.join(", ")
        );
        return Ok(());
    }
    let backup = existing.is_some().then(|| backup_path(&path));
    write_atomically(&path, text.as_bytes(), backup.as_deref())?;
    let _ = writeln!(
        out,
        "{} credHelpers for {} in {}{}.",
        if args.remove { "Removed" } else { "Added" },
        changed.join(", "),
        path.display(),
        backup
            .map(|b| format!(" (the old file is {})", b.display()))
            .unwrap_or_default()
    );
    if !args.remove {
        let _ = writeln!(
            out,
            "skopeo, podman and buildah read the same credHelpers, unless a containers auth.json (REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json) names the host too."
        );
        if !on_path(ctx) {
            report::warn(
                ctx.stderr,
                &format!("{PROGRAM} is not on PATH; docker will not find it until it is"),
            );
        }
    }
    Ok(())
}

fn helpers<'a>(
    config: &'a mut Map<String, Value>,
    path: &Path,
) -> Result<&'a mut Map<String, Value>, ConfigureError> {
    config
        .entry("credHelpers")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| ConfigureError::NotAnObject {
            path: path.to_owned(),
        })
}

fn add_helpers(
    config: &mut Map<String, Value>,
    hosts: &[String],
    path: &Path,
) -> Result<Vec<String>, ConfigureError> {
    let helpers = helpers(config, path)?;
    let mut changed = Vec::new();
    for host in hosts {
        if helpers.get(host).and_then(Value::as_str) != Some(HELPER) {
            helpers.insert(host.clone(), HELPER.into());
            changed.push(host.clone());
        }
    }
    Ok(changed)
}

fn remove_helpers(
    config: &mut Map<String, Value>,
    hosts: &[String],
    path: &Path,
) -> Result<Vec<String>, ConfigureError> {
    if !config.contains_key("credHelpers") {
        return Ok(Vec::new());
    }
    let helpers = helpers(config, path)?;
    let mut changed = Vec::new();
    for host in hosts {
        if matches!(
            helpers.get(host).and_then(Value::as_str),
            Some(HELPER | LEGACY_HELPER)
        ) {
            helpers.shift_remove(host);
            changed.push(host.clone());
        }
    }
    Ok(changed)
}

/// Entries that make docker (or a reader of the same file) use something else, or look
/// as if it did.
pub fn shadowing(config: &Map<String, Value>, hosts: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    let helpers = config.get("credHelpers").and_then(Value::as_object);
    if let Some(store) = config.get("credsStore").and_then(Value::as_str) {
        let unmapped: Vec<&str> = hosts
            .iter()
            .filter(|h| helpers.is_none_or(|m| !m.contains_key(h.as_str())))
            .map(String::as_str)
            .collect();
        if !unmapped.is_empty() {
            problems.push(format!(
                "credsStore \"{store}\" answers for {} (no credHelpers entry); run `{PROGRAM} configure --registry HOST`",
                unmapped.join(", ")
            ));
        }
    }
    if let Some(auths) = config.get("auths").and_then(Value::as_object) {
        for host in hosts {
            let stored = auths
                .iter()
                .any(|(key, _)| url_host(key).unwrap_or(key) == host.as_str());
            if stored {
                problems.push(format!(
                    "auths has an entry for {host} from an earlier `docker login`; credHelpers wins for docker, but other tools may use the stale one: `docker logout {host}` removes it"
                ));
            }
        }
    }
    problems
}

fn warn_shadowing(ctx: &mut Context<'_>, config: &Map<String, Value>, hosts: &[String]) {
    if let Some(store) = config.get("credsStore").and_then(Value::as_str) {
        report::warn(
            ctx.stderr,
            &format!(
                "credsStore \"{store}\" still answers for every registry without a credHelpers entry (Docker Hub included)"
            ),
        );
    }
    for problem in shadowing(config, hosts)
        .into_iter()
        .filter(|p| !p.starts_with("credsStore"))
    {
        report::warn(ctx.stderr, &problem);
    }
}

fn backup_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".bak");
    PathBuf::from(name)
}

/// Backup (a copy), then a same-directory temp file, fsync, rename: a reader sees the
/// old file or the new one. A new file is 0600, as docker creates it; an existing file
/// keeps its mode.
fn write_atomically(
    path: &Path,
    bytes: &[u8],
    backup: Option<&Path>,
) -> Result<(), ConfigureError> {
    let io_error = |action, path: &Path| {
        let path = path.to_owned();
        move |source| ConfigureError::Io {
            action,
            path,
            source,
        }
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_error("create", dir))?;
    let mode = fs::metadata(path).map_or(0o600, |m| m.permissions().mode() & 0o777);
    if let Some(backup) = backup {
        fs::copy(path, backup).map_err(io_error("back up to", backup))?;
    }
    let temp = dir.join(format!(".config.json.{}.tmp", std::process::id()));
    atomic_file::replace(path, &temp, bytes, mode).map_err(io_error("write", path))
}

fn on_path(ctx: &Context<'_>) -> bool {
    ctx.env
        .var("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(PROGRAM).is_file()))
}

/// Whether docker's config sends `host` to this helper (under either name).
pub fn sends_to_us(config: &Map<String, Value>, host: &str) -> bool {
    let helper = config
        .get("credHelpers")
        .and_then(|h| h.get(host))
        .or_else(|| config.get("credsStore"))
        .and_then(Value::as_str);
    matches!(helper, Some(HELPER | LEGACY_HELPER))
}

/// Hosts docker's config sends to this helper, for `doctor` without arguments.
pub fn our_hosts(config: &Map<String, Value>) -> Vec<String> {
    config
        .get("credHelpers")
        .and_then(Value::as_object)
        .map(|helpers| {
            helpers
                .iter()
                .filter(|(_, v)| matches!(v.as_str(), Some(HELPER | LEGACY_HELPER)))
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(json: &str) -> Map<String, Value> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn adding_keeps_every_key_in_order_and_is_idempotent() {
        let mut config =
            map(r#"{"zeta":1,"credHelpers":{"gcr.io":"gcloud"},"alpha":{"b":1,"a":2}}"#);
        let hosts = vec!["h1".to_owned(), "h2".to_owned()];
        assert_eq!(
            add_helpers(&mut config, &hosts, Path::new("c")).unwrap(),
            hosts
        );
        assert_eq!(
            serde_json::to_string(&config).unwrap(),
            r#"{"zeta":1,"credHelpers":{"gcr.io":"gcloud","h1":"ecr","h2":"ecr"},"alpha":{"b":1,"a":2}}"#
        );
        assert!(
            add_helpers(&mut config, &hosts, Path::new("c"))
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            remove_helpers(&mut config, &hosts, Path::new("c")).unwrap(),
            hosts
        );
        assert_eq!(
            serde_json::to_string(&config).unwrap(),
            r#"{"zeta":1,"credHelpers":{"gcr.io":"gcloud"},"alpha":{"b":1,"a":2}}"#
        );
    }

    #[test]
    fn shadowing_names_creds_store_and_stale_auths() {
        let config = map(
            r#"{"credsStore":"desktop","auths":{"https://h1":{"auth":"x"}},"credHelpers":{"h1":"ecr"}}"#,
        );
        let problems = shadowing(&config, &["h1".into(), "h2".into()]);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("credsStore \"desktop\" answers for h2"));
        assert!(problems[1].contains("auths has an entry for h1"));
        assert!(sends_to_us(&config, "h1") && !sends_to_us(&config, "h2"));
    }
}
