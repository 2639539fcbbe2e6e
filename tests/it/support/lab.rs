//! A client for tests/support/lab.py, started once per test binary. The lab lives while
//! our end of its stdin pipe is open, i.e. until this test process exits, however it exits.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};

pub struct Lab {
    control: String,
    pub ca: PathBuf,
    _dir: tempfile::TempDir,
    _stdin: Mutex<ChildStdin>,
    _child: Mutex<Child>,
}

static LAB: OnceLock<Lab> = OnceLock::new();

pub fn lab() -> &'static Lab {
    LAB.get_or_init(Lab::start)
}

impl Lab {
    fn start() -> Lab {
        let dir = tempfile::Builder::new()
            .prefix("dce-lab-")
            .tempdir()
            .unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/lab.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg("--dir")
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 is required for the end-to-end tests (see .ci/run)");
        let mut first_line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first_line)
            .unwrap();
        let hello: Value = serde_json::from_str(&first_line).unwrap_or_else(|_| {
            panic!(
                "the lab did not start (is moto[server] installed? see .ci/run); it said {first_line:?}"
            )
        });
        Lab {
            control: hello["control"]
                .as_str()
                .unwrap()
                .trim_start_matches("http://")
                .to_owned(),
            ca: PathBuf::from(hello["ca"].as_str().unwrap()),
            _dir: dir,
            _stdin: Mutex::new(child.stdin.take().unwrap()),
            _child: Mutex::new(child),
        }
    }

    pub fn control_url(&self) -> String {
        format!("http://{}", self.control)
    }

    pub fn request(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut stream = TcpStream::connect(&self.control).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: lab\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, payload) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        assert!(
            head.starts_with("HTTP/1.1 2") || head.starts_with("HTTP/1.0 2"),
            "lab {method} {path} failed: {head}\n{payload}"
        );
        serde_json::from_str(payload).unwrap_or(Value::Null)
    }

    /// A new front with its own call log and faults, over HTTPS with the lab CA.
    pub fn front(&'static self) -> Front {
        self.front_with(json!({"tls": true}))
    }

    pub fn front_with(&'static self, spec: Value) -> Front {
        let answer = self.request("POST", "/fronts", Some(&spec));
        Front {
            id: answer["id"].as_str().unwrap().to_owned(),
            url: answer["url"].as_str().unwrap().to_owned(),
            lab: self,
        }
    }

    /// A real registry (docker-registry) for `host` on `bind:443` with user AWS/`password`.
    /// Started once per host for the whole test binary.
    pub fn registry(&'static self, host: &str, bind: &str, password: &str) {
        static STARTED: Mutex<Vec<String>> = Mutex::new(Vec::new());
        let mut started = STARTED.lock().unwrap();
        if started.iter().any(|h| h == host) {
            return;
        }
        self.request(
            "POST",
            "/registries",
            Some(&json!({"host": host, "bind": bind, "port": 443, "password": password})),
        );
        started.push(host.to_owned());
    }
}

pub struct Front {
    pub id: String,
    pub url: String,
    lab: &'static Lab,
}

#[derive(Debug, Clone)]
pub struct Call {
    pub service: String,
    pub region: Option<String>,
    pub operation: String,
    pub host: String,
    pub registry_ids: Vec<String>,
    /// The key ID that signed the call, if it was signed.
    pub access_key_id: Option<String>,
}

impl Front {
    pub fn calls(&self) -> Vec<Call> {
        let answer = self
            .lab
            .request("GET", &format!("/fronts/{}/calls", self.id), None);
        answer
            .as_array()
            .unwrap()
            .iter()
            .map(|call| Call {
                service: call["service"].as_str().unwrap_or_default().to_owned(),
                region: call["region"].as_str().map(str::to_owned),
                operation: call["operation"].as_str().unwrap_or_default().to_owned(),
                host: call["host"].as_str().unwrap_or_default().to_owned(),
                access_key_id: call["access_key_id"].as_str().map(str::to_owned),
                registry_ids: call["registry_ids"]
                    .as_array()
                    .map(|ids| {
                        ids.iter()
                            .filter_map(|id| id.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect()
    }

    /// Calls to one service ("ecr", "ecr-public", "sts").
    pub fn calls_to(&self, service: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.service == service)
            .collect()
    }

    /// Sets faults: {"kind", "times", "latency_ms", "expires_in", "service", "operation"}.
    pub fn fault(&self, spec: Value) {
        self.lab
            .request("POST", &format!("/fronts/{}/faults", self.id), Some(&spec));
    }

    pub fn reset(&self) {
        self.lab
            .request("POST", &format!("/fronts/{}/reset", self.id), None);
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        // Frees the port; a lab that is already gone has nothing to free.
        let _ = std::panic::catch_unwind(|| {
            self.lab
                .request("DELETE", &format!("/fronts/{}", self.id), None)
        });
    }
}
