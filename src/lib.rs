//! docker-credential-ecr: a Docker credential helper for Amazon ECR.
//!
//! The `get` path, in six steps:
//! 1. [`protocol`] reads the server URL from stdin;
//! 2. [`registry`] decides whether it is ECR (if not: the not-found line, no network);
//! 3. [`credential_source`] works out which AWS credentials would be used, from the
//!    environment and the AWS config files alone, and fingerprints them;
//! 4. [`cache`] looks up the entry for (registry, fingerprint): a fresh one is the answer,
//!    with no async runtime, SDK or lock;
//! 5. on a miss, the entry's lock is taken and the entry read again, so N processes that
//!    miss together make one API call;
//! 6. [`token_source`] calls GetAuthorizationToken, the entry is written atomically, and
//!    [`protocol`] prints the credentials. Errors are rendered once, in [`report`].

pub mod atomic_file;
pub mod cache;
pub mod cli;
pub mod commands;
pub mod config;
pub mod credential_source;
pub mod env;
pub mod error;
pub mod help;
pub mod log;
pub mod protocol;
pub mod registry;
pub mod report;
pub mod secret;
pub mod settings;
pub mod token_source;
