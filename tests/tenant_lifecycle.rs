//! The tenant lifecycle end to end on moto: create → status (and --wait, reached and timed out
//! with its reason) → suspend (kept by a rollout) → resume → restart → rotate-key → logs →
//! destroy, through the CLI; status and suspend through the library's `Tenants` too.

use std::io::{BufRead, BufReader};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::common::reliability::{signal, spawn};
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

/// The CLI test and the library test share the base stack and `tenant apply --all` would
/// apply to both: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const CLUSTER: &str = "openclaw-cluster";
const LOG_GROUP: &str = "/ecs/openclaw";

fn create(project: &Project, id: &str, key: &str) {
    let run = project.run_with_env(&["tenant", "create", id, "--api-key-env", "TEST_API_KEY", "--json"], &[("TEST_API_KEY", key)]);
    assert_eq!(run.code, 0, "{}", run.all());
}

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", run.all()))
}

async fn service(ecs: &aws_sdk_ecs::Client, id: &str) -> aws_sdk_ecs::types::Service {
    let out = ecs.describe_services().cluster(CLUSTER).services(format!("openclaw-{id}")).send().await.unwrap();
    out.services()[0].clone()
}

async fn secret_value(secrets: &aws_sdk_secretsmanager::Client, id: &str) -> serde_json::Value {
    let value = secrets.get_secret_value().secret_id(format!("openclaw/{id}")).send().await.unwrap();
    serde_json::from_str(value.secret_string().unwrap()).unwrap()
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

async fn put_events(logs: &aws_sdk_cloudwatchlogs::Client, stream: &str, events: &[(i64, &str)]) {
    let _ = logs.create_log_stream().log_group_name(LOG_GROUP).log_stream_name(stream).send().await;
    let events: Vec<_> =
        events.iter().map(|(t, m)| aws_sdk_cloudwatchlogs::types::InputLogEvent::builder().timestamp(*t).message(*m).build().unwrap()).collect();
    logs.put_log_events().log_group_name(LOG_GROUP).log_stream_name(stream).set_log_events(Some(events)).send().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_is_watched_suspended_resumed_restarted_rotated_and_its_logs_read() {
    let project = shared();
    let _serial = SERIAL.lock().await;
    let config = sdk_config(&project.moto).await;
    let ecs = aws_sdk_ecs::Client::new(&config);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    let secrets = aws_sdk_secretsmanager::Client::new(&config);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let old_key = "sk-ant-test-OLDKEY-life1";
    create(project, "life1", old_key);
    create(project, "life2", "sk-ant-test-OTHERKEY-life2");
    let mut outputs = String::new();

    // Status: moto places no task (running 0, pending 1, rollout IN_PROGRESS).
    let run = project.ok(&["tenant", "status", "life1", "--json"], 0);
    let status = json(&run);
    assert_eq!(status["format_version"], "1.0");
    assert_eq!(status["id"], "life1");
    assert_eq!(status["suspended"], false);
    assert_eq!((status["service"]["desired"].as_i64(), status["service"]["running"].as_i64()), (Some(1), Some(0)), "{status}");
    assert_eq!(status["service"]["pending"], 1);
    assert_eq!(status["service"]["deployment"]["rollout_state"], "IN_PROGRESS");
    assert!(status["service"]["deployment"]["id"].as_str().unwrap().starts_with("ecs-svc/"), "{status}");
    assert!(status["service"]["events"].is_array() && status["targets"].is_array(), "{status}");
    assert_eq!((status["running"].as_bool(), status["healthy"].as_bool()), (Some(false), Some(false)));
    let text = project.ok(&["tenant", "status", "life1"], 0);
    assert!(text.stdout.contains("desired 1, running 0, pending 1"), "{}", text.stdout);

    // --wait running times out with the reason: no container instance to place the task on.
    let run = project.run(&["tenant", "status", "life1", "--wait", "running", "--timeout", "3s"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("Waiting for tenant `life1` to be running"), "progress on stderr: {}", run.stderr);
    assert!(
        run.stderr.contains("is not running after") && run.stderr.contains("no capacity") && run.stderr.contains("no container instance"),
        "{}",
        run.stderr
    );

    // A task of the service that stopped: the timeout names ECS's reason.
    // (A plain task definition: moto answers 500 to RunTask of an awsvpc one without subnets.)
    let container = aws_sdk_ecs::types::ContainerDefinition::builder().name("openclaw").image("openclaw").memory(128).build();
    let family = "life1-probe";
    ecs.register_task_definition().family(family).container_definitions(container).send().await.unwrap();
    let task = ecs
        .run_task()
        .cluster(CLUSTER)
        .task_definition(family)
        .launch_type(aws_sdk_ecs::types::LaunchType::Fargate)
        .group("service:openclaw-life1")
        .send()
        .await
        .unwrap();
    let task_arn = task.tasks()[0].task_arn().unwrap().to_string();
    ecs.stop_task().cluster(CLUSTER).task(&task_arn).reason("Essential container in task exited").send().await.unwrap();
    let run = project.run(&["tenant", "status", "life1", "--wait", "running", "--timeout", "2s", "--json"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("tasks stopping") && run.stderr.contains("Essential container in task exited"), "{}", run.stderr);
    assert_eq!(json(&run)["wait"]["stopped_tasks"][0]["arn"], task_arn.as_str());

    // Suspend: desired count 0 in ECS, shown by list and show, and kept by a rollout.
    let run = project.ok(&["tenant", "suspend", "life1", "--json"], 0);
    assert_eq!(json(&run)["suspended"], true);
    assert_eq!(service(&ecs, "life1").await.desired_count(), 0);
    let list = json(&project.ok(&["tenant", "list", "--json"], 0));
    let listed = |id: &str| list["tenants"].as_array().unwrap().iter().find(|t| t["id"] == id).cloned().unwrap();
    assert_eq!((listed("life1")["suspended"].as_bool(), listed("life2")["suspended"].as_bool()), (Some(true), Some(false)));
    let text = project.ok(&["tenant", "list"], 0).stdout;
    assert!(text.lines().any(|l| l.starts_with("life1") && l.contains("suspended")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("life2") && l.contains("active")), "{text}");
    assert!(project.ok(&["tenant", "show", "life1"], 0).stdout.contains("suspended = true"));
    assert_eq!(project.state("tenant-life1")["param_overrides"]["desired_count"], 0);
    project.ok(&["tenant", "apply", "--all", "--param", "image_tag=v2", "--auto-approve"], 0);
    assert_eq!(service(&ecs, "life1").await.desired_count(), 0, "a rollout keeps the tenant suspended");
    assert_eq!(service(&ecs, "life2").await.desired_count(), 1);
    let task = ecs.describe_task_definition().task_definition("openclaw-life1").send().await.unwrap();
    assert!(task.task_definition().unwrap().container_definitions()[0].image().unwrap().ends_with(":v2"), "the rollout did apply");
    project.ok(&["tenant", "plan", "life1", "--detailed-exitcode", "--param", "image_tag=v2"], 0);

    // status --all: one row per tenant; the suspended one's target group is not read.
    let all = json(&project.ok(&["tenant", "status", "--all", "--json"], 0));
    let rows = all["tenants"].as_array().unwrap();
    let row = |id: &str| rows.iter().find(|t| t["id"] == id).cloned().unwrap();
    assert_eq!((row("life1")["suspended"].as_bool(), row("life1")["service"]["desired"].as_i64()), (Some(true), Some(0)));
    assert_eq!(row("life2")["service"]["desired"], 1);
    let counted = project.ok(&["--stats", "tenant", "status", "--all"], 0);
    let calls = |op: &str| counted.stderr.lines().find(|l| l.contains(op)).map(|l| l.split_whitespace().rev().nth(5).unwrap_or_default().to_string());
    assert_eq!(calls("DescribeServices").as_deref(), Some("1"), "two services: one call\n{}", counted.stderr);
    assert_eq!(calls("DescribeTargetHealth").as_deref(), Some("1"), "the suspended tenant's group is not read\n{}", counted.stderr);
    let table = counted.stdout;
    assert!(table.starts_with("ID") && table.contains("DESIRED/RUNNING/PENDING"), "{table}");
    assert!(table.lines().any(|l| l.starts_with("life1") && l.contains("0/0/0") && l.trim_end().ends_with("yes")), "{table}");

    // Resume: desired 1 again; moto then reports the task running, and --wait running returns.
    let run = project.ok(&["tenant", "resume", "life1", "--json"], 0);
    assert_eq!(json(&run)["suspended"], false);
    assert_eq!(service(&ecs, "life1").await.desired_count(), 1);
    assert!(!project.ok(&["tenant", "list"], 0).stdout.lines().any(|l| l.starts_with("life1") && l.contains("suspended")));
    let run = project.ok(&["tenant", "status", "life1", "--wait", "running", "--timeout", "30s", "--json"], 0);
    let waited = json(&run);
    assert_eq!((waited["running"].as_bool(), waited["wait"]["reached"].as_bool()), (Some(true), Some(true)), "{waited}");

    // --wait healthy: no target registered yet (moto's ECS registers none) → the reason; once
    // a target is registered and healthy, it returns.
    let run = project.run(&["tenant", "status", "life1", "--wait", "healthy", "--timeout", "3s", "--json"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("health check failing"), "{}", run.stderr);
    assert_eq!(json(&run)["wait"]["reached"], false);
    let tg = project.state("tenant-life1")["outputs"]["target_group_arn"].as_str().unwrap().to_string();
    let target = aws_sdk_elasticloadbalancingv2::types::TargetDescription::builder().id("10.0.10.25").port(8080).build();
    elb.register_targets().target_group_arn(&tg).targets(target).send().await.unwrap();
    let run = project.ok(&["tenant", "status", "life1", "--wait", "healthy", "--timeout", "30s", "--json"], 0);
    let healthy = json(&run);
    assert_eq!(healthy["targets"][0]["state"], "healthy", "{healthy}");
    assert_eq!(healthy["targets"][0]["id"], "10.0.10.25");
    assert_eq!(healthy["healthy"], true);

    // Restart: a new deployment, state unchanged, nothing to plan.
    let before = service(&ecs, "life1").await.deployments()[0].id().unwrap().to_string();
    let state_before = project.state("tenant-life1");
    let run = project.ok(&["tenant", "restart", "life1", "--json"], 0);
    let after = service(&ecs, "life1").await.deployments()[0].id().unwrap().to_string();
    assert_ne!(before, after, "a new deployment");
    assert_eq!(json(&run)["deployment_id"], after.as_str());
    assert_eq!(project.state("tenant-life1"), state_before, "restart changes nothing in state");
    project.ok(&["tenant", "plan", "life1", "--detailed-exitcode", "--param", "image_tag=v2"], 0);

    // Rotate the key: the secret has the new key and a new generated token, tasks restart, and
    // neither old nor new value appears in any output or state file.
    let old_token = secret_value(&secrets, "life1").await["OPENCLAW_GATEWAY_TOKEN"].as_str().unwrap().to_string();
    let new_key = "sk-ant-test-NEWKEY-life1";
    let run = project
        .run_with_env(&["--stats", "--log-level", "debug", "tenant", "rotate-key", "life1", "--api-key-env", "NEW_KEY", "--json"], &[("NEW_KEY", new_key)]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stderr.contains("PutSecretValue") && run.stderr.contains("UpdateService"), "the secret is written, then a deployment: {}", run.stderr);
    outputs.push_str(&run.all());
    let rotated = json(&run);
    assert_eq!(rotated["gateway_token_generated"], true);
    let value = secret_value(&secrets, "life1").await;
    assert_eq!(value["ANTHROPIC_API_KEY"], new_key);
    let new_token = value["OPENCLAW_GATEWAY_TOKEN"].as_str().unwrap().to_string();
    assert_eq!(new_token.len(), 64);
    assert_ne!(new_token, old_token);
    let deployed = service(&ecs, "life1").await.deployments()[0].id().unwrap().to_string();
    assert_ne!(deployed, after, "rotation starts a new deployment");
    assert_eq!(rotated["deployment_id"], deployed.as_str());
    let token_file = project.path().join("token");
    std::fs::write(&token_file, "given-gateway-token-0123456789\n").unwrap();
    let key_file = project.path().join("key");
    std::fs::write(&key_file, "sk-ant-test-FILEKEY-life1\n").unwrap();
    let run = project.run_with_env(
        &["tenant", "rotate-key", "life1", "--api-key-file", key_file.to_str().unwrap(), "--gateway-token-env", "TOKEN"],
        &[("TOKEN", "given-gateway-token-0123456789")],
    );
    assert_eq!(run.code, 0, "{}", run.all());
    outputs.push_str(&run.all());
    let value = secret_value(&secrets, "life1").await;
    assert_eq!(
        (value["ANTHROPIC_API_KEY"].as_str(), value["OPENCLAW_GATEWAY_TOKEN"].as_str()),
        (Some("sk-ant-test-FILEKEY-life1"), Some("given-gateway-token-0123456789"))
    );
    std::fs::remove_file(&token_file).unwrap();
    std::fs::remove_file(&key_file).unwrap();
    let plan = project.ok(&["tenant", "plan", "life1", "--detailed-exitcode", "--param", "image_tag=v2"], 0);
    outputs.push_str(&plan.all());
    let missing = project.run(&["tenant", "rotate-key", "life1"]);
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("--api-key-env"), "{}", missing.stderr);
    outputs.push_str(&project.ok(&["tenant", "show", "life1", "--json"], 0).all());
    outputs.push_str(&project.ok(&["state", "show", "tenant-life1", "secret"], 0).all());
    outputs.push_str(&crate::common::files_under(project.path()));
    for secret in [old_key, new_key, old_token.as_str(), new_token.as_str(), "sk-ant-test-FILEKEY-life1", "given-gateway-token-0123456789"] {
        assert!(!outputs.contains(secret), "a secret value leaked into output or state");
    }

    // Logs: only life1's streams, oldest first, from --since on.
    let now = now_ms();
    put_events(&logs, "life1/openclaw/task-a", &[(now - 3 * 3_600_000, "boot (old)"), (now - 20 * 60_000, "a: second")]).await;
    put_events(&logs, "life1/openclaw/task-b", &[(now - 30 * 60_000, "b: first"), (now - 10 * 60_000, "b: third")]).await;
    put_events(&logs, "life2/openclaw/task-c", &[(now - 15 * 60_000, "OTHER TENANT")]).await;
    let run = project.ok(&["tenant", "logs", "life1", "--since", "1h"], 0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    assert!(lines[0].contains("life1/openclaw/task-b b: first"), "{}", run.stdout);
    assert!(lines[1].contains("life1/openclaw/task-a a: second"), "{}", run.stdout);
    assert!(lines[2].contains("life1/openclaw/task-b b: third"), "{}", run.stdout);
    assert!(!run.stdout.contains("OTHER TENANT") && !run.stdout.contains("boot (old)"));
    let run = project.ok(&["tenant", "logs", "life1", "--since", "4h", "--json"], 0);
    let events: Vec<serde_json::Value> = run.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events.iter().map(|e| e["message"].as_str().unwrap()).collect::<Vec<_>>(), ["boot (old)", "b: first", "a: second", "b: third"]);
    assert!(events[0]["timestamp"].as_str().unwrap().ends_with('Z') && events[0]["stream"] == "life1/openclaw/task-a", "{}", run.stdout);
    let bad = project.run(&["tenant", "logs", "life1", "--since", "yesterday"]);
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("expected a duration such as 30s"), "{}", bad.stderr);

    // --follow: what arrives later is printed once; Ctrl-C exits 130.
    let mut child = spawn(project, &["tenant", "logs", "life1", "--since", "1h", "--follow", "--json"], &project.moto.endpoint, &[]);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "logs --follow ended early");
        seen.push(line);
    }
    put_events(&logs, "life1/openclaw/task-a", &[(now_ms(), "a: live")]).await;
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(line.contains("a: live"), "{line}");
    signal(&child, "INT");
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(!rest.contains("b: first") && !rest.contains("a: live"), "no event twice: {rest}");

    // Unknown tenants: exit 1 with the closest id, and no AWS call needed to say so.
    for args in [&["tenant", "status", "lif1"][..], &["tenant", "suspend", "lif1"], &["tenant", "restart", "lif1"], &["tenant", "logs", "lif1"]] {
        let run = project.run(args);
        assert_eq!(run.code, 1, "{args:?}: {}", run.all());
        assert!(run.stderr.contains("did you mean `life1`?") || run.stderr.contains("did you mean `life2`?"), "{args:?}: {}", run.stderr);
    }
    let bad = project.run(&["tenant", "status", "life1", "--wait", "running", "--timeout", "soon"]);
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("--timeout `soon`"), "{}", bad.stderr);

    for id in ["life1", "life2"] {
        project.ok(&["tenant", "destroy", id, "--auto-approve"], 0);
    }
    assert!(ecs
        .describe_services()
        .cluster(CLUSTER)
        .services("openclaw-life1")
        .send()
        .await
        .unwrap()
        .services()
        .iter()
        .all(|s| s.status() == Some("INACTIVE")));
    let _ = Duration::ZERO;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_library_reads_status_and_suspends() {
    use clawform::tenants::WaitFor;
    use clawform::{ApplyOptions, TenantSecrets, Tenants, Workspace};
    let project = shared();
    let _serial = SERIAL.lock().await;
    project.moto.set_process_env();
    let aws = std::sync::Arc::new(clawform::aws::AwsProvider::from_env(None).await);
    let tenants = Tenants::new(Workspace::open(project.path()), aws.clone()).with_aws(aws.clone());
    let options = ApplyOptions::default();
    let secrets = TenantSecrets { api_key: Some("sk-ant-test-LIB".into()), gateway_token: None };
    tenants.create("libt", &Default::default(), &secrets, &options).await.unwrap();

    let status = tenants.status("libt").await.unwrap();
    let service = status.service.clone().unwrap();
    assert_eq!((service.desired, service.running, service.pending, status.suspended), (1, 0, 1, false));
    let outcome = tenants.wait("libt", WaitFor::Running, Duration::from_secs(2), &|_| {}).await.unwrap();
    assert!(!outcome.reached);
    let reason = outcome.reason.unwrap();
    assert!(reason.contains("no capacity"), "{reason}");

    let info = tenants.suspend("libt", &options).await.unwrap();
    assert!(info.suspended);
    let status = tenants.status("libt").await.unwrap();
    assert_eq!((status.service.unwrap().desired, status.suspended, status.running), (0, true, true));
    assert!(tenants.list().await.unwrap().iter().any(|t| t.id == "libt" && t.suspended));
    let info = tenants.resume("libt", &options).await.unwrap();
    assert!(!info.suspended);
    assert!(tenants.wait("libt", WaitFor::Running, Duration::from_secs(10), &|_| {}).await.unwrap().reached);

    // Without the AWS provider, what reads AWS directly says how to give it.
    let plain = Tenants::new(Workspace::open(project.path()), aws.clone());
    assert!(plain.status("libt").await.unwrap_err().to_string().contains("with_aws"));
    let err = tenants.status("lib").await.unwrap_err().to_string();
    assert!(err.contains("did you mean `libt`?"), "{err}");
    tenants.destroy("libt", &options).await.unwrap();
}
