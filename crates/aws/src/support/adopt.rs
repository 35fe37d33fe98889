//! Taking over a resource an interrupted run created but never recorded.

use clawform_core::{Applied, OpContext, ProviderError};

use crate::clients::Clients;
use crate::handler::{decode, AwsResource};

/// Adopts resource `id`, which a crashed run created for `desired`: reads it as it is and
/// updates it in place to what is desired.
pub(crate) async fn adopt<R: AwsResource>(desired: &R, aws: &Clients, ctx: &OpContext, id: &str) -> Result<Applied, ProviderError> {
    let live = R::read(aws, &[id.to_string()])
        .await?
        .pop()
        .flatten()
        .ok_or_else(|| ProviderError::not_found(format!("{}: {id} vanished while being adopted", R::TYPE)))?;
    desired.update(aws, ctx, id, &decode::<R>(&live)?).await
}
