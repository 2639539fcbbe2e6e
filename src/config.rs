//! Every environment variable this program reads, declared once with what it does, and
//! the settings derived from them. README.md's table and `--help` are checked against
//! [`ENV_VARS`] by a test, so a variable cannot be added without being documented.

use crate::env::Env;
use std::path::PathBuf;
use std::time::Duration;

/// Cache directory; default: the platform cache dir (`~/.cache/docker-credential-ecr`).
pub const AWS_ECR_CACHE_DIR: &str = "AWS_ECR_CACHE_DIR";
/// Any value but `0`/`false`/`no`/`off` turns the token cache off.
pub const AWS_ECR_DISABLE_CACHE: &str = "AWS_ECR_DISABLE_CACHE";
/// Seconds one token fetch may take in all, retries included (default 30).
pub const AWS_ECR_TIMEOUT: &str = "AWS_ECR_TIMEOUT";
/// The settings file (per-registry profiles and roles, host aliases); default:
/// `config.toml` in the platform config dir (`~/.config/docker-credential-ecr/config.toml`).
pub const AWS_ECR_CONFIG: &str = "AWS_ECR_CONFIG";
/// `error`, `warn`, `info`, `debug` or `trace`: log to stderr (secrets redacted).
pub const AWS_ECR_LOG: &str = "AWS_ECR_LOG";
/// Log to this file (created 0600, appended to) instead of stderr.
pub const AWS_ECR_LOG_FILE: &str = "AWS_ECR_LOG_FILE";
/// Accepted for compatibility with docker-credential-ecr-login; `store` never persists anyway.
pub const AWS_ECR_IGNORE_CREDS_STORAGE: &str = "AWS_ECR_IGNORE_CREDS_STORAGE";

pub const AWS_PROFILE: &str = "AWS_PROFILE";
pub const AWS_CONFIG_FILE: &str = "AWS_CONFIG_FILE";
pub const AWS_SHARED_CREDENTIALS_FILE: &str = "AWS_SHARED_CREDENTIALS_FILE";
pub const AWS_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
pub const AWS_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
pub const AWS_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
pub const AWS_WEB_IDENTITY_TOKEN_FILE: &str = "AWS_WEB_IDENTITY_TOKEN_FILE";
pub const AWS_ROLE_ARN: &str = "AWS_ROLE_ARN";
pub const AWS_ROLE_SESSION_NAME: &str = "AWS_ROLE_SESSION_NAME";
pub const AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: &str = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI";
pub const AWS_CONTAINER_CREDENTIALS_FULL_URI: &str = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
pub const AWS_EC2_METADATA_DISABLED: &str = "AWS_EC2_METADATA_DISABLED";
pub const AWS_ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";
pub const AWS_ENDPOINT_URL_ECR: &str = "AWS_ENDPOINT_URL_ECR";
pub const AWS_ENDPOINT_URL_ECR_PUBLIC: &str = "AWS_ENDPOINT_URL_ECR_PUBLIC";
pub const AWS_ENDPOINT_URL_STS: &str = "AWS_ENDPOINT_URL_STS";
/// A PEM file of extra CAs to trust (a corporate TLS proxy); the SDK does not read it itself.
pub const AWS_CA_BUNDLE: &str = "AWS_CA_BUNDLE";
pub const HTTPS_PROXY: &str = "HTTPS_PROXY";
pub const NO_PROXY: &str = "NO_PROXY";

pub const AWS_REGION: &str = "AWS_REGION";
pub const AWS_DEFAULT_REGION: &str = "AWS_DEFAULT_REGION";
/// Where docker's config.json lives; `configure` and `doctor` read it.
pub const DOCKER_CONFIG: &str = "DOCKER_CONFIG";

/// An environment variable and one line on what it does, for `--help` (and so the man
/// page) and the README test.
pub struct EnvVar {
    pub name: &'static str,
    pub help: &'static str,
}

const fn var(name: &'static str, help: &'static str) -> EnvVar {
    EnvVar { name, help }
}

/// Every variable we read or pass on to the AWS SDK.
pub const ENV_VARS: [EnvVar; 29] = [
    var(
        AWS_ECR_CACHE_DIR,
        "token cache directory (default: the platform cache dir)",
    ),
    var(
        AWS_ECR_CONFIG,
        "the settings file (default: config.toml in the platform config dir)",
    ),
    var(
        AWS_ECR_DISABLE_CACHE,
        "any value but 0/false/no/off turns the token cache off",
    ),
    var(
        AWS_ECR_TIMEOUT,
        "seconds one token fetch may take, retries included (default 30)",
    ),
    var(
        AWS_ECR_LOG,
        "error|warn|info|debug|trace: log to stderr, secrets redacted (default: off; release builds log up to info)",
    ),
    var(
        AWS_ECR_LOG_FILE,
        "log to this file instead (created 0600, appended to)",
    ),
    var(
        AWS_ECR_IGNORE_CREDS_STORAGE,
        "accepted for compatibility; `store` never persists",
    ),
    var(AWS_PROFILE, "the AWS profile (default `default`)"),
    var(
        AWS_REGION,
        "region for `configure`/`login-password` without a host (the SDK's)",
    ),
    var(AWS_DEFAULT_REGION, "the same, as the AWS CLI spells it"),
    var(
        AWS_CONFIG_FILE,
        "the AWS config file (default ~/.aws/config)",
    ),
    var(
        AWS_SHARED_CREDENTIALS_FILE,
        "the AWS credentials file (default ~/.aws/credentials)",
    ),
    var(
        AWS_ACCESS_KEY_ID,
        "static access key ID, first in the default chain",
    ),
    var(AWS_SECRET_ACCESS_KEY, "its secret key"),
    var(AWS_SESSION_TOKEN, "its session token, for temporary keys"),
    var(
        AWS_WEB_IDENTITY_TOKEN_FILE,
        "web identity token file (EKS IRSA, CI OIDC)",
    ),
    var(AWS_ROLE_ARN, "the role a web identity assumes"),
    var(AWS_ROLE_SESSION_NAME, "its session name"),
    var(
        AWS_CONTAINER_CREDENTIALS_RELATIVE_URI,
        "ECS container credentials",
    ),
    var(
        AWS_CONTAINER_CREDENTIALS_FULL_URI,
        "ECS/EKS container credentials at a full URI",
    ),
    var(
        AWS_EC2_METADATA_DISABLED,
        "`true` skips EC2 instance metadata",
    ),
    var(AWS_ENDPOINT_URL, "endpoint override for every AWS service"),
    var(
        AWS_ENDPOINT_URL_ECR,
        "endpoint override for ECR (VPC endpoints, test servers)",
    ),
    var(
        AWS_ENDPOINT_URL_ECR_PUBLIC,
        "endpoint override for ECR Public",
    ),
    var(AWS_ENDPOINT_URL_STS, "endpoint override for STS"),
    var(
        AWS_CA_BUNDLE,
        "PEM file of extra CAs to trust (a TLS-intercepting proxy)",
    ),
    var(
        HTTPS_PROXY,
        "HTTPS proxy for AWS API calls (lower case too)",
    ),
    var(NO_PROXY, "hosts that bypass the proxy (lower case too)"),
    var(
        DOCKER_CONFIG,
        "docker's config directory (default ~/.docker)",
    ),
];

/// Long enough for a slow STS + ECR round trip with retries, short enough that a CI job
/// with a dead network fails in seconds rather than hanging as the reference does.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `None` when caching is off.
    pub cache_dir: Option<PathBuf>,
    pub timeout: Duration,
}

impl Config {
    pub fn from_env(env: &dyn Env) -> Config {
        let cache_dir = if env
            .var(AWS_ECR_DISABLE_CACHE)
            .is_some_and(|v| is_truthy(&v))
        {
            None
        } else {
            match env.var(AWS_ECR_CACHE_DIR) {
                Some(dir) => Some(expand_home(&dir, env)),
                None => env.default_cache_dir(),
            }
        };
        let timeout = env
            .var(AWS_ECR_TIMEOUT)
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|secs| secs.is_finite() && *secs > 0.0)
            .map_or(DEFAULT_TIMEOUT, Duration::from_secs_f64);
        Config { cache_dir, timeout }
    }
}

fn is_truthy(value: &str) -> bool {
    !matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "" | "0" | "false" | "no" | "off"
    )
}

/// `~/x` as the reference accepts it in AWS_ECR_CACHE_DIR.
pub fn expand_home(path: &str, env: &dyn Env) -> PathBuf {
    match (path.strip_prefix("~/"), env.home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ if path == "~" => env.home_dir().unwrap_or_else(|| PathBuf::from(path)),
        _ => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::FakeEnv;

    #[test]
    fn cache_dir_defaults_to_the_platform_dir() {
        let env = FakeEnv::new().cache_dir("/c");
        assert_eq!(Config::from_env(&env).cache_dir, Some(PathBuf::from("/c")));
    }

    #[test]
    fn cache_dir_override_expands_home() {
        let env = FakeEnv::new()
            .home("/home/u")
            .var(AWS_ECR_CACHE_DIR, "~/.ecr");
        assert_eq!(
            Config::from_env(&env).cache_dir,
            Some(PathBuf::from("/home/u/.ecr"))
        );
    }

    #[test]
    fn disable_cache_accepts_the_usual_spellings() {
        for (value, disabled) in [
            ("1", true),
            ("true", true),
            ("yes", true),
            ("0", false),
            ("false", false),
        ] {
            let env = FakeEnv::new()
                .cache_dir("/c")
                .var(AWS_ECR_DISABLE_CACHE, value);
            assert_eq!(
                Config::from_env(&env).cache_dir.is_none(),
                disabled,
                "{value}"
            );
        }
    }

    #[test]
    fn timeout_is_seconds_and_ignores_nonsense() {
        let env = FakeEnv::new().var(AWS_ECR_TIMEOUT, "2.5");
        assert_eq!(Config::from_env(&env).timeout, Duration::from_millis(2500));
        for bad in ["-1", "0", "soon", "NaN"] {
            let env = FakeEnv::new().var(AWS_ECR_TIMEOUT, bad);
            assert_eq!(Config::from_env(&env).timeout, DEFAULT_TIMEOUT, "{bad}");
        }
    }
}

#[cfg(test)]
mod docs_tests {
    use super::ENV_VARS;

    #[test]
    fn readme_documents_every_variable() {
        let readme = include_str!("../README.md");
        for var in ENV_VARS.iter().map(|v| v.name) {
            assert!(
                readme.contains(&format!("`{var}`")),
                "README.md does not document {var}"
            );
        }
    }
}
