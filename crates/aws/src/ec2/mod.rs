//! EC2 resource types (networking) and the helpers they share.

pub mod eip;
pub mod internet_gateway;
pub mod launch_template;
pub mod nat_gateway;
pub mod route_table;
pub mod route_table_association;
pub mod security_group;
pub mod subnet;
pub mod vpc;

use std::future::Future;
use std::time::Duration;

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use clawform_core::{OpContext, ProviderError, Val};
use indexmap::IndexMap;

use crate::clients::Clients;
use crate::error::sdk;
use crate::handler::Register;
use crate::support::tags;
use crate::support::Backoff;

/// The EC2 resource types.
pub(crate) fn types(f: &mut dyn FnMut(Register)) {
    f(Register::of::<vpc::Vpc>());
    f(Register::of::<subnet::Subnet>());
    f(Register::of::<internet_gateway::InternetGateway>());
    f(Register::of::<route_table::RouteTable>());
    f(Register::of::<route_table_association::RouteTableAssociation>());
    f(Register::of::<security_group::SecurityGroup>());
    f(Register::of::<eip::Eip>());
    f(Register::of::<nat_gateway::NatGateway>());
    f(Register::of::<launch_template::LaunchTemplate>());
}

/// The TagSpecification that tags a new EC2 resource with its own and its owner's tags.
pub(crate) fn tag_spec(resource_type: ResourceType, own: &IndexMap<String, Val<String>>, ctx: &OpContext) -> Result<TagSpecification, ProviderError> {
    Ok(TagSpecification::builder().resource_type(resource_type).set_tags(Some(tags::create_tags::<Ec2Tags>(own, ctx)?)).build())
}

tags::optional_tag_pair!(Tag);

/// EC2's tagging: CreateTags and DeleteTags by resource id.
/// The EC2 filters selecting what carries `ctx`'s ownership tags: this stack and this address.
/// A create that an interrupted run made and never recorded is found by them (each type's own
/// Describe call takes `tag:` filters; the Resource Groups Tagging API is not needed).
pub(crate) fn owned_by(ctx: &OpContext) -> Vec<Filter> {
    let tag = |key: &str, value: String| Filter::builder().name(format!("tag:{key}")).values(value).build();
    vec![tag(tags::STACK_TAG, ctx.stack.clone()), tag(tags::ADDRESS_TAG, tags::address_tag(&ctx.address))]
}

/// Whether `tags` carry `ctx`'s ownership tags. Checked on what an [`owned_by`] search returns
/// as well: an emulator that ignores a `tag:` filter (moto's DescribeNatGateways) must not make
/// another resource look like this one's leftover.
pub(crate) fn carries_ownership(tags: &[Tag], ctx: &OpContext) -> bool {
    let has = |key: &str, value: &str| tags.iter().any(|t| t.key() == Some(key) && t.value() == Some(value));
    has(tags::STACK_TAG, &ctx.stack) && has(tags::ADDRESS_TAG, &tags::address_tag(&ctx.address))
}

pub(crate) struct Ec2Tags;

#[async_trait::async_trait]
impl tags::TagApi for Ec2Tags {
    type Tag = Tag;

    fn make(key: String, value: String) -> Result<Tag, ProviderError> {
        Ok(Tag::builder().key(key).value(value).build())
    }

    async fn tag(aws: &Clients, target: &str, tags: Vec<Tag>) -> Result<(), ProviderError> {
        aws.ec2.create_tags().resources(target).set_tags(Some(tags)).send().await.map_err(|e| sdk("ec2 CreateTags", e))?;
        Ok(())
    }

    async fn untag(aws: &Clients, target: &str, keys: Vec<String>) -> Result<(), ProviderError> {
        let tags = keys.into_iter().map(|k| Tag::builder().key(k).build()).collect();
        aws.ec2.delete_tags().resources(target).set_tags(Some(tags)).send().await.map_err(|e| sdk("ec2 DeleteTags", e))?;
        Ok(())
    }
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

/// EC2 refuses more than 200 filter values in one call (`FilterLimitExceeded: The maximum number
/// of filter values specified on a single call is 200`), so reads of many ids go in chunks.
pub(crate) const MAX_FILTER_VALUES: usize = 200;

/// Filters on `name` (such as `subnet-id`) for each chunk of `ids` EC2 takes in one call.
///
/// Reads filter by id rather than ask by id: asking by id fails the whole call when one id is
/// gone, a filter just leaves it out.
pub(crate) fn id_filters<'a>(name: &'a str, ids: &'a [String]) -> impl Iterator<Item = Filter> + 'a {
    ids.chunks(MAX_FILTER_VALUES).map(move |chunk| Filter::builder().name(name).set_values(Some(chunk.to_vec())).build())
}

/// How long [`while_propagating`] waits for a new resource to be seen; Terraform's AWS provider
/// waits two minutes ("propagation timeout") for the same reason.
const PROPAGATION_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs a call that names a resource created a moment ago, again while it fails with
/// `not_found_code`: the EC2 API is eventually consistent, and a call right after a create can
/// be told the new resource does not exist yet (AWS's "Eventual consistency in the Amazon EC2
/// API"). Only the new resource's own code is retried, so a wrong reference still fails at once.
pub(crate) async fn while_propagating<T, F, Fut>(not_found_code: &str, mut call: F) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let backoff = Backoff { first: Duration::from_millis(200), max: Duration::from_secs(5), timeout: PROPAGATION_TIMEOUT };
    crate::support::poll("a new resource to be seen", backoff, |last| {
        let attempt = call();
        async move {
            match attempt.await {
                Err(e) if e.has_code(not_found_code) && !last => Ok(None),
                other => Ok(Some(other)),
            }
        }
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn while_propagating_retries_only_the_new_resources_code() {
        let calls = AtomicU32::new(0);
        let out = while_propagating("InvalidSubnetID.NotFound", || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(ProviderError::not_found("ec2 ModifySubnetAttribute: InvalidSubnetID.NotFound: The subnet ID 'subnet-1' does not exist")
                    .with_code("InvalidSubnetID.NotFound")),
                n => Ok(n),
            }
        })
        .await;
        assert_eq!(out, Ok(2));

        let calls = AtomicU32::new(0);
        let out: Result<(), _> = while_propagating("InvalidSubnetID.NotFound", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(ProviderError::not_found("ec2 AttachInternetGateway: InvalidVpcID.NotFound: The vpc ID 'vpc-1' does not exist")
                .with_code("InvalidVpcID.NotFound"))
        })
        .await;
        assert!(out.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1, "another resource's NotFound is not retried");
    }
}
