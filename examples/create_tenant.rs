//! What the OpenClaw web app does on "Create Instance": create a tenant through the library and
//! store the URL and ARNs it returns. The base stack must be applied in the project first.
//!
//!   ANTHROPIC_API_KEY=... cargo run --example create_tenant -- /path/to/project abc123

use clawform::core::engine::ApplyOptions;
use clawform::{TenantSecrets, Tenants, Workspace};
use indexmap::IndexMap;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let root = args.next().unwrap_or_else(|| ".".into());
    let id = args.next().unwrap_or_else(|| "abc123".into());
    let workspace = Workspace::open(&root);
    let tenants = Tenants::new(workspace.clone(), workspace.aws_provider(None).await);

    // The key comes from the environment (or a secrets store), never from code or YAML; the
    // gateway token is generated. Neither is returned, printed or stored by clawform.
    let secrets = TenantSecrets { api_key: std::env::var("ANTHROPIC_API_KEY").ok(), gateway_token: None };
    let info = tenants.create(&id, &IndexMap::new(), &secrets, &ApplyOptions::default()).await?;
    println!("{}", serde_json::to_string_pretty(&info)?);
    Ok(())
}
