//! Load balancer shards (issue #9): AWS allows at most 100 target groups per Application Load
//! Balancer, so the base stack repeats its load balancer and listener as shards, and tenants are
//! placed on the first shard with room. Proven on moto with a small `tenants_per_load_balancer`.

use std::collections::BTreeMap;

use crate::common::{copy_repo_stack, sdk_config, Project};

const KEY: &[(&str, &str)] = &[("K", "sk-ant-shards")];

fn create(project: &Project, id: &str) -> serde_json::Value {
    let run = project.run_with_env(&["tenant", "create", id, "--api-key-env", "K", "--json"], KEY);
    assert_eq!(run.code, 0, "tenant create {id}: {}", run.all());
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("tenant create --json: {e}: {}", run.stdout))
}

// One moto serves the test binary and both cases make the same base stack: they run in turn.
#[tokio::test(flavor = "multi_thread")]
async fn tenants_fill_load_balancer_shards_in_order() {
    auto_shards_grow_by_one_when_every_load_balancer_is_full().await;
    clawform_testkit::moto_for(file!()).reset();
    fixed_shards_refuse_a_tenant_that_does_not_fit_before_any_call().await;
}

async fn auto_shards_grow_by_one_when_every_load_balancer_is_full() {
    let project = Project::new();
    copy_repo_stack(&project, "base");
    copy_repo_stack(&project, "tenant");
    project.ok(&["apply", "base", "--param", "tenants_per_load_balancer=3", "--auto-approve"], 0);
    // The parameter was recorded: a plan without it changes nothing.
    project.ok(&["plan", "base", "--detailed-exitcode"], 0);

    let ids = ["s1", "s2", "s3", "s4", "s5", "s6", "s7"];
    let mut infos = BTreeMap::new();
    for id in ids {
        infos.insert(id, create(&project, id));
    }

    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk_config(&project.moto).await);
    let lbs = elb.describe_load_balancers().send().await.unwrap();
    let mut names: Vec<&str> = lbs.load_balancers().iter().filter_map(|l| l.load_balancer_name()).collect();
    names.sort();
    assert_eq!(names, ["openclaw-alb-0", "openclaw-alb-1", "openclaw-alb-2"], "three shards for 7 tenants at 3 per load balancer");

    let base = project.state("base");
    let dns: Vec<String> = base["outputs"]["alb_dns_names"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_string()).collect();
    let listeners: Vec<String> = base["outputs"]["listener_arns"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_string()).collect();
    assert_eq!((dns.len(), listeners.len()), (3, 3));

    // Filled in order: 3 + 3 + 1, each tenant's URL on its shard's DNS name and its rule on its
    // shard's listener.
    let mut per_shard = [0; 3];
    for (i, id) in ids.iter().enumerate() {
        let info = &infos[id];
        let shard = info["shard"].as_u64().unwrap() as usize;
        assert_eq!(shard, i / 3, "{id} placed in order");
        per_shard[shard] += 1;
        assert_eq!(info["url"], format!("http://{}/{id}/", dns[shard]));
        let rule_arn = info["outputs"]["listener_rule_arn"].as_str().unwrap();
        let rules = elb.describe_rules().listener_arn(&listeners[shard]).send().await.unwrap();
        assert!(rules.rules().iter().any(|r| r.rule_arn() == Some(rule_arn)), "{id}'s rule is on shard {shard}'s listener");
    }
    assert_eq!(per_shard, [3, 3, 1]);

    // `tenant list` shows each tenant's shard.
    let list = project.ok(&["tenant", "list"], 0);
    assert!(list.stdout.contains("SHARD"), "{}", list.stdout);
    let s7 = list.stdout.lines().find(|l| l.starts_with("s7 ")).unwrap();
    assert!(s7.split_whitespace().nth(1) == Some("2") && s7.contains(&dns[2]), "{s7}");

    // Fewer shards than tenants occupy is refused at plan time, naming who uses the shard.
    let refused = project.run(&["plan", "base", "--param", "shards=2"]);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert!(refused.stderr.contains("listener[2]") && refused.stderr.contains("tenant-s7"), "{}", refused.stderr);
    assert!(refused.stderr.contains("--ignore-dependents"), "the way to go on knowingly is named: {}", refused.stderr);
    let knowingly = project.ok(&["plan", "base", "--param", "shards=2", "--ignore-dependents"], 0);
    assert!(knowingly.stdout.contains("listener[2] is used by listener_rule in stack `tenant-s7`"), "{}", knowingly.stdout);
    // Replacing what no output gives to another stack is not refused, though tenants carry equal
    // strings (the repository's name is a tag value and a container name of theirs).
    let replaced = project.ok(&["plan", "base", "--replace", "repository_lifecycle", "--detailed-exitcode"], 2);
    assert!(replaced.stdout.contains("repository_lifecycle"), "{}", replaced.stdout);
    // So is destroying the base stack while tenants live on it.
    let refused = project.run(&["destroy", "base", "--auto-approve"]);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert_eq!(elb.describe_load_balancers().send().await.unwrap().load_balancers().len(), 3, "nothing was deleted");

    // Once the last shard is empty it may go.
    project.ok(&["tenant", "destroy", "s7", "--auto-approve"], 0);
    project.ok(&["apply", "base", "--param", "shards=2", "--auto-approve"], 0);
    assert_eq!(elb.describe_load_balancers().send().await.unwrap().load_balancers().len(), 2);
    project.ok(&["plan", "base", "--detailed-exitcode"], 0);
}

async fn fixed_shards_refuse_a_tenant_that_does_not_fit_before_any_call() {
    let project = Project::new();
    copy_repo_stack(&project, "base");
    copy_repo_stack(&project, "tenant");
    // One instance at most: a c7i-flex.large runs two awsvpc tasks (its network interfaces bind),
    // so from the third tenant on, `tenant create` warns that the task will wait for capacity.
    project.ok(&["apply", "base", "--param", "tenants_per_load_balancer=3", "--param", "shards=2", "--param", "asg_max_size=1", "--auto-approve"], 0);
    for id in ["f1", "f2", "f3", "f4", "f5", "f6"] {
        let info = create(&project, id);
        let warned = info["warnings"].as_array().is_some_and(|w| w.iter().any(|w| w.as_str().unwrap().contains("--param asg_max_size=")));
        assert_eq!(warned, !matches!(id, "f1" | "f2"), "{id}: {info}");
    }
    let refused = project.run_with_env(&["tenant", "create", "f7", "--api-key-env", "K", "--stats"], KEY);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert!(refused.stderr.contains("every load balancer shard is full") && refused.stderr.contains("--param shards=3"), "{}", refused.stderr);
    assert!(refused.stderr.contains(" 0 calls") || !refused.stderr.contains("calls"), "no AWS call: {}", refused.stderr);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk_config(&project.moto).await);
    assert!(elb.describe_target_groups().names("openclaw-f7").send().await.is_err(), "nothing was created for f7");
    assert_eq!(elb.describe_load_balancers().send().await.unwrap().load_balancers().len(), 2, "no shard was added");
    // An existing tenant can still be changed when every shard is full.
    project.ok(&["tenant", "create", "f2"], 0);
    // After adding a shard, the tenant fits. The group's max size 1 is below what the six
    // tenants need (three instances): a plan of the base stack refuses it, so it is raised too.
    let refused = project.run(&["plan", "base", "--param", "shards=3"]);
    assert!(refused.code == 1 && refused.stderr.contains("asg_max_size 1 is below what the 6 tenants need: 3 instances"), "{}", refused.all());
    project.ok(&["apply", "base", "--param", "shards=3", "--param", "asg_max_size=3", "--auto-approve"], 0);
    let info = create(&project, "f7");
    assert_eq!(info["shard"], 2);
}
