//! The S3 state backend against moto's S3, checked with the raw SDK. Each test has its own
//! bucket, so tests run in parallel on one server.
//!
//! Also pins what moto 5.2.5 does with S3 conditional requests, since the backend's safety rests
//! on them: `If-None-Match: *` and `If-Match` on PutObject, `If-Match` on DeleteObject.

use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use clawform_aws::s3_backend::S3Backend;
use clawform_core::backend::{BackendError, LockInfo, StateBackend};
use clawform_core::State;
use clawform_testkit::unique;

/// A fresh bucket on moto, a raw client on it, and the config backends are made from.
struct Env {
    s3: aws_sdk_s3::Client,
    config: aws_config::SdkConfig,
    bucket: String,
}

async fn env() -> Env {
    let moto = clawform_testkit::moto();
    moto.set_process_env();
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    // moto serves buckets by path (`http://127.0.0.1:PORT/BUCKET/KEY`), not by host name.
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build());
    let bucket = unique("state");
    let region = config.region().map(|r| r.to_string()).unwrap_or_else(|| "us-west-2".into());
    s3.create_bucket()
        .bucket(&bucket)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region.as_str()))
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("create bucket {bucket}: {e:?}"));
    Env { s3, config, bucket }
}

impl Env {
    /// A backend as the CLI would make it; every call makes a separate writer.
    fn backend(&self) -> S3Backend {
        S3Backend::from_url(&format!("s3://{}/team/states", self.bucket), &self.config).expect("valid url")
    }

    async fn object(&self, key: &str) -> Option<(String, String)> {
        match self.s3.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => {
                let etag = out.e_tag().unwrap_or_default().to_string();
                let bytes = out.body.collect().await.expect("body").into_bytes();
                Some((String::from_utf8(bytes.to_vec()).expect("utf-8"), etag))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => None,
            Err(e) => panic!("get {key}: {e:?}"),
        }
    }

    async fn put(&self, key: &str, body: &str) -> String {
        let out = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body.as_bytes().to_vec()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
        out.e_tag().expect("etag").to_string()
    }
}

fn state(stack: &str, serial: u64) -> State {
    let mut s = State::new(stack);
    s.serial = serial;
    s
}

fn serial_of(text: &str) -> u64 {
    serde_json::from_str::<serde_json::Value>(text).expect("json")["serial"].as_u64().expect("serial")
}

fn conflict_reason(result: Result<(), BackendError>) -> String {
    match result {
        Err(BackendError::Conflict { reason, .. }) => reason,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[tokio::test]
async fn s3_keeps_every_backend_promise() {
    let env = env().await;
    clawform_testkit::backend_conformance::check_all(&env.backend(), "conformance").await;
}

#[tokio::test]
async fn save_and_load_round_trip_under_the_prefix() {
    let env = env().await;
    let backend = env.backend();
    assert_eq!(backend.bucket(), env.bucket);
    assert_eq!(backend.state_key("net"), "team/states/net.json");
    assert!(backend.load("net").await.expect("load").is_none(), "nothing stored yet");

    let mut s = state("net", 1);
    s.outputs.insert("vpc_id".into(), serde_json::json!("vpc-123"));
    backend.save(&s).await.expect("first save");
    let (text, _) = env.object("team/states/net.json").await.expect("state object written");
    assert_eq!(serial_of(&text), 1);

    // A separate writer reads what the first wrote.
    let loaded = env.backend().load("net").await.expect("load").expect("state");
    assert_eq!(loaded, s);
}

#[tokio::test]
async fn lower_serials_and_other_lineages_are_refused_and_a_backup_is_kept() {
    let env = env().await;
    let backend = env.backend();
    let mut s = state("app", 1);
    backend.save(&s).await.expect("save 1");
    assert!(env.object("team/states/app.json.backup").await.is_none(), "no backup of nothing");
    s.serial = 2;
    backend.save(&s).await.expect("save 2");

    let (backup, _) = env.object("team/states/app.json.backup").await.expect("backup written");
    assert_eq!(serial_of(&backup), 1, "the backup holds the version replaced");

    // Equal serial: refused.
    let reason = conflict_reason(backend.save(&s).await);
    assert!(reason.contains("stored serial 2 is not below the new serial 2"), "{reason}");
    // Lower serial: refused.
    s.serial = 1;
    assert!(conflict_reason(backend.save(&s).await).contains("stored serial 2"));
    // Another lineage: refused, whatever its serial.
    let other = state("app", 9);
    let reason = conflict_reason(backend.save(&other).await);
    assert!(reason.contains("lineage"), "{reason}");

    let (text, _) = env.object("team/states/app.json").await.expect("state");
    assert_eq!(serial_of(&text), 2, "refused saves wrote nothing");
    let (backup, _) = env.object("team/states/app.json.backup").await.expect("backup");
    assert_eq!(serial_of(&backup), 1, "refused saves did not touch the backup");
    assert_eq!(backend.load("app").await.expect("load").expect("state").serial, 2);
}

#[tokio::test]
async fn a_second_lock_fails_naming_the_holder_and_force_unlock_clears_it() {
    let env = env().await;
    let (a, b) = (env.backend(), env.backend());
    let first = LockInfo::for_current_process("apply");
    a.lock("net", &first).await.expect("first lock");

    let (text, _) = env.object("team/states/net.lock").await.expect("lock object");
    assert_eq!(serde_json::from_str::<LockInfo>(&text).expect("lock json"), first);

    let err = b.lock("net", &LockInfo::for_current_process("destroy")).await.expect_err("second lock must fail");
    match &err {
        BackendError::Locked { stack, holder } => {
            assert_eq!(stack, "net");
            assert_eq!(**holder, first, "the error names who holds the lock, for what and since when");
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains(&first.who)
            && message.contains("`apply`")
            && message.contains(&first.created)
            && message.contains(&format!("force-unlock net {}", first.id)),
        "{message}"
    );
    // The same holder cannot take it twice either.
    assert!(matches!(a.lock("net", &first).await, Err(BackendError::Locked { .. })));

    let held = b.force_unlock("net", &first.id).await.expect("force unlock");
    assert_eq!(held.map(|h| h.id), Some(first.id.clone()));
    assert!(env.object("team/states/net.lock").await.is_none(), "lock object removed");
    assert_eq!(b.force_unlock("net", &first.id).await.expect("force unlock of nothing"), None);

    let second = LockInfo::for_current_process("apply");
    b.lock("net", &second).await.expect("free again after force-unlock");
    b.unlock("net", &second).await.expect("unlock");
    assert!(env.object("team/states/net.lock").await.is_none(), "the holder's unlock removes the lock");
}

#[tokio::test]
async fn unlock_by_someone_else_leaves_the_lock() {
    let env = env().await;
    let backend = env.backend();
    let holder = LockInfo::for_current_process("apply");
    backend.lock("net", &holder).await.expect("lock");

    let stranger = LockInfo::for_current_process("apply");
    backend.unlock("net", &stranger).await.expect("unlock by a non-holder is not an error");
    let (text, _) = env.object("team/states/net.lock").await.expect("lock still there");
    assert_eq!(serde_json::from_str::<LockInfo>(&text).expect("lock json").id, holder.id);

    // A holder whose lock was forced and re-taken by someone else does not remove the new one.
    backend.force_unlock("net", &holder.id).await.expect("force");
    let next = LockInfo::for_current_process("apply");
    backend.lock("net", &next).await.expect("re-taken");
    backend.unlock("net", &holder).await.expect("stale unlock");
    let (text, _) = env.object("team/states/net.lock").await.expect("new lock still there");
    assert_eq!(serde_json::from_str::<LockInfo>(&text).expect("lock json").id, next.id);

    // Unlocking a stack nobody locked is fine.
    backend.unlock("other", &holder).await.expect("unlock of nothing");
}

#[tokio::test]
async fn a_writer_that_missed_another_writers_save_is_refused_without_any_lock() {
    let env = env().await;
    let setup = env.backend();
    let base = state("net", 1);
    setup.save(&base).await.expect("initial state");

    let (a, b) = (env.backend(), env.backend());
    let mut seen_by_a = a.load("net").await.expect("load").expect("state");
    let mut seen_by_b = b.load("net").await.expect("load").expect("state");

    seen_by_b.serial = 2;
    b.save(&seen_by_b).await.expect("B saves first");

    // A has made more steps, so the serial and lineage checks pass: only the conditional write
    // (If-Match on the ETag A read, answered 412 by S3) stops it.
    seen_by_a.serial = 5;
    seen_by_a.outputs.insert("from".into(), serde_json::json!("a"));
    let reason = conflict_reason(a.save(&seen_by_a).await);
    assert!(reason.contains("changed underneath") && reason.contains("another writer"), "{reason}");

    let (text, _) = env.object("team/states/net.json").await.expect("state");
    assert_eq!(serial_of(&text), 2, "B's state survives");
    let (backup, _) = env.object("team/states/net.json.backup").await.expect("backup");
    assert_eq!(serial_of(&backup), 1, "A's refused save did not overwrite B's backup");

    // After loading again, A can write on top of B's state.
    let mut fresh = a.load("net").await.expect("load").expect("state");
    assert_eq!(fresh.serial, 2);
    fresh.serial = 3;
    a.save(&fresh).await.expect("A saves after reloading");
    // And B, which has not seen A's write, is refused in turn.
    seen_by_b.serial = 4;
    assert!(conflict_reason(b.save(&seen_by_b).await).contains("changed underneath"));
}

#[tokio::test]
async fn a_stale_etag_is_refused_even_when_the_state_was_changed_outside_clawform() {
    let env = env().await;
    let backend = env.backend();
    backend.save(&state("db", 1)).await.expect("save");
    let mut s = backend.load("db").await.expect("load").expect("state");

    // Someone rewrites the object by hand with a new serial (new content, new ETag).
    let (text, old_etag) = env.object("team/states/db.json").await.expect("state");
    let edited = text.replace("\"serial\": 1", "\"serial\": 2");
    let new_etag = env.put("team/states/db.json", &edited).await;
    assert_ne!(old_etag, new_etag);

    s.serial = 3;
    let reason = conflict_reason(backend.save(&s).await);
    assert!(reason.contains("changed underneath") && reason.contains(&old_etag), "{reason}");
    let (after, _) = env.object("team/states/db.json").await.expect("state");
    assert_eq!(after, edited, "the hand edit was not overwritten");

    // A writer that never loaded the stack, and so has no ETag, cannot create over an existing
    // state either (If-None-Match: *).
    let stranger = env.backend();
    let mut blind = s.clone();
    blind.serial = 10;
    let reason = conflict_reason(stranger.save(&blind).await);
    assert!(reason.contains("created by another writer"), "{reason}");

    // A state deleted after it was read cannot be re-created by the stale writer.
    let mut s = backend.load("db").await.expect("load").expect("state");
    env.s3.delete_object().bucket(&env.bucket).key("team/states/db.json").send().await.expect("delete");
    s.serial = 11;
    let reason = conflict_reason(backend.save(&s).await);
    assert!(reason.contains("deleted"), "{reason}");
}

#[tokio::test]
async fn list_names_the_stacks_under_the_prefix_only() {
    let env = env().await;
    let backend = env.backend();
    assert!(backend.list().await.expect("list").is_empty());
    for (stack, serials) in [("net", 2), ("app", 1), ("tenant-7", 1)] {
        let mut s = state(stack, 0);
        for serial in 1..=serials {
            s.serial = serial;
            backend.save(&s).await.expect("save");
        }
    }
    backend.lock("app", &LockInfo::for_current_process("apply")).await.expect("lock");
    // Objects that are not state of this prefix.
    env.put("team/states/.hidden.json", "{}").await;
    env.put("team/states/nested/deep.json", "{}").await;
    env.put("team/other.json", "{}").await;
    env.put("elsewhere.json", "{}").await;
    // Enough keys to need more than one page (ListObjectsV2 returns 1000 at most).
    for i in 0..1005 {
        env.put(&format!("team/states/notes/{i}.txt"), "x").await;
    }

    assert_eq!(backend.list().await.expect("list"), ["app", "net", "tenant-7"], "no backups, locks or foreign keys");

    // A backend at the bucket's root sees root-level states only.
    let root = S3Backend::from_url(&format!("s3://{}", env.bucket), &env.config).expect("url");
    assert_eq!(root.state_key("x"), "x.json");
    assert_eq!(root.list().await.expect("list"), ["elsewhere"]);
}

#[tokio::test]
async fn bad_urls_and_missing_buckets_are_errors() {
    let env = env().await;
    assert!(matches!(S3Backend::from_url("state/", &env.config), Err(BackendError::Io(_))));
    let missing = S3Backend::from_url(&format!("s3://{}-missing/x", env.bucket), &env.config).expect("url");
    let err = missing.load("net").await.expect_err("no bucket").to_string();
    assert!(err.contains("GetObject") && err.contains("NoSuchBucket"), "{err}");
    let err = missing.list().await.expect_err("no bucket").to_string();
    assert!(err.contains("ListObjectsV2") && err.contains("NoSuchBucket"), "{err}");
}

/// What moto 5.2.5 answers to the conditional requests the backend relies on, with the raw SDK.
#[tokio::test]
async fn moto_answers_conditional_requests_like_s3() {
    let env = env().await;
    let put = |key: &str, body: &str| env.s3.put_object().bucket(&env.bucket).key(key).body(ByteStream::from(body.as_bytes().to_vec()));
    fn status<E>(e: &aws_sdk_s3::error::SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>) -> Option<u16> {
        e.raw_response().map(|r| r.status().as_u16())
    }

    // If-None-Match: * creates once, then 412 PreconditionFailed.
    let first = put("k", "one").if_none_match("*").send().await.expect("create");
    let etag = first.e_tag().expect("etag").to_string();
    let err = put("k", "two").if_none_match("*").send().await.expect_err("exists");
    assert_eq!((err.code(), status(&err)), (Some("PreconditionFailed"), Some(412)));

    // If-Match with the current ETag writes; with an old one, 412; on a missing key, 404 NoSuchKey.
    let second = put("k", "two").if_match(&etag).send().await.expect("matching etag");
    let err = put("k", "three").if_match(&etag).send().await.expect_err("stale etag");
    assert_eq!((err.code(), status(&err)), (Some("PreconditionFailed"), Some(412)));
    let err = put("missing", "x").if_match(&etag).send().await.expect_err("missing key");
    assert_eq!((err.code(), status(&err)), (Some("NoSuchKey"), Some(404)));
    // ETags compare with or without their quotes.
    let unquoted = second.e_tag().expect("etag").trim_matches('"').to_string();
    put("k", "three").if_match(&unquoted).send().await.expect("unquoted etag matches");

    // DeleteObject with If-Match: a stale ETag is refused with 412, the current one deletes.
    let current = env.object("k").await.expect("k").1;
    let err = env.s3.delete_object().bucket(&env.bucket).key("k").if_match(&etag).send().await.expect_err("stale delete");
    assert_eq!((err.code(), status(&err)), (Some("PreconditionFailed"), Some(412)));
    assert!(env.object("k").await.is_some(), "refused delete kept the object");
    env.s3.delete_object().bucket(&env.bucket).key("k").if_match(&current).send().await.expect("matching delete");
    assert!(env.object("k").await.is_none());
    let err = env.s3.delete_object().bucket(&env.bucket).key("k").if_match(&current).send().await.expect_err("delete of a missing key");
    assert_eq!((err.code(), status(&err)), (Some("NoSuchKey"), Some(404)));
}
