//! The one place errors become text. An ECR failure is one line that names the cause
//! and the remedy, written to stdout (the protocol's error text, which skopeo and podman
//! show) and to stderr (docker's CLI replaces our stdout with "no basic auth credentials"
//! but passes stderr through). Only a host that is not ECR gets the not-found sentence.

use crate::cache::LockError;
use crate::config::{AWS_CA_BUNDLE, AWS_ECR_DISABLE_CACHE, AWS_ECR_TIMEOUT};
use crate::error::Error;
use crate::protocol::NOT_FOUND;
use crate::token_source::{FetchError, error_chain, root_cause};
use std::io::{self, Write};

pub const PROGRAM: &str = "docker-credential-ecr";

/// The short usage printed after a command-line mistake; `--help` has the rest.
pub fn usage() -> String {
    let names: Vec<&str> = crate::cli::COMMANDS.iter().map(|c| c.name).collect();
    format!(
        "Usage: {PROGRAM} <{}>\nRun `{PROGRAM} --help` for the commands, variables and files.",
        names.join("|")
    )
}

/// Writes the error of a protocol action (get, store, erase, list) and returns nothing:
/// the caller exits 1 whatever happens here.
pub fn report(err: &Error, stdout: &mut dyn Write, stderr: &mut dyn Write) {
    match err {
        Error::NotEcr(_) => {
            let _ = writeln!(stdout, "{NOT_FOUND}");
        }
        Error::UnknownAction(_) | Error::NoAction | Error::Usage(_) => {
            let _ = writeln!(stderr, "{PROGRAM}: {err}\n{}", usage());
        }
        Error::Output(_) | Error::Failed => {}
        _ => {
            let line = sanitize(&render(err));
            let _ = writeln!(stdout, "{line}");
            let _ = writeln!(stderr, "{PROGRAM}: {line}");
        }
    }
}

/// Writes the error of any other command to stderr alone: their stdout is a password,
/// a config file or a report, never a place for an error line.
pub fn report_to_stderr(err: &Error, stderr: &mut dyn Write) {
    report(err, &mut io::sink(), stderr);
}

/// A warning (stale token served, cache unusable) for stderr only: stdout is the answer.
pub fn warn(stderr: &mut dyn Write, message: &str) {
    let _ = writeln!(stderr, "{PROGRAM}: warning: {}", sanitize(message));
}

pub fn render(err: &Error) -> String {
    match err {
        Error::Fetch { source, .. } => format!("{err}: {}", render_fetch(source)),
        Error::Lock { host, source } => match source {
            LockError::TimedOut { .. } => format!(
                "{host}: {source}; it is probably hung: stop it, or set {AWS_ECR_DISABLE_CACHE}=1"
            ),
            LockError::Open { .. } => format!("{host}: {}", error_chain(source)),
        },
        Error::Token { host, source } => format!("{host}: {source}"),
        Error::Identity(source) => format!("{err}: {}", render_fetch(source)),
        _ => error_chain(err),
    }
}

fn render_fetch(err: &FetchError) -> String {
    let remedy = match err {
        FetchError::NoCredentials { .. } => {
            "set AWS_PROFILE to a profile in ~/.aws/config, export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run `aws configure`".to_owned()
        }
        FetchError::SsoSessionExpired { profile, .. } => {
            format!("run `aws sso login --profile {profile}`")
        }
        FetchError::CredentialsUnavailable { .. } => {
            "check that profile in ~/.aws/config and ~/.aws/credentials".to_owned()
        }
        FetchError::ProfileSyntax { .. } => {
            "fix that line: the AWS CLI and every SDK read the same file".to_owned()
        }
        FetchError::CredentialsRejected { .. } => {
            "the keys are expired or wrong: refresh them (for a session, log in again)".to_owned()
        }
        FetchError::AccessDenied { .. } => {
            "allow ecr:GetAuthorizationToken for that principal, or use another profile".to_owned()
        }
        FetchError::Throttled { .. } => {
            "retry later; a warm cache avoids these calls altogether".to_owned()
        }
        FetchError::Unreachable { source, .. } => {
            let cause = root_cause(source.as_ref());
            if cause.contains("certificate") {
                format!("{cause}; if a proxy intercepts TLS, point {AWS_CA_BUNDLE} at its CA")
            } else {
                format!("{cause}; check the network, HTTPS_PROXY/NO_PROXY and AWS_ENDPOINT_URL_ECR")
            }
        }
        FetchError::TimedOut { .. } => {
            format!("check the network or raise {AWS_ECR_TIMEOUT} (seconds)")
        }
        FetchError::CaBundle { source, .. } => {
            format!("{source}; point {AWS_CA_BUNDLE} at a readable PEM file")
        }
        FetchError::Service { .. }
        | FetchError::Configuration { .. }
        | FetchError::InvalidResponse { .. }
        | FetchError::Runtime(_) => {
            return error_chain(err);
        }
    };
    format!("{err}; {remedy}")
}

/// One line, no terminal control: text from servers and stdin must not rewrite the user's
/// screen or spill onto a second line that docker would drop.
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::NotEcr;

    fn rendered(err: Error) -> (String, String) {
        let (mut out, mut errs) = (Vec::new(), Vec::new());
        report(&err, &mut out, &mut errs);
        (
            String::from_utf8(out).unwrap(),
            String::from_utf8(errs).unwrap(),
        )
    }

    fn fetch(source: FetchError) -> Error {
        Error::Fetch {
            host: "111111111111.dkr.ecr.us-east-1.amazonaws.com".into(),
            source,
        }
    }

    #[test]
    fn not_ecr_is_the_exact_not_found_sentence_and_nothing_else() {
        let (out, err) = rendered(Error::NotEcr(NotEcr {
            input: "docker.io".into(),
        }));
        assert_eq!(out, "credentials not found in native keychain\n");
        assert_eq!(err, "");
    }

    #[test]
    fn every_fetch_failure_names_cause_and_remedy_on_both_streams() {
        let cases = [
            (
                FetchError::NoCredentials {
                    source_tried: "no credential source".into(),
                },
                "no AWS credentials found",
                "aws configure",
            ),
            (
                FetchError::SsoSessionExpired {
                    profile: "dev".into(),
                    detail: String::new(),
                },
                "SSO session of profile `dev` has expired",
                "aws sso login --profile dev",
            ),
            (
                FetchError::AccessDenied {
                    message: "User: arn:aws:iam::1:user/ci is not authorized".into(),
                },
                "arn:aws:iam::1:user/ci",
                "ecr:GetAuthorizationToken",
            ),
            (
                FetchError::Throttled {
                    region: "us-east-1".into(),
                },
                "throttled",
                "retry later",
            ),
            (
                FetchError::Unreachable {
                    endpoint: "https://127.0.0.1:9".into(),
                    source: "connection refused".into(),
                },
                "unreachable at https://127.0.0.1:9",
                "connection refused",
            ),
            (
                FetchError::TimedOut {
                    endpoint: "https://x".into(),
                    after: std::time::Duration::from_secs(2),
                },
                "did not answer within 2s",
                "AWS_ECR_TIMEOUT",
            ),
        ];
        for (source, cause, remedy) in cases {
            let (out, err) = rendered(fetch(source));
            assert_eq!(out.lines().count(), 1, "{out}");
            assert!(
                out.starts_with(
                    "cannot get an ECR token for 111111111111.dkr.ecr.us-east-1.amazonaws.com: "
                ),
                "{out}"
            );
            assert!(out.contains(cause) && out.contains(remedy), "{out}");
            assert!(!out.contains(NOT_FOUND), "{out}");
            assert_eq!(err, format!("{PROGRAM}: {out}"));
        }
    }

    #[test]
    fn sanitize_keeps_one_line_and_no_escape_sequences() {
        assert_eq!(sanitize("a\nb\x1b[2Jc"), "a b\\u{1b}[2Jc");
    }
}
