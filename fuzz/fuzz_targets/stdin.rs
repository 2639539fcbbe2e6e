//! What `get`, `erase` and `store` do with stdin before any I/O: read the server URL (or
//! the store JSON), decide whether it is ECR, render the error. Never a panic; an
//! accepted URL contains its host; every error renders as one line.
#![no_main]

use docker_credential_ecr::error::Error;
use docker_credential_ecr::{protocol, registry::Registry, report};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let outcome = protocol::read_server_url(&mut &data[..])
        .map_err(Error::from)
        .and_then(|url| {
            let registry = Registry::parse(&url)?;
            assert!(url.contains(registry.host()), "{url:?}");
            assert!(!registry.host().is_empty());
            Ok(())
        });
    if let Err(err) = outcome {
        let line = report::sanitize(&report::render(&err));
        assert!(!line.contains(['\n', '\r']), "{line:?}");
    }
    if let Err(err) = protocol::read_store_request(&mut &data[..]) {
        let line = report::sanitize(&report::render(&Error::from(err)));
        assert!(!line.contains(['\n', '\r']), "{line:?}");
    }
});
