//! `aws_iam_role_policy`: an inline policy embedded in a role.
//!
//! IAM cannot tag an inline policy (it is part of the role, not a resource with an ARN), so this
//! type has no `tags` and carries no ownership tags. It needs none to survive a crash: the policy
//! is named, and PutRolePolicy with the same role and name overwrites it, so creating it again
//! adopts what a crashed run left.

use async_trait::async_trait;
use clawform_core::{Applied, FieldError, OpContext, ProviderError, Resource, Val};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use crate::clients::Clients;
use crate::handler::{ArnForm, AwsResource};
use crate::iam::{check_name, check_policy, gone_is_none, iam_err, policy_from_aws, same_json};

/// The most characters (whitespace left out) all of a role's inline policies may hold together;
/// not adjustable ("IAM and AWS STS quotas"). One policy cannot be larger.
const MAX_INLINE_POLICIES: usize = 10_240;

/// An inline role policy, as the Terraform AWS provider's `aws_iam_role_policy`. Its id is
/// `ROLE:NAME` (Terraform's form; IAM names cannot hold `:`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IamRolePolicy {
    /// The name of the role the policy is embedded in.
    pub role: Val<String>,
    /// The policy's name, unique within the role: up to 128 letters, digits and `+=,.@_-`.
    pub name: Val<String>,
    /// The policy document (a JSON document as a string).
    pub policy: Val<String>,
}

impl Resource for IamRolePolicy {
    const TYPE: &'static str = "aws_iam_role_policy";
    const COMPUTED: &'static [&'static str] = &["id"];
    const FORCE_NEW: &'static [&'static str] = &["role", "name"];
    const CREATE_BEFORE_DESTROY: Option<&'static [&'static str]> = Some(&["role", "name"]);

    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        check_name("role", &self.role, 64, &mut errors);
        check_name("name", &self.name, 128, &mut errors);
        check_policy("policy", &self.policy, MAX_INLINE_POLICIES, &mut errors);
        errors
    }
}

/// The role and policy names in an id `ROLE:NAME`.
fn split_id(id: &str) -> Result<(&str, &str), ProviderError> {
    id.split_once(':').ok_or_else(|| ProviderError::invalid(format!("aws_iam_role_policy: `{id}` is not an id; expected ROLE:NAME")))
}

impl IamRolePolicy {
    async fn put(&self, aws: &Clients) -> Result<(), ProviderError> {
        aws.iam
            .put_role_policy()
            .role_name(self.role.value()?)
            .policy_name(self.name.value()?)
            .policy_document(self.policy.value()?)
            .send()
            .await
            .map_err(|e| iam_err("iam PutRolePolicy", e))?;
        Ok(())
    }
}

#[async_trait]
impl AwsResource for IamRolePolicy {
    const ARN: ArnForm = ArnForm::None;

    async fn create(&self, aws: &Clients, _ctx: &OpContext) -> Result<Applied, ProviderError> {
        self.put(aws).await?;
        Ok(Applied { id: format!("{}:{}", self.role.value()?, self.name.value()?), computed: Map::new() })
    }

    async fn update(&self, aws: &Clients, _ctx: &OpContext, id: &str, prior: &Self) -> Result<Applied, ProviderError> {
        if !same_json(self.policy.value()?, prior.policy.value()?) {
            self.put(aws).await?;
        }
        Ok(Applied { id: id.to_string(), computed: Map::new() })
    }

    async fn delete(aws: &Clients, id: &str, _prior: &Json) -> Result<(), ProviderError> {
        let (role, name) = split_id(id)?;
        aws.iam.delete_role_policy().role_name(role).policy_name(name).send().await.map_err(|e| iam_err("iam DeleteRolePolicy", e))?;
        Ok(())
    }

    /// IAM returns an inline policy's document only one policy at a time, so this is one
    /// GetRolePolicy per id.
    async fn read(aws: &Clients, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError> {
        let mut result = Vec::with_capacity(ids.len());
        for id in ids {
            let (role, name) = split_id(id)?;
            let out = gone_is_none(aws.iam.get_role_policy().role_name(role).policy_name(name).send().await.map_err(|e| iam_err("iam GetRolePolicy", e)))?;
            result.push(out.map(|p| {
                json!({
                    "id": id,
                    "role": p.role_name(),
                    "name": p.policy_name(),
                    "policy": policy_from_aws(p.policy_document()),
                })
            }));
        }
        Ok(result)
    }
}
