//! Helpers for the reliability tests (faults, crashes, Ctrl-C, secrets): the CLI run through the
//! fault proxy, and independent reads of what moto holds.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};

use super::{sdk_config, Project, Run};

/// `clawform -C PROJECT ARGS…` started (not waited for) with the SDK pointed at `endpoint` (the
/// fault proxy), stdout and stderr piped.
pub fn spawn(project: &Project, args: &[&str], endpoint: &str, extra: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_clawform"));
    cmd.arg("-C")
        .arg(project.path())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("AWS_PROFILE")
        .env("NO_COLOR", "1");
    for (k, v) in project.moto.env() {
        cmd.env(k, v);
    }
    cmd.env("AWS_ENDPOINT_URL", endpoint);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.spawn().expect("start clawform")
}

/// Runs `clawform` through `endpoint` to the end.
pub fn run_via(project: &Project, args: &[&str], endpoint: &str, extra: &[(&str, &str)]) -> Run {
    let out = spawn(project, args, endpoint, extra).wait_with_output().expect("wait for clawform");
    Run { code: out.status.code().unwrap_or(-1), stdout: String::from_utf8_lossy(&out.stdout).into(), stderr: String::from_utf8_lossy(&out.stderr).into() }
}

/// Sends `signal` to a process.
pub fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill").arg(format!("-{signal}")).arg(child.id().to_string()).status().expect("run kill");
    assert!(status.success(), "kill -{signal} {} failed", child.id());
}

/// Every live resource moto holds tagged `clawform:stack = stack`, by its `clawform:address`
/// tag, read with the Resource Groups Tagging API (not through clawform). Task definition
/// revisions that were deregistered are left out (AWS keeps them listed as INACTIVE).
pub async fn tagged(project: &Project, stack: &str) -> BTreeMap<String, Vec<String>> {
    let config = sdk_config(&project.moto).await;
    let tagging = aws_sdk_resourcegroupstagging::Client::new(&config);
    let ecs = aws_sdk_ecs::Client::new(&config);
    let filter = aws_sdk_resourcegroupstagging::types::TagFilter::builder().key("clawform:stack").values(stack).build();
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut pages = tagging.get_resources().tag_filters(filter).into_paginator().send();
    while let Some(page) = pages.next().await {
        for m in page.expect("GetResources").resource_tag_mapping_list() {
            let arn = m.resource_arn().unwrap_or_default().to_string();
            if arn.contains(":task-definition/") {
                let td = ecs.describe_task_definition().task_definition(&arn).send().await.expect("DescribeTaskDefinition");
                if td.task_definition().and_then(|t| t.status()).map(|s| s.as_str()) == Some("INACTIVE") {
                    continue;
                }
            }
            let tag = m.tags().iter().find(|t| t.key() == "clawform:address").map(|t| t.value().to_string()).unwrap_or_default();
            // Tag values cannot hold brackets: `alb.2` stands for `alb[2]`.
            let address = match tag.split_once('.') {
                Some((name, index)) => format!("{name}[{index}]"),
                None => tag,
            };
            out.entry(address).or_default().push(arn);
        }
    }
    out
}

/// Asserts what a converged stack looks like in moto after a crash and a second run: one live
/// resource per address, nothing tagged that state does not hold, and `resources` in state.
/// Returns the state document. `what` names the run in failure messages.
pub async fn assert_converged(project: &Project, stack: &str, resources: usize, what: &str) -> serde_json::Value {
    let live = live_everywhere(project, stack).await;
    assert_eq!(duplicates(&live), Vec::<(&String, &Vec<String>)>::new(), "{what}");
    let state = project.state(stack);
    assert_eq!(untracked(&live, &state), Vec::<String>::new(), "{what}");
    assert_eq!(state["resources"].as_array().map(Vec::len), Some(resources), "{what}");
    state
}

/// What the tagging API and each type's own API (`inventory`) list for `stack`, merged: one
/// entry per resource, whichever way it was found (an ARN and the id it ends with are one).
pub async fn live_everywhere(project: &Project, stack: &str) -> BTreeMap<String, Vec<String>> {
    let mut live = tagged(project, stack).await;
    for (address, ids) in super::inventory::owned_by_stack(&project.moto, stack).await {
        let known = live.entry(address).or_default();
        for id in ids {
            let same = |k: &String| *k == id || k.ends_with(&format!("/{id}")) || k.ends_with(&format!(":{id}")) || k.ends_with(&format!(":{id}:*"));
            if !known.iter().any(same) {
                known.push(id);
            }
        }
    }
    live
}

/// Addresses that more than one live resource claims.
pub fn duplicates(tagged: &BTreeMap<String, Vec<String>>) -> Vec<(&String, &Vec<String>)> {
    tagged.iter().filter(|(_, arns)| arns.len() > 1).collect()
}

/// Live tagged resources whose address state does not hold (or holds with another id).
pub fn untracked(tagged: &BTreeMap<String, Vec<String>>, state: &serde_json::Value) -> Vec<String> {
    let resources = state["resources"].as_array().cloned().unwrap_or_default();
    let mut out = Vec::new();
    for (address, arns) in tagged {
        let recorded = resources.iter().find(|r| r["address"].as_str() == Some(address.as_str()));
        for arn in arns {
            let matches = recorded.is_some_and(|r| {
                let id = r["id"].as_str().unwrap_or("#");
                let state_arn = r["attributes"]["arn"].as_str();
                arn == id
                    || state_arn == Some(arn.as_str())
                    || arn.ends_with(&format!("/{id}"))
                    || arn.ends_with(&format!(":{id}"))
                    || arn.ends_with(&format!(":{id}:*"))
            });
            if !matches {
                out.push(format!("{address}: {arn}"));
            }
        }
    }
    out
}
