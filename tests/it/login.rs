//! `login-password`, `--help` and completions as a user meets them.

use crate::clients::Setup;
use crate::support::*;
use std::process::Command;

#[test]
fn login_password_piped_into_skopeo_login_authenticates() {
    let setup = Setup::new();
    let password = setup.env.run(&["login-password", HOST_A], b"");
    assert_eq!(
        password.success().stdout(),
        format!("{}\n", password_for(ACCOUNT_A))
    );
    assert_eq!(password.stderr(), "");

    // A separate auth file with no credHelpers: only the piped password can log in.
    let auth = tempfile::tempdir().unwrap();
    let auth_file = auth.path().join("auth.json");
    let mut env_without_helper = setup.env.vars().clone();
    env_without_helper.insert("REGISTRY_AUTH_FILE".into(), auth_file.display().to_string());
    env_without_helper.insert("DOCKER_CONFIG".into(), auth.path().display().to_string());
    // skopeo login checks the password against the registry's /v2/ before it saves it.
    let script = format!(
        "docker-credential-ecr login-password {HOST_A} | skopeo login --username AWS --password-stdin {HOST_A}"
    );
    let mut sealed = TestEnv::new();
    for (name, value) in &env_without_helper {
        sealed.set(name, value);
    }
    let run = setup.ns.run(&sealed, "sh", &["-c", &script]);
    assert!(
        run.stdout().contains("Login Succeeded"),
        "skopeo login failed{}",
        run.explain()
    );
    let saved = std::fs::read_to_string(&auth_file).unwrap();
    assert!(saved.contains(HOST_A), "{saved}");
    // The cache answered the second login-password: one ECR call in all.
    assert_eq!(setup.front.calls_to("ecr").len(), 1);
}

#[test]
fn login_password_errors_stay_off_stdout() {
    let front = lab().front();
    let env = TestEnv::with_front(&front);
    let run = env.run(&["login-password", "docker.io"], b"");
    run.failure();
    assert_eq!(run.stdout(), "");
    assert!(
        run.stderr()
            .contains("docker.io is neither an Amazon ECR registry nor an alias"),
        "{}",
        run.explain()
    );
    assert!(front.calls().is_empty());
}

#[test]
fn login_password_without_a_host_uses_the_callers_account_and_region() {
    let front = lab().front();
    let mut env = TestEnv::with_front(&front);
    env.set("AWS_REGION", "eu-west-1");
    let run = env.run(&["login-password"], b"");
    // moto's default account for any static keys.
    assert_eq!(run.success().stdout(), "123456789012-auth-token\n");
    assert_eq!(front.calls_to("sts").len(), 1);
    let ecr = front.calls_to("ecr");
    assert_eq!(ecr.len(), 1);
    assert_eq!(ecr[0].region.as_deref(), Some("eu-west-1"));
}

#[test]
fn help_documents_every_command_and_bash_loads_the_completions() {
    let env = TestEnv::new();
    let help = env.run(&["--help"], b"");
    let text = help.success().stdout();
    for needle in [
        "Usage: docker-credential-ecr",
        "\nCommands:\n",
        "\nEnvironment:\n",
        "AWS_ECR_CONFIG",
        "\nFiles:\n",
    ] {
        assert!(text.contains(needle), "{needle}{}", help.explain());
    }
    let login = env.run(&["login-password", "--help"], b"");
    assert!(
        login
            .success()
            .stdout()
            .starts_with("Usage: docker-credential-ecr login-password [HOST]")
    );

    let script = env.run(&["completions", "bash"], b"");
    let script = script.success().stdout();
    let probe = format!(
        "{script}\nCOMP_WORDS=(docker-credential-ecr log); COMP_CWORD=1; _docker_credential_ecr; echo \"${{COMPREPLY[@]}}\""
    );
    let out = Command::new("bash")
        .args(["-c", &probe])
        .output()
        .expect("bash");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "login-password",
        "{out:?}"
    );
}
