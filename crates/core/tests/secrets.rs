//! Secret parameters: given at run time, never in plans or state, and what uses them keeps its
//! value when they are not given again.

use crate::support::{load, registry, MemoryProvider};
use clawform_core::backend::{LocalBackend, StateBackend};
use clawform_core::plan::PlanError;
use clawform_core::{Action, ApplyOptions};
use serde_json::json;

const STACK: &str = "stack: sec\nparams:\n  api_key:\n    sensitive: true\n  label:\n    default: one\nresources:\n  secret:\n    type: test_secret\n    name: \"${param.label}\"\n    value: \"key=${param.api_key}\"\n";

fn plan_with(label: &str, key: Option<&str>, state: Option<&clawform_core::State>) -> Result<clawform_core::Plan, PlanError> {
    let mut stack = load(STACK);
    stack.param_overrides.insert("label".into(), json!(label));
    if let Some(k) = key {
        stack.param_overrides.insert("api_key".into(), json!(k));
    }
    clawform_core::plan(&stack, &registry(), state, Default::default())
}

fn options(key: Option<&str>) -> ApplyOptions {
    let mut o = ApplyOptions::default();
    if let Some(k) = key {
        o.secret_params.insert("api_key".into(), json!(k));
    }
    o
}

#[tokio::test]
async fn secrets_reach_the_provider_but_never_plans_or_state() {
    let dir = tempfile::tempdir().unwrap();
    let backend = LocalBackend::new(dir.path());
    let provider = MemoryProvider::new();

    // Without the secret the plan is made (policy checks need no secret: plans never hold
    // one): the value is unknown until apply, and applying it is refused before any call.
    let unsecret = plan_with("one", None, None).unwrap();
    assert_eq!(unsecret.needs_secrets, vec!["secret".to_string()]);
    assert!(unsecret.change("secret").unwrap().after_unknown.contains(&"value".to_string()));
    assert!(unsecret.warnings.iter().any(|w| w.contains("`api_key`")), "{:?}", unsecret.warnings);
    let refused = clawform_core::apply(&unsecret, None, &registry(), provider.clone(), &backend, &options(None)).await.unwrap_err();
    assert!(matches!(refused, clawform_core::EngineError::MissingSecrets { .. }), "{refused}");
    assert_eq!(provider.calls().len(), 0, "no call was made");

    let plan = plan_with("one", Some("s3cr3t-1"), None).unwrap();
    let text = serde_json::to_string(&plan).unwrap();
    assert!(!text.contains("s3cr3t"), "the plan holds the secret: {text}");
    let report = clawform_core::apply(&plan, None, &registry(), provider.clone(), &backend, &options(Some("s3cr3t-1"))).await.unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let id = report.state.get("secret").unwrap().id.clone();
    assert_eq!(provider.live(&id).unwrap()["value"], json!("key=s3cr3t-1"), "the provider got the real value");
    let on_disk = std::fs::read_to_string(dir.path().join("sec.json")).unwrap();
    assert!(!on_disk.contains("s3cr3t"), "state holds the secret: {on_disk}");
    let state = backend.load("sec").await.unwrap().unwrap();
    assert!(state.get("secret").unwrap().attributes["value"].as_str().unwrap().starts_with("sha256:"));

    // Not given again, or given unchanged: nothing to do. Changed: an update of that attribute.
    assert!(!plan_with("one", None, Some(&state)).unwrap().has_changes());
    assert!(!plan_with("one", Some("s3cr3t-1"), Some(&state)).unwrap().has_changes());
    let rotate = plan_with("one", Some("s3cr3t-2"), Some(&state)).unwrap();
    let change = rotate.change("secret").unwrap();
    assert_eq!((change.action, change.changed.clone()), (Action::Update, vec!["value".to_string()]));
    clawform_core::apply(&rotate, Some(state), &registry(), provider.clone(), &backend, &options(Some("s3cr3t-2"))).await.unwrap();
    assert_eq!(provider.live(&id).unwrap()["value"], json!("key=s3cr3t-2"));

    // Another attribute changes without the secret: only that attribute changes.
    let state = backend.load("sec").await.unwrap().unwrap();
    let rename = plan_with("two", None, Some(&state)).unwrap();
    assert_eq!(rename.change("secret").unwrap().changed, vec!["name".to_string()]);
    clawform_core::apply(&rename, Some(state), &registry(), provider.clone(), &backend, &options(None)).await.unwrap();
    let state = backend.load("sec").await.unwrap().unwrap();
    assert!(!plan_with("two", Some("s3cr3t-2"), Some(&state)).unwrap().has_changes(), "the stored digest still matches the live secret");
    let all = std::fs::read_dir(dir.path()).unwrap().map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default()).collect::<String>();
    assert!(!all.contains("s3cr3t"));
}
