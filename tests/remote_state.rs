//! State on S3 (moto's): a stack applied with `--backend s3://…`, its lock and its state in the
//! bucket, and `state pull` / `state push` moving it to a local folder and back.

use crate::common::{sdk_config, Project};

fn net(name: &str) -> String {
    format!("stack: {name}\nresources:\n  vpc:\n    type: aws_vpc\n    cidr_block: 10.61.0.0/16\noutputs:\n  vpc_id: ${{vpc.id}}\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn state_lives_in_s3_and_moves_between_backends() {
    let project = Project::new();
    let config = sdk_config(&project.moto).await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build());
    let bucket = clawform_testkit::unique("state");
    let location = aws_sdk_s3::types::CreateBucketConfiguration::builder().location_constraint(aws_sdk_s3::types::BucketLocationConstraint::UsWest2).build();
    s3.create_bucket().bucket(&bucket).create_bucket_configuration(location).send().await.unwrap();
    let name = clawform_testkit::unique("remote");
    project.write_stack("net", &net(&name));
    let url = format!("s3://{bucket}/teams/openclaw");

    project.ok(&["--backend", &url, "apply", "net", "--auto-approve"], 0);
    let object = s3.get_object().bucket(&bucket).key(format!("teams/openclaw/{name}.json")).send().await.unwrap();
    let body = object.body.collect().await.unwrap().into_bytes();
    let state: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(state["resources"][0]["address"], "vpc");
    assert!(!project.state_file(&name).exists(), "nothing was written to the local folder");
    project.ok(&["--backend", &url, "plan", "net", "--detailed-exitcode"], 0);

    // A lock held in S3 stops a second writer and names its holder.
    let holder = r#"{"id":"x","who":"ci@runner-3 (pid 7)","operation":"apply","created":"2026-11-26T09:00:00Z"}"#;
    s3.put_object().bucket(&bucket).key(format!("teams/openclaw/{name}.lock")).body(holder.as_bytes().to_vec().into()).send().await.unwrap();
    let locked = project.ok(&["--backend", &url, "apply", "net", "--auto-approve"], 1);
    assert!(locked.stderr.contains("ci@runner-3 (pid 7)"), "{}", locked.stderr);
    let other = project.ok(&["--backend", &url, "force-unlock", "net", "not-x", "--force"], 1);
    assert!(other.stderr.contains("has id x, not not-x"), "{}", other.stderr);
    project.ok(&["--backend", &url, "force-unlock", "net", "x", "--force"], 0);

    // Pull from S3, push to the local folder: the local backend now plans no changes.
    let pulled = project.ok(&["--backend", &url, "state", "pull", "net"], 0);
    let file = project.path().join("pulled.json");
    std::fs::write(&file, &pulled.stdout).unwrap();
    project.ok(&["state", "push", file.to_str().unwrap()], 0);
    project.ok(&["plan", "net", "--detailed-exitcode"], 0);
    // Pushing the same serial again is refused: it would not be newer.
    let again = project.ok(&["state", "push", file.to_str().unwrap()], 1);
    assert!(again.stderr.contains("serial"), "{}", again.stderr);
    project.ok(&["--backend", &url, "destroy", "net", "--auto-approve"], 0);
}
