//! `aws_route_table`: a route table of a VPC, with its routes inline.

use async_trait::async_trait;
use aws_sdk_ec2::types::{ResourceType, RouteOrigin};
use clawform_core::{Applied, FieldError, OpContext, ProviderError, Resource, Val};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use crate::clients::Clients;
use crate::ec2::{arn, carries_ownership, check_cidr, id_filters, owned_by, tag_spec, while_propagating, Ec2Tags};
use crate::error::sdk;
use crate::handler::{ArnForm, AwsResource};
use crate::support::tags::{sync_tags, user_tags};
use crate::support::{opt, send_with_token, undo_create};

/// A route table, as the Terraform AWS provider's `aws_route_table`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RouteTable {
    /// The VPC the table belongs to.
    pub vpc_id: Val<String>,
    /// The routes besides the VPC's own `local` route, which AWS adds and no one can remove.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route: Vec<Route>,
    /// Tags.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub tags: IndexMap<String, Val<String>>,
}

/// One route of a [`RouteTable`]: a destination and exactly one target.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// The destination IPv4 CIDR block, such as `0.0.0.0/0`.
    pub cidr_block: Val<String>,
    /// An internet gateway (or virtual private gateway) to send the traffic to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_id: Option<Val<String>>,
    /// A NAT gateway to send the traffic to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_gateway_id: Option<Val<String>>,
}

impl Resource for RouteTable {
    const TYPE: &'static str = "aws_route_table";
    const COMPUTED: &'static [&'static str] = &["id", "arn", "owner_id"];
    const FORCE_NEW: &'static [&'static str] = &["vpc_id"];
    const CREATE_BEFORE_DESTROY: Option<&'static [&'static str]> = Some(&[]);

    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut seen = Vec::new();
        for (i, route) in self.route.iter().enumerate() {
            check_cidr(&format!("route.{i}.cidr_block"), &route.cidr_block, 0..=32, &mut errors);
            if let Some(cidr) = route.cidr_block.literal() {
                // AWS keys routes by destination: a second route to it fails with RouteAlreadyExists.
                if seen.contains(&cidr) {
                    errors.push(FieldError::new(
                        format!("route.{i}.cidr_block"),
                        format!("`{cidr}` is the destination of an earlier route; expected one route per destination"),
                    ));
                }
                seen.push(cidr);
            }
            if route.gateway_id.is_some() == route.nat_gateway_id.is_some() {
                errors.push(FieldError::new(format!("route.{i}"), "expected exactly one target: `gateway_id` or `nat_gateway_id`"));
            }
        }
        errors
    }
}

/// A route with every value resolved.
#[derive(Debug, Clone, PartialEq)]
struct Plain {
    cidr: String,
    gateway: Option<String>,
    nat: Option<String>,
}

impl Route {
    fn plain(&self) -> Result<Plain, ProviderError> {
        Ok(Plain { cidr: self.cidr_block.value()?.clone(), gateway: opt(&self.gateway_id)?.cloned(), nat: opt(&self.nat_gateway_id)?.cloned() })
    }
}

fn plain_routes(routes: &[Route]) -> Result<Vec<Plain>, ProviderError> {
    routes.iter().map(Route::plain).collect()
}

async fn create_route(aws: &Clients, table: &str, r: &Plain) -> Result<(), ProviderError> {
    let sent = aws
        .ec2
        .create_route()
        .route_table_id(table)
        .destination_cidr_block(&r.cidr)
        .set_gateway_id(r.gateway.clone())
        .set_nat_gateway_id(r.nat.clone())
        .send()
        .await
        .map_err(|e| sdk("ec2 CreateRoute", e));
    match sent {
        Ok(_) => Ok(()),
        // A retry whose first attempt went through (its answer lost) meets its own route: the
        // same destination to the same target is done, not a conflict.
        Err(e) if e.has_code("RouteAlreadyExists") && existing_route(aws, table, &r.cidr).await?.as_ref() == Some(r) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The route of `table` to `cidr`, as it is now.
async fn existing_route(aws: &Clients, table: &str, cidr: &str) -> Result<Option<Plain>, ProviderError> {
    let out = aws.ec2.describe_route_tables().route_table_ids(table).send().await.map_err(|e| sdk("ec2 DescribeRouteTables", e))?;
    Ok(out.route_tables().iter().flat_map(|t| t.routes()).find(|route| route.destination_cidr_block() == Some(cidr)).map(|route| Plain {
        cidr: cidr.to_string(),
        gateway: route.gateway_id().map(str::to_string),
        nat: route.nat_gateway_id().map(str::to_string),
    }))
}

async fn replace_route(aws: &Clients, table: &str, r: &Plain) -> Result<(), ProviderError> {
    aws.ec2
        .replace_route()
        .route_table_id(table)
        .destination_cidr_block(&r.cidr)
        .set_gateway_id(r.gateway.clone())
        .set_nat_gateway_id(r.nat.clone())
        .send()
        .await
        .map_err(|e| sdk("ec2 ReplaceRoute", e))?;
    Ok(())
}

async fn delete_route(aws: &Clients, table: &str, cidr: &str) -> Result<(), ProviderError> {
    aws.ec2.delete_route().route_table_id(table).destination_cidr_block(cidr).send().await.map_err(|e| sdk("ec2 DeleteRoute", e))?;
    Ok(())
}

#[async_trait]
impl AwsResource for RouteTable {
    const ARN: ArnForm = ArnForm::IdAfter { service: "ec2", prefix: "route-table/" };

    async fn find_leftovers(&self, aws: &Clients, ctx: &OpContext) -> Result<Vec<String>, ProviderError> {
        let out = aws.ec2.describe_route_tables().set_filters(Some(owned_by(ctx))).send().await.map_err(|e| sdk("ec2 DescribeRouteTables", e))?;
        Ok(out.route_tables().iter().filter(|t| carries_ownership(t.tags(), ctx)).filter_map(|t| t.route_table_id()).map(str::to_string).collect())
    }

    async fn create(&self, aws: &Clients, ctx: &OpContext) -> Result<Applied, ProviderError> {
        let routes = plain_routes(&self.route)?;
        let req = aws.ec2.create_route_table().vpc_id(self.vpc_id.value()?).tag_specifications(tag_spec(ResourceType::RouteTable, &self.tags, ctx)?);
        // The apply's token: a retry after a lost answer, or the run after a crash, gets the
        // table the first request made.
        let out = send_with_token(ctx, |token| {
            let req = req.clone().client_token(token);
            async move { req.send().await.map_err(|e| sdk("ec2 CreateRouteTable", e)) }
        })
        .await?;
        let table = out.route_table().ok_or_else(|| ProviderError::api("ec2 CreateRouteTable returned no route table"))?;
        let id = table.route_table_id().ok_or_else(|| ProviderError::api("ec2 CreateRouteTable returned a table without an id"))?.to_string();
        let owner = table.owner_id().unwrap_or_default().to_string();
        // EC2 has no call that adds many routes at once.
        for r in &routes {
            if let Err(e) = while_propagating("InvalidRouteTableID.NotFound", || create_route(aws, &id, r)).await {
                return Err(undo_create(e, RouteTable::delete(aws, &id, &Json::Null)).await);
            }
        }
        let mut computed = Map::new();
        computed.insert("arn".into(), json!(arn(aws, &owner, "route-table", &id)));
        computed.insert("owner_id".into(), json!(owner));
        Ok(Applied { id, computed })
    }

    async fn update(&self, aws: &Clients, _ctx: &OpContext, id: &str, prior: &Self) -> Result<Applied, ProviderError> {
        let old = plain_routes(&prior.route)?;
        let new = plain_routes(&self.route)?;
        // Routes are keyed by destination: remove the dropped ones first, so that a destination
        // moved between routes is never held twice, then retarget, then add.
        for r in old.iter().filter(|o| !new.iter().any(|n| n.cidr == o.cidr)) {
            delete_route(aws, id, &r.cidr).await?;
        }
        for r in new.iter().filter(|n| old.iter().any(|o| o.cidr == n.cidr && o != *n)) {
            replace_route(aws, id, r).await?;
        }
        for r in new.iter().filter(|n| !old.iter().any(|o| o.cidr == n.cidr)) {
            create_route(aws, id, r).await?;
        }
        sync_tags::<Ec2Tags>(aws, id, &prior.tags, &self.tags).await?;
        Ok(Applied { id: id.to_string(), computed: Map::new() })
    }

    async fn delete(aws: &Clients, id: &str, _prior: &Json) -> Result<(), ProviderError> {
        // Like Terraform: AWS refuses to delete a table still associated with subnets, so
        // disassociate them first. A gone table fails here with a NotFound code.
        let out = aws.ec2.describe_route_tables().route_table_ids(id).send().await.map_err(|e| sdk("ec2 DescribeRouteTables", e))?;
        for table in out.route_tables() {
            for assoc in table.associations().iter().filter(|a| a.main() != Some(true)) {
                if let Some(assoc_id) = assoc.route_table_association_id() {
                    aws.ec2.disassociate_route_table().association_id(assoc_id).send().await.map_err(|e| sdk("ec2 DisassociateRouteTable", e))?;
                }
            }
        }
        aws.ec2.delete_route_table().route_table_id(id).send().await.map_err(|e| sdk("ec2 DeleteRouteTable", e))?;
        Ok(())
    }

    async fn read(aws: &Clients, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError> {
        let mut found = Vec::new();
        for filter in id_filters("route-table-id", ids) {
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
                let table = found.iter().find(|t| t.route_table_id() == Some(id.as_str()))?;
                let owner = table.owner_id().unwrap_or_default();
                let mut routes: Vec<(String, Json)> = table
                    .routes()
                    .iter()
                    // The `local` route comes with the VPC, propagated routes come from a VPN
                    // gateway, and IPv6 or prefix-list destinations are not in this type.
                    .filter(|r| r.gateway_id() != Some("local") && r.origin() != Some(&RouteOrigin::EnableVgwRoutePropagation))
                    .filter_map(|r| {
                        let cidr = r.destination_cidr_block()?;
                        let mut m = Map::new();
                        m.insert("cidr_block".into(), json!(cidr));
                        if let Some(g) = r.gateway_id() {
                            m.insert("gateway_id".into(), json!(g));
                        }
                        if let Some(n) = r.nat_gateway_id() {
                            m.insert("nat_gateway_id".into(), json!(n));
                        }
                        Some((cidr.to_string(), Json::Object(m)))
                    })
                    .collect();
                // AWS keeps routes in no documented order; sort by destination so reads are stable.
                routes.sort_by(|a, b| a.0.cmp(&b.0));
                let mut attrs = Map::new();
                attrs.insert("id".into(), json!(id));
                attrs.insert("vpc_id".into(), json!(table.vpc_id()));
                attrs.insert("route".into(), Json::Array(routes.into_iter().map(|(_, r)| r).collect()));
                attrs.insert("tags".into(), Json::Object(user_tags(table.tags())));
                attrs.insert("arn".into(), json!(arn(aws, owner, "route-table", id)));
                attrs.insert("owner_id".into(), json!(owner));
                Some(Json::Object(attrs))
            })
            .collect())
    }
}
