//! Waiting until something holds: a deadline, a short pause between looks, and a panic
//! that says what was awaited and shows the context (a log tail) when it never came.

use std::future::Future;
use std::time::{Duration, Instant};

const PAUSE: Duration = Duration::from_millis(100);

/// Polls `check` until it is true or `secs` pass; then panics with `what` and
/// `context()` (say, [`super::Daemon::context`]).
pub async fn wait_until<F, Fut>(secs: u64, what: &str, context: impl Fn() -> String, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if check().await {
            return;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {secs}s waiting for: {what}\n{}", context());
        }
        tokio::time::sleep(PAUSE).await;
    }
}

/// [`wait_until`] for a plain (non-async) check, polled every `every` on this thread.
pub fn wait_until_blocking(
    timeout: Duration,
    every: Duration,
    what: &str,
    context: impl Fn() -> String,
    mut check: impl FnMut() -> bool,
) {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return;
        }
        if Instant::now() >= deadline {
            panic!(
                "timed out after {timeout:?} waiting for: {what}\n{}",
                context()
            );
        }
        std::thread::sleep(every);
    }
}
