//! `erase`: `docker logout` forgets the registry, so we drop its cached tokens.

use super::Context;
use crate::error::Error;
use crate::protocol;
use crate::settings::Settings;
use std::io::Read;

pub fn erase(ctx: &mut Context<'_>, input: &mut dyn Read) -> Result<(), Error> {
    let server_url = protocol::read_server_url(input)?;
    let registry = Settings::load(ctx.env)?.resolve(&server_url)?.registry;
    if let Some(store) = ctx.open_store()
        && let Err(err) = store.remove_registry(registry.host())
    {
        ctx.warn_cache_unusable(&err);
    }
    Ok(())
}
