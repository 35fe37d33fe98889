//! Values in a stack: literals, references (`${vpc.id}`) and strings that interpolate them.
//!
//! A stack's attributes are kept as JSON in which every string may be a template. `${` starts a
//! reference and `$${` is a literal `${`. Templates are resolved against parameters and the
//! attributes of resources already applied; a value that depends on a resource not yet created
//! is unknown until apply.

use std::fmt;

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a `${...}` points at.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reference {
    /// `${param.NAME}`: a parameter of the stack.
    Param(String),
    /// `${ADDRESS.ATTRIBUTE}`: an attribute of another resource of the same stack.
    Resource {
        /// The resource's address.
        address: String,
        /// The attribute named.
        attribute: String,
    },
    /// `${STACK.outputs.NAME}`: an output of another stack (for example a tenant reading `base`);
    /// `${STACK.outputs.NAME[2]}` or `${STACK.outputs.NAME[param.X]}` picks one item of a list.
    Output {
        /// The other stack's name.
        stack: String,
        /// The output's name.
        name: String,
        /// The item of a list output, if one is picked.
        index: Option<OutputIndex>,
    },
    /// `${count.index}`: the instance number inside a resource with `count`.
    CountIndex,
    /// `${param.NAME[N]}` or `${param.NAME[count.index]}` (`index` none until a resource with
    /// `count` is expanded): one item of a list parameter, so a counted resource can take the
    /// item of its own number (one subnet per CIDR of a list).
    ParamItem {
        /// The parameter's name.
        name: String,
        /// The item's position; none for `[count.index]` before expansion.
        index: Option<usize>,
    },
}

/// Which item of a list output a reference picks.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OutputIndex {
    /// A fixed position.
    Number(usize),
    /// The position given by a parameter of the stack.
    Param(String),
}

impl fmt::Display for OutputIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputIndex::Number(n) => write!(f, "{n}"),
            OutputIndex::Param(p) => write!(f, "param.{p}"),
        }
    }
}

/// How a reference names one instance of a resource with `count`: `NAME[2]`, `NAME[*]` (all of
/// them, as a list) or `NAME[count.index]` (the instance with the same number).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InstanceIndex {
    /// One instance.
    Number(usize),
    /// Every instance, as a list.
    Splat,
    /// The instance with the referencing resource's own number.
    Same,
}

/// Splits a resource address into its name and instance index: `alb[2]` → (`alb`, 2).
pub fn split_address(address: &str) -> (&str, Option<InstanceIndex>) {
    let Some(open) = address.find('[') else { return (address, None) };
    let Some(inner) = address[open + 1..].strip_suffix(']') else { return (address, None) };
    let index = match inner {
        "*" => InstanceIndex::Splat,
        "count.index" => InstanceIndex::Same,
        n => match canonical_number(n) {
            Some(n) => InstanceIndex::Number(n),
            None => return (address, None),
        },
    };
    (&address[..open], Some(index))
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Param(name) => write!(f, "${{param.{name}}}"),
            Reference::Resource { address, attribute } => write!(f, "${{{address}.{attribute}}}"),
            Reference::Output { stack, name, index: None } => write!(f, "${{{stack}.outputs.{name}}}"),
            Reference::Output { stack, name, index: Some(i) } => write!(f, "${{{stack}.outputs.{name}[{i}]}}"),
            Reference::CountIndex => write!(f, "${{count.index}}"),
            Reference::ParamItem { name, index: Some(i) } => write!(f, "${{param.{name}[{i}]}}"),
            Reference::ParamItem { name, index: None } => write!(f, "${{param.{name}[count.index]}}"),
        }
    }
}

/// One piece of a template.
#[derive(Clone, Debug, PartialEq)]
pub enum Part {
    /// Text taken as it is.
    Text(String),
    /// A reference to substitute.
    Ref(Reference),
    /// `${param.X ? A : B}`: one of two branches, chosen by a parameter (see [`Conditional`]).
    Cond(Box<Conditional>),
}

/// `${param.X ? A : B}` (or `${!param.X ? A : B}`): Terraform's conditional expression, restricted
/// to what is known when parameters are bound. The condition reads one parameter only, so the
/// choice is made before counts are expanded and the graph is built: the branch not taken makes
/// no dependency and its references need not have instances.
#[derive(Clone, Debug, PartialEq)]
pub struct Conditional {
    /// The parameter read as the condition (always a [`Reference::Param`], kept as a reference so
    /// that it is checked and listed as every other one).
    pub condition: Reference,
    /// `!param.X`: the condition is the parameter's opposite.
    pub negated: bool,
    /// The value when the condition holds.
    pub then: Branch,
    /// The value otherwise.
    pub otherwise: Branch,
}

/// One branch of a [`Conditional`]: a reference or a literal.
#[derive(Clone, Debug, PartialEq)]
pub enum Branch {
    /// A reference, as inside `${...}`.
    Ref(Reference),
    /// A quoted text literal (`"redirect"`).
    Text(String),
    /// A number literal.
    Number(serde_json::Number),
}

impl fmt::Display for Branch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Branch::Ref(r) => {
                let text = r.to_string();
                f.write_str(&text[2..text.len() - 1])
            }
            Branch::Text(t) => write!(f, "{}", serde_json::Value::String(t.clone())),
            Branch::Number(n) => write!(f, "{n}"),
        }
    }
}

impl fmt::Display for Conditional {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let not = if self.negated { "!" } else { "" };
        write!(f, "${{{not}param.{} ? {} : {}}}", self.param(), self.then, self.otherwise)
    }
}

/// Whether a parameter's value counts as true in a condition: a non-empty string, `true`, a
/// non-zero number (a certificate ARN turns HTTPS on; an empty one leaves it off).
pub fn truthy(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Null => false,
        serde_json::Value::Bool(b) => *b,
        serde_json::Value::Number(n) => n.as_f64().is_some_and(|x| x != 0.0),
        serde_json::Value::String(s) => !s.is_empty(),
        serde_json::Value::Array(a) => !a.is_empty(),
        serde_json::Value::Object(o) => !o.is_empty(),
    }
}

impl Conditional {
    /// The branch taken for these parameter values; `Err` names the parameter without a value.
    pub fn choose(&self, params: &indexmap::IndexMap<String, serde_json::Value>) -> Result<&Branch, String> {
        let value = params.get(self.param()).ok_or_else(|| format!("the condition `{self}` reads `param.{}`, which has no value", self.param()))?;
        Ok(if truthy(value) != self.negated { &self.then } else { &self.otherwise })
    }

    /// The references the conditional makes: its parameter, then those of both branches.
    fn references(&self) -> impl Iterator<Item = &Reference> {
        fn branch(b: &Branch) -> Option<&Reference> {
            match b {
                Branch::Ref(r) => Some(r),
                _ => None,
            }
        }
        std::iter::once(&self.condition).chain(branch(&self.then)).chain(branch(&self.otherwise))
    }

    /// The name of the parameter read as the condition.
    pub fn param(&self) -> &str {
        match &self.condition {
            Reference::Param(p) => p,
            _ => "",
        }
    }

    /// Parses the inside of `${COND ? A : B}`, given the text before and after the `?`.
    fn parse(whole: &str, condition: &str, branches: &str) -> Result<Conditional, TemplateError> {
        let err = |reason: String| TemplateError { text: format!("${{{whole}}}"), reason };
        let condition = condition.trim();
        let (negated, condition) = match condition.strip_prefix('!') {
            Some(rest) => (true, rest.trim_start()),
            None => (false, condition),
        };
        let condition = match Reference::parse(condition) {
            Ok(r @ Reference::Param(_)) => r,
            _ => {
                return Err(err(format!(
                    "the condition must be a parameter, as in `${{param.NAME ? A : B}}` or `${{!param.NAME ? A : B}}`; found `{condition}`"
                )))
            }
        };
        let colon = outside_quotes(branches, ':').ok_or_else(|| err("expected `:` between the two branches, as in `${param.NAME ? A : B}`".into()))?;
        let branch = |text: &str| -> Result<Branch, TemplateError> {
            let text = text.trim();
            if text.starts_with('"') {
                return match serde_json::from_str::<String>(text) {
                    Ok(t) => Ok(Branch::Text(t)),
                    Err(_) => Err(err(format!("`{text}` is not a quoted text; expected `\"TEXT\"`"))),
                };
            }
            if text.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
                return match serde_json::from_str::<serde_json::Number>(text) {
                    Ok(n) => Ok(Branch::Number(n)),
                    Err(_) => Err(err(format!("`{text}` is not a number"))),
                };
            }
            if text.is_empty() || outside_quotes(text, '?').is_some() {
                return Err(err("each branch must be a reference (`param.NAME`, `ADDRESS.ATTRIBUTE`), a quoted text or a number".into()));
            }
            Reference::parse(text).map(Branch::Ref).map_err(|e| err(format!("in a branch: {}", e.reason)))
        };
        Ok(Conditional { condition, negated, then: branch(&branches[..colon])?, otherwise: branch(&branches[colon + 1..])? })
    }
}

/// The byte position of the first `wanted` that is not inside a `"..."` text literal.
fn outside_quotes(text: &str, wanted: char) -> Option<usize> {
    let (mut quoted, mut escaped) = (false, false);
    for (i, c) in text.char_indices() {
        match (quoted, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (_, _, '"') => quoted = !quoted,
            (false, _, c) if c == wanted => return Some(i),
            _ => {}
        }
    }
    None
}

/// A string that may interpolate references, parsed from its source text.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

/// Why a template's text could not be parsed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("bad reference `{text}`: {reason}")]
pub struct TemplateError {
    /// The offending text.
    pub text: String,
    /// What was expected instead.
    pub reason: String,
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl Reference {
    /// Parses the inside of `${...}`.
    pub fn parse(inner: &str) -> Result<Reference, TemplateError> {
        let err = |reason: &str| TemplateError { text: format!("${{{inner}}}"), reason: reason.to_string() };
        let expected = "expected `${ADDRESS.ATTRIBUTE}`, `${ADDRESS[N].ATTRIBUTE}`, `${param.NAME}`, `${count.index}` or `${STACK.outputs.NAME}`";
        let inner = inner.trim();
        if inner == "count.index" {
            return Ok(Reference::CountIndex);
        }
        // An index in brackets may hold a dot (`[count.index]`, `[param.shard]`): take it out
        // before splitting on dots.
        let (head, bracket, tail) = match inner.find('[') {
            Some(open) => {
                let close = inner[open..].find(']').map(|c| open + c).ok_or_else(|| err("a `[` is never closed with `]`"))?;
                (&inner[..open], Some(&inner[open + 1..close]), &inner[close + 1..])
            }
            None => (inner, None, ""),
        };
        let parts: Vec<&str> = head.split('.').collect();
        if parts.iter().any(|p| !is_name(p)) {
            return Err(err(&format!("{expected}, made of letters, digits, `_` and `-`")));
        }
        match (parts.as_slice(), bracket) {
            (["param", name], None) => Ok(Reference::Param(name.to_string())),
            (["param", name], Some(i)) if tail.is_empty() => {
                let index = match i {
                    "count.index" => None,
                    n => Some(canonical_number(n).ok_or_else(|| err("expected a number or `count.index` between the brackets of a parameter"))?),
                };
                Ok(Reference::ParamItem { name: name.to_string(), index })
            }
            ([stack, "outputs", name], None) => Ok(Reference::Output { stack: stack.to_string(), name: name.to_string(), index: None }),
            ([stack, "outputs", name], Some(i)) if tail.is_empty() => {
                let index = match i.strip_prefix("param.") {
                    Some(p) if is_name(p) => OutputIndex::Param(p.to_string()),
                    _ => OutputIndex::Number(canonical_number(i).ok_or_else(|| err("expected a number or `param.NAME` between the brackets"))?),
                };
                Ok(Reference::Output { stack: stack.to_string(), name: name.to_string(), index: Some(index) })
            }
            ([address, attribute], None) => Ok(Reference::Resource { address: address.to_string(), attribute: attribute.to_string() }),
            ([address], Some(i)) => {
                let attribute = tail
                    .strip_prefix('.')
                    .filter(|a| is_name(a))
                    .ok_or_else(|| err(&format!("expected an attribute after `{address}[{i}]`, as in `${{{address}[{i}].id}}`")))?;
                if i != "*" && i != "count.index" && canonical_number(i).is_none() {
                    return Err(err("expected a number, `*` or `count.index` between the brackets"));
                }
                Ok(Reference::Resource { address: format!("{address}[{i}]"), attribute: attribute.to_string() })
            }
            _ => Err(err(expected)),
        }
    }
}

fn canonical_number(text: &str) -> Option<usize> {
    let n: usize = text.parse().ok()?;
    (n.to_string() == text).then_some(n)
}

impl Template {
    /// A template made of these parts.
    pub fn from_parts(parts: Vec<Part>) -> Template {
        Template { parts }
    }

    /// Parses template text; `$${` stands for a literal `${`.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(pos) = rest.find('$') {
            literal.push_str(&rest[..pos]);
            let after = &rest[pos..];
            if let Some(tail) = after.strip_prefix("$${") {
                literal.push_str("${");
                rest = tail;
            } else if let Some(body) = after.strip_prefix("${") {
                // A text branch of a conditional may hold a `}`.
                let end = outside_quotes(body, '}')
                    .ok_or_else(|| TemplateError { text: after.chars().take(40).collect(), reason: "a `${` is never closed with `}`".into() })?;
                if !literal.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut literal)));
                }
                let inner = &body[..end];
                parts.push(match outside_quotes(inner, '?') {
                    Some(q) => Part::Cond(Box::new(Conditional::parse(inner, &inner[..q], &inner[q + 1..])?)),
                    None => Part::Ref(Reference::parse(inner)?),
                });
                rest = &body[end + 1..];
            } else {
                literal.push('$');
                rest = &after[1..];
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() || parts.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Template { parts })
    }

    /// The pieces of the template in order.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The references the template makes, in order; a conditional's are its parameter's and
    /// both branches'.
    pub fn references(&self) -> impl Iterator<Item = &Reference> {
        self.parts.iter().flat_map(|p| -> Box<dyn Iterator<Item = &Reference> + '_> {
            match p {
                Part::Ref(r) => Box::new(std::iter::once(r)),
                Part::Cond(c) => Box::new(c.references()),
                Part::Text(_) => Box::new(std::iter::empty()),
            }
        })
    }

    /// The conditionals of the template.
    pub fn conditionals(&self) -> impl Iterator<Item = &Conditional> {
        self.parts.iter().filter_map(|p| match p {
            Part::Cond(c) => Some(&**c),
            _ => None,
        })
    }

    /// The value of the template once each conditional is replaced by the branch `params`
    /// choose: a template string, or, when the whole template is one conditional choosing a
    /// literal, that literal (a number stays a number). `None` when it has no conditional.
    pub fn choose(&self, params: &indexmap::IndexMap<String, serde_json::Value>) -> Result<Option<serde_json::Value>, String> {
        if self.conditionals().next().is_none() {
            return Ok(None);
        }
        if let [Part::Cond(c)] = self.parts.as_slice() {
            return Ok(Some(match c.choose(params)? {
                Branch::Ref(r) => serde_json::Value::String(r.to_string()),
                Branch::Text(t) => serde_json::Value::String(escape(t)),
                Branch::Number(n) => serde_json::Value::Number(n.clone()),
            }));
        }
        let mut parts: Vec<Part> = Vec::with_capacity(self.parts.len());
        for part in &self.parts {
            let chosen = match part {
                Part::Cond(c) => match c.choose(params)? {
                    Branch::Ref(r) => Part::Ref(r.clone()),
                    Branch::Text(t) => Part::Text(t.clone()),
                    Branch::Number(n) => Part::Text(n.to_string()),
                },
                other => other.clone(),
            };
            match (parts.last_mut(), chosen) {
                (Some(Part::Text(before)), Part::Text(t)) => before.push_str(&t),
                (_, chosen) => parts.push(chosen),
            }
        }
        Ok(Some(serde_json::Value::String(Template::from_parts(parts).to_string())))
    }

    /// The single reference, when the whole string is one `${...}`: its value keeps its own type.
    pub fn as_single_reference(&self) -> Option<&Reference> {
        match self.parts.as_slice() {
            [Part::Ref(r)] => Some(r),
            _ => None,
        }
    }

    /// The text, when the template holds no reference at all.
    pub fn as_text(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [Part::Text(t)] => Some(t),
            _ => None,
        }
    }
}

/// Escapes a literal string so that it is not read as a template.
pub fn escape(text: &str) -> String {
    text.replace("${", "$${")
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.parts {
            match part {
                Part::Text(t) => f.write_str(&escape(t))?,
                Part::Ref(r) => write!(f, "{r}")?,
                Part::Cond(c) => write!(f, "{c}")?,
            }
        }
        Ok(())
    }
}

/// A typed attribute: a literal `T`, or an expression resolved at plan or apply time.
///
/// In YAML and JSON a string containing `${` is an expression; anything else must deserialize
/// as `T`, which is how type errors are caught when a stack is loaded.
#[derive(Clone, Debug, PartialEq)]
pub enum Val<T> {
    /// A value known when the stack is written.
    Lit(T),
    /// A template with at least one reference.
    Expr(Template),
}

impl<T> Val<T> {
    /// A reference to `ADDRESS.ATTRIBUTE` of another resource.
    pub fn reference(address: &str, attribute: &str) -> Val<T> {
        Val::Expr(Template { parts: vec![Part::Ref(Reference::Resource { address: address.into(), attribute: attribute.into() })] })
    }

    /// A reference to a parameter of the stack.
    pub fn param(name: &str) -> Val<T> {
        Val::Expr(Template { parts: vec![Part::Ref(Reference::Param(name.into()))] })
    }

    /// The literal value, or an error naming the expression still unresolved.
    ///
    /// Providers call this on resolved attributes, where every value is a literal.
    pub fn value(&self) -> Result<&T, Unresolved> {
        match self {
            Val::Lit(v) => Ok(v),
            Val::Expr(t) => Err(Unresolved(t.to_string())),
        }
    }

    /// The literal value if there is one (expressions are checked once resolved).
    pub fn literal(&self) -> Option<&T> {
        match self {
            Val::Lit(v) => Some(v),
            Val::Expr(_) => None,
        }
    }
}

/// An expression reached a provider without being resolved (a bug in the engine, not user input).
#[derive(Debug, Clone, thiserror::Error)]
#[error("expression `{0}` was not resolved before apply")]
pub struct Unresolved(pub String);

impl<T> From<T> for Val<T> {
    fn from(v: T) -> Self {
        Val::Lit(v)
    }
}

impl From<&str> for Val<String> {
    fn from(v: &str) -> Self {
        Val::Lit(v.to_string())
    }
}

impl<T: Default> Default for Val<T> {
    fn default() -> Self {
        Val::Lit(T::default())
    }
}

impl<T: Serialize> Serialize for Val<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Val::Lit(v) => {
                // A literal string holding `${` must stay literal once written as a template.
                let json = serde_json::to_value(v).map_err(serde::ser::Error::custom)?;
                match json {
                    serde_json::Value::String(text) => s.serialize_str(&escape(&text)),
                    _ => v.serialize(s),
                }
            }
            Val::Expr(t) => s.serialize_str(&t.to_string()),
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Val<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = serde_yaml::Value::deserialize(d)?;
        if let serde_yaml::Value::String(text) = &raw {
            if text.contains('$') {
                let template = Template::parse(text).map_err(D::Error::custom)?;
                return match template.as_text() {
                    Some(plain) => {
                        T::deserialize(serde_yaml::Value::String(plain.to_string())).map(Val::Lit).map_err(|e| D::Error::custom(clean_message(&e.to_string())))
                    }
                    None => Ok(Val::Expr(template)),
                };
            }
        }
        match T::deserialize(&raw) {
            Ok(v) => Ok(Val::Lit(v)),
            // Scalars convert as Terraform converts them: a number or boolean where text is
            // expected (`${count.index}` in a name or tag) and numeric text where a number is.
            Err(e) => converted_scalar(&raw).and_then(|c| T::deserialize(c).ok()).map(Val::Lit).ok_or_else(|| D::Error::custom(clean_message(&e.to_string()))),
        }
    }
}

fn converted_scalar(raw: &serde_yaml::Value) -> Option<serde_yaml::Value> {
    match raw {
        serde_yaml::Value::Number(n) => Some(serde_yaml::Value::String(n.to_string())),
        serde_yaml::Value::Bool(b) => Some(serde_yaml::Value::String(b.to_string())),
        serde_yaml::Value::String(s) => match serde_yaml::from_str::<serde_yaml::Value>(s).ok()? {
            v @ (serde_yaml::Value::Number(_) | serde_yaml::Value::Bool(_)) => Some(v),
            _ => None,
        },
        _ => None,
    }
}

/// serde_yaml appends "at line L column C" of the inner, location-less value; drop it.
fn clean_message(message: &str) -> String {
    match message.find(" at line ") {
        Some(pos) => message[..pos].to_string(),
        None => message.to_string(),
    }
}

/// `value` with every conditional in its strings replaced by the branch `params` choose (see
/// [`Template::choose`]); `Err` carries the dotted path below `value` and the message.
pub fn choose_in(value: &serde_json::Value, params: &indexmap::IndexMap<String, serde_json::Value>) -> Result<serde_json::Value, (String, String)> {
    match value {
        serde_json::Value::String(s) if s.contains('?') && s.contains("${") => match Template::parse(s) {
            Ok(t) => Ok(t.choose(params).map_err(|m| (String::new(), m))?.unwrap_or_else(|| value.clone())),
            // Reported by the stack's checks.
            Err(_) => Ok(value.clone()),
        },
        serde_json::Value::Array(items) => Ok(serde_json::Value::Array(
            items.iter().enumerate().map(|(i, v)| choose_in(v, params).map_err(|(p, m)| (prefixed(i, &p), m))).collect::<Result<_, _>>()?,
        )),
        serde_json::Value::Object(map) => Ok(serde_json::Value::Object(
            map.iter().map(|(k, v)| Ok((k.clone(), choose_in(v, params).map_err(|(p, m)| (prefixed(k, &p), m))?))).collect::<Result<_, (String, String)>>()?,
        )),
        other => Ok(other.clone()),
    }
}

/// The parameters read as conditions anywhere inside a JSON value's strings.
pub fn condition_params_in(value: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
    match value {
        serde_json::Value::String(s) if s.contains('?') && s.contains("${") => {
            if let Ok(t) = Template::parse(s) {
                out.extend(t.conditionals().map(|c| c.param().to_string()));
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| condition_params_in(v, out)),
        serde_json::Value::Object(map) => map.values().for_each(|v| condition_params_in(v, out)),
        _ => {}
    }
}

fn prefixed(segment: impl fmt::Display, rest: &str) -> String {
    if rest.is_empty() {
        format!(".{segment}")
    } else {
        format!(".{segment}{rest}")
    }
}

/// Collects every reference made anywhere inside a JSON value's strings.
pub fn references_in(value: &serde_json::Value, out: &mut Vec<Reference>) -> Result<(), TemplateError> {
    match value {
        serde_json::Value::String(s) if s.contains('$') => {
            out.extend(Template::parse(s)?.references().cloned());
        }
        serde_json::Value::Array(items) => {
            for item in items {
                references_in(item, out)?;
            }
        }
        serde_json::Value::Object(map) => {
            for item in map.values() {
                references_in(item, out)?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_interpolation_and_escapes() {
        let t = Template::parse("${param.name}-alb-$${x}").unwrap();
        assert_eq!(t.references().count(), 1);
        assert_eq!(t.to_string(), "${param.name}-alb-$${x}");
        assert!(Template::parse("${vpc.id}").unwrap().as_single_reference().is_some());
    }

    #[test]
    fn rejects_bad_references() {
        assert!(Template::parse("${vpc}").is_err());
        assert!(Template::parse("${vpc.id").is_err());
        assert!(Template::parse("${a.b.c.d}").is_err());
        assert_eq!(
            Template::parse("${base.outputs.listener_arn}").unwrap().as_single_reference(),
            Some(&Reference::Output { stack: "base".into(), name: "listener_arn".into(), index: None })
        );
    }

    #[test]
    fn parses_instance_and_list_indexes() {
        let one = |t: &str| Template::parse(t).unwrap().as_single_reference().cloned().unwrap();
        assert_eq!(one("${alb[2].arn}"), Reference::Resource { address: "alb[2]".into(), attribute: "arn".into() });
        assert_eq!(one("${alb[*].dns_name}"), Reference::Resource { address: "alb[*]".into(), attribute: "dns_name".into() });
        assert_eq!(one("${alb[count.index].arn}"), Reference::Resource { address: "alb[count.index]".into(), attribute: "arn".into() });
        assert_eq!(one("${count.index}"), Reference::CountIndex);
        assert_eq!(
            one("${base.outputs.listener_arns[param.shard]}"),
            Reference::Output { stack: "base".into(), name: "listener_arns".into(), index: Some(OutputIndex::Param("shard".into())) }
        );
        assert_eq!(one("${base.outputs.listener_arns[1]}").to_string(), "${base.outputs.listener_arns[1]}");
        for bad in ["${alb[01].arn}", "${alb[x].arn}", "${alb[1]}", "${alb[1.arn}", "${a.outputs.b[-1]}", "${alb[1].arn.x}"] {
            assert!(Template::parse(bad).is_err(), "{bad} must be refused");
        }
        assert_eq!(one("${param.cidrs[count.index]}"), Reference::ParamItem { name: "cidrs".into(), index: None });
        assert_eq!(one("${param.cidrs[2]}").to_string(), "${param.cidrs[2]}");
        assert!(Template::parse("${param.cidrs[x]}").is_err());
        assert_eq!(split_address("alb[3]"), ("alb", Some(InstanceIndex::Number(3))));
        assert_eq!(split_address("alb"), ("alb", None));
        assert_eq!(split_address("alb[*]"), ("alb", Some(InstanceIndex::Splat)));
    }

    #[test]
    fn conditionals_parse_print_and_choose() {
        let t = Template::parse(r#"${!param.cert ? "http" : "https"}://${param.x ? alb[0].dns_name : 8080}/"#).unwrap();
        assert_eq!(t.to_string(), r#"${!param.cert ? "http" : "https"}://${param.x ? alb[0].dns_name : 8080}/"#);
        let refs: Vec<String> = t.references().map(|r| r.to_string()).collect();
        assert_eq!(refs, ["${param.cert}", "${param.x}", "${alb[0].dns_name}"]);
        let params: indexmap::IndexMap<String, serde_json::Value> =
            [("cert".to_string(), serde_json::json!("arn")), ("x".to_string(), serde_json::json!(0))].into();
        assert_eq!(t.choose(&params).unwrap(), Some(serde_json::json!("https://8080/")));
        let whole = Template::parse(r#"${param.x ? "a}b" : 3}"#).unwrap();
        assert_eq!(whole.choose(&params).unwrap(), Some(serde_json::json!(3)), "a whole conditional keeps its literal's type");
        assert_eq!(Template::parse("${param.x}").unwrap().choose(&params).unwrap(), None);
        assert!(Template::parse("${param.y ? 1 : 2}").unwrap().choose(&params).unwrap_err().contains("`param.y`, which has no value"));
        for (value, expected) in [
            (serde_json::json!(""), false),
            (serde_json::json!("x"), true),
            (serde_json::json!(true), true),
            (serde_json::json!(0), false),
            (serde_json::json!(2), true),
        ] {
            assert_eq!(truthy(&value), expected, "{value}");
        }
        for bad in
            ["${vpc.id ? 1 : 2}", "${param.x ? 1}", "${param.x ? \"a : 2}", "${param.x ? : 2}", "${param.x ? 1x : 2}", "${param.x ? param.y ? 1 : 2 : 3}"]
        {
            assert!(Template::parse(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn val_reads_literals_and_expressions() {
        let v: Val<bool> = serde_yaml::from_str("true").unwrap();
        assert_eq!(v, Val::Lit(true));
        let v: Val<bool> = serde_yaml::from_str("'${param.dns}'").unwrap();
        assert!(matches!(v, Val::Expr(_)));
        let err = serde_yaml::from_str::<Val<bool>>("yes please").unwrap_err().to_string();
        assert!(err.contains("expected a boolean"), "{err}");
        let v: Val<String> = serde_yaml::from_str("'cost $$${x}'").unwrap();
        assert_eq!(v, Val::Lit("cost $${x}".to_string()));
    }
}
