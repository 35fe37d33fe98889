//! Ownership tags: every resource clawform creates carries `clawform:stack` and
//! `clawform:address`, set in the create call itself so a crash cannot leave it untagged. And
//! tags once for every service: a service says how its SDK spells a tag and how it tags and
//! untags a resource ([`TagApi`]); creating, syncing, reading back and the ownership check are
//! written here, once.

use async_trait::async_trait;
use indexmap::IndexMap;
use serde_json::{Map, Value as Json};

use clawform_core::{OpContext, ProviderError, Val};

use crate::clients::Clients;

pub use clawform_core::provider::{address_tag, ADDRESS_TAG, STACK_TAG};

/// The resource's own tags (already merged with the stack's) plus the ownership tags.
pub(crate) fn with_ownership(tags: &IndexMap<String, Val<String>>, ctx: &OpContext) -> Result<Vec<(String, String)>, ProviderError> {
    let mut out = plain(tags)?;
    out.push((STACK_TAG.to_string(), ctx.stack.clone()));
    out.push((ADDRESS_TAG.to_string(), address_tag(&ctx.address)));
    Ok(out)
}

/// The address a `clawform:address` tag value stands for: `alb.2` is `alb[2]`.
pub fn address_from_tag(value: &str) -> String {
    match value.split_once('.') {
        Some((name, index)) => format!("{name}[{index}]"),
        None => value.to_string(),
    }
}

/// The tags as plain pairs.
pub(crate) fn plain(tags: &IndexMap<String, Val<String>>) -> Result<Vec<(String, String)>, ProviderError> {
    tags.iter().map(|(k, v)| Ok((k.clone(), v.value()?.clone()))).collect()
}

/// Tags to set (key, value) and keys to remove.
type Diff = (Vec<(String, String)>, Vec<String>);

/// What to set and what to remove to go from `old` to `new` (ownership tags are never touched).
pub(crate) fn diff(old: &IndexMap<String, Val<String>>, new: &IndexMap<String, Val<String>>) -> Result<Diff, ProviderError> {
    let old = plain(old)?;
    let new = plain(new)?;
    let set: Vec<(String, String)> = new.iter().filter(|kv| !old.contains(kv)).cloned().collect();
    let removed: Vec<String> = old.iter().map(|(k, _)| k.clone()).filter(|k| !new.iter().any(|(nk, _)| nk == k)).collect();
    Ok((set, removed))
}

/// A tag as a service's SDK spells it: its key and value, however optional the SDK makes them.
pub(crate) trait TagPair {
    /// The key ("" when the SDK left it out).
    fn tag_key(&self) -> &str;
    /// The value ("" when the SDK left it out).
    fn tag_value(&self) -> &str;
}

/// Tags as plain pairs (CloudWatch Logs' maps, tags gathered from any SDK shape).
impl TagPair for (String, String) {
    fn tag_key(&self) -> &str {
        &self.0
    }
    fn tag_value(&self) -> &str {
        &self.1
    }
}

/// How a service tags its resources: the one thing each service writes about tags.
#[async_trait]
pub(crate) trait TagApi {
    /// The SDK's tag type.
    type Tag: TagPair + Send;
    /// A tag of the SDK's type.
    fn make(key: String, value: String) -> Result<Self::Tag, ProviderError>;
    /// Sets `tags` on the resource `target` names (an ARN, an id or a name: what the service's
    /// tagging call takes).
    async fn tag(aws: &Clients, target: &str, tags: Vec<Self::Tag>) -> Result<(), ProviderError>;
    /// Removes the tags with `keys` from the resource `target` names.
    async fn untag(aws: &Clients, target: &str, keys: Vec<String>) -> Result<(), ProviderError>;
}

/// The tags for a create call: the resource's own plus the ownership tags.
pub(crate) fn create_tags<A: TagApi>(own: &IndexMap<String, Val<String>>, ctx: &OpContext) -> Result<Vec<A::Tag>, ProviderError> {
    with_ownership(own, ctx)?.into_iter().map(|(k, v)| A::make(k, v)).collect()
}

/// What an update changes of a resource's tags.
pub(crate) struct TagChange {
    set: Vec<(String, String)>,
    removed: Vec<String>,
}

impl TagChange {
    /// What to set and remove to go from `old` to `new` (ownership tags are never touched).
    pub(crate) fn between(old: &IndexMap<String, Val<String>>, new: &IndexMap<String, Val<String>>) -> Result<TagChange, ProviderError> {
        let (set, removed) = diff(old, new)?;
        Ok(TagChange { set, removed })
    }

    /// Whether nothing changes (then no call is needed, nor a look-up of the resource's ARN).
    pub(crate) fn is_empty(&self) -> bool {
        self.set.is_empty() && self.removed.is_empty()
    }

    /// Makes the change: untag what went, then tag what is new or changed; no call for an empty
    /// half.
    pub(crate) async fn apply<A: TagApi>(self, aws: &Clients, target: &str) -> Result<(), ProviderError> {
        if !self.removed.is_empty() {
            A::untag(aws, target, self.removed).await?;
        }
        if !self.set.is_empty() {
            let tags = self.set.into_iter().map(|(k, v)| A::make(k, v)).collect::<Result<Vec<_>, _>>()?;
            A::tag(aws, target, tags).await?;
        }
        Ok(())
    }
}

/// Brings the tags of the resource `target` names from `old` to `new`.
pub(crate) async fn sync_tags<A: TagApi>(
    aws: &Clients,
    target: &str,
    old: &IndexMap<String, Val<String>>,
    new: &IndexMap<String, Val<String>>,
) -> Result<(), ProviderError> {
    TagChange::between(old, new)?.apply::<A>(aws, target).await
}

/// Tags read back from AWS, without the ownership tags (those are clawform's, not the user's).
pub(crate) fn user_tags<T: TagPair>(tags: &[T]) -> Map<String, Json> {
    tags.iter()
        .filter(|t| !t.tag_key().is_empty() && t.tag_key() != STACK_TAG && t.tag_key() != ADDRESS_TAG)
        .map(|t| (t.tag_key().to_string(), Json::String(t.tag_value().to_string())))
        .collect()
}

/// What to do about a resource that already has the name a create is for.
pub(crate) enum Taken {
    /// It carries this very resource's ownership tags: a run that crashed between the create
    /// and saving state left it, so it is adopted rather than duplicated or refused.
    Ours,
    /// Someone else's; the text says whose, for the refusal.
    Theirs(String),
}

/// Whether `tags` say the resource is `ctx`'s own, and if not, whose it is.
pub(crate) fn taken<T: TagPair>(tags: &[T], ctx: &OpContext) -> Taken {
    let tag = |key: &str| tags.iter().find(|t| t.tag_key() == key).map(TagPair::tag_value);
    match (tag(STACK_TAG), tag(ADDRESS_TAG)) {
        (Some(s), Some(a)) if s == ctx.stack && a == address_tag(&ctx.address) => Taken::Ours,
        (Some(s), Some(a)) => Taken::Theirs(format!("`{a}` of clawform stack `{s}`")),
        _ => Taken::Theirs("not made by clawform".into()),
    }
}

/// Implements [`TagPair`] for SDK tag types whose key and value are optional.
macro_rules! optional_tag_pair {
    ($($tag:ty),*) => {$(
        impl $crate::support::tags::TagPair for $tag {
            fn tag_key(&self) -> &str {
                self.key().unwrap_or_default()
            }
            fn tag_value(&self) -> &str {
                self.value().unwrap_or_default()
            }
        }
    )*};
}

/// Implements [`TagPair`] for SDK tag types whose key and value are required.
macro_rules! required_tag_pair {
    ($($tag:ty),*) => {$(
        impl $crate::support::tags::TagPair for $tag {
            fn tag_key(&self) -> &str {
                self.key()
            }
            fn tag_value(&self) -> &str {
                self.value()
            }
        }
    )*};
}

pub(crate) use {optional_tag_pair, required_tag_pair};

#[cfg(test)]
mod tests {
    use super::*;

    struct Pair(&'static str, &'static str);

    impl TagPair for Pair {
        fn tag_key(&self) -> &str {
            self.0
        }
        fn tag_value(&self) -> &str {
            self.1
        }
    }

    fn tags(pairs: &[(&str, &str)]) -> IndexMap<String, Val<String>> {
        pairs.iter().map(|(k, v)| (k.to_string(), Val::Lit(v.to_string()))).collect()
    }

    #[test]
    fn ownership_is_read_from_the_tags() {
        let ctx = OpContext::new("web", "lb[2]");
        assert!(matches!(taken(&[Pair(STACK_TAG, "web"), Pair(ADDRESS_TAG, "lb.2")], &ctx), Taken::Ours));
        assert!(matches!(taken(&[Pair(STACK_TAG, "other"), Pair(ADDRESS_TAG, "lb.2")], &ctx), Taken::Theirs(w) if w.contains("stack `other`")));
        assert!(matches!(taken(&[Pair("Name", "x")], &ctx), Taken::Theirs(w) if w == "not made by clawform"));
        let user = user_tags(&[Pair(STACK_TAG, "web"), Pair("Env", "prod"), Pair("", "dropped")]);
        assert_eq!(Json::Object(user), serde_json::json!({"Env": "prod"}));
    }

    #[test]
    fn a_tag_change_sets_what_is_new_and_removes_what_went() {
        let change = TagChange::between(&tags(&[("a", "1"), ("b", "2")]), &tags(&[("a", "1"), ("b", "3"), ("c", "4")])).unwrap();
        assert_eq!(change.set, vec![("b".to_string(), "3".to_string()), ("c".into(), "4".into())]);
        assert!(change.removed.is_empty());
        let change = TagChange::between(&tags(&[("a", "1"), ("b", "2")]), &tags(&[("a", "1")])).unwrap();
        assert_eq!(change.removed, vec!["b".to_string()]);
        assert!(TagChange::between(&tags(&[("a", "1")]), &tags(&[("a", "1")])).unwrap().is_empty());
    }
}
