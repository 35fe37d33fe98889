//! clawform: infrastructure as code for the OpenClaw platform on AWS.
//!
//! The same stacks the `clawform` CLI loads from YAML can be built in Rust from the resource
//! structs of [`aws`], planned and applied through a [`Workspace`]:
//!
//! ```no_run
//! use clawform::aws::ec2::vpc::Vpc;
//! use clawform::{Stack, Workspace};
//!
//! # async fn run() -> anyhow::Result<()> {
//! let mut stack = Stack::new("network");
//! stack.add("vpc", Vpc { cidr_block: "10.0.0.0/16".into(), ..Default::default() })?;
//! stack.output("vpc_id", "${vpc.id}");
//! let workspace = Workspace::open(".");
//! let provider = workspace.aws_provider(None).await;
//! let plan = workspace.plan(&stack).await?;
//! let report = workspace.apply(&plan, provider, &Default::default()).await?;
//! assert!(report.failures.is_empty());
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

pub mod capacity;
pub mod cost;
mod error;
pub mod fleet;
pub mod import;
pub mod platform;
pub mod prices;
pub mod tenants;
mod workspace;

pub use clawform_aws as aws;
pub use clawform_core as core;
pub use clawform_core::{Action, ApplyOptions, ApplyReport, Plan, Stack, State};
pub use tenants::{TenantInfo, TenantSecrets, Tenants};
pub use workspace::{Workspace, WorkspaceError};
