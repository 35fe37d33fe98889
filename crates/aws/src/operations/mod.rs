//! Operations on what tenants run, beyond the resource lifecycle of the provider's types: the
//! status of ECS services and their targets, a new deployment, a tail of CloudWatch Logs.
//! Plain async functions over [`Clients`](crate::Clients), so the library's tenant commands
//! reach AWS without core knowing of it. Nothing here prints.

pub mod deploy;
pub mod log_tail;
pub mod service_status;

use std::future::Future;
use std::time::Duration;

use clawform_core::ProviderError;

/// Polls `check` (told whether this is the last check the bound allows) until it answers `Some`,
/// with the provider's jittered backoff (1 s doubling to 15 s, scaled by
/// `CLAWFORM_WAIT_SCALE`). A check that answers `None` on its last try ends with a timeout error
/// naming `what`; a check that wants to explain the timeout answers `Some` on its last try.
pub async fn poll_until<T, F, Fut>(what: &str, timeout: Duration, check: F) -> Result<T, ProviderError>
where
    F: FnMut(bool) -> Fut,
    Fut: Future<Output = Result<Option<T>, ProviderError>>,
{
    crate::support::poll(what, crate::support::Backoff::states(timeout), check).await
}

/// `timestamp` (milliseconds since the epoch) as RFC 3339 in UTC, as AWS writes times.
pub fn rfc3339(millis: i64) -> String {
    aws_smithy_types::DateTime::from_millis(millis).fmt(aws_smithy_types::date_time::Format::DateTime).unwrap_or_else(|_| millis.to_string())
}

/// An RFC 3339 time (`2026-12-05T20:00:00Z`) as milliseconds since the epoch.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    aws_smithy_types::DateTime::from_str(text, aws_smithy_types::date_time::Format::DateTime).ok().and_then(|t| t.to_millis().ok())
}

fn time(t: Option<&aws_smithy_types::DateTime>) -> Option<String> {
    t.and_then(|t| t.to_millis().ok()).map(rfc3339)
}
