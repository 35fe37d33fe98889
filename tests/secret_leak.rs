//! A whole demo run never prints or stores a secret: base platform, tenants created with a
//! known API key and gateway token (from the environment and from a file), list/show/output,
//! state pull/show, drift, plans saved with --out and applied, a template rollout to every
//! tenant, tenant destroy and base destroy — every command with `--log-level debug`, so the
//! tracing output is covered too. Every stdout and stderr, every file under `state/` (backups,
//! lock files, whatever is there at any moment we look) and every plan file is searched for each
//! secret value, as text and as base64.

use std::path::Path;

use crate::common::{copy_repo_stack, sdk_config, Project, Run};

const IDS: [&str; 3] = ["leak1", "leak2", "leak3"];

fn api_key(id: &str) -> String {
    format!("sk-ant-api03-{id}-Zq8xWvKpT3mLrN7bYc")
}

fn gateway_token(id: &str) -> String {
    format!("gw-{id}-f00dfeedcafe0123456789abcdef")
}

/// Standard base64 of `bytes`.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// What a secret looks like in text: itself, and its base64 at each of the three alignments it
/// can have inside a longer encoded value (the middle part that does not depend on neighbours),
/// in the standard and the URL-safe alphabet.
fn forms(secret: &str) -> Vec<String> {
    let mut out = vec![secret.to_string()];
    for pad in 0..3 {
        let mut bytes = vec![b'x'; pad];
        bytes.extend_from_slice(secret.as_bytes());
        let encoded = base64(&bytes);
        let skip = if pad == 0 { 0 } else { 4 };
        let stable = &encoded[skip..encoded.len().saturating_sub(4)];
        out.push(stable.to_string());
        out.push(stable.replace('+', "-").replace('/', "_"));
    }
    out
}

/// Everything the test has seen: command output and file contents, with where it came from.
#[derive(Default)]
struct Seen {
    texts: Vec<(String, String)>,
}

impl Seen {
    fn run(&mut self, project: &Project, args: &[&str], env: &[(&str, &str)], code: i32) -> Run {
        let mut full = vec!["--log-level", "debug"];
        full.extend_from_slice(args);
        let run = project.run_with_env(&full, env);
        assert_eq!(run.code, code, "clawform {args:?}\n{}", run.all());
        self.texts.push((format!("output of clawform {}", args.join(" ")), run.all()));
        self.files(&project.path().join("state"));
        run
    }

    fn files(&mut self, dir: &Path) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                self.files(&path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                self.texts.push((path.display().to_string(), String::from_utf8_lossy(&bytes).into_owned()));
            }
        }
    }

    fn assert_clean(&self, secrets: &[String]) {
        for secret in secrets {
            for form in forms(secret) {
                for (whence, text) in &self.texts {
                    assert!(!text.contains(&form), "a secret ({form:?}, a form of {}…) appears in {whence}", &secret[..6]);
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_demo_run_never_prints_or_stores_a_secret() {
    let project = Project::new();
    copy_repo_stack(&project, "base");
    copy_repo_stack(&project, "tenant");
    let keys = tempfile::tempdir().expect("a folder for the key file");
    let key_file = keys.path().join("api-key.txt");
    std::fs::write(&key_file, format!("{}\n", api_key("leak3"))).expect("write the key file");
    let key_file = key_file.display().to_string();
    let mut seen = Seen::default();
    let mut secrets: Vec<String> = Vec::new();

    // Plan files by absolute path: `--out` is relative to the current folder, not the project.
    let plan_file = |name: &str| project.path().join(name).display().to_string();
    seen.run(&project, &["validate", "base"], &[], 0);
    seen.run(&project, &["plan", "base", "--out", &plan_file("base.plan")], &[], 0);
    seen.run(&project, &["apply", &plan_file("base.plan")], &[], 0);
    for id in &IDS[..2] {
        let (key, token) = (api_key(id), gateway_token(id));
        seen.run(&project, &["tenant", "create", id, "--api-key-env", "KEY", "--gateway-token-env", "TOKEN", "--json"], &[("KEY", &key), ("TOKEN", &token)], 0);
        secrets.extend([key, token]);
    }
    // The third tenant's key comes from a file and its token is generated.
    seen.run(&project, &["tenant", "create", "leak3", "--api-key-file", &key_file], &[], 0);
    secrets.push(api_key("leak3"));

    // The secrets reached AWS (so a clean search means they were used, not lost), and the
    // generated token is read back to be searched for too.
    let config = sdk_config(&project.moto).await;
    let sm = aws_sdk_secretsmanager::Client::new(&config);
    for id in IDS {
        let value = sm.get_secret_value().secret_id(format!("openclaw/{id}")).send().await.expect("the tenant's secret");
        let value: serde_json::Value = serde_json::from_str(value.secret_string().expect("a string secret")).expect("JSON");
        assert_eq!(value["ANTHROPIC_API_KEY"], api_key(id).as_str());
        let token = value["OPENCLAW_GATEWAY_TOKEN"].as_str().expect("a token").to_string();
        if id == "leak3" {
            assert_eq!(token.len(), 64, "a generated token");
            secrets.push(token);
        } else {
            assert_eq!(token, gateway_token(id));
        }
    }

    seen.run(&project, &["tenant", "list"], &[], 0);
    seen.run(&project, &["tenant", "list", "--json"], &[], 0);
    seen.run(&project, &["tenant", "show", "leak1", "--json"], &[], 0);
    seen.run(&project, &["output", "base"], &[], 0);
    seen.run(&project, &["state", "list", "tenant-leak1"], &[], 0);
    seen.run(&project, &["state", "show", "tenant-leak1", "secret"], &[], 0);
    seen.run(&project, &["state", "show", "tenant-leak1", "secret", "--json"], &[], 0);
    seen.run(&project, &["state", "pull", "tenant-leak2"], &[], 0);
    seen.run(&project, &["drift", "--all"], &[], 0);
    seen.run(&project, &["drift", "--all", "--json", "--stats"], &[], 0);
    seen.run(&project, &["plan", "base", "--json"], &[], 0);
    seen.run(&project, &["plan", "base", "--out", &plan_file("base-again.plan"), "--detailed-exitcode"], &[], 0);
    // Giving the same secret again to an existing tenant (the web app retrying a create).
    seen.run(
        &project,
        &["tenant", "create", "leak1", "--api-key-env", "KEY", "--gateway-token-env", "TOKEN"],
        &[("KEY", &api_key("leak1")), ("TOKEN", &gateway_token("leak1"))],
        0,
    );

    // A template rollout to every tenant leaves secrets alone and shows none.
    seen.run(&project, &["tenant", "plan", "--all", "--param", "image_tag=v2"], &[], 0);
    seen.run(&project, &["tenant", "plan", "--all", "--param", "image_tag=v2", "--json"], &[], 0);
    seen.run(&project, &["tenant", "apply", "--all", "--param", "image_tag=v2", "--auto-approve"], &[], 0);
    seen.run(&project, &["tenant", "plan", "--all", "--param", "image_tag=v2", "--detailed-exitcode"], &[], 0);

    for id in IDS {
        seen.run(&project, &["tenant", "destroy", id, "--auto-approve"], &[], 0);
    }
    seen.run(&project, &["plan", "base", "--destroy", "--out", &plan_file("destroy.plan")], &[], 0);
    seen.run(&project, &["apply", &plan_file("destroy.plan")], &[], 0);

    for plan in ["base.plan", "base-again.plan", "destroy.plan"] {
        let path = project.path().join(plan);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("plan file {}: {e}", path.display()));
        seen.texts.push((path.display().to_string(), text));
    }
    seen.files(&project.path().join("state"));
    let files = seen.texts.iter().filter(|(w, _)| !w.starts_with("output of")).count();
    assert!(seen.texts.iter().any(|(w, _)| w.ends_with("tenant-leak1.json.backup")), "state backups are among what is searched");
    assert_eq!(secrets.len(), 6);
    seen.assert_clean(&secrets);
    eprintln!("searched {} texts ({files} file snapshots) for {} secrets in {} forms each", seen.texts.len(), secrets.len(), forms(&secrets[0]).len());
}

#[test]
fn the_search_finds_a_secret_in_each_form_it_looks_for() {
    // The search must be able to fail: each form, planted in a text, is found.
    let secret = api_key("probe");
    for form in forms(&secret) {
        let seen = Seen { texts: vec![("planted".into(), format!("before {form} after"))] };
        let caught = std::panic::catch_unwind(|| seen.assert_clean(std::slice::from_ref(&secret)));
        assert!(caught.is_err(), "{form:?} was not found");
    }
    // And base64 of a JSON document holding the secret is caught, whatever its offset.
    for prefix in ["", "{", "{\"", "{\"k\":\""] {
        let doc = format!("{prefix}{secret}\"}}");
        let seen = Seen { texts: vec![("planted".into(), base64(doc.as_bytes()))] };
        assert!(std::panic::catch_unwind(|| seen.assert_clean(std::slice::from_ref(&secret))).is_err(), "base64 of {doc:?}");
    }
}
