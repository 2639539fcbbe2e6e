//! `doctor` on a healthy setup and on three broken ones.

use crate::clients::Setup;
use crate::support::*;
use std::fs;

fn lines_marked(run: &Run, mark: &str) -> Vec<String> {
    run.stdout()
        .lines()
        .filter(|l| l.starts_with(mark))
        .map(str::to_owned)
        .collect()
}

#[test]
fn doctor_on_a_healthy_setup_checks_every_host_end_to_end() {
    let setup = Setup::new();
    let run = setup.run("docker-credential-ecr", &["doctor"]);
    run.success();
    assert!(lines_marked(&run, "✗").is_empty(), "{}", run.explain());
    let text = run.stdout();
    for expected in [
        format!("✓ docker config: {HOST_A} → ecr"),
        "✓ identity: arn:aws:".to_owned(),
        format!("✓ {HOST_A}: GET https://{HOST_A}/v2/ with the token: 200"),
        format!("✓ {HOST_B}: GET https://{HOST_B}/v2/ with the token: 200"),
        format!("✓ {PUBLIC_HOST}: GET https://{PUBLIC_HOST}/v2/ with the token: 200"),
    ] {
        assert!(text.contains(&expected), "no {expected:?}{}", run.explain());
    }
    let json = setup.run("docker-credential-ecr", &["doctor", "--json", HOST_A]);
    let value: serde_json::Value = serde_json::from_str(&json.success().stdout()).unwrap();
    assert_eq!(value["ok"], true);
}

#[test]
fn doctor_says_when_there_are_no_credentials() {
    let front = lab().front();
    let mut env = TestEnv::new();
    env.use_front(&front);
    let run = env.run(&["doctor", HOST_A], b"");
    run.failure();
    let failed = lines_marked(&run, "✗ identity");
    assert!(
        failed
            .iter()
            .any(|l| l.contains("no AWS credentials found")),
        "{}",
        run.explain()
    );
    assert!(
        run.stdout().contains("→ set AWS_PROFILE"),
        "{}",
        run.explain()
    );
}

#[test]
fn doctor_names_a_shadowing_creds_store() {
    let front = lab().front();
    let mut env = TestEnv::with_front(&front);
    let docker = env.home().join(".docker");
    fs::create_dir_all(&docker).unwrap();
    fs::write(docker.join("config.json"), r#"{"credsStore": "desktop"}"#).unwrap();
    env.set("DOCKER_CONFIG", docker.to_str().unwrap());
    let run = env.run(&["doctor", HOST_A], b"");
    run.failure();
    assert!(
        run.stdout().contains(&format!(
            "✗ docker config: credsStore \"desktop\" answers for {HOST_A} (no credHelpers entry)"
        )),
        "{}",
        run.explain()
    );
    assert!(
        run.stdout()
            .contains("→ run `docker-credential-ecr configure --registry HOST`"),
        "{}",
        run.explain()
    );
}

#[test]
fn doctor_says_to_log_in_again_when_the_sso_session_expired() {
    let front = lab().front();
    let mut env = TestEnv::new();
    env.use_front(&front);
    env.set("AWS_ENDPOINT_URL_SSO", &front.url);
    env.sso_profile(
        "dev",
        "corp",
        "lab-sso-access-token",
        "2020-01-01T00:00:00Z",
    );
    env.set("AWS_PROFILE", "dev");
    let run = env.run(&["doctor", HOST_A], b"");
    run.failure();
    assert!(
        run.stdout().contains("→ run `aws sso login --profile dev`"),
        "{}",
        run.explain()
    );
    assert!(
        lines_marked(&run, "✗ identity")
            .iter()
            .any(|l| l.contains("SSO session of profile `dev` has expired")),
        "{}",
        run.explain()
    );
}
