//! Finding what clawform owns: every live resource tagged `clawform:stack`, through the Resource
//! Groups Tagging API (many types in a few calls), confirmed with each type's own read where
//! AWS keeps deleted resources visible (deleted NAT gateways, inactive task definitions).

use std::collections::BTreeMap;

use aws_sdk_resourcegroupstagging::types::TagFilter;
use clawform_core::{Owned, ProviderError};

use crate::error::sdk;
use crate::support::tags::{ADDRESS_TAG, STACK_TAG};
use crate::AwsProvider;

/// Values per tag filter accepted by GetResources (AWS's documented limit).
pub const TAG_VALUES_PER_FILTER: usize = 20;
/// Results per GetResources page (AWS's documented maximum).
pub const RESOURCES_PER_PAGE: i32 = 100;
/// Tags per GetResources page (AWS's documented maximum): a page also ends at this many tags,
/// 100 by default, which cut pages of clawform's resources (3 or 4 tags each) to about 30.
pub const TAGS_PER_PAGE: i32 = 500;

/// The clawform type and id of the resource an ARN names, where clawform has such a type: each
/// type declares its [`crate::ArnForm`], so a new type is found without an entry here.
pub fn type_and_id(arn: &str) -> Option<(&'static str, String)> {
    static FORMS: std::sync::OnceLock<Vec<(&'static str, crate::ArnForm)>> = std::sync::OnceLock::new();
    FORMS.get_or_init(crate::arn_forms).iter().find_map(|(type_name, form)| form.id_of(arn).map(|id| (*type_name, id)))
}

impl AwsProvider {
    /// Live resources tagged with any of `stacks`, without those AWS keeps visible after delete.
    pub(crate) async fn owned(&self, stacks: &[String], known: &std::collections::HashSet<String>) -> Result<Vec<Owned>, ProviderError> {
        let mut found = Vec::new();
        // Many stacks (a drift check of every tenant): one scan of everything clawform tagged,
        // in full pages, costs fewer calls than a partly filled page per group of 20 names.
        let wanted: std::collections::HashSet<&String> = stacks.iter().collect();
        let groups: Vec<Option<Vec<String>>> =
            if stacks.len() > TAG_VALUES_PER_FILTER { vec![None] } else { stacks.chunks(TAG_VALUES_PER_FILTER).map(|c| Some(c.to_vec())).collect() };
        for values in groups {
            let filter = TagFilter::builder().key(STACK_TAG).set_values(values).build();
            let mut pages = self
                .clients()
                .tagging
                .get_resources()
                .tag_filters(filter)
                .resources_per_page(RESOURCES_PER_PAGE)
                .tags_per_page(TAGS_PER_PAGE)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| sdk("tagging GetResources", e))?;
                for mapping in page.resource_tag_mapping_list() {
                    let tag = |key: &str| mapping.tags().iter().find(|t| t.key() == key).map(|t| t.value().to_string());
                    if let (Some(arn), Some(stack), Some(address)) = (mapping.resource_arn(), tag(STACK_TAG), tag(ADDRESS_TAG)) {
                        if wanted.contains(&stack) {
                            found.push(Owned { stack, address: crate::support::tags::address_from_tag(&address), arn: arn.to_string() });
                        }
                    }
                }
            }
        }
        // Confirm with each type's read, batched by type: deleted resources that AWS still lists
        // (NAT gateways, inactive task definitions and clusters) read as gone.
        let mut by_type: BTreeMap<&'static str, Vec<(usize, String)>> = BTreeMap::new();
        for (i, o) in found.iter().enumerate() {
            if let Some((t, id)) = type_and_id(&o.arn) {
                if !known.contains(&id) && !known.contains(&o.arn) {
                    by_type.entry(t).or_default().push((i, id));
                }
            }
        }
        let mut gone = vec![false; found.len()];
        for (type_name, members) in by_type {
            let ids: Vec<String> = members.iter().map(|(_, id)| id.clone()).collect();
            if let Ok(live) = clawform_core::Provider::read(self, type_name, &ids).await {
                for ((i, _), l) in members.iter().zip(live) {
                    gone[*i] = l.is_none();
                }
            }
        }
        Ok(found.into_iter().zip(gone).filter(|(_, g)| !g).map(|(o, _)| o).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_name_their_type_and_id() {
        assert_eq!(type_and_id("arn:aws:ec2:us-west-2:123456789012:vpc/vpc-1"), Some(("aws_vpc", "vpc-1".into())));
        assert_eq!(type_and_id("arn:aws:logs:us-west-2:123456789012:log-group:/ecs/openclaw:*"), Some(("aws_cloudwatch_log_group", "/ecs/openclaw".into())));
        let tg = "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/openclaw-a/abc";
        assert_eq!(type_and_id(tg), Some(("aws_lb_target_group", tg.into())));
        assert_eq!(
            type_and_id("arn:aws:autoscaling:us-west-2:123456789012:autoScalingGroup:uuid:autoScalingGroupName/openclaw-ecs-asg"),
            Some(("aws_autoscaling_group", "openclaw-ecs-asg".into()))
        );
        assert_eq!(type_and_id("arn:aws:s3:::bucket"), None);
        assert_eq!(type_and_id("arn:aws:iam::123456789012:role/service/openclaw-task"), Some(("aws_iam_role", "openclaw-task".into())));
        assert_eq!(type_and_id("arn:aws:iam::123456789012:instance-profile/openclaw-ecs"), Some(("aws_iam_instance_profile", "openclaw-ecs".into())));
        let rule = "arn:aws:elasticloadbalancing:us-west-2:123456789012:listener-rule/app/a/b/c/d";
        assert_eq!(type_and_id(rule), Some(("aws_lb_listener_rule", rule.into())));
        let listener = "arn:aws:elasticloadbalancing:us-west-2:123456789012:listener/app/a/b/c";
        assert_eq!(type_and_id(listener), Some(("aws_lb_listener", listener.into())));
        assert_eq!(type_and_id("arn:aws:ec2:us-west-2:123456789012:launch-template/lt-1"), Some(("aws_launch_template", "lt-1".into())));
        assert_eq!(type_and_id("arn:aws:ecr:us-west-2:123456789012:repository/openclaw"), Some(("aws_ecr_repository", "openclaw".into())));
    }
}
