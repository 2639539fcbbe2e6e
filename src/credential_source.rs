//! Which AWS credentials the SDK will use, worked out from the environment and the AWS
//! config files alone, with no network call. The answer names the source for error
//! messages and yields a fingerprint for the cache key, so that a cache hit never has to
//! start the SDK, and assume-role and SSO users get hits too (the reference resolves
//! credentials, with STS or SSO calls, before it even looks at its cache).
//!
//! The order mirrors aws-config's default chain: environment keys, the profile,
//! web identity from the environment, container credentials, then the instance.

use crate::config::{
    AWS_ACCESS_KEY_ID, AWS_CONFIG_FILE, AWS_CONTAINER_CREDENTIALS_FULL_URI,
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, AWS_EC2_METADATA_DISABLED, AWS_PROFILE, AWS_ROLE_ARN,
    AWS_SHARED_CREDENTIALS_FILE, AWS_WEB_IDENTITY_TOKEN_FILE, expand_home,
};
use crate::env::Env;
use crate::settings::Route;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    EnvironmentKeys,
    Profile {
        name: String,
        style: ProfileStyle,
    },
    WebIdentity {
        role_arn: String,
    },
    Container,
    Instance,
    /// Nothing to try: instance metadata is disabled and no other source is configured.
    Nothing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileStyle {
    Static,
    AssumeRole,
    Sso,
    Process,
    WebIdentity,
}

#[derive(Debug, Clone)]
pub struct CredentialSource {
    pub kind: SourceKind,
    /// The settings file's choice for this registry: a profile in place of the default
    /// chain, and a role assumed on top.
    pub route: Route,
    fingerprint: String,
}

/// Keys whose presence makes a profile a credential source of its own; a profile with
/// none of them (say, only a region) leaves the SDK to try the next source.
const CREDENTIAL_KEYS: [&str; 8] = [
    "aws_access_key_id",
    "role_arn",
    "sso_session",
    "sso_start_url",
    "credential_process",
    "web_identity_token_file",
    "credential_source",
    "source_profile",
];

/// Machine identity for instance-profile credentials: the instance ID where the
/// platform exposes it as a file, else the machine ID. A wrong guess only costs a miss.
const INSTANCE_ID_FILES: [&str; 3] = [
    "/sys/devices/virtual/dmi/id/board_asset_tag",
    "/var/lib/cloud/data/instance-id",
    "/etc/machine-id",
];

impl CredentialSource {
    pub fn detect(env: &dyn Env) -> CredentialSource {
        CredentialSource::detect_for(env, &Route::default())
    }

    /// The source for a registry the settings file routes: its profile replaces the
    /// default chain (environment keys included, as the more specific choice), and the
    /// route itself is hashed, so a registry never gets a token fetched another way.
    pub fn detect_for(env: &dyn Env, route: &Route) -> CredentialSource {
        let mut hasher = Sha256::new();
        let kind = match &route.profile {
            Some(name) => {
                let files = ProfileFiles::load(env);
                let style = files.profile_style(name).unwrap_or(ProfileStyle::Static);
                feed(&mut hasher, "settings-profile", name);
                for section in files.sections_resolved_from(name) {
                    feed(&mut hasher, "section", &section);
                }
                SourceKind::Profile {
                    name: name.clone(),
                    style,
                }
            }
            None => detect_into(env, &mut hasher),
        };
        if let Some(role) = &route.role {
            feed(&mut hasher, "assume-role", &role.role_arn);
            feed(
                &mut hasher,
                "external-id",
                role.external_id.as_deref().unwrap_or_default(),
            );
            feed(
                &mut hasher,
                "session-name",
                role.session_name.as_deref().unwrap_or_default(),
            );
        }
        CredentialSource {
            kind,
            route: route.clone(),
            fingerprint: hex(&hasher.finalize()),
        }
    }

    /// A SHA-256 over everything that identifies the source; it never contains a key ID
    /// or secret in clear.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The profile that names an SSO session, whose expiry needs `aws sso login`.
    pub fn sso_profile(&self) -> Option<&str> {
        match &self.kind {
            SourceKind::Profile {
                name,
                style: ProfileStyle::Sso,
            } => Some(name),
            _ => None,
        }
    }
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)?;
        if self.route.profile.is_some() {
            f.write_str(" (chosen in the settings file)")?;
        }
        if let Some(role) = &self.route.role {
            write!(f, ", assuming {}", role.role_arn)?;
        }
        Ok(())
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceKind::EnvironmentKeys => write!(f, "{AWS_ACCESS_KEY_ID} from the environment"),
            SourceKind::Profile { name, .. } => write!(f, "profile `{name}`"),
            SourceKind::WebIdentity { role_arn } => write!(f, "web identity for {role_arn}"),
            SourceKind::Container => f.write_str("container credentials"),
            SourceKind::Instance => f.write_str("the EC2 instance profile"),
            SourceKind::Nothing => f.write_str(
                "nothing configured: no AWS_ACCESS_KEY_ID, no profile with credentials, instance metadata disabled",
            ),
        }
    }
}

fn feed(hasher: &mut Sha256, label: &str, value: &str) {
    hasher.update(label.as_bytes());
    hasher.update([0]);
    hasher.update(value.as_bytes());
    hasher.update([0]);
}

fn detect_into(env: &dyn Env, hasher: &mut Sha256) -> SourceKind {
    let mut feed = |label: &str, value: &str| feed(hasher, label, value);
    if let Some(key_id) = env.var(AWS_ACCESS_KEY_ID) {
        feed("env-key", &key_id);
        return SourceKind::EnvironmentKeys;
    }
    let name = env.var(AWS_PROFILE).unwrap_or_else(|| "default".to_owned());
    let files = ProfileFiles::load(env);
    if let Some(style) = files.profile_style(&name) {
        feed("profile", &name);
        for section in files.sections_resolved_from(&name) {
            feed("section", &section);
        }
        return SourceKind::Profile { name, style };
    }
    if let (Some(token_file), Some(role_arn)) =
        (env.var(AWS_WEB_IDENTITY_TOKEN_FILE), env.var(AWS_ROLE_ARN))
    {
        feed("web-identity", &token_file);
        feed("role", &role_arn);
        return SourceKind::WebIdentity { role_arn };
    }
    let container_uri = env
        .var(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)
        .or_else(|| env.var(AWS_CONTAINER_CREDENTIALS_FULL_URI));
    if let Some(uri) = container_uri {
        feed("container", &uri);
        return SourceKind::Container;
    }
    if env
        .var(AWS_EC2_METADATA_DISABLED)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        feed("nothing", "");
        return SourceKind::Nothing;
    }
    let instance = INSTANCE_ID_FILES
        .iter()
        .find_map(|path| {
            std::fs::read_to_string(path)
                .ok()
                .filter(|s| !s.trim().is_empty())
        })
        .unwrap_or_default();
    feed("instance", instance.trim());
    SourceKind::Instance
}

/// `~/.aws/config` and `~/.aws/credentials`, as sections of key/value lines.
struct ProfileFiles {
    config: BTreeMap<String, Section>,
    credentials: BTreeMap<String, Section>,
}

#[derive(Default)]
struct Section {
    /// The section's lines, normalised, in file order: what the fingerprint hashes.
    lines: Vec<String>,
    values: BTreeMap<String, String>,
}

impl ProfileFiles {
    fn load(env: &dyn Env) -> ProfileFiles {
        let path = |var: &str, default: &str| -> Option<PathBuf> {
            match env.var(var) {
                Some(path) => Some(expand_home(&path, env)),
                None => env.home_dir().map(|home| home.join(".aws").join(default)),
            }
        };
        ProfileFiles {
            config: path(AWS_CONFIG_FILE, "config")
                .map(|p| parse_ini(&p))
                .unwrap_or_default(),
            credentials: path(AWS_SHARED_CREDENTIALS_FILE, "credentials")
                .map(|p| parse_ini(&p))
                .unwrap_or_default(),
        }
    }

    fn config_section(&self, profile: &str) -> Option<&Section> {
        self.config.get(&format!("profile {profile}")).or_else(|| {
            (profile == "default")
                .then(|| self.config.get("default"))
                .flatten()
        })
    }

    fn value(&self, profile: &str, key: &str) -> Option<&str> {
        // The credentials file wins over the config file, as in every AWS SDK.
        self.credentials
            .get(profile)
            .and_then(|s| s.values.get(key))
            .or_else(|| self.config_section(profile).and_then(|s| s.values.get(key)))
            .map(String::as_str)
    }

    fn profile_style(&self, profile: &str) -> Option<ProfileStyle> {
        let has = |key: &str| self.value(profile, key).is_some();
        if !CREDENTIAL_KEYS.iter().any(|key| has(key)) {
            return None;
        }
        Some(if has("role_arn") && !has("web_identity_token_file") {
            ProfileStyle::AssumeRole
        } else if has("sso_session") || has("sso_start_url") {
            ProfileStyle::Sso
        } else if has("credential_process") {
            ProfileStyle::Process
        } else if has("web_identity_token_file") {
            ProfileStyle::WebIdentity
        } else {
            ProfileStyle::Static
        })
    }

    /// The lines of every section the profile resolves through: its own sections, its
    /// sso-session, and each source_profile in turn (a loop stops at the first repeat).
    fn sections_resolved_from(&self, profile: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut seen = Vec::new();
        let mut next = Some(profile.to_owned());
        while let Some(name) = next.take() {
            if seen.contains(&name) {
                break;
            }
            for (file, section) in [
                ("credentials", self.credentials.get(&name)),
                ("config", self.config_section(&name)),
            ] {
                if let Some(section) = section {
                    out.push(format!("{file}:{name}\n{}", section.lines.join("\n")));
                }
            }
            if let Some(session) = self.value(&name, "sso_session")
                && let Some(section) = self.config.get(&format!("sso-session {session}"))
            {
                out.push(format!(
                    "sso-session:{session}\n{}",
                    section.lines.join("\n")
                ));
            }
            next = self.value(&name, "source_profile").map(str::to_owned);
            seen.push(name);
        }
        out
    }
}

/// A lenient reading of the AWS INI dialect: enough to find sections and keys. Lines it
/// cannot read still count towards the fingerprint, so any edit changes the key.
fn parse_ini(path: &Path) -> BTreeMap<String, Section> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return BTreeMap::new();
    };
    let mut sections: BTreeMap<String, Section> = BTreeMap::new();
    let mut current: Option<String> = None;
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = header.split_whitespace().collect::<Vec<_>>().join(" ");
            sections.entry(name.clone()).or_default();
            current = Some(name);
            continue;
        }
        let Some(section) = current.as_ref().and_then(|name| sections.get_mut(name)) else {
            continue;
        };
        section.lines.push(line.to_owned());
        let continuation = raw.starts_with([' ', '\t']);
        if let (false, Some((key, value))) = (continuation, line.split_once('=')) {
            section
                .values
                .insert(key.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    sections
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::FakeEnv;
    use std::fs;

    struct Home(tempfile::TempDir);

    impl Home {
        fn new(config: &str, credentials: &str) -> Home {
            let dir = tempfile::tempdir().unwrap();
            fs::create_dir_all(dir.path().join(".aws")).unwrap();
            fs::write(dir.path().join(".aws/config"), config).unwrap();
            fs::write(dir.path().join(".aws/credentials"), credentials).unwrap();
            Home(dir)
        }

        fn env(&self) -> FakeEnv {
            FakeEnv::new()
                .home(self.0.path())
                .var(AWS_EC2_METADATA_DISABLED, "true")
        }
    }

    const CONFIG: &str = "[default]\nregion = us-east-1\n\n[profile base]\nregion=eu-west-1\n\n[profile deploy]\nrole_arn = arn:aws:iam::111111111111:role/deploy\nsource_profile = base\n\n[profile sso]\nsso_session = corp\nsso_account_id = 111111111111\nsso_role_name = dev\n\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n";
    const CREDENTIALS: &str =
        "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = base-secret\n";

    #[test]
    fn environment_keys_come_first_and_are_hashed() {
        let home = Home::new(CONFIG, CREDENTIALS);
        let source = CredentialSource::detect(&home.env().var(AWS_ACCESS_KEY_ID, "AKIDENV"));
        assert_eq!(source.kind, SourceKind::EnvironmentKeys);
        assert_eq!(source.fingerprint().len(), 64);
        assert!(!source.fingerprint().contains("AKIDENV"));
        let other = CredentialSource::detect(&home.env().var(AWS_ACCESS_KEY_ID, "AKIDOTHER"));
        assert_ne!(source.fingerprint(), other.fingerprint());
    }

    #[test]
    fn assume_role_profile_covers_its_source_profile() {
        let home = Home::new(CONFIG, CREDENTIALS);
        let source = CredentialSource::detect(&home.env().var(AWS_PROFILE, "deploy"));
        assert_eq!(
            source.kind,
            SourceKind::Profile {
                name: "deploy".into(),
                style: ProfileStyle::AssumeRole
            }
        );
        let rotated = Home::new(CONFIG, &CREDENTIALS.replace("AKIDBASE", "AKIDNEW"));
        let after = CredentialSource::detect(&rotated.env().var(AWS_PROFILE, "deploy"));
        assert_ne!(
            source.fingerprint(),
            after.fingerprint(),
            "source_profile keys changed"
        );
    }

    #[test]
    fn sso_profile_is_named_and_covers_its_session() {
        let home = Home::new(CONFIG, CREDENTIALS);
        let source = CredentialSource::detect(&home.env().var(AWS_PROFILE, "sso"));
        assert_eq!(source.sso_profile(), Some("sso"));
        let moved = Home::new(
            &CONFIG.replace("corp.awsapps", "other.awsapps"),
            CREDENTIALS,
        );
        let after = CredentialSource::detect(&moved.env().var(AWS_PROFILE, "sso"));
        assert_ne!(source.fingerprint(), after.fingerprint());
    }

    #[test]
    fn a_profile_without_credentials_falls_through() {
        let home = Home::new(CONFIG, CREDENTIALS);
        assert_eq!(
            CredentialSource::detect(&home.env()).kind,
            SourceKind::Nothing
        );
        let web = home
            .env()
            .var(AWS_WEB_IDENTITY_TOKEN_FILE, "/var/run/token")
            .var(AWS_ROLE_ARN, "arn:aws:iam::1:role/r");
        assert_eq!(
            CredentialSource::detect(&web).kind,
            SourceKind::WebIdentity {
                role_arn: "arn:aws:iam::1:role/r".into()
            }
        );
        let container = home
            .env()
            .var(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, "/v2/creds");
        assert_eq!(
            CredentialSource::detect(&container).kind,
            SourceKind::Container
        );
    }

    #[test]
    fn a_settings_route_beats_env_keys_and_is_part_of_the_fingerprint() {
        use crate::settings::AssumeRole;
        let home = Home::new(CONFIG, CREDENTIALS);
        let env = home.env().var(AWS_ACCESS_KEY_ID, "AKIDENV");
        let plain = CredentialSource::detect(&env);
        let routed = |route: Route| CredentialSource::detect_for(&env, &route);
        let base = routed(Route {
            profile: Some("base".into()),
            role: None,
        });
        assert_eq!(
            base.kind,
            SourceKind::Profile {
                name: "base".into(),
                style: ProfileStyle::Static
            }
        );
        let role = |external_id: Option<&str>| {
            routed(Route {
                profile: Some("base".into()),
                role: Some(AssumeRole {
                    role_arn: "arn:aws:iam::2:role/r".into(),
                    external_id: external_id.map(str::to_owned),
                    session_name: None,
                }),
            })
        };
        let prints = [
            plain.fingerprint(),
            base.fingerprint(),
            &role(None).fingerprint,
            &role(Some("x")).fingerprint,
        ];
        for (i, a) in prints.iter().enumerate() {
            for b in &prints[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(
            role(None).to_string(),
            "profile `base` (chosen in the settings file), assuming arn:aws:iam::2:role/r"
        );
    }

    #[test]
    fn fingerprint_is_stable_for_the_same_inputs() {
        let home = Home::new(CONFIG, CREDENTIALS);
        let env = home.env().var(AWS_PROFILE, "base");
        assert_eq!(
            CredentialSource::detect(&env).fingerprint(),
            CredentialSource::detect(&env).fingerprint()
        );
    }
}
