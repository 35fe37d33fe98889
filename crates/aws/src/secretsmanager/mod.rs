//! Secrets Manager resource types and the reads they share.
//!
//! Nothing here ever asks AWS for a secret's value: reads use ListSecrets and DescribeSecret,
//! which return a secret's metadata and its versions' staging labels only, and errors of calls
//! that carry a value are built from the error's code and message alone (see [`sensitive_sdk`]).

pub mod secret;
pub mod secret_version;

use std::collections::HashMap;

use aws_sdk_secretsmanager::error::SdkError;
use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, SecretListEntry, Tag};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use clawform_core::{ErrorKind, FieldError, ProviderError, Val};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value as Json};

use crate::clients::Clients;
use crate::error::sdk;
use crate::handler::Register;
use crate::support::tags;

/// The Secrets Manager resource types.
pub(crate) fn types(f: &mut dyn FnMut(Register)) {
    f(Register::of::<secret::SecretsmanagerSecret>());
    f(Register::of::<secret_version::SecretsmanagerSecretVersion>());
}

/// ListSecrets takes at most 10 values in one filter (`FilterValuesStringList` in the API model).
const MAX_FILTER_VALUES: usize = 10;
/// ListSecrets returns at most 100 secrets a page (`MaxResultsType`).
const PAGE_SIZE: i32 = 100;

/// What clawform reads of a secret: metadata and version labels, never the value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SecretInfo {
    pub(crate) arn: String,
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) kms_key_id: Option<String>,
    pub(crate) tags: Vec<Tag>,
    /// Version id to staging labels, for the versions that still carry a label (AWS calls a
    /// version without one deprecated, and leaves it out of these lists).
    pub(crate) versions: HashMap<String, Vec<String>>,
}

impl SecretInfo {
    /// The secret of a ListSecrets entry; `None` when it is scheduled for deletion.
    fn from_entry(entry: &SecretListEntry) -> Option<SecretInfo> {
        if entry.deleted_date().is_some() {
            return None;
        }
        Some(SecretInfo {
            arn: entry.arn()?.to_string(),
            name: entry.name()?.to_string(),
            description: entry.description().filter(|d| !d.is_empty()).map(str::to_string),
            kms_key_id: entry.kms_key_id().map(str::to_string),
            tags: entry.tags().to_vec(),
            versions: labelled(entry.secret_versions_to_stages()),
        })
    }

    /// The secret DescribeSecret returned; `None` when it is scheduled for deletion.
    fn from_describe(out: &DescribeSecretOutput) -> Option<SecretInfo> {
        if out.deleted_date().is_some() {
            return None;
        }
        Some(SecretInfo {
            arn: out.arn()?.to_string(),
            name: out.name()?.to_string(),
            description: out.description().filter(|d| !d.is_empty()).map(str::to_string),
            kms_key_id: out.kms_key_id().map(str::to_string),
            tags: out.tags().to_vec(),
            versions: labelled(out.version_ids_to_stages()),
        })
    }

    /// Whether `id` (an ARN or a name) names this secret.
    fn is(&self, id: &str) -> bool {
        self.arn == id || self.name == id
    }

    /// The value of tag `key`, if the secret has it.
    pub(crate) fn tag(&self, key: &str) -> Option<&str> {
        self.tags.iter().find(|t| t.key() == Some(key)).map(|t| t.value().unwrap_or_default())
    }

    /// The secret's tags without clawform's ownership tags, sorted by key.
    pub(crate) fn user_tags(&self) -> Map<String, Json> {
        let mut pairs: Vec<(String, Json)> = tags::user_tags(&self.tags).into_iter().collect();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        pairs.into_iter().collect()
    }
}

/// The versions that carry at least one staging label. moto 5.2.5 keeps listing a version whose
/// last label was removed, with an empty list; AWS leaves it out. Both read here as gone.
fn labelled(map: Option<&HashMap<String, Vec<String>>>) -> HashMap<String, Vec<String>> {
    map.into_iter().flatten().filter(|(_, stages)| !stages.is_empty()).map(|(v, s)| (v.clone(), s.clone())).collect()
}

/// The secret name inside a secret ARN (`arn:…:secret:NAME-AbCdEf`, where AWS adds a dash and
/// six random characters); anything that is not an ARN is taken to be a name already.
pub(crate) fn name_of(id: &str) -> &str {
    match id.split_once(":secret:") {
        Some((prefix, rest)) if prefix.starts_with("arn:") && rest.len() > 7 && rest.as_bytes()[rest.len() - 7] == b'-' => &rest[..rest.len() - 7],
        Some((prefix, rest)) if prefix.starts_with("arn:") => rest,
        _ => id,
    }
}

/// Reads the secrets named by `ids` (ARNs or names) and returns those that exist and are not
/// scheduled for deletion, keyed by the id asked for.
///
/// ListSecrets filters by name, 10 names a call and 100 secrets a page, so many secrets cost
/// few calls. Its name filter matches prefixes (`tenant-1` also finds `tenant-10`), so results
/// are matched to ids exactly. ListSecrets is eventually consistent ("might not reflect changes
/// from the last five minutes", says its API reference), so a secret it leaves out is asked for
/// with DescribeSecret, which is not, before it counts as gone.
pub(crate) async fn find(aws: &Clients, ids: &[String]) -> Result<HashMap<String, SecretInfo>, ProviderError> {
    let mut names: Vec<String> = ids.iter().map(|id| name_of(id).to_string()).collect();
    names.sort();
    names.dedup();
    let mut listed: Vec<SecretInfo> = Vec::new();
    for chunk in names.chunks(MAX_FILTER_VALUES) {
        let filter = Filter::builder().key(FilterNameStringType::Name).set_values(Some(chunk.to_vec())).build();
        let mut pages = aws.secrets.list_secrets().filters(filter).max_results(PAGE_SIZE).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk("secretsmanager ListSecrets", e))?;
            listed.extend(page.secret_list().iter().filter_map(SecretInfo::from_entry));
        }
    }
    let mut found = HashMap::new();
    for id in ids {
        if found.contains_key(id) {
            continue;
        }
        let info = match listed.iter().find(|s| s.is(id)) {
            Some(s) => Some(s.clone()),
            None => describe(aws, id).await?,
        };
        if let Some(info) = info {
            found.insert(id.clone(), info);
        }
    }
    Ok(found)
}

/// One secret by ARN or name, from DescribeSecret (which is read-after-write consistent);
/// `None` when it does not exist or is scheduled for deletion.
pub(crate) async fn describe(aws: &Clients, id: &str) -> Result<Option<SecretInfo>, ProviderError> {
    match aws.secrets.describe_secret().secret_id(id).send().await {
        Ok(out) => Ok(SecretInfo::from_describe(&out)),
        Err(e) => match sdk("secretsmanager DescribeSecret", e) {
            e if e.kind == ErrorKind::NotFound => Ok(None),
            e => Err(e),
        },
    }
}

/// Maps the SDK error of a call that carried a secret value (PutSecretValue).
///
/// The message is built from the error's code and message fields only: never from the SDK's
/// display of the whole error, whose sources describe the request and the connection. AWS does
/// not echo `SecretString` (it is a sensitive member of its API model), but should a message
/// ever contain the value, it is blanked out.
pub(crate) fn sensitive_sdk<E, R>(operation: &str, err: SdkError<E, R>, secret: &str) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let mut out = if err.code().is_some() {
        sdk(operation, err)
    } else {
        let what = match &err {
            SdkError::ConstructionFailure(_) => "the request could not be built",
            SdkError::TimeoutError(_) => "the request timed out",
            SdkError::DispatchFailure(_) => "the request could not be sent (connection failed)",
            SdkError::ResponseError(_) => "the answer could not be read",
            SdkError::ServiceError(_) => "AWS refused the request without an error code",
            _ => "the call failed",
        };
        ProviderError::api(format!("{operation}: {what}"))
    };
    // The SDK error's own display describes the request; it goes, whatever the message says.
    out.source = None;
    if !secret.is_empty() {
        out = out.map_message(|m| m.replace(secret, "(sensitive)"));
    }
    out
}

/// AWS's limit on a secret value (`SecretStringType` in the API model, and the "Secret value
/// size" quota): 65,536 bytes.
const MAX_VALUE_BYTES: usize = 65_536;

/// Reads a secret value like any `Val<String>`, but with an error that cannot quote the value:
/// serde's own messages quote what they got ("invalid type: integer `12345`"), and a bad
/// `${` in a value would be quoted by the template parser.
pub(crate) fn secret_value<'de, D: Deserializer<'de>>(d: D) -> Result<Val<String>, D::Error> {
    Val::<String>::deserialize(d)
        .map_err(|_| D::Error::custom("expected a string or a `${...}` reference (what was given is not shown: the attribute is secret)"))
}

/// [`secret_value`] for an attribute that may be left out.
pub(crate) fn optional_secret_value<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Val<String>>, D::Error> {
    secret_value(d).map(Some)
}

/// Checks a literal secret value against what AWS takes, without quoting it.
pub(crate) fn check_value(value: &Val<String>, errors: &mut Vec<FieldError>) {
    if let Some(value) = value.literal() {
        if value.is_empty() {
            errors.push(FieldError::new("secret_string", "is empty; AWS needs at least one character"));
        } else if value.len() > MAX_VALUE_BYTES {
            errors.push(FieldError::new("secret_string", format!("is longer than the {MAX_VALUE_BYTES} bytes AWS takes")));
        }
    }
}

/// Whether `text` is the digest core keeps in state and plans in place of a sensitive value
/// (`sha256:` and 64 hex digits; see `clawform_core::plan::sensitive_digest`).
pub(crate) fn is_digest(text: &str) -> bool {
    text.len() == 71 && text.starts_with("sha256:") && text[7..].bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_inside_arns() {
        assert_eq!(name_of("arn:aws:secretsmanager:us-west-2:123456789012:secret:tenant/a-1-AbCdEf"), "tenant/a-1");
        assert_eq!(name_of("arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:x-AbCdEf"), "x");
        assert_eq!(name_of("tenant-1"), "tenant-1");
        assert_eq!(name_of("arn:aws:secretsmanager:us-west-2:123456789012:secret:short"), "short");
    }

    #[test]
    fn sensitive_errors_blank_the_value_and_skip_the_sdk_display() {
        use aws_sdk_secretsmanager::operation::put_secret_value::PutSecretValueError;
        use aws_smithy_types::error::ErrorMetadata;
        let echoed = PutSecretValueError::generic(ErrorMetadata::builder().code("ValidationException").message("bad value hunter2 given").build());
        let err = sensitive_sdk("secretsmanager PutSecretValue", SdkError::<_, ()>::service_error(echoed, ()), "hunter2");
        assert_eq!(err.message, "secretsmanager PutSecretValue: ValidationException: bad value (sensitive) given");
        let err = sensitive_sdk("secretsmanager PutSecretValue", SdkError::<PutSecretValueError, ()>::timeout_error("request body: hunter2"), "hunter2");
        assert_eq!(err.message, "secretsmanager PutSecretValue: the request timed out");
    }

    #[test]
    fn digests_are_recognised() {
        assert!(is_digest(&format!("sha256:{}", "ab".repeat(32))));
        assert!(!is_digest(&format!("sha256:{}", "zz".repeat(32))));
        assert!(!is_digest("sha256:abc"));
        assert!(!is_digest("hunter2"));
    }
}

tags::optional_tag_pair!(Tag);

/// Secrets Manager's tagging: TagResource and UntagResource by secret id.
pub(crate) struct SecretsTags;

#[async_trait::async_trait]
impl tags::TagApi for SecretsTags {
    type Tag = Tag;

    fn make(key: String, value: String) -> Result<Tag, ProviderError> {
        Ok(Tag::builder().key(key).value(value).build())
    }

    async fn tag(aws: &Clients, target: &str, tags: Vec<Tag>) -> Result<(), ProviderError> {
        aws.secrets.tag_resource().secret_id(target).set_tags(Some(tags)).send().await.map_err(|e| sdk("secretsmanager TagResource", e))?;
        Ok(())
    }

    async fn untag(aws: &Clients, target: &str, keys: Vec<String>) -> Result<(), ProviderError> {
        aws.secrets.untag_resource().secret_id(target).set_tag_keys(Some(keys)).send().await.map_err(|e| sdk("secretsmanager UntagResource", e))?;
        Ok(())
    }
}
