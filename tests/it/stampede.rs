//! N processes that miss the cache at once make one API call, and all answer the same.

use crate::support::*;
use serde_json::json;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn stampede(processes: usize, latency_ms: u64) {
    let front = lab().front();
    let env = TestEnv::with_front(&front);
    front.fault(json!({"latency_ms": latency_ms}));
    let started = Instant::now();
    let children: Vec<_> = (0..processes)
        .map(|_| {
            let mut command = env.command(BIN);
            command
                .arg("get")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = command.spawn().unwrap();
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(format!("{HOST_A}\n").as_bytes())
                .unwrap();
            child
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let elapsed = started.elapsed();

    let expected = format!(
        "{{\"ServerURL\":\"{HOST_A}\",\"Username\":\"AWS\",\"Secret\":\"{}\"}}\n",
        password_for(ACCOUNT_A)
    );
    for output in &outputs {
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&output.stdout), expected);
    }
    assert_eq!(front.calls().len(), 1, "{:?}", front.calls());
    // Not a timing assertion: a sanity bound that catches serialised fetches (N × latency).
    assert!(
        elapsed < Duration::from_millis(latency_ms) * processes as u32 / 2,
        "{elapsed:?}"
    );
}

#[test]
fn thirty_two_cold_gets_make_one_api_call() {
    stampede(32, 200);
}
