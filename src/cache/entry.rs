//! One cached token and the times that decide whether it may be served.

use crate::secret::Secret;
use base64::Engine;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use thiserror::Error;

/// ECR's token did not decode as base64 of `user:password`.
#[derive(Debug, Error)]
#[error("the ECR authorization token is not base64 of user:password")]
pub struct MalformedToken;

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The host the token was fetched for, reported by `list` and matched by `erase`.
    pub registry: String,
    /// base64 of `user:password`, as ECR issued it.
    pub token: Secret<String>,
    pub proxy_endpoint: String,
    pub requested_at: SystemTime,
    pub expires_at: SystemTime,
}

impl Entry {
    /// Fresh while at least half of its lifetime remains, as in the reference: a token
    /// refreshed at half-life survives any clock skew and a long push that outlives it.
    pub fn is_fresh_at(&self, now: SystemTime) -> bool {
        let lifetime = self
            .expires_at
            .duration_since(self.requested_at)
            .unwrap_or(Duration::ZERO);
        now < self.requested_at + lifetime / 2 && now >= self.requested_at
    }

    /// Still accepted by the registry: may be served, with a warning, when a refresh fails.
    pub fn is_valid_at(&self, now: SystemTime) -> bool {
        now < self.expires_at
    }

    /// The user name and password inside the token.
    pub fn credentials(&self) -> Result<(String, Secret<String>), MalformedToken> {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(self.token.expose())
            .map_err(|_| MalformedToken)?;
        let text = String::from_utf8(decoded).map_err(|_| MalformedToken)?;
        let (user, password) = text.split_once(':').ok_or(MalformedToken)?;
        Ok((user.to_owned(), Secret::new(password.to_owned())))
    }
}

pub fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `None` past what the platform's clock can represent: such a time can only come from
/// a corrupt or planted file, and adding it would panic.
pub fn from_unix_seconds(secs: u64) -> Option<SystemTime> {
    UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);
    const T0: SystemTime = UNIX_EPOCH;

    fn entry(requested_at: SystemTime, lifetime: Duration) -> Entry {
        Entry {
            registry: "public.ecr.aws".into(),
            token: Secret::new("dG9rZW4=".into()),
            proxy_endpoint: "https://public.ecr.aws".into(),
            requested_at,
            expires_at: requested_at + lifetime,
        }
    }

    #[test]
    fn fresh_until_half_life() {
        let e = entry(T0 + HOUR, 12 * HOUR);
        assert!(e.is_fresh_at(T0 + HOUR));
        assert!(e.is_fresh_at(T0 + 6 * HOUR + HOUR - Duration::from_secs(1)));
        assert!(!e.is_fresh_at(T0 + 7 * HOUR));
    }

    #[test]
    fn stale_but_valid_until_expiry() {
        let e = entry(T0, 12 * HOUR);
        assert!(e.is_valid_at(T0 + 11 * HOUR));
        assert!(!e.is_valid_at(T0 + 12 * HOUR));
    }

    #[test]
    fn a_token_from_the_future_is_not_fresh() {
        // The clock went backwards (or the file was planted): refresh rather than trust it.
        let e = entry(T0 + 5 * HOUR, 12 * HOUR);
        assert!(!e.is_fresh_at(T0 + HOUR));
    }

    #[test]
    fn credentials_split_the_token_at_the_first_colon() {
        let mut e = entry(T0, HOUR);
        e.token = Secret::new(base64::engine::general_purpose::STANDARD.encode("AWS:pa:ss"));
        let (user, password) = e.credentials().unwrap();
        assert_eq!(
            (user.as_str(), password.expose().as_str()),
            ("AWS", "pa:ss")
        );
        e.token = Secret::new("bm8tY29sb24=".into());
        assert!(e.credentials().is_err());
        e.token = Secret::new("%%%".into());
        assert!(e.credentials().is_err());
    }

    #[test]
    fn an_already_expired_token_is_never_fresh() {
        let e = entry(T0, Duration::ZERO);
        assert!(!e.is_fresh_at(T0));
        assert!(!e.is_valid_at(T0));
    }
}
