//! The example CI workflow (`examples/ci/clawform.yml`) cannot fall behind the CLI: it parses as
//! a GitHub Actions workflow with the jobs the README describes, and every `clawform` command it
//! runs exists with every flag it passes (checked against the real binary's `--help`).

use std::path::Path;
use std::process::Command;

use serde_yaml::Value as Yaml;

fn workflow() -> Yaml {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ci/clawform.yml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()))
}

/// Every `run:` script of a job, in order.
fn scripts(job: &Yaml) -> Vec<String> {
    job["steps"].as_sequence().expect("steps").iter().filter_map(|s| s["run"].as_str().map(str::to_string)).collect()
}

/// The clawform invocations in a script: (subcommand words, flags).
fn invocations(script: &str) -> Vec<(Vec<String>, Vec<String>)> {
    let mut out = Vec::new();
    // Continuation lines join their command.
    let joined = script.replace("\\\n", " ");
    for line in joined.lines() {
        let tokens: Vec<&str> = line.split_whitespace().collect();
        // Commands start a line (`echo "… clawform …"` is text, not a command).
        if tokens.first() != Some(&"clawform") {
            continue;
        }
        let args: Vec<&str> = tokens[1..].iter().take_while(|t| !matches!(**t, ">" | ">>" | "|" | "||" | "&&" | ";" | "2>&1")).copied().collect();
        let mut words = vec![args.first().expect("a subcommand after clawform").to_string()];
        if matches!(words[0].as_str(), "tenant" | "state") {
            words.push(args[1].to_string());
        }
        let flags = args.iter().filter(|a| a.starts_with("--")).map(|a| a.split('=').next().unwrap_or(a).to_string()).collect();
        out.push((words, flags));
    }
    out
}

#[test]
fn the_example_workflow_plans_checks_comments_and_checks_drift() {
    let wf = workflow();
    // serde_yaml reads the key `on` as a string (YAML 1.2), as GitHub does.
    let on = &wf["on"];
    assert!(on.get("pull_request").is_some() && on.get("schedule").is_some(), "runs on pull requests and on a schedule: {on:?}");
    let plan = scripts(&wf["jobs"]["plan"]).join("\n");
    assert!(plan.contains("--detailed-exitcode") && plan.contains("show base.tfplan --json > plan.json"), "{plan}");
    assert!(plan.contains("checkov --framework terraform_plan -f plan.json"), "{plan}");
    assert!(plan.contains("gh pr comment"), "{plan}");
    let drift = scripts(&wf["jobs"]["drift"]).join("\n");
    assert!(drift.contains("clawform drift --all") && drift.contains("\"$code\" = 2"), "{drift}");
    assert!(wf["jobs"]["drift"]["steps"].as_sequence().unwrap().iter().any(|s| s["if"].as_str() == Some("failure()")), "an alert step on failure");
}

#[test]
fn every_clawform_command_and_flag_in_the_example_workflow_exists() {
    let wf = workflow();
    let mut seen = 0;
    for (name, job) in wf["jobs"].as_mapping().expect("jobs") {
        for script in scripts(job) {
            for (words, flags) in invocations(&script) {
                let help = Command::new(env!("CARGO_BIN_EXE_clawform")).args(&words).arg("--help").output().expect("run clawform");
                let text = String::from_utf8_lossy(&help.stdout);
                assert!(help.status.success(), "job {name:?}: `clawform {} --help` failed: {}", words.join(" "), String::from_utf8_lossy(&help.stderr));
                for flag in &flags {
                    assert!(text.contains(flag.as_str()), "job {name:?}: `clawform {}` has no flag {flag}:\n{text}", words.join(" "));
                }
                seen += 1;
            }
        }
    }
    assert!(seen >= 5, "the workflow runs clawform {seen} times; expected plan, show, tenant plan, drift");
}
