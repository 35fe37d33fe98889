//! Waiting for asynchronous AWS states (a load balancer active, a cluster inactive…) with a
//! bound, shared by the service modules. Bounds and delays run on the process's time scale
//! (`CLAWFORM_WAIT_SCALE`, see [`super::retry`]), and delays are jittered so that waits started
//! together do not poll in step.

use std::future::Future;
use std::time::{Duration, Instant};

use clawform_core::ProviderError;

use super::retry::{equal_jitter, human, scale_note, scaled};

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
/// error instead. The first check is made at once, the last one when the bound is reached.
/// Bound and delays are scaled by `CLAWFORM_WAIT_SCALE`; each delay is drawn between half and
/// all of the current backoff step.
pub(crate) async fn poll<T, F, Fut>(what: &str, backoff: Backoff, mut check: F) -> Result<T, ProviderError>
where
    F: FnMut(bool) -> Fut,
    Fut: Future<Output = Result<Option<T>, ProviderError>>,
{
    let timeout = scaled(backoff.timeout);
    let max = scaled(backoff.max);
    let mut step = scaled(backoff.first).min(max);
    let deadline = Instant::now() + timeout;
    let mut announced = false;
    loop {
        let now = Instant::now();
        let last = now >= deadline;
        if let Some(done) = check(last).await? {
            return Ok(done);
        }
        if last {
            return Err(ProviderError::api(format!("timed out after {}{} waiting for {what}", human(timeout), scale_note())));
        }
        // Said once per wait, when it turns out to be one: on the operation's progress line and
        // in the log.
        if !announced {
            clawform_core::report_waiting(what);
            tracing::info!("waiting for {what} (up to {}{})", human(timeout), scale_note());
            announced = true;
        }
        tokio::time::sleep(equal_jitter(step).min(deadline.saturating_duration_since(Instant::now()))).await;
        step = (step * 2).min(max);
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
