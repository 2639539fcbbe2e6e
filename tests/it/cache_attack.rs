//! The cache under attack: whatever is found at an entry's or a lock's path, and however
//! a process dies, the next get answers with the right token, the other entries keep
//! theirs, and every entry file left behind decodes. cache.rs covers the ordinary
//! corruptions and the unusable directories; this file covers what is planted, what is
//! held, and what is killed.

use crate::cache::{entry_files, the_entry};
use crate::errors::assert_one_line_failure;
use crate::support::*;
use serde_json::json;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The entry file of `host` among several, found by what it says it is for.
fn entry_of(env: &TestEnv, host: &str) -> PathBuf {
    entry_files(env)
        .into_iter()
        .find(|path| {
            let value: serde_json::Value =
                serde_json::from_slice(&fs::read(path).unwrap()).unwrap_or_default();
            value["registry"] == host
        })
        .unwrap_or_else(|| panic!("no entry for {host}"))
}

fn lock_of(entry: &Path) -> PathBuf {
    entry.with_extension("lock")
}

/// Asserts that `path` holds a complete version-1 entry whose token is `account`'s.
fn assert_sound_entry(path: &Path, password: &str) {
    let bytes = fs::read(path).unwrap();
    let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_else(|err| {
        panic!(
            "{} does not decode ({err}): {:?}",
            path.display(),
            String::from_utf8_lossy(&bytes)
        )
    });
    assert_eq!(value["version"], 1, "{}", path.display());
    assert!(value["key"].as_str().is_some_and(|k| !k.is_empty()));
    use base64::Engine;
    let token = base64::engine::general_purpose::STANDARD
        .decode(value["token"].as_str().unwrap())
        .unwrap();
    assert_eq!(String::from_utf8(token).unwrap(), format!("AWS:{password}"));
}

#[test]
fn planted_garbage_is_replaced_and_other_entries_keep_their_tokens() {
    let front = lab().front();
    let env = TestEnv::with_front(&front);
    env.get(HOST_A).success();
    env.get(HOST_B).success();
    let a = entry_of(&env, HOST_A);
    let b_before = fs::read(entry_of(&env, HOST_B)).unwrap();
    let whole = fs::read(&a).unwrap();
    let attacks: Vec<(&str, Vec<u8>)> = vec![
        ("entry truncated to 0 bytes", Vec::new()),
        ("entry truncated to 1 byte", whole[..1].to_vec()),
        ("entry truncated at half", whole[..whole.len() / 2].to_vec()),
        (
            "entry missing its last byte",
            whole[..whole.len() - 1].to_vec(),
        ),
        (
            "entry of 4 KiB random bytes",
            (0..4096u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect(),
        ),
        ("entry of 1 MiB of spaces", vec![b' '; 1 << 20]),
        (
            "entry with the wrong types",
            br#"{"version":1,"key":7,"registry":[],"token":null}"#.to_vec(),
        ),
        (
            "entry with times past the end of the clock",
            json!({"version": 1, "key": "k", "registry": HOST_A, "token": "QVdTOng=",
                   "proxy_endpoint": "p", "requested_at": u64::MAX, "expires_at": u64::MAX})
            .to_string()
            .into_bytes(),
        ),
        (
            "entry of a future format version",
            String::from_utf8(whole.clone())
                .unwrap()
                .replace("\"version\":1", "\"version\":99")
                .into_bytes(),
        ),
    ];
    for (i, (attack, bytes)) in attacks.iter().enumerate() {
        fs::write(&a, bytes).unwrap();
        let run = env.get(HOST_A);
        figure("cache", attack, &run);
        assert_eq!(secret_of(&run), password_for(ACCOUNT_A), "{attack}");
        assert_sound_entry(&a, &password_for(ACCOUNT_A));
        assert_eq!(
            front.calls_to("ecr").len(),
            2 + i + 1,
            "{attack}: one refetch"
        );
    }
    assert_eq!(secret_of(&env.get(HOST_B)), password_for(ACCOUNT_B));
    assert_eq!(fs::read(entry_of(&env, HOST_B)).unwrap(), b_before);
    assert_eq!(
        front.calls_to("ecr").len(),
        2 + attacks.len(),
        "B was served from its untouched entry"
    );
}

#[test]
fn another_identitys_entry_at_this_path_is_never_served() {
    let front = lab().front();
    let mut env = TestEnv::with_front(&front);
    env.get(HOST_A).success();
    let mine = the_entry(&env);
    // Another identity's entry for the same registry, with a token we would notice,
    // copied over ours: the key inside it is not ours.
    env.set("AWS_ACCESS_KEY_ID", "AKIAOTHERIDENTITY000");
    env.get(HOST_A).success();
    let theirs = entry_files(&env).into_iter().find(|p| *p != mine).unwrap();
    let mut planted: serde_json::Value =
        serde_json::from_slice(&fs::read(&theirs).unwrap()).unwrap();
    use base64::Engine;
    planted["token"] = json!(base64::engine::general_purpose::STANDARD.encode("AWS:planted"));
    fs::write(&mine, planted.to_string()).unwrap();

    env.set("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID);
    let run = env.get(HOST_A);
    figure("cache", "another identity's entry at this path", &run);
    assert_eq!(secret_of(&run), password_for(ACCOUNT_A));
    assert_eq!(front.calls_to("ecr").len(), 3, "refetched, not served");
    assert_sound_entry(&mine, &password_for(ACCOUNT_A));
}

#[test]
fn a_directory_at_the_entry_or_lock_path_degrades_with_one_warning() {
    let front = lab().front();
    let env = TestEnv::with_front(&front);
    env.get(HOST_A).success();
    env.get(HOST_B).success();
    let a = entry_of(&env, HOST_A);
    for (attack, path) in [
        ("a directory where the entry file should be", a.clone()),
        ("a directory where the lock file should be", lock_of(&a)),
    ] {
        fs::remove_file(&a).ok();
        fs::remove_file(&path).ok();
        fs::create_dir(&path).unwrap();
        fs::write(path.join("inside"), b"x").unwrap();
        let run = env.get(HOST_A);
        figure("cache", attack, &run);
        assert_eq!(secret_of(&run), password_for(ACCOUNT_A));
        assert_eq!(
            run.stderr().matches("warning").count(),
            1,
            "{}",
            run.explain()
        );
        fs::remove_dir_all(&path).unwrap();
    }
    let run = env.get(HOST_B);
    assert_eq!(secret_of(&run), password_for(ACCOUNT_B));
    assert_eq!(run.stderr(), "", "B untouched, silent");
}

#[test]
fn a_missing_cache_dir_is_recreated_private() {
    let front = lab().front();
    let mut env = TestEnv::with_front(&front);
    let nested = env.home().join("gone/deeper/cache");
    env.set("AWS_ECR_CACHE_DIR", nested.to_str().unwrap());
    env.get(HOST_A).success();
    fs::remove_dir_all(env.home().join("gone")).unwrap();
    let run = env.get(HOST_A);
    figure("cache", "cache dir deleted between gets", &run);
    assert_eq!(secret_of(&run), password_for(ACCOUNT_A));
    assert_eq!(run.stderr(), "");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(&nested).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_sound_entry(&the_entry(&env), &password_for(ACCOUNT_A));
}

/// Another process holding `lock` with flock(2), as a helper mid-refresh would: it says
/// "held" once it has the lock, and keeps it until killed or its stdin closes. One
/// process, so that killing it really frees the lock (flock(1) hands the descriptor on
/// to its command, which would outlive a SIGKILL to flock itself).
const HOLDER: &str = "import fcntl, sys\n\
f = open(sys.argv[1], 'a')\n\
fcntl.flock(f, fcntl.LOCK_EX)\n\
print('held', flush=True)\n\
sys.stdin.read()\n";

fn hold(lock: &Path) -> Child {
    let mut holder = Command::new("python3")
        .args(["-c", HOLDER])
        .arg(lock)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is required");
    let mut line = String::new();
    BufReader::new(holder.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "held\n");
    holder
}

/// Waits until process `pid` is queued on a flock, as /proc/locks shows waiters.
fn wait_until_blocked_on_a_lock(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let pattern = format!(" {pid} ");
    while Instant::now() < deadline {
        let locks = fs::read_to_string("/proc/locks").unwrap();
        if locks
            .lines()
            .any(|l| l.contains("->") && l.contains(&pattern))
        {
            return;
        }
        std::thread::yield_now();
    }
    panic!("process {pid} never waited for the lock");
}

fn spawn_get(env: &TestEnv, host: &str) -> Child {
    let mut child = env
        .command(BIN)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{host}\n").as_bytes())
        .unwrap();
    child
}

#[test]
fn a_lock_holder_killed_with_sigkill_releases_the_waiters() {
    let front = lab().front();
    let env = TestEnv::with_front(&front);
    env.get(HOST_A).success();
    let entry = the_entry(&env);
    fs::remove_file(&entry).unwrap();
    let mut holder = hold(&lock_of(&entry));
    let started = Instant::now();
    let waiter = spawn_get(&env, HOST_A);
    wait_until_blocked_on_a_lock(waiter.id());
    holder.kill().unwrap(); // SIGKILL
    holder.wait().unwrap();
    let output = waiter.wait_with_output().unwrap();
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && !stderr.contains("panicked"),
        "{stderr}"
    );
    assert!(stdout.contains(&password_for(ACCOUNT_A)), "{stdout}");
    eprintln_figure(
        "cache",
        "lock holder killed with SIGKILL while a get waits",
        &format!("token | exit 0 | {} ms", elapsed.as_millis()),
    );
    // The wait ends with the holder, not at the lock timeout (30 s + 5 s).
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
}

#[test]
fn a_hung_lock_holder_gives_a_clear_line_or_the_still_valid_token() {
    let front = lab().front();
    let mut env = TestEnv::with_front(&front);
    env.set("AWS_ECR_TIMEOUT", "1");
    env.get(HOST_A).success();
    let entry = the_entry(&env);
    let mut holder = hold(&lock_of(&entry));

    // A stale but valid entry: served, with a warning naming the hung holder.
    age_entry(&entry);
    let run = env.get(HOST_A);
    figure(
        "cache",
        "lock held by a hung process, stale token valid",
        &run,
    );
    assert_eq!(secret_of(&run), password_for(ACCOUNT_A));
    assert!(
        run.stderr().contains("warning") && run.stderr().contains("held the cache lock"),
        "{}",
        run.explain()
    );

    // No entry at all: one line that says who holds what, and the way out.
    fs::remove_file(&entry).unwrap();
    let run = env.get(HOST_A);
    figure("cache", "lock held by a hung process, no token", &run);
    assert_one_line_failure(
        &env,
        &run,
        &[
            "another docker-credential-ecr process has held the cache lock",
            "AWS_ECR_DISABLE_CACHE=1",
        ],
    );
    // The wait is the fetch timeout plus 5 s of grace; the bound adds start-up slack.
    assert!(run.elapsed >= Duration::from_secs(6), "{:?}", run.elapsed);
    assert!(
        run.elapsed < Duration::from_secs(6 + 5),
        "{:?}",
        run.elapsed
    );
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_eq!(front.calls_to("ecr").len(), 1, "no fetch while locked out");
}

#[allow(clippy::print_stderr)] // a figure for docs/reliability.md
fn eprintln_figure(table: &str, case: &str, row: &str) {
    eprintln!("figure {table} | {case} | {row}");
}

/// A small xorshift: the kill moments need to be spread, not unpredictable; the seed is
/// printed so that a failing run can be replayed with DCE_KILL_SEED.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[test]
fn two_hundred_sigkills_during_refreshes_leave_every_entry_sound() {
    let iterations = 200 * soak_factor();
    let front = lab().front();
    let env = TestEnv::with_front(&front);
    // Enough latency that a kill often lands while the call is in flight.
    front.fault(json!({"latency_ms": 30}));
    let hosts = [(HOST_A, ACCOUNT_A), (HOST_B, ACCOUNT_B)];
    let mut longest = Duration::ZERO;
    for (host, _) in hosts {
        let run = env.get(host);
        run.success();
        longest = longest.max(run.elapsed);
    }
    let seed =
        knob("DCE_KILL_SEED").unwrap_or_else(|| u64::from(std::process::id()) << 20 | 0x9e37);
    let mut rng = Rng(seed);
    // Kill moments spread over the whole refresh and a little past it.
    let window_us = (longest.as_micros() as u64) * 3 / 2;
    let temp_files = || {
        fs::read_dir(env.cache_dir())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".tmp")
            })
            .count()
    };
    let (mut killed, mut finished, mut most_temp_files) = (0, 0, 0);
    let started = Instant::now();
    for i in 0..iterations {
        let (host, account) = hosts[i % hosts.len()];
        if let Some(entry) = entry_files(&env).into_iter().find(|p| {
            serde_json::from_slice::<serde_json::Value>(&fs::read(p).unwrap())
                .is_ok_and(|v| v["registry"] == host)
        }) {
            age_entry(&entry);
        }
        let mut child = spawn_get(&env, host);
        std::thread::sleep(Duration::from_micros(rng.below(window_us)));
        child.kill().unwrap();
        let output = child.wait_with_output().unwrap();
        match output.status.code() {
            Some(0) => {
                finished += 1;
                assert!(
                    String::from_utf8_lossy(&output.stdout).contains(&password_for(account)),
                    "iteration {i}: wrong answer"
                );
            }
            Some(code) => panic!(
                "iteration {i}: exit {code}: {}",
                String::from_utf8_lossy(&output.stderr)
            ),
            None => killed += 1,
        }
        for path in entry_files(&env) {
            let text = fs::read(&path).unwrap();
            let value: serde_json::Value = serde_json::from_slice(&text)
                .unwrap_or_else(|err| panic!("iteration {i} (seed {seed}): {err}"));
            let password = if value["registry"] == HOST_A {
                password_for(ACCOUNT_A)
            } else {
                password_for(ACCOUNT_B)
            };
            assert_sound_entry(&path, &password);
        }
        most_temp_files = most_temp_files.max(temp_files());
    }
    let loop_time = started.elapsed();
    // After all that, a refresh of each answers at once and sweeps its key's leftovers.
    for (host, account) in hosts {
        age_entry(&entry_of(&env, host));
        let run = env.get(host);
        run.no_panic();
        assert_eq!(secret_of(&run), password_for(account));
        assert!(run.elapsed < Duration::from_secs(10), "{}", run.explain());
    }
    assert_eq!(temp_files(), 0, "temp files of killed writers are swept");
    eprintln_figure(
        "kill",
        &format!("{iterations} gets killed at random (seed {seed}, window {window_us} us)"),
        &format!(
            "killed {killed}, finished {finished}, corrupt entries 0, at most {most_temp_files} temp files of killed writers at once (swept by the next write), API calls {}, {} s",
            front.calls_to("ecr").len(),
            loop_time.as_secs()
        ),
    );
    assert!(
        killed > 0 && finished > 0,
        "kills landed on both sides: {killed}/{finished}"
    );
}
