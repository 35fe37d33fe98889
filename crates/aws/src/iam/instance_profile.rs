//! `aws_iam_instance_profile`: the container that hands a role to EC2 instances.

use std::time::Duration;

use async_trait::async_trait;
use clawform_core::{Applied, FieldError, OpContext, ProviderError, Resource, Val};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use crate::clients::Clients;
use crate::handler::{ArnForm, AwsResource};
use crate::iam::{check_name, check_path, check_tag_count, gone_is_none, iam_err, IamInstanceProfileTags};
use crate::support::tags;
use crate::support::{opt, retry_while, undo_create};

/// How long AddRoleToInstanceProfile is retried while IAM does not know the new profile or role:
/// the Terraform AWS provider's IAM `propagationTimeout` (2 minutes, internal/service/iam/consts.go).
const PROPAGATION_TIMEOUT: Duration = Duration::from_secs(2 * 60);

/// Why an AddRoleToInstanceProfile refusal is worth another try: right after
/// CreateInstanceProfile (or CreateRole), IAM may answer `NoSuchEntity` for the new profile or
/// role, or a message with "Invalid IAM Instance Profile name" (Terraform:
/// internal/service/iam/instance_profile.go, `instanceProfileAddRole`, which retries that
/// message whatever the code, and NoSuchEntity "The role with name", after waiting for the
/// profile to be found).
pub(crate) fn profile_or_role_unseen(err: &ProviderError) -> Option<&'static str> {
    (err.has_code("NoSuchEntity") || err.message.contains("Invalid IAM Instance Profile name")).then_some("IAM does not know the new profile or role yet")
}

/// Adds `role` to `profile`, retrying while IAM does not know either yet.
async fn add_role(aws: &Clients, profile: &str, role: &str) -> Result<(), ProviderError> {
    retry_while(&format!("instance profile {profile} and role {role} to be known to IAM"), PROPAGATION_TIMEOUT, profile_or_role_unseen, || async {
        aws.iam
            .add_role_to_instance_profile()
            .instance_profile_name(profile)
            .role_name(role)
            .send()
            .await
            .map_err(|e| iam_err("iam AddRoleToInstanceProfile", e))
    })
    .await?;
    Ok(())
}

fn default_path() -> Val<String> {
    Val::Lit("/".to_string())
}

/// An instance profile, as the Terraform AWS provider's `aws_iam_instance_profile`. Its id is
/// its name.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IamInstanceProfile {
    /// The profile's name, unique in the account: up to 128 letters, digits and `+=,.@_-`.
    pub name: Val<String>,
    /// The name of the role instances get (a profile holds at most one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Val<String>>,
    /// The path the profile is filed under (default `/`).
    #[serde(default = "default_path")]
    pub path: Val<String>,
    /// Tags.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub tags: IndexMap<String, Val<String>>,
}

impl Resource for IamInstanceProfile {
    const TYPE: &'static str = "aws_iam_instance_profile";
    const COMPUTED: &'static [&'static str] = &["id", "arn", "unique_id"];
    const FORCE_NEW: &'static [&'static str] = &["name", "path"];
    const CREATE_BEFORE_DESTROY: Option<&'static [&'static str]> = Some(&["name"]);

    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        check_name("name", &self.name, 128, &mut errors);
        if let Some(role) = &self.role {
            check_name("role", role, 64, &mut errors);
        }
        check_path("path", &self.path, &mut errors);
        check_tag_count(&self.tags, <Self as AwsResource>::TAG_LIMIT, &mut errors);
        errors
    }
}

/// Makes `role` the profile's only role: removes any other, adds it if it is not there.
async fn set_role(aws: &Clients, profile: &str, role: Option<&str>) -> Result<(), ProviderError> {
    let out = aws.iam.get_instance_profile().instance_profile_name(profile).send().await.map_err(|e| iam_err("iam GetInstanceProfile", e))?;
    let current: Vec<String> = out.instance_profile().map(|p| p.roles().iter().map(|r| r.role_name().to_string()).collect()).unwrap_or_default();
    for old in current.iter().filter(|r| Some(r.as_str()) != role) {
        aws.iam
            .remove_role_from_instance_profile()
            .instance_profile_name(profile)
            .role_name(old)
            .send()
            .await
            .map_err(|e| iam_err("iam RemoveRoleFromInstanceProfile", e))?;
    }
    if let Some(role) = role.filter(|r| !current.iter().any(|c| c == r)) {
        add_role(aws, profile, role).await?;
    }
    Ok(())
}

#[async_trait]
impl AwsResource for IamInstanceProfile {
    const ARN: ArnForm = ArnForm::Custom { service: "iam", describe: "instance-profile/PATH/NAME", id: crate::support::arn::iam_instance_profile_name };
    const ALREADY_EXISTS: &'static [&'static str] = &["EntityAlreadyExists"];

    async fn named_existing(&self, aws: &Clients) -> Result<Option<(String, Vec<(String, String)>)>, ProviderError> {
        let name = self.name.value()?;
        let out = gone_is_none(aws.iam.get_instance_profile().instance_profile_name(name).send().await.map_err(|e| iam_err("iam GetInstanceProfile", e)))?;
        Ok(out
            .as_ref()
            .and_then(|o| o.instance_profile())
            .map(|p| (p.instance_profile_name().to_string(), p.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect())))
    }

    async fn create(&self, aws: &Clients, ctx: &OpContext) -> Result<Applied, ProviderError> {
        let name = self.name.value()?;
        let role = opt(&self.role)?;
        let out = aws
            .iam
            .create_instance_profile()
            .instance_profile_name(name)
            .path(self.path.value()?)
            .set_tags(Some(tags::create_tags::<IamInstanceProfileTags>(&self.tags, ctx)?))
            .send()
            .await
            .map_err(|e| iam_err("iam CreateInstanceProfile", e))?;
        let profile = out.instance_profile().ok_or_else(|| ProviderError::api("iam CreateInstanceProfile returned no instance profile"))?;
        let mut computed = Map::new();
        computed.insert("arn".into(), json!(profile.arn()));
        computed.insert("unique_id".into(), json!(profile.instance_profile_id()));
        if let Some(role) = role {
            if let Err(e) = add_role(aws, name, role).await {
                // A profile holds one role: `LimitExceeded` after a retry whose first answer was
                // lost means the role is already in it, which is what was asked.
                if !(e.has_code("LimitExceeded") && has_role(aws, name, role).await) {
                    return Err(undo_create(e, IamInstanceProfile::delete(aws, name, &Json::Null)).await);
                }
            }
        }
        Ok(Applied { id: profile.instance_profile_name().to_string(), computed })
    }

    async fn update(&self, aws: &Clients, _ctx: &OpContext, id: &str, prior: &Self) -> Result<Applied, ProviderError> {
        let role = opt(&self.role)?;
        if role != opt(&prior.role)? {
            set_role(aws, id, role.map(String::as_str)).await?;
        }
        tags::sync_tags::<IamInstanceProfileTags>(aws, id, &prior.tags, &self.tags).await?;
        Ok(Applied { id: id.to_string(), computed: Map::new() })
    }

    /// Removes the role first: IAM refuses to delete a profile that still holds one.
    async fn delete(aws: &Clients, id: &str, _prior: &Json) -> Result<(), ProviderError> {
        set_role(aws, id, None).await?;
        aws.iam.delete_instance_profile().instance_profile_name(id).send().await.map_err(|e| iam_err("iam DeleteInstanceProfile", e))?;
        Ok(())
    }

    /// IAM has no call that gets many profiles by name, so this is one GetInstanceProfile per id.
    /// Tags come from that same answer: ListInstanceProfileTags would be a second call per id
    /// (and moto 5.2.5 answers it with an HTTP 500).
    async fn read(aws: &Clients, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError> {
        let mut result = Vec::with_capacity(ids.len());
        for id in ids {
            let out = gone_is_none(aws.iam.get_instance_profile().instance_profile_name(id).send().await.map_err(|e| iam_err("iam GetInstanceProfile", e)))?;
            let Some(profile) = out.as_ref().and_then(|o| o.instance_profile()) else {
                result.push(None);
                continue;
            };
            let mut attrs = Map::new();
            attrs.insert("id".into(), json!(id));
            attrs.insert("name".into(), json!(profile.instance_profile_name()));
            if let Some(role) = profile.roles().first() {
                attrs.insert("role".into(), json!(role.role_name()));
            }
            attrs.insert("path".into(), json!(profile.path()));
            attrs.insert("tags".into(), Json::Object(tags::user_tags(profile.tags())));
            attrs.insert("arn".into(), json!(profile.arn()));
            attrs.insert("unique_id".into(), json!(profile.instance_profile_id()));
            result.push(Some(Json::Object(attrs)));
        }
        Ok(result)
    }
}

/// Whether instance profile `name` holds role `role` (false when it cannot be read).
async fn has_role(aws: &Clients, name: &str, role: &str) -> bool {
    let out = aws.iam.get_instance_profile().instance_profile_name(name).send().await;
    out.ok().and_then(|o| o.instance_profile().map(|p| p.roles().iter().any(|r| r.role_name() == role))).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_the_role_retries_while_iam_does_not_know_profile_or_role() {
        let err = |code: &str, text: &str| ProviderError::api(format!("iam AddRoleToInstanceProfile: {code}: {text}")).with_code(code);
        assert!(profile_or_role_unseen(&err("NoSuchEntity", "The role with name ecs-instance cannot be found.")).is_some());
        assert!(profile_or_role_unseen(&err("NoSuchEntity", "Instance Profile ecs-instance cannot be found.")).is_some());
        assert!(profile_or_role_unseen(&err(
            "InvalidParameterValue",
            "Value (p) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name"
        ))
        .is_some());
        assert!(profile_or_role_unseen(&err("LimitExceeded", "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1")).is_none());
    }
}
