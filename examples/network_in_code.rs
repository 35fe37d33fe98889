//! Builds a small network stack in Rust (no YAML), plans it and applies it, then destroys it.
//!
//! Runs against whatever the standard AWS chain points at; with moto:
//!   AWS_ENDPOINT_URL=http://127.0.0.1:5000 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
//!   AWS_REGION=us-west-2 cargo run --example network_in_code -- /tmp/project

use clawform::aws::ec2::subnet::Subnet;
use clawform::aws::ec2::vpc::Vpc;
use clawform::core::Val;
use clawform::{ApplyOptions, Stack, Workspace};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let root = std::env::args().nth(1).unwrap_or_else(|| ".".into());
    let mut stack = Stack::new("network-in-code");
    stack.add("vpc", Vpc { cidr_block: "10.40.0.0/16".into(), enable_dns_hostnames: Some(true.into()), ..Default::default() })?;
    stack.add("subnet", Subnet { vpc_id: Val::reference("vpc", "id"), cidr_block: "10.40.1.0/24".into(), ..Default::default() })?;
    stack.output("subnet_id", "${subnet.id}");

    let workspace = Workspace::open(&root);
    stack.check(workspace.registry())?;
    let provider = workspace.aws_provider(None).await;

    let plan = workspace.plan(&stack).await?;
    println!("plan: {:?}", plan.summary());
    let report = workspace.apply(&plan, provider.clone(), &ApplyOptions::default()).await?;
    println!("applied {} operations; outputs: {:?}", report.completed.len(), report.state.outputs);

    let destroy = workspace.plan_destroy(&stack.name).await?;
    let report = workspace.apply(&destroy, provider, &ApplyOptions::default()).await?;
    println!("destroyed {} resources", report.completed.len());
    Ok(())
}
