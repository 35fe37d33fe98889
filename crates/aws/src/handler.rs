//! How one typed resource module plugs into the provider: [`AwsResource`] is what a module
//! implements; [`Typed`] adapts it to the untyped JSON calls of core's `Provider`.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;
use clawform_core::{Applied, OpContext, ProviderError, Registry, Resource};
use serde_json::Value as Json;

use crate::clients::Clients;
pub use crate::support::arn::ArnForm;

/// A resource type with real AWS calls behind it. Four calls and its ARN form are its own to
/// write; the rest have defaults that fit most types.
#[async_trait]
pub trait AwsResource: Resource {
    /// How the type's ARN names a resource (or [`ArnForm::None`]): how resources found by their
    /// ownership tags are known to be of this type, and which id they have.
    const ARN: ArnForm;
    /// Tags AWS allows on one resource of this type; clawform's two ownership tags count.
    const TAG_LIMIT: usize = 50;
    /// Creates the resource, tagged with its owner in the create call where the API allows.
    async fn create(&self, aws: &Clients, ctx: &OpContext) -> Result<Applied, ProviderError>;
    /// Changes the resource in place from `prior`.
    async fn update(&self, aws: &Clients, ctx: &OpContext, id: &str, prior: &Self) -> Result<Applied, ProviderError>;
    /// Deletes the resource.
    async fn delete(aws: &Clients, id: &str, prior: &Json) -> Result<(), ProviderError>;
    /// Reads resources by id, in as few calls as the API allows; `None` for those gone.
    async fn read(aws: &Clients, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError>;
    /// The id `read` takes for an id given to `clawform import` (Terraform's import id).
    async fn import_id(aws: &Clients, id: &str) -> Result<String, ProviderError> {
        let _ = aws;
        Ok(id.to_string())
    }
}

/// The untyped face of an [`AwsResource`].
#[async_trait]
pub(crate) trait Handler: Send + Sync {
    async fn create(&self, aws: &Clients, ctx: &OpContext, attributes: &Json) -> Result<Applied, ProviderError>;
    async fn update(&self, aws: &Clients, ctx: &OpContext, id: &str, prior: &Json, attributes: &Json) -> Result<Applied, ProviderError>;
    async fn delete(&self, aws: &Clients, ctx: &OpContext, id: &str, prior: &Json) -> Result<(), ProviderError>;
    async fn read(&self, aws: &Clients, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError>;
    async fn import_id(&self, aws: &Clients, id: &str) -> Result<String, ProviderError>;
}

pub(crate) struct Typed<R>(PhantomData<fn() -> R>);

impl<R> Default for Typed<R> {
    fn default() -> Self {
        Typed(PhantomData)
    }
}

/// Decodes attributes into the typed struct. State attributes also hold computed values
/// (`id`, `arn`…), which the struct does not declare, so those are dropped first.
pub(crate) fn decode<R: Resource>(attributes: &Json) -> Result<R, ProviderError> {
    let mut attributes = attributes.clone();
    if let Json::Object(map) = &mut attributes {
        map.remove("id");
        // A computed attribute that is also a field (a listener rule's optional `priority`) is
        // the user's when given, so only purely computed ones are dropped.
        let fields = serde_aux::serde_introspection::serde_introspect::<R>();
        for c in R::COMPUTED {
            if !fields.contains(c) {
                map.remove(*c);
            }
        }
    }
    serde_json::from_value(attributes).map_err(|e| ProviderError::invalid(format!("{}: attributes do not match the type: {e}", R::TYPE)))
}

/// Decodes resolved attributes and runs the type's checks again: values that came from
/// references and parameters were not known when the stack was loaded.
fn checked<R: Resource>(attributes: &Json) -> Result<R, ProviderError> {
    let typed = decode::<R>(attributes)?;
    let problems = typed.validate();
    if problems.is_empty() {
        return Ok(typed);
    }
    let text: Vec<String> = problems.into_iter().map(|p| format!("{}: {}", p.path, p.message)).collect();
    Err(ProviderError::invalid(format!("{}: {}", R::TYPE, text.join("; "))))
}

#[async_trait]
impl<R: AwsResource> Handler for Typed<R> {
    async fn create(&self, aws: &Clients, ctx: &OpContext, attributes: &Json) -> Result<Applied, ProviderError> {
        checked::<R>(attributes)?.create(aws, ctx).await
    }

    async fn update(&self, aws: &Clients, ctx: &OpContext, id: &str, prior: &Json, attributes: &Json) -> Result<Applied, ProviderError> {
        let prior = decode::<R>(prior)?;
        checked::<R>(attributes)?.update(aws, ctx, id, &prior).await
    }

    async fn delete(&self, aws: &Clients, _ctx: &OpContext, id: &str, prior: &Json) -> Result<(), ProviderError> {
        R::delete(aws, id, prior).await
    }

    async fn read(&self, aws: &Clients, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError> {
        R::read(aws, ids).await
    }

    async fn import_id(&self, aws: &Clients, id: &str) -> Result<String, ProviderError> {
        R::import_id(aws, id).await
    }
}

/// Registers one type in core's registry and in the provider's dispatch table.
pub(crate) struct Register(fn(&mut Registry, &mut BTreeMap<&'static str, Arc<dyn Handler>>), &'static str, ArnForm);

impl Register {
    /// The registration of type `R`.
    pub(crate) fn of<R: AwsResource>() -> Register {
        Register(add::<R>, R::TYPE, R::ARN)
    }

    /// The type's name.
    pub(crate) fn type_name(&self) -> &'static str {
        self.1
    }

    /// The type's ARN form.
    pub(crate) fn arn_form(&self) -> ArnForm {
        self.2
    }

    pub(crate) fn run(&self, registry: &mut Registry, handlers: &mut BTreeMap<&'static str, Arc<dyn Handler>>) {
        (self.0)(registry, handlers)
    }
}

fn add<R: AwsResource>(registry: &mut Registry, handlers: &mut BTreeMap<&'static str, Arc<dyn Handler>>) {
    registry.register::<R>();
    handlers.insert(R::TYPE, Arc::new(Typed::<R>::default()));
}
