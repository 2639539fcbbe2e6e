//! The docker-credential-helpers wire protocol: what docker, skopeo and podman send on
//! stdin and read from stdout. It knows nothing of caches or AWS. Output is byte-for-byte
//! what the Go helpers print, because clients compare it (the not-found sentence) or
//! parse it with Go's encoding/json.

use crate::secret::Secret;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use thiserror::Error;

/// docker compares our trimmed stdout to this sentence to decide that there is nothing
/// to log in with and the pull can go on anonymously. It is therefore an API, and the
/// only thing we may print for a host that is not ECR.
pub const NOT_FOUND: &str = "credentials not found in native keychain";

/// A server URL is a host name plus at most a short path; anything longer is garbage,
/// and reading it whole would let a runaway writer grow our memory.
const MAX_INPUT_BYTES: u64 = 64 * 1024;

#[derive(Debug, Error)]
pub enum ProtocolError {
    #[error("no server URL on standard input")]
    MissingServerUrl,
    #[error("standard input is longer than {MAX_INPUT_BYTES} bytes")]
    InputTooLong,
    #[error("standard input is not UTF-8 text")]
    NotUtf8,
    #[error("standard input has a control character in the server URL")]
    ControlCharacter,
    #[error("`store` expects JSON with ServerURL, Username and Secret")]
    MalformedStore(#[source] serde_json::Error),
    #[error("cannot read standard input")]
    Read(#[source] io::Error),
}

/// Reads the server URL that `get` and `erase` receive, trimmed as the Go helpers trim it.
pub fn read_server_url(input: &mut dyn Read) -> Result<String, ProtocolError> {
    let text = read_bounded(input)?;
    let url = text.trim();
    if url.is_empty() {
        return Err(ProtocolError::MissingServerUrl);
    }
    if url.chars().any(char::is_control) {
        return Err(ProtocolError::ControlCharacter);
    }
    Ok(url.to_owned())
}

/// What `docker login` hands to `store`.
#[derive(Debug, Deserialize)]
pub struct StoreRequest {
    #[serde(rename = "ServerURL")]
    pub server_url: String,
    #[serde(rename = "Username", default)]
    pub username: String,
}

pub fn read_store_request(input: &mut dyn Read) -> Result<StoreRequest, ProtocolError> {
    let text = read_bounded(input)?;
    serde_json::from_str(&text).map_err(ProtocolError::MalformedStore)
}

fn read_bounded(input: &mut dyn Read) -> Result<String, ProtocolError> {
    let mut bytes = Vec::new();
    input
        .take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(ProtocolError::Read)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(ProtocolError::InputTooLong);
    }
    String::from_utf8(bytes).map_err(|_| ProtocolError::NotUtf8)
}

#[derive(Serialize)]
struct CredentialsReply<'a> {
    #[serde(rename = "ServerURL")]
    server_url: &'a str,
    #[serde(rename = "Username")]
    username: &'a str,
    #[serde(rename = "Secret")]
    secret: &'a str,
}

pub fn write_credentials(
    out: &mut dyn Write,
    server_url: &str,
    username: &str,
    secret: &Secret<String>,
) -> io::Result<()> {
    let reply = CredentialsReply {
        server_url,
        username,
        secret: secret.expose(),
    };
    write_go_json(out, &reply)
}

/// `login-password`: the password alone, on one line.
pub fn write_password(out: &mut dyn Write, password: &Secret<String>) -> io::Result<()> {
    writeln!(out, "{}", password.expose())
}

/// `list`: server URL → user name.
pub fn write_list(out: &mut dyn Write, entries: &BTreeMap<String, String>) -> io::Result<()> {
    write_go_json(out, entries)
}

/// Writes JSON the way Go's `json.Encoder` does: HTML-sensitive characters escaped, and a
/// trailing newline. Those characters can only occur inside strings, so replacing them
/// in the serialised text is exact.
fn write_go_json(out: &mut dyn Write, value: &impl Serialize) -> io::Result<()> {
    let json = serde_json::to_string(value).map_err(io::Error::other)?;
    let mut escaped = String::with_capacity(json.len() + 1);
    for c in json.chars() {
        match c {
            '<' => escaped.push_str("\\u003c"),
            '>' => escaped.push_str("\\u003e"),
            '&' => escaped.push_str("\\u0026"),
            '\u{2028}' => escaped.push_str("\\u2028"),
            '\u{2029}' => escaped.push_str("\\u2029"),
            c => escaped.push(c),
        }
    }
    escaped.push('\n');
    out.write_all(escaped.as_bytes())?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(input: &[u8]) -> Result<String, ProtocolError> {
        read_server_url(&mut &input[..])
    }

    #[test]
    fn trims_the_server_url() {
        assert_eq!(url(b"public.ecr.aws\n").unwrap(), "public.ecr.aws");
        assert_eq!(
            url(b"  https://x.example/v2/\r\n").unwrap(),
            "https://x.example/v2/"
        );
    }

    #[test]
    fn refuses_bad_input() {
        assert!(matches!(url(b""), Err(ProtocolError::MissingServerUrl)));
        assert!(matches!(url(b" \n"), Err(ProtocolError::MissingServerUrl)));
        assert!(matches!(url(b"\xff\xfe"), Err(ProtocolError::NotUtf8)));
        assert!(matches!(url(b"a\0b"), Err(ProtocolError::ControlCharacter)));
        let long = vec![b'a'; MAX_INPUT_BYTES as usize + 1];
        assert!(matches!(url(&long), Err(ProtocolError::InputTooLong)));
    }

    #[test]
    fn credentials_are_byte_compatible_with_go() {
        let mut out = Vec::new();
        let secret = Secret::new("pa<ss>&word".to_owned());
        write_credentials(&mut out, "https://h.example/?a&b", "AWS", &secret).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"ServerURL\":\"https://h.example/?a\\u0026b\",\"Username\":\"AWS\",\"Secret\":\"pa\\u003css\\u003e\\u0026word\"}\n"
        );
    }

    #[test]
    fn list_is_a_sorted_map() {
        let mut out = Vec::new();
        let entries = BTreeMap::from([
            ("https://b.example".to_owned(), "AWS".to_owned()),
            ("https://a.example".to_owned(), "AWS".to_owned()),
        ]);
        write_list(&mut out, &entries).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"https://a.example\":\"AWS\",\"https://b.example\":\"AWS\"}\n"
        );
    }

    #[test]
    fn store_request_parses_docker_login_json() {
        let body = br#"{"ServerURL":"public.ecr.aws","Username":"AWS","Secret":"x"}"#;
        let request = read_store_request(&mut &body[..]).unwrap();
        assert_eq!(request.server_url, "public.ecr.aws");
        assert!(matches!(
            read_store_request(&mut &b"{nope"[..]),
            Err(ProtocolError::MalformedStore(_))
        ));
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn reading_never_panics(input in prop::collection::vec(any::<u8>(), 0..4096)) {
                let _ = read_server_url(&mut &input[..]);
                let _ = read_store_request(&mut &input[..]);
            }

            #[test]
            fn a_url_line_reads_back_trimmed(
                url in "[^\\p{Cc}\\s][^\\p{Cc}]{0,200}",
                before in "[ \t]{0,3}",
                after in "[ \t]{0,3}(\r?\n)?",
            ) {
                let input = format!("{before}{url}{after}");
                prop_assert_eq!(read_server_url(&mut input.as_bytes()).unwrap(), url.trim());
            }

            /// Whatever the strings, the reply is one line of JSON that decodes to them,
            /// with Go's escapes for the HTML-sensitive characters.
            #[test]
            fn credentials_round_trip_as_go_json(
                server_url in any::<String>(),
                username in any::<String>(),
                secret in any::<String>(),
            ) {
                let mut out = Vec::new();
                write_credentials(&mut out, &server_url, &username, &Secret::new(secret.clone()))
                    .unwrap();
                let text = String::from_utf8(out).unwrap();
                prop_assert!(text.ends_with('\n'));
                prop_assert_eq!(text.matches('\n').count(), 1);
                let raw_html = text.contains(['<', '>', '&', '\u{2028}', '\u{2029}']);
                prop_assert!(!raw_html, "{}", text);
                let value: serde_json::Value = serde_json::from_str(&text).unwrap();
                prop_assert_eq!(value["ServerURL"].as_str(), Some(server_url.as_str()));
                prop_assert_eq!(value["Username"].as_str(), Some(username.as_str()));
                prop_assert_eq!(value["Secret"].as_str(), Some(secret.as_str()));
            }

            #[test]
            fn store_requests_round_trip(server_url in any::<String>(), username in any::<String>()) {
                let body = serde_json::json!({
                    "ServerURL": server_url, "Username": username, "Secret": "x"
                })
                .to_string();
                let request = read_store_request(&mut body.as_bytes()).unwrap();
                prop_assert_eq!(request.server_url, server_url);
                prop_assert_eq!(request.username, username);
            }
        }
    }
}
