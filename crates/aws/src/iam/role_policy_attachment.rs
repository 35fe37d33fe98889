//! `aws_iam_role_policy_attachment`: a managed policy attached to a role.
//!
//! An attachment is a link, not a resource with an ARN, so IAM cannot tag it: this type has no
//! `tags` and carries no ownership tags. AttachRolePolicy succeeds when the policy is already
//! attached, so creating it again adopts what a crashed run left.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use clawform_core::{Applied, FieldError, OpContext, ProviderError, Resource, Val};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use crate::clients::Clients;
use crate::handler::{ArnForm, AwsResource};
use crate::iam::{check_name, gone_is_none, iam_err};
use crate::support::retry_while;

/// How long a `ConcurrentModification` is retried: the Terraform AWS provider's IAM
/// `propagationTimeout` (2 minutes, internal/service/iam/consts.go).
const PROPAGATION_TIMEOUT: Duration = Duration::from_secs(2 * 60);

/// Why an AttachRolePolicy or DetachRolePolicy refusal is worth another try: IAM refuses
/// concurrent changes to one role's policies with `ConcurrentModification` (several attachments
/// of one role applied in parallel meet it; Terraform: internal/service/iam/role_policy_attachment.go,
/// `attachPolicyToRole` and `detachPolicyFromRole`: `RetryWhenIsA[*awstypes.ConcurrentModificationException]`).
pub(crate) fn concurrent_change(err: &ProviderError) -> Option<&'static str> {
    err.has_code("ConcurrentModification").then_some("another change to the role's policies is in progress")
}

/// A managed policy attached to a role, as the Terraform AWS provider's
/// `aws_iam_role_policy_attachment`. Its id is `ROLE|POLICY_ARN` (IAM names cannot hold `|`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IamRolePolicyAttachment {
    /// The name of the role.
    pub role: Val<String>,
    /// The ARN of the managed policy, such as
    /// `arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy`.
    pub policy_arn: Val<String>,
}

impl Resource for IamRolePolicyAttachment {
    const TYPE: &'static str = "aws_iam_role_policy_attachment";
    const COMPUTED: &'static [&'static str] = &["id"];
    const FORCE_NEW: &'static [&'static str] = &["role", "policy_arn"];
    const CREATE_BEFORE_DESTROY: Option<&'static [&'static str]> = Some(&["role", "policy_arn"]);

    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        check_name("role", &self.role, 64, &mut errors);
        if let Some(arn) = self.policy_arn.literal() {
            let parts: Vec<&str> = arn.splitn(6, ':').collect();
            let ok = parts.len() == 6 && parts[0] == "arn" && parts[2] == "iam" && parts[5].starts_with("policy/");
            if !ok {
                errors.push(FieldError::new("policy_arn", format!("`{arn}` is not a managed policy ARN; expected arn:aws:iam::ACCOUNT:policy/NAME")));
            }
        }
        errors
    }
}

/// The role and policy ARN in an id `ROLE|POLICY_ARN`.
fn split_id(id: &str) -> Result<(&str, &str), ProviderError> {
    id.split_once('|').ok_or_else(|| ProviderError::invalid(format!("aws_iam_role_policy_attachment: `{id}` is not an id; expected ROLE|POLICY_ARN")))
}

#[async_trait]
impl AwsResource for IamRolePolicyAttachment {
    const ARN: ArnForm = ArnForm::None;

    async fn create(&self, aws: &Clients, _ctx: &OpContext) -> Result<Applied, ProviderError> {
        let role = self.role.value()?;
        let policy = self.policy_arn.value()?;
        retry_while(&format!("role {role} to take policy {policy}"), PROPAGATION_TIMEOUT, concurrent_change, || async {
            aws.iam.attach_role_policy().role_name(role).policy_arn(policy).send().await.map_err(|e| iam_err("iam AttachRolePolicy", e))
        })
        .await?;
        Ok(Applied { id: format!("{role}|{policy}"), computed: Map::new() })
    }

    /// Every attribute forces replacement, so there is nothing to change in place.
    async fn update(&self, _aws: &Clients, _ctx: &OpContext, id: &str, _prior: &Self) -> Result<Applied, ProviderError> {
        Ok(Applied { id: id.to_string(), computed: Map::new() })
    }

    async fn delete(aws: &Clients, id: &str, _prior: &Json) -> Result<(), ProviderError> {
        let (role, policy) = split_id(id)?;
        // A policy no longer attached answers NoSuchEntity, which is NotFound: done.
        retry_while(&format!("role {role} to let go of policy {policy}"), PROPAGATION_TIMEOUT, concurrent_change, || async {
            aws.iam.detach_role_policy().role_name(role).policy_arn(policy).send().await.map_err(|e| iam_err("iam DetachRolePolicy", e))
        })
        .await?;
        Ok(())
    }

    /// One ListAttachedRolePolicies (paged) per role, however many of its attachments are asked.
    async fn read(aws: &Clients, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError> {
        let mut attached: BTreeMap<&str, Option<Vec<String>>> = BTreeMap::new();
        for id in ids {
            let (role, _) = split_id(id)?;
            if attached.contains_key(role) {
                continue;
            }
            let listed: Result<Vec<_>, _> = aws.iam.list_attached_role_policies().role_name(role).into_paginator().items().send().collect().await;
            let arns = gone_is_none(listed.map_err(|e| iam_err("iam ListAttachedRolePolicies", e)))?
                .map(|policies| policies.iter().filter_map(|p| p.policy_arn().map(str::to_string)).collect());
            attached.insert(role, arns);
        }
        ids.iter()
            .map(|id| {
                let (role, policy) = split_id(id)?;
                let present = attached.get(role).and_then(Option::as_ref).is_some_and(|arns| arns.iter().any(|a| a == policy));
                Ok(present.then(|| json!({ "id": id, "role": role, "policy_arn": policy })))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attach_and_detach_retry_only_concurrent_changes() {
        let err = |code: &str| ProviderError::api(format!("iam AttachRolePolicy: {code}: no")).with_code(code);
        assert!(concurrent_change(&err("ConcurrentModification")).is_some());
        assert!(concurrent_change(&err("NoSuchEntity")).is_none());
        assert!(concurrent_change(&err("LimitExceeded")).is_none());
    }
}
