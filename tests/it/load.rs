//! Load: many processes, several registries, a slow API. Every answer is the right one,
//! each entry costs exactly one API call, and no process waits much longer than that
//! one call. (stampede.rs is the single-registry version; cache_attack.rs covers a lock
//! wait that times out.)

use crate::support::*;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const PROCESSES: usize = 64;
const GETS: usize = 1000;
const API_LATENCY: Duration = Duration::from_millis(1000);
/// What a process may add to the one API call it waits for: its own start, the lock, a
/// file read, on 2 busy cores. A process that waited for two calls in a row would
/// exceed it; so would one that waited for the lock timeout (30 s + 5 s).
const BOUND: Duration = Duration::from_secs(5);
const HOST_C: &str = "333333333333.dkr.ecr.ap-southeast-2.amazonaws.com";

#[test]
fn a_thousand_gets_from_64_processes_make_one_call_per_registry() {
    let gets = GETS * soak_factor();
    let front = lab().front();
    let env = TestEnv::with_front(&front);
    front.fault(json!({"latency_ms": API_LATENCY.as_millis() as u64}));
    let registries = [
        (HOST_A, password_for(ACCOUNT_A)),
        (HOST_B, password_for(ACCOUNT_B)),
        (HOST_C, password_for("333333333333")),
        (PUBLIC_HOST, PUBLIC_PASSWORD.to_owned()),
    ];
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    // 64 workers, each running one helper process at a time until the gets run out: 64
    // processes alive at once, the first wave all cold.
    let worst = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..PROCESSES)
            .map(|_| {
                scope.spawn(|| {
                    let mut worst = Duration::ZERO;
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= gets {
                            return worst;
                        }
                        let (host, password) = &registries[i % registries.len()];
                        let run = env.get(host);
                        run.no_panic();
                        let expected = format!(
                            "{{\"ServerURL\":\"{host}\",\"Username\":\"AWS\",\"Secret\":\"{password}\"}}\n"
                        );
                        assert_eq!(run.stdout(), expected, "get {i}{}", run.explain());
                        assert_eq!(run.stderr(), "", "get {i}{}", run.explain());
                        worst = worst.max(run.elapsed);
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap())
            .max()
            .unwrap()
    });
    let total = started.elapsed();
    let calls = front.calls();
    eprintln_load(&format!(
        "{PROCESSES} processes | {gets} gets | {} registries | API latency {} ms | {} API calls | worst get {} ms | all {} ms | 0 wrong answers",
        registries.len(),
        API_LATENCY.as_millis(),
        calls.len(),
        worst.as_millis(),
        total.as_millis()
    ));
    assert_eq!(calls.len(), registries.len(), "{calls:?}");
    assert!(worst < API_LATENCY + BOUND, "worst {worst:?}");
}

#[allow(clippy::print_stderr)] // a figure for docs/reliability.md
fn eprintln_load(row: &str) {
    eprintln!("figure load | {row}");
}
