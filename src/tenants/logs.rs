//! `Tenants::logs`: a tenant's CloudWatch Logs, as `aws logs tail` shows them. Its tasks log to
//! the base stack's log group (`log_group` output) in streams `<id>/openclaw/<task id>`
//! (`awslogs-stream-prefix` in stacks/tenant.yaml).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clawform_aws::operations::log_tail::{LogEvent, LogTail};
use clawform_aws::AwsProvider;
use serde_json::Value as Json;

use super::{validate_tenant_id, Tenants, BASE_STACK};
use crate::workspace::WorkspaceError;

/// A tenant's log events, read in turns: each [`TenantLogs::next`] returns what arrived since.
pub struct TenantLogs {
    aws: Arc<AwsProvider>,
    tail: LogTail,
    /// The log group read.
    pub group: String,
    /// The stream prefix read (`<id>/`).
    pub prefix: String,
}

impl TenantLogs {
    /// The events since the last read (every event since the start, the first time), oldest
    /// first, each once.
    pub async fn next(&mut self) -> Result<Vec<LogEvent>, WorkspaceError> {
        self.tail.next(self.aws.clients()).await.map_err(|source| WorkspaceError::TenantAws { what: format!("reading log group {}", self.group), source })
    }
}

/// Milliseconds since the epoch, now.
pub fn now_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// `--since`: a duration back from `now` (`30s`, `5m`, `1h`, `2d`) or an RFC 3339 time
/// (`2026-12-05T20:00:00Z`), as milliseconds since the epoch.
pub fn parse_since(text: &str, now: i64) -> Result<i64, String> {
    let t = text.trim();
    let units: &[(char, u64)] = &[('s', 1), ('m', 60), ('h', 3600), ('d', 86400), ('w', 7 * 86400)];
    if let Some((unit, secs)) = units.iter().find(|(u, _)| t.ends_with(*u)) {
        if let Ok(n) = t[..t.len() - unit.len_utf8()].parse::<u64>() {
            return Ok(now - Duration::from_secs(n.saturating_mul(*secs)).as_millis() as i64);
        }
    }
    clawform_aws::operations::parse_rfc3339(t).ok_or_else(|| {
        format!("--since `{}`: expected a duration such as 30s, 5m, 1h or 2d, or an RFC 3339 time such as 2026-12-05T20:00:00Z", t.escape_debug())
    })
}

impl Tenants {
    /// Tenant `id`'s logs from `start` (ms since the epoch) on. A destroyed tenant's logs stay
    /// readable while its state document does.
    pub async fn logs(&self, id: &str, start: i64) -> Result<TenantLogs, WorkspaceError> {
        validate_tenant_id(id)?;
        if self.workspace.state(&Tenants::stack_name(id)).await?.is_none() {
            return Err(self.no_tenant(id).await);
        }
        let base = self
            .workspace
            .state(BASE_STACK)
            .await?
            .ok_or_else(|| WorkspaceError::MissingDependency { stack: super::TEMPLATE.into(), other: BASE_STACK.into() })?;
        let group = base
            .outputs
            .get("log_group")
            .and_then(Json::as_str)
            .ok_or_else(|| WorkspaceError::Tenant("the base stack has no `log_group` output: apply `base` with the current stacks/base.yaml".into()))?
            .to_string();
        let prefix = format!("{id}/");
        Ok(TenantLogs { aws: self.aws_provider()?, tail: LogTail::new(&group, &prefix, start), group, prefix })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_durations_and_rfc3339_times() {
        let now = 1_000_000_000_000;
        assert_eq!(parse_since("30s", now), Ok(now - 30_000));
        assert_eq!(parse_since("5m", now), Ok(now - 300_000));
        assert_eq!(parse_since("1h", now), Ok(now - 3_600_000));
        assert_eq!(parse_since("2d", now), Ok(now - 172_800_000));
        assert_eq!(parse_since("2026-12-05T20:00:00Z", now), Ok(1_796_500_800_000));
        for bad in ["", "h", "1x", "-1h", "yesterday", "2026-13-05"] {
            assert!(parse_since(bad, now).is_err(), "{bad}");
        }
    }
}
