//! clawform-aws: the AWS provider. One module per resource type, named after the Terraform type
//! (`aws_vpc` → `ec2/vpc.rs`), each making real AWS SDK calls. It never prints: it returns data
//! and errors to whoever called it.

#![forbid(unsafe_code)]

pub mod autoscaling;
mod checks;
pub mod clients;
pub mod ec2;
pub mod ecr;
pub mod ecs;
pub mod elbv2;
mod error;
mod handler;
pub mod iam;
pub mod logs;
pub mod operations;
pub mod owned;
pub mod s3_backend;
pub mod secretsmanager;
pub mod stats;
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use clawform_core::{Applied, OpContext, Provider, ProviderError, Registry};
use serde_json::Value as Json;

pub use clients::{AwsSettings, Clients};
pub use handler::{ArnForm, AwsResource};
use handler::{Handler, Register};

/// Every resource type this provider offers, as core's registry (for loading stacks).
pub fn registry() -> Registry {
    let mut registry = Registry::new();
    let mut handlers = BTreeMap::new();
    for_each_type(&mut |register| register.run(&mut registry, &mut handlers));
    checks::register(&mut registry);
    registry
}

/// Every registered type's name, in registration order, repeats kept (the tidy test checks each
/// is registered once).
pub fn type_names() -> Vec<&'static str> {
    let mut out = Vec::new();
    for_each_type(&mut |register| out.push(register.type_name()));
    out
}

/// Every registered type with the form of its ARNs.
pub fn arn_forms() -> Vec<(&'static str, ArnForm)> {
    let mut out = Vec::new();
    for_each_type(&mut |register| out.push((register.type_name(), register.arn_form())));
    out
}

/// The one list of resource types, by service: each service's `types` lists its modules, so
/// adding a type is one module and one line there.
fn for_each_type(f: &mut dyn FnMut(Register)) {
    autoscaling::types(f);
    ec2::types(f);
    ecr::types(f);
    ecs::types(f);
    elbv2::types(f);
    iam::types(f);
    logs::types(f);
    secretsmanager::types(f);
}

/// The AWS provider: one client per service, made once, shared by every operation.
#[derive(Clone)]
pub struct AwsProvider {
    clients: Clients,
    handlers: Arc<BTreeMap<&'static str, Arc<dyn Handler>>>,
    registry: Arc<Registry>,
}

impl AwsProvider {
    /// A provider using the standard AWS configuration chain (`AWS_REGION`, `AWS_PROFILE`,
    /// `AWS_ENDPOINT_URL`…); `region` overrides the chain's region.
    pub async fn from_env(region: Option<String>) -> AwsProvider {
        AwsProvider::new(Clients::from_env(region).await)
    }

    /// A provider over the standard chain with `settings` over it; an error, in words, when the
    /// chain names no region.
    pub async fn load(settings: &AwsSettings) -> Result<AwsProvider, ProviderError> {
        Ok(AwsProvider::new(Clients::load(settings).await?))
    }

    /// A provider over clients made elsewhere.
    pub fn new(clients: Clients) -> AwsProvider {
        let mut handlers = BTreeMap::new();
        let mut registry = Registry::new();
        for_each_type(&mut |register| register.run(&mut registry, &mut handlers));
        AwsProvider { clients, handlers: Arc::new(handlers), registry: Arc::new(registry) }
    }

    /// The clients, for callers that need a direct look (tests, drift reports).
    pub fn clients(&self) -> &Clients {
        &self.clients
    }

    fn handler(&self, type_name: &str) -> Result<&Arc<dyn Handler>, ProviderError> {
        self.handlers.get(type_name).ok_or_else(|| ProviderError::invalid(format!("the AWS provider has no resource type `{type_name}`")))
    }
}

#[async_trait]
impl Provider for AwsProvider {
    async fn create(&self, ctx: &OpContext, type_name: &str, attributes: &Json) -> Result<Applied, ProviderError> {
        self.handler(type_name)?.create(&self.clients, ctx, attributes).await
    }

    async fn update(&self, ctx: &OpContext, type_name: &str, id: &str, prior: &Json, attributes: &Json) -> Result<Applied, ProviderError> {
        self.handler(type_name)?.update(&self.clients, ctx, id, prior, attributes).await
    }

    async fn delete(&self, ctx: &OpContext, type_name: &str, id: &str, prior: &Json) -> Result<(), ProviderError> {
        self.handler(type_name)?.delete(&self.clients, ctx, id, prior).await
    }

    async fn read(&self, type_name: &str, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError> {
        self.handler(type_name)?.read(&self.clients, ids).await
    }

    async fn import_id(&self, type_name: &str, id: &str) -> Result<String, ProviderError> {
        self.handler(type_name)?.import_id(&self.clients, id).await
    }

    fn region(&self) -> Option<String> {
        Some(self.clients.region.clone())
    }

    async fn find_owned(&self, stacks: &[String], known: &std::collections::HashSet<String>) -> Result<Vec<clawform_core::Owned>, ProviderError> {
        self.owned(stacks, known).await
    }

    async fn adopt(&self, ctx: &OpContext, type_name: &str, found: &clawform_core::Owned, attributes: &Json) -> Result<Applied, ProviderError> {
        let handler = self.handler(type_name)?;
        let Some((_, id)) = owned::type_and_id(&found.arn) else {
            return Err(ProviderError::invalid(format!("cannot tell the id of {} to adopt it", found.arn)));
        };
        let live = handler
            .read(&self.clients, std::slice::from_ref(&id))
            .await?
            .into_iter()
            .next()
            .flatten()
            .ok_or_else(|| ProviderError::not_found(format!("{} is gone", found.arn)))?;
        // Bring what exists to the desired attributes; keep what the read knows of computed ones.
        let mut applied = handler.update(&self.clients, ctx, &id, &live, attributes).await?;
        let computed = self.registry.get(type_name).map(|k| k.computed()).unwrap_or_default();
        if let Json::Object(map) = &live {
            for (k, v) in map.iter().filter(|(k, _)| k.as_str() != "id" && computed.contains(&k.as_str())) {
                applied.computed.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        Ok(applied)
    }
}
