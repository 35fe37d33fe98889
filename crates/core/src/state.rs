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
        }
    }

    /// Whether an earlier apply may have created resource `address` without recording it.
    pub fn leftover_possible(&self, address: &str) -> bool {
        self.creating.as_ref().is_none_or(|started| started.iter().any(|a| a == address))
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
