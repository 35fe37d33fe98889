//! What planning derives from a stack's resources and outputs alone, kept for the next plan of
//! the same resources and outputs: a rollout plans one template for every tenant, and the
//! checks of names, types and references, the expansion of counts and the dependency graph
//! came out the same for each while costing a third of each plan.
//!
//! Clones of a stack share the memo (as they share the source map). It is used only when the
//! stack still has the resources, outputs and declared parameters it was made from (compared
//! in order, so a stack changed after loading is worked out again) and the same registry, and
//! it holds only what succeeded. What depends on parameter values is never taken from it: the
//! checks of counts and the registry's checks across resources run for every plan, and the
//! expansion is reused only for the same instance counts and the same choices of conditionals
//! (`${param.X ? A : B}` reads parameter values: a tenant with another value gets its own).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value as Json;

use super::{ResourceConfig, Stack};
use crate::diagnostic::StackError;
use crate::graph::Graph;
use crate::schema::Registry;
use crate::state::State;

/// A stack's resources expanded for given instance counts, and their dependency graph.
#[derive(Debug)]
pub(crate) struct Expansion {
    /// Instances of each resource with `count`.
    pub counts: BTreeMap<String, usize>,
    /// The resources with their instances in place of each resource with `count`.
    pub resources: IndexMap<String, ResourceConfig>,
    /// The dependency graph of `resources`.
    pub graph: Graph,
    /// The attributes the resources and outputs read of each resource, by name as written
    /// (`alb` for every `alb[N]`): a plan's scope needs these of the state, not all of it.
    pub referenced: BTreeMap<String, BTreeSet<String>>,
    /// The templates of the resources and outputs, parsed.
    pub templates: crate::resolve::Parsed,
    /// The outputs, with each conditional replaced by its chosen branch.
    pub outputs: IndexMap<String, Json>,
    /// Whether each parameter read as a condition was true.
    pub choices: BTreeMap<String, bool>,
}

/// Whether each of `conditions` is true for the stack's parameter values (absent: no value).
fn choices(stack: &Stack, conditions: &BTreeSet<String>) -> BTreeMap<String, bool> {
    if conditions.is_empty() {
        return BTreeMap::new();
    }
    let params = stack.param_values().unwrap_or_default();
    conditions.iter().filter_map(|c| params.get(c).map(|v| (c.clone(), crate::value::truthy(v)))).collect()
}

/// The attributes that `values` read of each resource, by name as written.
fn referenced_attributes<'a>(values: impl Iterator<Item = &'a Json>) -> BTreeMap<String, BTreeSet<String>> {
    let mut refs = Vec::new();
    for v in values {
        // Every template parsed when the stack was checked.
        let _ = crate::value::references_in(v, &mut refs);
    }
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in refs {
        if let crate::value::Reference::Resource { address, attribute } = r {
            out.entry(crate::stack::source_address(&address).to_string()).or_default().insert(attribute);
        }
    }
    out
}

struct Entry {
    resources: IndexMap<String, ResourceConfig>,
    outputs: IndexMap<String, Json>,
    params: Vec<String>,
    registry: Registry,
    /// Other stacks whose outputs the resources and outputs read.
    external: BTreeSet<String>,
    /// The parameters read as conditions.
    conditions: BTreeSet<String>,
    expansion: Arc<Expansion>,
}

impl Entry {
    fn fits(&self, stack: &Stack) -> bool {
        same_map(&self.resources, &stack.resources, same_config)
            && same_map(&self.outputs, &stack.outputs, same_json)
            && self.params.iter().eq(stack.params.keys())
    }
}

impl Stack {
    /// Checks the stack and expands it for `state` as [`Stack::check`], [`Stack::expand`] and
    /// [`Graph::build`] do, with the same errors, reusing what an earlier plan of the same
    /// resources and outputs found.
    pub(crate) fn prepare(&self, registry: &Registry, state: Option<&State>) -> Result<Arc<Expansion>, StackError> {
        if let Some(entry) = self.memo_entry().filter(|e| e.registry.is_same(registry)) {
            // Everything else the check looks at passed for these resources and outputs.
            let errors = self.param_errors(registry);
            if !errors.is_empty() {
                return Err(StackError::Invalid(errors));
            }
            let counts = self.instance_counts(state)?;
            if counts == entry.expansion.counts && choices(self, &entry.conditions) == entry.expansion.choices {
                return Ok(entry.expansion.clone());
            }
        }
        self.check(registry)?;
        let (expanded, counts) = self.expand_with(state, Some(registry))?;
        let graph = Graph::build(&expanded)?;
        let referenced = referenced_attributes(expanded.resources.values().map(|r| &r.attributes).chain(expanded.outputs.values()));
        let templates = crate::resolve::parse_templates(expanded.resources.values().map(|r| &r.attributes).chain(expanded.outputs.values()));
        let mut conditions = BTreeSet::new();
        for value in self.resources.values().map(|r| &r.attributes).chain(self.resources.values().filter_map(|r| r.count.as_ref())).chain(self.outputs.values())
        {
            crate::value::condition_params_in(value, &mut conditions);
        }
        let choices = choices(self, &conditions);
        let expansion = Arc::new(Expansion { counts, resources: expanded.resources, graph, referenced, templates, outputs: expanded.outputs, choices });
        let entry = Entry {
            resources: self.resources.clone(),
            outputs: self.outputs.clone(),
            params: self.params.keys().cloned().collect(),
            registry: registry.clone(),
            external: self.external_stacks_now(),
            conditions,
            expansion: expansion.clone(),
        };
        *self.prepared.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(entry) as Arc<dyn std::any::Any + Send + Sync>);
        Ok(expansion)
    }

    /// Names of the other stacks whose outputs the stack's resources and outputs read.
    pub fn external_stacks(&self) -> BTreeSet<String> {
        match self.memo_entry() {
            Some(entry) => entry.external.clone(),
            None => self.external_stacks_now(),
        }
    }

    fn external_stacks_now(&self) -> BTreeSet<String> {
        crate::resolve::external_stacks(self.resources.values().map(|r| &r.attributes).chain(self.outputs.values()))
    }

    /// The memo's entry, if it was made from what the stack holds now.
    fn memo_entry(&self) -> Option<Arc<Entry>> {
        let slot = self.prepared.0.lock().unwrap_or_else(|e| e.into_inner()).clone()?;
        let entry = slot.downcast::<Entry>().ok()?;
        entry.fits(self).then_some(entry)
    }
}

/// Equal keys and values in the same order (`IndexMap`'s `==` ignores order, and order decides
/// the expansion's and the graph's).
fn same_map<V>(a: &IndexMap<String, V>, b: &IndexMap<String, V>, same: fn(&V, &V) -> bool) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|((ka, va), (kb, vb))| ka == kb && same(va, vb))
}

fn same_config(a: &ResourceConfig, b: &ResourceConfig) -> bool {
    a.type_name == b.type_name
        && same_json(&a.attributes, &b.attributes)
        && a.depends_on == b.depends_on
        && a.count.as_ref().zip(b.count.as_ref()).map_or(a.count.is_none() && b.count.is_none(), |(x, y)| same_json(x, y))
}

/// JSON equality that also compares the order of keys (the expansion keeps it).
fn same_json(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Object(a), Json::Object(b)) => a.len() == b.len() && a.iter().zip(b).all(|((ka, va), (kb, vb))| ka == kb && same_json(va, vb)),
        (Json::Array(a), Json::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_json(x, y)),
        _ => a == b,
    }
}
