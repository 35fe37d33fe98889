//! `aws_secretsmanager_secret_version`: a value of a secret.
//!
//! The value is sensitive: core keeps only a `sha256:` digest of it in state and plans, and when
//! the value is not given again on a later run it hands the update that same digest. So an
//! update whose new value equals the prior one (digest or not) changes nothing, and a digest is
//! never sent to AWS as if it were a value. Nothing here reads a value back (no GetSecretValue),
//! and no error or debug output of this module contains one.

use std::collections::HashMap;
use std::fmt;

use async_trait::async_trait;
use clawform_core::{Applied, FieldError, OpContext, ProviderError, Resource, Val};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use crate::clients::Clients;
use crate::error::sdk;
use crate::handler::{ArnForm, AwsResource};
use crate::secretsmanager::{check_value, describe, find, is_digest, secret_value, sensitive_sdk, SecretInfo};

/// The staging label of the version a secret's readers get.
const CURRENT: &str = "AWSCURRENT";

/// A secret version, as the Terraform AWS provider's `aws_secretsmanager_secret_version` (with
/// `secret_string`; `secret_binary` and `version_stages` are not offered). Its id is
/// `SECRET_ARN|VERSION_ID`, as Terraform's.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SecretsmanagerSecretVersion {
    /// The secret the version belongs to: its ARN (usually `${secret.arn}`) or name.
    pub secret_id: Val<String>,
    /// The secret value. Sensitive: never shown, never stored in clear.
    #[serde(deserialize_with = "secret_value")]
    pub secret_string: Val<String>,
}

/// Debug output that leaves the value out, so no `{:?}` can leak it into a log.
impl fmt::Debug for SecretsmanagerSecretVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretsmanagerSecretVersion").field("secret_id", &self.secret_id).field("secret_string", &"(sensitive)").finish()
    }
}

impl Resource for SecretsmanagerSecretVersion {
    const TYPE: &'static str = "aws_secretsmanager_secret_version";
    const COMPUTED: &'static [&'static str] = &["id", "arn", "version_id", "version_stages"];
    const FORCE_NEW: &'static [&'static str] = &["secret_id"];
    const SENSITIVE: &'static [&'static str] = &["secret_string"];

    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        check_value(&self.secret_string, &mut errors);
        errors
    }
}

/// Splits a version's id into the secret's ARN and the version id.
fn split_id(id: &str) -> Result<(&str, &str), ProviderError> {
    id.rsplit_once('|')
        .filter(|(arn, version)| !arn.is_empty() && !version.is_empty())
        .ok_or_else(|| ProviderError::invalid(format!("`{id}` is not an {} id; expected SECRET_ARN|VERSION_ID", SecretsmanagerSecretVersion::TYPE)))
}

fn must_be_given(action: &str) -> ProviderError {
    ProviderError::invalid(format!(
        "{}: secret_string holds the digest that state keeps in place of the value, not the value itself; \
         the secret value must be given to {action} (pass the secret parameter again)",
        SecretsmanagerSecretVersion::TYPE
    ))
}

impl SecretsmanagerSecretVersion {
    /// PutSecretValue: a new version, labelled AWSCURRENT (the one it replaces becomes
    /// AWSPREVIOUS).
    async fn put(&self, aws: &Clients, value: &str) -> Result<Applied, ProviderError> {
        let secret_id = self.secret_id.value()?;
        // An explicit token (it becomes the version id) makes the SDK's own retries of this
        // call idempotent: a retry after a lost answer finds the version instead of adding one.
        let token = uuid::Uuid::new_v4().to_string();
        let out = aws
            .secrets
            .put_secret_value()
            .secret_id(secret_id)
            .secret_string(value)
            .client_request_token(&token)
            .send()
            .await
            .map_err(|e| sensitive_sdk("secretsmanager PutSecretValue", e, value))?;
        let arn = out.arn().ok_or_else(|| ProviderError::api("secretsmanager PutSecretValue returned no ARN"))?.to_string();
        let version = out.version_id().unwrap_or(&token).to_string();
        let mut stages = out.version_stages().to_vec();
        if stages.is_empty() {
            stages.push(CURRENT.to_string());
        }
        stages.sort();
        let mut computed = Map::new();
        computed.insert("arn".into(), json!(arn));
        computed.insert("version_id".into(), json!(version));
        computed.insert("version_stages".into(), json!(stages));
        Ok(Applied { id: format!("{arn}|{version}"), computed })
    }
}

#[async_trait]
impl AwsResource for SecretsmanagerSecretVersion {
    const ARN: ArnForm = ArnForm::None;

    async fn create(&self, aws: &Clients, _ctx: &OpContext) -> Result<Applied, ProviderError> {
        let value = self.secret_string.value()?;
        if is_digest(value) {
            return Err(must_be_given("create a version"));
        }
        self.put(aws, value).await
    }

    /// Only `secret_string` can change in place. The same value as before (which is how an
    /// unchanged digest arrives) makes no call; a new value makes a new version, and with it
    /// a new id.
    async fn update(&self, aws: &Clients, _ctx: &OpContext, id: &str, prior: &Self) -> Result<Applied, ProviderError> {
        let value = self.secret_string.value()?;
        if value == prior.secret_string.value()? {
            return Ok(Applied { id: id.to_string(), computed: Map::new() });
        }
        if is_digest(value) {
            return Err(must_be_given("change the version"));
        }
        self.put(aws, value).await
    }

    /// A version cannot be deleted by itself: AWS drops versions that carry no staging label.
    /// So, as Terraform does, this removes the version's labels, except AWSCURRENT: AWS only
    /// moves that label to another version ("You can only move staging label AWSCURRENT to a
    /// different secret version"), and moving it would silently roll the secret back to an
    /// older value. A current version therefore stays until its secret is deleted or a newer
    /// value is put, and deleting it makes no call beyond the DescribeSecret that finds it.
    async fn delete(aws: &Clients, id: &str, _prior: &Json) -> Result<(), ProviderError> {
        let (arn, version) = split_id(id)?;
        let secret =
            describe(aws, arn).await?.ok_or_else(|| ProviderError::not_found(format!("secretsmanager DescribeSecret: secret {arn} no longer exists")))?;
        let stages = secret
            .versions
            .get(version)
            .ok_or_else(|| ProviderError::not_found(format!("secretsmanager DescribeSecret: secret {arn} has no version {version} any more")))?;
        for stage in stages.iter().filter(|s| s.as_str() != CURRENT) {
            aws.secrets
                .update_secret_version_stage()
                .secret_id(arn)
                .version_stage(stage)
                .remove_from_version_id(version)
                .send()
                .await
                .map_err(|e| sdk("secretsmanager UpdateSecretVersionStage", e))?;
        }
        Ok(())
    }

    /// The secrets of the versions in batches of ListSecrets calls (whose entries carry each
    /// version's labels); a secret the list shows without the version is asked for again with
    /// DescribeSecret, as the list may lag behind a recent PutSecretValue. Never the value.
    async fn read(aws: &Clients, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let parsed = ids.iter().map(|id| split_id(id)).collect::<Result<Vec<_>, _>>()?;
        let mut arns: Vec<String> = parsed.iter().map(|(arn, _)| arn.to_string()).collect();
        arns.sort();
        arns.dedup();
        let mut secrets: HashMap<String, SecretInfo> = find(aws, &arns).await?;
        let mut refreshed: Vec<&str> = Vec::new();
        for (arn, version) in &parsed {
            let stale = secrets.get(*arn).is_some_and(|s| !s.versions.contains_key(*version));
            if stale && !refreshed.contains(arn) {
                refreshed.push(arn);
                match describe(aws, arn).await? {
                    Some(s) => secrets.insert(arn.to_string(), s),
                    None => secrets.remove(*arn),
                };
            }
        }
        Ok(parsed
            .iter()
            .map(|(arn, version)| {
                let secret = secrets.get(*arn)?;
                let mut stages = secret.versions.get(*version)?.clone();
                stages.sort();
                let mut attrs = Map::new();
                attrs.insert("id".into(), json!(format!("{}|{version}", secret.arn)));
                attrs.insert("secret_id".into(), json!(secret.arn));
                attrs.insert("arn".into(), json!(secret.arn));
                attrs.insert("version_id".into(), json!(version));
                attrs.insert("version_stages".into(), json!(stages));
                Some(Json::Object(attrs))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_errors_never_quote_the_value() {
        // (A number is text, as Terraform converts it; a mapping is not.)
        for bad in [json!({ "secret_id": "s", "secret_string": {"key": 424242} }), json!({ "secret_id": "s", "secret_string": "x${hunter2-not-a-ref" })] {
            let err = serde_json::from_value::<SecretsmanagerSecretVersion>(bad).unwrap_err().to_string();
            assert!(!err.contains("424242") && !err.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn debug_leaves_the_value_out() {
        let v = SecretsmanagerSecretVersion { secret_id: "s".into(), secret_string: "hunter2".into() };
        assert!(!format!("{v:?}").contains("hunter2"));
    }

    #[test]
    fn ids_split_at_the_last_bar() {
        assert_eq!(split_id("arn:aws:secretsmanager:us-west-2:1:secret:a-AbCdEf|v1").unwrap(), ("arn:aws:secretsmanager:us-west-2:1:secret:a-AbCdEf", "v1"));
        assert!(split_id("no-bar").is_err());
        assert!(split_id("arn|").is_err());
    }
}
