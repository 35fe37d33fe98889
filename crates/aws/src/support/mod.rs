//! What the service modules share, in one place: ownership tags and the per-service tag API
//! ([`tags`]), bounded waits ([`wait`]), bounded retries of the refusals real AWS gives for a
//! while and the `CLAWFORM_WAIT_SCALE` time scale of both ([`retry`]), ARN forms of some
//! services ([`arn`]) and small value helpers ([`values`]). Service modules import from here, never from each other, so that no
//! service depends on another and a type's module reads top to bottom on its own.

pub(crate) mod arn;
pub(crate) mod pace;
pub(crate) mod retry;
pub(crate) mod tags;
pub(crate) mod values;
pub(crate) mod wait;

pub(crate) use pace::pace;
pub(crate) use retry::{has_any_code, has_code_and_message, retry_while};
pub(crate) use values::{canonical_json, check_tag_count, gone_is_none, opt, same_json, send_with_token, undo_create};
pub(crate) use wait::{poll, wait_for, Backoff};
