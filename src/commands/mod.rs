//! The protocol's actions. Each takes its input and output as parameters and returns a
//! typed error; `cli` picks the action and `report` turns errors into text.

pub mod configure;
mod doctor;
mod erase;
mod get;
mod list;
mod login_password;
mod store;

pub use configure::configure;
pub use doctor::doctor;
pub use erase::erase;
pub use get::get;
pub use list::list;
pub use login_password::login_password;
pub use store::store;

use crate::cache::Store;
use crate::config::Config;
use crate::credential_source::CredentialSource;
use crate::env::Env;
use crate::error::Error;
use crate::report;
use crate::token_source::IdentitySource;
use std::io::Write;

/// The registry of the caller's own account in the default region, as `aws ecr
/// get-login-password` assumes it: one STS call.
fn default_registry(ctx: &Context<'_>, identity: &dyn IdentitySource) -> Result<String, Error> {
    let region = identity.default_region().ok_or(Error::NoRegion)?;
    let source = CredentialSource::detect(ctx.env);
    let account = identity
        .caller_identity(&source, Some(&region))
        .map_err(Error::Identity)?
        .account;
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    Ok(format!("{account}.dkr.ecr.{region}.{suffix}"))
}

/// What every action may use: the environment, the settings derived from it, and stderr
/// for warnings.
pub struct Context<'a> {
    pub env: &'a dyn Env,
    pub config: Config,
    pub stderr: &'a mut dyn Write,
}

impl Context<'_> {
    /// The cache, or `None` when it is disabled or cannot be used (one warning, then the
    /// action carries on without it).
    fn open_store(&mut self) -> Option<Store> {
        let dir = self.config.cache_dir.as_ref()?;
        match Store::open(dir) {
            Ok(store) => Some(store),
            Err(err) => {
                self.warn_cache_unusable(&err);
                None
            }
        }
    }

    fn warn_cache_unusable(&mut self, err: &(dyn std::error::Error + 'static)) {
        report::warn(
            self.stderr,
            &format!(
                "token cache disabled for this call: {}",
                crate::token_source::error_chain(err)
            ),
        );
    }
}
