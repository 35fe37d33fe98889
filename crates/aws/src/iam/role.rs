//! `aws_iam_role`: an IAM role, with the trust policy that says who may assume it.

use std::time::Duration;

use async_trait::async_trait;
use clawform_core::{Applied, FieldError, OpContext, ProviderError, Resource, Val};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use crate::clients::Clients;
use crate::handler::{ArnForm, AwsResource};
use crate::iam::{check_name, check_path, check_policy, check_tag_count, gone_is_none, iam_err, policy_from_aws, same_json, IamRoleTags};
use crate::support::tags;
use crate::support::{has_code_and_message, opt, retry_while};

/// How long a refusal IAM gives while a change propagates is retried: the Terraform AWS
/// provider's IAM `propagationTimeout` (2 minutes, internal/service/iam/consts.go).
const PROPAGATION_TIMEOUT: Duration = Duration::from_secs(2 * 60);

/// Why a CreateRole or UpdateAssumeRolePolicy refusal is worth another try: a trust policy naming
/// a principal created a moment ago (a role, a user) is refused with `MalformedPolicyDocument`
/// "Invalid principal in policy" until IAM knows it (Terraform: internal/service/iam/role.go,
/// `retryCreateRole` and `resourceRoleUpdate`). The same code with another message is a real
/// mistake in the document and fails at once.
pub(crate) fn principal_not_yet_known(err: &ProviderError) -> Option<&'static str> {
    has_code_and_message(err, "MalformedPolicyDocument", "Invalid principal in policy").then_some("IAM does not know a principal of the trust policy yet")
}

/// Why a DeleteRole refusal is worth another try: `DeleteConflict` while the policy detachments
/// and instance profile removals just made have not reached every IAM endpoint (Terraform:
/// internal/service/iam/role.go, `deleteRole`: `RetryWhenIsA[*awstypes.DeleteConflictException]`).
pub(crate) fn still_attached(err: &ProviderError) -> Option<&'static str> {
    err.has_code("DeleteConflict").then_some("IAM still sees policies or instance profiles on the role")
}

/// The longest trust policy IAM takes: 2,048 characters by default, raised on request up to
/// 4,096 ("IAM and AWS STS quotas"); only the hard maximum is refused at load.
const MAX_TRUST_POLICY: usize = 4096;

fn default_path() -> Val<String> {
    Val::Lit("/".to_string())
}

fn default_max_session_duration() -> Val<i32> {
    Val::Lit(3600)
}

/// An IAM role, as the Terraform AWS provider's `aws_iam_role`. Its id is its name.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IamRole {
    /// The role's name, unique in the account: up to 64 letters, digits and `+=,.@_-`.
    pub name: Val<String>,
    /// The trust policy (a JSON document as a string): who may assume the role.
    pub assume_role_policy: Val<String>,
    /// What the role is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Val<String>>,
    /// The path the role is filed under (default `/`).
    #[serde(default = "default_path")]
    pub path: Val<String>,
    /// How long a session of the role may last, in seconds: 3,600 (the default) to 43,200.
    #[serde(default = "default_max_session_duration")]
    pub max_session_duration: Val<i32>,
    /// Tags.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub tags: IndexMap<String, Val<String>>,
}

impl Resource for IamRole {
    const TYPE: &'static str = "aws_iam_role";
    const COMPUTED: &'static [&'static str] = &["id", "arn", "unique_id"];
    const FORCE_NEW: &'static [&'static str] = &["name", "path"];
    const CREATE_BEFORE_DESTROY: Option<&'static [&'static str]> = Some(&["name"]);

    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        check_name("name", &self.name, 64, &mut errors);
        check_policy("assume_role_policy", &self.assume_role_policy, MAX_TRUST_POLICY, &mut errors);
        check_path("path", &self.path, &mut errors);
        if let Some(Val::Lit(d)) = &self.description {
            if d.chars().count() > 1000 {
                errors.push(FieldError::new("description", format!("has {} characters; IAM allows at most 1000", d.chars().count())));
            }
        }
        if let Val::Lit(seconds) = self.max_session_duration {
            if !(3600..=43200).contains(&seconds) {
                errors.push(FieldError::new("max_session_duration", format!("is {seconds}; expected 3600 (one hour) to 43200 (twelve hours) seconds")));
            }
        }
        check_tag_count(&self.tags, <Self as AwsResource>::TAG_LIMIT, &mut errors);
        errors
    }
}

impl IamRole {
    /// The role of this name when it carries `ctx`'s own ownership tags, brought to what is
    /// desired; `None` when it is not ours.
    async fn adopt_leftover(&self, aws: &Clients, ctx: &OpContext) -> Result<Option<Applied>, ProviderError> {
        let name = self.name.value()?;
        let out = aws.iam.get_role().role_name(name).send().await.map_err(|e| iam_err("iam GetRole", e))?;
        let Some(role) = out.role() else { return Ok(None) };
        let tag = |key: &str| role.tags().iter().find(|t| t.key() == key).map(|t| t.value().to_string());
        if tag(tags::STACK_TAG).as_deref() != Some(ctx.stack.as_str()) || tag(tags::ADDRESS_TAG) != Some(tags::address_tag(&ctx.address)) {
            return Ok(None);
        }
        tracing::info!(role = %name, "adopting the role an earlier attempt created");
        let (arn, unique_id) = (role.arn().to_string(), role.role_id().to_string());
        self.adopt_id(aws, ctx, name).await?;
        let mut computed = Map::new();
        computed.insert("arn".into(), json!(arn));
        computed.insert("unique_id".into(), json!(unique_id));
        Ok(Some(Applied { id: name.to_string(), computed }))
    }
}

#[async_trait]
impl AwsResource for IamRole {
    const ARN: ArnForm = ArnForm::Custom { service: "iam", describe: "role/PATH/NAME", id: crate::support::arn::iam_role_name };

    async fn create(&self, aws: &Clients, ctx: &OpContext) -> Result<Applied, ProviderError> {
        let name = self.name.value()?;
        let call = aws
            .iam
            .create_role()
            .role_name(name)
            .assume_role_policy_document(self.assume_role_policy.value()?)
            .set_description(opt(&self.description)?.cloned())
            .path(self.path.value()?)
            .max_session_duration(*self.max_session_duration.value()?)
            .set_tags(Some(tags::create_tags::<IamRoleTags>(&self.tags, ctx)?));
        let out =
            retry_while(&format!("the principals of role {name}'s trust policy to be known to IAM"), PROPAGATION_TIMEOUT, principal_not_yet_known, || {
                let call = call.clone();
                async move { call.send().await.map_err(|e| iam_err("iam CreateRole", e)) }
            })
            .await;
        let out = match out {
            Ok(out) => out,
            // A run killed between the create and the state save, or a create whose answer was
            // lost and retried, left the role with this resource's own ownership tags: take it
            // over. Anyone else's role of that name is refused.
            Err(e) if e.has_code("EntityAlreadyExists") => return self.adopt_leftover(aws, ctx).await?.ok_or(e),
            Err(e) => return Err(e),
        };
        let role = out.role().ok_or_else(|| ProviderError::api("iam CreateRole returned no role"))?;
        let mut computed = Map::new();
        computed.insert("arn".into(), json!(role.arn()));
        computed.insert("unique_id".into(), json!(role.role_id()));
        Ok(Applied { id: role.role_name().to_string(), computed })
    }

    async fn update(&self, aws: &Clients, _ctx: &OpContext, id: &str, prior: &Self) -> Result<Applied, ProviderError> {
        let policy = self.assume_role_policy.value()?;
        // State keeps the text as written; a change of whitespace or key order alone needs no call.
        if !same_json(policy, prior.assume_role_policy.value()?) {
            retry_while(&format!("the principals of role {id}'s trust policy to be known to IAM"), PROPAGATION_TIMEOUT, principal_not_yet_known, || async {
                aws.iam.update_assume_role_policy().role_name(id).policy_document(policy).send().await.map_err(|e| iam_err("iam UpdateAssumeRolePolicy", e))
            })
            .await?;
        }
        let description = opt(&self.description)?;
        let max_session = *self.max_session_duration.value()?;
        if description != opt(&prior.description)? || max_session != *prior.max_session_duration.value()? {
            // UpdateRole sets both; an empty description removes the one there was.
            aws.iam
                .update_role()
                .role_name(id)
                .description(description.map(String::as_str).unwrap_or_default())
                .max_session_duration(max_session)
                .send()
                .await
                .map_err(|e| iam_err("iam UpdateRole", e))?;
        }
        tags::sync_tags::<IamRoleTags>(aws, id, &prior.tags, &self.tags).await?;
        Ok(Applied { id: id.to_string(), computed: Map::new() })
    }

    /// Detaches what is still attached to the role, then deletes it.
    ///
    /// Terraform's `aws_iam_role` does this only with `force_detach_policies`. clawform deletes
    /// the attachments, inline policies and instance profiles it manages before the role (they
    /// depend on it), so what is left here is what it does not know about: attached by hand or by
    /// another tool, or created by a run that crashed before saving state. IAM refuses to delete a
    /// role that still has any of them (`DeleteConflict`), which would stop a destroy halfway, and
    /// none of them means anything once the role is gone; so they are removed first.
    async fn delete(aws: &Clients, id: &str, _prior: &Json) -> Result<(), ProviderError> {
        let profiles: Vec<_> = aws
            .iam
            .list_instance_profiles_for_role()
            .role_name(id)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<_, _>>()
            .await
            .map_err(|e| iam_err("iam ListInstanceProfilesForRole", e))?;
        for profile in &profiles {
            let removed = aws.iam.remove_role_from_instance_profile().instance_profile_name(profile.instance_profile_name()).role_name(id).send().await;
            gone_is_none(removed.map_err(|e| iam_err("iam RemoveRoleFromInstanceProfile", e)))?;
        }
        let attached: Vec<_> = aws
            .iam
            .list_attached_role_policies()
            .role_name(id)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<_, _>>()
            .await
            .map_err(|e| iam_err("iam ListAttachedRolePolicies", e))?;
        for policy in attached.iter().filter_map(|p| p.policy_arn()) {
            let detached = aws.iam.detach_role_policy().role_name(id).policy_arn(policy).send().await;
            gone_is_none(detached.map_err(|e| iam_err("iam DetachRolePolicy", e)))?;
        }
        let inline: Vec<String> = aws
            .iam
            .list_role_policies()
            .role_name(id)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<_, _>>()
            .await
            .map_err(|e| iam_err("iam ListRolePolicies", e))?;
        for name in &inline {
            let deleted = aws.iam.delete_role_policy().role_name(id).policy_name(name).send().await;
            gone_is_none(deleted.map_err(|e| iam_err("iam DeleteRolePolicy", e)))?;
        }
        // A role already gone answers NoSuchEntity, which is NotFound: done.
        retry_while(&format!("role {id} to be free of policies and instance profiles"), PROPAGATION_TIMEOUT, still_attached, || async {
            aws.iam.delete_role().role_name(id).send().await.map_err(|e| iam_err("iam DeleteRole", e))
        })
        .await?;
        Ok(())
    }

    /// IAM has no call that gets many roles with their trust policies and tags (ListRoles leaves
    /// the tags out), so this is one GetRole per id.
    async fn read(aws: &Clients, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError> {
        let mut result = Vec::with_capacity(ids.len());
        for id in ids {
            let out = gone_is_none(aws.iam.get_role().role_name(id).send().await.map_err(|e| iam_err("iam GetRole", e)))?;
            let Some(role) = out.as_ref().and_then(|o| o.role()) else {
                result.push(None);
                continue;
            };
            let mut attrs = Map::new();
            attrs.insert("id".into(), json!(id));
            attrs.insert("name".into(), json!(role.role_name()));
            attrs.insert("assume_role_policy".into(), json!(role.assume_role_policy_document().map(policy_from_aws)));
            if let Some(d) = role.description().filter(|d| !d.is_empty()) {
                attrs.insert("description".into(), json!(d));
            }
            attrs.insert("path".into(), json!(role.path()));
            attrs.insert("max_session_duration".into(), json!(role.max_session_duration().unwrap_or(3600)));
            attrs.insert("tags".into(), Json::Object(tags::user_tags(role.tags())));
            attrs.insert("arn".into(), json!(role.arn()));
            attrs.insert("unique_id".into(), json!(role.role_id()));
            result.push(Some(Json::Object(attrs)));
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: &str, text: &str) -> ProviderError {
        ProviderError::api(format!("iam CreateRole: {code}: {text}")).with_code(code)
    }

    #[test]
    fn create_retries_only_an_unknown_principal() {
        assert!(principal_not_yet_known(&err("MalformedPolicyDocument", "Invalid principal in policy: \"AWS\":\"arn:aws:iam::1:role/new\"")).is_some());
        assert!(principal_not_yet_known(&err("MalformedPolicyDocument", "Has prohibited field Resource")).is_none());
        assert!(principal_not_yet_known(&err("EntityAlreadyExists", "Invalid principal in policy")).is_none());
    }

    #[test]
    fn delete_retries_only_a_conflict() {
        assert!(still_attached(&err("DeleteConflict", "Cannot delete entity, must detach all policies first.")).is_some());
        assert!(still_attached(&err("NoSuchEntity", "The role with name r cannot be found.")).is_none());
        assert!(still_attached(&err("LimitExceeded", "no")).is_none());
    }
}
