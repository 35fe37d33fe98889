//! What every state backend must do, written once (as Terraform's
//! `internal/states/remote/testing.go`) and run against each: the local folder, the in-memory
//! backend of the engine's tests, and S3 on moto. Each check uses stacks named from `prefix`, so
//! one backend can hold several runs.

use clawform_core::backend::{BackendError, LockInfo, StateBackend};
use clawform_core::State;

/// Runs every scenario against `backend`; panics naming the first one that fails.
pub async fn check_all(backend: &dyn StateBackend, prefix: &str) {
    missing_stacks_read_as_none(backend, prefix).await;
    saves_round_trip_and_the_serial_only_goes_up(backend, prefix).await;
    a_lock_is_exclusive_and_names_its_holder(backend, prefix).await;
    only_the_holder_unlocks_and_force_unlock_clears(backend, prefix).await;
    list_names_the_stacks_with_state(backend, prefix).await;
}

fn state(stack: &str, serial: u64) -> State {
    State { serial, ..State::new(stack) }
}

async fn missing_stacks_read_as_none(backend: &dyn StateBackend, prefix: &str) {
    let stack = format!("{prefix}-missing");
    assert!(backend.load(&stack).await.expect("load").is_none(), "a stack never saved reads as None");
    assert!(backend.load_document(&stack).await.expect("load_document").is_none(), "its document too");
}

async fn saves_round_trip_and_the_serial_only_goes_up(backend: &dyn StateBackend, prefix: &str) {
    let stack = format!("{prefix}-serial");
    let first = state(&stack, 1);
    backend.save(&first).await.expect("first save");
    assert_eq!(backend.load(&stack).await.expect("load"), Some(first.clone()), "what was saved is read back");
    let text = backend.load_document(&stack).await.expect("document").expect("present");
    assert_eq!(serde_json::from_slice::<State>(&text).expect("the document is a state"), first);
    let second = State { serial: 2, ..first.clone() };
    backend.save(&second).await.expect("a higher serial is saved");
    let stale = State { serial: 1, ..first.clone() };
    assert!(matches!(backend.save(&stale).await, Err(BackendError::Conflict { .. })), "a lower serial is refused");
    let other = State { serial: 3, ..State::new(&stack) };
    assert!(matches!(backend.save(&other).await, Err(BackendError::Conflict { .. })), "another lineage is refused");
    assert_eq!(backend.load(&stack).await.expect("load"), Some(second), "refused saves change nothing");
}

async fn a_lock_is_exclusive_and_names_its_holder(backend: &dyn StateBackend, prefix: &str) {
    let stack = format!("{prefix}-lock");
    let first = LockInfo::for_current_process("apply");
    backend.lock(&stack, &first).await.expect("a free lock is taken");
    match backend.lock(&stack, &LockInfo::for_current_process("destroy")).await {
        Err(BackendError::Locked { holder, .. }) => {
            assert_eq!((holder.id.as_str(), holder.operation.as_str()), (first.id.as_str(), "apply"), "the refusal names the holder")
        }
        other => panic!("a held lock must be refused, got {other:?}"),
    }
    backend.unlock(&stack, &first).await.expect("unlock");
    let again = LockInfo::for_current_process("apply");
    backend.lock(&stack, &again).await.expect("a lock given back is free again");
    backend.unlock(&stack, &again).await.expect("unlock");
}

async fn only_the_holder_unlocks_and_force_unlock_clears(backend: &dyn StateBackend, prefix: &str) {
    let stack = format!("{prefix}-force");
    let holder = LockInfo::for_current_process("apply");
    backend.lock(&stack, &holder).await.expect("lock");
    backend.unlock(&stack, &LockInfo::for_current_process("someone else")).await.expect("unlock by another is not an error");
    assert!(backend.lock(&stack, &LockInfo::for_current_process("x")).await.is_err(), "but it leaves the lock");
    let wrong = backend.force_unlock(&stack, "not-the-id").await;
    assert!(matches!(wrong, Err(BackendError::OtherLock { .. })), "force-unlock with another lock id is refused: {wrong:?}");
    assert!(backend.lock(&stack, &LockInfo::for_current_process("x")).await.is_err(), "and the lock stays");
    let cleared = backend.force_unlock(&stack, &holder.id).await.expect("force-unlock");
    assert_eq!(cleared.map(|h| h.id), Some(holder.id.clone()), "force-unlock says whose lock it cleared");
    assert_eq!(backend.force_unlock(&stack, &holder.id).await.expect("force-unlock again"), None, "nothing left to clear");
    let next = LockInfo::for_current_process("apply");
    backend.lock(&stack, &next).await.expect("free after force-unlock");
    backend.unlock(&stack, &next).await.expect("unlock");
}

async fn list_names_the_stacks_with_state(backend: &dyn StateBackend, prefix: &str) {
    let (a, b) = (format!("{prefix}-list-a"), format!("{prefix}-list-b"));
    backend.save(&state(&a, 1)).await.expect("save a");
    backend.save(&state(&b, 1)).await.expect("save b");
    let locked_only = format!("{prefix}-list-locked");
    let lock = LockInfo::for_current_process("apply");
    backend.lock(&locked_only, &lock).await.expect("lock");
    let listed = backend.list().await.expect("list");
    assert!(listed.contains(&a) && listed.contains(&b), "{listed:?}");
    assert!(!listed.contains(&locked_only), "a lock alone is no state: {listed:?}");
    backend.unlock(&locked_only, &lock).await.expect("unlock");
}
