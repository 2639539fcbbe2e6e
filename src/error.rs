//! One error type over every module's errors, for `report` to render. It makes no
//! wording decisions of its own beyond what each variant is.

use crate::cache::{LockError, MalformedToken};
use crate::commands::configure::ConfigureError;
use crate::protocol::ProtocolError;
use crate::registry::NotEcr;
use crate::settings::SettingsError;
use crate::token_source::FetchError;
use std::io;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    /// Not an ECR host: docker's signal to go on anonymously.
    #[error(transparent)]
    NotEcr(#[from] NotEcr),
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Configure(#[from] ConfigureError),
    #[error("cannot get an ECR token for {host}")]
    Fetch {
        host: String,
        #[source]
        source: FetchError,
    },
    #[error("{host}")]
    Lock {
        host: String,
        #[source]
        source: LockError,
    },
    #[error("{host}")]
    Token {
        host: String,
        #[source]
        source: MalformedToken,
    },
    #[error("docker-credential-ecr stores nothing for {host}: it is not an Amazon ECR registry")]
    StoreNotEcr { host: String },
    #[error("{host} is neither an Amazon ECR registry nor an alias in the settings file")]
    NotRegistry { host: String },
    #[error("cannot tell who the AWS credentials belong to")]
    Identity(#[source] FetchError),
    #[error("no AWS region is configured; set AWS_REGION, or name the registry")]
    NoRegion,
    #[error("{0}")]
    Usage(String),
    /// The command has already said what failed (doctor's report); only the exit status is left.
    #[error("failed")]
    Failed,
    #[error("unknown action `{0}`")]
    UnknownAction(String),
    #[error("no action given")]
    NoAction,
    /// Writing our answer failed; usually docker closed the pipe, so there is no one to tell.
    #[error("cannot write the answer")]
    Output(#[source] io::Error),
}
