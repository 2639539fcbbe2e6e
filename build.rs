//! Stamps the git commit into `version`, so a bug report names the exact build.
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
    println!("cargo:rerun-if-env-changed=DOCKER_CREDENTIAL_ECR_COMMIT");
    // A build script is not the runtime: env::Env does not exist here.
    #[allow(clippy::disallowed_methods)]
    let commit = std::env::var("DOCKER_CREDENTIAL_ECR_COMMIT")
        .ok()
        .or_else(|| {
            Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .output()
                .ok()
                .filter(|out| out.status.success())
                .and_then(|out| String::from_utf8(out.stdout).ok())
                .map(|s| s.trim().to_owned())
        });
    println!(
        "cargo:rustc-env=DOCKER_CREDENTIAL_ECR_COMMIT={}",
        commit.unwrap_or_else(|| "unknown".to_owned())
    );
}
