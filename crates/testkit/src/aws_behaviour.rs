//! An AWS behaviour layer: a proxy in front of moto that answers as real AWS does where moto
//! does not.
//!
//! moto serves every call at once and consistently: a new VPC is `available` in its create's
//! answer, a security group can be deleted the moment the load balancer that used it is gone,
//! a fresh instance profile is usable by Auto Scaling at once, and no call is ever throttled.
//! AWS is eventually consistent and rate-limited, and a provisioning tool that passes against
//! moto can still fail against AWS. The Terraform AWS provider encodes years of such failures
//! as retries and waits (/work/shared/aws-behaviours.md lists them with their provider files);
//! this layer reproduces them, so that clawform's retries and waits are tested, and measured
//! against AWS's rate limits.
//!
//! It reuses the fault proxy's plumbing (request reading, forwarding, protocol-shaped errors)
//! and adds, each switchable ([`Behaviour`]):
//! - windows after a call during which another call is refused with AWS's code and message,
//!   not forwarded (dependency violations, IAM propagation, ECS's windows);
//! - rewrites of moto's answers: young resources in their first state (`pending`,
//!   `provisioning`…) and NAT gateways `failed` for want of an internet gateway;
//! - token-bucket throttling per operation class ([`BUCKETS`]);
//! - a fixed latency per request.
//!
//! The layer learns what it needs from the traffic itself: new ids from moto's create answers,
//! attachments from requests. Windows are AWS's durations times [`BehaviourConfig::scale`]
//! (but at least [`BehaviourConfig::min_window`], so that a retrying client meets them);
//! throttling refills 1/scale times faster and keeps AWS's burst sizes.
//!
//! ```no_run
//! use clawform_testkit::{moto, Behaviour, BehaviourConfig, BehaviourProxy};
//! let proxy = BehaviourProxy::start(&moto().endpoint, BehaviourConfig::all().without(Behaviour::Throttling));
//! // point AWS_ENDPOINT_URL at proxy.endpoint, run clawform, then:
//! println!("{:?} {:?}", proxy.fired(), proxy.throttled());
//! ```

mod text;
mod throttle;
mod world;

#[cfg(test)]
mod tests;

pub use throttle::{bucket_for, throttle_floor, BucketSpec, BUCKETS};

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::fault_proxy::{exchange, http_client, plain, read_request, serve_on_loopback, shaped_error, HttpClient, Read, Request};
use text::Call;
use throttle::Buckets;
use world::World;

/// One behaviour of AWS the layer reproduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Behaviour {
    /// After a delete that leaves network interfaces behind (elbv2 `DeleteLoadBalancer`, ec2
    /// `DeleteNatGateway`, ecs `DeleteService` or `UpdateService` to `desiredCount` 0,
    /// autoscaling `DeleteAutoScalingGroup`, ec2 `TerminateInstances`), for
    /// [`Windows::dependency_violation`]: ec2 `DeleteSecurityGroup` answers `DependencyViolation`
    /// "resource sg-… has a dependent object" (`InvalidGroup.InUse` "There are active instances
    /// using security group 'sg-…'" when instances were the cause), `DeleteSubnet`
    /// `DependencyViolation` "The subnet 'subnet-…' has dependencies and cannot be deleted.",
    /// `DeleteVpc` `DependencyViolation` "The vpc 'vpc-…' has dependencies and cannot be
    /// deleted.", and, after a NAT gateway or load balancer delete, `DetachInternetGateway`
    /// `DependencyViolation` "Network vpc-… has some mapped public address(es). Please unmap
    /// those public address(es) before detaching the gateway." The window blocks those calls on
    /// any id. Sources: terraform-provider-aws internal/service/ec2/vpc_security_group.go,
    /// vpc_subnet.go, vpc_internet_gateway.go, vpc_.go.
    DependencyViolation,
    /// After iam `CreateInstanceProfile` or `AddRoleToInstanceProfile`, for
    /// [`Windows::iam_instance_profile`]: autoscaling `CreateAutoScalingGroup` answers
    /// `ValidationError` "You must use a valid fully-formed launch template. Value (NAME) for
    /// parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name" and ec2
    /// `RunInstances` naming a profile or launch template `InvalidParameterValue` "Value (NAME)
    /// for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name"
    /// (NAME: the newest profile; the group's own is in its launch template, which the layer
    /// does not read). Sources: autoscaling/group.go, iam/instance_profile.go.
    IamInstanceProfile,
    /// After iam `RemoveRoleFromInstanceProfile` (or `DetachRolePolicy`) of a role, for
    /// [`Windows::iam_delete_conflict`]: `DeleteRole` of that role answers HTTP 409
    /// `DeleteConflict` "Cannot delete entity, must remove roles from instance profile first."
    /// ("…must detach all policies first."). Source: iam/role.go.
    IamDeleteConflict,
    /// Young resources show their first state: ec2 VPCs and subnets `pending`, NAT gateways
    /// `pending`, route table associations `associating`, internet gateway attachments
    /// `attaching`; elbv2 load balancers `provisioning`; ECS clusters `PROVISIONING` — in the
    /// create's answer and in reads, for each kind's window in [`Windows`]. Sources:
    /// ec2/wait.go, vpc_nat_gateway.go, vpc_route_table.go, elbv2/load_balancer.go,
    /// ecs/cluster.go.
    PendingStates,
    /// For [`Windows::not_yet_visible`] after their create, calls naming a new NAT gateway,
    /// route table, security group or internet gateway (reads, and the calls that follow a
    /// create: CreateRoute, AuthorizeSecurityGroupIngress, AttachInternetGateway…) answer
    /// `NatGatewayNotFound` "NAT gateway nat-… was not found", `InvalidRouteTableID.NotFound`
    /// "The routeTable ID 'rtb-…' does not exist", `InvalidGroup.NotFound` "The security group
    /// 'sg-…' does not exist", `InvalidInternetGatewayID.NotFound` "The internetGateway ID
    /// 'igw-…' does not exist". Sources: ec2/vpc_nat_gateway.go, vpc_route_table.go,
    /// vpc_security_group.go, vpc_internet_gateway.go (errors.go for the codes).
    NotYetVisible,
    /// A public NAT gateway created in a VPC with no internet gateway attached (as far as the
    /// layer saw AttachInternetGateway/DetachInternetGateway) is `failed` in DescribeNatGateways,
    /// with `failureCode` `Gateway.NotAttached` and `failureMessage` "Network vpc-… has no
    /// Internet gateway attached". Fires once per such NAT gateway, at its create. Source:
    /// ec2/vpc_nat_gateway.go.
    NatGatewayFailed,
    /// ecs `CreateCluster` answers `InvalidParameterException` "Unable to assume the service
    /// linked role. Please verify that the ECS service linked role exists." for
    /// [`Windows::ecs_service_linked_role`] from the first CreateCluster this proxy sees (a
    /// fresh account creates the role on first use). Source: ecs/cluster.go.
    EcsServiceLinkedRole,
    /// ecs `CreateService` naming a target group put behind a listener or rule (elbv2
    /// CreateListener, CreateRule, ModifyListener, ModifyRule) within
    /// [`Windows::ecs_target_group`] answers `InvalidParameterException` "The target group with
    /// targetGroupArn ARN does not have an associated load balancer." Source: ecs/service.go.
    EcsTargetGroupNotAttached,
    /// ecs `PutClusterCapacityProviders` on a cluster within
    /// [`Windows::ecs_cluster_provisioning`] of its create answers `ClientException` "Cluster was
    /// not ACTIVE". Source: ecs/cluster_capacity_providers.go.
    EcsClusterNotActive,
    /// ecs `UpdateCapacityProvider` within [`Windows::ecs_capacity_provider_update`] of the
    /// previous update of that provider answers `UpdateInProgressException` (the provider
    /// matches the code only; the message is the layer's). Source: ecs/capacity_provider.go.
    EcsCapacityProviderUpdateInProgress,
    /// Token buckets per operation class ([`BUCKETS`]); an empty bucket answers the service's
    /// throttling error, not forwarded: ECS, Logs, Secrets Manager, ECR `ThrottlingException`
    /// (400), EC2 `RequestLimitExceeded` (503), ELBv2/IAM/Auto Scaling `Throttling` (400), each
    /// "Rate exceeded". Sources: the ECS, EC2 and ELB request throttling pages.
    Throttling,
    /// EC2 creates that carry a `ClientToken` are idempotent, as AWS documents ("Ensuring
    /// idempotency in Amazon EC2 API requests",
    /// https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html): the same token
    /// with the same parameters answers what the first request made, not forwarded (moto makes
    /// a second resource); the same token with other parameters answers
    /// `IdempotentParameterMismatch`.
    ClientTokens,
}

impl Behaviour {
    pub const ALL: [Behaviour; 12] = [
        Behaviour::DependencyViolation,
        Behaviour::IamInstanceProfile,
        Behaviour::IamDeleteConflict,
        Behaviour::PendingStates,
        Behaviour::NotYetVisible,
        Behaviour::NatGatewayFailed,
        Behaviour::EcsServiceLinkedRole,
        Behaviour::EcsTargetGroupNotAttached,
        Behaviour::EcsClusterNotActive,
        Behaviour::EcsCapacityProviderUpdateInProgress,
        Behaviour::Throttling,
        Behaviour::ClientTokens,
    ];

    /// `dependency-violation`, `pending-states`… (the example program's flags).
    pub fn name(self) -> &'static str {
        match self {
            Behaviour::DependencyViolation => "dependency-violation",
            Behaviour::IamInstanceProfile => "iam-instance-profile",
            Behaviour::IamDeleteConflict => "iam-delete-conflict",
            Behaviour::PendingStates => "pending-states",
            Behaviour::NotYetVisible => "not-yet-visible",
            Behaviour::NatGatewayFailed => "nat-gateway-failed",
            Behaviour::EcsServiceLinkedRole => "ecs-service-linked-role",
            Behaviour::EcsTargetGroupNotAttached => "ecs-target-group-not-attached",
            Behaviour::EcsClusterNotActive => "ecs-cluster-not-active",
            Behaviour::EcsCapacityProviderUpdateInProgress => "ecs-capacity-provider-update-in-progress",
            Behaviour::Throttling => "throttling",
            Behaviour::ClientTokens => "client-tokens",
        }
    }

    /// The behaviour of that [`Behaviour::name`].
    pub fn from_name(name: &str) -> Option<Behaviour> {
        Behaviour::ALL.into_iter().find(|b| b.name() == name)
    }
}

/// How long each window lasts on AWS (scale 1), as field reports and the provider's retry
/// timeouts show them; the layer multiplies them by the scale.
#[derive(Debug, Clone)]
pub struct Windows {
    /// Network interfaces linger 2–5 minutes after their owner's delete (the provider retries
    /// 5–20 minutes). 180 s.
    pub dependency_violation: Duration,
    /// A new instance profile reaches EC2 in about ten seconds (the provider retries 2 minutes).
    /// 15 s.
    pub iam_instance_profile: Duration,
    /// 10 s.
    pub iam_delete_conflict: Duration,
    /// NAT gateways, route tables, security groups and internet gateways unseen after their
    /// create (the provider waits for several consecutive sightings). 3 s.
    pub not_yet_visible: Duration,
    /// 5 s.
    pub vpc_pending: Duration,
    /// 5 s.
    pub subnet_pending: Duration,
    /// A NAT gateway takes one to two minutes to become available. 90 s.
    pub nat_gateway_pending: Duration,
    /// 5 s.
    pub route_table_associating: Duration,
    /// 5 s.
    pub internet_gateway_attaching: Duration,
    /// An application load balancer provisions in two to three minutes. 150 s.
    pub load_balancer_provisioning: Duration,
    /// Also the window in which PutClusterCapacityProviders finds the cluster not ACTIVE. 15 s.
    pub ecs_cluster_provisioning: Duration,
    /// 30 s.
    pub ecs_service_linked_role: Duration,
    /// 15 s.
    pub ecs_target_group: Duration,
    /// 30 s.
    pub ecs_capacity_provider_update: Duration,
}

impl Default for Windows {
    fn default() -> Windows {
        let s = Duration::from_secs;
        Windows {
            dependency_violation: s(180),
            iam_instance_profile: s(15),
            iam_delete_conflict: s(10),
            not_yet_visible: s(3),
            vpc_pending: s(5),
            subnet_pending: s(5),
            nat_gateway_pending: s(90),
            route_table_associating: s(5),
            internet_gateway_attaching: s(5),
            load_balancer_provisioning: s(150),
            ecs_cluster_provisioning: s(15),
            ecs_service_linked_role: s(30),
            ecs_target_group: s(15),
            ecs_capacity_provider_update: s(30),
        }
    }
}

/// Which behaviours the layer shows, and how fast time runs.
#[derive(Debug, Clone)]
pub struct BehaviourConfig {
    pub behaviours: BTreeSet<Behaviour>,
    /// Real time per AWS time: 0.01 makes a 180 s window 1.8 s and a bucket refill 100 times
    /// faster.
    pub scale: f64,
    /// Every request waits this long before the layer handles it: AWS's round trip, which moto
    /// on loopback lacks. Refused requests wait too (AWS's errors take the round trip as well).
    /// Not scaled.
    pub latency: Duration,
    pub windows: Windows,
    /// The least a scaled window lasts, so that a client's retry (its backoff is not scaled)
    /// meets it.
    pub min_window: Duration,
}

impl BehaviourConfig {
    /// Every behaviour, scale 0.01, 50 ms latency, windows at least 300 ms.
    pub fn all() -> BehaviourConfig {
        BehaviourConfig { behaviours: Behaviour::ALL.into_iter().collect(), latency: Duration::from_millis(50), ..BehaviourConfig::none() }
    }

    /// No behaviour and no latency (a pass-through), scale 0.01 and windows of at least 300 ms
    /// for whatever [`BehaviourConfig::with`] adds.
    pub fn none() -> BehaviourConfig {
        BehaviourConfig {
            behaviours: BTreeSet::new(),
            scale: 0.01,
            latency: Duration::ZERO,
            windows: Windows::default(),
            min_window: Duration::from_millis(300),
        }
    }

    pub fn with(mut self, behaviour: Behaviour) -> BehaviourConfig {
        self.behaviours.insert(behaviour);
        self
    }

    pub fn without(mut self, behaviour: Behaviour) -> BehaviourConfig {
        self.behaviours.remove(&behaviour);
        self
    }

    pub fn is_on(&self, behaviour: Behaviour) -> bool {
        self.behaviours.contains(&behaviour)
    }

    /// A window of AWS's duration `real` at this scale.
    pub fn window(&self, real: Duration) -> Duration {
        real.mul_f64(self.scale.max(0.0)).max(self.min_window)
    }
}

/// One time a behaviour fired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    /// The request's arrival number (1-based).
    pub n: u64,
    pub behaviour: Behaviour,
    /// `ec2 DeleteSecurityGroup`.
    pub operation: String,
    /// The code answered (`DependencyViolation: resource sg-… has a dependent object`), or what
    /// was rewritten (`vpc-… <state>pending</state>`).
    pub detail: String,
}

/// A running behaviour layer; stops when dropped.
pub struct BehaviourProxy {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    config: BehaviourConfig,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

#[derive(Default)]
struct Stats {
    fired: BTreeMap<Behaviour, u64>,
    operations: BTreeMap<String, u64>,
    throttled: BTreeMap<String, u64>,
    log: Vec<Fired>,
}

struct Shared {
    requests: AtomicU64,
    upstream_errors: AtomicU64,
    world: Mutex<World>,
    buckets: Mutex<Buckets>,
    stats: Mutex<Stats>,
    /// `(operation, ClientToken)` → the first request's parameters and its answer.
    tokens: Mutex<BTreeMap<(String, String), FirstAnswer>>,
}

/// The form parameters of the first request that carried a client token, and moto's answer to it.
type FirstAnswer = (Vec<(String, String)>, Vec<u8>);

struct State {
    upstream: String,
    config: BehaviourConfig,
    shared: Arc<Shared>,
    client: HttpClient,
}

impl BehaviourProxy {
    /// Starts the layer in front of `upstream` (`http://127.0.0.1:PORT`) on a free loopback port.
    pub fn start(upstream: &str, config: BehaviourConfig) -> BehaviourProxy {
        let shared = Arc::new(Shared {
            requests: AtomicU64::new(0),
            upstream_errors: AtomicU64::new(0),
            world: Mutex::new(World::new(config.clone())),
            buckets: Mutex::new(Buckets::new(config.scale)),
            stats: Mutex::new(Stats::default()),
            tokens: Mutex::new(BTreeMap::new()),
        });
        let state =
            Arc::new(State { upstream: upstream.trim_end_matches('/').to_string(), config: config.clone(), shared: shared.clone(), client: http_client() });
        let (runtime, port) = serve_on_loopback("aws-behaviour", state, serve);
        BehaviourProxy { endpoint: format!("http://127.0.0.1:{port}"), config, shared, runtime: Some(runtime) }
    }

    pub fn config(&self) -> &BehaviourConfig {
        &self.config
    }

    /// How many times each behaviour fired (refused a call, rewrote an answer, failed a NAT
    /// gateway, throttled).
    pub fn fired(&self) -> BTreeMap<Behaviour, u64> {
        self.stats().fired.clone()
    }

    /// Every time a behaviour fired, in order.
    pub fn log(&self) -> Vec<Fired> {
        self.stats().log.clone()
    }

    /// Requests seen, per operation (`ec2 CreateVpc`).
    pub fn requests(&self) -> BTreeMap<String, u64> {
        self.stats().operations.clone()
    }

    /// Requests seen in all.
    pub fn requests_total(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Requests throttled, per bucket (`ecs RegisterTaskDefinition`, `elasticloadbalancing
    /// elbv2-describe`).
    pub fn throttled(&self) -> BTreeMap<String, u64> {
        self.stats().throttled.clone()
    }

    /// Requests moto failed to answer (not AWS behaviour; a test expects none).
    pub fn upstream_errors(&self) -> u64 {
        self.shared.upstream_errors.load(Ordering::SeqCst)
    }

    /// The least wall time `calls` calls of `operation` take under its bucket at this layer's
    /// scale ([`throttle_floor`]).
    pub fn floor(&self, operation: &str, calls: u64) -> Duration {
        throttle_floor(operation, calls, self.config.scale)
    }

    /// The counters as one JSON object: `requests`, `fired`, `throttled`, `operations`,
    /// `upstream_errors`.
    pub fn report(&self) -> serde_json::Value {
        let stats = self.stats();
        serde_json::json!({
            "requests": self.requests_total(),
            "fired": stats.fired.iter().map(|(b, n)| (b.name().to_string(), *n)).collect::<BTreeMap<_, _>>(),
            "throttled": stats.throttled,
            "operations": stats.operations,
            "upstream_errors": self.upstream_errors(),
        })
    }

    fn stats(&self) -> std::sync::MutexGuard<'_, Stats> {
        self.shared.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens the dependency-violation window now, as a load balancer's delete would (a test of
    /// how a client gives up needs the window without the platform that opens it).
    pub fn open_dependency_window(&self) {
        self.shared.world.lock().unwrap_or_else(|e| e.into_inner()).open_dependency_window(Instant::now());
    }
}

impl Drop for BehaviourProxy {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

async fn serve(state: Arc<State>, mut stream: TcpStream) {
    let mut buffer = Vec::new();
    loop {
        let request = match read_request(&mut stream, &mut buffer).await {
            Ok(Read::Request(r)) => r,
            Ok(Read::Closed) | Err(_) => return,
        };
        let answer = handle(&state, &request).await;
        if stream.write_all(&answer).await.is_err() {
            return;
        }
    }
}

async fn handle(state: &State, request: &Request) -> Vec<u8> {
    let n = state.shared.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let operation = request.operation();
    *state.stats().operations.entry(operation.clone()).or_default() += 1;
    if !state.config.latency.is_zero() {
        tokio::time::sleep(state.config.latency).await;
    }
    let call = Call::new(request, &operation);
    let request_id = format!("aws-behaviour-{n}");
    if state.config.is_on(Behaviour::Throttling) {
        let taken = state.shared.buckets.lock().unwrap_or_else(|e| e.into_inner()).take(&operation, Instant::now());
        if let Err(bucket) = taken {
            let (status, code) = throttle_shape(request);
            state.fire(n, Behaviour::Throttling, &operation, format!("{code}: {bucket}"));
            *state.stats().throttled.entry(bucket).or_default() += 1;
            return shaped_error(request, status, code, "Rate exceeded", &request_id);
        }
    }
    let token = (state.config.is_on(Behaviour::ClientTokens) && call.service == "ec2")
        .then(|| call.param("ClientToken").map(|t| (operation.clone(), t.to_string())))
        .flatten();
    if let Some(key) = &token {
        let tokens = state.shared.tokens.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((params, answer)) = tokens.get(key) {
            let answer = answer.clone();
            let same = *params == call.form;
            drop(tokens);
            if !same {
                state.fire(n, Behaviour::ClientTokens, &operation, format!("IdempotentParameterMismatch: {}", key.1));
                let message = format!("Client token {} has already been used with different parameters.", key.1);
                return shaped_error(request, 400, "IdempotentParameterMismatch", &message, &request_id);
            }
            state.fire(n, Behaviour::ClientTokens, &operation, format!("the first answer to token {} again", key.1));
            return answer;
        }
    }
    let refusal = state.world().before(&call, Instant::now());
    if let Some(r) = refusal {
        state.fire(n, r.behaviour, &operation, format!("{}: {}", r.code, r.message));
        return shaped_error(request, r.status, r.code, &r.message, &request_id);
    }
    let mut answer = match exchange(&state.client, &state.upstream, request).await {
        Ok(answer) => answer,
        Err(problem) => {
            state.shared.upstream_errors.fetch_add(1, Ordering::SeqCst);
            return plain(502, &format!("the behaviour layer {problem}"));
        }
    };
    if (200..300).contains(&answer.status) {
        let fired = state.world().after(&call, &mut answer, Instant::now());
        for (behaviour, detail) in fired {
            state.fire(n, behaviour, &operation, detail);
        }
    }
    let ok = (200..300).contains(&answer.status);
    let bytes = answer.into_bytes();
    if let (Some(key), true) = (token, ok) {
        state.shared.tokens.lock().unwrap_or_else(|e| e.into_inner()).entry(key).or_insert_with(|| (call.form.clone(), bytes.clone()));
    }
    bytes
}

/// The throttling answer of the request's protocol.
fn throttle_shape(request: &Request) -> (u16, &'static str) {
    if request.header("x-amz-target").is_some() {
        (400, "ThrottlingException")
    } else if request.service() == "ec2" {
        (503, "RequestLimitExceeded")
    } else {
        (400, "Throttling")
    }
}

impl State {
    fn stats(&self) -> std::sync::MutexGuard<'_, Stats> {
        self.shared.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.shared.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fire(&self, n: u64, behaviour: Behaviour, operation: &str, detail: String) {
        let mut stats = self.stats();
        *stats.fired.entry(behaviour).or_default() += 1;
        stats.log.push(Fired { n, behaviour, operation: operation.to_string(), detail });
    }
}
