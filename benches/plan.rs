//! Offline planning at scale (issue #8): load + graph + plan of the base stack and N tenant
//! stacks, with no refresh (no AWS call), state as if everything were applied and a template
//! change pending (`image_tag=v2`, so every tenant's task definition is replaced and its service
//! updated). The state is made by the real engine with a provider that invents ids
//! (`support/fake.rs`).
//!
//! ```sh
//! cargo bench --bench plan                                  # N = 0, 100, 500, 2000
//! CLAWFORM_BENCH_TENANTS=0,100 cargo bench --bench plan     # some sizes only
//! ```

#[path = "support/fake.rs"]
mod fake;

use std::sync::Arc;

use clawform::core::{LocalBackend, StateBackend};
use clawform::tenants::BASE_STACK;
use clawform::{Tenants, Workspace};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use indexmap::IndexMap;
use serde_json::json;

fn sizes() -> Vec<usize> {
    match std::env::var("CLAWFORM_BENCH_TENANTS") {
        Ok(list) => list.split(',').map(|s| s.trim().parse().expect("CLAWFORM_BENCH_TENANTS: numbers separated by commas")).collect(),
        Err(_) => vec![0, 100, 500, 2000],
    }
}

/// What `plan base --refresh=false` and `tenant plan --all --refresh=false` do, in process.
/// Returns the number of tenants with changes.
async fn plan_everything(workspace: &Workspace, tenants: &Tenants) -> usize {
    let base = workspace.load(BASE_STACK, &IndexMap::new()).expect("base loads");
    let plan = workspace.plan(&base).await.expect("base plans");
    assert!(!plan.has_changes(), "the base stack is as applied");
    let params = IndexMap::from([("image_tag".to_string(), json!("v2"))]);
    let plans = tenants.plan_all_offline(&params).await.expect("tenants plan");
    plans.iter().filter(|(_, p)| p.has_changes()).count()
}

fn offline_plan(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let mut group = c.benchmark_group("offline_plan");
    group.sample_size(10);
    for n in sizes() {
        let (memory, _backend) = runtime.block_on(fake::applied(&fake::repo_root(), n));
        let provider: Arc<dyn clawform::core::Provider> = Arc::new(fake::FakeProvider::default());
        let tenants = Tenants::new(memory.clone(), provider.clone());
        assert_eq!(runtime.block_on(plan_everything(&memory, &tenants)), n, "every tenant has the image change pending");
        group.bench_with_input(BenchmarkId::new("state_in_memory", n), &n, |b, _| b.iter(|| runtime.block_on(plan_everything(&memory, &tenants))));

        // The same states in a folder, read and parsed as the CLI does.
        let dir = tempfile::tempdir().expect("a temporary folder");
        let local = Arc::new(LocalBackend::new(dir.path().join("state")));
        runtime.block_on(async {
            for state in memory.backend().list().await.expect("list") {
                let state = memory.backend().load(&state).await.expect("load").expect("saved");
                local.save(&state).await.expect("save");
            }
        });
        let on_disk = Workspace::open(fake::repo_root()).with_backend(local);
        let tenants = Tenants::new(on_disk.clone(), provider);
        group.bench_with_input(BenchmarkId::new("state_on_disk", n), &n, |b, _| b.iter(|| runtime.block_on(plan_everything(&on_disk, &tenants))));
    }
    group.finish();
}

criterion_group!(benches, offline_plan);
criterion_main!(benches);
