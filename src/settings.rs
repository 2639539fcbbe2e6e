//! The settings file: which AWS credentials a registry uses, and which host names that
//! are not ECR's (a CNAME, a corporate proxy, a pull-through alias) stand for an ECR
//! registry. TOML in the platform config dir (`~/.config/docker-credential-ecr/config.toml`
//! on Linux), or wherever `AWS_ECR_CONFIG` points. Reading it is one small file read; a
//! missing file means "no settings". It holds no secrets, and no network is involved.
//!
//! ```toml
//! [[registry]]                 # first match wins
//! match = "222222222222"       # a registry host, a 12-digit account ID, or a glob
//! profile = "prod"             # an AWS profile, in place of AWS_PROFILE/env keys
//! role_arn = "arn:aws:iam::222222222222:role/push"   # assumed with those credentials
//! external_id = "…"            # optional, with role_arn
//! session_name = "…"           # optional, with role_arn
//!
//! [[alias]]
//! host = "registry.corp.example"
//! registry = "111111111111.dkr.ecr.us-east-1.amazonaws.com"  # or account + region
//! ```

use crate::config::{AWS_ECR_CONFIG, expand_home};
use crate::env::Env;
use crate::registry::{self, NotEcr, Registry};
use serde::Deserialize;
use std::io;
use std::path::{Path, PathBuf};
use thiserror::Error;

const FILE_NAME: &str = "config.toml";
/// Settings are a few lines; anything near this size is not a settings file.
const MAX_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Error)]
pub enum SettingsError {
    #[error("cannot read the settings file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}

/// How one registry's token is to be obtained: which profile, which role on top of it.
/// Empty means "the default credential chain", as without a settings file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Route {
    pub profile: Option<String>,
    pub role: Option<AssumeRole>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRole {
    pub role_arn: String,
    pub external_id: Option<String>,
    pub session_name: Option<String>,
}

/// A host docker asked about, resolved: the ECR registry whose token it needs, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub registry: Registry,
    pub route: Route,
    /// The alias docker used, when it was not the ECR name itself.
    pub alias: Option<String>,
}

#[derive(Debug, Default)]
pub struct Settings {
    path: Option<PathBuf>,
    rules: Vec<Rule>,
    aliases: Vec<Alias>,
}

#[derive(Debug)]
struct Rule {
    pattern: String,
    route: Route,
}

#[derive(Debug)]
struct Alias {
    host: String,
    registry: Registry,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFormat {
    #[serde(default)]
    registry: Vec<toml::Spanned<RuleFormat>>,
    #[serde(default)]
    alias: Vec<toml::Spanned<AliasFormat>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFormat {
    #[serde(rename = "match")]
    pattern: String,
    profile: Option<String>,
    role_arn: Option<String>,
    external_id: Option<String>,
    session_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AliasFormat {
    host: String,
    registry: Option<String>,
    account: Option<String>,
    region: Option<String>,
}

/// Where the settings file is: `AWS_ECR_CONFIG`, else the platform config dir.
pub fn path(env: &dyn Env) -> Option<PathBuf> {
    match env.var(AWS_ECR_CONFIG) {
        Some(path) => Some(expand_home(&path, env)),
        None => env.default_config_dir().map(|dir| dir.join(FILE_NAME)),
    }
}

impl Settings {
    /// The settings, or empty ones when there is no file.
    pub fn load(env: &dyn Env) -> Result<Settings, SettingsError> {
        let Some(path) = path(env) else {
            return Ok(Settings::default());
        };
        let text = match read_bounded(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Settings::default()),
            Err(source) => return Err(SettingsError::Read { path, source }),
        };
        Settings::parse(&text, &path)
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn parse(text: &str, path: &Path) -> Result<Settings, SettingsError> {
        let invalid = |span: Option<std::ops::Range<usize>>, message: String| {
            let (line, column) = line_column(text, span.map_or(0, |s| s.start));
            SettingsError::Invalid {
                path: path.to_owned(),
                line,
                column,
                message,
            }
        };
        let file: FileFormat =
            toml::from_str(text).map_err(|err| invalid(err.span(), err.message().to_owned()))?;
        let mut settings = Settings {
            path: Some(path.to_owned()),
            ..Settings::default()
        };
        for spanned in file.registry {
            let span = spanned.span();
            let rule = spanned.into_inner();
            let route = rule_route(&rule).map_err(|msg| invalid(Some(span.clone()), msg))?;
            settings.rules.push(Rule {
                pattern: rule.pattern,
                route,
            });
        }
        for spanned in file.alias {
            let span = spanned.span();
            let alias = spanned.into_inner();
            let registry = alias_target(&alias).map_err(|msg| invalid(Some(span.clone()), msg))?;
            settings.aliases.push(Alias {
                host: alias.host,
                registry,
            });
        }
        Ok(settings)
    }

    /// The ECR registry for `server_url` and how to get its token. A host that is neither
    /// ECR nor an alias is [`NotEcr`], as without settings.
    pub fn resolve(&self, server_url: &str) -> Result<Resolved, NotEcr> {
        let (registry, alias) = match Registry::parse(server_url) {
            Ok(registry) => (registry, None),
            Err(not_ecr) => {
                let host = registry::url_host(server_url).ok_or_else(|| not_ecr.clone())?;
                let alias = self
                    .aliases
                    .iter()
                    .find(|a| a.host.eq_ignore_ascii_case(host))
                    .ok_or(not_ecr)?;
                (alias.registry.clone(), Some(host.to_owned()))
            }
        };
        let route = self
            .rules
            .iter()
            .find(|rule| {
                alias
                    .as_deref()
                    .is_some_and(|host| matches(&rule.pattern, host, None))
                    || matches(&rule.pattern, registry.host(), registry.account())
            })
            .map(|rule| rule.route.clone())
            .unwrap_or_default();
        Ok(Resolved {
            registry,
            route,
            alias,
        })
    }

    /// Alias host names, for `doctor` and `configure`.
    pub fn alias_hosts(&self) -> impl Iterator<Item = &str> {
        self.aliases.iter().map(|a| a.host.as_str())
    }
}

fn rule_route(rule: &RuleFormat) -> Result<Route, String> {
    if rule.pattern.trim().is_empty() {
        return Err("`match` is empty".into());
    }
    if rule.profile.is_none() && rule.role_arn.is_none() {
        return Err(format!(
            "registry `{}` needs `profile` or `role_arn`",
            rule.pattern
        ));
    }
    let role = match &rule.role_arn {
        Some(arn) if !arn.starts_with("arn:") => {
            return Err(format!("role_arn `{arn}` is not an ARN"));
        }
        Some(arn) => Some(AssumeRole {
            role_arn: arn.clone(),
            external_id: rule.external_id.clone(),
            session_name: rule.session_name.clone(),
        }),
        None if rule.external_id.is_some() || rule.session_name.is_some() => {
            return Err("`external_id` and `session_name` need `role_arn`".into());
        }
        None => None,
    };
    Ok(Route {
        profile: rule.profile.clone(),
        role,
    })
}

fn alias_target(alias: &AliasFormat) -> Result<Registry, String> {
    let host = match (&alias.registry, &alias.account, &alias.region) {
        (Some(host), None, None) => host.clone(),
        (None, Some(account), Some(region)) => {
            format!("{account}.dkr.ecr.{region}.amazonaws.com")
        }
        _ => {
            return Err(format!(
                "alias `{}` needs either `registry` or both `account` and `region`",
                alias.host
            ));
        }
    };
    if Registry::parse(&alias.host).is_ok() {
        return Err(format!(
            "alias `{}` is an ECR name already; use [[registry]] to choose its credentials",
            alias.host
        ));
    }
    Registry::parse(&host).map_err(|_| {
        format!(
            "alias `{}` points at `{host}`, which is not an Amazon ECR registry",
            alias.host
        )
    })
}

/// A 12-digit pattern is an account; one with `*` or `?` a glob over the host; anything
/// else the host itself.
fn matches(pattern: &str, host: &str, account: Option<&str>) -> bool {
    if pattern.len() == 12 && pattern.bytes().all(|b| b.is_ascii_digit()) {
        return account == Some(pattern);
    }
    glob(pattern.as_bytes(), host.as_bytes())
}

/// `*` matches any run of characters, `?` one character; case-insensitive, as hosts are.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                backtrack = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c.eq_ignore_ascii_case(&text[t]) => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                Some((star, at)) => {
                    p = star + 1;
                    t = at + 1;
                    backtrack = Some((star, at + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, column)
}

fn read_bounded(path: &Path) -> io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_BYTES + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_BYTES {
        return Err(io::Error::other(format!("larger than {MAX_BYTES} bytes")));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::FakeEnv;

    const A: &str = "111111111111.dkr.ecr.us-east-1.amazonaws.com";
    const B: &str = "222222222222.dkr.ecr.eu-west-1.amazonaws.com";

    fn parse(text: &str) -> Result<Settings, SettingsError> {
        Settings::parse(text, Path::new("/etc/x.toml"))
    }

    fn route_of(settings: &Settings, url: &str) -> Route {
        settings.resolve(url).unwrap().route
    }

    #[test]
    fn first_matching_rule_wins_by_host_account_or_glob() {
        let settings = parse(
            "[[registry]]\nmatch = \"111111111111.dkr.ecr.us-east-1.amazonaws.com\"\nprofile = \"a\"\n\n\
             [[registry]]\nmatch = \"222222222222\"\nprofile = \"b\"\nrole_arn = \"arn:aws:iam::222222222222:role/push\"\nexternal_id = \"x\"\n\n\
             [[registry]]\nmatch = \"*.dkr.ecr.eu-*.amazonaws.com\"\nprofile = \"eu\"\n",
        )
        .unwrap();
        assert_eq!(route_of(&settings, A).profile.as_deref(), Some("a"));
        let b = route_of(&settings, &format!("https://{B}/v2/"));
        assert_eq!(b.profile.as_deref(), Some("b"));
        assert_eq!(
            b.role,
            Some(AssumeRole {
                role_arn: "arn:aws:iam::222222222222:role/push".into(),
                external_id: Some("x".into()),
                session_name: None
            })
        );
        assert_eq!(
            route_of(&settings, "333333333333.dkr.ecr.eu-central-1.amazonaws.com")
                .profile
                .as_deref(),
            Some("eu")
        );
        assert_eq!(
            route_of(&settings, "333333333333.dkr.ecr.us-west-2.amazonaws.com"),
            Route::default()
        );
    }

    #[test]
    fn an_alias_resolves_to_its_registry_and_others_stay_not_ecr() {
        let settings = parse(
            "[[alias]]\nhost = \"registry.corp.example\"\nregistry = \"111111111111.dkr.ecr.us-east-1.amazonaws.com\"\n\n\
             [[alias]]\nhost = \"mirror.corp.example\"\naccount = \"222222222222\"\nregion = \"eu-west-1\"\n\n\
             [[registry]]\nmatch = \"mirror.corp.example\"\nprofile = \"mirror\"\n",
        )
        .unwrap();
        let resolved = settings
            .resolve("https://Registry.Corp.Example:443/v2/")
            .unwrap();
        assert_eq!(resolved.registry.host(), A);
        assert_eq!(resolved.alias.as_deref(), Some("Registry.Corp.Example"));
        let mirror = settings.resolve("mirror.corp.example").unwrap();
        assert_eq!(mirror.registry.host(), B);
        assert_eq!(mirror.route.profile.as_deref(), Some("mirror"));
        assert!(settings.resolve("docker.io").is_err());
        assert!(
            Settings::default()
                .resolve("registry.corp.example")
                .is_err()
        );
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let cases = [
            (
                "[[registry]]\nmatch = \"x\"\nprofle = \"a\"\n",
                3,
                "unknown field `profle`",
            ),
            ("[[registry]]\nmatch = \n", 2, ""),
            (
                "\n[[registry]]\nmatch = \"x\"\n",
                2,
                "needs `profile` or `role_arn`",
            ),
            (
                "[[alias]]\nhost = \"r.example\"\nregistry = \"docker.io\"\n",
                1,
                "not an Amazon ECR registry",
            ),
            (
                "[[alias]]\nhost = \"r.example\"\naccount = \"111111111111\"\n",
                1,
                "both `account` and `region`",
            ),
            (
                "[[registry]]\nmatch = \"x\"\nrole_arn = \"role/x\"\n",
                1,
                "is not an ARN",
            ),
            ("[other]\n", 1, "unknown field `other`"),
        ];
        for (text, line, message) in cases {
            let err = parse(text).unwrap_err();
            let SettingsError::Invalid {
                line: got_line,
                message: got,
                ..
            } = &err
            else {
                panic!("{err:?}");
            };
            assert_eq!(*got_line, line, "{text:?}: {err}");
            assert!(got.contains(message), "{text:?}: {err}");
            assert!(err.to_string().starts_with(&format!("/etc/x.toml:{line}:")));
        }
    }

    #[test]
    fn a_missing_file_is_no_settings_and_the_env_var_moves_it() {
        let dir = tempfile::tempdir().unwrap();
        let env = FakeEnv::new().config_dir(dir.path());
        assert!(Settings::load(&env).unwrap().resolve(A).is_ok());
        assert_eq!(path(&env), Some(dir.path().join("config.toml")));
        let file = dir.path().join("elsewhere.toml");
        std::fs::write(&file, "[[registry]]\nmatch = \"*\"\nprofile = \"p\"\n").unwrap();
        let moved = env.var(AWS_ECR_CONFIG, file.to_str().unwrap());
        let settings = Settings::load(&moved).unwrap();
        assert_eq!(route_of(&settings, A).profile.as_deref(), Some("p"));
    }

    #[test]
    fn glob_matching() {
        for (pattern, text, expected) in [
            ("*", "anything", true),
            ("*.example", "a.b.example", true),
            ("*.example", "example", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*ecr*", "x.dkr.ECR.y", true),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYbZ", false),
        ] {
            assert_eq!(
                glob(pattern.as_bytes(), text.as_bytes()),
                expected,
                "{pattern} {text}"
            );
        }
    }
}
