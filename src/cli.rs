//! Command-line dispatch: which action argv names, under either program name. The same
//! binary answers as `docker-credential-ecr` and as `docker-credential-ecr-login`, so it
//! can be dropped in where the reference helper was configured. The commands and their
//! options are declared once, in [`COMMANDS`]; parsing, `--help` and the shell
//! completions all read that table.

use crate::commands::{self, Context, configure::ConfigureArgs};
use crate::config::Config;
use crate::env::Env;
use crate::error::Error;
use crate::help;
use crate::log;
use crate::report;
use crate::token_source::AwsTokenSource;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::process::ExitCode;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const COMMIT: &str = env!("DOCKER_CREDENTIAL_ECR_COMMIT");

/// One subcommand: what `--help` prints and completions offer.
pub struct CommandSpec {
    pub name: &'static str,
    /// The synopsis after the command name.
    pub synopsis: &'static str,
    pub summary: &'static str,
    /// More lines for `COMMAND --help`; empty for none.
    pub details: &'static str,
    pub options: &'static [OptionSpec],
}

pub struct OptionSpec {
    pub long: &'static str,
    /// The value's placeholder when the option takes one.
    pub value: Option<&'static str>,
    pub help: &'static str,
}

const fn flag(long: &'static str, help: &'static str) -> OptionSpec {
    OptionSpec {
        long,
        value: None,
        help,
    }
}

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "get",
        synopsis: "< SERVER_URL",
        summary: "print credentials for the registry on stdin (docker calls this)",
        details: "Prints {\"ServerURL\",\"Username\",\"Secret\"} JSON. A host that is neither ECR nor an alias in the settings file gets docker's \"credentials not found in native keychain\" with no network call.",
        options: &[],
    },
    CommandSpec {
        name: "store",
        synopsis: "< JSON",
        summary: "accept `docker login` for an ECR host (nothing is persisted)",
        details: "",
        options: &[],
    },
    CommandSpec {
        name: "erase",
        synopsis: "< SERVER_URL",
        summary: "drop the registry's cached tokens (`docker logout`)",
        details: "",
        options: &[],
    },
    CommandSpec {
        name: "list",
        synopsis: "",
        summary: "list registries with a valid cached token (no network)",
        details: "",
        options: &[],
    },
    CommandSpec {
        name: "login-password",
        synopsis: "[HOST]",
        summary: "print only the registry password, for `--password-stdin` logins",
        details: "Uses the same cache as `get`. Without HOST: the registry of the current identity's account in the default region (one STS call). For `helm registry login`, `oras login`, `podman login --password-stdin`; the user name is AWS.",
        options: &[],
    },
    CommandSpec {
        name: "configure",
        synopsis: "[--registry HOST]... [--public] [--dry-run] [--remove]",
        summary: "add (or remove) credHelpers entries in docker's config.json",
        details: "Edits $DOCKER_CONFIG/config.json (default ~/.docker/config.json), keeping every other key and its order, atomically, with a backup (config.json.bak). Without --registry and --public: the registry of the current identity's account in the default region (one STS call). Warns when a credsStore or an auths entry would shadow the helper. skopeo, podman and buildah read the same credHelpers.",
        options: &[
            OptionSpec {
                long: "registry",
                value: Some("HOST"),
                help: "a registry host (ECR, or an alias from the settings file); repeatable",
            },
            flag("public", "also public.ecr.aws (ECR Public)"),
            flag("dry-run", "print the new config.json; change nothing"),
            flag("remove", "remove the entries instead"),
        ],
    },
    CommandSpec {
        name: "doctor",
        synopsis: "[--json] [HOST]...",
        summary: "check the whole chain and say what to fix",
        details: "Checks the helper on PATH, docker's config (credHelpers, a shadowing credsStore), the settings file, the AWS identity (STS GetCallerIdentity), the cache, and per host: a token fetch and GET /v2/ with it. Without HOST: every host docker's config sends to this helper. Exit status 1 when any check fails.",
        options: &[flag("json", "one JSON document instead of the report")],
    },
    CommandSpec {
        name: "completions",
        synopsis: "bash|zsh|fish",
        summary: "print a shell completion script",
        details: "bash: docker-credential-ecr completions bash > /etc/bash_completion.d/docker-credential-ecr\nzsh:  docker-credential-ecr completions zsh > \"${fpath[1]}/_docker-credential-ecr\"\nfish: docker-credential-ecr completions fish > ~/.config/fish/completions/docker-credential-ecr.fish",
        options: &[],
    },
    CommandSpec {
        name: "version",
        synopsis: "",
        summary: "print the version and git commit",
        details: "",
        options: &[],
    },
    CommandSpec {
        name: "help",
        synopsis: "[COMMAND]",
        summary: "print this help, or a command's",
        details: "",
        options: &[],
    },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    Get,
    Store,
    Erase,
    List,
    Version,
    /// `--help`, for the program or one command.
    Help(Option<&'static str>),
    LoginPassword(Option<String>),
    Configure(ConfigureArgs),
    Doctor {
        hosts: Vec<String>,
        json: bool,
    },
    Completions(Shell),
}

/// What argv asks for: an action, and how much to log (`-v` per step).
#[derive(Debug, PartialEq, Eq)]
pub struct Invocation {
    pub action: Action,
    pub verbosity: u8,
}

pub fn parse(args: &[OsString]) -> Result<Invocation, Error> {
    let args: Vec<String> = args
        .iter()
        .skip(1)
        .map(|a| {
            a.to_str()
                .map(str::to_owned)
                .ok_or_else(|| usage_error(&format!("`{}` is not UTF-8", a.to_string_lossy())))
        })
        .collect::<Result<_, _>>()?;
    let mut verbosity = 0u8;
    let mut rest = args.as_slice();
    while let Some(first) = rest.first() {
        match first.as_str() {
            "--verbose" => verbosity = verbosity.saturating_add(1),
            v if v.len() > 1 && v.starts_with('-') && v[1..].bytes().all(|b| b == b'v') => {
                verbosity = verbosity.saturating_add((v.len() - 1) as u8);
            }
            _ => break,
        }
        rest = &rest[1..];
    }
    let Some((name, rest)) = rest.split_first() else {
        // A lone `-v` is the docker-credential-helpers version flag.
        return match verbosity {
            0 => Err(Error::NoAction),
            _ => Ok(Invocation {
                action: Action::Version,
                verbosity: 0,
            }),
        };
    };
    let action = match name.as_str() {
        "--version" => Action::Version,
        "--help" | "-h" => Action::Help(None),
        name => {
            let spec = COMMANDS.iter().find(|c| c.name == name).ok_or_else(|| {
                Error::UnknownAction(report::sanitize(name).chars().take(64).collect())
            })?;
            command_action(spec, rest)?
        }
    };
    Ok(Invocation { action, verbosity })
}

/// Options and positionals of one command, checked against its spec.
fn command_action(spec: &'static CommandSpec, args: &[String]) -> Result<Action, Error> {
    let mut options: Vec<(&'static str, Option<String>)> = Vec::new();
    let mut positionals = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--help" || arg == "-h" {
            return Ok(Action::Help(Some(spec.name)));
        }
        let Some(long) = arg.strip_prefix("--") else {
            positionals.push(arg.clone());
            continue;
        };
        let (name, inline) = match long.split_once('=') {
            Some((name, value)) => (name, Some(value.to_owned())),
            None => (long, None),
        };
        let option = spec
            .options
            .iter()
            .find(|o| o.long == name)
            .ok_or_else(|| usage_error(&format!("`{}` has no option --{name}", spec.name)))?;
        let value =
            match (option.value, inline) {
                (Some(_), Some(value)) => Some(value),
                (Some(placeholder), None) => Some(iter.next().cloned().ok_or_else(|| {
                    usage_error(&format!("--{name} needs a value ({placeholder})"))
                })?),
                (None, Some(_)) => return Err(usage_error(&format!("--{name} takes no value"))),
                (None, None) => None,
            };
        options.push((option.long, value));
    }
    let has = |long: &str| options.iter().any(|(l, _)| *l == long);
    let at_most = |n: usize| {
        if positionals.len() > n {
            Err(usage_error(&format!(
                "`{}` takes {}",
                spec.name,
                if n == 0 {
                    "no arguments"
                } else {
                    "one argument at most"
                }
            )))
        } else {
            Ok(())
        }
    };
    Ok(match spec.name {
        "get" => at_most(0).map(|()| Action::Get)?,
        "store" => at_most(0).map(|()| Action::Store)?,
        "erase" => at_most(0).map(|()| Action::Erase)?,
        "list" => at_most(0).map(|()| Action::List)?,
        "version" => at_most(0).map(|()| Action::Version)?,
        "help" => {
            at_most(1)?;
            match positionals.first() {
                None => Action::Help(None),
                Some(name) => Action::Help(Some(
                    COMMANDS
                        .iter()
                        .find(|c| c.name == name)
                        .ok_or_else(|| Error::UnknownAction(report::sanitize(name)))?
                        .name,
                )),
            }
        }
        "login-password" => {
            at_most(1)?;
            Action::LoginPassword(positionals.pop())
        }
        "configure" => {
            at_most(0)?;
            Action::Configure(ConfigureArgs {
                registries: options
                    .iter()
                    .filter_map(|(l, v)| (*l == "registry").then(|| v.clone()).flatten())
                    .collect(),
                public: has("public"),
                dry_run: has("dry-run"),
                remove: has("remove"),
            })
        }
        "doctor" => Action::Doctor {
            hosts: positionals,
            json: has("json"),
        },
        "completions" => match positionals.as_slice() {
            [shell] if shell == "bash" => Action::Completions(Shell::Bash),
            [shell] if shell == "zsh" => Action::Completions(Shell::Zsh),
            [shell] if shell == "fish" => Action::Completions(Shell::Fish),
            _ => return Err(usage_error("`completions` takes one of bash, zsh, fish")),
        },
        other => unreachable!("command {other} has no parser"),
    })
}

fn usage_error(message: &str) -> Error {
    Error::Usage(report::sanitize(message))
}

pub fn run(
    args: &[OsString],
    env: &dyn Env,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> ExitCode {
    let mut protocol = true;
    let result = parse(args).and_then(|invocation| {
        protocol = matches!(
            invocation.action,
            Action::Get | Action::Store | Action::Erase | Action::List
        );
        log::init(env, invocation.verbosity, stderr);
        let config = Config::from_env(env);
        let tokens = AwsTokenSource {
            env,
            config: &config,
        };
        let mut ctx = Context {
            env,
            config: config.clone(),
            stderr,
        };
        match invocation.action {
            Action::Get => commands::get(&mut ctx, stdin, stdout, &tokens),
            Action::Store => commands::store(stdin),
            Action::Erase => commands::erase(&mut ctx, stdin),
            Action::List => commands::list(&mut ctx, stdout),
            Action::LoginPassword(host) => {
                commands::login_password(&mut ctx, host.as_deref(), stdout, &tokens, &tokens)
            }
            Action::Configure(args) => commands::configure(&mut ctx, &args, stdout, &tokens),
            Action::Doctor { hosts, json } => {
                commands::doctor(&mut ctx, &hosts, json, stdout, &tokens)
            }
            Action::Completions(shell) => {
                write!(stdout, "{}", help::completions(shell)).map_err(Error::Output)
            }
            Action::Version => {
                writeln!(stdout, "{} {VERSION} ({COMMIT})", report::PROGRAM).map_err(Error::Output)
            }
            Action::Help(command) => {
                write!(stdout, "{}", help::help(command)).map_err(Error::Output)
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if protocol {
                report::report(&err, stdout, stderr);
            } else {
                report::report_to_stderr(&err, stderr);
            }
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(list: &[&str]) -> Result<Invocation, Error> {
        parse(&list.iter().map(OsString::from).collect::<Vec<_>>())
    }

    fn action(list: &[&str]) -> Action {
        parsed(list).unwrap().action
    }

    #[test]
    fn actions_under_either_name() {
        for argv0 in [
            "docker-credential-ecr",
            "/usr/bin/docker-credential-ecr-login",
        ] {
            assert_eq!(action(&[argv0, "get"]), Action::Get);
            assert_eq!(action(&[argv0, "list"]), Action::List);
            assert_eq!(action(&[argv0, "version"]), Action::Version);
        }
        assert!(matches!(parsed(&["x"]), Err(Error::NoAction)));
        assert!(matches!(parsed(&["x", "fetch"]), Err(Error::UnknownAction(a)) if a == "fetch"));
    }

    #[test]
    fn a_lone_v_is_the_version_and_before_a_command_is_verbosity() {
        assert_eq!(action(&["x", "-v"]), Action::Version);
        assert_eq!(action(&["x", "--version"]), Action::Version);
        let login = parsed(&["x", "-vv", "--verbose", "login-password", "h"]).unwrap();
        assert_eq!(login.verbosity, 3);
        assert_eq!(login.action, Action::LoginPassword(Some("h".into())));
    }

    #[test]
    fn command_options_follow_the_table() {
        assert_eq!(
            action(&["x", "login-password"]),
            Action::LoginPassword(None)
        );
        assert_eq!(action(&["x", "list", "--help"]), Action::Help(Some("list")));
        assert_eq!(action(&["x", "help", "get"]), Action::Help(Some("get")));
        assert_eq!(
            action(&["x", "completions", "fish"]),
            Action::Completions(Shell::Fish)
        );
        for bad in [
            &["x", "configure", "--registry"][..],
            &["x", "configure", "--nope"],
            &["x", "configure", "--public=yes"],
            &["x", "get", "extra"],
            &["x", "list", "--nope"],
            &["x", "completions", "tcsh"],
            &["x", "login-password", "a", "b"],
        ] {
            assert!(matches!(parsed(bad), Err(Error::Usage(_))), "{bad:?}");
        }
    }
}
