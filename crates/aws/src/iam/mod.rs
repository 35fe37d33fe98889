//! IAM resource types and what they share: IAM's own "gone" code, policy documents (JSON strings
//! that IAM hands back URL-encoded and that are compared by meaning, not by text), names and tags.

pub mod instance_profile;
pub mod role;
pub mod role_policy;
pub mod role_policy_attachment;

use aws_sdk_iam::types::Tag;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use clawform_core::{ErrorKind, FieldError, ProviderError, Val};
use serde_json::Value as Json;

use crate::clients::Clients;
use crate::error::sdk;
use crate::handler::Register;
use crate::support::tags;
pub(crate) use crate::support::{canonical_json, check_tag_count, gone_is_none, same_json};

/// The IAM resource types.
pub(crate) fn types(f: &mut dyn FnMut(Register)) {
    f(Register::of::<role::IamRole>());
    f(Register::of::<role_policy::IamRolePolicy>());
    f(Register::of::<role_policy_attachment::IamRolePolicyAttachment>());
    f(Register::of::<instance_profile::IamInstanceProfile>());
}

/// Maps an IAM SDK error like [`sdk`] does, and also IAM's `NoSuchEntity` (its one code for "that
/// role, policy or profile does not exist") to NotFound, which the shared mapping does not know.
pub(crate) fn iam_err<E, R>(operation: &str, err: SdkError<E, R>) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let mut err = sdk(operation, err);
    if err.has_code("NoSuchEntity") {
        err.kind = ErrorKind::NotFound;
    }
    err
}

/// Checks an IAM name (role, inline policy, instance profile): 1 to `max` characters of letters,
/// digits and `+=,.@_-` (IAM's `[\w+=,.@-]+`).
pub(crate) fn check_name(path: &str, value: &Val<String>, max: usize, out: &mut Vec<FieldError>) {
    let Some(name) = value.literal() else { return };
    let len = name.chars().count();
    if len == 0 || len > max {
        out.push(FieldError::new(path, format!("has {len} characters; expected 1 to {max}")));
    }
    if let Some(bad) = name.chars().find(|c| !c.is_ascii_alphanumeric() && !"_+=,.@-".contains(*c)) {
        out.push(FieldError::new(path, format!("`{bad}` is not allowed in an IAM name; expected letters, digits and _+=,.@-")));
    }
}

/// Checks an IAM path: `/` alone, or `/`-delimited, starting and ending with `/`, up to 512
/// printable ASCII characters (AWS's `(\u002F)|(\u002F[\u0021-\u007E]+\u002F)`).
pub(crate) fn check_path(path: &str, value: &Val<String>, out: &mut Vec<FieldError>) {
    let Some(text) = value.literal() else { return };
    let ok = text.len() <= 512 && text.starts_with('/') && text.ends_with('/') && text.chars().all(|c| ('\u{21}'..='\u{7e}').contains(&c));
    if !ok {
        out.push(FieldError::new(path, format!("`{text}` is not an IAM path; expected `/` or something like `/service/`, up to 512 characters")));
    }
}

/// Checks a policy document: a JSON object with a `Statement`, no longer than `max` characters
/// once whitespace is left out (IAM counts policy size that way: "IAM and AWS STS quotas").
pub(crate) fn check_policy(path: &str, value: &Val<String>, max: usize, out: &mut Vec<FieldError>) {
    let Some(text) = value.literal() else { return };
    match serde_json::from_str::<Json>(text) {
        Err(e) => out.push(FieldError::new(
            path,
            format!("is not valid JSON ({e}); expected a policy document such as {{\"Version\": \"2012-10-17\", \"Statement\": [...]}}"),
        )),
        Ok(Json::Object(doc)) if doc.contains_key("Statement") => {}
        Ok(_) => out.push(FieldError::new(path, "has no `Statement`; expected a policy document such as {\"Version\": \"2012-10-17\", \"Statement\": [...]}")),
    }
    let size = text.chars().filter(|c| !c.is_whitespace()).count();
    if size > max {
        out.push(FieldError::new(path, format!("has {size} characters without whitespace; IAM allows at most {max}")));
    }
}

/// A policy document as IAM returns it (URL-encoded, RFC 3986, in GetRole and GetRolePolicy) in
/// canonical form. A document that already parses as JSON is taken as it is.
pub(crate) fn policy_from_aws(raw: &str) -> String {
    if serde_json::from_str::<Json>(raw).is_ok() {
        return canonical_json(raw);
    }
    canonical_json(&percent_decode(raw))
}

/// Decodes `%XX` escapes; text that does not decode to UTF-8 is returned as it is.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(hi * 16 + lo);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_string())
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_ignores_whitespace_and_key_order() {
        let a = r#"{ "Version": "2012-10-17", "Statement": [ { "Effect": "Allow", "Action": "s3:*" } ] }"#;
        let b = "{\"Statement\":[{\"Action\":\"s3:*\",\n\"Effect\":\"Allow\"}],\"Version\":\"2012-10-17\"}";
        assert!(same_json(a, b));
        assert_eq!(canonical_json(a), r#"{"Statement":[{"Action":"s3:*","Effect":"Allow"}],"Version":"2012-10-17"}"#);
        // Array order is meaning (statements, rules), so it is kept.
        assert!(!same_json(r#"{"a":[1,2]}"#, r#"{"a":[2,1]}"#));
        assert_eq!(canonical_json("not json"), "not json");
    }

    #[test]
    fn policies_from_iam_are_url_decoded() {
        let encoded = "%7B%22Version%22%3A%20%222012-10-17%22%2C%20%22Statement%22%3A%20%5B%5D%7D";
        assert_eq!(policy_from_aws(encoded), r#"{"Statement":[],"Version":"2012-10-17"}"#);
        // Already plain JSON (some emulators do not encode), even with a `%` inside.
        assert_eq!(policy_from_aws(r#"{"Sid": "100%25"}"#), r#"{"Sid":"100%25"}"#);
        assert_eq!(percent_decode("50%"), "50%");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }

    #[test]
    fn names_and_policies_are_checked() {
        let mut errors = Vec::new();
        check_name("name", &Val::Lit("ecs-task_role+=,.@".into()), 64, &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        check_name("name", &Val::Lit("a".repeat(65)), 64, &mut errors);
        check_name("name", &Val::Lit("has space".into()), 64, &mut errors);
        assert_eq!(errors.len(), 2);

        let mut errors = Vec::new();
        check_policy("p", &Val::Lit(r#"{"Version":"2012-10-17","Statement":[]}"#.into()), 2048, &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        check_policy("p", &Val::Lit("{".into()), 2048, &mut errors);
        check_policy("p", &Val::Lit(r#"{"Version":"2012-10-17"}"#.into()), 2048, &mut errors);
        check_policy("p", &Val::Lit(format!(r#"{{"Statement":"{}"}}"#, "x".repeat(30))), 20, &mut errors);
        assert_eq!(errors.len(), 3, "{errors:?}");
    }
}

tags::required_tag_pair!(Tag);

fn iam_tag(key: String, value: String) -> Result<Tag, ProviderError> {
    Tag::builder().key(key).value(value).build().map_err(|e| ProviderError::invalid(format!("iam tag: {e}")))
}

/// IAM's tagging of roles: TagRole and UntagRole by role name.
pub(crate) struct IamRoleTags;

#[async_trait::async_trait]
impl tags::TagApi for IamRoleTags {
    type Tag = Tag;

    fn make(key: String, value: String) -> Result<Tag, ProviderError> {
        iam_tag(key, value)
    }

    async fn tag(aws: &Clients, target: &str, tags: Vec<Tag>) -> Result<(), ProviderError> {
        aws.iam.tag_role().role_name(target).set_tags(Some(tags)).send().await.map_err(|e| iam_err("iam TagRole", e))?;
        Ok(())
    }

    async fn untag(aws: &Clients, target: &str, keys: Vec<String>) -> Result<(), ProviderError> {
        aws.iam.untag_role().role_name(target).set_tag_keys(Some(keys)).send().await.map_err(|e| iam_err("iam UntagRole", e))?;
        Ok(())
    }
}

/// IAM's tagging of instance profiles: TagInstanceProfile and UntagInstanceProfile by name.
pub(crate) struct IamInstanceProfileTags;

#[async_trait::async_trait]
impl tags::TagApi for IamInstanceProfileTags {
    type Tag = Tag;

    fn make(key: String, value: String) -> Result<Tag, ProviderError> {
        iam_tag(key, value)
    }

    async fn tag(aws: &Clients, target: &str, tags: Vec<Tag>) -> Result<(), ProviderError> {
        aws.iam.tag_instance_profile().instance_profile_name(target).set_tags(Some(tags)).send().await.map_err(|e| iam_err("iam TagInstanceProfile", e))?;
        Ok(())
    }

    async fn untag(aws: &Clients, target: &str, keys: Vec<String>) -> Result<(), ProviderError> {
        aws.iam
            .untag_instance_profile()
            .instance_profile_name(target)
            .set_tag_keys(Some(keys))
            .send()
            .await
            .map_err(|e| iam_err("iam UntagInstanceProfile", e))?;
        Ok(())
    }
}
