//! A project folder (stacks in `stacks/`, state in `state/`) and the steps every command and
//! library user goes through: load, plan, lock, apply, unlock.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clawform_aws::AwsProvider;
use clawform_core::backend::{BackendError, LocalBackend, LockInfo, StateBackend};
use clawform_core::engine::{ApplyOptions, ApplyReport};
use clawform_core::plan::Plan;
use clawform_core::stack::stack_path;
use clawform_core::{DriftReport, Provider, Registry, Stack, State};
use indexmap::IndexMap;

pub use crate::error::WorkspaceError;
use serde_json::Value as Json;

/// One stack made from a template ([`Workspace::plan_many`]): a tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// The stack's name.
    pub name: String,
    /// Its parameter values (those recorded in its state are added where not given here).
    pub param_overrides: IndexMap<String, Json>,
}

/// A project folder: stacks, state backend and the resource types it knows.
#[derive(Clone)]
pub struct Workspace {
    root: PathBuf,
    backend: Arc<dyn StateBackend>,
    registry: Registry,
    lock_timeout: std::time::Duration,
    dependents_allowed: bool,
}

impl Workspace {
    /// The project at `root`, with local state in `root/state`.
    pub fn open(root: impl AsRef<Path>) -> Workspace {
        let root = root.as_ref().to_path_buf();
        let backend = Arc::new(LocalBackend::new(root.join("state")));
        Workspace { root, backend, registry: clawform_aws::registry(), lock_timeout: std::time::Duration::ZERO, dependents_allowed: false }
    }

    /// Whether plans may delete or replace what other stacks use (`--ignore-dependents`): then
    /// the plan carries a warning naming them instead of being refused.
    pub fn with_dependents_allowed(mut self, allowed: bool) -> Workspace {
        self.dependents_allowed = allowed;
        self
    }

    /// The same project with another state backend.
    pub fn with_backend(mut self, backend: Arc<dyn StateBackend>) -> Workspace {
        self.backend = backend;
        self
    }

    /// How long [`Workspace::lock`] waits for a lock held by someone else (default: not at all).
    pub fn with_lock_timeout(mut self, timeout: std::time::Duration) -> Workspace {
        self.lock_timeout = timeout;
        self
    }

    /// How long [`Workspace::lock`] waits.
    pub fn lock_timeout(&self) -> std::time::Duration {
        self.lock_timeout
    }

    /// The resource types stacks may use.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The state backend.
    pub fn backend(&self) -> &Arc<dyn StateBackend> {
        &self.backend
    }

    /// The project folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// An AWS provider from the standard configuration chain; `region` overrides it.
    pub async fn aws_provider(&self, region: Option<String>) -> Arc<dyn Provider> {
        Arc::new(AwsProvider::from_env(region).await)
    }

    /// Reads every resource of `stacks` from AWS (batched by type across the stacks) and
    /// compares it with state; also finds live resources tagged with those stacks but not in
    /// their state.
    pub async fn drift(&self, stacks: &[String], provider: &dyn Provider) -> Result<DriftReport, WorkspaceError> {
        let mut states = Vec::new();
        for name in stacks {
            // A stack named that has no state is a typo or a stack never applied: saying "no
            // drift" about it would be a false all-clear.
            match self.backend.load(name).await? {
                Some(state) => states.push(state),
                None => return Err(self.no_state(name).await),
            }
        }
        detect(&states, &self.registry, provider).await
    }

    /// The error for `stack` having no state, suggesting the stack with state whose name is
    /// closest (a typo: `netwrk` for `network`).
    pub async fn no_state(&self, stack: &str) -> WorkspaceError {
        let mut known = self.backend.list().await.unwrap_or_default();
        // Stack files count too: `drift netwrk` before `network` was ever applied is still a typo.
        if let Ok(entries) = std::fs::read_dir(self.root.join("stacks")) {
            known.extend(entries.flatten().filter_map(|e| e.file_name().to_str()?.strip_suffix(".yaml").map(str::to_string)));
        }
        let suggestion = clawform_core::suggest::did_you_mean(stack, known.iter().map(String::as_str)).map(str::to_string);
        WorkspaceError::NoState { stack: stack.to_string(), suggestion }
    }

    /// Plans `stack` against its state refreshed from AWS: attributes changed outside clawform
    /// are planned back to the stack's values, resources deleted outside it are planned again.
    /// Returns the plan and the drift found.
    pub async fn plan_refreshed(&self, stack: &Stack, provider: &dyn Provider) -> Result<(Plan, DriftReport), WorkspaceError> {
        let state = self.backend.load(&stack.name).await?;
        let report = match &state {
            Some(s) => detect(std::slice::from_ref(s), &self.registry, provider).await?,
            None => DriftReport::default(),
        };
        let stack = &with_recorded_params(stack, state.as_ref());
        let settled = crate::fleet::settle_asg_max(self.fleet_sources(), stack, state.as_ref()).await?;
        let stack = settled.as_ref().map_or(stack, |s| &s.stack);
        let refreshed = state.map(|s| clawform_core::drift::refreshed(&s, &report));
        let external = self.external_outputs(stack).await?;
        let mut plan = clawform_core::plan(stack, &self.registry, refreshed.as_ref(), external)?;
        if let Some(s) = &settled {
            s.record(&mut plan);
        }
        plan.adopt_unmanaged(&report.unmanaged);
        self.refuse_removing_what_others_use(&mut plan).await?;
        Ok((plan, report))
    }

    /// Plans many stacks made from one template (every tenant of a rollout) as
    /// [`Workspace::plan`] plans one, or against its state refreshed with `report` (a drift
    /// check made over these stacks) when given. Stacks whose state holds no resources (never
    /// applied, or destroyed) are left out. The outputs the stacks read are read once in all,
    /// and the check that no plan removes what another stack uses asks one index of every state
    /// instead of reading every state again for each plan. `instance` names the stack to plan
    /// from its state, with its parameter values.
    pub async fn plan_many(
        &self,
        names: &[String],
        template: &Stack,
        instance: impl FnMut(&State) -> Result<Instance, WorkspaceError>,
        report: Option<&DriftReport>,
    ) -> Result<Vec<Plan>, WorkspaceError> {
        let mut plans = Vec::with_capacity(names.len());
        self.plan_each(names, template, instance, report, |plan| {
            plans.push(plan);
            Ok(())
        })
        .await?;
        Ok(plans)
    }

    /// [`Workspace::plan_many`], handing each plan to `each` as soon as it is made and checked,
    /// so that the plans of thousands of stacks need not be held at once (the CLI prints each
    /// and drops it). Every state is read twice: once lightly for the index of identifiers,
    /// once to plan. One copy of the template is given each instance's name and parameters in
    /// turn (a copy per stack cost as much as reading its state).
    pub async fn plan_each(
        &self,
        names: &[String],
        template: &Stack,
        mut instance: impl FnMut(&State) -> Result<Instance, WorkspaceError>,
        report: Option<&DriftReport>,
        mut each: impl FnMut(Plan) -> Result<(), WorkspaceError>,
    ) -> Result<(), WorkspaceError> {
        // Which stacks hold which identifiers, from a light read of every document; the few
        // that may use what a plan removes are read in full when it does.
        let mut usages = clawform_core::dependents::UsageIndex::default();
        for name in self.backend.list().await? {
            let Some(text) = self.backend.load_document(&name).await? else { continue };
            if usages.add_document(&text).is_err() {
                // Not a document the light read takes: the full read says why (or takes it).
                if let Some(s) = self.backend.load(&name).await? {
                    usages.add_state(&s);
                }
            }
        }
        let mut outputs: BTreeMap<String, IndexMap<String, Json>> = BTreeMap::new();
        let mut stack = template.clone();
        for name in names {
            let Some(state) = self.backend.load(name).await?.filter(|s| !s.resources.is_empty()) else { continue };
            let Instance { name: stack_name, param_overrides } = instance(&state)?;
            (stack.name, stack.param_overrides) = (stack_name, param_overrides);
            add_recorded_params(&mut stack, &state);
            let state = match report {
                Some(r) => clawform_core::drift::refreshed(&state, r),
                None => state,
            };
            let mut external = BTreeMap::new();
            for other in stack.external_stacks() {
                if !outputs.contains_key(&other) {
                    let s = self
                        .backend
                        .load(&other)
                        .await?
                        .ok_or_else(|| WorkspaceError::MissingDependency { stack: stack.name.clone(), other: other.clone() })?;
                    outputs.insert(other.clone(), s.outputs);
                }
                external.insert(other.clone(), outputs[&other].clone());
            }
            let mut plan = clawform_core::plan(&stack, &self.registry, Some(&state), external)?;
            if let Some(r) = report {
                plan.adopt_unmanaged(&r.unmanaged);
            }
            let mut others = Vec::new();
            for other in usages.stacks_to_check(&plan) {
                others.extend(self.backend.load(other).await?);
            }
            let users = clawform_core::dependents::users_of_removed(&plan, &others);
            self.check_users(&mut plan, &users)?;
            each(plan)?;
        }
        Ok(())
    }

    /// Accepts live values into state (`apply --refresh-only`): the stack's state becomes what
    /// AWS has. Call with the stack locked.
    pub async fn accept_live(&self, stack: &str, provider: &dyn Provider) -> Result<DriftReport, WorkspaceError> {
        let report = self.drift(&[stack.to_string()], provider).await?;
        self.accept_report(stack, &report).await?;
        Ok(report)
    }

    /// Writes what `report` (a drift check of `stack`, made under the same lock) found into the
    /// stack's state; returns whether the state changed. Call with the stack locked.
    pub async fn accept_report(&self, stack: &str, report: &DriftReport) -> Result<bool, WorkspaceError> {
        let Some(state) = self.backend.load(stack).await? else { return Err(self.no_state(stack).await) };
        let mut refreshed = clawform_core::drift::refreshed(&state, report);
        if refreshed == state {
            return Ok(false);
        }
        refreshed.serial = state.serial + 1;
        self.backend.save(&refreshed).await?;
        Ok(true)
    }

    /// Where the stack `name` lives (`stacks/NAME.yaml`, or `name` itself if it is a path).
    pub fn stack_path(&self, name: &str) -> PathBuf {
        stack_path(&self.root, name)
    }

    /// Loads and checks a stack, with parameter overrides.
    pub fn load(&self, name: &str, params: &IndexMap<String, Json>) -> Result<Stack, WorkspaceError> {
        let mut stack = Stack::load_file(&self.stack_path(name), &self.registry)?;
        stack.param_overrides = params.clone();
        stack.param_values()?;
        // Counts and instance indexes are checked with the values given (without state, an
        // `auto` count is one).
        stack.expand(None)?;
        Ok(stack)
    }

    /// Where the tenants' figures are read (for `asg_max_size: auto` and placement).
    pub fn fleet_sources(&self) -> crate::fleet::Sources<'_> {
        crate::fleet::Sources { backend: self.backend.as_ref(), registry: &self.registry, root: &self.root }
    }

    /// The stack's state, if it was applied.
    pub async fn state(&self, stack: &str) -> Result<Option<State>, WorkspaceError> {
        Ok(self.backend.load(stack).await?)
    }

    /// Plans `stack` against its state as last applied (no AWS call), reading outputs of the
    /// stacks it references.
    pub async fn plan(&self, stack: &Stack) -> Result<Plan, WorkspaceError> {
        let state = self.backend.load(&stack.name).await?;
        let stack = &with_recorded_params(stack, state.as_ref());
        let settled = crate::fleet::settle_asg_max(self.fleet_sources(), stack, state.as_ref()).await?;
        let stack = settled.as_ref().map_or(stack, |s| &s.stack);
        let external = self.external_outputs(stack).await?;
        let mut plan = clawform_core::plan(stack, &self.registry, state.as_ref(), external)?;
        if let Some(s) = &settled {
            s.record(&mut plan);
        }
        self.refuse_removing_what_others_use(&mut plan).await?;
        Ok(plan)
    }

    /// Refuses a plan that deletes or replaces a resource that another stack's resources use
    /// (a load balancer shard's listener that holds tenants' rules, say): it would orphan them.
    async fn refuse_removing_what_others_use(&self, plan: &mut Plan) -> Result<(), WorkspaceError> {
        if !plan.changes.iter().any(|c| matches!(c.action, clawform_core::Action::Delete | clawform_core::Action::Replace)) {
            return Ok(());
        }
        let mut others = Vec::new();
        for name in self.backend.list().await? {
            if name != plan.stack {
                if let Some(s) = self.backend.load(&name).await? {
                    others.push(s);
                }
            }
        }
        let users = clawform_core::dependents::users_of_removed(plan, &others);
        self.check_users(plan, &users)
    }

    /// Refuses a plan that removes what `users` use, or with `--ignore-dependents` warns.
    fn check_users(&self, plan: &mut Plan, users: &[clawform_core::dependents::Dependent]) -> Result<(), WorkspaceError> {
        if users.is_empty() {
            return Ok(());
        }
        if !self.dependents_allowed {
            return Err(in_use(plan, users));
        }
        for u in users {
            plan.warnings.push(format!(
                "{} is used by {} in stack `{}`: removed anyway (--ignore-dependents); that stack will point at something gone until it is changed",
                u.removed, u.address, u.stack
            ));
        }
        Ok(())
    }

    async fn external_outputs(&self, stack: &Stack) -> Result<BTreeMap<String, IndexMap<String, Json>>, WorkspaceError> {
        let mut external = BTreeMap::new();
        for other in stack.external_stacks() {
            match self.backend.load(&other).await? {
                Some(s) => {
                    external.insert(other, s.outputs);
                }
                None => return Err(WorkspaceError::MissingDependency { stack: stack.name.clone(), other }),
            }
        }
        Ok(external)
    }

    /// Plans the destruction of everything in the stack's state.
    pub async fn plan_destroy(&self, stack: &str) -> Result<Plan, WorkspaceError> {
        let Some(state) = self.backend.load(stack).await? else { return Err(self.no_state(stack).await) };
        let mut plan = clawform_core::plan_destroy(&state, &self.registry);
        self.refuse_removing_what_others_use(&mut plan).await?;
        Ok(plan)
    }

    /// Takes the stack's lock for `operation`; give it back with [`Workspace::unlock`].
    pub async fn lock(&self, stack: &str, operation: &str) -> Result<LockInfo, WorkspaceError> {
        self.lock_within(stack, operation, self.lock_timeout).await
    }

    /// Takes the stack's lock, waiting up to `timeout` for its holder (for short critical
    /// sections that concurrent callers are expected to queue for).
    pub async fn lock_within(&self, stack: &str, operation: &str, timeout: std::time::Duration) -> Result<LockInfo, WorkspaceError> {
        let info = LockInfo::for_current_process(operation);
        let deadline = std::time::Instant::now() + timeout;
        loop {
            match self.backend.lock(stack, &info).await {
                Ok(()) => return Ok(info),
                // Someone holds it: wait for them within the lock timeout, then give up naming them.
                Err(BackendError::Locked { .. }) if std::time::Instant::now() < deadline => tokio::time::sleep(std::time::Duration::from_millis(250)).await,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Gives a lock back.
    pub async fn unlock(&self, stack: &str, lock: &LockInfo) -> Result<(), WorkspaceError> {
        Ok(self.backend.unlock(stack, lock).await?)
    }

    /// Runs `body` holding the stack's lock for `operation`, and gives the lock back however
    /// `body` ends. The body's own error wins over a failed unlock (a lock left behind names its
    /// holder and `force-unlock` clears it; the error that stopped the work matters more).
    pub async fn with_lock<T, E>(&self, stack: &str, operation: &str, body: impl AsyncFnOnce() -> Result<T, E>) -> Result<T, E>
    where
        E: From<WorkspaceError>,
    {
        self.with_lock_within(stack, operation, self.lock_timeout, body).await
    }

    /// [`Workspace::with_lock`], waiting up to `timeout` for the lock's holder.
    pub async fn with_lock_within<T, E>(
        &self,
        stack: &str,
        operation: &str,
        timeout: std::time::Duration,
        body: impl AsyncFnOnce() -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<WorkspaceError>,
    {
        let lock = self.lock_within(stack, operation, timeout).await?;
        let result = body().await;
        let unlocked = self.unlock(stack, &lock).await;
        match (result, unlocked) {
            (Ok(value), Ok(())) => Ok(value),
            (Ok(_), Err(unlock)) => Err(unlock.into()),
            (Err(e), Ok(())) => Err(e),
            (Err(e), Err(unlock)) => {
                tracing::error!(stack, error = %unlock, "the lock could not be given back after a failure; `clawform force-unlock` clears it");
                Err(e)
            }
        }
    }

    /// Applies a plan whose stack is already locked by the caller.
    pub async fn apply_locked(&self, plan: &Plan, provider: Arc<dyn Provider>, options: &ApplyOptions) -> Result<ApplyReport, WorkspaceError> {
        let state = self.backend.load(&plan.stack).await?;
        Ok(clawform_core::apply(plan, state, &self.registry, provider, self.backend.as_ref(), options).await?)
    }

    /// Locks the stack, applies the plan, and unlocks (also when the apply fails).
    pub async fn apply(&self, plan: &Plan, provider: Arc<dyn Provider>, options: &ApplyOptions) -> Result<ApplyReport, WorkspaceError> {
        self.with_lock(&plan.stack, "apply", async || self.apply_locked(plan, provider, options).await).await
    }

    /// Reads a plan saved with `plan --out`.
    pub fn read_plan(path: &Path) -> Result<Plan, WorkspaceError> {
        let text = std::fs::read_to_string(path).map_err(|e| WorkspaceError::PlanFile { path: path.display().to_string(), reason: e.to_string() })?;
        let plan: Plan = serde_json::from_str(&text)
            .map_err(|e| WorkspaceError::PlanFile { path: path.display().to_string(), reason: format!("not a clawform plan: {e}") })?;
        if plan.format_version > clawform_core::plan::PLAN_FORMAT_VERSION {
            return Err(WorkspaceError::PlanFile {
                path: path.display().to_string(),
                reason: format!("plan format {} is newer than this clawform", plan.format_version),
            });
        }
        Ok(plan)
    }

    /// Saves a plan for a later `apply PLANFILE`.
    pub fn write_plan(path: &Path, plan: &Plan) -> Result<(), WorkspaceError> {
        let bytes = serde_json::to_vec_pretty(plan).map_err(|e| WorkspaceError::PlanFile { path: path.display().to_string(), reason: e.to_string() })?;
        clawform_core::backend::write_atomically(path, &bytes).map_err(|e| WorkspaceError::PlanFile { path: path.display().to_string(), reason: e.to_string() })
    }
}

/// Reads the live resources of `states`, after checking they were recorded in the provider's
/// region (another region's ids would all read as deleted).
async fn detect(states: &[State], registry: &Registry, provider: &dyn Provider) -> Result<DriftReport, WorkspaceError> {
    let region = provider.region();
    if let Some(refusal) = states.iter().find_map(|s| clawform_core::state::region_mismatch(s, region.as_deref())) {
        return Err(WorkspaceError::WrongRegion(refusal));
    }
    clawform_core::drift::detect(states, registry, provider).await.map_err(WorkspaceError::Drift)
}

/// The refusal of a plan that removes what other stacks use.
fn in_use(plan: &Plan, users: &[clawform_core::dependents::Dependent]) -> WorkspaceError {
    WorkspaceError::InUse { stack: plan.stack.clone(), users: users.to_vec() }
}

/// The stack with the parameters recorded in its state (given with `--param` at an earlier
/// apply) where no value is given now.
fn with_recorded_params(stack: &Stack, state: Option<&State>) -> Stack {
    let mut stack = stack.clone();
    if let Some(state) = state {
        add_recorded_params(&mut stack, state);
    }
    stack
}

/// [`with_recorded_params`] on a stack the caller owns (no copy of the stack).
fn add_recorded_params(stack: &mut Stack, state: &State) {
    for (name, value) in &state.param_overrides {
        let declared = stack.params.get(name).is_some_and(|p| !p.sensitive);
        if declared && !stack.param_overrides.contains_key(name) {
            stack.param_overrides.insert(name.clone(), value.clone());
        }
    }
}
