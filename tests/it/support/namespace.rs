//! A private mount namespace in which ECR hostnames resolve to the lab's loopback
//! registries and the lab CA is trusted the way docker and skopeo look for it
//! (/etc/docker/certs.d/HOST/ca.crt). Clients resolve names themselves (dockerd does the
//! registry traffic, not the CLI), so they must run inside; the real /etc/hosts is never
//! touched.

use super::{Run, TestEnv, lab};
use std::fs;
use std::path::PathBuf;
use std::process::Command;
use tempfile::TempDir;

/// Where docker and containers/image read per-registry CAs. It must exist on the real
/// file system to be a mount point; an empty directory changes nothing for anyone else.
const CERTS_D: &str = "/etc/docker/certs.d";

pub struct Namespace {
    pub hosts_file: PathBuf,
    pub certs_d: PathBuf,
    _dir: TempDir,
}

impl Namespace {
    /// `hosts` are (name, loopback address) pairs; each name trusts the lab CA.
    pub fn new(hosts: &[(&str, &str)]) -> Namespace {
        let dir = tempfile::Builder::new()
            .prefix("dce-ns-")
            .tempdir()
            .unwrap();
        let hosts_file = dir.path().join("hosts");
        let certs_d = dir.path().join("certs.d");
        let mut text = String::from("127.0.0.1 localhost\n::1 localhost\n");
        for (host, ip) in hosts {
            assert!(
                ip.starts_with("127."),
                "{host} must resolve to loopback, not {ip}"
            );
            text.push_str(&format!("{ip} {host}\n"));
            let host_dir = certs_d.join(host);
            fs::create_dir_all(&host_dir).unwrap();
            fs::copy(&lab().ca, host_dir.join("ca.crt")).unwrap();
        }
        fs::create_dir_all(&certs_d).unwrap();
        fs::write(&hosts_file, text).unwrap();
        fs::create_dir_all(CERTS_D).unwrap_or_else(|err| panic!("cannot create {CERTS_D}: {err}"));
        Namespace {
            hosts_file,
            certs_d,
            _dir: dir,
        }
    }

    /// `program` run inside a fresh private mount namespace, with `env`'s sealed
    /// environment. unshare must exist and work: a missing one fails the test.
    pub fn command(&self, env: &TestEnv, program: &str) -> Command {
        let mut command = env.command("unshare");
        command.args(self.argv(program, &[]));
        command
    }

    /// Runs `program args` to completion inside the namespace.
    pub fn run(&self, env: &TestEnv, program: &str, args: &[&str]) -> Run {
        let argv = self.argv(program, args);
        env.run_program(
            "unshare",
            &argv.iter().map(String::as_str).collect::<Vec<_>>(),
            b"",
        )
    }

    fn argv(&self, program: &str, args: &[&str]) -> Vec<String> {
        let mut argv: Vec<String> = ["-m", "--propagation", "private", "sh", "-c"]
            .map(String::from)
            .into();
        argv.push(
            r#"mount --bind "$1" /etc/hosts && mount --bind "$2" "$3" && shift 3 && exec "$@""#
                .into(),
        );
        argv.push("sh".into());
        argv.push(self.hosts_file.to_str().unwrap().into());
        argv.push(self.certs_d.to_str().unwrap().into());
        argv.push(CERTS_D.into());
        argv.push(program.into());
        argv.extend(args.iter().map(|a| a.to_string()));
        argv
    }
}
