//! Stamps the git commit into `version`, so a bug report names the exact build.
//!
//! The commit comes from, in order: DOCKER_CREDENTIAL_ECR_COMMIT (release builds from an
//! export, which has no .git), the `.cargo_vcs_info.json` that `cargo package` writes (a
//! crate built from crates.io, e.g. by `cargo install` or Homebrew), then git itself.
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
    println!("cargo:rerun-if-env-changed=DOCKER_CREDENTIAL_ECR_COMMIT");
    // A build script is not the runtime: env::Env does not exist here.
    #[allow(clippy::disallowed_methods)]
    let commit = std::env::var("DOCKER_CREDENTIAL_ECR_COMMIT")
        .ok()
        .or_else(packaged_commit)
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

/// `{"git": {"sha1": "<40 hex>", "dirty": true?}, ...}`: a string search is enough for a
/// file that cargo itself writes, and spares the build a JSON parser.
fn packaged_commit() -> Option<String> {
    let info = std::fs::read_to_string(".cargo_vcs_info.json").ok()?;
    let sha = info.split("\"sha1\"").nth(1)?.split('"').nth(1)?;
    let short: String = sha.chars().take(12).collect();
    let dirty = info.contains("\"dirty\": true");
    Some(if dirty {
        format!("{short}-dirty")
    } else {
        short
    })
}
