//! The provider trait: what core asks of a cloud. The AWS provider implements it in
//! `clawform-aws`; core's tests implement it in memory.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value as Json};

/// Which resource an operation is for, so a provider can tag what it creates with its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpContext {
    /// The stack the resource belongs to.
    pub stack: String,
    /// The resource's address in the stack.
    pub address: String,
    /// Whether an earlier run may have created this resource without recording it (its
    /// create started and never completed: an error, a lost answer or a killed process), so a
    /// create looks for such a leftover before making a new one. `false` only when state's
    /// journal of started creates ([`crate::State::creating`]) proves nothing can be left:
    /// then the create skips those reads.
    pub leftover_possible: bool,
    /// Ids state holds for this address (the resource a create-before-destroy replace
    /// supersedes, or a deposed one): they carry the same ownership tags as a leftover, and
    /// are never taken for one, adopted or swept away.
    pub keep: Vec<String>,
    /// The idempotency token of this create ([`crate::State::create_token`]), for APIs that
    /// take one; `None` outside an apply (a create from a test or an import).
    pub client_token: Option<String>,
}

impl OpContext {
    /// The context of resource `address` of `stack`, for which leftovers are possible (the
    /// safe default: a create checks before making a new one).
    pub fn new(stack: impl Into<String>, address: impl Into<String>) -> OpContext {
        OpContext { stack: stack.into(), address: address.into(), leftover_possible: true, keep: Vec::new(), client_token: None }
    }
}

tokio::task_local! {
    /// Where a provider call running under the engine tells what it waits for.
    static WAITING: std::sync::Arc<dyn Fn(&str) + Send + Sync>;
}

/// Tells whoever runs this provider call (the engine, which shows it on the operation's
/// progress line) that it now waits for `what` ("network interfaces of the load balancer to
/// go"): AWS's asynchronous states and dependency windows can hold a call for minutes, and a
/// line that only says "Still destroying..." leaves the user guessing. Outside the engine, or
/// outside a task it started, nothing happens.
pub fn report_waiting(what: &str) {
    let _ = WAITING.try_with(|tell| tell(what));
}

/// Runs `call` with `tell` receiving its [`report_waiting`] notices.
pub(crate) async fn with_waiting<F: std::future::Future>(tell: std::sync::Arc<dyn Fn(&str) + Send + Sync>, call: F) -> F::Output {
    WAITING.scope(tell, call).await
}

/// The outcome of a create or update.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The cloud's id of the resource.
    pub id: String,
    /// Attributes the cloud assigned (ARNs, DNS names, owner ids…).
    pub computed: Map<String, Json>,
}

impl Applied {
    /// A resource the cloud knows by `id` and `arn` (both recorded; most AWS types have both).
    pub fn with_arn(id: impl Into<String>, arn: impl Into<String>) -> Applied {
        let mut computed = Map::new();
        computed.insert("arn".into(), Json::String(arn.into()));
        Applied { id: id.into(), computed }
    }

    /// This outcome with one more computed attribute.
    pub fn with(mut self, attribute: &str, value: Json) -> Applied {
        self.computed.insert(attribute.to_string(), value);
        self
    }
}

/// What kind of failure a provider met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The resource does not exist.
    NotFound,
    /// The attributes were refused before any call (a bug or a missed check).
    Invalid,
    /// The cloud refused or failed the call.
    Api,
}

/// A failed provider operation, with a message fit for a user and what a caller needs to decide
/// what to do about it: the cloud's error code, whether trying again may help, and the error it
/// came from.
#[derive(Debug, Clone)]
pub struct ProviderError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// What happened, naming the call.
    pub message: String,
    /// The cloud's own error code (`DependencyViolation`, `ThrottlingException`…), when it gave
    /// one. Retry and adoption decisions read this, never the message text.
    pub code: Option<String>,
    /// Whether the same call may succeed if tried again later (throttling, a service fault, a
    /// documented transient condition).
    pub retryable: bool,
    /// The cloud's id of the failed request, for a support case.
    pub request_id: Option<String>,
    /// The error this one came from (the SDK's), kept for `source()` chains and logs. It is
    /// dropped where it might echo a secret value.
    pub source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl ProviderError {
    fn of_kind(kind: ErrorKind, message: String) -> ProviderError {
        ProviderError { kind, message, code: None, retryable: false, request_id: None, source: None }
    }

    /// A cloud error.
    pub fn api(message: impl Into<String>) -> ProviderError {
        ProviderError::of_kind(ErrorKind::Api, message.into())
    }

    /// The resource is gone.
    pub fn not_found(message: impl Into<String>) -> ProviderError {
        ProviderError::of_kind(ErrorKind::NotFound, message.into())
    }

    /// Bad attributes.
    pub fn invalid(message: impl Into<String>) -> ProviderError {
        ProviderError::of_kind(ErrorKind::Invalid, message.into())
    }

    /// This error with the cloud's error `code`.
    pub fn with_code(mut self, code: impl Into<String>) -> ProviderError {
        self.code = Some(code.into());
        self
    }

    /// This error, marked as worth trying again or not.
    pub fn with_retryable(mut self, retryable: bool) -> ProviderError {
        self.retryable = retryable;
        self
    }

    /// This error with the cloud's request id.
    pub fn with_request_id(mut self, request_id: Option<String>) -> ProviderError {
        self.request_id = request_id;
        self
    }

    /// This error with the error it came from.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> ProviderError {
        self.source = Some(Arc::new(source));
        self
    }

    /// This error with its message rewritten by `f` (context added, a secret masked); the
    /// source is dropped, since it still holds the old text.
    pub fn map_message(mut self, f: impl FnOnce(String) -> String) -> ProviderError {
        self.message = f(std::mem::take(&mut self.message));
        self.source = None;
        self
    }

    /// Whether the cloud answered with error code `code`.
    pub fn has_code(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }
}

impl std::fmt::Display for ProviderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ProviderError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Two errors are equal when they say the same thing; the source error is not compared.
impl PartialEq for ProviderError {
    fn eq(&self, other: &Self) -> bool {
        (self.kind, &self.message, &self.code, self.retryable, &self.request_id)
            == (other.kind, &other.message, &other.code, other.retryable, &other.request_id)
    }
}

impl From<crate::value::Unresolved> for ProviderError {
    fn from(e: crate::value::Unresolved) -> Self {
        ProviderError::invalid(e.to_string())
    }
}

/// Tag naming the stack that owns a resource.
pub const STACK_TAG: &str = "clawform:stack";
/// Tag naming the resource's address in its stack.
pub const ADDRESS_TAG: &str = "clawform:address";

/// The `clawform:address` tag value of an address. Several services (ELBv2 among them) refuse
/// `[` and `]` in tag values, so the instance `alb[2]` is tagged `alb.2` (a `.` never occurs in
/// a stack address otherwise).
pub fn address_tag(address: &str) -> String {
    address.replace('[', ".").replace(']', "")
}

/// The tags AWS receives for a resource with `tags` (`tags_all`, as Terraform names the tags
/// with the provider's defaults): its own, and the ownership tags every create sets.
pub fn tags_all(tags: Option<&Json>, stack: &str, address: &str) -> Json {
    let mut all = match tags {
        Some(Json::Object(m)) => m.clone(),
        _ => serde_json::Map::new(),
    };
    all.insert(STACK_TAG.into(), Json::String(stack.to_string()));
    all.insert(ADDRESS_TAG.into(), Json::String(address_tag(address)));
    Json::Object(all)
}

/// A live resource that carries clawform's ownership tags.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Owned {
    /// Its `clawform:stack` tag.
    pub stack: String,
    /// Its `clawform:address` tag.
    pub address: String,
    /// Its ARN (or id, where the service has no ARN).
    pub arn: String,
}

impl Owned {
    /// Whether this live resource is the one state knows by `id` and `attributes`.
    pub fn matches(&self, id: &str, attributes: &Json) -> bool {
        let arn_in_state = attributes.get("arn").and_then(Json::as_str);
        self.arn == id || arn_in_state == Some(self.arn.as_str()) || self.arn.ends_with(&format!("/{id}")) || self.arn.ends_with(&format!(":{id}"))
    }
}

/// Creates, reads, updates and deletes resources of the types it registers.
///
/// Attributes passed in are resolved: no template is left in them. A provider tags every
/// resource it creates with `clawform:stack` and `clawform:address` in the create call itself.
#[async_trait]
pub trait Provider: Send + Sync {
    /// Creates a resource.
    async fn create(&self, ctx: &OpContext, type_name: &str, attributes: &Json) -> Result<Applied, ProviderError>;
    /// Changes a resource in place from `prior` to `attributes`.
    async fn update(&self, ctx: &OpContext, type_name: &str, id: &str, prior: &Json, attributes: &Json) -> Result<Applied, ProviderError>;
    /// Deletes a resource; deleting one already gone succeeds.
    async fn delete(&self, ctx: &OpContext, type_name: &str, id: &str, prior: &Json) -> Result<(), ProviderError>;
    /// Reads many resources of one type; `None` for each that no longer exists.
    async fn read(&self, type_name: &str, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError>;
    /// Takes over a live resource found by its ownership tags (left by an apply that crashed
    /// between the create and the state save) and brings it to `attributes`, instead of
    /// creating a duplicate.
    async fn adopt(&self, ctx: &OpContext, type_name: &str, found: &Owned, attributes: &Json) -> Result<Applied, ProviderError> {
        let _ = (ctx, found, attributes);
        Err(ProviderError::invalid(format!("this provider cannot adopt resources of type `{type_name}`")))
    }
    /// The id [`Provider::read`] takes for an id a user gives to `import` (the provider's
    /// documented import id, such as `CLUSTER/NAME` for an ECS service); most are the same.
    async fn import_id(&self, type_name: &str, id: &str) -> Result<String, ProviderError> {
        let _ = type_name;
        Ok(id.to_string())
    }
    /// Where the provider works (an AWS region): recorded in state at apply, and compared with
    /// it, so that a state is never read or applied against another region.
    fn region(&self) -> Option<String> {
        None
    }
    /// Live resources tagged as owned by any of `stacks` (for unmanaged-resource reports and
    /// adoption). `known` holds ids and ARNs already in state: those need no check that they
    /// still exist, which saves a read per type.
    async fn find_owned(&self, stacks: &[String], known: &std::collections::HashSet<String>) -> Result<Vec<Owned>, ProviderError> {
        let _ = (stacks, known);
        Ok(Vec::new())
    }
}
