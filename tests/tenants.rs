//! Tenants end to end on moto: the base platform applied once for this test binary, then
//! tenants created, checked in moto, listed, rolled to a new template, destroyed one by one,
//! concurrently, and never leaking a secret.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::common::{copy_repo_stack, sdk_config, Project, Run};

fn shared() -> &'static Project {
    static PROJECT: OnceLock<Project> = OnceLock::new();
    PROJECT.get_or_init(|| {
        let project = Project::new();
        copy_repo_stack(&project, "base");
        copy_repo_stack(&project, "tenant");
        project.ok(&["apply", "base", "--auto-approve"], 0);
        project
    })
}

fn api_key(id: &str) -> String {
    format!("sk-ant-test-{id}-SECRETVALUE")
}

/// `clawform tenant create ID --api-key-env KEY --json` with the key in the environment.
fn create(project: &Project, id: &str) -> Run {
    project.run_with_env(&["tenant", "create", id, "--api-key-env", "TEST_API_KEY", "--json"], &[("TEST_API_KEY", &api_key(id))])
}

fn listener_arn(project: &Project) -> String {
    let out = project.ok(&["output", "base", "listener_arn"], 0);
    out.stdout.trim().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn three_tenants_are_wired_to_the_load_balancer_and_secrets_stay_secret() {
    let project = shared();
    let config = sdk_config(&project.moto).await;
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    let ecs = aws_sdk_ecs::Client::new(&config);
    let secrets = aws_sdk_secretsmanager::Client::new(&config);
    let ids = ["abc123", "def456", "ghi789"];
    let mut outputs = String::new();
    for id in ids {
        let run = create(project, id);
        assert_eq!(run.code, 0, "{}", run.all());
        outputs.push_str(&run.all());
        let info: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        assert!(info["url"].as_str().unwrap().ends_with(&format!("/{id}/")), "{info}");
        assert!(info["outputs"]["service_arn"].as_str().is_some(), "{info}");
    }

    let listener = listener_arn(project);
    let rules = elb.describe_rules().listener_arn(&listener).send().await.unwrap();
    let mut priorities = BTreeSet::new();
    for id in ids {
        let tg = elb.describe_target_groups().names(format!("openclaw-{id}")).send().await.unwrap();
        let tg = &tg.target_groups()[0];
        assert_eq!((tg.port(), tg.target_type().map(|t| t.as_str())), (Some(8080), Some("ip")));
        let tg_arn = tg.target_group_arn().unwrap();
        let rule = rules
            .rules()
            .iter()
            .find(|r| r.actions().iter().any(|a| a.target_group_arn() == Some(tg_arn)))
            .unwrap_or_else(|| panic!("no rule forwards to {id}'s target group"));
        let pattern: Vec<String> = rule
            .conditions()
            .iter()
            .flat_map(|c| c.values().iter().cloned().chain(c.path_pattern_config().map(|p| p.values().to_vec()).unwrap_or_default()))
            .collect();
        assert!(pattern.contains(&format!("/{id}/*")), "{pattern:?}");
        priorities.insert(rule.priority().unwrap().to_string());
        let services = ecs.describe_services().cluster("openclaw-cluster").services(format!("openclaw-{id}")).send().await.unwrap();
        let service = &services.services()[0];
        assert_eq!(service.desired_count(), 1);
        assert_eq!(service.load_balancers()[0].target_group_arn(), Some(tg_arn));
        assert_eq!(service.load_balancers()[0].container_port(), Some(8080));
        let value = secrets.get_secret_value().secret_id(format!("openclaw/{id}")).send().await.unwrap();
        let value: serde_json::Value = serde_json::from_str(value.secret_string().unwrap()).unwrap();
        assert_eq!(value["ANTHROPIC_API_KEY"], api_key(id).as_str());
        assert_eq!(value["OPENCLAW_GATEWAY_TOKEN"].as_str().unwrap().len(), 64, "a generated 256-bit token");
        let task = ecs.describe_task_definition().task_definition(format!("openclaw-{id}")).send().await.unwrap();
        let container = &task.task_definition().unwrap().container_definitions()[0];
        assert!(container.secrets().iter().all(|s| s.value_from().starts_with("arn:aws:secretsmanager:")), "secrets are injected by valueFrom");
        assert_eq!(container.log_configuration().unwrap().options().unwrap()["awslogs-stream-prefix"], id);
    }
    assert_eq!(priorities.len(), 3, "distinct priorities: {priorities:?}");

    let list = project.ok(&["tenant", "list", "--json"], 0);
    outputs.push_str(&list.all());
    let document: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(document["format_version"], "1.0", "every --json document says its format");
    let listed = document["tenants"].as_array().unwrap().clone();
    for id in ids {
        assert!(listed.iter().any(|t| t["id"] == id), "{id} listed");
    }
    let show = project.ok(&["tenant", "show", "abc123"], 0);
    outputs.push_str(&show.all());
    outputs.push_str(&project.ok(&["state", "show", "tenant-abc123", "secret"], 0).all());
    outputs.push_str(&project.ok(&["plan", "tenant", "--param", "tenant_id=abc123", "--json"], 0).all());

    // Destroying one tenant leaves the others as they were.
    let destroy = project.ok(&["tenant", "destroy", "def456", "--auto-approve"], 0);
    outputs.push_str(&destroy.all());
    assert!(elb.describe_target_groups().names("openclaw-def456").send().await.is_err());
    for id in ["abc123", "ghi789"] {
        assert_eq!(elb.describe_target_groups().names(format!("openclaw-{id}")).send().await.unwrap().target_groups().len(), 1);
        let services = ecs.describe_services().cluster("openclaw-cluster").services(format!("openclaw-{id}")).send().await.unwrap();
        assert_eq!(services.services()[0].status(), Some("ACTIVE"));
    }
    let rules = elb.describe_rules().listener_arn(&listener).send().await.unwrap();
    assert!(!rules.rules().iter().any(|r| r.conditions().iter().any(|c| c.values().iter().any(|v| v.contains("def456")))));

    for id in ids {
        let key = api_key(id);
        assert!(!outputs.contains(&key), "a command printed {id}'s API key");
        assert!(!crate::common::files_under(&project.path().join("state")).contains(&key), "{id}'s API key is stored under state/");
    }
}

#[test]
fn twenty_tenants_created_at_once_get_twenty_distinct_priorities() {
    let project = shared();
    let children: Vec<_> = (0..20)
        .map(|i| {
            let id = format!("burst{i:02}");
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_clawform"));
            cmd.arg("-C").arg(project.path()).args(["tenant", "create", &id, "--api-key-env", "TEST_API_KEY", "--json"]);
            cmd.env("TEST_API_KEY", api_key(&id)).env("NO_COLOR", "1").stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
            for (k, v) in project.moto.env() {
                cmd.env(k, v);
            }
            (id, cmd.spawn().expect("spawn"))
        })
        .collect();
    let mut priorities = BTreeSet::new();
    for (id, child) in children {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{id}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        let info: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        priorities.insert(info["priority"].to_string());
    }
    assert_eq!(priorities.len(), 20, "{priorities:?}");
}

#[test]
fn invalid_tenant_ids_are_refused_before_any_aws_call() {
    let project = shared();
    for id in ["*", "a*", "../x", "a/b", "ABC", "", "-x", "x".repeat(24).as_str()] {
        // `--` so that an id starting with `-` reaches the id check rather than the flag parser.
        let run = project.run_with_env(
            &["tenant", "create", "--api-key-env", "TEST_API_KEY", "--", id],
            &[("TEST_API_KEY", "k"), ("AWS_ENDPOINT_URL", "http://127.0.0.1:9")],
        );
        assert_eq!(run.code, 1, "{id:?}: {}", run.all());
        assert!(run.stderr.contains("is not valid"), "{id:?}: {}", run.stderr);
        assert!(!project.path().join("state").join(format!("tenant-{id}.json")).exists());
    }
}

#[test]
fn a_tenant_needs_the_base_platform_first() {
    let project = Project::new();
    copy_repo_stack(&project, "base");
    copy_repo_stack(&project, "tenant");
    let run = project.run_with_env(&["tenant", "create", "early", "--api-key-env", "TEST_API_KEY"], &[("TEST_API_KEY", "k")]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("apply base"), "{}", run.stderr);
}
