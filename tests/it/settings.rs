//! The settings file: a profile or role per registry, and host names that are not ECR's
//! mapped to the ECR registry whose token they need, through real clients.

use crate::clients::{Setup, one_call_per_account};
use crate::support::*;
use serde_json::Value;
use std::fs;

const KEY_A: &str = "AKIATEAMA00000000000";
const KEY_B: &str = "AKIATEAMB00000000000";
const ALIAS: &str = "registry.corp.example";
const IP_ALIAS: &str = "127.0.0.5";

fn two_profiles(env: &TestEnv) {
    env.write_aws_credentials(&format!(
        "[team-a]\naws_access_key_id = {KEY_A}\naws_secret_access_key = team-a-secret\n\n\
         [team-b]\naws_access_key_id = {KEY_B}\naws_secret_access_key = team-b-secret\n"
    ));
    env.write_settings(&format!(
        "[[registry]]\nmatch = \"{HOST_A}\"\nprofile = \"team-a\"\n\n\
         [[registry]]\nmatch = \"{ACCOUNT_B}\"\nprofile = \"team-b\"\n"
    ));
}

fn pushed_digest(setup: &Setup, image: &str) -> Value {
    let inspect = setup.run("skopeo", &["inspect", image]);
    let answer: Value = serde_json::from_str(&inspect.success().stdout())
        .unwrap_or_else(|err| panic!("inspect printed no JSON ({err}){}", inspect.explain()));
    answer["Digest"].clone()
}

#[test]
fn two_accounts_with_two_profiles_push_in_one_run() {
    // Setup also exports environment keys: the settings file's profiles must beat them.
    let setup = Setup::new();
    two_profiles(&setup.env);
    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("layout");
    let digest = oci::write_layout(&layout, "v1", b"two profiles\n");
    let source = format!("oci:{}:v1", layout.display());
    let a = format!("docker://{HOST_A}/settings-profiles/img:v1");
    let b = format!("docker://{HOST_B}/settings-profiles/img:v1");

    for target in [&a, &b] {
        setup.run("skopeo", &["copy", &source, target]).success();
        assert_eq!(pushed_digest(&setup, target), digest, "{target}");
    }

    assert_eq!(setup.ecr_token_calls(), one_call_per_account());
    let mut signers: Vec<_> = setup
        .front
        .calls_to("ecr")
        .into_iter()
        .map(|c| (c.registry_ids, c.access_key_id))
        .collect();
    signers.sort();
    assert_eq!(
        signers,
        vec![
            (vec![ACCOUNT_A.to_owned()], Some(KEY_A.to_owned())),
            (vec![ACCOUNT_B.to_owned()], Some(KEY_B.to_owned())),
        ]
    );
}

#[test]
fn a_mapped_host_name_pushes_through_skopeo_with_the_ecr_token() {
    lab().registry(ALIAS, IP_ALIAS, &password_for(ACCOUNT_A));
    let setup = Setup::with_hosts(lab().front(), &[(ALIAS, IP_ALIAS)]);
    setup.env.write_settings(&format!(
        "[[alias]]\nhost = \"{ALIAS}\"\naccount = \"{ACCOUNT_A}\"\nregion = \"us-east-1\"\n"
    ));
    let config_path = setup.docker_config();
    let mut config: Value = serde_json::from_slice(&fs::read(&config_path).unwrap()).unwrap();
    config["credHelpers"][ALIAS] = "ecr".into();
    fs::write(&config_path, config.to_string()).unwrap();

    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("layout");
    let digest = oci::write_layout(&layout, "v1", b"through an alias\n");
    let target = format!("docker://{ALIAS}/settings-alias/img:v1");
    setup
        .run(
            "skopeo",
            &["copy", &format!("oci:{}:v1", layout.display()), &target],
        )
        .success();
    assert_eq!(pushed_digest(&setup, &target), digest);
    assert_eq!(
        setup.ecr_token_calls(),
        vec![("us-east-1".to_owned(), vec![ACCOUNT_A.to_owned()])]
    );

    // The answer names the host asked about; an unmapped host still costs nothing.
    let run = setup.env.get(&format!("https://{ALIAS}"));
    assert_eq!(run.credentials()["ServerURL"], format!("https://{ALIAS}"));
    let before = setup.front.calls().len();
    let other = setup.env.get("other.corp.example");
    other.failure();
    assert_eq!(other.stdout(), format!("{NOT_FOUND}\n"));
    assert_eq!(setup.front.calls().len(), before);
}

#[test]
fn a_role_from_the_settings_file_is_assumed_once_and_keys_the_cache() {
    let front = lab().front();
    let mut env = TestEnv::new();
    env.use_front(&front);
    two_profiles(&env);
    let role = "arn:aws:iam::111111111111:role/push";
    env.write_settings(&format!(
        "[[registry]]\nmatch = \"{HOST_A}\"\nprofile = \"team-a\"\nrole_arn = \"{role}\"\nsession_name = \"ci-push\"\n"
    ));

    assert_eq!(secret_of(&env.get(HOST_A)), password_for(ACCOUNT_A));
    let assumed: Vec<_> = front
        .calls_to("sts")
        .into_iter()
        .filter(|c| c.operation == "AssumeRole")
        .collect();
    assert_eq!(assumed.len(), 1, "{:?}", front.calls());
    assert_eq!(assumed[0].access_key_id.as_deref(), Some(KEY_A));
    let ecr = front.calls_to("ecr");
    assert_eq!(ecr.len(), 1);
    assert_ne!(
        ecr[0].access_key_id.as_deref(),
        Some(KEY_A),
        "ECR must be called with the role's credentials"
    );

    let calls = front.calls().len();
    env.get(HOST_A).success();
    assert_eq!(front.calls().len(), calls, "a hit calls nothing");

    // Another role for the same registry is another identity: a miss.
    env.write_settings(&format!(
        "[[registry]]\nmatch = \"{HOST_A}\"\nprofile = \"team-a\"\nrole_arn = \"{role}\"\nexternal_id = \"x\"\n"
    ));
    env.get(HOST_A).success();
    assert_eq!(front.calls_to("ecr").len(), 2);
}

#[test]
fn a_malformed_settings_file_is_one_line_with_its_position() {
    let front = lab().front();
    let mut env = TestEnv::with_front(&front);
    let path = env.home().join("settings.toml");
    fs::write(
        &path,
        format!("[[registry]]\nmatch = \"{HOST_A}\"\nprofle = \"x\"\n"),
    )
    .unwrap();
    env.set("AWS_ECR_CONFIG", path.to_str().unwrap());
    let run = env.get(HOST_A);
    run.failure();
    let line = format!("{}:3:1: unknown field `profle`", path.display());
    assert!(
        run.stdout().starts_with(&line) && run.stdout().lines().count() == 1,
        "{}",
        run.explain()
    );
    assert!(run.stderr().contains(&line), "{}", run.explain());
    assert!(front.calls().is_empty());
}
