//! `aws_subnet`: a subnet of a VPC, in one availability zone.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, Filter, ResourceType, SubnetState};
use clawform_core::{Applied, FieldError, OpContext, ProviderError, Resource, Val};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use crate::clients::Clients;
use crate::ec2::{arn, carries_ownership, check_cidr, id_filters, owned_by, tag_spec, while_propagating, Ec2Tags};
use crate::error::sdk;
use crate::handler::{ArnForm, AwsResource};
use crate::support::tags::{sync_tags, user_tags};
use crate::support::{opt, retry_while, undo_create, wait_for};

/// How long create waits for a new subnet to leave `pending`: the Terraform AWS provider's
/// create timeout for `aws_subnet` (internal/service/ec2/vpc_subnet.go: 10 minutes, spent in
/// `waitSubnetAvailable`).
const CREATE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// How long delete retries while the subnet still has dependents: the Terraform AWS provider's
/// delete timeout for `aws_subnet` (internal/service/ec2/vpc_subnet.go, `resourceSubnetDelete`:
/// 20 minutes of `RetryWhenAWSErrCodeEquals(…, errCodeDependencyViolation)`).
const DELETE_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// Why a DeleteSubnet refusal is worth another try: `DependencyViolation` while network
/// interfaces of tasks, instances, a NAT gateway or a load balancer deleted a moment ago linger
/// in the subnet (Terraform: internal/service/ec2/vpc_subnet.go).
pub(crate) fn still_has_interfaces(err: &ProviderError) -> Option<&'static str> {
    err.has_code("DependencyViolation").then_some("network interfaces of deleted tasks, instances or gateways still linger in the subnet")
}

/// Waits until a new subnet is `available`: CreateSubnet may answer while it is `pending`, and
/// EC2 may not list it for a moment (Terraform: internal/service/ec2/vpc_subnet.go,
/// `waitSubnetAvailable`).
async fn wait_available(aws: &Clients, id: &str) -> Result<(), ProviderError> {
    wait_for(&format!("subnet {id} to become available"), CREATE_TIMEOUT, || async {
        let out = aws
            .ec2
            .describe_subnets()
            .filters(Filter::builder().name("subnet-id").values(id).build())
            .send()
            .await
            .map_err(|e| sdk("ec2 DescribeSubnets", e))?;
        Ok(out.subnets().iter().any(|s| s.subnet_id() == Some(id) && s.state() == Some(&SubnetState::Available)).then_some(()))
    })
    .await
}

/// A subnet, as the Terraform AWS provider's `aws_subnet`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Subnet {
    /// The VPC the subnet belongs to.
    pub vpc_id: Val<String>,
    /// The IPv4 CIDR block, /16 to /28, inside the VPC's block.
    pub cidr_block: Val<String>,
    /// The availability zone, such as `us-west-2a`; AWS picks one when it is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<Val<String>>,
    /// Whether instances launched in the subnet get a public IPv4 address (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_public_ip_on_launch: Option<Val<bool>>,
    /// Tags.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub tags: IndexMap<String, Val<String>>,
}

impl Resource for Subnet {
    const TYPE: &'static str = "aws_subnet";
    const COMPUTED: &'static [&'static str] = &["id", "arn", "owner_id", "availability_zone_id"];
    const FORCE_NEW: &'static [&'static str] = &["vpc_id", "cidr_block", "availability_zone"];
    const CREATE_BEFORE_DESTROY: Option<&'static [&'static str]> = Some(&["vpc_id", "cidr_block"]);

    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        check_cidr("cidr_block", &self.cidr_block, 16..=28, &mut errors);
        errors
    }
}

impl Subnet {
    fn map_public_ip(&self) -> Result<bool, ProviderError> {
        Ok(*opt(&self.map_public_ip_on_launch)?.unwrap_or(&false))
    }

    async fn set_map_public_ip(aws: &Clients, id: &str, value: bool) -> Result<(), ProviderError> {
        aws.ec2
            .modify_subnet_attribute()
            .subnet_id(id)
            .map_public_ip_on_launch(AttributeBooleanValue::builder().value(value).build())
            .send()
            .await
            .map_err(|e| sdk("ec2 ModifySubnetAttribute", e))?;
        Ok(())
    }
}

#[async_trait]
impl AwsResource for Subnet {
    const ARN: ArnForm = ArnForm::IdAfter { service: "ec2", prefix: "subnet/" };

    /// A retried CreateSubnet whose first attempt went through (its answer lost) meets its own
    /// subnet: AWS answers that the CIDR conflicts. Found by VPC and CIDR, it is adopted when
    /// its ownership tags name this resource.
    const ALREADY_EXISTS: &'static [&'static str] = &["InvalidSubnet.Conflict"];

    async fn named_existing(&self, aws: &Clients) -> Result<Option<(String, Vec<(String, String)>)>, ProviderError> {
        let out = aws
            .ec2
            .describe_subnets()
            .filters(Filter::builder().name("vpc-id").values(self.vpc_id.value()?).build())
            .filters(Filter::builder().name("cidr-block").values(self.cidr_block.value()?).build())
            .send()
            .await
            .map_err(|e| sdk("ec2 DescribeSubnets", e))?;
        Ok(out.subnets().first().and_then(|s| {
            let tags = s.tags().iter().map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string())).collect();
            s.subnet_id().map(|id| (id.to_string(), tags))
        }))
    }

    async fn find_leftovers(&self, aws: &Clients, ctx: &OpContext) -> Result<Vec<String>, ProviderError> {
        let out = aws.ec2.describe_subnets().set_filters(Some(owned_by(ctx))).send().await.map_err(|e| sdk("ec2 DescribeSubnets", e))?;
        Ok(out.subnets().iter().filter(|s| carries_ownership(s.tags(), ctx)).filter_map(|s| s.subnet_id()).map(str::to_string).collect())
    }

    async fn create(&self, aws: &Clients, ctx: &OpContext) -> Result<Applied, ProviderError> {
        let req = aws
            .ec2
            .create_subnet()
            .vpc_id(self.vpc_id.value()?)
            .cidr_block(self.cidr_block.value()?)
            .set_availability_zone(opt(&self.availability_zone)?.cloned())
            .tag_specifications(tag_spec(ResourceType::Subnet, &self.tags, ctx)?);
        let out = req.send().await.map_err(|e| sdk("ec2 CreateSubnet", e))?;
        let subnet = out.subnet().ok_or_else(|| ProviderError::api("ec2 CreateSubnet returned no subnet"))?;
        let id = subnet.subnet_id().ok_or_else(|| ProviderError::api("ec2 CreateSubnet returned a subnet without an id"))?.to_string();
        let owner = subnet.owner_id().unwrap_or_default().to_string();
        let finish = async {
            if subnet.state() != Some(&SubnetState::Available) {
                wait_available(aws, &id).await?;
            }
            // CreateSubnet cannot set it; a new subnet starts with false.
            if self.map_public_ip()? {
                while_propagating("InvalidSubnetID.NotFound", || Subnet::set_map_public_ip(aws, &id, true)).await?;
            }
            Ok(())
        };
        if let Err(e) = finish.await {
            return Err(undo_create(e, Subnet::delete(aws, &id, &Json::Null)).await);
        }
        let mut computed = Map::new();
        computed.insert("arn".into(), json!(subnet.subnet_arn().map(str::to_string).unwrap_or_else(|| arn(aws, &owner, "subnet", &id))));
        computed.insert("owner_id".into(), json!(owner));
        computed.insert("availability_zone_id".into(), json!(subnet.availability_zone_id()));
        Ok(Applied { id, computed })
    }

    async fn update(&self, aws: &Clients, _ctx: &OpContext, id: &str, prior: &Self) -> Result<Applied, ProviderError> {
        let wanted = self.map_public_ip()?;
        if wanted != prior.map_public_ip()? {
            Subnet::set_map_public_ip(aws, id, wanted).await?;
        }
        sync_tags::<Ec2Tags>(aws, id, &prior.tags, &self.tags).await?;
        Ok(Applied { id: id.to_string(), computed: Map::new() })
    }

    /// A subnet that is gone fails with `InvalidSubnetID.NotFound`, which is NotFound: done.
    async fn delete(aws: &Clients, id: &str, _prior: &Json) -> Result<(), ProviderError> {
        retry_while(&format!("subnet {id} to be free of network interfaces"), DELETE_TIMEOUT, still_has_interfaces, || async {
            aws.ec2.delete_subnet().subnet_id(id).send().await.map_err(|e| sdk("ec2 DeleteSubnet", e))
        })
        .await?;
        Ok(())
    }

    async fn read(aws: &Clients, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError> {
        let mut found = Vec::new();
        for filter in id_filters("subnet-id", ids) {
            let page: Vec<_> = aws
                .ec2
                .describe_subnets()
                .filters(filter)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<_, _>>()
                .await
                .map_err(|e| sdk("ec2 DescribeSubnets", e))?;
            found.extend(page);
        }
        Ok(ids
            .iter()
            .map(|id| {
                let subnet = found.iter().find(|s| s.subnet_id() == Some(id.as_str()))?;
                let owner = subnet.owner_id().unwrap_or_default();
                let mut attrs = Map::new();
                attrs.insert("id".into(), json!(id));
                attrs.insert("vpc_id".into(), json!(subnet.vpc_id()));
                attrs.insert("cidr_block".into(), json!(subnet.cidr_block()));
                attrs.insert("availability_zone".into(), json!(subnet.availability_zone()));
                attrs.insert("map_public_ip_on_launch".into(), json!(subnet.map_public_ip_on_launch().unwrap_or(false)));
                attrs.insert("tags".into(), Json::Object(user_tags(subnet.tags())));
                attrs.insert("arn".into(), json!(subnet.subnet_arn().map(str::to_string).unwrap_or_else(|| arn(aws, owner, "subnet", id))));
                attrs.insert("owner_id".into(), json!(owner));
                attrs.insert("availability_zone_id".into(), json!(subnet.availability_zone_id()));
                Some(Json::Object(attrs))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_retries_only_dependency_violations() {
        let err = |code: &str| ProviderError::api(format!("ec2 DeleteSubnet: {code}: it said no")).with_code(code);
        assert!(still_has_interfaces(&err("DependencyViolation")).is_some());
        assert!(still_has_interfaces(&err("InvalidParameterValue")).is_none());
        assert!(still_has_interfaces(&err("InvalidSubnetID.NotFound")).is_none());
    }
}
