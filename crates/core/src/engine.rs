//! The engine: walks a plan in dependency order with bounded parallelism, calls the provider,
//! and saves state after every completed step.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value as Json;
use tokio::task::JoinSet;
use tracing::{info_span, Instrument};

use crate::backend::{BackendError, StateBackend};
use crate::graph::dependencies_of;
use crate::plan::{mask_sensitive, Action, Plan, ResourceChange};
use crate::provider::{Applied, ErrorKind, OpContext, Owned, Provider, ProviderError};
use crate::resolve::Scope;
use crate::schema::Registry;
use crate::state::{State, StateResource};

/// Receives apply progress events.
pub type EventSink = Arc<dyn Fn(&ApplyEvent) + Send + Sync>;

/// How an apply runs.
#[derive(Clone)]
pub struct ApplyOptions {
    /// Operations in flight at most.
    pub parallelism: usize,
    /// Set to stop scheduling new operations: operations in flight finish and are saved, the
    /// rest are listed in [`ApplyReport::not_done`]. The CLI sets it on Ctrl-C; a library user
    /// (the web app) keeps a clone and sets it to cancel. It is read before each operation
    /// starts, so an apply that has not begun yet does nothing at all.
    pub stop: Arc<AtomicBool>,
    /// Told of every operation that starts, completes or fails (the CLI prints progress).
    pub on_event: Option<EventSink>,
    /// Values of the plan's sensitive parameters, given at run time (never stored).
    pub secret_params: IndexMap<String, Json>,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions { parallelism: 10, stop: Arc::new(AtomicBool::new(false)), on_event: None, secret_params: IndexMap::new() }
    }
}

/// Progress of one operation of an apply.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplyEvent {
    /// The resource.
    pub address: String,
    /// The resource's planned action.
    pub action: Action,
    /// Whether this step deletes (the first half of a replace, or a delete) or creates/updates.
    pub deleting: bool,
    /// What happened.
    pub kind: EventKind,
}

/// What happened to an operation.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// It started.
    Started,
    /// It completed after `elapsed`; `id` is the resource's id (none after a delete).
    Completed {
        /// The id after the step.
        id: Option<String>,
        /// How long it took.
        elapsed: std::time::Duration,
    },
    /// It failed.
    Failed {
        /// The provider's message.
        message: String,
    },
    /// It is still going, waiting for something AWS does in its own time.
    Waiting {
        /// What it waits for, as the provider says it ("security group sg-1 to be released").
        what: String,
        /// How long the operation has taken so far.
        elapsed: std::time::Duration,
    },
}

/// One operation that failed.
#[derive(Debug, Clone, PartialEq)]
pub struct OpFailure {
    /// The resource.
    pub address: String,
    /// What was being done.
    pub action: Action,
    /// The provider's message.
    pub message: String,
}

/// What an apply did.
#[derive(Debug, Clone)]
pub struct ApplyReport {
    /// Operations completed, in the order they completed.
    pub completed: Vec<(String, Action)>,
    /// Operations that failed.
    pub failures: Vec<OpFailure>,
    /// Whether the apply was stopped before the end (by a failure or a stop request).
    pub interrupted: bool,
    /// Whether a stop request (not a failure) stopped it.
    pub stopped: bool,
    /// Planned operations that never started, in plan order (empty when the apply ran to its
    /// end): what a second apply still has to do.
    pub not_done: Vec<(String, Action)>,
    /// The state as saved at the end.
    pub state: State,
}

/// Why an apply could not run at all (failures of single operations are in the report).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The state moved on since the plan was made.
    #[error("the plan is stale: it was made from {} but the state is now {}; run plan again", state_version(*.planned, .planned_lineage.as_deref()), state_version(*.current, .current_lineage.as_deref()))]
    StalePlan {
        /// Serial the plan was made from.
        planned: Option<u64>,
        /// Lineage the plan was made from.
        planned_lineage: Option<String>,
        /// Serial now.
        current: Option<u64>,
        /// Lineage now.
        current_lineage: Option<String>,
    },
    /// The search for what an interrupted apply may have left failed; nothing was changed.
    #[error("cannot tell whether an earlier interrupted apply left resources behind ({source}); nothing was changed, try again")]
    LeftoverSearch {
        /// The provider's error.
        source: ProviderError,
    },
    /// The state was recorded in another region than the provider's.
    #[error("{0}")]
    WrongRegion(String),
    /// Resources the plan creates need secret values that were not given; nothing was changed.
    #[error("{} need(s) the value of secret parameter(s) {} to be created, and none was given: secret values are never saved, not even in a plan file; give them when applying (tenants: `clawform tenant create ID --api-key-env VAR`); nothing was changed", .addresses.join(", "), .params.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", "))]
    MissingSecrets {
        /// The resources that need them.
        addresses: Vec<String>,
        /// The secret parameters not given.
        params: Vec<String>,
    },
    /// State could not be saved; the report tells what was done before.
    #[error("{source}")]
    Backend {
        /// The backend's error.
        source: BackendError,
        /// What was done until then.
        report: Box<ApplyReport>,
    },
}

/// A state version as a user reads it: `serial 4 of lineage 1a2b…`, or `no state`.
fn state_version(serial: Option<u64>, lineage: Option<&str>) -> String {
    match (serial, lineage) {
        (Some(serial), Some(lineage)) => format!("serial {serial} of lineage {lineage}"),
        (Some(serial), None) => format!("serial {serial}"),
        (None, _) => "no state".to_string(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Phase {
    Delete,
    Apply,
}

struct Op {
    change: usize,
    phase: Phase,
    waiting: usize,
    dependents: Vec<usize>,
}

/// Applies `plan` to `state` (the stack's current state, or `None`), saving through `backend`.
pub async fn apply(
    plan: &Plan,
    state: Option<State>,
    registry: &Registry,
    provider: Arc<dyn Provider>,
    backend: &dyn StateBackend,
    options: &ApplyOptions,
) -> Result<ApplyReport, EngineError> {
    if let Some(stale) = stale(plan, state.as_ref()) {
        return Err(stale);
    }
    // No state document at all (never applied, or deleted by hand): no journal says what was
    // started, so anything may have been left.
    let mut state = state.unwrap_or_else(|| State { creating: None, ..State::new(&plan.stack) });
    let region = provider.region();
    if let Some(refusal) = crate::state::region_mismatch(&state, region.as_deref()) {
        return Err(EngineError::WrongRegion(refusal));
    }
    if region.is_some() {
        state.region = region;
    }
    state.params = plan.params.clone();
    state.param_overrides = plan.param_overrides.clone();
    record_refreshed(&mut state, plan);
    let creates: Vec<String> = plan.changes.iter().filter(|c| matches!(c.action, Action::Create | Action::Replace)).map(|c| c.address.clone()).collect();
    let needing = needing_secrets(plan, &state, &options.secret_params);
    if !needing.is_empty() {
        let params = plan.sensitive_params.iter().filter(|p| !options.secret_params.contains_key(*p)).cloned().collect();
        return Err(EngineError::MissingSecrets { addresses: needing, params });
    }
    let leftovers = find_leftovers(plan, &state, &creates, provider.as_ref()).await.map_err(|source| EngineError::LeftoverSearch { source })?;
    let ops = build_ops(plan, &state);
    let run = ApplyRun {
        plan,
        registry,
        provider,
        backend,
        options,
        started: vec![false; ops.len()],
        ops,
        report: ApplyReport { completed: vec![], failures: vec![], interrupted: false, stopped: false, not_done: vec![], state: state.clone() },
        state,
        // The journal is written once, before the first create; until then nothing can be left.
        journaled: creates.is_empty(),
        creates,
        leftovers,
        running: JoinSet::new(),
        stopping: false,
    };
    run.walk().await
}

/// A plan made from state refreshed from AWS holds, for the resources it leaves alone, what AWS
/// has: recorded as the apply starts, as Terraform records its refresh. So a service that an
/// interrupted rollout moved to a new task definition before its state was saved is named by
/// state as running that one, and `drift` agrees with `plan` afterwards.
fn record_refreshed(state: &mut State, plan: &Plan) {
    for c in plan.changes.iter().filter(|c| c.action == Action::NoOp && !c.deposed) {
        let Some(before) = &c.before else { continue };
        if let Some(r) = state.resources.iter_mut().find(|r| r.address == c.address && Some(&r.id) == c.prior_id.as_ref()) {
            if r.attributes != *before {
                r.attributes = before.clone();
            }
        }
    }
}

/// The creates of `plan` that need the value of a secret parameter not given: found before the
/// first call, so that an apply never stops half-way for want of a secret (a saved plan holds
/// only digests of secret values).
fn needing_secrets(plan: &Plan, state: &State, secrets: &IndexMap<String, Json>) -> Vec<String> {
    if plan.sensitive_params.iter().all(|p| secrets.contains_key(p)) {
        return Vec::new();
    }
    let scope = scope_of(state, plan, secrets);
    plan.changes
        .iter()
        .filter(|c| matches!(c.action, Action::Create | Action::Replace))
        .filter_map(|c| {
            let config = c.config.as_ref()?;
            let resolved = scope.resolve_attributes(&config.attributes).ok()?;
            (!resolved.withheld.is_empty()).then(|| c.address.clone())
        })
        .collect()
}

/// The refusal of a plan made from another state than the one now stored.
fn stale(plan: &Plan, state: Option<&State>) -> Option<EngineError> {
    let current = (state.map(|s| s.serial), state.map(|s| s.lineage.clone()));
    if current == (plan.prior_serial, plan.prior_lineage.clone()) {
        return None;
    }
    Some(EngineError::StalePlan { planned: plan.prior_serial, planned_lineage: plan.prior_lineage.clone(), current: current.0, current_lineage: current.1 })
}

/// What an earlier apply created but could not record (a crash between the create and the state
/// save), found by its ownership tags, by address: the plan's refresh found some already;
/// addresses the journal names as possibly left (or all, without a journal) are searched for
/// once. `leftover_possible` lists the creates that still may have left something the search
/// did not see (a type the search cannot list), which the provider then looks for itself.
async fn find_leftovers(plan: &Plan, state: &State, creates: &[String], provider: &dyn Provider) -> Result<Leftovers, ProviderError> {
    let mut found: HashMap<String, Owned> =
        plan.adoptable.iter().filter(|o| o.stack == plan.stack && creates.contains(&o.address)).map(|o| (o.address.clone(), o.clone())).collect();
    let possible: HashSet<String> = creates.iter().filter(|a| state.leftover_possible(a) && !found.contains_key(*a)).cloned().collect();
    if !possible.is_empty() {
        // What state records is not a leftover: the provider need not confirm that it exists
        // (a read per type, per stack applied).
        let known: HashSet<String> = state
            .resources
            .iter()
            .flat_map(|r| std::iter::once(r.id.clone()).chain(r.attributes.get("arn").and_then(Json::as_str).map(str::to_string)))
            .collect();
        // A failed search is not "nothing found": creating anyway could duplicate what an
        // earlier run left, so the apply stops before its first call that changes anything.
        let owned = provider.find_owned(std::slice::from_ref(&plan.stack), &known).await?;
        for o in owned {
            let recorded = state.get(&o.address).is_some_and(|r| o.matches(&r.id, &r.attributes));
            if !recorded && possible.contains(&o.address) {
                found.insert(o.address.clone(), o);
            }
        }
    }
    Ok(Leftovers { found, possible })
}

/// Leftovers of earlier applies, by address.
struct Leftovers {
    /// Found by their ownership tags: adopted instead of created.
    found: HashMap<String, Owned>,
    /// Creates the journal says may have left something.
    possible: HashSet<String>,
}

type Running = JoinSet<(usize, Result<Outcome, ProviderError>, std::time::Duration)>;

/// One apply in progress: the operations, what has started, the state as saved so far.
struct ApplyRun<'a> {
    plan: &'a Plan,
    registry: &'a Registry,
    provider: Arc<dyn Provider>,
    backend: &'a dyn StateBackend,
    options: &'a ApplyOptions,
    ops: Vec<Op>,
    started: Vec<bool>,
    state: State,
    report: ApplyReport,
    journaled: bool,
    creates: Vec<String>,
    leftovers: Leftovers,
    running: Running,
    stopping: bool,
}

impl ApplyRun<'_> {
    /// Runs operations as their dependencies complete, at most `parallelism` at once, until all
    /// are done, one fails, or a stop is requested.
    async fn walk(mut self) -> Result<ApplyReport, EngineError> {
        let mut ready: Vec<usize> = (0..self.ops.len()).filter(|&i| self.ops[i].waiting == 0).collect();
        ready.reverse();
        let parallelism = self.options.parallelism.max(1);
        loop {
            if self.options.stop.load(Ordering::SeqCst) && !self.stopping {
                self.stopping = true;
                self.report.interrupted = true;
                self.report.stopped = true;
            }
            while !self.stopping && self.running.len() < parallelism {
                let Some(i) = ready.pop() else { break };
                if let Err(source) = self.journal_before_first_create(i).await {
                    ready.push(i);
                    return Err(self.save_failed(source).await);
                }
                self.start(i);
            }
            let Some(joined) = self.running.join_next().await else { break };
            let (i, result, elapsed) = match joined {
                Ok(x) => x,
                Err(e) => {
                    // A panicking provider is a bug; record it against no address and stop.
                    self.report.failures.push(OpFailure { address: "?".into(), action: Action::NoOp, message: format!("internal error: {e}") });
                    self.stopping = true;
                    continue;
                }
            };
            match result {
                Ok(outcome) => {
                    if let Err(source) = self.record_completed(i, outcome, elapsed).await {
                        return Err(self.save_failed(source).await);
                    }
                    for d in std::mem::take(&mut self.ops[i].dependents) {
                        self.ops[d].waiting -= 1;
                        if self.ops[d].waiting == 0 {
                            ready.push(d);
                        }
                    }
                }
                Err(e) => self.record_failed(i, e),
            }
        }
        self.report_operations_stuck_on_each_other();
        self.finish().await
    }

    /// Writes the journal of started creates before the first create goes out.
    async fn journal_before_first_create(&mut self, i: usize) -> Result<(), BackendError> {
        let change = &self.plan.changes[self.ops[i].change];
        if self.journaled || self.ops[i].phase != Phase::Apply || !matches!(change.action, Action::Create | Action::Replace) {
            return Ok(());
        }
        self.journaled = true;
        let mut started_creates = self.state.creating.clone().unwrap_or_default();
        started_creates.extend(self.creates.iter().filter(|a| !started_creates.contains(a)).cloned().collect::<Vec<_>>());
        self.state.creating = Some(started_creates);
        for address in &self.creates {
            self.state.create_tokens.entry(address.clone()).or_insert_with(|| uuid::Uuid::new_v4().to_string());
        }
        self.state.serial += 1;
        self.backend.save(&self.state).await
    }

    /// Starts operation `i` (a create becomes an adoption where a leftover was found).
    fn start(&mut self, i: usize) {
        self.started[i] = true;
        let change = self.plan.changes[self.ops[i].change].clone();
        let phase = self.ops[i].phase;
        let (leftovers, state) = (&self.leftovers, &self.state);
        let task = prepare(&change, phase, &self.state, self.plan, &self.options.secret_params).map(|t| match t {
            Task::Create { ctx, type_name, attributes } => match leftovers.found.get(&ctx.address) {
                Some(found) => Task::Adopt { ctx, type_name, found: found.clone(), attributes },
                None => {
                    let keep = state.resources.iter().chain(&state.deposed).filter(|r| r.address == ctx.address).map(|r| r.id.clone()).collect();
                    let client_token = state.create_token(&ctx.address);
                    Task::Create {
                        ctx: OpContext { leftover_possible: leftovers.possible.contains(&ctx.address), keep, client_token, ..ctx },
                        type_name,
                        attributes,
                    }
                }
            },
            other => other,
        });
        let provider = self.provider.clone();
        emit(self.options, &change, phase, EventKind::Started);
        let began = std::time::Instant::now();
        let tell: Arc<dyn Fn(&str) + Send + Sync> = match self.options.on_event.clone() {
            Some(sink) => {
                let (address, action) = (change.address.clone(), change.action);
                Arc::new(move |what: &str| {
                    let kind = EventKind::Waiting { what: what.to_string(), elapsed: began.elapsed() };
                    sink(&ApplyEvent { address: address.clone(), action, deleting: phase == Phase::Delete, kind })
                })
            }
            None => Arc::new(|_: &str| {}),
        };
        let span = info_span!("resource", address = %change.address, r#type = %change.type_name, action = ?change.action, phase = ?phase);
        self.running.spawn(
            async move {
                let started = std::time::Instant::now();
                tracing::debug!("operation started");
                let result = match task {
                    Ok(task) => crate::provider::with_waiting(tell, run(provider.as_ref(), task)).await,
                    Err(e) => Err(e),
                };
                let elapsed = started.elapsed();
                match &result {
                    Ok(_) => tracing::debug!(elapsed_ms = elapsed.as_millis() as u64, "operation done"),
                    Err(e) => tracing::debug!(elapsed_ms = elapsed.as_millis() as u64, error = %e, "operation failed"),
                }
                (i, result, elapsed)
            }
            .instrument(span),
        );
    }

    /// Records a completed operation in state and saves it.
    async fn record_completed(&mut self, i: usize, outcome: Outcome, elapsed: std::time::Duration) -> Result<(), BackendError> {
        let change = &self.plan.changes[self.ops[i].change];
        let id = match &outcome {
            Outcome::Applied { applied, .. } => Some(applied.id.clone()),
            Outcome::Deleted => None,
        };
        emit(self.options, change, self.ops[i].phase, EventKind::Completed { id, elapsed });
        record(&mut self.state, change, self.ops[i].phase, outcome, self.registry);
        self.report.completed.push((change.address.clone(), change.action));
        self.state.serial += 1;
        self.backend.save(&self.state).await
    }

    /// Records a failed operation; nothing new starts after it.
    fn record_failed(&mut self, i: usize, e: ProviderError) {
        let change = &self.plan.changes[self.ops[i].change];
        emit(self.options, change, self.ops[i].phase, EventKind::Failed { message: e.message.clone() });
        self.report.failures.push(OpFailure { address: change.address.clone(), action: change.action, message: e.message });
        self.stopping = true;
        self.report.interrupted = true;
    }

    /// Operations left waiting without a failure or a stop wait on each other: never report
    /// that as a complete apply.
    fn report_operations_stuck_on_each_other(&mut self) {
        if self.stopping {
            return;
        }
        let stuck: Vec<&Op> = self.ops.iter().filter(|o| o.waiting > 0).collect();
        if let Some(first) = stuck.first() {
            let change = &self.plan.changes[first.change];
            let addresses: BTreeSet<&str> = stuck.iter().map(|o| self.plan.changes[o.change].address.as_str()).collect();
            self.report.failures.push(OpFailure {
                address: change.address.clone(),
                action: change.action,
                message: format!("internal error: operations on {addresses:?} wait on each other and never ran"),
            });
            self.report.interrupted = true;
            self.stopping = true;
        }
    }

    /// Saves the outputs of a complete apply and hands back the report.
    async fn finish(mut self) -> Result<ApplyReport, EngineError> {
        self.report.not_done = not_done(self.plan, &self.ops, &self.started);
        if !self.stopping {
            update_outputs(&mut self.state, self.plan);
            self.state.serial += 1;
            if let Err(source) = self.backend.save(&self.state).await {
                self.report.state = self.state;
                return Err(EngineError::Backend { source, report: Box::new(self.report) });
            }
        }
        self.report.state = self.state;
        Ok(self.report)
    }

    /// State could not be saved: lets operations in flight end (so none is cut off mid-call),
    /// and reports what was done until then.
    async fn save_failed(mut self, source: BackendError) -> EngineError {
        self.report.interrupted = true;
        self.report.not_done = not_done(self.plan, &self.ops, &self.started);
        while self.running.join_next().await.is_some() {}
        self.report.state = self.state;
        EngineError::Backend { source, report: Box::new(self.report) }
    }
}

/// The planned operations that never started, once per address (a replace is two operations).
fn not_done(plan: &Plan, ops: &[Op], started: &[bool]) -> Vec<(String, Action)> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (op, _) in ops.iter().zip(started).filter(|(_, s)| !**s) {
        let change = &plan.changes[op.change];
        if seen.insert(change.address.as_str()) {
            out.push((change.address.clone(), change.action));
        }
    }
    out
}

fn emit(options: &ApplyOptions, change: &ResourceChange, phase: Phase, kind: EventKind) {
    if let Some(f) = &options.on_event {
        f(&ApplyEvent { address: change.address.clone(), action: change.action, deleting: phase == Phase::Delete, kind });
    }
}

fn build_ops(plan: &Plan, state: &State) -> Vec<Op> {
    let mut ops = Vec::new();
    let mut index: HashMap<(String, Phase), usize> = HashMap::new();
    for (ci, c) in plan.changes.iter().enumerate() {
        let phases: &[Phase] = match c.action {
            Action::NoOp => &[],
            Action::Create | Action::Update => &[Phase::Apply],
            Action::Replace if c.create_before_destroy => &[Phase::Apply, Phase::Delete],
            Action::Replace => &[Phase::Delete, Phase::Apply],
            Action::Delete => &[Phase::Delete],
        };
        for &phase in phases {
            index.insert((c.address.clone(), phase), ops.len());
            ops.push(Op { change: ci, phase, waiting: 0, dependents: vec![] });
        }
    }
    let mut edges: BTreeSet<(usize, usize)> = BTreeSet::new();
    for c in &plan.changes {
        let me_apply = index.get(&(c.address.clone(), Phase::Apply)).copied();
        let me_delete = index.get(&(c.address.clone(), Phase::Delete)).copied();
        if let (Some(a), Some(d)) = (me_apply, me_delete) {
            // Create-before-destroy: the new one first, the old one last.
            edges.insert(if c.create_before_destroy { (a, d) } else { (d, a) });
        }
        if let (Some(a), Some(config)) = (me_apply, &c.config) {
            for dep in dependencies_of(config) {
                if let Some(&b) = index.get(&(dep, Phase::Apply)) {
                    edges.insert((b, a));
                }
            }
        }
        // What this resource depended on when applied may be deleted only after it is
        // deleted, or after it is updated to stop depending on it.
        if let Some(prior) = state.get(&c.address) {
            let first = me_delete.or(if c.action == Action::Update { me_apply } else { None });
            if let Some(first) = first {
                for dep in &prior.dependencies {
                    if let Some(&b) = index.get(&(dep.clone(), Phase::Delete)) {
                        // An update that still reads a replaced `dep` waits for the new one, so
                        // it cannot also go before the old one is deleted: that is a cycle —
                        // unless `dep` is created first, when moving to the new one before the
                        // old one goes is the point.
                        let created_first = plan.change(dep).is_some_and(|d| d.create_before_destroy);
                        let reads_replacement = index.get(&(dep.clone(), Phase::Apply)).is_some_and(|&a| edges.contains(&(a, first)));
                        if created_first || !reads_replacement {
                            edges.insert((first, b));
                        }
                    }
                }
            }
        }
    }
    for (from, to) in edges {
        ops[from].dependents.push(to);
        ops[to].waiting += 1;
    }
    ops
}

enum Task {
    Create { ctx: OpContext, type_name: String, attributes: Json },
    Adopt { ctx: OpContext, type_name: String, found: Owned, attributes: Json },
    Update { ctx: OpContext, type_name: String, id: String, prior: Json, attributes: Json },
    Delete { ctx: OpContext, type_name: String, id: String, prior: Json },
}

enum Outcome {
    Applied { applied: Applied, attributes: Json },
    Deleted,
}

fn prepare(change: &ResourceChange, phase: Phase, state: &State, plan: &Plan, secrets: &IndexMap<String, Json>) -> Result<Task, ProviderError> {
    let ctx = OpContext::new(plan.stack.clone(), change.address.clone());
    let prior = state.get(&change.address);
    if phase == Phase::Delete {
        // The old resource of a create-before-destroy (or one left by an interrupted one) is
        // among the deposed, found by its id: the address already holds the new one.
        let deposed = state.deposed.iter().find(|r| Some(&r.id) == change.prior_id.as_ref() && (change.deposed || change.create_before_destroy));
        let prior = deposed.or(prior).ok_or_else(|| ProviderError::invalid(format!("{} is not in state any more", change.address)))?;
        let ctx = OpContext::new(plan.stack.clone(), prior.address.clone());
        return Ok(Task::Delete { ctx, type_name: prior.type_name.clone(), id: prior.id.clone(), prior: prior.attributes.clone() });
    }
    let config = change.config.as_ref().ok_or_else(|| ProviderError::invalid(format!("{} has no configuration in the plan", change.address)))?;
    let scope = scope_of(state, plan, secrets);
    let resolved = scope.resolve_attributes(&config.attributes).map_err(|e| ProviderError::invalid(format!("{}: {e}", change.address)))?;
    if !resolved.unknown.is_empty() {
        return Err(ProviderError::invalid(format!("{}: attributes {:?} are still unknown", change.address, resolved.unknown)));
    }
    let mut attributes = resolved.values;
    match (change.action, prior) {
        (Action::Update, Some(p)) => {
            // A secret not given this time keeps the digest of the value applied before; the
            // provider sees it unchanged and leaves it alone.
            if let Json::Object(a) = &mut attributes {
                for w in &resolved.withheld {
                    a.insert(w.clone(), p.attributes.get(w).cloned().unwrap_or(Json::Null));
                }
            }
            // The plan's `before` is the state refreshed from AWS: an attribute changed outside
            // clawform is seen as changed, so the provider puts it back.
            let prior = change.before.clone().unwrap_or_else(|| p.attributes.clone());
            Ok(Task::Update { ctx, type_name: config.type_name.clone(), id: p.id.clone(), prior, attributes })
        }
        _ if !resolved.withheld.is_empty() => {
            Err(ProviderError::invalid(format!("{}: needs the values of its secret parameters to be created", change.address)))
        }
        _ => Ok(Task::Create { ctx, type_name: config.type_name.clone(), attributes }),
    }
}

/// What an apply resolves against: the plan's parameters with the secret ones given at run time
/// (the plan holds only their digests), and the state as it is now.
fn scope_of(state: &State, plan: &Plan, secrets: &IndexMap<String, Json>) -> Scope {
    let mut params = plan.params.clone();
    let mut withheld = std::collections::HashSet::new();
    for name in &plan.sensitive_params {
        match secrets.get(name) {
            Some(v) => {
                params.insert(name.clone(), v.clone());
            }
            None => {
                params.shift_remove(name);
                withheld.insert(name.clone());
            }
        }
    }
    Scope {
        params,
        resources: state.resources.iter().map(|r| (r.address.clone(), r.attributes.clone())).collect(),
        unknown: Default::default(),
        external: plan.external_outputs.clone(),
        withheld,
        counts: plan.counts.clone(),
    }
}

async fn run(provider: &dyn Provider, task: Task) -> Result<Outcome, ProviderError> {
    match task {
        Task::Create { ctx, type_name, attributes } => {
            let applied = provider.create(&ctx, &type_name, &attributes).await?;
            Ok(Outcome::Applied { applied, attributes })
        }
        Task::Adopt { ctx, type_name, found, attributes } => {
            tracing::info!(address = %ctx.address, arn = %found.arn, "adopting a resource left by an earlier apply");
            let applied = provider.adopt(&ctx, &type_name, &found, &attributes).await?;
            Ok(Outcome::Applied { applied, attributes })
        }
        Task::Update { ctx, type_name, id, prior, attributes } => {
            let applied = provider.update(&ctx, &type_name, &id, &prior, &attributes).await?;
            Ok(Outcome::Applied { applied, attributes })
        }
        Task::Delete { ctx, type_name, id, prior } => match provider.delete(&ctx, &type_name, &id, &prior).await {
            Ok(()) => Ok(Outcome::Deleted),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(Outcome::Deleted),
            Err(e) => Err(e),
        },
    }
}

fn record(state: &mut State, change: &ResourceChange, phase: Phase, outcome: Outcome, registry: &Registry) {
    match (phase, outcome) {
        (Phase::Delete, _) | (_, Outcome::Deleted) if change.deposed || change.create_before_destroy => {
            state.deposed.retain(|r| Some(&r.id) != change.prior_id.as_ref())
        }
        (Phase::Delete, _) | (_, Outcome::Deleted) => state.remove(&change.address),
        (Phase::Apply, Outcome::Applied { applied, mut attributes }) => {
            // Create-before-destroy: the old resource stays in state, deposed, until deleted.
            if change.create_before_destroy {
                if let Some(old) = state.get(&change.address).filter(|r| Some(&r.id) == change.prior_id.as_ref()).cloned() {
                    state.deposed.push(old);
                }
            }
            let type_name = change.config.as_ref().map_or(change.type_name.clone(), |c| c.type_name.clone());
            if let Some(kind) = registry.get(&type_name) {
                mask_sensitive(&mut attributes, kind.sensitive(), &state.lineage);
            }
            if let Json::Object(map) = &mut attributes {
                // An update keeps computed values the provider did not return again.
                if let (Some(prior), Some(kind)) = (state.get(&change.address), registry.get(&type_name)) {
                    if change.action == Action::Update {
                        for c in kind.computed() {
                            if let Some(v) = prior.attributes.get(*c) {
                                map.insert(c.to_string(), v.clone());
                            }
                        }
                    }
                }
                for (k, v) in applied.computed {
                    map.insert(k, v);
                }
                map.insert("id".into(), Json::String(applied.id.clone()));
            }
            let dependencies = change.config.as_ref().map(|c| dependencies_of(c).into_iter().collect()).unwrap_or_default();
            // Recorded: no longer a create that may have left something behind.
            if let Some(started) = &mut state.creating {
                started.retain(|a| a != &change.address);
            }
            state.create_tokens.shift_remove(&change.address);
            state.put(StateResource { address: change.address.clone(), type_name, id: applied.id, attributes, dependencies });
        }
    }
}

fn update_outputs(state: &mut State, plan: &Plan) {
    // No secrets here: an output that uses one is left out rather than stored.
    let scope = scope_of(state, plan, &IndexMap::new());
    let mut outputs = indexmap::IndexMap::new();
    for (name, value) in &plan.outputs {
        if let Ok(Some(v)) = scope.resolve_known(value) {
            outputs.insert(name.clone(), v);
        }
    }
    state.outputs = outputs;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A provider whose search for owned resources fails, recording every other call.
    #[derive(Default)]
    struct SearchFails {
        calls: Mutex<Vec<String>>,
    }

    #[async_trait::async_trait]
    impl Provider for SearchFails {
        async fn create(&self, ctx: &OpContext, _: &str, _: &Json) -> Result<Applied, ProviderError> {
            self.calls.lock().unwrap().push(format!("create {}", ctx.address));
            Ok(Applied { id: "id-1".into(), computed: Default::default() })
        }
        async fn update(&self, ctx: &OpContext, _: &str, _: &str, _: &Json, _: &Json) -> Result<Applied, ProviderError> {
            self.calls.lock().unwrap().push(format!("update {}", ctx.address));
            Ok(Applied { id: "id-1".into(), computed: Default::default() })
        }
        async fn delete(&self, ctx: &OpContext, _: &str, _: &str, _: &Json) -> Result<(), ProviderError> {
            self.calls.lock().unwrap().push(format!("delete {}", ctx.address));
            Ok(())
        }
        async fn read(&self, _: &str, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError> {
            Ok(vec![None; ids.len()])
        }
        async fn find_owned(&self, _: &[String], _: &HashSet<String>) -> Result<Vec<Owned>, ProviderError> {
            Err(ProviderError::api("tagging GetResources: AccessDeniedException: not allowed").with_code("AccessDeniedException"))
        }
    }

    #[tokio::test]
    async fn a_failed_leftover_search_stops_the_apply_before_any_create() {
        let dir = tempfile::tempdir().unwrap();
        let backend = crate::backend::LocalBackend::new(dir.path());
        let mut plan = crate::plan::plan(&crate::stack::Stack::new("web"), &Registry::default(), None, Default::default()).unwrap();
        plan.changes = vec![serde_json::from_value(serde_json::json!({
            "address": "net", "type": "t_net", "action": "create", "config": {"type": "t_net", "attributes": {}}
        }))
        .unwrap()];
        let provider = Arc::new(SearchFails::default());
        let err = apply(&plan, None, &Registry::default(), provider.clone(), &backend, &ApplyOptions::default()).await.unwrap_err();
        assert!(matches!(err, EngineError::LeftoverSearch { .. }), "{err:?}");
        assert!(err.to_string().contains("AccessDeniedException") && err.to_string().contains("nothing was changed"), "{err}");
        assert!(provider.calls.lock().unwrap().is_empty(), "no create after a failed search: {:?}", provider.calls.lock().unwrap());
        assert!(backend.load("web").await.unwrap().is_none(), "no state written");
    }

    #[tokio::test]
    async fn a_create_that_needs_a_secret_not_given_is_refused_before_any_call() {
        let dir = tempfile::tempdir().unwrap();
        let backend = crate::backend::LocalBackend::new(dir.path());
        let mut plan = crate::plan::plan(&crate::stack::Stack::new("web"), &Registry::default(), None, Default::default()).unwrap();
        plan.sensitive_params = vec!["token".into()];
        plan.changes = ["first", "secret"]
            .iter()
            .map(|address| {
                let attributes = if *address == "secret" { serde_json::json!({"value": "${param.token}"}) } else { serde_json::json!({}) };
                serde_json::from_value(serde_json::json!({
                    "address": address, "type": "t_secret", "action": "create", "config": {"type": "t_secret", "attributes": attributes}
                }))
                .unwrap()
            })
            .collect();
        let provider = Arc::new(SearchFails::default());
        let err = apply(&plan, None, &Registry::default(), provider.clone(), &backend, &ApplyOptions::default()).await.unwrap_err();
        assert!(matches!(&err, EngineError::MissingSecrets { addresses, params } if addresses == &["secret"] && params == &["token"]), "{err:?}");
        assert!(provider.calls.lock().unwrap().is_empty(), "nothing created: {:?}", provider.calls.lock().unwrap());
        let given = ApplyOptions { secret_params: [("token".to_string(), serde_json::json!("s3cret"))].into_iter().collect(), ..ApplyOptions::default() };
        let err = apply(&plan, None, &Registry::default(), provider.clone(), &backend, &given).await.unwrap_err();
        assert!(matches!(err, EngineError::LeftoverSearch { .. }), "with the secret the apply goes on (to the search): {err:?}");
    }

    #[test]
    fn stale_plans_name_state_versions_in_words() {
        let err = EngineError::StalePlan { planned: None, planned_lineage: None, current: Some(3), current_lineage: Some("abc".into()) };
        assert_eq!(err.to_string(), "the plan is stale: it was made from no state but the state is now serial 3 of lineage abc; run plan again");
    }
}
