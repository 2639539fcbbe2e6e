//! The docker-credential-helpers protocol, byte for byte, through the real binary.

use crate::support::*;
use std::os::unix::fs::symlink;

#[test]
fn get_prints_exactly_what_the_go_helper_prints() {
    let front = lab().front();
    let env = TestEnv::with_front(&front);
    let run = env.get(&format!("https://{HOST_A}"));
    run.success();
    assert_eq!(
        run.stdout(),
        format!(
            "{{\"ServerURL\":\"https://{HOST_A}\",\"Username\":\"AWS\",\"Secret\":\"{}\"}}\n",
            password_for(ACCOUNT_A)
        )
    );
    assert_eq!(run.stderr(), "", "silent on success");
    let calls = front.calls_to("ecr");
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].registry_ids,
        vec![ACCOUNT_A.to_owned()],
        "asks for the registry's own account"
    );
    assert_eq!(
        calls[0].region.as_deref(),
        Some("us-east-1"),
        "region from the hostname"
    );
}

#[test]
fn server_url_is_echoed_trimmed_with_port_and_path() {
    let front = lab().front();
    let env = TestEnv::with_front(&front);
    let input = format!("  {HOST_B}:443/v2/\r\n");
    let reply = env.run(&["get"], input.as_bytes()).credentials();
    assert_eq!(reply["ServerURL"], format!("{HOST_B}:443/v2/"));
    assert_eq!(reply["Secret"], password_for(ACCOUNT_B));
}

#[test]
fn region_comes_from_the_hostname_not_the_environment() {
    let front = lab().front();
    let mut env = TestEnv::with_front(&front);
    env.set("AWS_REGION", "ap-south-1")
        .set("AWS_DEFAULT_REGION", "ap-south-1");
    env.get(HOST_B).success();
    assert_eq!(
        front.calls_to("ecr")[0].region.as_deref(),
        Some("eu-west-1")
    );
}

#[test]
fn ecr_public_uses_the_public_api_in_us_east_1() {
    let front = lab().front();
    let env = TestEnv::with_front(&front);
    for host in [PUBLIC_HOST, "ecr-public.aws.com"] {
        assert_eq!(secret_of(&env.get(host)), PUBLIC_PASSWORD, "{host}");
    }
    let calls = front.calls_to("ecr-public");
    assert!(!calls.is_empty());
    assert!(
        calls
            .iter()
            .all(|c| c.region.as_deref() == Some("us-east-1")),
        "{calls:?}"
    );
    assert!(front.calls_to("ecr").is_empty());
}

#[test]
fn list_shows_cached_registries_without_network() {
    let front = lab().front();
    let env = TestEnv::with_front(&front);
    assert_eq!(env.run(&["list"], b"").success().stdout(), "{}\n");
    env.get(HOST_A).success();
    env.get(PUBLIC_HOST).success();
    let before = front.calls().len();
    let run = env.run(&["list"], b"");
    assert_eq!(
        run.success().stdout(),
        format!("{{\"https://{HOST_A}\":\"AWS\",\"https://{PUBLIC_HOST}\":\"AWS\"}}\n")
    );
    assert_eq!(front.calls().len(), before, "list makes no call");
}

#[test]
fn store_accepts_ecr_hosts_and_keeps_nothing() {
    let front = lab().front();
    let env = TestEnv::with_front(&front);
    let login =
        format!("{{\"ServerURL\":\"{HOST_A}\",\"Username\":\"AWS\",\"Secret\":\"typed-by-hand\"}}");
    env.run(&["store"], login.as_bytes()).success();
    // The stored secret is not what get answers: tokens always come from ECR.
    assert_eq!(secret_of(&env.get(HOST_A)), password_for(ACCOUNT_A));

    let other = r#"{"ServerURL":"docker.io","Username":"u","Secret":"s"}"#;
    let run = env.run(&["store"], other.as_bytes());
    run.failure();
    assert!(
        run.stdout().contains("not an Amazon ECR registry"),
        "{}",
        run.explain()
    );

    let run = env.run(&["store"], b"{\"ServerURL\": 42");
    run.failure();
    assert!(run.stdout().contains("expects JSON"), "{}", run.explain());
}

#[test]
fn erase_evicts_the_cached_token() {
    let front = lab().front();
    let env = TestEnv::with_front(&front);
    env.get(HOST_A).success();
    env.get(HOST_B).success();
    env.run(&["erase"], format!("https://{HOST_A}\n").as_bytes())
        .success();
    assert_eq!(
        env.run(&["list"], b"").success().stdout(),
        format!("{{\"https://{HOST_B}\":\"AWS\"}}\n")
    );
    env.get(HOST_A).success();
    assert_eq!(
        front.calls_to("ecr").len(),
        3,
        "A is fetched again after erase"
    );
}

#[test]
fn version_names_version_and_commit() {
    let run = TestEnv::new().run(&["version"], b"");
    let line = run.success().stdout();
    let expected = format!("docker-credential-ecr {} (", env!("CARGO_PKG_VERSION"));
    assert!(
        line.starts_with(&expected) && line.ends_with(")\n"),
        "{line:?}"
    );
}

#[test]
fn unknown_action_prints_usage_on_stderr() {
    for args in [&["fetch"][..], &[][..]] {
        let run = TestEnv::new().run(args, b"");
        run.failure();
        assert_eq!(run.stdout(), "");
        assert!(
            run.stderr()
                .contains("Usage: docker-credential-ecr <get|store|erase|list|"),
            "{}",
            run.explain()
        );
    }
}

#[test]
fn the_ecr_login_name_behaves_identically() {
    let front = lab().front();
    let env = TestEnv::with_front(&front);
    let bin = tempfile::tempdir().unwrap();
    let alias = bin.path().join("docker-credential-ecr-login");
    symlink(BIN, &alias).unwrap();
    let input = format!("{HOST_A}\n");
    let ours = env.run(&["get"], input.as_bytes());
    let aliased = env.run_program(&alias, &["get"], input.as_bytes());
    assert_eq!(aliased.success().stdout(), ours.success().stdout());
    let not_ecr = env.run_program(&alias, &["get"], b"docker.io\n");
    assert_eq!(not_ecr.failure().stdout(), format!("{NOT_FOUND}\n"));
}
