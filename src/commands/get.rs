//! `get`: the server URL on stdin, the credentials JSON on stdout. The warm path reads
//! one file and starts nothing else; see the crate docs for the whole sequence.

use super::Context;
use crate::cache::{CacheKey, Entry, KeyLock, LockError, Store};
use crate::credential_source::CredentialSource;
use crate::error::Error;
use crate::protocol;
use crate::registry::Registry;
use crate::report;
use crate::secret::Secret;
use crate::settings::{Resolved, Settings};
use crate::token_source::{TokenSource, error_chain};
use std::io::{Read, Write};
use std::time::Duration;

/// A lock holder is itself bounded by the fetch timeout; waiting a little longer than
/// that covers its write, and anything beyond it means the holder is hung.
const LOCK_GRACE: Duration = Duration::from_secs(5);

pub fn get(
    ctx: &mut Context<'_>,
    input: &mut dyn Read,
    out: &mut dyn Write,
    tokens: &dyn TokenSource,
) -> Result<(), Error> {
    let server_url = protocol::read_server_url(input)?;
    let resolved = Settings::load(ctx.env)?.resolve(&server_url)?;
    let (username, password) = obtain_credentials(ctx, &resolved, tokens)?;
    protocol::write_credentials(out, &server_url, &username, &password).map_err(Error::Output)
}

/// The username and password of `obtain`'s entry.
pub(crate) fn obtain_credentials(
    ctx: &mut Context<'_>,
    resolved: &Resolved,
    tokens: &dyn TokenSource,
) -> Result<(String, Secret<String>), Error> {
    obtain(ctx, resolved, tokens)?
        .credentials()
        .map_err(|source| Error::Token {
            host: resolved.registry.host().to_owned(),
            source,
        })
}

/// The entry for a resolved registry: from the cache when fresh, else fetched once.
pub(crate) fn obtain(
    ctx: &mut Context<'_>,
    resolved: &Resolved,
    tokens: &dyn TokenSource,
) -> Result<Entry, Error> {
    let registry = &resolved.registry;
    let credentials = CredentialSource::detect_for(ctx.env, &resolved.route);
    let key = CacheKey::new(registry, &credentials);
    let mut store = ctx.open_store();
    if let Some(hit) = read_fresh(store.as_ref(), &key, ctx) {
        tracing::info!(registry = registry.host(), key = key.stem(), "cache hit");
        return Ok(hit);
    }
    tracing::info!(
        registry = registry.host(),
        key = key.stem(),
        source = %credentials,
        "cache miss"
    );

    let _lock = match store.as_ref().map(|s| lock(s, &key, ctx.config.timeout)) {
        Some(Ok(lock)) => Some(lock),
        Some(Err(source @ LockError::TimedOut { .. })) => {
            let cached = store.as_ref().and_then(|s| s.read(&key));
            return still_valid(ctx, registry, cached, &source).ok_or_else(|| Error::Lock {
                host: registry.host().to_owned(),
                source,
            });
        }
        Some(Err(err)) => {
            ctx.warn_cache_unusable(&err);
            store = None;
            None
        }
        None => None,
    };
    // Whoever held the lock before us has probably just written a fresh entry.
    let cached = store.as_ref().and_then(|s| s.read(&key));
    if let Some(hit) = cached.as_ref().filter(|e| e.is_fresh_at(ctx.env.now())) {
        return Ok(hit.clone());
    }

    let requested_at = ctx.env.now();
    match tokens.fetch(registry, &credentials) {
        Ok(token) => {
            tracing::info!(registry = registry.host(), "fetched a token");
            let entry = Entry {
                registry: registry.host().to_owned(),
                token: token.authorization_token,
                proxy_endpoint: token.proxy_endpoint,
                requested_at,
                expires_at: token.expires_at.unwrap_or(requested_at),
            };
            // An entry without a future expiry could never be served, so it is not written.
            if let Some(store) = &store
                && entry.is_fresh_at(requested_at)
                && let Err(err) = store.write(&key, &entry)
            {
                ctx.warn_cache_unusable(&err);
            }
            Ok(entry)
        }
        Err(err) => still_valid(ctx, registry, cached, &err).ok_or_else(|| Error::Fetch {
            host: registry.host().to_owned(),
            source: err,
        }),
    }
}

/// A refresh that failed (or never got its turn at the lock) still leaves a token the
/// registry accepts until it expires: serve it with a warning rather than fail the pull.
fn still_valid(
    ctx: &mut Context<'_>,
    registry: &Registry,
    cached: Option<Entry>,
    cause: &(dyn std::error::Error + 'static),
) -> Option<Entry> {
    let stale = cached.filter(|e| e.is_valid_at(ctx.env.now()))?;
    let left = stale
        .expires_at
        .duration_since(ctx.env.now())
        .unwrap_or_default();
    report::warn(
        ctx.stderr,
        &format!(
            "{}: refreshing the token failed ({}); using the cached token, which expires in {} min",
            registry.host(),
            error_chain(cause),
            left.as_secs() / 60
        ),
    );
    Some(stale)
}

fn read_fresh(store: Option<&Store>, key: &CacheKey, ctx: &Context<'_>) -> Option<Entry> {
    store?
        .read(key)
        .filter(|entry| entry.is_fresh_at(ctx.env.now()))
}

fn lock(store: &Store, key: &CacheKey, fetch_timeout: Duration) -> Result<KeyLock, LockError> {
    KeyLock::acquire(&store.lock_path(key), fetch_timeout + LOCK_GRACE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AWS_ACCESS_KEY_ID, AWS_EC2_METADATA_DISABLED, Config};
    use crate::env::FakeEnv;
    use crate::registry::Registry;
    use crate::secret::Secret;
    use crate::token_source::{FetchError, Token};
    use base64::Engine;
    use std::cell::Cell;
    use std::path::PathBuf;
    use std::time::{Duration, SystemTime};

    const HOST: &str = "111111111111.dkr.ecr.eu-west-1.amazonaws.com";
    const HOUR: Duration = Duration::from_secs(3600);

    /// Counts calls, and answers with a token named after the call number or fails.
    struct FakeTokens {
        calls: Cell<u32>,
        fail: bool,
    }

    impl TokenSource for FakeTokens {
        fn fetch(&self, _: &Registry, _: &CredentialSource) -> Result<Token, FetchError> {
            self.calls.set(self.calls.get() + 1);
            if self.fail {
                return Err(FetchError::Throttled {
                    region: "eu-west-1".into(),
                });
            }
            let token = format!("AWS:password-{}", self.calls.get());
            Ok(Token {
                authorization_token: Secret::new(
                    base64::engine::general_purpose::STANDARD.encode(token),
                ),
                proxy_endpoint: format!("https://{HOST}"),
                expires_at: Some(start() + 12 * HOUR),
            })
        }
    }

    fn start() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    struct Run {
        stdout: String,
        stderr: String,
        result: Result<(), Error>,
    }

    fn run_get(env: &FakeEnv, cache: Option<PathBuf>, tokens: &FakeTokens) -> Run {
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let result = {
            let mut ctx = Context {
                env,
                config: Config {
                    cache_dir: cache,
                    timeout: Duration::from_secs(5),
                },
                stderr: &mut stderr,
            };
            get(
                &mut ctx,
                &mut format!("https://{HOST}\n").as_bytes(),
                &mut stdout,
                tokens,
            )
        };
        Run {
            stdout: String::from_utf8(stdout).unwrap(),
            stderr: String::from_utf8(stderr).unwrap(),
            result,
        }
    }

    /// A cache dir that does not exist yet, inside a temp dir removed on drop.
    fn cache_in(temp: &tempfile::TempDir) -> PathBuf {
        temp.path().join("cache")
    }

    fn env_at(now: SystemTime) -> FakeEnv {
        FakeEnv::new()
            .var(AWS_ACCESS_KEY_ID, "AKIDTEST")
            .var(AWS_EC2_METADATA_DISABLED, "true")
            .at(now)
    }

    fn tokens(fail: bool) -> FakeTokens {
        FakeTokens {
            calls: Cell::new(0),
            fail,
        }
    }

    #[test]
    fn a_second_get_is_served_from_the_cache() {
        let temp = tempfile::tempdir().unwrap();
        let dir = cache_in(&temp);
        let source = tokens(false);
        let first = run_get(&env_at(start()), Some(dir.clone()), &source);
        let second = run_get(&env_at(start() + HOUR), Some(dir.clone()), &source);
        assert_eq!(source.calls.get(), 1);
        assert_eq!(first.stdout, second.stdout);
        assert_eq!(
            second.stdout,
            format!(
                "{{\"ServerURL\":\"https://{HOST}\",\"Username\":\"AWS\",\"Secret\":\"password-1\"}}\n"
            )
        );
    }

    #[test]
    fn past_half_life_the_token_is_refreshed() {
        let temp = tempfile::tempdir().unwrap();
        let dir = cache_in(&temp);
        let source = tokens(false);
        run_get(&env_at(start()), Some(dir.clone()), &source);
        let later = run_get(&env_at(start() + 7 * HOUR), Some(dir.clone()), &source);
        assert_eq!(source.calls.get(), 2);
        assert!(later.stdout.contains("password-2"), "{}", later.stdout);
    }

    #[test]
    fn a_failed_refresh_serves_the_valid_token_with_a_warning() {
        let temp = tempfile::tempdir().unwrap();
        let dir = cache_in(&temp);
        run_get(&env_at(start()), Some(dir.clone()), &tokens(false));
        let run = run_get(
            &env_at(start() + 7 * HOUR),
            Some(dir.clone()),
            &tokens(true),
        );
        assert!(run.result.is_ok());
        assert!(run.stdout.contains("password-1"));
        assert!(
            run.stderr.contains("warning") && run.stderr.contains("throttled"),
            "{}",
            run.stderr
        );
    }

    #[test]
    fn an_expired_token_is_never_served() {
        let temp = tempfile::tempdir().unwrap();
        let dir = cache_in(&temp);
        run_get(&env_at(start()), Some(dir.clone()), &tokens(false));
        let run = run_get(
            &env_at(start() + 13 * HOUR),
            Some(dir.clone()),
            &tokens(true),
        );
        assert!(matches!(run.result, Err(Error::Fetch { .. })));
        assert_eq!(run.stdout, "");
    }

    #[test]
    fn another_identity_does_not_share_the_entry() {
        let temp = tempfile::tempdir().unwrap();
        let dir = cache_in(&temp);
        let source = tokens(false);
        run_get(&env_at(start()), Some(dir.clone()), &source);
        run_get(
            &env_at(start()).var(AWS_ACCESS_KEY_ID, "AKIDOTHER"),
            Some(dir.clone()),
            &source,
        );
        assert_eq!(source.calls.get(), 2);
    }

    #[test]
    fn a_corrupt_entry_is_a_miss_and_is_replaced() {
        let temp = tempfile::tempdir().unwrap();
        let dir = cache_in(&temp);
        let source = tokens(false);
        run_get(&env_at(start()), Some(dir.clone()), &source);
        let entry = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "json"))
            .unwrap();
        std::fs::write(&entry, b"{\"version\":1,\"tok").unwrap();
        let run = run_get(&env_at(start()), Some(dir.clone()), &source);
        assert!(run.result.is_ok());
        assert_eq!(source.calls.get(), 2);
        let replaced = std::fs::read_to_string(&entry).unwrap();
        assert!(replaced.starts_with("{\"version\":1,\"key\""), "{replaced}");
    }

    #[test]
    fn an_unusable_cache_dir_warns_once_and_still_answers() {
        let temp = tempfile::tempdir().unwrap();
        let blocker = temp.path().join("blocked");
        std::fs::write(&blocker, b"a file where the directory should be").unwrap();
        let run = run_get(
            &env_at(start()),
            Some(blocker.join("cache")),
            &tokens(false),
        );
        assert!(run.result.is_ok());
        assert!(run.stdout.contains("password-1"));
        assert_eq!(run.stderr.matches("warning").count(), 1, "{}", run.stderr);
    }
}
