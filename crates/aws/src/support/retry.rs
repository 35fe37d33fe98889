//! Retrying a call that real AWS refuses for a while after a related change, and the time scale
//! every wait and retry of the provider runs on.
//!
//! AWS is eventually consistent and many of its operations finish after they answer: a new
//! IAM role is not yet a valid principal, a security group stays "in use" minutes after the load
//! balancer that used it is gone, a cluster is not `ACTIVE` the moment it is created. The
//! Terraform AWS provider (hashicorp/terraform-provider-aws, `internal/service/*`) encodes years
//! of field reports about this as retries of named error codes (and, where one code covers
//! several conditions, message fragments) with a bound per operation. [`retry_while`] is the one
//! place clawform does the same: each caller names what it waits for, the bound Terraform uses,
//! and a predicate over [`ProviderError`] that says why an answer is worth another try.
//!
//! Delays back off exponentially with full jitter (AWS Architecture Blog, "Exponential Backoff
//! And Jitter"): parallel applies that meet the same refusal do not retry in step.
//!
//! # `CLAWFORM_WAIT_SCALE`
//!
//! A positive number (default `1.0`) read once per process from the environment. Every bound and
//! every delay of [`retry_while`] and of the waits in [`super::wait`] is multiplied by it. Tests
//! that put a proxy in front of moto to play AWS's slow behaviours set it to, say, `0.01`, so a
//! 15-minute bound gives up after 9 seconds and its give-up error can be checked; operators
//! could raise it above 1 for an unusually slow account. A value that is not a positive finite
//! number is ignored (with a warning) and 1 is used.

use std::future::Future;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use clawform_core::ProviderError;

/// The environment variable that scales every wait and retry bound and delay (see the module
/// documentation).
pub(crate) const WAIT_SCALE_VAR: &str = "CLAWFORM_WAIT_SCALE";

/// The scale read from [`WAIT_SCALE_VAR`], once.
pub(crate) fn wait_scale() -> f64 {
    static SCALE: OnceLock<f64> = OnceLock::new();
    *SCALE.get_or_init(|| parse_scale(std::env::var(WAIT_SCALE_VAR).ok().as_deref()))
}

/// The scale a value of [`WAIT_SCALE_VAR`] asks for: 1 when it is unset, empty or not a
/// positive finite number.
fn parse_scale(raw: Option<&str>) -> f64 {
    let Some(text) = raw.map(str::trim).filter(|t| !t.is_empty()) else { return 1.0 };
    match text.parse::<f64>() {
        Ok(scale) if scale.is_finite() && scale > 0.0 => scale,
        _ => {
            tracing::warn!("{WAIT_SCALE_VAR}={text:?} is not a positive number; waits and retries keep their usual bounds");
            1.0
        }
    }
}

/// `d` on the time scale of this process ([`wait_scale`]).
pub(crate) fn scaled(d: Duration) -> Duration {
    scale_by(d, wait_scale())
}

fn scale_by(d: Duration, scale: f64) -> Duration {
    if scale == 1.0 {
        return d;
    }
    Duration::try_from_secs_f64(d.as_secs_f64() * scale).unwrap_or(Duration::MAX)
}

/// What the scale did to a bound, for messages: empty at the usual scale.
pub(crate) fn scale_note() -> String {
    let scale = wait_scale();
    if scale == 1.0 {
        String::new()
    } else {
        format!(" (bounds scaled ×{scale} by {WAIT_SCALE_VAR})")
    }
}

/// A duration for people: `850 ms`, `42 s`, `15 min`, `2 min 30 s`.
pub(crate) fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms} ms");
    }
    let s = d.as_secs();
    match (s / 60, s % 60) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}

/// A random fraction in [0, 1): the 53 low bits of a version 4 UUID, which are all random (its
/// version and variant bits sit higher). No extra dependency for a jitter.
fn random_unit() -> f64 {
    let bits = uuid::Uuid::new_v4().as_u128() & ((1u128 << 53) - 1);
    bits as f64 / (1u64 << 53) as f64
}

/// Full jitter: a delay drawn evenly from zero to `ceiling`.
pub(crate) fn full_jitter(ceiling: Duration) -> Duration {
    ceiling.mul_f64(random_unit())
}

/// Equal jitter: a delay drawn evenly from half of `ceiling` to `ceiling`, for polls that should
/// neither run in step nor come much sooner than planned.
pub(crate) fn equal_jitter(ceiling: Duration) -> Duration {
    ceiling / 2 + (ceiling / 2).mul_f64(random_unit())
}

/// How a retry paces itself before the time scale: delays drawn up to `first`, doubling up to
/// `cap`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pacing {
    /// The ceiling of the first delay.
    pub first: Duration,
    /// The highest ceiling any delay has.
    pub cap: Duration,
}

/// The pacing of [`retry_while`]: from 1 s, doubling to at most 20 s between tries, close to the
/// Terraform AWS provider's retry helper (`tfresource.RetryWhen`: 100 ms growing to 10 s) but
/// gentler on the request quotas of a shared account over 10- and 20-minute bounds.
pub(crate) const PACING: Pacing = Pacing { first: Duration::from_secs(1), cap: Duration::from_secs(20) };

/// Runs `op` until it succeeds, fails with an error `retryable` does not accept (returned as it
/// is), or `bound` has passed (on this process's time scale, [`scaled`]). `retryable` answers,
/// for an error worth another try, why (for people: "the group is still used by network
/// interfaces"). The first try is made at once; later ones after jittered, growing delays, the
/// last one at the bound. Giving up returns the last error, still with AWS's code, kind and
/// request id, its message saying what was awaited, for how long, and what AWS last answered.
pub(crate) async fn retry_while<T, F, Fut, P>(what: &str, bound: Duration, retryable: P, op: F) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
    P: Fn(&ProviderError) -> Option<&'static str>,
{
    retry_paced(what, bound, PACING, retryable, op).await
}

/// [`retry_while`] with its own pacing (before the time scale): for tests, and for calls whose
/// refusals clear much faster or slower than most.
pub(crate) async fn retry_paced<T, F, Fut, P>(what: &str, bound: Duration, pacing: Pacing, retryable: P, mut op: F) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
    P: Fn(&ProviderError) -> Option<&'static str>,
{
    let bound = scaled(bound);
    let cap = scaled(pacing.cap);
    let mut ceiling = scaled(pacing.first).min(cap);
    let start = Instant::now();
    let mut tries: u32 = 0;
    loop {
        tries += 1;
        let err = match op().await {
            Ok(done) => return Ok(done),
            Err(err) => err,
        };
        let Some(reason) = retryable(&err) else { return Err(err) };
        let elapsed = start.elapsed();
        if elapsed >= bound {
            return Err(gave_up(what, reason, elapsed, tries, err));
        }
        let delay = full_jitter(ceiling).min(bound - elapsed);
        // The first refusal says what is awaited and for how long at most, on the operation's
        // progress line and in the log; later ones are detail.
        if tries == 1 {
            clawform_core::report_waiting(&format!("{what} ({reason})"));
            tracing::info!(code = err.code.as_deref().unwrap_or(""), "waiting for {what}: {reason}; trying again for up to {}{}", human(bound), scale_note());
        } else {
            tracing::debug!(code = err.code.as_deref().unwrap_or(""), "still waiting for {what} after {} ({tries} tries): {reason}", human(elapsed));
        }
        tokio::time::sleep(delay).await;
        ceiling = (ceiling * 2).min(cap);
    }
}

/// The last error of a retry that ran out of time, its message saying so.
fn gave_up(what: &str, reason: &str, elapsed: Duration, tries: u32, mut last: ProviderError) -> ProviderError {
    let answer = match &last.code {
        Some(code) if !last.message.contains(code.as_str()) => format!("{code}: {}", last.message),
        _ => last.message.clone(),
    };
    // The message gains context, nothing of the SDK error is dropped: `source` stays.
    last.message = format!("gave up waiting for {what} after {} and {tries} tries{} ({reason}); AWS last answered: {answer}", human(elapsed), scale_note());
    last
}

/// Whether `err` carries one of `codes`.
pub(crate) fn has_any_code(err: &ProviderError, codes: &[&str]) -> bool {
    codes.iter().any(|c| err.has_code(c))
}

/// Whether `err` carries `code` and its message contains `fragment`: for the codes AWS uses for
/// several conditions (`InvalidParameterException`, `ValidationError`…), where only the message
/// tells them apart, as in the Terraform AWS provider (`tfawserr.ErrMessageContains`).
pub(crate) fn has_code_and_message(err: &ProviderError, code: &str, fragment: &str) -> bool {
    err.has_code(code) && err.message.contains(fragment)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    const FAST: Pacing = Pacing { first: Duration::from_millis(1), cap: Duration::from_millis(5) };

    fn dependency_violation() -> ProviderError {
        ProviderError::api("ec2 DeleteSecurityGroup: DependencyViolation: resource sg-1 has a dependent object").with_code("DependencyViolation")
    }

    fn in_use(err: &ProviderError) -> Option<&'static str> {
        err.has_code("DependencyViolation").then_some("network interfaces still use the group")
    }

    #[tokio::test]
    async fn retries_until_success() {
        let calls = AtomicU32::new(0);
        let out = retry_paced("security group sg-1 to be released", Duration::from_secs(5), FAST, in_use, || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0..=2 => Err(dependency_violation()),
                n => Ok(n),
            }
        })
        .await;
        assert_eq!(out, Ok(3));
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn gives_up_after_the_bound_saying_what_how_long_and_the_last_answer() {
        let calls = AtomicU32::new(0);
        let started = Instant::now();
        let err = retry_paced::<(), _, _, _>("security group sg-1 to be released", Duration::from_millis(60), FAST, in_use, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(dependency_violation().with_request_id(Some("req-9".into())))
        })
        .await
        .unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(60) && started.elapsed() < Duration::from_secs(5));
        assert!(calls.load(Ordering::SeqCst) >= 2, "retried before giving up");
        assert!(err.message.starts_with("gave up waiting for security group sg-1 to be released after "), "{err}");
        assert!(err.message.contains("(network interfaces still use the group)"), "{err}");
        assert!(err.message.contains("AWS last answered: ec2 DeleteSecurityGroup: DependencyViolation: resource sg-1 has a dependent object"), "{err}");
        // Still AWS's error as data: callers decide by code.
        assert!(err.has_code("DependencyViolation"));
        assert_eq!(err.request_id.as_deref(), Some("req-9"));
    }

    #[tokio::test]
    async fn does_not_retry_other_codes() {
        let calls = AtomicU32::new(0);
        let err = retry_paced::<(), _, _, _>("security group sg-1 to be released", Duration::from_secs(5), FAST, in_use, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(ProviderError::not_found("ec2 DeleteSecurityGroup: InvalidGroup.NotFound: The security group 'sg-1' does not exist")
                .with_code("InvalidGroup.NotFound"))
        })
        .await
        .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(err.message.starts_with("ec2 DeleteSecurityGroup"), "returned as it is: {err}");
    }

    #[tokio::test]
    async fn the_give_up_message_names_a_code_missing_from_the_text() {
        let err = retry_paced::<(), _, _, _>("x", Duration::ZERO, FAST, |_| Some("busy"), || async { Err(ProviderError::api("it said no").with_code("Busy")) })
            .await
            .unwrap_err();
        assert!(err.message.ends_with("AWS last answered: Busy: it said no"), "{err}");
    }

    #[test]
    fn the_scale_is_a_positive_number_or_one() {
        assert_eq!(parse_scale(None), 1.0);
        assert_eq!(parse_scale(Some("")), 1.0);
        assert_eq!(parse_scale(Some(" 0.01 ")), 0.01);
        assert_eq!(parse_scale(Some("3")), 3.0);
        for bad in ["0", "-1", "fast", "NaN", "inf"] {
            assert_eq!(parse_scale(Some(bad)), 1.0, "{bad}");
        }
        assert_eq!(scale_by(Duration::from_secs(900), 0.01), Duration::from_secs(9));
        assert_eq!(scale_by(Duration::from_secs(1), 1e300), Duration::MAX);
    }

    #[test]
    fn jitter_stays_within_its_range() {
        let ceiling = Duration::from_secs(8);
        for _ in 0..200 {
            assert!(full_jitter(ceiling) <= ceiling);
            let d = equal_jitter(ceiling);
            assert!(d >= ceiling / 2 && d <= ceiling, "{d:?}");
        }
        let draws: std::collections::BTreeSet<Duration> = (0..20).map(|_| full_jitter(ceiling)).collect();
        assert!(draws.len() > 10, "jitter varies: {draws:?}");
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human(Duration::from_millis(850)), "850 ms");
        assert_eq!(human(Duration::from_secs(42)), "42 s");
        assert_eq!(human(Duration::from_secs(900)), "15 min");
        assert_eq!(human(Duration::from_secs(150)), "2 min 30 s");
    }

    #[test]
    fn codes_and_message_fragments() {
        let err = ProviderError::api("ecs CreateCluster: InvalidParameterException: Unable to assume the service linked role.")
            .with_code("InvalidParameterException");
        assert!(has_code_and_message(&err, "InvalidParameterException", "Unable to assume the service linked role"));
        assert!(!has_code_and_message(&err, "InvalidParameterException", "does not have an associated load balancer"));
        assert!(!has_code_and_message(&err, "ClientException", "Unable to assume"));
        assert!(has_any_code(&err, &["ClientException", "InvalidParameterException"]));
        assert!(!has_any_code(&err, &["ClientException"]));
    }
}
