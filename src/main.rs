//! The real process: the OS environment and locked stdio, handed to [`cli::run`].

use docker_credential_ecr::{cli, env::OsEnv};
use std::io;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().collect();
    cli::run(
        &args,
        &OsEnv,
        &mut io::stdin().lock(),
        &mut io::stdout().lock(),
        &mut io::stderr().lock(),
    )
}
