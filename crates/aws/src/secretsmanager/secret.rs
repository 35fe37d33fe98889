//! `aws_secretsmanager_secret`: a secret's container (name, key, tags) and, optionally, its
//! value (`secret_string`, a clawform addition, as CloudFormation's `AWS::SecretsManager::Secret`
//! has `SecretString`): given here, the value goes out with CreateSecret itself, so a secret
//! never exists without one and a create costs one call instead of two. The value is sensitive
//! and handled as in `aws_secretsmanager_secret_version`: core keeps only its digest, nothing
//! here reads a value back, and no error or debug output contains it.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use clawform_core::{Applied, FieldError, OpContext, ProviderError, Resource, Val};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use crate::clients::Clients;
use crate::error::sdk;
use crate::handler::{ArnForm, AwsResource};
use crate::secretsmanager::{check_value, find, is_digest, optional_secret_value, sensitive_sdk, SecretInfo, SecretsTags};
use crate::support::check_tag_count;
use crate::support::tags;
use crate::support::{opt, retry_while};

/// The key Secrets Manager encrypts with when none is named (its API reference: "If you don't
/// specify this value, then Secrets Manager uses the key `aws/secretsmanager`").
const DEFAULT_KMS_KEY: &str = "alias/aws/secretsmanager";

/// How long a create waits for a name freed by a deletion without recovery: AWS deletes such a
/// secret in the background, and refuses the name until it has. The Terraform AWS provider's
/// `PropagationTimeout` (2 minutes, internal/service/secretsmanager/consts.go), which
/// `resourceSecretCreate` (internal/service/secretsmanager/secret.go) retries CreateSecret for.
const NAME_RELEASE_TIMEOUT: Duration = Duration::from_secs(120);

/// A secret, as the Terraform AWS provider's `aws_secretsmanager_secret`. Its id is its ARN.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SecretsmanagerSecret {
    /// The secret's name: 1 to 512 of `A-Z a-z 0-9 / _ + = . @ -`.
    pub name: Val<String>,
    /// A description, up to 2048 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Val<String>>,
    /// The KMS key (ARN, id or alias) that encrypts the secret's values; absent, the account's
    /// `aws/secretsmanager` key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<Val<String>>,
    /// Days AWS keeps a deleted secret recoverable: 0 deletes it at once (so its name can be
    /// used again straight away), 7 to 30 schedule the deletion; absent, AWS's default of 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_window_in_days: Option<Val<i64>>,
    /// Tags.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub tags: IndexMap<String, Val<String>>,
    /// The secret's value, sent with CreateSecret and put again (PutSecretValue) when it
    /// changes; left out, the secret is created empty (for an `aws_secretsmanager_secret_version`
    /// to fill). Removing it later leaves the value in place. Sensitive.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "optional_secret_value")]
    pub secret_string: Option<Val<String>>,
}

/// Debug output that leaves the value out, so no `{:?}` can leak it into a log.
impl fmt::Debug for SecretsmanagerSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretsmanagerSecret")
            .field("name", &self.name)
            .field("description", &self.description)
            .field("kms_key_id", &self.kms_key_id)
            .field("recovery_window_in_days", &self.recovery_window_in_days)
            .field("tags", &self.tags)
            .field("secret_string", &self.secret_string.as_ref().map(|_| "(sensitive)"))
            .finish()
    }
}

impl Resource for SecretsmanagerSecret {
    const TYPE: &'static str = "aws_secretsmanager_secret";
    const COMPUTED: &'static [&'static str] = &["id", "arn"];
    const FORCE_NEW: &'static [&'static str] = &["name"];
    const CREATE_BEFORE_DESTROY: Option<&'static [&'static str]> = Some(&["name"]);
    const SENSITIVE: &'static [&'static str] = &["secret_string"];

    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(name) = self.name.literal() {
            let len = name.chars().count();
            if !(1..=512).contains(&len) {
                errors.push(FieldError::new("name", format!("has {len} characters; expected 1 to 512")));
            }
            if let Some(bad) = name.chars().find(|c| !c.is_ascii_alphanumeric() && !"/_+=.@-".contains(*c)) {
                errors.push(FieldError::new("name", format!("`{bad}` is not allowed in a secret name; expected letters, digits and /_+=.@-")));
            }
        }
        if let Some(Val::Lit(description)) = &self.description {
            let len = description.chars().count();
            if len > 2048 {
                errors.push(FieldError::new("description", format!("has {len} characters; AWS allows at most 2048")));
            }
        }
        if let Some(Val::Lit(days)) = &self.recovery_window_in_days {
            if *days != 0 && !(7..=30).contains(days) {
                errors.push(FieldError::new(
                    "recovery_window_in_days",
                    format!("{days} is not a recovery window AWS accepts; expected 0 (delete at once) or 7 to 30"),
                ));
            }
        }
        if let Some(value) = &self.secret_string {
            check_value(value, &mut errors);
        }
        check_tag_count(&self.tags, <Self as AwsResource>::TAG_LIMIT, &mut errors);
        errors
    }
}

fn applied(arn: String) -> Applied {
    let mut computed = Map::new();
    computed.insert("arn".into(), json!(arn));
    Applied { id: arn, computed }
}

/// Why a CreateSecret refusal is worth another try: the name belongs to a secret being deleted
/// ("You can't create this secret because a secret with this name is already scheduled for
/// deletion.", or "… because it was deleted."). AWS gives one code (`InvalidRequestException`)
/// for many refusals, so the message tells these apart, as the Terraform AWS provider does
/// (internal/service/secretsmanager/secret.go, `resourceSecretCreate`:
/// `IsAErrorMessageContains[*types.InvalidRequestException](err, "scheduled for deletion")` or
/// `"was deleted"`). A deletion with a recovery window frees the name only after days: create
/// says so at once instead (see [`SecretsmanagerSecret::create`]).
pub(crate) fn name_being_released(err: &ProviderError) -> Option<&'static str> {
    let being_deleted = err.has_code("InvalidRequestException") && (err.message.contains("scheduled for deletion") || err.message.contains("was deleted"));
    being_deleted.then_some("Secrets Manager is still deleting the secret that had this name")
}

fn scheduled_error(name: &str, deletion: Option<i64>) -> ProviderError {
    let when = deletion.map(|secs| format!(" (its deletion date is {secs} seconds after the Unix epoch)")).unwrap_or_default();
    ProviderError::api(format!(
        "secretsmanager CreateSecret: a secret named `{name}` is scheduled for deletion{when}, so the name is taken until then; \
         restore it (RestoreSecret) or delete it for good (DeleteSecret with ForceDeleteWithoutRecovery). \
         Stacks that re-create secrets by name should set recovery_window_in_days: 0"
    ))
}

impl SecretsmanagerSecret {
    /// The value to send, if one is given. The digest state keeps in its place is refused: it
    /// arrives only when the value was not given again, and must never become the value.
    fn value(&self, action: &str) -> Result<Option<&str>, ProviderError> {
        match opt(&self.secret_string)? {
            Some(v) if is_digest(v) => Err(ProviderError::invalid(format!(
                "{}: secret_string holds the digest that state keeps in place of the value, not the value itself; the secret value must be given to {action} (pass the secret parameter again)",
                Self::TYPE
            ))),
            Some(v) => Ok(Some(v.as_str())),
            None => Ok(None),
        }
    }

    async fn create_once(&self, aws: &Clients, name: &str, ctx: &OpContext) -> Result<String, ProviderError> {
        let value = self.value("create the secret")?;
        // The SDK fills in ClientRequestToken (an idempotency token) once per call, so its
        // retries of a create whose answer was lost find the version instead of failing.
        let out = aws
            .secrets
            .create_secret()
            .name(name)
            .set_description(opt(&self.description)?.cloned())
            .set_kms_key_id(opt(&self.kms_key_id)?.cloned())
            .set_secret_string(value.map(str::to_string))
            .set_tags(Some(tags::create_tags::<SecretsTags>(&self.tags, ctx)?))
            .send()
            .await
            .map_err(|e| sensitive_sdk("secretsmanager CreateSecret", e, value.unwrap_or_default()))?;
        out.arn().map(str::to_string).ok_or_else(|| ProviderError::api("secretsmanager CreateSecret returned no ARN"))
    }

    /// PutSecretValue of `value` as the secret's current version.
    async fn put_value(aws: &Clients, id: &str, value: &str) -> Result<(), ProviderError> {
        aws.secrets
            .put_secret_value()
            .secret_id(id)
            .secret_string(value)
            .client_request_token(uuid::Uuid::new_v4().to_string())
            .send()
            .await
            .map_err(|e| sensitive_sdk("secretsmanager PutSecretValue", e, value))?;
        Ok(())
    }

    /// The name is taken. If by this very resource (a run that crashed between CreateSecret and
    /// saving state left it, tagged with this stack and address), adopt it and bring it in line;
    /// if by a secret being deleted, say so and how to free the name; else fail with `err`.
    /// (AWS refuses a name scheduled for deletion with InvalidRequestException; moto 5.2.5 with
    /// ResourceExistsException, which lands here, hence the deletion check first.)
    async fn adopt(&self, aws: &Clients, ctx: &OpContext, name: &str, err: ProviderError) -> Result<Applied, ProviderError> {
        let found = match aws.secrets.describe_secret().secret_id(name).send().await {
            Ok(out) => out,
            Err(_) => return Err(err),
        };
        if let Some(date) = found.deleted_date() {
            return Err(scheduled_error(name, Some(date.secs())));
        }
        let Some(info) = SecretInfo::from_describe(&found) else { return Err(err) };
        if info.tag(tags::STACK_TAG) != Some(ctx.stack.as_str()) || info.tag(tags::ADDRESS_TAG) != Some(tags::address_tag(&ctx.address).as_str()) {
            return Err(ProviderError::api(format!(
                "{}; that secret is not `{}` of stack `{}` (its clawform tags say otherwise), so it is left alone; expected a name not in use in this region",
                err.message, ctx.address, ctx.stack
            )));
        }
        let live = SecretsmanagerSecret {
            name: Val::Lit(info.name.clone()),
            description: info.description.clone().map(Val::Lit),
            kms_key_id: info.kms_key_id.clone().map(Val::Lit),
            recovery_window_in_days: None,
            tags: info.user_tags().into_iter().map(|(k, v)| (k, Val::Lit(v.as_str().unwrap_or_default().to_string()))).collect(),
            secret_string: None,
        };
        self.converge(aws, &info.arn, &live).await?;
        // What the left-over secret holds cannot be read back to compare: put the value this
        // run was given, which is the one it reports.
        if let Some(value) = self.value("adopt the secret")? {
            SecretsmanagerSecret::put_value(aws, &info.arn, value).await?;
        }
        Ok(applied(info.arn))
    }

    /// Brings description, key and tags of secret `id` from `prior` to `self`.
    async fn converge(&self, aws: &Clients, id: &str, prior: &SecretsmanagerSecret) -> Result<(), ProviderError> {
        let description = opt(&self.description)?;
        let key = opt(&self.kms_key_id)?;
        let description_changed = description != opt(&prior.description)?;
        let key_changed = key != opt(&prior.kms_key_id)?;
        if description_changed || key_changed {
            let mut req = aws.secrets.update_secret().secret_id(id);
            if description_changed {
                // An empty description clears it (moto 5.2.5 keeps the old one instead).
                req = req.description(description.cloned().unwrap_or_default());
            }
            if key_changed {
                req = req.kms_key_id(key.map_or(DEFAULT_KMS_KEY, String::as_str));
            }
            req.send().await.map_err(|e| sdk("secretsmanager UpdateSecret", e))?;
        }
        tags::sync_tags::<SecretsTags>(aws, id, &prior.tags, &self.tags).await?;
        Ok(())
    }
}

#[async_trait]
impl AwsResource for SecretsmanagerSecret {
    const ARN: ArnForm = ArnForm::Whole { service: "secretsmanager", prefix: "secret:" };

    async fn create(&self, aws: &Clients, ctx: &OpContext) -> Result<Applied, ProviderError> {
        let name = self.name.value()?;
        let created =
            retry_while(&format!("the name `{name}` to be released by the secret being deleted"), NAME_RELEASE_TIMEOUT, name_being_released, || async {
                match self.create_once(aws, name, ctx).await {
                    // Wait only for a deletion that is under way: one with a recovery window frees
                    // the name in days, and that is worth saying at once (no code: not retried).
                    Err(e) if name_being_released(&e).is_some() => {
                        if let Ok(found) = aws.secrets.describe_secret().secret_id(name).send().await {
                            let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
                            if let Some(date) = found.deleted_date().filter(|d| d.secs() > now + 60) {
                                return Err(scheduled_error(name, Some(date.secs())));
                            }
                        }
                        Err(e)
                    }
                    other => other,
                }
            })
            .await;
        match created {
            Ok(arn) => Ok(applied(arn)),
            Err(e) if e.has_code("ResourceExistsException") => self.adopt(aws, ctx, name, e).await,
            // Gave up waiting: say how to free the name, and what the wait saw.
            Err(e) if name_being_released(&e).is_some() => Err(scheduled_error(name, None).map_message(|m| format!("{m} ({})", e.message))),
            Err(e) => Err(e),
        }
    }

    async fn update(&self, aws: &Clients, _ctx: &OpContext, id: &str, prior: &Self) -> Result<Applied, ProviderError> {
        // recovery_window_in_days needs no call: it is used when the secret is deleted.
        self.converge(aws, id, prior).await?;
        // The same value as before (which is how an unchanged digest arrives) makes no call.
        if self.secret_string != prior.secret_string {
            if let Some(value) = self.value("change the value")? {
                SecretsmanagerSecret::put_value(aws, id, value).await?;
            }
        }
        Ok(Applied { id: id.to_string(), computed: Map::new() })
    }

    async fn delete(aws: &Clients, id: &str, prior: &Json) -> Result<(), ProviderError> {
        let req = aws.secrets.delete_secret().secret_id(id);
        // AWS takes RecoveryWindowInDays 7 to 30 only; "delete at once" is its own flag.
        let req = match prior.get("recovery_window_in_days").and_then(Json::as_i64) {
            Some(0) => req.force_delete_without_recovery(true),
            Some(days) => req.recovery_window_in_days(days),
            None => req,
        };
        match req.send().await.map_err(|e| sdk("secretsmanager DeleteSecret", e)) {
            Ok(_) => Ok(()),
            // Already scheduled for deletion (by hand, or by an earlier run): it is gone as far
            // as the stack is concerned.
            Err(e)
                if e.has_code("InvalidRequestException")
                    && (e.message.contains("scheduled for deletion") || e.message.contains("marked deleted") || e.message.contains("marked for deletion")) =>
            {
                Err(ProviderError::not_found(e.message))
            }
            Err(e) => Err(e),
        }
    }

    /// Secrets in batches of ListSecrets calls, confirmed one by one with DescribeSecret only
    /// when the list leaves them out (see [`find`]). Secrets scheduled for deletion read as
    /// gone. `recovery_window_in_days` is not readable from AWS and is left out.
    async fn read(aws: &Clients, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let found = find(aws, ids).await?;
        Ok(ids
            .iter()
            .map(|id| {
                let secret = found.get(id)?;
                let mut attrs = Map::new();
                attrs.insert("id".into(), json!(secret.arn));
                attrs.insert("name".into(), json!(secret.name));
                if let Some(d) = &secret.description {
                    attrs.insert("description".into(), json!(d));
                }
                if let Some(k) = &secret.kms_key_id {
                    attrs.insert("kms_key_id".into(), json!(k));
                }
                attrs.insert("tags".into(), Json::Object(secret.user_tags()));
                attrs.insert("arn".into(), json!(secret.arn));
                Some(Json::Object(attrs))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_retries_only_a_name_still_being_released() {
        let err = |code: &str, text: &str| ProviderError::api(format!("secretsmanager CreateSecret: {code}: {text}")).with_code(code);
        let scheduled = "You can't create this secret because a secret with this name is already scheduled for deletion.";
        assert!(name_being_released(&err("InvalidRequestException", scheduled)).is_some());
        assert!(name_being_released(&err("InvalidRequestException", "You can't perform this operation on the secret because it was deleted.")).is_some());
        assert!(name_being_released(&err("InvalidRequestException", "You can't use a KMS key that is disabled.")).is_none());
        assert!(name_being_released(&err("ResourceExistsException", "The operation failed because the secret already exists.")).is_none());
    }
}
