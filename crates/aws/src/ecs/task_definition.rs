//! `aws_ecs_task_definition`: one revision of an ECS task definition.
//!
//! A revision is immutable: every attribute but `tags` forces a new one, `update` only brings
//! tags in line, and `read` only has to learn whether a revision is still there (and its tags).
//! ECS has no batch describe for task definitions (DescribeTaskDefinition takes one name), so a
//! read makes one call per id, [`READ_CONCURRENCY`] at a time.
//!
//! `container_definitions` is a JSON string, as in Terraform. It is stored in a canonical form,
//! made the same way when a stack is loaded and when AWS is read, so that layout never shows as
//! a change and a read of a revision equals state: compact, keys in one order, `environment` and
//! `secrets` sorted by name, empty lists and `cpu: 0` left out, and the defaults ECS fills in on
//! registration written out (`essential: true`, `protocol: "tcp"`, `hostPort` equal to
//! `containerPort` under the `awsvpc` and `host` network modes). References inside the text are
//! kept: each stands in as a placeholder while the JSON around it is put in order.
//!
//! Delete deregisters the revision and then deletes it (DeleteTaskDefinitions), as AWS allows
//! since 2023; tasks and services still running it carry on. A crash between
//! RegisterTaskDefinition and saving state leaves a revision tagged with this resource's owner:
//! create looks at the family's latest active revision and adopts it when it is this resource's
//! own and defines the same thing, rather than registering another.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, KeyValuePair, LogConfiguration as SdkLog, LogDriver, NetworkMode, PortMapping as SdkPort, Secret, Tag, TaskDefinition,
    TaskDefinitionField, TaskDefinitionStatus, TransportProtocol,
};
use clawform_core::value::{escape, Part};
use clawform_core::{Applied, FieldError, OpContext, ProviderError, Resource, Template, Val};
use futures::stream::{self, StreamExt, TryStreamExt};
use indexmap::IndexMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{json, Map, Value as Json};

use crate::clients::Clients;
use crate::ecs::{check_name, EcsTags};
use crate::error::sdk;
use crate::handler::{decode, ArnForm, AwsResource};
use crate::support::check_tag_count;
use crate::support::tags::{create_tags, sync_tags, taken, user_tags, Taken};
use crate::support::{opt, pace};

/// Container definitions per task definition: "up to 10" (ECS service quotas, "Containers per
/// task definition").
pub const MAX_CONTAINERS: usize = 10;

/// Task CPU for tasks on EC2 or external instances: "between 128 CPU units (0.125 vCPUs) and
/// 196608 CPU units (192 vCPUs)" (ECS API reference, RegisterTaskDefinition `cpu`; older pages
/// said 10240).
pub const EC2_TASK_CPU_UNITS: std::ops::RangeInclusive<u32> = 128..=196_608;

/// The least memory a container (and so a task) may have: "The Docker 20.10.0 or later daemon
/// reserves a minimum of 6 MiB of memory for a container" (ECS API reference, ContainerDefinition
/// `memory`).
pub const MIN_MEMORY_MIB: u32 = 6;

/// DescribeTaskDefinition calls in flight at once while reading many revisions: ECS throttles
/// Describe* calls at a burst of 100 and 20 a second, so ten at a time stays well inside.
pub const READ_CONCURRENCY: usize = 10;

/// ECS's answer to describing a revision it does not have (a `ClientException`).
const MISSING_MESSAGE: &str = "Unable to describe task definition";

/// A task definition revision, as the Terraform AWS provider's `aws_ecs_task_definition`. Its
/// id is the revision's ARN.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EcsTaskDefinition {
    /// The family: up to 255 letters, digits, underscores and hyphens. Each registration adds a
    /// revision to it.
    pub family: Val<String>,
    /// `bridge` (ECS's default on EC2), `host`, `awsvpc` or `none`.
    #[serde(default)]
    pub network_mode: Option<Val<String>>,
    /// Where tasks may run: `EC2`, `FARGATE`, `EXTERNAL`.
    #[serde(default)]
    pub requires_compatibilities: Vec<Val<String>>,
    /// Task CPU units (1024 = one vCPU), as a number or a string of digits.
    #[serde(default)]
    pub cpu: Option<Val<TaskSize>>,
    /// Task memory in MiB, as a number or a string of digits.
    #[serde(default)]
    pub memory: Option<Val<TaskSize>>,
    /// The role ECS's agent uses to pull images, read secrets and write logs.
    #[serde(default)]
    pub execution_role_arn: Option<Val<String>>,
    /// The role the task's containers act as.
    #[serde(default)]
    pub task_role_arn: Option<Val<String>>,
    /// A JSON array of container definitions, as in Terraform. Supported keys: `name`, `image`,
    /// `essential`, `cpu`, `memory`, `portMappings` (`containerPort`, `hostPort`, `protocol`),
    /// `environment` (`name`, `value`), `secrets` (`name`, `valueFrom`), `logConfiguration`
    /// (`logDriver`, `options`), `command`, `entryPoint`; any other key is refused.
    pub container_definitions: Val<String>,
    /// Tags (the only attribute that changes in place).
    #[serde(default)]
    pub tags: IndexMap<String, Val<String>>,
}

/// A task's CPU units or MiB of memory. AWS's API takes a string, Terraform writes strings, YAML
/// authors write numbers: both are read, and a whole number is stored as a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskSize {
    /// A whole number.
    Units(u32),
    /// Text that is not a whole number (refused by validation with what was expected).
    Text(String),
}

impl TaskSize {
    /// The number, when the size is one.
    pub fn units(&self) -> Option<u32> {
        match self {
            TaskSize::Units(n) => Some(*n),
            TaskSize::Text(_) => None,
        }
    }

    fn parse(text: &str) -> TaskSize {
        text.trim().parse().map_or_else(|_| TaskSize::Text(text.to_string()), TaskSize::Units)
    }
}

impl std::fmt::Display for TaskSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TaskSize::Units(n) => write!(f, "{n}"),
            TaskSize::Text(t) => f.write_str(t),
        }
    }
}

impl Serialize for TaskSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            TaskSize::Units(n) => s.serialize_u32(*n),
            TaskSize::Text(t) => s.serialize_str(t),
        }
    }
}

impl<'de> Deserialize<'de> for TaskSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Any number or string is taken, so that validation can say what was expected.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Unsigned(u64),
            Signed(i64),
            Float(f64),
            Text(String),
        }
        Ok(match Raw::deserialize(d)? {
            Raw::Unsigned(n) => u32::try_from(n).map_or_else(|_| TaskSize::Text(n.to_string()), TaskSize::Units),
            Raw::Signed(n) => TaskSize::Text(n.to_string()),
            Raw::Float(n) => TaskSize::Text(n.to_string()),
            Raw::Text(t) => TaskSize::parse(&t),
        })
    }
}

/// The attributes as they are written to stacks and state: those of [`EcsTaskDefinition`], with
/// `container_definitions` in canonical form (see the module comment).
#[derive(Serialize)]
struct Stored {
    family: Val<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    network_mode: Option<Val<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    requires_compatibilities: Vec<Val<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu: Option<Val<TaskSize>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory: Option<Val<TaskSize>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    execution_role_arn: Option<Val<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    task_role_arn: Option<Val<String>>,
    container_definitions: Val<String>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    tags: IndexMap<String, Val<String>>,
}

impl Serialize for EcsTaskDefinition {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Stored {
            family: self.family.clone(),
            network_mode: self.network_mode.clone(),
            requires_compatibilities: self.requires_compatibilities.clone(),
            cpu: self.cpu.clone(),
            memory: self.memory.clone(),
            execution_role_arn: self.execution_role_arn.clone(),
            task_role_arn: self.task_role_arn.clone(),
            container_definitions: canonical_definitions(&self.container_definitions, self.port_defaults()),
            tags: self.tags.clone(),
        }
        .serialize(s)
    }
}

impl Resource for EcsTaskDefinition {
    const TYPE: &'static str = "aws_ecs_task_definition";
    const COMPUTED: &'static [&'static str] = &["id", "arn", "revision", "arn_without_revision"];
    // A revision cannot change: everything but tags makes a new one.
    const FORCE_NEW: &'static [&'static str] =
        &["family", "network_mode", "requires_compatibilities", "cpu", "memory", "execution_role_arn", "task_role_arn", "container_definitions"];
    const CREATE_BEFORE_DESTROY: Option<&'static [&'static str]> = Some(&[]);

    /// Terraform's `cpu` and `memory` are strings.
    fn terraform_values(values: &mut Json) {
        for key in ["cpu", "memory"] {
            if let Some(size) = values.get_mut(key).filter(|v| v.is_number()) {
                *size = Json::String(size.to_string());
            }
        }
    }

    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(family) = self.family.literal() {
            check_name("family", family, &mut errors);
        }
        if let Some(mode) = self.network_mode.as_ref().and_then(Val::literal) {
            if !matches!(mode.as_str(), "bridge" | "host" | "awsvpc" | "none") {
                errors.push(FieldError::new("network_mode", format!("`{mode}` is not a network mode; expected bridge, host, awsvpc or none")));
            }
        }
        for (i, c) in self.requires_compatibilities.iter().enumerate() {
            if let Some(c) = c.literal() {
                if !matches!(c.as_str(), "EC2" | "FARGATE" | "EXTERNAL") {
                    errors.push(FieldError::new(
                        format!("requires_compatibilities.{i}"),
                        format!("`{c}` is not a launch type; expected EC2, FARGATE or EXTERNAL"),
                    ));
                } else if self.requires_compatibilities[..i].iter().any(|p| p.literal() == Some(c)) {
                    errors.push(FieldError::new(format!("requires_compatibilities.{i}"), format!("`{c}` is listed twice; expected each launch type once")));
                }
            }
        }
        self.check_size(&mut errors);
        for (path, role) in [("execution_role_arn", &self.execution_role_arn), ("task_role_arn", &self.task_role_arn)] {
            if let Some(arn) = role.as_ref().and_then(Val::literal) {
                if !arn.starts_with("arn:") || !arn.contains(":iam::") || !arn.contains(":role/") {
                    errors.push(FieldError::new(path, format!("`{arn}` is not an IAM role ARN; expected arn:aws:iam::ACCOUNT:role/NAME")));
                }
            }
        }
        match &self.container_definitions {
            Val::Lit(text) => self.check_containers(text, &mut errors),
            Val::Expr(template) => check_template_shape(template, &mut errors),
        }
        check_tag_count(&self.tags, <Self as AwsResource>::TAG_LIMIT, &mut errors);
        errors
    }
}

impl EcsTaskDefinition {
    /// Whether ECS sets `hostPort` to `containerPort` (the `awsvpc` and `host` network modes),
    /// so that canonical container definitions write it out.
    fn port_defaults(&self) -> bool {
        self.network_mode.as_ref().and_then(Val::literal).is_some_and(|m| m == "awsvpc" || m == "host")
    }

    fn launch_types(&self) -> Vec<&str> {
        self.requires_compatibilities.iter().filter_map(Val::literal).map(String::as_str).collect()
    }

    /// Tasks may run on EC2 (or external) instances: the default when no launch type is named.
    fn on_instances(&self) -> bool {
        self.requires_compatibilities.is_empty() || self.launch_types().iter().any(|t| *t == "EC2" || *t == "EXTERNAL")
    }

    fn literal_size(value: &Option<Val<TaskSize>>) -> Option<u32> {
        value.as_ref().and_then(Val::literal).and_then(TaskSize::units)
    }

    fn check_size(&self, out: &mut Vec<FieldError>) {
        for (path, value, what) in [("cpu", &self.cpu, "CPU units (1024 = one vCPU) such as 512"), ("memory", &self.memory, "MiB such as 1024")] {
            if let Some(TaskSize::Text(t)) = value.as_ref().and_then(Val::literal) {
                out.push(FieldError::new(path, format!("`{t}` is not a whole number; expected {what}")));
            }
        }
        let (cpu, memory) = (Self::literal_size(&self.cpu), Self::literal_size(&self.memory));
        if let Some(cpu) = cpu {
            if self.on_instances() && !EC2_TASK_CPU_UNITS.contains(&cpu) {
                out.push(FieldError::new(
                    "cpu",
                    format!("is {cpu}; tasks on EC2 instances take {} to {} CPU units", EC2_TASK_CPU_UNITS.start(), EC2_TASK_CPU_UNITS.end()),
                ));
            }
        }
        if let Some(memory) = memory {
            if memory < MIN_MEMORY_MIB {
                out.push(FieldError::new("memory", format!("is {memory} MiB; expected at least {MIN_MEMORY_MIB} MiB")));
            }
        }
        if self.launch_types().contains(&"FARGATE") {
            if let Some(mode) = self.network_mode.as_ref().map_or(Some("bridge"), |m| m.literal().map(String::as_str)) {
                if mode != "awsvpc" {
                    out.push(FieldError::new("network_mode", format!("is {mode}; FARGATE in requires_compatibilities needs network_mode awsvpc")));
                }
            }
            match (&self.cpu, &self.memory, cpu, memory) {
                (None, _, _, _) | (_, None, _, _) => {
                    out.push(FieldError::new("cpu", "is needed with memory for FARGATE; expected both, as one of Fargate's task sizes"))
                }
                (_, _, Some(c), Some(m)) if !fargate_size(c, m) => out.push(FieldError::new(
                    "memory",
                    format!("{m} MiB with {c} CPU units is not a Fargate task size; see \"Task size\" in the ECS developer guide"),
                )),
                _ => {}
            }
        }
    }

    /// Checks literal container definitions: the JSON, its keys, and what ECS would refuse.
    fn check_containers(&self, text: &str, out: &mut Vec<FieldError>) {
        let path = "container_definitions";
        let doc = match serde_json::from_str::<Json>(text) {
            Ok(doc) => doc,
            Err(e) => return out.push(FieldError::new(path, format!("is not JSON ({e}); expected a JSON array of container definitions"))),
        };
        let mut problems = shape_problems(&doc);
        if problems.is_empty() {
            match containers(&canonical(&doc, self.port_defaults())) {
                Ok(list) => self.check_container_rules(&list, &mut problems),
                Err(e) => problems.push(e),
            }
        }
        out.extend(problems.into_iter().map(|p| FieldError::new(path, p)));
    }

    fn check_container_rules(&self, list: &[Container], out: &mut Vec<String>) {
        let (task_cpu, task_memory) = (Self::literal_size(&self.cpu), Self::literal_size(&self.memory));
        let awsvpc = self.port_defaults();
        for (i, c) in list.iter().enumerate() {
            let at = format!("[{i}]");
            let mut name_problems = Vec::new();
            check_name("name", &c.name, &mut name_problems);
            out.extend(name_problems.into_iter().map(|p| format!("{at}.name: {}", p.message)));
            if list[..i].iter().any(|o| o.name == c.name) {
                out.push(format!("{at}.name: `{}` is used twice; expected each container name once", c.name));
            }
            if c.image.trim().is_empty() {
                out.push(format!("{at}.image: is empty; expected an image such as REPOSITORY_URL:TAG"));
            }
            match c.memory {
                Some(m) if m < MIN_MEMORY_MIB as i32 => out.push(format!("{at}.memory: is {m} MiB; expected at least {MIN_MEMORY_MIB} MiB")),
                None if task_memory.is_none() && self.memory.is_none() && self.on_instances() => {
                    out.push(format!("{at}.memory: is missing; on EC2 a container needs memory unless the task sets memory"))
                }
                _ => {}
            }
            if c.cpu.is_some_and(|n| n < 0) {
                out.push(format!("{at}.cpu: is negative; expected CPU units, 0 or more"));
            }
            for (j, p) in c.port_mappings.iter().enumerate() {
                let at = format!("{at}.portMappings[{j}]");
                if !(1..=65535).contains(&p.container_port) {
                    out.push(format!("{at}.containerPort: is {}; expected 1 to 65535", p.container_port));
                }
                match p.host_port {
                    Some(h) if !(0..=65535).contains(&h) => out.push(format!("{at}.hostPort: is {h}; expected 0 to 65535")),
                    Some(h) if awsvpc && h != p.container_port => out.push(format!(
                        "{at}.hostPort: is {h}; with network mode awsvpc or host it must be left out or equal containerPort {}",
                        p.container_port
                    )),
                    _ => {}
                }
                if let Some(proto) = &p.protocol {
                    if proto != "tcp" && proto != "udp" {
                        out.push(format!("{at}.protocol: `{proto}` is not a protocol; expected tcp or udp"));
                    }
                }
            }
            for (j, s) in c.secrets.iter().enumerate() {
                if !s.value_from.starts_with("arn:") {
                    out.push(format!(
                        "{at}.secrets[{j}].valueFrom: `{}` is not an ARN; expected the ARN of a Secrets Manager secret (optionally followed by :JSON_KEY:VERSION_STAGE:VERSION_ID) or of an SSM parameter",
                        s.value_from
                    ));
                }
            }
            if let Some(log) = &c.log_configuration {
                if LogDriver::values().iter().all(|d| *d != log.log_driver) {
                    out.push(format!(
                        "{at}.logConfiguration.logDriver: `{}` is not a log driver; expected one of {}",
                        log.log_driver,
                        LogDriver::values().join(", ")
                    ));
                }
                if log.log_driver == "awslogs" {
                    for key in ["awslogs-group", "awslogs-region"] {
                        if !log.options.contains_key(key) {
                            out.push(format!("{at}.logConfiguration.options: `{key}` is missing; the awslogs driver needs awslogs-group and awslogs-region"));
                        }
                    }
                }
            }
        }
        if !list.iter().any(|c| c.essential != Some(false)) {
            out.push("has no essential container; expected at least one with `essential: true` (the default)".into());
        }
        let sum = |f: fn(&Container) -> Option<i32>| list.iter().filter_map(f).map(i64::from).sum::<i64>();
        if let Some(task) = task_memory {
            let containers = sum(|c| c.memory);
            if containers > i64::from(task) {
                out.push(format!("containers take {containers} MiB of memory in all; expected no more than the task's {task} MiB"));
            }
        }
        if let Some(task) = task_cpu {
            let containers = sum(|c| c.cpu);
            if containers > i64::from(task) {
                out.push(format!("containers take {containers} CPU units in all; expected no more than the task's {task}"));
            }
        }
    }

    /// The resolved container definitions as the SDK takes them.
    fn sdk_containers(&self) -> Result<Vec<ContainerDefinition>, ProviderError> {
        let text = self.container_definitions.value()?;
        let doc: Json = serde_json::from_str(text).map_err(|e| ProviderError::invalid(format!("{}: container_definitions is not JSON: {e}", Self::TYPE)))?;
        let list =
            containers(&canonical(&doc, self.port_defaults())).map_err(|e| ProviderError::invalid(format!("{}: container_definitions: {e}", Self::TYPE)))?;
        list.into_iter().map(Container::into_sdk).collect()
    }

    /// The attributes that define the revision (all but tags), as stored, for comparisons.
    fn definition(&self) -> Json {
        let mut stored = serde_json::to_value(self).unwrap_or(Json::Null);
        if let Json::Object(map) = &mut stored {
            map.remove("tags");
        }
        stored
    }

    /// Whether revision `live` defines what `self` asks for: what is set matches, and what is
    /// left unset is AWS's default (a network mode of `bridge`).
    fn is_defined_by(&self, live: &Self) -> bool {
        let (Json::Object(wanted), Json::Object(has)) = (self.definition(), live.definition()) else { return false };
        wanted.iter().all(|(k, v)| has.get(k) == Some(v))
    }

    /// The family's active revisions that carry this resource's ownership tags (registered by
    /// runs that never recorded them), with whether each defines what is desired, newest first:
    /// one ListTaskDefinitions and a DescribeTaskDefinition per active revision not in `keep`.
    async fn own_revisions(&self, aws: &Clients, ctx: &OpContext) -> Result<Vec<(String, bool)>, ProviderError> {
        let mut arns: Vec<String> = aws
            .ecs
            .list_task_definitions()
            .family_prefix(self.family.value()?)
            .status(TaskDefinitionStatus::Active)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| sdk("ecs ListTaskDefinitions", e))?;
        // `familyPrefix` is a prefix: `tenant-a` also lists `tenant-ab`'s revisions.
        let family = self.family.value()?;
        arns.retain(|arn| arn.rsplit_once(':').is_some_and(|(base, _)| base.ends_with(&format!("task-definition/{family}"))) && !ctx.keep.contains(arn));
        arns.sort_by_key(|arn| std::cmp::Reverse(revision_of(arn)));
        let mut own = Vec::new();
        for arn in arns {
            let Some((def, tags)) = describe(aws, &arn).await?.filter(|(d, _)| is_active(d)) else { continue };
            if matches!(taken(&tags, ctx), Taken::Ours) {
                let live = decode::<EcsTaskDefinition>(&stored(&def, &tags, &arn))?;
                own.push((arn, self.is_defined_by(&live)));
            }
        }
        Ok(own)
    }
}

/// Fargate's task sizes: CPU units and the MiB of memory each allows ("Task size" in the ECS
/// developer guide).
fn fargate_size(cpu: u32, memory: u32) -> bool {
    let gib = |n: u32| n * 1024;
    match cpu {
        256 => [512, gib(1), gib(2)].contains(&memory),
        512 => (1..=4).any(|n| gib(n) == memory),
        1024 => (2..=8).any(|n| gib(n) == memory),
        2048 => (4..=16).any(|n| gib(n) == memory),
        4096 => (8..=30).any(|n| gib(n) == memory),
        8192 => (16..=60).step_by(4).any(|n| gib(n) == memory),
        16384 => (32..=120).step_by(8).any(|n| gib(n) == memory),
        _ => false,
    }
}

// ---- Container definitions: keys, canonical form, typed reading -------------------------------

/// Container keys clawform supports, in the order the canonical form writes them.
const CONTAINER_KEYS: &[&str] =
    &["name", "image", "essential", "cpu", "memory", "portMappings", "environment", "secrets", "logConfiguration", "command", "entryPoint"];
/// Keys of a `portMappings` entry.
const PORT_KEYS: &[&str] = &["containerPort", "hostPort", "protocol"];
/// Keys of an `environment` entry.
const ENVIRONMENT_KEYS: &[&str] = &["name", "value"];
/// Keys of a `secrets` entry.
const SECRET_KEYS: &[&str] = &["name", "valueFrom"];
/// Keys of `logConfiguration`.
const LOG_KEYS: &[&str] = &["logDriver", "options"];

/// One container, the subset of ECS's ContainerDefinition clawform supports.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Container {
    name: String,
    image: String,
    #[serde(default)]
    essential: Option<bool>,
    #[serde(default)]
    cpu: Option<i32>,
    #[serde(default)]
    memory: Option<i32>,
    #[serde(default)]
    port_mappings: Vec<PortMapping>,
    #[serde(default)]
    environment: Vec<EnvironmentVariable>,
    #[serde(default)]
    secrets: Vec<SecretRef>,
    #[serde(default)]
    log_configuration: Option<LogConfiguration>,
    #[serde(default)]
    command: Vec<String>,
    #[serde(default)]
    entry_point: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PortMapping {
    container_port: i32,
    #[serde(default)]
    host_port: Option<i32>,
    #[serde(default)]
    protocol: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvironmentVariable {
    name: String,
    value: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SecretRef {
    name: String,
    value_from: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct LogConfiguration {
    log_driver: String,
    #[serde(default)]
    options: BTreeMap<String, String>,
}

impl Container {
    fn into_sdk(self) -> Result<ContainerDefinition, ProviderError> {
        let invalid =
            |e: aws_smithy_types::error::operation::BuildError| ProviderError::invalid(format!("aws_ecs_task_definition: container_definitions: {e}"));
        let ports = self
            .port_mappings
            .into_iter()
            .map(|p| {
                SdkPort::builder()
                    .container_port(p.container_port)
                    .set_host_port(p.host_port)
                    .set_protocol(p.protocol.map(|t| TransportProtocol::from(t.as_str())))
                    .build()
            })
            .collect::<Vec<_>>();
        let environment = self.environment.into_iter().map(|e| KeyValuePair::builder().name(e.name).value(e.value).build()).collect::<Vec<_>>();
        let secrets = self
            .secrets
            .into_iter()
            .map(|s| Secret::builder().name(s.name).value_from(s.value_from).build().map_err(invalid))
            .collect::<Result<Vec<_>, _>>()?;
        let log = self
            .log_configuration
            .map(|l| {
                let options = (!l.options.is_empty()).then(|| l.options.into_iter().collect());
                SdkLog::builder().log_driver(LogDriver::from(l.log_driver.as_str())).set_options(options).build().map_err(invalid)
            })
            .transpose()?;
        Ok(ContainerDefinition::builder()
            .name(self.name)
            .image(self.image)
            .set_essential(self.essential)
            .set_cpu(self.cpu)
            .set_memory(self.memory)
            .set_port_mappings((!ports.is_empty()).then_some(ports))
            .set_environment((!environment.is_empty()).then_some(environment))
            .set_secrets((!secrets.is_empty()).then_some(secrets))
            .set_log_configuration(log)
            .set_command((!self.command.is_empty()).then_some(self.command))
            .set_entry_point((!self.entry_point.is_empty()).then_some(self.entry_point))
            .build())
    }
}

/// Reads canonical container definitions into typed containers; the error names the container.
fn containers(doc: &Json) -> Result<Vec<Container>, String> {
    let Json::Array(items) = doc else { return Err("is not a JSON array; expected [{\"name\": …, \"image\": …}, …]".into()) };
    items.iter().enumerate().map(|(i, c)| serde_json::from_value::<Container>(c.clone()).map_err(|e| format!("[{i}]: {e}"))).collect()
}

/// What is wrong with the shape of a container definitions document: not an array of 1 to
/// [`MAX_CONTAINERS`] objects, or keys clawform does not support (named with their path).
fn shape_problems(doc: &Json) -> Vec<String> {
    let Json::Array(items) = doc else { return vec!["is not a JSON array; expected [{\"name\": …, \"image\": …}, …]".into()] };
    let mut out = Vec::new();
    if items.is_empty() || items.len() > MAX_CONTAINERS {
        out.push(format!("has {} containers; expected 1 to {MAX_CONTAINERS}", items.len()));
    }
    for (i, c) in items.iter().enumerate() {
        let at = format!("[{i}]");
        let Json::Object(map) = c else {
            out.push(format!("{at}: is not an object; expected a container definition"));
            continue;
        };
        unknown_keys(&at, map, CONTAINER_KEYS, &mut out);
        let nested: [(&str, &[&str]); 3] = [("portMappings", PORT_KEYS), ("environment", ENVIRONMENT_KEYS), ("secrets", SECRET_KEYS)];
        for (key, allowed) in nested {
            if let Some(Json::Array(entries)) = map.get(key) {
                for (j, e) in entries.iter().enumerate() {
                    if let Json::Object(m) = e {
                        unknown_keys(&format!("{at}.{key}[{j}]"), m, allowed, &mut out);
                    }
                }
            }
        }
        if let Some(Json::Object(log)) = map.get("logConfiguration") {
            unknown_keys(&format!("{at}.logConfiguration"), log, LOG_KEYS, &mut out);
        }
    }
    out
}

fn unknown_keys(at: &str, map: &Map<String, Json>, allowed: &[&str], out: &mut Vec<String>) {
    for key in map.keys().filter(|k| !allowed.contains(&k.as_str())) {
        out.push(format!("{at}: `{key}` is not a supported key; expected one of {}", allowed.join(", ")));
    }
}

fn is_unset(v: &Json) -> bool {
    match v {
        Json::Null => true,
        Json::Array(a) => a.is_empty(),
        Json::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// `map`'s entries with the `order` keys first, in that order, then any others sorted.
fn ordered(map: &Map<String, Json>, order: &[&str]) -> Vec<(String, Json)> {
    let mut rest: Vec<&String> = map.keys().filter(|k| !order.contains(&k.as_str())).collect();
    rest.sort();
    order
        .iter()
        .filter_map(|k| map.get_key_value(*k))
        .chain(rest.into_iter().filter_map(|k| map.get_key_value(k)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The canonical form of a container definitions document (see the module comment);
/// `port_defaults` says whether ECS sets `hostPort` to `containerPort` (awsvpc and host modes).
/// What is not an array of objects is returned as it is, for validation to refuse.
fn canonical(doc: &Json, port_defaults: bool) -> Json {
    match doc {
        Json::Array(items) => Json::Array(items.iter().map(|c| canonical_container(c, port_defaults)).collect()),
        other => other.clone(),
    }
}

fn canonical_container(container: &Json, port_defaults: bool) -> Json {
    let Json::Object(map) = container else { return container.clone() };
    let mut out = Map::new();
    for (key, value) in ordered(map, CONTAINER_KEYS) {
        let value = match key.as_str() {
            "portMappings" => map_objects(&value, |p| canonical_port(p, port_defaults)),
            "environment" => sorted_by_name(map_objects(&value, |e| object(ordered(e, ENVIRONMENT_KEYS)))),
            "secrets" => sorted_by_name(map_objects(&value, |e| object(ordered(e, SECRET_KEYS)))),
            "logConfiguration" => canonical_log(&value),
            "cpu" if value == json!(0) => Json::Null,
            _ => value,
        };
        let is_image = key == "image";
        if !is_unset(&value) {
            out.insert(key, value);
        }
        // ECS makes a container essential unless told otherwise.
        if is_image && map.get("essential").is_none_or(Json::is_null) {
            out.insert("essential".into(), Json::Bool(true));
        }
    }
    Json::Object(out)
}

fn object(entries: Vec<(String, Json)>) -> Json {
    Json::Object(entries.into_iter().collect())
}

fn map_objects(value: &Json, f: impl Fn(&Map<String, Json>) -> Json) -> Json {
    match value {
        Json::Array(items) => Json::Array(items.iter().map(|i| if let Json::Object(m) = i { f(m) } else { i.clone() }).collect()),
        other => other.clone(),
    }
}

fn canonical_port(port: &Map<String, Json>, port_defaults: bool) -> Json {
    let mut p: Map<String, Json> = ordered(port, PORT_KEYS).into_iter().filter(|(_, v)| !v.is_null()).collect();
    // hostPort 0 means "any free port", as does leaving it out.
    if p.get("hostPort") == Some(&json!(0)) {
        p.remove("hostPort");
    }
    if port_defaults && !p.contains_key("hostPort") {
        if let Some(container_port) = p.get("containerPort").cloned() {
            p.insert("hostPort".into(), container_port);
        }
    }
    if !p.contains_key("protocol") {
        p.insert("protocol".into(), json!("tcp"));
    }
    object(ordered(&p, PORT_KEYS))
}

fn canonical_log(log: &Json) -> Json {
    let Json::Object(map) = log else { return log.clone() };
    let mut out = Map::new();
    for (key, value) in ordered(map, LOG_KEYS) {
        let value = match value {
            Json::Object(options) => {
                let mut sorted: Vec<(String, Json)> = options.into_iter().collect();
                sorted.sort_by(|a, b| a.0.cmp(&b.0));
                Json::Object(sorted.into_iter().collect())
            }
            other => other,
        };
        if !is_unset(&value) {
            out.insert(key, value);
        }
    }
    Json::Object(out)
}

/// Environment variables and secrets are a set to ECS (it may return them in another order).
fn sorted_by_name(list: Json) -> Json {
    match list {
        Json::Array(mut items) => {
            items.sort_by(|a, b| a.get("name").and_then(Json::as_str).cmp(&b.get("name").and_then(Json::as_str)));
            Json::Array(items)
        }
        other => other,
    }
}

/// Stand-ins for references while a template's JSON is parsed: one inside a JSON string, and one
/// where a reference is a whole JSON value (written as a string, and unquoted again after).
fn placeholder(i: usize, in_string: bool) -> String {
    if in_string {
        format!("@@clawform-ref-{i}@@")
    } else {
        format!("\"@@clawform-value-{i}@@\"")
    }
}

/// A template's text with each reference replaced by a placeholder, and for each placeholder the
/// reference it stands for.
fn with_placeholders(template: &Template) -> (String, Vec<(String, String)>) {
    let mut text = String::new();
    let mut refs = Vec::new();
    let (mut in_string, mut escaped) = (false, false);
    for part in template.parts() {
        match part {
            Part::Text(t) => {
                for ch in t.chars() {
                    match (escaped, ch) {
                        (true, _) => escaped = false,
                        (false, '\\') if in_string => escaped = true,
                        (false, '"') => in_string = !in_string,
                        _ => {}
                    }
                }
                text.push_str(t);
            }
            Part::Ref(r) => {
                let token = placeholder(refs.len(), in_string);
                text.push_str(&token);
                refs.push((token, r.to_string()));
            }
            Part::Cond(c) => {
                let token = placeholder(refs.len(), in_string);
                text.push_str(&token);
                refs.push((token, c.to_string()));
            }
        }
    }
    (text, refs)
}

/// `container_definitions` in canonical form; text that is not JSON is left as it is, for
/// validation to refuse.
fn canonical_definitions(value: &Val<String>, port_defaults: bool) -> Val<String> {
    match value {
        Val::Lit(text) => match serde_json::from_str::<Json>(text) {
            Ok(doc) => Val::Lit(canonical(&doc, port_defaults).to_string()),
            Err(_) => value.clone(),
        },
        Val::Expr(template) => canonical_template(template, port_defaults).map_or_else(|| value.clone(), Val::Expr),
    }
}

fn canonical_template(template: &Template, port_defaults: bool) -> Option<Template> {
    let (text, refs) = with_placeholders(template);
    let doc: Json = serde_json::from_str(&text).ok()?;
    // Literal `${` in the text is escaped first, so that only the references come back as such.
    let mut out = escape(&canonical(&doc, port_defaults).to_string());
    for (token, reference) in &refs {
        out = out.replace(token, reference);
    }
    Template::parse(&out).ok()
}

/// Checks what can be checked of templated container definitions before their references are
/// known: the JSON around the references and its keys. The rest is checked once resolved.
fn check_template_shape(template: &Template, out: &mut Vec<FieldError>) {
    let (text, _) = with_placeholders(template);
    match serde_json::from_str::<Json>(&text) {
        Ok(doc) => out.extend(shape_problems(&doc).into_iter().map(|p| FieldError::new("container_definitions", p))),
        Err(e) => out.push(FieldError::new("container_definitions", format!("is not JSON ({e}); expected a JSON array of container definitions"))),
    }
}

/// Container definitions read from ECS, in the stored canonical form (escaped as a literal, as
/// state holds resolved strings).
fn read_containers(def: &TaskDefinition) -> String {
    let port_defaults = matches!(def.network_mode(), Some(NetworkMode::Awsvpc | NetworkMode::Host));
    let list: Vec<Json> = def
        .container_definitions()
        .iter()
        .map(|c| {
            let ports: Vec<Json> = c
                .port_mappings()
                .iter()
                .map(|p| json!({ "containerPort": p.container_port(), "hostPort": p.host_port(), "protocol": p.protocol().map(|t| t.as_str()) }))
                .collect();
            let environment: Vec<Json> = c.environment().iter().map(|e| json!({ "name": e.name(), "value": e.value() })).collect();
            let secrets: Vec<Json> = c.secrets().iter().map(|s| json!({ "name": s.name(), "valueFrom": s.value_from() })).collect();
            let log = c.log_configuration().map(|l| json!({ "logDriver": l.log_driver().as_str(), "options": l.options() }));
            json!({
                "name": c.name(), "image": c.image(), "essential": c.essential(), "cpu": c.cpu(), "memory": c.memory(),
                "portMappings": ports, "environment": environment, "secrets": secrets, "logConfiguration": log,
                "command": c.command(), "entryPoint": c.entry_point(),
            })
        })
        .collect();
    escape(&canonical(&Json::Array(list), port_defaults).to_string())
}

// ---- AWS --------------------------------------------------------------------------------------

/// The revision number at the end of a task definition ARN (`…:task-definition/FAMILY:REVISION`).
fn revision_of(arn: &str) -> Option<i64> {
    arn.rsplit_once(':').and_then(|(_, r)| r.parse().ok())
}

/// The attributes ECS assigns, all found in the ARN.
fn computed(arn: &str) -> Map<String, Json> {
    let mut computed = Map::new();
    computed.insert("arn".into(), json!(arn));
    computed.insert("revision".into(), json!(revision_of(arn)));
    computed.insert("arn_without_revision".into(), json!(arn.rsplit_once(':').map_or(arn, |(base, _)| base)));
    computed
}

fn is_active(def: &TaskDefinition) -> bool {
    def.status() == Some(&TaskDefinitionStatus::Active)
}

/// One revision with its tags, whatever its status; `None` when ECS does not know it.
async fn describe(aws: &Clients, id: &str) -> Result<Option<(TaskDefinition, Vec<Tag>)>, ProviderError> {
    let out = aws
        .ecs
        .describe_task_definition()
        .task_definition(id)
        .include(TaskDefinitionField::Tags)
        .send()
        .await
        .map_err(|e| sdk("ecs DescribeTaskDefinition", e));
    match out {
        Ok(out) => Ok(out.task_definition().cloned().map(|d| (d, out.tags().to_vec()))),
        // ECS answers every client-side refusal with `ClientException`; only its message says
        // the definition does not exist, so the message is read here and nowhere else.
        Err(e) if e.has_code("ClientException") && e.message.contains(MISSING_MESSAGE) => Ok(None),
        Err(e) => Err(e),
    }
}

/// One revision as stored, or `None` when it is gone (deregistered revisions count as gone).
async fn read_one(aws: &Clients, id: &str) -> Result<Option<Json>, ProviderError> {
    Ok(describe(aws, id).await?.filter(|(d, _)| is_active(d)).map(|(d, tags)| stored(&d, &tags, id)))
}

/// A revision as stored: the attributes it was registered with, then the computed ones.
fn stored(def: &TaskDefinition, tags: &[Tag], id: &str) -> Json {
    let mut attrs = Map::new();
    attrs.insert("id".into(), json!(id));
    attrs.insert("family".into(), json!(def.family()));
    if let Some(mode) = def.network_mode() {
        attrs.insert("network_mode".into(), json!(mode.as_str()));
    }
    let launch_types: Vec<&str> = def.requires_compatibilities().iter().map(Compatibility::as_str).collect();
    if !launch_types.is_empty() {
        attrs.insert("requires_compatibilities".into(), json!(launch_types));
    }
    for (key, value) in [("cpu", def.cpu()), ("memory", def.memory())] {
        if let Some(v) = value {
            attrs.insert(key.into(), serde_json::to_value(TaskSize::parse(v)).unwrap_or(Json::Null));
        }
    }
    for (key, value) in [("execution_role_arn", def.execution_role_arn()), ("task_role_arn", def.task_role_arn())] {
        if let Some(v) = value {
            attrs.insert(key.into(), json!(v));
        }
    }
    attrs.insert("container_definitions".into(), json!(read_containers(def)));
    attrs.insert("tags".into(), Json::Object(user_tags(tags)));
    attrs.extend(computed(def.task_definition_arn().unwrap_or(id)));
    Json::Object(attrs)
}

/// Up to this many revisions are described one by one (their whole definition is read); more
/// are only checked for existence, in pages of 100.
const READ_BY_DESCRIBE_UP_TO: usize = 10;

#[async_trait]
impl AwsResource for EcsTaskDefinition {
    const ARN: ArnForm = ArnForm::Whole { service: "ecs", prefix: "task-definition/" };

    /// Revisions are immutable: only one that already defines what is desired is adopted.
    async fn find_leftovers(&self, aws: &Clients, ctx: &OpContext) -> Result<Vec<String>, ProviderError> {
        Ok(self.own_revisions(aws, ctx).await?.into_iter().filter(|(_, desired)| *desired).map(|(arn, _)| arn).collect())
    }

    /// Every revision of ours state will not hold is deregistered, whatever it defines (a run
    /// killed mid-rollout, then planned with another image, left one that no longer matches).
    async fn find_copies(&self, aws: &Clients, ctx: &OpContext) -> Result<Vec<String>, ProviderError> {
        Ok(self.own_revisions(aws, ctx).await?.into_iter().map(|(arn, _)| arn).collect())
    }

    async fn create(&self, aws: &Clients, ctx: &OpContext) -> Result<Applied, ProviderError> {
        let containers = self.sdk_containers()?;
        let launch_types: Vec<Compatibility> =
            self.requires_compatibilities.iter().map(|c| Ok(Compatibility::from(c.value()?.as_str()))).collect::<Result<_, ProviderError>>()?;
        pace("ecs RegisterTaskDefinition").await;
        let out = aws
            .ecs
            .register_task_definition()
            .family(self.family.value()?)
            .set_network_mode(opt(&self.network_mode)?.map(|m| NetworkMode::from(m.as_str())))
            .set_requires_compatibilities((!launch_types.is_empty()).then_some(launch_types))
            .set_cpu(opt(&self.cpu)?.map(TaskSize::to_string))
            .set_memory(opt(&self.memory)?.map(TaskSize::to_string))
            .set_execution_role_arn(opt(&self.execution_role_arn)?.cloned())
            .set_task_role_arn(opt(&self.task_role_arn)?.cloned())
            .set_container_definitions(Some(containers))
            .set_tags(Some(create_tags::<EcsTags>(&self.tags, ctx)?))
            .send()
            .await
            .map_err(|e| sdk("ecs RegisterTaskDefinition", e))?;
        let arn = out
            .task_definition()
            .and_then(|d| d.task_definition_arn())
            .ok_or_else(|| ProviderError::api("ecs RegisterTaskDefinition returned no task definition ARN"))?
            .to_string();
        Ok(Applied { computed: computed(&arn), id: arn })
    }

    async fn update(&self, aws: &Clients, _ctx: &OpContext, id: &str, prior: &Self) -> Result<Applied, ProviderError> {
        // Plans replace a revision whose definition changed; only an adoption can get here with
        // one, and a revision cannot be changed, so say so rather than half-apply it.
        if !self.is_defined_by(prior) {
            return Err(ProviderError::invalid(format!(
                "aws_ecs_task_definition {id}: a task definition revision cannot change; only tags change in place, anything else registers a new revision"
            )));
        }
        sync_tags::<EcsTags>(aws, id, &prior.tags, &self.tags).await?;
        Ok(Applied { id: id.to_string(), computed: computed(id) })
    }

    async fn delete(aws: &Clients, id: &str, _prior: &Json) -> Result<(), ProviderError> {
        let Some((def, _)) = describe(aws, id).await? else {
            return Err(ProviderError::not_found(format!("ecs DeregisterTaskDefinition: task definition {id} does not exist")));
        };
        match def.status() {
            Some(TaskDefinitionStatus::Active) => {
                pace("ecs DeregisterTaskDefinition").await;
                aws.ecs.deregister_task_definition().task_definition(id).send().await.map_err(|e| sdk("ecs DeregisterTaskDefinition", e))?;
            }
            // Deregistered outside clawform: only the deletion is left to do.
            Some(TaskDefinitionStatus::Inactive) => {}
            _ => return Err(ProviderError::not_found(format!("ecs DeleteTaskDefinitions: task definition {id} is already being deleted"))),
        }
        let out = aws.ecs.delete_task_definitions().task_definitions(id).send().await.map_err(|e| sdk("ecs DeleteTaskDefinitions", e))?;
        match out.failures().first() {
            Some(f) => Err(ProviderError::api(format!(
                "ecs DeleteTaskDefinitions: {}: {} {}",
                f.arn().unwrap_or(id),
                f.reason().unwrap_or("failed"),
                f.detail().unwrap_or_default()
            ))),
            None => Ok(()),
        }
    }

    async fn read(aws: &Clients, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError> {
        if ids.len() <= READ_BY_DESCRIBE_UP_TO {
            // No batch API: one DescribeTaskDefinition per revision, a few in flight at once.
            let reads: Vec<_> = ids.iter().map(|id| read_one(aws, id)).collect();
            return stream::iter(reads).buffered(READ_CONCURRENCY).try_collect().await;
        }
        // A revision is immutable: for many of them (a drift check of every tenant), knowing
        // that each still exists is enough, and ListTaskDefinitions tells it for 100 a call.
        let mut active = std::collections::HashSet::new();
        let mut pages = aws.ecs.list_task_definitions().status(aws_sdk_ecs::types::TaskDefinitionStatus::Active).max_results(100).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk("ecs ListTaskDefinitions", e))?;
            active.extend(page.task_definition_arns().iter().cloned());
        }
        Ok(ids.iter().map(|id| active.contains(id).then(|| json!({"id": id, "arn": id}))).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TENANT: &str = r#"[{"name": "openclaw", "image": "repo:v1", "essential": true,
        "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
        "environment": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}],
        "secrets": [{"name": "TOKEN", "valueFrom": "arn:aws:secretsmanager:us-west-2:123456789012:secret:openclaw/t-AbCdEf:TOKEN::"}],
        "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-region": "us-west-2", "awslogs-group": "/ecs/openclaw"}}}]"#;

    fn def(containers: &str) -> EcsTaskDefinition {
        EcsTaskDefinition {
            family: "openclaw-t".into(),
            network_mode: Some("awsvpc".into()),
            requires_compatibilities: vec!["EC2".into()],
            cpu: Some(TaskSize::Units(512).into()),
            memory: Some(TaskSize::Units(1024).into()),
            execution_role_arn: Some("arn:aws:iam::123456789012:role/exec".into()),
            task_role_arn: None,
            container_definitions: containers.into(),
            tags: IndexMap::new(),
        }
    }

    fn messages(d: &EcsTaskDefinition) -> Vec<String> {
        d.validate().into_iter().map(|e| format!("{}: {}", e.path, e.message)).collect()
    }

    fn stored_text(d: &EcsTaskDefinition) -> String {
        serde_json::to_value(d).unwrap()["container_definitions"].as_str().unwrap().to_string()
    }

    #[test]
    fn layout_and_defaults_do_not_change_the_stored_form() {
        let compact = r#"[{"image":"repo:v1","name":"openclaw","portMappings":[{"containerPort":8080,"hostPort":8080}],
            "environment":[{"name":"A","value":"1"},{"name":"B","value":"2"}],"cpu":0,"command":[],
            "secrets":[{"valueFrom":"arn:aws:secretsmanager:us-west-2:123456789012:secret:openclaw/t-AbCdEf:TOKEN::","name":"TOKEN"}],
            "logConfiguration":{"options":{"awslogs-group":"/ecs/openclaw","awslogs-region":"us-west-2"},"logDriver":"awslogs"}}]"#;
        assert_eq!(stored_text(&def(TENANT)), stored_text(&def(compact)));
        assert_eq!(
            stored_text(&def(TENANT)),
            r#"[{"name":"openclaw","image":"repo:v1","essential":true,"portMappings":[{"containerPort":8080,"hostPort":8080,"protocol":"tcp"}],"environment":[{"name":"A","value":"1"},{"name":"B","value":"2"}],"secrets":[{"name":"TOKEN","valueFrom":"arn:aws:secretsmanager:us-west-2:123456789012:secret:openclaw/t-AbCdEf:TOKEN::"}],"logConfiguration":{"logDriver":"awslogs","options":{"awslogs-group":"/ecs/openclaw","awslogs-region":"us-west-2"}}}]"#
        );
        // Under bridge, a left-out host port stays left out: ECS picks one.
        let mut bridge = def(TENANT);
        bridge.network_mode = Some("bridge".into());
        assert!(stored_text(&bridge).contains(r#"[{"containerPort":8080,"protocol":"tcp"}]"#), "{}", stored_text(&bridge));
    }

    #[test]
    fn templates_keep_their_references_through_the_canonical_form() {
        let yaml = "family: f\nnetwork_mode: awsvpc\ncontainer_definitions: |\n  [{\"name\": \"app\",  \"image\": \"${base.outputs.repo}:${param.tag}\",\n    \"memory\": ${param.memory}, \"command\": [\"echo\", \"$${HOME}\"],\n    \"portMappings\": [{\"containerPort\": 8080}]}]\n";
        let d: EcsTaskDefinition = serde_yaml::from_str(yaml).unwrap();
        assert!(matches!(d.container_definitions, Val::Expr(_)));
        assert!(d.validate().is_empty(), "{:?}", d.validate());
        assert_eq!(
            stored_text(&d),
            r#"[{"name":"app","image":"${base.outputs.repo}:${param.tag}","essential":true,"memory":${param.memory},"portMappings":[{"containerPort":8080,"hostPort":8080,"protocol":"tcp"}],"command":["echo","$${HOME}"]}]"#
        );
    }

    #[test]
    fn unknown_keys_are_refused_with_their_path_even_in_templates() {
        let text = r#"[{"name": "a", "image": "${param.image}", "memory": 64, "portMappings": [{"containerPort": 80, "hostPrt": 80}], "links": []}]"#;
        let d: EcsTaskDefinition = serde_json::from_value(json!({ "family": "f", "container_definitions": text })).unwrap();
        assert!(matches!(d.container_definitions, Val::Expr(_)));
        let errors = messages(&d);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("[0]: `links` is not a supported key"), "{errors:?}");
        assert!(errors[1].contains("[0].portMappings[0]: `hostPrt` is not a supported key; expected one of containerPort, hostPort, protocol"), "{errors:?}");
    }

    #[test]
    fn validate_refuses_what_ecs_would() {
        assert!(messages(&def(TENANT)).is_empty(), "{:?}", messages(&def(TENANT)));
        let bad_secret = TENANT.replace("arn:aws:secretsmanager:us-west-2:123456789012:secret:openclaw/t-AbCdEf:TOKEN::", "openclaw/t");
        assert!(messages(&def(&bad_secret))[0].contains("valueFrom: `openclaw/t` is not an ARN"));
        let twice = r#"[{"name": "a", "image": "i"}, {"name": "a", "image": "i"}]"#;
        assert!(messages(&def(twice))[0].contains("[1].name: `a` is used twice"));
        let eleven = format!("[{}]", (0..11).map(|i| format!(r#"{{"name": "c{i}", "image": "i"}}"#)).collect::<Vec<_>>().join(","));
        assert!(messages(&def(&eleven))[0].contains("has 11 containers; expected 1 to 10"));
        let other_port = r#"[{"name": "a", "image": "i", "portMappings": [{"containerPort": 80, "hostPort": 81}]}]"#;
        assert!(messages(&def(other_port))[0].contains("hostPort: is 81"));
        assert!(messages(&def("not json"))[0].starts_with("container_definitions: is not JSON"));
        let no_group = r#"[{"name": "a", "image": "i", "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-region": "r"}}}]"#;
        assert!(messages(&def(no_group))[0].contains("`awslogs-group` is missing"));
        let greedy = r#"[{"name": "a", "image": "i", "memory": 2048}]"#;
        assert!(messages(&def(greedy))[0].contains("2048 MiB of memory in all"));

        let mut sized = def(TENANT);
        sized.cpu = Some(TaskSize::Units(64).into());
        sized.memory = Some(TaskSize::Text("1 GB".into()).into());
        assert_eq!(
            messages(&sized),
            vec!["memory: `1 GB` is not a whole number; expected MiB such as 1024", "cpu: is 64; tasks on EC2 instances take 128 to 196608 CPU units"]
        );
        let mut fargate = def(TENANT);
        fargate.requires_compatibilities = vec!["FARGATE".into()];
        fargate.network_mode = Some("bridge".into());
        fargate.memory = Some(TaskSize::Units(8192).into());
        let errors = messages(&fargate);
        assert!(errors.iter().any(|e| e.starts_with("network_mode: is bridge; FARGATE")), "{errors:?}");
        assert!(errors.iter().any(|e| e.starts_with("memory: 8192 MiB with 512 CPU units is not a Fargate task size")), "{errors:?}");
        let mut no_memory = def(r#"[{"name": "a", "image": "i"}]"#);
        no_memory.memory = None;
        assert!(messages(&no_memory)[0].contains("[0].memory: is missing"));
    }

    #[test]
    fn sizes_read_from_numbers_and_strings() {
        let d: EcsTaskDefinition = serde_yaml::from_str("family: f\ncpu: \"512\"\nmemory: 1024\ncontainer_definitions: '[]'\n").unwrap();
        let odd: EcsTaskDefinition = serde_yaml::from_str("family: f\ncpu: 0.5\nmemory: -1\ncontainer_definitions: '[]'\n").unwrap();
        assert_eq!((odd.cpu, odd.memory), (Some(Val::Lit(TaskSize::Text("0.5".into()))), Some(Val::Lit(TaskSize::Text("-1".into())))));
        assert_eq!(d.cpu, Some(Val::Lit(TaskSize::Units(512))));
        assert_eq!(d.memory, Some(Val::Lit(TaskSize::Units(1024))));
        let stored = serde_json::to_value(&d).unwrap();
        assert_eq!((stored["cpu"].clone(), stored["memory"].clone()), (json!(512), json!(1024)));
    }

    #[test]
    fn revisions_come_from_the_arn() {
        let c = computed("arn:aws:ecs:us-west-2:123456789012:task-definition/openclaw-t:7");
        assert_eq!(c["revision"], json!(7));
        assert_eq!(c["arn_without_revision"], json!("arn:aws:ecs:us-west-2:123456789012:task-definition/openclaw-t"));
        assert!(fargate_size(512, 2048) && !fargate_size(512, 512) && fargate_size(8192, 20480) && !fargate_size(8192, 18432));
    }
}
