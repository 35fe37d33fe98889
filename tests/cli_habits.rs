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
    // Before anything is applied, the stack files are the names a typo is measured against.
    let run = project.ok(&["drift", "netwrk"], 1);
    assert!(run.stderr.contains("did you mean `network`?"), "{}", run.all());
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
    assert!(run.stderr.contains("cannot be given with a saved plan"), "{}", run.all());
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

/// Runs `clawform -C PROJECT ARGS…` with only `env` (and PATH) set: no AWS variables unless
/// given, a HOME of its own (no ~/.aws), and the instance metadata service off (no request ever
/// leaves 127.0.0.1).
fn run_bare(project: &Project, home: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> crate::common::Run {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_clawform"))
        .arg("-C")
        .arg(project.path())
        .args(args)
        .stdin(std::process::Stdio::null())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .output()
        .expect("run clawform");
    crate::common::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

#[test]
fn missing_aws_configuration_is_said_in_words_and_profile_and_endpoint_url_are_flags() {
    let project = Project::new();
    let name = clawform_testkit::unique("cfg");
    project.write_stack("net", &NET.replace("stack: net", &format!("stack: {name}")).replace("10.61.", "10.66."));
    let home = tempfile::tempdir().expect("home");
    let endpoint = project.moto.endpoint.clone();

    // No region anywhere: one sentence naming the three ways to set it, no SDK dump.
    let run = run_bare(&project, home.path(), &["import", "net", "vpc", "vpc-0abc"], &[]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("no AWS region is configured") && run.stderr.contains("--region") && run.stderr.contains("AWS_REGION"), "{}", run.stderr);
    assert!(run.stderr.len() < 400, "a short message, not a debug dump ({} bytes): {}", run.stderr.len(), run.stderr);
    // The same where the SDK also asks the instance metadata service for a region, as on any
    // laptop: its failed probes (a warning with a debug dump each) are not printed. The probe
    // goes to a closed port on 127.0.0.1.
    let imds = [("AWS_EC2_METADATA_DISABLED", "false"), ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9")];
    let run = run_bare(&project, home.path(), &["import", "net", "vpc", "vpc-0abc"], &imds);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("no AWS region is configured") && run.stderr.len() < 400,
        "one sentence, no probe dumps ({} bytes): {}",
        run.stderr.len(),
        run.stderr
    );

    // A region but no credentials: said in words too.
    let run = run_bare(&project, home.path(), &["--endpoint-url", &endpoint, "import", "net", "vpc", "vpc-0abc"], &[("AWS_REGION", "us-west-2")]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("no AWS credentials were found") && run.stderr.contains("--profile"), "{}", run.stderr);
    assert!(run.stderr.len() < 700, "a short message, not a debug dump ({} bytes): {}", run.stderr.len(), run.stderr);

    // --profile picks region and credentials from ~/.aws; --endpoint-url sends every request to
    // moto without AWS_ENDPOINT_URL.
    let aws = home.path().join(".aws");
    std::fs::create_dir_all(&aws).unwrap();
    std::fs::write(aws.join("config"), "[profile ci]\nregion = us-west-2\n").unwrap();
    std::fs::write(aws.join("credentials"), "[ci]\naws_access_key_id = testing\naws_secret_access_key = testing\n").unwrap();
    let applied = run_bare(&project, home.path(), &["--profile", "ci", "--endpoint-url", &endpoint, "apply", "net", "--auto-approve"], &[]);
    assert_eq!(applied.code, 0, "{}", applied.all());
    assert!(applied.stdout.contains("1 added"), "{}", applied.stdout);
    let destroyed = run_bare(&project, home.path(), &["--profile", "ci", "--endpoint-url", &endpoint, "destroy", "net", "--auto-approve"], &[]);
    assert_eq!(destroyed.code, 0, "{}", destroyed.all());
}

#[test]
fn log_levels_are_checked_and_debug_shows_clawform_not_the_sdk() {
    let project = Project::new();
    let name = clawform_testkit::unique("logs");
    project.write_stack("net", &NET.replace("stack: net", &format!("stack: {name}")).replace("10.61.", "10.67."));
    let wrong = project.ok(&["--log-level", "verbose", "plan", "net"], 1);
    assert!(wrong.stderr.contains("possible values") && wrong.stderr.contains("debug"), "{}", wrong.stderr);
    let debug = project.ok(&["--log-level", "debug", "apply", "net", "--auto-approve"], 0);
    assert!(debug.stderr.contains("clawform"), "clawform's own spans are shown: {}", debug.stderr);
    for noise in ["aws_smithy", "aws_config", "hyper", "aws_sdk_"] {
        assert!(!debug.stderr.contains(noise), "the SDK stays at warn unless RUST_LOG asks ({noise}): {}", debug.stderr);
    }
    assert!(!debug.stderr.contains('\u{1b}'), "no colour codes in log lines off a terminal");
    project.ok(&["destroy", "net", "--auto-approve"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn terraform_habits_params_files_targets_replace_state_mv_rm_validate_output_version() {
    let project = Project::new();
    let name = clawform_testkit::unique("habits");
    let stack = format!(
        "stack: {name}\nparams:\n  label: {{ default: plain }}\n  cidr: {{ default: 10.68.0.0/16 }}\nresources:\n  vpc:\n    type: aws_vpc\n    cidr_block: ${{param.cidr}}\n    tags:\n      Name: ${{param.label}}\n  subnet:\n    type: aws_subnet\n    vpc_id: ${{vpc.id}}\n    cidr_block: 10.68.1.0/24\n  other:\n    type: aws_vpc\n    cidr_block: 10.69.0.0/16\noutputs:\n  vpc_id: ${{vpc.id}}\n  cidrs: [\"${{param.cidr}}\", 10.69.0.0/16]\n"
    );
    project.write_stack("net", &stack);

    // Parameters: CLAWFORM_PARAM_x < --params-file (later wins) < --param; env vars the stack
    // does not declare are ignored, as TF_VAR_ ones are.
    std::fs::write(project.path().join("a.yaml"), "label: from-file-a\n").unwrap();
    std::fs::write(project.path().join("b.yaml"), "label: from-file-b\n").unwrap();
    let env = [("CLAWFORM_PARAM_label", "from-env"), ("CLAWFORM_PARAM_nothing", "x")];
    let plan = project.run_with_env(&["plan", "net", "--json"], &env);
    assert_eq!(plan.code, 0, "{}", plan.all());
    assert!(plan.stdout.contains("from-env"), "{}", plan.stdout);
    let plan = project.run_with_env(&["plan", "net", "--json", "--params-file", "a.yaml", "--params-file", "b.yaml"], &env);
    assert!(plan.stdout.contains("from-file-b") && !plan.stdout.contains("from-file-a"), "{}", plan.all());
    let plan = project.run_with_env(&["plan", "net", "--json", "--params-file", "a.yaml", "--param", "label=from-argv"], &env);
    assert!(plan.stdout.contains("from-argv") && !plan.stdout.contains("from-file-a"), "{}", plan.all());
    std::fs::write(project.path().join("bad.yaml"), "label: [unclosed\n").unwrap();
    let bad = project.ok(&["plan", "net", "--params-file", "bad.yaml"], 1);
    assert!(bad.stderr.contains("bad.yaml:") && bad.stderr.contains(":2:") || bad.stderr.contains("bad.yaml:1:"), "file, line and column: {}", bad.stderr);

    // --target: only the subnet and what it needs; Terraform's spelling is accepted.
    let targeted = project.ok(&["plan", "net", "--target", "aws_subnet.subnet", "--param", "label=sticky"], 0);
    assert!(targeted.stdout.contains("2 to add") && targeted.stdout.contains("Resource targeting is in effect"), "{}", targeted.stdout);
    assert!(!targeted.stdout.contains("other"), "{}", targeted.stdout);
    let typo = project.ok(&["plan", "net", "--target", "subnt"], 1);
    assert!(typo.stderr.contains("Did you mean `subnet`?"), "{}", typo.stderr);
    let applied = project.ok(&["apply", "net", "--auto-approve", "--target", "subnet", "--param", "label=sticky"], 0);
    assert!(applied.stdout.contains("2 added"), "{}", applied.stdout);
    assert!(project.state(&name)["resources"].as_array().unwrap().iter().all(|r| r["address"] != "other"), "other was not created");
    // The sticky parameter is said when it is in force.
    let rest = project.ok(&["apply", "net", "--auto-approve"], 0);
    assert!(rest.stdout.contains("1 added"), "{}", rest.stdout);
    assert!(rest.stderr.contains("using label=sticky recorded in the state"), "{}", rest.stderr);

    // --replace: a replacement though nothing changed.
    let replace = project.ok(&["plan", "net", "--replace", "aws_vpc.other", "--detailed-exitcode"], 2);
    assert!(replace.stdout.contains("1 to add, 0 to change, 1 to destroy"), "{}", replace.stdout);
    let run = project.ok(&["apply", "net", "--auto-approve", "--replace", "other"], 0);
    assert!(run.stdout.contains("1 added") && run.stdout.contains("1 destroyed"), "{}", run.stdout);
    project.ok(&["plan", "net", "--detailed-exitcode"], 0);

    // state list is sorted; state show takes both spellings; state mv renames; state rm forgets.
    let list = project.ok(&["state", "list", "net"], 0);
    assert_eq!(list.stdout.lines().collect::<Vec<_>>(), vec!["other", "subnet", "vpc"]);
    let shown = project.ok(&["state", "show", "net", "aws_vpc.vpc"], 0);
    assert!(shown.stdout.contains("10.68.0.0/16"), "{}", shown.stdout);
    let other_id = project.state(&name)["resources"].as_array().unwrap().iter().find(|r| r["address"] == "other").unwrap()["id"].clone();
    project.write_stack("net", &stack.replace("  other:", "  spare:"));
    project.ok(&["state", "mv", "net", "other", "aws_vpc.spare"], 0);
    project.ok(&["plan", "net", "--detailed-exitcode"], 0);
    let refused = project.ok(&["state", "mv", "net", "nothing", "x"], 1);
    assert!(refused.stderr.contains("no resource `nothing`"), "{}", refused.stderr);
    project.ok(&["state", "rm", "net", "spare"], 0);
    let ec2 = ec2(&project.moto).await;
    let kept = ec2.describe_vpcs().vpc_ids(other_id.as_str().unwrap()).send().await.unwrap();
    assert_eq!(kept.vpcs().len(), 1, "state rm leaves the resource in AWS");
    project.ok(&["import", "net", "aws_vpc.spare", other_id.as_str().unwrap()], 0);

    // output --json in Terraform's shape; version.
    let outputs: serde_json::Value = serde_json::from_str(&project.ok(&["output", "net", "--json"], 0).stdout).unwrap();
    assert_eq!(outputs["vpc_id"]["type"], "string");
    assert_eq!(outputs["vpc_id"]["sensitive"], false);
    assert!(outputs["vpc_id"]["value"].as_str().unwrap().starts_with("vpc-"));
    assert_eq!(outputs["cidrs"]["type"], serde_json::json!(["tuple", ["string", "string"]]));
    let version = project.ok(&["version"], 0);
    assert!(version.stdout.starts_with("clawform v"), "{}", version.stdout);
    let version: serde_json::Value = serde_json::from_str(&project.ok(&["version", "--json"], 0).stdout).unwrap();
    assert_eq!(version["clawform_version"], env!("CARGO_PKG_VERSION"));

    // validate --json, as terraform validate -json.
    let valid: serde_json::Value = serde_json::from_str(&project.ok(&["validate", "net", "--json"], 0).stdout).unwrap();
    assert_eq!(valid["valid"], true);
    project.write_stack("broken", "stack: broken\nresources:\n  vpc:\n    type: aws_vpc\n    cidr_block: 10.0.0.0/99\n");
    let invalid: serde_json::Value = serde_json::from_str(&project.ok(&["validate", "broken", "--json"], 1).stdout).unwrap();
    assert_eq!(invalid["valid"], false);
    assert_eq!(invalid["diagnostics"][0]["range"]["start"]["line"], 5, "{invalid}");
    assert!(invalid["diagnostics"][0]["range"]["filename"].as_str().unwrap().ends_with("broken.yaml"), "{invalid}");

    project.ok(&["destroy", "net", "--auto-approve"], 0);
}

#[test]
fn zones_of_another_region_are_refused_at_plan_time_at_their_line() {
    let project = Project::new();
    project.write_stack(
        "net",
        "stack: zones\nparams:\n  zone: { default: us-west-2b }\nresources:\n  vpc:\n    type: aws_vpc\n    cidr_block: 10.70.0.0/16\n  a:\n    type: aws_subnet\n    vpc_id: ${vpc.id}\n    cidr_block: 10.70.1.0/24\n    availability_zone: us-west-2a\n  b:\n    type: aws_subnet\n    vpc_id: ${vpc.id}\n    cidr_block: 10.70.2.0/24\n    availability_zone: ${param.zone}\n",
    );
    project.ok(&["plan", "net"], 0);
    let run = project.ok(&["plan", "net", "--region", "eu-west-1"], 1);
    assert!(run.stderr.contains("net.yaml:12:24") && run.stderr.contains("zone `us-west-2a` is in region us-west-2"), "{}", run.stderr);
    assert!(run.stderr.contains("net.yaml:17:24") && run.stderr.contains("--region us-west-2"), "{}", run.stderr);
    assert!(!project.path().join("state").join("zones.json").exists(), "no state was written");
    let run = project.ok(&["plan", "net", "--param", "zone=eu-west-1a"], 1);
    assert!(run.stderr.contains("eu-west-1a") && run.stderr.contains("net.yaml:17:24"), "{}", run.stderr);
}

#[test]
fn one_typo_gives_one_error_with_the_name_meant() {
    let project = Project::new();
    let stack = "stack: typo\nresources:\n  vpc:\n    type: aws_vpc\n    cidr_block: 10.0.0.0/16\n  a:\n    type: aws_subnet\n    vpc_id: ${vpc.id}\n    cidr_block: 10.0.1.0/24\n  b:\n    type: aws_subnet\n    vpc_id: ${vpc.id}\n    cidr_block: 10.0.2.0/24\noutputs:\n  vpc_id: ${vpc.id}\n";
    // A mistyped type or field of `vpc`: one error at it, none at the three uses of `vpc`.
    for (typo, at, meant) in
        [("type: aws_vcp", "typo.yaml:4:11", "did you mean `aws_vpc`?"), ("cidr_blok: 10.0.0.0/16", "typo.yaml:5:5", "did you mean `cidr_block`?")]
    {
        let text = stack.replacen(if typo.starts_with("type") { "type: aws_vpc" } else { "cidr_block: 10.0.0.0/16" }, typo, 1);
        project.write_stack("typo", &text);
        let run = project.ok(&["validate", "typo"], 1);
        let errors: Vec<&str> = run.stderr.lines().filter(|l| l.contains("typo.yaml:")).collect();
        assert_eq!(errors.len(), 1, "{typo}: one error, not one per use: {}", run.stderr);
        assert!(errors[0].contains(at) && errors[0].contains(meant), "{typo}: {}", run.stderr);
    }
    // A mistyped reference names the resource meant.
    project.write_stack("typo", &stack.replacen("${vpc.id}", "${vcp.id}", 1));
    let run = project.ok(&["validate", "typo"], 1);
    assert!(run.stderr.contains("no resource `vcp` in this stack; did you mean `vpc`?"), "{}", run.stderr);
}

/// Runs `clawform -C PROJECT ARGS…` on a pseudo-terminal (python3's `pty`), waits for the `yes`
/// prompt, types Ctrl-C, and returns (whether the prompt was seen, exit code, seconds from
/// Ctrl-C to exit).
fn ctrl_c_at_the_prompt(project: &Project, args: &[&str]) -> (bool, i32, f64) {
    const SCRIPT: &str = r#"
import json, os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
seen, deadline = b"", time.time() + 120
while b"Enter a value:" not in seen and time.time() < deadline:
    ready, _, _ = select.select([fd], [], [], 0.5)
    if ready:
        try:
            seen += os.read(fd, 65536)
        except OSError:
            break
prompted = b"Enter a value:" in seen
time.sleep(0.3)
os.write(fd, b"\x03")
start = time.time()
while True:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    ready, _, _ = select.select([fd], [], [], 0.2)
    if ready:
        try:
            os.read(fd, 65536)
        except OSError:
            pass
    if time.time() - start > 30:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        status = -1
        break
code = os.waitstatus_to_exitcode(status) if status != -1 else -1
print(json.dumps({"prompted": prompted, "code": code, "seconds": time.time() - start}))
"#;
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .arg(env!("CARGO_BIN_EXE_clawform"))
        .arg("-C")
        .arg(project.path())
        .args(args)
        .envs(project.moto.env())
        .env("NO_COLOR", "1")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("run python3");
    let result: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)));
    (result["prompted"] == true, result["code"].as_i64().unwrap_or(-1) as i32, result["seconds"].as_f64().unwrap_or(f64::MAX))
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_at_the_prompt_exits_130_at_once_with_nothing_changed() {
    let project = Project::new();
    let name = clawform_testkit::unique("prompt");
    project.write_stack("net", &NET.replace("stack: net", &format!("stack: {name}")).replace("10.61.", "10.71."));
    let (prompted, code, seconds) = ctrl_c_at_the_prompt(&project, &["apply", "net"]);
    assert!(prompted, "apply asked on the terminal");
    assert_eq!(code, 130, "Ctrl-C at the prompt exits 130");
    assert!(seconds < 5.0, "at once, without waiting for Enter: {seconds:.1}s");
    assert!(!project.path().join("state").join(format!("{name}.lock")).exists(), "the lock was given back");
    let ec2 = ec2(&project.moto).await;
    assert!(ec2.describe_vpcs().filters(crate::common::owned_by(&name)).send().await.unwrap().vpcs().is_empty(), "nothing was created");
}

#[test]
fn the_two_readme_commands_share_one_build_and_the_demo_shows_its_commands() {
    // scripts/test.sh and scripts/demo.sh must resolve the same features, or the second one
    // rebuilds the whole AWS SDK: both build every target of the workspace.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let test = std::fs::read_to_string(root.join("scripts/test.sh")).unwrap();
    let demo = std::fs::read_to_string(root.join("scripts/demo.sh")).unwrap();
    assert!(test.contains("cargo test --workspace --all-targets"), "{test}");
    assert!(
        demo.contains("cargo build --workspace --all-targets") && !demo.contains("--quiet"),
        "the demo shares the build and shows cargo's progress: {demo}"
    );
    // Each command's `$ clawform …` header is printed outside any pipe that cuts output.
    assert!(!demo.lines().any(|l| l.trim_start().starts_with("cf ") && l.contains("| tail")), "{demo}");
}
