//! Stacks: a name, parameters, resources (address → typed attributes) and outputs, loaded from
//! YAML or built in code, and checked against a [`Registry`] before anything else happens.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::diagnostic::{Diagnostic, StackError};
use crate::schema::{Registry, Resource};
use crate::source::{Location, SourceMap};
use crate::state::State;
use crate::value::{split_address, InstanceIndex, Part, Reference, Template};

/// Files larger than this are refused before parsing: a stack is a few kilobytes.
pub const MAX_STACK_BYTES: usize = 4 * 1024 * 1024;

/// A declared parameter.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, expecting = "a mapping with `default`, `description` or `sensitive`")]
pub struct ParamSpec {
    /// Used when no value is given; a parameter without one must be given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Json>,
    /// What the parameter is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A secret: its value is given at run time (never in the stack file), kept out of state and
    /// plans, and only a digest is stored of what uses it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
}

pub use crate::schema::ResourceConfig;

/// A stack: the unit that is planned, applied, locked and stored as one state document.
#[derive(Debug, Clone)]
pub struct Stack {
    /// The stack's name; its state is stored under it.
    pub name: String,
    /// Parameters declared by the stack.
    pub params: IndexMap<String, ParamSpec>,
    /// Values given for parameters (defaults are applied by [`Stack::param_values`]).
    pub param_overrides: IndexMap<String, Json>,
    /// Tags added to every resource that has tags.
    pub tags: IndexMap<String, String>,
    /// Resources by address, in the order written.
    pub resources: IndexMap<String, ResourceConfig>,
    /// Outputs by name: values that may reference resources.
    pub outputs: IndexMap<String, Json>,
    /// The least number of instances a resource with `count: auto` gets at the next plan
    /// (`auto` never shrinks on its own: it keeps what state holds, at least one).
    pub auto_count_minimum: Option<usize>,
    /// `--target`: when not empty, a plan covers only these addresses (a resource with `count`
    /// names all its instances) and what they depend on.
    pub targets: std::collections::BTreeSet<String>,
    /// `--replace`: addresses planned as replacements even when unchanged.
    pub replace: std::collections::BTreeSet<String>,
    /// Shared: a stack is cloned for every plan (a rollout clones the template per tenant), and
    /// the map holds a location for every key and value of the file.
    source: std::sync::Arc<SourceMap>,
    /// Shared too: what planning derived from the resources and outputs, reused while they are
    /// unchanged (see `prepared.rs`).
    pub(crate) prepared: std::sync::Arc<MemoSlot>,
}

/// A stack's resources and outputs with each conditional replaced by its chosen branch.
pub(crate) type Chosen = (IndexMap<String, ResourceConfig>, IndexMap<String, Json>);

/// Where `prepared.rs` keeps what planning works out once for a stack and its clones. The slot
/// does not know what it holds, so that this module depends on nothing built from stacks (the
/// graph among them): no import circle.
#[derive(Default)]
pub(crate) struct MemoSlot(pub(crate) std::sync::Mutex<Option<std::sync::Arc<dyn std::any::Any + Send + Sync>>>);

impl std::fmt::Debug for MemoSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoSlot")
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping with `stack:` and `resources:`")]
struct RawStack {
    stack: String,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    params: IndexMap<String, ParamSpec>,
    #[serde(default)]
    tags: IndexMap<String, String>,
    #[serde(default)]
    resources: IndexMap<String, serde_yaml::Value>,
    #[serde(default)]
    outputs: IndexMap<String, serde_yaml::Value>,
}

/// Checks a name used as an address, parameter or output: letters, digits, `_` and `-`.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && name.len() <= 64
}

impl Stack {
    /// An empty stack, for building in code.
    pub fn new(name: impl Into<String>) -> Stack {
        Stack {
            name: name.into(),
            params: IndexMap::new(),
            param_overrides: IndexMap::new(),
            tags: IndexMap::new(),
            resources: IndexMap::new(),
            outputs: IndexMap::new(),
            auto_count_minimum: None,
            targets: Default::default(),
            replace: Default::default(),
            source: std::sync::Arc::new(SourceMap::empty(None)),
            prepared: Default::default(),
        }
    }

    /// Adds a typed resource at `address`.
    pub fn add<R: Resource>(&mut self, address: &str, resource: R) -> Result<&mut Stack, serde_json::Error> {
        let attributes = serde_json::to_value(&resource)?;
        self.resources.insert(address.to_string(), ResourceConfig { type_name: R::TYPE.into(), attributes, depends_on: vec![], count: None });
        Ok(self)
    }

    /// Declares an output; `value` may be a template such as `${vpc.id}`.
    pub fn output(&mut self, name: &str, value: impl Into<Json>) -> &mut Stack {
        self.outputs.insert(name.to_string(), value.into());
        self
    }

    /// Declares a parameter with an optional default.
    pub fn param(&mut self, name: &str, default: Option<Json>) -> &mut Stack {
        self.params.insert(name.to_string(), ParamSpec { default, description: None, sensitive: false });
        self
    }

    /// Reads and checks a stack file.
    pub fn load_file(path: &Path, registry: &Registry) -> Result<Stack, StackError> {
        let bytes = std::fs::read(path).map_err(|source| StackError::Io { path: path.display().to_string(), source })?;
        let file = Some(path);
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let before = &e.as_bytes()[..at];
                let line = before.iter().filter(|b| **b == b'\n').count() + 1;
                let column = at - before.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1) + 1;
                return Err(invalid(
                    Location { file: Some(path.to_path_buf()), line, column },
                    "expected UTF-8 text, found bytes that are not (is this a binary file?)",
                ));
            }
        };
        Stack::from_yaml(&text, file, registry)
    }

    /// Parses and checks stack text; `file` only names it in errors.
    pub fn from_yaml(text: &str, file: Option<&Path>, registry: &Registry) -> Result<Stack, StackError> {
        let here = |line: usize, column: usize| Location { file: file.map(Path::to_path_buf), line, column };
        if text.len() > MAX_STACK_BYTES {
            return Err(invalid(here(1, 1), &format!("stack file is {} bytes; expected at most {MAX_STACK_BYTES}", text.len())));
        }
        if let Some((line, column, c)) = first_forbidden_char(text) {
            return Err(invalid(here(line, column), &format!("unexpected control character U+{:04X}; expected YAML text (is this a binary file?)", c as u32)));
        }
        let value: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| {
            let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            // libyaml's "found character that cannot start any token" does not say the character
            // is a tab, the usual cause.
            let tab = text.lines().nth(line.saturating_sub(1)).and_then(|l| l.chars().nth(column.saturating_sub(1))) == Some('\t');
            let hint = if tab { " (a tab; YAML indents with spaces only)" } else { "" };
            invalid(here(line, column), &format!("invalid YAML: {}{hint}", strip_location(&e.to_string())))
        })?;
        let source = SourceMap::build(text, file);
        if value.is_null() {
            return Err(invalid(here(1, 1), "the file is empty; expected a mapping with `stack:` and `resources:`"));
        }
        let raw: RawStack = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let message = strip_location(&e.inner().to_string());
            let location = if message.starts_with("unknown field") {
                source.key(&crate::schema::join_unknown_field(if path == "." { "" } else { &path }, &message))
            } else {
                source.value(if path == "." { "" } else { &path })
            };
            StackError::Invalid(vec![Diagnostic { location, message: top_level_hint(message) }])
        })?;
        let mut errors = Vec::new();
        let mut stack = Stack { source: std::sync::Arc::new(source), ..Stack::new(raw.stack.clone()) };
        if !is_valid_name(&raw.stack) {
            errors.push(
                stack.diag_value("stack", format!("stack name `{}` is not valid; expected letters, digits, `_` and `-`, starting with a letter", raw.stack)),
            );
        }
        stack.params = raw.params;
        stack.tags = raw.tags;
        // Resources written but not decoded: their error is reported once, and references to
        // them are not reported again as "no resource" (one typo, one error).
        let mut undecoded = std::collections::BTreeSet::new();
        for (address, body) in raw.resources {
            match decode_resource(&stack.source, &address, body, registry) {
                Ok(config) => {
                    stack.resources.insert(address, config);
                }
                Err(mut e) => {
                    errors.append(&mut e);
                    undecoded.insert(address);
                }
            }
        }
        for (name, value) in raw.outputs {
            match serde_json::to_value(&value) {
                Ok(json) => {
                    stack.outputs.insert(name, json);
                }
                Err(e) => errors.push(stack.diag_value(&format!("outputs.{name}"), format!("output is not a plain value: {e}"))),
            }
        }
        stack.merge_stack_tags(registry);
        errors.extend(stack.check_errors_besides(registry, &undecoded));
        if errors.is_empty() {
            Ok(stack)
        } else {
            Err(StackError::Invalid(errors))
        }
    }

    /// Checks a stack built in code the way a loaded one is checked.
    pub fn check(&self, registry: &Registry) -> Result<(), StackError> {
        let errors = self.check_errors(registry);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(StackError::Invalid(errors))
        }
    }

    /// Where the stack came from, if from a file.
    pub fn file(&self) -> Option<&Path> {
        self.source.file()
    }

    /// The source positions of the stack's file.
    pub fn source_map(&self) -> &SourceMap {
        &self.source
    }

    /// Names of the sensitive parameters.
    pub fn sensitive_params(&self) -> Vec<String> {
        self.params.iter().filter(|(_, p)| p.sensitive).map(|(k, _)| k.clone()).collect()
    }

    /// Parameter values: overrides, then defaults. A parameter with neither is an error, except
    /// a sensitive one, which is then withheld.
    pub fn param_values(&self) -> Result<IndexMap<String, Json>, StackError> {
        let mut values = IndexMap::new();
        let mut errors = Vec::new();
        for (name, spec) in &self.params {
            match self.param_overrides.get(name).or(spec.default.as_ref()) {
                Some(v) => {
                    values.insert(name.clone(), v.clone());
                }
                // A secret without a value is withheld: what uses it keeps its applied value.
                None if spec.sensitive => {}
                None => errors.push(
                    self.diag_key(&format!("params.{name}"), format!("parameter `{name}` has no default and no value was given; pass `--param {name}=VALUE`")),
                ),
            }
        }
        for (name, spec) in &self.params {
            if spec.sensitive && spec.default.is_some() {
                errors.push(self.diag_key(
                    &format!("params.{name}.default"),
                    format!("parameter `{name}` is sensitive and cannot have a default in the stack file; give its value at run time"),
                ));
            }
        }
        for name in self.param_overrides.keys() {
            if !self.params.contains_key(name) {
                let known: Vec<&str> = self.params.keys().map(String::as_str).collect();
                errors.push(
                    self.diag_value(
                        "params",
                        format!("`--param {name}` names no parameter of stack `{}`; expected one of: {}", self.name, list_or_none(&known)),
                    ),
                );
            }
        }
        if errors.is_empty() {
            Ok(values)
        } else {
            Err(StackError::Invalid(errors))
        }
    }

    /// The stack with every resource that has `count` replaced by its instances `NAME[0]`,
    /// `NAME[1]`…, `${count.index}` and `[count.index]` filled in, and what lists
    /// (`NAME[*]`) make explicit in `depends_on`. `auto` counts keep what `state` holds (at
    /// least one, at least [`Stack::auto_count_minimum`]). Returns the instance counts too.
    pub fn expand(&self, state: Option<&State>) -> Result<(Stack, BTreeMap<String, usize>), StackError> {
        self.expand_with(state, None)
    }

    /// [`Stack::expand`]; with a registry, each resource that held a conditional is decoded
    /// again once chosen (see [`Stack::chosen`]).
    pub(crate) fn expand_with(&self, state: Option<&State>, registry: Option<&Registry>) -> Result<(Stack, BTreeMap<String, usize>), StackError> {
        let counts = self.instance_counts(state)?;
        let (resources, outputs) = self.chosen(registry)?;
        // Every field but the resources, which are rebuilt here (not cloned only to be dropped).
        let out = Stack {
            name: self.name.clone(),
            params: self.params.clone(),
            param_overrides: self.param_overrides.clone(),
            tags: self.tags.clone(),
            resources: self.expanded_resources(&resources, &outputs, &counts)?,
            outputs,
            auto_count_minimum: self.auto_count_minimum,
            targets: self.targets.clone(),
            replace: self.replace.clone(),
            source: self.source.clone(),
            prepared: Default::default(),
        };
        Ok((out, counts))
    }

    /// The instances of each resource with `count`, given the parameter values and `state`.
    pub(crate) fn instance_counts(&self, state: Option<&State>) -> Result<BTreeMap<String, usize>, StackError> {
        let params = self.param_values()?;
        let mut counts = BTreeMap::new();
        let mut errors = Vec::new();
        // Resources whose count is the same `auto` parameter move together: a resource added
        // with it (the HTTPS listener of each shard) starts with as many instances as the others.
        let mut autos: Vec<(&String, Option<String>, usize)> = Vec::new();
        for (name, config) in &self.resources {
            let Some(count) = &config.count else { continue };
            match count_value(count, &params) {
                Ok(CountValue::Fixed(n)) => {
                    counts.insert(name.clone(), n);
                }
                Ok(CountValue::Auto(param)) => {
                    let applied =
                        state.map_or(0, |s| s.resources.iter().filter(|r| split_address(&r.address).0 == name && r.address.len() > name.len()).count());
                    autos.push((name, param, applied));
                }
                Err(message) => errors.push(self.diag_value(&format!("resources.{name}.count"), message)),
            }
        }
        for (name, param, applied) in &autos {
            let together = match param {
                Some(p) => autos.iter().filter(|(_, q, _)| q.as_ref() == Some(p)).map(|(_, _, n)| *n).max().unwrap_or(0),
                None => *applied,
            };
            counts.insert((*name).clone(), together.max(1).max(self.auto_count_minimum.unwrap_or(0)));
        }
        if !errors.is_empty() {
            return Err(StackError::Invalid(errors));
        }
        Ok(counts)
    }

    /// The resources and outputs with each conditional (`${param.X ? A : B}`) replaced by the
    /// branch the parameter values choose: from here on, the branch not taken does not exist.
    /// With a registry, a resource that held one is decoded again in its type's canonical form:
    /// a type may write a value differently once a choice made it literal (a listener action
    /// keeps only the block its type names), so what is planned is what the chosen branch
    /// alone would have been.
    pub(crate) fn chosen(&self, registry: Option<&Registry>) -> Result<Chosen, StackError> {
        let mut conditions = std::collections::BTreeSet::new();
        for config in self.resources.values() {
            crate::value::condition_params_in(&config.attributes, &mut conditions);
        }
        for value in self.outputs.values() {
            crate::value::condition_params_in(value, &mut conditions);
        }
        if conditions.is_empty() {
            return Ok((self.resources.clone(), self.outputs.clone()));
        }
        let params = self.param_values()?;
        let mut errors = Vec::new();
        let mut choose = |value: &Json, path: String| match crate::value::choose_in(value, &params) {
            Ok(v) => v,
            Err((below, message)) => {
                errors.push(self.diag_value(&format!("{path}{below}"), message));
                value.clone()
            }
        };
        let mut resources: IndexMap<String, ResourceConfig> = self
            .resources
            .iter()
            .map(|(name, config)| (name.clone(), ResourceConfig { attributes: choose(&config.attributes, format!("resources.{name}")), ..config.clone() }))
            .collect();
        let outputs = self.outputs.iter().map(|(name, value)| (name.clone(), choose(value, format!("outputs.{name}")))).collect();
        for (name, config) in resources.iter_mut() {
            let Some(kind) = registry.and_then(|r| r.get(&config.type_name)) else { continue };
            if config.attributes == self.resources[name].attributes {
                continue;
            }
            let decoded = serde_yaml::to_value(&config.attributes).map_err(|e| vec![e.to_string()]).and_then(|body| {
                kind.decode(body).map_err(|errors| errors.into_iter().map(|e| format!("{} `{name}`: {}: {}", config.type_name, e.path, e.message)).collect())
            });
            match decoded {
                Ok(attributes) => config.attributes = attributes,
                Err(messages) => errors.extend(messages.into_iter().map(|m| self.diag_value(&format!("resources.{name}"), m))),
            }
        }
        if !errors.is_empty() {
            return Err(StackError::Invalid(errors));
        }
        Ok((resources, outputs))
    }

    /// `resources` with every one that has `count` replaced by its `counts` instances (see
    /// [`Stack::expand`]); checks the instance indexes of `outputs` too.
    pub(crate) fn expanded_resources(
        &self,
        resources: &IndexMap<String, ResourceConfig>,
        outputs: &IndexMap<String, Json>,
        counts: &BTreeMap<String, usize>,
    ) -> Result<IndexMap<String, ResourceConfig>, StackError> {
        let mut out = IndexMap::with_capacity(resources.len());
        for (name, config) in resources {
            let instances: Vec<(String, Option<usize>)> = match counts.get(name) {
                None => vec![(name.clone(), None)],
                Some(n) => (0..*n).map(|i| (format!("{name}[{i}]"), Some(i))).collect(),
            };
            for (address, index) in instances {
                let path = format!("resources.{name}");
                let attributes = fill_instance(&config.attributes, index, counts, &path)
                    .map_err(|(at, message)| StackError::Invalid(vec![self.diag_value(&at, message)]))?;
                let mut depends_on = Vec::new();
                for dep in &config.depends_on {
                    match counts.get(dep) {
                        Some(n) => depends_on.extend((0..*n).map(|i| format!("{dep}[{i}]"))),
                        None => depends_on.push(dep.clone()),
                    }
                }
                let mut refs = Vec::new();
                walk_references(&config.attributes, "", &mut refs);
                for (_, r) in refs {
                    if let Ok(Reference::Resource { address: a, .. }) = r {
                        if let (target, Some(InstanceIndex::Splat)) = split_address(&a) {
                            depends_on.extend((0..counts.get(target).copied().unwrap_or(0)).map(|i| format!("{target}[{i}]")));
                        }
                    }
                }
                depends_on.dedup();
                out.insert(address, ResourceConfig { type_name: config.type_name.clone(), attributes, depends_on, count: None });
            }
        }
        for (name, value) in outputs {
            fill_instance(value, None, counts, &format!("outputs.{name}")).map_err(|(at, message)| StackError::Invalid(vec![self.diag_value(&at, message)]))?;
        }
        Ok(out)
    }

    pub(crate) fn diag_value(&self, path: &str, message: String) -> Diagnostic {
        Diagnostic { location: self.source.value(path), message }
    }

    pub(crate) fn diag_key(&self, path: &str, message: String) -> Diagnostic {
        Diagnostic { location: self.source.key(path), message }
    }

    fn merge_stack_tags(&mut self, registry: &Registry) {
        if self.tags.is_empty() {
            return;
        }
        for config in self.resources.values_mut() {
            let Some(kind) = registry.get(&config.type_name) else { continue };
            if !kind.attributes().contains(&"tags") {
                continue;
            }
            let Json::Object(attrs) = &mut config.attributes else { continue };
            let mut merged: serde_json::Map<String, Json> = self.tags.iter().map(|(k, v)| (k.clone(), Json::String(v.clone()))).collect();
            if let Some(Json::Object(own)) = attrs.get("tags") {
                merged.extend(own.clone());
            }
            attrs.insert("tags".into(), Json::Object(merged));
        }
    }

    fn check_errors(&self, registry: &Registry) -> Vec<Diagnostic> {
        self.check_errors_besides(registry, &Default::default())
    }

    /// The stack's errors, but none about references to `undecoded` resources (written, but
    /// already reported as not valid).
    fn check_errors_besides(&self, registry: &Registry, undecoded: &std::collections::BTreeSet<String>) -> Vec<Diagnostic> {
        let mut errors = Vec::new();
        for (address, config) in &self.resources {
            if !is_valid_name(address) {
                errors.push(self.diag_key(
                    &format!("resources.{address}"),
                    format!("address `{address}` is not valid; expected letters, digits, `_` and `-`, starting with a letter"),
                ));
            }
            if registry.get(&config.type_name).is_none() {
                errors.push(self.diag_value(&format!("resources.{address}.type"), unknown_type_message(&config.type_name, registry)));
            }
            let mut refs = Vec::new();
            walk_references(&config.attributes, &format!("resources.{address}"), &mut refs);
            if let Some(count) = &config.count {
                walk_references(count, &format!("resources.{address}.count"), &mut refs);
            }
            for (path, r) in refs {
                match r {
                    Ok(r) => {
                        if let Some(message) = self.reference_problem(&r, registry, config.count.is_some(), undecoded) {
                            errors.push(self.diag_value(&path, message));
                        }
                    }
                    Err(message) => errors.push(self.diag_value(&path, message)),
                }
            }
            for dep in &config.depends_on {
                if !self.resources.contains_key(dep) {
                    errors.push(
                        self.diag_value(
                            &format!("resources.{address}.depends_on"),
                            format!("`depends_on` names `{dep}`, which is not a resource of this stack"),
                        ),
                    );
                }
            }
        }
        errors.extend(self.param_errors(registry));
        errors.extend(self.output_errors(registry, undecoded));
        errors
    }

    /// The checks that depend on parameter values: counts, and the registry's checks across
    /// resources. The rest of [`Stack::check_errors`] depends only on the resources, outputs and
    /// declared parameters.
    pub(crate) fn param_errors(&self, registry: &Registry) -> Vec<Diagnostic> {
        let mut errors = Vec::new();
        // Checks across resources need parameter values; a missing one is reported elsewhere.
        let params: IndexMap<String, Json> =
            self.params.iter().filter_map(|(k, spec)| self.param_overrides.get(k).or(spec.default.as_ref()).map(|v| (k.clone(), v.clone()))).collect();
        for (address, config) in &self.resources {
            let Some(count) = &config.count else { continue };
            // A count whose parameter has no value is reported with the parameter.
            let uses_missing_param = count
                .as_str()
                .and_then(|s| Template::parse(s).ok())
                .and_then(|t| t.as_single_reference().cloned())
                .is_some_and(|r| matches!(&r, Reference::Param(p) if !params.contains_key(p)));
            if let (Err(message), false) = (count_value(count, &params), uses_missing_param) {
                errors.push(self.diag_value(&format!("resources.{address}.count"), message));
            }
        }
        for check in registry.stack_checks() {
            for (path, message) in check(&self.resources, &params) {
                errors.push(self.diag_value(&path, message));
            }
        }
        errors
    }

    fn output_errors(&self, registry: &Registry, undecoded: &std::collections::BTreeSet<String>) -> Vec<Diagnostic> {
        let mut errors = Vec::new();
        for (name, value) in &self.outputs {
            if !is_valid_name(name) {
                errors.push(self.diag_key(&format!("outputs.{name}"), format!("output name `{name}` is not valid")));
            }
            let mut refs = Vec::new();
            walk_references(value, &format!("outputs.{name}"), &mut refs);
            for (path, r) in refs {
                match r {
                    Ok(r) => {
                        if let Some(message) = self.reference_problem(&r, registry, false, undecoded) {
                            errors.push(self.diag_value(&path, message));
                        }
                    }
                    Err(message) => errors.push(self.diag_value(&path, message)),
                }
            }
        }
        errors
    }

    fn reference_problem(&self, r: &Reference, registry: &Registry, counted: bool, undecoded: &std::collections::BTreeSet<String>) -> Option<String> {
        match r {
            Reference::Param(name) => (!self.params.contains_key(name)).then(|| {
                let known: Vec<&str> = self.params.keys().map(String::as_str).collect();
                format!("unknown reference `{r}`: no parameter `{name}` is declared under `params:` (declared: {})", list_or_none(&known))
            }),
            Reference::Resource { address, attribute } => {
                let (name, index) = split_address(address);
                let Some(target) = self.resources.get(name) else {
                    if undecoded.contains(name) {
                        return None;
                    }
                    let known: Vec<&str> = self.resources.keys().map(String::as_str).collect();
                    if let Some(meant) = crate::suggest::did_you_mean(name, known.iter().copied()) {
                        return Some(format!("unknown reference `{r}`: no resource `{name}` in this stack; did you mean `{meant}`?"));
                    }
                    return Some(format!("unknown reference `{r}`: no resource `{name}` in this stack (resources: {})", list_or_none(&known)));
                };
                match (&target.count, &index) {
                    (Some(_), None) => return Some(format!("`{name}` has `count`: refer to one instance as `${{{name}[0].{attribute}}}`, or to all of them as a list with `${{{name}[*].{attribute}}}`")),
                    (None, Some(_)) => return Some(format!("`{name}` has no `count`: refer to it as `${{{name}.{attribute}}}`")),
                    (Some(_), Some(InstanceIndex::Same)) if !counted => return Some(format!("`{r}`: `[count.index]` is only meaningful inside a resource with `count`")),
                    _ => {}
                }
                let kind = registry.get(&target.type_name)?;
                let attributes = kind.attributes();
                (!attributes.contains(&attribute.as_str())).then(|| {
                    format!("unknown reference `{r}`: `{}` has no attribute `{attribute}`; expected one of: {}", target.type_name, attributes.join(", "))
                })
            }
            Reference::CountIndex => (!counted).then(|| "`${count.index}` is only meaningful inside a resource with `count`".to_string()),
            Reference::ParamItem { name, index } => {
                if !self.params.contains_key(name) {
                    let known: Vec<&str> = self.params.keys().map(String::as_str).collect();
                    return Some(format!("unknown reference `{r}`: no parameter `{name}` is declared under `params:` (declared: {})", list_or_none(&known)));
                }
                (index.is_none() && !counted).then(|| format!("`{r}`: `[count.index]` is only meaningful inside a resource with `count`"))
            }
            // Outputs of other stacks are looked up when the stack is planned.
            Reference::Output { .. } => None,
        }
    }
}

fn decode_resource(source: &SourceMap, address: &str, body: serde_yaml::Value, registry: &Registry) -> Result<ResourceConfig, Vec<Diagnostic>> {
    let base = format!("resources.{address}");
    let diag = |path: &str, at_key: bool, message: String| Diagnostic { location: if at_key { source.key(path) } else { source.value(path) }, message };
    let serde_yaml::Value::Mapping(mut body) = body else {
        return Err(vec![diag(&base, false, format!("resource `{address}` must be a mapping with `type:` and its attributes"))]);
    };
    let type_name = match body.remove("type") {
        Some(serde_yaml::Value::String(t)) => t,
        Some(_) => return Err(vec![diag(&format!("{base}.type"), false, "`type` must be a string such as `aws_vpc`".into())]),
        None => return Err(vec![diag(&base, true, format!("resource `{address}` has no `type:`; expected a resource type such as `aws_vpc`"))]),
    };
    let depends_on = match body.remove("depends_on") {
        None => Vec::new(),
        Some(v) => serde_yaml::from_value::<Vec<String>>(v)
            .map_err(|_| vec![diag(&format!("{base}.depends_on"), false, "`depends_on` must be a list of resource addresses".into())])?,
    };
    let count = match body.remove("count") {
        None => None,
        Some(v) => Some(decode_count(&v).map_err(|message| vec![diag(&format!("{base}.count"), false, message)])?),
    };
    let Some(kind) = registry.get(&type_name) else {
        return Err(vec![diag(&format!("{base}.type"), false, unknown_type_message(&type_name, registry))]);
    };
    let attributes = kind.decode(serde_yaml::Value::Mapping(body)).map_err(|errors| {
        errors
            .into_iter()
            .map(|e| {
                let path = join(&base, &e.path);
                diag(&path, e.at_key, format!("{type_name} `{address}`: {}", e.message))
            })
            .collect::<Vec<_>>()
    })?;
    Ok(ResourceConfig { type_name, attributes, depends_on, count })
}

/// One instance's attributes: `${count.index}` becomes the instance number (a number when it
/// is the whole value), `NAME[count.index]` becomes `NAME[i]`, and every `NAME[i]` is checked
/// against NAME's count.
fn fill_instance(value: &Json, index: Option<usize>, counts: &BTreeMap<String, usize>, path: &str) -> Result<Json, (String, String)> {
    fill_instance_at(value, index, counts, &mut path.to_string())
}

/// [`fill_instance`] with the path in one buffer (see [`walk_references_at`]): it is copied
/// only into an error.
fn fill_instance_at(value: &Json, index: Option<usize>, counts: &BTreeMap<String, usize>, path: &mut String) -> Result<Json, (String, String)> {
    match value {
        Json::String(s) if s.contains('$') => {
            let Ok(template) = Template::parse(s) else { return Ok(value.clone()) };
            if template.references().all(|r| !matches!(r, Reference::CountIndex | Reference::Resource { .. } | Reference::ParamItem { index: None, .. })) {
                return Ok(value.clone());
            }
            if let (Some(Reference::CountIndex), Some(i)) = (template.as_single_reference(), index) {
                return Ok(Json::from(i));
            }
            let mut parts = Vec::new();
            for part in template.parts() {
                parts.push(match part {
                    Part::Ref(Reference::CountIndex) => Part::Text(index.map(|i| i.to_string()).unwrap_or_default()),
                    Part::Ref(Reference::ParamItem { name, index: None }) if index.is_some() => Part::Ref(Reference::ParamItem { name: name.clone(), index }),
                    Part::Ref(Reference::Resource { address, attribute }) => {
                        let (name, which) = split_address(address);
                        let address = match (which, index) {
                            (Some(InstanceIndex::Same), Some(i)) => format!("{name}[{i}]"),
                            (Some(InstanceIndex::Number(i)), _) => {
                                let n = counts.get(name).copied().unwrap_or(0);
                                if i >= n {
                                    return Err((path.to_string(), format!("`${{{address}.{attribute}}}`: `{name}` has {n} instance(s) with the parameter values given; there is no `{name}[{i}]`")));
                                }
                                address.clone()
                            }
                            _ => address.clone(),
                        };
                        Part::Ref(Reference::Resource { address, attribute: attribute.clone() })
                    }
                    other => other.clone(),
                });
            }
            Ok(Json::String(Template::from_parts(parts).to_string()))
        }
        Json::Array(items) => Ok(Json::Array(
            items.iter().enumerate().map(|(i, v)| with_segment(path, i, |path| fill_instance_at(v, index, counts, path))).collect::<Result<_, _>>()?,
        )),
        Json::Object(map) => Ok(Json::Object(
            map.iter()
                .map(|(k, v)| Ok::<_, (String, String)>((k.clone(), with_segment(path, k, |path| fill_instance_at(v, index, counts, path))?)))
                .collect::<Result<_, _>>()?,
        )),
        other => Ok(other.clone()),
    }
}

/// The address as written in the stack file: `alb[2]` was written as `alb`.
pub fn source_address(address: &str) -> &str {
    split_address(address).0
}

impl Stack {
    /// The stack's own spelling of an address given by a user: `vpc`, or `aws_vpc.vpc` as
    /// Terraform's JSON plan and policy tools print it (also with an index: `listener[1]`,
    /// `aws_lb_listener.listener[1]`). `None` when the stack declares no such resource.
    pub fn address_of(&self, given: &str) -> Option<String> {
        let given = given.trim();
        let declared = |a: &str| self.resources.contains_key(source_address(a));
        if declared(given) {
            return Some(given.to_string());
        }
        let (type_name, rest) = given.split_once('.')?;
        self.resources.get(source_address(rest)).filter(|r| r.type_name == type_name).map(|_| rest.to_string())
    }
}

/// `us-west-2a` → `us-west-2`; `None` when it is not shaped like a zone name.
pub fn region_of_zone(zone: &str) -> Option<&str> {
    // Split before the last character, not the last byte: a name may end in any character.
    let (region, letter) = zone.split_at(zone.char_indices().last()?.0);
    let parts: Vec<&str> = region.split('-').collect();
    let shaped = letter.chars().all(|c| c.is_ascii_lowercase())
        && parts.len() >= 3
        && parts[0].len() == 2
        && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()))
        && parts.last().is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()));
    shaped.then_some(region)
}

impl Stack {
    /// Refuses availability zones (`availability_zone`, `availability_zones`, written or from a
    /// parameter) of another region than `region`, each at its place: AWS would answer
    /// "invalid availability zone" only after the resources before it were made.
    pub fn check_zones_in(&self, region: &str) -> Result<(), StackError> {
        let params = self.param_values()?;
        let mut problems = Vec::new();
        for (address, config) in &self.resources {
            let Json::Object(attributes) = &config.attributes else { continue };
            for key in ["availability_zone", "availability_zones"] {
                let values: Vec<(String, &Json)> = match attributes.get(key) {
                    Some(Json::Array(items)) => items.iter().enumerate().map(|(i, v)| (format!("resources.{address}.{key}.{i}"), v)).collect(),
                    Some(v) => vec![(format!("resources.{address}.{key}"), v)],
                    None => continue,
                };
                for (path, value) in values {
                    let zone = match value.as_str() {
                        Some(text) => match text.strip_prefix("${param.").and_then(|t| t.strip_suffix('}')) {
                            Some(name) => params.get(name.trim()).and_then(Json::as_str).map(str::to_string),
                            None if !text.contains("${") => Some(text.to_string()),
                            None => None,
                        },
                        None => None,
                    };
                    let Some(zone) = zone else { continue };
                    if let Some(of) = region_of_zone(&zone).filter(|r| *r != region) {
                        problems.push(self.diag_value(
                            &path,
                            format!("zone `{zone}` is in region {of}, but clawform is working in region {region}; use zones of {region} (such as {region}a), or run with --region {of}"),
                        ));
                    }
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(StackError::Invalid(problems))
        }
    }
}

/// `address` as clawform writes it when given as `TYPE.ADDRESS` (Terraform's spelling) with
/// a type of `registry`; else as given. For addresses no stack file is at hand for (state).
pub fn without_type_prefix(address: &str, is_type: impl Fn(&str) -> bool) -> &str {
    match address.split_once('.') {
        Some((type_name, rest)) if is_type(type_name) => rest,
        _ => address,
    }
}

/// The largest `count` accepted: far above any real use, low enough that a typo cannot plan
/// millions of resources.
pub const MAX_COUNT: u64 = 1000;

fn decode_count(value: &serde_yaml::Value) -> Result<Json, String> {
    let expected = "`count` must be a whole number (0 to 1000), `auto`, or `${param.NAME}`";
    match value {
        serde_yaml::Value::Number(n) => match n.as_u64() {
            Some(n) if n <= MAX_COUNT => Ok(Json::from(n)),
            _ => Err(format!("{expected}; found {n}")),
        },
        serde_yaml::Value::String(s) if s == "auto" => Ok(Json::String(s.clone())),
        serde_yaml::Value::String(s) => {
            let template = Template::parse(s).ok();
            match template.as_ref().map(|t| (t.as_single_reference(), t.parts())) {
                Some((Some(Reference::Param(_)), _)) => Ok(Json::String(s.clone())),
                // `${param.C ? A : B}`: each branch a parameter, a number or `"auto"`, checked
                // once chosen.
                Some((None, [Part::Cond(c)])) if [&c.then, &c.otherwise].iter().all(|b| is_count_branch(b)) => Ok(Json::String(s.clone())),
                Some((None, [Part::Cond(_)])) => {
                    Err(format!("`count` chooses between `param.NAME`, a whole number or `\"auto\"`, as in `${{param.C ? param.NAME : 0}}`; found `{s}`"))
                }
                _ => Err(format!("{expected}; found `{s}`")),
            }
        }
        _ => Err(expected.to_string()),
    }
}

fn is_count_branch(branch: &crate::value::Branch) -> bool {
    use crate::value::Branch;
    match branch {
        Branch::Ref(Reference::Param(_)) => true,
        Branch::Number(n) => n.as_u64().is_some_and(|n| n <= MAX_COUNT),
        Branch::Text(t) => t == "auto",
        Branch::Ref(_) => false,
    }
}

/// What a `count` comes to, given parameter values: a number, or `auto` (with the parameter
/// that said so, if one did).
enum CountValue {
    Fixed(usize),
    Auto(Option<String>),
}

fn count_value(count: &Json, params: &IndexMap<String, Json>) -> Result<CountValue, String> {
    let template = count.as_str().and_then(|s| Template::parse(s).ok());
    // A conditional count is its chosen branch.
    let count = match template.as_ref().map(|t| t.choose(params)) {
        Some(Ok(Some(chosen))) => chosen,
        Some(Err(message)) => return Err(format!("`count`: {message}")),
        _ => count.clone(),
    };
    let mut from_param = None;
    let value = match count.as_str().and_then(|s| Template::parse(s).ok()) {
        Some(t) => match t.as_single_reference() {
            Some(Reference::Param(p)) => {
                from_param = Some(p.clone());
                params.get(p).cloned().ok_or_else(|| format!("`count` uses `param.{p}`, which has no value"))?
            }
            _ => count.clone(),
        },
        None => count.clone(),
    };
    match &value {
        Json::String(s) if s == "auto" => Ok(CountValue::Auto(from_param)),
        // A list parameter counts its items: one instance per item, each reading its own with
        // `${param.NAME[count.index]}` (Terraform's `count = length(var.NAME)`).
        Json::Array(items) if items.len() as u64 <= MAX_COUNT => Ok(CountValue::Fixed(items.len())),
        // `--param shards=3` arrives as a number; from a file or environment it may be text.
        Json::String(s) => s
            .parse::<u64>()
            .ok()
            .filter(|n| *n <= MAX_COUNT)
            .map(|n| CountValue::Fixed(n as usize))
            .ok_or_else(|| format!("`count` is `{s}`; expected a whole number (0 to {MAX_COUNT}) or `auto`")),
        Json::Number(n) => n
            .as_u64()
            .filter(|n| *n <= MAX_COUNT)
            .map(|n| CountValue::Fixed(n as usize))
            .ok_or_else(|| format!("`count` is {n}; expected a whole number (0 to {MAX_COUNT}) or `auto`")),
        other => Err(format!("`count` is {other}; expected a whole number (0 to {MAX_COUNT}), `auto` or a list of at most {MAX_COUNT} items")),
    }
}

fn unknown_type_message(type_name: &str, registry: &Registry) -> String {
    let names: Vec<&str> = registry.type_names().collect();
    // A typo first (`aws_vcp`); then a part of a name (`subnet` for `aws_subnet`).
    let close: Vec<&str> = match crate::suggest::did_you_mean(type_name, names.iter().copied()) {
        Some(n) => vec![n],
        None => names.iter().copied().filter(|n| similar(n, type_name)).collect(),
    };
    if close.is_empty() {
        format!("unknown resource type `{type_name}`; expected one of: {}", names.join(", "))
    } else {
        format!("unknown resource type `{type_name}`; did you mean `{}`?", close.join("` or `"))
    }
}

fn similar(a: &str, b: &str) -> bool {
    let a = a.trim_start_matches("aws_");
    let b = b.trim_start_matches("aws_");
    !b.is_empty() && (a.contains(b) || b.contains(a))
}

/// Every reference in a JSON value, with the dotted path of the string that makes it.
pub(crate) fn walk_references(value: &Json, path: &str, out: &mut Vec<(String, Result<Reference, String>)>) {
    walk_references_at(value, &mut path.to_string(), out);
}

/// [`walk_references`] with the path in one buffer, extended and cut back on the way down: a
/// path is copied only for a string that holds a reference, not formatted for every value
/// (planning thousands of tenants walks every value of every stack several times).
fn walk_references_at(value: &Json, path: &mut String, out: &mut Vec<(String, Result<Reference, String>)>) {
    match value {
        Json::String(s) if s.contains('$') => match Template::parse(s) {
            Ok(t) => out.extend(t.references().map(|r| (path.clone(), Ok(r.clone())))),
            Err(e) => out.push((path.clone(), Err(e.to_string()))),
        },
        Json::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                with_segment(path, i, |path| walk_references_at(item, path, out));
            }
        }
        Json::Object(map) => {
            for (k, item) in map {
                with_segment(path, k, |path| walk_references_at(item, path, out));
            }
        }
        _ => {}
    }
}

/// Runs `f` with `.SEGMENT` appended to `path`, then takes it off again.
fn with_segment<T>(path: &mut String, segment: impl std::fmt::Display, f: impl FnOnce(&mut String) -> T) -> T {
    use std::fmt::Write;
    let len = path.len();
    let _ = write!(path, ".{segment}");
    let result = f(path);
    path.truncate(len);
    result
}

/// The first character YAML does not allow in a stream, with its line and column: serde_yaml
/// reports those with a byte offset only.
fn first_forbidden_char(text: &str) -> Option<(usize, usize, char)> {
    let (mut line, mut column) = (1, 1);
    for c in text.chars() {
        let allowed = matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{85}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}');
        if !allowed {
            return Some((line, column, c));
        }
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    None
}

fn invalid(location: Location, message: &str) -> StackError {
    StackError::Invalid(vec![Diagnostic { location, message: message.to_string() }])
}

fn join(path: &str, segment: &str) -> String {
    match (path.is_empty() || path == ".", segment.is_empty()) {
        (true, _) => segment.to_string(),
        (false, true) => path.to_string(),
        (false, false) => format!("{path}.{segment}"),
    }
}

fn strip_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(pos) => message[..pos].to_string(),
        None => message.to_string(),
    }
}

fn top_level_hint(message: String) -> String {
    if message.starts_with("missing field `stack`") {
        "missing field `stack`; expected the stack's name, as in `stack: base`".into()
    } else {
        message
    }
}

fn list_or_none(items: &[&str]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// Where the stack named `name` lives: `stacks/NAME.yaml` under `root`, or `name` itself when it is
/// a path to a file.
pub fn stack_path(root: &Path, name: &str) -> PathBuf {
    let as_path = Path::new(name);
    if name.ends_with(".yaml") || name.ends_with(".yml") || name.contains('/') {
        if as_path.is_absolute() {
            as_path.to_path_buf()
        } else {
            root.join(as_path)
        }
    } else {
        root.join("stacks").join(format!("{name}.yaml"))
    }
}
