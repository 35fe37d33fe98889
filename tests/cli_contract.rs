//! The CLI's contract with scripts and CI: exit codes, located errors, locks, saved plans,
//! confirmation, graph and state commands.

use crate::common::{ec2, owned_by, Project};

fn small(name: &str, cidr: &str) -> String {
    let subnet = cidr.replace(".0.0/16", ".1.0/24");
    format!(
        "stack: {name}\nresources:\n  vpc:\n    type: aws_vpc\n    cidr_block: {cidr}\n  subnet:\n    type: aws_subnet\n    vpc_id: ${{vpc.id}}\n    cidr_block: {subnet}\noutputs:\n  vpc_id: ${{vpc.id}}\n"
    )
}

#[test]
fn invalid_stacks_fail_with_file_line_column_and_touch_nothing() {
    let project = Project::new();
    let cases: &[(&str, &str, &str)] = &[
        ("stack: s\nresources:\n  vpc:\n    type: aws_vpc\n    cidr_blok: 10.0.0.0/16\n", ":5:5:", "unknown field `cidr_blok`"),
        ("stack: s\nresources:\n  vpc:\n    type: aws_vpc\n    cidr_block: 10.0.0.0/16\n    enable_dns_hostnames: sometimes\n", ":6:27:", "expected a boolean"),
        ("stack: s\nresources:\n  vpc:\n    type: aws_vpc\n    cidr_block: 10.0.0.300/16\n", ":5:17:", "not an IPv4 CIDR block"),
        ("stack: s\nresources:\n  vpc:\n    type: aws_vpcc\n    cidr_block: 10.0.0.0/16\n", ":4:11:", "unknown resource type `aws_vpcc`"),
        ("stack: s\nresources:\n  subnet:\n    type: aws_subnet\n    vpc_id: ${nothing.id}\n    cidr_block: 10.0.1.0/24\n", ":5:13:", "no resource `nothing`"),
        ("stack: s\nresources:\n  vpc:\n    type: aws_vpc\n    cidr_block: ${param.cidr}\n", ":5:17:", "no parameter `cidr`"),
        ("stack: s\nresources:\n  vpc:\n    type: aws_vpc\n    cidr_block: [unclosed\n", ":6:1:", "invalid YAML"),
        (
            "stack: s\nresources:\n  vpc:\n    type: aws_vpc\n    cidr_block: 10.0.0.0/16\n  a:\n    type: aws_subnet\n    vpc_id: ${vpc.id}\n    cidr_block: 10.1.1.0/24\n",
            ":9:17:",
            "not inside 10.0.0.0/16",
        ),
        (
            "stack: s\nresources:\n  vpc:\n    type: aws_vpc\n    cidr_block: 10.0.0.0/16\n  a:\n    type: aws_subnet\n    vpc_id: ${vpc.id}\n    cidr_block: 10.0.1.0/24\n  b:\n    type: aws_subnet\n    vpc_id: ${vpc.id}\n    cidr_block: 10.0.1.128/25\n",
            ":13:17:",
            "overlaps subnet `a`",
        ),
        (
            "stack: s\nresources:\n  vpc:\n    type: aws_vpc\n    cidr_block: 10.0.0.0/16\n  a:\n    type: aws_subnet\n    vpc_id: ${vpc.id}\n    cidr_block: 10.0.1.0/24\n    availability_zone: uswest2a\n",
            ":10:24:",
            "not an availability zone name",
        ),
        (
            "stack: s\nresources:\n  a:\n    type: aws_subnet\n    vpc_id: ${b.id}\n    cidr_block: 10.0.1.0/24\n  b:\n    type: aws_subnet\n    vpc_id: ${a.id}\n    cidr_block: 10.0.2.0/24\n",
            ":3:3:",
            "dependency cycle: a -> b -> a",
        ),
    ];
    for (i, (text, at, message)) in cases.iter().enumerate() {
        let file = format!("bad{i}");
        project.write_stack(&file, text);
        for command in ["validate", "plan", "apply"] {
            let mut args = vec![command, file.as_str()];
            if command == "apply" {
                args.push("--auto-approve");
            }
            // An endpoint nobody listens on: any AWS call would fail differently and slowly.
            let run = project.run_with_env(&args, &[("AWS_ENDPOINT_URL", "http://127.0.0.1:9")]);
            assert_eq!(run.code, 1, "{command} {file}: {}", run.all());
            let expected_at = format!("stacks/{file}.yaml{at}");
            assert!(run.stderr.contains(&expected_at), "{command} {file}: expected {expected_at} in\n{}", run.stderr);
            assert!(run.stderr.contains(message), "{command} {file}: expected `{message}` in\n{}", run.stderr);
            assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        }
    }
    assert!(!project.path().join("state").join("s.json").exists(), "no state was written");
}

#[test]
fn a_bad_parameter_value_is_refused_at_plan_time_where_it_is_used() {
    let project = Project::new();
    let text = "stack: p\nparams:\n  days:\n    default: 30\nresources:\n  logs:\n    type: aws_cloudwatch_log_group\n    name: /p\n    retention_in_days: ${param.days}\n";
    project.write_stack("p", text);
    project.ok(&["validate", "p"], 0);
    let run = project.run_with_env(&["plan", "p", "--param", "days=13"], &[("AWS_ENDPOINT_URL", "http://127.0.0.1:9")]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("stacks/p.yaml:9:24:") && run.stderr.contains("retention"), "{}", run.stderr);
}

#[test]
fn apply_without_a_terminal_refuses_instead_of_hanging() {
    let project = Project::new();
    let name = clawform_testkit::unique("tty");
    project.write_stack("net", &small(&name, "10.30.0.0/16"));
    let run = project.run(&["apply", "net"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("--auto-approve"), "{}", run.stderr);
    assert!(!project.state_file(&name).exists());
    assert!(!project.path().join("state").join(format!("{name}.lock")).exists(), "the lock is released");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_locked_stack_refuses_a_second_writer_until_force_unlock() {
    let project = Project::new();
    let name = clawform_testkit::unique("lock");
    project.write_stack("net", &small(&name, "10.31.0.0/16"));
    std::fs::create_dir_all(project.path().join("state")).unwrap();
    let holder = r#"{"id":"abc","who":"ci@runner-7 (pid 4242)","operation":"apply","created":"2026-11-26T10:00:00Z"}"#;
    std::fs::write(project.path().join("state").join(format!("{name}.lock")), holder).unwrap();
    let run = project.ok(&["apply", "net", "--auto-approve"], 1);
    assert!(run.stderr.contains("ci@runner-7 (pid 4242)") && run.stderr.contains("2026-11-26T10:00:00Z"), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("clawform force-unlock {name} abc")), "{}", run.stderr);
    // plan takes the lock too, as Terraform's does; --lock=false plans without it.
    let plan = project.ok(&["plan", "net"], 1);
    assert!(plan.stderr.contains("ci@runner-7 (pid 4242)"), "{}", plan.stderr);
    project.ok(&["plan", "net", "--lock=false"], 0);
    let ec2 = ec2(&project.moto).await;
    assert!(ec2.describe_vpcs().filters(owned_by(&name)).send().await.unwrap().vpcs().is_empty(), "nothing was created");
    // With --lock-timeout the second writer waits for the holder instead of failing.
    let lock_file = project.path().join("state").join(format!("{name}.lock"));
    let releaser = {
        let lock_file = lock_file.clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(1500));
            std::fs::remove_file(lock_file).unwrap();
        })
    };
    let started = std::time::Instant::now();
    let waited = project.ok(&["--lock-timeout", "20", "apply", "net", "--auto-approve"], 0);
    releaser.join().unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_millis(1500), "it waited for the holder");
    assert!(waited.stdout.contains("Apply complete!"), "{}", waited.stdout);
    std::fs::write(&lock_file, holder).unwrap();
    // force-unlock asks (no terminal here: refused without --force), and wants the lock's id.
    let unasked = project.ok(&["force-unlock", "net", "abc"], 1);
    assert!(unasked.stderr.contains("--force"), "{}", unasked.stderr);
    let wrong = project.ok(&["force-unlock", "net", "abd", "--force"], 1);
    assert!(wrong.stderr.contains("has id abc, not abd") && lock_file.exists(), "{}", wrong.stderr);
    let unlock = project.ok(&["force-unlock", "net", "abc", "--force"], 0);
    assert!(unlock.stdout.contains("ci@runner-7"), "{}", unlock.stdout);
    assert!(!lock_file.exists(), "the lock is gone");
    // A lock whose holder ran on this host and is gone says so.
    let mut dead = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_string();
    std::fs::write(
        &lock_file,
        format!(r#"{{"id":"def","who":"me@{host} (pid {dead_pid})","operation":"apply","created":"2026-11-26T10:00:00Z","host":"{host}","pid":{dead_pid}}}"#),
    )
    .unwrap();
    let stale = project.ok(&["apply", "net", "--auto-approve"], 1);
    assert!(
        stale.stderr.contains(&format!("process {dead_pid} is no longer running on this host")) && stale.stderr.contains(&format!("force-unlock {name} def")),
        "{}",
        stale.stderr
    );
    project.ok(&["force-unlock", "net", "def", "--force"], 0);
    project.ok(&["apply", "net", "--auto-approve"], 0);
    project.ok(&["destroy", "net", "--auto-approve"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_applies_exactly_and_is_refused_once_state_moves_on() {
    let project = Project::new();
    let name = clawform_testkit::unique("saved");
    project.write_stack("net", &small(&name, "10.32.0.0/16"));
    let plan_file = project.path().join("first.plan");
    let stale_file = project.path().join("stale.plan");
    project.ok(&["plan", "net", "--out", plan_file.to_str().unwrap()], 0);
    project.ok(&["plan", "net", "--out", stale_file.to_str().unwrap()], 0);
    let applied = project.ok(&["apply", plan_file.to_str().unwrap()], 0);
    assert!(applied.stdout.contains("2 added"), "{}", applied.stdout);
    let stale = project.ok(&["apply", stale_file.to_str().unwrap()], 1);
    assert!(stale.stderr.contains("stale"), "{}", stale.stderr);
    let ec2 = ec2(&project.moto).await;
    assert_eq!(ec2.describe_vpcs().filters(owned_by(&name)).send().await.unwrap().vpcs().len(), 1, "the stale plan created no duplicate");

    let list = project.ok(&["state", "list", "net"], 0);
    assert_eq!(list.stdout.lines().collect::<Vec<_>>(), vec!["subnet", "vpc"], "sorted, as terraform state list");
    let show = project.ok(&["state", "show", "net", "subnet", "--json"], 0);
    let shown: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(shown["attributes"]["cidr_block"], "10.32.1.0/24");
    assert_eq!(shown["dependencies"], serde_json::json!(["vpc"]));

    let json = project.ok(&["plan", "net", "--json", "--detailed-exitcode"], 0);
    let plan: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(plan["format_version"], "1.2", "Terraform's plan format");
    assert_eq!(plan["applyable"], false);
    assert!(plan["resource_changes"].as_array().unwrap().iter().all(|c| c["change"]["actions"] == serde_json::json!(["no-op"])));

    let destroy_plan = project.ok(&["plan", "net", "--destroy", "--json"], 0);
    let plan: serde_json::Value = serde_json::from_str(&destroy_plan.stdout).unwrap();
    let deletes = plan["resource_changes"].as_array().unwrap().iter().filter(|c| c["change"]["actions"] == serde_json::json!(["delete"])).count();
    assert_eq!(deletes, 2);
    let native = project.ok(&["plan", "net", "--destroy", "--json", "--json-format", "native"], 0);
    let plan: serde_json::Value = serde_json::from_str(&native.stdout).unwrap();
    assert_eq!(plan["summary"]["destroy"], 2);
    project.ok(&["destroy", "net", "--auto-approve"], 0);
    assert!(ec2.describe_vpcs().filters(owned_by(&name)).send().await.unwrap().vpcs().is_empty());
}

#[test]
fn graph_prints_dot_with_edges_to_dependencies() {
    let project = Project::new();
    project.write_stack("net", &small("g", "10.33.0.0/16"));
    let run = project.ok(&["graph", "net"], 0);
    assert!(run.stdout.starts_with("digraph \"g\" {"), "{}", run.stdout);
    assert!(run.stdout.contains("\"subnet\" -> \"vpc\";"), "{}", run.stdout);
}
