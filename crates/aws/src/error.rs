//! Turning SDK errors into provider errors with the service, operation, code, message, request
//! id and whether trying again may help.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_types::request_id::RequestId;
use clawform_core::ProviderError;

/// Error codes AWS answers when a caller goes faster than its token bucket allows, across the
/// services we call (the SDK's own list, `aws-runtime`'s `THROTTLING_ERRORS`, plus EC2's and
/// Auto Scaling's spellings).
pub(crate) const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// Error codes of faults on AWS's side that a later try may not meet (the SDK's
/// `TRANSIENT_ERRORS`).
pub(crate) const TRANSIENT_CODES: &[&str] =
    &["RequestTimeout", "RequestTimeoutException", "InternalError", "InternalFailure", "ServiceUnavailable", "ServiceUnavailableException", "ServerException"];

/// Maps an SDK error of `operation` (such as `ec2 CreateVpc`) to a provider error carrying AWS's
/// code, the request id and the SDK error itself; codes that say the resource is gone become
/// [`clawform_core::ErrorKind::NotFound`].
pub(crate) fn sdk<E, R>(operation: &str, err: SdkError<E, R>) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let code = err.code().map(str::to_string);
    let request_id = err.meta().request_id().map(str::to_string);
    let out = match &code {
        Some(code) => {
            let text = format!("{operation}: {code}: {}", err.message().unwrap_or_default());
            let out = if is_not_found(code) { ProviderError::not_found(text) } else { ProviderError::api(text) };
            out.with_code(code.clone()).with_retryable(is_retryable_code(code))
        }
        // No code: the request was not sent, timed out, or its answer could not be read; the
        // same request may well go through on another try.
        None => {
            let context = DisplayErrorContext(&err).to_string();
            if let Some(missing) = missing_configuration(&context) {
                return ProviderError::invalid(format!("{operation}: {missing}")).with_source(err);
            }
            let retryable = matches!(err, SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_));
            ProviderError::api(format!("{operation}: {context}")).with_retryable(retryable)
        }
    };
    out.with_request_id(request_id).with_source(err)
}

/// What the configuration chain lacks, said in words (the SDK's own errors are type dumps).
pub const NO_REGION: &str = "no AWS region is configured: pass --region REGION, set AWS_REGION, or set `region` in the profile (~/.aws/config)";

/// What the AWS configuration lacks, in words, when an error without an AWS code comes from
/// there: the SDK reports missing credentials as a nested chain of type names.
fn missing_configuration(context: &str) -> Option<&'static str> {
    let lower = context.to_ascii_lowercase();
    if lower.contains("no credentials")
        || lower.contains("credentialsnotloaded")
        || lower.contains("the credential provider was not enabled")
        || lower.contains("failed to load credentials")
        || lower.contains("identity resolver") && lower.contains("credentials")
    {
        return Some(
            "no AWS credentials were found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, name a profile with --profile (or AWS_PROFILE) from ~/.aws/credentials or ~/.aws/config, run `aws sso login` for an SSO profile, or run where an instance or task role gives them",
        );
    }
    if lower.contains("no region") || lower.contains("a region must be set") {
        return Some(NO_REGION);
    }
    None
}

/// Whether an AWS error code says the same call may succeed later.
pub(crate) fn is_retryable_code(code: &str) -> bool {
    THROTTLING_CODES.contains(&code) || TRANSIENT_CODES.contains(&code)
}

fn is_not_found(code: &str) -> bool {
    code.ends_with(".NotFound") || code.ends_with("NotFound") || code == "ResourceNotFoundException" || code.ends_with("NotFoundException")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::operation::create_vpc::CreateVpcError;
    use aws_smithy_types::error::ErrorMetadata;
    use clawform_core::ErrorKind;

    fn service_error(code: &str) -> SdkError<CreateVpcError, ()> {
        let meta = ErrorMetadata::builder().code(code).message("it said no").custom("aws_request_id", "req-1").build();
        SdkError::service_error(CreateVpcError::generic(meta), ())
    }

    #[test]
    fn errors_keep_the_code_request_id_retryability_and_source() {
        let err = sdk("ec2 CreateVpc", service_error("RequestLimitExceeded"));
        assert_eq!(err.message, "ec2 CreateVpc: RequestLimitExceeded: it said no");
        assert_eq!((err.code.as_deref(), err.retryable, err.request_id.as_deref()), (Some("RequestLimitExceeded"), true, Some("req-1")));
        assert!(std::error::Error::source(&err).is_some(), "the SDK error stays reachable");
        let err = sdk("ec2 CreateVpc", service_error("InvalidVpcID.NotFound"));
        assert_eq!((err.kind, err.retryable), (ErrorKind::NotFound, false));
        assert!(err.has_code("InvalidVpcID.NotFound") && !err.has_code("NotFound"));
        let err = sdk("ec2 CreateVpc", SdkError::<CreateVpcError, ()>::timeout_error("slow"));
        assert!(err.retryable && err.code.is_none(), "{err:?}");
    }
}
