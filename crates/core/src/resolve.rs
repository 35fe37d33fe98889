//! Resolving templates: substituting parameters, outputs of other stacks and attributes of
//! resources already applied. What depends on a resource not yet created is unknown.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use indexmap::IndexMap;
use serde_json::{Map, Value as Json};

use crate::value::{escape, OutputIndex, Part, Reference, Template};

/// What templates are resolved against.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Parameter values.
    pub params: IndexMap<String, Json>,
    /// Known attributes (with `id`) of resources, by address.
    pub resources: HashMap<String, Json>,
    /// Resources whose attributes are not known until apply (to be created or replaced).
    pub unknown: HashSet<String>,
    /// Outputs of other stacks, by stack name.
    pub external: BTreeMap<String, IndexMap<String, Json>>,
    /// Secret parameters whose values were not given: what uses them keeps its applied value.
    pub withheld: HashSet<String>,
    /// Instances of each resource with `count` (for `${NAME[*].ATTRIBUTE}` lists).
    pub counts: BTreeMap<String, usize>,
}

/// Attributes after resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedAttributes {
    /// The values; unknown and withheld ones are null.
    pub values: Json,
    /// Attributes known only after apply.
    pub unknown: BTreeSet<String>,
    /// Attributes that use a secret parameter whose value was not given.
    pub withheld: BTreeSet<String>,
}

/// A reference that cannot be resolved.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResolveError {
    /// Template text that does not parse (checked at load; here for stacks from plan files).
    #[error("{0}")]
    Template(String),
    /// A parameter without a value.
    #[error("`{0}` has no value")]
    Param(String),
    /// A resource that is neither applied nor about to be.
    #[error("`{0}` refers to a resource that does not exist yet and is not planned")]
    Missing(String),
    /// An attribute the resource does not have.
    #[error("`{0}` has no value: the resource does not have that attribute set")]
    Attribute(String),
    /// An item of a list output that is not there.
    #[error("`{reference}`: {reason}")]
    Index {
        /// The reference.
        reference: String,
        /// Why.
        reason: String,
    },
    /// An output of another stack that is not there.
    #[error("`{reference}`: stack `{stack}` has no output `{name}`; apply `{stack}` first")]
    Output {
        /// The reference.
        reference: String,
        /// The other stack.
        stack: String,
        /// The output.
        name: String,
    },
}

enum Resolved {
    Known(Json),
    Unknown,
    Withheld,
}

/// Templates parsed ahead, by their text: a stack planned for every tenant parses each of its
/// templates once, not once per tenant.
pub(crate) type Parsed = HashMap<String, Template>;

/// The templates among `values` (every string with a `$` that parses), parsed.
pub(crate) fn parse_templates<'a>(values: impl Iterator<Item = &'a Json>) -> Parsed {
    fn walk(value: &Json, out: &mut Parsed) {
        match value {
            Json::String(s) if s.contains('$') => {
                if let Ok(t) = Template::parse(s) {
                    out.insert(s.clone(), t);
                }
            }
            Json::Array(items) => items.iter().for_each(|v| walk(v, out)),
            Json::Object(map) => map.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Parsed::new();
    values.for_each(|v| walk(v, &mut out));
    out
}

impl Scope {
    /// Resolves each top-level attribute.
    pub fn resolve_attributes(&self, attributes: &Json) -> Result<ResolvedAttributes, ResolveError> {
        self.resolve_attributes_parsed(attributes, None)
    }

    /// [`Scope::resolve_attributes`] with templates parsed ahead (others are parsed here).
    pub(crate) fn resolve_attributes_parsed(&self, attributes: &Json, parsed: Option<&Parsed>) -> Result<ResolvedAttributes, ResolveError> {
        let mut out = Map::new();
        let mut unknown = BTreeSet::new();
        let mut withheld = BTreeSet::new();
        if let Json::Object(map) = attributes {
            for (key, value) in map {
                match self.resolve_value(value, parsed)? {
                    Resolved::Known(v) => {
                        out.insert(key.clone(), v);
                    }
                    Resolved::Unknown => {
                        out.insert(key.clone(), Json::Null);
                        unknown.insert(key.clone());
                    }
                    Resolved::Withheld => {
                        out.insert(key.clone(), Json::Null);
                        withheld.insert(key.clone());
                    }
                }
            }
        }
        Ok(ResolvedAttributes { values: Json::Object(out), unknown, withheld })
    }

    /// Resolves a value that must be known (an output at the end of an apply).
    pub fn resolve_known(&self, value: &Json) -> Result<Option<Json>, ResolveError> {
        self.resolve_known_parsed(value, None)
    }

    /// [`Scope::resolve_known`] with templates parsed ahead.
    pub(crate) fn resolve_known_parsed(&self, value: &Json, parsed: Option<&Parsed>) -> Result<Option<Json>, ResolveError> {
        Ok(match self.resolve_value(value, parsed)? {
            Resolved::Known(v) => Some(v),
            Resolved::Unknown | Resolved::Withheld => None,
        })
    }

    fn resolve_value(&self, value: &Json, parsed: Option<&Parsed>) -> Result<Resolved, ResolveError> {
        match value {
            Json::String(s) if s.contains('$') => match parsed.and_then(|p| p.get(s)) {
                Some(template) => self.resolve_template(template),
                None => {
                    let template = Template::parse(s).map_err(|e| ResolveError::Template(e.to_string()))?;
                    self.resolve_template(&template)
                }
            },
            Json::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match self.resolve_value(item, parsed)? {
                        Resolved::Known(v) => out.push(v),
                        other => return Ok(other),
                    }
                }
                Ok(Resolved::Known(Json::Array(out)))
            }
            Json::Object(map) => {
                let mut out = Map::new();
                for (k, item) in map {
                    match self.resolve_value(item, parsed)? {
                        Resolved::Known(v) => {
                            out.insert(k.clone(), v);
                        }
                        other => return Ok(other),
                    }
                }
                Ok(Resolved::Known(Json::Object(out)))
            }
            other => Ok(Resolved::Known(other.clone())),
        }
    }

    fn resolve_template(&self, template: &Template) -> Result<Resolved, ResolveError> {
        // Plans choose conditionals before resolving; values read outside a plan (the stack
        // checks, a plan file's outputs) may still hold them.
        if let Some(chosen) = template.choose(&self.params).map_err(ResolveError::Template)? {
            return self.resolve_value(&chosen, None);
        }
        if let Some(r) = template.as_single_reference() {
            return Ok(match self.lookup(r)? {
                Resolved::Known(Json::String(s)) => Resolved::Known(Json::String(escaped(s))),
                other => other,
            });
        }
        let mut text = String::new();
        for part in template.parts() {
            match part {
                Part::Text(t) => text.push_str(t),
                Part::Ref(r) => match self.lookup(r)? {
                    Resolved::Known(Json::String(s)) => text.push_str(&s),
                    Resolved::Known(Json::Null) => return Err(ResolveError::Attribute(r.to_string())),
                    Resolved::Known(other) => text.push_str(&other.to_string()),
                    other => return Ok(other),
                },
                Part::Cond(_) => unreachable!("conditionals are chosen above"),
            }
        }
        Ok(Resolved::Known(Json::String(escaped(text))))
    }

    fn lookup(&self, r: &Reference) -> Result<Resolved, ResolveError> {
        match r {
            Reference::Param(name) if self.withheld.contains(name) => Ok(Resolved::Withheld),
            Reference::Param(name) => self.params.get(name).cloned().map(Resolved::Known).ok_or_else(|| ResolveError::Param(r.to_string())),
            Reference::CountIndex => Err(ResolveError::Template("`${count.index}` is only meaningful inside a resource with `count`".into())),
            Reference::ParamItem { name, .. } if self.withheld.contains(name) => Ok(Resolved::Withheld),
            Reference::ParamItem { name, index } => {
                let value = self.params.get(name).ok_or_else(|| ResolveError::Param(format!("${{param.{name}}}")))?;
                let Some(position) = index else {
                    return Err(ResolveError::Template(format!("`{r}`: `[count.index]` is only meaningful inside a resource with `count`")));
                };
                let items = value
                    .as_array()
                    .ok_or_else(|| ResolveError::Index { reference: r.to_string(), reason: format!("`param.{name}` is {value}, not a list") })?;
                items.get(*position).cloned().map(Resolved::Known).ok_or_else(|| ResolveError::Index {
                    reference: r.to_string(),
                    reason: format!("`param.{name}` has {} item(s); there is no item {position} (give lists of the same length)", items.len()),
                })
            }
            Reference::Resource { address, attribute } if address.ends_with("[*]") => {
                let name = &address[..address.len() - 3];
                let mut items = Vec::new();
                for i in 0..self.counts.get(name).copied().unwrap_or(0) {
                    match self.lookup(&Reference::Resource { address: format!("{name}[{i}]"), attribute: attribute.clone() })? {
                        Resolved::Known(v) => items.push(v),
                        other => return Ok(other),
                    }
                }
                Ok(Resolved::Known(Json::Array(items)))
            }
            Reference::Resource { address, attribute } => {
                if self.unknown.contains(address) {
                    return Ok(Resolved::Unknown);
                }
                let attrs = self.resources.get(address).ok_or_else(|| ResolveError::Missing(r.to_string()))?;
                match attrs.get(attribute) {
                    Some(v) if !v.is_null() => Ok(Resolved::Known(v.clone())),
                    _ => Err(ResolveError::Attribute(r.to_string())),
                }
            }
            Reference::Output { stack, name, index } => {
                let value = self.external.get(stack).and_then(|outputs| outputs.get(name)).ok_or_else(|| ResolveError::Output {
                    reference: r.to_string(),
                    stack: stack.clone(),
                    name: name.clone(),
                })?;
                let Some(index) = index else { return Ok(Resolved::Known(value.clone())) };
                let position = match index {
                    OutputIndex::Number(n) => *n,
                    OutputIndex::Param(p) => {
                        let v = self.params.get(p).ok_or_else(|| ResolveError::Param(format!("${{param.{p}}}")))?;
                        v.as_u64()
                            .map(|n| n as usize)
                            .ok_or_else(|| ResolveError::Index {
                                reference: r.to_string(), reason: format!("`param.{p}` is {v}, not a position (0, 1, 2…)")
                            })?
                    }
                };
                let items = value
                    .as_array()
                    .ok_or_else(|| ResolveError::Index { reference: r.to_string(), reason: format!("output `{name}` of stack `{stack}` is not a list") })?;
                items.get(position).cloned().map(Resolved::Known).ok_or_else(|| ResolveError::Index {
                    reference: r.to_string(),
                    reason: format!("output `{name}` of stack `{stack}` has {} item(s); there is no item {position}", items.len()),
                })
            }
        }
    }
}

/// [`escape`] of a string the caller owns: most resolved values hold no `${`, and are kept
/// as they are rather than copied.
fn escaped(text: String) -> String {
    if text.contains("${") {
        escape(&text)
    } else {
        text
    }
}

/// Names of the other stacks whose outputs a set of values reads.
pub fn external_stacks<'a>(values: impl Iterator<Item = &'a Json>) -> BTreeSet<String> {
    let mut refs = Vec::new();
    for v in values {
        let _ = crate::value::references_in(v, &mut refs);
    }
    refs.into_iter()
        .filter_map(|r| match r {
            Reference::Output { stack, .. } => Some(stack),
            _ => None,
        })
        .collect()
}
