//! `aws_internet_gateway`: an internet gateway, attached to at most one VPC.

use async_trait::async_trait;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::ResourceType;
use clawform_core::{Applied, OpContext, ProviderError, Resource, Val};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use crate::clients::Clients;
use crate::ec2::{arn, carries_ownership, id_filters, owned_by, tag_spec, while_propagating, Ec2Tags};
use crate::error::sdk;
use crate::handler::{ArnForm, AwsResource};
use crate::support::tags::{sync_tags, user_tags};
use crate::support::{opt, undo_create};

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

/// Attaches the gateway to `vpc`. A retry whose first attempt did attach it (the answer was
/// lost) meets `Resource.AlreadyAssociated`: attached to `vpc` already is what was wanted.
async fn attach(aws: &Clients, id: &str, vpc: &str) -> Result<(), ProviderError> {
    match aws.ec2.attach_internet_gateway().internet_gateway_id(id).vpc_id(vpc).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("Resource.AlreadyAssociated") => {
            let out = aws.ec2.describe_internet_gateways().internet_gateway_ids(id).send().await.map_err(|e| sdk("ec2 DescribeInternetGateways", e))?;
            let attached = out.internet_gateways().iter().flat_map(|g| g.attachments()).any(|a| a.vpc_id() == Some(vpc));
            if attached {
                Ok(())
            } else {
                Err(sdk("ec2 AttachInternetGateway", e))
            }
        }
        Err(e) => Err(sdk("ec2 AttachInternetGateway", e)),
    }
}

/// Detaches the gateway from `vpc`; one already detached (`Gateway.NotAttached`) is what was wanted.
async fn detach(aws: &Clients, id: &str, vpc: &str) -> Result<(), ProviderError> {
    match aws.ec2.detach_internet_gateway().internet_gateway_id(id).vpc_id(vpc).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("Gateway.NotAttached") => Ok(()),
        Err(e) => Err(sdk("ec2 DetachInternetGateway", e)),
    }
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
            if let Err(e) = while_propagating("InvalidInternetGatewayID.NotFound", || attach(aws, &id, vpc)).await {
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
        aws.ec2.delete_internet_gateway().internet_gateway_id(id).send().await.map_err(|e| sdk("ec2 DeleteInternetGateway", e))?;
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
