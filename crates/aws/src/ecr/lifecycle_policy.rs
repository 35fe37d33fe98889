//! `aws_ecr_lifecycle_policy`: the rules that expire a repository's old images.
//!
//! ECR keeps one lifecycle policy per repository, as part of it, and cannot tag it: this type has
//! no `tags` and carries no ownership tags. PutLifecyclePolicy replaces whatever policy is there,
//! so creating it again adopts what a crashed run left.

use async_trait::async_trait;
use clawform_core::{Applied, FieldError, OpContext, ProviderError, Resource, Val};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use crate::clients::Clients;
use crate::ecr::check_repository_name;
use crate::error::sdk;
use crate::handler::{ArnForm, AwsResource};
use crate::support::{canonical_json, gone_is_none, same_json};

/// A repository's lifecycle policy, as the Terraform AWS provider's `aws_ecr_lifecycle_policy`.
/// Its id is the repository's name.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EcrLifecyclePolicy {
    /// The name of the repository.
    pub repository: Val<String>,
    /// The policy (a JSON document as a string) with its `rules`.
    pub policy: Val<String>,
}

impl Resource for EcrLifecyclePolicy {
    const TYPE: &'static str = "aws_ecr_lifecycle_policy";
    const COMPUTED: &'static [&'static str] = &["id", "registry_id"];
    const FORCE_NEW: &'static [&'static str] = &["repository"];
    const CREATE_BEFORE_DESTROY: Option<&'static [&'static str]> = Some(&["repository"]);

    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        check_repository_name("repository", &self.repository, &mut errors);
        if let Some(text) = self.policy.literal() {
            let example = r#"{"rules": [{"rulePriority": 1, "selection": {...}, "action": {"type": "expire"}}]}"#;
            match serde_json::from_str::<Json>(text) {
                Err(e) => errors.push(FieldError::new("policy", format!("is not valid JSON ({e}); expected a lifecycle policy such as {example}"))),
                Ok(doc) => match doc.get("rules").and_then(Json::as_array) {
                    Some(rules) if !rules.is_empty() => {}
                    _ => errors.push(FieldError::new("policy", format!("has no `rules`; expected a lifecycle policy such as {example}"))),
                },
            }
            // PutLifecyclePolicy's lifecyclePolicyText takes 100 to 30,720 characters (ECR API reference).
            let len = text.chars().count();
            if !(100..=30_720).contains(&len) {
                errors.push(FieldError::new("policy", format!("has {len} characters; ECR takes 100 to 30720")));
            }
        }
        errors
    }
}

impl EcrLifecyclePolicy {
    async fn put(&self, aws: &Clients) -> Result<Map<String, Json>, ProviderError> {
        let out = aws
            .ecr
            .put_lifecycle_policy()
            .repository_name(self.repository.value()?)
            .lifecycle_policy_text(self.policy.value()?)
            .send()
            .await
            .map_err(|e| sdk("ecr PutLifecyclePolicy", e))?;
        let mut computed = Map::new();
        computed.insert("registry_id".into(), json!(out.registry_id()));
        Ok(computed)
    }
}

#[async_trait]
impl AwsResource for EcrLifecyclePolicy {
    const ARN: ArnForm = ArnForm::None;

    async fn create(&self, aws: &Clients, _ctx: &OpContext) -> Result<Applied, ProviderError> {
        let computed = self.put(aws).await?;
        Ok(Applied { id: self.repository.value()?.clone(), computed })
    }

    async fn update(&self, aws: &Clients, _ctx: &OpContext, id: &str, prior: &Self) -> Result<Applied, ProviderError> {
        if same_json(self.policy.value()?, prior.policy.value()?) {
            return Ok(Applied { id: id.to_string(), computed: Map::new() });
        }
        let computed = self.put(aws).await?;
        Ok(Applied { id: id.to_string(), computed })
    }

    async fn delete(aws: &Clients, id: &str, _prior: &Json) -> Result<(), ProviderError> {
        aws.ecr.delete_lifecycle_policy().repository_name(id).send().await.map_err(|e| sdk("ecr DeleteLifecyclePolicy", e))?;
        Ok(())
    }

    /// ECR returns lifecycle policies one repository at a time, so this is one
    /// GetLifecyclePolicy per id; a repository without a policy, or gone, reads as `None`.
    async fn read(aws: &Clients, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError> {
        let mut result = Vec::with_capacity(ids.len());
        for id in ids {
            let out = gone_is_none(aws.ecr.get_lifecycle_policy().repository_name(id).send().await.map_err(|e| sdk("ecr GetLifecyclePolicy", e)))?;
            result.push(out.map(|p| {
                json!({
                    "id": id,
                    "repository": p.repository_name().unwrap_or(id),
                    "policy": p.lifecycle_policy_text().map(canonical_json),
                    "registry_id": p.registry_id(),
                })
            }));
        }
        Ok(result)
    }
}
