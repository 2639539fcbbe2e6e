//! `store`: `docker login` hands us a password. ECR tokens come from AWS, so for an ECR
//! host we accept and keep nothing, which lets `docker login` succeed.

use crate::error::Error;
use crate::protocol;
use crate::registry::Registry;
use std::io::Read;

pub fn store(input: &mut dyn Read) -> Result<(), Error> {
    let request = protocol::read_store_request(input)?;
    match Registry::parse(&request.server_url) {
        Ok(_) => Ok(()),
        Err(not_ecr) => Err(Error::StoreNotEcr {
            host: not_ecr.input,
        }),
    }
}
