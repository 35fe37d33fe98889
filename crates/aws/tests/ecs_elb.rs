//! The ECS and ELBv2 resource types against moto's server: each is created, checked in moto with
//! the raw SDK (attributes and ownership tags), read back, updated, and deleted, through core's
//! `Provider` trait with JSON attributes, as the engine drives it. The networks, launch template
//! and Auto Scaling group they stand on are made with the raw SDK, so these tests depend on no
//! other resource module.

use std::collections::BTreeMap;

use crate::support::{decode_yaml, expected_tags, state_of, Calls, Subject};
use aws_sdk_ec2::types::RequestLaunchTemplateData;
use aws_sdk_ecs::types::{ClusterField, ClusterSetting, ClusterSettingName};
use clawform_aws::{AwsProvider, Clients};
use clawform_core::{Applied, Provider};
use clawform_testkit::unique;
use serde_json::{json, Value as Json};

/// The provider under test (through `Deref`) with its ECS and ELBv2 calls recorded, and
/// independent raw SDK clients, all pointed at this binary's moto server.
struct Env {
    subject: Subject,
    calls: Calls,
    ec2: aws_sdk_ec2::Client,
    ecs: aws_sdk_ecs::Client,
    elbv2: aws_sdk_elasticloadbalancingv2::Client,
    autoscaling: aws_sdk_autoscaling::Client,
}

crate::support::deref_to_subject!(Env);

async fn env() -> Env {
    let config = crate::support::moto_config().await;
    let calls = Calls::default();
    let mut clients = Clients::from_config(&config);
    clients.ecs = aws_sdk_ecs::Client::from_conf(aws_sdk_ecs::config::Builder::from(&config).interceptor(calls.clone()).build());
    clients.elbv2 =
        aws_sdk_elasticloadbalancingv2::Client::from_conf(aws_sdk_elasticloadbalancingv2::config::Builder::from(&config).interceptor(calls.clone()).build());
    Env {
        subject: Subject::new(AwsProvider::new(clients), "stack"),
        calls,
        ec2: aws_sdk_ec2::Client::new(&config),
        ecs: aws_sdk_ecs::Client::new(&config),
        elbv2: aws_sdk_elasticloadbalancingv2::Client::new(&config),
        autoscaling: aws_sdk_autoscaling::Client::new(&config),
    }
}

/// A VPC with three subnets in three availability zones and two security groups.
struct Network {
    subnets: Vec<String>,
    groups: Vec<String>,
}

impl Env {
    async fn network(&self, cidr_prefix: &str) -> Network {
        let vpc = self.ec2.create_vpc().cidr_block(format!("{cidr_prefix}.0.0/16")).send().await.unwrap().vpc().unwrap().vpc_id().unwrap().to_string();
        let mut subnets = Vec::new();
        for (i, az) in ["us-west-2a", "us-west-2b", "us-west-2c"].into_iter().enumerate() {
            let out = self.ec2.create_subnet().vpc_id(&vpc).cidr_block(format!("{cidr_prefix}.{i}.0/24")).availability_zone(az).send().await.unwrap();
            subnets.push(out.subnet().unwrap().subnet_id().unwrap().to_string());
        }
        let mut groups = Vec::new();
        for name in ["alb-a", "alb-b"] {
            let out = self.ec2.create_security_group().group_name(name).description("test").vpc_id(&vpc).send().await.unwrap();
            groups.push(out.group_id().unwrap().to_string());
        }
        Network { subnets, groups }
    }

    /// A launch template and an empty Auto Scaling group over it, made with the raw SDK; returns
    /// the group's name and ARN.
    async fn auto_scaling_group(&self, network: &Network) -> (String, String) {
        // moto needs an AMI it knows: take one from its catalogue.
        let images = self.ec2.describe_images().owners("amazon").send().await.unwrap();
        let ami = images.images().iter().find_map(|i| i.image_id()).expect("moto lists some AMIs").to_string();
        let template = self
            .ec2
            .create_launch_template()
            .launch_template_name(unique("ecs-nodes"))
            .launch_template_data(RequestLaunchTemplateData::builder().image_id(ami).instance_type(aws_sdk_ec2::types::InstanceType::T3Micro).build())
            .send()
            .await
            .unwrap();
        let template_id = template.launch_template().unwrap().launch_template_id().unwrap().to_string();
        let name = unique("ecs-nodes");
        self.autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name(&name)
            .launch_template(aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder().launch_template_id(template_id).version("$Latest").build())
            .min_size(0)
            .max_size(2)
            .desired_capacity(0)
            .vpc_zone_identifier(network.subnets[..2].join(","))
            .send()
            .await
            .unwrap();
        let described = self.autoscaling.describe_auto_scaling_groups().auto_scaling_group_names(&name).send().await.unwrap();
        let arn = described.auto_scaling_groups()[0].auto_scaling_group_arn().unwrap().to_string();
        (name, arn)
    }
}

fn ecs_tag_map(tags: &[aws_sdk_ecs::types::Tag]) -> BTreeMap<String, String> {
    tags.iter().map(|t| (t.key().unwrap().to_string(), t.value().unwrap_or_default().to_string())).collect()
}

async fn elb_tag_map(env: &Env, arn: &str) -> BTreeMap<String, String> {
    let out = env.elbv2.describe_tags().resource_arns(arn).send().await.unwrap();
    out.tag_descriptions()[0].tags().iter().map(|t| (t.key().unwrap().to_string(), t.value().unwrap_or_default().to_string())).collect()
}

async fn moto_cluster(env: &Env, arn: &str) -> aws_sdk_ecs::types::Cluster {
    let out = env.ecs.describe_clusters().clusters(arn).include(ClusterField::Tags).include(ClusterField::Settings).send().await.unwrap();
    out.clusters()[0].clone()
}

fn settings(cluster: &aws_sdk_ecs::types::Cluster) -> Vec<(String, String)> {
    cluster.settings().iter().map(|s| (s.name().unwrap().as_str().to_string(), s.value().unwrap().to_string())).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn ecs_cluster_create_read_update_delete() {
    let env = env().await;
    let name = unique("platform");
    let attrs = json!({
        "name": name,
        "setting": [{ "name": "containerInsights", "value": "enabled" }],
        "tags": { "Name": "platform" }
    });
    let applied = env.create("aws_ecs_cluster", "cluster", &attrs).await;
    let arn = applied.id.clone();
    assert_eq!(applied.computed["arn"], json!(arn));
    assert!(arn.starts_with("arn:aws:ecs:us-west-2:") && arn.ends_with(&format!(":cluster/{name}")), "{arn}");

    let cluster = moto_cluster(&env, &arn).await;
    assert_eq!(cluster.cluster_name(), Some(name.as_str()));
    assert_eq!(cluster.status(), Some("ACTIVE"));
    assert_eq!(settings(&cluster), vec![("containerInsights".to_string(), "enabled".to_string())]);
    assert_eq!(ecs_tag_map(cluster.tags()), expected_tags(&[("Name", "platform")], env.ownership("cluster")));

    assert_eq!(
        env.read_one("aws_ecs_cluster", &arn).await,
        Some(json!({
            "id": arn, "name": name,
            "setting": [{ "name": "containerInsights", "value": "enabled" }],
            "tags": { "Name": "platform" }, "arn": arn
        }))
    );

    let prior = state_of(&attrs, &applied);
    let new = json!({
        "name": name,
        "setting": [{ "name": "containerInsights", "value": "disabled" }],
        "tags": { "team": "platform" }
    });
    env.update("aws_ecs_cluster", "cluster", &arn, &prior, &new).await;
    let cluster = moto_cluster(&env, &arn).await;
    assert_eq!(settings(&cluster), vec![("containerInsights".to_string(), "disabled".to_string())]);
    assert_eq!(ecs_tag_map(cluster.tags()), expected_tags(&[("team", "platform")], env.ownership("cluster")));
    assert_eq!(env.read_one("aws_ecs_cluster", &arn).await.unwrap()["setting"], json!([{ "name": "containerInsights", "value": "disabled" }]));

    let prior = state_of(&new, &applied);
    env.delete_and_check_unreadable("aws_ecs_cluster", "cluster", &arn, &prior).await;
    assert_eq!(moto_cluster(&env, &arn).await.status(), Some("INACTIVE"), "ECS keeps a deleted cluster as INACTIVE");
    env.delete_again_is_not_found("aws_ecs_cluster", "cluster", &arn, &prior).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ecs_cluster_refuses_a_name_in_use() {
    let env = env().await;
    let name = unique("taken");
    env.ecs
        .create_cluster()
        .cluster_name(&name)
        .settings(ClusterSetting::builder().name(ClusterSettingName::ContainerInsights).value("enabled").build())
        .send()
        .await
        .unwrap();
    let err = env
        .provider
        .create(&env.ctx("cluster"), "aws_ecs_cluster", &json!({ "name": name }))
        .await
        .expect_err("a second cluster with the name must be refused");
    assert!(err.message.contains("already exists"), "{err}");
    // moto would have replaced the cluster (settings back to the default, no tags): it did not.
    let cluster = moto_cluster(&env, &name).await;
    assert_eq!(settings(&cluster), vec![("containerInsights".to_string(), "enabled".to_string())]);
    assert!(cluster.tags().is_empty(), "the existing cluster was not taken over");
}

/// A run that crashed between CreateCluster and saving state left a cluster tagged with this
/// very resource: the next create adopts it and brings it in line; another resource is refused.
#[tokio::test(flavor = "multi_thread")]
async fn ecs_cluster_adopts_what_a_crashed_run_left() {
    let env = env().await;
    let name = unique("crashed");
    let first = env.create("aws_ecs_cluster", "cluster", &json!({ "name": name })).await;
    let attrs = json!({ "name": name, "setting": [{ "name": "containerInsights", "value": "enabled" }], "tags": { "Name": "again" } });
    let again = env.create("aws_ecs_cluster", "cluster", &attrs).await;
    assert_eq!(again, first, "the same cluster, adopted");
    let cluster = moto_cluster(&env, &first.id).await;
    assert_eq!(settings(&cluster), vec![("containerInsights".to_string(), "enabled".to_string())]);
    assert_eq!(ecs_tag_map(cluster.tags()), expected_tags(&[("Name", "again")], env.ownership("cluster")));

    let err = env.provider.create(&env.ctx("other"), "aws_ecs_cluster", &json!({ "name": name })).await.expect_err("another resource's cluster is not adopted");
    assert!(err.message.contains(&format!("already exists (`cluster` of clawform stack `{}`)", env.stack)), "{err}");
    env.delete_and_check_unreadable("aws_ecs_cluster", "cluster", &first.id, &attrs).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ecs_capacity_provider_and_cluster_capacity_providers_lifecycle() {
    let env = env().await;
    let network = env.network("10.71").await;
    let (asg_name, asg_arn) = env.auto_scaling_group(&network).await;

    // The capacity provider over the group.
    let cp_name = unique("spot");
    let cp_attrs = json!({
        "name": cp_name,
        "auto_scaling_group_provider": [{
            "auto_scaling_group_arn": asg_arn,
            "managed_termination_protection": "DISABLED",
            "managed_scaling": [{ "status": "ENABLED", "target_capacity": 90, "maximum_scaling_step_size": 2 }]
        }],
        "tags": { "Name": "spot" }
    });
    let cp = env.create("aws_ecs_capacity_provider", "capacity_provider", &cp_attrs).await;
    assert!(cp.id.ends_with(&format!(":capacity-provider/{cp_name}")), "{}", cp.id);
    assert_eq!(cp.computed["arn"], json!(cp.id));
    // Created again for the same address (a crashed run's leftover): adopted, not replaced.
    assert_eq!(env.create("aws_ecs_capacity_provider", "capacity_provider", &cp_attrs).await, cp);
    let err = env.provider.create(&env.ctx("other"), "aws_ecs_capacity_provider", &cp_attrs).await.expect_err("a name in use must be refused");
    assert!(err.message.contains("already exists"), "{err}");
    let moto_cp = |env: &Env, name: String| {
        let ecs = env.ecs.clone();
        async move { ecs.describe_capacity_providers().capacity_providers(name).include(aws_sdk_ecs::types::CapacityProviderField::Tags).send().await.unwrap() }
    };
    let described = moto_cp(&env, cp_name.clone()).await;
    let p = &described.capacity_providers()[0];
    let asg = p.auto_scaling_group_provider().unwrap();
    assert_eq!(asg.auto_scaling_group_arn(), asg_arn);
    assert_eq!(asg.managed_termination_protection().map(|t| t.as_str()), Some("DISABLED"));
    let scaling = asg.managed_scaling().unwrap();
    assert_eq!((scaling.status().map(|s| s.as_str()), scaling.target_capacity(), scaling.maximum_scaling_step_size()), (Some("ENABLED"), Some(90), Some(2)));
    assert_eq!(ecs_tag_map(p.tags()), expected_tags(&[("Name", "spot")], env.ownership("capacity_provider")));

    let read = env.read_one("aws_ecs_capacity_provider", &cp.id).await.unwrap();
    assert_eq!(
        read,
        json!({
            "id": cp.id, "name": cp_name,
            "auto_scaling_group_provider": [{
                "auto_scaling_group_arn": asg_arn,
                "managed_termination_protection": "DISABLED",
                // AWS (and moto) fill in the step size not given.
                "managed_scaling": [{ "status": "ENABLED", "target_capacity": 90, "minimum_scaling_step_size": 1, "maximum_scaling_step_size": 2 }]
            }],
            "tags": { "Name": "spot" }, "arn": cp.id
        })
    );

    // Managed scaling changes in place.
    let cp_prior = state_of(&cp_attrs, &cp);
    let mut cp_new = cp_attrs.clone();
    cp_new["auto_scaling_group_provider"][0]["managed_scaling"][0]["target_capacity"] = json!(75);
    env.update("aws_ecs_capacity_provider", "capacity_provider", &cp.id, &cp_prior, &cp_new).await;
    let described = moto_cp(&env, cp_name.clone()).await;
    assert_eq!(described.capacity_providers()[0].auto_scaling_group_provider().unwrap().managed_scaling().unwrap().target_capacity(), Some(75));

    // Moving the provider to another group cannot be done in place: refused before any call.
    let mut moved = cp_new.clone();
    moved["auto_scaling_group_provider"][0]["auto_scaling_group_arn"] = json!(asg_arn.replace(&asg_name, "elsewhere"));
    let err = env.provider.update(&env.ctx("capacity_provider"), "aws_ecs_capacity_provider", &cp.id, &state_of(&cp_new, &cp), &moved).await.unwrap_err();
    assert!(err.message.contains("cannot change in place"), "{err}");

    // The cluster, and the provider attached to it with a default strategy.
    let cluster_name = unique("platform");
    let cluster_attrs = json!({ "name": cluster_name });
    let cluster = env.create("aws_ecs_cluster", "cluster", &cluster_attrs).await;
    let ccp_attrs = json!({
        "cluster_name": cluster_name,
        "capacity_providers": [cp_name],
        "default_capacity_provider_strategy": [{ "capacity_provider": cp_name, "weight": 1, "base": 0 }]
    });
    let ccp = env.create("aws_ecs_cluster_capacity_providers", "cluster_capacity_providers", &ccp_attrs).await;
    assert_eq!(ccp.id, cluster_name);
    let attached = moto_cluster(&env, &cluster.id).await;
    assert_eq!(attached.capacity_providers(), std::slice::from_ref(&cp_name));
    let strategy: Vec<_> = attached.default_capacity_provider_strategy().iter().map(|s| (s.capacity_provider().to_string(), s.weight(), s.base())).collect();
    assert_eq!(strategy, vec![(cp_name.clone(), 1, 0)]);
    assert_eq!(
        env.read_one("aws_ecs_cluster_capacity_providers", &ccp.id).await,
        Some(json!({
            "id": cluster_name, "cluster_name": cluster_name, "capacity_providers": [cp_name],
            "default_capacity_provider_strategy": [{ "capacity_provider": cp_name, "weight": 1, "base": 0 }]
        }))
    );

    let ccp_new = json!({
        "cluster_name": cluster_name,
        "capacity_providers": [cp_name],
        "default_capacity_provider_strategy": [{ "capacity_provider": cp_name, "weight": 2, "base": 1 }]
    });
    env.update("aws_ecs_cluster_capacity_providers", "cluster_capacity_providers", &ccp.id, &state_of(&ccp_attrs, &ccp), &ccp_new).await;
    let strategy: Vec<_> = moto_cluster(&env, &cluster.id)
        .await
        .default_capacity_provider_strategy()
        .iter()
        .map(|s| (s.capacity_provider().to_string(), s.weight(), s.base()))
        .collect();
    assert_eq!(strategy, vec![(cp_name.clone(), 2, 1)]);

    // Delete in dependency order: detach, then the provider, then the cluster and the group.
    env.provider.delete(&env.ctx("cluster_capacity_providers"), "aws_ecs_cluster_capacity_providers", &ccp.id, &ccp_new).await.unwrap();
    let detached = moto_cluster(&env, &cluster.id).await;
    assert!(detached.capacity_providers().is_empty() && detached.default_capacity_provider_strategy().is_empty(), "{detached:?}");
    let still = env.read_one("aws_ecs_cluster_capacity_providers", &ccp.id).await.unwrap();
    assert_eq!(still["capacity_providers"], json!([]), "the cluster remains, with nothing attached");

    env.delete_and_check_unreadable("aws_ecs_capacity_provider", "capacity_provider", &cp.id, &state_of(&cp_new, &cp)).await;
    let described = moto_cp(&env, cp_name.clone()).await;
    assert!(described.capacity_providers().is_empty(), "{described:?}");
    env.delete_again_is_not_found("aws_ecs_capacity_provider", "capacity_provider", &cp.id, &cp_new).await;

    env.delete_and_check_unreadable("aws_ecs_cluster", "cluster", &cluster.id, &state_of(&cluster_attrs, &cluster)).await;
    assert_eq!(env.read_one("aws_ecs_cluster_capacity_providers", &ccp.id).await, None, "gone with its cluster");
    env.autoscaling.delete_auto_scaling_group().auto_scaling_group_name(&asg_name).force_delete(true).send().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn ecs_reads_take_one_describe_for_many_ids() {
    let env = env().await;
    let mut arns = Vec::new();
    for i in 0..2 {
        arns.push(env.create("aws_ecs_cluster", &format!("cluster_{i}"), &json!({ "name": unique("many") })).await.id);
    }
    let gone = arns[0].replace(":cluster/", ":cluster/never-");
    env.calls.take();
    let read = env.read("aws_ecs_cluster", &[arns[0].clone(), gone, arns[1].clone()]).await;
    assert_eq!(env.calls.take(), vec!["DescribeClusters"]);
    assert!(read[0].is_some() && read[1].is_none() && read[2].is_some(), "{read:?}");
    assert_eq!(read[2].as_ref().unwrap()["arn"], json!(arns[1]));
}

/// An Application Load Balancer made through the provider on `network`.
async fn alb(env: &Env, address: &str, network: &Network) -> (Json, Applied) {
    let attrs = json!({
        "name": unique("alb"),
        "subnets": network.subnets[..2],
        "security_groups": [network.groups[0]],
        "idle_timeout": 120,
        "tags": { "Name": "platform" }
    });
    let applied = env.create("aws_lb", address, &attrs).await;
    (attrs, applied)
}

#[tokio::test(flavor = "multi_thread")]
async fn lb_create_read_update_delete() {
    let env = env().await;
    let network = env.network("10.72").await;
    let (attrs, applied) = alb(&env, "alb", &network).await;
    let arn = applied.id.clone();
    let name = attrs["name"].as_str().unwrap().to_string();

    let described = env.elbv2.describe_load_balancers().load_balancer_arns(&arn).send().await.unwrap();
    let lb = &described.load_balancers()[0];
    assert_eq!(lb.load_balancer_name(), Some(name.as_str()));
    assert_eq!(lb.state().and_then(|s| s.code()).map(|c| c.as_str()), Some("active"));
    assert_eq!(lb.scheme().map(|s| s.as_str()), Some("internet-facing"));
    assert_eq!(lb.r#type().map(|t| t.as_str()), Some("application"));
    let mut subnets: Vec<&str> = lb.availability_zones().iter().filter_map(|z| z.subnet_id()).collect();
    subnets.sort_unstable();
    let mut want: Vec<&str> = network.subnets[..2].iter().map(String::as_str).collect();
    want.sort_unstable();
    assert_eq!(subnets, want);
    assert_eq!(lb.security_groups(), [network.groups[0].clone()]);
    assert_eq!(elb_tag_map(&env, &arn).await, expected_tags(&[("Name", "platform")], env.ownership("alb")));
    let idle = |env: &Env| {
        let (elbv2, arn) = (env.elbv2.clone(), arn.clone());
        async move {
            let out = elbv2.describe_load_balancer_attributes().load_balancer_arn(arn).send().await.unwrap();
            out.attributes().iter().find(|a| a.key() == Some("idle_timeout.timeout_seconds")).and_then(|a| a.value().map(str::to_string))
        }
    };
    assert_eq!(idle(&env).await.as_deref(), Some("120"));
    assert_eq!(applied.computed["arn"], json!(arn));
    assert_eq!(applied.computed["dns_name"], json!(lb.dns_name()));
    assert_eq!(applied.computed["zone_id"], json!(lb.canonical_hosted_zone_id()));
    assert_eq!(applied.computed["vpc_id"], json!(lb.vpc_id()));
    assert_eq!(applied.computed["arn_suffix"], json!(arn.split_once(":loadbalancer/").unwrap().1));

    let read = env.read_one("aws_lb", &arn).await.unwrap();
    let mut expected = state_of(&attrs, &applied);
    expected["subnets"] = json!(want);
    expected["internal"] = json!(false);
    expected["load_balancer_type"] = json!("application");
    assert_eq!(read, expected);

    // Other subnets, the other security group, a longer idle timeout, other tags: all in place.
    let new = json!({
        "name": name,
        "subnets": [network.subnets[0], network.subnets[2]],
        "security_groups": [network.groups[1]],
        "idle_timeout": 300,
        "tags": { "Name": "platform", "tier": "edge" }
    });
    env.update("aws_lb", "alb", &arn, &state_of(&attrs, &applied), &new).await;
    let described = env.elbv2.describe_load_balancers().load_balancer_arns(&arn).send().await.unwrap();
    let lb = &described.load_balancers()[0];
    assert_eq!(lb.security_groups(), [network.groups[1].clone()]);
    let mut subnets: Vec<&str> = lb.availability_zones().iter().filter_map(|z| z.subnet_id()).collect();
    subnets.sort_unstable();
    let mut want = vec![network.subnets[0].as_str(), network.subnets[2].as_str()];
    want.sort_unstable();
    assert_eq!(subnets, want);
    assert_eq!(idle(&env).await.as_deref(), Some("300"));
    assert_eq!(elb_tag_map(&env, &arn).await, expected_tags(&[("Name", "platform"), ("tier", "edge")], env.ownership("alb")));

    env.delete_and_check_unreadable("aws_lb", "alb", &arn, &state_of(&new, &applied)).await;
    let left = env.elbv2.describe_load_balancers().load_balancer_arns(&arn).send().await;
    assert!(left.is_err(), "moto still has the load balancer: {left:?}");
    // DeleteLoadBalancer succeeds for one already gone, in AWS and moto alike.
    env.provider.delete(&env.ctx("alb"), "aws_lb", &arn, &new).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn lb_refuses_a_name_in_use_and_adopts_its_own() {
    let env = env().await;
    let network = env.network("10.73").await;
    let name = unique("taken");
    env.elbv2.create_load_balancer().name(&name).set_subnets(Some(network.subnets[..2].to_vec())).send().await.unwrap();
    let attrs = json!({ "name": name, "subnets": network.subnets[..2] });
    let err = env.provider.create(&env.ctx("alb"), "aws_lb", &attrs).await.expect_err("a second load balancer with the name must be refused");
    assert!(err.message.contains("already exists"), "{err}");
    let all = env.elbv2.describe_load_balancers().names(&name).send().await.unwrap();
    assert_eq!(all.load_balancers().len(), 1, "moto accepts duplicate names; the provider must not make one");

    // One left by a crashed run of this very resource is adopted and brought in line.
    let (attrs, applied) = alb(&env, "alb", &network).await;
    let mut again = attrs.clone();
    again["idle_timeout"] = json!(90);
    assert_eq!(env.create("aws_lb", "alb", &again).await, applied);
    let all = env.elbv2.describe_load_balancers().names(attrs["name"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(all.load_balancers().len(), 1);
    let out = env.elbv2.describe_load_balancer_attributes().load_balancer_arn(&applied.id).send().await.unwrap();
    let idle = out.attributes().iter().find(|a| a.key() == Some("idle_timeout.timeout_seconds")).and_then(|a| a.value());
    assert_eq!(idle, Some("90"));
    let err = env.provider.create(&env.ctx("other"), "aws_lb", &again).await.expect_err("another resource's load balancer is not adopted");
    assert!(err.message.contains("already exists (`alb` of clawform stack"), "{err}");
    env.delete_and_check_unreadable("aws_lb", "alb", &applied.id, &again).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn lb_listener_create_read_update_delete() {
    let env = env().await;
    let network = env.network("10.74").await;
    let (lb_attrs, lb) = alb(&env, "alb", &network).await;
    let attrs = json!({
        "load_balancer_arn": lb.id,
        "port": 80,
        "protocol": "HTTP",
        "default_action": [{
            "type": "fixed-response",
            "fixed_response": [{ "content_type": "text/plain", "message_body": "Instance not found", "status_code": "404" }]
        }],
        "tags": { "Name": "http" }
    });
    let applied = env.create("aws_lb_listener", "http", &attrs).await;
    let arn = applied.id.clone();
    assert_eq!(applied.computed["arn"], json!(arn));

    let fixed = |env: &Env| {
        let (elbv2, arn) = (env.elbv2.clone(), arn.clone());
        async move {
            let out = elbv2.describe_listeners().listener_arns(arn).send().await.unwrap();
            let l = out.listeners()[0].clone();
            let a = l.default_actions()[0].clone();
            (
                l.port(),
                a.r#type().map(|t| t.as_str().to_string()),
                a.fixed_response_config()
                    .map(|r| (r.content_type().map(str::to_string), r.message_body().map(str::to_string), r.status_code().map(str::to_string))),
                a.target_group_arn().map(str::to_string),
            )
        }
    };
    assert_eq!(
        fixed(&env).await,
        (Some(80), Some("fixed-response".into()), Some((Some("text/plain".into()), Some("Instance not found".into()), Some("404".into()))), None)
    );
    assert_eq!(elb_tag_map(&env, &arn).await, expected_tags(&[("Name", "http")], env.ownership("http")));
    assert_eq!(env.read_one("aws_lb_listener", &arn).await, Some(state_of(&attrs, &applied)));

    // A new body for the 404, and another tag.
    let mut new = attrs.clone();
    new["default_action"][0]["fixed_response"][0]["message_body"] = json!("No such instance");
    new["tags"] = json!({ "Name": "http", "tier": "edge" });
    env.update("aws_lb_listener", "http", &arn, &state_of(&attrs, &applied), &new).await;
    assert_eq!(fixed(&env).await.2, Some((Some("text/plain".into()), Some("No such instance".into()), Some("404".into()))));
    assert_eq!(elb_tag_map(&env, &arn).await, expected_tags(&[("Name", "http"), ("tier", "edge")], env.ownership("http")));
    assert_eq!(env.read_one("aws_lb_listener", &arn).await, Some(state_of(&new, &applied)));

    // Then a forward to a target group, on another port.
    let vpc = lb.computed["vpc_id"].as_str().unwrap();
    let tg = env
        .elbv2
        .create_target_group()
        .name(unique("tg"))
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .port(8080)
        .vpc_id(vpc)
        .send()
        .await
        .unwrap();
    let tg_arn = tg.target_groups()[0].target_group_arn().unwrap().to_string();
    let forward = json!({
        "load_balancer_arn": lb.id, "port": 8080, "protocol": "HTTP",
        "default_action": [{ "type": "forward", "target_group_arn": tg_arn }],
        "tags": { "Name": "http", "tier": "edge" }
    });
    env.update("aws_lb_listener", "http", &arn, &state_of(&new, &applied), &forward).await;
    assert_eq!(fixed(&env).await, (Some(8080), Some("forward".into()), None, Some(tg_arn.clone())));
    assert_eq!(env.read_one("aws_lb_listener", &arn).await, Some(state_of(&forward, &applied)));

    env.delete_and_check_unreadable("aws_lb_listener", "http", &arn, &state_of(&forward, &applied)).await;
    let left = env.elbv2.describe_listeners().load_balancer_arn(&lb.id).send().await.unwrap();
    assert!(left.listeners().is_empty());
    env.delete_again_is_not_found("aws_lb_listener", "http", &arn, &forward).await;
    env.elbv2.delete_target_group().target_group_arn(&tg_arn).send().await.unwrap();
    env.delete_and_check_unreadable("aws_lb", "alb", &lb.id, &state_of(&lb_attrs, &lb)).await;
}

/// The base platform's listener, as `stacks/base.yaml` declares it: every request no tenant's
/// rule takes gets `404 Instance not found`. Loaded through the registry (the YAML shape, with
/// nested blocks as lists), resolved as the engine would, created, and read back unchanged.
#[tokio::test(flavor = "multi_thread")]
async fn lb_listener_platform_default_is_a_404_instance_not_found() {
    let env = env().await;
    let network = env.network("10.75").await;
    let (lb_attrs, lb) = alb(&env, "alb", &network).await;
    let yaml = r#"
load_balancer_arn: ${alb.arn}
port: 80
protocol: HTTP
default_action:
  - type: fixed-response
    fixed_response:
      - content_type: text/plain
        message_body: Instance not found
        status_code: "404"
"#;
    let body: serde_yaml::Value = serde_yaml::from_str(yaml).unwrap();
    let mut attrs = clawform_aws::registry().get("aws_lb_listener").unwrap().decode(body).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(attrs["load_balancer_arn"], json!("${alb.arn}"), "a reference stays a template until apply");
    attrs["load_balancer_arn"] = json!(lb.id);

    let applied = env.create("aws_lb_listener", "http", &attrs).await;
    let out = env.elbv2.describe_listeners().listener_arns(&applied.id).send().await.unwrap();
    let action = &out.listeners()[0].default_actions()[0];
    assert_eq!(action.r#type().map(|t| t.as_str()), Some("fixed-response"));
    let r = action.fixed_response_config().unwrap();
    assert_eq!((r.status_code(), r.content_type(), r.message_body()), (Some("404"), Some("text/plain"), Some("Instance not found")));
    // What is read back is what was applied (reads always carry `tags`, empty here, which the
    // planner takes as unset): no drift on the platform's main listener.
    let mut expected = state_of(&attrs, &applied);
    expected["tags"] = json!({});
    assert_eq!(env.read_one("aws_lb_listener", &applied.id).await, Some(expected));

    env.delete_and_check_unreadable("aws_lb_listener", "http", &applied.id, &attrs).await;
    env.delete_and_check_unreadable("aws_lb", "alb", &lb.id, &state_of(&lb_attrs, &lb)).await;
}

/// The port-80 listener of a platform switched to HTTPS: the same listener, its action's type
/// changed to `redirect` with both blocks still written. Only the redirect reaches AWS, and
/// drift, comparing state as AWS holds it, finds nothing.
#[tokio::test(flavor = "multi_thread")]
async fn lb_listener_turns_into_a_redirect_in_place_and_shows_no_drift() {
    let env = env().await;
    let network = env.network("10.76").await;
    let (lb_attrs, lb) = alb(&env, "alb", &network).await;
    let both = |kind: &str| {
        json!({
            "load_balancer_arn": lb.id, "port": 80, "protocol": "HTTP",
            "default_action": [{
                "type": kind,
                "redirect": [{ "protocol": "HTTPS", "port": "443", "status_code": "HTTP_301" }],
                "fixed_response": [{ "content_type": "text/plain", "message_body": "Instance not found", "status_code": "404" }]
            }]
        })
    };
    let (before, after) = (both("fixed-response"), both("redirect"));
    let applied = env.create("aws_lb_listener", "http", &before).await;
    env.update("aws_lb_listener", "http", &applied.id, &state_of(&before, &applied), &after).await;
    let out = env.elbv2.describe_listeners().listener_arns(&applied.id).send().await.unwrap();
    let action = &out.listeners()[0].default_actions()[0];
    assert_eq!(action.r#type().map(|t| t.as_str()), Some("redirect"));
    assert!(action.fixed_response_config().is_none());
    let r = action.redirect_config().unwrap();
    assert_eq!((r.protocol(), r.port(), r.status_code().map(|c| c.as_str())), (Some("HTTPS"), Some("443"), Some("HTTP_301")));

    let registry = clawform_aws::registry();
    let kind = registry.get("aws_lb_listener").unwrap();
    let state = state_of(&after, &applied);
    let live = env.read_one("aws_lb_listener", &applied.id).await.unwrap();
    assert!(!clawform_core::drift::compare(&state, &live, &[]).is_empty(), "state as written holds a block AWS does not");
    let as_aws_holds = kind.live_values(&state).unwrap();
    assert_eq!(clawform_core::drift::compare(&as_aws_holds, &live, &["arn"]), vec![], "{live}");

    env.delete_and_check_unreadable("aws_lb_listener", "http", &applied.id, &state).await;
    env.delete_and_check_unreadable("aws_lb", "alb", &lb.id, &state_of(&lb_attrs, &lb)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn elb_reads_batch_and_skip_gone_arns() {
    let env = env().await;
    let network = env.network("10.76").await;
    let (_, first) = alb(&env, "alb_1", &network).await;
    let (_, second) = alb(&env, "alb_2", &network).await;
    let gone = first.id.replace("/app/", "/app/never-");
    env.calls.take();
    // The gone ARN goes first: AWS fails a DescribeLoadBalancers naming any gone ARN, but moto
    // (5.2.5) fails only when no ARN before the gone one was found.
    let read = env.read("aws_lb", &[gone.clone(), first.id.clone(), second.id.clone()]).await;
    assert!(read[0].is_none() && read[1].is_some() && read[2].is_some(), "{read:?}");
    assert_eq!(read[2].as_ref().unwrap()["id"], json!(second.id));
    let calls = env.calls.take();
    // One DescribeLoadBalancers for the three, which fails on the gone ARN; then its halves,
    // the gone one alone and the other two together; one DescribeTags for the two found; and
    // one DescribeLoadBalancerAttributes each (the API has no batch form).
    let count = |op: &str| calls.iter().filter(|c| *c == op).count();
    assert_eq!(count("DescribeLoadBalancers"), 3, "{calls:?}");
    assert_eq!(count("DescribeTags"), 1, "{calls:?}");
    assert_eq!(count("DescribeLoadBalancerAttributes"), 2, "{calls:?}");

    let listener = |lb: &Applied| {
        json!({
            "load_balancer_arn": lb.id, "port": 80, "protocol": "HTTP",
            "default_action": [{ "type": "fixed-response", "fixed_response": [{ "content_type": "text/plain", "status_code": "404" }] }]
        })
    };
    let l1 = env.create("aws_lb_listener", "l1", &listener(&first)).await;
    let l2 = env.create("aws_lb_listener", "l2", &listener(&second)).await;
    env.calls.take();
    // moto (5.2.5) leaves a gone listener ARN out of DescribeListeners instead of failing the
    // call as AWS does (that path is the one the load balancers above took).
    let gone = l1.id.replace("/app/", "/app/never-");
    let read = env.read("aws_lb_listener", &[l1.id.clone(), gone, l2.id.clone()]).await;
    assert!(read[0].is_some() && read[1].is_none() && read[2].is_some(), "{read:?}");
    assert_eq!(env.calls.take(), vec!["DescribeListeners", "DescribeTags"]);
    for (id, address) in [(&l1.id, "l1"), (&l2.id, "l2")] {
        env.delete_and_check_unreadable("aws_lb_listener", address, id, &Json::Null).await;
    }
    for (lb, address) in [(&first, "alb_1"), (&second, "alb_2")] {
        env.delete_and_check_unreadable("aws_lb", address, &lb.id, &Json::Null).await;
    }
}

#[test]
fn stacks_refuse_bad_ecs_and_elb_attributes_at_load() {
    let decode = decode_yaml;
    assert_eq!(decode("aws_ecs_cluster", "name: platform\nsetting:\n  - {name: containerInsights, value: on}").unwrap_err(), vec!["setting.0.value"]);
    assert_eq!(decode("aws_ecs_cluster", "name: bad name").unwrap_err(), vec!["name"]);
    assert_eq!(decode("aws_ecs_cluster", "name: ok\nsettings: []").unwrap_err(), vec!["settings"], "unknown attribute");
    let cp = |block: &str| decode("aws_ecs_capacity_provider", &format!("name: spot\nauto_scaling_group_provider:\n  - {block}"));
    let asg = "arn:aws:autoscaling:us-west-2:123456789012:autoScalingGroup:1:autoScalingGroupName/nodes";
    assert!(cp(&format!("{{auto_scaling_group_arn: '{asg}', managed_scaling: [{{status: ENABLED, target_capacity: 100}}]}}")).is_ok());
    assert_eq!(
        cp(&format!("{{auto_scaling_group_arn: '{asg}', managed_scaling: [{{status: ENABLED, target_capacity: 101}}]}}")).unwrap_err(),
        vec!["auto_scaling_group_provider.0.managed_scaling.0.target_capacity"]
    );
    assert_eq!(cp("{auto_scaling_group_arn: nodes}").unwrap_err(), vec!["auto_scaling_group_provider.0.auto_scaling_group_arn"]);
    assert_eq!(
        decode(
            "aws_ecs_cluster_capacity_providers",
            "cluster_name: platform\ncapacity_providers: [spot]\ndefault_capacity_provider_strategy:\n  - {capacity_provider: other, weight: 1}"
        )
        .unwrap_err(),
        vec!["default_capacity_provider_strategy.0.capacity_provider"]
    );
    assert_eq!(decode("aws_lb", "name: internal-web\nsubnets: [subnet-1]").unwrap_err(), vec!["name", "subnets"]);
    assert_eq!(decode("aws_lb", "name: web\nsubnets: [subnet-1, subnet-2]\nload_balancer_type: network").unwrap_err(), vec!["load_balancer_type"]);
    assert!(decode("aws_lb", "name: web\nsubnets: ['${subnet_a.id}', '${subnet_b.id}']\nidle_timeout: 60").is_ok());
    // A nested block is a list, as in Terraform's JSON plan: a bare map is refused.
    assert!(decode("aws_lb_listener", "load_balancer_arn: arn\nport: 80\nprotocol: HTTP\ndefault_action: {type: forward, target_group_arn: tg}").is_err());
    assert_eq!(
        decode("aws_lb_listener", "load_balancer_arn: arn\nport: 80\nprotocol: HTTP\ndefault_action:\n  - type: fixed-response\n    fixed_response: [{content_type: text/plain, status_code: '302'}]").unwrap_err(),
        vec!["default_action.0.fixed_response.0.status_code"]
    );
}
