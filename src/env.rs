//! All contact with the process environment: variables, the clock, the home and cache
//! directories. Everything else receives a `&dyn Env`, so unit tests run with a
//! [`FakeEnv`] and never touch the real environment.

use std::path::PathBuf;
use std::time::SystemTime;

pub trait Env {
    /// The variable's value; an empty variable counts as unset, as the AWS CLI treats it.
    fn var(&self, name: &str) -> Option<String>;
    fn now(&self) -> SystemTime;
    fn home_dir(&self) -> Option<PathBuf>;
    /// The platform's per-user cache directory for this program.
    fn default_cache_dir(&self) -> Option<PathBuf>;
    /// The platform's per-user config directory for this program (the settings file).
    fn default_config_dir(&self) -> Option<PathBuf>;
}

/// The real environment, for `main` only.
pub struct OsEnv;

impl Env for OsEnv {
    fn var(&self, name: &str) -> Option<String> {
        #[allow(clippy::disallowed_methods)]
        std::env::var(name).ok().filter(|value| !value.is_empty())
    }

    fn now(&self) -> SystemTime {
        #[allow(clippy::disallowed_methods)]
        SystemTime::now()
    }

    fn home_dir(&self) -> Option<PathBuf> {
        directories::BaseDirs::new().map(|dirs| dirs.home_dir().to_path_buf())
    }

    fn default_cache_dir(&self) -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "docker-credential-ecr")
            .map(|dirs| dirs.cache_dir().to_path_buf())
    }

    fn default_config_dir(&self) -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "docker-credential-ecr")
            .map(|dirs| dirs.config_dir().to_path_buf())
    }
}

#[cfg(test)]
pub use fake::FakeEnv;

#[cfg(test)]
mod fake {
    use super::Env;
    use std::collections::HashMap;
    use std::path::PathBuf;
    use std::time::{Duration, SystemTime};

    /// A sealed environment: only what the test sets exists.
    #[derive(Clone)]
    pub struct FakeEnv {
        vars: HashMap<String, String>,
        now: SystemTime,
        home: Option<PathBuf>,
        cache: Option<PathBuf>,
        config: Option<PathBuf>,
    }

    impl Default for FakeEnv {
        fn default() -> Self {
            FakeEnv::new()
        }
    }

    impl FakeEnv {
        pub fn new() -> Self {
            FakeEnv {
                vars: HashMap::new(),
                now: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
                home: None,
                cache: None,
                config: None,
            }
        }

        pub fn var(mut self, name: &str, value: &str) -> Self {
            self.vars.insert(name.to_owned(), value.to_owned());
            self
        }

        pub fn at(mut self, now: SystemTime) -> Self {
            self.now = now;
            self
        }

        pub fn home(mut self, home: impl Into<PathBuf>) -> Self {
            self.home = Some(home.into());
            self
        }

        pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
            self.cache = Some(dir.into());
            self
        }

        pub fn config_dir(mut self, dir: impl Into<PathBuf>) -> Self {
            self.config = Some(dir.into());
            self
        }
    }

    impl Env for FakeEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.vars.get(name).filter(|v| !v.is_empty()).cloned()
        }
        fn now(&self) -> SystemTime {
            self.now
        }
        fn home_dir(&self) -> Option<PathBuf> {
            self.home.clone()
        }
        fn default_cache_dir(&self) -> Option<PathBuf> {
            self.cache.clone()
        }
        fn default_config_dir(&self) -> Option<PathBuf> {
            self.config.clone()
        }
    }
}
