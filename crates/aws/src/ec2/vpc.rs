//! `aws_vpc`: a virtual private cloud.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, Filter, ResourceType, Vpc as SdkVpc, VpcAttributeName, VpcState};
use clawform_core::{Applied, FieldError, OpContext, ProviderError, Resource, Val};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use crate::clients::Clients;
use crate::ec2::{arn, carries_ownership, check_cidr, owned_by, tag_spec, Ec2Tags};
use crate::error::sdk;
use crate::handler::{ArnForm, AwsResource};
use crate::support::tags::{sync_tags, user_tags};
use crate::support::{retry_while, undo_create, wait_for};

/// How long create waits for a new VPC to leave `pending`: the Terraform AWS provider's
/// `vpcCreatedTimeout` (internal/service/ec2/wait.go, `waitVPCCreated`).
const CREATE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// How long delete retries a refusal for dependents, then waits for the VPC to be gone: the
/// Terraform AWS provider's `vpcDeletedTimeout` (internal/service/ec2/vpc_.go,
/// `resourceVPCDelete`: `RetryWhenAWSErrCodeEquals(…, errCodeDependencyViolation)`, then
/// `RetryUntilNotFound`).
const DELETE_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Why a DeleteVpc refusal is worth another try: `DependencyViolation` while anything still in
/// the VPC (subnets, gateways, the network interfaces a deleted load balancer or NAT gateway
/// leaves for minutes) is being removed (Terraform: internal/service/ec2/vpc_.go).
pub(crate) fn still_has_dependents(err: &ProviderError) -> Option<&'static str> {
    err.has_code("DependencyViolation").then_some("something in the VPC is still being removed")
}

/// The VPC with id `id`, if EC2 lists it yet (filtering by id does not fail for an id it does
/// not know, which a VPC created a moment ago may still be).
async fn describe(aws: &Clients, id: &str) -> Result<Option<SdkVpc>, ProviderError> {
    let out = aws.ec2.describe_vpcs().filters(Filter::builder().name("vpc-id").values(id).build()).send().await.map_err(|e| sdk("ec2 DescribeVpcs", e))?;
    Ok(out.vpcs().iter().find(|v| v.vpc_id() == Some(id)).cloned())
}

/// Waits until a new VPC is `available`: CreateVpc answers while it is `pending`, and EC2 may not
/// list it at all for a moment (Terraform: internal/service/ec2/vpc_.go calls `waitVPCCreated`
/// of internal/service/ec2/wait.go).
async fn wait_available(aws: &Clients, id: &str) -> Result<(), ProviderError> {
    wait_for(&format!("VPC {id} to become available"), CREATE_TIMEOUT, || async {
        Ok(describe(aws, id).await?.filter(|v| v.state() == Some(&VpcState::Available)).map(|_| ()))
    })
    .await
}

/// A VPC, as the Terraform AWS provider's `aws_vpc`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Vpc {
    /// The IPv4 CIDR block, /16 to /28.
    pub cidr_block: Val<String>,
    /// Whether instances get public DNS host names (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_dns_hostnames: Option<Val<bool>>,
    /// Whether the Amazon DNS server answers in the VPC (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_dns_support: Option<Val<bool>>,
    /// `default` or `dedicated`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_tenancy: Option<Val<String>>,
    /// Tags.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub tags: IndexMap<String, Val<String>>,
}

impl Resource for Vpc {
    const TYPE: &'static str = "aws_vpc";
    const COMPUTED: &'static [&'static str] = &["id", "arn", "owner_id", "main_route_table_id", "default_security_group_id"];
    const FORCE_NEW: &'static [&'static str] = &["cidr_block", "instance_tenancy"];
    const CREATE_BEFORE_DESTROY: Option<&'static [&'static str]> = Some(&[]);

    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        check_cidr("cidr_block", &self.cidr_block, 16..=28, &mut errors);
        if let Some(Val::Lit(t)) = &self.instance_tenancy {
            if t != "default" && t != "dedicated" {
                errors.push(FieldError::new("instance_tenancy", format!("`{t}` is not a tenancy; expected `default` or `dedicated`")));
            }
        }
        errors
    }
}

impl Vpc {
    async fn set_dns(&self, aws: &Clients, id: &str, prior: Option<&Vpc>) -> Result<(), ProviderError> {
        let hostnames = *self.enable_dns_hostnames.as_ref().map(Val::value).transpose()?.unwrap_or(&false);
        let support = *self.enable_dns_support.as_ref().map(Val::value).transpose()?.unwrap_or(&true);
        let prior_hostnames = prior.map(|p| p.enable_dns_hostnames.as_ref().and_then(|v| v.literal().copied()).unwrap_or(false));
        let prior_support = prior.map(|p| p.enable_dns_support.as_ref().and_then(|v| v.literal().copied()).unwrap_or(true));
        // AWS takes one attribute per ModifyVpcAttribute call; defaults need no call on create.
        if prior_support.map_or(!support, |p| p != support) {
            aws.ec2
                .modify_vpc_attribute()
                .vpc_id(id)
                .enable_dns_support(AttributeBooleanValue::builder().value(support).build())
                .send()
                .await
                .map_err(|e| sdk("ec2 ModifyVpcAttribute", e))?;
        }
        if prior_hostnames.map_or(hostnames, |p| p != hostnames) {
            aws.ec2
                .modify_vpc_attribute()
                .vpc_id(id)
                .enable_dns_hostnames(AttributeBooleanValue::builder().value(hostnames).build())
                .send()
                .await
                .map_err(|e| sdk("ec2 ModifyVpcAttribute", e))?;
        }
        Ok(())
    }

    async fn computed(aws: &Clients, id: &str, owner: &str) -> Result<Map<String, Json>, ProviderError> {
        let main = aws
            .ec2
            .describe_route_tables()
            .filters(Filter::builder().name("vpc-id").values(id).build())
            .filters(Filter::builder().name("association.main").values("true").build())
            .send()
            .await
            .map_err(|e| sdk("ec2 DescribeRouteTables", e))?;
        let main_rt = main.route_tables().first().and_then(|r| r.route_table_id()).unwrap_or_default().to_string();
        let sg = aws
            .ec2
            .describe_security_groups()
            .filters(Filter::builder().name("vpc-id").values(id).build())
            .filters(Filter::builder().name("group-name").values("default").build())
            .send()
            .await
            .map_err(|e| sdk("ec2 DescribeSecurityGroups", e))?;
        let default_sg = sg.security_groups().first().and_then(|g| g.group_id()).unwrap_or_default().to_string();
        let mut m = Map::new();
        m.insert("arn".into(), json!(arn(aws, owner, "vpc", id)));
        m.insert("owner_id".into(), json!(owner));
        m.insert("main_route_table_id".into(), json!(main_rt));
        m.insert("default_security_group_id".into(), json!(default_sg));
        Ok(m)
    }
}

#[async_trait]
impl AwsResource for Vpc {
    const ARN: ArnForm = ArnForm::IdAfter { service: "ec2", prefix: "vpc/" };

    async fn find_leftovers(&self, aws: &Clients, ctx: &OpContext) -> Result<Vec<String>, ProviderError> {
        let out = aws.ec2.describe_vpcs().set_filters(Some(owned_by(ctx))).send().await.map_err(|e| sdk("ec2 DescribeVpcs", e))?;
        Ok(out.vpcs().iter().filter(|v| carries_ownership(v.tags(), ctx)).filter_map(|v| v.vpc_id()).map(str::to_string).collect())
    }

    async fn create(&self, aws: &Clients, ctx: &OpContext) -> Result<Applied, ProviderError> {
        let mut req = aws.ec2.create_vpc().cidr_block(self.cidr_block.value()?).tag_specifications(tag_spec(ResourceType::Vpc, &self.tags, ctx)?);
        if let Some(t) = &self.instance_tenancy {
            req = req.instance_tenancy(t.value()?.as_str().into());
        }
        let out = req.send().await.map_err(|e| sdk("ec2 CreateVpc", e))?;
        let vpc = out.vpc().ok_or_else(|| ProviderError::api("ec2 CreateVpc returned no VPC"))?;
        let id = vpc.vpc_id().unwrap_or_default().to_string();
        let owner = vpc.owner_id().unwrap_or_default().to_string();
        let finish = async {
            if vpc.state() != Some(&VpcState::Available) {
                wait_available(aws, &id).await?;
            }
            self.set_dns(aws, &id, None).await?;
            Vpc::computed(aws, &id, &owner).await
        };
        match finish.await {
            Ok(computed) => Ok(Applied { computed, id }),
            Err(e) => Err(undo_create(e, Vpc::delete(aws, &id, &Json::Null)).await),
        }
    }

    async fn update(&self, aws: &Clients, _ctx: &OpContext, id: &str, prior: &Self) -> Result<Applied, ProviderError> {
        self.set_dns(aws, id, Some(prior)).await?;
        sync_tags::<Ec2Tags>(aws, id, &prior.tags, &self.tags).await?;
        Ok(Applied { id: id.to_string(), computed: Map::new() })
    }

    /// A VPC that is gone fails with `InvalidVpcID.NotFound`, which is NotFound: done.
    async fn delete(aws: &Clients, id: &str, _prior: &Json) -> Result<(), ProviderError> {
        retry_while(&format!("VPC {id} to be free of dependents"), DELETE_TIMEOUT, still_has_dependents, || async {
            aws.ec2.delete_vpc().vpc_id(id).send().await.map_err(|e| sdk("ec2 DeleteVpc", e))
        })
        .await?;
        wait_for(&format!("VPC {id} to be gone"), DELETE_TIMEOUT, || async { Ok(describe(aws, id).await?.is_none().then_some(())) }).await
    }

    async fn read(aws: &Clients, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        // Asking by id fails the whole call when one id is gone, so filter by id instead.
        let out = aws
            .ec2
            .describe_vpcs()
            .filters(Filter::builder().name("vpc-id").set_values(Some(ids.to_vec())).build())
            .send()
            .await
            .map_err(|e| sdk("ec2 DescribeVpcs", e))?;
        let mut result = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(vpc) = out.vpcs().iter().find(|v| v.vpc_id() == Some(id.as_str())) else {
                result.push(None);
                continue;
            };
            let mut attrs = Map::new();
            attrs.insert("id".into(), json!(id));
            attrs.insert("cidr_block".into(), json!(vpc.cidr_block()));
            attrs.insert("instance_tenancy".into(), json!(vpc.instance_tenancy().map(|t| t.as_str())));
            for (name, key) in [(VpcAttributeName::EnableDnsHostnames, "enable_dns_hostnames"), (VpcAttributeName::EnableDnsSupport, "enable_dns_support")] {
                let a = aws.ec2.describe_vpc_attribute().vpc_id(id).attribute(name.clone()).send().await.map_err(|e| sdk("ec2 DescribeVpcAttribute", e))?;
                let value = match name {
                    VpcAttributeName::EnableDnsHostnames => a.enable_dns_hostnames().and_then(|v| v.value()),
                    _ => a.enable_dns_support().and_then(|v| v.value()),
                };
                attrs.insert(key.into(), json!(value.unwrap_or(false)));
            }
            attrs.insert("tags".into(), Json::Object(user_tags(vpc.tags())));
            attrs.insert("owner_id".into(), json!(vpc.owner_id()));
            result.push(Some(Json::Object(attrs)));
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_retries_only_dependency_violations() {
        let err = |code: &str| ProviderError::api(format!("ec2 DeleteVpc: {code}: it said no")).with_code(code);
        assert!(still_has_dependents(&err("DependencyViolation")).is_some());
        assert!(still_has_dependents(&err("InvalidParameterValue")).is_none());
        assert!(still_has_dependents(&ProviderError::not_found("ec2 DeleteVpc: InvalidVpcID.NotFound: gone").with_code("InvalidVpcID.NotFound")).is_none());
    }
}
