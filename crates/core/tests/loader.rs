//! The stack loader: every error names the line and column of what is wrong and says what was
//! expected; good stacks load with their templates and tags as a user wrote them.

use std::path::Path;

use crate::support::{load, registry};
use clawform_core::{Diagnostic, Graph, Stack, StackError};
use serde_json::json;

/// Joins lines with newlines, so that a line's number in a test is its index plus one.
fn lines(ls: &[&str]) -> String {
    let mut text = ls.join("\n");
    text.push('\n');
    text
}

/// The diagnostics of text that must not load.
fn errors(text: &str) -> Vec<Diagnostic> {
    match Stack::from_yaml(text, None, &registry()) {
        Ok(_) => panic!("stack should not load:\n{text}"),
        Err(e) => {
            assert!(!e.diagnostics().is_empty(), "an invalid stack has at least one diagnostic: {e}");
            e.diagnostics().to_vec()
        }
    }
}

/// The single diagnostic of text that must not load.
fn error(text: &str) -> Diagnostic {
    let all = errors(text);
    assert_eq!(all.len(), 1, "expected one diagnostic, got {all:#?}");
    all.into_iter().next().expect("length checked")
}

#[track_caller]
fn assert_at(d: &Diagnostic, line: usize, column: usize, words: &[&str]) {
    assert_eq!((d.location.line, d.location.column), (line, column), "wrong place for: {}", d.message);
    for w in words {
        assert!(d.message.contains(w), "message {:?} should contain {w:?}", d.message);
    }
}

const HEAD: [&str; 4] = ["stack: net", "resources:", "  net:", "    type: test_network"];

fn with_head(rest: &[&str]) -> String {
    let mut all: Vec<&str> = HEAD.to_vec();
    all.extend_from_slice(rest);
    lines(&all)
}

#[test]
fn unknown_field_points_at_its_key_and_lists_the_known_ones() {
    let d = error(&with_head(&["    cidr_blok: 10.0.0.0/16"]));
    assert_at(&d, 5, 5, &["unknown field `cidr_blok`", "cidr_block", "net"]);
}

#[test]
fn unknown_field_in_the_stack_itself_points_at_its_key() {
    let d = error(&lines(&["stack: net", "resorces: {}"]));
    assert_at(&d, 2, 1, &["unknown field `resorces`", "resources"]);
}

#[test]
fn wrong_type_points_at_the_value_and_says_what_was_expected() {
    let d = error(&with_head(&["    cidr_block: 10.0.0.0/16", "    enable_dns: yes please"]));
    assert_at(&d, 6, 17, &["expected a boolean"]);

    let d = error(&with_head(&["    cidr_block: 10.0.0.0/16", "    tags:", "      - a", "      - b"]));
    assert_at(&d, 6, 5, &["expected a map"]);

    let d = error(&with_head(&["    cidr_block:", "      nested: map"]));
    assert_at(&d, 5, 5, &["expected a string"]);
}

#[test]
fn a_value_the_type_refuses_points_at_that_value() {
    let d = error(&with_head(&["    cidr_block: 10.0.0.0"]));
    assert_at(&d, 5, 17, &["not a CIDR block", "expected"]);
}

#[test]
fn missing_required_attribute_points_at_the_resource() {
    let d = error(&with_head(&["    name: web"]));
    assert_at(&d, 3, 3, &["missing field `cidr_block`"]);
}

#[test]
fn unknown_resource_type_points_at_the_type_and_lists_the_known_ones() {
    let d = error(&lines(&["stack: net", "resources:", "  net:", "    type: test_netwrk", "    cidr_block: 10.0.0.0/16"]));
    assert_at(&d, 4, 11, &["unknown resource type `test_netwrk`", "did you mean `test_network`?"]);
    let d = error(&lines(&["stack: net", "resources:", "  net:", "    type: google_compute_network", "    name: main"]));
    assert_at(&d, 4, 11, &["unknown resource type `google_compute_network`", "expected one of", "test_network", "test_subnet"]);

    let d = error(&lines(&["stack: net", "resources:", "  net:", "    cidr_block: 10.0.0.0/16"]));
    assert_at(&d, 3, 3, &["has no `type:`"]);
}

#[test]
fn unknown_resource_reference_points_at_the_string_that_makes_it() {
    let d = error(&lines(&[
        "stack: net",
        "resources:",
        "  net:",
        "    type: test_network",
        "    cidr_block: 10.0.0.0/16",
        "  sub:",
        "    type: test_subnet",
        "    network_id: \"${nett.id}\"",
    ]));
    assert_at(&d, 8, 17, &["unknown reference `${nett.id}`", "no resource `nett`", "did you mean `net`?"]);
}

#[test]
fn reference_to_an_attribute_the_type_lacks_is_an_error() {
    let d = error(&lines(&[
        "stack: net",
        "resources:",
        "  net:",
        "    type: test_network",
        "    cidr_block: 10.0.0.0/16",
        "  sub:",
        "    type: test_subnet",
        "    network_id: ${net.vpc_id}",
    ]));
    assert_at(&d, 8, 17, &["`test_network` has no attribute `vpc_id`", "cidr_block", "arn"]);
}

#[test]
fn unknown_param_reference_points_at_the_string_and_lists_declared_params() {
    let d = error(&lines(&[
        "stack: net",
        "params:",
        "  env:",
        "    default: dev",
        "resources:",
        "  net:",
        "    type: test_network",
        "    cidr_block: 10.0.0.0/16",
        "    tags:",
        "      owner: \"team-${param.nope}\"",
    ]));
    assert_at(&d, 10, 14, &["no parameter `nope`", "declared: env"]);
}

#[test]
fn unknown_reference_in_an_output_points_at_the_output() {
    let d = error(&lines(&["stack: net", "resources:", "  net:", "    type: test_network", "    cidr_block: 10.0.0.0/16", "outputs:", "  id: ${vpc.id}"]));
    assert_at(&d, 7, 7, &["no resource `vpc`"]);
}

#[test]
fn bad_template_syntax_points_at_the_string() {
    let d = error(&with_head(&["    cidr_block: 10.0.0.0/16", "    name: \"${param.name\""]));
    assert_at(&d, 6, 11, &["never closed"]);

    let d = error(&with_head(&["    cidr_block: 10.0.0.0/16", "    name: \"${a.b.c.d}\""]));
    assert_at(&d, 6, 11, &["bad reference `${a.b.c.d}`", "expected"]);

    // In a map of free-form strings the loader checks templates too.
    let d = error(&with_head(&["    cidr_block: 10.0.0.0/16", "    tags:", "      x: \"${}\""]));
    assert_at(&d, 7, 10, &["bad reference"]);
}

#[test]
fn missing_stack_name_says_what_to_write() {
    let d = error(&lines(&["# no name here", "resources: {}"]));
    assert_eq!(d.location.line, 2, "{d:?}");
    assert_at(&d, 2, 1, &["missing field `stack`", "stack: base"]);
}

#[test]
fn a_cycle_is_named_and_placed_at_its_first_resource() {
    let text = lines(&[
        "stack: net",
        "resources:",
        "  a:",
        "    type: test_network",
        "    cidr_block: 10.0.0.0/16",
        "    name: \"${b.id}\"",
        "  b:",
        "    type: test_network",
        "    cidr_block: 10.1.0.0/16",
        "    name: \"${a.arn}\"",
    ]);
    let stack = load(&text);
    let err = Graph::build(&stack).expect_err("a cycle is an error");
    let d = err.diagnostics();
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_at(&d[0], 3, 3, &["dependency cycle: a -> b -> a"]);
    // Planning refuses it the same way.
    let err = clawform_core::plan(&stack, &registry(), None, Default::default()).unwrap_err();
    assert!(err.to_string().contains("a -> b -> a"), "{err}");
}

#[test]
fn a_resource_that_references_itself_is_a_cycle() {
    let text = with_head(&["    cidr_block: 10.0.0.0/16", "    name: \"${net.arn}\""]);
    let err = Graph::build(&load(&text)).expect_err("a self reference is a cycle");
    assert_at(&err.diagnostics()[0], 3, 3, &["net -> net"]);
}

#[test]
fn a_cycle_through_depends_on_is_named() {
    let text = lines(&[
        "stack: net",
        "resources:",
        "  a:",
        "    type: test_network",
        "    cidr_block: 10.0.0.0/16",
        "    depends_on: [c]",
        "  b:",
        "    type: test_network",
        "    cidr_block: 10.1.0.0/16",
        "    name: \"${a.id}\"",
        "  c:",
        "    type: test_subnet",
        "    network_id: \"${b.id}\"",
    ]);
    let err = Graph::build(&load(&text)).expect_err("a cycle is an error");
    assert_at(&err.diagnostics()[0], 3, 3, &["a -> c -> b -> a"]);
}

#[test]
fn malformed_yaml_points_at_the_syntax_error() {
    // A flow sequence never closed: the parser finds out at the `:` on the next line.
    let d = error(&with_head(&["    cidr_block: [10.0.0.0/16", "    name: x"]));
    assert_at(&d, 6, 9, &["invalid YAML", "expected ',' or ']'"]);

    // A key indented less than its siblings.
    let d = error(&with_head(&["    cidr_block: 10.0.0.0/16", "   name: x"]));
    assert_at(&d, 6, 4, &["invalid YAML", "expected key"]);

    // A tab where indentation is expected.
    let d = error(&with_head(&["\tcidr_block: 10.0.0.0/16"]));
    assert_at(&d, 5, 1, &["invalid YAML", "tab"]);
}

#[test]
fn a_duplicate_key_is_an_error_naming_the_key_and_its_mapping() {
    let d = error(&with_head(&["    cidr_block: 10.0.0.0/16", "    cidr_block: 10.1.0.0/16"]));
    // serde_yaml places it at the mapping that holds the key twice (the first key of `net`),
    // not at the second `cidr_block`; the message names both, which is enough to find it.
    assert_at(&d, 4, 5, &["invalid YAML", "resources.net", "duplicate entry with key \"cidr_block\""]);
}

fn write_temp(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("stack.yaml");
    std::fs::write(&path, bytes).expect("written");
    (dir, path)
}

fn load_file_error(path: &Path) -> Diagnostic {
    let err = Stack::load_file(path, &registry()).expect_err("must not load");
    let d = err.diagnostics();
    assert_eq!(d.len(), 1, "{err}");
    assert_eq!(d[0].location.file.as_deref(), Some(path), "the file is named");
    d[0].clone()
}

#[test]
fn binary_garbage_is_refused_where_the_first_bad_byte_is() {
    let (_dir, path) = write_temp(b"stack: net\nres\xffources:\n");
    let d = load_file_error(&path);
    assert_at(&d, 2, 4, &["UTF-8"]);
    assert!(d.to_string().starts_with(&format!("{}:2:4: ", path.display())), "{d}");

    let (_dir, path) = write_temp(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR");
    assert_at(&load_file_error(&path), 1, 1, &["UTF-8", "binary"]);
}

#[test]
fn control_characters_that_are_valid_utf8_are_still_refused_with_a_place() {
    let (_dir, path) = write_temp(b"stack: net\nresources:\n  a\x00b: {}\n");
    assert_at(&load_file_error(&path), 3, 4, &["control character U+0000", "binary"]);
    // UTF-16 text is valid UTF-8 full of NULs.
    let utf16: Vec<u8> = "stack: net\n".encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
    let (_dir, path) = write_temp(&utf16);
    assert_at(&load_file_error(&path), 1, 2, &["U+0000"]);
}

#[test]
fn empty_files_say_what_a_stack_needs() {
    for text in ["", "\n\n", "# just a comment\n", "---\n"] {
        let d = error(text);
        assert_at(&d, 1, 1, &["empty", "stack:", "resources:"]);
    }
}

#[test]
fn a_missing_file_is_an_io_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.yaml");
    let err = Stack::load_file(&path, &registry()).unwrap_err();
    assert!(matches!(err, StackError::Io { .. }));
    assert!(err.to_string().contains("nope.yaml"), "{err}");
}

#[test]
fn errors_in_a_file_name_the_file_line_and_column() {
    let (_dir, path) = write_temp(with_head(&["    cidr_blok: 10.0.0.0/16"]).as_bytes());
    let d = load_file_error(&path);
    assert_eq!(d.to_string(), format!("{}:5:5: {}", path.display(), d.message));
}

#[test]
fn every_bad_resource_is_reported_at_once() {
    let all = errors(&lines(&[
        "stack: net",
        "resources:",
        "  a:",
        "    type: test_network",
        "    cidr_blok: 10.0.0.0/16",
        "  b:",
        "    type: test_nope",
        "  c:",
        "    type: test_subnet",
        "    network_id: ${zzz.id}",
    ]));
    let places: Vec<(usize, usize)> = all.iter().map(|d| (d.location.line, d.location.column)).collect();
    assert_eq!(places, vec![(5, 5), (7, 11), (10, 17)], "{all:#?}");
}

#[test]
fn interpolation_of_a_param_parses_and_resolves() {
    let stack = load(&lines(&[
        "stack: net",
        "params:",
        "  name:",
        "    default: web",
        "resources:",
        "  net:",
        "    type: test_network",
        "    cidr_block: 10.0.0.0/16",
        "    name: \"${param.name}-x\"",
        "    tags:",
        "      cost: \"$${not.a.ref}\"",
    ]));
    let attrs = &stack.resources["net"].attributes;
    assert_eq!(attrs["name"], json!("${param.name}-x"));
    assert_eq!(attrs["tags"]["cost"], json!("$${not.a.ref}"));
    let plan = clawform_core::plan(&stack, &registry(), None, Default::default()).unwrap();
    let after = plan.change("net").unwrap().after.clone().unwrap();
    assert_eq!(after["name"], json!("web-x"));
    assert!(plan.change("net").unwrap().after_unknown.is_empty());
}

#[test]
fn stack_tags_are_merged_into_resources_that_have_tags() {
    let stack = load(&lines(&[
        "stack: net",
        "tags:",
        "  team: core",
        "  env: dev",
        "resources:",
        "  net:",
        "    type: test_network",
        "    cidr_block: 10.0.0.0/16",
        "    tags:",
        "      env: prod",
        "      app: web",
        "  bare:",
        "    type: test_network",
        "    cidr_block: 10.1.0.0/16",
        "  sub:",
        "    type: test_subnet",
        "    network_id: ${net.id}",
    ]));
    assert_eq!(stack.resources["net"].attributes["tags"], json!({"team": "core", "env": "prod", "app": "web"}), "the resource's own tag wins");
    assert_eq!(stack.resources["bare"].attributes["tags"], json!({"team": "core", "env": "dev"}));
    assert!(stack.resources["sub"].attributes.get("tags").is_none(), "a type without tags gets none: {}", stack.resources["sub"].attributes);
}

#[test]
fn a_good_stack_keeps_resources_in_file_order_with_their_dependencies() {
    let stack = load(&lines(&[
        "stack: net",
        "resources:",
        "  sub:",
        "    type: test_subnet",
        "    network_id: ${net.id}",
        "    depends_on: [other]",
        "  net:",
        "    type: test_network",
        "    cidr_block: 10.0.0.0/16",
        "  other:",
        "    type: test_network",
        "    cidr_block: 10.1.0.0/16",
    ]));
    assert_eq!(stack.resources.keys().collect::<Vec<_>>(), vec!["sub", "net", "other"]);
    assert_eq!(stack.resources["sub"].depends_on, vec!["other"]);
    let graph = Graph::build(&stack).unwrap();
    assert_eq!(graph.dependencies("sub"), vec!["net", "other"]);
    let order = graph.order();
    let pos = |a: &str| order.iter().position(|x| x == a).unwrap();
    assert!(pos("net") < pos("sub") && pos("other") < pos("sub"), "{order:?}");
}

#[test]
fn depends_on_must_name_resources_of_the_stack() {
    let d = error(&with_head(&["    cidr_block: 10.0.0.0/16", "    depends_on: [ghost]"]));
    // The list is placed at its key.
    assert_at(&d, 6, 5, &["`depends_on` names `ghost`", "not a resource of this stack"]);
}

/// Planning reuses the checks and expansion of an earlier plan of the same resources (a rollout
/// plans one template per tenant): a copy changed after that plan is still checked and
/// expanded as itself.
#[test]
fn a_stack_changed_after_a_plan_is_checked_again() {
    let text = lines(&[
        "stack: s",
        "params:",
        "  n:",
        "    default: 1",
        "resources:",
        "  net:",
        "    type: test_network",
        "    count: ${param.n}",
        "    cidr_block: 10.0.0.0/16",
        "    name: net-${count.index}",
        "outputs:",
        "  first: ${net[0].arn}",
    ]);
    let registry = registry();
    let stack = load(&text);
    let plan = clawform_core::plan(&stack, &registry, None, Default::default()).expect("plans");
    assert_eq!(plan.changes.len(), 1);

    // Another parameter value: the same resources, other instances.
    let mut three = stack.clone();
    three.param_overrides.insert("n".into(), json!(3));
    let plan = clawform_core::plan(&three, &registry, None, Default::default()).expect("plans");
    assert_eq!(plan.changes.iter().map(|c| c.address.as_str()).collect::<Vec<_>>(), ["net[0]", "net[1]", "net[2]"]);

    // A parameter value that fails the count check is refused although the resources were planned.
    let mut bad = stack.clone();
    bad.param_overrides.insert("n".into(), json!("many"));
    let err = clawform_core::plan(&bad, &registry, None, Default::default()).unwrap_err();
    assert!(err.to_string().contains("`count` is `many`"), "{err}");

    // A reference changed in a copy: checked as in any stack built in code.
    let mut broken = stack.clone();
    broken.outputs.insert("first".into(), json!("${nope[0].arn}"));
    let err = clawform_core::plan(&broken, &registry, None, Default::default()).unwrap_err();
    assert!(err.to_string().contains("no resource `nope`"), "{err}");

    // The order of attributes is kept as the copy has it.
    let mut reordered = stack.clone();
    let attributes = reordered.resources["net"].attributes.as_object().unwrap().clone();
    let reversed: serde_json::Map<String, serde_json::Value> = attributes.into_iter().rev().collect();
    reordered.resources["net"].attributes = serde_json::Value::Object(reversed);
    let plan = clawform_core::plan(&reordered, &registry, None, Default::default()).expect("plans");
    let config = plan.changes[0].config.as_ref().unwrap();
    let keys: Vec<&String> = config.attributes.as_object().unwrap().keys().collect();
    let expected: Vec<&String> = reordered.resources["net"].attributes.as_object().unwrap().keys().collect();
    assert_eq!(keys, expected);

    // And the original still plans as before.
    assert_eq!(clawform_core::plan(&stack, &registry, None, Default::default()).expect("plans").changes.len(), 1);
}

/// A list parameter counts its items, and each instance reads its own item
/// (`${param.NAME[count.index]}`): one subnet per CIDR of a list, as Terraform's
/// `count = length(var.cidrs)` with `var.cidrs[count.index]`.
#[test]
fn a_list_parameter_counts_its_items_and_each_instance_reads_its_own() {
    let text = lines(&[
        "stack: s",
        "params:",
        "  cidrs:",
        "    default: [10.0.0.0/16, 10.1.0.0/16]",
        "  names:",
        "    default: [a, b]",
        "resources:",
        "  net:",
        "    type: test_network",
        "    count: ${param.cidrs}",
        "    cidr_block: ${param.cidrs[count.index]}",
        "    name: net-${param.names[count.index]}",
        "outputs:",
        "  first: ${param.cidrs[0]}",
    ]);
    let registry = registry();
    let stack = load(&text);
    let plan = clawform_core::plan(&stack, &registry, None, Default::default()).expect("plans");
    let made: Vec<(String, serde_json::Value)> = plan.changes.iter().map(|c| (c.address.clone(), c.after.as_ref().unwrap()["cidr_block"].clone())).collect();
    assert_eq!(made, [("net[0]".to_string(), json!("10.0.0.0/16")), ("net[1]".to_string(), json!("10.1.0.0/16"))]);
    assert_eq!(plan.changes[1].after.as_ref().unwrap()["name"], json!("net-b"));

    // Three CIDRs but two names: the third instance has no name, and the error says so.
    let mut longer = stack.clone();
    longer.param_overrides.insert("cidrs".into(), json!(["10.0.0.0/16", "10.1.0.0/16", "10.2.0.0/16"]));
    let err = clawform_core::plan(&longer, &registry, None, Default::default()).unwrap_err();
    assert!(err.to_string().contains("`param.names` has 2 item(s); there is no item 2"), "{err}");

    // `[count.index]` outside a counted resource is refused where it is written.
    let outside = text.replace("  first: ${param.cidrs[0]}", "  first: ${param.cidrs[count.index]}");
    let errs = errors(&outside);
    assert!(errs.iter().any(|d| d.message.contains("`[count.index]` is only meaningful inside a resource with `count`")), "{errs:?}");
}
