//! Real clients, configured only through `credHelpers`, against real registries whose
//! names resolve to loopback inside a private mount namespace: dockerd with the docker
//! CLI, skopeo (containers/image reads the same credHelpers from REGISTRY_AUTH_FILE),
//! and the python docker SDK. Every client must be installed: these tests never skip.

use crate::support::lab::Call;
use crate::support::namespace::Namespace;
use crate::support::{
    ACCOUNT_A, ACCOUNT_B, BIN, Front, HOST_A, HOST_B, NOT_FOUND, PUBLIC_HOST, PUBLIC_PASSWORD, Run,
    TestEnv, lab, oci, password_for,
};
use serde_json::{Value, json};
use std::fs;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};
use tempfile::TempDir;

const IP_A: &str = "127.0.0.2";
const IP_B: &str = "127.0.0.3";
const IP_PUBLIC: &str = "127.0.0.4";
const POLL: Duration = Duration::from_millis(50);

/// The three registries (started once per test binary), any `extra` ones the caller
/// started, and a namespace that reaches them all.
fn registries(extra: &[(&str, &str)]) -> Namespace {
    lab().registry(HOST_A, IP_A, &password_for(ACCOUNT_A));
    lab().registry(HOST_B, IP_B, &password_for(ACCOUNT_B));
    lab().registry(PUBLIC_HOST, IP_PUBLIC, PUBLIC_PASSWORD);
    let mut hosts = vec![(HOST_A, IP_A), (HOST_B, IP_B), (PUBLIC_HOST, IP_PUBLIC)];
    hosts.extend_from_slice(extra);
    Namespace::new(&hosts)
}

/// A front, a sealed environment pointing at it, and the only client configuration there
/// is: a config.json whose credHelpers name `ecr`, found on PATH as our binary.
pub(crate) struct Setup {
    pub front: Front,
    pub env: TestEnv,
    pub ns: Namespace,
}

impl Setup {
    pub fn new() -> Setup {
        Setup::with_front(lab().front())
    }

    fn with_front(front: Front) -> Setup {
        Setup::with_hosts(front, &[])
    }

    /// Also reaches `extra` (host, loopback IP) registries, which the caller starts.
    pub fn with_hosts(front: Front, extra: &[(&str, &str)]) -> Setup {
        let ns = registries(extra);
        let mut env = TestEnv::with_front(&front);
        let home = env.home().to_owned();
        let bin = home.join("bin");
        fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(BIN, bin.join("docker-credential-ecr")).unwrap();
        let docker_config = home.join(".docker");
        fs::create_dir_all(&docker_config).unwrap();
        let config_json = docker_config.join("config.json");
        let helpers = json!({"credHelpers": {HOST_A: "ecr", HOST_B: "ecr", PUBLIC_HOST: "ecr"}});
        fs::write(&config_json, helpers.to_string()).unwrap();

        let path = format!("{}:{}", bin.display(), env.vars()["PATH"]);
        env.set("PATH", &path)
            .set("DOCKER_CONFIG", docker_config.to_str().unwrap())
            .set("REGISTRY_AUTH_FILE", config_json.to_str().unwrap());
        Setup { front, env, ns }
    }

    pub fn run(&self, program: &str, args: &[&str]) -> Run {
        self.ns.run(&self.env, program, args)
    }

    pub fn docker_config(&self) -> PathBuf {
        PathBuf::from(&self.env.vars()["DOCKER_CONFIG"]).join("config.json")
    }

    fn token_calls(&self, service: &str) -> Vec<Call> {
        let calls = self.front.calls_to(service);
        assert!(
            calls.iter().all(|c| c.operation == "GetAuthorizationToken"),
            "only GetAuthorizationToken was expected: {calls:#?}"
        );
        calls
    }

    /// The ECR calls as (region, registry ids), in a stable order.
    pub fn ecr_token_calls(&self) -> Vec<(String, Vec<String>)> {
        let mut calls: Vec<_> = self
            .token_calls("ecr")
            .into_iter()
            .map(|c| (c.region.unwrap_or_default(), c.registry_ids))
            .collect();
        calls.sort();
        calls
    }
}

pub(crate) fn one_call_per_account() -> Vec<(String, Vec<String>)> {
    vec![
        ("eu-west-1".to_owned(), vec![ACCOUNT_B.to_owned()]),
        ("us-east-1".to_owned(), vec![ACCOUNT_A.to_owned()]),
    ]
}

fn combined(run: &Run) -> String {
    format!("{}\n{}", run.stdout(), run.stderr())
}

/// A dockerd of our own, on its own socket and data root, inside the namespace, because
/// the daemon (not the CLI) resolves registry names. It never verifies these registries'
/// certificates (dockerd always counts 127.0.0.0/8 as insecure), so certs.d is for
/// skopeo. Dropping it stops every process of its namespace (containerd runs in its own
/// session, so a process group would miss it) and removes its data root.
struct Dockerd {
    child: Child,
    dir: Option<TempDir>,
    mount_ns: Option<String>,
    socket: PathBuf,
}

impl Dockerd {
    fn start(setup: &Setup) -> Dockerd {
        let dir = tempfile::Builder::new()
            .prefix("dce-dockerd-")
            .tempdir()
            .unwrap();
        let at = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
        fs::write(at("daemon.json"), "{}").unwrap();
        let log = fs::File::create(at("dockerd.log")).unwrap();
        let socket = dir.path().join("docker.sock");
        let mut command = setup.ns.command(&setup.env, "dockerd");
        command
            .arg(format!("--host=unix://{}", socket.display()))
            .arg(format!("--data-root={}", at("root")))
            .arg(format!("--exec-root={}", at("exec")))
            .arg(format!("--pidfile={}", at("docker.pid")))
            .arg(format!("--config-file={}", at("daemon.json")))
            .args([
                "--storage-driver=vfs",
                "--iptables=false",
                "--ip-masq=false",
                "--bridge=none",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0);
        let child = command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {command:?}: {err}"));
        let mut daemon = Dockerd {
            child,
            dir: Some(dir),
            mount_ns: None,
            socket,
        };
        daemon.wait_until_ready();
        daemon
    }

    fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut last = String::from("no answer");
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "dockerd exited ({status}) before it was ready:\n{}",
                    self.log()
                );
            }
            match ping(&self.socket) {
                Ok(answer) if answer.ends_with("OK") => {
                    self.mount_ns = Some(mount_ns(self.child.id()).expect("dockerd is running"));
                    assert_ne!(
                        self.mount_ns,
                        mount_ns(std::process::id()),
                        "dockerd must run in its own mount namespace"
                    );
                    return;
                }
                Ok(answer) => last = answer,
                Err(err) => last = err.to_string(),
            }
            thread::sleep(POLL);
        }
        panic!("dockerd not ready within 60s ({last}):\n{}", self.log());
    }

    fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    fn log(&self) -> String {
        let dir = self.dir.as_ref().unwrap().path();
        fs::read_to_string(dir.join("dockerd.log")).unwrap_or_else(|err| format!("({err})"))
    }

    /// Every process in dockerd's mount namespace: dockerd, containerd and anything they
    /// started. Nothing outside this test enters that namespace.
    fn members(&self) -> Vec<u32> {
        let Some(ns) = &self.mount_ns else {
            return Vec::new();
        };
        fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|&pid| mount_ns(pid).as_ref() == Some(ns))
            .collect()
    }

    fn stop(&mut self) -> Result<(), String> {
        signal("TERM", &[self.child.id()]);
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            thread::sleep(POLL);
        }
        let mut escalated = false;
        loop {
            let mut left = self.members();
            if self.child.try_wait().unwrap().is_none() {
                left.push(self.child.id());
            }
            if left.is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                if escalated {
                    return Err(format!("processes {left:?} survived SIGKILL"));
                }
                signal("KILL", &left);
                escalated = true;
            }
            thread::sleep(POLL);
        }
        let dir = self.dir.take().unwrap();
        let path = dir.path().to_owned();
        fs::remove_dir_all(&path)
            .map_err(|err| format!("cannot remove {}: {err}", path.display()))?;
        if escalated {
            return Err("dockerd did not stop on SIGTERM within 30s".to_owned());
        }
        Ok(())
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let outcome = self.stop();
        if let Err(problem) = outcome
            && !thread::panicking()
        {
            panic!("{problem}");
        }
    }
}

fn ping(socket: &Path) -> std::io::Result<String> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

fn mount_ns(pid: u32) -> Option<String> {
    fs::read_link(format!("/proc/{pid}/ns/mnt"))
        .ok()
        .map(|p| p.display().to_string())
}

fn signal(name: &str, pids: &[u32]) {
    // A process may exit between listing and signalling, so kill's status means nothing.
    let _exited_meanwhile = Command::new("kill")
        .arg(format!("-{name}"))
        .args(pids.iter().map(u32::to_string))
        .stderr(Stdio::null())
        .status()
        .expect("kill(1) is required");
}

/// A one-file image imported (nothing pulled) into `docker`, tagged `refs`; returns its ID.
fn import_image(setup: &Setup, dir: &Path, refs: &[&str]) -> String {
    let tar = dir.join("rootfs.tar");
    fs::write(
        &tar,
        oci::tar_with_file("hello.txt", format!("{refs:?}\n").as_bytes()),
    )
    .unwrap();
    setup
        .run("docker", &["import", tar.to_str().unwrap(), refs[0]])
        .success();
    for reference in &refs[1..] {
        setup.run("docker", &["tag", refs[0], reference]).success();
    }
    image_id(setup, refs[0])
}

fn image_id(setup: &Setup, reference: &str) -> String {
    let run = setup.run(
        "docker",
        &["image", "inspect", "--format", "{{.Id}}", reference],
    );
    run.success();
    run.stdout().trim().to_owned()
}

#[test]
fn docker_pushes_and_pulls_two_accounts_two_regions_and_public() {
    let mut setup = Setup::new();
    let daemon = Dockerd::start(&setup);
    setup.env.set("DOCKER_HOST", &daemon.host());
    let work = tempfile::tempdir().unwrap();

    let a = format!("{HOST_A}/clients-docker/app:v1");
    let b = format!("{HOST_B}/clients-docker/app:v1");
    let public = format!("{PUBLIC_HOST}/clients-docker/app:v1");
    let refs = [a.as_str(), b.as_str(), public.as_str()];
    let id = import_image(&setup, work.path(), &refs);

    for reference in refs {
        setup.run("docker", &["push", reference]).success();
    }
    setup
        .run("docker", &["rmi", a.as_str(), b.as_str(), public.as_str()])
        .success();
    let listing = setup.run("docker", &["image", "ls", "--quiet"]);
    assert_eq!(
        listing.success().stdout().trim(),
        "",
        "the pulls must start from nothing"
    );
    for reference in refs {
        setup.run("docker", &["pull", reference]).success();
        assert_eq!(
            image_id(&setup, reference),
            id,
            "{reference} came back different"
        );
    }

    // docker asks the helper on every push and pull; the cache answers all but the first.
    assert_eq!(setup.ecr_token_calls(), one_call_per_account());
    let public_calls = setup.token_calls("ecr-public");
    assert_eq!(public_calls.len(), 1, "{public_calls:#?}");
    assert_eq!(public_calls[0].region.as_deref(), Some("us-east-1"));

    // Without the helper the same pull is refused: the credentials above did the work.
    // dockerd treats 127.0.0.0/8 registries as insecure and retries over plain HTTP, so
    // the CLI reports that retry's refused connection; the daemon's log keeps the HTTPS
    // refusal.
    let anonymous_config = tempfile::tempdir().unwrap();
    let mut anonymous = TestEnv::new();
    anonymous
        .set("DOCKER_CONFIG", anonymous_config.path().to_str().unwrap())
        .set("DOCKER_HOST", &daemon.host());
    let logged_before = daemon.log().len();
    let refused = setup.ns.run(&anonymous, "docker", &["pull", &a]);
    assert!(
        !refused.output.status.success(),
        "anonymous pull succeeded{}",
        refused.explain()
    );
    let refusal = format!(
        r#"Head \"https://{HOST_A}/v2/clients-docker/app/manifests/v1\": no basic auth credentials"#
    );
    let log = daemon.log();
    assert!(
        log[logged_before..].contains(&refusal),
        "dockerd did not log {refusal:?}{}dockerd log:\n{}",
        refused.explain(),
        &log[logged_before..]
    );
    drop(daemon);
}

#[test]
fn docker_shows_the_helpers_error_on_stderr() {
    let front = lab().front();
    front.fault(json!({"kind": "access_denied"}));
    let mut setup = Setup::with_front(front);
    let daemon = Dockerd::start(&setup);
    setup.env.set("DOCKER_HOST", &daemon.host());
    let work = tempfile::tempdir().unwrap();
    let reference = format!("{HOST_A}/clients-docker-denied/app:v1");
    import_image(&setup, work.path(), &[&reference]);

    let push = setup.run("docker", &["push", &reference]);
    assert!(
        !push.output.status.success(),
        "push succeeded despite the denial{}",
        push.explain()
    );
    let output = combined(&push);
    assert!(
        output.contains(&format!(
            "docker-credential-ecr: cannot get an ECR token for {HOST_A}: access denied"
        )) && output.contains("arn:aws:iam::111111111111:user/ci-bot"),
        "docker must pass the helper's stderr line through{}",
        push.explain()
    );
    assert!(!output.contains(NOT_FOUND), "{}", push.explain());
    drop(daemon);
}

#[test]
fn skopeo_copies_and_inspects_through_cred_helpers() {
    let setup = Setup::new();
    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("layout");
    let digest = oci::write_layout(&layout, "v1", b"copied by skopeo\n");
    let source = format!("oci:{}:v1", layout.display());
    let a = format!("docker://{HOST_A}/clients-skopeo/img:v1");
    let b = format!("docker://{HOST_B}/clients-skopeo/img:v1");

    setup.run("skopeo", &["copy", &source, &a]).success();
    setup.run("skopeo", &["copy", &a, &b]).success();
    for image in [&a, &b] {
        let inspect = setup.run("skopeo", &["inspect", image]);
        let answer: Value = serde_json::from_str(&inspect.success().stdout())
            .unwrap_or_else(|err| panic!("inspect printed no JSON ({err}){}", inspect.explain()));
        assert_eq!(
            answer["Digest"],
            digest,
            "{image} is not the image copied{}",
            inspect.explain()
        );
    }

    // Four authentications (one per copy end, one per inspect); two fetches.
    assert_eq!(setup.ecr_token_calls(), one_call_per_account());
}

#[test]
fn skopeo_shows_the_helpers_error_line() {
    let front = lab().front();
    front.fault(json!({"kind": "access_denied"}));
    let setup = Setup::with_front(front);
    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("layout");
    oci::write_layout(&layout, "v1", b"never arrives\n");
    let source = format!("oci:{}:v1", layout.display());
    let target = format!("docker://{HOST_A}/clients-skopeo-denied/img:v1");

    let copy = setup.run("skopeo", &["copy", &source, &target]);
    assert!(
        !copy.output.status.success(),
        "copy succeeded despite the denial{}",
        copy.explain()
    );
    let output = combined(&copy);
    // containers/image quotes the helper's stdout (the protocol's error text) in its own
    // message; the helper's stderr copy would not prove that.
    let quoted = format!(
        "out: `cannot get an ECR token for {HOST_A}: access denied: User: arn:aws:iam::111111111111:user/ci-bot "
    );
    assert!(
        output.contains(&quoted),
        "skopeo must show the helper's line{}",
        copy.explain()
    );
    assert!(!output.contains(NOT_FOUND), "{}", copy.explain());
    assert!(
        !setup.token_calls("ecr").is_empty(),
        "the helper never asked ECR"
    );
}

/// The interpreter that has the docker SDK: the test's own python3, resolved to a path
/// because the sealed PATH (and HOME, which pyenv shims need) would find another one.
fn python_with_docker_sdk() -> String {
    let output = Command::new("python3")
        .args(["-c", "import docker, sys; print(sys.executable)"])
        .output()
        .expect("python3 is required");
    assert!(
        output.status.success(),
        "the python docker SDK is required (pip install docker): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[test]
fn docker_sdk_resolve_authconfig_uses_the_helper() {
    let setup = Setup::new();
    let script = "import docker, json, sys\n\
                  cfg = docker.auth.load_config()\n\
                  print(json.dumps([docker.auth.resolve_authconfig(cfg, h) for h in sys.argv[1:]]))";
    let run = setup.env.run_program(
        python_with_docker_sdk(),
        &["-c", script, HOST_A, PUBLIC_HOST],
        b"",
    );
    let answers: Value = serde_json::from_str(&run.success().stdout())
        .unwrap_or_else(|err| panic!("no JSON ({err}){}", run.explain()));
    assert_eq!(
        answers,
        json!([
            {"ServerAddress": HOST_A, "Username": "AWS", "Password": password_for(ACCOUNT_A)},
            {"ServerAddress": PUBLIC_HOST, "Username": "AWS", "Password": PUBLIC_PASSWORD},
        ]),
        "{}",
        run.explain()
    );
    assert_eq!(
        setup.ecr_token_calls(),
        vec![("us-east-1".to_owned(), vec![ACCOUNT_A.to_owned()])]
    );
    assert_eq!(setup.token_calls("ecr-public").len(), 1);
}
