//! Waiting for asynchronous AWS states (a load balancer active, a cluster inactive…) with a
//! bound, shared by the service modules.

use std::future::Future;
use std::time::{Duration, Instant};

use clawform_core::ProviderError;

/// How a wait polls: the first delay, doubling up to `max`, for at most `timeout` in all.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    /// The delay after the first check.
    pub first: Duration,
    /// The longest delay between two checks.
    pub max: Duration,
    /// How long the wait may last.
    pub timeout: Duration,
}

impl Backoff {
    /// The backoff of most state waits: 1 s, doubling up to 15 s.
    pub(crate) fn states(timeout: Duration) -> Backoff {
        Backoff { first: Duration::from_secs(1), max: Duration::from_secs(15), timeout }
    }
}

/// The one poll loop: runs `check` (told whether this is the last check the bound allows) until
/// it returns `Some` or an error. A last check that still answers `None` ends the wait with a
/// timeout error naming `what`; a check that wants to say more on its last try returns its own
/// error instead. The first check is made at once.
pub(crate) async fn poll<T, F, Fut>(what: &str, backoff: Backoff, mut check: F) -> Result<T, ProviderError>
where
    F: FnMut(bool) -> Fut,
    Fut: Future<Output = Result<Option<T>, ProviderError>>,
{
    let deadline = Instant::now() + backoff.timeout;
    let mut delay = backoff.first;
    loop {
        let last = Instant::now() + delay >= deadline;
        if let Some(done) = check(last).await? {
            return Ok(done);
        }
        if last {
            return Err(ProviderError::api(format!("timed out after {} s waiting for {what}", backoff.timeout.as_secs())));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(backoff.max);
    }
}

/// Polls `check` until it returns `Some`, or fails once `timeout` has passed, naming `what` was
/// awaited. The first check is made at once; later ones back off from 1 to 15 seconds.
pub(crate) async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, ProviderError>>,
{
    poll(what, Backoff::states(timeout), |_| check()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wait_for_returns_once_done_and_times_out_otherwise() {
        let mut calls = 0;
        let out = wait_for("a thing", Duration::from_secs(5), || {
            calls += 1;
            let n = calls;
            async move { Ok((n >= 2).then_some(n)) }
        })
        .await;
        assert_eq!(out, Ok(2));
        let err = wait_for::<(), _, _>("the impossible", Duration::from_millis(10), || async { Ok(None) }).await.unwrap_err();
        assert!(err.message.contains("waiting for the impossible"), "{err}");
    }
}
