//! clawform-core: stacks, values and references, the dependency graph, plans, state, state
//! backends and the apply engine. It knows nothing of AWS and nothing of terminals: providers
//! plug in through [`Provider`] and [`Registry`], and the CLI renders the data it returns.

#![forbid(unsafe_code)]

pub mod backend;
pub mod dependents;
pub mod diagnostic;
pub mod drift;
pub mod engine;
pub mod graph;
pub mod plan;
pub(crate) mod prepared;
pub mod provider;
pub mod resolve;
pub mod schema;
pub mod source;
pub mod stack;
pub mod state;
pub mod suggest;
pub mod tfjson;
pub mod value;

pub use backend::{BackendError, LocalBackend, LockInfo, MemoryBackend, StateBackend};
pub use diagnostic::{Diagnostic, StackError};
pub use drift::{DriftReport, DriftStatus};
pub use engine::{apply, ApplyEvent, ApplyOptions, ApplyReport, EngineError, EventKind, OpFailure};
pub use graph::Graph;
pub use plan::{plan, plan_destroy, Action, Plan, PlanColours, PlanError, ResourceChange, Summary};
pub use provider::{report_waiting, Applied, ErrorKind, OpContext, Owned, Provider, ProviderError};
pub use schema::{FieldError, Registry, Resource, ResourceKind};
pub use source::Location;
pub use stack::{ResourceConfig, Stack};
pub use state::{State, StateResource};
pub use value::{Reference, Template, Val};
