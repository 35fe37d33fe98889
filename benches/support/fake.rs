//! A project "as if applied", without AWS: the base stack and N tenants planned and applied by
//! the real engine against a provider that answers every create with made-up ids and computed
//! attributes, into state kept in memory. Shared by `benches/plan.rs` (plans in process) and
//! `examples/fake_state.rs` (writes the states into a folder for the CLI).

#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;

use clawform::core::provider::{Applied, OpContext, Provider, ProviderError};
use clawform::core::Registry;
use clawform::tenants::BASE_STACK;
use clawform::{ApplyOptions, Tenants, Workspace};
use indexmap::IndexMap;
use serde_json::{json, Map, Value as Json};

/// Tenants per load balancer shard (the base stack's default).
pub const PER_SHARD: usize = 100;

/// The id of tenant number `i`.
pub fn tenant_id(i: usize) -> String {
    format!("bench{i:05}")
}

/// Answers creates and updates with fake ids and computed attributes; reads nothing.
pub struct FakeProvider {
    registry: Registry,
    next: AtomicU64,
}

impl Default for FakeProvider {
    fn default() -> FakeProvider {
        FakeProvider { registry: clawform::aws::registry(), next: AtomicU64::new(1) }
    }
}

impl FakeProvider {
    /// The id and computed attributes AWS would give, in AWS's shapes (checks read them).
    fn made_up(&self, ctx: &OpContext, type_name: &str, attributes: &Json) -> (String, Map<String, Json>) {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let hex = format!("{n:017x}");
        let name = attributes
            .get("name")
            .or_else(|| attributes.get("family"))
            .and_then(Json::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("{}-{}", ctx.stack, ctx.address.replace(['[', ']'], "")));
        let region = "arn:aws:{service}:us-west-2:123456789012";
        let arn = |service: &str, rest: String| format!("{}:{rest}", region.replace("{service}", service));
        let (id, arn) = match type_name {
            "aws_vpc" => (format!("vpc-{hex}"), None),
            "aws_subnet" => (format!("subnet-{hex}"), None),
            "aws_internet_gateway" => (format!("igw-{hex}"), None),
            "aws_route_table" => (format!("rtb-{hex}"), None),
            "aws_route_table_association" => (format!("rtbassoc-{hex}"), None),
            "aws_security_group" => (format!("sg-{hex}"), None),
            "aws_nat_gateway" => (format!("nat-{hex}"), None),
            "aws_eip" => (format!("eipalloc-{hex}"), None),
            "aws_launch_template" => (format!("lt-{hex}"), None),
            "aws_iam_role" => (name.clone(), Some(format!("arn:aws:iam::123456789012:role/{name}"))),
            "aws_iam_instance_profile" => (name.clone(), Some(format!("arn:aws:iam::123456789012:instance-profile/{name}"))),
            "aws_lb" => {
                let a = arn("elasticloadbalancing", format!("loadbalancer/app/{name}/{:016x}", n));
                (a.clone(), Some(a))
            }
            "aws_lb_listener" => {
                let a = arn("elasticloadbalancing", format!("listener/app/{}/{:016x}/{:016x}", ctx.stack, n, n));
                (a.clone(), Some(a))
            }
            "aws_lb_target_group" => {
                let a = arn("elasticloadbalancing", format!("targetgroup/{name}/{:016x}", n));
                (a.clone(), Some(a))
            }
            "aws_lb_listener_rule" => {
                let a = arn("elasticloadbalancing", format!("listener-rule/app/base/{:016x}/{:016x}/{:016x}", n, n, n));
                (a.clone(), Some(a))
            }
            "aws_ecs_cluster" => {
                let a = arn("ecs", format!("cluster/{name}"));
                (a.clone(), Some(a))
            }
            "aws_ecs_capacity_provider" => (name.clone(), Some(arn("ecs", format!("capacity-provider/{name}")))),
            "aws_ecs_task_definition" => {
                let a = arn("ecs", format!("task-definition/{name}:1"));
                (a.clone(), Some(a))
            }
            "aws_ecs_service" => {
                let cluster = attributes.get("cluster").and_then(Json::as_str).and_then(|c| c.rsplit('/').next()).unwrap_or("cluster").to_string();
                let a = arn("ecs", format!("service/{cluster}/{name}"));
                (a.clone(), Some(a))
            }
            "aws_secretsmanager_secret" => {
                let a = arn("secretsmanager", format!("secret:{name}-AbCdEf"));
                (a.clone(), Some(a))
            }
            "aws_secretsmanager_secret_version" => {
                let secret = attributes.get("secret_id").and_then(Json::as_str).unwrap_or_default().to_string();
                (format!("{secret}|{hex}"), Some(secret))
            }
            "aws_cloudwatch_log_group" => (name.clone(), Some(arn("logs", format!("log-group:{name}")))),
            "aws_ecr_repository" => (name.clone(), Some(arn("ecr", format!("repository/{name}")))),
            "aws_autoscaling_group" => (name.clone(), Some(arn("autoscaling", format!("autoScalingGroup:{hex}:autoScalingGroupName/{name}")))),
            _ => (format!("{}-{}-{hex}", ctx.stack, ctx.address), None),
        };
        let mut out = Map::new();
        let Some(kind) = self.registry.get(type_name) else { return (id, out) };
        for attribute in kind.computed() {
            let value = match *attribute {
                "id" => continue,
                "arn" => json!(arn.clone().unwrap_or_else(|| format!("arn:aws:fake:us-west-2:123456789012:{type_name}/{id}"))),
                "arn_without_revision" => json!(arn.as_deref().unwrap_or_default().trim_end_matches(":1")),
                "arn_suffix" => json!(arn.as_deref().and_then(|a| a.splitn(6, ':').nth(5)).unwrap_or_default().trim_start_matches("loadbalancer/")),
                "priority" => json!(n % 50_000 + 1),
                "revision" | "latest_version" => json!(1),
                "version_id" => json!(hex),
                "version_stages" => json!(["AWSCURRENT"]),
                "dns_name" => json!(format!("{name}-{n}.us-west-2.elb.amazonaws.com")),
                "zone_id" => json!("Z1H1FL5HABSF5"),
                "repository_url" => json!(format!("123456789012.dkr.ecr.us-west-2.amazonaws.com/{name}")),
                "public_ip" => json!("203.0.113.10"),
                "owner_id" | "registry_id" => json!("123456789012"),
                "availability_zone_id" => json!("usw2-az1"),
                "unique_id" => json!(format!("AROA{hex}")),
                "vpc_id" => attributes.get("vpc_id").cloned().unwrap_or_else(|| json!(format!("vpc-{hex}"))),
                other => json!(format!("{other}-{hex}")),
            };
            out.insert(attribute.to_string(), value);
        }
        (id, out)
    }
}

#[async_trait]
impl Provider for FakeProvider {
    async fn create(&self, ctx: &OpContext, type_name: &str, attributes: &Json) -> Result<Applied, ProviderError> {
        let (id, computed) = self.made_up(ctx, type_name, attributes);
        Ok(Applied { id, computed })
    }

    async fn update(&self, ctx: &OpContext, type_name: &str, id: &str, _prior: &Json, attributes: &Json) -> Result<Applied, ProviderError> {
        let (_, mut computed) = self.made_up(ctx, type_name, attributes);
        computed.remove("arn");
        Ok(Applied { id: id.to_string(), computed })
    }

    async fn delete(&self, _ctx: &OpContext, _type_name: &str, _id: &str, _prior: &Json) -> Result<(), ProviderError> {
        Ok(())
    }

    async fn read(&self, _type_name: &str, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError> {
        Err(ProviderError::api(format!("the fake provider reads nothing (asked for {} ids): plan with refresh off", ids.len())))
    }
}

pub use clawform::core::backend::MemoryBackend;

/// The project folder whose `stacks/` holds `base.yaml` and `tenant.yaml` (this repository).
pub fn repo_root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Applies the base stack (with enough load balancer shards) and `n` tenants (100 per shard,
/// in order, as `tenant create` places them) with the fake provider, into a memory backend.
/// Returns the workspace (stacks from `root`, state in memory) and the backend.
pub async fn applied(root: &std::path::Path, n: usize) -> (Workspace, Arc<MemoryBackend>) {
    let backend = Arc::new(MemoryBackend::default());
    let workspace = Workspace::open(root).with_backend(backend.clone());
    let provider: Arc<dyn Provider> = Arc::new(FakeProvider::default());
    let shards = n.div_ceil(PER_SHARD).max(1);
    let mut base = workspace.load(BASE_STACK, &IndexMap::new()).expect("the base stack loads");
    base.auto_count_minimum = Some(shards);
    let plan = workspace.plan(&base).await.expect("the base stack plans");
    let options = ApplyOptions { parallelism: 64, ..ApplyOptions::default() };
    let report = workspace.apply_locked(&plan, provider.clone(), &options).await.expect("the base stack applies");
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let tenants = Tenants::new(workspace.clone(), provider.clone());
    let secrets = clawform::TenantSecrets { api_key: Some("sk-ant-fake".into()), gateway_token: Some("0".repeat(64)) };
    let mut options = options;
    options.secret_params.insert("api_key".into(), json!("sk-ant-fake"));
    options.secret_params.insert("gateway_token".into(), json!("0".repeat(64)));
    for i in 0..n {
        let id = tenant_id(i);
        let params = IndexMap::from([("shard".to_string(), json!(i / PER_SHARD))]);
        let stack = tenants.load(&id, &params, &secrets).expect("the tenant template loads");
        let plan = workspace.plan(&stack).await.expect("a new tenant plans");
        let report = workspace.apply_locked(&plan, provider.clone(), &options).await.expect("a tenant applies");
        assert!(report.failures.is_empty(), "{id}: {:?}", report.failures);
    }
    // `tenant create` raises the Auto Scaling group's maximum as tenants arrive (`asg_max_size:
    // auto`); here once, for all of them, so that the base stack is as applied.
    let mut base = workspace.load(BASE_STACK, &IndexMap::new()).expect("the base stack loads");
    base.auto_count_minimum = Some(shards);
    let plan = workspace.plan(&base).await.expect("the base stack plans");
    let report = workspace.apply_locked(&plan, provider.clone(), &options).await.expect("the base stack applies");
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    (workspace, backend)
}
