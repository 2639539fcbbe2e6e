//! The cache through the real binary: hits cost no call of any kind, files are private
//! and hold no AWS key, and the cache degrades instead of failing.

use crate::support::lab::Call;
use crate::support::*;
use serde_json::json;
use std::fs;
use std::os::unix::fs::PermissionsExt;

fn cache_files(env: &TestEnv) -> Vec<std::path::PathBuf> {
    fs::read_dir(env.cache_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

pub fn entry_files(env: &TestEnv) -> Vec<std::path::PathBuf> {
    cache_files(env)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect()
}

/// The single entry a test's one registry produced.
pub fn the_entry(env: &TestEnv) -> std::path::PathBuf {
    let mut entries = entry_files(env);
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries.remove(0)
}

#[test]
fn a_second_get_makes_no_api_call() {
    let front = lab().front();
    let env = TestEnv::with_front(&front);
    let first = env.get(HOST_A);
    let second = env.get(HOST_A);
    assert_eq!(first.success().stdout(), second.success().stdout());
    assert_eq!(front.calls().len(), 1, "{:?}", front.calls());
}

#[test]
fn an_assume_role_profile_hits_the_cache_with_no_call_of_any_kind() {
    let front = lab().front();
    let mut env = TestEnv::new();
    env.use_front(&front);
    env.set("AWS_PROFILE", "deploy");
    env.write_aws_credentials(&format!(
        "[base]\naws_access_key_id = {ACCESS_KEY_ID}\naws_secret_access_key = {SECRET_ACCESS_KEY}\n"
    ));
    env.write_aws_config(
        "[profile deploy]\nrole_arn = arn:aws:iam::111111111111:role/deploy\nsource_profile = base\nregion = us-east-1\n",
    );
    first_get_pays_second_is_free(&env, &front, |c| c.operation == "AssumeRole");

    // Editing the profile changes the identity, and so the key.
    env.write_aws_config(
        "[profile deploy]\nrole_arn = arn:aws:iam::111111111111:role/other\nsource_profile = base\nregion = us-east-1\n",
    );
    env.get(HOST_A).success();
    assert_eq!(front.calls_to("ecr").len(), 2);
}

#[test]
fn an_sso_profile_hits_the_cache_with_no_call_of_any_kind() {
    let front = lab().front();
    let mut env = TestEnv::new();
    env.use_front(&front);
    env.set("AWS_ENDPOINT_URL_SSO", &front.url)
        .set("AWS_PROFILE", "dev");
    env.sso_profile(
        "dev",
        "corp",
        "lab-sso-access-token",
        "2099-01-01T00:00:00Z",
    );
    first_get_pays_second_is_free(&env, &front, |c| c.service == "sso");
}

/// The first get makes exactly one credentials call (`is_credentials_call`) and one ECR
/// call; the second makes no call of any kind.
fn first_get_pays_second_is_free(
    env: &TestEnv,
    front: &Front,
    is_credentials_call: impl Fn(&Call) -> bool,
) {
    assert_eq!(secret_of(&env.get(HOST_A)), password_for(ACCOUNT_A));
    let first = front.calls();
    assert_eq!(
        first.iter().filter(|c| is_credentials_call(c)).count(),
        1,
        "{first:?}"
    );
    assert_eq!(
        first.iter().filter(|c| c.service == "ecr").count(),
        1,
        "{first:?}"
    );

    assert_eq!(secret_of(&env.get(HOST_A)), password_for(ACCOUNT_A));
    assert_eq!(
        front.calls().len(),
        first.len(),
        "no credentials call and no ECR call on the second get"
    );
}

#[test]
fn cache_files_are_private_and_hold_no_aws_key() {
    let front = lab().front();
    let env = TestEnv::with_front(&front);
    env.get(HOST_A).success();
    env.get(PUBLIC_HOST).success();
    let dir_mode = fs::metadata(env.cache_dir()).unwrap().permissions().mode() & 0o777;
    assert_eq!(dir_mode, 0o700);
    let files = cache_files(&env);
    assert!(files.len() >= 2, "{files:?}");
    for file in files {
        let mode = fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
        let text = fs::read_to_string(&file).unwrap();
        assert!(
            !text.contains(ACCESS_KEY_ID),
            "{}: key ID in clear",
            file.display()
        );
        assert!(
            !text.contains(SECRET_ACCESS_KEY),
            "{}: secret in clear",
            file.display()
        );
    }
}

#[test]
fn a_token_that_arrives_expired_is_served_but_never_cached() {
    let front = lab().front();
    let env = TestEnv::with_front(&front);
    front.fault(json!({"expires_in": -1}));
    env.get(HOST_A).success();
    env.get(HOST_A).success();
    assert_eq!(front.calls_to("ecr").len(), 2);
    assert!(entry_files(&env).is_empty());
}

#[test]
fn a_failed_refresh_serves_a_still_valid_token_with_a_warning() {
    let front = lab().front();
    let env = TestEnv::with_front(&front);
    // The first get wrote the entry just now; move its window so that now is past
    // half-life (requested 7 h ago, 12 h lifetime) but before expiry.
    env.get(HOST_A).success();
    let entry = the_entry(&env);
    let mut value: serde_json::Value = serde_json::from_slice(&fs::read(&entry).unwrap()).unwrap();
    let now = value["requested_at"].as_u64().unwrap();
    value["requested_at"] = json!(now - 7 * 3600);
    value["expires_at"] = json!(now + 5 * 3600);
    fs::write(&entry, value.to_string()).unwrap();

    front.fault(json!({"kind": "http503"}));
    let run = env.get(HOST_A);
    assert_eq!(secret_of(&run), password_for(ACCOUNT_A));
    assert!(
        run.stderr().contains("warning") && run.stderr().contains("using the cached token"),
        "{}",
        run.explain()
    );

    // Expired: never served.
    value["expires_at"] = json!(now - 60);
    fs::write(&entry, value.to_string()).unwrap();
    env.get(HOST_A).failure();
}

#[test]
fn disabling_the_cache_fetches_every_time_and_writes_nothing() {
    let front = lab().front();
    let mut env = TestEnv::with_front(&front);
    env.set("AWS_ECR_DISABLE_CACHE", "1");
    env.get(HOST_A).success();
    env.get(HOST_A).success();
    assert_eq!(front.calls_to("ecr").len(), 2);
    assert!(!env.cache_dir().exists());
}

#[test]
fn an_unusable_cache_dir_degrades_with_one_warning() {
    let front = lab().front();
    let mut env = TestEnv::with_front(&front);
    let blocker = env.home().join("not-a-dir");
    fs::write(&blocker, b"x").unwrap();
    env.set("AWS_ECR_CACHE_DIR", blocker.join("cache").to_str().unwrap());
    let run = env.get(HOST_A);
    figure("cache", "cache dir path runs through a file", &run);
    assert_eq!(secret_of(&run), password_for(ACCOUNT_A));
    assert_eq!(
        run.stderr().matches("warning").count(),
        1,
        "{}",
        run.explain()
    );
}

#[test]
fn a_read_only_cache_dir_degrades_with_one_warning() {
    let front = lab().front();
    let env = TestEnv::with_front(&front);
    fs::create_dir_all(env.cache_dir()).unwrap();
    // Permission bits do not stop root, so make the directory read-only with a read-only
    // bind mount in a private mount namespace.
    let dir = env.cache_dir();
    let dir = dir.to_str().unwrap();
    let script =
        format!("mount --bind {dir} {dir} && mount -o remount,bind,ro {dir} && exec \"$0\" get");
    let run = env.run_program(
        "unshare",
        &["-m", "--propagation", "private", "sh", "-c", &script, BIN],
        format!("{HOST_A}\n").as_bytes(),
    );
    figure("cache", "read-only cache dir", &run);
    assert_eq!(secret_of(&run), password_for(ACCOUNT_A));
    assert_eq!(
        run.stderr().matches("warning").count(),
        1,
        "{}",
        run.explain()
    );
    assert!(
        run.stderr().contains("Read-only file system"),
        "{}",
        run.explain()
    );
}

#[test]
fn a_corrupt_entry_is_replaced_not_fatal() {
    let front = lab().front();
    let env = TestEnv::with_front(&front);
    env.get(HOST_A).success();
    let entry = the_entry(&env);
    for garbage in [&b""[..], b"\0\0\0", b"{\"version\":1", b"[]"] {
        fs::write(&entry, garbage).unwrap();
        assert_eq!(secret_of(&env.get(HOST_A)), password_for(ACCOUNT_A));
        let replaced: serde_json::Value =
            serde_json::from_slice(&fs::read(&entry).unwrap()).unwrap();
        assert_eq!(replaced["version"], 1);
    }
}
