//! A cheap first look at many state documents for [`super::users_of_removed`]: which stacks
//! hold each string, kept as a hash of the string, read from the document's JSON text without
//! building the state. A rollout to every tenant reads every state before the first plan; this
//! pass no longer parses them as [`State`]s (it cost as much as the second read, which plans).
//!
//! The index only narrows the search: a plan whose removed ids no other stack's document holds
//! has no users; otherwise the few stacks that may hold them are read in full and asked
//! exactly, so a hash collision costs a read, never a wrong answer.

use std::collections::HashMap;
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::removed_ids;
use crate::plan::Plan;
use crate::state::{State, STATE_FORMAT_VERSION};

/// Which stacks' documents hold each string of 8 characters or more (shorter ones are never
/// taken as identifiers).
#[derive(Debug, Default)]
pub struct UsageIndex {
    stacks: Vec<String>,
    holders: HashMap<u64, Holders>,
}

#[derive(Debug)]
enum Holders {
    One(usize),
    Several(Vec<usize>),
}

impl UsageIndex {
    /// Adds the strings of a state document's JSON text. Fails, adding nothing, when the text
    /// is not a state document this version reads; the caller then reads it as a [`State`]
    /// for the precise error (or adds that with [`UsageIndex::add_state`]).
    pub fn add_document(&mut self, text: &[u8]) -> Result<(), serde_json::Error> {
        let mut strings = Vec::new();
        let document: Document = Document::deserialize_with(&mut serde_json::Deserializer::from_slice(text), &mut strings)?;
        if document.format_version > STATE_FORMAT_VERSION {
            return Err(de::Error::custom("newer format"));
        }
        self.insert(document.stack, strings);
        Ok(())
    }

    /// Adds the strings of a state already read.
    pub fn add_state(&mut self, state: &State) {
        let json = serde_json::to_value(state).unwrap_or_default();
        let mut strings = Vec::new();
        super::strings_in(&json, &mut |s| strings.push(hash_of(s)));
        self.insert(state.stack.clone(), strings);
    }

    fn insert(&mut self, stack: String, hashes: Vec<u64>) {
        let at = self.stacks.len();
        self.stacks.push(stack);
        for h in hashes {
            match self.holders.get_mut(&h) {
                None => {
                    self.holders.insert(h, Holders::One(at));
                }
                Some(Holders::One(s)) if *s == at => {}
                Some(Holders::One(s)) => {
                    let first = *s;
                    self.holders.insert(h, Holders::Several(vec![first, at]));
                }
                Some(Holders::Several(list)) => {
                    if list.last() != Some(&at) {
                        list.push(at);
                    }
                }
            }
        }
    }

    /// The stacks other than the plan's own whose documents may hold an id or ARN of what the
    /// plan deletes or replaces, in the order they were added; read them and ask
    /// [`super::users_of_removed`]. Empty: no other stack uses anything the plan removes.
    pub fn stacks_to_check(&self, plan: &Plan) -> Vec<&str> {
        let mut found: Vec<usize> = Vec::new();
        for value in removed_ids(plan).keys() {
            match self.holders.get(&hash_of(value)) {
                None => {}
                Some(Holders::One(s)) => found.push(*s),
                Some(Holders::Several(list)) => found.extend(list),
            }
        }
        found.sort();
        found.dedup();
        found.into_iter().map(|s| self.stacks[s].as_str()).filter(|s| *s != plan.stack).collect()
    }
}

fn hash_of(s: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    s.hash(&mut hasher);
    hasher.finish()
}

/// A state document as [`State`] reads it, with every JSON value inside replaced by the hashes
/// of its strings: the same fields and types, so that a document this accepts is one the full
/// read accepts.
struct Document {
    format_version: u32,
    stack: String,
}

impl Document {
    fn deserialize_with<'de, D: Deserializer<'de>>(deserializer: D, strings: &mut Vec<u64>) -> Result<Document, D::Error> {
        deserializer.deserialize_map(DocumentVisitor { strings })
    }
}

struct DocumentVisitor<'a> {
    strings: &'a mut Vec<u64>,
}

impl<'de> Visitor<'de> for DocumentVisitor<'_> {
    type Value = Document;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a state document")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
        let (mut format_version, mut serial, mut lineage, mut stack, mut resources) = (None, None, None, None, None);
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let strings = Strings(&mut *self.strings);
            match key.as_ref() {
                "format_version" => format_version = Some(map.next_value::<u32>()?),
                "serial" => serial = Some(map.next_value::<u64>()?),
                "lineage" => lineage = Some(map.next_value::<String>()?),
                "stack" => stack = Some(map.next_value::<String>()?),
                "params" | "param_overrides" | "outputs" => map.next_value_seed(JsonMap(strings))?,
                "resources" => resources = Some(map.next_value_seed(ResourceList(strings))?),
                "deposed" => map.next_value_seed(ResourceList(strings))?,
                "creating" => drop(map.next_value::<Option<Vec<String>>>()?),
                _ => drop(map.next_value::<IgnoredAny>()?),
            }
        }
        let missing = |field| de::Error::missing_field(field);
        serial.ok_or_else(|| missing("serial"))?;
        lineage.ok_or_else(|| missing("lineage"))?;
        resources.ok_or_else(|| missing("resources"))?;
        Ok(Document { format_version: format_version.ok_or_else(|| missing("format_version"))?, stack: stack.ok_or_else(|| missing("stack"))? })
    }
}

/// Collects the hashes of every string (8 characters or more) in a JSON value.
struct Strings<'a>(&'a mut Vec<u64>);

impl<'de> de::DeserializeSeed<'de> for Strings<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strings<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<(), E> {
        if s.len() >= 8 {
            self.0.push(hash_of(s));
        }
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Strings(&mut *self.0))?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value_seed(Strings(&mut *self.0))?;
        }
        Ok(())
    }
}

/// A JSON object of any values (`params`, `outputs`), as `IndexMap<String, Json>` reads it.
struct JsonMap<'a>(Strings<'a>);

impl<'de> de::DeserializeSeed<'de> for JsonMap<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for JsonMap<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        self.0.visit_map(map)
    }
}

/// `resources` and `deposed`: lists of resources with the fields a [`crate::state::StateResource`]
/// requires, their attributes' strings collected.
struct ResourceList<'a>(Strings<'a>);

impl<'de> de::DeserializeSeed<'de> for ResourceList<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ResourceList<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of resources")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let strings = (self.0).0;
        while seq.next_element_seed(Resource(Strings(&mut *strings)))?.is_some() {}
        Ok(())
    }
}

struct Resource<'a>(Strings<'a>);

impl<'de> de::DeserializeSeed<'de> for Resource<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Resource<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a resource")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let strings = (self.0).0;
        let (mut address, mut type_name, mut id, mut attributes) = (false, false, false, false);
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "address" => address = map.next_value::<String>().map(|_| true)?,
                "type" => type_name = map.next_value::<String>().map(|_| true)?,
                "id" => id = map.next_value::<String>().map(|_| true)?,
                "attributes" => attributes = map.next_value_seed(Strings(&mut *strings)).map(|()| true)?,
                "dependencies" => drop(map.next_value::<Vec<String>>()?),
                _ => drop(map.next_value::<IgnoredAny>()?),
            }
        }
        for (present, field) in [(address, "address"), (type_name, "type"), (id, "id"), (attributes, "attributes")] {
            if !present {
                return Err(de::Error::missing_field(field));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::StateResource;
    use serde_json::json;

    fn state(stack: &str, arn: &str, uses: &str) -> State {
        let mut s = State::new(stack);
        s.resources.push(StateResource {
            address: "rule".into(),
            type_name: "aws_lb_listener_rule".into(),
            id: arn.into(),
            attributes: json!({"arn": arn, "listener_arn": uses, "tags": {"a": "short"}}),
            dependencies: vec![],
        });
        s
    }

    #[test]
    fn documents_and_states_index_the_same_strings() {
        let a = state("tenant-a", "arn:aws:rule/a", "arn:aws:listener/1");
        let b = state("tenant-b", "arn:aws:rule/b", "arn:aws:listener/1");
        let mut from_text = UsageIndex::default();
        for s in [&a, &b] {
            from_text.add_document(&serde_json::to_vec_pretty(s).unwrap()).unwrap();
        }
        let mut from_states = UsageIndex::default();
        from_states.add_state(&a);
        from_states.add_state(&b);
        let mut plan = crate::plan::plan_destroy(&State::new("base"), &crate::schema::Registry::default());
        plan.changes = vec![crate::plan::plan_destroy(&a, &crate::schema::Registry::default()).changes[0].clone()];
        plan.changes[0].before = Some(json!({"arn": "arn:aws:listener/1"}));
        plan.changes[0].prior_id = Some("arn:aws:listener/1".into());
        // Other stacks see the listener through the base stack's outputs.
        plan.output_changes.insert(
            "listener_arns".into(),
            crate::plan::OutputChange { before: Some(json!(["arn:aws:listener/1", "arn:aws:rule/a"])), after: None, after_unknown: false },
        );
        for index in [&from_text, &from_states] {
            assert_eq!(index.stacks_to_check(&plan), ["tenant-a", "tenant-b"]);
        }
        // A tenant's own ids are its own business.
        plan.stack = "tenant-a".into();
        plan.changes[0].before = Some(json!({"arn": "arn:aws:rule/a"}));
        plan.changes[0].prior_id = Some("arn:aws:rule/a".into());
        assert!(from_text.stacks_to_check(&plan).is_empty());
    }

    #[test]
    fn what_the_full_read_refuses_is_refused() {
        let mut index = UsageIndex::default();
        let good = serde_json::to_value(state("s", "arn:aws:rule/a", "arn:aws:listener/1")).unwrap();
        for broken in [json!({"stack": "s"}), json!({"format_version": 99, "serial": 1, "lineage": "l", "stack": "s", "resources": []}), {
            let mut g = good.clone();
            g["resources"][0].as_object_mut().unwrap().remove("id");
            g
        }] {
            assert!(index.add_document(&serde_json::to_vec(&broken).unwrap()).is_err(), "{broken}");
            assert!(crate::backend::parse_state(&broken.to_string(), "x").is_err());
        }
        assert!(index.add_document(&serde_json::to_vec(&good).unwrap()).is_ok());
        assert!(index.add_document(b"{not json").is_err());
    }
}
