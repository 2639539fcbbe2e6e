//! `doctor [HOST]...`: one screen that says why a pull or push fails. Each check is a
//! line, ✓ or ✗, and every ✗ says what to do; any ✗ makes the exit status 1. `--json`
//! prints the same checks for scripts.

use super::Context;
use super::configure::{docker_config_path, our_hosts, read_docker_config, sends_to_us, shadowing};
use super::get::obtain;
use crate::cli::{COMMIT, VERSION};
use crate::credential_source::CredentialSource;
use crate::error::Error;
use crate::report::{self, PROGRAM};
use crate::settings::{self, Settings};
use crate::token_source::{IdentitySource, TokenSource};
use serde::Serialize;
use std::io::Write;

#[derive(Serialize)]
struct Check {
    ok: bool,
    check: String,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

#[derive(Default)]
struct Checks(Vec<Check>);

impl Checks {
    fn pass(&mut self, check: &str, detail: impl Into<String>) {
        self.0.push(Check {
            ok: true,
            check: check.to_owned(),
            detail: detail.into(),
            fix: None,
        });
    }

    fn fail(&mut self, check: &str, detail: impl Into<String>, fix: impl Into<String>) {
        self.0.push(Check {
            ok: false,
            check: check.to_owned(),
            detail: detail.into(),
            fix: Some(fix.into()),
        });
    }
}

pub fn doctor<T: TokenSource + IdentitySource>(
    ctx: &mut Context<'_>,
    hosts: &[String],
    json: bool,
    out: &mut dyn Write,
    aws: &T,
) -> Result<(), Error> {
    let mut checks = Checks::default();
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "?".into());
    checks.pass("helper", format!("{PROGRAM} {VERSION} ({COMMIT}) at {exe}"));
    let on_path = ctx
        .env
        .var("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(PROGRAM).is_file()));
    if !on_path {
        checks.fail(
            "PATH",
            format!("no {PROGRAM} on PATH"),
            "install it on PATH: docker runs docker-credential-<name> for credHelpers' <name>",
        );
    }

    let mut hosts = hosts.to_vec();
    match docker_config_path(ctx).map(|p| (read_docker_config(&p), p)) {
        Ok((Ok(config), path)) => {
            let config = config.unwrap_or_default();
            if hosts.is_empty() {
                hosts = our_hosts(&config);
            }
            if hosts.is_empty() {
                checks.fail(
                    "docker config",
                    format!("{} sends no registry to {PROGRAM}", path.display()),
                    format!("run `{PROGRAM} configure --registry HOST`"),
                );
            }
            for host in &hosts {
                if sends_to_us(&config, host) {
                    checks.pass(
                        "docker config",
                        format!("{host} → ecr in {}", path.display()),
                    );
                } else if !config.contains_key("credsStore") {
                    checks.fail(
                        "docker config",
                        format!("{} has no credHelpers entry for {host}", path.display()),
                        format!("run `{PROGRAM} configure --registry {host}`"),
                    );
                }
            }
            for problem in shadowing(&config, &hosts) {
                let (detail, fix) = problem.split_once("; ").unwrap_or((&problem, ""));
                checks.fail("docker config", detail, fix);
            }
        }
        Ok((Err(err), _)) | Err(err) => checks.fail(
            "docker config",
            report::render(&Error::Configure(err)),
            "fix the file, or point DOCKER_CONFIG elsewhere",
        ),
    }

    let settings = match Settings::load(ctx.env) {
        Ok(settings) => {
            let where_ = settings::path(ctx.env)
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            checks.pass(
                "settings",
                match settings.path() {
                    Some(_) => format!("{where_} read"),
                    None => format!("{where_} absent: the default AWS chain for every registry"),
                },
            );
            settings
        }
        Err(err) => {
            checks.fail(
                "settings",
                report::render(&err.into()),
                "fix the line named",
            );
            Settings::default()
        }
    };

    let source = CredentialSource::detect(ctx.env);
    checks.pass("credentials", source.to_string());
    match aws.caller_identity(&source, None) {
        Ok(identity) => checks.pass(
            "identity",
            format!("{} (account {})", identity.arn, identity.account),
        ),
        Err(err) => {
            let line = report::render(&Error::Identity(err));
            let (detail, fix) = line.split_once("; ").unwrap_or((&line, "see the message"));
            checks.fail("identity", detail, fix);
        }
    }

    match &ctx.config.cache_dir {
        None => checks.pass("cache", "disabled (AWS_ECR_DISABLE_CACHE)"),
        Some(dir) => match crate::cache::Store::open(dir).and_then(|s| s.entries()) {
            Ok(entries) => {
                let now = ctx.env.now();
                let mut valid: Vec<String> = entries
                    .iter()
                    .filter(|(_, e)| e.is_valid_at(now))
                    .map(|(_, e)| {
                        let left = e.expires_at.duration_since(now).unwrap_or_default();
                        format!("{} (expires in {} min)", e.registry, left.as_secs() / 60)
                    })
                    .collect();
                valid.sort();
                checks.pass(
                    "cache",
                    format!(
                        "{}: {} entries, valid: {}",
                        dir.display(),
                        entries.len(),
                        if valid.is_empty() {
                            "none".into()
                        } else {
                            valid.join(", ")
                        }
                    ),
                );
            }
            Err(err) => checks.fail(
                "cache",
                crate::token_source::error_chain(&err),
                "fix the directory's permissions, or set AWS_ECR_CACHE_DIR",
            ),
        },
    }

    for host in &hosts {
        let resolved = match settings.resolve(host) {
            Ok(resolved) => resolved,
            Err(_) => {
                checks.fail(
                    host,
                    "not an Amazon ECR registry, nor an alias in the settings file",
                    "add an [[alias]] to the settings file, or remove the credHelpers entry",
                );
                continue;
            }
        };
        let registry = &resolved.registry;
        checks.pass(
            host,
            format!(
                "registry {} in {}, credentials: {}",
                registry.host(),
                registry.api_region(),
                CredentialSource::detect_for(ctx.env, &resolved.route)
            ),
        );
        let entry = match obtain(ctx, &resolved, aws) {
            Ok(entry) => entry,
            Err(err) => {
                let line = report::render(&err);
                let (detail, fix) = line.split_once("; ").unwrap_or((&line, "see the message"));
                checks.fail(host, detail, fix);
                continue;
            }
        };
        let Ok((username, password)) = entry.credentials() else {
            checks.fail(
                host,
                "the cached token does not decode",
                format!("run `echo {host} | {PROGRAM} erase`"),
            );
            continue;
        };
        checks.pass(host, "token obtained");
        match aws.probe_registry(host, &username, &password) {
            Ok(status) if (200..300).contains(&status) => {
                checks.pass(host, format!("GET https://{host}/v2/ with the token: {status}"));
            }
            Ok(status) => checks.fail(
                host,
                format!("GET https://{host}/v2/ with the token: {status}"),
                "the registry refuses this token: check that the host belongs to the account the token is for (an alias must name the right registry)",
            ),
            Err(cause) => checks.fail(
                host,
                format!("GET https://{host}/v2/ failed: {cause}"),
                "check the network, DNS and proxy for the registry itself",
            ),
        }
    }

    let failed = checks.0.iter().any(|c| !c.ok);
    if json {
        let text =
            serde_json::to_string_pretty(&serde_json::json!({"ok": !failed, "checks": checks.0}))
                .map_err(|e| Error::Output(std::io::Error::other(e)))?;
        writeln!(out, "{text}").map_err(Error::Output)?;
    } else {
        for check in &checks.0 {
            let mark = if check.ok { "✓" } else { "✗" };
            let line = report::sanitize(&format!("{mark} {}: {}", check.check, check.detail));
            writeln!(out, "{line}").map_err(Error::Output)?;
            if let Some(fix) = &check.fix {
                writeln!(out, "    → {}", report::sanitize(fix)).map_err(Error::Output)?;
            }
        }
    }
    if failed { Err(Error::Failed) } else { Ok(()) }
}
