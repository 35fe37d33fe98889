//! The `clawform` crate's integration tests, in one binary: each module is a test file of its
//! own (end to end: the real CLI binary against moto), and the AWS SDK is linked once instead of
//! once per file. Each file gets its own moto server (`common::Project::new` picks it by the
//! caller's file), so files that apply the base stack, with its fixed names, never meet.

mod common;

mod aws_behaviours;
mod bad_input;
mod base_platform;
mod checkov;
mod ci_example;
mod cli_contract;
mod cli_habits;
mod completions;
mod compliance;
mod cost_cli;
mod crash;
mod crash_base;
mod crash_rollout;
mod crash_tenant;
mod drift;
mod drift_scale;
mod faults;
mod graph_cli;
mod https;
mod import;
mod interrupt;
mod library;
mod network_lifecycle;
mod plan_checks;
mod remote_state;
mod replace_order;
mod scale;
mod secret_leak;
mod shards;
mod tenant_lifecycle;
mod tenants;
mod terraform_json;
mod tidy;
