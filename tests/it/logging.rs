//! Logging: silent by default, and at trace level never a secret, whatever the SDK logs.

use crate::support::*;
use base64::Engine;
use std::os::unix::fs::PermissionsExt;

const SESSION_TOKEN: &str = "FwoGZXIvYXdzELAB-session-token-that-must-not-leak";

#[test]
fn a_trace_level_get_logs_the_calls_and_no_secret() {
    let front = lab().front();
    let mut env = TestEnv::with_front(&front);
    env.set("AWS_SESSION_TOKEN", SESSION_TOKEN)
        .set("AWS_ECR_LOG", "trace");
    let run = env.get(HOST_A);
    assert_eq!(secret_of(&run), password_for(ACCOUNT_A));
    let log = run.stderr();

    // It logged the real work, at trace level, SDK included...
    for expected in [
        "cache miss",
        "fetched a token",
        "GetAuthorizationToken",
        " TRACE ",
    ] {
        assert!(log.contains(expected), "no {expected:?} in the log:\n{log}");
    }
    // ...and no secret in any form.
    let password = password_for(ACCOUNT_A);
    let token = base64::engine::general_purpose::STANDARD.encode(format!("AWS:{password}"));
    for secret in [
        SECRET_ACCESS_KEY,
        SESSION_TOKEN,
        password.as_str(),
        token.as_str(),
        "Signature=",
    ] {
        assert!(
            !log.contains(secret),
            "{secret:?} leaked into the log:\n{log}"
        );
    }

    // Off by default: a warm get says nothing.
    env.set("AWS_ECR_LOG", "");
    let quiet = env.get(HOST_A);
    quiet.success();
    assert_eq!(quiet.stderr(), "");
}

#[test]
fn the_log_file_is_private_and_v_turns_logging_on() {
    let front = lab().front();
    let mut env = TestEnv::with_front(&front);
    let file = env.home().join("helper.log");
    env.set("AWS_ECR_LOG_FILE", file.to_str().unwrap());
    let run = env.run(&["-vv", "get"], format!("{HOST_A}\n").as_bytes());
    run.success();
    assert_eq!(run.stderr(), "", "the log goes to the file");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("cache miss"), "{text}");
    assert!(!text.contains(SECRET_ACCESS_KEY), "{text}");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}
