//! The engine against an in-memory provider: order, parallelism, failures, replacement, updates,
//! stale plans and what is saved after every step.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::support::{apply_with, load, plan_yaml, registry, MemoryProvider, Op, RecordingBackend};
use clawform_core::{plan_destroy, Action, ApplyOptions, EngineError, LocalBackend, State, StateBackend};
use serde_json::json;

/// A network with two subnets, and a third subnet on a second network that depends on the
/// first network only through its name.
const TWO_LEVELS: &str = r#"
stack: net
resources:
  core:
    type: test_network
    cidr_block: 10.0.0.0/16
  app:
    type: test_subnet
    network_id: "${core.id}"
    description: app
  db:
    type: test_subnet
    network_id: "${core.id}"
  edge:
    type: test_network
    cidr_block: 10.1.0.0/16
    name: "edge-of-${core.id}"
  edge_a:
    type: test_subnet
    network_id: "${edge.id}"
outputs:
  core_id: "${core.id}"
"#;

fn state_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

#[tokio::test]
async fn creates_start_only_after_what_they_reference_is_created() {
    let dir = state_dir();
    let backend = LocalBackend::new(dir.path());
    let provider = MemoryProvider::new();
    provider.set_delay(Duration::from_millis(10));
    let plan = plan_yaml(TWO_LEVELS, None);
    let report = apply_with(&plan, None, &provider, &backend, 10).await.expect("apply runs");
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert!(!report.interrupted);

    for (dependent, dependency) in [("app", "core"), ("db", "core"), ("edge", "core"), ("edge_a", "edge")] {
        let before = provider.call(Op::Create, dependency);
        let after = provider.call(Op::Create, dependent);
        assert!(before.finished < after.started, "{dependent} was created before {dependency} was: {:?}", provider.ops());
    }
    // The references were resolved to the ids the provider gave.
    let core_id = provider.call(Op::Create, "core").id.expect("created");
    let edge_id = provider.call(Op::Create, "edge").id.expect("created");
    assert_eq!(provider.call(Op::Create, "app").attributes["network_id"], json!(core_id));
    assert_eq!(provider.call(Op::Create, "edge").attributes["name"], json!(format!("edge-of-{core_id}")));
    assert_eq!(provider.call(Op::Create, "edge_a").attributes["network_id"], json!(edge_id));
    // Every call carries the stack and address, so the provider can tag what it creates.
    assert!(provider.calls().iter().all(|c| c.stack == "net"));
    assert_eq!(provider.calls().len(), 5, "{:?}", provider.ops());
    assert_eq!(provider.live_count(), 5);
    let saved = backend.load("net").await.unwrap().expect("state saved");
    assert_eq!(saved.get("app").unwrap().id, provider.call(Op::Create, "app").id.unwrap());
    assert_eq!(saved.get("app").unwrap().dependencies, vec!["core".to_string()]);
}

#[tokio::test]
async fn destroy_deletes_dependents_before_what_they_depend_on() {
    let dir = state_dir();
    let backend = LocalBackend::new(dir.path());
    let provider = MemoryProvider::new();
    let plan = plan_yaml(TWO_LEVELS, None);
    apply_with(&plan, None, &provider, &backend, 10).await.unwrap();
    provider.reset_calls();
    provider.set_delay(Duration::from_millis(10));

    let state = backend.load("net").await.unwrap().unwrap();
    let destroy = plan_destroy(&state, &registry());
    assert!(destroy.changes.iter().all(|c| c.action == Action::Delete));
    assert_eq!(destroy.summary().destroy, 5);
    let report = apply_with(&destroy, Some(state.clone()), &provider, &backend, 10).await.unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);

    for (dependent, dependency) in [("app", "core"), ("db", "core"), ("edge", "core"), ("edge_a", "edge")] {
        let first = provider.call(Op::Delete, dependent);
        let then = provider.call(Op::Delete, dependency);
        assert!(first.finished < then.started, "{dependency} was deleted before {dependent} was: {:?}", provider.ops());
        assert_eq!(Some(state.get(dependency).unwrap().id.clone()), then.id);
    }
    assert_eq!(provider.live_count(), 0);
    let saved = backend.load("net").await.unwrap().unwrap();
    assert!(saved.resources.is_empty(), "{:?}", saved.resources);
    assert!(saved.outputs.is_empty(), "outputs of a destroyed stack are gone: {:?}", saved.outputs);
}

#[tokio::test]
async fn resources_removed_from_the_stack_are_deleted_dependents_first() {
    let dir = state_dir();
    let backend = LocalBackend::new(dir.path());
    let provider = MemoryProvider::new();
    apply_with(&plan_yaml(TWO_LEVELS, None), None, &provider, &backend, 10).await.unwrap();
    provider.reset_calls();
    provider.set_delay(Duration::from_millis(10));

    let only_core = "stack: net\nresources:\n  core:\n    type: test_network\n    cidr_block: 10.0.0.0/16\n";
    let state = backend.load("net").await.unwrap().unwrap();
    let plan = plan_yaml(only_core, Some(&state));
    for address in ["app", "db", "edge", "edge_a"] {
        assert_eq!(plan.change(address).unwrap().action, Action::Delete, "{address}");
    }
    assert_eq!(plan.change("core").unwrap().action, Action::NoOp);
    let report = apply_with(&plan, Some(state), &provider, &backend, 10).await.unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let edge_a = provider.call(Op::Delete, "edge_a");
    let edge = provider.call(Op::Delete, "edge");
    assert!(edge_a.finished < edge.started, "{:?}", provider.ops());
    assert_eq!(provider.live_ids("test_network").len(), 1);
    assert_eq!(provider.live_ids("test_subnet").len(), 0);
}

fn independent_networks(n: usize) -> String {
    let mut yaml = String::from("stack: wide\nresources:\n");
    for i in 0..n {
        yaml.push_str(&format!("  n{i}:\n    type: test_network\n    cidr_block: 10.{i}.0.0/16\n"));
    }
    yaml
}

#[tokio::test]
async fn parallelism_bounds_the_operations_in_flight() {
    for (parallelism, expect_at_least, expect_at_most) in [(3, 2, 3), (10, 2, 8)] {
        let dir = state_dir();
        let backend = LocalBackend::new(dir.path());
        let provider = MemoryProvider::new();
        provider.set_delay(Duration::from_millis(40));
        let report = apply_with(&plan_yaml(&independent_networks(8), None), None, &provider, &backend, parallelism).await.unwrap();
        assert_eq!(report.completed.len(), 8);
        let max = provider.max_in_flight();
        assert!(max <= expect_at_most, "parallelism {parallelism}: {max} operations were in flight at once");
        assert!(max >= expect_at_least, "parallelism {parallelism}: operations ran one at a time ({max} in flight at most)");
    }
}

#[tokio::test]
async fn parallelism_one_runs_one_operation_at_a_time() {
    // 0 is taken as 1 rather than as "never start anything".
    for parallelism in [1, 0] {
        let dir = state_dir();
        let backend = LocalBackend::new(dir.path());
        let provider = MemoryProvider::new();
        provider.set_delay(Duration::from_millis(5));
        let report = apply_with(&plan_yaml(&independent_networks(5), None), None, &provider, &backend, parallelism).await.unwrap();
        assert_eq!(report.completed.len(), 5, "parallelism {parallelism}");
        assert_eq!(provider.max_in_flight(), 1, "parallelism {parallelism}");
        let calls = provider.calls();
        for pair in calls.windows(2) {
            assert!(pair[0].finished < pair[1].started, "{:?} overlapped {:?}", pair[0].address, pair[1].address);
        }
    }
}

/// Two roots (one fails at once, one is slow) and one subnet on each.
const FAILING: &str = r#"
stack: half
resources:
  bad:
    type: test_network
    cidr_block: 10.0.0.0/16
  slow:
    type: test_network
    cidr_block: 10.1.0.0/16
  bad_sub:
    type: test_subnet
    network_id: "${bad.id}"
  slow_sub:
    type: test_subnet
    network_id: "${slow.id}"
outputs:
  slow_id: "${slow.id}"
"#;

#[tokio::test]
async fn a_failure_stops_scheduling_lets_in_flight_work_finish_and_saves_it() {
    let dir = state_dir();
    let backend = LocalBackend::new(dir.path());
    let provider = MemoryProvider::new();
    provider.fail("bad");
    provider.set_delay_for("bad", Duration::from_millis(20));
    provider.set_delay_for("slow", Duration::from_millis(200));
    let report = apply_with(&plan_yaml(FAILING, None), None, &provider, &backend, 10).await.expect("a failed operation is in the report, not an error");

    assert!(report.interrupted);
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    assert_eq!(report.failures[0].address, "bad");
    assert_eq!(report.failures[0].action, Action::Create);
    assert!(report.failures[0].message.contains("injected failure for bad"), "{}", report.failures[0].message);
    assert_eq!(report.completed, vec![("slow".to_string(), Action::Create)]);

    // `slow` was in flight when `bad` failed: it finished and was kept; `slow_sub` became ready
    // only after the failure and was never started.
    let failed = provider.calls().into_iter().find(|c| c.address == "bad").expect("bad was tried");
    assert!(!failed.ok);
    let slow = provider.call(Op::Create, "slow");
    assert!(slow.started < failed.finished && failed.finished < slow.finished, "slow was not in flight during the failure");
    assert_eq!(provider.ops(), vec![(Op::Create, "bad".to_string()), (Op::Create, "slow".to_string())]);

    let saved = backend.load("half").await.unwrap().expect("what completed is saved");
    assert_eq!(saved.resources.iter().map(|r| r.address.as_str()).collect::<Vec<_>>(), vec!["slow"]);
    assert_eq!(saved.get("slow").unwrap().id, slow.id.clone().unwrap());
    assert_eq!(saved, report.state);

    // A new plan has only what is left.
    let replan = plan_yaml(FAILING, Some(&saved));
    let actions: Vec<(&str, Action)> = replan.changes.iter().map(|c| (c.address.as_str(), c.action)).collect();
    assert_eq!(actions, vec![("bad", Action::Create), ("bad_sub", Action::Create), ("slow", Action::NoOp), ("slow_sub", Action::Create)]);

    provider.heal("bad");
    provider.reset_calls();
    let report = apply_with(&replan, Some(saved), &provider, &backend, 10).await.unwrap();
    assert!(report.failures.is_empty() && !report.interrupted, "{:?}", report.failures);
    let mut created: Vec<String> = provider.calls().into_iter().map(|c| c.address).collect();
    created.sort();
    assert_eq!(created, vec!["bad", "bad_sub", "slow_sub"], "slow must not be created twice");
    assert_eq!(provider.live_count(), 4);
    let saved = backend.load("half").await.unwrap().unwrap();
    assert!(!plan_yaml(FAILING, Some(&saved)).has_changes());
}

#[tokio::test]
async fn what_a_provider_call_waits_for_reaches_the_progress_events() {
    let dir = state_dir();
    let backend = LocalBackend::new(dir.path());
    let provider = MemoryProvider::new();
    provider.set_delay_for("n1", Duration::from_millis(20));
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    let options = ApplyOptions {
        on_event: Some(std::sync::Arc::new(move |e: &clawform_core::engine::ApplyEvent| sink.lock().unwrap().push((e.address.clone(), e.kind.clone())))),
        ..ApplyOptions::default()
    };
    let plan = plan_yaml(&independent_networks(2), None);
    clawform_core::apply(&plan, None, &registry(), provider.clone(), &backend, &options).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    let waits: Vec<(String, String)> = seen
        .iter()
        .filter_map(|(address, kind)| match kind {
            clawform_core::engine::EventKind::Waiting { what, .. } => Some((address.clone(), what.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(waits, vec![("n1".to_string(), "n1's delay".to_string())], "{seen:?}");
    let n1: Vec<&clawform_core::engine::EventKind> = seen.iter().filter(|(a, _)| a == "n1").map(|(_, k)| k).collect();
    assert!(
        matches!(
            n1.as_slice(),
            [clawform_core::engine::EventKind::Started, clawform_core::engine::EventKind::Waiting { .. }, clawform_core::engine::EventKind::Completed { .. }]
        ),
        "{n1:?}"
    );
}

#[tokio::test]
async fn a_stop_request_lets_in_flight_work_finish_and_starts_nothing_new() {
    let dir = state_dir();
    let backend = LocalBackend::new(dir.path());
    let provider = MemoryProvider::new();
    provider.set_delay(Duration::from_millis(300));
    let options = ApplyOptions { parallelism: 10, ..ApplyOptions::default() };
    let stop = options.stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(30)).await;
        stop.store(true, Ordering::SeqCst);
    });
    let plan = plan_yaml(FAILING, None);
    let report = clawform_core::apply(&plan, None, &registry(), provider.clone(), &backend, &options).await.unwrap();
    assert!(report.interrupted);
    assert!(report.failures.is_empty());
    let mut done: Vec<String> = report.completed.iter().map(|(a, _)| a.clone()).collect();
    done.sort();
    assert_eq!(done, vec!["bad", "slow"]);
    assert_eq!(provider.calls().len(), 2, "{:?}", provider.ops());
    assert!(report.stopped, "a stop request is told apart from a failure");
    let not_done: Vec<&str> = report.not_done.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(not_done, vec!["bad_sub", "slow_sub"], "what never started is listed for the user");
    let saved = backend.load("half").await.unwrap().unwrap();
    assert_eq!(saved.resources.len(), 2);
}

const REPLACEABLE: &str = r#"
stack: rep
resources:
  net:
    type: test_network
    cidr_block: CIDR
    tags:
      team: core
  sub:
    type: test_subnet
    network_id: "${net.id}"
    description: DESCRIPTION
  other:
    type: test_network
    cidr_block: 10.9.0.0/16
outputs:
  net_id: "${net.id}"
"#;

fn replaceable(cidr: &str, description: &str) -> String {
    REPLACEABLE.replace("CIDR", cidr).replace("DESCRIPTION", description)
}

#[tokio::test]
async fn a_force_new_change_replaces_the_resource_and_what_references_its_id() {
    let dir = state_dir();
    let backend = LocalBackend::new(dir.path());
    let provider = MemoryProvider::new();
    apply_with(&plan_yaml(&replaceable("10.0.0.0/16", "app"), None), None, &provider, &backend, 10).await.unwrap();
    let before = backend.load("rep").await.unwrap().unwrap();
    let (old_net, old_sub) = (before.get("net").unwrap().id.clone(), before.get("sub").unwrap().id.clone());
    provider.reset_calls();

    let plan = plan_yaml(&replaceable("10.1.0.0/16", "app"), Some(&before));
    let net = plan.change("net").unwrap();
    assert_eq!(net.action, Action::Replace);
    assert_eq!(net.replace_because, vec!["cidr_block"]);
    let sub = plan.change("sub").unwrap();
    assert_eq!(sub.action, Action::Replace);
    assert_eq!(sub.replace_because, vec!["network_id"]);
    assert_eq!(sub.after_unknown, vec!["network_id"]);
    assert_eq!(plan.change("other").unwrap().action, Action::NoOp);
    let summary = plan.summary();
    assert_eq!((summary.add, summary.change, summary.destroy), (2, 0, 2));

    let report = apply_with(&plan, Some(before), &provider, &backend, 10).await.unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    // Delete then create, and the subnet goes first and comes back last.
    let order = [(Op::Delete, "sub"), (Op::Delete, "net"), (Op::Create, "net"), (Op::Create, "sub")];
    for pair in order.windows(2) {
        let (a, b) = (provider.call(pair[0].0, pair[0].1), provider.call(pair[1].0, pair[1].1));
        assert!(a.finished < b.started, "{:?} must end before {:?} starts: {:?}", pair[0], pair[1], provider.ops());
    }
    assert_eq!(provider.call(Op::Delete, "net").id, Some(old_net.clone()));
    assert_eq!(provider.call(Op::Delete, "sub").id, Some(old_sub.clone()));
    assert!(provider.calls().iter().all(|c| c.address != "other"), "{:?}", provider.ops());

    let after = backend.load("rep").await.unwrap().unwrap();
    let new_net = after.get("net").unwrap().id.clone();
    assert_ne!(new_net, old_net);
    assert_ne!(after.get("sub").unwrap().id, old_sub);
    assert_eq!(after.get("sub").unwrap().attributes["network_id"], json!(new_net));
    assert_eq!(after.get("net").unwrap().attributes["cidr_block"], json!("10.1.0.0/16"));
    assert_eq!(after.outputs["net_id"], json!(new_net));
    assert_eq!(provider.live_count(), 3);
    assert!(provider.live(&old_net).is_none());
    assert!(!plan_yaml(&replaceable("10.1.0.0/16", "app"), Some(&after)).has_changes());
}

#[tokio::test]
async fn a_resource_that_names_a_replaced_id_in_an_updatable_attribute_is_updated_after_it() {
    let yaml = |cidr: &str| {
        format!(
            "stack: peer\nresources:\n  net:\n    type: test_network\n    cidr_block: {cidr}\n  peer:\n    type: test_network\n    cidr_block: 10.5.0.0/16\n    name: \"peer-of-${{net.id}}\"\n"
        )
    };
    let dir = state_dir();
    let backend = LocalBackend::new(dir.path());
    let provider = MemoryProvider::new();
    apply_with(&plan_yaml(&yaml("10.0.0.0/16"), None), None, &provider, &backend, 10).await.unwrap();
    let before = backend.load("peer").await.unwrap().unwrap();
    let peer_id = before.get("peer").unwrap().id.clone();
    provider.reset_calls();

    let plan = plan_yaml(&yaml("10.1.0.0/16"), Some(&before));
    assert_eq!(plan.change("net").unwrap().action, Action::Replace);
    assert_eq!(plan.change("peer").unwrap().action, Action::Update);
    let report = tokio::time::timeout(Duration::from_secs(10), apply_with(&plan, Some(before), &provider, &backend, 10)).await.expect("apply ends").unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert!(!report.interrupted);
    assert_eq!(report.completed.len(), 3, "delete net, create net, update peer: {:?}", report.completed);

    let created = provider.call(Op::Create, "net");
    let updated = provider.call(Op::Update, "peer");
    assert!(created.finished < updated.started, "{:?}", provider.ops());
    let new_net = created.id.unwrap();
    let after = backend.load("peer").await.unwrap().unwrap();
    assert_eq!(after.get("peer").unwrap().id, peer_id, "updated in place, not replaced");
    assert_eq!(after.get("peer").unwrap().attributes["name"], json!(format!("peer-of-{new_net}")));
    assert!(!plan_yaml(&yaml("10.1.0.0/16"), Some(&after)).has_changes());
}

#[tokio::test]
async fn a_change_to_an_updatable_attribute_updates_in_place() {
    let dir = state_dir();
    let backend = LocalBackend::new(dir.path());
    let provider = MemoryProvider::new();
    apply_with(&plan_yaml(&replaceable("10.0.0.0/16", "app"), None), None, &provider, &backend, 10).await.unwrap();
    let before = backend.load("rep").await.unwrap().unwrap();
    provider.reset_calls();

    let changed = replaceable("10.0.0.0/16", "api").replace("team: core", "team: platform");
    let plan = plan_yaml(&changed, Some(&before));
    let sub = plan.change("sub").unwrap();
    assert_eq!(sub.action, Action::Update);
    assert_eq!(sub.changed, vec!["description"]);
    assert!(sub.replace_because.is_empty());
    let net = plan.change("net").unwrap();
    assert_eq!(net.action, Action::Update);
    assert_eq!(net.changed, vec!["tags"]);
    assert_eq!(plan.change("other").unwrap().action, Action::NoOp);
    let summary = plan.summary();
    assert_eq!((summary.add, summary.change, summary.destroy), (0, 2, 0));

    let report = apply_with(&plan, Some(before.clone()), &provider, &backend, 10).await.unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let mut ops = provider.ops();
    ops.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(ops, vec![(Op::Update, "net".to_string()), (Op::Update, "sub".to_string())]);
    assert_eq!(provider.call(Op::Update, "sub").id, Some(before.get("sub").unwrap().id.clone()));
    assert_eq!(provider.call(Op::Update, "sub").attributes["description"], json!("api"));

    let after = backend.load("rep").await.unwrap().unwrap();
    assert_eq!(after.get("sub").unwrap().id, before.get("sub").unwrap().id);
    assert_eq!(after.get("net").unwrap().id, before.get("net").unwrap().id);
    assert_eq!(after.get("sub").unwrap().attributes["description"], json!("api"));
    assert_eq!(after.get("net").unwrap().attributes["tags"], json!({"team": "platform"}));
    assert!(after.get("net").unwrap().attributes["arn"].is_string(), "computed attributes are kept");
    assert!(!plan_yaml(&changed, Some(&after)).has_changes());
}

#[tokio::test]
async fn a_second_plan_after_apply_changes_nothing() {
    let dir = state_dir();
    let backend = LocalBackend::new(dir.path());
    let provider = MemoryProvider::new();
    let yaml = format!("{TWO_LEVELS}params:\n  env:\n    default: dev\n");
    let yaml = yaml.replace("description: app", "description: \"app-${param.env}\"");
    let first = plan_yaml(&yaml, None);
    assert!(first.has_changes());
    assert_eq!(first.summary().add, 5);
    apply_with(&first, None, &provider, &backend, 10).await.unwrap();

    let state = backend.load("net").await.unwrap().unwrap();
    assert_eq!(state.get("app").unwrap().attributes["description"], json!("app-dev"));
    let second = plan_yaml(&yaml, Some(&state));
    assert!(!second.has_changes(), "{:#?}", second.changes.iter().filter(|c| c.action != Action::NoOp).collect::<Vec<_>>());
    assert!(second.output_changes.is_empty(), "{:?}", second.output_changes);
    assert_eq!(second.summary(), Default::default());

    // Applying the empty plan calls nothing.
    provider.reset_calls();
    let report = apply_with(&second, Some(state), &provider, &backend, 10).await.unwrap();
    assert!(report.completed.is_empty());
    assert!(provider.calls().is_empty());
}

#[tokio::test]
async fn a_plan_made_before_the_state_moved_is_refused() {
    let dir = state_dir();
    let backend = LocalBackend::new(dir.path());
    let provider = MemoryProvider::new();
    let v1 = replaceable("10.0.0.0/16", "app");
    let fresh = plan_yaml(&v1, None);
    apply_with(&fresh, None, &provider, &backend, 10).await.unwrap();
    let s1 = backend.load("rep").await.unwrap().unwrap();

    // A plan from "no state" cannot be applied once the stack has state.
    provider.reset_calls();
    match apply_with(&fresh, Some(s1.clone()), &provider, &backend, 10).await {
        Err(EngineError::StalePlan { planned: None, current: Some(c), .. }) => assert_eq!(c, s1.serial),
        other => panic!("expected a stale plan, got {other:?}"),
    }

    // Two plans from the same state: the first applied moves the serial, the second is refused.
    let to_api = plan_yaml(&replaceable("10.0.0.0/16", "api"), Some(&s1));
    let to_db = plan_yaml(&replaceable("10.0.0.0/16", "db"), Some(&s1));
    apply_with(&to_api, Some(s1.clone()), &provider, &backend, 10).await.unwrap();
    let s2 = backend.load("rep").await.unwrap().unwrap();
    assert!(s2.serial > s1.serial);
    provider.reset_calls();
    let err = apply_with(&to_db, Some(s2.clone()), &provider, &backend, 10).await.unwrap_err();
    match &err {
        EngineError::StalePlan { planned, current, .. } => assert_eq!((*planned, *current), (Some(s1.serial), Some(s2.serial))),
        other => panic!("expected a stale plan, got {other:?}"),
    }
    assert!(err.to_string().contains("run plan again"), "{err}");
    assert!(provider.calls().is_empty(), "a stale plan must not touch anything: {:?}", provider.ops());
    assert_eq!(backend.load("rep").await.unwrap().unwrap(), s2, "a stale plan must not write state");

    // Same serial, other lineage (the state was recreated): also stale.
    let mut other_lineage = s2.clone();
    other_lineage.lineage = "another-lineage".into();
    let plan = plan_yaml(&replaceable("10.0.0.0/16", "db"), Some(&other_lineage));
    assert!(matches!(apply_with(&plan, Some(s2), &provider, &backend, 10).await, Err(EngineError::StalePlan { .. })));
}

#[tokio::test]
async fn the_state_file_serial_goes_up_after_every_step() {
    let dir = state_dir();
    let backend = RecordingBackend::new(dir.path());
    let provider = MemoryProvider::new();
    let chain = "stack: chain\nresources:\n  a:\n    type: test_network\n    cidr_block: 10.0.0.0/16\n  b:\n    type: test_network\n    cidr_block: 10.1.0.0/16\n    name: \"after-${a.id}\"\n  c:\n    type: test_subnet\n    network_id: \"${b.id}\"\noutputs:\n  c: \"${c.id}\"\n";
    let report = apply_with(&plan_yaml(chain, None), None, &provider, &backend, 4).await.unwrap();
    assert_eq!(report.completed.len(), 3);

    let saves = backend.saves();
    let seen: Vec<(u64, Vec<String>, Vec<String>)> = saves.iter().map(|s| (s.serial, s.addresses.clone(), s.creating.clone().expect("a journal"))).collect();
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        seen,
        vec![
            (1, names(&[]), names(&["a", "b", "c"])),
            (2, names(&["a"]), names(&["b", "c"])),
            (3, names(&["a", "b"]), names(&["c"])),
            (4, names(&["a", "b", "c"]), names(&[])),
            (5, names(&["a", "b", "c"]), names(&[]))
        ],
        "the journal of creates before the first, one save per completed step (each taking its create out of the journal), then one with the outputs"
    );
    assert_eq!(saves.last().unwrap().outputs, vec!["c"]);
    assert_eq!(report.state.serial, 5);

    // A later apply goes on from the stored serial and keeps the previous file as a backup. It
    // creates nothing, so it writes no journal.
    let state = backend.load("chain").await.unwrap().unwrap();
    let plan = plan_yaml(&chain.replace("after-", "behind-"), Some(&state));
    assert_eq!(plan.prior_serial, Some(5));
    apply_with(&plan, Some(state), &provider, &backend, 4).await.unwrap();
    let serials: Vec<u64> = backend.saves().iter().map(|s| s.serial).collect();
    assert_eq!(serials, vec![1, 2, 3, 4, 5, 6, 7]);
    let backup: clawform_core::State = serde_json::from_str(&std::fs::read_to_string(dir.path().join("chain.json.backup")).unwrap()).unwrap();
    assert_eq!(backup.serial, 6);
}

#[tokio::test]
async fn only_creates_the_journal_names_may_have_left_something_behind() {
    let dir = state_dir();
    let backend = LocalBackend::new(dir.path());
    let provider = MemoryProvider::new();
    let leftover_possible =
        |p: &MemoryProvider| p.calls().iter().filter(|c| c.op == Op::Create).map(|c| (c.address.clone(), c.leftover_possible)).collect::<Vec<_>>();

    // No state document at all: nothing says what an earlier run began, so every create looks.
    let plan = plan_yaml(&independent_networks(2), None);
    apply_with(&plan, None, &provider, &backend, 1).await.unwrap();
    assert_eq!(leftover_possible(&provider), vec![("n0".into(), true), ("n1".into(), true)]);

    // A state document with its journal (as `tenant create` writes before planning): nothing
    // was begun, so no create looks.
    let dir = state_dir();
    let backend = LocalBackend::new(dir.path());
    let fresh = State::new("wide");
    backend.save(&fresh).await.unwrap();
    let provider = MemoryProvider::new();
    provider.fail("n1");
    let plan = plan_yaml(&independent_networks(3), Some(&fresh));
    let report = apply_with(&plan, Some(fresh), &provider, &backend, 1).await.unwrap();
    assert_eq!(report.failures.len(), 1);
    assert_eq!(leftover_possible(&provider), vec![("n0".into(), false), ("n1".into(), false)]);
    let state = backend.load("wide").await.unwrap().unwrap();
    assert_eq!(state.creating, Some(vec!["n1".to_string(), "n2".to_string()]), "the failed create and the one never begun stay in the journal");

    let token = |p: &MemoryProvider, address: &str| p.calls().iter().find(|c| c.op == Op::Create && c.address == address).and_then(|c| c.client_token.clone());
    let first_token = token(&provider, "n1").expect("a create has an idempotency token");
    assert_ne!(token(&provider, "n0"), Some(first_token.clone()), "one token per create");
    assert_eq!(state.create_tokens.len(), 2, "the journal keeps the tokens of the creates it names: {:?}", state.create_tokens);

    // The next run: only the failed create (whose answer may have been lost after AWS made
    // the resource) looks; the one never begun does too, as the journal cannot tell them apart.
    provider.heal("n1");
    provider.reset_calls();
    let plan = plan_yaml(&independent_networks(4), Some(&state));
    apply_with(&plan, Some(state), &provider, &backend, 1).await.unwrap();
    assert_eq!(leftover_possible(&provider), vec![("n1".into(), true), ("n2".into(), true), ("n3".into(), false)]);
    assert_eq!(token(&provider, "n1"), Some(first_token.clone()), "the run after sends the token the interrupted create sent, so AWS makes one resource");
    let after = backend.load("wide").await.unwrap().unwrap();
    assert_eq!(after.creating, Some(vec![]));
    assert!(after.create_tokens.is_empty(), "recorded creates give their tokens up: {:?}", after.create_tokens);
}

#[tokio::test]
async fn a_state_save_that_fails_ends_the_apply_with_a_backend_error() {
    let dir = state_dir();
    let backend = RecordingBackend::new(dir.path());
    let provider = MemoryProvider::new();
    // The journal of creates, the first create, then the second fails.
    backend.fail_save(3);
    let plan = plan_yaml(&independent_networks(4), None);
    let err = apply_with(&plan, None, &provider, &backend, 1).await.unwrap_err();
    let EngineError::Backend { source, report } = err else { panic!("expected a backend error") };
    assert!(source.to_string().contains("disk full"), "{source}");
    assert!(report.interrupted);
    assert_eq!(report.completed.len(), 2, "{:?}", report.completed);
    assert_eq!(provider.calls().len(), 2, "nothing is started after state could not be saved");
    let on_disk = backend.load("wide").await.unwrap().unwrap();
    assert_eq!(on_disk.serial, 2);
    assert_eq!(on_disk.resources.len(), 1);
    assert_eq!(on_disk.creating.as_ref().map(Vec::len), Some(3), "the creates not recorded stay in the journal: {:?}", on_disk.creating);
}

#[tokio::test]
async fn outputs_are_resolved_into_state() {
    let dir = state_dir();
    let backend = LocalBackend::new(dir.path());
    let provider = MemoryProvider::new();
    let yaml = r#"
stack: out
params:
  env:
    default: dev
resources:
  net:
    type: test_network
    cidr_block: 10.0.0.0/16
  sub:
    type: test_subnet
    network_id: "${net.id}"
outputs:
  net_id: "${net.id}"
  label: "${param.env}/${sub.arn}"
  fixed: 42
  both:
    - "${net.id}"
    - "${sub.id}"
"#;
    let plan = plan_yaml(yaml, None);
    assert!(plan.output_changes["net_id"].after_unknown);
    assert_eq!(plan.output_changes["fixed"].after, Some(json!(42)));
    apply_with(&plan, None, &provider, &backend, 10).await.unwrap();

    let net = provider.call(Op::Create, "net").id.unwrap();
    let sub = provider.call(Op::Create, "sub").id.unwrap();
    let saved = backend.load("out").await.unwrap().unwrap();
    assert_eq!(saved.outputs["net_id"], json!(net));
    assert_eq!(saved.outputs["label"], json!(format!("dev/arn:test:test_subnet/{sub}")));
    assert_eq!(saved.outputs["fixed"], json!(42));
    assert_eq!(saved.outputs["both"], json!([net, sub]));
    assert_eq!(saved.params["env"], json!("dev"));
    assert!(plan_yaml(yaml, Some(&saved)).output_changes.is_empty());
}

#[tokio::test]
async fn the_loader_stack_and_the_engine_agree_on_interpolated_params() {
    let yaml = "stack: p\nparams:\n  name:\n    default: web\nresources:\n  net:\n    type: test_network\n    cidr_block: 10.0.0.0/16\n    name: \"${param.name}-x\"\n";
    let mut stack = load(yaml);
    stack.param_overrides.insert("name".into(), json!("api"));
    let plan = clawform_core::plan(&stack, &registry(), None, Default::default()).unwrap();
    assert_eq!(plan.change("net").unwrap().after.as_ref().unwrap()["name"], json!("api-x"));
    let dir = state_dir();
    let backend = LocalBackend::new(dir.path());
    let provider = MemoryProvider::new();
    apply_with(&plan, None, &provider, &backend, 10).await.unwrap();
    assert_eq!(provider.call(Op::Create, "net").attributes["name"], json!("api-x"));
}

#[tokio::test]
async fn a_plan_whose_operations_wait_on_each_other_is_reported_not_skipped() {
    // A plan file edited by hand (or a future ordering bug) can make two creates wait on each
    // other; the apply must not then claim success with nothing done.
    let mut plan = plan_yaml(&independent_networks(2), None);
    plan.changes[0].config.as_mut().unwrap().attributes["name"] = json!("${n1.id}");
    plan.changes[1].config.as_mut().unwrap().attributes["name"] = json!("${n0.id}");
    let dir = state_dir();
    let backend = LocalBackend::new(dir.path());
    let provider = MemoryProvider::new();
    let report = tokio::time::timeout(Duration::from_secs(10), apply_with(&plan, None, &provider, &backend, 10)).await.expect("apply ends").unwrap();
    assert!(report.interrupted);
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    assert!(report.failures[0].message.contains("n0") && report.failures[0].message.contains("n1"), "{}", report.failures[0].message);
    assert!(provider.calls().is_empty());
}

fn targeted(name: &str, port: u16) -> String {
    format!("stack: cbd\nresources:\n  target:\n    type: test_target\n    name: {name}\n    port: {port}\n  user:\n    type: test_network\n    cidr_block: 10.9.0.0/16\n    name: ${{target.id}}\n")
}

/// A target `blue` on port 80 and a network that names it, applied.
async fn applied_blue_target() -> (tempfile::TempDir, LocalBackend, std::sync::Arc<MemoryProvider>, clawform_core::State) {
    let dir = state_dir();
    let backend = LocalBackend::new(dir.path());
    let provider = MemoryProvider::new();
    apply_with(&plan_yaml(&targeted("blue", 80), None), None, &provider, &backend, 10).await.unwrap();
    let before = backend.load("cbd").await.unwrap().unwrap();
    (dir, backend, provider, before)
}

#[tokio::test]
async fn a_replacement_whose_name_changes_creates_first_moves_dependents_then_deletes() {
    let (_dir, backend, provider, before) = applied_blue_target().await;
    let old = before.get("target").unwrap().id.clone();
    provider.reset_calls();

    let plan = plan_yaml(&targeted("green", 80), Some(&before));
    let change = plan.change("target").unwrap();
    assert_eq!((change.action, change.create_before_destroy), (Action::Replace, true));
    let report = apply_with(&plan, Some(before), &provider, &backend, 10).await.unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    // The provider refuses to delete a target still in use: the order is the only way through.
    let order = [(Op::Create, "target"), (Op::Update, "user"), (Op::Delete, "target")];
    for pair in order.windows(2) {
        let (a, b) = (provider.call(pair[0].0, pair[0].1), provider.call(pair[1].0, pair[1].1));
        assert!(a.finished < b.started, "{:?} must end before {:?} starts: {:?}", pair[0], pair[1], provider.ops());
    }
    assert_eq!(provider.call(Op::Delete, "target").id, Some(old.clone()));
    let after = backend.load("cbd").await.unwrap().unwrap();
    assert!(after.deposed.is_empty(), "{:?}", after.deposed);
    assert_ne!(after.get("target").unwrap().id, old);
    assert_eq!(after.get("user").unwrap().attributes["name"], json!(after.get("target").unwrap().id));
    assert!(!plan_yaml(&targeted("green", 80), Some(&after)).has_changes());
}

#[tokio::test]
async fn a_replacement_that_keeps_a_unique_name_deletes_first() {
    let (_dir, _backend, _provider, before) = applied_blue_target().await;
    let plan = plan_yaml(&targeted("blue", 8080), Some(&before));
    let change = plan.change("target").unwrap();
    assert_eq!((change.action, change.create_before_destroy), (Action::Replace, false), "two targets named blue would collide");
}

#[tokio::test]
async fn an_old_resource_left_by_an_interrupted_create_before_destroy_is_deleted_next_time() {
    let (_dir, backend, provider, before) = applied_blue_target().await;
    let old = before.get("target").unwrap().id.clone();
    provider.fail_deletes("target");
    let report = apply_with(&plan_yaml(&targeted("green", 80), Some(&before)), Some(before), &provider, &backend, 10).await.unwrap();
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    let stuck = backend.load("cbd").await.unwrap().unwrap();
    assert_eq!(stuck.deposed.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), vec![old.clone()], "the old target is kept, deposed");
    assert_ne!(stuck.get("target").unwrap().id, old, "the address holds the new one");

    provider.heal("target");
    provider.reset_calls();
    let plan = plan_yaml(&targeted("green", 80), Some(&stuck));
    let deposed: Vec<_> = plan.changes.iter().filter(|c| c.deposed).collect();
    assert_eq!(deposed.len(), 1);
    assert_eq!((deposed[0].action, deposed[0].prior_id.clone()), (Action::Delete, Some(old.clone())));
    let report = apply_with(&plan, Some(stuck), &provider, &backend, 10).await.unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(provider.call(Op::Delete, "target").id, Some(old.clone()));
    assert!(provider.live(&old).is_none());
    let after = backend.load("cbd").await.unwrap().unwrap();
    assert!(after.deposed.is_empty());
    assert!(!plan_yaml(&targeted("green", 80), Some(&after)).has_changes());
}

#[tokio::test]
async fn what_a_refreshed_plan_leaves_alone_is_recorded_as_aws_has_it() {
    // A rollout died after the service moved (here: the subnet's description) and before state
    // was saved. The next run's plan, made from state refreshed from AWS, leaves the subnet
    // alone; its apply must record what AWS has, or `drift` would report it for good.
    let dir = state_dir();
    let backend = LocalBackend::new(dir.path());
    let provider = MemoryProvider::new();
    let v1 = "stack: live\nresources:\n  net:\n    type: test_network\n    cidr_block: 10.0.0.0/16\n  sub:\n    type: test_subnet\n    network_id: ${net.id}\n    description: one\n";
    let first = apply_with(&plan_yaml(v1, None), None, &provider, &backend, 4).await.unwrap();
    let sub = first.state.get("sub").unwrap().clone();
    let mut live = provider.live(&sub.id).unwrap();
    live["description"] = json!("two");
    provider.set_live(&sub.id, live);

    let state = backend.load("live").await.unwrap().unwrap();
    let report = clawform_core::drift::detect(std::slice::from_ref(&state), &registry(), provider.as_ref()).await.unwrap();
    assert!(report.has_drift());
    let refreshed = clawform_core::drift::refreshed(&state, &report);
    // The stack now says "two" (the rollout's target) and adds a second network (other work).
    let v2 = format!("{}  other:\n    type: test_network\n    cidr_block: 10.1.0.0/16\n", v1.replace("description: one", "description: two"));
    let plan = plan_yaml(&v2, Some(&refreshed));
    assert_eq!(plan.change("sub").unwrap().action, Action::NoOp, "AWS already has it");
    let done = apply_with(&plan, Some(state), &provider, &backend, 4).await.unwrap();
    assert_eq!(done.state.get("sub").unwrap().attributes["description"], json!("two"));
    let stored = backend.load("live").await.unwrap().unwrap();
    assert_eq!(stored.get("sub").unwrap().attributes["description"], json!("two"), "state names what AWS has");
    let again = clawform_core::drift::detect(std::slice::from_ref(&stored), &registry(), provider.as_ref()).await.unwrap();
    assert!(!again.has_drift(), "drift agrees with the plan: {again:?}");
}
