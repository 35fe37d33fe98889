//! Terraform's machine-readable plan format (`terraform show -json`, format version 1.2) made
//! from a [`Plan`], so that the policy tools of the Terraform ecosystem (checkov, OPA/conftest,
//! Infracost…) read clawform's plans as they read Terraform's.
//!
//! What maps how:
//! - addresses are Terraform's `TYPE.NAME` (`aws_vpc.vpc`), with `index` for an instance of a
//!   resource with `count` (`aws_lb.alb[0]`);
//! - actions are Terraform's lists: `["no-op"]`, `["create"]`, `["update"]`, `["delete"]`, and
//!   `["delete", "create"]` for a replace that deletes first, `["create", "delete"]` for one that
//!   creates first (where the type allows it and names do not collide); the delete of an old
//!   resource left by an interrupted create-before-destroy carries `deposed` (its id);
//! - values known only after apply are left out of `after` (or `null` inside a list) and marked
//!   `true` in `after_unknown`, at the depth where they are unknown: a security group rule that
//!   names a group still to be created keeps its ports in `after`;
//! - sensitive attributes are left out of `before`/`after` and marked `true` in
//!   `before_sensitive`/`after_sensitive` (clawform only holds their digest anyway);
//! - each type may reshape its values into the Terraform AWS provider's shapes
//!   ([`crate::ResourceKind::terraform_values`]).
//!
//! Core knows no cloud: the provider's registry name and the region come in [`TfOptions`].

use std::collections::{BTreeSet, HashMap};

use indexmap::IndexMap;
use serde_json::{json, Map, Value as Json};

use crate::plan::{Action, Plan, ResourceChange};
use crate::resolve::Scope;
use crate::schema::Registry;
use crate::value::Reference;

/// The `format_version` of the plan documents this module writes.
pub const FORMAT_VERSION: &str = "1.2";
/// The `format_version` of the state inside them (`prior_state`).
pub const STATE_FORMAT_VERSION: &str = "1.0";
/// Written as `terraform_version`: a Terraform release that writes this plan format, so that
/// tools which accept only the Terraform versions they know read the plan (terraform-compliance
/// takes `0.12.` to `1.16.` prefixes; OPA policies often ask for at least 1.x). Who really made
/// the plan is in `clawform_version`.
pub const COMPATIBLE_TERRAFORM_VERSION: &str = "1.10.0";

/// What the plan itself does not know.
#[derive(Debug, Clone)]
pub struct TfOptions {
    /// clawform's own version, written as `clawform_version` (`terraform_version` is
    /// [`COMPATIBLE_TERRAFORM_VERSION`]).
    pub version: String,
    /// Written as `timestamp` (RFC 3339).
    pub timestamp: String,
    /// The provider's registry name, such as `registry.terraform.io/hashicorp/aws`.
    pub provider_name: String,
    /// The provider's short name and configuration key, such as `aws`.
    pub provider_key: String,
    /// The region the plan is for, if known (the provider configuration's `region`).
    pub region: Option<String>,
}

/// A resource's instance value with the parts known only after apply marked.
enum Tv {
    Known(Json),
    Unknown,
    List(Vec<Tv>),
    Object(IndexMap<String, Tv>),
}

impl Tv {
    /// The value as Terraform writes `after`: unknown members left out, unknown items null.
    fn known(&self) -> Option<Json> {
        match self {
            Tv::Known(v) => Some(v.clone()),
            Tv::Unknown => None,
            Tv::List(items) => Some(Json::Array(items.iter().map(|i| i.known().unwrap_or(Json::Null)).collect())),
            Tv::Object(map) => Some(Json::Object(map.iter().filter_map(|(k, v)| v.known().map(|v| (k.clone(), v))).collect())),
        }
    }

    /// Terraform's `after_unknown` shape of the value.
    fn unknown_marks(&self) -> Json {
        match self {
            Tv::Known(v) => as_bool(v, &|_| false),
            Tv::Unknown => Json::Bool(true),
            Tv::List(items) => Json::Array(items.iter().map(Tv::unknown_marks).collect()),
            Tv::Object(map) => Json::Object(map.iter().map(|(k, v)| (k.clone(), v.unknown_marks())).filter(|(_, v)| *v != Json::Bool(false)).collect()),
        }
    }
}

/// Terraform's "as bool" shape of a known value (`unknownAsBool`, `sensitiveAsBool`): `false`
/// for a scalar, a list of marks for a list, an object holding only the members not `false`.
/// `top` says which top-level members are marked `true` as a whole.
fn as_bool(v: &Json, top: &dyn Fn(&str) -> bool) -> Json {
    match v {
        Json::Array(items) => Json::Array(items.iter().map(|i| as_bool(i, &|_| false)).collect()),
        Json::Object(map) => Json::Object(
            map.iter()
                .map(|(k, item)| (k.clone(), if top(k) { Json::Bool(true) } else { as_bool(item, &|_| false) }))
                .filter(|(_, m)| *m != Json::Bool(false))
                .collect(),
        ),
        _ => Json::Bool(false),
    }
}

/// Splits `alb[2]` into `alb` and the index (a number when it is one, as Terraform writes it).
fn split(address: &str) -> (&str, Option<Json>) {
    match (address.find('['), address.strip_suffix(']')) {
        (Some(open), Some(body)) => {
            let inner = &body[open + 1..];
            let index = inner.parse::<u64>().map(Json::from).unwrap_or_else(|_| Json::String(inner.trim_matches('"').to_string()));
            (&address[..open], Some(index))
        }
        _ => (address, None),
    }
}

/// The Terraform address of `address` of type `type_name`.
fn tf_address(type_name: &str, address: &str) -> String {
    match split(address) {
        (name, Some(Json::Number(n))) => format!("{type_name}.{name}[{n}]"),
        (name, Some(other)) => format!("{type_name}.{name}[{other}]"),
        (name, None) => format!("{type_name}.{name}"),
    }
}

/// Terraform's `actions` and `action_reason` of a change. `deleted_instance` says a delete is
/// of a `count` instance whose resource is still configured.
fn actions(c: &ResourceChange, destroy: bool, deleted_instance: bool) -> (Json, Option<&'static str>) {
    match c.action {
        Action::NoOp => (json!(["no-op"]), None),
        Action::Create => (json!(["create"]), None),
        Action::Update => (json!(["update"]), None),
        Action::Replace if c.create_before_destroy => (json!(["create", "delete"]), Some("replace_because_cannot_update")),
        Action::Replace => (json!(["delete", "create"]), Some("replace_because_cannot_update")),
        Action::Delete if destroy => (json!(["delete"]), None),
        Action::Delete if deleted_instance => (json!(["delete"]), Some("delete_because_count_index")),
        Action::Delete => (json!(["delete"]), Some("delete_because_no_resource_config")),
    }
}

/// What templates resolve to at plan time: parameters, other stacks' outputs, and the attributes
/// of resources that exist and are not replaced. Rebuilt from the plan alone, so a saved plan
/// file converts without its state.
fn scope(plan: &Plan) -> Scope {
    let mut scope = Scope { params: plan.params.clone(), external: plan.external_outputs.clone(), ..Scope::default() };
    for c in &plan.changes {
        match (c.action, &c.before) {
            (Action::Create | Action::Replace, _) => {
                scope.unknown.insert(c.address.clone());
            }
            (_, Some(before)) => {
                let mut merged = before.clone();
                if let (Json::Object(m), Some(Json::Object(a))) = (&mut merged, &c.after) {
                    for (k, v) in a {
                        if !c.after_unknown.contains(k) {
                            m.insert(k.clone(), v.clone());
                        }
                    }
                }
                scope.resources.insert(c.address.clone(), merged);
            }
            _ => {}
        }
    }
    scope
}

/// Resolves a configured value as far as it is known: the leaves that reference something not
/// yet created stay unknown, the rest is the value.
fn partial(scope: &Scope, value: &Json) -> Tv {
    match value {
        Json::Array(items) => Tv::List(items.iter().map(|i| partial(scope, i)).collect()),
        Json::Object(map) => Tv::Object(map.iter().map(|(k, v)| (k.clone(), partial(scope, v))).collect()),
        Json::String(s) if s.contains('$') => match scope.resolve_known(value) {
            Ok(Some(v)) => Tv::Known(v),
            _ => Tv::Unknown,
        },
        other => Tv::Known(other.clone()),
    }
}

/// One resource change's values in Terraform's form.
struct Converted {
    before: Json,
    after: Json,
    after_unknown: Json,
    before_sensitive: Json,
    after_sensitive: Json,
}

/// `tags_all`, as the Terraform AWS provider writes it: the tags AWS receives, here the
/// resource's own and the ownership tags (`clawform:stack`, `clawform:address`), so that a
/// policy tool sees them. Unknown when the tags are.
fn add_tags_all(v: &mut Converted, stack: &str, address: &str) {
    if let Json::Object(before) = &mut v.before {
        let all = crate::provider::tags_all(before.get("tags"), stack, address);
        before.insert("tags_all".into(), all);
    }
    let tags_unknown = v.after_unknown.get("tags").is_some_and(|u| u == &Json::Bool(true));
    if let Json::Object(after) = &mut v.after {
        if tags_unknown {
            if let Json::Object(unknown) = &mut v.after_unknown {
                unknown.insert("tags_all".into(), Json::Bool(true));
            }
        } else {
            let all = crate::provider::tags_all(after.get("tags"), stack, address);
            after.insert("tags_all".into(), all);
        }
    }
}

fn convert(c: &ResourceChange, registry: &Registry, scope: &Scope) -> Converted {
    let kind = registry.get(&c.type_name);
    let sensitive: BTreeSet<&str> = c.sensitive.iter().map(String::as_str).chain(kind.map(|k| k.sensitive().to_vec()).unwrap_or_default()).collect();
    let shape = |mut v: Json| {
        if let Some(k) = kind {
            k.terraform_values(&mut v);
        }
        v
    };
    let strip = |v: &Json| match v {
        Json::Object(m) => Json::Object(m.iter().filter(|(k, _)| !sensitive.contains(k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()),
        other => other.clone(),
    };
    let is_sensitive = |k: &str| sensitive.contains(k);
    let before = c.before.as_ref().map(|b| shape(strip(b)));
    let before_sensitive = c.before.as_ref().map_or(Json::Bool(false), |b| as_bool(b, &is_sensitive));
    let after_tree = match c.action {
        Action::Delete => None,
        _ => {
            let mut members: IndexMap<String, Tv> = IndexMap::new();
            // What stays of the resource as it is: its id, ARN and the rest the cloud assigned.
            if matches!(c.action, Action::Update | Action::NoOp) {
                if let Some(Json::Object(b)) = &c.before {
                    for (k, v) in b {
                        members.insert(k.clone(), Tv::Known(v.clone()));
                    }
                }
            }
            if let Some(Json::Object(a)) = &c.after {
                for (k, v) in a {
                    let value = if c.after_unknown.contains(k) {
                        c.config.as_ref().and_then(|cfg| cfg.attributes.get(k)).map_or(Tv::Unknown, |cfg| partial(scope, cfg))
                    } else {
                        Tv::Known(v.clone())
                    };
                    members.insert(k.clone(), value);
                }
            }
            if matches!(c.action, Action::Create | Action::Replace) {
                for k in &c.computed {
                    if members.get(k).is_none_or(|v| matches!(v, Tv::Known(Json::Null))) {
                        members.insert(k.clone(), Tv::Unknown);
                    }
                }
            }
            Some(Tv::Object(members))
        }
    };
    let (after, after_unknown, after_sensitive) = match &after_tree {
        None => (Json::Null, json!({}), Json::Bool(false)),
        Some(tree) => {
            let known = tree.known().unwrap_or_else(|| json!({}));
            let sensitive_marks = as_bool(&known, &is_sensitive);
            // A sensitive attribute is marked even where its value is not known yet.
            let sensitive_marks = match (sensitive_marks, tree) {
                (Json::Object(mut m), Tv::Object(members)) => {
                    for k in members.keys().filter(|k| is_sensitive(k)) {
                        m.insert(k.clone(), Json::Bool(true));
                    }
                    Json::Object(m)
                }
                (m, _) => m,
            };
            (shape(strip(&known)), tree.unknown_marks(), sensitive_marks)
        }
    };
    Converted { before: before.unwrap_or(Json::Null), after, after_unknown, before_sensitive, after_sensitive }
}

/// The identifying members every resource entry starts with.
fn identity(c: &ResourceChange, options: &TfOptions) -> Map<String, Json> {
    // A deposed object's address is `NAME (deposed ID)`: Terraform keeps the address and adds
    // `deposed`.
    let address = c.address.split(" (deposed ").next().unwrap_or(&c.address);
    let (name, index) = split(address);
    let mut m = Map::new();
    m.insert("address".into(), json!(tf_address(&c.type_name, address)));
    if c.deposed {
        m.insert("deposed".into(), json!(c.prior_id));
    }
    m.insert("mode".into(), json!("managed"));
    m.insert("type".into(), json!(c.type_name));
    m.insert("name".into(), json!(name));
    if let Some(i) = index {
        m.insert("index".into(), i);
    }
    m.insert("provider_name".into(), json!(options.provider_name));
    m
}

/// Terraform's references for a clawform reference (`${vpc.id}` → `aws_vpc.vpc.id`,
/// `aws_vpc.vpc`; `${param.x}` → `var.x`; another stack's output → a remote state data source).
fn tf_references(r: &Reference, types: &HashMap<String, String>) -> Vec<String> {
    match r {
        Reference::Param(p) => vec![format!("var.{p}")],
        Reference::ParamItem { name, .. } => vec![format!("var.{name}")],
        Reference::Resource { address, attribute } => {
            let (name, _) = split(address);
            let type_name = types.get(address).or_else(|| types.get(name)).cloned().unwrap_or_else(|| "unknown".into());
            let full = tf_address(&type_name, address);
            let mut refs = vec![format!("{full}.{attribute}"), full.clone()];
            let base = format!("{type_name}.{name}");
            if base != full {
                refs.push(base);
            }
            refs
        }
        Reference::Output { stack, name, .. } => {
            vec![format!("data.terraform_remote_state.{stack}.outputs.{name}"), format!("data.terraform_remote_state.{stack}")]
        }
        #[allow(unreachable_patterns)]
        _ => vec![],
    }
}

/// A configuration expression: nested blocks as lists of objects of expressions, anything with
/// references as `references`, the rest as `constant_value`.
fn expression(value: &Json, types: &HashMap<String, String>) -> Json {
    if let Json::Array(items) = value {
        if !items.is_empty() && items.iter().all(Json::is_object) {
            return Json::Array(
                items.iter().map(|i| Json::Object(i.as_object().into_iter().flatten().map(|(k, v)| (k.clone(), expression(v, types))).collect())).collect(),
            );
        }
    }
    let mut refs = Vec::new();
    let _ = crate::value::references_in(value, &mut refs);
    if refs.is_empty() {
        return json!({ "constant_value": value });
    }
    let mut out: Vec<String> = Vec::new();
    for r in &refs {
        for t in tf_references(r, types) {
            if !out.contains(&t) {
                out.push(t);
            }
        }
    }
    json!({ "references": out })
}

/// The plan in Terraform's JSON plan format.
pub fn terraform_plan(plan: &Plan, registry: &Registry, options: &TfOptions) -> Json {
    let scope = scope(plan);
    let types: HashMap<String, String> = plan
        .changes
        .iter()
        .flat_map(|c| {
            let (name, _) = split(&c.address);
            [(c.address.clone(), c.type_name.clone()), (name.to_string(), c.type_name.clone())]
        })
        .collect();
    let configured: BTreeSet<&str> = plan.changes.iter().filter(|c| c.action != Action::Delete).map(|c| split(&c.address).0).collect();

    let mut planned = Vec::new();
    let mut prior = Vec::new();
    let mut changes = Vec::new();
    for c in &plan.changes {
        let mut v = convert(c, registry, &scope);
        if registry.get(&c.type_name).is_some_and(|k| k.attributes().contains(&"tags")) {
            add_tags_all(&mut v, &plan.stack, &c.address);
        }
        let id = identity(c, options);
        if c.action != Action::Delete {
            let mut r = id.clone();
            r.insert("schema_version".into(), json!(0));
            r.insert("values".into(), v.after.clone());
            r.insert("sensitive_values".into(), if v.after_sensitive.is_object() { v.after_sensitive.clone() } else { json!({}) });
            planned.push(Json::Object(r));
        }
        if c.before.is_some() {
            let mut r = id.clone();
            r.insert("schema_version".into(), json!(0));
            r.insert("values".into(), v.before.clone());
            r.insert("sensitive_values".into(), if v.before_sensitive.is_object() { v.before_sensitive.clone() } else { json!({}) });
            prior.push(Json::Object(r));
        }
        let deleted_instance = c.action == Action::Delete && split(&c.address).1.is_some() && configured.contains(split(&c.address).0);
        let (acts, reason) = actions(c, plan.destroy, deleted_instance);
        let mut change = Map::new();
        change.insert("actions".into(), acts);
        change.insert("before".into(), v.before);
        change.insert("after".into(), v.after);
        change.insert("after_unknown".into(), v.after_unknown);
        change.insert("before_sensitive".into(), v.before_sensitive);
        change.insert("after_sensitive".into(), v.after_sensitive);
        if c.action == Action::Replace {
            change.insert("replace_paths".into(), Json::Array(c.replace_because.iter().map(|a| json!([a])).collect()));
        }
        let mut r = id;
        r.insert("change".into(), Json::Object(change));
        if let Some(reason) = reason {
            r.insert("action_reason".into(), json!(reason));
        }
        changes.push(Json::Object(r));
    }

    let (output_changes, planned_outputs, prior_outputs) = outputs(plan, &scope);
    let mut doc = Map::new();
    doc.insert("format_version".into(), json!(FORMAT_VERSION));
    doc.insert("terraform_version".into(), json!(COMPATIBLE_TERRAFORM_VERSION));
    doc.insert("clawform_version".into(), json!(options.version));
    let variables: Map<String, Json> =
        plan.params.iter().filter(|(k, _)| !plan.sensitive_params.contains(k)).map(|(k, v)| (k.clone(), json!({ "value": v }))).collect();
    if !variables.is_empty() {
        doc.insert("variables".into(), Json::Object(variables));
    }
    doc.insert("planned_values".into(), json!({ "outputs": planned_outputs, "root_module": { "resources": planned } }));
    doc.insert("resource_changes".into(), Json::Array(changes));
    doc.insert("output_changes".into(), Json::Object(output_changes));
    if plan.prior_lineage.is_some() {
        doc.insert(
            "prior_state".into(),
            json!({
                "format_version": STATE_FORMAT_VERSION,
                "terraform_version": COMPATIBLE_TERRAFORM_VERSION,
                "values": { "outputs": prior_outputs, "root_module": { "resources": prior } },
            }),
        );
    }
    doc.insert("configuration".into(), configuration(plan, registry, options, &types));
    doc.insert("timestamp".into(), json!(options.timestamp));
    doc.insert("applyable".into(), json!(plan.has_changes()));
    doc.insert("complete".into(), json!(true));
    doc.insert("errored".into(), json!(false));
    Json::Object(doc)
}

/// `output_changes`, the planned outputs and the prior outputs.
fn outputs(plan: &Plan, scope: &Scope) -> (Map<String, Json>, Map<String, Json>, Map<String, Json>) {
    let (mut changes, mut planned, mut prior) = (Map::new(), Map::new(), Map::new());
    let mut names: Vec<&String> = plan.outputs.keys().collect();
    names.extend(plan.output_changes.keys().filter(|k| !plan.outputs.contains_key(*k)));
    for name in names {
        let (actions, before, after, unknown) = match plan.output_changes.get(name) {
            Some(oc) => {
                let action = match (&oc.before, oc.after.is_some() || oc.after_unknown) {
                    (None, _) => "create",
                    (Some(_), true) => "update",
                    (Some(_), false) => "delete",
                };
                (action, oc.before.clone(), oc.after.clone(), oc.after_unknown)
            }
            None => {
                let value = plan.outputs.get(name).and_then(|v| scope.resolve_known(v).ok().flatten());
                ("no-op", value.clone(), value, false)
            }
        };
        changes.insert(
            name.clone(),
            json!({
                "actions": [actions], "before": before, "after": after, "after_unknown": unknown,
                "before_sensitive": false, "after_sensitive": false,
            }),
        );
        if actions != "delete" {
            let mut o = Map::new();
            o.insert("sensitive".into(), json!(false));
            if let Some(v) = &after {
                o.insert("value".into(), v.clone());
            }
            planned.insert(name.clone(), Json::Object(o));
        }
        if let Some(b) = before {
            prior.insert(name.clone(), json!({ "sensitive": false, "value": b }));
        }
    }
    (changes, planned, prior)
}

/// A minimal `configuration`: the provider and its region, each configured resource once (a
/// resource with `count` once, as Terraform lists it) with its expressions, and the outputs.
fn configuration(plan: &Plan, registry: &Registry, options: &TfOptions, types: &HashMap<String, String>) -> Json {
    let mut provider = Map::new();
    provider.insert("name".into(), json!(options.provider_key));
    provider.insert("full_name".into(), json!(options.provider_name));
    if let Some(region) = &options.region {
        provider.insert("expressions".into(), json!({ "region": { "constant_value": region } }));
    }
    let mut resources = Vec::new();
    let mut seen = BTreeSet::new();
    for c in &plan.changes {
        let Some(config) = &c.config else { continue };
        let (name, _) = split(&c.address);
        if !seen.insert(name.to_string()) {
            continue;
        }
        let sensitive = registry.get(&c.type_name).map(|k| k.sensitive()).unwrap_or_default();
        // A secret written in the stack is not shown as a constant; what it refers to is.
        let expressions: Map<String, Json> = config
            .attributes
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| {
                let e = expression(v, types);
                (k.clone(), if sensitive.contains(&k.as_str()) && e.get("constant_value").is_some() { json!({}) } else { e })
            })
            .collect();
        let mut r = Map::new();
        r.insert("address".into(), json!(format!("{}.{name}", c.type_name)));
        r.insert("mode".into(), json!("managed"));
        r.insert("type".into(), json!(c.type_name));
        r.insert("name".into(), json!(name));
        r.insert("provider_config_key".into(), json!(options.provider_key));
        r.insert("expressions".into(), Json::Object(expressions));
        r.insert("schema_version".into(), json!(0));
        if !config.depends_on.is_empty() {
            let deps: Vec<String> = config.depends_on.iter().map(|d| tf_address(types.get(d).map_or("unknown", String::as_str), d)).collect();
            r.insert("depends_on".into(), json!(deps));
        }
        resources.push(Json::Object(r));
    }
    let outputs: Map<String, Json> = plan.outputs.iter().map(|(k, v)| (k.clone(), json!({ "expression": expression(v, types) }))).collect();
    let mut root = Map::new();
    root.insert("outputs".into(), Json::Object(outputs));
    root.insert("resources".into(), Json::Array(resources));
    json!({ "provider_config": { options.provider_key.clone(): Json::Object(provider) }, "root_module": root })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_with_an_index_are_split_as_terraform_writes_them() {
        assert_eq!(split("alb[2]"), ("alb", Some(json!(2))));
        assert_eq!(split("vpc"), ("vpc", None));
        assert_eq!(tf_address("aws_lb", "alb[0]"), "aws_lb.alb[0]");
        assert_eq!(tf_address("aws_vpc", "vpc"), "aws_vpc.vpc");
    }

    #[test]
    fn known_values_mark_false_and_objects_keep_only_marks() {
        let v = json!({"cidr_blocks": ["0.0.0.0/0"], "tags": {"Name": "x"}, "port": 80, "secret": "s"});
        assert_eq!(as_bool(&v, &|k| k == "secret"), json!({"cidr_blocks": [false], "tags": {}, "secret": true}));
    }

    #[test]
    fn unknown_leaves_are_left_out_of_objects_and_null_in_lists() {
        let tree = Tv::Object(IndexMap::from_iter([
            ("from_port".to_string(), Tv::Known(json!(80))),
            ("security_groups".to_string(), Tv::List(vec![Tv::Unknown, Tv::Known(json!("sg-1"))])),
            ("id".to_string(), Tv::Unknown),
        ]));
        assert_eq!(tree.known(), Some(json!({"from_port": 80, "security_groups": [null, "sg-1"]})));
        assert_eq!(tree.unknown_marks(), json!({"security_groups": [true, false], "id": true}));
    }
}
