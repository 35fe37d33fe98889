//! `aws_route_table_association`: which route table a subnet uses.
//!
//! EC2 cannot tag an association (it is not a resource with an ARN, and neither
//! AssociateRouteTable nor CreateTags take its id), so this type has no `tags` and carries no
//! ownership tags. Instead, create adopts the association when the subnet is already associated
//! with the wanted table, which is what a crash between "created" and "state saved" leaves.

use async_trait::async_trait;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{Filter, RouteTableAssociationStateCode};
use clawform_core::{Applied, OpContext, ProviderError, Resource, Val};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use crate::clients::Clients;
use crate::ec2::id_filters;
use crate::error::sdk;
use crate::handler::{ArnForm, AwsResource};

/// A subnet's association with a route table, as the Terraform AWS provider's
/// `aws_route_table_association`. Its id is the association id (`rtbassoc-…`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RouteTableAssociation {
    /// The subnet.
    pub subnet_id: Val<String>,
    /// The route table the subnet uses; changing it replaces the association in place.
    pub route_table_id: Val<String>,
}

impl Resource for RouteTableAssociation {
    const TYPE: &'static str = "aws_route_table_association";
    const COMPUTED: &'static [&'static str] = &["id"];
    const FORCE_NEW: &'static [&'static str] = &["subnet_id"];
    const CREATE_BEFORE_DESTROY: Option<&'static [&'static str]> = Some(&["subnet_id"]);
}

/// The subnet's explicit association with `table`, if there is one.
async fn existing(aws: &Clients, subnet: &str, table: &str) -> Result<Option<String>, ProviderError> {
    let out = aws
        .ec2
        .describe_route_tables()
        .filters(Filter::builder().name("association.subnet-id").values(subnet).build())
        .send()
        .await
        .map_err(|e| sdk("ec2 DescribeRouteTables", e))?;
    Ok(out
        .route_tables()
        .iter()
        .flat_map(|t| t.associations())
        .find(|a| a.subnet_id() == Some(subnet) && a.route_table_id() == Some(table))
        .and_then(|a| a.route_table_association_id().map(str::to_string)))
}

#[async_trait]
impl AwsResource for RouteTableAssociation {
    const ARN: ArnForm = ArnForm::None;

    async fn create(&self, aws: &Clients, _ctx: &OpContext) -> Result<Applied, ProviderError> {
        let subnet = self.subnet_id.value()?;
        let table = self.route_table_id.value()?;
        let id = match aws.ec2.associate_route_table().subnet_id(subnet).route_table_id(table).send().await {
            Ok(out) => out.association_id().ok_or_else(|| ProviderError::api("ec2 AssociateRouteTable returned no association id"))?.to_string(),
            Err(e) if e.code() == Some("Resource.AlreadyAssociated") => match existing(aws, subnet, table).await? {
                Some(id) => id,
                None => return Err(sdk("ec2 AssociateRouteTable", e)),
            },
            Err(e) => return Err(sdk("ec2 AssociateRouteTable", e)),
        };
        Ok(Applied { id, computed: Map::new() })
    }

    async fn update(&self, aws: &Clients, _ctx: &OpContext, id: &str, prior: &Self) -> Result<Applied, ProviderError> {
        let table = self.route_table_id.value()?;
        if table == prior.route_table_id.value()? {
            return Ok(Applied { id: id.to_string(), computed: Map::new() });
        }
        // AWS answers with a new association id: the old one is gone.
        let out = aws
            .ec2
            .replace_route_table_association()
            .association_id(id)
            .route_table_id(table)
            .send()
            .await
            .map_err(|e| sdk("ec2 ReplaceRouteTableAssociation", e))?;
        let new_id = out.new_association_id().ok_or_else(|| ProviderError::api("ec2 ReplaceRouteTableAssociation returned no association id"))?;
        Ok(Applied { id: new_id.to_string(), computed: Map::new() })
    }

    async fn delete(aws: &Clients, id: &str, _prior: &Json) -> Result<(), ProviderError> {
        aws.ec2.disassociate_route_table().association_id(id).send().await.map_err(|e| sdk("ec2 DisassociateRouteTable", e))?;
        Ok(())
    }

    async fn read(aws: &Clients, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError> {
        let mut found = Vec::new();
        for filter in id_filters("association.route-table-association-id", ids) {
            let page: Vec<_> = aws
                .ec2
                .describe_route_tables()
                .filters(filter)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<_, _>>()
                .await
                .map_err(|e| sdk("ec2 DescribeRouteTables", e))?;
            found.extend(page);
        }
        Ok(ids
            .iter()
            .map(|id| {
                let assoc = found
                    .iter()
                    .flat_map(|t| t.associations())
                    .filter(|a| a.association_state().and_then(|s| s.state()) != Some(&RouteTableAssociationStateCode::Disassociated))
                    .find(|a| a.route_table_association_id() == Some(id.as_str()))?;
                let mut attrs = Map::new();
                attrs.insert("id".into(), json!(id));
                attrs.insert("subnet_id".into(), json!(assoc.subnet_id()));
                attrs.insert("route_table_id".into(), json!(assoc.route_table_id()));
                Some(Json::Object(attrs))
            })
            .collect())
    }
}
