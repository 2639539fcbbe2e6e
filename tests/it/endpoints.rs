//! With no endpoint override, each kind of registry host must reach its own API endpoint:
//! FIPS hosts the FIPS endpoint, dual-stack hosts the dual-stack one, ECR Public its API in
//! us-east-1. The endpoint names resolve to a front in a private mount namespace, which
//! records the Host each call was made to.

use crate::support::namespace::Namespace;
use crate::support::*;
use serde_json::json;

/// Registry host → the API endpoint the AWS SDK must call for it, and the password.
const CASES: [(&str, &str); 5] = [
    (HOST_A, "api.ecr.us-east-1.amazonaws.com"),
    (
        "111111111111.dkr.ecr-fips.us-east-1.amazonaws.com",
        "api.ecr-fips.us-east-1.amazonaws.com",
    ),
    (
        "111111111111.dkr-ecr.us-east-1.on.aws",
        "ecr.us-east-1.api.aws",
    ),
    (
        "111111111111.dkr-ecr-fips.us-east-1.on.aws",
        "ecr-fips.us-east-1.api.aws",
    ),
    (PUBLIC_HOST, "api.ecr-public.us-east-1.amazonaws.com"),
];

/// An address no other test binds on 443.
const API_ADDRESS: &str = "127.0.0.9";

#[test]
fn fips_dual_stack_and_public_hosts_call_their_own_api_endpoints() {
    let endpoints: Vec<&str> = CASES.iter().map(|(_, endpoint)| *endpoint).collect();
    let front = lab().front_with(
        json!({"tls": true, "bind": API_ADDRESS, "port": 443, "cert_names": endpoints}),
    );
    let namespace = Namespace::new(
        &endpoints
            .iter()
            .map(|name| (*name, API_ADDRESS))
            .collect::<Vec<_>>(),
    );
    let mut env = TestEnv::new();
    env.set("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .set("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
        .set("AWS_CA_BUNDLE", lab().ca.to_str().unwrap());

    for (registry, endpoint) in CASES {
        front.reset();
        let mut command = namespace.command(&env, BIN);
        command.arg("get");
        let output = feed(command, format!("{registry}\n").as_bytes());
        assert!(
            output.status.success(),
            "{registry}: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        let calls = front.calls();
        assert_eq!(calls.len(), 1, "{registry}: {calls:?}");
        assert_eq!(calls[0].host, endpoint, "{registry}");
        let expected = if registry == PUBLIC_HOST {
            PUBLIC_PASSWORD.to_owned()
        } else {
            password_for(ACCOUNT_A)
        };
        let reply: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(reply["Secret"], expected, "{registry}");
    }
}
