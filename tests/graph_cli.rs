//! `clawform graph` through the real binary, with no AWS: DOT structure (clusters, labels,
//! edges), colours from a saved plan and from a plan made now, SVG through Graphviz's `dot` (a
//! stand-in script when Graphviz is not installed) and the message when `dot` is missing.

use std::path::Path;
use std::process::Command;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("stacks")).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for name in ["network", "base", "tenant"] {
        std::fs::copy(repo.join(format!("stacks/{name}.yaml")), dir.path().join(format!("stacks/{name}.yaml"))).unwrap();
    }
    dir
}

fn clawform(dir: &Path, args: &[&str], path_env: Option<&str>) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_clawform"));
    cmd.arg("-C").arg(dir).args(args).env("NO_COLOR", "1").env_remove("CLAWFORM_BACKEND");
    if let Some(p) = path_env {
        cmd.env("PATH", p);
    }
    let out = cmd.output().expect("run clawform");
    Run { code: out.status.code().unwrap_or(-1), stdout: String::from_utf8_lossy(&out.stdout).into(), stderr: String::from_utf8_lossy(&out.stderr).into() }
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let run = clawform(dir, args, None);
    assert_eq!(run.code, 0, "clawform {args:?}:\n{}\n{}", run.stdout, run.stderr);
    run.stdout
}

/// The lines of the DOT between `subgraph NAME {` and its closing brace.
fn cluster<'a>(dot: &'a str, name: &str) -> Vec<&'a str> {
    let start = format!("  subgraph \"{name}\" {{");
    let lines: Vec<&str> = dot.lines().collect();
    let i = lines.iter().position(|l| *l == start).unwrap_or_else(|| panic!("no cluster {name} in:\n{dot}"));
    lines[i + 1..].iter().take_while(|l| **l != "  }").copied().collect()
}

fn node_line<'a>(lines: &[&'a str], id: &str) -> &'a str {
    lines.iter().find(|l| l.trim_start().starts_with(&format!("\"{id}\" ["))).unwrap_or_else(|| panic!("no node {id} in {lines:#?}"))
}

#[test]
fn dot_groups_resources_by_stack_with_type_and_address() {
    let dir = project();
    let dot = ok(dir.path(), &["graph", "network"]);
    assert!(dot.starts_with("digraph \"network\" {") && dot.trim_end().ends_with('}'), "{dot}");
    assert_eq!(dot.matches('{').count(), dot.matches('}').count(), "balanced braces:\n{dot}");
    let stack = cluster(&dot, "cluster_stack_network");
    assert!(stack.contains(&"    label = \"stack network\";"), "{stack:?}");
    assert_eq!(stack.iter().filter(|l| l.contains("[label = \"aws_")).count(), 8, "every resource in the stack's cluster: {stack:?}");
    assert_eq!(node_line(&stack, "vpc"), "    \"vpc\" [label = \"aws_vpc\\nvpc\"];");
    assert!(dot.contains("  \"public_a\" -> \"vpc\";"), "{dot}");
    assert!(!dot.contains("cluster_legend"), "{dot}");

    // A tenant reads the base stack's outputs: they are their own dashed cluster.
    let dot = ok(dir.path(), &["graph", "tenant", "--param", "tenant_id=abc"]);
    let base = cluster(&dot, "cluster_outputs_base");
    assert!(base.contains(&"    style = \"dashed,rounded\";"), "{base:?}");
    assert!(node_line(&base, "base.outputs.vpc_id").contains("label = \"output\\nvpc_id\""), "{base:?}");
    assert!(dot.contains("  \"target_group\" -> \"base.outputs.vpc_id\" [style = \"dashed\"];"), "{dot}");
}

#[test]
fn a_plan_colours_creates_updates_and_deletes_with_a_legend() {
    let dir = project();
    // Planned now against no state: everything is created (no AWS call without state).
    let dot = ok(dir.path(), &["graph", "network", "--with-plan"]);
    let stack = cluster(&dot, "cluster_stack_network");
    assert!(node_line(&stack, "vpc").contains("fillcolor = \"#d4edda\", color = \"#2e7d32\""), "{stack:?}");
    assert!(cluster(&dot, "cluster_legend").len() >= 5, "{dot}");

    // A saved plan, edited to hold an update and a delete as a later plan would.
    let path = dir.path().join("net.plan");
    let plan_arg = path.to_str().unwrap();
    ok(dir.path(), &["plan", "network", "--out", plan_arg]);
    let mut plan: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let changes = plan["changes"].as_array_mut().unwrap();
    let vpc = changes.iter_mut().find(|c| c["address"] == "vpc").unwrap();
    vpc["action"] = "update".into();
    changes.push(serde_json::json!({"address": "old_subnet", "type": "aws_subnet", "action": "delete", "before": {}, "after": null, "config": null, "prior_id": "subnet-1"}));
    std::fs::write(&path, serde_json::to_string(&plan).unwrap()).unwrap();
    let dot = ok(dir.path(), &["graph", "network", "--plan", plan_arg]);
    let stack = cluster(&dot, "cluster_stack_network");
    assert!(node_line(&stack, "vpc").contains("fillcolor = \"#fff3cd\""), "update: {stack:?}");
    assert!(node_line(&stack, "public_a").contains("fillcolor = \"#d4edda\""), "create: {stack:?}");
    let deleted = node_line(&stack, "old_subnet");
    assert!(deleted.contains("style = \"rounded,filled,dashed\", fillcolor = \"#f8d7da\", color = \"#c62828\""), "delete: {deleted}");
    let legend = cluster(&dot, "cluster_legend");
    for name in ["create", "update in place", "replace", "delete", "no change"] {
        assert!(legend.iter().any(|l| l.contains(&format!("[label = \"{name}\""))), "legend lacks {name}: {legend:?}");
    }

    // A plan of another stack is refused.
    let run = clawform(dir.path(), &["graph", "base", "--plan", plan_arg], None);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("is for stack `network`, not `base`"), "{}", run.stderr);
    let run = clawform(dir.path(), &["graph", "network", "--plan", "missing.plan"], None);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("cannot read plan file"), "{}", run.stderr);
}

#[test]
fn svg_without_graphviz_says_how_to_get_it() {
    let dir = project();
    let empty = tempfile::tempdir().unwrap();
    let run = clawform(dir.path(), &["graph", "network", "--format", "svg"], Some(empty.path().to_str().unwrap()));
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(run.stderr.contains("cannot render SVG: Graphviz's `dot` is not installed (not found on PATH)"), "{}", run.stderr);
    assert!(run.stderr.contains("apt-get install graphviz"), "{}", run.stderr);
}

#[test]
fn svg_is_rendered_by_dot() {
    use std::os::unix::fs::PermissionsExt;
    let dir = project();
    // Graphviz when installed; otherwise a stand-in `dot` that checks it was given DOT on stdin
    // and `-Tsvg`, so the piping is tested either way.
    let bin = tempfile::tempdir().unwrap();
    let real = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).any(|d| d.join("dot").is_file());
    let path = if real {
        std::env::var("PATH").unwrap()
    } else {
        let script = bin.path().join("dot");
        std::fs::write(&script, "#!/bin/sh\n[ \"$1\" = -Tsvg ] || exit 3\ninput=$(cat)\ncase \"$input\" in\n  'digraph \"network\" {'*) printf '<svg><!-- %s lines --></svg>\\n' \"$(printf '%s\\n' \"$input\" | wc -l)\" ;;\n  *) echo 'not DOT' >&2; exit 4 ;;\nesac\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        format!("{}:/usr/bin:/bin", bin.path().display())
    };
    let run = clawform(dir.path(), &["graph", "network", "--format", "svg", "--with-plan"], Some(&path));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("<svg") && run.stdout.contains("</svg>"), "{}", run.stdout);

    if !real {
        // A `dot` that fails is reported with what it said.
        std::fs::write(bin.path().join("dot"), "#!/bin/sh\ncat >/dev/null\necho 'syntax error in line 1' >&2\nexit 1\n").unwrap();
        let run = clawform(dir.path(), &["graph", "network", "--format", "svg"], Some(&path));
        assert_eq!(run.code, 1);
        assert!(run.stderr.contains("-Tsvg failed") && run.stderr.contains("syntax error in line 1"), "{}", run.stderr);
    }
}
