//! 500 users without hand edits (issue #18): `asg_max_size: auto` raised by `tenant create` under
//! the placement lock and never lowered, per-tenant task sizes, the private subnets as a list
//! parameter with the refusal when their addresses would run out, and the migration from the
//! seed's two /24s (and from the stack before the list). Proven on moto.

use crate::common::{copy_repo_stack, sdk_config, Project};

const KEY: &[(&str, &str)] = &[("K", "sk-ant-scale")];

fn create(project: &Project, id: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["tenant", "create", id, "--api-key-env", "K", "--json"];
    args.extend_from_slice(extra);
    let run = project.run_with_env(&args, KEY);
    assert_eq!(run.code, 0, "tenant create {id}: {}", run.all());
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("tenant create --json: {e}: {}", run.stdout))
}

async fn asg_max(project: &Project) -> i32 {
    let asg = aws_sdk_autoscaling::Client::new(&sdk_config(&project.moto).await);
    let groups = asg.describe_auto_scaling_groups().auto_scaling_group_names("openclaw-ecs-asg").send().await.unwrap();
    groups.auto_scaling_groups()[0].max_size().unwrap()
}

fn platform() -> Project {
    let project = Project::new();
    copy_repo_stack(&project, "base");
    copy_repo_stack(&project, "tenant");
    project
}

/// No AWS call was made: `--stats` counts none, or the command stopped before it could print.
fn no_call(run: &crate::common::Run) -> bool {
    run.stderr.contains(" 0 calls") || !run.stderr.contains("calls")
}

// One moto serves the file and every case makes the same base stack: they run in turn.
#[tokio::test(flavor = "multi_thread")]
async fn five_hundred_users_need_no_hand_edit() {
    let moto = || clawform_testkit::moto_for(file!());
    auto_max_size_grows_with_the_tenants_and_is_never_lowered().await;
    moto().reset();
    addresses_that_would_run_out_are_refused_before_any_call().await;
    moto().reset();
    services_move_to_larger_subnets_at_their_next_deployment().await;
    moto().reset();
    a_platform_applied_before_the_list_moves_with_state_mv().await;
}

async fn auto_max_size_grows_with_the_tenants_and_is_never_lowered() {
    let project = platform();
    project.ok(&["apply", "base", "--auto-approve"], 0);
    // No tenant yet: the group's minimum, and `auto` stays what was given (the default).
    assert_eq!(asg_max(&project).await, 1);
    let base = project.state("base");
    assert_eq!(base["params"]["asg_max_size"], 1);
    assert!(base["param_overrides"].get("asg_max_size").is_none(), "{}", base["param_overrides"]);
    project.ok(&["plan", "base", "--detailed-exitcode"], 0);

    // A c7i-flex.large holds two default tasks (its network interfaces bind).
    create(&project, "a1", &[]);
    let second = create(&project, "a2", &[]);
    assert!(second.get("warnings").is_none(), "{second}");
    assert_eq!(asg_max(&project).await, 1);
    // A task of a whole instance's CPU: a second instance, raised by tenant create itself.
    let plan = project.run_with_env(&["tenant", "plan", "a3", "--cpu", "2048", "--memory", "3000"], KEY);
    assert_eq!(plan.code, 0, "{}", plan.all());
    assert!(plan.all().contains("raises it to 2 first (asg_max_size: auto)"), "{}", plan.all());
    assert_eq!(asg_max(&project).await, 1, "a plan changes nothing");
    create(&project, "a3", &["--cpu", "2048", "--memory", "3000"]);
    assert_eq!(asg_max(&project).await, 2);
    // a3 fills its instance: a4 needs a third.
    create(&project, "a4", &[]);
    assert_eq!(asg_max(&project).await, 3);

    // The size is the task's and is recorded: a rollout keeps it.
    let ecs = aws_sdk_ecs::Client::new(&sdk_config(&project.moto).await);
    let td = ecs.describe_task_definition().task_definition("openclaw-a3").send().await.unwrap();
    let td = td.task_definition().unwrap();
    assert_eq!((td.cpu(), td.memory()), (Some("2048"), Some("3000")));
    assert_eq!(project.state("tenant-a3")["param_overrides"]["cpu"], 2048);
    project.ok(&["tenant", "plan", "--all", "--detailed-exitcode"], 0);

    // The base stack keeps the value in force: no change, not lowered.
    project.ok(&["plan", "base", "--detailed-exitcode"], 0);
    project.ok(&["apply", "base", "--param", "asg_max_size=auto", "--auto-approve"], 0);
    assert_eq!(asg_max(&project).await, 3);
    // A number below what the tenants need is refused at plan time, with the number needed.
    let refused = project.run(&["plan", "base", "--param", "asg_max_size=2"]);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert!(refused.stderr.contains("asg_max_size 2 is below what the 4 tenants need: 3 instances"), "{}", refused.stderr);
    project.ok(&["plan", "base", "--param", "asg_max_size=5", "--detailed-exitcode"], 2);

    // capacity and cost count the tenants at their sizes: 3 instances, where four default
    // tasks would take 2.
    let capacity = project.ok(&["capacity", "--json"], 0);
    let capacity: serde_json::Value = serde_json::from_str(&capacity.stdout).unwrap();
    let plan = &capacity["plan"];
    assert_eq!((plan["tenants"].as_u64(), plan["existing_tenants"].as_u64(), plan["instances"].as_u64()), (Some(4), Some(4), Some(3)), "{plan}");
    assert!(plan["task_sizes"].as_array().unwrap().iter().any(|s| s["cpu"] == 2048 && s["memory_mib"] == 3000 && s["tasks"] == 1), "{plan}");
    assert_eq!((plan["asg_max_auto"].as_bool(), plan["asg_max_size"].as_u64()), (Some(true), Some(3)));
    let cost = project.ok(&["cost", "--tenants", "4", "--json"], 0);
    let cost: serde_json::Value = serde_json::from_str(&cost.stdout).unwrap();
    assert_eq!(cost["rows"][0]["capacity"]["instances"], 3, "{}", cost["rows"][0]);

    // A task no instance holds is refused before any AWS call, with what would fit.
    for args in [
        &["tenant", "create", "big", "--api-key-env", "K", "--cpu", "4096", "--stats"][..],
        &["tenant", "plan", "big", "--memory", "8192", "--stats"][..],
        &["tenant", "create", "a1", "--cpu", "4096", "--stats"][..],
    ] {
        let run = project.run_with_env(args, KEY);
        assert_eq!(run.code, 1, "{args:?}: {}", run.all());
        assert!(run.stderr.contains("does not fit on one c7i-flex.large") && run.stderr.contains("--cpu 2048 --memory 3992"), "{}", run.stderr);
        assert!(no_call(&run), "no AWS call: {}", run.stderr);
    }
    let bad = project.run(&["tenant", "create", "big", "--cpu", "0"]);
    assert!(bad.code == 1 && bad.stderr.contains("invalid value '0' for '--cpu <UNITS>'"), "{}", bad.all());

    // A tenant given a new size grows the group first too, when the others at their sizes and
    // it at its new one need more instances than the maximum.
    create(&project, "a1", &["--cpu", "2048", "--memory", "3000"]);
    assert_eq!(asg_max(&project).await, 3, "a1 and a3 alone, a2 with a4: still three");
    create(&project, "a2", &["--cpu", "2048", "--memory", "3000"]);
    assert_eq!(asg_max(&project).await, 4, "a1, a2 and a3 alone, a4 alone");
    assert_eq!(project.state("tenant-a2")["param_overrides"]["memory"], 3000);
    project.ok(&["tenant", "plan", "--all", "--detailed-exitcode"], 0);
}

async fn addresses_that_would_run_out_are_refused_before_any_call() {
    let project = platform();
    // A /28 holds 11 addresses; nine instances at least leave room for two tasks.
    project.ok(&["apply", "base", "--param", "private_subnet_cidrs=[10.0.10.0/28]", "--param", "asg_min_size=9", "--auto-approve"], 0);
    create(&project, "n1", &[]);
    create(&project, "n2", &[]);
    let refused = project.run_with_env(&["tenant", "create", "n3", "--api-key-env", "K", "--stats"], KEY);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert!(refused.stderr.contains("the private subnets (10.0.10.0/28) hold 11 addresses") && refused.stderr.contains("need 12"), "{}", refused.stderr);
    assert!(refused.stderr.contains("private_subnet_cidrs=[\"10.0.10.0/28\",\"10.0.32.0/19\"]"), "the fix is named: {}", refused.stderr);
    assert!(no_call(&refused), "no AWS call: {}", refused.stderr);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk_config(&project.moto).await);
    assert!(elb.describe_target_groups().names("openclaw-n3").send().await.is_err(), "nothing was created for n3");
    // The fix the message names: a larger subnet beside the first.
    project.ok(&["apply", "base", "--param", "private_subnet_cidrs=[10.0.10.0/28, 10.0.32.0/19]", "--auto-approve"], 0);
    create(&project, "n3", &[]);
}

async fn services_move_to_larger_subnets_at_their_next_deployment() {
    let project = platform();
    project.ok(&["apply", "base", "--auto-approve"], 0);
    create(&project, "m1", &[]);
    create(&project, "m2", &[]);
    let seed: Vec<String> = string_list(&project.state("base")["outputs"]["private_subnet_ids"]);
    assert_eq!(seed.len(), 2);

    let larger = "private_subnet_cidrs=[10.0.10.0/24, 10.0.11.0/24, 10.0.32.0/19, 10.0.64.0/19]";
    let plan = project.ok(&["plan", "base", "--param", larger], 0);
    assert!(!plan.stdout.contains("must be replaced") && plan.stdout.contains("0 to destroy"), "the seed's subnets stay: {}", plan.stdout);
    project.ok(&["apply", "base", "--param", larger, "--auto-approve"], 0);
    let all = string_list(&project.state("base")["outputs"]["private_subnet_ids"]);
    assert_eq!(all.len(), 4);
    assert_eq!(all[..2], seed[..], "the seed's subnets keep their ids and order");
    let ec2 = aws_sdk_ec2::Client::new(&sdk_config(&project.moto).await);
    let subnets = ec2.describe_subnets().set_subnet_ids(Some(all[2..].to_vec())).send().await.unwrap();
    let mut zones: Vec<(String, String)> =
        subnets.subnets().iter().map(|s| (s.cidr_block().unwrap().to_string(), s.availability_zone().unwrap().to_string())).collect();
    zones.sort();
    assert_eq!(zones, [("10.0.32.0/19".to_string(), "us-west-2a".to_string()), ("10.0.64.0/19".to_string(), "us-west-2b".to_string())]);
    let asg = aws_sdk_autoscaling::Client::new(&sdk_config(&project.moto).await);
    let group = asg.describe_auto_scaling_groups().auto_scaling_group_names("openclaw-ecs-asg").send().await.unwrap();
    let mut in_group: Vec<String> = group.auto_scaling_groups()[0].vpc_zone_identifier().unwrap().split(',').map(str::to_string).collect();
    in_group.sort();
    let mut expected = all.clone();
    expected.sort();
    assert_eq!(in_group, expected, "instances launch in every private subnet");

    // The tenants' next deployment lists every private subnet.
    project.ok(&["tenant", "apply", "--all", "--auto-approve"], 0);
    let ecs = aws_sdk_ecs::Client::new(&sdk_config(&project.moto).await);
    for id in ["m1", "m2"] {
        let services = ecs.describe_services().cluster("openclaw-cluster").services(format!("openclaw-{id}")).send().await.unwrap();
        let network = services.services()[0].network_configuration().and_then(|n| n.awsvpc_configuration()).unwrap();
        let mut subnets: Vec<String> = network.subnets().to_vec();
        subnets.sort();
        assert_eq!(subnets, expected, "{id}'s service names the new subnets");
    }
    project.ok(&["tenant", "plan", "--all", "--detailed-exitcode"], 0);
    project.ok(&["plan", "base", "--detailed-exitcode"], 0);
}

async fn a_platform_applied_before_the_list_moves_with_state_mv() {
    let project = Project::new();
    project.write_stack("base", include_str!("scale_base_before.yaml"));
    // The tenant template of that time: HTTP only, before base had `url_scheme`.
    let tenant = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks/tenant.yaml")).unwrap();
    project.write_stack("tenant", &tenant.replace("${base.outputs.url_scheme}://", "http://"));
    project.ok(&["apply", "base", "--auto-approve"], 0);
    create(&project, "o1", &[]);
    let before = string_list(&project.state("base")["outputs"]["private_subnet_ids"]);

    copy_repo_stack(&project, "base");
    copy_repo_stack(&project, "tenant");
    for (from, to) in [
        ("private_a", "private[0]"),
        ("private_b", "private[1]"),
        ("private_a_routes", "private_subnet_routes[0]"),
        ("private_b_routes", "private_subnet_routes[1]"),
    ] {
        project.ok(&["state", "mv", "base", from, to], 0);
    }
    let plan = project.ok(&["plan", "base", "--detailed-exitcode"], 2);
    assert!(plan.stdout.contains("0 to add") && plan.stdout.contains("0 to destroy"), "only in-place updates (Name tags): {}", plan.stdout);
    project.ok(&["apply", "base", "--auto-approve"], 0);
    assert_eq!(string_list(&project.state("base")["outputs"]["private_subnet_ids"]), before);
    // The recorded maximum of the old default (20) stays in force under `auto`.
    assert_eq!(asg_max(&project).await, 20);
    project.ok(&["plan", "base", "--detailed-exitcode"], 0);
    project.ok(&["tenant", "plan", "--all", "--detailed-exitcode"], 0);
}

fn string_list(value: &serde_json::Value) -> Vec<String> {
    value.as_array().unwrap_or_else(|| panic!("a list: {value}")).iter().map(|v| v.as_str().unwrap().to_string()).collect()
}
