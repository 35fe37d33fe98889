//! State: what was applied, one JSON document per stack.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// The version of the state format written by this build.
pub const STATE_FORMAT_VERSION: u32 = 1;

/// The last applied state of one stack.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct State {
    /// Format of this document.
    pub format_version: u32,
    /// Goes up by one on every write; a plan records the serial it was made from.
    pub serial: u64,
    /// Random id given when the state is first written; never changes after.
    pub lineage: String,
    /// The stack this state belongs to.
    pub stack: String,
    /// Parameter values of the last apply.
    #[serde(default)]
    pub params: IndexMap<String, Json>,
    /// Parameters given explicitly (`--param`, not defaults or secrets): the next plan uses them
    /// again unless given anew.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub param_overrides: IndexMap<String, Json>,
    /// Resources that exist, in the order they were applied.
    pub resources: Vec<StateResource>,
    /// Old resources a create-before-destroy replacement has superseded but not yet deleted
    /// (an apply stopped in between): the next plan deletes them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deposed: Vec<StateResource>,
    /// The stack's outputs after the last apply.
    #[serde(default)]
    pub outputs: IndexMap<String, Json>,
    /// The journal of creates: addresses whose create an apply started but did not record
    /// (it failed, its answer was lost, or the process died), so AWS may hold a resource of
    /// theirs that `resources` does not. An apply writes its creates here before making any,
    /// and takes each out as it is recorded. Only these addresses are searched for leftovers
    /// to adopt, which spares every other create the reads of that search. `None` (state
    /// written before the journal was kept): anything may have been left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creating: Option<Vec<String>>,
    /// A nonce per journal entry of `creating`, from which a create derives its idempotency
    /// token (EC2's and ECS's `ClientToken`): the run after a crash sends the same token as the
    /// run that died, so AWS answers with what the first request made instead of making a
    /// second. Removed with the journal entry, so a later create of the address gets a new one.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub create_tokens: IndexMap<String, String>,
    /// Where the resources live (the provider's region, `us-west-2`), recorded by the first
    /// apply: the ids in this state mean nothing in another region, so a plan or apply there is
    /// refused instead of reading every resource as "deleted outside clawform".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// One resource as applied.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StateResource {
    /// The resource's address in its stack.
    pub address: String,
    /// The Terraform type name.
    #[serde(rename = "type")]
    pub type_name: String,
    /// The cloud's id for it.
    pub id: String,
    /// Attributes as applied, plus computed ones; sensitive ones only as a hash.
    pub attributes: Json,
    /// Addresses it depended on when applied (deletes go in the reverse order).
    #[serde(default)]
    pub dependencies: Vec<String>,
}

impl State {
    /// A fresh state for `stack`, with a new lineage and serial 0.
    pub fn new(stack: &str) -> State {
        State {
            format_version: STATE_FORMAT_VERSION,
            serial: 0,
            lineage: uuid::Uuid::new_v4().to_string(),
            stack: stack.to_string(),
            params: IndexMap::new(),
            param_overrides: IndexMap::new(),
            deposed: Vec::new(),
            resources: Vec::new(),
            outputs: IndexMap::new(),
            creating: Some(Vec::new()),
            create_tokens: IndexMap::new(),
            region: None,
        }
    }

    /// Whether an earlier apply may have created resource `address` without recording it.
    pub fn leftover_possible(&self, address: &str) -> bool {
        self.creating.as_ref().is_none_or(|started| started.iter().any(|a| a == address))
    }

    /// The idempotency token of the create of `address` this journal entry stands for: the
    /// same for every run until the create is recorded; 32 hexadecimal digits, within the
    /// shortest limit of the APIs that take one (ECS's 36 characters).
    pub fn create_token(&self, address: &str) -> Option<String> {
        use sha2::Digest;
        let nonce = self.create_tokens.get(address)?;
        let digest = sha2::Sha256::digest(format!("{}\n{}\n{address}\n{nonce}", self.lineage, self.stack));
        Some(digest.iter().take(16).map(|b| format!("{b:02x}")).collect())
    }

    /// The resource at `address`.
    pub fn get(&self, address: &str) -> Option<&StateResource> {
        self.resources.iter().find(|r| r.address == address)
    }

    /// Inserts or replaces the resource at its address.
    pub fn put(&mut self, resource: StateResource) {
        match self.resources.iter_mut().find(|r| r.address == resource.address) {
            Some(slot) => *slot = resource,
            None => self.resources.push(resource),
        }
    }

    /// Removes the resource at `address`.
    pub fn remove(&mut self, address: &str) {
        self.resources.retain(|r| r.address != address);
    }
}

/// The refusal of a state recorded in another region than the one configured, if it is.
pub fn region_mismatch(state: &State, configured: Option<&str>) -> Option<String> {
    match (state.region.as_deref(), configured) {
        (Some(recorded), Some(configured)) if recorded != configured => Some(format!(
            "the state of stack `{}` is in region {recorded}, but the region configured is {configured}; run with `--region {recorded}` (or AWS_REGION={recorded}): its resources are not in {configured}",
            state.stack
        )),
        _ => None,
    }
}

#[cfg(test)]
mod region_tests {
    use super::*;

    #[test]
    fn a_state_is_used_only_in_the_region_it_records() {
        let mut state = State::new("base");
        assert_eq!(region_mismatch(&state, Some("eu-west-1")), None, "nothing recorded yet: the first apply records it");
        state.region = Some("us-west-2".into());
        assert_eq!(region_mismatch(&state, Some("us-west-2")), None);
        assert_eq!(region_mismatch(&state, None), None, "a provider without regions");
        let refusal = region_mismatch(&state, Some("eu-west-1")).unwrap();
        assert!(refusal.contains("region us-west-2") && refusal.contains("--region us-west-2"), "{refusal}");
        let text = serde_json::to_string(&State::new("x")).unwrap();
        assert!(!text.contains("region"), "states without a region read and write as before: {text}");
    }
}
