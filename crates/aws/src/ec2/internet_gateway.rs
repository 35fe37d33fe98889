//! `aws_internet_gateway`: an internet gateway, attached to at most one VPC.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{AttachmentStatus, Filter, InternetGateway as SdkGateway, ResourceType};
use clawform_core::{Applied, OpContext, ProviderError, Resource, Val};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use crate::clients::Clients;
use crate::ec2::{arn, carries_ownership, id_filters, owned_by, tag_spec, Ec2Tags};
use crate::error::sdk;
use crate::handler::{ArnForm, AwsResource};
use crate::support::tags::{sync_tags, user_tags};
use crate::support::{opt, retry_while, undo_create, wait_for};

/// An internet gateway, as the Terraform AWS provider's `aws_internet_gateway`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InternetGateway {
    /// The VPC to attach the gateway to; a gateway without one stays detached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<Val<String>>,
    /// Tags.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub tags: IndexMap<String, Val<String>>,
}

impl Resource for InternetGateway {
    const TYPE: &'static str = "aws_internet_gateway";
    const COMPUTED: &'static [&'static str] = &["id", "arn", "owner_id"];
    // Moving the gateway to another VPC is a detach and an attach, not a new gateway.
    const FORCE_NEW: &'static [&'static str] = &[];
    const CREATE_BEFORE_DESTROY: Option<&'static [&'static str]> = Some(&["vpc_id"]);
}

/// How long attaching, detaching and deleting retry and wait: the Terraform AWS provider's
/// create, update and delete timeouts for `aws_internet_gateway` (20 minutes each,
/// internal/service/ec2/vpc_internet_gateway.go).
const TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// Why an AttachInternetGateway refusal is worth another try: right after CreateInternetGateway,
/// EC2 may not know the new gateway yet (`InvalidInternetGatewayID.NotFound`; Terraform:
/// internal/service/ec2/vpc_internet_gateway.go, `attachInternetGateway`). A missing VPC has
/// its own code and fails at once.
pub(crate) fn gateway_not_yet_visible(err: &ProviderError) -> Option<&'static str> {
    err.has_code("InvalidInternetGatewayID.NotFound").then_some("EC2 does not know the new gateway yet")
}

/// Why a DetachInternetGateway or DeleteInternetGateway refusal is worth another try:
/// `DependencyViolation` ("Network vpc-… has some mapped public address(es). Please unmap those
/// public address(es) before detaching the gateway.") while a NAT gateway or load balancer being
/// deleted still holds a public address in the VPC (Terraform:
/// internal/service/ec2/vpc_internet_gateway.go, `detachInternetGateway` and
/// `resourceInternetGatewayDelete`).
pub(crate) fn addresses_still_mapped(err: &ProviderError) -> Option<&'static str> {
    err.has_code("DependencyViolation").then_some("public addresses of NAT gateways or load balancers are still mapped in the VPC")
}

/// The gateway with id `id`, if EC2 lists it (filtering by id, unlike asking by id, does not
/// fail for an id EC2 does not know yet or any more).
async fn describe(aws: &Clients, id: &str) -> Result<Option<SdkGateway>, ProviderError> {
    let out = aws
        .ec2
        .describe_internet_gateways()
        .filters(Filter::builder().name("internet-gateway-id").values(id).build())
        .send()
        .await
        .map_err(|e| sdk("ec2 DescribeInternetGateways", e))?;
    Ok(out.internet_gateways().iter().find(|g| g.internet_gateway_id() == Some(id)).cloned())
}

/// The state of the gateway's attachment to `vpc`, if it has one.
fn attachment_state(gateway: Option<&SdkGateway>, vpc: &str) -> Option<AttachmentStatus> {
    gateway?.attachments().iter().find(|a| a.vpc_id() == Some(vpc)).map(|a| a.state().cloned().unwrap_or(AttachmentStatus::Attaching))
}

/// Whether an attachment in `state` is done: AWS reports an attached internet gateway as
/// `available` (EC2 API reference, InternetGatewayAttachment; the SDK's enum has no variant for
/// it), moto (5.2.5) as `attached`.
fn is_attached(state: &AttachmentStatus) -> bool {
    matches!(state.as_str(), "available" | "attached")
}

/// Attaches the gateway to `vpc`, retrying while EC2 does not know the new gateway yet, then
/// waits until the attachment is `available` (Terraform: `attachInternetGateway` and
/// `waitInternetGatewayAttached`). A retry whose first attempt did attach it (the answer was
/// lost) meets `Resource.AlreadyAssociated`: attached to `vpc` already is what was wanted.
async fn attach(aws: &Clients, id: &str, vpc: &str) -> Result<(), ProviderError> {
    retry_while(&format!("internet gateway {id} to be known to EC2 so it can attach to {vpc}"), TIMEOUT, gateway_not_yet_visible, || async {
        match aws.ec2.attach_internet_gateway().internet_gateway_id(id).vpc_id(vpc).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("Resource.AlreadyAssociated") && attachment_state(describe(aws, id).await?.as_ref(), vpc).is_some() => Ok(()),
            Err(e) => Err(sdk("ec2 AttachInternetGateway", e)),
        }
    })
    .await?;
    wait_for(&format!("internet gateway {id} to finish attaching to {vpc}"), TIMEOUT, || async {
        Ok(attachment_state(describe(aws, id).await?.as_ref(), vpc).filter(is_attached).map(|_| ()))
    })
    .await
}

/// Detaches the gateway from `vpc`, retrying while public addresses are still mapped in the VPC,
/// then waits until the attachment is gone (Terraform: `detachInternetGateway` and
/// `waitInternetGatewayDetached`). One already detached (`Gateway.NotAttached`) is what was
/// wanted.
async fn detach(aws: &Clients, id: &str, vpc: &str) -> Result<(), ProviderError> {
    let detached =
        retry_while(&format!("VPC {vpc} to release its public addresses so internet gateway {id} can detach"), TIMEOUT, addresses_still_mapped, || async {
            aws.ec2.detach_internet_gateway().internet_gateway_id(id).vpc_id(vpc).send().await.map_err(|e| sdk("ec2 DetachInternetGateway", e))
        })
        .await;
    match detached {
        Ok(_) => {}
        Err(e) if e.has_code("Gateway.NotAttached") => return Ok(()),
        Err(e) => return Err(e),
    }
    wait_for(&format!("internet gateway {id} to finish detaching from {vpc}"), TIMEOUT, || async {
        let state = attachment_state(describe(aws, id).await?.as_ref(), vpc);
        Ok(matches!(state, None | Some(AttachmentStatus::Detached)).then_some(()))
    })
    .await
}

#[async_trait]
impl AwsResource for InternetGateway {
    const ARN: ArnForm = ArnForm::IdAfter { service: "ec2", prefix: "internet-gateway/" };

    async fn find_leftovers(&self, aws: &Clients, ctx: &OpContext) -> Result<Vec<String>, ProviderError> {
        let out = aws.ec2.describe_internet_gateways().set_filters(Some(owned_by(ctx))).send().await.map_err(|e| sdk("ec2 DescribeInternetGateways", e))?;
        Ok(out.internet_gateways().iter().filter(|g| carries_ownership(g.tags(), ctx)).filter_map(|g| g.internet_gateway_id()).map(str::to_string).collect())
    }

    async fn create(&self, aws: &Clients, ctx: &OpContext) -> Result<Applied, ProviderError> {
        let out = aws
            .ec2
            .create_internet_gateway()
            .tag_specifications(tag_spec(ResourceType::InternetGateway, &self.tags, ctx)?)
            .send()
            .await
            .map_err(|e| sdk("ec2 CreateInternetGateway", e))?;
        let igw = out.internet_gateway().ok_or_else(|| ProviderError::api("ec2 CreateInternetGateway returned no gateway"))?;
        let id = igw.internet_gateway_id().ok_or_else(|| ProviderError::api("ec2 CreateInternetGateway returned a gateway without an id"))?.to_string();
        let owner = igw.owner_id().unwrap_or_default().to_string();
        if let Some(vpc) = opt(&self.vpc_id)? {
            if let Err(e) = attach(aws, &id, vpc).await {
                return Err(undo_create(e, InternetGateway::delete(aws, &id, &Json::Null)).await);
            }
        }
        let mut computed = Map::new();
        computed.insert("arn".into(), json!(arn(aws, &owner, "internet-gateway", &id)));
        computed.insert("owner_id".into(), json!(owner));
        Ok(Applied { id, computed })
    }

    async fn update(&self, aws: &Clients, _ctx: &OpContext, id: &str, prior: &Self) -> Result<Applied, ProviderError> {
        let old = opt(&prior.vpc_id)?;
        let new = opt(&self.vpc_id)?;
        if old != new {
            // A gateway attaches to one VPC at a time: leave the old one before joining the new.
            if let Some(old) = old {
                detach(aws, id, old).await?;
            }
            if let Some(new) = new {
                attach(aws, id, new).await?;
            }
        }
        sync_tags::<Ec2Tags>(aws, id, &prior.tags, &self.tags).await?;
        Ok(Applied { id: id.to_string(), computed: Map::new() })
    }

    async fn delete(aws: &Clients, id: &str, _prior: &Json) -> Result<(), ProviderError> {
        // AWS refuses to delete an attached gateway; detach it from whatever VPC it is in now,
        // not only the one in state. A gone gateway fails here with a NotFound code.
        let out = aws.ec2.describe_internet_gateways().internet_gateway_ids(id).send().await.map_err(|e| sdk("ec2 DescribeInternetGateways", e))?;
        for igw in out.internet_gateways() {
            for vpc in igw.attachments().iter().filter_map(|a| a.vpc_id()) {
                detach(aws, id, vpc).await?;
            }
        }
        // Terraform retries the delete on `DependencyViolation` as well
        // (`resourceInternetGatewayDelete`); a gateway already gone answers
        // `InvalidInternetGatewayID.NotFound`, which is NotFound: done.
        retry_while(&format!("internet gateway {id} to be free to delete"), TIMEOUT, addresses_still_mapped, || async {
            aws.ec2.delete_internet_gateway().internet_gateway_id(id).send().await.map_err(|e| sdk("ec2 DeleteInternetGateway", e))
        })
        .await?;
        Ok(())
    }

    async fn read(aws: &Clients, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError> {
        let mut found = Vec::new();
        for filter in id_filters("internet-gateway-id", ids) {
            let page: Vec<_> = aws
                .ec2
                .describe_internet_gateways()
                .filters(filter)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<_, _>>()
                .await
                .map_err(|e| sdk("ec2 DescribeInternetGateways", e))?;
            found.extend(page);
        }
        Ok(ids
            .iter()
            .map(|id| {
                let igw = found.iter().find(|g| g.internet_gateway_id() == Some(id.as_str()))?;
                let owner = igw.owner_id().unwrap_or_default();
                let mut attrs = Map::new();
                attrs.insert("id".into(), json!(id));
                // Absent when detached, as in the struct.
                if let Some(vpc) = igw.attachments().iter().find_map(|a| a.vpc_id()) {
                    attrs.insert("vpc_id".into(), json!(vpc));
                }
                attrs.insert("tags".into(), Json::Object(user_tags(igw.tags())));
                attrs.insert("arn".into(), json!(arn(aws, owner, "internet-gateway", id)));
                attrs.insert("owner_id".into(), json!(owner));
                Some(Json::Object(attrs))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: &str) -> ProviderError {
        ProviderError::api(format!("ec2 DetachInternetGateway: {code}: it said no")).with_code(code)
    }

    #[test]
    fn attach_retries_only_the_new_gateways_not_found() {
        assert!(gateway_not_yet_visible(&err("InvalidInternetGatewayID.NotFound")).is_some());
        assert!(gateway_not_yet_visible(&err("InvalidVpcID.NotFound")).is_none());
        assert!(gateway_not_yet_visible(&err("DependencyViolation")).is_none());
    }

    #[test]
    fn detach_and_delete_retry_only_mapped_addresses() {
        assert!(addresses_still_mapped(&err("DependencyViolation")).is_some());
        assert!(addresses_still_mapped(&err("Gateway.NotAttached")).is_none());
        assert!(addresses_still_mapped(&err("InvalidInternetGatewayID.NotFound")).is_none());
    }

    #[test]
    fn attached_is_available_in_aws_and_attached_in_moto() {
        let gateway = |state: AttachmentStatus| {
            SdkGateway::builder().attachments(aws_sdk_ec2::types::InternetGatewayAttachment::builder().vpc_id("vpc-1").state(state).build()).build()
        };
        let available = AttachmentStatus::from("available");
        assert!(attachment_state(Some(&gateway(available.clone())), "vpc-1").is_some_and(|s| is_attached(&s)));
        assert!(attachment_state(Some(&gateway(AttachmentStatus::Attached)), "vpc-1").is_some_and(|s| is_attached(&s)));
        assert!(!attachment_state(Some(&gateway(AttachmentStatus::Attaching)), "vpc-1").is_some_and(|s| is_attached(&s)));
        assert_eq!(attachment_state(Some(&gateway(available)), "vpc-2"), None);
        assert_eq!(attachment_state(None, "vpc-1"), None);
    }
}
