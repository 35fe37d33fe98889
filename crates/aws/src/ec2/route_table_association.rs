//! `aws_route_table_association`: which route table a subnet uses.
//!
//! EC2 cannot tag an association (it is not a resource with an ARN, and neither
//! AssociateRouteTable nor CreateTags take its id), so this type has no `tags` and carries no
//! ownership tags. Instead, create adopts the association when the subnet is already associated
//! with the wanted table, which is what a crash between "created" and "state saved" leaves.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{Filter, RouteTableAssociation as SdkAssociation, RouteTableAssociationStateCode};
use clawform_core::{Applied, OpContext, ProviderError, Resource, Val};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use crate::clients::Clients;
use crate::ec2::id_filters;
use crate::error::sdk;
use crate::handler::{ArnForm, AwsResource};
use crate::support::{poll, retry_while, Backoff};

/// How long create retries a route table EC2 does not know yet, and how long create, update and
/// delete wait for the association's state: the Terraform AWS provider's
/// `routeTableAssociationPropagationTimeout` and `routeTableAssociation{Created,Updated,Deleted}Timeout`
/// (5 minutes each, internal/service/ec2/wait.go; used by vpc_route_table_association.go).
const TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Why an AssociateRouteTable refusal is worth another try: the route table was created a moment
/// ago and EC2 does not know it yet (`InvalidRouteTableID.NotFound`; Terraform:
/// internal/service/ec2/vpc_route_table_association.go, `resourceRouteTableAssociationCreate`).
pub(crate) fn table_not_yet_visible(err: &ProviderError) -> Option<&'static str> {
    err.has_code("InvalidRouteTableID.NotFound").then_some("EC2 does not know the new route table yet")
}

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

/// The association with id `id`, if EC2 lists it.
async fn describe(aws: &Clients, id: &str) -> Result<Option<SdkAssociation>, ProviderError> {
    let out = aws
        .ec2
        .describe_route_tables()
        .filters(Filter::builder().name("association.route-table-association-id").values(id).build())
        .send()
        .await
        .map_err(|e| sdk("ec2 DescribeRouteTables", e))?;
    Ok(out.route_tables().iter().flat_map(|t| t.associations()).find(|a| a.route_table_association_id() == Some(id)).cloned())
}

/// What a wait on an association's state decides from one look.
#[derive(Debug, PartialEq)]
enum Look {
    Done,
    Pending,
    Failed(String),
}

/// Whether an association looked at is `associated` (`associating` is pending; not listed yet is
/// pending too, EC2 being eventually consistent).
fn associated(assoc: Option<&SdkAssociation>) -> Look {
    let state = assoc.and_then(|a| a.association_state());
    match state.and_then(|s| s.state()) {
        Some(RouteTableAssociationStateCode::Associated) => Look::Done,
        Some(RouteTableAssociationStateCode::Failed) => Look::Failed(state.and_then(|s| s.status_message()).unwrap_or("no reason given").to_string()),
        _ => Look::Pending,
    }
}

/// Waits until association `id` is `associated`; it may be `associating` for a while
/// (Terraform: `waitRouteTableAssociationCreated` and `…Updated`, internal/service/ec2/wait.go).
async fn wait_associated(aws: &Clients, id: &str) -> Result<(), ProviderError> {
    poll(&format!("route table association {id} to become associated"), Backoff::states(TIMEOUT), |_| async move {
        match associated(describe(aws, id).await?.as_ref()) {
            Look::Done => Ok(Some(())),
            Look::Pending => Ok(None),
            Look::Failed(why) => Err(ProviderError::api(format!("ec2 AssociateRouteTable: association {id} failed: {why}"))),
        }
    })
    .await
}

#[async_trait]
impl AwsResource for RouteTableAssociation {
    const ARN: ArnForm = ArnForm::None;

    async fn create(&self, aws: &Clients, _ctx: &OpContext) -> Result<Applied, ProviderError> {
        let subnet = self.subnet_id.value()?;
        let table = self.route_table_id.value()?;
        let id = retry_while(&format!("route table {table} to be known to EC2 so subnet {subnet} can use it"), TIMEOUT, table_not_yet_visible, || async {
            match aws.ec2.associate_route_table().subnet_id(subnet).route_table_id(table).send().await {
                Ok(out) => Ok(out.association_id().ok_or_else(|| ProviderError::api("ec2 AssociateRouteTable returned no association id"))?.to_string()),
                Err(e) if e.code() == Some("Resource.AlreadyAssociated") => match existing(aws, subnet, table).await? {
                    Some(id) => Ok(id),
                    None => Err(sdk("ec2 AssociateRouteTable", e)),
                },
                Err(e) => Err(sdk("ec2 AssociateRouteTable", e)),
            }
        })
        .await?;
        // Not undone on failure: a failed association holds nothing, and one still associating
        // is what a later apply finds (by subnet and table) and adopts.
        wait_associated(aws, &id).await?;
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
        wait_associated(aws, new_id).await?;
        Ok(Applied { id: new_id.to_string(), computed: Map::new() })
    }

    /// Disassociates, then waits until the association is gone (Terraform:
    /// `waitRouteTableAssociationDeleted`), so that whatever is deleted next (the route table, its
    /// NAT gateway) no longer has it. One already gone answers `InvalidAssociationID.NotFound`,
    /// which is NotFound: done.
    async fn delete(aws: &Clients, id: &str, _prior: &Json) -> Result<(), ProviderError> {
        aws.ec2.disassociate_route_table().association_id(id).send().await.map_err(|e| sdk("ec2 DisassociateRouteTable", e))?;
        poll(&format!("route table association {id} to be gone"), Backoff::states(TIMEOUT), |_| async move {
            let state = describe(aws, id).await?.and_then(|a| a.association_state().and_then(|s| s.state()).cloned());
            Ok(matches!(state, None | Some(RouteTableAssociationStateCode::Disassociated)).then_some(()))
        })
        .await
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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::RouteTableAssociationState;

    fn assoc(state: RouteTableAssociationStateCode, message: Option<&str>) -> SdkAssociation {
        let state = RouteTableAssociationState::builder().state(state).set_status_message(message.map(str::to_string)).build();
        SdkAssociation::builder().route_table_association_id("rtbassoc-1").association_state(state).build()
    }

    #[test]
    fn associating_is_pending_and_failed_says_why() {
        assert_eq!(associated(Some(&assoc(RouteTableAssociationStateCode::Associated, None))), Look::Done);
        assert_eq!(associated(Some(&assoc(RouteTableAssociationStateCode::Associating, None))), Look::Pending);
        assert_eq!(associated(None), Look::Pending, "not listed yet");
        assert_eq!(associated(Some(&assoc(RouteTableAssociationStateCode::Failed, Some("it broke")))), Look::Failed("it broke".into()));
    }

    #[test]
    fn create_retries_only_a_route_table_not_yet_known() {
        let err = |code: &str| ProviderError::api(format!("ec2 AssociateRouteTable: {code}: no")).with_code(code);
        assert!(table_not_yet_visible(&err("InvalidRouteTableID.NotFound")).is_some());
        assert!(table_not_yet_visible(&err("InvalidSubnetID.NotFound")).is_none());
        assert!(table_not_yet_visible(&err("Resource.AlreadyAssociated")).is_none());
    }
}
