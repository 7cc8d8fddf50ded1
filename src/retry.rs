//! Retries with exponential backoff and jitter: the one place that names the
//! `backoff` crate.
//!
//! The design card asks for `backoff`, which is unmaintained (RUSTSEC-2025-0012).
//! Callers see only [`RetryPolicy`], [`Failure`] and [`retry`], so moving to `backon`
//! is a change to this file alone.

use std::future::Future;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How hard to try before giving up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// At most this many attempts in all (1 = no retry).
    pub max_attempts: u32,
    /// Wait before the second attempt; it doubles each time, with ±50% jitter.
    pub initial_interval: Duration,
    pub max_interval: Duration,
    /// No new attempt starts after this long.
    pub max_elapsed: Duration,
    /// A server's `Retry-After` is honoured up to this long.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_interval: Duration::from_millis(500),
            max_interval: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retry.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }
}

/// How an attempt failed.
#[derive(Debug)]
pub enum Failure<E> {
    /// Worth another attempt, after `retry_after` if the server named a delay.
    Transient {
        error: E,
        retry_after: Option<Duration>,
    },
    /// Trying again would not help.
    Permanent(E),
}

/// The clock `backoff` measures elapsed time with: tokio's, so paused test time works.
#[derive(Debug, Clone, Copy, Default)]
struct TokioClock;

impl backoff::Clock for TokioClock {
    fn now(&self) -> std::time::Instant {
        tokio::time::Instant::now().into_std()
    }
}

/// Runs `op` until it succeeds, fails permanently, the policy is spent, or `stop` is
/// cancelled; then returns its last result. `on_retry` hears each transient error and
/// the wait before the next attempt.
///
/// `stop` ends the waits between attempts (a daemon shutting down does not sit out a
/// backoff); an attempt already under way is left to finish.
pub async fn retry<T, E, Op, Fut, N>(
    policy: &RetryPolicy,
    stop: &CancellationToken,
    mut op: Op,
    mut on_retry: N,
) -> Result<T, E>
where
    Op: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure<E>>>,
    N: FnMut(&E, Duration),
{
    use backoff::backoff::Backoff as _;
    let start = tokio::time::Instant::now();
    // The crate is used for its intervals (doubling, jitter, ceiling, elapsed limit);
    // the loop is ours, so that a wait can end at `stop`.
    let mut backoff = backoff::exponential::ExponentialBackoff {
        current_interval: policy.initial_interval,
        initial_interval: policy.initial_interval,
        randomization_factor: 0.5,
        multiplier: 2.0,
        max_interval: policy.max_interval,
        start_time: start.into_std(),
        max_elapsed_time: Some(policy.max_elapsed),
        clock: TokioClock,
    };
    let max_attempts = policy.max_attempts.max(1);
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let (error, retry_after) = match op().await {
            Ok(value) => return Ok(value),
            Err(Failure::Permanent(error)) => return Err(error),
            Err(Failure::Transient { error, retry_after }) => (error, retry_after),
        };
        if attempts >= max_attempts || stop.is_cancelled() {
            return Err(error);
        }
        // A server's Retry-After wins over the backoff, up to its cap.
        let interval = backoff.next_backoff();
        let wait = match retry_after.map(|d| d.min(policy.max_retry_after)) {
            Some(wait) => wait,
            None => match interval {
                Some(wait) => wait,
                None => return Err(error),
            },
        };
        if start.elapsed() + wait > policy.max_elapsed {
            return Err(error);
        }
        on_retry(&error, wait);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.cancelled() => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn policy(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            ..RetryPolicy::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn transient_then_success() {
        let calls = Arc::new(AtomicU32::new(0));
        let c = calls.clone();
        let mut waits = Vec::new();
        let result: Result<u32, &str> = retry(
            &policy(5),
            &CancellationToken::new(),
            || {
                let n = c.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n < 2 {
                        Err(Failure::Transient {
                            error: "busy",
                            retry_after: None,
                        })
                    } else {
                        Ok(n)
                    }
                }
            },
            |_, wait| waits.push(wait),
        )
        .await;
        assert_eq!(result, Ok(2));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(waits.len(), 2);
        // 500 ms ± 50%, then 1 s ± 50%.
        assert!(waits[0] >= Duration::from_millis(250) && waits[0] <= Duration::from_millis(750));
        assert!(waits[1] >= Duration::from_millis(500) && waits[1] <= Duration::from_millis(1500));
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_is_not_retried() {
        let calls = AtomicU32::new(0);
        let result: Result<(), &str> = retry(
            &policy(5),
            &CancellationToken::new(),
            || {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err(Failure::Permanent("forbidden")) }
            },
            |_, _| {},
        )
        .await;
        assert_eq!(result, Err("forbidden"));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    /// Runs `retry` against an operation that always fails transiently with `error`
    /// and `retry_after`; returns the result, the attempts made and the waits heard.
    async fn always_failing(
        policy: RetryPolicy,
        stop: &CancellationToken,
        error: &'static str,
        retry_after: Option<Duration>,
    ) -> (Result<(), &'static str>, u32, Vec<Duration>) {
        let calls = AtomicU32::new(0);
        let mut waits = Vec::new();
        let result = retry(
            &policy,
            stop,
            || {
                calls.fetch_add(1, Ordering::SeqCst);
                async move { Err(Failure::Transient { error, retry_after }) }
            },
            |_, wait| waits.push(wait),
        )
        .await;
        (result, calls.load(Ordering::SeqCst), waits)
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_honoured_but_capped_and_attempts_bounded() {
        let started = tokio::time::Instant::now();
        let long = RetryPolicy {
            max_elapsed: Duration::from_secs(600),
            ..policy(3)
        };
        let hour = Some(Duration::from_secs(3600));
        let (result, calls, waits) =
            always_failing(long, &CancellationToken::new(), "slow down", hour).await;
        assert_eq!(result, Err("slow down"));
        assert_eq!(calls, 3);
        assert_eq!(waits, [Duration::from_secs(60), Duration::from_secs(60)]);
        assert_eq!(started.elapsed(), Duration::from_secs(120));
    }

    #[tokio::test(start_paused = true)]
    async fn no_attempt_starts_after_max_elapsed() {
        let after = Some(Duration::from_secs(45));
        let (_, calls, _) = always_failing(policy(10), &CancellationToken::new(), "x", after).await;
        // 0 s, 45 s; a third at 90 s would start past the 60 s limit.
        assert_eq!(calls, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_exact() {
        let after = Some(Duration::from_secs(2));
        let (_, _, waits) = always_failing(policy(2), &CancellationToken::new(), "x", after).await;
        assert_eq!(waits, [Duration::from_secs(2)]);
    }

    #[tokio::test(start_paused = true)]
    async fn stop_ends_the_wait_at_once_with_the_last_error() {
        let stop = CancellationToken::new();
        let started = tokio::time::Instant::now();
        let canceller = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            canceller.cancel();
        });
        let long = RetryPolicy {
            max_elapsed: Duration::from_secs(600),
            ..policy(10)
        };
        let after = Some(Duration::from_secs(30));
        let (result, calls, _) = always_failing(long, &stop, "503", after).await;
        assert_eq!(result, Err("503"));
        assert_eq!(calls, 1, "no attempt after the stop");
        assert_eq!(started.elapsed(), Duration::from_secs(1));
    }
}
