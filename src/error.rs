//! The library's errors: what can go wrong in a workspace or tenant operation. Plain data
//! with messages; the CLI renders them. Kept apart from the modules that return them, so that
//! each of those depends on this one and none on another for its errors.

use clawform_core::backend::BackendError;
use clawform_core::engine::EngineError;
use clawform_core::plan::PlanError;
use clawform_core::{ProviderError, StackError};

/// A tenant id that was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("tenant id `{id}` is not valid: {reason}")]
pub struct InvalidTenantId {
    /// What was given (escaped for printing).
    pub id: String,
    /// Why, and what is expected.
    pub reason: String,
}

/// Everything that can go wrong in a workspace operation.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// The stack did not load or validate.
    #[error(transparent)]
    Stack(#[from] StackError),
    /// The plan could not be made.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// State could not be read, written or locked (boxed: a lock's holder makes it large, and
    /// every `Result` of the workspace would carry that size).
    #[error(transparent)]
    Backend(Box<BackendError>),
    /// The apply could not run, or state could not be saved during it.
    #[error(transparent)]
    Engine(Box<EngineError>),
    /// A stack this one reads outputs from has no state yet.
    #[error("stack `{stack}` reads outputs of stack `{other}`, which has not been applied; run `clawform apply {other}` first")]
    MissingDependency {
        /// The stack being planned.
        stack: String,
        /// The stack it reads.
        other: String,
    },
    /// A saved plan could not be read.
    #[error("cannot read plan file {path}: {reason}")]
    PlanFile {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Live resources could not be read.
    #[error("drift check failed: {0}")]
    Drift(#[source] ProviderError),
    /// A tenant operation was refused or failed.
    #[error("{0}")]
    Tenant(String),
    /// The plan removes something other stacks use.
    #[error("{}", in_use_message(.stack, .users))]
    InUse {
        /// The stack whose plan was refused.
        stack: String,
        /// What other stacks use of what it would remove.
        users: Vec<clawform_core::dependents::Dependent>,
    },
    /// A tenant id was refused.
    #[error(transparent)]
    TenantId(#[from] InvalidTenantId),
    /// Operations of a tenant's apply failed or were interrupted; its state holds what completed.
    #[error("{}", apply_failed_message(.stack, .failures))]
    TenantApply {
        /// The tenant's stack.
        stack: String,
        /// What failed.
        failures: Vec<clawform_core::OpFailure>,
    },
    /// A state was recorded in another region than the one configured.
    #[error("{0}")]
    WrongRegion(String),
    /// There is no state for the stack.
    #[error("stack `{stack}` has no state: it was never applied (or was destroyed){}", suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default())]
    NoState {
        /// The stack named.
        stack: String,
        /// The stack with state whose name is closest, when one is close.
        suggestion: Option<String>,
    },
    /// An AWS call of a tenant operation (status, restart, logs) failed.
    #[error("{what}: {source}")]
    TenantAws {
        /// What the call was for.
        what: String,
        /// The provider's error.
        #[source]
        source: ProviderError,
    },
    /// An import was refused or failed.
    #[error("import refused: {0}")]
    Import(String),
}

impl From<BackendError> for WorkspaceError {
    fn from(e: BackendError) -> Self {
        WorkspaceError::Backend(Box::new(e))
    }
}

impl From<EngineError> for WorkspaceError {
    fn from(e: EngineError) -> Self {
        WorkspaceError::Engine(Box::new(e))
    }
}

fn in_use_message(stack: &str, users: &[clawform_core::dependents::Dependent]) -> String {
    let mut message = format!("the plan for `{stack}` would delete or replace resources that other stacks use:\n");
    for u in users.iter().take(10) {
        message.push_str(&format!("  {} is used by {} in stack `{}`\n", u.removed, u.address, u.stack));
    }
    if users.len() > 10 {
        message.push_str(&format!("  … and {} more\n", users.len() - 10));
    }
    message.push_str(
        "destroy or move those first (tenants: `clawform tenant destroy ID`); nothing was changed. To go on knowingly (they will point at something gone), pass --ignore-dependents",
    );
    message
}

fn apply_failed_message(stack: &str, failures: &[clawform_core::OpFailure]) -> String {
    let mut message = String::new();
    for f in failures {
        message.push_str(&format!("{}: {}\n", f.address, f.message));
    }
    message.push_str(&format!("state of `{stack}` saved with what completed; run the command again to finish"));
    message
}
