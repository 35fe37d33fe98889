//! Ownership tags: every resource clawform creates carries `clawform:stack` and
//! `clawform:address`, set in the create call itself so a crash cannot leave it untagged.

use indexmap::IndexMap;

use clawform_core::{OpContext, ProviderError, Val};

/// Tag naming the stack that owns a resource.
pub const STACK_TAG: &str = "clawform:stack";
/// Tag naming the resource's address in its stack.
pub const ADDRESS_TAG: &str = "clawform:address";

/// The resource's own tags (already merged with the stack's) plus the ownership tags.
pub(crate) fn with_ownership(tags: &IndexMap<String, Val<String>>, ctx: &OpContext) -> Result<Vec<(String, String)>, ProviderError> {
    let mut out = plain(tags)?;
    out.push((STACK_TAG.to_string(), ctx.stack.clone()));
    out.push((ADDRESS_TAG.to_string(), address_tag(&ctx.address)));
    Ok(out)
}

/// The `clawform:address` tag value of an address. Several services (ELBv2 among them) refuse
/// `[` and `]` in tag values, so the instance `alb[2]` is tagged `alb.2` (a `.` never occurs in
/// a stack address otherwise).
pub fn address_tag(address: &str) -> String {
    address.replace('[', ".").replace(']', "")
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

/// What to set and what to remove to go from `old` to `new` (ownership tags are never touched).
pub(crate) fn diff(old: &IndexMap<String, Val<String>>, new: &IndexMap<String, Val<String>>) -> Result<(Vec<(String, String)>, Vec<String>), ProviderError> {
    let old = plain(old)?;
    let new = plain(new)?;
    let set: Vec<(String, String)> = new.iter().filter(|kv| !old.contains(kv)).cloned().collect();
    let removed: Vec<String> = old.iter().map(|(k, _)| k.clone()).filter(|k| !new.iter().any(|(nk, _)| nk == k)).collect();
    Ok((set, removed))
}
