//! CloudWatch Logs resource types.

pub mod log_group;

use clawform_core::ProviderError;

use crate::clients::Clients;
use crate::error::sdk;
use crate::handler::Register;
use crate::support::tags;

/// The CloudWatch Logs resource types.
pub(crate) fn types(f: &mut dyn FnMut(Register)) {
    f(Register::of::<log_group::CloudwatchLogGroup>());
}

/// CloudWatch Logs' tagging: TagResource and UntagResource by log group ARN.
pub(crate) struct LogsTags;

#[async_trait::async_trait]
impl tags::TagApi for LogsTags {
    type Tag = (String, String);

    fn make(key: String, value: String) -> Result<(String, String), ProviderError> {
        Ok((key, value))
    }

    async fn tag(aws: &Clients, target: &str, tags: Vec<(String, String)>) -> Result<(), ProviderError> {
        aws.logs.tag_resource().resource_arn(target).set_tags(Some(tags.into_iter().collect())).send().await.map_err(|e| sdk("logs TagResource", e))?;
        Ok(())
    }

    async fn untag(aws: &Clients, target: &str, keys: Vec<String>) -> Result<(), ProviderError> {
        aws.logs.untag_resource().resource_arn(target).set_tag_keys(Some(keys)).send().await.map_err(|e| sdk("logs UntagResource", e))?;
        Ok(())
    }
}
