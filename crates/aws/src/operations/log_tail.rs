//! A tail of CloudWatch Logs, as `aws logs tail` prints one: the events of the streams whose
//! names start with a prefix, oldest first, each once, from a start time on.

use std::collections::HashSet;

use serde::Serialize;

use clawform_core::ProviderError;

use crate::error::sdk;
use crate::Clients;

/// One log event.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LogEvent {
    /// When it was logged (RFC 3339).
    pub timestamp: String,
    /// Milliseconds since the epoch, for ordering.
    #[serde(skip)]
    pub millis: i64,
    /// The stream (`<tenant>/openclaw/<task id>`).
    pub stream: String,
    /// The line.
    pub message: String,
    /// CloudWatch's event id.
    #[serde(skip)]
    pub event_id: String,
}

/// The events of log group `group` in streams starting with `prefix`, from `start` (ms since the
/// epoch) on. Each [`LogTail::next`] returns what arrived since the one before, each event once.
#[derive(Debug, Clone)]
pub struct LogTail {
    group: String,
    prefix: String,
    start: i64,
    /// Events already returned at `start`: the next read starts there again (events of the same
    /// millisecond may arrive later), and these are not returned twice.
    seen_at_start: HashSet<String>,
}

impl LogTail {
    /// A tail of `group`'s streams named `prefix…`, from `start` on.
    pub fn new(group: &str, prefix: &str, start: i64) -> LogTail {
        LogTail { group: group.to_string(), prefix: prefix.to_string(), start, seen_at_start: HashSet::new() }
    }

    /// Every event since the last read (all of them the first time), oldest first: FilterLogEvents
    /// with `logStreamNamePrefix`, page after page.
    pub async fn next(&mut self, aws: &Clients) -> Result<Vec<LogEvent>, ProviderError> {
        let mut events = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let sent = token.take();
            let out = aws
                .logs
                .filter_log_events()
                .log_group_name(&self.group)
                .log_stream_name_prefix(&self.prefix)
                .start_time(self.start)
                .set_next_token(sent.clone())
                .send()
                .await
                .map_err(|e| sdk("logs FilterLogEvents", e))?;
            for e in out.events() {
                let stream = e.log_stream_name().unwrap_or_default();
                // moto ignores logStreamNamePrefix (moto/logs/models.py `filter_log_events` reads
                // only logStreamNames); AWS applies it. Checking again costs nothing.
                if !stream.starts_with(&self.prefix) {
                    continue;
                }
                let millis = e.timestamp().unwrap_or_default();
                events.push(LogEvent {
                    timestamp: super::rfc3339(millis),
                    millis,
                    stream: stream.to_string(),
                    message: e.message().unwrap_or_default().trim_end_matches(['\n', '\r']).to_string(),
                    event_id: e.event_id().unwrap_or_default().to_string(),
                });
            }
            // The last page has no token; a page may be empty with a token (AWS searches in
            // slices of time), so the token, not the count, ends the loop.
            match out.next_token() {
                Some(t) if !t.is_empty() && Some(t) != sent.as_deref() => token = Some(t.to_string()),
                _ => break,
            }
        }
        events.sort_by(|a, b| a.millis.cmp(&b.millis).then_with(|| a.stream.cmp(&b.stream)));
        events.retain(|e| e.millis > self.start || !self.seen_at_start.contains(&e.event_id));
        let mut seen: HashSet<String> = HashSet::new();
        events.retain(|e| seen.insert(e.event_id.clone()));
        if let Some(last) = events.last().map(|e| e.millis) {
            if last > self.start {
                self.start = last;
                self.seen_at_start.clear();
            }
            self.seen_at_start.extend(events.iter().filter(|e| e.millis == last).map(|e| e.event_id.clone()));
        }
        Ok(events)
    }
}
