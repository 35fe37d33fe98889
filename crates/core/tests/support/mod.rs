//! Shared fixtures of core's integration tests: two small resource types, an in-memory provider
//! that records every call, and a state backend that reads its own file back after every save.
//!
//! The provider behaves like a strict cloud on purpose: creating a subnet in a network that does
//! not exist, deleting a network that still has subnets, or changing a force-new attribute in
//! place are refused, so an engine that orders operations wrongly fails loudly instead of
//! passing by luck.

// Each test module uses a different part of this module.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use clawform_core::backend::BackendError;
use clawform_core::{
    Applied, ApplyOptions, ApplyReport, EngineError, FieldError, LocalBackend, LockInfo, OpContext, Plan, Provider, ProviderError, Registry, Resource, Stack,
    State, StateBackend, Val,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

/// A network: `cidr_block` forces a new one, `name`, `enable_dns` and `tags` change in place.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestNetwork {
    pub cidr_block: Val<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Val<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_dns: Option<Val<bool>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, Val<String>>,
}

impl Resource for TestNetwork {
    const TYPE: &'static str = "test_network";
    const COMPUTED: &'static [&'static str] = &["id", "arn"];
    const FORCE_NEW: &'static [&'static str] = &["cidr_block"];

    fn validate(&self) -> Vec<FieldError> {
        match self.cidr_block.literal() {
            Some(cidr) if !cidr.contains('/') => {
                vec![FieldError::new("cidr_block", format!("`{cidr}` is not a CIDR block; expected an address and a prefix length such as 10.0.0.0/16"))]
            }
            _ => vec![],
        }
    }
}

/// A subnet of a network: `network_id` forces a new one, `description` changes in place. It has
/// no `tags`, so stack-level tags must not be added to it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestSubnet {
    pub network_id: Val<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Val<String>>,
}

impl Resource for TestSubnet {
    const TYPE: &'static str = "test_subnet";
    const COMPUTED: &'static [&'static str] = &["id", "arn"];
    const FORCE_NEW: &'static [&'static str] = &["network_id"];
}

/// A secret: `value` is sensitive (kept as a digest in state and plans), `name` changes in place.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestSecret {
    pub name: Val<String>,
    pub value: Val<String>,
}

impl Resource for TestSecret {
    const TYPE: &'static str = "test_secret";
    const COMPUTED: &'static [&'static str] = &["id", "arn"];
    const FORCE_NEW: &'static [&'static str] = &[];
    const SENSITIVE: &'static [&'static str] = &["value"];
}

/// A target that other resources point at by id: `name` and `port` force a new one, and a new
/// one may be made before the old is deleted unless the name stays (names are unique). The
/// provider refuses to delete a target while a live resource still holds its id.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestTarget {
    pub name: Val<String>,
    pub port: Val<u16>,
}

impl Resource for TestTarget {
    const TYPE: &'static str = "test_target";
    const COMPUTED: &'static [&'static str] = &["id", "arn"];
    const FORCE_NEW: &'static [&'static str] = &["name", "port"];
    const CREATE_BEFORE_DESTROY: Option<&'static [&'static str]> = Some(&["name"]);
}

/// The registry of the test types.
pub fn registry() -> Registry {
    let mut r = Registry::new();
    r.register::<TestNetwork>().register::<TestSubnet>().register::<TestSecret>().register::<TestTarget>();
    r
}

/// Loads stack text with the test registry, panicking with the diagnostics if it does not load.
pub fn load(yaml: &str) -> Stack {
    Stack::from_yaml(yaml, None, &registry()).unwrap_or_else(|e| panic!("stack should load, got:\n{e}"))
}

/// Plans `yaml` against `state`.
pub fn plan_yaml(yaml: &str, state: Option<&State>) -> Plan {
    clawform_core::plan(&load(yaml), &registry(), state, Default::default()).unwrap_or_else(|e| panic!("plan failed: {e}"))
}

/// Runs an apply with the given parallelism.
pub async fn apply_with(
    plan: &Plan,
    state: Option<State>,
    provider: &Arc<MemoryProvider>,
    backend: &dyn StateBackend,
    parallelism: usize,
) -> Result<ApplyReport, EngineError> {
    let options = ApplyOptions { parallelism, ..ApplyOptions::default() };
    clawform_core::apply(plan, state, &registry(), provider.clone(), backend, &options).await
}

/// What a provider call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Create,
    Update,
    Delete,
}

/// One call the provider received.
#[derive(Debug, Clone)]
pub struct Call {
    pub op: Op,
    /// The stack named in the call's context.
    pub stack: String,
    pub address: String,
    pub type_name: String,
    /// The id assigned (create) or acted on (update, delete); `None` for a failed create.
    pub id: Option<String>,
    /// The attributes passed in (the prior ones for a delete).
    pub attributes: Json,
    /// Tick of the provider's clock when the call began.
    pub started: usize,
    /// Tick when it returned; every start and end takes its own tick, so `a.finished <
    /// b.started` means `b` began after `a` had returned.
    pub finished: usize,
    /// Whether the call succeeded.
    pub ok: bool,
    /// The context's `leftover_possible`.
    pub leftover_possible: bool,
    /// The context's `client_token`.
    pub client_token: Option<String>,
}

impl Call {
    fn begun(op: Op, ctx: &OpContext, type_name: &str, id: Option<String>, attributes: &Json, started: usize) -> Call {
        Call {
            op,
            stack: ctx.stack.clone(),
            address: ctx.address.clone(),
            type_name: type_name.to_string(),
            id,
            attributes: attributes.clone(),
            started,
            finished: 0,
            ok: false,
            leftover_possible: ctx.leftover_possible,
            client_token: ctx.client_token.clone(),
        }
    }
}

#[derive(Debug, Clone)]
struct Live {
    type_name: String,
    attributes: Json,
}

#[derive(Default)]
struct Inner {
    calls: Vec<Call>,
    live: BTreeMap<String, Live>,
    next_id: usize,
    fail: HashSet<String>,
    fail_deletes: HashSet<String>,
    delay: Duration,
    delays: HashMap<String, Duration>,
}

/// A provider keeping resources in memory; see the module comment for how strict it is.
#[derive(Default)]
pub struct MemoryProvider {
    inner: Mutex<Inner>,
    clock: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

/// Counts an operation in flight for as long as it lives, whichever way the call returns.
struct InFlight<'a>(&'a MemoryProvider);

impl<'a> InFlight<'a> {
    fn enter(p: &'a MemoryProvider) -> InFlight<'a> {
        let now = p.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        p.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(p)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl MemoryProvider {
    pub fn new() -> Arc<MemoryProvider> {
        Arc::new(MemoryProvider::default())
    }

    /// Makes every later call for `address` fail with an API error.
    pub fn fail(&self, address: &str) {
        self.lock().fail.insert(address.to_string());
    }

    /// Makes every later delete for `address` fail (creates and updates still succeed).
    pub fn fail_deletes(&self, address: &str) {
        self.lock().fail_deletes.insert(address.to_string());
    }

    /// Lets calls for `address` succeed again.
    pub fn heal(&self, address: &str) {
        self.lock().fail_deletes.remove(address);
        self.lock().fail.remove(address);
    }

    /// Every operation takes at least `d`.
    pub fn set_delay(&self, d: Duration) {
        self.lock().delay = d;
    }

    /// Operations on `address` take `d` (overrides the common delay).
    pub fn set_delay_for(&self, address: &str, d: Duration) {
        self.lock().delays.insert(address.to_string(), d);
    }

    /// The most operations that were ever in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    /// Forgets the calls seen and the concurrency high-water mark (resources stay).
    pub fn reset_calls(&self) {
        self.lock().calls.clear();
        self.max_in_flight.store(0, Ordering::SeqCst);
    }

    /// Every call in the order they returned.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// `(op, address)` of every call in the order they returned.
    pub fn ops(&self) -> Vec<(Op, String)> {
        self.calls().into_iter().map(|c| (c.op, c.address)).collect()
    }

    /// The one successful call `op` on `address`; panics if there is none or more than one.
    pub fn call(&self, op: Op, address: &str) -> Call {
        let found: Vec<Call> = self.calls().into_iter().filter(|c| c.op == op && c.address == address && c.ok).collect();
        assert_eq!(found.len(), 1, "expected exactly one successful {op:?} of {address}, calls were: {:?}", self.ops());
        found.into_iter().next().expect("length checked")
    }

    /// Ids of the resources that exist, by type.
    pub fn live_ids(&self, type_name: &str) -> Vec<String> {
        self.lock().live.iter().filter(|(_, l)| l.type_name == type_name).map(|(id, _)| id.clone()).collect()
    }

    /// How many resources exist.
    pub fn live_count(&self) -> usize {
        self.lock().live.len()
    }

    /// Changes the live resource `id` behind clawform's back (what another run, or a person
    /// at the console, did).
    pub fn set_live(&self, id: &str, attributes: Json) {
        if let Some(l) = self.lock().live.get_mut(id) {
            l.attributes = attributes;
        }
    }

    /// The attributes of the live resource `id`.
    pub fn live(&self, id: &str) -> Option<Json> {
        self.lock().live.get(id).map(|l| l.attributes.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("no test panics while holding the provider's lock")
    }

    fn tick(&self) -> usize {
        self.clock.fetch_add(1, Ordering::SeqCst)
    }

    async fn pause(&self, address: &str) {
        let d = {
            let inner = self.lock();
            inner.delays.get(address).copied().unwrap_or(inner.delay)
        };
        if !d.is_zero() {
            // As a provider waiting for AWS says what it waits for.
            clawform_core::report_waiting(&format!("{address}'s delay"));
            tokio::time::sleep(d).await;
        }
    }

    /// Notes `call` as returning now.
    fn push(&self, mut call: Call) {
        call.finished = self.tick();
        self.lock().calls.push(call);
    }

    /// Refuses what a real cloud would refuse for these attributes.
    fn check(&self, inner: &Inner, ctx: &OpContext, type_name: &str, attributes: &Json) -> Result<(), ProviderError> {
        if inner.fail.contains(&ctx.address) {
            return Err(ProviderError::api(format!("injected failure for {}", ctx.address)));
        }
        if attributes.to_string().contains("${") {
            return Err(ProviderError::invalid(format!("{}: unresolved template in {attributes}", ctx.address)));
        }
        if type_name == TestSubnet::TYPE {
            let network = attributes.get("network_id").and_then(Json::as_str).unwrap_or("");
            match inner.live.get(network) {
                Some(l) if l.type_name == TestNetwork::TYPE => {}
                _ => return Err(ProviderError::api(format!("{}: network `{network}` does not exist", ctx.address))),
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Provider for MemoryProvider {
    async fn create(&self, ctx: &OpContext, type_name: &str, attributes: &Json) -> Result<Applied, ProviderError> {
        let _guard = InFlight::enter(self);
        let started = self.tick();
        self.pause(&ctx.address).await;
        let outcome = {
            let mut inner = self.lock();
            self.check(&inner, ctx, type_name, attributes).map(|()| {
                inner.next_id += 1;
                let prefix = type_name.trim_start_matches("test_");
                let id = format!("{prefix}-{}", inner.next_id);
                inner.live.insert(id.clone(), Live { type_name: type_name.to_string(), attributes: attributes.clone() });
                id
            })
        };
        self.push(Call { ok: outcome.is_ok(), ..Call::begun(Op::Create, ctx, type_name, outcome.as_ref().ok().cloned(), attributes, started) });
        let id = outcome?;
        let mut computed = Map::new();
        computed.insert("arn".into(), json!(format!("arn:test:{type_name}/{id}")));
        Ok(Applied { id, computed })
    }

    async fn update(&self, ctx: &OpContext, type_name: &str, id: &str, prior: &Json, attributes: &Json) -> Result<Applied, ProviderError> {
        let _guard = InFlight::enter(self);
        let started = self.tick();
        self.pause(&ctx.address).await;
        let outcome = {
            let mut inner = self.lock();
            let force_new: &[&str] = if type_name == TestNetwork::TYPE { TestNetwork::FORCE_NEW } else { TestSubnet::FORCE_NEW };
            self.check(&inner, ctx, type_name, attributes)
                .and_then(|()| match inner.live.get(id) {
                    Some(live) if live.type_name == type_name => Ok(live.attributes.clone()),
                    _ => Err(ProviderError::not_found(format!("{type_name} `{id}` does not exist"))),
                })
                .and_then(|live| match force_new.iter().find(|a| live.get(**a) != attributes.get(**a)) {
                    Some(a) => Err(ProviderError::invalid(format!("{}: `{a}` cannot change in place", ctx.address))),
                    None => Ok(()),
                })
                .and_then(|()| {
                    // The engine must pass what it last applied as `prior`.
                    let stored = &inner.live[id].attributes;
                    let same = force_new.iter().all(|a| prior.get(*a) == stored.get(*a));
                    if same {
                        Ok(())
                    } else {
                        Err(ProviderError::invalid(format!("{}: prior attributes {prior} do not match {stored}", ctx.address)))
                    }
                })
                .map(|()| {
                    inner.live.insert(id.to_string(), Live { type_name: type_name.to_string(), attributes: attributes.clone() });
                })
        };
        self.push(Call { ok: outcome.is_ok(), ..Call::begun(Op::Update, ctx, type_name, Some(id.to_string()), attributes, started) });
        outcome?;
        let mut computed = Map::new();
        computed.insert("arn".into(), json!(format!("arn:test:{type_name}/{id}")));
        Ok(Applied { id: id.to_string(), computed })
    }

    async fn delete(&self, ctx: &OpContext, type_name: &str, id: &str, prior: &Json) -> Result<(), ProviderError> {
        let _guard = InFlight::enter(self);
        let started = self.tick();
        self.pause(&ctx.address).await;
        let outcome = {
            let mut inner = self.lock();
            let in_use = |l: &Live| l.attributes.as_object().is_some_and(|m| m.values().any(|v| v.as_str() == Some(id)));
            if inner.fail.contains(&ctx.address) || inner.fail_deletes.contains(&ctx.address) {
                Err(ProviderError::api(format!("injected failure for {}", ctx.address)))
            } else if let (true, Some((user, _))) = (type_name == TestTarget::TYPE, inner.live.iter().find(|(_, l)| in_use(l))) {
                Err(ProviderError::api(format!("ResourceInUse: {type_name} `{id}` is still used by `{user}`")))
            } else if let Some((sub, _)) = inner.live.iter().find(|(_, l)| l.attributes.get("network_id").and_then(Json::as_str) == Some(id)) {
                Err(ProviderError::api(format!("DependencyViolation: {type_name} `{id}` still has subnet `{sub}`")))
            } else {
                // Deleting what is already gone succeeds, as the trait asks.
                inner.live.remove(id);
                Ok(())
            }
        };
        self.push(Call { ok: outcome.is_ok(), ..Call::begun(Op::Delete, ctx, type_name, Some(id.to_string()), prior, started) });
        outcome
    }

    async fn read(&self, type_name: &str, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError> {
        let inner = self.lock();
        Ok(ids.iter().map(|id| inner.live.get(id).filter(|l| l.type_name == type_name).map(|l| l.attributes.clone())).collect())
    }
}

/// What a [`RecordingBackend`] found in the state file right after one save.
#[derive(Debug, Clone)]
pub struct SavedState {
    pub serial: u64,
    pub addresses: Vec<String>,
    pub outputs: Vec<String>,
    /// The journal of started creates.
    pub creating: Option<Vec<String>>,
}

/// A [`LocalBackend`] that, after every save, reads the file back and notes what it holds; it can
/// also be told to fail the Nth save.
pub struct RecordingBackend {
    pub inner: LocalBackend,
    saves: Mutex<Vec<SavedState>>,
    attempts: AtomicUsize,
    fail_save: Mutex<Option<usize>>,
}

impl RecordingBackend {
    pub fn new(dir: &Path) -> RecordingBackend {
        RecordingBackend { inner: LocalBackend::new(dir), saves: Mutex::new(vec![]), attempts: AtomicUsize::new(0), fail_save: Mutex::new(None) }
    }

    /// Makes the `n`th save from now on (counting from 1) fail.
    pub fn fail_save(&self, n: usize) {
        *self.fail_save.lock().expect("not poisoned") = Some(self.attempts.load(Ordering::SeqCst) + n);
    }

    /// What the file held after each successful save.
    pub fn saves(&self) -> Vec<SavedState> {
        self.saves.lock().expect("not poisoned").clone()
    }
}

#[async_trait]
impl StateBackend for RecordingBackend {
    async fn load(&self, stack: &str) -> Result<Option<State>, BackendError> {
        self.inner.load(stack).await
    }

    async fn save(&self, state: &State) -> Result<(), BackendError> {
        let attempt = self.attempts.fetch_add(1, Ordering::SeqCst) + 1;
        if *self.fail_save.lock().expect("not poisoned") == Some(attempt) {
            return Err(BackendError::Io("disk full (injected)".into()));
        }
        self.inner.save(state).await?;
        let on_disk = self.inner.load(&state.stack).await?.expect("state file was just written");
        self.saves.lock().expect("not poisoned").push(SavedState {
            serial: on_disk.serial,
            addresses: on_disk.resources.iter().map(|r| r.address.clone()).collect(),
            outputs: on_disk.outputs.keys().cloned().collect(),
            creating: on_disk.creating.clone(),
        });
        Ok(())
    }

    async fn lock(&self, stack: &str, info: &LockInfo) -> Result<(), BackendError> {
        self.inner.lock(stack, info).await
    }

    async fn unlock(&self, stack: &str, info: &LockInfo) -> Result<(), BackendError> {
        self.inner.unlock(stack, info).await
    }

    async fn force_unlock(&self, stack: &str, lock_id: &str) -> Result<Option<LockInfo>, BackendError> {
        self.inner.force_unlock(stack, lock_id).await
    }

    async fn list(&self) -> Result<Vec<String>, BackendError> {
        self.inner.list().await
    }
}
