//! Test support: a sealed environment for the binary under test, and a client for the
//! lab (tests/support/lab.py: moto behind programmable fronts, real registries).
//! Missing components fail loudly: these tests never skip.

pub mod lab;
pub mod namespace;
pub mod oci;

pub use lab::{Front, lab};

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_docker-credential-ecr");
pub const ACCOUNT_A: &str = "111111111111";
pub const ACCOUNT_B: &str = "222222222222";
pub const HOST_A: &str = "111111111111.dkr.ecr.us-east-1.amazonaws.com";
pub const HOST_B: &str = "222222222222.dkr.ecr.eu-west-1.amazonaws.com";
pub const PUBLIC_HOST: &str = "public.ecr.aws";
pub const NOT_FOUND: &str = "credentials not found in native keychain";
pub const ACCESS_KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
pub const SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// moto's password for an account's registry.
pub fn password_for(account: &str) -> String {
    format!("{account}-auth-token")
}

/// The lab's ECR Public password.
pub const PUBLIC_PASSWORD: &str = "public-auth-token";

/// A temporary HOME with its own cache dir and AWS files, and an environment that holds
/// only what the test puts in it (plus PATH): nothing of the developer's leaks in.
pub struct TestEnv {
    home: TempDir,
    vars: BTreeMap<String, String>,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        let home = tempfile::Builder::new()
            .prefix("dce-home-")
            .tempdir()
            .unwrap();
        fs::create_dir_all(home.path().join(".aws")).unwrap();
        let mut env = TestEnv {
            home,
            vars: BTreeMap::new(),
        };
        let home_path = env.home().to_owned();
        env.set("HOME", home_path.to_str().unwrap());
        env.set(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        );
        env.set(
            "AWS_ECR_CACHE_DIR",
            home_path.join("cache").to_str().unwrap(),
        );
        env.set(
            "AWS_CONFIG_FILE",
            home_path.join(".aws/config").to_str().unwrap(),
        );
        env.set(
            "AWS_SHARED_CREDENTIALS_FILE",
            home_path.join(".aws/credentials").to_str().unwrap(),
        );
        // No test may wait for, or reach, a real instance metadata service.
        env.set("AWS_EC2_METADATA_DISABLED", "true");
        env
    }

    /// A TestEnv whose AWS endpoints are the front's, trusting the lab CA, with static keys.
    pub fn with_front(front: &Front) -> TestEnv {
        let mut env = TestEnv::new();
        env.use_front(front);
        env.set("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID);
        env.set("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY);
        env
    }

    pub fn use_front(&mut self, front: &Front) {
        for var in [
            "AWS_ENDPOINT_URL_ECR",
            "AWS_ENDPOINT_URL_ECR_PUBLIC",
            "AWS_ENDPOINT_URL_STS",
        ] {
            self.set(var, &front.url);
        }
        self.set("AWS_CA_BUNDLE", lab().ca.to_str().unwrap());
    }

    pub fn set(&mut self, name: &str, value: &str) -> &mut Self {
        self.vars.insert(name.to_owned(), value.to_owned());
        self
    }

    pub fn unset(&mut self, name: &str) -> &mut Self {
        self.vars.remove(name);
        self
    }

    pub fn vars(&self) -> &BTreeMap<String, String> {
        &self.vars
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    pub fn cache_dir(&self) -> PathBuf {
        PathBuf::from(&self.vars["AWS_ECR_CACHE_DIR"])
    }

    pub fn write_aws_config(&self, text: &str) {
        fs::write(&self.vars["AWS_CONFIG_FILE"], text).unwrap();
    }

    /// The settings file where the helper looks by default (the platform config dir
    /// under this HOME); returns its path.
    pub fn write_settings(&self, text: &str) -> PathBuf {
        let dir = self.home().join(".config/docker-credential-ecr");
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.toml");
        fs::write(&path, text).unwrap();
        path
    }

    pub fn write_aws_credentials(&self, text: &str) {
        fs::write(&self.vars["AWS_SHARED_CREDENTIALS_FILE"], text).unwrap();
    }

    /// An SSO profile `profile` using session `session`, and the access token that
    /// `aws sso login` would have cached for it (the file is named by SHA-1 of the session
    /// name, as the AWS CLI names it).
    pub fn sso_profile(&self, profile: &str, session: &str, access_token: &str, expires_at: &str) {
        self.write_aws_config(&format!(
            "[profile {profile}]\nsso_session = {session}\nsso_account_id = 111111111111\nsso_role_name = Dev\nregion = us-east-1\n\n\
             [sso-session {session}]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n"
        ));
        let sha1 = Command::new("sha1sum")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("sha1sum (coreutils) is required");
        let digest = feed_child(sha1, session.as_bytes());
        let name = String::from_utf8(digest.stdout).unwrap();
        let name = name.split_whitespace().next().unwrap();
        let cache = self.home().join(".aws/sso/cache");
        fs::create_dir_all(&cache).unwrap();
        let token = serde_json::json!({
            "accessToken": access_token,
            "expiresAt": expires_at,
            "region": "us-east-1",
            "startUrl": "https://corp.awsapps.com/start",
        });
        fs::write(cache.join(format!("{name}.json")), token.to_string()).unwrap();
    }

    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        command
            .env_clear()
            .envs(&self.vars)
            .current_dir(self.home());
        command
    }

    /// Runs the binary with `args` and `stdin`.
    pub fn run(&self, args: &[&str], stdin: &[u8]) -> Run {
        self.run_program(BIN, args, stdin)
    }

    pub fn run_program(
        &self,
        program: impl AsRef<std::ffi::OsStr>,
        args: &[&str],
        stdin: &[u8],
    ) -> Run {
        let mut command = self.command(program);
        command.args(args);
        let described = format!("{command:?}");
        let started = Instant::now();
        let output = feed(command, stdin);
        Run {
            output,
            elapsed: started.elapsed(),
            described,
            cache_dir: self.cache_dir(),
        }
    }

    pub fn get(&self, server_url: &str) -> Run {
        self.run(&["get"], format!("{server_url}\n").as_bytes())
    }
}

pub fn feed(mut command: Command, stdin: &[u8]) -> Output {
    let child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {command:?}: {err}"));
    feed_child(child, stdin)
}

fn feed_child(mut child: std::process::Child, stdin: &[u8]) -> Output {
    let mut pipe = child.stdin.take().unwrap();
    // A child that exits before reading everything closes the pipe: not our failure.
    let _ = pipe.write_all(stdin);
    drop(pipe);
    child.wait_with_output().unwrap()
}

/// A finished process, with everything needed to explain a failed assertion.
pub struct Run {
    pub output: Output,
    /// Wall time from spawn to exit, stdin included.
    pub elapsed: Duration,
    described: String,
    cache_dir: PathBuf,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    /// Whatever the outcome, it was not a panic (nor any other death by signal).
    pub fn no_panic(&self) -> &Self {
        assert!(
            !self.stderr().contains("panicked") && self.code().is_some(),
            "panicked or killed{}",
            self.explain()
        );
        self
    }

    /// The figure a doc table needs: what came out, the exit code, the time taken.
    pub fn figure(&self) -> String {
        let outcome = if self.output.status.success() {
            "token".to_owned()
        } else {
            self.stdout()
                .lines()
                .next()
                .unwrap_or("(no stdout)")
                .to_owned()
        };
        let code = self
            .code()
            .map_or_else(|| "signal".to_owned(), |c| c.to_string());
        format!("{outcome} | exit {code} | {} ms", self.elapsed.as_millis())
    }

    pub fn explain(&self) -> String {
        let listing = fs::read_dir(&self.cache_dir)
            .map(|dir| {
                dir.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_else(|err| format!("({err})"));
        format!(
            "\ncommand: {}\nstatus: {}\nstdout: {}\nstderr: {}\ncache dir: {listing}\n",
            self.described,
            self.output.status,
            self.stdout(),
            self.stderr()
        )
    }

    pub fn success(&self) -> &Self {
        assert!(
            self.output.status.success(),
            "expected success{}",
            self.explain()
        );
        self
    }

    pub fn failure(&self) -> &Self {
        assert_eq!(self.code(), Some(1), "expected exit 1{}", self.explain());
        self
    }

    /// The `get` answer, parsed.
    pub fn credentials(&self) -> serde_json::Value {
        self.success();
        serde_json::from_slice(&self.output.stdout)
            .unwrap_or_else(|err| panic!("stdout is not JSON ({err}){}", self.explain()))
    }
}

/// A setting of the test run itself (not of the binary under test).
#[allow(clippy::disallowed_methods)] // the harness's own knobs never reach the helper
pub fn knob(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// `DCE_SOAK=N` multiplies the default sizes of the kill -9 loop and the load test.
pub fn soak_factor() -> usize {
    knob("DCE_SOAK").filter(|&n| n >= 1).unwrap_or(1) as usize
}

/// Checks that `run` did not panic and prints one row of a docs/reliability.md table
/// (`cargo test -- --nocapture 2>&1 | grep '^figure'` reproduces them all).
#[allow(clippy::print_stderr)] // the figures are this function's output
pub fn figure(table: &str, case: &str, run: &Run) {
    run.no_panic();
    eprintln!("figure {table} | {case} | {}", run.figure());
}

/// Moves a cache entry's window so that now is past half-life (requested 7 h ago, 12 h
/// lifetime) but 5 h before expiry: the next get refreshes it, and may fall back on it.
/// Replaced by rename, as the helper writes, so a concurrent reader never sees half.
pub fn age_entry(path: &Path) {
    let mut value: serde_json::Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
    // The binary's clock is this one: aging is relative to now, however often repeated.
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    value["requested_at"] = serde_json::json!(now - 7 * 3600);
    value["expires_at"] = serde_json::json!(now + 5 * 3600);
    let temp = path.with_extension("aging");
    fs::write(&temp, value.to_string()).unwrap();
    fs::rename(&temp, path).unwrap();
}

/// The password a successful `get` printed.
pub fn secret_of(run: &Run) -> String {
    run.credentials()["Secret"].as_str().unwrap().to_owned()
}
