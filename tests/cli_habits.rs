//! What a Terraform user expects of the CLI: usage errors exit 1 (2 is "changes"), Terraform's
//! single-dash options work, typos get "did you mean", secrets never come from argv, a saved
//! plan is applied with its own parameters, and a state is used only in its region.

use crate::common::{ec2, Project};

const NET: &str = "stack: net\nresources:\n  vpc:\n    type: aws_vpc\n    cidr_block: 10.61.0.0/16\n";

#[test]
fn usage_errors_exit_1_never_2() {
    let project = Project::new();
    project.write_stack("net", NET);
    for args in [&["plan", "net", "--refersh=false"][..], &["plan"], &["no-such-command"], &["plan", "net", "--detailed-exitcode", "--bogus"]] {
        let run = project.run(args);
        assert_eq!(run.code, 1, "clawform {args:?}: a usage error must not read as \"changes\"\n{}", run.all());
    }
    assert_eq!(project.run(&["--help"]).code, 0, "help is an answer, not an error");
    assert_eq!(project.run(&["--version"]).code, 0);
}

#[test]
fn terraform_single_dash_options_are_understood() {
    let project = Project::new();
    project.write_stack("net", NET);
    let plan_file = project.path().join("net.plan");
    let out = format!("-out={}", plan_file.display());
    let run = project.ok(&["plan", "net", "-refresh=false", &out, "-detailed-exitcode"], 2);
    assert!(run.stdout.contains("1 to add"), "{}", run.all());
    assert!(plan_file.exists(), "-out= saved the plan");
    // -chdir=DIR is -C DIR (run from another folder, without the helper's own -C).
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let chdir = format!("-chdir={}", project.path().display());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_clawform"))
        .current_dir(elsewhere.path())
        .args([chdir.as_str(), "validate", "net"])
        .env("NO_COLOR", "1")
        .output()
        .expect("run clawform");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("The stack `net` is valid"));
}

#[test]
fn file_arguments_are_relative_to_the_folder_of_c() {
    // `clawform -C PROJECT plan net --out rel.plan`, then `show rel.plan`: both in PROJECT, as
    // Terraform's -chdir does, whatever folder the shell is in.
    let project = Project::new();
    project.write_stack("net", NET);
    project.ok(&["plan", "net", "--refresh=false", "--out", "rel.plan"], 0);
    assert!(project.path().join("rel.plan").is_file(), "the plan file is written in the -C folder");
    let shown = project.ok(&["show", "rel.plan"], 0);
    assert!(shown.stdout.contains("1 to add"), "{}", shown.all());
    let help = project.ok(&["--help"], 0);
    assert!(help.stdout.contains("relative to DIR"), "--help says where file arguments are read: {}", help.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn typos_get_the_closest_name_and_exit_1() {
    let project = Project::new();
    project.write_stack("network", &NET.replace("stack: net", "stack: network"));
    project.ok(&["apply", "network", "--auto-approve"], 0);
    let run = project.ok(&["drift", "netwrk"], 1);
    assert!(run.stderr.contains("did you mean `network`?"), "a typo is not a clean drift check: {}", run.all());
    let run = project.ok(&["destroy", "netwrk", "--auto-approve"], 1);
    assert!(run.stderr.contains("did you mean `network`?"), "{}", run.all());
    project.write_stack("typo", "stack: typo\nresources:\n  vpc:\n    type: aws_vcp\n    cidr_block: 10.0.0.0/16\n");
    let run = project.ok(&["validate", "typo"], 1);
    assert!(run.stderr.contains("did you mean `aws_vpc`?"), "{}", run.all());
    let run = project.ok(&["tenant", "destroy", "nobody", "--auto-approve"], 1);
    assert!(run.stderr.contains("there is no tenant `nobody`"), "{}", run.all());
    project.ok(&["destroy", "network", "--auto-approve"], 0);
}

#[test]
fn secrets_on_the_command_line_are_refused_with_the_way_to_give_them() {
    let project = Project::new();
    crate::common::copy_repo_stack(&project, "tenant");
    let run = project.ok(&["tenant", "plan", "t9", "--param", "api_key=sk-not-here", "--refresh=false"], 1);
    assert!(run.stderr.contains("`--param api_key` is a sensitive parameter") && run.stderr.contains("--api-key-env"), "{}", run.all());
    assert!(!run.all().contains("sk-not-here"), "the value is never echoed: {}", run.all());
    assert!(!project.path().join("state").exists(), "nothing was written");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_keeps_its_parameters_and_a_state_its_region() {
    let project = Project::new();
    project
        .write_stack("net", "stack: net\nparams:\n  cidr: { default: 10.62.0.0/16 }\nresources:\n  vpc:\n    type: aws_vpc\n    cidr_block: ${param.cidr}\n");
    let plan_file = project.path().join("net.plan");
    project.ok(&["plan", "net", "--out", plan_file.to_str().unwrap()], 0);
    let run = project.ok(&["apply", plan_file.to_str().unwrap(), "--param", "cidr=10.63.0.0/16"], 1);
    assert!(run.stderr.contains("`--param` cannot be given with a saved plan"), "{}", run.all());
    project.ok(&["apply", plan_file.to_str().unwrap()], 0);
    assert_eq!(project.state("net")["region"], "us-west-2", "the first apply records the region");

    // Another region: refused, not "deleted outside clawform" and planned again.
    let run = project.ok(&["plan", "net", "--region", "eu-west-1"], 1);
    assert!(run.stderr.contains("in region us-west-2") && run.stderr.contains("--region us-west-2"), "{}", run.all());
    let run = project.ok(&["drift", "net", "--region", "eu-west-1"], 1);
    assert!(run.stderr.contains("in region us-west-2"), "{}", run.all());
    let ec2 = ec2(&project.moto).await;
    let vpcs = ec2.describe_vpcs().filters(aws_sdk_ec2::types::Filter::builder().name("cidr").values("10.62.0.0/16").build()).send().await.unwrap();
    assert_eq!(vpcs.vpcs().len(), 1, "one VPC, made once");
    project.ok(&["destroy", "net", "--auto-approve"], 0);
}
