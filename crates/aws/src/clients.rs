//! One SDK client per service, built once from one `SdkConfig`.

use aws_config::{BehaviorVersion, Region};

/// The AWS clients clawform uses, and the region they talk to.
#[derive(Clone, Debug)]
pub struct Clients {
    /// EC2: VPCs, subnets, gateways, route tables, security groups.
    pub ec2: aws_sdk_ec2::Client,
    /// The region, for ARNs the APIs do not return.
    pub region: String,
}

impl Clients {
    /// Loads the standard configuration chain; `region` overrides it. The SDK's standard retry
    /// mode (with backoff and jitter) handles throttling and 5xx answers.
    pub async fn from_env(region: Option<String>) -> Clients {
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(8));
        if let Some(r) = region {
            loader = loader.region(Region::new(r));
        }
        let config = loader.load().await;
        Clients::from_config(&config)
    }

    /// Clients over an already loaded configuration.
    pub fn from_config(config: &aws_config::SdkConfig) -> Clients {
        Clients {
            ec2: aws_sdk_ec2::Client::new(config),
            region: config.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into()),
        }
    }
}
