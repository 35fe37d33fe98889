//! Test support: starts moto's server (a real, independent implementation of the AWS APIs) on a
//! free 127.0.0.1 port, once per test binary.
//!
//! moto is looked for in `CLAWFORM_MOTO_SERVER` (a path to `moto_server`), then in the project's
//! virtualenv `.venv/bin/moto_server` (made by `scripts/test.sh`). When it is missing the tests
//! fail with the command that installs it: they never skip.
//!
//! # Where moto 5.2.5 differs from AWS (code to AWS; tests allow for these)
//! Named once here; tests that meet one say so where they allow for it.
//! - No batch limits (DescribeTags takes more than 20 ARNs, DescribeServices more than 10) and
//!   no quotas (rules per listener); accepts duplicate ALB names and one-subnet ALBs; accepts a
//!   13-day log retention.
//! - CreateService drops `capacityProviderStrategy` and `deploymentConfiguration` (reads back
//!   `launchType: EC2`); no task ever runs.
//! - ListServices never pages; DescribeRules pages by 50 unless a page size is given;
//!   SetRulePriorities cannot swap two priorities in one call.
//! - CreateCluster, CreateAutoScalingGroup and CreateCapacityProvider with an existing name
//!   silently replace it (providers check first, as AWS would refuse).
//! - HTTP 500 with an HTML body: UpdateClusterSettings, DescribeCapacityProviders with no names,
//!   Update/DeleteCapacityProvider of an unknown name, ListInstanceProfileTags, an unknown EC2
//!   filter, DescribeLaunchTemplates filtered by `launch-template-id`, CreateOrUpdateTags on a
//!   missing group, UpdateAutoScalingGroup with a policy that has no launch template.
//! - UpdateAutoScalingGroup without MixedInstancesPolicy drops the group's policy.
//! - DescribeNatGateways ignores `tag:` filters; a repeated CreateNatGateway with one ClientToken
//!   fails with `Resource.AlreadyAssociated` instead of returning the first gateway.
//! - DescribeLaunchTemplates keeps the tags of creation after CreateTags/DeleteTags
//!   (DescribeTags is right) and leaves out missing ids instead of failing.
//! - AssociateRouteTable of an associated subnet returns the existing association instead of
//!   `Resource.AlreadyAssociated`; revoking a group-sourced rule needs its description.
//! - ECR: `scan_on_push: false` cannot be set back (the SDK sends `{}`, which moto skips).
//! - Logs: DescribeLogGroups honours only `logGroupNamePrefix`; no AssociateKmsKey.
//! - Secrets Manager: DeleteSecret with a 0-day window is refused (the force flag works);
//!   UpdateSecret with an empty description keeps the old one.
//! - DescribeLoadBalancers with several ARNs fails only when the missing one comes first.
//! - Dependency checks on delete are mostly missing.

pub mod fault_proxy;

pub use fault_proxy::{Fault, FaultConfig, FaultProxy, Hold};

pub mod backend_conformance;

pub mod aws_behaviour;

pub use aws_behaviour::{throttle_floor, Behaviour, BehaviourConfig, BehaviourProxy, Fired, Windows};

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The pinned moto version the project tests against.
pub const MOTO_VERSION: &str = "5.2.5";

/// A running moto server.
#[derive(Debug, Clone)]
pub struct Moto {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The port it listens on.
    pub port: u16,
}

static MOTO: OnceLock<Result<Moto, String>> = OnceLock::new();

/// The workspace root (where `Cargo.lock` and `.venv` live).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors().nth(2).map(Path::to_path_buf).unwrap_or_else(|| here.to_path_buf())
}

fn install_hint() -> String {
    format!(
        "moto's server is not installed. Run `scripts/test.sh` (it creates .venv and installs it), or:\n  python3 -m venv .venv && .venv/bin/pip install 'moto[server]=={MOTO_VERSION}'\nor point CLAWFORM_MOTO_SERVER at a moto_server binary"
    )
}

fn moto_binary() -> Result<PathBuf, String> {
    if let Ok(p) = std::env::var("CLAWFORM_MOTO_SERVER") {
        let p = PathBuf::from(p);
        return if p.exists() { Ok(p) } else { Err(format!("CLAWFORM_MOTO_SERVER={} does not exist.\n{}", p.display(), install_hint())) };
    }
    let venv = workspace_root().join(".venv/bin/moto_server");
    if venv.exists() {
        Ok(venv)
    } else {
        Err(install_hint())
    }
}

/// The shared moto server of this test binary, started on first use. Panics (failing the test)
/// with install instructions when moto is missing.
pub fn moto() -> Moto {
    match MOTO.get_or_init(start) {
        Ok(m) => m.clone(),
        Err(e) => panic!("{e}"),
    }
}

/// A moto server of its own for `key` (one per key, started on first use), for tests that share
/// a test binary but not an account: each test file of a crate's one integration binary gets
/// its own (the base stack's fixed names, resets). Panics like [`moto`] when moto is missing.
pub fn moto_for(key: &str) -> Moto {
    static SERVERS: OnceLock<std::sync::Mutex<std::collections::HashMap<String, Moto>>> = OnceLock::new();
    let servers = SERVERS.get_or_init(Default::default);
    let mut servers = servers.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(m) = servers.get(key) {
        return m.clone();
    }
    match start() {
        Ok(m) => {
            servers.insert(key.to_string(), m.clone());
            m
        }
        Err(e) => panic!("{e}"),
    }
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot find a free port: {e}"))?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

fn start() -> Result<Moto, String> {
    let binary = moto_binary()?;
    let port = free_port()?;
    // The server is spawned from a thread that lives as long as the process, so that
    // PR_SET_DEATHSIG (which fires when the spawning thread ends) kills it when the tests end.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("moto".into())
        .spawn(move || {
            let child = spawn_server(&binary, port);
            let ok = child.is_ok();
            let _ = tx.send(child.map(|_| ()));
            if ok {
                loop {
                    std::thread::park();
                }
            }
        })
        .map_err(|e| e.to_string())?;
    rx.recv().map_err(|e| e.to_string())??;
    let moto = Moto { endpoint: format!("http://127.0.0.1:{port}"), port };
    wait_ready(&moto)?;
    Ok(moto)
}

fn spawn_server(binary: &Path, port: u16) -> Result<Child, String> {
    let mut cmd = Command::new(binary);
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    #[cfg(target_os = "linux")]
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    cmd.spawn().map_err(|e| format!("cannot start {}: {e}\n{}", binary.display(), install_hint()))
}

fn wait_ready(moto: &Moto) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if http(moto.port, "GET", "/moto-api/data.json").is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("moto did not answer on {} within 30 s", moto.endpoint))
}

/// A minimal HTTP/1.1 request to moto on loopback; returns the status code.
fn http(port: u16, method: &str, path: &str) -> Result<u16, String> {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
    write!(s, "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(s);
    let mut status = String::new();
    reader.read_line(&mut status).map_err(|e| e.to_string())?;
    let mut rest = Vec::new();
    let _ = reader.read_to_end(&mut rest);
    status.split_whitespace().nth(1).and_then(|c| c.parse().ok()).ok_or_else(|| format!("bad HTTP answer: {status}"))
}

impl Moto {
    /// Wipes every resource in the server (for tests that need an empty account).
    pub fn reset(&self) {
        let code = http(self.port, "POST", "/moto-api/reset").unwrap_or(0);
        assert_eq!(code, 200, "moto reset failed");
    }

    /// Environment variables that point the AWS SDK (and the clawform CLI) at this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-west-2".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }

    /// Sets [`Moto::env`] in this process, for tests that call the SDK or the library directly.
    pub fn set_process_env(&self) {
        for (k, v) in self.env() {
            std::env::set_var(k, v);
        }
        std::env::remove_var("AWS_PROFILE");
    }
}

/// A name unique to this test run, for stacks that share one moto server.
pub fn unique(prefix: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("{prefix}-{}-{n}", std::process::id() % 100_000)
}
