//! Drift: what changed outside clawform. Live attributes are read by type, in batches, across
//! every stack in scope, and compared with state attribute by attribute.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::provider::{Owned, Provider, ProviderError};
use crate::schema::Registry;
use crate::state::State;

/// One attribute that differs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AttributeDrift {
    /// The attribute's name.
    pub attribute: String,
    /// The value in state (what clawform applied).
    pub expected: Json,
    /// The value AWS has now.
    pub actual: Json,
}

/// How one resource compares with state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum DriftStatus {
    /// As applied.
    InSync,
    /// Changed outside clawform.
    Modified {
        /// What changed.
        attributes: Vec<AttributeDrift>,
    },
    /// Gone outside clawform.
    Deleted,
}

/// One resource's drift.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ResourceDrift {
    /// The stack.
    pub stack: String,
    /// The address in the stack.
    pub address: String,
    /// The Terraform type name.
    #[serde(rename = "type")]
    pub type_name: String,
    /// The id in state.
    pub id: String,
    /// How it compares.
    #[serde(flatten)]
    pub status: DriftStatus,
}

/// A drift check over one or more stacks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct DriftReport {
    /// Every resource in state, in stack and address order.
    pub resources: Vec<ResourceDrift>,
    /// Live resources tagged with a checked stack but not in its state.
    pub unmanaged: Vec<Owned>,
    /// Live attributes by stack and address, for accepting them into state.
    #[serde(skip)]
    pub live: BTreeMap<(String, String), Option<Json>>,
}

impl DriftReport {
    /// Whether anything drifted or is unmanaged.
    pub fn has_drift(&self) -> bool {
        !self.unmanaged.is_empty() || self.resources.iter().any(|r| r.status != DriftStatus::InSync)
    }

    /// The resources of one stack that are not in sync.
    pub fn drifted(&self, stack: &str) -> impl Iterator<Item = &ResourceDrift> {
        let stack = stack.to_string();
        self.resources.iter().filter(move |r| r.stack == stack && r.status != DriftStatus::InSync)
    }
}

/// Reads every resource of `states` (grouped by type across stacks, one batched read per type)
/// and every resource tagged with their stacks, and compares them with state. The reads of
/// different types, and the search for tagged resources, go out side by side: each type's
/// batches follow one another, so with AWS's round trip the slowest type sets the time
/// instead of the sum of all of them.
pub async fn detect(states: &[State], registry: &Registry, provider: &dyn Provider) -> Result<DriftReport, ProviderError> {
    let mut by_type: BTreeMap<&str, Vec<(&State, usize)>> = BTreeMap::new();
    for state in states {
        for (i, r) in state.resources.iter().enumerate() {
            by_type.entry(r.type_name.as_str()).or_default().push((state, i));
        }
    }
    let stacks: Vec<String> = states.iter().map(|s| s.stack.clone()).collect();
    let known: std::collections::HashSet<String> = states
        .iter()
        .flat_map(|s| s.resources.iter())
        .flat_map(|r| std::iter::once(r.id.clone()).chain(r.attributes.get("arn").and_then(Json::as_str).map(str::to_string)))
        .collect();
    let reads = futures::future::try_join_all(by_type.iter().map(|(type_name, members)| {
        let ids: Vec<String> = members.iter().map(|(s, i)| s.resources[*i].id.clone()).collect();
        async move { provider.read(type_name, &ids).await }
    }));
    let (lives, owned) = futures::future::try_join(reads, provider.find_owned(&stacks, &known)).await?;
    let mut report = DriftReport::default();
    for ((type_name, members), live) in by_type.iter().zip(lives) {
        let kind = registry.get(type_name);
        for ((state, i), live) in members.iter().zip(live) {
            let r = &state.resources[*i];
            let status = match &live {
                None => DriftStatus::Deleted,
                Some(live) => {
                    let skip: Vec<&str> = kind.map(|k| k.computed().iter().chain(k.sensitive()).copied().collect()).unwrap_or_default();
                    let as_aws_holds = kind.and_then(|k| k.live_values(&r.attributes));
                    let attributes = compare(as_aws_holds.as_ref().unwrap_or(&r.attributes), live, &skip);
                    if attributes.is_empty() {
                        DriftStatus::InSync
                    } else {
                        DriftStatus::Modified { attributes }
                    }
                }
            };
            report.live.insert((state.stack.clone(), r.address.clone()), live);
            report.resources.push(ResourceDrift {
                stack: state.stack.clone(),
                address: r.address.clone(),
                type_name: r.type_name.clone(),
                id: r.id.clone(),
                status,
            });
        }
    }
    report.resources.sort_by(|a, b| (&a.stack, &a.address).cmp(&(&b.stack, &b.address)));
    for owned in owned {
        let Some(state) = states.iter().find(|s| s.stack == owned.stack) else { continue };
        let managed = state.get(&owned.address).is_some_and(|r| owned.matches(&r.id, &r.attributes));
        if !managed {
            report.unmanaged.push(owned);
        }
    }
    Ok(report)
}

/// Attributes of `state` that differ in `live`. Only what state holds is compared (what the
/// user set); computed and sensitive attributes, and attributes the read does not return, are
/// skipped.
pub fn compare(state: &Json, live: &Json, skip: &[&str]) -> Vec<AttributeDrift> {
    let (Json::Object(s), Json::Object(l)) = (state, live) else { return vec![] };
    let mut out = Vec::new();
    for (key, expected) in s {
        if key == "id" || skip.contains(&key.as_str()) {
            continue;
        }
        let Some(actual) = l.get(key) else { continue };
        if !equivalent(expected, actual) {
            out.push(AttributeDrift { attribute: key.clone(), expected: expected.clone(), actual: actual.clone() });
        }
    }
    out
}

/// Whether `actual` (live) matches `expected` (state) by meaning: unset, null, empty list and
/// empty map are the same; keys of nested blocks that state does not hold are AWS's defaults
/// and not compared; lists compare as sets (AWS returns rules, subnets and blocks in its own
/// order); strings holding JSON documents compare as documents; numbers written as strings
/// equal the number.
pub fn equivalent(expected: &Json, actual: &Json) -> bool {
    let empty = |v: &Json| match v {
        Json::Null => true,
        Json::Array(x) => x.is_empty(),
        Json::Object(x) => x.is_empty(),
        Json::String(s) => s.is_empty(),
        _ => false,
    };
    if empty(expected) && empty(actual) {
        return true;
    }
    match (expected, actual) {
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().all(|e| y.iter().any(|a| equivalent(e, a))) && y.iter().all(|a| x.iter().any(|e| equivalent(e, a)))
        }
        (Json::Object(x), Json::Object(y)) => x.iter().all(|(k, e)| equivalent(e, y.get(k).unwrap_or(&Json::Null))),
        (Json::String(x), Json::String(y)) if x != y => match (document(x), document(y)) {
            (Some(p), Some(q)) => equivalent(&p, &q),
            _ => x.replace("$${", "${") == y.replace("$${", "${"),
        },
        (Json::String(x), Json::Number(n)) | (Json::Number(n), Json::String(x)) => x.parse::<f64>().ok() == n.as_f64(),
        _ => expected == actual,
    }
}

fn document(s: &str) -> Option<Json> {
    let t = s.trim_start();
    if t.starts_with('{') || t.starts_with('[') {
        serde_json::from_str(s).ok()
    } else {
        None
    }
}

/// State with live values accepted: modified attributes take the live value, deleted resources
/// leave state. The serial is not changed here.
pub fn refreshed(state: &State, report: &DriftReport) -> State {
    let mut out = state.clone();
    let mut gone = Vec::new();
    for drift in report.resources.iter().filter(|r| r.stack == state.stack) {
        match &drift.status {
            DriftStatus::InSync => {}
            DriftStatus::Deleted => gone.push(drift.address.clone()),
            DriftStatus::Modified { attributes } => {
                if let Some(r) = out.resources.iter_mut().find(|r| r.address == drift.address) {
                    if let Json::Object(map) = &mut r.attributes {
                        for a in attributes {
                            map.insert(a.attribute.clone(), a.actual.clone());
                        }
                    }
                }
            }
        }
    }
    for address in gone {
        out.remove(&address);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn meaning_not_layout_decides() {
        assert!(equivalent(&json!("{\"a\": [1, 2]}"), &json!("{\"a\":[1,2]}")));
        assert!(equivalent(&json!([{"p": 80}, {"p": 443}]), &json!([{"p": 443}, {"p": 80}])));
        assert!(equivalent(&json!(null), &json!([])));
        assert!(equivalent(&json!("404"), &json!(404)));
        assert!(!equivalent(&json!(20), &json!(30)));
        assert!(equivalent(&json!({"a": 1}), &json!({"a": 1, "default": 10})), "AWS defaults in blocks are not drift");
        assert!(!equivalent(&json!({"a": 1}), &json!({"a": 2})));
    }

    #[test]
    fn only_what_state_holds_is_compared() {
        let state = json!({"id": "x", "max_size": 20, "arn": "a", "secret": "sha256:1"});
        let live = json!({"id": "x", "max_size": 30, "arn": "b", "secret": "other", "desired_capacity": 3});
        let drift = compare(&state, &live, &["arn", "secret"]);
        assert_eq!(drift, vec![AttributeDrift { attribute: "max_size".into(), expected: json!(20), actual: json!(30) }]);
    }
}
