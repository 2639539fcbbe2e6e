//! Bad input on stdin, to `store`, and in the AWS config files: one clear line (or the
//! not-found sentence, or the right token where the input is merely unusual), a non-zero
//! exit for what is refused, never a panic, under a second for anything that needs no
//! network, and the cache exactly as it was.

use crate::cache::the_entry;
use crate::support::*;
use std::fs;
use std::time::Duration;

/// The issue's bound for input that is refused before any network call.
const REFUSAL_BOUND: Duration = Duration::from_secs(1);

/// Deterministic noise: what matters is that it is neither UTF-8 nor short.
fn random_bytes(len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect()
}

fn refused(env: &TestEnv, case: &str, action: &str, input: &[u8], expected: &str) {
    let run = env.run(&[action], input);
    figure("input", &format!("{action}: {case}"), &run);
    assert_eq!(run.code(), Some(1), "{case}{}", run.explain());
    let stdout = run.stdout();
    assert_eq!(stdout.lines().count(), 1, "{case}{}", run.explain());
    assert!(
        stdout.contains(expected),
        "{case}: {expected:?}{}",
        run.explain()
    );
    assert!(run.elapsed < REFUSAL_BOUND, "{case}{}", run.explain());
}

#[test]
fn garbage_on_stdin_is_refused_with_one_line_and_the_cache_is_untouched() {
    let front = lab().front();
    let env = TestEnv::with_front(&front);
    env.get(HOST_A).success();
    let entry = the_entry(&env);
    let before = fs::read(&entry).unwrap();
    let long_line = format!("{}\n", "a".repeat(100 * 1024));
    let cases: [(&str, Vec<u8>, &str); 7] = [
        (
            "1 MiB of random bytes",
            random_bytes(1 << 20),
            "longer than 65536 bytes",
        ),
        (
            "a 100 KiB line",
            long_line.into_bytes(),
            "longer than 65536 bytes",
        ),
        ("empty stdin", Vec::new(), "no server URL"),
        ("only whitespace", b" \r\n\t\n".to_vec(), "no server URL"),
        ("invalid UTF-8", b"\xff\xfe\xfd\n".to_vec(), "not UTF-8"),
        (
            "a NUL byte in the URL",
            format!("{HOST_A}\0evil\n").into_bytes(),
            "control character",
        ),
        (
            "two lines",
            format!("{HOST_A}\n{HOST_B}\n").into_bytes(),
            "control character",
        ),
    ];
    for action in ["get", "erase"] {
        for (case, input, expected) in &cases {
            refused(&env, case, action, input, expected);
        }
    }
    assert_eq!(fs::read(&entry).unwrap(), before, "cache untouched");
    assert_eq!(front.calls().len(), 1, "no call for refused input");
}

#[test]
fn unusual_but_valid_urls_get_the_right_token() {
    let front = lab().front();
    let env = TestEnv::with_front(&front);
    for (case, input) in [
        ("CRLF line ending", format!("{HOST_A}\r\n")),
        ("no newline at all", HOST_A.to_owned()),
        (
            "userinfo, port, path, query and fragment",
            format!("https://user:pw@{HOST_A}:443/v2/repo?x=1#frag\n"),
        ),
    ] {
        let run = env.run(&["get"], input.as_bytes());
        figure("input", &format!("get: {case}"), &run);
        let reply = run.credentials();
        assert_eq!(reply["Secret"], password_for(ACCOUNT_A), "{case}");
        assert_eq!(reply["ServerURL"], input.trim(), "{case}: echoed as given");
    }
    assert_eq!(
        front.calls_to("ecr").len(),
        1,
        "one entry for all spellings"
    );
}

#[test]
fn a_url_that_is_not_ecr_is_docker_s_not_found_sentence() {
    let env = TestEnv::new();
    for input in [
        "https://evil.example/111111111111.dkr.ecr.us-east-1.amazonaws.com",
        "https://111111111111.dkr.ecr.us-east-1.amazonaws.com@evil.example/",
        "[::1]:443",
    ] {
        let run = env.run(&["get"], input.as_bytes());
        figure("input", &format!("get: {input}"), &run);
        assert_eq!(run.code(), Some(1), "{}", run.explain());
        assert_eq!(run.stdout(), format!("{NOT_FOUND}\n"), "{}", run.explain());
        assert!(run.elapsed < REFUSAL_BOUND, "{}", run.explain());
    }
}

#[test]
fn malformed_json_to_store_is_refused_with_one_line() {
    let env = TestEnv::new();
    for (case, input) in [
        ("empty", &b""[..]),
        ("not JSON", b"hello"),
        ("cut short", br#"{"ServerURL":"public.ecr.aws","Secr"#),
        ("an array", b"[]"),
        ("a number for ServerURL", br#"{"ServerURL":5}"#),
        ("no ServerURL", br#"{"Username":"AWS","Secret":"x"}"#),
    ] {
        refused(&env, case, "store", input, "`store` expects JSON");
    }
    refused(
        &env,
        "invalid UTF-8",
        "store",
        b"{\"ServerURL\":\"\xff\"}",
        "not UTF-8",
    );
    let random = random_bytes(1 << 20);
    refused(
        &env,
        "1 MiB of random bytes",
        "store",
        &random,
        "longer than 65536 bytes",
    );
}

/// The AWS SDK reads these files itself; a syntax error must come out as one line naming
/// the file and the line, not as a panic (the reference panics, upstream #522) or as
/// "no credentials".
#[test]
fn malformed_aws_files_are_named_with_their_line() {
    let front = lab().front();
    for (case, file, text) in [
        (
            "~/.aws/config: unclosed section header",
            "config",
            "[default]\nregion = us-east-1\n[profile dev\nregion = eu-west-1\n",
        ),
        (
            "~/.aws/config: a line with no '='",
            "config",
            "[profile dev]\nregion eu-west-1\n",
        ),
        (
            "~/.aws/credentials: a key before any section",
            "credentials",
            "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n[dev]\n",
        ),
        (
            "~/.aws/credentials: a line with no '='",
            "credentials",
            "[dev]\naws_access_key_id AKIAIOSFODNN7EXAMPLE\n",
        ),
    ] {
        let mut env = TestEnv::new();
        env.use_front(&front);
        env.set("AWS_PROFILE", "dev");
        match file {
            "config" => env.write_aws_config(text),
            _ => env.write_aws_credentials(text),
        }
        let run = env.get(HOST_A);
        figure("input", case, &run);
        assert_eq!(run.code(), Some(1), "{case}{}", run.explain());
        let stdout = run.stdout();
        assert_eq!(stdout.lines().count(), 1, "{case}{}", run.explain());
        let path = env.vars()[if file == "config" {
            "AWS_CONFIG_FILE"
        } else {
            "AWS_SHARED_CREDENTIALS_FILE"
        }]
        .clone();
        assert!(
            stdout.contains(&path) && stdout.contains("line "),
            "{case}: names the file and the line{}",
            run.explain()
        );
        assert!(run.elapsed < REFUSAL_BOUND * 5, "{case}{}", run.explain());
    }
    assert!(front.calls().is_empty(), "{:?}", front.calls());
}
