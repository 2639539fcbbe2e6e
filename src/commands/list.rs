//! `list`: the registries we hold a valid token for, from the cache alone (no network).

use super::Context;
use crate::error::Error;
use crate::protocol;
use std::collections::BTreeMap;
use std::io::Write;

pub fn list(ctx: &mut Context<'_>, out: &mut dyn Write) -> Result<(), Error> {
    let now = ctx.env.now();
    let mut registries = BTreeMap::new();
    if let Some(store) = ctx.open_store() {
        match store.entries() {
            Ok(entries) => {
                for (_, entry) in entries.into_iter().filter(|(_, e)| e.is_valid_at(now)) {
                    if let Ok((username, _)) = entry.credentials() {
                        registries.insert(entry.proxy_endpoint, username);
                    }
                }
            }
            Err(err) => ctx.warn_cache_unusable(&err),
        }
    }
    protocol::write_list(out, &registries).map_err(Error::Output)
}
