//! Sending the calls AWS throttles hardest no faster than their documented bucket refills.
//!
//! ECS keeps a token bucket per account, region and operation class ("Request throttling for
//! the Amazon ECS API",
//! https://docs.aws.amazon.com/AmazonECS/latest/APIReference/request-throttling.html):
//! RegisterTaskDefinition and DeregisterTaskDefinition each hold 20 tokens and get 1 back a
//! second. A rollout of 500 tenants registers 500 revisions: past the first 20, it cannot go
//! faster than one a second whatever it does. Sent blindly by 10 workers, nine in ten calls are
//! throttled, and each throttled worker then sleeps a random backoff of up to 20 s while tokens
//! pile up unused; the rollout takes twice the floor (measured: 989 s for 480 s). Paced here,
//! each call waits for the token it would have had — a reservation on a local copy of AWS's
//! bucket — and AWS is asked only when it can say yes. Other clients of the same account can
//! still empty AWS's bucket: their throttling answers are retried by the SDK as before.
//!
//! The refill runs on the provider's time scale (`CLAWFORM_WAIT_SCALE`, see [`super::retry`]),
//! so a test whose AWS stand-in refills ten times faster paces ten times faster.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The buckets paced, as `(operation, size, tokens a second)` from the page above.
pub(crate) const PACED: &[(&str, f64, f64)] = &[("ecs RegisterTaskDefinition", 20.0, 1.0), ("ecs DeregisterTaskDefinition", 20.0, 1.0)];

/// A local copy of one of AWS's buckets. `tokens` may go below zero: each caller reserves its
/// token and sleeps until it has refilled, so callers are served in the order they came.
#[derive(Debug)]
struct Bucket {
    size: f64,
    per_second: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(size: f64, per_second: f64, now: Instant) -> Bucket {
        Bucket { size, per_second, tokens: size, at: now }
    }

    /// Takes a token at `now`; returns how long to wait before sending.
    fn reserve(&mut self, now: Instant) -> Duration {
        let refilled = self.tokens + now.saturating_duration_since(self.at).as_secs_f64() * self.per_second;
        self.tokens = refilled.min(self.size) - 1.0;
        self.at = now;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.per_second)
        }
    }
}

/// Waits until a call of `operation` (`ecs RegisterTaskDefinition`) fits its bucket; returns at
/// once for operations not paced.
pub(crate) async fn pace(operation: &str) {
    static BUCKETS: OnceLock<Mutex<HashMap<&'static str, Bucket>>> = OnceLock::new();
    let Some(&(name, size, per_second)) = PACED.iter().find(|(name, ..)| *name == operation) else { return };
    let wait = {
        let buckets = BUCKETS.get_or_init(Default::default);
        let mut buckets = buckets.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let per_second = per_second / super::retry::wait_scale();
        buckets.entry(name).or_insert_with(|| Bucket::new(size, per_second, now)).reserve(now)
    };
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_lets_its_size_through_then_one_per_refill_in_order() {
        let start = Instant::now();
        let mut bucket = Bucket::new(20.0, 1.0, start);
        let waits: Vec<Duration> = (0..23).map(|_| bucket.reserve(start)).collect();
        assert!(waits[..20].iter().all(Duration::is_zero), "the burst: {waits:?}");
        let later: Vec<u64> = waits[20..].iter().map(|w| w.as_millis() as u64).collect();
        assert_eq!(later, vec![1000, 2000, 3000], "then one a second, each caller after the one before");
        // Ten seconds on, the three reserved tokens are repaid and seven are back.
        let waits: Vec<Duration> = (0..8).map(|_| bucket.reserve(start + Duration::from_secs(10))).collect();
        assert!(waits[..7].iter().all(Duration::is_zero), "{waits:?}");
        assert_eq!(waits[7], Duration::from_secs(1));
    }

    #[test]
    fn a_bucket_never_holds_more_than_its_size() {
        let start = Instant::now();
        let mut bucket = Bucket::new(2.0, 1.0, start);
        let idle = start + Duration::from_secs(3600);
        let waits: Vec<Duration> = (0..3).map(|_| bucket.reserve(idle)).collect();
        assert_eq!(waits, vec![Duration::ZERO, Duration::ZERO, Duration::from_secs(1)]);
    }

    #[tokio::test]
    async fn operations_not_paced_go_at_once() {
        let start = Instant::now();
        for _ in 0..100 {
            pace("ecs DescribeServices").await;
        }
        assert!(start.elapsed() < Duration::from_millis(100));
    }
}
