//! ECR resource types and the helpers they share.

pub mod lifecycle_policy;
pub mod repository;

use aws_sdk_ecr::types::Tag;
use clawform_core::{FieldError, ProviderError, Val};

use crate::handler::Register;

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

/// Key and value pairs as ECR tags.
pub(crate) fn ecr_tags(pairs: Vec<(String, String)>) -> Result<Vec<Tag>, ProviderError> {
    pairs.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(|e| ProviderError::invalid(format!("ecr tag: {e}")))).collect()
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
