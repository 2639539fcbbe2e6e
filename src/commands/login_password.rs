//! `login-password [HOST]`: the registry password alone, for tools that read one on
//! stdin (`helm registry login`, `oras login`, `podman login --password-stdin`), from the
//! same cache as `get`. Errors never reach stdout: it is someone's password input.

use super::{Context, default_registry, get::obtain_credentials};
use crate::error::Error;
use crate::protocol;
use crate::settings::Settings;
use crate::token_source::{IdentitySource, TokenSource};
use std::io::Write;

pub fn login_password(
    ctx: &mut Context<'_>,
    host: Option<&str>,
    out: &mut dyn Write,
    tokens: &dyn TokenSource,
    identity: &dyn IdentitySource,
) -> Result<(), Error> {
    let host = match host {
        Some(host) => host.to_owned(),
        None => default_registry(ctx, identity)?,
    };
    let resolved =
        Settings::load(ctx.env)?
            .resolve(&host)
            .map_err(|not_ecr| Error::NotRegistry {
                host: not_ecr.input,
            })?;
    let (_, password) = obtain_credentials(ctx, &resolved, tokens)?;
    protocol::write_password(out, &password).map_err(Error::Output)
}
