//! Turning SDK errors into provider errors with the service, operation, code and message.

use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use clawform_core::ProviderError;

/// Maps an SDK error of `operation` (such as `ec2 CreateVpc`) to a provider error; codes that
/// say the resource is gone become [`clawform_core::ErrorKind::NotFound`].
pub(crate) fn sdk<E>(operation: &str, err: E) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let code = err.code().map(str::to_string);
    let message = err.message().map(str::to_string);
    match code {
        Some(code) => {
            let text = format!("{operation}: {code}: {}", message.unwrap_or_default());
            if is_not_found(&code) {
                ProviderError::not_found(text)
            } else {
                ProviderError::api(text)
            }
        }
        None => ProviderError::api(format!("{operation}: {}", DisplayErrorContext(&err))),
    }
}

/// Whether a provider error made by [`sdk`] carries the AWS error `code` (its message reads
/// `OPERATION: CODE: MESSAGE`).
pub(crate) fn has_code(err: &ProviderError, code: &str) -> bool {
    err.message.split(": ").nth(1) == Some(code)
}

fn is_not_found(code: &str) -> bool {
    code.ends_with(".NotFound") || code.ends_with("NotFound") || code == "ResourceNotFoundException" || code.ends_with("NotFoundException")
}
