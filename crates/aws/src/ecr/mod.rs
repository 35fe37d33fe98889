//! ECR resource types and the helpers they share.

pub mod lifecycle_policy;
pub mod repository;

use aws_sdk_ecr::types::Tag;
use clawform_core::{FieldError, ProviderError, Val};

use crate::clients::Clients;
use crate::error::sdk;
use crate::handler::Register;
use crate::support::tags;

/// The ECR resource types.
pub(crate) fn types(f: &mut dyn FnMut(Register)) {
    f(Register::of::<repository::EcrRepository>());
    f(Register::of::<lifecycle_policy::EcrLifecyclePolicy>());
}

/// Checks a repository name: 2 to 256 characters, `/`-separated parts of lower-case letters and
/// digits joined by single `.`, `_` or `-` (AWS's
/// `(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*`).
pub(crate) fn check_repository_name(path: &str, value: &Val<String>, out: &mut Vec<FieldError>) {
    let Some(name) = value.literal() else { return };
    let len = name.chars().count();
    if !(2..=256).contains(&len) {
        out.push(FieldError::new(path, format!("has {len} characters; expected 2 to 256")));
    }
    let part_ok = |part: &str| {
        !part.is_empty() && part.split(['.', '_', '-']).all(|word| !word.is_empty() && word.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
    };
    if !name.split('/').all(part_ok) {
        out.push(FieldError::new(
            path,
            format!(
                "`{name}` is not a repository name; expected lower-case letters and digits, parts joined by one `.`, `_` or `-`, namespaces separated by `/`"
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names() {
        let check = |name: &str| {
            let mut errors = Vec::new();
            check_repository_name("name", &Val::Lit(name.to_string()), &mut errors);
            errors.len()
        };
        assert_eq!(check("openclaw/gateway"), 0);
        assert_eq!(check("a.b_c-d/e1"), 0);
        assert_eq!(check("Upper"), 1);
        assert_eq!(check("a--b"), 1);
        assert_eq!(check("a//b"), 1);
        assert_eq!(check("/a"), 1);
        assert_eq!(check("a"), 1);
    }
}

tags::required_tag_pair!(Tag);

/// ECR's tagging: TagResource and UntagResource by repository ARN.
pub(crate) struct EcrTags;

#[async_trait::async_trait]
impl tags::TagApi for EcrTags {
    type Tag = Tag;

    fn make(key: String, value: String) -> Result<Tag, ProviderError> {
        Tag::builder().key(key).value(value).build().map_err(|e| ProviderError::invalid(format!("ecr tag: {e}")))
    }

    async fn tag(aws: &Clients, target: &str, tags: Vec<Tag>) -> Result<(), ProviderError> {
        aws.ecr.tag_resource().resource_arn(target).set_tags(Some(tags)).send().await.map_err(|e| sdk("ecr TagResource", e))?;
        Ok(())
    }

    async fn untag(aws: &Clients, target: &str, keys: Vec<String>) -> Result<(), ProviderError> {
        aws.ecr.untag_resource().resource_arn(target).set_tag_keys(Some(keys)).send().await.map_err(|e| sdk("ecr UntagResource", e))?;
        Ok(())
    }
}
