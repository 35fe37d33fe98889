//! HTTPS (issue #18): `apply base --param certificate_arn=…` adds a 443 listener per shard and
//! turns the port-80 listener into a redirect; `tenant apply --all` then moves each tenant's
//! rule to 443, the new rule created before the old one is deleted. Watched on moto while it
//! happens: at every moment each tenant's path has a rule forwarding to its target group on a
//! listener whose default is not what answers it.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::types::ActionTypeEnum;
use aws_sdk_elasticloadbalancingv2::Client as Elb;
use clawform_testkit::{FaultConfig, FaultProxy};

use crate::common::{copy_repo_stack, sdk_config, Project};

const KEY: &[(&str, &str)] = &[("K", "sk-ant-https")];

/// An ACM certificate on moto (moto's CreateListener refuses an ACM ARN it does not hold, as AWS
/// does with CertificateNotFound), requested through ACM's JSON API: moto does not check the
/// signature, only the service named in the credential scope.
fn certificate(endpoint: &str) -> String {
    let out = Command::new("curl")
        .args(["-sS", "-X", "POST", &format!("{endpoint}/")])
        .args(["-H", "X-Amz-Target: CertificateManager.RequestCertificate", "-H", "Content-Type: application/x-amz-json-1.1"])
        .args(["-H", "Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-west-2/acm/aws4_request, SignedHeaders=host, Signature=0"])
        .args(["-d", r#"{"DomainName":"openclaw.example.com","ValidationMethod":"DNS"}"#])
        .output()
        .expect("run curl");
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("ACM answer ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    body["CertificateArn"].as_str().unwrap_or_else(|| panic!("no certificate: {body}")).to_string()
}

/// A tenant's rule as moto holds it: (listener port, target group) of every rule for its path.
async fn rules_of(elb: &Elb, listener: &str, path: &str) -> Vec<String> {
    let rules = elb.describe_rules().listener_arn(listener).send().await.map(|o| o.rules().to_vec()).unwrap_or_default();
    rules
        .iter()
        .filter(|r| r.conditions().iter().any(|c| c.values().iter().chain(c.path_pattern_config().map(|p| p.values()).unwrap_or_default()).any(|v| v == path)))
        .flat_map(|r| r.actions().iter().filter(|a| a.r#type() == Some(&ActionTypeEnum::Forward)).filter_map(|a| a.target_group_arn().map(str::to_string)))
        .collect()
}

/// One shard's listeners as moto holds them, and the tenants placed on it.
struct Shard {
    http: String,
    https: Option<String>,
    /// (path, target group) of each tenant.
    tenants: Vec<(String, String)>,
}

/// What is wrong now, if anything: a tenant whose path would reach a default action (404, or a
/// redirect to a listener without its rule). Port 80 is read before 443: a rule that leaves 80
/// was created on 443 before, so it is seen there.
async fn problems(elb: &Elb, shards: &[Shard]) -> Vec<String> {
    look(elb, shards).await.0
}

/// [`problems`], and for each tenant (in shard order) whether its rule was on 80 and on 443.
async fn look(elb: &Elb, shards: &[Shard]) -> (Vec<String>, Vec<(bool, bool)>) {
    let mut out = Vec::new();
    let mut seen = Vec::new();
    for (i, shard) in shards.iter().enumerate() {
        let listener = elb.describe_listeners().listener_arns(&shard.http).send().await.unwrap();
        let redirects = listener.listeners()[0].default_actions().iter().any(|a| a.r#type() == Some(&ActionTypeEnum::Redirect));
        let mut on_http = Vec::new();
        for (path, _) in &shard.tenants {
            on_http.push(rules_of(elb, &shard.http, path).await);
        }
        for ((path, group), on_http) in shard.tenants.iter().zip(on_http) {
            let on_https = match &shard.https {
                Some(l) => rules_of(elb, l, path).await,
                None => vec![],
            };
            seen.push((on_http.contains(group), on_https.contains(group)));
            if on_http.contains(group) {
                continue;
            }
            if !(on_https.contains(group) && redirects) {
                out.push(format!("shard {i}: {path} answered by a default (on 80: none, on 443: {on_https:?}, 80 redirects: {redirects})"));
            }
        }
    }
    (out, seen)
}

fn shards(project: &Project, ids: &[&str]) -> Vec<Shard> {
    let base = project.state("base");
    let arn = |address: &str| base["resources"].as_array().unwrap().iter().find(|r| r["address"] == address).map(|r| r["id"].as_str().unwrap().to_string());
    let mut out: Vec<Shard> =
        (0..).map_while(|i| arn(&format!("listener[{i}]")).map(|http| Shard { http, https: arn(&format!("https_listener[{i}]")), tenants: vec![] })).collect();
    for id in ids {
        let tenant = project.state(&format!("tenant-{id}"));
        let shard = tenant["outputs"]["shard"].as_u64().unwrap() as usize;
        out[shard].tenants.push((format!("/{id}/*"), tenant["outputs"]["target_group_arn"].as_str().unwrap().to_string()));
    }
    out
}

/// Runs the CLI through a proxy that adds `latency` to every request, checking moto between
/// its operations (each state lasts at least one request's latency; moto is read every 10 ms).
async fn watched(project: &Project, elb: &Elb, shards: &[Shard], args: &[&str]) -> (crate::common::Run, Vec<Vec<(bool, bool)>>) {
    let proxy = FaultProxy::start(&project.moto.endpoint, FaultConfig { latency: Duration::from_millis(150), ..FaultConfig::pass_through() });
    let done = Arc::new(AtomicBool::new(false));
    let (endpoint, dir) = (proxy.endpoint.clone(), project.path().to_path_buf());
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let env: Vec<(&'static str, String)> = project.moto.env();
    let flag = done.clone();
    let cli = std::thread::spawn(move || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_clawform"));
        cmd.arg("-C").arg(dir).args(&args).stdin(std::process::Stdio::null()).env_remove("AWS_PROFILE").env("NO_COLOR", "1");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.env("AWS_ENDPOINT_URL", endpoint);
        for (k, v) in KEY {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run clawform");
        flag.store(true, Ordering::SeqCst);
        crate::common::Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        }
    });
    let mut looks = Vec::new();
    while !done.load(Ordering::SeqCst) {
        let (wrong, seen) = look(elb, shards).await;
        assert!(wrong.is_empty(), "after {} requests: {wrong:?}", proxy.requests());
        looks.push(seen);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (cli.join().expect("the CLI thread"), looks)
}

fn create(project: &Project, id: &str) -> serde_json::Value {
    let run = project.run_with_env(&["tenant", "create", id, "--api-key-env", "K", "--json"], KEY);
    assert_eq!(run.code, 0, "tenant create {id}: {}", run.all());
    serde_json::from_str(&run.stdout).unwrap()
}

/// What moto showed of tenant `t` while the rules moved: seen on both listeners at once (the
/// new rule made before the old one went), then on 443 only.
fn assert_created_before_destroyed(looks: &[Vec<(bool, bool)>], t: usize) {
    let timeline: Vec<(bool, bool)> = looks.iter().map(|l| l[t]).collect();
    let both = timeline.iter().position(|&(http, https)| http && https);
    let moved = timeline.iter().position(|&(http, https)| !http && https);
    match (both, moved) {
        (Some(b), Some(m)) => assert!(b < m, "tenant {t}: {timeline:?}"),
        _ => panic!("tenant {t}: never seen on both listeners, then on 443 alone: {timeline:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn switching_to_https_and_back_never_answers_a_tenants_path_with_a_default() {
    let project = Project::new();
    copy_repo_stack(&project, "base");
    copy_repo_stack(&project, "tenant");
    let elb = Elb::new(&sdk_config(&project.moto).await);
    // Two shards (`shards: auto`, one tenant each).
    project.ok(&["apply", "base", "--param", "tenants_per_load_balancer=1", "--auto-approve"], 0);
    let ids = ["h1", "h2"];
    for id in ids {
        let info = create(&project, id);
        assert!(info["url"].as_str().unwrap().starts_with("http://"), "{info}");
    }
    let before = shards(&project, &ids);
    assert_eq!(before.len(), 2);
    assert!(problems(&elb, &before).await.is_empty());

    // 1. Base: the 443 listeners (one per shard though `auto` found none of them in state), port
    // 80 changed in place to a redirect.
    let cert = certificate(&project.moto.endpoint);
    let http_ids: Vec<String> = before.iter().map(|s| s.http.clone()).collect();
    let param = format!("certificate_arn={cert}");
    let (run, looks) = watched(&project, &elb, &before, &["apply", "base", "--param", &param, "--auto-approve"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(looks.len() > 3, "moto was read during the apply ({} times)", looks.len());
    eprintln!("base apply: moto read {} times, every tenant's path forwarding each time", looks.len());
    let switched = shards(&project, &ids);
    assert_eq!(switched.iter().map(|s| s.http.clone()).collect::<Vec<_>>(), http_ids, "port 80's listeners are the same resources");
    assert!(switched.iter().all(|s| s.https.is_some()), "a 443 listener per shard");
    for shard in &switched {
        let l = elb.describe_listeners().listener_arns(shard.https.as_ref().unwrap()).send().await.unwrap();
        let l = &l.listeners()[0];
        assert_eq!((l.port(), l.protocol().map(|p| p.as_str())), (Some(443), Some("HTTPS")));
        assert_eq!(l.ssl_policy(), Some("ELBSecurityPolicy-TLS13-1-2-2021-06"));
        assert_eq!(l.certificates().first().and_then(|c| c.certificate_arn()), Some(cert.as_str()));
        let fixed = l.default_actions()[0].fixed_response_config().unwrap();
        assert_eq!((fixed.status_code(), fixed.message_body()), (Some("404"), Some("Instance not found")));
        let http = elb.describe_listeners().listener_arns(&shard.http).send().await.unwrap();
        let redirect = http.listeners()[0].default_actions()[0].redirect_config().expect("port 80 redirects").clone();
        assert_eq!((redirect.protocol(), redirect.port(), redirect.status_code().map(|c| c.as_str())), (Some("HTTPS"), Some("443"), Some("HTTP_301")));
    }
    project.ok(&["plan", "base", "--detailed-exitcode"], 0);
    project.ok(&["drift", "base"], 0);

    // 2. Tenants: each rule moves to 443, created before the old is deleted.
    let (run, looks) = watched(&project, &elb, &switched, &["tenant", "apply", "--all", "--auto-approve", "--parallelism", "1"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(looks.len() > 3, "moto was read during the rollout ({} times)", looks.len());
    eprintln!("tenant rollout: moto read {} times, every tenant's path forwarding each time", looks.len());
    for t in 0..ids.len() {
        assert_created_before_destroyed(&looks, t);
    }
    for (shard, (path, group)) in switched.iter().flat_map(|s| s.tenants.iter().map(move |t| (s, t))) {
        assert!(rules_of(&elb, &shard.http, path).await.is_empty(), "{path} left on port 80");
        assert_eq!(rules_of(&elb, shard.https.as_ref().unwrap(), path).await, vec![group.to_string()], "{path} on 443");
    }
    for id in ids {
        let show = project.ok(&["tenant", "show", id, "--json"], 0);
        let info: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
        assert!(info["url"].as_str().unwrap().starts_with("https://"), "{info}");
    }
    let again = project.run(&["tenant", "plan", "--all", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "a second plan is empty: {}", again.all());

    // 3. Back to HTTP: base first (the 443 listeners, with the rules on them, go: what uses
    // them must be named knowingly), then the tenants' rules return to port 80.
    let refused = project.run(&["apply", "base", "--param", "certificate_arn=", "--auto-approve"]);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert!(refused.stderr.contains("https_listener[0]") && refused.stderr.contains("--ignore-dependents"), "{}", refused.stderr);
    project.ok(&["apply", "base", "--param", "certificate_arn=", "--ignore-dependents", "--auto-approve"], 0);
    project.ok(&["plan", "base", "--detailed-exitcode"], 0);
    let run = project.run_with_env(&["tenant", "apply", "--all", "--auto-approve"], KEY);
    assert_eq!(run.code, 0, "{}", run.all());
    let back = shards(&project, &ids);
    assert!(back.iter().all(|s| s.https.is_none()));
    assert!(problems(&elb, &back).await.is_empty(), "every tenant's path forwards on port 80 again");
    for shard in &back {
        let http = elb.describe_listeners().listener_arns(&shard.http).send().await.unwrap();
        assert_eq!(http.listeners()[0].default_actions()[0].fixed_response_config().and_then(|f| f.status_code()), Some("404"));
    }
    let info: serde_json::Value = serde_json::from_str(&project.ok(&["tenant", "show", "h1", "--json"], 0).stdout).unwrap();
    assert!(info["url"].as_str().unwrap().starts_with("http://"), "{info}");
    let again = project.run(&["tenant", "plan", "--all", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "a second plan is empty: {}", again.all());
}
