//! Logging, only when asked for (`AWS_ECR_LOG=error|warn|info|debug|trace`, or `-v` per
//! step), to stderr or `AWS_ECR_LOG_FILE` (created 0600). Our events and the AWS SDK's
//! go through `tracing`; with logging off no subscriber is installed, so every event
//! site is a disabled callsite and the warm path pays one variable lookup.
//!
//! Release builds compile events above `info` out (tracing's `release_max_level_info`,
//! see Cargo.toml): `debug` and `trace` then log what `info` does.
//!
//! A hand-written subscriber rather than tracing-subscriber: it is a few dozen lines,
//! keeps the binary small, and formats every field itself, which is where redaction has
//! to happen. Every line is redacted, at every level: values after any key that names a
//! secret (the Authorization header, session and security tokens, secret keys, ECR
//! authorization tokens, passwords, in header, JSON, escaped-JSON or XML form), and any
//! occurrence of the secret key or session token found in the environment.

use crate::config::{AWS_ECR_LOG, AWS_ECR_LOG_FILE, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN};
use crate::env::Env;
use crate::report::PROGRAM;
use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// Keys whose values are secrets. Matched case-insensitively at the start of a word.
const SECRET_KEYS: [&str; 14] = [
    "authorization_token",
    "authorization",
    "x-amz-security-token",
    "x-amz-sso_bearer_token",
    "secretaccesskey",
    "secret_access_key",
    "sessiontoken",
    "session_token",
    "authorizationtoken",
    "accesstoken",
    "access_token",
    "password",
    "secret",
    "token",
];
const MASK: &str = "***";

/// Installs the logger when the environment or `-v` asks for one; otherwise nothing.
pub fn init(env: &dyn Env, verbosity: u8, stderr: &mut dyn Write) {
    let Some(level) = level(env, verbosity) else {
        return;
    };
    let sink = match env.var(AWS_ECR_LOG_FILE) {
        Some(path) => match OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(file) => Sink::File(file),
            Err(err) => {
                crate::report::warn(
                    stderr,
                    &format!("cannot open {AWS_ECR_LOG_FILE} {path} ({err}); logging to stderr"),
                );
                Sink::Stderr
            }
        },
        None => Sink::Stderr,
    };
    let known: Vec<String> = [AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN]
        .iter()
        .filter_map(|name| env.var(name))
        .filter(|value| value.len() >= 8)
        .collect();
    let logger = Logger {
        level,
        sink: Mutex::new(sink),
        known,
        next_span: AtomicU64::new(1),
    };
    // A second install (only possible in-process, in tests) keeps the first logger.
    let _ = tracing::subscriber::set_global_default(logger);
}

fn level(env: &dyn Env, verbosity: u8) -> Option<LevelFilter> {
    let from_env =
        env.var(AWS_ECR_LOG)
            .and_then(|v| match v.trim().to_ascii_lowercase().as_str() {
                "error" => Some(LevelFilter::ERROR),
                "warn" => Some(LevelFilter::WARN),
                "info" => Some(LevelFilter::INFO),
                "debug" => Some(LevelFilter::DEBUG),
                "trace" => Some(LevelFilter::TRACE),
                _ => None,
            });
    let from_flags = match verbosity {
        0 => None,
        1 => Some(LevelFilter::INFO),
        2 => Some(LevelFilter::DEBUG),
        _ => Some(LevelFilter::TRACE),
    };
    from_env.max(from_flags)
}

enum Sink {
    Stderr,
    File(std::fs::File),
}

struct Logger {
    level: LevelFilter,
    sink: Mutex<Sink>,
    known: Vec<String>,
    next_span: AtomicU64,
}

impl Logger {
    fn write_line(&self, level: &Level, target: &str, text: &str) {
        let mut line = redact(text);
        for secret in &self.known {
            line = line.replace(secret.as_str(), MASK);
        }
        let line = format!(
            "{PROGRAM}[{}] {level} {target}: {line}\n",
            std::process::id()
        );
        if let Ok(mut sink) = self.sink.lock() {
            let _ = match &mut *sink {
                Sink::Stderr => io::stderr().write_all(line.as_bytes()),
                Sink::File(file) => file.write_all(line.as_bytes()),
            };
        }
    }
}

impl Subscriber for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= &self.level
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.level)
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = Fields::default();
        span.record(&mut fields);
        let meta = span.metadata();
        self.write_line(
            meta.level(),
            meta.target(),
            &format!("span {}{}", meta.name(), fields.0),
        );
        Id::from_u64(self.next_span.fetch_add(1, Ordering::Relaxed))
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        self.write_line(meta.level(), meta.target(), fields.0.trim_start());
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

#[derive(Default)]
struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, " {value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}

/// Masks the value after every secret-naming key, in `key: v`, `key=v`, `"key":"v"`,
/// `\"key\":\"v\"` and `<Key>v</Key>` forms.
pub fn redact(text: &str) -> String {
    let bytes = text.as_bytes();
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let boundary = i == 0 || !is_word(bytes[i - 1]);
        let key = boundary
            .then(|| {
                SECRET_KEYS.iter().find(|k| {
                    let end = i + k.len();
                    lower.as_bytes()[i..].starts_with(k.as_bytes())
                        && bytes.get(end).is_none_or(|&b| !is_word(b))
                })
            })
            .flatten();
        let Some(key) = key else {
            i += 1;
            continue;
        };
        let mut j = skip(bytes, i + key.len(), b"\"'\\ ");
        if j >= bytes.len() || !matches!(bytes[j], b':' | b'=' | b'>') {
            i += key.len();
            continue;
        }
        j = skip(bytes, j + 1, b"\"'\\ ");
        // Rust's Debug of an optional field: `key: Some("value")`.
        if bytes[j..].starts_with(b"Some(") {
            j = skip(bytes, j + 5, b"\"'\\ ");
        }
        let whole_line = *key == "authorization";
        let end = bytes[j..]
            .iter()
            .position(|&b| {
                matches!(b, b'"' | b'\'' | b'\\' | b'\n' | b'\r')
                    || (!whole_line && matches!(b, b'<' | b',' | b'}' | b']' | b')' | b'&' | b' '))
            })
            .map_or(bytes.len(), |p| j + p);
        if end > j {
            out.push_str(&text[copied..j]);
            out.push_str(MASK);
            copied = end;
        }
        i = end.max(i + 1);
    }
    out.push_str(&text[copied..]);
    out
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn skip(bytes: &[u8], mut at: usize, set: &[u8]) -> usize {
    while at < bytes.len() && set.contains(&bytes[at]) {
        at += 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::FakeEnv;

    #[test]
    fn redacts_every_form_a_secret_takes() {
        let cases = [
            (
                "authorization: AWS4-HMAC-SHA256 Credential=AKID/x, SignedHeaders=host, Signature=abc123\nnext",
                "authorization: ***\nnext",
            ),
            (
                r#"{"authorizationToken":"QVdTOnNlY3JldA==","expiresAt":1}"#,
                r#"{"authorizationToken":"***","expiresAt":1}"#,
            ),
            (
                r#"b"{\"roleCredentials\":{\"secretAccessKey\":\"s3cr3t\",\"sessionToken\":\"tok\"}}""#,
                r#"b"{\"roleCredentials\":{\"secretAccessKey\":\"***\",\"sessionToken\":\"***\"}}""#,
            ),
            (
                "<SecretAccessKey>abc/def</SecretAccessKey><SessionToken>xyz</SessionToken>",
                "<SecretAccessKey>***</SecretAccessKey><SessionToken>***</SessionToken>",
            ),
            (
                "x-amz-security-token=FQoG&y=1",
                "x-amz-security-token=***&y=1",
            ),
            (
                "\"x-amz-sso_bearer_token\": \"bearer\"",
                "\"x-amz-sso_bearer_token\": \"***\"",
            ),
            (
                "token_source: fetched, tokens=3 my_token: keep",
                "token_source: fetched, tokens=3 my_token: keep",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(redact(input), expected, "{input}");
        }
    }

    #[test]
    fn level_from_env_or_flags_whichever_says_more() {
        assert_eq!(level(&FakeEnv::new(), 0), None);
        assert_eq!(level(&FakeEnv::new(), 2), Some(LevelFilter::DEBUG));
        let env = FakeEnv::new().var(AWS_ECR_LOG, "TRACE");
        assert_eq!(level(&env, 1), Some(LevelFilter::TRACE));
        let env = FakeEnv::new().var(AWS_ECR_LOG, "nonsense");
        assert_eq!(level(&env, 0), None);
    }
}
