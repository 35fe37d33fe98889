//! Waiting for asynchronous AWS states (a load balancer active, a cluster inactive…) with a
//! bound, shared by the service modules.

use std::future::Future;
use std::time::{Duration, Instant};

use clawform_core::ProviderError;

/// Polls `check` until it returns `Some`, or fails once `timeout` has passed, naming `what` was
/// awaited. The first check is made at once; later ones back off from 1 to 15 seconds.
pub(crate) async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, ProviderError>>,
{
    let deadline = Instant::now() + timeout;
    let mut delay = Duration::from_secs(1);
    loop {
        if let Some(done) = check().await? {
            return Ok(done);
        }
        if Instant::now() + delay > deadline {
            return Err(ProviderError::api(format!("timed out after {} s waiting for {what}", timeout.as_secs())));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(15));
    }
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
