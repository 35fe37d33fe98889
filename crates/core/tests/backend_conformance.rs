//! The state backends of core against the shared conformance suite (`clawform_testkit::
//! backend_conformance`, also run against S3 in the AWS provider's tests).

use clawform_core::{LocalBackend, MemoryBackend};

#[tokio::test]
async fn the_local_folder_keeps_every_backend_promise() {
    let dir = tempfile::tempdir().expect("temp dir");
    clawform_testkit::backend_conformance::check_all(&LocalBackend::new(dir.path()), "local").await;
}

#[tokio::test]
async fn the_memory_backend_keeps_every_backend_promise() {
    clawform_testkit::backend_conformance::check_all(&MemoryBackend::default(), "memory").await;
}
