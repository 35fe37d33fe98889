//! Small helpers every service uses: optional attribute values, tag limits, JSON documents
//! compared by meaning, reads that treat "gone" as `None`, undoing a half-made create.

use std::future::Future;

use clawform_core::{ErrorKind, FieldError, ProviderError, Val};
use indexmap::IndexMap;
use serde_json::{Map, Value as Json};

/// The literal value of an optional attribute (attributes reaching a provider are resolved).
pub(crate) fn opt<T>(value: &Option<Val<T>>) -> Result<Option<&T>, ProviderError> {
    Ok(value.as_ref().map(Val::value).transpose()?)
}

/// Removes a resource whose create failed half-way, so that a failed create leaves nothing
/// behind, and returns the create's error (saying so if the removal failed too).
pub(crate) async fn undo_create(err: ProviderError, remove: impl Future<Output = Result<(), ProviderError>>) -> ProviderError {
    match remove.await {
        Ok(()) => err,
        Err(undo) => err.map_message(|m| format!("{m}; removing the half-created resource failed too: {}", undo.message)),
    }
}

/// Checks that the user's tags leave room for the two ownership tags under a per-resource tag
/// limit (IAM, ECR and CloudWatch Logs all allow 50 tags per resource).
pub(crate) fn check_tag_count(tags: &IndexMap<String, Val<String>>, limit: usize, out: &mut Vec<FieldError>) {
    let room = limit - 2;
    if tags.len() > room {
        out.push(FieldError::new("tags", format!("has {} tags; AWS allows {limit} per resource and clawform sets 2, so at most {room}", tags.len())));
    }
}

/// `Ok(None)` for an error saying the entity is gone, so reads can answer `None` for it.
pub(crate) fn gone_is_none<T>(result: Result<T, ProviderError>) -> Result<Option<T>, ProviderError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether two JSON documents mean the same once whitespace and key order are set aside; texts
/// that are not JSON compare as text.
pub(crate) fn same_json(a: &str, b: &str) -> bool {
    canonical_json(a) == canonical_json(b)
}

/// A JSON document parsed and written again compactly with every object's keys sorted, so that
/// whitespace and key order never show as a change. Text that is not JSON is returned as it is.
pub(crate) fn canonical_json(text: &str) -> String {
    match serde_json::from_str::<Json>(text) {
        Ok(doc) => sorted(doc).to_string(),
        Err(_) => text.to_string(),
    }
}

fn sorted(value: Json) -> Json {
    match value {
        Json::Object(map) => {
            let mut entries: Vec<(String, Json)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Json::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect::<Map<String, Json>>())
        }
        Json::Array(items) => Json::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// The idempotency token of a create: the apply's ([`OpContext::client_token`], the same in the
/// run after a crash), or a fresh one for a create outside an apply. The SDK resends it when it
/// retries a request whose answer was lost, so AWS makes one resource either way.
fn client_token(ctx: &clawform_core::OpContext) -> String {
    ctx.client_token.clone().unwrap_or_else(fresh_token)
}

fn fresh_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Sends a create with [`client_token`]. EC2 answers a token sent again with other parameters
/// (a create that failed, then was planned anew) with `IdempotentParameterMismatch`: the earlier
/// request's resource, if any, is a leftover found by its tags, so the create goes once more
/// with a fresh token.
pub(crate) async fn send_with_token<T, F, Fut>(ctx: &clawform_core::OpContext, send: F) -> Result<T, clawform_core::ProviderError>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<T, clawform_core::ProviderError>>,
{
    match send(client_token(ctx)).await {
        Err(e) if e.has_code("IdempotentParameterMismatch") => send(fresh_token()).await,
        other => other,
    }
}
