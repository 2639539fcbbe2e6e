//! `configure` against a temporary DOCKER_CONFIG, then a real client through it.

use crate::clients::Setup;
use crate::support::*;
use std::fs;

#[test]
fn configure_then_skopeo_pushes_through_the_written_config() {
    let setup = Setup::new();
    let config_path = setup.docker_config();
    let original = format!(
        "{{\n  \"zeta\": 1,\n  \"auths\": {{\"https://{HOST_B}\": {{\"auth\": \"QVdTOm9sZA==\"}}}},\n  \"credHelpers\": {{\"gcr.io\": \"gcloud\"}},\n  \"alpha\": {{\"b\": 1, \"a\": 2}}\n}}\n"
    );
    fs::write(&config_path, &original).unwrap();

    let dry = setup
        .env
        .run(&["configure", "--registry", HOST_A, "--dry-run"], b"");
    assert!(
        dry.success()
            .stdout()
            .contains(&format!("\"{HOST_A}\": \"ecr\""))
    );
    assert_eq!(
        fs::read_to_string(&config_path).unwrap(),
        original,
        "dry run wrote"
    );

    let run = setup.env.run(
        &[
            "configure",
            "--registry",
            HOST_A,
            "--registry",
            HOST_B,
            "--public",
        ],
        b"",
    );
    let said = run.success().stdout();
    assert!(said.contains("Added credHelpers for"), "{}", run.explain());
    assert!(
        said.contains("skopeo, podman and buildah"),
        "{}",
        run.explain()
    );
    assert!(
        run.stderr()
            .contains(&format!("auths has an entry for {HOST_B}")),
        "{}",
        run.explain()
    );
    let written = fs::read_to_string(&config_path).unwrap();
    let keys: Vec<&str> = [
        "\"zeta\"",
        "\"auths\"",
        "\"credHelpers\"",
        "\"alpha\"",
        "\"b\"",
        "\"a\"",
    ]
    .into_iter()
    .collect();
    let positions: Vec<usize> = keys.iter().map(|k| written.find(k).unwrap()).collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "order lost:\n{written}"
    );
    let value: serde_json::Value = serde_json::from_str(&written).unwrap();
    assert_eq!(value["credHelpers"]["gcr.io"], "gcloud");
    for host in [HOST_A, HOST_B, PUBLIC_HOST] {
        assert_eq!(value["credHelpers"][host], "ecr", "{written}");
    }
    let backup = config_path.with_file_name("config.json.bak");
    assert_eq!(fs::read_to_string(&backup).unwrap(), original);

    let again = setup.env.run(&["configure", "--registry", HOST_A], b"");
    assert!(
        again.success().stdout().contains("nothing to do"),
        "{}",
        again.explain()
    );
    assert_eq!(fs::read_to_string(&config_path).unwrap(), written);

    // skopeo reads exactly this file (REGISTRY_AUTH_FILE) and finds the helper on PATH.
    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("layout");
    oci::write_layout(&layout, "v1", b"configured\n");
    let target = format!("docker://{HOST_A}/configure/img:v1");
    setup
        .run(
            "skopeo",
            &["copy", &format!("oci:{}:v1", layout.display()), &target],
        )
        .success();
    assert_eq!(setup.front.calls_to("ecr").len(), 1);

    let removed = setup.env.run(
        &["configure", "--remove", "--registry", HOST_A, "--public"],
        b"",
    );
    assert!(
        removed.success().stdout().contains("Removed credHelpers"),
        "{}",
        removed.explain()
    );
    let after: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&config_path).unwrap()).unwrap();
    assert!(after["credHelpers"].get(HOST_A).is_none());
    assert!(after["credHelpers"].get(PUBLIC_HOST).is_none());
    assert_eq!(after["credHelpers"][HOST_B], "ecr");
}

#[test]
fn configure_without_a_registry_derives_it_from_the_identity() {
    let front = lab().front();
    let mut env = TestEnv::with_front(&front);
    let docker = env.home().join("docker");
    env.set("DOCKER_CONFIG", docker.to_str().unwrap())
        .set("AWS_REGION", "eu-west-1");
    let run = env.run(&["configure"], b"");
    let host = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
    assert!(
        run.success().stdout().contains(&format!("using {host}")),
        "{}",
        run.explain()
    );
    let written: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(docker.join("config.json")).unwrap()).unwrap();
    assert_eq!(written, serde_json::json!({"credHelpers": {host: "ecr"}}));
    assert_eq!(front.calls_to("sts").len(), 1);
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(docker.join("config.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn configure_refuses_a_malformed_config_and_leaves_it() {
    let env = TestEnv::new();
    let docker = env.home().join(".docker");
    fs::create_dir_all(&docker).unwrap();
    fs::write(docker.join("config.json"), "{\"auths\": {,}").unwrap();
    let run = env.run(&["configure", "--registry", HOST_A], b"");
    run.failure();
    assert!(
        run.stderr()
            .contains("is not valid JSON (line 1, column 12)"),
        "{}",
        run.explain()
    );
    assert_eq!(run.stdout(), "");
    assert_eq!(
        fs::read_to_string(docker.join("config.json")).unwrap(),
        "{\"auths\": {,}"
    );
}
