//! Plans: what an apply would do, per address, as plain data that can be saved, shown, checked
//! and applied later.

use std::collections::{BTreeMap, BTreeSet};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use crate::diagnostic::StackError;
use crate::prepared::Expansion;
use crate::resolve::{ResolveError, Scope};
use crate::schema::Registry;
use crate::stack::{ResourceConfig, Stack};
use crate::state::State;

mod colours;

pub use colours::PlanColours;

/// The version of the plan file format written by this build.
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// What happens to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Nothing to do.
    NoOp,
    /// Create it.
    Create,
    /// Change it in place.
    Update,
    /// Delete it and create a new one (an attribute that forces a new resource changed).
    Replace,
    /// Delete it.
    Delete,
}

/// The planned change of one resource.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ResourceChange {
    /// Address in the stack.
    pub address: String,
    /// Terraform type name.
    #[serde(rename = "type")]
    pub type_name: String,
    /// What will happen.
    pub action: Action,
    /// Attributes in state before (sensitive ones as a digest), if it exists.
    pub before: Option<Json>,
    /// Attributes after (unknown ones null, sensitive ones as a digest), unless deleted.
    pub after: Option<Json>,
    /// Attributes known only after apply.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after_unknown: Vec<String>,
    /// Attributes that change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
    /// Changed attributes that force the replacement.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replace_because: Vec<String>,
    /// Attributes to show as `(sensitive)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive: Vec<String>,
    /// Computed attributes of the type (shown as known after apply on create).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub computed: Vec<String>,
    /// The desired configuration with references unresolved (absent for deletes).
    pub config: Option<ResourceConfig>,
    /// The id in state, if it exists.
    pub prior_id: Option<String>,
    /// A replacement that creates the new resource first, moves dependents to it, then deletes
    /// the old one (Terraform's `["create", "delete"]`); otherwise the old goes first.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create_before_destroy: bool,
    /// The delete of a superseded resource left by an interrupted create-before-destroy.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deposed: bool,
}

/// An output's change.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutputChange {
    /// The value in state.
    pub before: Option<Json>,
    /// The value after, if known now.
    pub after: Option<Json>,
    /// Whether the value is known only after apply.
    pub after_unknown: bool,
}

/// A whole plan for one stack.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Plan {
    /// Format of a saved plan.
    pub format_version: u32,
    /// The stack it is for.
    pub stack: String,
    /// Whether this plan destroys the stack.
    pub destroy: bool,
    /// Lineage of the state the plan was made from (None: no state yet).
    pub prior_lineage: Option<String>,
    /// Serial of the state the plan was made from (None: no state yet).
    pub prior_serial: Option<u64>,
    /// Parameter values; sensitive ones only as a digest.
    pub params: IndexMap<String, Json>,
    /// Parameters given explicitly (not defaults, never secrets): recorded in state so that the
    /// next plan uses them again.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub param_overrides: IndexMap<String, Json>,
    /// Instances of each resource with `count`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub counts: BTreeMap<String, usize>,
    /// Names of the sensitive parameters: their values must be given again to apply.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive_params: Vec<String>,
    /// Changes by address, sorted by address.
    pub changes: Vec<ResourceChange>,
    /// Output configuration, references unresolved.
    pub outputs: IndexMap<String, Json>,
    /// How outputs change.
    pub output_changes: IndexMap<String, OutputChange>,
    /// Outputs of other stacks read at plan time.
    #[serde(default)]
    pub external_outputs: BTreeMap<String, IndexMap<String, Json>>,
    /// Things the plan does not refuse but a reader should know (capacity, for instance).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Live resources carrying this stack's ownership tags at an address the plan creates,
    /// which state does not hold (state restored from an older copy or edited by hand, or a
    /// create cut off before state had a journal), found by the refresh the plan was made
    /// with: the apply adopts them instead of creating duplicates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adoptable: Vec<crate::provider::Owned>,
    /// Resources this plan creates or replaces from secret parameters whose values were not
    /// given: the plan shows them (secrets are never in a plan anyway), but applying it needs
    /// the values (see [`Plan::sensitive_params`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs_secrets: Vec<String>,
}

/// Counts for the summary line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Summary {
    /// Resources to create (replacements count here too).
    pub add: usize,
    /// Resources to change in place.
    pub change: usize,
    /// Resources to delete (replacements count here too).
    pub destroy: usize,
}

impl Plan {
    /// Records the resources a refresh found tagged as this stack's but missing from state
    /// (`unmanaged`, of any stacks) that the plan creates at their address, for the apply to
    /// adopt.
    pub fn adopt_unmanaged(&mut self, unmanaged: &[crate::provider::Owned]) {
        let creates = |address: &str| self.change(address).is_some_and(|c| matches!(c.action, Action::Create | Action::Replace));
        let found: Vec<crate::provider::Owned> = unmanaged.iter().filter(|o| o.stack == self.stack && creates(&o.address)).cloned().collect();
        self.adoptable = found;
    }

    /// Counts of creates, in-place updates and deletes, as Terraform counts them.
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                Action::Create => s.add += 1,
                Action::Update => s.change += 1,
                Action::Replace => {
                    s.add += 1;
                    s.destroy += 1
                }
                Action::Delete => s.destroy += 1,
                Action::NoOp => {}
            }
        }
        s
    }

    /// Whether applying the plan would change anything (resources or outputs).
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action != Action::NoOp) || !self.output_changes.is_empty()
    }

    /// The change at `address`.
    pub fn change(&self, address: &str) -> Option<&ResourceChange> {
        self.changes.iter().find(|c| c.address == address)
    }
}

/// Why a plan could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The stack is not valid.
    #[error(transparent)]
    Stack(#[from] StackError),
    /// A reference could not be resolved.
    #[error("{address}: {source}")]
    Resolve {
        /// The resource or output.
        address: String,
        /// Why.
        source: ResolveError,
    },
    /// State belongs to another stack.
    #[error("state is for stack `{found}`, not `{expected}`")]
    WrongState {
        /// The stack planned.
        expected: String,
        /// The stack named in state.
        found: String,
    },
}

/// A digest standing for a sensitive value in state and plans: enough to tell that it changed.
pub fn sensitive_digest(value: &Json, key: &str) -> Json {
    let mut hasher = Sha256::new();
    hasher.update(key.as_bytes());
    hasher.update([0]);
    hasher.update(value.to_string().as_bytes());
    Json::String(format!("sha256:{}", hex::encode(hasher.finalize())))
}

/// Replaces sensitive top-level attributes by their digest.
pub fn mask_sensitive(attributes: &mut Json, sensitive: &[&str], key: &str) {
    if let Json::Object(map) = attributes {
        for name in sensitive {
            if let Some(v) = map.get_mut(*name) {
                if !v.is_null() && !is_digest(v) {
                    *v = sensitive_digest(v, key);
                }
            }
        }
    }
}

fn is_digest(v: &Json) -> bool {
    v.as_str().is_some_and(|s| s.starts_with("sha256:") && s.len() == 71)
}

/// Plans `stack` against `state`: what to create, change, replace and delete.
pub fn plan(stack: &Stack, registry: &Registry, state: Option<&State>, external: BTreeMap<String, IndexMap<String, Json>>) -> Result<Plan, PlanError> {
    if let Some(s) = state {
        if s.stack != stack.name {
            return Err(PlanError::WrongState { expected: stack.name.clone(), found: s.stack.clone() });
        }
    }
    // Checked, expanded and ordered as `stack.check`, `stack.expand` and `Graph::build` would,
    // reusing an earlier plan's work on the same resources (every tenant of a rollout).
    let expansion = stack.prepare(registry, state)?;
    let sensitive_params = stack.sensitive_params();
    let mut planner = ResourcePlanner {
        stack,
        registry,
        state,
        expansion: &expansion,
        key: state.map_or(String::new(), |s| s.lineage.clone()),
        scope: initial_scope(stack, state, &expansion, external, &sensitive_params)?,
        needs_secrets: vec![],
    };
    let mut changes = Vec::new();
    for address in expansion.graph.order() {
        changes.push(planner.plan_resource(address)?);
    }
    if let Some(s) = state {
        changes.extend(removed_changes(s, &expansion.resources, registry));
    }
    let mut warnings = vec![];
    if !stack.targets.is_empty() {
        let kept = targeted(&stack.targets, &expansion.graph);
        changes.retain(|c| kept.contains(&c.address) || stack.targets.iter().any(|t| names(t, &c.address)));
        warnings.push(format!(
            "Resource targeting is in effect: this plan covers only {} and what they depend on, so it may not be the whole change the stack needs. Use --target for exceptional cases (a fix, a failed apply), not routinely.",
            stack.targets.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ")
        ));
    }
    changes.sort_by(|a, b| a.address.cmp(&b.address));
    let output_changes = output_changes(stack, state, &planner.scope, &expansion)?;
    let ResourcePlanner { scope, key, needs_secrets, .. } = planner;
    if !needs_secrets.is_empty() {
        let withheld: Vec<&String> = sensitive_params.iter().filter(|p| scope.withheld.contains(*p)).collect();
        warnings.push(format!(
            "{} must be created from secret parameter(s) {} whose values were not given: this plan shows what would be made, and applying it needs them",
            needs_secrets.join(", "),
            withheld.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")
        ));
    }
    let Scope { params: mut stored_params, external, counts, .. } = scope;
    for name in &sensitive_params {
        if let Some(v) = stored_params.get_mut(name) {
            *v = sensitive_digest(v, &key);
        }
    }
    Ok(Plan {
        format_version: PLAN_FORMAT_VERSION,
        stack: stack.name.clone(),
        destroy: false,
        prior_lineage: state.map(|s| s.lineage.clone()),
        prior_serial: state.map(|s| s.serial),
        params: stored_params,
        param_overrides: stack.param_overrides.iter().filter(|(k, _)| !sensitive_params.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect(),
        counts,
        sensitive_params,
        changes,
        outputs: expansion.outputs.clone(),
        output_changes,
        external_outputs: external,
        warnings,
        adoptable: vec![],
        needs_secrets,
    })
}

/// Whether the target `target` names `address`: itself, or one instance of a resource with
/// `count` (`listener` names `listener[0]`, `listener[1]`…).
fn names(target: &str, address: &str) -> bool {
    address == target || (!target.contains('[') && crate::stack::source_address(address) == target)
}

/// The addresses `--target` plans: the targets and, transitively, what they depend on.
fn targeted(targets: &BTreeSet<String>, graph: &crate::graph::Graph) -> BTreeSet<String> {
    let mut kept = BTreeSet::new();
    let mut next: Vec<String> = graph.order().iter().filter(|a| targets.iter().any(|t| names(t, a))).cloned().collect();
    while let Some(address) = next.pop() {
        if kept.insert(address.clone()) {
            next.extend(graph.dependencies(&address));
        }
    }
    kept
}

/// What a plan resolves against at first: parameters, other stacks' outputs, counts, and of the
/// state only the attributes that templates read. The scope owns the parameters, outputs and
/// counts until the plan takes them at the end.
fn initial_scope(
    stack: &Stack,
    state: Option<&State>,
    expansion: &Expansion,
    external: BTreeMap<String, IndexMap<String, Json>>,
    sensitive_params: &[String],
) -> Result<Scope, PlanError> {
    let params = stack.param_values()?;
    let withheld = sensitive_params.iter().filter(|p| !params.contains_key(*p)).cloned().collect();
    let mut scope = Scope { params, external, withheld, counts: expansion.counts.clone(), ..Scope::default() };
    if let Some(s) = state {
        // Only the attributes that templates read: a copy of every attribute of every resource
        // was a tenth of a plan, and the whole attributes go into the plan's `before` anyway.
        for r in &s.resources {
            let read = expansion.referenced.get(crate::stack::source_address(&r.address));
            scope.resources.insert(r.address.clone(), only(&r.attributes, read));
        }
    }
    Ok(scope)
}

/// Plans the stack's resources one at a time, in dependency order: each one's resolved
/// attributes go into the scope the next ones resolve against.
struct ResourcePlanner<'a> {
    stack: &'a Stack,
    registry: &'a Registry,
    state: Option<&'a State>,
    expansion: &'a Expansion,
    /// The salt of sensitive digests: the state's lineage.
    key: String,
    scope: Scope,
    /// Creates and replaces that need secrets not given.
    needs_secrets: Vec<String>,
}

impl ResourcePlanner<'_> {
    /// The change of the resource at `address`: resolved, checked with the parameter values
    /// given, compared with state.
    fn plan_resource(&mut self, address: &String) -> Result<ResourceChange, PlanError> {
        let config = &self.expansion.resources[address];
        let kind = self.registry.get(&config.type_name).expect("checked by stack.check");
        let resolved = self
            .scope
            .resolve_attributes_parsed(&config.attributes, Some(&self.expansion.templates))
            .map_err(|source| PlanError::Resolve { address: address.clone(), source })?;
        let (mut after, mut unknown) = (resolved.values, resolved.unknown);
        if unknown.is_empty() && resolved.withheld.is_empty() {
            self.recheck_with_params(address, config, kind.as_ref(), &after)?;
        } else {
            // What is known is checked now too: the unknown and withheld attributes keep their
            // templates, which checks skip, so a bad name from a parameter is refused even on a
            // resource that references one not created yet (a capacity provider named from
            // `--param name=ecs…` that reads the Auto Scaling group's ARN).
            let mut partly = after.clone();
            if let (Json::Object(values), Json::Object(written)) = (&mut partly, &config.attributes) {
                for key in unknown.iter().chain(&resolved.withheld) {
                    if let Some(template) = written.get(key) {
                        values.insert(key.clone(), template.clone());
                    }
                }
            }
            self.recheck_with_params(address, config, kind.as_ref(), &partly)?;
        }
        mask_sensitive(&mut after, kind.sensitive(), &self.key);
        let prior = self.state.and_then(|s| s.get(address));
        // What uses a secret not given this time keeps the value it was applied with.
        if !resolved.withheld.is_empty() {
            let kept = prior.filter(|p| p.type_name == config.type_name);
            for attribute in &resolved.withheld {
                if let (Some(p), Json::Object(a)) = (kept, &mut after) {
                    a.insert(attribute.clone(), p.attributes.get(attribute).cloned().unwrap_or(Json::Null));
                }
            }
            if kept.is_none() {
                // Shown as "(sensitive) known after apply": what a policy check of a new
                // tenant reads needs no secret, and applying is refused until it is given.
                unknown.extend(resolved.withheld.iter().cloned());
                self.needs_secrets.push(address.clone());
            }
        }
        let mut change = ResourceChange {
            address: address.clone(),
            type_name: config.type_name.clone(),
            action: Action::Create,
            before: prior.map(|p| p.attributes.clone()),
            // Set once compared with the state below (not copied for the comparison).
            after: None,
            after_unknown: unknown.iter().cloned().collect(),
            changed: vec![],
            replace_because: vec![],
            sensitive: kind.sensitive().iter().map(|s| s.to_string()).collect(),
            computed: kind.computed().iter().map(|s| s.to_string()).collect(),
            config: Some(config.clone()),
            prior_id: prior.map(|p| p.id.clone()),
            create_before_destroy: false,
            deposed: false,
        };
        match prior {
            None => {
                self.scope.unknown.insert(address.clone());
            }
            Some(p) if p.type_name != config.type_name => {
                change.action = Action::Replace;
                change.replace_because = vec!["type".into()];
                self.scope.unknown.insert(address.clone());
            }
            Some(p) => self.compare_with_prior(&mut change, kind.as_ref(), p, &after, &unknown, !resolved.withheld.is_empty())?,
        }
        change.after = Some(after);
        Ok(change)
    }

    /// Values that came from parameters were not known when the stack loaded: checks them now,
    /// so that a bad `--param` is refused before any AWS call, at its place in the file.
    fn recheck_with_params(&self, address: &str, config: &ResourceConfig, kind: &dyn crate::schema::ResourceKind, after: &Json) -> Result<(), PlanError> {
        let Ok(body) = serde_yaml::to_value(after) else { return Ok(()) };
        let Err(errors) = kind.check(body) else { return Ok(()) };
        let diagnostics = errors
            .into_iter()
            .map(|e| {
                self.stack.diag_value(
                    &format!("resources.{}.{}", crate::stack::source_address(address), e.path),
                    format!("{} `{address}`: {} (with the parameter values given)", config.type_name, e.message),
                )
            })
            .collect();
        Err(PlanError::Stack(StackError::Invalid(diagnostics)))
    }

    /// Sets the action of a resource state holds (no-op, update or replace, and why) and what
    /// the resources after it see of it.
    fn compare_with_prior(
        &mut self,
        change: &mut ResourceChange,
        kind: &dyn crate::schema::ResourceKind,
        p: &crate::state::StateResource,
        after: &Json,
        unknown: &BTreeSet<String>,
        withholds_secrets: bool,
    ) -> Result<(), PlanError> {
        let address = &change.address;
        let changed = changed_attributes(after, unknown, &p.attributes, &change.computed);
        let mut forcing: Vec<String> = changed.iter().filter(|a| forces_new(kind.force_new(), a, &p.attributes, after, unknown)).cloned().collect();
        // `--replace ADDRESS`: replaced though nothing forces it (or nothing changed at all).
        if self.stack.replace.iter().any(|r| names(r, address)) {
            forcing.push("--replace".into());
        }
        change.action = if changed.is_empty() && forcing.is_empty() {
            Action::NoOp
        } else if forcing.is_empty() {
            Action::Update
        } else {
            Action::Replace
        };
        if change.action == Action::Replace && withholds_secrets {
            self.needs_secrets.push(address.clone());
        }
        if change.action == Action::Replace {
            change.create_before_destroy = may_create_first(kind.create_before_destroy(), &p.attributes, after, unknown);
        }
        change.changed = changed;
        change.replace_because = forcing;
        match change.action {
            Action::Replace => {
                self.scope.unknown.insert(address.clone());
            }
            Action::Update => {
                let mut merged = p.attributes.clone();
                if let (Json::Object(m), Json::Object(a)) = (&mut merged, after) {
                    for (k, v) in a {
                        if !unknown.contains(k) {
                            m.insert(k.clone(), v.clone());
                        }
                    }
                }
                self.scope.resources.insert(address.clone(), merged);
            }
            _ => {}
        }
        Ok(())
    }
}

/// Deletes of what state holds and the stack no longer declares, and of deposed resources.
fn removed_changes<'a>(state: &'a State, resources: &'a IndexMap<String, ResourceConfig>, registry: &'a Registry) -> impl Iterator<Item = ResourceChange> + 'a {
    let gone = state.resources.iter().filter(|r| !resources.contains_key(&r.address)).map(|r| delete_change(r, registry));
    gone.chain(state.deposed.iter().map(|r| deposed_change(r, registry)))
}

/// The outputs that change: resolved where known, unknown until apply otherwise, and those
/// state holds that the stack no longer declares.
fn output_changes(stack: &Stack, state: Option<&State>, scope: &Scope, expansion: &Expansion) -> Result<IndexMap<String, OutputChange>, PlanError> {
    let mut output_changes = IndexMap::new();
    for (name, value) in &expansion.outputs {
        let after = scope
            .resolve_known_parsed(value, Some(&expansion.templates))
            .map_err(|source| PlanError::Resolve { address: format!("output `{name}`"), source })?;
        let before = state.and_then(|s| s.outputs.get(name).cloned());
        if before != after || after.is_none() {
            output_changes.insert(name.clone(), OutputChange { before, after_unknown: after.is_none(), after });
        }
    }
    if let Some(s) = state {
        for (name, before) in &s.outputs {
            if !stack.outputs.contains_key(name) {
                output_changes.insert(name.clone(), OutputChange { before: Some(before.clone()), after: None, after_unknown: false });
            }
        }
    }
    Ok(output_changes)
}

/// The attributes named in `keys` (none without keys); a value that is not a JSON object as it is.
fn only(attributes: &Json, keys: Option<&BTreeSet<String>>) -> Json {
    match attributes {
        Json::Object(all) => Json::Object(keys.into_iter().flatten().filter_map(|k| all.get(k).map(|v| (k.clone(), v.clone()))).collect()),
        other => other.clone(),
    }
}

/// Plans the deletion of everything in `state`.
pub fn plan_destroy(state: &State, registry: &Registry) -> Plan {
    let mut changes: Vec<ResourceChange> =
        state.resources.iter().map(|r| delete_change(r, registry)).chain(state.deposed.iter().map(|r| deposed_change(r, registry))).collect();
    changes.sort_by(|a, b| a.address.cmp(&b.address));
    let output_changes = state.outputs.iter().map(|(k, v)| (k.clone(), OutputChange { before: Some(v.clone()), after: None, after_unknown: false })).collect();
    Plan {
        format_version: PLAN_FORMAT_VERSION,
        stack: state.stack.clone(),
        destroy: true,
        prior_lineage: Some(state.lineage.clone()),
        prior_serial: Some(state.serial),
        params: state.params.clone(),
        // A destroyed stack keeps no recorded parameters (a destroyed tenant holds no shard).
        param_overrides: IndexMap::new(),
        counts: BTreeMap::new(),
        sensitive_params: vec![],
        changes,
        outputs: IndexMap::new(),
        output_changes,
        external_outputs: BTreeMap::new(),
        warnings: vec![],
        adoptable: vec![],
        needs_secrets: vec![],
    }
}

fn delete_change(r: &crate::state::StateResource, registry: &Registry) -> ResourceChange {
    let sensitive = registry.get(&r.type_name).map(|k| k.sensitive().iter().map(|s| s.to_string()).collect()).unwrap_or_default();
    ResourceChange {
        address: r.address.clone(),
        type_name: r.type_name.clone(),
        action: Action::Delete,
        before: Some(r.attributes.clone()),
        after: None,
        after_unknown: vec![],
        changed: vec![],
        replace_because: vec![],
        sensitive,
        computed: vec![],
        config: None,
        prior_id: Some(r.id.clone()),
        create_before_destroy: false,
        deposed: false,
    }
}

/// The delete of an old resource a create-before-destroy replacement superseded. Its address
/// names it apart from the live resource at the same address.
fn deposed_change(r: &crate::state::StateResource, registry: &Registry) -> ResourceChange {
    ResourceChange { address: format!("{} (deposed {})", r.address, r.id), deposed: true, ..delete_change(r, registry) }
}

/// Whether a replacement can create the new resource before deleting the old: the type allows
/// it and the two would not collide (some key attribute differs, or is not known yet and so
/// comes from another new resource).
fn may_create_first(rule: Option<&[&str]>, before: &Json, after: &Json, unknown: &BTreeSet<String>) -> bool {
    match rule {
        None => false,
        Some(keys) => {
            keys.is_empty()
                || keys.iter().any(|k| unknown.contains(*k) || !same_value(before.get(*k).unwrap_or(&Json::Null), after.get(*k).unwrap_or(&Json::Null)))
        }
    }
}

/// Whether a change of top-level attribute `attribute` forces a new resource: the attribute is
/// in `force_new`, or a nested path under it is (`block.field`, through lists of blocks) and
/// the values there differ or are not known yet.
fn forces_new(force_new: &[&str], attribute: &str, before: &Json, after: &Json, unknown: &BTreeSet<String>) -> bool {
    force_new.iter().any(|entry| match entry.split_once('.') {
        None => *entry == attribute,
        Some((top, rest)) if top == attribute => {
            unknown.contains(attribute)
                || values_at(before.get(attribute).unwrap_or(&Json::Null), rest) != values_at(after.get(attribute).unwrap_or(&Json::Null), rest)
        }
        Some(_) => false,
    })
}

/// The values at a dotted path, stepping into every item of a list on the way.
fn values_at(value: &Json, path: &str) -> Vec<Json> {
    match value {
        Json::Array(items) => items.iter().flat_map(|v| values_at(v, path)).collect(),
        _ => match path.split_once('.') {
            None => value.get(path).filter(|v| !v.is_null()).cloned().into_iter().collect(),
            Some((key, rest)) => value.get(key).map_or(vec![], |v| values_at(v, rest)),
        },
    }
}

/// Top-level attributes whose desired value differs from state. Computed attributes and `id`
/// are the cloud's, not the user's, so they are never compared.
fn changed_attributes(after: &Json, unknown: &BTreeSet<String>, before: &Json, computed: &[String]) -> Vec<String> {
    let mut keys: BTreeSet<&String> = BTreeSet::new();
    if let Json::Object(a) = after {
        keys.extend(a.keys());
    }
    if let Json::Object(b) = before {
        keys.extend(b.keys().filter(|k| k.as_str() != "id" && !computed.contains(k)));
    }
    keys.into_iter()
        .filter(|k| {
            if unknown.contains(*k) {
                return true;
            }
            let a = after.get(k.as_str()).unwrap_or(&Json::Null);
            let b = before.get(k.as_str()).unwrap_or(&Json::Null);
            !same_value(a, b)
        })
        .cloned()
        .collect()
}

/// Equality where an absent value, null, an empty list and an empty map are all "unset".
fn same_value(a: &Json, b: &Json) -> bool {
    let empty = |v: &Json| match v {
        Json::Null => true,
        Json::Array(x) => x.is_empty(),
        Json::Object(x) => x.is_empty(),
        _ => false,
    };
    (empty(a) && empty(b)) || a == b
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_nested_force_new_field_forces_only_when_it_changes() {
        let force_new = ["name", "auto_scaling_group_provider.auto_scaling_group_arn"];
        let before = json!({"auto_scaling_group_provider": [{"auto_scaling_group_arn": "arn:a", "managed_termination_protection": "ENABLED"}]});
        let scaling_only = json!({"auto_scaling_group_provider": [{"auto_scaling_group_arn": "arn:a", "managed_termination_protection": "DISABLED"}]});
        let new_group = json!({"auto_scaling_group_provider": [{"auto_scaling_group_arn": "arn:b", "managed_termination_protection": "ENABLED"}]});
        let none = BTreeSet::new();
        assert!(!forces_new(&force_new, "auto_scaling_group_provider", &before, &scaling_only, &none));
        assert!(forces_new(&force_new, "auto_scaling_group_provider", &before, &new_group, &none));
        let unknown = BTreeSet::from(["auto_scaling_group_provider".to_string()]);
        assert!(forces_new(&force_new, "auto_scaling_group_provider", &before, &json!({"auto_scaling_group_provider": null}), &unknown));
        assert!(forces_new(&force_new, "name", &before, &before, &none));
        assert!(!forces_new(&force_new, "tags", &before, &before, &none));
    }
}
