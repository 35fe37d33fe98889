//! One SDK client per service, built once from one `SdkConfig`.

use aws_config::{BehaviorVersion, Region};

/// The AWS clients clawform uses, and the region they talk to.
#[derive(Clone, Debug)]
pub struct Clients {
    /// EC2: VPCs, subnets, gateways, route tables, security groups, launch templates.
    pub ec2: aws_sdk_ec2::Client,
    /// IAM: roles, policies, instance profiles.
    pub iam: aws_sdk_iam::Client,
    /// ECR: image repositories.
    pub ecr: aws_sdk_ecr::Client,
    /// CloudWatch Logs: log groups.
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// ECS: clusters, capacity providers, task definitions, services.
    pub ecs: aws_sdk_ecs::Client,
    /// Elastic Load Balancing v2: load balancers, listeners, target groups, rules.
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    /// Auto Scaling: groups.
    pub autoscaling: aws_sdk_autoscaling::Client,
    /// Secrets Manager: tenant secrets.
    pub secrets: aws_sdk_secretsmanager::Client,
    /// Resource Groups Tagging: every resource carrying clawform's ownership tags, in few calls.
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    /// STS: the account the clients act for.
    pub sts: aws_sdk_sts::Client,
    /// The region, for ARNs the APIs do not return.
    pub region: String,
    account: std::sync::Arc<tokio::sync::OnceCell<String>>,
    /// Every API call made through these clients.
    pub stats: crate::stats::ApiStats,
}

/// Where the AWS configuration comes from, beyond the standard chain: what `--region`,
/// `--profile` and `--endpoint-url` override.
#[derive(Clone, Debug, Default)]
pub struct AwsSettings {
    /// The region (else `AWS_REGION`, then the profile's).
    pub region: Option<String>,
    /// The named profile of `~/.aws/config` (else `AWS_PROFILE`, then `default`).
    pub profile: Option<String>,
    /// One endpoint for every service (else `AWS_ENDPOINT_URL`): a local emulator, a proxy.
    pub endpoint_url: Option<String>,
}

pub use crate::error::NO_REGION;

/// Attempts per request, as the Terraform AWS provider makes (its `max_retries` default of 25):
/// a fleet rollout meets AWS's throttling buckets for minutes on end (RegisterTaskDefinition
/// refills one token a second), and every tenant must get through.
pub const MAX_ATTEMPTS: u32 = 25;

/// The SDK's standard retry mode (exponential backoff with full jitter, up to 20 s between
/// attempts) at [`MAX_ATTEMPTS`].
pub fn retry_config() -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS)
}

/// The standard mode also keeps a client-side retry quota (500 tokens, 5 per throttled retry)
/// that stops retrying once spent: under sustained throttling a 500-tenant rollout spent it and
/// 469 tenants failed with "not enough retry quota", though AWS's own buckets kept refilling.
/// Throttling is AWS asking to slow down, which the backoff does; the quota only guards against
/// retry storms on an outage, which the bounded attempts guard against too. So clawform's
/// clients share one partition whose quota never runs dry.
fn retry_partition() -> aws_smithy_runtime::client::retries::RetryPartition {
    use aws_smithy_runtime::client::retries::{RetryPartition, TokenBucket};
    RetryPartition::custom("clawform").token_bucket(TokenBucket::unlimited()).build()
}

impl AwsSettings {
    /// The standard configuration chain with these settings over it, and [`retry_config`]. A
    /// chain with no region is an error naming the ways to set one. What the provider's clients
    /// and the S3 state backend are made from.
    pub async fn sdk_config(&self) -> Result<aws_config::SdkConfig, clawform_core::ProviderError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).retry_config(retry_config());
        if let Some(r) = &self.region {
            loader = loader.region(Region::new(r.clone()));
        }
        if let Some(p) = &self.profile {
            loader = loader.profile_name(p);
        }
        if let Some(url) = &self.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let config = loader.load().await;
        if config.region().is_none() {
            return Err(clawform_core::ProviderError::invalid(NO_REGION));
        }
        Ok(config)
    }
}

impl Clients {
    /// Loads the standard configuration chain with `settings` over it. A chain with no region is
    /// an error naming the ways to set one (no request is made to find out).
    pub async fn load(settings: &AwsSettings) -> Result<Clients, clawform_core::ProviderError> {
        Ok(Clients::from_config(&settings.sdk_config().await?))
    }

    /// Loads the standard configuration chain; `region` overrides it. The SDK's standard retry
    /// mode (with backoff and jitter) handles throttling and 5xx answers.
    pub async fn from_env(region: Option<String>) -> Clients {
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).retry_config(retry_config());
        if let Some(r) = region {
            loader = loader.region(Region::new(r));
        }
        let config = loader.load().await;
        Clients::from_config(&config)
    }

    /// Clients over an already loaded configuration, each counting its calls in `stats`, all
    /// retrying within [`retry_partition`].
    pub fn from_config(config: &aws_config::SdkConfig) -> Clients {
        let stats = crate::stats::ApiStats::default();
        let partition = retry_partition();
        macro_rules! client {
            ($sdk:ident) => {
                $sdk::Client::from_conf($sdk::config::Builder::from(config).interceptor(stats.clone()).retry_partition(partition.clone()).build())
            };
        }
        Clients {
            ec2: client!(aws_sdk_ec2),
            iam: client!(aws_sdk_iam),
            ecr: client!(aws_sdk_ecr),
            logs: client!(aws_sdk_cloudwatchlogs),
            ecs: client!(aws_sdk_ecs),
            elbv2: client!(aws_sdk_elasticloadbalancingv2),
            autoscaling: client!(aws_sdk_autoscaling),
            secrets: client!(aws_sdk_secretsmanager),
            sts: client!(aws_sdk_sts),
            tagging: client!(aws_sdk_resourcegroupstagging),
            region: config.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into()),
            account: Default::default(),
            stats,
        }
    }
}

impl Clients {
    /// The account id, for ARNs the APIs do not return; asked of STS once and kept.
    pub async fn account_id(&self) -> Result<String, clawform_core::ProviderError> {
        self.account
            .get_or_try_init(|| async {
                let out = self.sts.get_caller_identity().send().await.map_err(|e| crate::error::sdk("sts GetCallerIdentity", e))?;
                out.account().map(str::to_string).ok_or_else(|| clawform_core::ProviderError::api("sts GetCallerIdentity returned no account"))
            })
            .await
            .cloned()
    }
}
