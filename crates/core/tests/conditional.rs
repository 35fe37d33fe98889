//! `${param.X ? A : B}`: the conditional chosen by a parameter before counts are expanded and
//! the graph is built, in attributes, nested blocks, outputs and `count`; its errors; the memo
//! shared by clones of a stack; `auto` counts that move together.

use crate::support::{load, registry};
use clawform_core::{Stack, State, StateResource};
use serde_json::json;

fn lines(ls: &[&str]) -> String {
    let mut text = ls.join("\n");
    text.push('\n');
    text
}

/// A network always, and a second one only when `https` is set: the subnet's network and the
/// output follow the choice.
fn switch_stack() -> String {
    lines(&[
        "stack: s",
        "params:",
        "  https: { default: \"\" }",
        "  n: { default: 2 }",
        "resources:",
        "  plain:",
        "    type: test_network",
        "    cidr_block: 10.0.0.0/16",
        "  secure:",
        "    type: test_network",
        "    count: '${param.https ? param.n : 0}'",
        "    cidr_block: 10.1.0.0/16",
        "    name: '${param.https ? \"tls\" : \"clear\"}-${count.index}'",
        "  sub:",
        "    type: test_subnet",
        "    network_id: '${param.https ? secure[0].id : plain.id}'",
        "    description: '${!param.https ? \"on plain\" : param.https}'",
        "outputs:",
        "  scheme: '${param.https ? \"https\" : \"http\"}'",
        "  where: '${param.https ? secure[*].id : plain.id}'",
    ])
}

fn plan_with(stack: &Stack, https: &str) -> clawform_core::Plan {
    let mut s = stack.clone();
    s.param_overrides.insert("https".into(), json!(https));
    clawform_core::plan(&s, &registry(), None, Default::default()).unwrap_or_else(|e| panic!("plan failed: {e}"))
}

fn addresses(plan: &clawform_core::Plan) -> Vec<&str> {
    plan.changes.iter().map(|c| c.address.as_str()).collect()
}

#[test]
fn the_branch_not_taken_makes_no_resource_and_no_dependency() {
    let stack = load(&switch_stack());
    let off = plan_with(&stack, "");
    assert_eq!(addresses(&off), ["plain", "sub"]);
    let sub = off.changes.iter().find(|c| c.address == "sub").unwrap();
    assert_eq!(sub.config.as_ref().unwrap().attributes["network_id"], json!("${plain.id}"));
    assert_eq!(sub.config.as_ref().unwrap().attributes["description"], json!("on plain"));
    assert_eq!(off.outputs["scheme"], json!("http"));
    assert_eq!(off.output_changes["scheme"].after, Some(json!("http")));

    // The same stack (a clone sharing its memo) with the parameter set: another choice.
    let on = plan_with(&stack, "arn:cert");
    assert_eq!(addresses(&on), ["plain", "secure[0]", "secure[1]", "sub"]);
    let secure = on.changes.iter().find(|c| c.address == "secure[1]").unwrap();
    assert_eq!(secure.config.as_ref().unwrap().attributes["name"], json!("tls-1"));
    let sub = on.changes.iter().find(|c| c.address == "sub").unwrap();
    assert_eq!(sub.config.as_ref().unwrap().attributes["network_id"], json!("${secure[0].id}"));
    assert_eq!(sub.config.as_ref().unwrap().attributes["description"], json!("${param.https}"));
    assert_eq!(on.outputs["scheme"], json!("https"));
    assert_eq!(on.outputs["where"], json!("${secure[*].id}"));

    // And back: the memo does not serve the other choice.
    assert_eq!(addresses(&plan_with(&stack, "")), ["plain", "sub"]);
}

#[test]
fn numbers_and_booleans_are_conditions_too() {
    let text = lines(&[
        "stack: s",
        "params:",
        "  on: { default: false }",
        "  size: { default: 0 }",
        "resources:",
        "  net:",
        "    type: test_network",
        "    count: '${param.on ? 3 : 1}'",
        "    cidr_block: '${param.size ? \"10.9.0.0/16\" : \"10.0.0.0/16\"}'",
    ]);
    let stack = load(&text);
    let plan = clawform_core::plan(&stack, &registry(), None, Default::default()).unwrap();
    assert_eq!(addresses(&plan), ["net[0]"]);
    assert_eq!(plan.changes[0].config.as_ref().unwrap().attributes["cidr_block"], json!("10.0.0.0/16"));
    let mut on = stack.clone();
    on.param_overrides.insert("on".into(), json!(true));
    on.param_overrides.insert("size".into(), json!(2));
    let plan = clawform_core::plan(&on, &registry(), None, Default::default()).unwrap();
    assert_eq!(addresses(&plan), ["net[0]", "net[1]", "net[2]"]);
    assert_eq!(plan.changes[0].config.as_ref().unwrap().attributes["cidr_block"], json!("10.9.0.0/16"));
}

fn load_error(text: &str) -> clawform_core::Diagnostic {
    match Stack::from_yaml(text, None, &registry()) {
        Ok(_) => panic!("stack should not load:\n{text}"),
        Err(e) => {
            let all = e.diagnostics().to_vec();
            assert_eq!(all.len(), 1, "expected one diagnostic, got {all:#?}");
            all.into_iter().next().unwrap()
        }
    }
}

#[track_caller]
fn assert_at(text: &str, line: usize, column: usize, words: &[&str]) {
    let d = load_error(text);
    assert_eq!((d.location.line, d.location.column), (line, column), "wrong place for: {}", d.message);
    for w in words {
        assert!(d.message.contains(w), "message {:?} should contain {w:?}", d.message);
    }
}

fn one_network(params: &[&str], cidr: &str) -> String {
    let mut all = vec!["stack: s", "params:"];
    all.extend_from_slice(params);
    all.extend_from_slice(&["resources:", "  net:", "    type: test_network"]);
    let line = format!("    cidr_block: {cidr}");
    all.push(&line);
    lines(&all)
}

#[test]
fn bad_conditionals_are_refused_where_they_are_written() {
    let p = ["  on: { default: \"\" }"];
    assert_at(&one_network(&p, "'${net.id ? \"a\" : \"b\"}'"), 7, 17, &["the condition must be a parameter", "found `net.id`"]);
    assert_at(&one_network(&p, "'${param.off ? \"a\" : \"b\"}'"), 7, 17, &["no parameter `off`", "declared: on"]);
    assert_at(&one_network(&p, "'${param.on ? \"a\"}'"), 7, 17, &["expected `:` between the two branches"]);
    assert_at(&one_network(&p, "'${param.on ? \"a\" : nope.id}'"), 7, 17, &["no resource `nope`"]);
    assert_at(&one_network(&p, "'${param.on ? \"a : \"b\"}'"), 7, 17, &["a `${` is never closed with `}`"]);
    assert_at(&one_network(&p, "'${param.on ? param.on ? 1 : 2 : 3}'"), 7, 17, &["each branch must be a reference"]);
    let count = lines(&[
        "stack: s",
        "params:",
        "  on: { default: \"\" }",
        "resources:",
        "  net:",
        "    type: test_network",
        "    count: '${param.on ? net.id : 1}'",
        "    cidr_block: 10.0.0.0/16",
    ]);
    assert_at(&count, 7, 12, &["`count` chooses between `param.NAME`, a whole number or `\"auto\"`"]);
}

fn held(addresses: &[&str]) -> State {
    let mut state = State::new("s");
    for a in addresses {
        state.resources.push(StateResource {
            address: a.to_string(),
            type_name: "test_network".into(),
            id: format!("id-{a}"),
            attributes: json!({"id": format!("id-{a}"), "arn": format!("arn-{a}"), "cidr_block": "10.0.0.0/16"}),
            dependencies: vec![],
        });
    }
    state
}

/// A resource added with a count that is the same `auto` parameter as others (the HTTPS
/// listener of each shard) gets as many instances as they hold, not one.
#[test]
fn auto_counts_of_one_parameter_move_together() {
    let text = lines(&[
        "stack: s",
        "params:",
        "  shards: { default: auto }",
        "  https: { default: \"\" }",
        "resources:",
        "  alb:",
        "    type: test_network",
        "    count: ${param.shards}",
        "    cidr_block: 10.0.0.0/16",
        "  tls:",
        "    type: test_network",
        "    count: '${param.https ? param.shards : 0}'",
        "    cidr_block: 10.0.0.0/16",
        "  lone:",
        "    type: test_network",
        "    count: auto",
        "    cidr_block: 10.0.0.0/16",
    ]);
    let mut stack = load(&text);
    stack.param_overrides.insert("https".into(), json!("arn:cert"));
    let state = held(&["alb[0]", "alb[1]", "lone[0]"]);
    let (_, counts) = stack.expand(Some(&state)).unwrap();
    assert_eq!(counts["alb"], 2);
    assert_eq!(counts["tls"], 2, "the new resource follows its parameter's others");
    assert_eq!(counts["lone"], 1, "a literal `auto` keeps its own");
    stack.param_overrides.insert("https".into(), json!(""));
    assert_eq!(stack.expand(Some(&state)).unwrap().1["tls"], 0);
}
