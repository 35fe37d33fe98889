//! State in an S3 bucket, guarded by S3's conditional writes.
//!
//! Objects under `PREFIX/`: `NAME.json` (the state), `NAME.json.backup` (the copy before the
//! last write) and `NAME.lock` (who holds the stack's lock, as [`LockInfo`] JSON).
//!
//! Two guards, independent of each other:
//! - **The lock** is created with `If-None-Match: *`: of two writers racing, S3 lets exactly one
//!   create the object; the other gets `412 PreconditionFailed` and is told who holds it.
//! - **Every state write** is conditional on the ETag this backend last read or wrote
//!   (`If-Match`), or on the object not existing (`If-None-Match: *`) when it has seen none. So
//!   even with a broken or forced lock, a writer that has not seen the latest state can never
//!   overwrite it: S3 answers `412` and the save fails with [`BackendError::Conflict`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use clawform_core::backend::{parse_state, BackendError, LockInfo, StateBackend};
use clawform_core::State;

/// A state backend keeping each stack's state, backup and lock as objects in one S3 bucket.
///
/// It remembers, per stack, the ETag of the state object it last loaded or saved; a save is
/// accepted by S3 only if the stored object still has that ETag. Clones share that memory (they
/// are one writer); two `S3Backend`s made separately are two writers.
#[derive(Debug, Clone)]
pub struct S3Backend {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
    etags: Arc<Mutex<HashMap<String, String>>>,
}

/// What a read of one object returned: its bytes and ETag.
struct Object {
    bytes: Vec<u8>,
    etag: Option<String>,
}

impl S3Backend {
    /// A backend over `client`, keeping objects in `bucket` under `prefix` (leading and trailing
    /// slashes are ignored; an empty prefix puts objects at the bucket's root).
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>, prefix: impl Into<String>) -> S3Backend {
        let prefix = prefix.into().trim_matches('/').to_string();
        S3Backend { client, bucket: bucket.into(), prefix, etags: Arc::new(Mutex::new(HashMap::new())) }
    }

    /// A backend from a URL `s3://BUCKET/PREFIX` (the prefix may be empty) and a loaded AWS
    /// configuration. When a custom endpoint is configured (`AWS_ENDPOINT_URL`, or
    /// `AWS_ENDPOINT_URL_S3`, or an endpoint in `config`), the client uses path-style addressing
    /// (`http://host/BUCKET/KEY`), which local S3 implementations such as moto need.
    pub fn from_url(url: &str, config: &aws_config::SdkConfig) -> Result<S3Backend, BackendError> {
        let (bucket, prefix) = parse_url(url)?;
        let custom_endpoint = config.endpoint_url().is_some() || env_set("AWS_ENDPOINT_URL") || env_set("AWS_ENDPOINT_URL_S3");
        let s3_config = aws_sdk_s3::config::Builder::from(config).force_path_style(custom_endpoint).build();
        Ok(S3Backend::new(aws_sdk_s3::Client::from_conf(s3_config), bucket, prefix))
    }

    /// The bucket holding the objects.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key prefix (without slashes at either end; empty for the bucket's root).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The object key of `stack`'s state, `PREFIX/NAME.json`.
    pub fn state_key(&self, stack: &str) -> String {
        self.key(&format!("{stack}.json"))
    }

    /// The object key of `stack`'s backup, `PREFIX/NAME.json.backup`.
    pub fn backup_key(&self, stack: &str) -> String {
        self.key(&format!("{stack}.json.backup"))
    }

    /// The object key of `stack`'s lock, `PREFIX/NAME.lock`.
    pub fn lock_key(&self, stack: &str) -> String {
        self.key(&format!("{stack}.lock"))
    }

    fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }

    fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    fn remembered_etag(&self, stack: &str) -> Option<String> {
        self.etags.lock().unwrap_or_else(|p| p.into_inner()).get(stack).cloned()
    }

    fn remember_etag(&self, stack: &str, etag: Option<String>) {
        let mut etags = self.etags.lock().unwrap_or_else(|p| p.into_inner());
        match etag {
            Some(etag) => etags.insert(stack.to_string(), etag),
            None => etags.remove(stack),
        };
    }

    /// Reads an object; `None` when it does not exist.
    async fn get(&self, operation: &str, key: &str) -> Result<Option<Object>, BackendError> {
        let out = match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(sdk_error(operation, &self.url(key), e)),
        };
        let etag = out.e_tag().map(str::to_string);
        let bytes =
            out.body.collect().await.map_err(|e| BackendError::Io(format!("{operation} {}: cannot read the body: {e}", self.url(key))))?.into_bytes().to_vec();
        Ok(Some(Object { bytes, etag }))
    }

    /// Reads the lock object: who holds it and the lock object's ETag; `None` when unlocked.
    async fn read_lock(&self, stack: &str) -> Result<Option<(LockInfo, Option<String>)>, BackendError> {
        let Some(object) = self.get("GetObject (lock)", &self.lock_key(stack)).await? else {
            return Ok(None);
        };
        let holder = serde_json::from_slice(&object.bytes).unwrap_or_else(|_| LockInfo::unknown("an unknown process (the lock object is unreadable)"));
        Ok(Some((holder, object.etag)))
    }
}

fn env_set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty())
}

/// Splits `s3://BUCKET/PREFIX` into bucket and prefix.
fn parse_url(url: &str) -> Result<(String, String), BackendError> {
    let bad = |why: &str| BackendError::Io(format!("`{url}` is not an S3 state location ({why}); expected s3://BUCKET/PREFIX"));
    let rest = url.strip_prefix("s3://").ok_or_else(|| bad("it does not start with s3://"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(bad("the bucket is missing"));
    }
    Ok((bucket.to_string(), prefix.trim_matches('/').to_string()))
}

/// The raw HTTP response the SDK keeps with an error.
type HttpResponse = aws_smithy_runtime_api::client::orchestrator::HttpResponse;

/// Whether an SDK error is S3's `412 Precondition Failed` (a conditional write lost).
fn is_precondition_failed<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    err.code() == Some("PreconditionFailed") || err.raw_response().is_some_and(|r| r.status().as_u16() == 412)
}

/// Whether an SDK error is `409 ConditionalRequestConflict`: S3 saw a concurrent conditional
/// write to the same key and let the other one win.
fn is_conditional_conflict<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    err.code() == Some("ConditionalRequestConflict")
}

/// Whether an SDK error says the key does not exist (a conditional write or delete of an
/// object that is gone).
fn is_no_such_key<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    err.code() == Some("NoSuchKey")
}

/// An SDK error of `operation` on `url` as [`BackendError::Io`], with S3's code and message.
fn sdk_error<E, R>(operation: &str, url: &str, err: SdkError<E, R>) -> BackendError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err.code() {
        Some(code) => BackendError::Io(format!("s3 {operation} {url}: {code}: {}", err.message().unwrap_or_default())),
        None => BackendError::Io(format!("s3 {operation} {url}: {}", DisplayErrorContext(&err))),
    }
}

#[async_trait]
impl StateBackend for S3Backend {
    async fn load(&self, stack: &str) -> Result<Option<State>, BackendError> {
        let key = self.state_key(stack);
        let Some(object) = self.get("GetObject", &key).await? else {
            self.remember_etag(stack, None);
            return Ok(None);
        };
        let text = String::from_utf8(object.bytes).map_err(|e| BackendError::Corrupt { path: self.url(&key), reason: e.to_string() })?;
        let state = parse_state(&text, &self.url(&key))?;
        self.remember_etag(stack, object.etag);
        Ok(Some(state))
    }

    async fn save(&self, state: &State) -> Result<(), BackendError> {
        let stack = &state.stack;
        let key = self.state_key(stack);
        let url = self.url(&key);
        let seen = self.remembered_etag(stack);
        let conflict = |reason: String| BackendError::Conflict { stack: stack.clone(), reason };

        // The same checks as the local backend, against what is stored now.
        if let Some(current) = self.get("GetObject", &key).await? {
            let text = String::from_utf8_lossy(&current.bytes);
            let old = parse_state(&text, &url)?;
            if old.lineage != state.lineage {
                return Err(conflict(format!("stored state has lineage {}, this one {}", old.lineage, state.lineage)));
            }
            if old.serial >= state.serial {
                return Err(conflict(format!("stored serial {} is not below the new serial {}", old.serial, state.serial)));
            }
            // Keep the version being replaced. Only when it is the one this writer last saw: if
            // it is not, S3 refuses the write below, and the backup must not be clobbered by a
            // write that never happened.
            if current.etag.is_some() && current.etag == seen {
                let backup = self.backup_key(stack);
                self.client
                    .put_object()
                    .bucket(&self.bucket)
                    .key(&backup)
                    .content_type("application/json")
                    .body(ByteStream::from(current.bytes))
                    .send()
                    .await
                    .map_err(|e| sdk_error("PutObject (backup)", &self.url(&backup), e))?;
            }
        }

        let mut bytes = serde_json::to_vec_pretty(state).map_err(|e| BackendError::Io(e.to_string()))?;
        bytes.push(b'\n');
        let put = self.client.put_object().bucket(&self.bucket).key(&key).content_type("application/json").body(ByteStream::from(bytes));
        // The write happens only if the stored object is still the one this writer last saw.
        let put = match &seen {
            Some(etag) => put.if_match(etag),
            None => put.if_none_match("*"),
        };
        match put.send().await {
            Ok(out) => {
                // S3 always returns the new ETag; without one, the next save is refused until a
                // load, which is the safe side.
                self.remember_etag(stack, out.e_tag().map(str::to_string));
                Ok(())
            }
            Err(e) if is_precondition_failed(&e) || is_conditional_conflict(&e) => Err(conflict(match &seen {
                Some(etag) => format!("the state changed underneath: {url} is no longer the version this process read (ETag {etag}); another writer saved it. Load the state again and re-plan"),
                None => format!("the state changed underneath: {url} was created by another writer after this process found none. Load the state again and re-plan"),
            })),
            Err(e) if seen.is_some() && is_no_such_key(&e) => Err(conflict(format!("the state changed underneath: {url} was deleted after this process read it"))),
            Err(e) => Err(sdk_error("PutObject", &url, e)),
        }
    }

    async fn lock(&self, stack: &str, info: &LockInfo) -> Result<(), BackendError> {
        let key = self.lock_key(stack);
        let body = serde_json::to_vec_pretty(info).map_err(|e| BackendError::Io(e.to_string()))?;
        // A second attempt only when the holder let go between our refused create and our read.
        for _ in 0..2 {
            let put = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(&key)
                .content_type("application/json")
                .if_none_match("*")
                .body(ByteStream::from(body.clone()));
            match put.send().await {
                Ok(_) => return Ok(()),
                Err(e) if is_precondition_failed(&e) || is_conditional_conflict(&e) => {
                    if let Some((holder, _)) = self.read_lock(stack).await? {
                        return Err(BackendError::Locked { stack: stack.to_string(), holder: Box::new(holder) });
                    }
                }
                Err(e) => return Err(sdk_error("PutObject (lock)", &self.url(&key), e)),
            }
        }
        Err(BackendError::Locked {
            stack: stack.to_string(),
            holder: Box::new(LockInfo { created: "just now".into(), ..LockInfo::unknown("another process") }),
        })
    }

    async fn unlock(&self, stack: &str, info: &LockInfo) -> Result<(), BackendError> {
        let key = self.lock_key(stack);
        let Some((holder, etag)) = self.read_lock(stack).await? else {
            return Ok(());
        };
        if holder.id != info.id {
            return Ok(());
        }
        // Delete only the lock object we just read: if it was forced and re-taken meanwhile, its
        // ETag differs and S3 refuses the delete.
        let mut delete = self.client.delete_object().bucket(&self.bucket).key(&key);
        if let Some(etag) = etag {
            delete = delete.if_match(etag);
        }
        match delete.send().await {
            Ok(_) => Ok(()),
            Err(e) if is_precondition_failed(&e) || is_no_such_key(&e) => Ok(()),
            Err(e) => Err(sdk_error("DeleteObject (lock)", &self.url(&key), e)),
        }
    }

    async fn force_unlock(&self, stack: &str, lock_id: &str) -> Result<Option<LockInfo>, BackendError> {
        let key = self.lock_key(stack);
        let Some((holder, etag)) = self.read_lock(stack).await? else {
            return Ok(None);
        };
        if holder.id != lock_id && holder.id != "?" {
            return Err(BackendError::OtherLock { stack: stack.to_string(), given: lock_id.to_string(), holder: Box::new(holder) });
        }
        // Only the lock object just read: one taken anew meanwhile has another ETag.
        let mut delete = self.client.delete_object().bucket(&self.bucket).key(&key);
        if let Some(etag) = etag {
            delete = delete.if_match(etag);
        }
        delete.send().await.map_err(|e| sdk_error("DeleteObject (lock)", &self.url(&key), e))?;
        Ok(Some(holder))
    }

    async fn list(&self) -> Result<Vec<String>, BackendError> {
        let list_prefix = if self.prefix.is_empty() { String::new() } else { format!("{}/", self.prefix) };
        let mut pages = self.client.list_objects_v2().bucket(&self.bucket).prefix(&list_prefix).into_paginator().send();
        let mut names = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_error("ListObjectsV2", &format!("s3://{}/{list_prefix}", self.bucket), e))?;
            for object in page.contents() {
                let Some(name) = object.key().and_then(|k| k.strip_prefix(list_prefix.as_str())) else {
                    continue;
                };
                if let Some(stack) = name.strip_suffix(".json") {
                    if !stack.is_empty() && !stack.starts_with('.') && !stack.contains('/') {
                        names.push(stack.to_string());
                    }
                }
            }
        }
        names.sort();
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_bucket_and_a_prefix() {
        assert_eq!(parse_url("s3://b/team/state").unwrap(), ("b".into(), "team/state".into()));
        assert_eq!(parse_url("s3://b/team/").unwrap(), ("b".into(), "team".into()));
        assert_eq!(parse_url("s3://b").unwrap(), ("b".into(), "".into()));
        assert!(parse_url("s3:///x").is_err());
        assert!(parse_url("file://b/x").is_err());
    }
}
