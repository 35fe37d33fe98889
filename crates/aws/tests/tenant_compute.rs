//! A tenant's compute against moto's server: `aws_ecs_task_definition` and `aws_ecs_service`
//! are created, checked in moto with the raw SDK, read back, updated and deleted through core's
//! `Provider` trait with JSON attributes, as the engine drives them. The cluster, network and
//! target group they stand on are made with the raw SDK, so these tests depend on no other
//! resource module.

use crate::support::{state_of, Calls, Subject};
use aws_sdk_ecs::operation::create_service::CreateServiceInput;
use aws_sdk_ecs::operation::update_service::UpdateServiceInput;
use aws_sdk_ecs::types::{ServiceField, TaskDefinitionField};
use clawform_aws::{AwsProvider, Clients};
use clawform_core::{ErrorKind, OpContext, Provider};
use clawform_testkit::unique;
use serde_json::{json, Value as Json};

/// The provider under test (through `Deref`), whose ECS calls are recorded with the service
/// inputs (to see what moto does not keep, such as the capacity provider strategy), and raw SDK
/// clients for the platform a tenant stands on.
struct Env {
    subject: Subject,
    calls: Calls,
    ec2: aws_sdk_ec2::Client,
    ecs: aws_sdk_ecs::Client,
    elbv2: aws_sdk_elasticloadbalancingv2::Client,
}

crate::support::deref_to_subject!(Env);

/// What the base stack would give a tenant: a cluster, private subnets, a security group for
/// tasks, an execution role ARN and the tenant's target group.
struct Platform {
    cluster: String,
    subnets: Vec<String>,
    group: String,
    target_group: String,
}

/// moto accepts any role ARN string.
const EXECUTION_ROLE: &str = "arn:aws:iam::123456789012:role/openclaw-task-execution";
const TASK_ROLE: &str = "arn:aws:iam::123456789012:role/openclaw-task";

async fn env() -> Env {
    let config = crate::support::moto_config().await;
    let calls = Calls::default().keeping::<CreateServiceInput>().keeping::<UpdateServiceInput>();
    let mut clients = Clients::from_config(&config);
    clients.ecs = aws_sdk_ecs::Client::from_conf(aws_sdk_ecs::config::Builder::from(&config).interceptor(calls.clone()).build());
    Env {
        subject: Subject::new(AwsProvider::new(clients), "tenant"),
        calls,
        ec2: aws_sdk_ec2::Client::new(&config),
        ecs: aws_sdk_ecs::Client::new(&config),
        elbv2: aws_sdk_elasticloadbalancingv2::Client::new(&config),
    }
}

impl Env {
    async fn platform(&self, cidr_prefix: &str) -> Platform {
        let cluster = self.ecs.create_cluster().cluster_name(unique("platform")).send().await.unwrap();
        let cluster = cluster.cluster().unwrap().cluster_arn().unwrap().to_string();
        let vpc = self.ec2.create_vpc().cidr_block(format!("{cidr_prefix}.0.0/16")).send().await.unwrap().vpc().unwrap().vpc_id().unwrap().to_string();
        let mut subnets = Vec::new();
        for (i, az) in ["us-west-2a", "us-west-2b"].into_iter().enumerate() {
            let out = self.ec2.create_subnet().vpc_id(&vpc).cidr_block(format!("{cidr_prefix}.{i}.0/24")).availability_zone(az).send().await.unwrap();
            subnets.push(out.subnet().unwrap().subnet_id().unwrap().to_string());
        }
        let group = self.ec2.create_security_group().group_name(unique("tasks")).description("tasks").vpc_id(&vpc).send().await.unwrap();
        let group = group.group_id().unwrap().to_string();
        let tg = self
            .elbv2
            .create_target_group()
            .name(unique("openclaw"))
            .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
            .port(8080)
            .target_type(aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum::Ip)
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap();
        let target_group = tg.target_groups()[0].target_group_arn().unwrap().to_string();
        Platform { cluster, subnets, group, target_group }
    }
}

/// Decodes a resource body as loading a stack does: the stored (canonical) attributes.
fn decode(type_name: &str, body: Json) -> Json {
    let body: serde_yaml::Value = serde_yaml::to_value(&body).unwrap();
    clawform_aws::registry().get(type_name).unwrap().decode(body).unwrap_or_else(|e| panic!("{type_name} does not load: {e:?}"))
}

fn tag_map(tags: &[aws_sdk_ecs::types::Tag]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = tags.iter().map(|t| (t.key().unwrap().to_string(), t.value().unwrap_or_default().to_string())).collect();
    out.sort();
    out
}

fn expected_tags(user: &[(&str, &str)], ownership: [(String, String); 2]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = user.iter().map(|(k, v)| (k.to_string(), v.to_string())).chain(ownership).collect();
    out.sort();
    out
}

/// The tenant's container definitions (as `stacks/tenant.yaml` writes them, resolved).
fn containers(image: &str, tenant: &str) -> String {
    format!(
        r#"[{{"name": "openclaw",
  "image": "{image}",
  "essential": true,
  "portMappings": [{{"containerPort": 8080, "protocol": "tcp"}}],
  "environment": [{{"name": "OPENCLAW_BASE_PATH", "value": "/{tenant}"}}],
  "secrets": [
    {{"name": "OPENCLAW_GATEWAY_TOKEN", "valueFrom": "arn:aws:secretsmanager:us-west-2:123456789012:secret:openclaw/{tenant}-AbCdEf:OPENCLAW_GATEWAY_TOKEN::"}},
    {{"name": "ANTHROPIC_API_KEY", "valueFrom": "arn:aws:secretsmanager:us-west-2:123456789012:secret:openclaw/{tenant}-AbCdEf:ANTHROPIC_API_KEY::"}}],
  "logConfiguration": {{"logDriver": "awslogs", "options": {{
    "awslogs-group": "/ecs/openclaw",
    "awslogs-region": "us-west-2",
    "awslogs-stream-prefix": "{tenant}"}}}}}}]"#
    )
}

fn task_definition_body(family: &str, containers: &str) -> Json {
    json!({
        "family": family,
        "network_mode": "awsvpc",
        "requires_compatibilities": ["EC2"],
        "cpu": 512,
        "memory": "1024",
        "execution_role_arn": EXECUTION_ROLE,
        "task_role_arn": TASK_ROLE,
        "container_definitions": containers,
        "tags": { "Tenant": "t1" }
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn task_definition_create_read_delete() {
    let env = env().await;
    let family = unique("openclaw");
    let attrs = decode("aws_ecs_task_definition", task_definition_body(&family, &containers("repo/openclaw:v1", "t1")));
    let applied = env.create("aws_ecs_task_definition", "task_definition", &attrs).await;
    let arn = applied.id.clone();
    assert!(arn.ends_with(&format!(":task-definition/{family}:1")), "{arn}");
    assert_eq!(applied.computed["arn"], json!(arn));
    assert_eq!(applied.computed["revision"], json!(1));
    assert_eq!(applied.computed["arn_without_revision"], json!(arn.trim_end_matches(":1")));

    // What moto holds.
    let out = env.ecs.describe_task_definition().task_definition(&arn).include(TaskDefinitionField::Tags).send().await.unwrap();
    let def = out.task_definition().unwrap();
    assert_eq!(def.network_mode().map(|m| m.as_str()), Some("awsvpc"));
    assert_eq!(def.requires_compatibilities().iter().map(|c| c.as_str()).collect::<Vec<_>>(), vec!["EC2"]);
    assert_eq!((def.cpu(), def.memory()), (Some("512"), Some("1024")));
    assert_eq!((def.execution_role_arn(), def.task_role_arn()), (Some(EXECUTION_ROLE), Some(TASK_ROLE)));
    let c = &def.container_definitions()[0];
    assert_eq!((c.name(), c.image(), c.essential()), (Some("openclaw"), Some("repo/openclaw:v1"), Some(true)));
    let ports: Vec<_> = c.port_mappings().iter().map(|p| (p.container_port(), p.host_port(), p.protocol().map(|t| t.as_str().to_string()))).collect();
    assert_eq!(ports, vec![(Some(8080), Some(8080), Some("tcp".to_string()))], "awsvpc: the host port is the container port");
    let secrets: Vec<_> = c.secrets().iter().map(|s| (s.name(), s.value_from())).collect();
    assert_eq!(
        secrets,
        vec![
            ("ANTHROPIC_API_KEY", "arn:aws:secretsmanager:us-west-2:123456789012:secret:openclaw/t1-AbCdEf:ANTHROPIC_API_KEY::"),
            ("OPENCLAW_GATEWAY_TOKEN", "arn:aws:secretsmanager:us-west-2:123456789012:secret:openclaw/t1-AbCdEf:OPENCLAW_GATEWAY_TOKEN::"),
        ]
    );
    let log = c.log_configuration().unwrap();
    assert_eq!(log.log_driver().as_str(), "awslogs");
    let options = log.options().unwrap();
    assert_eq!(options.get("awslogs-group").map(String::as_str), Some("/ecs/openclaw"));
    assert_eq!(options.get("awslogs-stream-prefix").map(String::as_str), Some("t1"));
    assert_eq!(c.environment()[0].value(), Some("/t1"));
    assert_eq!(tag_map(out.tags()), expected_tags(&[("Tenant", "t1")], env.ownership("task_definition")));

    // A read equals state: same canonical container definitions, numbers for cpu and memory.
    let state = state_of(&attrs, &applied);
    assert_eq!(env.read_one("aws_ecs_task_definition", &arn).await, Some(state.clone()));

    // Tags are the one thing that changes in place.
    let mut retagged = attrs.clone();
    retagged["tags"] = json!({ "Tenant": "t1", "tier": "free" });
    let again = env.update("aws_ecs_task_definition", "task_definition", &arn, &state, &retagged).await;
    assert_eq!(again.id, arn);
    let out = env.ecs.describe_task_definition().task_definition(&arn).include(TaskDefinitionField::Tags).send().await.unwrap();
    assert_eq!(tag_map(out.tags()), expected_tags(&[("Tenant", "t1"), ("tier", "free")], env.ownership("task_definition")));
    let mut changed = retagged.clone();
    changed["memory"] = json!(2048);
    let refused = env.provider.update(&env.ctx("task_definition"), "aws_ecs_task_definition", &arn, &state_of(&retagged, &again), &changed).await.unwrap_err();
    assert!(refused.message.contains("cannot change"), "{refused}");

    // Delete deregisters and deletes (moto 5.2.5 has DeleteTaskDefinitions): the revision is gone.
    env.delete_and_check_gone("aws_ecs_task_definition", "task_definition", &arn, &state_of(&retagged, &again)).await;
    let listed = env.ecs.list_task_definitions().family_prefix(&family).status(aws_sdk_ecs::types::TaskDefinitionStatus::Inactive).send().await.unwrap();
    assert!(listed.task_definition_arns().is_empty(), "not even INACTIVE: {:?}", listed.task_definition_arns());
    assert!(env.ecs.describe_task_definition().task_definition(&arn).send().await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn container_definitions_layout_is_not_a_change() {
    let env = env().await;
    let family = unique("openclaw");
    let pretty = containers("repo/openclaw:v1", "t2");
    // The same containers written compactly, keys in another order, defaults left out.
    let compact = serde_json::to_string(&json!([{
        "secrets": [
            { "valueFrom": "arn:aws:secretsmanager:us-west-2:123456789012:secret:openclaw/t2-AbCdEf:OPENCLAW_GATEWAY_TOKEN::", "name": "OPENCLAW_GATEWAY_TOKEN" },
            { "name": "ANTHROPIC_API_KEY", "valueFrom": "arn:aws:secretsmanager:us-west-2:123456789012:secret:openclaw/t2-AbCdEf:ANTHROPIC_API_KEY::" }
        ],
        "logConfiguration": { "options": { "awslogs-stream-prefix": "t2", "awslogs-region": "us-west-2", "awslogs-group": "/ecs/openclaw" }, "logDriver": "awslogs" },
        "image": "repo/openclaw:v1", "name": "openclaw", "cpu": 0, "mountPoints_are_not_here": null,
        "environment": [{ "value": "/t2", "name": "OPENCLAW_BASE_PATH" }],
        "portMappings": [{ "containerPort": 8080 }]
    }]))
    .unwrap()
    .replace(r#","mountPoints_are_not_here":null"#, "");
    assert_ne!(pretty, compact);
    let a = decode("aws_ecs_task_definition", task_definition_body(&family, &pretty));
    let b = decode("aws_ecs_task_definition", task_definition_body(&family, &compact));
    assert_eq!(a, b, "the stored attributes are the same, so a plan sees no change");

    let applied = env.create("aws_ecs_task_definition", "task_definition", &a).await;
    let state = state_of(&b, &applied);
    let live = env.read_one("aws_ecs_task_definition", &applied.id).await.expect("created");
    assert_eq!(live, state, "read, normalised, equals state");
    assert!(clawform_core::drift::compare(&state, &live, &["arn", "revision", "arn_without_revision"]).is_empty());
    env.delete_and_check_gone("aws_ecs_task_definition", "task_definition", &applied.id, &state).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn task_definition_left_by_a_crash_is_adopted_not_registered_again() {
    let env = env().await;
    let family = unique("openclaw");
    let attrs = decode("aws_ecs_task_definition", task_definition_body(&family, &containers("repo/openclaw:v1", "t3")));
    let first = env.create("aws_ecs_task_definition", "task_definition", &attrs).await;
    // The run crashed before saving state; the next one creates again.
    let second = env.create("aws_ecs_task_definition", "task_definition", &attrs).await;
    assert_eq!(second.id, first.id, "the leftover revision is adopted");
    // Another stack's resource of the same family gets its own revision.
    let other = env.provider.create(&OpContext::new(unique("other"), "task_definition"), "aws_ecs_task_definition", &attrs).await.unwrap();
    assert!(other.id.ends_with(":2"), "{}", other.id);
    // As does a changed definition.
    let changed = decode("aws_ecs_task_definition", task_definition_body(&family, &containers("repo/openclaw:v2", "t3")));
    // (A replace: state still holds the first revision, which the sweep of copies leaves alone.)
    let replacing = OpContext { keep: vec![first.id.clone()], ..env.ctx("task_definition") };
    let third = env.provider.create(&replacing, "aws_ecs_task_definition", &changed).await.unwrap();
    assert!(third.id.ends_with(":3"), "{}", third.id);
    for id in [&first.id, &other.id, &third.id] {
        env.provider.delete(&env.ctx("task_definition"), "aws_ecs_task_definition", id, &Json::Null).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_container_definitions_are_refused_before_any_call() {
    let env = env().await;
    let body = task_definition_body("openclaw-bad", r#"[{"name": "app", "image": "i", "links": ["db"], "secrets": [{"name": "K", "valueFrom": "plain"}]}]"#);
    let body: serde_yaml::Value = serde_yaml::to_value(&body).unwrap();
    let errors = clawform_aws::registry().get("aws_ecs_task_definition").unwrap().decode(body).unwrap_err();
    let messages: Vec<String> = errors.iter().map(|e| format!("{}: {}", e.path, e.message)).collect();
    assert_eq!(messages, vec!["container_definitions: [0]: `links` is not a supported key; expected one of name, image, essential, cpu, memory, portMappings, environment, secrets, logConfiguration, command, entryPoint"]);

    env.calls.take();
    let attrs = task_definition_body("openclaw-bad", r#"[{"name": "app", "image": "i", "secrets": [{"name": "K", "valueFrom": "plain"}]}]"#);
    let err = env.provider.create(&env.ctx("task_definition"), "aws_ecs_task_definition", &attrs).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid);
    assert!(err.message.contains("valueFrom: `plain` is not an ARN"), "{err}");
    assert!(env.calls.take().is_empty(), "nothing is sent to AWS");
}

fn service_body(name: &str, platform: &Platform, task_definition: &str, desired: i32) -> Json {
    json!({
        "name": name,
        "cluster": platform.cluster,
        "task_definition": task_definition,
        "desired_count": desired,
        "capacity_provider_strategy": [{ "capacity_provider": "openclaw-spot", "weight": 1, "base": 0 }],
        "load_balancer": [{ "target_group_arn": platform.target_group, "container_name": "openclaw", "container_port": 8080 }],
        "network_configuration": [{ "subnets": platform.subnets, "security_groups": [platform.group], "assign_public_ip": false }],
        "tags": { "Tenant": "t4" }
    })
}

async fn moto_service(env: &Env, cluster: &str, arn: &str) -> aws_sdk_ecs::types::Service {
    let out = env.ecs.describe_services().cluster(cluster).services(arn).include(ServiceField::Tags).send().await.unwrap();
    out.services()[0].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn service_create_update_delete() {
    let env = env().await;
    let platform = env.platform("10.41").await;
    let family = unique("openclaw");
    let td1 = env
        .create(
            "aws_ecs_task_definition",
            "task_definition",
            &decode("aws_ecs_task_definition", task_definition_body(&family, &containers("repo/openclaw:v1", "t4"))),
        )
        .await;
    let name = unique("openclaw-t4");
    let attrs = decode("aws_ecs_service", service_body(&name, &platform, &td1.id, 1));
    let applied = env.create("aws_ecs_service", "service", &attrs).await;
    let arn = applied.id.clone();
    let cluster_name = platform.cluster.rsplit('/').next().unwrap();
    assert!(arn.ends_with(&format!(":service/{cluster_name}/{name}")), "{arn}");
    assert_eq!(applied.computed["arn"], json!(arn));

    // The call carried the strategy, which moto (5.2.5) drops: it reads back launchType EC2.
    let create = env.calls.inputs::<CreateServiceInput>().pop().unwrap();
    let strategy: Vec<_> = create.capacity_provider_strategy().iter().map(|s| (s.capacity_provider().to_string(), s.weight(), s.base())).collect();
    assert_eq!(strategy, vec![("openclaw-spot".to_string(), 1, 0)]);
    assert_eq!(create.launch_type(), None, "a strategy, not a launch type");

    let service = moto_service(&env, &platform.cluster, &arn).await;
    assert_eq!(service.status(), Some("ACTIVE"));
    assert_eq!(service.desired_count(), 1);
    assert_eq!(service.task_definition(), Some(td1.id.as_str()));
    let lb = &service.load_balancers()[0];
    assert_eq!((lb.target_group_arn(), lb.container_name(), lb.container_port()), (Some(platform.target_group.as_str()), Some("openclaw"), Some(8080)));
    let vpc = service.network_configuration().unwrap().awsvpc_configuration().unwrap();
    assert_eq!(vpc.subnets(), platform.subnets.as_slice());
    assert_eq!(vpc.security_groups(), std::slice::from_ref(&platform.group));
    assert_eq!(tag_map(service.tags()), expected_tags(&[("Tenant", "t4")], env.ownership("service")));
    assert!(service.capacity_provider_strategy().is_empty(), "moto 5.2.5 keeps no strategy; if this fails, moto learnt it");

    // A read matches state. moto dropped the strategy; an empty one is read as "not reported"
    // rather than as drift (see the service module).
    let state = state_of(&attrs, &applied);
    let live = env.read_one("aws_ecs_service", &arn).await.expect("created");
    assert_eq!(live.get("capacity_provider_strategy"), None, "moto's gap, not drift");
    let drift = clawform_core::drift::compare(&state, &live, &["arn"]);
    assert!(drift.is_empty(), "{drift:?}");

    // A new revision, two tasks and a new strategy: one UpdateService with a new deployment.
    let td2 = env
        .create(
            "aws_ecs_task_definition",
            "task_definition_2",
            &decode("aws_ecs_task_definition", task_definition_body(&family, &containers("repo/openclaw:v2", "t4"))),
        )
        .await;
    let mut new = service_body(&name, &platform, &td2.id, 2);
    new["capacity_provider_strategy"] = json!([{ "capacity_provider": "openclaw-spot", "weight": 1, "base": 1 }]);
    new["tags"] = json!({ "Tenant": "t4", "tier": "paid" });
    let new = decode("aws_ecs_service", new);
    env.calls.take();
    let updated = env.update("aws_ecs_service", "service", &arn, &state, &new).await;
    assert_eq!(updated.id, arn);
    assert_eq!(env.calls.take(), vec!["UpdateService", "TagResource"]);
    let update = env.calls.inputs::<UpdateServiceInput>().pop().unwrap();
    assert_eq!(update.force_new_deployment(), Some(true), "AWS takes a new strategy only with a new deployment");
    assert_eq!(update.capacity_provider_strategy()[0].base(), 1);
    assert_eq!(update.network_configuration(), None, "unchanged, so not sent");
    let service = moto_service(&env, &platform.cluster, &arn).await;
    assert_eq!(service.desired_count(), 2);
    assert_eq!(service.task_definition(), Some(td2.id.as_str()));
    assert_eq!(tag_map(service.tags()), expected_tags(&[("Tenant", "t4"), ("tier", "paid")], env.ownership("service")));
    let live = env.read_one("aws_ecs_service", &arn).await.unwrap();
    assert_eq!((live["desired_count"].clone(), live["task_definition"].clone()), (json!(2), json!(td2.id)));
    // moto keeps a strategy set by UpdateService (only CreateService drops it): all in sync.
    assert_eq!(live["capacity_provider_strategy"], json!([{ "capacity_provider": "openclaw-spot", "weight": 1, "base": 1 }]));
    let drift = clawform_core::drift::compare(&state_of(&new, &updated), &live, &["arn"]);
    assert!(drift.is_empty(), "{drift:?}");

    // Nothing changed: no call at all.
    let state = state_of(&new, &updated);
    env.calls.take();
    env.update("aws_ecs_service", "service", &arn, &state, &new).await;
    assert!(env.calls.take().is_empty());

    // Delete scales to 0, deletes, and waits until the service is INACTIVE.
    env.calls.take();
    env.delete_and_check_gone("aws_ecs_service", "service", &arn, &state).await;
    let calls = env.calls.take();
    assert_eq!(&calls[..3], &["DescribeServices", "UpdateService", "DeleteService"], "{calls:?}");
    let service = moto_service(&env, &platform.cluster, &arn).await;
    assert_eq!((service.status(), service.desired_count()), (Some("INACTIVE"), 0));

    for (address, td) in [("task_definition", &td1), ("task_definition_2", &td2)] {
        env.provider.delete(&env.ctx(address), "aws_ecs_task_definition", &td.id, &Json::Null).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_name_in_use_is_adopted_only_when_it_is_ours() {
    let env = env().await;
    let platform = env.platform("10.42").await;
    let td = env
        .create(
            "aws_ecs_task_definition",
            "task_definition",
            &decode("aws_ecs_task_definition", task_definition_body(&unique("openclaw"), &containers("repo/openclaw:v1", "t5"))),
        )
        .await;
    let name = unique("openclaw-t5");
    let first = env.create("aws_ecs_service", "service", &decode("aws_ecs_service", service_body(&name, &platform, &td.id, 1))).await;

    // A crash before state was saved; the next run asks for 3 tasks and finds its own service.
    let again = env.create("aws_ecs_service", "service", &decode("aws_ecs_service", service_body(&name, &platform, &td.id, 3))).await;
    assert_eq!(again.id, first.id, "adopted, not replaced");
    assert_eq!(moto_service(&env, &platform.cluster, &first.id).await.desired_count(), 3, "and brought in line");

    // Someone else's service of that name is refused, and left alone.
    let theirs = OpContext::new(unique("other"), "service");
    let err = env.provider.create(&theirs, "aws_ecs_service", &service_body(&name, &platform, &td.id, 1)).await.unwrap_err();
    assert!(err.message.contains(&format!("a service named `{name}` already exists")) && err.message.contains(&env.stack), "{err}");
    assert_eq!(moto_service(&env, &platform.cluster, &first.id).await.desired_count(), 3);

    // Once deleted (INACTIVE), the name is free again.
    env.delete_and_check_gone("aws_ecs_service", "service", &first.id, &Json::Null).await;
    let reborn = env.provider.create(&theirs, "aws_ecs_service", &service_body(&name, &platform, &td.id, 1)).await.unwrap();
    assert_eq!(moto_service(&env, &platform.cluster, &reborn.id).await.status(), Some("ACTIVE"));
    env.provider.delete(&theirs, "aws_ecs_service", &reborn.id, &Json::Null).await.unwrap();
    env.provider.delete(&env.ctx("task_definition"), "aws_ecs_task_definition", &td.id, &Json::Null).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn reading_25_services_takes_3_describe_calls() {
    let env = env().await;
    let platform = env.platform("10.43").await;
    let td = env
        .create(
            "aws_ecs_task_definition",
            "task_definition",
            &decode("aws_ecs_task_definition", task_definition_body(&unique("openclaw"), &containers("repo/openclaw:v1", "t6"))),
        )
        .await;
    let mut arns = Vec::new();
    for i in 0..25 {
        let out =
            env.ecs.create_service().cluster(&platform.cluster).service_name(format!("svc-{i}")).task_definition(&td.id).desired_count(0).send().await.unwrap();
        arns.push(out.service().unwrap().service_arn().unwrap().to_string());
    }
    env.calls.take();
    let live = env.provider.read("aws_ecs_service", &arns).await.unwrap();
    // moto (5.2.5) would take all 25 in one call; AWS takes 10.
    assert_eq!(env.calls.take(), vec!["DescribeServices"; 3]);
    assert_eq!(live.len(), 25);
    for (arn, l) in arns.iter().zip(&live) {
        assert_eq!(l.as_ref().and_then(|l| l["arn"].as_str()), Some(arn.as_str()));
    }
    // A service that is gone reads as None, in its place.
    env.ecs.delete_service().cluster(&platform.cluster).service(&arns[12]).force(true).send().await.unwrap();
    let live = env.provider.read("aws_ecs_service", &arns).await.unwrap();
    assert!(live[12].is_none() && live[11].is_some() && live[13].is_some());
}

#[test]
fn the_tenant_template_loads() {
    let text = std::fs::read_to_string(clawform_testkit::workspace_root().join("stacks/tenant.yaml")).unwrap();
    let stack: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    for (address, type_name) in [("task_definition", "aws_ecs_task_definition"), ("service", "aws_ecs_service")] {
        let mut body = stack["resources"][address].clone();
        let map = body.as_mapping_mut().unwrap();
        assert_eq!(map.remove("type"), Some(serde_yaml::Value::String(type_name.into())));
        map.remove("depends_on");
        let attrs = clawform_aws::registry().get(type_name).unwrap().decode(body).unwrap_or_else(|e| panic!("{address}: {e:?}"));
        if address == "task_definition" {
            let text = attrs["container_definitions"].as_str().unwrap();
            assert!(text.starts_with(r#"[{"name":"openclaw","image":"${base.outputs.repository_url}:${param.image_tag}","essential":true,"#), "{text}");
        }
    }
}
