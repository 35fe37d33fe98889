//! terraform-compliance (PyPI, pinned by `scripts/setup-compliance.sh` into `.venv-compliance`)
//! runs the BDD features of `tests/compliance/` on clawform's plans as on Terraform's: the
//! base stack's plan from empty state and a new tenant's plan against a base applied to moto,
//! both written by `--json --compact` exactly as CI would hand them over. A plan broken by hand
//! must fail, so the features are not vacuous.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{copy_repo_stack, Project};
use serde_json::Value as Json;

fn terraform_compliance() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-compliance/bin/terraform-compliance");
    assert!(
        path.is_file(),
        "terraform-compliance is not installed at {}: run scripts/setup-compliance.sh (it installs terraform-compliance==1.16.0 into .venv-compliance; scripts/test.sh runs it first)",
        path.display()
    );
    path
}

/// Runs the features on a plan file; returns (passed, output).
fn run(plan: &Path) -> (bool, String) {
    let features = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compliance");
    let out = Command::new(terraform_compliance())
        .arg("-S")
        .arg("-f")
        .arg(&features)
        .arg("-p")
        .arg(plan)
        // Nothing leaves the machine.
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .env("NO_COLOR", "1")
        .output()
        .expect("run terraform-compliance");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// Checks a one-line plan passes every feature, and fails once the VPC's or first taggable
/// resource's ownership tag is removed by hand.
fn passes_and_a_broken_copy_fails(project: &Project, name: &str, plan_text: &str, taggable: &str) {
    assert_eq!(plan_text.trim_end().lines().count(), 1, "--compact writes one line");
    let plan: Json = serde_json::from_str(plan_text).expect("plan JSON");
    assert_eq!(plan["terraform_version"], clawform::core::tfjson::COMPATIBLE_TERRAFORM_VERSION);
    let path = project.path().join(format!("{name}.json"));
    std::fs::write(&path, plan_text).unwrap();
    let (ok, out) = run(&path);
    assert!(ok && out.contains("passed") && !out.contains("failed"), "{name}: {out}");
    assert!(!out.lines().any(|l| l.trim_start().starts_with("0 scenarios")), "{name}: the features ran: {out}");

    let mut broken = plan.clone();
    let change = broken["resource_changes"].as_array_mut().unwrap().iter_mut().find(|c| c["address"] == taggable).expect("the resource in the plan");
    change["change"]["after"]["tags_all"].as_object_mut().expect("tags_all").remove("clawform:stack");
    let path = project.path().join(format!("{name}-broken.json"));
    std::fs::write(&path, serde_json::to_string(&broken).unwrap()).unwrap();
    let (ok, out) = run(&path);
    assert!(!ok && out.contains("clawform:stack"), "{name}: a plan without the ownership tag fails: {out}");
}

#[test]
fn the_base_plan_passes_the_compliance_features() {
    let project = Project::new();
    copy_repo_stack(&project, "base");
    let run = project.ok(&["plan", "base", "--refresh=false", "--json", "--compact"], 0);
    passes_and_a_broken_copy_fails(&project, "base", &run.stdout, "aws_vpc.vpc");
}

#[test]
fn a_new_tenants_plan_passes_the_compliance_features() {
    let project = Project::new();
    copy_repo_stack(&project, "base");
    copy_repo_stack(&project, "tenant");
    project.ok(&["apply", "base", "--auto-approve"], 0);
    let run = project.ok(&["tenant", "plan", "tc1", "--json", "--compact"], 0);
    passes_and_a_broken_copy_fails(&project, "tenant", &run.stdout, "aws_lb_target_group.target_group");
}
