//! Tidy checks, run by `cargo test` as rust-analyzer runs its own: the code is formatted,
//! clippy-clean, free of `unsafe` outside the test kit, and keeps the architecture's invariants
//! (no import circles between modules, no service module of the AWS provider reading another
//! service's module, every resource type registered once and declaring its ARN form). Each
//! failure says the command that shows or fixes it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("cannot list {}: {e}", d.display())).flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn code_is_formatted() {
    let out = cargo().args(["fmt", "--all", "--check"]).output().expect("cargo fmt runs");
    assert!(
        out.status.success(),
        "`cargo fmt --all --check` found unformatted code; run `cargo fmt --all`:\n{}",
        String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.starts_with("Diff in")).collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn clippy_finds_nothing() {
    // Its own target folder would build every dependency again; the shared one only adds the
    // check-mode metadata of the workspace's crates. Warnings are errors, as in CI of projects
    // that keep clippy clean.
    let out = cargo().args(["clippy", "--workspace", "--all-targets", "--quiet", "--", "-D", "warnings"]).output().expect("cargo clippy runs");
    assert!(
        out.status.success(),
        "`cargo clippy --workspace --all-targets -- -D warnings` is not clean; run it and fix what it says:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn no_unsafe_code_outside_the_test_kit() {
    for krate in ["src/lib.rs", "src/main.rs", "crates/core/src/lib.rs", "crates/aws/src/lib.rs"] {
        let text = std::fs::read_to_string(root().join(krate)).unwrap();
        assert!(text.contains("#![forbid(unsafe_code)]"), "{krate} must say #![forbid(unsafe_code)]: only the test kit may use `unsafe` (pre_exec, kill)");
    }
}

/// The module a `use crate::a::b` line of a file in `src` names, at the depth `depth` of the
/// module tree (1: `a`; 2: `a::b`).
fn used_modules(text: &str, depth: usize) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    // Comments (doc links among them) name modules without using them.
    let code: String = text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
    let text = code.as_str();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        let path: Vec<&str> = rest.split("::").take(depth).map(|p| p.split(|c: char| !c.is_alphanumeric() && c != '_').next().unwrap_or("")).collect();
        // Only modules (lower-case): `crate::Clients` is an item of the crate root.
        if path.len() == depth && path.iter().all(|p| !p.is_empty() && p.chars().next().is_some_and(|c| c.is_ascii_lowercase())) {
            out.insert(path.join("::"));
        }
    }
    out
}

/// The top-level module a file of a crate's `src` belongs to (`plan` for `plan.rs` and
/// `plan/colours.rs`); the crate root is `crate`.
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap();
    let first = relative.components().next().unwrap().as_os_str().to_string_lossy().to_string();
    match first.strip_suffix(".rs") {
        Some("lib" | "main") => "crate".into(),
        Some(name) => name.to_string(),
        None => first,
    }
}

/// A cycle in `edges`, if there is one, as the modules along it.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(n: &str, edges: &BTreeMap<String, BTreeSet<String>>, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == n) {
            let mut cycle = path[at..].to_vec();
            cycle.push(n.to_string());
            return Some(cycle);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for next in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(next, edges, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges.keys().find_map(|n| visit(n, edges, &mut Vec::new(), &mut done))
}

/// Which top-level modules of a crate each top-level module imports.
fn import_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(src) {
        let from = module_of(src, &file);
        let text = std::fs::read_to_string(&file).unwrap();
        // Tests may reach anywhere: only the code counts.
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for to in used_modules(code, 1) {
            if to != from && from != "crate" {
                edges.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    edges
}

#[test]
fn modules_import_each_other_in_one_direction() {
    for krate in ["crates/core/src", "crates/aws/src", "src"] {
        let edges = import_graph(&root().join(krate));
        if let Some(cycle) = find_cycle(&edges) {
            panic!("modules of {krate} import each other in a circle: {}; move what they share into a module both import", cycle.join(" → "));
        }
    }
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let edges: BTreeMap<String, BTreeSet<String>> = [("graph", vec!["stack"]), ("stack", vec!["plan"]), ("plan", vec!["graph"]), ("value", vec![])]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
        .collect();
    assert_eq!(find_cycle(&edges), Some(vec!["graph".to_string(), "stack".into(), "plan".into(), "graph".into()]));
    let mut acyclic = edges.clone();
    acyclic.get_mut("plan").unwrap().clear();
    assert_eq!(find_cycle(&acyclic), None);
    assert_eq!(used_modules("use crate::ec2::opt;\nuse crate::Clients;\nlet x = crate::iam::check(1);", 1), ["ec2", "iam"].map(String::from).into());
}

/// The service folders of the AWS provider (`ec2`, `ecs`, …): every folder but `support`,
/// which is what they share.
fn services() -> Vec<String> {
    let src = root().join("crates/aws/src");
    let mut out: Vec<String> = std::fs::read_dir(&src)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir() && e.file_name() != "support")
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    out.sort();
    out
}

#[test]
fn no_service_module_reads_another_service() {
    let services = services();
    let mut offences = Vec::new();
    for service in &services {
        for file in rust_files(&root().join("crates/aws/src").join(service)) {
            let text = std::fs::read_to_string(&file).unwrap();
            for used in used_modules(&text, 1) {
                if used != *service && services.contains(&used) {
                    offences.push(format!("{} uses crate::{used}", file.strip_prefix(root()).unwrap().display()));
                }
            }
        }
    }
    assert!(offences.is_empty(), "a service module may use only its own service and the shared support modules:\n{}", offences.join("\n"));
}

#[test]
fn every_resource_type_is_registered_once() {
    let names = clawform::aws::type_names();
    let mut seen = BTreeSet::new();
    let twice: Vec<&str> = names.iter().copied().filter(|n| !seen.insert(*n)).collect();
    assert!(twice.is_empty(), "registered more than once in the services' `types` lists: {twice:?}");
    assert_eq!(names.len(), clawform::aws::registry().type_names().count(), "the registry and the provider's dispatch table list the same types");
}

#[test]
fn every_tagged_type_declares_the_arn_its_tags_are_found_by() {
    // A type with `tags` is tagged with its owner at create, so an interrupted create is found
    // by its tags, which come back as ARNs: the type must say how its ARN names it.
    let registry = clawform::aws::registry();
    let mut missing = Vec::new();
    for (type_name, form) in clawform::aws::arn_forms() {
        let tagged = registry.get(type_name).is_some_and(|k| k.attributes().contains(&"tags"));
        if tagged && matches!(form, clawform::aws::ArnForm::None) {
            missing.push(type_name);
        }
        // Each form reads back the id it would be given: an ARN made from the form names the type.
        if let clawform::aws::ArnForm::IdAfter { service, prefix } | clawform::aws::ArnForm::Whole { service, prefix } = form {
            let arn = format!("arn:aws:{service}:us-west-2:123456789012:{prefix}x-1");
            assert_eq!(clawform::aws::owned::type_and_id(&arn).map(|(t, _)| t), Some(type_name), "{arn} should name {type_name}");
        }
    }
    assert!(missing.is_empty(), "types with tags but no ARN form (declare `const ARN` in the type's module): {missing:?}");
}
