//! Elastic Load Balancing v2 resource types and the helpers they share: reads by ARN in
//! documented batches, tags and waits.

pub mod lb;
pub mod listener;
pub mod listener_rule;
pub mod target_group;

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_elasticloadbalancingv2::types::Tag;
use clawform_core::{ErrorKind, ProviderError};

use crate::clients::Clients;
use crate::error::sdk;
use crate::handler::Register;
use crate::support::tags;

/// The Elastic Load Balancing v2 resource types.
pub(crate) fn types(f: &mut dyn FnMut(Register)) {
    f(Register::of::<lb::Lb>());
    f(Register::of::<listener::LbListener>());
    f(Register::of::<target_group::LbTargetGroup>());
    f(Register::of::<listener_rule::LbListenerRule>());
}

/// DescribeLoadBalancers: "You can specify up to 20 load balancers in a single call" (ELBv2
/// API reference).
pub(crate) const DESCRIBE_LOAD_BALANCERS_BATCH: usize = 20;

/// DescribeTags: "You can specify up to 20 resources in a single call" (ELBv2 API reference).
pub(crate) const DESCRIBE_TAGS_BATCH: usize = 20;

/// DescribeListeners documents no limit on `ListenerArns`; 20, as for the other ELBv2 ARN
/// lists, keeps each request well inside any limit and bounds what a gone ARN costs (see
/// [`describe_by_arns`]).
pub(crate) const DESCRIBE_LISTENERS_BATCH: usize = 20;

/// Describes resources by ARN, `batch` ARNs per `call`. ELBv2 fails a whole describe when one
/// ARN is gone (`LoadBalancerNotFound`, `ListenerNotFound`), so a chunk that fails that way is
/// split in halves and asked again, down to single ARNs, which are then known to be gone: k gone
/// ARNs among n cost about k·log2(batch) extra calls instead of one call per ARN.
pub(crate) async fn describe_by_arns<T, F, Fut>(arns: &[String], batch: usize, mut call: F) -> Result<Vec<T>, ProviderError>
where
    F: FnMut(Vec<String>) -> Fut,
    Fut: Future<Output = Result<Vec<T>, ProviderError>>,
{
    let mut pending: Vec<&[String]> = arns.chunks(batch).rev().collect();
    let mut found = Vec::new();
    while let Some(chunk) = pending.pop() {
        match call(chunk.to_vec()).await {
            Ok(items) => found.extend(items),
            Err(e) if e.kind == ErrorKind::NotFound => {
                if chunk.len() > 1 {
                    let (left, right) = chunk.split_at(chunk.len() / 2);
                    pending.push(right);
                    pending.push(left);
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(found)
}

tags::optional_tag_pair!(Tag);

/// ELBv2's tagging: AddTags and RemoveTags by ARN.
pub(crate) struct Elbv2Tags;

#[async_trait::async_trait]
impl tags::TagApi for Elbv2Tags {
    type Tag = Tag;

    fn make(key: String, value: String) -> Result<Tag, ProviderError> {
        Ok(Tag::builder().key(key).value(value).build())
    }

    async fn tag(aws: &Clients, target: &str, tags: Vec<Tag>) -> Result<(), ProviderError> {
        aws.elbv2.add_tags().resource_arns(target).set_tags(Some(tags)).send().await.map_err(|e| sdk("elbv2 AddTags", e))?;
        Ok(())
    }

    async fn untag(aws: &Clients, target: &str, keys: Vec<String>) -> Result<(), ProviderError> {
        aws.elbv2.remove_tags().resource_arns(target).set_tag_keys(Some(keys)).send().await.map_err(|e| sdk("elbv2 RemoveTags", e))?;
        Ok(())
    }
}

/// The tags of resources by ARN, 20 ARNs per DescribeTags call.
pub(crate) async fn describe_tags(aws: &Clients, arns: &[String]) -> Result<HashMap<String, Vec<Tag>>, ProviderError> {
    let mut out = HashMap::new();
    let described = describe_by_arns(arns, DESCRIBE_TAGS_BATCH, |chunk| async move {
        let answer = aws.elbv2.describe_tags().set_resource_arns(Some(chunk)).send().await.map_err(|e| sdk("elbv2 DescribeTags", e))?;
        Ok(answer.tag_descriptions().to_vec())
    })
    .await?;
    for d in described {
        if let Some(arn) = d.resource_arn() {
            out.insert(arn.to_string(), d.tags().to_vec());
        }
    }
    Ok(out)
}

/// DescribeTargetGroups documents no limit on `TargetGroupArns` (its page size, 1 to 400, applies
/// when listing); 20, as DescribeLoadBalancers and DescribeTags document, keeps each request
/// inside any limit and bounds what a gone ARN costs (see [`describe_by_arns`]).
pub(crate) const DESCRIBE_TARGET_GROUPS_BATCH: usize = 20;

/// DescribeRules documents no limit on `RuleArns`; 20, as for the other ELBv2 ARN lists.
pub(crate) const DESCRIBE_RULES_BATCH: usize = 20;

/// DescribeRules' largest page size (1 to 400, ELBv2 API reference); moto (5.2.5) pages by 50
/// when none is given.
pub(crate) const DESCRIBE_RULES_PAGE_SIZE: i32 = 400;

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn arns(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("arn:{i}")).collect()
    }

    /// Runs [`describe_by_arns`] against a fake API that knows the ARNs not in `gone` and, like
    /// ELBv2, fails a whole call naming a gone one; returns what was found and each call's size.
    async fn run(n: usize, batch: usize, gone: &[usize]) -> (Vec<String>, Vec<usize>) {
        let gone: Vec<String> = gone.iter().map(|i| format!("arn:{i}")).collect();
        let calls = Mutex::new(Vec::new());
        let found = describe_by_arns(&arns(n), batch, |chunk| {
            calls.lock().unwrap().push(chunk.len());
            let gone = gone.clone();
            async move {
                if chunk.iter().any(|a| gone.contains(a)) {
                    Err(ProviderError::not_found("elbv2 DescribeLoadBalancers: LoadBalancerNotFound: One or more load balancers not found"))
                } else {
                    Ok(chunk)
                }
            }
        })
        .await
        .unwrap();
        (found, calls.into_inner().unwrap())
    }

    #[tokio::test]
    async fn reads_go_in_documented_batches() {
        let (found, calls) = run(45, DESCRIBE_LOAD_BALANCERS_BATCH, &[]).await;
        assert_eq!(found, arns(45), "everything found, in order");
        assert_eq!(calls, vec![20, 20, 5]);
        assert_eq!(DESCRIBE_TAGS_BATCH, 20);
        let (found, calls) = run(0, DESCRIBE_TAGS_BATCH, &[]).await;
        assert!(found.is_empty() && calls.is_empty(), "no ARNs, no call");
    }

    #[tokio::test]
    async fn a_gone_arn_costs_a_few_halving_calls_not_the_batch() {
        let (found, calls) = run(20, 20, &[7]).await;
        assert_eq!(found.len(), 19);
        assert!(!found.contains(&"arn:7".to_string()));
        // The failing chunk is halved until the gone ARN stands alone: 20 → 0..10 → 5..10 → 7..10 → 7.
        assert_eq!(calls, vec![20, 10, 5, 5, 2, 3, 1, 2, 10]);
        let (found, _) = run(3, 20, &[0, 1, 2]).await;
        assert!(found.is_empty());
    }

    #[tokio::test]
    async fn other_errors_stop_the_read() {
        let out =
            describe_by_arns(&arns(3), 20, |_| async { Err::<Vec<String>, _>(ProviderError::api("elbv2 DescribeLoadBalancers: Throttling: slow down")) }).await;
        assert!(out.is_err());
    }
}
