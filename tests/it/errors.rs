//! Each failure of an ECR host gives one line that names cause and remedy, on stdout and
//! stderr, exit 1, never docker's not-found sentence, and never a secret.

use crate::support::*;
use serde_json::json;

pub fn assert_one_line_failure(env: &TestEnv, run: &Run, must_contain: &[&str]) {
    run.failure();
    let stdout = run.stdout();
    assert_eq!(stdout.lines().count(), 1, "{}", run.explain());
    assert!(
        !stdout.contains("credentials not found"),
        "{}",
        run.explain()
    );
    assert!(
        run.stderr().contains(stdout.trim_end()),
        "stderr repeats the line{}",
        run.explain()
    );
    for needle in must_contain {
        assert!(
            stdout.contains(needle),
            "missing {needle:?}{}",
            run.explain()
        );
    }
    for secret in [SECRET_ACCESS_KEY, ACCESS_KEY_ID] {
        assert!(
            !stdout.contains(secret) && !run.stderr().contains(secret),
            "{}",
            run.explain()
        );
    }
    assert!(env.vars().contains_key("HOME"));
}

#[test]
fn no_credentials() {
    let front = lab().front();
    let mut env = TestEnv::new();
    env.use_front(&front);
    let run = env.get(HOST_A);
    figure("fault", "no credentials at all", &run);
    assert_one_line_failure(
        &env,
        &run,
        &["no AWS credentials found", "aws configure", HOST_A],
    );
    assert!(front.calls().is_empty());
}

#[test]
fn expired_sso_session() {
    let front = lab().front();
    let mut env = TestEnv::new();
    env.use_front(&front);
    env.set("AWS_PROFILE", "dev");
    // Logged in once, expired long ago: as `aws sso login` leaves it.
    env.sso_profile(
        "dev",
        "corp",
        "lab-sso-access-token",
        "2020-01-01T00:00:00Z",
    );
    let run = env.get(HOST_A);
    assert_one_line_failure(
        &env,
        &run,
        &[
            "SSO session of profile `dev` has expired",
            "aws sso login --profile dev",
        ],
    );
}

#[test]
fn access_denied_names_the_principal() {
    let front = lab().front();
    let env = TestEnv::with_front(&front);
    front.fault(json!({"kind": "access_denied"}));
    let run = env.get(HOST_A);
    figure("fault", "AccessDeniedException", &run);
    assert_one_line_failure(
        &env,
        &run,
        &[
            "access denied",
            "arn:aws:iam::111111111111:user/ci-bot",
            "ecr:GetAuthorizationToken",
        ],
    );
}

#[test]
fn throttled_after_retries() {
    let front = lab().front();
    let env = TestEnv::with_front(&front);
    front.fault(json!({"kind": "throttle"}));
    let run = env.get(HOST_A);
    figure("fault", "ThrottlingException on every call", &run);
    assert_one_line_failure(&env, &run, &["throttled", "retry later"]);
    assert!(
        front.calls().len() > 1,
        "the SDK retried: {:?}",
        front.calls()
    );
}

#[test]
fn throttling_that_clears_is_retried_to_success() {
    let front = lab().front();
    let env = TestEnv::with_front(&front);
    front.fault(json!({"kind": "throttle", "times": 1}));
    let run = env.get(HOST_A);
    figure("fault", "ThrottlingException once, then OK", &run);
    assert_eq!(secret_of(&run), password_for(ACCOUNT_A));
    assert_eq!(front.calls().len(), 2);
}

#[test]
fn expired_or_invalid_keys() {
    let front = lab().front();
    let env = TestEnv::with_front(&front);
    for (kind, code) in [
        ("expired_token", "ExpiredTokenException"),
        ("invalid_credentials", "UnrecognizedClientException"),
    ] {
        front.fault(json!({"kind": kind}));
        let run = env.get(HOST_A);
        figure("fault", code, &run);
        assert_one_line_failure(
            &env,
            &run,
            &["rejected by ECR", "AWS_ACCESS_KEY_ID from the environment"],
        );
    }
}

#[test]
fn endpoint_unreachable() {
    let mut env = TestEnv::with_front(&lab().front());
    // A port nothing listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("https://127.0.0.1:{port}");
    env.set("AWS_ENDPOINT_URL_ECR", &endpoint);
    let run = env.get(HOST_A);
    figure("fault", "connection refused", &run);
    assert_one_line_failure(
        &env,
        &run,
        &["unreachable", &endpoint, "Connection refused"],
    );
}

#[test]
fn endpoint_too_slow_times_out() {
    let front = lab().front();
    let mut env = TestEnv::with_front(&front);
    env.set("AWS_ECR_TIMEOUT", "1");
    front.fault(json!({"kind": "hang"}));
    let started = std::time::Instant::now();
    let run = env.get(HOST_A);
    figure("fault", "API never answers, AWS_ECR_TIMEOUT=1", &run);
    assert_one_line_failure(&env, &run, &["did not answer within 1s", "AWS_ECR_TIMEOUT"]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "bounded: {:?}",
        started.elapsed()
    );
}

#[test]
fn https_proxy_is_used_and_no_proxy_bypasses_it() {
    let front = lab().front();
    let mut env = TestEnv::with_front(&front);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    env.set("HTTPS_PROXY", &format!("http://127.0.0.1:{port}"));
    let run = env.get(HOST_A);
    assert_one_line_failure(&env, &run, &["unreachable", "HTTPS_PROXY"]);
    assert!(
        front.calls().is_empty(),
        "the call went to the (dead) proxy, not the front"
    );

    env.set("NO_PROXY", "127.0.0.1");
    assert_eq!(secret_of(&env.get(HOST_A)), password_for(ACCOUNT_A));
}

#[test]
fn the_ca_bundle_is_what_makes_the_endpoint_trusted() {
    let front = lab().front();
    let mut env = TestEnv::with_front(&front);
    env.set("AWS_CA_BUNDLE", "/nonexistent/ca.pem");
    let run = env.get(HOST_A);
    assert_one_line_failure(
        &env,
        &run,
        &[
            "cannot read the CA bundle /nonexistent/ca.pem",
            "AWS_CA_BUNDLE",
        ],
    );

    let mut env = TestEnv::with_front(&front);
    env.vars()
        .get("AWS_CA_BUNDLE")
        .expect("with_front trusts the lab CA");
    env.set("AWS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt");
    let run = env.get(HOST_A);
    assert_one_line_failure(&env, &run, &["unreachable", "certificate", "AWS_CA_BUNDLE"]);
    assert!(front.calls().is_empty());
}

#[test]
fn a_ca_bundle_replaces_the_system_roots() {
    let front = lab().front();
    // The lab CA as a system root, and a bundle without it: were the bundle added to the
    // system roots, the front would be trusted.
    let mut env = TestEnv::with_front(&front);
    env.set("SSL_CERT_FILE", lab().ca.to_str().unwrap());
    env.set("AWS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt");
    let run = env.get(HOST_A);
    assert_one_line_failure(&env, &run, &["unreachable", "certificate"]);

    env.unset("AWS_CA_BUNDLE");
    assert_eq!(secret_of(&env.get(HOST_A)), password_for(ACCOUNT_A));
}

#[test]
fn a_ca_bundle_that_does_not_parse_is_one_line_and_no_call() {
    let front = lab().front();
    let mut env = TestEnv::with_front(&front);
    let broken = env.home().join("broken-ca.pem");
    for (contents, reason) in [
        (&b"not a certificate\n"[..], "no PEM certificate"),
        (
            &b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"[..],
            "certificate 1",
        ),
        (
            &b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"[..],
            "certificate 1",
        ),
    ] {
        std::fs::write(&broken, contents).unwrap();
        env.set("AWS_CA_BUNDLE", broken.to_str().unwrap());
        let run = env.get(HOST_A);
        assert_one_line_failure(
            &env,
            &run,
            &["cannot read the CA bundle", reason, "AWS_CA_BUNDLE"],
        );
        assert!(!run.stderr().contains("panicked"), "{}", run.explain());
    }
    assert!(front.calls().is_empty());
}
