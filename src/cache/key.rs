//! The cache key: which registry (account, region, FIPS, dual-stack, or ECR Public) and
//! which credentials asked for it. Two identities never share a token, and computing the
//! key costs no network call.

use crate::credential_source::CredentialSource;
use crate::registry::{Registry, Service};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    /// Everything that identifies the entry; stored in it and checked on every read, so a
    /// file copied or renamed onto another key's path is never served.
    full: String,
    /// The file stem: readable, and unique enough (64 bits of the fingerprint).
    stem: String,
}

impl CacheKey {
    pub fn new(registry: &Registry, source: &CredentialSource) -> CacheKey {
        let scope = match &registry.service {
            Service::Private(private) => format!(
                "{}.{}{}{}",
                private.account,
                private.region,
                if private.fips { ".fips" } else { "" },
                if private.dual_stack { ".dualstack" } else { "" },
            ),
            Service::Public => "public".to_owned(),
        };
        let fingerprint = source.fingerprint();
        CacheKey {
            stem: format!("{scope}-{}", &fingerprint[..16]),
            full: format!("{scope}/{fingerprint}"),
        }
    }

    pub fn full(&self) -> &str {
        &self.full
    }

    pub fn stem(&self) -> &str {
        &self.stem
    }
}
