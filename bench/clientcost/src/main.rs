//! `clientcost N [shared]`: builds N reqwest clients (one each, or one cloned N times)
//! and prints the time and the resident memory they took.
use std::time::Instant;

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find(|l| l.starts_with("VmRSS"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let shared = std::env::args().nth(2).as_deref() == Some("shared");
    let before = rss_kib();
    let started = Instant::now();
    let mut clients = Vec::with_capacity(n);
    if shared {
        let client = reqwest::Client::builder().build().expect("client");
        for _ in 0..n {
            clients.push(client.clone());
        }
    } else {
        for _ in 0..n {
            clients.push(reqwest::Client::builder().build().expect("client"));
        }
    }
    let elapsed = started.elapsed().as_secs_f64() * 1e3;
    let grown = rss_kib().saturating_sub(before);
    println!(
        "{n} clients ({}): {elapsed:.1} ms, {:.2} ms each; RSS +{grown} KiB, {} KiB each",
        if shared { "one cloned" } else { "one each" },
        elapsed / n as f64,
        grown / n as u64,
    );
    drop(clients);
}
