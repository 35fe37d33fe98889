//! AWS's request throttling: token buckets per operation class, as the services document them.
//!
//! Each account has, per region, a bucket of `size` tokens for an operation (or a class of them);
//! a request takes one token, an empty bucket refuses the request, and the bucket refills at
//! `refill_per_second` up to its size. A burst of `size` calls passes at once; beyond it calls
//! pass only at the refill rate, which puts a floor under the time many calls take
//! ([`BucketSpec::floor`]).
//!
//! The time scale speeds refill up (×1/scale) and leaves the size alone: a burst is a count of
//! calls, not a duration, and a scaled test should meet the same bursts as AWS.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// One throttling class: which bucket an operation draws from, and its figures at scale 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketSpec {
    /// `ecs-task-definition-modify`.
    pub class: &'static str,
    /// Tokens when full: the burst.
    pub size: u32,
    /// Tokens added per second (the sustained rate) at scale 1.
    pub refill_per_second: f64,
    /// One bucket for each operation of the class (EC2 and ECS evaluate each API on its own)
    /// rather than one the class shares.
    pub per_operation: bool,
    /// Where the figures come from.
    pub source: &'static str,
}

const ECS: &str = "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/request-throttling.html";
const EC2: &str = "https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html";
const ELB: &str = "https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-api-throttling.html";

/// The buckets, most specific first. Figures are those of /work/shared/aws-behaviours.md, checked
/// against the pages where their text was readable: ECS RegisterTaskDefinition 20/1 (also the
/// figure AWS gave in aws-actions/amazon-ecs-deploy-task-definition#502), ECS cluster reads 50
/// (page's example), EC2 non-mutating 100/20 (page's example), ELB non-mutating 40/10 (page's
/// example). The rest are approximations: the pages' tables were not readable here.
pub const BUCKETS: &[BucketSpec] = &[
    BucketSpec { class: "ecs-task-definition-modify", size: 20, refill_per_second: 1.0, per_operation: true, source: ECS },
    BucketSpec { class: "ecs-service-modify", size: 50, refill_per_second: 5.0, per_operation: true, source: ECS },
    BucketSpec { class: "ecs-read", size: 50, refill_per_second: 20.0, per_operation: true, source: ECS },
    BucketSpec { class: "ecs-modify", size: 50, refill_per_second: 5.0, per_operation: true, source: "approximation: as ECS service modify" },
    BucketSpec { class: "ec2-non-mutating", size: 100, refill_per_second: 20.0, per_operation: true, source: EC2 },
    BucketSpec { class: "ec2-mutating", size: 50, refill_per_second: 5.0, per_operation: true, source: EC2 },
    BucketSpec { class: "elbv2-describe", size: 40, refill_per_second: 10.0, per_operation: false, source: ELB },
    BucketSpec { class: "elbv2-mutating", size: 20, refill_per_second: 5.0, per_operation: false, source: "approximation: ELB mutating table not read" },
    BucketSpec { class: "generic", size: 100, refill_per_second: 20.0, per_operation: false, source: "approximation: a generous bucket per service" },
];

fn spec(class: &str) -> &'static BucketSpec {
    BUCKETS.iter().find(|b| b.class == class).expect("a bucket of that class")
}

/// The bucket an operation (`ecs RegisterTaskDefinition`) draws from; `None` for what AWS does
/// not throttle this way (S3, moto's own API).
pub fn bucket_for(operation: &str) -> Option<&'static BucketSpec> {
    let (service, action) = operation.split_once(' ').unwrap_or((operation, ""));
    let reads = action.starts_with("Describe") || action.starts_with("List") || action.starts_with("Get");
    let class = match service {
        "ecs" => match action {
            "RegisterTaskDefinition" | "DeregisterTaskDefinition" | "DeleteTaskDefinitions" => "ecs-task-definition-modify",
            "CreateService" | "UpdateService" | "DeleteService" => "ecs-service-modify",
            _ if reads => "ecs-read",
            _ => "ecs-modify",
        },
        "ec2" if reads => "ec2-non-mutating",
        "ec2" => "ec2-mutating",
        "elasticloadbalancing" if reads => "elbv2-describe",
        "elasticloadbalancing" => "elbv2-mutating",
        "iam" | "autoscaling" | "logs" | "secretsmanager" | "ecr" | "sts" | "tagging" => "generic",
        _ => return None,
    };
    Some(spec(class))
}

/// The least wall time `calls` calls of `operation` take under its bucket at `scale`, starting
/// from a full bucket: the burst passes at once, the rest at the refill rate. Zero for an
/// operation with no bucket.
pub fn throttle_floor(operation: &str, calls: u64, scale: f64) -> Duration {
    bucket_for(operation).map_or(Duration::ZERO, |b| b.floor(calls, scale))
}

impl BucketSpec {
    /// `(calls - size) / refill`, with refill sped up by 1/scale.
    pub fn floor(&self, calls: u64, scale: f64) -> Duration {
        let beyond = calls.saturating_sub(u64::from(self.size)) as f64;
        Duration::from_secs_f64(beyond / self.refill(scale))
    }

    fn refill(&self, scale: f64) -> f64 {
        self.refill_per_second / scale.max(f64::MIN_POSITIVE)
    }
}

/// One bucket's tokens.
#[derive(Debug, Clone)]
pub(super) struct TokenBucket {
    tokens: f64,
    size: f64,
    refill: f64,
    last: Instant,
}

impl TokenBucket {
    pub(super) fn full(spec: &BucketSpec, scale: f64, now: Instant) -> TokenBucket {
        TokenBucket { tokens: f64::from(spec.size), size: f64::from(spec.size), refill: spec.refill(scale), last: now }
    }

    /// Takes a token if there is one. A refused request takes none (AWS counts only what it
    /// serves against the sustained rate).
    pub(super) fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.refill).min(self.size);
        self.last = now.max(self.last);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Every bucket the requests so far have touched, by key.
pub(super) struct Buckets {
    scale: f64,
    buckets: HashMap<String, TokenBucket>,
}

impl Buckets {
    pub(super) fn new(scale: f64) -> Buckets {
        Buckets { scale, buckets: HashMap::new() }
    }

    /// `Ok` when the operation may go on; `Err(bucket key)` when its bucket is empty. The key is
    /// the operation for a per-operation bucket (`ec2 DescribeVpcs`), else the service and class
    /// (`elasticloadbalancing elbv2-describe`).
    pub(super) fn take(&mut self, operation: &str, now: Instant) -> Result<(), String> {
        let Some(spec) = bucket_for(operation) else { return Ok(()) };
        let key = if spec.per_operation { operation.to_string() } else { format!("{} {}", operation.split(' ').next().unwrap_or(""), spec.class) };
        let scale = self.scale;
        let bucket = self.buckets.entry(key.clone()).or_insert_with(|| TokenBucket::full(spec, scale, now));
        if bucket.take(now) {
            Ok(())
        } else {
            Err(key)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_refill_rate() {
        let spec = bucket_for("ecs RegisterTaskDefinition").unwrap();
        assert_eq!((spec.size, spec.refill_per_second), (20, 1.0));
        let t0 = Instant::now();
        let mut bucket = TokenBucket::full(spec, 1.0, t0);
        assert!((0..20).all(|_| bucket.take(t0)), "the burst of 20 passes");
        assert!(!bucket.take(t0), "the 21st is throttled");
        assert!(!bucket.take(t0 + Duration::from_millis(900)), "less than one token after 0.9 s");
        assert!(bucket.take(t0 + Duration::from_millis(1000)), "one token after 1 s (the refused call took none)");
        assert!(!bucket.take(t0 + Duration::from_millis(1000)));
        // A long idle refills to the size, never beyond.
        let later = t0 + Duration::from_secs(3600);
        assert_eq!((0..25).filter(|_| bucket.take(later)).count(), 20);
    }

    #[test]
    fn the_scale_speeds_refill_and_keeps_the_size() {
        let spec = bucket_for("ecs RegisterTaskDefinition").unwrap();
        let t0 = Instant::now();
        let mut bucket = TokenBucket::full(spec, 0.01, t0);
        assert_eq!((0..30).filter(|_| bucket.take(t0)).count(), 20);
        assert!(bucket.take(t0 + Duration::from_millis(10)), "100 tokens a second at scale 0.01");
    }

    #[test]
    fn the_floor_is_the_calls_beyond_the_burst_over_the_refill() {
        assert_eq!(throttle_floor("ecs RegisterTaskDefinition", 500, 1.0), Duration::from_secs(480));
        assert_eq!(throttle_floor("ecs RegisterTaskDefinition", 500, 0.01), Duration::from_secs_f64(4.8));
        assert_eq!(throttle_floor("ecs RegisterTaskDefinition", 20, 1.0), Duration::ZERO);
        assert_eq!(throttle_floor("ecs CreateService", 550, 1.0), Duration::from_secs(100));
        assert_eq!(throttle_floor("ec2 CreateVpc", 150, 1.0), Duration::from_secs(20));
        assert_eq!(throttle_floor("s3 PUT /bucket/key", 10_000, 1.0), Duration::ZERO);
    }

    #[test]
    fn operations_fall_in_their_classes_and_keys() {
        let class = |op: &str| bucket_for(op).map(|b| b.class);
        assert_eq!(class("ecs DescribeClusters"), Some("ecs-read"));
        assert_eq!(class("ecs PutClusterCapacityProviders"), Some("ecs-modify"));
        assert_eq!(class("ec2 DescribeVpcs"), Some("ec2-non-mutating"));
        assert_eq!(class("ec2 AuthorizeSecurityGroupIngress"), Some("ec2-mutating"));
        assert_eq!(class("elasticloadbalancing DescribeTargetGroups"), Some("elbv2-describe"));
        assert_eq!(class("iam CreateRole"), Some("generic"));
        let mut buckets = Buckets::new(1.0);
        let t0 = Instant::now();
        for _ in 0..40 {
            buckets.take("elasticloadbalancing DescribeLoadBalancers", t0).unwrap();
        }
        // ELB's describe bucket is shared by the class; EC2's are per operation.
        assert_eq!(buckets.take("elasticloadbalancing DescribeListeners", t0), Err("elasticloadbalancing elbv2-describe".into()));
        for _ in 0..100 {
            buckets.take("ec2 DescribeVpcs", t0).unwrap();
        }
        assert_eq!(buckets.take("ec2 DescribeVpcs", t0), Err("ec2 DescribeVpcs".into()));
        assert_eq!(buckets.take("ec2 DescribeSubnets", t0), Ok(()));
    }
}
