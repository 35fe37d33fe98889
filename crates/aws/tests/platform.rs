//! The platform resource types (IAM, ECR, CloudWatch Logs) against moto's server: each is
//! created, checked in moto with the raw SDK (attributes and ownership tags), read back, updated,
//! and deleted, through core's `Provider` trait with JSON attributes, as the engine drives it.

use std::collections::BTreeMap;

use crate::support::{expected_tags, state_of, Subject};
use clawform_aws::AwsProvider;
use clawform_core::Provider;
use clawform_testkit::unique;
use serde_json::{json, Value as Json};

const ECS_TASK_EXECUTION: &str = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy";
const ECS_FOR_EC2: &str = "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role";

/// The provider under test (through `Deref`) and independent raw SDK clients, all pointed at
/// this binary's moto server.
struct Env {
    subject: Subject,
    iam: aws_sdk_iam::Client,
    ecr: aws_sdk_ecr::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
}

crate::support::deref_to_subject!(Env);

async fn env() -> Env {
    let config = crate::support::moto_config().await;
    Env {
        subject: Subject::new(AwsProvider::from_env(None).await, "stack"),
        iam: aws_sdk_iam::Client::new(&config),
        ecr: aws_sdk_ecr::Client::new(&config),
        logs: aws_sdk_cloudwatchlogs::Client::new(&config),
    }
}

impl Env {
    /// A role made through the provider that ECS tasks (or `service`) may assume.
    async fn role(&self, address: &str, service: &str) -> String {
        self.create("aws_iam_role", address, &json!({ "name": unique(address), "assume_role_policy": trust_policy(service) })).await.id
    }

    /// The managed policies attached to a role in moto, sorted.
    async fn attached(&self, role: &str) -> Vec<String> {
        let out = self.iam.list_attached_role_policies().role_name(role).send().await.unwrap();
        let mut arns: Vec<String> = out.attached_policies().iter().map(|p| p.policy_arn().unwrap().to_string()).collect();
        arns.sort();
        arns
    }
}

fn iam_tag_map(tags: &[aws_sdk_iam::types::Tag]) -> BTreeMap<String, String> {
    tags.iter().map(|t| (t.key().to_string(), t.value().to_string())).collect()
}

/// A trust policy letting `service` assume a role, laid out as people write them.
fn trust_policy(service: &str) -> String {
    format!(
        r#"{{
  "Version": "2012-10-17",
  "Statement": [
    {{ "Effect": "Allow", "Principal": {{ "Service": "{service}" }}, "Action": "sts:AssumeRole" }}
  ]
}}"#
    )
}

/// The canonical form reads give a document: compact, keys sorted.
fn canonical(text: &str) -> String {
    fn sort(v: Json) -> Json {
        match v {
            Json::Object(m) => {
                let mut entries: Vec<_> = m.into_iter().collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                Json::Object(entries.into_iter().map(|(k, v)| (k, sort(v))).collect())
            }
            Json::Array(items) => Json::Array(items.into_iter().map(sort).collect()),
            other => other,
        }
    }
    sort(serde_json::from_str(text).unwrap()).to_string()
}

/// A policy document as moto (like IAM) returns it, URL-encoded, parsed.
fn iam_document(encoded: &str) -> Json {
    let bytes = encoded.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&encoded[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    serde_json::from_slice(&out).unwrap()
}

fn parsed(text: &str) -> Json {
    serde_json::from_str(text).unwrap()
}

fn s3_read_policy(bucket: &str) -> String {
    format!(r#"{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::{bucket}/*"}}]}}"#)
}

#[tokio::test(flavor = "multi_thread")]
async fn iam_role_create_read_update_delete() {
    let env = env().await;
    let name = unique("task-exec");
    let trust = trust_policy("ecs-tasks.amazonaws.com");
    let attrs = json!({ "name": name, "assume_role_policy": trust, "description": "runs tasks", "tags": { "team": "platform" } });
    let applied = env.create("aws_iam_role", "exec_role", &attrs).await;
    assert_eq!(applied.id, name);

    let role = env.iam.get_role().role_name(&name).send().await.unwrap().role.unwrap();
    assert_eq!(iam_document(role.assume_role_policy_document().unwrap()), parsed(&trust));
    assert_eq!(role.description(), Some("runs tasks"));
    assert_eq!(role.path(), "/");
    assert_eq!(role.max_session_duration(), Some(3600));
    assert_eq!(iam_tag_map(role.tags()), expected_tags(&[("team", "platform")], env.ownership("exec_role")));
    assert_eq!(applied.computed["arn"], json!(role.arn()));
    assert_eq!(applied.computed["arn"], json!(format!("arn:aws:iam::123456789012:role/{name}")));
    assert_eq!(applied.computed["unique_id"], json!(role.role_id()));

    // The trust policy reads back in canonical form, whatever layout it was written in.
    let read = env.read_one("aws_iam_role", &name).await.unwrap();
    assert_eq!(
        read,
        json!({
            "id": name, "name": name, "assume_role_policy": canonical(&trust), "description": "runs tasks",
            "path": "/", "max_session_duration": 3600, "tags": { "team": "platform" },
            "arn": role.arn(), "unique_id": role.role_id()
        })
    );

    // A new trust policy, description, session length and tags.
    let prior = state_of(&attrs, &applied);
    let new_trust = trust_policy("ec2.amazonaws.com");
    let new = json!({
        "name": name, "assume_role_policy": new_trust, "description": "runs instances",
        "max_session_duration": 7200, "tags": { "team": "infra", "env": "test" }
    });
    env.update("aws_iam_role", "exec_role", &name, &prior, &new).await;
    let role = env.iam.get_role().role_name(&name).send().await.unwrap().role.unwrap();
    assert_eq!(iam_document(role.assume_role_policy_document().unwrap()), parsed(&new_trust));
    assert_eq!(role.description(), Some("runs instances"));
    assert_eq!(role.max_session_duration(), Some(7200));
    assert_eq!(iam_tag_map(role.tags()), expected_tags(&[("team", "infra"), ("env", "test")], env.ownership("exec_role")));
    let read = env.read_one("aws_iam_role", &name).await.unwrap();
    assert_eq!(read["assume_role_policy"], json!(canonical(&new_trust)));
    assert_eq!(read["max_session_duration"], json!(7200));
    assert_eq!(read["tags"], json!({ "team": "infra", "env": "test" }));

    // The same trust policy laid out differently, and no description: the policy is unchanged,
    // the description is gone.
    let relaid = json!({ "name": name, "assume_role_policy": canonical(&new_trust), "max_session_duration": 7200, "tags": { "team": "infra", "env": "test" } });
    env.update("aws_iam_role", "exec_role", &name, &new, &relaid).await;
    let read = env.read_one("aws_iam_role", &name).await.unwrap();
    assert_eq!(read["assume_role_policy"], json!(canonical(&new_trust)));
    assert_eq!(read.get("description"), None, "{read}");

    env.delete_and_check_gone("aws_iam_role", "exec_role", &name, &relaid).await;
    let err = env.iam.get_role().role_name(&name).send().await.expect_err("role still in moto");
    assert_eq!(aws_sdk_iam::error::ProvideErrorMetadata::code(&err), Some("NoSuchEntity"));
}

#[tokio::test(flavor = "multi_thread")]
async fn iam_role_policy_create_update_delete() {
    let env = env().await;
    let role = env.role("task_role", "ecs-tasks.amazonaws.com").await;
    let policy = s3_read_policy("openclaw-assets");
    let attrs = json!({ "role": role, "name": "read-assets", "policy": policy });
    let applied = env.create("aws_iam_role_policy", "assets", &attrs).await;
    let id = format!("{role}:read-assets");
    assert_eq!(applied.id, id);

    let out = env.iam.get_role_policy().role_name(&role).policy_name("read-assets").send().await.unwrap();
    assert_eq!(iam_document(out.policy_document()), parsed(&policy));
    assert_eq!(env.read_one("aws_iam_role_policy", &id).await.unwrap(), json!({ "id": id, "role": role, "name": "read-assets", "policy": canonical(&policy) }));

    let new_policy = s3_read_policy("openclaw-uploads");
    let new = json!({ "role": role, "name": "read-assets", "policy": new_policy });
    env.update("aws_iam_role_policy", "assets", &id, &state_of(&attrs, &applied), &new).await;
    let out = env.iam.get_role_policy().role_name(&role).policy_name("read-assets").send().await.unwrap();
    assert_eq!(iam_document(out.policy_document()), parsed(&new_policy));
    assert_eq!(env.read_one("aws_iam_role_policy", &id).await.unwrap()["policy"], json!(canonical(&new_policy)));

    env.delete_and_check_gone("aws_iam_role_policy", "assets", &id, &new).await;
    let left = env.iam.list_role_policies().role_name(&role).send().await.unwrap();
    assert!(left.policy_names().is_empty(), "{:?}", left.policy_names());
    // A policy of a role that is gone reads as gone too.
    assert_eq!(env.read_one("aws_iam_role_policy", "no-such-role:read-assets").await, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn iam_role_policy_attachments_of_aws_managed_policies() {
    let env = env().await;
    let exec = env.role("exec_role", "ecs-tasks.amazonaws.com").await;
    let instance = env.role("instance_role", "ec2.amazonaws.com").await;

    let a = env.create("aws_iam_role_policy_attachment", "exec_policy", &json!({ "role": exec, "policy_arn": ECS_TASK_EXECUTION })).await;
    let b = env.create("aws_iam_role_policy_attachment", "instance_policy", &json!({ "role": instance, "policy_arn": ECS_FOR_EC2 })).await;
    assert_eq!(a.id, format!("{exec}|{ECS_TASK_EXECUTION}"));
    assert_eq!(b.id, format!("{instance}|{ECS_FOR_EC2}"));
    assert_eq!(env.attached(&exec).await, vec![ECS_TASK_EXECUTION.to_string()]);
    assert_eq!(env.attached(&instance).await, vec![ECS_FOR_EC2.to_string()]);

    // Attaching again (what a re-run after a crash does) succeeds and changes nothing.
    let again = env.create("aws_iam_role_policy_attachment", "exec_policy", &json!({ "role": exec, "policy_arn": ECS_TASK_EXECUTION })).await;
    assert_eq!(again.id, a.id);
    assert_eq!(env.attached(&exec).await, vec![ECS_TASK_EXECUTION.to_string()]);

    // One batch: both attachments, one never made, one of a role that does not exist.
    let ids = vec![a.id.clone(), b.id.clone(), format!("{exec}|{ECS_FOR_EC2}"), format!("no-such-role|{ECS_FOR_EC2}")];
    let read = env.provider.read("aws_iam_role_policy_attachment", &ids).await.unwrap();
    assert_eq!(
        read,
        vec![
            Some(json!({ "id": a.id, "role": exec, "policy_arn": ECS_TASK_EXECUTION })),
            Some(json!({ "id": b.id, "role": instance, "policy_arn": ECS_FOR_EC2 })),
            None,
            None
        ]
    );

    env.delete_and_check_gone("aws_iam_role_policy_attachment", "exec_policy", &a.id, &json!({})).await;
    env.delete_and_check_gone("aws_iam_role_policy_attachment", "instance_policy", &b.id, &json!({})).await;
    assert!(env.attached(&exec).await.is_empty());
    assert!(env.attached(&instance).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn iam_instance_profile_role_swap_and_delete() {
    let env = env().await;
    let first = env.role("first_role", "ec2.amazonaws.com").await;
    let second = env.role("second_role", "ec2.amazonaws.com").await;
    let name = unique("ecs-instance");
    let attrs = json!({ "name": name, "role": first, "path": "/ecs/", "tags": { "team": "platform" } });
    let applied = env.create("aws_iam_instance_profile", "profile", &attrs).await;
    assert_eq!(applied.id, name);

    let profile = env.iam.get_instance_profile().instance_profile_name(&name).send().await.unwrap().instance_profile.unwrap();
    let roles: Vec<&str> = profile.roles().iter().map(|r| r.role_name()).collect();
    assert_eq!(roles, vec![first.as_str()]);
    assert_eq!(profile.path(), "/ecs/");
    assert_eq!(iam_tag_map(profile.tags()), expected_tags(&[("team", "platform")], env.ownership("profile")));
    assert_eq!(applied.computed["arn"], json!(format!("arn:aws:iam::123456789012:instance-profile/ecs/{name}")));
    assert_eq!(applied.computed["unique_id"], json!(profile.instance_profile_id()));

    let read = env.read_one("aws_iam_instance_profile", &name).await.unwrap();
    assert_eq!(
        read,
        json!({
            "id": name, "name": name, "role": first, "path": "/ecs/", "tags": { "team": "platform" },
            "arn": profile.arn(), "unique_id": profile.instance_profile_id()
        })
    );

    // Another role: the old one is removed, the new one added; and new tags.
    let new = json!({ "name": name, "role": second, "path": "/ecs/", "tags": { "team": "infra" } });
    env.update("aws_iam_instance_profile", "profile", &name, &state_of(&attrs, &applied), &new).await;
    let profile = env.iam.get_instance_profile().instance_profile_name(&name).send().await.unwrap().instance_profile.unwrap();
    let roles: Vec<&str> = profile.roles().iter().map(|r| r.role_name()).collect();
    assert_eq!(roles, vec![second.as_str()]);
    assert_eq!(iam_tag_map(profile.tags()), expected_tags(&[("team", "infra")], env.ownership("profile")));
    let read = env.read_one("aws_iam_instance_profile", &name).await.unwrap();
    assert_eq!(read["role"], json!(second));
    assert_eq!(read["tags"], json!({ "team": "infra" }));

    // Delete removes the role first (IAM refuses otherwise); the role itself stays.
    env.delete_and_check_gone("aws_iam_instance_profile", "profile", &name, &new).await;
    let left = env.iam.list_instance_profiles_for_role().role_name(&second).send().await.unwrap();
    assert!(left.instance_profiles().is_empty());
    env.iam.get_role().role_name(&second).send().await.expect("the role outlives the profile");
}

#[tokio::test(flavor = "multi_thread")]
async fn iam_role_with_policies_deletes_in_dependency_order() {
    let env = env().await;
    let role = env.role("exec_role", "ecs-tasks.amazonaws.com").await;
    let attachment = env.create("aws_iam_role_policy_attachment", "exec_managed", &json!({ "role": role, "policy_arn": ECS_TASK_EXECUTION })).await.id;
    let inline =
        env.create("aws_iam_role_policy", "exec_inline", &json!({ "role": role, "name": "secrets", "policy": s3_read_policy("tenant-secrets") })).await.id;

    // What the engine does on destroy: dependents first, then the role.
    env.delete("aws_iam_role_policy_attachment", "exec_managed", &attachment, &json!({})).await;
    assert!(env.attached(&role).await.is_empty());
    env.delete("aws_iam_role_policy", "exec_inline", &inline, &json!({})).await;
    assert!(env.iam.list_role_policies().role_name(&role).send().await.unwrap().policy_names().is_empty());
    env.delete_and_check_gone("aws_iam_role", "exec_role", &role, &json!({})).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn iam_role_delete_removes_what_clawform_does_not_manage() {
    let env = env().await;
    let role = env.role("instance_role", "ec2.amazonaws.com").await;
    // Attached behind clawform's back (by hand, or by a run that crashed before saving state).
    env.iam.attach_role_policy().role_name(&role).policy_arn(ECS_FOR_EC2).send().await.unwrap();
    env.iam.put_role_policy().role_name(&role).policy_name("stray").policy_document(s3_read_policy("stray")).send().await.unwrap();
    let profile = unique("stray-profile");
    env.iam.create_instance_profile().instance_profile_name(&profile).send().await.unwrap();
    env.iam.add_role_to_instance_profile().instance_profile_name(&profile).role_name(&role).send().await.unwrap();
    // moto, like IAM, refuses to delete the role as it is.
    let conflict = env.iam.delete_role().role_name(&role).send().await.expect_err("moto deleted a role with policies attached");
    assert_eq!(aws_sdk_iam::error::ProvideErrorMetadata::code(&conflict), Some("DeleteConflict"));

    env.delete_and_check_gone("aws_iam_role", "instance_role", &role, &json!({})).await;
    let left = env.iam.get_instance_profile().instance_profile_name(&profile).send().await.unwrap().instance_profile.unwrap();
    assert!(left.roles().is_empty(), "the profile no longer holds the role");
}

#[tokio::test(flavor = "multi_thread")]
async fn ecr_repository_create_read_update_delete() {
    let env = env().await;
    let name = unique("openclaw/gateway");
    let attrs = json!({ "name": name, "tags": { "team": "platform" } });
    let applied = env.create("aws_ecr_repository", "gateway", &attrs).await;
    assert_eq!(applied.id, name);

    let describe = || async { env.ecr.describe_repositories().repository_names(&name).send().await.unwrap().repositories()[0].clone() };
    let repo = describe().await;
    assert_eq!(repo.image_tag_mutability().map(|m| m.as_str()), Some("MUTABLE"));
    assert_eq!(repo.image_scanning_configuration().map(|c| c.scan_on_push()), Some(false));
    let arn = repo.repository_arn().unwrap().to_string();
    let tags = env.ecr.list_tags_for_resource().resource_arn(&arn).send().await.unwrap();
    let tags: BTreeMap<String, String> = tags.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
    assert_eq!(tags, expected_tags(&[("team", "platform")], env.ownership("gateway")));
    let url = format!("123456789012.dkr.ecr.us-west-2.amazonaws.com/{name}");
    assert_eq!(applied.computed["arn"], json!(format!("arn:aws:ecr:us-west-2:123456789012:repository/{name}")));
    assert_eq!(applied.computed["arn"], json!(arn));
    assert_eq!(applied.computed["registry_id"], json!("123456789012"));
    assert_eq!(applied.computed["repository_url"], json!(url));

    let read = env.read_one("aws_ecr_repository", &name).await.unwrap();
    assert_eq!(
        read,
        json!({
            "id": name, "name": name, "image_tag_mutability": "MUTABLE",
            "image_scanning_configuration": [{ "scan_on_push": false }], "tags": { "team": "platform" },
            "arn": arn, "registry_id": "123456789012", "repository_url": url
        })
    );

    // Scan on push, immutable tags, other tags.
    let prior = state_of(&attrs, &applied);
    let new =
        json!({ "name": name, "image_tag_mutability": "IMMUTABLE", "image_scanning_configuration": [{ "scan_on_push": true }], "tags": { "env": "test" } });
    env.update("aws_ecr_repository", "gateway", &name, &prior, &new).await;
    let repo = describe().await;
    assert_eq!(repo.image_tag_mutability().map(|m| m.as_str()), Some("IMMUTABLE"));
    assert_eq!(repo.image_scanning_configuration().map(|c| c.scan_on_push()), Some(true));
    let read = env.read_one("aws_ecr_repository", &name).await.unwrap();
    assert_eq!(read["image_scanning_configuration"], json!([{ "scan_on_push": true }]));
    assert_eq!(read["image_tag_mutability"], json!("IMMUTABLE"));
    assert_eq!(read["tags"], json!({ "env": "test" }));

    // Scanning off again. The SDK leaves `scanOnPush: false` out of the request (false is the
    // member's default), so it sends `imageScanningConfiguration: {}`, which AWS reads as false;
    // moto 5.2.5 skips an empty configuration (`if image_scanning_configuration:`) and keeps
    // scanning on. Asserted as moto does it, so a moto that fixes this fails here and says so.
    let off =
        json!({ "name": name, "image_tag_mutability": "IMMUTABLE", "image_scanning_configuration": [{ "scan_on_push": false }], "tags": { "env": "test" } });
    env.update("aws_ecr_repository", "gateway", &name, &new, &off).await;
    assert_eq!(
        describe().await.image_scanning_configuration().map(|c| c.scan_on_push()),
        Some(true),
        "moto now turns scanning off: assert false here and drop the note"
    );

    env.delete_and_check_gone("aws_ecr_repository", "gateway", &name, &off).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ecr_repository_with_images_needs_force_delete() {
    let env = env().await;
    let keep = env.create("aws_ecr_repository", "keep", &json!({ "name": unique("keep") })).await.id;
    let name = unique("tenant-images");
    let attrs = json!({ "name": name });
    let applied = env.create("aws_ecr_repository", "images", &attrs).await;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": { "mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023, "digest": "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7" },
        "layers": []
    });
    env.ecr.put_image().repository_name(&name).image_manifest(manifest.to_string()).image_tag("v1").send().await.unwrap();

    // Without force_delete a repository with images stays.
    let err =
        env.provider.delete(&env.ctx("images"), "aws_ecr_repository", &name, &state_of(&attrs, &applied)).await.expect_err("deleted a repository with images");
    assert!(err.message.contains("RepositoryNotEmptyException"), "{err}");

    // One batch read: both repositories, and one that does not exist (ECR then refuses the
    // whole DescribeRepositories call, and the provider lists the registry instead).
    let ids = vec![name.clone(), "no-such-repository".to_string(), keep.clone()];
    let read = env.provider.read("aws_ecr_repository", &ids).await.unwrap();
    assert_eq!(read[0].as_ref().unwrap()["name"], json!(name));
    assert_eq!(read[1], None);
    assert_eq!(read[2].as_ref().unwrap()["name"], json!(keep));

    let forced = json!({ "name": name, "force_delete": true });
    env.update("aws_ecr_repository", "images", &name, &state_of(&attrs, &applied), &forced).await;
    env.delete_and_check_gone("aws_ecr_repository", "images", &name, &forced).await;
    env.delete_and_check_gone("aws_ecr_repository", "keep", &keep, &json!({})).await;
}

fn lifecycle_policy(keep: u32) -> String {
    format!(
        r#"{{
  "rules": [
    {{
      "rulePriority": 1,
      "description": "keep the last {keep} images",
      "selection": {{ "tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": {keep} }},
      "action": {{ "type": "expire" }}
    }}
  ]
}}"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn ecr_lifecycle_policy_create_update_delete() {
    let env = env().await;
    let repo = env.create("aws_ecr_repository", "repo", &json!({ "name": unique("lifecycle") })).await.id;
    let policy = lifecycle_policy(10);
    let attrs = json!({ "repository": repo, "policy": policy });
    let applied = env.create("aws_ecr_lifecycle_policy", "lifecycle", &attrs).await;
    assert_eq!(applied.id, repo);
    assert_eq!(applied.computed["registry_id"], json!("123456789012"));

    let out = env.ecr.get_lifecycle_policy().repository_name(&repo).send().await.unwrap();
    assert_eq!(parsed(out.lifecycle_policy_text().unwrap()), parsed(&policy));
    assert_eq!(
        env.read_one("aws_ecr_lifecycle_policy", &repo).await.unwrap(),
        json!({ "id": repo, "repository": repo, "policy": canonical(&policy), "registry_id": "123456789012" })
    );

    let new_policy = lifecycle_policy(3);
    let new = json!({ "repository": repo, "policy": new_policy });
    env.update("aws_ecr_lifecycle_policy", "lifecycle", &repo, &state_of(&attrs, &applied), &new).await;
    let out = env.ecr.get_lifecycle_policy().repository_name(&repo).send().await.unwrap();
    assert_eq!(parsed(out.lifecycle_policy_text().unwrap()), parsed(&new_policy));
    assert_eq!(env.read_one("aws_ecr_lifecycle_policy", &repo).await.unwrap()["policy"], json!(canonical(&new_policy)));

    env.delete_and_check_gone("aws_ecr_lifecycle_policy", "lifecycle", &repo, &new).await;
    let err = env.ecr.get_lifecycle_policy().repository_name(&repo).send().await.expect_err("policy still in moto");
    assert_eq!(aws_sdk_ecr::error::ProvideErrorMetadata::code(&err), Some("LifecyclePolicyNotFoundException"));
    env.ecr.describe_repositories().repository_names(&repo).send().await.expect("the repository outlives its policy");
    // The policy of a repository that does not exist reads as gone.
    assert_eq!(env.read_one("aws_ecr_lifecycle_policy", "no-such-repository").await, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn log_group_create_read_update_delete() {
    let env = env().await;
    let name = format!("/ecs/{}", unique("openclaw"));
    let attrs = json!({ "name": name, "retention_in_days": 30, "tags": { "team": "platform" } });
    let applied = env.create("aws_cloudwatch_log_group", "logs", &attrs).await;
    assert_eq!(applied.id, name);
    let arn = format!("arn:aws:logs:us-west-2:123456789012:log-group:{name}");
    assert_eq!(applied.computed["arn"], json!(arn));

    let group = env.logs.describe_log_groups().log_group_name_prefix(&name).send().await.unwrap().log_groups()[0].clone();
    assert_eq!(group.log_group_name(), Some(name.as_str()));
    assert_eq!(group.retention_in_days(), Some(30));
    let tags = env.logs.list_tags_for_resource().resource_arn(&arn).send().await.unwrap();
    let tags: BTreeMap<String, String> = tags.tags().unwrap().clone().into_iter().collect();
    assert_eq!(tags, expected_tags(&[("team", "platform")], env.ownership("logs")));
    assert_eq!(
        env.read_one("aws_cloudwatch_log_group", &name).await.unwrap(),
        json!({ "id": name, "name": name, "retention_in_days": 30, "tags": { "team": "platform" }, "arn": arn })
    );

    // Retention 30 → 90, tags changed.
    let ninety = json!({ "name": name, "retention_in_days": 90, "tags": { "team": "infra", "env": "test" } });
    env.update("aws_cloudwatch_log_group", "logs", &name, &state_of(&attrs, &applied), &ninety).await;
    let group = env.logs.describe_log_groups().log_group_name_prefix(&name).send().await.unwrap().log_groups()[0].clone();
    assert_eq!(group.retention_in_days(), Some(90));
    let tags = env.logs.list_tags_for_resource().resource_arn(&arn).send().await.unwrap();
    let tags: BTreeMap<String, String> = tags.tags().unwrap().clone().into_iter().collect();
    assert_eq!(tags, expected_tags(&[("team", "infra"), ("env", "test")], env.ownership("logs")));
    let read = env.read_one("aws_cloudwatch_log_group", &name).await.unwrap();
    assert_eq!(read["retention_in_days"], json!(90));
    assert_eq!(read["tags"], json!({ "env": "test", "team": "infra" }));

    // No retention: events are kept forever (DeleteRetentionPolicy).
    let forever = json!({ "name": name, "tags": { "team": "infra", "env": "test" } });
    env.update("aws_cloudwatch_log_group", "logs", &name, &ninety, &forever).await;
    let group = env.logs.describe_log_groups().log_group_name_prefix(&name).send().await.unwrap().log_groups()[0].clone();
    assert_eq!(group.retention_in_days(), None);
    assert_eq!(env.read_one("aws_cloudwatch_log_group", &name).await.unwrap().get("retention_in_days"), None);

    env.delete_and_check_gone("aws_cloudwatch_log_group", "logs", &name, &forever).await;
    let left = env.logs.describe_log_groups().log_group_name_prefix(&name).send().await.unwrap();
    assert!(left.log_groups().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn log_groups_read_in_one_batch() {
    let env = env().await;
    let run = unique("batch");
    let key = "arn:aws:kms:us-west-2:123456789012:key/0d4ba3c1-5e4c-4a3b-9b4e-6f1d2c3b4a5f";
    let a = env.create("aws_cloudwatch_log_group", "a", &json!({ "name": format!("/ecs/{run}/tenant-1"), "retention_in_days": 7 })).await.id;
    let b = env.create("aws_cloudwatch_log_group", "b", &json!({ "name": format!("/ecs/{run}/tenant-2"), "kms_key_id": key })).await.id;
    let c = env.create("aws_cloudwatch_log_group", "c", &json!({ "name": format!("{run}-flat") })).await.id;
    let ids = vec![a.clone(), format!("/ecs/{run}/tenant-3"), b.clone(), c.clone(), "/never/made".to_string()];
    let read = env.provider.read("aws_cloudwatch_log_group", &ids).await.unwrap();
    assert_eq!(read.len(), 5);
    assert_eq!(read[0].as_ref().unwrap()["retention_in_days"], json!(7));
    assert_eq!(read[1], None);
    assert_eq!(read[2].as_ref().unwrap()["kms_key_id"], json!(key));
    assert_eq!(read[2].as_ref().unwrap().get("retention_in_days"), None);
    assert_eq!(read[3].as_ref().unwrap()["name"], json!(c));
    assert_eq!(read[4], None);
    for (address, id) in [("a", &a), ("b", &b), ("c", &c)] {
        env.delete_and_check_gone("aws_cloudwatch_log_group", address, id, &json!({})).await;
    }
}

#[test]
fn stacks_refuse_bad_platform_attributes_at_load() {
    let registry = clawform_aws::registry();
    let decode = |type_name: &str, yaml: &str| {
        let body: serde_yaml::Value = serde_yaml::from_str(yaml).unwrap();
        registry.get(type_name).unwrap().decode(body).map_err(|errors| errors.into_iter().map(|e| e.path).collect::<Vec<_>>())
    };
    let trust = r#"'{"Version": "2012-10-17", "Statement": []}'"#;

    // Roles: names, trust policies, paths, session length; defaults are part of the attributes.
    let ok = decode("aws_iam_role", &format!("name: task-exec\nassume_role_policy: {trust}")).unwrap();
    assert_eq!(ok["path"], json!("/"));
    assert_eq!(ok["max_session_duration"], json!(3600));
    assert_eq!(decode("aws_iam_role", &format!("name: {}\nassume_role_policy: {trust}", "r".repeat(65))).unwrap_err(), vec!["name"]);
    assert_eq!(decode("aws_iam_role", &format!("name: 'task exec'\nassume_role_policy: {trust}")).unwrap_err(), vec!["name"]);
    assert_eq!(decode("aws_iam_role", "name: r\nassume_role_policy: '{not json'").unwrap_err(), vec!["assume_role_policy"]);
    assert_eq!(decode("aws_iam_role", "name: r\nassume_role_policy: '{\"Version\": \"2012-10-17\"}'").unwrap_err(), vec!["assume_role_policy"]);
    assert_eq!(decode("aws_iam_role", &format!("name: r\nassume_role_policy: {trust}\npath: ecs")).unwrap_err(), vec!["path"]);
    assert_eq!(decode("aws_iam_role", &format!("name: r\nassume_role_policy: {trust}\nmax_session_duration: 60")).unwrap_err(), vec!["max_session_duration"]);
    // A reference is checked once resolved, not at load.
    decode("aws_iam_role", "name: r\nassume_role_policy: ${param.trust}").unwrap();

    assert_eq!(decode("aws_iam_role_policy", "role: r\nname: p\npolicy: '[]'").unwrap_err(), vec!["policy"]);
    assert_eq!(decode("aws_iam_role_policy", &format!("role: r\nname: p\npolicy: {trust}\ntags: {{a: b}}")).unwrap_err(), vec!["tags"]);
    assert_eq!(decode("aws_iam_role_policy_attachment", "role: r\npolicy_arn: AmazonECSTaskExecutionRolePolicy").unwrap_err(), vec!["policy_arn"]);
    assert_eq!(decode("aws_iam_role_policy_attachment", &format!("role: r\npolicy_arn: {ECS_FOR_EC2}\ntags: {{a: b}}")).unwrap_err(), vec!["tags"]);
    assert_eq!(decode("aws_iam_instance_profile", "name: p\nrole: 'bad role'").unwrap_err(), vec!["role"]);

    // ECR: names, mutability, one scanning block, lifecycle rules.
    let ok = decode("aws_ecr_repository", "name: openclaw/gateway").unwrap();
    assert_eq!(ok["image_tag_mutability"], json!("MUTABLE"));
    assert_eq!(ok["image_scanning_configuration"], json!([{ "scan_on_push": false }]));
    assert_eq!(decode("aws_ecr_repository", "name: OpenClaw").unwrap_err(), vec!["name"]);
    assert_eq!(decode("aws_ecr_repository", "name: gateway\nimage_tag_mutability: SOMETIMES").unwrap_err(), vec!["image_tag_mutability"]);
    assert_eq!(
        decode("aws_ecr_repository", "name: gateway\nimage_scanning_configuration: [{scan_on_push: true}, {scan_on_push: false}]").unwrap_err(),
        vec!["image_scanning_configuration"]
    );
    assert_eq!(decode("aws_ecr_repository", "name: gateway\nimage_scanning_configuration: {scan_on_push: true}").unwrap_err().len(), 1, "a block is a list");
    let no_rules = format!("repository: gateway\npolicy: '{{\"rules\": [], \"description\": \"{}\"}}'", "x".repeat(100));
    assert_eq!(decode("aws_ecr_lifecycle_policy", &no_rules).unwrap_err(), vec!["policy"]);

    // Logs: AWS's retention periods only (moto also takes 13), names.
    decode("aws_cloudwatch_log_group", "name: /ecs/openclaw\nretention_in_days: 14").unwrap();
    assert_eq!(decode("aws_cloudwatch_log_group", "name: /ecs/openclaw\nretention_in_days: 13").unwrap_err(), vec!["retention_in_days"]);
    assert_eq!(decode("aws_cloudwatch_log_group", "name: '/ecs/open claw'").unwrap_err(), vec!["name"]);
}
