//! The Secrets Manager types against moto's server, through core's `Provider` trait with JSON
//! attributes as the engine drives it, checked with the raw SDK. The rule under test throughout:
//! a secret value reaches AWS, and nothing else — no read, error or debug output — holds it.

use std::collections::BTreeMap;

use crate::support::{state_of, Subject};
use clawform_aws::AwsProvider;
use clawform_core::plan::sensitive_digest;
use clawform_core::{Applied, ErrorKind, Provider};
use clawform_testkit::unique;
use serde_json::{json, Value as Json};

const SECRET: &str = "aws_secretsmanager_secret";
const VERSION: &str = "aws_secretsmanager_secret_version";

/// The provider under test (through `Deref`) and an independent raw SDK client, both pointed at
/// this binary's moto server.
struct Env {
    subject: Subject,
    sm: aws_sdk_secretsmanager::Client,
}

crate::support::deref_to_subject!(Env);

async fn env() -> Env {
    let config = crate::support::moto_config().await;
    Env { subject: Subject::new(AwsProvider::from_env(None).await, "stack"), sm: aws_sdk_secretsmanager::Client::new(&config) }
}

impl Env {
    /// A secret made through the provider, deleted at once when its stack deletes it.
    async fn secret(&self, address: &str, name: &str) -> (Json, Applied) {
        let attrs = json!({ "name": name, "recovery_window_in_days": 0 });
        let applied = self.create(SECRET, address, &attrs).await;
        (attrs, applied)
    }

    /// The secret's current value, straight from AWS (the only place a test may look at it).
    async fn current_value(&self, secret: &str) -> String {
        let out = self.sm.get_secret_value().secret_id(secret).send().await.expect("GetSecretValue");
        out.secret_string().expect("a string value").to_string()
    }

    /// Version id to staging labels, straight from AWS (moto lists unlabelled versions too).
    async fn versions(&self, secret: &str) -> BTreeMap<String, Vec<String>> {
        let out = self.sm.describe_secret().secret_id(secret).send().await.expect("DescribeSecret");
        out.version_ids_to_stages()
            .into_iter()
            .flatten()
            .map(|(k, v)| {
                let mut v = v.clone();
                v.sort();
                (k.clone(), v)
            })
            .collect()
    }
}

/// What state keeps of a version: its attributes with the value replaced by core's digest.
fn masked(attributes: &Json, applied: &Applied, lineage: &str) -> Json {
    let mut state = state_of(attributes, applied);
    let digest = sensitive_digest(&state["secret_string"], lineage);
    state["secret_string"] = digest;
    state
}

fn tag_map(tags: &[aws_sdk_secretsmanager::types::Tag]) -> BTreeMap<String, String> {
    tags.iter().map(|t| (t.key().unwrap().to_string(), t.value().unwrap_or_default().to_string())).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn secret_and_version_reach_aws_and_reads_hold_no_value() {
    let env = env().await;
    let name = unique("tenant/api-key");
    let attrs = json!({ "name": name, "description": "tenant key", "recovery_window_in_days": 0, "tags": { "tenant": "t1" } });
    let secret = env.create(SECRET, "secret", &attrs).await;
    assert!(secret.id.starts_with("arn:aws:secretsmanager:us-west-2:") && secret.id.contains(&name), "{}", secret.id);
    assert_eq!(secret.computed["arn"], json!(secret.id));

    let described = env.sm.describe_secret().secret_id(&secret.id).send().await.unwrap();
    assert_eq!(described.description(), Some("tenant key"));
    let expected: BTreeMap<String, String> = [("tenant", "t1"), ("clawform:stack", env.stack.as_str()), ("clawform:address", "secret")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(tag_map(described.tags()), expected, "ownership tags are set by CreateSecret itself");

    let value = "s3cr3t-alpha-4f1d";
    let vattrs = json!({ "secret_id": secret.id, "secret_string": value });
    let version = env.create(VERSION, "value", &vattrs).await;
    let version_id = version.computed["version_id"].as_str().unwrap().to_string();
    assert_eq!(version.id, format!("{}|{version_id}", secret.id));
    assert_eq!(version.computed["arn"], json!(secret.id));
    assert_eq!(version.computed["version_stages"], json!(["AWSCURRENT"]));
    assert_eq!(env.current_value(&secret.id).await, value);

    let read = env.read_one(SECRET, &secret.id).await.expect("secret readable");
    assert_eq!(read["name"], json!(name));
    assert_eq!(read["description"], json!("tenant key"));
    assert_eq!(read["tags"], json!({ "tenant": "t1" }));
    assert_eq!(read["arn"], json!(secret.id));
    let vread = env.read_one(VERSION, &version.id).await.expect("version readable");
    assert_eq!(vread, json!({ "id": version.id, "secret_id": secret.id, "arn": secret.id, "version_id": version_id, "version_stages": ["AWSCURRENT"] }));
    for (what, json) in [("secret", &read), ("version", &vread)] {
        assert!(!json.to_string().contains(value), "the {what} read holds the value: {json}");
    }
    assert!(!format!("{:?}", env.provider.read(VERSION, std::slice::from_ref(&version.id)).await).contains(value));

    // Update the secret itself: description and tags, ownership tags untouched.
    let new = json!({ "name": name, "description": "rotated monthly", "recovery_window_in_days": 0, "tags": { "team": "core" } });
    let out = env.try_update(SECRET, "secret", &secret.id, &state_of(&attrs, &secret), &new).await.unwrap();
    assert_eq!(out.id, secret.id);
    let described = env.sm.describe_secret().secret_id(&secret.id).send().await.unwrap();
    assert_eq!(described.description(), Some("rotated monthly"));
    let tags = tag_map(described.tags());
    assert_eq!(tags.get("team").map(String::as_str), Some("core"));
    assert!(!tags.contains_key("tenant"), "{tags:?}");
    assert_eq!(tags.get("clawform:address").map(String::as_str), Some("secret"));
    assert_eq!(env.read_one(SECRET, &secret.id).await.unwrap()["tags"], json!({ "team": "core" }));
    assert_eq!(env.current_value(&secret.id).await, value, "a metadata update leaves the value alone");
}

#[tokio::test(flavor = "multi_thread")]
async fn version_update_puts_a_value_only_when_it_changed() {
    let env = env().await;
    let (_, secret) = env.secret("secret", &unique("rotating")).await;
    let first = "first-v4lue-9a7c";
    let attrs = json!({ "secret_id": secret.id, "secret_string": first });
    let v1 = env.create(VERSION, "value", &attrs).await;
    let lineage = "lineage-1";
    let prior = masked(&attrs, &v1, lineage);
    assert!(prior["secret_string"].as_str().unwrap().starts_with("sha256:"));

    // The value not given again: core passes the same digest, and nothing is called.
    let same = json!({ "secret_id": secret.id, "secret_string": prior["secret_string"] });
    let out = env.try_update(VERSION, "value", &v1.id, &prior, &same).await.unwrap();
    assert_eq!(out.id, v1.id, "no new version");
    assert!(out.computed.is_empty());
    assert_eq!(env.versions(&secret.id).await.len(), 1, "no PutSecretValue was made");
    assert_eq!(env.current_value(&secret.id).await, first);

    // A digest that is not the prior one cannot be applied: there is no value to put.
    let other = json!({ "secret_id": secret.id, "secret_string": sensitive_digest(&json!("something else"), lineage) });
    let err = env.try_update(VERSION, "value", &v1.id, &prior, &other).await.expect_err("a foreign digest is refused");
    assert_eq!(err.kind, ErrorKind::Invalid);
    assert!(err.message.contains("secret value must be given") && !err.message.contains("sha256:"), "{err}");
    assert_eq!(env.versions(&secret.id).await.len(), 1);

    // A new value: a new version, labelled current; the old one becomes previous.
    let second = "second-v4lue-03be";
    let new = json!({ "secret_id": secret.id, "secret_string": second });
    let v2 = env.try_update(VERSION, "value", &v1.id, &prior, &new).await.unwrap();
    assert_ne!(v2.id, v1.id);
    assert_eq!(env.current_value(&secret.id).await, second);
    let v1_id = v1.computed["version_id"].as_str().unwrap();
    let v2_id = v2.computed["version_id"].as_str().unwrap();
    let versions = env.versions(&secret.id).await;
    assert_eq!(versions[v1_id], vec!["AWSPREVIOUS".to_string()]);
    assert_eq!(versions[v2_id], vec!["AWSCURRENT".to_string()]);
    assert_eq!(env.read_one(VERSION, &v1.id).await.unwrap()["version_stages"], json!(["AWSPREVIOUS"]), "drift shows the version is no longer current");

    // Deleting the old version takes its label away, and with it the version.
    env.try_delete(VERSION, "value", &v1.id, &prior).await.unwrap();
    assert_eq!(env.read_one(VERSION, &v1.id).await, None);
    assert!(env.versions(&secret.id).await.get(v1_id).is_none_or(|s| s.is_empty()), "AWSPREVIOUS removed");
    let again = env.try_delete(VERSION, "value", &v1.id, &prior).await.expect_err("a gone version reports NotFound");
    assert_eq!(again.kind, ErrorKind::NotFound, "{again}");

    // Deleting the current version leaves AWSCURRENT where it is (AWS only moves that label,
    // and moving it would roll the secret back): the value stays until the secret goes.
    let prior2 = masked(&new, &v2, lineage);
    env.try_delete(VERSION, "value", &v2.id, &prior2).await.unwrap();
    assert_eq!(env.current_value(&secret.id).await, second);
    assert_eq!(env.read_one(VERSION, &v2.id).await.unwrap()["version_stages"], json!(["AWSCURRENT"]));

    // Once the secret is gone, so is the version.
    env.try_delete(SECRET, "secret", &secret.id, &json!({ "recovery_window_in_days": 0 })).await.unwrap();
    assert_eq!(env.read_one(VERSION, &v2.id).await, None);
    assert_eq!(env.try_delete(VERSION, "value", &v2.id, &prior2).await.unwrap_err().kind, ErrorKind::NotFound);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_given_its_value_is_created_with_it_and_puts_only_changes() {
    let env = env().await;
    let first = "gw-f1rst-5e2d";
    let attrs = json!({ "name": unique("tenant/own-value"), "recovery_window_in_days": 0, "secret_string": first });
    let secret = env.create(SECRET, "secret", &attrs).await;
    assert_eq!(env.current_value(&secret.id).await, first, "the value went out with CreateSecret");
    assert_eq!(env.versions(&secret.id).await.len(), 1, "one version: no PutSecretValue after the create");
    let read = env.read_one(SECRET, &secret.id).await.unwrap();
    assert!(read.get("secret_string").is_none() && !read.to_string().contains(first), "a read never holds the value: {read}");

    // The value not given again: the same digest comes back, and nothing is put.
    let lineage = "lineage-own";
    let prior = masked(&attrs, &secret, lineage);
    let same = json!({ "name": attrs["name"], "recovery_window_in_days": 0, "secret_string": prior["secret_string"] });
    env.try_update(SECRET, "secret", &secret.id, &prior, &same).await.unwrap();
    assert_eq!(env.versions(&secret.id).await.len(), 1);

    // A foreign digest is refused without being named; a new value is put as current.
    let other = json!({ "name": attrs["name"], "recovery_window_in_days": 0, "secret_string": sensitive_digest(&json!("other"), lineage) });
    let err = env.try_update(SECRET, "secret", &secret.id, &prior, &other).await.expect_err("a digest is not a value");
    assert!(err.message.contains("secret value must be given") && !err.message.contains("sha256:"), "{err}");
    let second = "gw-s3cond-77a1";
    let new = json!({ "name": attrs["name"], "recovery_window_in_days": 0, "secret_string": second });
    env.try_update(SECRET, "secret", &secret.id, &prior, &new).await.unwrap();
    assert_eq!(env.current_value(&secret.id).await, second);
    assert_eq!(env.versions(&secret.id).await.len(), 2);

    // Debug output of the typed resource leaves the value out.
    let typed: clawform_aws::secretsmanager::secret::SecretsmanagerSecret = serde_json::from_value(new.clone()).unwrap();
    assert!(!format!("{typed:?}").contains(second));
    env.try_delete(SECRET, "secret", &secret.id, &prior).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn create_with_a_digest_is_refused_without_naming_it() {
    let env = env().await;
    let (_, secret) = env.secret("secret", &unique("digest")).await;
    let digest = sensitive_digest(&json!("the-real-value"), "lineage-2");
    let err = env.try_create(VERSION, "value", &json!({ "secret_id": secret.id, "secret_string": digest })).await.expect_err("a digest is not a value");
    assert_eq!(err.kind, ErrorKind::Invalid);
    assert!(err.message.contains("secret value must be given"), "{err}");
    assert!(!err.message.contains(digest.as_str().unwrap()) && !err.message.contains("the-real-value"), "{err}");
    assert!(env.versions(&secret.id).await.is_empty(), "nothing was put");
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_never_contain_the_value() {
    let env = env().await;
    let value = "leak-me-n0t-77e1";

    // PutSecretValue on a secret that does not exist: AWS's error, without the value.
    let missing = format!("arn:aws:secretsmanager:us-west-2:123456789012:secret:{}-AbCdEf", unique("missing"));
    let err = env.try_create(VERSION, "value", &json!({ "secret_id": missing, "secret_string": value })).await.expect_err("no such secret");
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert!(err.message.contains("PutSecretValue") && err.message.contains("ResourceNotFoundException"), "{err}");
    assert!(!err.message.contains(value) && !format!("{err:?}").contains(value), "{err:?}");

    // The same on update.
    let prior = json!({ "secret_id": missing, "secret_string": sensitive_digest(&json!(value), "l"), "id": format!("{missing}|v1") });
    let err = env
        .try_update(VERSION, "value", &format!("{missing}|v1"), &prior, &json!({ "secret_id": missing, "secret_string": value }))
        .await
        .expect_err("no such secret");
    assert!(!format!("{err:?}").contains(value), "{err:?}");

    // Attributes that do not decode: serde would quote a number inside a mapping, the template
    // parser a `${`. (A bare number is text, as Terraform converts it.)
    for bad in [json!({ "n": 7_315_551_234_u64 }), json!(format!("{value}${{not-closed"))] {
        let err = env.try_create(VERSION, "value", &json!({ "secret_id": missing, "secret_string": bad })).await.expect_err("does not decode");
        assert_eq!(err.kind, ErrorKind::Invalid);
        assert!(!err.message.contains("7315551234") && !err.message.contains(value), "{err}");
    }

    // The loader's checks say what is wrong with a literal value without quoting it.
    let registry = clawform_aws::registry();
    let kind = registry.get(VERSION).unwrap();
    for (bad, expected) in
        [(format!("secret_id: x\nsecret_string: [{}]\n", 7_315_551_234_u64), "secret"), ("secret_id: x\nsecret_string: ''\n".to_string(), "empty")]
    {
        let errors = kind.decode(serde_yaml::from_str(&bad).unwrap()).expect_err("refused");
        let text = format!("{errors:?}");
        assert!(text.contains(expected) && !text.contains("7315551234"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn deleted_without_recovery_the_name_is_free_again() {
    let env = env().await;
    let name = unique("tenant-recreated");
    let (attrs, first) = env.secret("secret", &name).await;
    env.try_delete(SECRET, "secret", &first.id, &state_of(&attrs, &first)).await.unwrap();
    assert_eq!(env.read_one(SECRET, &first.id).await, None);
    let gone = env.sm.describe_secret().secret_id(&name).send().await;
    assert!(gone.is_err(), "deleted at once, not scheduled");

    let second = env.create(SECRET, "secret", &attrs).await;
    assert!(second.id.contains(&name));
    assert!(env.read_one(SECRET, &second.id).await.is_some());
    env.try_delete(SECRET, "secret", &second.id, &state_of(&attrs, &second)).await.unwrap();

    // With a recovery window the secret is only scheduled: it reads as gone, and its name is
    // taken until the window ends, which create says plainly.
    let name = unique("tenant-scheduled");
    let attrs = json!({ "name": name, "recovery_window_in_days": 7 });
    let kept = env.create(SECRET, "kept", &attrs).await;
    env.try_delete(SECRET, "kept", &kept.id, &state_of(&attrs, &kept)).await.unwrap();
    assert_eq!(env.read_one(SECRET, &kept.id).await, None);
    let scheduled = env.sm.describe_secret().secret_id(&kept.id).send().await.unwrap();
    assert!(scheduled.deleted_date().is_some());
    let err = env.try_create(SECRET, "kept", &attrs).await.expect_err("the name is taken");
    assert!(err.message.contains("scheduled for deletion") && err.message.contains("recovery_window_in_days: 0"), "{err}");
    // Deleting it again is deleting something already gone.
    let again = env.try_delete(SECRET, "kept", &kept.id, &state_of(&attrs, &kept)).await.expect_err("already scheduled");
    assert_eq!(again.kind, ErrorKind::NotFound, "{again}");
}

#[tokio::test(flavor = "multi_thread")]
async fn create_adopts_only_its_own_secret() {
    let env = env().await;
    let name = unique("adopted");
    let (attrs, first) = env.secret("secret", &name).await;

    // A run that crashed before saving state creates again: the secret is its own, so it is
    // adopted and brought in line.
    let wanted = json!({ "name": name, "description": "adopted", "recovery_window_in_days": 0, "tags": { "k": "v" } });
    let again = env.create(SECRET, "secret", &wanted).await;
    assert_eq!(again.id, first.id);
    let read = env.read_one(SECRET, &first.id).await.unwrap();
    assert_eq!((read["description"].clone(), read["tags"].clone()), (json!("adopted"), json!({ "k": "v" })));

    // Another address (or stack) wanting the same name is refused.
    let err = env.try_create(SECRET, "other", &attrs).await.expect_err("not its secret");
    assert!(err.message.contains("ResourceExistsException") && err.message.contains("left alone"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_many_secrets_with_prefix_sharing_names() {
    let env = env().await;
    let base = unique("batch");
    // Names that prefix one another: ListSecrets' name filter matches prefixes, the read must not.
    let names: Vec<String> = (1..=12).map(|i| format!("{base}-{i}")).collect();
    let mut ids = Vec::new();
    for (i, name) in names.iter().enumerate() {
        ids.push(env.secret(&format!("s{i}"), name).await.1.id);
    }
    let gone = env.secret("gone", &format!("{base}-1x")).await.1.id;
    env.try_delete(SECRET, "gone", &gone, &json!({ "recovery_window_in_days": 0 })).await.unwrap();
    let mut asked = ids.clone();
    asked.insert(3, gone);
    let read = env.provider.read(SECRET, &asked).await.unwrap();
    assert_eq!(read.len(), asked.len());
    for (id, got) in asked.iter().zip(&read) {
        match got {
            Some(json) => assert_eq!(&json["id"], &json!(id)),
            None => assert_eq!(id, &asked[3]),
        }
    }
    assert_eq!(read.iter().filter(|r| r.is_none()).count(), 1);
    assert_eq!(read[0].as_ref().unwrap()["name"], json!(names[0]));
}

#[test]
fn stack_checks_catch_bad_names_and_windows() {
    let registry = clawform_aws::registry();
    let kind = registry.get(SECRET).unwrap();
    let errors = kind.decode(serde_yaml::from_str("name: 'tenant key!'\nrecovery_window_in_days: 3\n").unwrap()).expect_err("refused");
    let text = format!("{errors:?}");
    assert!(text.contains("` ` is not allowed") && text.contains("3 is not a recovery window"), "{text}");
    assert!(kind.decode(serde_yaml::from_str("name: tenant/a_b+c=d.e@f-g\nrecovery_window_in_days: 0\n").unwrap()).is_ok());
    assert!(kind.decode(serde_yaml::from_str(&format!("name: {}\n", "n".repeat(513))).unwrap()).is_err());
}
