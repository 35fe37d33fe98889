//! `aws_eip`: an Elastic IP address, allocated for use in a VPC (a NAT gateway's public address).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{Address, DomainType, ResourceType};
use clawform_core::{Applied, FieldError, OpContext, ProviderError, Resource, Val};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use crate::clients::Clients;
use crate::ec2::{arn, id_filters, tag_spec, Ec2Tags};
use crate::error::sdk;
use crate::handler::{ArnForm, AwsResource};
use crate::support::retry_while;
use crate::support::tags;
use crate::support::tags::{sync_tags, user_tags};

/// How long a release retries while the address is still associated: the Terraform AWS
/// provider's `ec2PropagationTimeout` (2 minutes, internal/service/ec2/consts.go).
const RELEASE_TIMEOUT: Duration = Duration::from_secs(2 * 60);

/// Why a ReleaseAddress refusal is worth another try: `InvalidIPAddress.InUse` while the NAT
/// gateway deleted a moment ago still holds the address (its network interface goes some time
/// after the gateway reads `deleted`).
pub(crate) fn address_in_use(err: &ProviderError) -> Option<&'static str> {
    err.has_code("InvalidIPAddress.InUse").then_some("the NAT gateway deleted a moment ago still holds the address")
}

/// An Elastic IP address, as the Terraform AWS provider's `aws_eip`. Its id is the allocation id.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Eip {
    /// `vpc`, the only domain AWS still allocates in (EC2-Classic is retired); the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<Val<String>>,
    /// Tags.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub tags: IndexMap<String, Val<String>>,
}

impl Resource for Eip {
    const TYPE: &'static str = "aws_eip";
    const COMPUTED: &'static [&'static str] = &["id", "public_ip", "allocation_id", "arn"];
    const FORCE_NEW: &'static [&'static str] = &["domain"];
    const CREATE_BEFORE_DESTROY: Option<&'static [&'static str]> = Some(&[]);

    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(Val::Lit(d)) = &self.domain {
            if d != "vpc" {
                errors.push(FieldError::new("domain", format!("`{d}` is not a domain AWS allocates in; expected `vpc`")));
            }
        }
        errors
    }
}

async fn account_id(aws: &Clients) -> Result<String, ProviderError> {
    aws.account_id().await
}

fn attributes(aws: &Clients, account: &str, address: &Address) -> Option<Map<String, Json>> {
    let id = address.allocation_id()?;
    let mut attrs = Map::new();
    attrs.insert("id".into(), json!(id));
    attrs.insert("domain".into(), json!(address.domain().map(|d| d.as_str()).unwrap_or("vpc")));
    attrs.insert("tags".into(), Json::Object(user_tags(address.tags())));
    attrs.insert("public_ip".into(), json!(address.public_ip()));
    attrs.insert("allocation_id".into(), json!(id));
    attrs.insert("arn".into(), json!(arn(aws, account, "elastic-ip", id)));
    Some(attrs)
}

#[async_trait]
impl AwsResource for Eip {
    const ARN: ArnForm = ArnForm::IdAfter { service: "ec2", prefix: "elastic-ip/" };

    /// AllocateAddress has no client token: a run killed after it leaves an address tagged with
    /// this resource, which DescribeAddresses finds by those tags.
    async fn find_leftovers(&self, aws: &Clients, ctx: &OpContext) -> Result<Vec<String>, ProviderError> {
        let tag = |key: &str, value: String| aws_sdk_ec2::types::Filter::builder().name(format!("tag:{key}")).values(value).build();
        let out = aws
            .ec2
            .describe_addresses()
            .filters(tag(tags::STACK_TAG, ctx.stack.clone()))
            .filters(tag(tags::ADDRESS_TAG, tags::address_tag(&ctx.address)))
            .send()
            .await
            .map_err(|e| sdk("ec2 DescribeAddresses", e))?;
        Ok(out.addresses().iter().filter_map(|a| a.allocation_id()).map(str::to_string).collect())
    }

    async fn create(&self, aws: &Clients, ctx: &OpContext) -> Result<Applied, ProviderError> {
        let out = aws
            .ec2
            .allocate_address()
            .domain(DomainType::Vpc)
            .tag_specifications(tag_spec(ResourceType::ElasticIp, &self.tags, ctx)?)
            .send()
            .await
            .map_err(|e| sdk("ec2 AllocateAddress", e))?;
        let id = out.allocation_id().ok_or_else(|| ProviderError::api("ec2 AllocateAddress returned no allocation id"))?.to_string();
        let account = account_id(aws).await?;
        let mut computed = Map::new();
        computed.insert("public_ip".into(), json!(out.public_ip()));
        computed.insert("allocation_id".into(), json!(id));
        computed.insert("arn".into(), json!(arn(aws, &account, "elastic-ip", &id)));
        Ok(Applied { id, computed })
    }

    async fn update(&self, aws: &Clients, _ctx: &OpContext, id: &str, prior: &Self) -> Result<Applied, ProviderError> {
        sync_tags::<Ec2Tags>(aws, id, &prior.tags, &self.tags).await?;
        Ok(Applied { id: id.to_string(), computed: Map::new() })
    }

    async fn delete(aws: &Clients, id: &str, _prior: &Json) -> Result<(), ProviderError> {
        // An address stays associated for a moment after the NAT gateway using it is deleted
        // (AWS answers `InvalidIPAddress.InUse`), so the release is tried again for a while.
        retry_while(&format!("Elastic IP {id} to be released by its NAT gateway"), RELEASE_TIMEOUT, address_in_use, || async {
            aws.ec2.release_address().allocation_id(id).send().await.map_err(|e| sdk("ec2 ReleaseAddress", e))
        })
        .await?;
        Ok(())
    }

    async fn read(aws: &Clients, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError> {
        let mut found = Vec::new();
        // DescribeAddresses does not page; filtering by id leaves out the ids that are gone.
        for filter in id_filters("allocation-id", ids) {
            let out = aws.ec2.describe_addresses().filters(filter).send().await.map_err(|e| sdk("ec2 DescribeAddresses", e))?;
            found.extend(out.addresses().iter().cloned());
        }
        let account = if found.is_empty() { String::new() } else { account_id(aws).await? };
        Ok(ids
            .iter()
            .map(|id| {
                let address = found.iter().find(|a| a.allocation_id() == Some(id.as_str()))?;
                attributes(aws, &account, address).map(Json::Object)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_retries_only_an_address_in_use() {
        let err = |code: &str| ProviderError::api(format!("ec2 ReleaseAddress: {code}: no")).with_code(code);
        assert!(address_in_use(&err("InvalidIPAddress.InUse")).is_some());
        assert!(address_in_use(&err("InvalidAllocationID.NotFound")).is_none());
        assert!(address_in_use(&err("AuthFailure")).is_none());
    }
}
