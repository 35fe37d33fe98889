//! Tenant routing against moto's server: target groups (`aws_lb_target_group`) and listener rules
//! (`aws_lb_listener_rule`) on an Application Load Balancer and HTTP listener made with the raw
//! SDK. Each type is driven through core's `Provider` with JSON attributes, as the engine drives
//! it, and checked in moto with the raw SDK; rules without a priority take the lowest free one,
//! distinct under concurrent creates; reads are batched, counted with an SDK interceptor.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::support::{expected_tags, state_of, Calls, Subject};
use aws_sdk_elasticloadbalancingv2::types::{Action, ActionTypeEnum, FixedResponseActionConfig, PathPatternConditionConfig, ProtocolEnum, RuleCondition};
use clawform_aws::elbv2::listener_rule::{free_priority, LbListenerRule};
use clawform_aws::{AwsProvider, AwsResource, Clients};
use clawform_core::{Applied, ErrorKind, Provider, Val};
use clawform_testkit::unique;
use serde_json::{json, Value as Json};

/// The provider under test (through `Deref`) with its ELBv2 calls recorded, and independent raw
/// SDK clients, all pointed at this binary's moto server.
struct Env {
    subject: Subject,
    calls: Calls,
    ec2: aws_sdk_ec2::Client,
    elbv2: aws_sdk_elasticloadbalancingv2::Client,
}

crate::support::deref_to_subject!(Env);

async fn env() -> Env {
    let config = crate::support::moto_config().await;
    let calls = Calls::default();
    let mut clients = Clients::from_config(&config);
    clients.elbv2 =
        aws_sdk_elasticloadbalancingv2::Client::from_conf(aws_sdk_elasticloadbalancingv2::config::Builder::from(&config).interceptor(calls.clone()).build());
    Env {
        subject: Subject::new(AwsProvider::new(clients), "tenant"),
        calls,
        ec2: aws_sdk_ec2::Client::new(&config),
        elbv2: aws_sdk_elasticloadbalancingv2::Client::new(&config),
    }
}

/// An Application Load Balancer with an HTTP listener answering 404, made with the raw SDK.
struct Alb {
    vpc: String,
    listener: String,
}

impl Env {
    async fn alb(&self, cidr_prefix: &str) -> Alb {
        let vpc = self.ec2.create_vpc().cidr_block(format!("{cidr_prefix}.0.0/16")).send().await.unwrap().vpc().unwrap().vpc_id().unwrap().to_string();
        let mut subnets = Vec::new();
        for (i, az) in ["us-west-2a", "us-west-2b"].into_iter().enumerate() {
            let out = self.ec2.create_subnet().vpc_id(&vpc).cidr_block(format!("{cidr_prefix}.{i}.0/24")).availability_zone(az).send().await.unwrap();
            subnets.push(out.subnet().unwrap().subnet_id().unwrap().to_string());
        }
        let lb = self.elbv2.create_load_balancer().name(unique("alb")).set_subnets(Some(subnets)).send().await.unwrap();
        let lb = lb.load_balancers()[0].load_balancer_arn().unwrap().to_string();
        let not_found = Action::builder()
            .r#type(ActionTypeEnum::FixedResponse)
            .fixed_response_config(
                FixedResponseActionConfig::builder().content_type("text/plain").message_body("Instance not found").status_code("404").build(),
            )
            .build();
        let listener =
            self.elbv2.create_listener().load_balancer_arn(&lb).port(80).protocol(ProtocolEnum::Http).default_actions(not_found).send().await.unwrap();
        Alb { vpc, listener: listener.listeners()[0].listener_arn().unwrap().to_string() }
    }

    /// A target group made with the raw SDK, for rules to forward to.
    async fn raw_target_group(&self, vpc: &str) -> String {
        let out = self.elbv2.create_target_group().name(unique("tg")).protocol(ProtocolEnum::Http).port(8080).vpc_id(vpc).send().await.unwrap();
        out.target_groups()[0].target_group_arn().unwrap().to_string()
    }

    /// The listener's rules other than the default, as (priority, path patterns), by priority.
    async fn moto_rules(&self, listener: &str) -> Vec<(u32, Vec<String>)> {
        let out = self.elbv2.describe_rules().listener_arn(listener).page_size(400).send().await.unwrap();
        let mut rules: Vec<(u32, Vec<String>)> = out
            .rules()
            .iter()
            .filter(|r| r.is_default() != Some(true))
            .map(|r| {
                let patterns = r.conditions().iter().flat_map(|c| c.path_pattern_config().map(|p| p.values().to_vec()).unwrap_or_default()).collect();
                (r.priority().unwrap().parse().unwrap(), patterns)
            })
            .collect();
        rules.sort();
        rules
    }

    async fn elb_tags(&self, arn: &str) -> BTreeMap<String, String> {
        let out = self.elbv2.describe_tags().resource_arns(arn).send().await.unwrap();
        out.tag_descriptions()[0].tags().iter().map(|t| (t.key().unwrap().to_string(), t.value().unwrap_or_default().to_string())).collect()
    }
}

/// Attributes as a stack loads them (defaults filled in by the type), which is what the engine
/// hands the provider.
fn canonical(type_name: &str, attributes: Json) -> Json {
    let body = serde_yaml::to_value(&attributes).unwrap();
    clawform_aws::registry().get(type_name).unwrap().decode(body).unwrap_or_else(|e| panic!("{type_name} does not load: {e:?}"))
}

async fn deregistration_delay(env: &Env, arn: &str) -> String {
    let out = env.elbv2.describe_target_group_attributes().target_group_arn(arn).send().await.unwrap();
    out.attributes().iter().find(|a| a.key() == Some("deregistration_delay.timeout_seconds")).and_then(|a| a.value()).unwrap().to_string()
}

fn tenant_group(name: &str, vpc: &str) -> Json {
    canonical(
        "aws_lb_target_group",
        json!({
            "name": name, "port": 8080, "protocol": "HTTP", "target_type": "ip", "vpc_id": vpc,
            "deregistration_delay": 30,
            "health_check": [{ "path": "/health", "matcher": "200-399", "interval": 30, "healthy_threshold": 2, "unhealthy_threshold": 3 }],
            "tags": { "Tenant": "abc123" }
        }),
    )
}

fn path_rule(listener: &str, path: &str, target_group: &str) -> Json {
    canonical(
        "aws_lb_listener_rule",
        json!({
            "listener_arn": listener,
            "condition": [{ "path_pattern": [{ "values": [path] }] }],
            "action": [{ "type": "forward", "target_group_arn": target_group }],
            "tags": { "Path": path }
        }),
    )
}

fn priority_of(applied: &Applied) -> u64 {
    applied.computed["priority"].as_u64().unwrap_or_else(|| panic!("no priority computed: {applied:?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn target_group_create_read_update_delete() {
    let env = env().await;
    let alb = env.alb("10.80").await;
    let name = unique("openclaw");
    let attrs = tenant_group(&name, &alb.vpc);
    assert_eq!(attrs["health_check"][0]["timeout"], json!(5), "settings left out take AWS's defaults when the stack loads: {attrs}");
    let applied = env.create("aws_lb_target_group", "target_group", &attrs).await;
    let arn = applied.id.clone();
    assert_eq!(applied.computed["arn"], json!(arn));
    assert_eq!(applied.computed["arn_suffix"], json!(arn.rsplit_once(':').unwrap().1));
    assert!(applied.computed["arn_suffix"].as_str().unwrap().starts_with(&format!("targetgroup/{name}/")));

    let described = env.elbv2.describe_target_groups().target_group_arns(&arn).send().await.unwrap();
    let tg = &described.target_groups()[0];
    assert_eq!(tg.target_group_name(), Some(name.as_str()));
    assert_eq!((tg.port(), tg.protocol().map(|p| p.as_str())), (Some(8080), Some("HTTP")));
    assert_eq!((tg.target_type().map(|t| t.as_str()), tg.vpc_id()), (Some("ip"), Some(alb.vpc.as_str())));
    assert_eq!(tg.health_check_enabled(), Some(true));
    assert_eq!((tg.health_check_path(), tg.health_check_port()), (Some("/health"), Some("traffic-port")));
    assert_eq!(tg.health_check_protocol().map(|p| p.as_str()), Some("HTTP"));
    assert_eq!(tg.matcher().and_then(|m| m.http_code()), Some("200-399"));
    assert_eq!((tg.health_check_interval_seconds(), tg.health_check_timeout_seconds()), (Some(30), Some(5)));
    assert_eq!((tg.healthy_threshold_count(), tg.unhealthy_threshold_count()), (Some(2), Some(3)));
    assert_eq!(deregistration_delay(&env, &arn).await, "30");
    assert_eq!(env.elb_tags(&arn).await, expected_tags(&[("Tenant", "abc123")], env.ownership("target_group")));

    // The read is what was applied, but for the deregistration delay, which it does not return
    // (no batch form of DescribeTargetGroupAttributes).
    let mut expected = state_of(&attrs, &applied);
    expected.as_object_mut().unwrap().remove("deregistration_delay");
    assert_eq!(env.read_one("aws_lb_target_group", &arn).await, Some(expected));

    // Another health check, the deregistration delay back to AWS's default, other tags.
    let mut new = attrs.clone();
    new["health_check"][0]["path"] = json!("/ready");
    new["health_check"][0]["interval"] = json!(15);
    new["health_check"][0]["timeout"] = json!(10);
    new.as_object_mut().unwrap().remove("deregistration_delay");
    new["tags"] = json!({ "Tenant": "abc123", "tier": "tenant" });
    env.update("aws_lb_target_group", "target_group", &arn, &state_of(&attrs, &applied), &new).await;
    let described = env.elbv2.describe_target_groups().target_group_arns(&arn).send().await.unwrap();
    let tg = &described.target_groups()[0];
    assert_eq!(tg.health_check_path(), Some("/ready"));
    assert_eq!((tg.health_check_interval_seconds(), tg.health_check_timeout_seconds()), (Some(15), Some(10)));
    assert_eq!(tg.matcher().and_then(|m| m.http_code()), Some("200-399"));
    assert_eq!(deregistration_delay(&env, &arn).await, "300");
    assert_eq!(env.elb_tags(&arn).await, expected_tags(&[("Tenant", "abc123"), ("tier", "tenant")], env.ownership("target_group")));
    assert_eq!(env.read_one("aws_lb_target_group", &arn).await, Some(state_of(&new, &applied)));

    env.delete_and_check_unreadable("aws_lb_target_group", "target_group", &arn, &state_of(&new, &applied)).await;
    assert!(env.elbv2.describe_target_groups().target_group_arns(&arn).send().await.is_err(), "moto still has the group");
    // A second delete: AWS succeeds, moto (5.2.5) answers TargetGroupNotFound; the engine takes
    // both as deleted.
    match env.provider.delete(&env.ctx("target_group"), "aws_lb_target_group", &arn, &new).await {
        Ok(()) => {}
        Err(e) => assert_eq!(e.kind, ErrorKind::NotFound, "{e}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn target_group_refuses_a_name_in_use_and_adopts_its_own() {
    let env = env().await;
    let alb = env.alb("10.81").await;
    let name = unique("taken");
    env.elbv2.create_target_group().name(&name).protocol(ProtocolEnum::Http).port(8080).vpc_id(&alb.vpc).target_type("ip".into()).send().await.unwrap();
    let attrs = tenant_group(&name, &alb.vpc);
    let err = env.provider.create(&env.ctx("target_group"), "aws_lb_target_group", &attrs).await.expect_err("a group with the name must be refused");
    assert!(err.message.contains("already exists (not made by clawform)"), "{err}");

    // One left by a crashed run of this very resource is adopted and brought in line.
    let attrs = tenant_group(&unique("openclaw"), &alb.vpc);
    let applied = env.create("aws_lb_target_group", "target_group", &attrs).await;
    let mut again = attrs.clone();
    again["deregistration_delay"] = json!(45);
    again["health_check"][0]["path"] = json!("/alive");
    assert_eq!(env.create("aws_lb_target_group", "target_group", &again).await, applied);
    let described = env.elbv2.describe_target_groups().names(attrs["name"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(described.target_groups().len(), 1);
    assert_eq!(described.target_groups()[0].health_check_path(), Some("/alive"));
    assert_eq!(deregistration_delay(&env, &applied.id).await, "45");

    let err = env.provider.create(&env.ctx("other"), "aws_lb_target_group", &again).await.expect_err("another resource's group is not adopted");
    assert!(err.message.contains("already exists (`target_group` of clawform stack"), "{err}");
    let mut moved = again.clone();
    moved["port"] = json!(9090);
    let err = env.provider.create(&env.ctx("target_group"), "aws_lb_target_group", &moved).await.expect_err("a port change cannot be adopted");
    assert!(err.message.contains("cannot change"), "{err}");
    env.delete_and_check_unreadable("aws_lb_target_group", "target_group", &applied.id, &again).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reading_45_target_groups_takes_3_describe_calls() {
    let env = env().await;
    let alb = env.alb("10.82").await;
    let mut creates = tokio::task::JoinSet::new();
    for _ in 0..45 {
        let (elbv2, vpc) = (env.elbv2.clone(), alb.vpc.clone());
        creates.spawn(async move {
            let out = elbv2.create_target_group().name(unique("many")).protocol(ProtocolEnum::Http).port(8080).vpc_id(vpc).send().await.unwrap();
            out.target_groups()[0].target_group_arn().unwrap().to_string()
        });
    }
    let arns: Vec<String> = creates.join_all().await;
    env.calls.take();
    let read = env.read("aws_lb_target_group", &arns).await;
    assert_eq!(read.len(), 45);
    for (arn, live) in arns.iter().zip(&read) {
        assert_eq!(live.as_ref().map(|l| &l["arn"]), Some(&json!(arn)), "read answers in the order asked");
    }
    let calls = env.calls.take();
    assert_eq!(Calls::count(&calls, "DescribeTargetGroups"), 45usize.div_ceil(20), "{calls:?}");
    assert_eq!(Calls::count(&calls, "DescribeTags"), 45usize.div_ceil(20), "{calls:?}");
    assert_eq!(calls.len(), 6, "nothing per group: {calls:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rules_without_priority_take_the_lowest_free_one() {
    let env = env().await;
    let alb = env.alb("10.83").await;
    let tg = env.raw_target_group(&alb.vpc).await;
    let a_attrs = path_rule(&alb.listener, "/a/*", &tg);
    let a = env.create("aws_lb_listener_rule", "a", &a_attrs).await;
    assert_eq!(priority_of(&a), 1);
    let b = env.create("aws_lb_listener_rule", "b", &path_rule(&alb.listener, "/b/*", &tg)).await;
    assert_eq!(priority_of(&b), 2);
    env.delete_and_check_unreadable("aws_lb_listener_rule", "a", &a.id, &state_of(&a_attrs, &a)).await;
    let c = env.create("aws_lb_listener_rule", "c", &path_rule(&alb.listener, "/c/*", &tg)).await;
    assert_eq!(priority_of(&c), 1, "the gap rule a left is taken again");

    // An explicit priority is honoured (through the typed API: see the test below for the JSON
    // path), and the next rule without one still takes the lowest free.
    let explicit = LbListenerRule {
        listener_arn: alb.listener.clone().into(),
        priority: Some(7.into()),
        condition: serde_json::from_value(json!([{ "path_pattern": [{ "values": ["/e/*"] }] }])).unwrap(),
        action: serde_json::from_value(json!([{ "type": "forward", "target_group_arn": tg }])).unwrap(),
        tags: Default::default(),
    };
    let e = explicit.create(env.provider.clients(), &env.ctx("e")).await.unwrap();
    assert_eq!(priority_of(&e), 7);
    let d = env.create("aws_lb_listener_rule", "d", &path_rule(&alb.listener, "/d/*", &tg)).await;
    assert_eq!(priority_of(&d), 3);

    let p = |s: &str| vec![s.to_string()];
    assert_eq!(env.moto_rules(&alb.listener).await, vec![(1, p("/c/*")), (2, p("/b/*")), (3, p("/d/*")), (7, p("/e/*"))]);
    assert_eq!(free_priority(env.provider.clients(), &alb.listener).await.unwrap(), 4);
    // A priority another rule holds is refused, saying what to do.
    let taken = LbListenerRule {
        priority: Some(2.into()),
        condition: serde_json::from_value(json!([{ "path_pattern": [{ "values": ["/f/*"] }] }])).unwrap(),
        ..explicit
    };
    let err = taken.create(env.provider.clients(), &env.ctx("f")).await.expect_err("priority 2 is taken");
    assert!(err.message.contains("PriorityInUse") && err.message.contains("or no priority"), "{err}");
}

/// `priority` is computed (a priority taken at create time is kept in state and is no change at
/// the next plan) and also a field: an explicit `priority` given as JSON through the `Provider`
/// reaches the type and is honoured.
#[tokio::test(flavor = "multi_thread")]
async fn an_explicit_priority_through_the_provider_is_honoured() {
    let env = env().await;
    let alb = env.alb("10.84").await;
    let tg = env.raw_target_group(&alb.vpc).await;
    let mut attrs = path_rule(&alb.listener, "/x/*", &tg);
    attrs["priority"] = json!(7);
    assert_eq!(canonical("aws_lb_listener_rule", attrs.clone())["priority"], json!(7), "the stack keeps it");
    let applied = env.create("aws_lb_listener_rule", "x", &attrs).await;
    assert_eq!(priority_of(&applied), 7, "the explicit priority reached AWS");
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_concurrent_creates_get_twenty_distinct_priorities() {
    let env = env().await;
    let alb = env.alb("10.85").await;
    let tg = env.raw_target_group(&alb.vpc).await;
    env.calls.take();
    // Every create starts at once, so they read the same rules and collide: moto answers
    // PriorityInUse to all but one per priority, and the losers move on.
    let start = Arc::new(tokio::sync::Barrier::new(20));
    let mut creates = tokio::task::JoinSet::new();
    for i in 0..20 {
        let (provider, ctx, start) = (env.provider.clone(), env.ctx(&format!("rule{i}")), start.clone());
        let attrs = path_rule(&alb.listener, &format!("/tenant{i:02}/*"), &tg);
        creates.spawn(async move {
            start.wait().await;
            provider.create(&ctx, "aws_lb_listener_rule", &attrs).await
        });
    }
    let applied: Vec<Applied> = creates.join_all().await.into_iter().map(|r| r.unwrap_or_else(|e| panic!("a concurrent create failed: {e}"))).collect();
    let priorities: BTreeSet<u64> = applied.iter().map(priority_of).collect();
    assert_eq!(priorities, (1..=20).collect(), "20 distinct priorities, the lowest ones");
    let live = env.moto_rules(&alb.listener).await;
    assert_eq!(live.iter().map(|(p, _)| u64::from(*p)).collect::<BTreeSet<_>>(), priorities);
    let patterns: BTreeSet<&String> = live.iter().flat_map(|(_, p)| p).collect();
    assert_eq!(patterns.len(), 20, "each create made its own rule");
    let calls = env.calls.take();
    assert!(Calls::count(&calls, "CreateRule") > 20, "the creates collided and retried: {} CreateRule calls", Calls::count(&calls, "CreateRule"));
}

#[tokio::test(flavor = "multi_thread")]
async fn rule_update_read_and_delete() {
    let env = env().await;
    let alb = env.alb("10.86").await;
    let tg = env.raw_target_group(&alb.vpc).await;
    let attrs = path_rule(&alb.listener, "/abc123/*", &tg);
    let applied = env.create("aws_lb_listener_rule", "listener_rule", &attrs).await;
    let arn = applied.id.clone();
    assert_eq!(applied.computed["arn"], json!(arn));
    assert_eq!(env.moto_rules(&alb.listener).await, vec![(1, vec!["/abc123/*".to_string()])]);
    assert_eq!(env.elb_tags(&arn).await, expected_tags(&[("Path", "/abc123/*")], env.ownership("listener_rule")));
    let read = env.read_one("aws_lb_listener_rule", &arn).await.unwrap();
    assert_eq!(read["priority"], json!(1));
    assert_eq!(read["condition"], json!([{ "path_pattern": [{ "values": ["/abc123/*"] }] }]));
    assert_eq!(read, state_of(&attrs, &applied), "the read is what was applied, with the priority taken");

    // ModifyRule: another path; and other tags.
    let mut new = path_rule(&alb.listener, "/abc123/v2/*", &tg);
    new["tags"] = json!({ "Tenant": "abc123" });
    let prior = state_of(&attrs, &applied);
    let updated = env.update("aws_lb_listener_rule", "listener_rule", &arn, &prior, &new).await;
    assert_eq!(updated.id, arn);
    assert!(updated.computed.get("priority").is_none(), "without a priority in the stack the one in state stays");
    assert_eq!(env.moto_rules(&alb.listener).await, vec![(1, vec!["/abc123/v2/*".to_string()])]);
    assert_eq!(env.elb_tags(&arn).await, expected_tags(&[("Tenant", "abc123")], env.ownership("listener_rule")));
    assert_eq!(env.read_one("aws_lb_listener_rule", &arn).await, Some(state_of(&new, &applied)));

    // A fixed response instead of the forward.
    let mut fixed = new.clone();
    fixed["action"] =
        json!([{ "type": "fixed-response", "fixed_response": [{ "content_type": "text/plain", "message_body": "paused", "status_code": "503" }] }]);
    let fixed = canonical("aws_lb_listener_rule", fixed);
    env.update("aws_lb_listener_rule", "listener_rule", &arn, &state_of(&new, &applied), &fixed).await;
    let rules = env.elbv2.describe_rules().rule_arns(&arn).send().await.unwrap();
    let action = &rules.rules()[0].actions()[0];
    assert_eq!(action.r#type(), Some(&ActionTypeEnum::FixedResponse));
    assert_eq!(action.fixed_response_config().and_then(|r| r.status_code()), Some("503"));
    assert_eq!(env.read_one("aws_lb_listener_rule", &arn).await.unwrap()["action"], fixed["action"]);

    // A stack that sets the priority moves the rule (SetRulePriorities), through the typed API
    // (see `an_explicit_priority_through_the_provider_is_dropped_by_the_handler_today`).
    let typed: LbListenerRule = serde_json::from_value(fixed.clone()).unwrap();
    let prior_typed = LbListenerRule { priority: Some(Val::Lit(1)), ..typed.clone() };
    let moved = LbListenerRule { priority: Some(9.into()), ..typed };
    let out = moved.update(env.provider.clients(), &env.ctx("listener_rule"), &arn, &prior_typed).await.unwrap();
    assert_eq!(out.computed["priority"], json!(9));
    assert_eq!(env.moto_rules(&alb.listener).await[0].0, 9);
    assert_eq!(env.read_one("aws_lb_listener_rule", &arn).await.unwrap()["priority"], json!(9));

    // Reads are batched; a gone rule costs a few halving calls and reads as None.
    let gone = format!("{}/0000000000000000", arn.rsplit_once('/').unwrap().0);
    env.calls.take();
    let read = env.read("aws_lb_listener_rule", &[arn.clone(), gone]).await;
    assert!(read[0].is_some() && read[1].is_none(), "{read:?}");
    let calls = env.calls.take();
    assert_eq!(Calls::count(&calls, "DescribeRules"), 3, "{calls:?}");
    assert_eq!(Calls::count(&calls, "DescribeTags"), 1, "{calls:?}");

    env.delete_and_check_unreadable("aws_lb_listener_rule", "listener_rule", &arn, &state_of(&fixed, &applied)).await;
    assert!(env.moto_rules(&alb.listener).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rule_left_by_a_crashed_run_is_adopted_and_another_stacks_twin_refused() {
    let env = env().await;
    let alb = env.alb("10.87").await;
    let tg = env.raw_target_group(&alb.vpc).await;
    let attrs = path_rule(&alb.listener, "/abc123/*", &tg);
    let applied = env.create("aws_lb_listener_rule", "listener_rule", &attrs).await;
    let mut again = attrs.clone();
    again["tags"] = json!({ "Tenant": "abc123" });
    assert_eq!(env.create("aws_lb_listener_rule", "listener_rule", &again).await, applied, "the same rule and priority");
    assert_eq!(env.moto_rules(&alb.listener).await.len(), 1, "no second rule");
    assert_eq!(env.elb_tags(&applied.id).await, expected_tags(&[("Tenant", "abc123")], env.ownership("listener_rule")));

    let err = env.provider.create(&env.ctx("other"), "aws_lb_listener_rule", &attrs).await.expect_err("a twin of another resource's rule is refused");
    assert!(err.message.contains("already has these conditions") && err.message.contains("`listener_rule` of clawform stack"), "{err}");
    assert_eq!(env.moto_rules(&alb.listener).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn free_priority_reads_every_page() {
    let env = env().await;
    let alb = env.alb("10.88").await;
    let tg = env.raw_target_group(&alb.vpc).await;
    // 404 rules (moto enforces no rules quota), priorities 1 to 405 but 3: more than one page of
    // 400, and the gap on the first page.
    let mut creates = tokio::task::JoinSet::new();
    for priority in (1..=405).filter(|p| *p != 3) {
        let (elbv2, listener, tg) = (env.elbv2.clone(), alb.listener.clone(), tg.clone());
        creates.spawn(async move {
            let condition = RuleCondition::builder()
                .field("path-pattern")
                .path_pattern_config(PathPatternConditionConfig::builder().values(format!("/p{priority}/*")).build())
                .build();
            let forward = Action::builder().r#type(ActionTypeEnum::Forward).target_group_arn(tg).build();
            elbv2.create_rule().listener_arn(listener).priority(priority).conditions(condition).actions(forward).send().await.unwrap();
        });
    }
    creates.join_all().await;
    env.calls.take();
    assert_eq!(free_priority(env.provider.clients(), &alb.listener).await.unwrap(), 3);
    assert_eq!(env.calls.take(), vec!["DescribeRules", "DescribeRules"], "405 rules with the default: two pages of up to 400");
    let c = env.create("aws_lb_listener_rule", "c", &path_rule(&alb.listener, "/c/*", &tg)).await;
    assert_eq!(priority_of(&c), 3);
    assert_eq!(free_priority(env.provider.clients(), &alb.listener).await.unwrap(), 406, "the last page counts too");
}

#[test]
fn stacks_are_refused_what_aws_would_refuse() {
    let registry = clawform_aws::registry();
    let decode = |type_name: &str, body: Json| registry.get(type_name).unwrap().decode(serde_yaml::to_value(&body).unwrap());
    let rule = |condition: Json, priority: i64| {
        json!({
            "listener_arn": "arn:listener", "priority": priority, "condition": condition,
            "action": [{ "type": "forward", "target_group_arn": "arn:tg" }]
        })
    };
    let six = json!([{ "path_pattern": [{ "values": ["/a", "/b", "/c", "/d", "/e", "/f"] }] }]);
    let errors = decode("aws_lb_listener_rule", rule(six, 1)).expect_err("6 condition values");
    assert_eq!(errors.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(), vec!["condition"]);
    let long = json!([{ "path_pattern": [{ "values": [format!("/{}", "a".repeat(128))] }] }]);
    let errors = decode("aws_lb_listener_rule", rule(long, 50_001)).expect_err("a long pattern and a priority out of range");
    assert_eq!(errors.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(), vec!["priority", "condition.0.path_pattern.0.values.0"]);
    let errors =
        decode("aws_lb_target_group", json!({ "name": "openclaw-".to_string() + &"x".repeat(24), "port": 8080, "protocol": "HTTP", "vpc_id": "vpc-1" }))
            .expect_err("a 33-character name");
    assert_eq!(errors[0].path, "name");
}
