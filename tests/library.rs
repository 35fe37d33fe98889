//! The library path: the same stack built from the resource structs in code, planned and
//! applied without YAML or the CLI.

use clawform::aws::ec2::subnet::Subnet;
use clawform::aws::ec2::vpc::Vpc;
use clawform::core::Val;
use clawform::{Action, ApplyOptions, Stack, Workspace};

#[tokio::test(flavor = "multi_thread")]
async fn a_stack_built_in_code_plans_applies_and_destroys() {
    let moto = clawform_testkit::moto_for(file!());
    moto.set_process_env();
    let dir = tempfile::tempdir().unwrap();
    let name = clawform_testkit::unique("lib");
    let mut stack = Stack::new(name.clone());
    stack.add("vpc", Vpc { cidr_block: "10.40.0.0/16".into(), ..Default::default() }).unwrap();
    stack.add("subnet", Subnet { vpc_id: Val::reference("vpc", "id"), cidr_block: "10.40.1.0/24".into(), ..Default::default() }).unwrap();
    stack.output("subnet_id", "${subnet.id}");
    let workspace = Workspace::open(dir.path());
    stack.check(workspace.registry()).unwrap();
    let provider = workspace.aws_provider(None).await;

    let plan = workspace.plan(&stack).await.unwrap();
    assert_eq!(plan.change("subnet").unwrap().action, Action::Create);
    let report = workspace.apply(&plan, provider.clone(), &ApplyOptions::default()).await.unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let subnet_id = report.state.outputs["subnet_id"].as_str().unwrap().to_string();
    assert!(subnet_id.starts_with("subnet-"), "{subnet_id}");

    // The subnet is really in the VPC clawform created.
    let read = provider.read("aws_subnet", std::slice::from_ref(&subnet_id)).await.unwrap();
    let vpc_id = report.state.get("vpc").unwrap().id.clone();
    assert_eq!(read[0].as_ref().unwrap()["vpc_id"], vpc_id.as_str());

    assert!(!workspace.plan(&stack).await.unwrap().has_changes());
    let destroy = workspace.plan_destroy(&name).await.unwrap();
    let report = workspace.apply(&destroy, provider.clone(), &ApplyOptions::default()).await.unwrap();
    assert_eq!(report.completed.len(), 2);
    assert_eq!(provider.read("aws_subnet", &[subnet_id]).await.unwrap(), vec![None]);
}
