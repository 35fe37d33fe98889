//! Resource types as core sees them: a typed struct per type, checked when a stack is loaded,
//! and a registry of the types a provider offers.
//!
//! Core defines the traits; the structs themselves live with the provider that implements them
//! (one module per type in `clawform-aws`), so adding a type is one module and one registry line.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// A problem with one attribute of a resource, found by a type's own checks.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// The attribute's path inside the resource, such as `cidr_block` or `ingress.0.from_port`.
    pub path: String,
    /// What was wrong and what was expected.
    pub message: String,
}

impl FieldError {
    /// An error about the attribute at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError { path: path.into(), message: message.into() }
    }
}

/// A resource type: a serde struct shaped like the Terraform AWS provider's resource.
///
/// Implementors use `#[serde(deny_unknown_fields)]` so a misspelt attribute is an error, and
/// [`crate::Val`] for each attribute that may hold a reference.
pub trait Resource: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The Terraform type name, such as `aws_vpc`.
    const TYPE: &'static str;
    /// Attributes the cloud assigns, known only after apply (`id` is always one).
    const COMPUTED: &'static [&'static str];
    /// Attributes whose change forces a new resource; `block.field` names a field inside a
    /// nested block (a list of objects) when only that field forces it.
    const FORCE_NEW: &'static [&'static str];
    /// Attributes never shown in plans or kept in state in clear.
    const SENSITIVE: &'static [&'static str] = &[];
    /// Whether a replacement may create the new resource before deleting the old one, and
    /// which attributes must then differ: `None` (the default) always deletes first (a name
    /// AWS keeps unique, an attachment that would be undone); `Some(keys)` creates first unless
    /// every one of `keys` is the same in the old and the new (they would collide: the same
    /// name, CIDR or port); `Some(&[])` always creates first.
    const CREATE_BEFORE_DESTROY: Option<&'static [&'static str]> = None;

    /// Checks on literal values beyond their types (CIDR blocks, ranges, lengths).
    fn validate(&self) -> Vec<FieldError> {
        Vec::new()
    }

    /// Reshapes attribute values (resolved, possibly partial) into the Terraform provider's
    /// shapes where this type's differ, for Terraform's JSON plan (`crate::tfjson`): a number
    /// Terraform writes as a string, text it holds base64-encoded. Most types need nothing.
    fn terraform_values(values: &mut serde_json::Value) {
        let _ = values;
    }

    /// The applied attributes (as state holds them) as AWS holds them, when the type sends AWS
    /// only part of what is written (a listener's action sends only the block its type names):
    /// drift compares what it reads with these. `None`: AWS holds them as they are.
    fn live_values(values: &serde_json::Value) -> Option<serde_json::Value> {
        let _ = values;
        None
    }
}

/// A decoded resource body failed to match its type.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeError {
    /// Path inside the resource of the offending attribute (empty for the whole resource).
    pub path: String,
    /// What serde or the type's checks said.
    pub message: String,
    /// Whether the path names a key (an unknown field) rather than a value.
    pub at_key: bool,
}

/// The object-safe face of a [`Resource`] type, used by the loader and the planner.
pub trait ResourceKind: Send + Sync {
    /// The Terraform type name.
    fn type_name(&self) -> &'static str;
    /// Checks a resource body against the type and returns its canonical JSON attributes.
    fn decode(&self, body: serde_yaml::Value) -> Result<serde_json::Value, Vec<DecodeError>>;
    /// Checks a resource body as [`ResourceKind::decode`] does, without building the canonical
    /// JSON: the planner checks resolved values this way and keeps them as they are.
    fn check(&self, body: serde_yaml::Value) -> Result<(), Vec<DecodeError>> {
        self.decode(body).map(|_| ())
    }
    /// Every attribute a reference may name: configurable ones and computed ones.
    fn attributes(&self) -> Vec<&'static str>;
    /// Attributes known only after apply.
    fn computed(&self) -> &'static [&'static str];
    /// Attributes whose change forces replacement.
    fn force_new(&self) -> &'static [&'static str];
    /// Attributes that are secret.
    fn sensitive(&self) -> &'static [&'static str];
    /// See [`Resource::terraform_values`].
    fn terraform_values(&self, values: &mut serde_json::Value) {
        let _ = values;
    }
    /// See [`Resource::live_values`].
    fn live_values(&self, values: &serde_json::Value) -> Option<serde_json::Value> {
        let _ = values;
        None
    }
    /// See [`Resource::CREATE_BEFORE_DESTROY`].
    fn create_before_destroy(&self) -> Option<&'static [&'static str]> {
        None
    }
}

/// Adapts a [`Resource`] struct to [`ResourceKind`].
pub struct Kind<R>(PhantomData<fn() -> R>);

impl<R> Default for Kind<R> {
    fn default() -> Self {
        Kind(PhantomData)
    }
}

impl<R: Resource> ResourceKind for Kind<R> {
    fn type_name(&self) -> &'static str {
        R::TYPE
    }

    fn create_before_destroy(&self) -> Option<&'static [&'static str]> {
        R::CREATE_BEFORE_DESTROY
    }

    fn decode(&self, body: serde_yaml::Value) -> Result<serde_json::Value, Vec<DecodeError>> {
        let typed = checked::<R>(body)?;
        serde_json::to_value(&typed).map_err(|e| vec![DecodeError { path: String::new(), message: e.to_string(), at_key: false }])
    }

    fn check(&self, body: serde_yaml::Value) -> Result<(), Vec<DecodeError>> {
        checked::<R>(body).map(drop)
    }

    fn attributes(&self) -> Vec<&'static str> {
        let mut all: Vec<&'static str> = serde_aux::serde_introspection::serde_introspect::<R>().to_vec();
        all.extend_from_slice(R::COMPUTED);
        all
    }

    fn computed(&self) -> &'static [&'static str] {
        R::COMPUTED
    }

    fn force_new(&self) -> &'static [&'static str] {
        R::FORCE_NEW
    }

    fn sensitive(&self) -> &'static [&'static str] {
        R::SENSITIVE
    }

    fn terraform_values(&self, values: &mut serde_json::Value) {
        R::terraform_values(values)
    }

    fn live_values(&self, values: &serde_json::Value) -> Option<serde_json::Value> {
        R::live_values(values)
    }
}

/// A resource body as the typed struct, after the type's own checks.
fn checked<R: Resource>(body: serde_yaml::Value) -> Result<R, Vec<DecodeError>> {
    // The path to what is wrong is tracked only once something is: tracking every step costs a
    // third of reading the body, and a body is read for every resource of every plan.
    let typed: R = R::deserialize(&body).or_else(|_| serde_path_to_error::deserialize(body)).map_err(|e| {
        let path = dotted(e.path());
        let message = e.inner().to_string();
        let at_key = message.starts_with("unknown field");
        let path = if at_key { join_unknown_field(&path, &message) } else { path };
        vec![DecodeError { path, message: readable(&strip_location(&message)), at_key }]
    })?;
    let errors = typed.validate();
    if !errors.is_empty() {
        return Err(errors.into_iter().map(|e| DecodeError { path: e.path, message: e.message, at_key: false }).collect());
    }
    Ok(typed)
}

/// The path as the source map names it (`ingress.0.from_port`); serde_path_to_error writes list
/// items as `ingress[0].from_port`, which the source map does not know.
fn dotted(path: &serde_path_to_error::Path) -> String {
    let segments: Vec<String> = path
        .iter()
        .map(|s| match s {
            serde_path_to_error::Segment::Seq { index } => index.to_string(),
            serde_path_to_error::Segment::Map { key } => key.clone(),
            serde_path_to_error::Segment::Enum { variant } => variant.clone(),
            serde_path_to_error::Segment::Unknown => "?".into(),
        })
        .collect();
    segments.join(".")
}

/// serde names the Rust type it expected (`expected struct HealthCheck`, `expected i32`); a
/// stack's author writes blocks and numbers, not Rust types.
pub(crate) fn readable(message: &str) -> String {
    if let Some(suggested) = unknown_field_hint(message) {
        return suggested;
    }
    if let Some(pos) = message.find("expected struct ") {
        return format!("{}expected a block of attributes (a mapping)", &message[..pos]);
    }
    const INTEGERS: [(&str, &str); 4] = [
        ("expected i32", "expected a whole number from -2147483648 to 2147483647"),
        ("expected i64", "expected a whole number"),
        ("expected u32", "expected a whole number from 0 to 4294967295"),
        ("expected u16", "expected a whole number from 0 to 65535"),
    ];
    match INTEGERS.iter().find(|(rust, _)| message.ends_with(rust)) {
        Some((rust, plain)) => format!("{}{plain}", &message[..message.len() - rust.len()]),
        None => message.to_string(),
    }
}

/// serde's "unknown field `cidr_blok`, expected one of `cidr_block`, …" with the field meant
/// first: "unknown field `cidr_blok`; did you mean `cidr_block`? (expected one of …)".
fn unknown_field_hint(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let (field, expected) = rest.split_once("`, expected ")?;
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    let meant = crate::suggest::did_you_mean(field, candidates.iter().copied())?;
    Some(format!("unknown field `{field}`; did you mean `{meant}`? (expected {expected})"))
}

/// Points an unknown field's path at the key itself. serde_path_to_error 0.1.20 already ends
/// the path with the key; older versions stopped at its parent.
pub(crate) fn join_unknown_field(path: &str, message: &str) -> String {
    let field = message.split('`').nth(1).unwrap_or("");
    if path == field || path.ends_with(&format!(".{field}")) {
        return path.to_string();
    }
    match (path.is_empty(), field.is_empty()) {
        (_, true) => path.to_string(),
        (true, false) => field.to_string(),
        (false, false) => format!("{path}.{field}"),
    }
}

fn strip_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(pos) => message[..pos].to_string(),
        None => message.to_string(),
    }
}

/// A check across the resources of a stack (a subnet inside its VPC's CIDR, a load balancer
/// over two zones…). It gets the stack's resources and its parameter values and returns, for each problem,
/// the dotted path it is about (such as `resources.subnet.cidr_block`) and a message.
pub type StackCheck =
    Arc<dyn Fn(&indexmap::IndexMap<String, ResourceConfig>, &indexmap::IndexMap<String, serde_json::Value>) -> Vec<(String, String)> + Send + Sync>;

/// The resource types a provider offers, by type name, and its checks across resources.
#[derive(Clone, Default)]
pub struct Registry {
    kinds: BTreeMap<&'static str, Arc<dyn ResourceKind>>,
    checks: Vec<StackCheck>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Adds the type `R`.
    pub fn register<R: Resource>(&mut self) -> &mut Self {
        self.kinds.insert(R::TYPE, Arc::new(Kind::<R>::default()));
        self
    }

    /// Adds a check that runs on every stack after its resources decode.
    pub fn add_stack_check(&mut self, check: StackCheck) -> &mut Self {
        self.checks.push(check);
        self
    }

    /// The checks across resources.
    pub fn stack_checks(&self) -> &[StackCheck] {
        &self.checks
    }

    /// Whether `other` is this registry or a clone of it: the same types and checks.
    pub fn is_same(&self, other: &Registry) -> bool {
        self.kinds.len() == other.kinds.len()
            && self.kinds.iter().zip(&other.kinds).all(|((a, x), (b, y))| a == b && Arc::ptr_eq(x, y))
            && self.checks.len() == other.checks.len()
            && self.checks.iter().zip(&other.checks).all(|(x, y)| Arc::ptr_eq(x, y))
    }

    /// The type named `name`, if it is registered.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn ResourceKind>> {
        self.kinds.get(name)
    }

    /// Every registered type name, sorted.
    pub fn type_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.kinds.keys().copied()
    }
}

/// One resource of a stack, with its attributes in canonical JSON (strings may be templates).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ResourceConfig {
    /// The Terraform type name.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Attributes as written, references unresolved.
    pub attributes: Json,
    /// Addresses this resource must wait for beyond those it references.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// `count`: how many instances (`NAME[0]`, `NAME[1]`…) to make: a number, `auto`, or
    /// `${param.X}` holding one of those. Absent: one resource at `NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<Json>,
}
