//! `aws_nat_gateway`: a NAT gateway in a public subnet, through which private subnets reach
//! the internet.
//!
//! Create and delete wait for the gateway to become `available` and `deleted`: routes through a
//! pending gateway fail, and its Elastic IP cannot be released until the gateway is gone.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{ConnectivityType, Filter, NatGateway as SdkNatGateway, NatGatewayState, ResourceType};
use clawform_core::{Applied, FieldError, OpContext, ProviderError, Resource, Val};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use crate::clients::Clients;
use crate::ec2::{carries_ownership, id_filters, owned_by, tag_spec, Ec2Tags};
use crate::error::sdk;
use crate::handler::{ArnForm, AwsResource};
use crate::support::retry::{human, scale_note, scaled};
use crate::support::tags::{sync_tags, user_tags};
use crate::support::tags::{ADDRESS_TAG, STACK_TAG};
use crate::support::{opt, send_with_token};
use crate::support::{poll, Backoff};

/// A NAT gateway, as the Terraform AWS provider's `aws_nat_gateway`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NatGateway {
    /// The Elastic IP's allocation id; required for a public gateway, refused for a private one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocation_id: Option<Val<String>>,
    /// The subnet the gateway lives in (a public one, for a public gateway).
    pub subnet_id: Val<String>,
    /// `public` (the default) or `private`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connectivity_type: Option<Val<String>>,
    /// Tags.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub tags: IndexMap<String, Val<String>>,
}

impl Resource for NatGateway {
    const TYPE: &'static str = "aws_nat_gateway";
    const COMPUTED: &'static [&'static str] = &["id", "public_ip", "network_interface_id"];
    const FORCE_NEW: &'static [&'static str] = &["allocation_id", "subnet_id", "connectivity_type"];
    const CREATE_BEFORE_DESTROY: Option<&'static [&'static str]> = Some(&["allocation_id"]);

    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let connectivity = match &self.connectivity_type {
            None => Some("public"),
            Some(Val::Lit(c)) => Some(c.as_str()),
            Some(Val::Expr(_)) => None,
        };
        match connectivity {
            Some("public") if self.allocation_id.is_none() => {
                errors.push(FieldError::new("allocation_id", "is missing; a public NAT gateway needs an Elastic IP's allocation id"))
            }
            Some("private") if self.allocation_id.is_some() => {
                errors.push(FieldError::new("allocation_id", "is set, but a private NAT gateway has no Elastic IP; expected no allocation_id"))
            }
            Some("public" | "private") | None => {}
            Some(other) => errors.push(FieldError::new("connectivity_type", format!("`{other}` is not a connectivity type; expected `public` or `private`"))),
        }
        errors
    }
}

/// How long create waits for `available`; the Terraform AWS provider's create timeout.
const CREATE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// How long delete waits for `deleted`; the Terraform AWS provider's delete timeout.
const DELETE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

impl NatGateway {
    fn connectivity(&self) -> Result<&str, ProviderError> {
        Ok(opt(&self.connectivity_type)?.map(String::as_str).unwrap_or("public"))
    }

    /// After CreateNatGateway failed with `Resource.AlreadyAssociated`: the gateway this very
    /// resource owns, if it is the one holding the address. That happens when the SDK retried a
    /// CreateNatGateway whose first answer was lost (moto 5.2.5 refuses a repeated ClientToken
    /// instead of returning the first gateway, as AWS does), or when a crash came between the
    /// create and saving state; either way the gateway is adopted rather than left behind.
    async fn own_gateway(&self, aws: &Clients, ctx: &OpContext) -> Result<Option<SdkNatGateway>, ProviderError> {
        let Some(allocation) = opt(&self.allocation_id)? else { return Ok(None) };
        // The ownership tags are checked here rather than with `tag:` filters, which moto 5.2.5
        // ignores on DescribeNatGateways.
        let out = aws
            .ec2
            .describe_nat_gateways()
            .filter(Filter::builder().name("subnet-id").values(self.subnet_id.value()?).build())
            .filter(Filter::builder().name("state").values("pending").values("available").build())
            .send()
            .await
            .map_err(|e| sdk("ec2 DescribeNatGateways", e))?;
        let has_tag = |g: &SdkNatGateway, key: &str, value: &str| g.tags().iter().any(|t| t.key() == Some(key) && t.value() == Some(value));
        Ok(out
            .nat_gateways()
            .iter()
            .find(|g| {
                has_tag(g, STACK_TAG, &ctx.stack)
                    && has_tag(g, ADDRESS_TAG, &crate::support::tags::address_tag(&ctx.address))
                    && g.nat_gateway_addresses().iter().any(|a| a.allocation_id() == Some(allocation.as_str()))
            })
            .cloned())
    }
}

/// The gateway with id `id`, or `None` when it is unknown. Filtering by id, unlike asking by
/// id, does not fail when the gateway is gone.
async fn describe(aws: &Clients, id: &str) -> Result<Option<SdkNatGateway>, ProviderError> {
    let out = aws
        .ec2
        .describe_nat_gateways()
        .filter(Filter::builder().name("nat-gateway-id").values(id).build())
        .send()
        .await
        .map_err(|e| sdk("ec2 DescribeNatGateways", e))?;
    Ok(out.nat_gateways().iter().find(|g| g.nat_gateway_id() == Some(id)).cloned())
}

/// What a wait for state `target` decides from one look at the gateway (`None`: not listed).
/// Not listed while waiting for `available` is pending, not gone: right after CreateNatGateway
/// EC2 may not list the new gateway yet (Terraform: internal/service/ec2/vpc_nat_gateway.go
/// waits with `waitNATGatewayCreated`, whose status function treats not found as pending). A
/// gateway that goes `failed` is an error saying AWS's FailureCode and FailureMessage, such as
/// `Gateway.NotAttached: Network vpc-… has no Internet gateway attached`.
fn look(id: &str, gateway: Option<&SdkNatGateway>, target: &NatGatewayState) -> Result<bool, ProviderError> {
    match gateway.and_then(|g| g.state()) {
        Some(s) if s == target => Ok(true),
        // Deleted gateways stay visible for about an hour, then disappear.
        None => Ok(*target == NatGatewayState::Deleted),
        Some(NatGatewayState::Failed) => {
            let code = gateway.and_then(|g| g.failure_code()).unwrap_or("unknown");
            let message = gateway.and_then(|g| g.failure_message()).unwrap_or("no message");
            Err(ProviderError::api(format!("ec2 NAT gateway {id} failed: {code}: {message}")).with_code(code))
        }
        Some(_) => Ok(false),
    }
}

/// Polls the gateway until its state is `target`, with a growing delay, for at most `timeout`.
/// A gateway that fails is an error (see [`look`]).
async fn wait_for(aws: &Clients, id: &str, target: NatGatewayState, timeout: Duration) -> Result<Option<SdkNatGateway>, ProviderError> {
    let backoff = Backoff { first: Duration::from_secs(2), max: Duration::from_secs(15), timeout };
    poll(&format!("NAT gateway {id} to become {}", target.as_str()), backoff, |last| {
        let target = target.clone();
        async move {
            let gateway = describe(aws, id).await?;
            if look(id, gateway.as_ref(), &target)? {
                return Ok(Some(gateway));
            }
            if last {
                let state = gateway.as_ref().and_then(|g| g.state()).map_or("not listed yet", |s| s.as_str());
                return Err(ProviderError::api(format!(
                    "ec2 NAT gateway {id} is still {state} after {}{}; expected {}",
                    human(scaled(timeout)),
                    scale_note(),
                    target.as_str()
                )));
            }
            Ok(None)
        }
    })
    .await
}

/// The address a gateway is known by: the primary one (a gateway may hold secondary ones).
fn primary_address(gateway: &SdkNatGateway) -> Option<&aws_sdk_ec2::types::NatGatewayAddress> {
    let addresses = gateway.nat_gateway_addresses();
    addresses.iter().find(|a| a.is_primary() == Some(true)).or_else(|| addresses.first())
}

fn computed(gateway: &SdkNatGateway) -> Map<String, Json> {
    let address = primary_address(gateway);
    let mut m = Map::new();
    m.insert("public_ip".into(), json!(address.and_then(|a| a.public_ip())));
    m.insert("network_interface_id".into(), json!(address.and_then(|a| a.network_interface_id())));
    m
}

#[async_trait]
impl AwsResource for NatGateway {
    const ARN: ArnForm = ArnForm::IdAfter { service: "ec2", prefix: "natgateway/" };

    async fn find_leftovers(&self, aws: &Clients, ctx: &OpContext) -> Result<Vec<String>, ProviderError> {
        let mut filters = owned_by(ctx);
        // A deleted or failed gateway is no leftover to adopt.
        filters.push(Filter::builder().name("state").values("pending").values("available").build());
        let out = aws.ec2.describe_nat_gateways().set_filter(Some(filters)).send().await.map_err(|e| sdk("ec2 DescribeNatGateways", e))?;
        Ok(out.nat_gateways().iter().filter(|g| carries_ownership(g.tags(), ctx)).filter_map(|g| g.nat_gateway_id()).map(str::to_string).collect())
    }

    async fn create(&self, aws: &Clients, ctx: &OpContext) -> Result<Applied, ProviderError> {
        // The apply's token for this create: the SDK sends it again when it retries, and so does
        // the run after a crash, so AWS makes one gateway however often the request reaches it.
        let req = aws
            .ec2
            .create_nat_gateway()
            .subnet_id(self.subnet_id.value()?)
            .set_allocation_id(opt(&self.allocation_id)?.cloned())
            .connectivity_type(ConnectivityType::from(self.connectivity()?))
            .tag_specifications(tag_spec(ResourceType::Natgateway, &self.tags, ctx)?);
        let sent = send_with_token(ctx, |token| {
            let req = req.clone().client_token(token);
            async move { req.send().await.map_err(|e| sdk("ec2 CreateNatGateway", e)) }
        })
        .await;
        let gateway = match sent {
            Ok(out) => out.nat_gateway().cloned().ok_or_else(|| ProviderError::api("ec2 CreateNatGateway returned no gateway"))?,
            Err(e) if e.has_code("Resource.AlreadyAssociated") => self.own_gateway(aws, ctx).await?.ok_or(e)?,
            Err(e) => return Err(e),
        };
        let id = gateway.nat_gateway_id().ok_or_else(|| ProviderError::api("ec2 CreateNatGateway returned a gateway without an id"))?.to_string();
        let gateway = if gateway.state() == Some(&NatGatewayState::Available) {
            gateway
        } else {
            wait_for(aws, &id, NatGatewayState::Available, CREATE_TIMEOUT).await?.unwrap_or(gateway)
        };
        Ok(Applied { computed: computed(&gateway), id })
    }

    async fn update(&self, aws: &Clients, _ctx: &OpContext, id: &str, prior: &Self) -> Result<Applied, ProviderError> {
        sync_tags::<Ec2Tags>(aws, id, &prior.tags, &self.tags).await?;
        Ok(Applied { id: id.to_string(), computed: Map::new() })
    }

    async fn delete(aws: &Clients, id: &str, _prior: &Json) -> Result<(), ProviderError> {
        // AWS accepts deleting a gateway already deleted; say it is gone, as other types do.
        match describe(aws, id).await? {
            None => return Err(ProviderError::not_found(format!("ec2 DeleteNatGateway: NatGatewayNotFound: NAT gateway {id} was not found"))),
            Some(g) if g.state() == Some(&NatGatewayState::Deleted) => {
                return Err(ProviderError::not_found(format!("ec2 DeleteNatGateway: NatGatewayNotFound: NAT gateway {id} is already deleted")))
            }
            Some(_) => {}
        }
        aws.ec2.delete_nat_gateway().nat_gateway_id(id).send().await.map_err(|e| sdk("ec2 DeleteNatGateway", e))?;
        wait_for(aws, id, NatGatewayState::Deleted, DELETE_TIMEOUT).await?;
        Ok(())
    }

    async fn read(aws: &Clients, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError> {
        let mut found = Vec::new();
        for filter in id_filters("nat-gateway-id", ids) {
            let page: Vec<_> = aws
                .ec2
                .describe_nat_gateways()
                .filter(filter)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<_, _>>()
                .await
                .map_err(|e| sdk("ec2 DescribeNatGateways", e))?;
            found.extend(page);
        }
        Ok(ids
            .iter()
            .map(|id| {
                // A deleted gateway stays listed for a while; it is gone all the same.
                let gateway = found.iter().find(|g| g.nat_gateway_id() == Some(id.as_str()) && g.state() != Some(&NatGatewayState::Deleted))?;
                let connectivity = gateway.connectivity_type().map(|c| c.as_str()).unwrap_or("public");
                let mut attrs = Map::new();
                attrs.insert("id".into(), json!(id));
                if let Some(allocation) = primary_address(gateway).and_then(|a| a.allocation_id()) {
                    attrs.insert("allocation_id".into(), json!(allocation));
                }
                attrs.insert("subnet_id".into(), json!(gateway.subnet_id()));
                attrs.insert("connectivity_type".into(), json!(connectivity));
                attrs.insert("tags".into(), Json::Object(user_tags(gateway.tags())));
                attrs.extend(computed(gateway));
                Some(Json::Object(attrs))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway(state: NatGatewayState) -> SdkNatGateway {
        SdkNatGateway::builder().nat_gateway_id("nat-1").state(state).build()
    }

    #[test]
    fn not_listed_right_after_create_is_pending_and_gone_after_delete() {
        assert_eq!(look("nat-1", None, &NatGatewayState::Available), Ok(false));
        assert_eq!(look("nat-1", None, &NatGatewayState::Deleted), Ok(true));
        assert_eq!(look("nat-1", Some(&gateway(NatGatewayState::Pending)), &NatGatewayState::Available), Ok(false));
        assert_eq!(look("nat-1", Some(&gateway(NatGatewayState::Available)), &NatGatewayState::Available), Ok(true));
    }

    #[test]
    fn a_failed_gateway_reports_aws_reason() {
        let failed = SdkNatGateway::builder()
            .nat_gateway_id("nat-1")
            .state(NatGatewayState::Failed)
            .failure_code("Gateway.NotAttached")
            .failure_message("Network vpc-1 has no Internet gateway attached")
            .build();
        let err = look("nat-1", Some(&failed), &NatGatewayState::Available).unwrap_err();
        assert_eq!(err.message, "ec2 NAT gateway nat-1 failed: Gateway.NotAttached: Network vpc-1 has no Internet gateway attached");
        assert!(err.has_code("Gateway.NotAttached"));
    }
}
