//! `aws_cloudwatch_log_group`: a CloudWatch Logs log group.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata;
use aws_sdk_cloudwatchlogs::types::LogGroup;
use clawform_core::{Applied, FieldError, OpContext, ProviderError, Resource, Val};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use crate::clients::Clients;
use crate::error::sdk;
use crate::handler::{ArnForm, AwsResource};
use crate::logs::LogsTags;
use crate::support::check_tag_count;
use crate::support::tags;
use crate::support::{has_code_and_message, opt, retry_while, undo_create, wait_for};

/// How long PutRetentionPolicy is retried right after a create: the Terraform AWS provider's
/// `propagationTimeout` for CloudWatch Logs (2 minutes, internal/service/logs/consts.go; used by
/// internal/service/logs/group.go).
const PROPAGATION_TIMEOUT: Duration = Duration::from_secs(2 * 60);

/// How long DeleteLogGroup is retried while another operation on the group runs: 1 minute, as
/// the Terraform AWS provider (internal/service/logs/group.go, `resourceGroupDelete`).
const DELETE_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a PutRetentionPolicy refusal is worth another try: right after CreateLogGroup, IAM
/// policies that name the new group (by ARN) may not apply to it yet, and CloudWatch Logs answers
/// `AccessDeniedException` "… because no identity-based policy allows the
/// logs:PutRetentionPolicy action" (Terraform: internal/service/logs/group.go,
/// `RetryWhenAWSErrMessageContains(…, "AccessDeniedException", "no identity-based policy allows the logs:PutRetentionPolicy action")`).
/// Other access denials are real and fail at once.
pub(crate) fn retention_not_yet_allowed(err: &ProviderError) -> Option<&'static str> {
    has_code_and_message(err, "AccessDeniedException", "no identity-based policy allows the logs:PutRetentionPolicy action")
        .then_some("IAM policies do not apply to the new log group yet")
}

/// Why a DeleteLogGroup refusal is worth another try: `OperationAbortedException` "… try again"
/// while another operation on the group is in progress (Terraform: internal/service/logs/group.go,
/// `RetryWhenIsAErrorMessageContains[…, *awstypes.OperationAbortedException](…, "try again")`).
pub(crate) fn operation_in_progress(err: &ProviderError) -> Option<&'static str> {
    has_code_and_message(err, "OperationAbortedException", "try again").then_some("another operation on the log group is in progress")
}

/// The retention periods PutRetentionPolicy accepts, in days (CloudWatch Logs API reference).
pub const RETENTION_DAYS: &[i32] = &[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/// A log group, as the Terraform AWS provider's `aws_cloudwatch_log_group`. Its id is its name.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CloudwatchLogGroup {
    /// The group's name, such as `/ecs/openclaw`.
    pub name: Val<String>,
    /// How many days events are kept (one of [`RETENTION_DAYS`]); absent, they are kept forever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_in_days: Option<Val<i32>>,
    /// The ARN of the KMS key that encrypts the group's data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<Val<String>>,
    /// Tags.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub tags: IndexMap<String, Val<String>>,
}

impl Resource for CloudwatchLogGroup {
    const TYPE: &'static str = "aws_cloudwatch_log_group";
    const COMPUTED: &'static [&'static str] = &["id", "arn"];
    const FORCE_NEW: &'static [&'static str] = &["name"];
    const CREATE_BEFORE_DESTROY: Option<&'static [&'static str]> = Some(&["name"]);

    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(name) = self.name.literal() {
            let len = name.chars().count();
            if !(1..=512).contains(&len) {
                errors.push(FieldError::new("name", format!("has {len} characters; expected 1 to 512")));
            }
            if let Some(bad) = name.chars().find(|c| !c.is_ascii_alphanumeric() && !"._-/#".contains(*c)) {
                errors.push(FieldError::new("name", format!("`{bad}` is not allowed in a log group name; expected letters, digits and ._-/#")));
            }
        }
        if let Some(Val::Lit(days)) = &self.retention_in_days {
            if !RETENTION_DAYS.contains(days) {
                let allowed: Vec<String> = RETENTION_DAYS.iter().map(i32::to_string).collect();
                errors
                    .push(FieldError::new("retention_in_days", format!("{days} is not a retention period AWS offers; expected one of {}", allowed.join(", "))));
            }
        }
        check_tag_count(&self.tags, <Self as AwsResource>::TAG_LIMIT, &mut errors);
        errors
    }
}

/// The group's ARN without the `:*` DescribeLogGroups adds to `arn` (Terraform's `arn` is the
/// bare one, which is also what the tagging calls take).
fn arn_of(group: &LogGroup) -> Option<String> {
    group.log_group_arn().map(str::to_string).or_else(|| group.arn().map(|a| a.trim_end_matches(":*").to_string()))
}

/// The log groups among `names`. DescribeLogGroups filters by one name prefix a call, so names
/// are grouped by namespace (what comes before their last `/`) and each group read with the
/// longest prefix its names share, in pages of 50 (the most the API returns in one).
async fn describe(aws: &Clients, names: &[String]) -> Result<Vec<LogGroup>, ProviderError> {
    let mut by_namespace: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for name in names {
        let namespace = name.rfind('/').map_or("", |i| &name[..=i]);
        by_namespace.entry(namespace).or_default().push(name);
    }
    let mut found = Vec::new();
    for group in by_namespace.values() {
        let prefix = common_prefix(group);
        let mut req = aws.logs.describe_log_groups().limit(50);
        if !prefix.is_empty() {
            req = req.log_group_name_prefix(prefix);
        }
        let page: Vec<LogGroup> = req.into_paginator().items().send().collect::<Result<_, _>>().await.map_err(|e| sdk("logs DescribeLogGroups", e))?;
        found.extend(page.into_iter().filter(|g| g.log_group_name().is_some_and(|n| group.contains(&n))));
    }
    Ok(found)
}

/// The longest prefix every name starts with.
fn common_prefix<'a>(names: &[&'a str]) -> &'a str {
    let Some(first) = names.first() else { return "" };
    let mut len = first.len();
    for name in &names[1..] {
        len = first.char_indices().zip(name.chars()).take_while(|((_, a), b)| a == b).last().map_or(0, |((i, c), _)| i + c.len_utf8()).min(len);
    }
    &first[..len]
}

async fn find(aws: &Clients, name: &str) -> Result<Option<LogGroup>, ProviderError> {
    Ok(describe(aws, &[name.to_string()]).await?.into_iter().next())
}

async fn set_retention(aws: &Clients, name: &str, days: Option<i32>) -> Result<(), ProviderError> {
    match days {
        Some(days) => {
            retry_while(
                &format!("IAM policies to allow setting the retention of log group {name}"),
                PROPAGATION_TIMEOUT,
                retention_not_yet_allowed,
                || async {
                    aws.logs.put_retention_policy().log_group_name(name).retention_in_days(days).send().await.map_err(|e| sdk("logs PutRetentionPolicy", e))
                },
            )
            .await?;
        }
        None => {
            aws.logs.delete_retention_policy().log_group_name(name).send().await.map_err(|e| sdk("logs DeleteRetentionPolicy", e))?;
        }
    }
    Ok(())
}

impl CloudwatchLogGroup {
    /// After CreateLogGroup (which cannot set retention): the retention policy, and the ARN,
    /// which CreateLogGroup does not return.
    async fn finish_create(&self, aws: &Clients, name: &str) -> Result<Map<String, Json>, ProviderError> {
        if let Some(days) = opt(&self.retention_in_days)? {
            set_retention(aws, name, Some(*days)).await?;
        }
        // DescribeLogGroups may leave out a group created a moment ago.
        let group = wait_for(&format!("new log group {name} to be listed"), PROPAGATION_TIMEOUT, || find(aws, name)).await?;
        let mut computed = Map::new();
        computed.insert("arn".into(), json!(arn_of(&group)));
        Ok(computed)
    }
}

#[async_trait]
impl AwsResource for CloudwatchLogGroup {
    const ARN: ArnForm = ArnForm::Custom { service: "logs", describe: "log-group:NAME:*", id: crate::support::arn::log_group_name };

    const ALREADY_EXISTS: &'static [&'static str] = &["ResourceAlreadyExistsException"];

    /// Found by the SIGKILL matrix on the base stack: a run killed after CreateLogGroup left a
    /// group the next run's create met as "already exists".
    async fn named_existing(&self, aws: &Clients) -> Result<Option<(String, Vec<(String, String)>)>, ProviderError> {
        let name = self.name.value()?;
        let found = describe(aws, std::slice::from_ref(name)).await?;
        let Some(arn) = found.iter().find(|g| g.log_group_name() == Some(name.as_str())).and_then(arn_of) else { return Ok(None) };
        let out = aws.logs.list_tags_for_resource().resource_arn(arn).send().await.map_err(|e| sdk("logs ListTagsForResource", e))?;
        Ok(Some((name.clone(), out.tags().into_iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect())))
    }

    async fn create(&self, aws: &Clients, ctx: &OpContext) -> Result<Applied, ProviderError> {
        let name = self.name.value()?;
        aws.logs
            .create_log_group()
            .log_group_name(name)
            .set_kms_key_id(opt(&self.kms_key_id)?.cloned())
            .set_tags(Some(tags::create_tags::<LogsTags>(&self.tags, ctx)?.into_iter().collect()))
            .send()
            .await
            .map_err(|e| sdk("logs CreateLogGroup", e))?;
        match self.finish_create(aws, name).await {
            Ok(computed) => Ok(Applied { id: name.clone(), computed }),
            Err(e) => Err(undo_create(e, CloudwatchLogGroup::delete(aws, name, &Json::Null)).await),
        }
    }

    async fn update(&self, aws: &Clients, _ctx: &OpContext, id: &str, prior: &Self) -> Result<Applied, ProviderError> {
        let days = opt(&self.retention_in_days)?.copied();
        if days != opt(&prior.retention_in_days)?.copied() {
            set_retention(aws, id, days).await?;
        }
        let key = opt(&self.kms_key_id)?;
        if key != opt(&prior.kms_key_id)? {
            // Data already written stays encrypted with the key it was written with.
            match key {
                Some(key) => {
                    aws.logs.associate_kms_key().log_group_name(id).kms_key_id(key).send().await.map_err(|e| sdk("logs AssociateKmsKey", e))?;
                }
                None => {
                    aws.logs.disassociate_kms_key().log_group_name(id).send().await.map_err(|e| sdk("logs DisassociateKmsKey", e))?;
                }
            }
        }
        let change = tags::TagChange::between(&prior.tags, &self.tags)?;
        if !change.is_empty() {
            // Logs tags by ARN, which only a describe gives: asked only when tags change.
            let group = find(aws, id).await?.ok_or_else(|| ProviderError::not_found(format!("logs DescribeLogGroups: log group {id} does not exist")))?;
            let arn = arn_of(&group).ok_or_else(|| ProviderError::api(format!("logs DescribeLogGroups returned no ARN for {id}")))?;
            change.apply::<LogsTags>(aws, &arn).await?;
        }
        Ok(Applied { id: id.to_string(), computed: Map::new() })
    }

    async fn delete(aws: &Clients, id: &str, _prior: &Json) -> Result<(), ProviderError> {
        // A group already gone answers ResourceNotFoundException, which is NotFound: done.
        retry_while(&format!("log group {id} to be free of other operations"), DELETE_TIMEOUT, operation_in_progress, || async {
            aws.logs.delete_log_group().log_group_name(id).send().await.map_err(|e| sdk("logs DeleteLogGroup", e))
        })
        .await?;
        Ok(())
    }

    /// Groups in as few DescribeLogGroups pages as their names allow (see [`describe`]); then one
    /// ListTagsForResource per group, as CloudWatch Logs has no call that returns many groups' tags.
    async fn read(aws: &Clients, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let found = describe(aws, ids).await?;
        let mut result = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(group) = found.iter().find(|g| g.log_group_name() == Some(id.as_str())) else {
                result.push(None);
                continue;
            };
            let arn = arn_of(group);
            let mut tags: Vec<(String, Json)> = match aws.logs.list_tags_for_resource().resource_arn(arn.clone().unwrap_or_default()).send().await {
                Ok(out) => out
                    .tags()
                    .into_iter()
                    .flatten()
                    .filter(|(k, _)| *k != tags::STACK_TAG && *k != tags::ADDRESS_TAG)
                    .map(|(k, v)| (k.clone(), json!(v)))
                    .collect(),
                // Deleted between the two calls.
                Err(e) if e.code() == Some("ResourceNotFoundException") => {
                    result.push(None);
                    continue;
                }
                Err(e) => return Err(sdk("logs ListTagsForResource", e)),
            };
            // Tags come back as a map in no particular order; sorted, reads are stable.
            tags.sort_by(|a, b| a.0.cmp(&b.0));
            let mut attrs = Map::new();
            attrs.insert("id".into(), json!(id));
            attrs.insert("name".into(), json!(id));
            if let Some(days) = group.retention_in_days() {
                attrs.insert("retention_in_days".into(), json!(days));
            }
            if let Some(key) = group.kms_key_id() {
                attrs.insert("kms_key_id".into(), json!(key));
            }
            attrs.insert("tags".into(), Json::Object(tags.into_iter().collect()));
            attrs.insert("arn".into(), json!(arn));
            result.push(Some(Json::Object(attrs)));
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::{common_prefix, operation_in_progress, retention_not_yet_allowed};
    use clawform_core::ProviderError;

    fn err(code: &str, text: &str) -> ProviderError {
        ProviderError::api(format!("logs PutRetentionPolicy: {code}: {text}")).with_code(code)
    }

    #[test]
    fn retention_retries_only_a_policy_not_yet_applying_to_the_new_group() {
        let denied = "User: arn:aws:sts::1:assumed-role/ci/x is not authorized to perform: logs:PutRetentionPolicy on resource: arn:aws:logs:us-west-2:1:log-group:/ecs/a:log-stream: because no identity-based policy allows the logs:PutRetentionPolicy action";
        assert!(retention_not_yet_allowed(&err("AccessDeniedException", denied)).is_some());
        assert!(retention_not_yet_allowed(&err("AccessDeniedException", "with an explicit deny in an identity-based policy")).is_none());
        assert!(retention_not_yet_allowed(&err("InvalidParameterException", "no identity-based policy allows the logs:PutRetentionPolicy action")).is_none());
    }

    #[test]
    fn delete_retries_only_an_aborted_operation() {
        assert!(operation_in_progress(&err(
            "OperationAbortedException",
            "A conflicting operation is currently in progress against this resource. Please try again."
        ))
        .is_some());
        assert!(operation_in_progress(&err("ResourceNotFoundException", "The specified log group does not exist.")).is_none());
    }

    #[test]
    fn common_prefix_of_names() {
        assert_eq!(common_prefix(&["/ecs/tenant-1", "/ecs/tenant-2", "/ecs/tenant-10"]), "/ecs/tenant-");
        assert_eq!(common_prefix(&["/ecs/a"]), "/ecs/a");
        assert_eq!(common_prefix(&["abc", "xyz"]), "");
        assert_eq!(common_prefix(&["/é1", "/é2"]), "/é");
        assert_eq!(common_prefix(&["ab", "abc"]), "ab");
    }
}
