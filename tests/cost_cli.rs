//! `clawform capacity` and `clawform cost` through the real binary, on the repository's own
//! stacks (no AWS, no state): the figures, the table's shape, overrides and bad input.

use std::path::Path;
use std::process::Command;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn clawform(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_clawform"))
        .arg("-C")
        .arg(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("CLAWFORM_BACKEND")
        .output()
        .expect("run clawform");
    Run { code: out.status.code().unwrap_or(-1), stdout: String::from_utf8_lossy(&out.stdout).into(), stderr: String::from_utf8_lossy(&out.stderr).into() }
}

fn ok(args: &[&str]) -> String {
    let run = clawform(args);
    assert_eq!(run.code, 0, "clawform {args:?} failed:\n{}\n{}", run.stdout, run.stderr);
    run.stdout
}

fn json(args: &[&str]) -> serde_json::Value {
    let value: serde_json::Value = serde_json::from_str(&ok(args)).expect("JSON output");
    assert_eq!(value["format_version"], "1.0", "every --json document says its format: {args:?}");
    value
}

#[test]
fn capacity_for_500_tenants_shows_each_limit_and_what_binds() {
    let out = ok(&["capacity", "--tenants", "500"]);
    assert!(out.contains("Capacity for 500 tenants"), "{out}");
    for line in [
        "  CPU                   4  2 vCPU × 1024 units = 2048 units / 512 per task [1]",
        "  memory                3  4096 MiB installed, 3992 MiB registered − 0 MiB ECS_RESERVED_MEMORY = 3992 MiB / 1024 MiB per task [2]",
        "  network interfaces    2  ENI trunking off: 3 ENIs − 1 primary = 2, one per awsvpc task [3]  <- binds",
        "  = 2 tasks per instance (network interfaces binds)",
        "Instances: 500 tasks / 2 per instance = 250 (1 on-demand base, 249 Spot; ASG min size 1)",
    ] {
        assert!(out.lines().any(|l| l == line), "missing line {line:?} in:\n{out}");
    }
    // `asg_max_size: auto` (the default) grows with the tenants; a fixed 20 holds 40 tasks.
    assert!(out.contains("Auto Scaling group: max size 250 (stacks/base.yaml param asg_max_size) (asg_max_size: auto;"), "{out}");
    let fixed20 = ok(&["capacity", "--tenants", "500", "--param", "asg_max_size=20"]);
    assert!(fixed20.contains("max size 20 (stacks/base.yaml param asg_max_size) does NOT hold them: at most 40 tasks; raise it to at least 250"), "{fixed20}");
    assert!(out.contains("Load balancer shards: 500 tenants / 100 per load balancer = 5"), "{out}");
    assert!(out.contains("the base stack's shards = auto"), "{out}");
    // Two private /24 subnets hold 2 × (256 − 5) addresses; 500 task ENIs and 250 instances need more.
    assert!(
        out.contains(
            "Private addresses: 750 needed (one per task ENI, one per instance) of 502 in the instances' subnets (AWS keeps 5 per subnet): NOT enough"
        ),
        "{out}"
    );
    let fixed = ok(&["capacity", "--tenants", "7", "--param", "shards=2", "--param", "tenants_per_load_balancer=3"]);
    assert!(
        fixed.contains("the base stack's shards = 2 is fixed and too few: new tenants are refused past 6; `clawform apply base --param shards=3`"),
        "{fixed}"
    );
    // Every figure names its source.
    assert!(out.contains("[2] ECS developer guide, \"Reserving Amazon ECS Linux container instance memory\""), "{out}");
    assert!(out.contains("[3] EC2 user guide, \"Maximum IP addresses per network interface\""), "{out}");
}

#[test]
fn capacity_json_and_overrides() {
    let v = json(&["capacity", "--tenants", "500", "--json"]);
    let plan = &v["plan"];
    assert_eq!(plan["packing"]["tasks_per_instance"], 2);
    assert_eq!(plan["packing"]["binding"], serde_json::json!(["network_interfaces"]));
    assert_eq!((plan["instances"].as_u64(), plan["shards"].as_u64(), plan["fits_asg"].as_bool()), (Some(250), Some(5), Some(true)));
    assert_eq!((plan["asg_max_auto"].as_bool(), plan["asg_max_size"].as_u64(), plan["existing_tenants"].as_u64()), (Some(true), Some(250), Some(0)));
    assert_eq!(plan["task_sizes"], serde_json::json!([{"cpu": 512, "memory_mib": 1024, "tasks": 500}]));
    let v = json(&["capacity", "--tenants", "500", "--json", "--param", "asg_max_size=20"]);
    assert_eq!((v["plan"]["fits_asg"].as_bool(), v["plan"]["asg_max_tasks"].as_u64()), (Some(false), Some(40)));

    // --param reaches whichever stack declares it: the base's ASG, the tenant's task size.
    let v = json(&["capacity", "--tenants", "500", "--json", "--param", "asg_max_size=250", "--param", "tenants_per_load_balancer=50"]);
    assert_eq!((v["plan"]["fits_asg"].as_bool(), v["plan"]["shards"].as_u64()), (Some(true), Some(10)));
    let v = json(&["capacity", "--tenants", "10", "--json", "--param", "memory=2048"]);
    assert_eq!(v["plan"]["packing"]["tasks_per_instance"], 1, "3992 MiB hold one task of 2048 MiB");
    assert_eq!(v["plan"]["packing"]["binding"], serde_json::json!(["memory"]));

    // With ENI trunking, memory binds at 3.
    let v = json(&["capacity", "--tenants", "500", "--json", "--trunking"]);
    assert_eq!((v["plan"]["packing"]["tasks_per_instance"].as_u64(), v["plan"]["instances"].as_u64()), (Some(3), Some(167)));

    // Without --tenants and before any tenant: as many as the ASG holds.
    let v = json(&["capacity", "--json", "--param", "asg_max_size=20"]);
    assert_eq!((v["plan"]["tenants"].as_u64(), v["plan"]["fits_asg"].as_bool()), (Some(40), Some(true)));
}

#[test]
fn capacity_refuses_unknown_and_bad_params() {
    let run = clawform(&["capacity", "--param", "nope=1"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("`--param nope` names no parameter of stack `base` or `tenant`"), "{}", run.stderr);
    let run = clawform(&["capacity", "--param", "asg_max_size=lots"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("stacks/base.yaml:") && run.stderr.contains("parameter `asg_max_size` of stack `base`: `\"lots\"`; expected a whole number"),
        "{}",
        run.stderr
    );
    let run = clawform(&["capacity", "--param", "instance_type=m9.tiny"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("instance type `m9.tiny` is not in the price sheet prices/us-west-2.yaml"), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

#[test]
fn cost_table_has_the_seeds_shape_and_clawforms_figures() {
    let out = ok(&["cost"]);
    let table: Vec<&str> = out.lines().filter(|l| l.starts_with('|')).collect();
    assert_eq!(table.len(), 2 + 9, "header, rule and one row per default tenant count:\n{out}");
    assert!(
        table[0].starts_with("| Users | EC2 Instances") && table[0].contains("| Tasks per Instance |") && table[0].contains("| Monthly Cost | Cost per User |"),
        "{}",
        table[0]
    );
    let row = |users: &str| -> Vec<String> {
        let line = table.iter().find(|l| l.split('|').nth(1).map(str::trim) == Some(users)).unwrap_or_else(|| panic!("no row for {users}:\n{out}"));
        line.split('|').map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect()
    };
    assert_eq!(row("0"), ["0", "1 (on-demand base)", "0", "1", "$96.79", "-", "1"]);
    assert_eq!(row("2"), ["2", "1 (on-demand base)", "2", "1", "$97.90", "$48.95", "1"]);
    assert_eq!(row("16"), ["16", "8 (1 on-demand + 7 Spot)", "2 each", "1", "$179.20", "$11.20", "4"]);
    assert_eq!(row("500"), ["500", "250 (1 on-demand + 249 Spot)", "2 each", "5", "$3,084.65", "$6.17", "125"]);
    assert!(out.contains("- The seed's \"4 tasks per host\" does not fit: a c7i-flex.large holds 2 tenant tasks"), "{out}");
    // With `asg_max_size: auto` the group grows; a fixed maximum marks the rows it cannot hold.
    assert!(!out.contains("* more instances"), "{out}");
    let fixed = ok(&["cost", "--param", "asg_max_size=20"]);
    assert!(fixed.contains("* more instances than the Auto Scaling group's max size 20 allows"), "{fixed}");
}

#[test]
fn cost_snapshot() {
    insta::assert_snapshot!("cost_default", ok(&["cost"]));
}

#[test]
fn cost_json_and_chosen_tenant_counts() {
    let v = json(&["cost", "--tenants", "0,3,500", "--json"]);
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1]["capacity"]["instances"], 2, "3 tenants need 2 instances at 2 tasks each");
    assert_eq!(rows[2]["load_balancers"], 5);
    assert_eq!(format!("{:.2}", rows[2]["monthly"].as_f64().unwrap()), "3084.65");
    assert!(rows[0]["per_tenant"].is_null());
    assert_eq!(v["tasks_per_instance"], 2);
    assert_eq!(v["notes"].as_array().unwrap().len(), 2, "no note on the group's maximum with auto: {}", v["notes"]);
}

fn write_sheet(dir: &Path, edit: impl Fn(&str) -> String) -> std::path::PathBuf {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("prices/us-west-2.yaml")).unwrap();
    let path = dir.join("prices.yaml");
    std::fs::write(&path, edit(&text)).unwrap();
    path
}

#[test]
fn cost_reads_another_price_sheet() {
    let dir = tempfile::tempdir().unwrap();
    // Spot at the on-demand price: 500 tenants cost 249 × (35.0035 − 10.5011) = 6101.11 more.
    let sheet = write_sheet(dir.path(), |t| t.replace("spot_hourly: 0.014385", "spot_hourly: 0.04795"));
    let v = json(&["cost", "--tenants", "500", "--json", "--prices", sheet.to_str().unwrap()]);
    assert_eq!(format!("{:.2}", v["rows"][0]["monthly"].as_f64().unwrap()), "9185.76");
    assert_eq!(v["price_sheet"], sheet.display().to_string());
}

#[test]
fn a_bad_price_sheet_is_a_located_error() {
    let dir = tempfile::tempdir().unwrap();
    let sheet = write_sheet(dir.path(), |t| t.replace("alb_hourly: 0.0225", "alb_hourly: free"));
    let text = std::fs::read_to_string(&sheet).unwrap();
    let line = text.lines().position(|l| l.contains("alb_hourly: free")).unwrap() + 1;
    let run = clawform(&["cost", "--prices", sheet.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.is_empty(), "nothing on stdout: {}", run.stdout);
    let expected = format!("Error: {}:{line}:15: invalid type: string \"free\", expected f64", sheet.display());
    assert!(run.stderr.contains(&expected), "expected {expected:?} in:\n{}", run.stderr);

    let sheet = write_sheet(dir.path(), |t| t.replace("network_interfaces: 3", "network_interfaces: 0"));
    let run = clawform(&["cost", "--prices", sheet.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("every instance has its primary network interface; expected at least 1"), "{}", run.stderr);

    let run = clawform(&["cost", "--prices", "/nonexistent/prices.yaml"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("cannot read price sheet /nonexistent/prices.yaml"), "{}", run.stderr);

    let run = clawform(&["cost", "--tenants", "1,x"]);
    assert_eq!(run.code, 1, "a usage error exits 1 (2 would read as \"changes\" in CI): {}", run.stderr);
}
