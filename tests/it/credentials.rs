//! The AWS credential chain through aws-config, and the point of our cache key: a hit
//! resolves no credentials at all, so no process, STS or container endpoint is touched.

use crate::support::*;
use std::os::unix::fs::PermissionsExt;

#[test]
fn credential_process_runs_once_then_the_cache_answers() {
    let front = lab().front();
    let mut env = TestEnv::new();
    env.use_front(&front);
    let runs = env.home().join("process-runs");
    let script = env.home().join("credentials.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho run >> {}\necho '{{\"Version\": 1, \"AccessKeyId\": \"AKIAPROCESS000000000\", \"SecretAccessKey\": \"process-secret\"}}'\n",
            runs.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    env.write_aws_config(&format!(
        "[profile proc]\ncredential_process = {}\n",
        script.display()
    ));
    env.set("AWS_PROFILE", "proc");

    assert_eq!(secret_of(&env.get(HOST_A)), password_for(ACCOUNT_A));
    assert_eq!(secret_of(&env.get(HOST_A)), password_for(ACCOUNT_A));
    assert_eq!(std::fs::read_to_string(&runs).unwrap().lines().count(), 1);
    assert_eq!(front.calls().len(), 1);
}

#[test]
fn web_identity_from_the_environment_assumes_the_role_once() {
    let front = lab().front();
    let mut env = TestEnv::new();
    env.use_front(&front);
    let token = env.home().join("oidc-token");
    std::fs::write(&token, "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl").unwrap();
    env.set("AWS_WEB_IDENTITY_TOKEN_FILE", token.to_str().unwrap())
        .set("AWS_ROLE_ARN", "arn:aws:iam::111111111111:role/ci")
        .set("AWS_ROLE_SESSION_NAME", "ci");

    assert_eq!(secret_of(&env.get(HOST_A)), password_for(ACCOUNT_A));
    let calls = front.calls();
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.operation == "AssumeRoleWithWebIdentity")
            .count(),
        1,
        "{calls:?}"
    );
    assert_eq!(front.calls_to("ecr").len(), 1);
    env.get(HOST_A).success();
    assert_eq!(
        front.calls().len(),
        calls.len(),
        "the hit calls neither STS nor ECR"
    );
}

#[test]
fn container_credentials_are_fetched_once_then_the_cache_answers() {
    let front = lab().front();
    let mut env = TestEnv::new();
    env.use_front(&front);
    env.set(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        &format!("{}/container-credentials", lab().control_url()),
    );
    let served = || {
        lab().request("GET", "/container-credentials/served", None)["served"]
            .as_u64()
            .unwrap()
    };
    let before = served();
    assert_eq!(secret_of(&env.get(HOST_B)), password_for(ACCOUNT_B));
    assert_eq!(served(), before + 1);
    env.get(HOST_B).success();
    assert_eq!(
        served(),
        before + 1,
        "the hit did not ask the container endpoint"
    );
    assert_eq!(front.calls().len(), 1);
}
