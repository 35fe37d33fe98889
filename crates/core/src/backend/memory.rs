//! State in memory: for the engine's tests and for benchmarks that plan without a disk. It keeps
//! the same promises as the other backends (serials only go up, one lineage per stack, one lock
//! holder at a time), checked by the shared conformance suite.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{BackendError, LockInfo, StateBackend};
use crate::state::State;

/// State documents and locks in memory.
#[derive(Debug, Default)]
pub struct MemoryBackend {
    states: Mutex<BTreeMap<String, State>>,
    locks: Mutex<BTreeMap<String, LockInfo>>,
}

impl MemoryBackend {
    /// Every state document, by stack name.
    pub fn states(&self) -> Vec<State> {
        self.states.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect()
    }
}

#[async_trait]
impl StateBackend for MemoryBackend {
    async fn load(&self, stack: &str) -> Result<Option<State>, BackendError> {
        Ok(self.states.lock().unwrap_or_else(|e| e.into_inner()).get(stack).cloned())
    }

    async fn save(&self, state: &State) -> Result<(), BackendError> {
        let mut states = self.states.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(stored) = states.get(&state.stack) {
            let conflict = |reason: String| BackendError::Conflict { stack: state.stack.clone(), reason };
            if stored.lineage != state.lineage {
                return Err(conflict(format!("stored lineage {} is not the new lineage {}", stored.lineage, state.lineage)));
            }
            if stored.serial >= state.serial {
                return Err(conflict(format!("stored serial {} is not below the new serial {}", stored.serial, state.serial)));
            }
        }
        states.insert(state.stack.clone(), state.clone());
        Ok(())
    }

    async fn lock(&self, stack: &str, info: &LockInfo) -> Result<(), BackendError> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(holder) = locks.get(stack) {
            return Err(BackendError::Locked { stack: stack.to_string(), holder: Box::new(holder.clone()) });
        }
        locks.insert(stack.to_string(), info.clone());
        Ok(())
    }

    async fn unlock(&self, stack: &str, info: &LockInfo) -> Result<(), BackendError> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        if locks.get(stack).is_some_and(|holder| holder.id == info.id) {
            locks.remove(stack);
        }
        Ok(())
    }

    async fn force_unlock(&self, stack: &str, lock_id: &str) -> Result<Option<LockInfo>, BackendError> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(holder) = locks.get(stack).filter(|h| h.id != lock_id) {
            return Err(BackendError::OtherLock { stack: stack.to_string(), given: lock_id.to_string(), holder: Box::new(holder.clone()) });
        }
        Ok(locks.remove(stack))
    }

    async fn list(&self) -> Result<Vec<String>, BackendError> {
        Ok(self.states.lock().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect())
    }
}
