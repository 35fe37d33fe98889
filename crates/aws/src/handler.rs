//! How one typed resource module plugs into the provider: [`AwsResource`] is what a module
//! implements; [`Typed`] adapts it to the untyped JSON calls of core's `Provider`.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;
use clawform_core::{Applied, OpContext, ProviderError, Registry, Resource};
use serde_json::Value as Json;

use crate::clients::Clients;
use crate::support::tags;

/// How a type's ARN names its resources: what the Resource Groups Tagging API answers is an
/// ARN, and adoption and unmanaged-resource reports need the type and id it stands for.
#[derive(Debug, Clone, Copy)]
pub enum ArnForm {
    /// `arn:PARTITION:SERVICE:REGION:ACCOUNT:PREFIX<id>`: the id follows the prefix (EC2's
    /// `vpc/vpc-1`, ECR's `repository/NAME`).
    IdAfter {
        /// The ARN's service field.
        service: &'static str,
        /// What the resource field starts with.
        prefix: &'static str,
    },
    /// `arn:…:SERVICE:…:PREFIX…`, and the id is the whole ARN (ELBv2, ECS, Secrets Manager).
    Whole {
        /// The ARN's service field.
        service: &'static str,
        /// What the resource field starts with.
        prefix: &'static str,
    },
    /// Another form, read by `id` from the resource field (`log-group:NAME:*`, IAM's paths).
    Custom {
        /// The ARN's service field.
        service: &'static str,
        /// The resource field's form, for people.
        describe: &'static str,
        /// The id in a resource field of this form, if it is one.
        id: fn(&str) -> Option<String>,
    },
    /// The type has no ARN of its own (associations, attachments, inline policies, secret
    /// versions): it is never tagged, so never found by its tags.
    None,
}

impl ArnForm {
    /// The id `arn` names, if it is an ARN of this form.
    pub fn id_of(&self, arn: &str) -> Option<String> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let (service, resource) = (*parts.get(2)?, *parts.get(5)?);
        match *self {
            ArnForm::IdAfter { service: s, prefix } if s == service => resource.strip_prefix(prefix).map(str::to_string),
            ArnForm::Whole { service: s, prefix } if s == service => resource.starts_with(prefix).then(|| arn.to_string()),
            ArnForm::Custom { service: s, id, .. } if s == service => id(resource),
            _ => None,
        }
    }

    /// The form in words, for the tidy check and the docs.
    pub fn describe(&self) -> String {
        match self {
            ArnForm::IdAfter { service, prefix } => format!("arn:…:{service}:…:{prefix}ID"),
            ArnForm::Whole { service, prefix } => format!("arn:…:{service}:…:{prefix}… (the ARN is the id)"),
            ArnForm::Custom { service, describe, .. } => format!("arn:…:{service}:…:{describe}"),
            ArnForm::None => "none (never tagged)".to_string(),
        }
    }
}

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
    /// AWS's error codes for "that name is taken" on this type's create. When a create gets
    /// one, [`AwsResource::named_existing`] finds the resource holding the name: it is adopted
    /// if its ownership tags say it is this very resource (an interrupted run made it), and
    /// refused with the way to import it otherwise.
    const ALREADY_EXISTS: &'static [&'static str] = &[];
    /// The resource holding this one's unique name, with its tags (id, key/value pairs), for
    /// types with [`AwsResource::ALREADY_EXISTS`] codes.
    async fn named_existing(&self, aws: &Clients) -> Result<Option<(String, Vec<(String, String)>)>, ProviderError> {
        let _ = aws;
        Ok(None)
    }
    /// Resources interrupted runs made for this one and never recorded, found by their
    /// ownership tags through the type's own API (for types with no name AWS keeps unique, which
    /// the Resource Groups Tagging API may not list either): their ids, none of
    /// [`OpContext::keep`]. Asked before a create only when state's journal says such a leftover
    /// is possible, and again after it: the first is adopted, the others are copies (a create
    /// retried after a lost answer, or one still travelling when its process died) and are
    /// deleted, so nothing tagged as this resource is left outside state.
    async fn find_leftovers(&self, aws: &Clients, ctx: &OpContext) -> Result<Vec<String>, ProviderError> {
        let _ = (aws, ctx);
        Ok(Vec::new())
    }
    /// What a sweep after the create deletes: every resource carrying this one's ownership tags
    /// but the one adopted or created (and [`OpContext::keep`]). The leftovers by default; a
    /// type that adopts only leftovers that already are what is desired (an immutable task
    /// definition revision) answers the others here too.
    async fn find_copies(&self, aws: &Clients, ctx: &OpContext) -> Result<Vec<String>, ProviderError> {
        self.find_leftovers(aws, ctx).await
    }
    /// Takes over resource `id`, which an interrupted run created for `self` and never recorded:
    /// reads it as it is, updates it in place to what is desired, and keeps the computed
    /// attributes (ARN, owner…) the read found.
    async fn adopt_id(&self, aws: &Clients, ctx: &OpContext, id: &str) -> Result<Applied, ProviderError> {
        let live = Self::read(aws, &[id.to_string()])
            .await?
            .pop()
            .flatten()
            .ok_or_else(|| ProviderError::not_found(format!("{}: {id} vanished while being adopted", Self::TYPE)))?;
        let mut applied = self.update(aws, ctx, id, &decode::<Self>(&live)?).await?;
        for attribute in Self::COMPUTED.iter().filter(|a| **a != "id") {
            if let Some(value) = live.get(*attribute) {
                applied.computed.entry(attribute.to_string()).or_insert_with(|| value.clone());
            }
        }
        Ok(applied)
    }
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
        let typed = checked::<R>(attributes)?;
        if !ctx.leftover_possible {
            return create_or_adopt_named(&typed, aws, ctx).await;
        }
        let mut leftovers = typed.find_leftovers(aws, ctx).await?;
        leftovers.retain(|id| !ctx.keep.contains(id));
        let applied = if leftovers.is_empty() {
            create_or_adopt_named(&typed, aws, ctx).await?
        } else {
            let id = leftovers.remove(0);
            tracing::info!(address = %ctx.address, id = %id, "adopting what an interrupted run created");
            typed.adopt_id(aws, ctx, &id).await?
        };
        // A create of the interrupted run still travelling when it died may have landed since.
        // The sweep failing must not lose what was made: it is recorded, and a copy left is
        // what `drift` reports as unmanaged.
        if let Err(e) = sweep_copies(&typed, aws, ctx, &applied.id).await {
            tracing::warn!(address = %ctx.address, error = %e, "copies of an interrupted run's create could not be removed; `clawform drift` lists them as unmanaged");
        }
        Ok(applied)
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

async fn create_or_adopt_named<R: AwsResource>(typed: &R, aws: &Clients, ctx: &OpContext) -> Result<Applied, ProviderError> {
    match typed.create(aws, ctx).await {
        Err(e) if R::ALREADY_EXISTS.iter().any(|code| e.has_code(code)) => adopt_named(typed, aws, ctx, e).await,
        other => other,
    }
}

/// Deletes every resource tagged as this one but `kept` and what state holds.
async fn sweep_copies<R: AwsResource>(typed: &R, aws: &Clients, ctx: &OpContext, kept: &str) -> Result<(), ProviderError> {
    let mut copies = typed.find_copies(aws, ctx).await?;
    copies.retain(|id| id != kept && !ctx.keep.contains(id));
    for id in copies {
        remove_copy::<R>(aws, ctx, &id).await?;
    }
    Ok(())
}

/// Deletes `id`, a second resource carrying this one's ownership tags that state will not
/// hold: read first, since a delete may need what it is attached to (an internet gateway's VPC).
async fn remove_copy<R: AwsResource>(aws: &Clients, ctx: &OpContext, id: &str) -> Result<(), ProviderError> {
    let Some(prior) = R::read(aws, &[id.to_string()]).await?.pop().flatten() else { return Ok(()) };
    tracing::warn!(address = %ctx.address, id = %id, "deleting a copy an interrupted run made");
    R::delete(aws, id, &prior).await.map_err(|e| e.map_message(|m| format!("{}: deleting `{id}`, a copy of it an interrupted run made: {m}", ctx.address)))
}

/// A create refused because the name is taken: the resource holding it is adopted when its
/// ownership tags name this resource, and the refusal says whose it is and how to import it
/// otherwise.
async fn adopt_named<R: AwsResource>(desired: &R, aws: &Clients, ctx: &OpContext, refusal: ProviderError) -> Result<Applied, ProviderError> {
    let Some((id, found_tags)) = desired.named_existing(aws).await? else { return Err(refusal) };
    match tags::taken(&found_tags, ctx) {
        tags::Taken::Ours => {
            tracing::info!(address = %ctx.address, id = %id, "adopting what an interrupted run created");
            desired.adopt_id(aws, ctx, &id).await
        }
        tags::Taken::Theirs(whose) => Err(refusal.map_message(|m| {
            format!(
                "{m}; `{id}` is {whose}: bring it under management with `clawform import {} {} {id}`, or give this resource another name",
                ctx.stack, ctx.address
            )
        })),
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
