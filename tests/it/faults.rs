//! The fault matrix: every way the API or the credential chain can fail gives either the
//! right token (a retry, or a still-valid cached token with a warning) or one line that
//! names the cause, exit 1, never a panic, and always within a bound set by the timeouts.
//! errors.rs covers the faults whose point is the wording (throttling, rejected keys,
//! access denied, refused connections, a hung endpoint); this file covers the rest, and
//! both print a `figure fault` row per case for docs/reliability.md.

use crate::errors::assert_one_line_failure;
use crate::support::*;
use serde_json::json;
use std::time::Duration;

/// Far above what any case below needs, far below "minutes": the sanity bound for cases
/// that run with the default 30 s operation timeout.
const DEFAULT_TIMEOUT_BOUND: Duration = Duration::from_secs(40);

fn assert_within(run: &Run, bound: Duration) {
    assert!(
        run.elapsed < bound,
        "took {:?}, bound {bound:?}{}",
        run.elapsed,
        run.explain()
    );
}

/// A get that must succeed with account A's token after `fault` hit the first calls.
fn recovers(fault: &str, spec: serde_json::Value, calls: usize) {
    let front = lab().front();
    let env = TestEnv::with_front(&front);
    front.fault(spec);
    let run = env.get(HOST_A);
    figure("fault", fault, &run);
    assert_eq!(
        secret_of(&run),
        password_for(ACCOUNT_A),
        "{}",
        run.explain()
    );
    assert_eq!(front.calls_to("ecr").len(), calls, "{:?}", front.calls());
    assert_within(&run, DEFAULT_TIMEOUT_BOUND);
}

/// A get that must fail with one line containing `needles` while `fault` persists.
fn fails(fault: &str, spec: serde_json::Value, needles: &[&str]) -> Run {
    let front = lab().front();
    let env = TestEnv::with_front(&front);
    front.fault(spec);
    let run = env.get(HOST_A);
    figure("fault", fault, &run);
    assert_one_line_failure(&env, &run, needles);
    assert_within(&run, DEFAULT_TIMEOUT_BOUND);
    run
}

#[test]
fn a_500_then_success_is_retried() {
    recovers(
        "HTTP 500 once, then OK",
        json!({"kind": "http500", "times": 1}),
        2,
    );
}

#[test]
fn a_503_twice_then_success_is_retried() {
    recovers(
        "HTTP 503 twice, then OK",
        json!({"kind": "http503", "times": 2}),
        3,
    );
}

#[test]
fn a_dropped_connection_then_success_is_retried() {
    recovers(
        "connection closed unanswered once, then OK",
        json!({"kind": "close", "times": 1}),
        2,
    );
}

#[test]
fn a_body_cut_short_then_success_is_retried() {
    recovers(
        "body cut at half its Content-Length once, then OK",
        json!({"kind": "partial_body", "times": 1}),
        2,
    );
}

#[test]
fn a_persistent_500_names_the_error() {
    fails(
        "HTTP 500 on every call",
        json!({"kind": "http500"}),
        &["InternalServerError", "internal error"],
    );
}

#[test]
fn a_persistent_503_names_the_error() {
    fails(
        "HTTP 503 on every call",
        json!({"kind": "http503"}),
        &["ServiceUnavailableException", "Service Unavailable"],
    );
}

#[test]
fn connections_closed_unanswered_fail_with_one_line() {
    fails(
        "connection closed unanswered on every call",
        json!({"kind": "close"}),
        &["ECR is unreachable at"],
    );
}

#[test]
fn a_body_always_cut_short_fails_with_one_line() {
    fails(
        "body cut at half its Content-Length on every call",
        json!({"kind": "partial_body"}),
        &["ECR"],
    );
}

#[test]
fn truncated_json_is_an_unusable_answer() {
    fails(
        "200 with JSON that stops mid-document",
        json!({"kind": "malformed_json"}),
        &["ECR sent an answer we cannot use"],
    );
}

#[test]
fn a_non_json_page_is_an_unusable_answer() {
    fails(
        "200 with an HTML page (captive portal)",
        json!({"kind": "not_json"}),
        &["ECR sent an answer we cannot use"],
    );
}

#[test]
fn an_api_slower_than_the_timeout_is_cut_off() {
    let front = lab().front();
    let mut env = TestEnv::with_front(&front);
    env.set("AWS_ECR_TIMEOUT", "2");
    front.fault(json!({"latency_ms": 5000}));
    let run = env.get(HOST_A);
    figure("fault", "API answers after 5 s, AWS_ECR_TIMEOUT=2", &run);
    assert_one_line_failure(&env, &run, &["did not answer within 2s", "AWS_ECR_TIMEOUT"]);
    // The operation timeout, plus process start and the report.
    assert_within(&run, Duration::from_secs(2 + 5));
}

#[test]
fn a_token_without_expiry_is_served_but_not_cached() {
    let front = lab().front();
    let env = TestEnv::with_front(&front);
    front.fault(json!({"kind": "no_expires_at"}));
    let first = env.get(HOST_A);
    figure("fault", "token response without expiresAt", &first);
    assert_eq!(secret_of(&first), password_for(ACCOUNT_A));
    assert_eq!(secret_of(&env.get(HOST_A)), password_for(ACCOUNT_A));
    assert_eq!(
        front.calls_to("ecr").len(),
        2,
        "an entry without expiry is never served from the cache"
    );
}

/// A listener that reads the request and never answers, as instance metadata looks
/// from a laptop or a container with no route to it (the reference waits minutes).
#[test]
fn a_blackholed_instance_metadata_service_costs_seconds() {
    let api = lab().front();
    let imds = lab().front_with(json!({"tls": false}));
    imds.fault(json!({"kind": "hang"}));
    let mut env = TestEnv::new();
    env.use_front(&api);
    env.unset("AWS_EC2_METADATA_DISABLED");
    env.set("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds.url);
    let run = env.get(HOST_A);
    figure("fault", "instance metadata accepts and never answers", &run);
    assert_one_line_failure(&env, &run, &["the EC2 instance profile"]);
    assert!(!imds.calls().is_empty(), "the blackhole was asked");
    assert!(api.calls().is_empty(), "{:?}", api.calls());
    assert_within(&run, DEFAULT_TIMEOUT_BOUND);
}

fn stale_token_is_served(fault: &str, spec: serde_json::Value, timeout: &str) {
    let front = lab().front();
    let mut env = TestEnv::with_front(&front);
    env.set("AWS_ECR_TIMEOUT", timeout);
    env.get(HOST_A).success();
    age_entry(&crate::cache::the_entry(&env));
    front.fault(spec);
    let run = env.get(HOST_A);
    figure("fault", fault, &run);
    assert_eq!(secret_of(&run), password_for(ACCOUNT_A));
    let warning = run.stderr();
    assert_eq!(warning.lines().count(), 1, "{}", run.explain());
    assert!(
        warning.contains("warning") && warning.contains("using the cached token"),
        "{}",
        run.explain()
    );
    let secs: u64 = timeout.parse().unwrap();
    assert_within(&run, Duration::from_secs(secs + 5));
}

#[test]
fn a_refresh_that_times_out_serves_the_still_valid_token() {
    stale_token_is_served(
        "refresh hangs, cached token still valid (AWS_ECR_TIMEOUT=2)",
        json!({"kind": "hang"}),
        "2",
    );
}

#[test]
fn a_refresh_refused_by_access_denied_serves_the_still_valid_token() {
    stale_token_is_served(
        "refresh denied (AccessDenied), cached token still valid",
        json!({"kind": "access_denied"}),
        "30",
    );
}
