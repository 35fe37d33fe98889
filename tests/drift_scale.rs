//! Batched reads at scale: a drift check of the base platform and 100 tenants costs fewer AWS
//! API calls than there are tenants (counted by the SDK interceptor behind `--stats`).

use std::process::{Command, Stdio};

use crate::common::{copy_repo_stack, Project};

#[test]
fn drift_of_base_and_100_tenants_costs_fewer_calls_than_tenants() {
    let project = Project::new();
    copy_repo_stack(&project, "base");
    copy_repo_stack(&project, "tenant");
    project.ok(&["apply", "base", "--auto-approve"], 0);
    let ids: Vec<String> = (0..100).map(|i| format!("scale{i:03}")).collect();
    for wave in ids.chunks(20) {
        let children: Vec<_> = wave
            .iter()
            .map(|id| {
                let mut cmd = Command::new(env!("CARGO_BIN_EXE_clawform"));
                cmd.arg("-C").arg(project.path()).args(["tenant", "create", id, "--api-key-env", "K", "--json"]);
                cmd.env("K", "sk-ant-scale").env("NO_COLOR", "1").stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
                for (k, v) in project.moto.env() {
                    cmd.env(k, v);
                }
                (id.clone(), cmd.spawn().expect("spawn"))
            })
            .collect();
        for (id, child) in children {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "{id}: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    let run = project.ok(&["drift", "--all", "--stats"], 0);
    assert!(run.stdout.contains("101 stacks"), "{}", run.stdout);
    let total: u64 = run
        .stderr
        .lines()
        .find(|l| l.trim_start().starts_with("total"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no total in --stats output:\n{}", run.stderr));
    eprintln!("drift --all of base + 100 tenants: {total} API calls\n{}", run.stderr);
    assert!(total < 100, "{total} calls for 100 tenants:\n{}", run.stderr);
}
