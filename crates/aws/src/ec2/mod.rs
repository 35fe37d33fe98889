//! EC2 resource types (networking) and the helpers they share.

pub mod vpc;

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use clawform_core::{OpContext, ProviderError, Val};
use indexmap::IndexMap;

use crate::clients::Clients;
use crate::error::sdk;
use crate::tags;

/// The TagSpecification that tags a new EC2 resource with its own and its owner's tags.
pub(crate) fn tag_spec(resource_type: ResourceType, own: &IndexMap<String, Val<String>>, ctx: &OpContext) -> Result<TagSpecification, ProviderError> {
    let tags = tags::with_ownership(own, ctx)?;
    Ok(TagSpecification::builder().resource_type(resource_type).set_tags(Some(tags.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect())).build())
}

/// Brings an EC2 resource's tags from `old` to `new`.
pub(crate) async fn sync_tags(aws: &Clients, id: &str, old: &IndexMap<String, Val<String>>, new: &IndexMap<String, Val<String>>) -> Result<(), ProviderError> {
    let (set, removed) = tags::diff(old, new)?;
    if !removed.is_empty() {
        aws.ec2
            .delete_tags()
            .resources(id)
            .set_tags(Some(removed.into_iter().map(|k| Tag::builder().key(k).build()).collect()))
            .send()
            .await
            .map_err(|e| sdk("ec2 DeleteTags", e))?;
    }
    if !set.is_empty() {
        aws.ec2
            .create_tags()
            .resources(id)
            .set_tags(Some(set.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()))
            .send()
            .await
            .map_err(|e| sdk("ec2 CreateTags", e))?;
    }
    Ok(())
}

/// Tags read back from EC2, without the ownership tags (those are clawform's, not the user's).
pub(crate) fn user_tags(tags: &[Tag]) -> serde_json::Map<String, serde_json::Value> {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
        .filter(|(k, _)| k != tags::STACK_TAG && k != tags::ADDRESS_TAG)
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect()
}

/// The ARN of an EC2 resource (`vpc/vpc-123`), which the EC2 APIs do not return.
pub(crate) fn arn(aws: &Clients, owner: &str, kind: &str, id: &str) -> String {
    format!("arn:aws:ec2:{}:{owner}:{kind}/{id}", aws.region)
}

/// Checks an IPv4 CIDR block: a network address and a prefix length in `range`.
pub(crate) fn check_cidr(path: &str, value: &Val<String>, range: std::ops::RangeInclusive<u8>, out: &mut Vec<clawform_core::FieldError>) {
    let Some(text) = value.literal() else { return };
    match text.parse::<ipnet::Ipv4Net>() {
        Err(_) => out.push(clawform_core::FieldError::new(path, format!("`{text}` is not an IPv4 CIDR block; expected something like 10.0.0.0/16"))),
        Ok(net) if net.network() != net.addr() => {
            out.push(clawform_core::FieldError::new(path, format!("`{text}` has host bits set; expected the network address {}", net.trunc())))
        }
        Ok(net) if !range.contains(&net.prefix_len()) => out.push(clawform_core::FieldError::new(
            path,
            format!("`{text}` has prefix length /{}; AWS allows /{} to /{} here", net.prefix_len(), range.start(), range.end()),
        )),
        Ok(_) => {}
    }
}
