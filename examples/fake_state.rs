//! Writes a project folder "as if applied" for benchmarks: the base stack and N tenants, with
//! state made by the real planner and engine against a provider that invents ids and ARNs (no
//! AWS call). The CLI then plans it offline:
//!
//! ```sh
//! cargo run --example fake_state -- /tmp/fake500 500     # STACKS=DIR: stacks from DIR
//! clawform -C /tmp/fake500 tenant plan --all --refresh=false --param image_tag=v2
//! ```

#[path = "../benches/support/fake.rs"]
mod fake;

use clawform::core::{LocalBackend, StateBackend};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(n)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: fake_state DIR TENANTS");
    };
    let n: usize = n.parse().map_err(|e| anyhow::anyhow!("TENANTS must be a number: {e}"))?;
    let dir = std::path::PathBuf::from(dir);
    if dir.join("state").exists() {
        anyhow::bail!("{} already holds state; give a new folder", dir.display());
    }
    std::fs::create_dir_all(dir.join("stacks"))?;
    for name in ["base", "tenant"] {
        let from = std::env::var_os("STACKS").map_or_else(|| fake::repo_root().join("stacks"), std::path::PathBuf::from);
        std::fs::copy(from.join(format!("{name}.yaml")), dir.join(format!("stacks/{name}.yaml")))?;
    }
    let (_workspace, memory) = fake::applied(&dir, n).await;
    let local = LocalBackend::new(dir.join("state"));
    let states = memory.states();
    for state in &states {
        local.save(state).await?;
    }
    println!("{}: base + {n} tenants, {} state documents", dir.display(), states.len());
    Ok(())
}
