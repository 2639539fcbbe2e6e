//! Command-line dispatch: which action argv names, under either program name. The same
//! binary answers as `docker-credential-ecr` and as `docker-credential-ecr-login`, so it
//! can be dropped in where the reference helper was configured.

use crate::commands::{self, Context};
use crate::config::Config;
use crate::env::Env;
use crate::error::Error;
use crate::report::{self, PROGRAM};
use crate::token_source::AwsTokenSource;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::process::ExitCode;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const COMMIT: &str = env!("DOCKER_CREDENTIAL_ECR_COMMIT");

#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    Get,
    Store,
    Erase,
    List,
    Version,
    Help,
}

pub fn parse_action(args: &[OsString]) -> Result<Action, Error> {
    let Some(action) = args.get(1) else {
        return Err(Error::NoAction);
    };
    match action.to_str() {
        Some("get") => Ok(Action::Get),
        Some("store") => Ok(Action::Store),
        Some("erase") => Ok(Action::Erase),
        Some("list") => Ok(Action::List),
        Some("version" | "--version" | "-v") => Ok(Action::Version),
        Some("help" | "--help" | "-h") => Ok(Action::Help),
        _ => Err(Error::UnknownAction(
            report::sanitize(&action.to_string_lossy())
                .chars()
                .take(64)
                .collect(),
        )),
    }
}

pub fn run(
    args: &[OsString],
    env: &dyn Env,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> ExitCode {
    let result = parse_action(args).and_then(|action| {
        let mut ctx = Context {
            env,
            config: Config::from_env(env),
            stderr,
        };
        match action {
            Action::Get => {
                let config = ctx.config.clone();
                let tokens = AwsTokenSource {
                    env,
                    config: &config,
                };
                commands::get(&mut ctx, stdin, stdout, &tokens)
            }
            Action::Store => commands::store(stdin),
            Action::Erase => commands::erase(&mut ctx, stdin),
            Action::List => commands::list(&mut ctx, stdout),
            Action::Version => {
                writeln!(stdout, "{PROGRAM} {VERSION} ({COMMIT})").map_err(Error::Output)
            }
            Action::Help => writeln!(stdout, "{}", report::usage()).map_err(Error::Output),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            report::report(&err, stdout, stderr);
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn actions_under_either_name() {
        for argv0 in [
            "docker-credential-ecr",
            "/usr/bin/docker-credential-ecr-login",
        ] {
            assert_eq!(parse_action(&args(&[argv0, "get"])).unwrap(), Action::Get);
            assert_eq!(parse_action(&args(&[argv0, "list"])).unwrap(), Action::List);
            assert_eq!(
                parse_action(&args(&[argv0, "version"])).unwrap(),
                Action::Version
            );
        }
        assert!(matches!(parse_action(&args(&["x"])), Err(Error::NoAction)));
        assert!(
            matches!(parse_action(&args(&["x", "fetch"])), Err(Error::UnknownAction(a)) if a == "fetch")
        );
    }
}
