//! The CLI: each command loads through the library, then renders. No provisioning logic here.

pub mod args;
mod cost;
mod graph;
mod progress;
mod render;
mod show;
mod tenant;

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use clawform::core::engine::{ApplyOptions, ApplyReport};
use clawform::{Plan, Workspace, WorkspaceError};
use indexmap::IndexMap;
use serde_json::Value as Json;

use args::{Cli, Command, ParamArgs, StateCommand};
use render::Style;

/// Exit code for success.
pub(crate) const OK: u8 = 0;
/// Exit code for any error.
const ERROR: u8 = 1;
/// Exit code for success with changes (`--detailed-exitcode`).
pub(crate) const CHANGES: u8 = 2;
/// Exit code after Ctrl-C (128 + SIGINT, as shells report it).
pub(crate) const INTERRUPTED: u8 = 130;

/// Sends tracing output to stderr at `level` (or RUST_LOG, or warn).
pub fn init_tracing(level: Option<&str>) {
    let filter = match level {
        Some(l) => tracing_subscriber::EnvFilter::new(l),
        None => tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
    };
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// A failure to report: the message, already readable.
pub(crate) struct Failure(pub(crate) String);

impl From<WorkspaceError> for Failure {
    fn from(e: WorkspaceError) -> Self {
        Failure(e.to_string())
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure(e.to_string())
    }
}

pub(crate) struct Ctx {
    workspace: Workspace,
    region: Option<String>,
    style: Style,
    provider: tokio::sync::OnceCell<Arc<clawform::aws::AwsProvider>>,
    /// Set by the first Ctrl-C: applies start nothing new (see `main.rs`).
    pub(crate) stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Ctx {
    /// The AWS provider, made on first use (commands that need no AWS never load a config).
    pub(crate) async fn aws(&self) -> Arc<clawform::aws::AwsProvider> {
        self.provider.get_or_init(|| async { Arc::new(clawform::aws::AwsProvider::from_env(self.region.clone()).await) }).await.clone()
    }

    /// The provider as core sees it.
    pub(crate) async fn provider(&self) -> Arc<dyn clawform::core::Provider> {
        self.aws().await
    }
}

/// Runs a parsed command line; returns the exit code. `stop` is set on Ctrl-C.
pub async fn run(cli: Cli, stop: Arc<std::sync::atomic::AtomicBool>) -> u8 {
    let root = cli.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let color = !cli.no_color && std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal();
    let mut workspace = Workspace::open(&root).with_lock_timeout(std::time::Duration::from_secs(cli.lock_timeout));
    if let Some(url) = cli.backend.as_deref().filter(|u| !u.is_empty()) {
        match backend_from(url, &root, cli.region.clone()).await {
            Ok(b) => workspace = workspace.with_backend(b),
            Err(e) => {
                eprintln!("Error: {e}");
                return ERROR;
            }
        }
    }
    let ctx = Ctx { workspace, region: cli.region.clone(), style: Style { color }, provider: Default::default(), stop };
    let command = match &cli.dir {
        Some(dir) => cli.command.with_paths_in(dir),
        None => cli.command,
    };
    let result = dispatch(&ctx, command).await;
    if cli.stats {
        let stats = ctx.provider.get().map(|p| p.clients().stats.snapshot()).unwrap_or_default();
        eprint!("{}", render::stats(&stats));
    }
    let interrupted = ctx.stop.load(Ordering::SeqCst);
    match result {
        Ok(_) if interrupted => INTERRUPTED,
        Ok(code) => code,
        Err(Failure(message)) => {
            let _ = std::io::stdout().flush();
            for (i, line) in message.lines().enumerate() {
                if i == 0 {
                    eprintln!("{} {line}", ctx.style.red("Error:"));
                } else {
                    eprintln!("       {line}");
                }
            }
            if interrupted {
                INTERRUPTED
            } else {
                ERROR
            }
        }
    }
}

async fn dispatch(ctx: &Ctx, command: Command) -> Result<u8, Failure> {
    match command {
        Command::Validate { stack, params } => validate(ctx, &stack, &params),
        Command::Plan { stack, out, json, json_format, detailed_exitcode, destroy, refresh, lock, params } => {
            let run = async || plan_cmd(ctx, &stack, out.as_deref(), json.then_some(json_format), detailed_exitcode, destroy, refresh, &params).await;
            if lock {
                ctx.workspace.with_lock(&stack_name(ctx, &stack), "plan", run).await
            } else {
                run().await
            }
        }
        Command::Show { planfile, json, json_format } => show::show_cmd(ctx, &planfile, json.then_some(json_format)),
        Command::Import { stack, address, id, params } => {
            let stack = ctx.workspace.load(&stack, &params_for(ctx, &stack, &params)?)?;
            let provider = ctx.provider().await;
            let r = clawform::import::import(&ctx.workspace, &stack, &address, &id, provider.as_ref()).await?;
            println!(
                "{} {address} ({}, id {}) is now managed by stack `{}`. Run `clawform plan` to see how it differs from the stack.",
                ctx.style.green("Import successful!"),
                r.type_name,
                r.id,
                stack.name
            );
            Ok(OK)
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut <Cli as clap::CommandFactory>::command(), "clawform", &mut std::io::stdout());
            Ok(OK)
        }
        Command::Apply { target, auto_approve, refresh, refresh_only, parallelism, params } => {
            if refresh_only {
                return refresh_only_cmd(ctx, &target, auto_approve).await;
            }
            apply_cmd(ctx, &target, auto_approve, refresh, parallelism.into(), &params).await
        }
        Command::Drift { stack, all, json } => drift_cmd(ctx, stack.as_deref(), all, json).await,
        Command::Destroy { stack, auto_approve, parallelism } => destroy_cmd(ctx, &stack, auto_approve, parallelism.into()).await,
        Command::Output { stack, name, json } => output_cmd(ctx, &stack, name.as_deref(), json).await,
        Command::State { command: StateCommand::List { stack } } => state_list(ctx, &stack).await,
        Command::State { command: StateCommand::Pull { stack } } => {
            let state = load_state(ctx, &stack).await?;
            println!("{}", serde_json::to_string_pretty(&state).map_err(|e| Failure(e.to_string()))?);
            Ok(OK)
        }
        Command::State { command: StateCommand::Push { file } } => state_push(ctx, &file).await,
        Command::State { command: StateCommand::Show { stack, address, json } } => state_show(ctx, &stack, &address, json).await,
        Command::Tenant { command } => tenant::run(ctx, command).await,
        Command::Graph { stack, plan, with_plan, format, params } => {
            let source = match (plan.as_deref(), with_plan) {
                (Some(path), _) => graph::PlanSource::File(path),
                (None, true) => graph::PlanSource::Now,
                (None, false) => graph::PlanSource::None,
            };
            graph::graph_cmd(ctx, &stack, source, format, &params).await
        }
        Command::Capacity { tenants, trunking, json, params } => cost::capacity_cmd(ctx, tenants, trunking, json, &params),
        Command::Cost { tenants, prices, trunking, json, params } => cost::cost_cmd(ctx, &tenants, prices.as_deref(), trunking, json, &params),
        Command::ForceUnlock { stack, lock_id, force } => force_unlock_cmd(ctx, &stack, &lock_id, force).await,
    }
}

/// `force-unlock STACK LOCK_ID`: removes the lock with that id, after asking (Terraform's shape).
async fn force_unlock_cmd(ctx: &Ctx, stack: &str, lock_id: &str, force: bool) -> Result<u8, Failure> {
    let name = stack_name(ctx, stack);
    if !force {
        let question = format!(
            "Do you really want to force-unlock stack `{name}` (lock id {lock_id})? Removing the lock of a process still running can corrupt its state."
        );
        if !confirm(ctx, &question, "--force")? {
            return Err(Failure("force-unlock cancelled: the lock was kept".into()));
        }
    }
    match ctx.workspace.backend().force_unlock(&name, lock_id).await.map_err(WorkspaceError::from)? {
        Some(holder) => println!("Lock of stack `{name}` removed (was held by {} for `{}` since {}).", holder.who, holder.operation, holder.created),
        None => println!("Stack `{name}` was not locked."),
    }
    Ok(OK)
}

/// Parses `--param NAME=VALUE` values; VALUE is read as a YAML scalar.
pub(crate) fn parse_params(args: &ParamArgs) -> Result<IndexMap<String, Json>, Failure> {
    let mut out = IndexMap::new();
    for raw in &args.params {
        let Some((name, value)) = raw.split_once('=') else {
            return Err(Failure(format!("`--param {raw}`: expected NAME=VALUE")));
        };
        let value: Json =
            serde_yaml::from_str::<serde_yaml::Value>(value).ok().and_then(|v| serde_json::to_value(v).ok()).unwrap_or_else(|| Json::String(value.to_string()));
        let value = if value.is_null() { Json::String(String::new()) } else { value };
        out.insert(name.trim().to_string(), value);
    }
    Ok(out)
}

/// `--param` values for stack `stack_arg`, refusing sensitive parameters: a secret given on the
/// command line stays in shell history and process lists.
pub(crate) fn params_for(ctx: &Ctx, stack_arg: &str, args: &ParamArgs) -> Result<IndexMap<String, Json>, Failure> {
    let params = parse_params(args)?;
    if params.is_empty() {
        return Ok(params);
    }
    // A stack that does not load is reported by the load that follows, at its line.
    let Ok(stack) = clawform::core::Stack::load_file(&ctx.workspace.stack_path(stack_arg), ctx.workspace.registry()) else { return Ok(params) };
    if let Some(name) = params.keys().find(|n| stack.params.get(*n).is_some_and(|p| p.sensitive)) {
        let how = match name.as_str() {
            "api_key" => "with --api-key-env VAR or --api-key-file FILE".to_string(),
            "gateway_token" => "with --gateway-token-env VAR (or leave it out to have one generated)".to_string(),
            _ => "through a command that reads it from an environment variable or a file (`clawform tenant … --help`)".to_string(),
        };
        return Err(Failure(format!(
            "`--param {name}` is a sensitive parameter: its value never comes from the command line (shell history, process lists); give it {how}"
        )));
    }
    Ok(params)
}

/// The state name of a stack argument: the `stack:` of its file when there is one, else the
/// argument itself (a stack whose file is gone can still be read or destroyed from state).
fn stack_name(ctx: &Ctx, arg: &str) -> String {
    let path = ctx.workspace.stack_path(arg);
    std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| serde_yaml::from_str::<serde_yaml::Value>(&text).ok())
        .and_then(|v| v.get("stack").and_then(|s| s.as_str()).map(str::to_string))
        .unwrap_or_else(|| arg.to_string())
}

fn validate(ctx: &Ctx, stack: &str, params: &ParamArgs) -> Result<u8, Failure> {
    let stack = ctx.workspace.load(stack, &params_for(ctx, stack, params)?)?;
    clawform::core::Graph::build(&stack).map_err(|e| Failure(e.to_string()))?;
    println!("{} The stack `{}` is valid ({} resources).", ctx.style.green("Success!"), stack.name, stack.resources.len());
    Ok(OK)
}

async fn make_plan(
    ctx: &Ctx,
    stack_arg: &str,
    destroy: bool,
    refresh: bool,
    params: &ParamArgs,
) -> Result<(Plan, Option<clawform::core::DriftReport>), Failure> {
    if destroy {
        return Ok((ctx.workspace.plan_destroy(&stack_name(ctx, stack_arg)).await?, None));
    }
    let stack = ctx.workspace.load(stack_arg, &params_for(ctx, stack_arg, params)?)?;
    plan_stack(ctx, &stack, refresh).await
}

/// Plans a loaded stack, refreshed from AWS unless `refresh` is off (a stack never applied has
/// nothing to refresh and costs no AWS call).
async fn plan_stack(ctx: &Ctx, stack: &clawform::Stack, refresh: bool) -> Result<(Plan, Option<clawform::core::DriftReport>), Failure> {
    let applied = ctx.workspace.state(&stack.name).await?.is_some_and(|s| !s.resources.is_empty());
    if refresh && applied {
        let provider = ctx.provider().await;
        let (plan, report) = ctx.workspace.plan_refreshed(stack, provider.as_ref()).await?;
        return Ok((plan, Some(report)));
    }
    Ok((ctx.workspace.plan(stack).await?, None))
}

#[allow(clippy::too_many_arguments)]
async fn plan_cmd(
    ctx: &Ctx,
    stack: &str,
    out: Option<&Path>,
    json: Option<args::JsonFormat>,
    detailed: bool,
    destroy: bool,
    refresh: bool,
    params: &ParamArgs,
) -> Result<u8, Failure> {
    let (plan, drift) = make_plan(ctx, stack, destroy, refresh, params).await?;
    if let Some(format) = json {
        show::print_plan_json(ctx, &plan, drift.as_ref(), format)?;
    } else {
        if let Some(d) = drift.as_ref().filter(|d| d.has_drift()) {
            print!("{}", render::drift_before_plan(d, ctx.style));
        }
        print!("{}", render::plan(&plan, ctx.style));
    }
    if let Some(path) = out {
        Workspace::write_plan(path, &plan)?;
        if json.is_none() {
            println!("\nSaved the plan to {}. To apply exactly it: clawform apply {}", path.display(), path.display());
        }
    }
    Ok(if detailed && plan.has_changes() { CHANGES } else { OK })
}

/// Whether an `apply` argument is a saved plan rather than a stack.
fn is_plan_file(ctx: &Ctx, target: &str) -> Option<PathBuf> {
    if target.ends_with(".yaml") || target.ends_with(".yml") {
        return None;
    }
    let path = if Path::new(target).is_absolute() { PathBuf::from(target) } else { ctx.workspace.root().join(target) };
    path.is_file().then_some(path)
}

/// Asks `question` on the terminal; only `yes` approves. `skip` is the flag that answers it
/// beforehand (`--auto-approve`), named when there is no terminal to ask on. Ctrl-C at the
/// prompt answers at once: the command stops (exit 130) with nothing changed.
pub(crate) fn confirm(ctx: &Ctx, question: &str, skip: &str) -> Result<bool, Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(Failure(format!("refusing to go on without confirmation: there is no terminal to ask on; pass {skip}")));
    }
    println!("\n{}\n  Only 'yes' will be accepted to approve.\n", ctx.style.bold(question));
    print!("  Enter a value: ");
    std::io::stdout().flush()?;
    // The line is read on its own thread so that an interrupt need not wait for Enter.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let read = std::io::stdin().lock().read_line(&mut line).map(|_| line);
        let _ = tx.send(read);
    });
    loop {
        if ctx.stop.load(Ordering::SeqCst) {
            return Err(Failure("interrupted at the prompt: nothing was changed".into()));
        }
        match rx.recv_timeout(std::time::Duration::from_millis(50)) {
            Ok(line) => return Ok(line?.trim() == "yes"),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Ok(false),
        }
    }
}

async fn apply_cmd(ctx: &Ctx, target: &str, auto_approve: bool, refresh: bool, parallelism: usize, params: &ParamArgs) -> Result<u8, Failure> {
    if let Some(path) = is_plan_file(ctx, target) {
        // A saved plan holds the parameter values it was made with; another value now would
        // apply something nobody reviewed (Terraform refuses variables with a saved plan too).
        if !params.params.is_empty() {
            return Err(Failure(format!(
                "`--param` cannot be given with a saved plan: {} was made with its parameter values; run `clawform plan STACK --param … --out FILE` again",
                path.display()
            )));
        }
        // A saved plan was reviewed when it was made: apply exactly it, no question asked.
        let plan = Workspace::read_plan(&path)?;
        return execute(ctx, &plan, parallelism).await;
    }
    let stack = ctx.workspace.load(target, &params_for(ctx, target, params)?)?;
    ctx.workspace.with_lock(&stack.name, "apply", async || plan_confirm_apply(ctx, &stack, auto_approve, refresh, parallelism).await).await
}

async fn destroy_cmd(ctx: &Ctx, stack: &str, auto_approve: bool, parallelism: usize) -> Result<u8, Failure> {
    let name = stack_name(ctx, stack);
    ctx.workspace
        .with_lock(&name, "destroy", async || {
            let plan = ctx.workspace.plan_destroy(&name).await?;
            confirm_and_run(ctx, &plan, auto_approve, parallelism, true).await
        })
        .await
}

async fn plan_confirm_apply(ctx: &Ctx, stack: &clawform::Stack, auto_approve: bool, refresh: bool, parallelism: usize) -> Result<u8, Failure> {
    let (plan, drift) = plan_stack(ctx, stack, refresh).await?;
    if let Some(d) = drift.as_ref().filter(|d| d.has_drift()) {
        print!("{}", render::drift_before_plan(d, ctx.style));
    }
    confirm_and_run(ctx, &plan, auto_approve, parallelism, false).await
}

/// `apply --refresh-only`: shows what AWS has that state does not, and writes it into state
/// once approved (as Terraform asks before a refresh-only apply); AWS is never changed.
async fn refresh_only_cmd(ctx: &Ctx, target: &str, auto_approve: bool) -> Result<u8, Failure> {
    let name = stack_name(ctx, target);
    let provider = ctx.provider().await;
    ctx.workspace
        .with_lock(&name, "apply --refresh-only", async || {
            let report = ctx.workspace.drift(std::slice::from_ref(&name), provider.as_ref()).await?;
            let changed = report.drifted(&name).count();
            print!("{}", render::drift(&report, ctx.style));
            if changed == 0 {
                println!("\nNo changes: the state of stack `{name}` matches AWS; nothing to update.");
                return Ok(OK);
            }
            let question = format!("Would you like to update the state of stack `{name}` to reflect these detected changes?");
            if !auto_approve && !confirm(ctx, &question, "--auto-approve")? {
                return Err(Failure("refresh cancelled: the state was not changed".into()));
            }
            ctx.workspace.accept_report(&name, &report).await?;
            println!("\n{} {changed} resources of stack `{name}` updated in state from AWS; nothing in AWS was changed.", ctx.style.green("Apply complete!"));
            Ok(OK)
        })
        .await
}

async fn drift_cmd(ctx: &Ctx, stack: Option<&str>, all: bool, json: bool) -> Result<u8, Failure> {
    let stacks = match (stack, all) {
        (_, true) => ctx.workspace.backend().list().await.map_err(WorkspaceError::from)?,
        (Some(s), false) => vec![stack_name(ctx, s)],
        (None, false) => return Err(Failure("name a stack, or pass --all".into())),
    };
    let provider = ctx.provider().await;
    let report = ctx.workspace.drift(&stacks, provider.as_ref()).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report).map_err(|e| Failure(e.to_string()))?);
    } else {
        print!("{}", render::drift(&report, ctx.style));
    }
    Ok(if report.has_drift() { CHANGES } else { OK })
}

async fn confirm_and_run(ctx: &Ctx, plan: &Plan, auto_approve: bool, parallelism: usize, destroy: bool) -> Result<u8, Failure> {
    print!("{}", render::plan(plan, ctx.style));
    if !plan.has_changes() {
        return Ok(OK);
    }
    if !auto_approve {
        let question = if destroy {
            format!("Do you really want to destroy all resources of stack `{}`?", plan.stack)
        } else {
            format!("Do you want to perform these actions on stack `{}`?", plan.stack)
        };
        if !confirm(ctx, &question, "--auto-approve")? {
            return Err(Failure("apply cancelled: nothing was changed".into()));
        }
    }
    println!();
    run_plan(ctx, plan, parallelism).await
}

async fn execute(ctx: &Ctx, plan: &Plan, parallelism: usize) -> Result<u8, Failure> {
    ctx.workspace.with_lock(&plan.stack, "apply", async || run_plan(ctx, plan, parallelism).await).await
}

async fn run_plan(ctx: &Ctx, plan: &Plan, parallelism: usize) -> Result<u8, Failure> {
    let provider = ctx.provider().await;
    let mut options = ApplyOptions { parallelism, stop: ctx.stop.clone(), ..Default::default() };
    options.on_event = Some(progress::Progress::for_stdout().sink());
    let result = ctx.workspace.apply_locked(plan, provider, &options).await;
    let report = match result {
        Ok(r) => r,
        Err(WorkspaceError::Engine(e)) => match *e {
            clawform::core::EngineError::Backend { source, report } => {
                return Err(Failure(format!("{source}\n{} operations completed before state could not be saved", report.completed.len())));
            }
            other => return Err(WorkspaceError::from(other).into()),
        },
        Err(e) => return Err(e.into()),
    };
    finish(ctx, plan, &report)
}

fn finish(ctx: &Ctx, plan: &Plan, report: &ApplyReport) -> Result<u8, Failure> {
    let count = |a: clawform::Action| report.completed.iter().filter(|(_, action)| *action == a).count();
    // A replace completes in two steps (delete, then create), each listed once.
    let replaced = count(clawform::Action::Replace) / 2;
    let added = count(clawform::Action::Create) + replaced;
    let changed = count(clawform::Action::Update);
    let destroyed = count(clawform::Action::Delete) + replaced;
    if !report.failures.is_empty() || report.interrupted {
        let mut message = String::new();
        for f in &report.failures {
            message.push_str(&format!("{}: {}\n", f.address, f.message));
        }
        if report.failures.is_empty() {
            message.push_str(if report.stopped { "apply interrupted by Ctrl-C\n" } else { "apply interrupted\n" });
        }
        if !report.not_done.is_empty() {
            let list: Vec<String> = report.not_done.iter().map(|(address, action)| format!("{address} ({})", format!("{action:?}").to_lowercase())).collect();
            message.push_str(&format!("not done: {}\n", list.join(", ")));
        }
        message.push_str(&format!(
            "state of stack `{}` saved with what completed ({added} added, {changed} changed, {destroyed} destroyed); run apply again to finish",
            plan.stack
        ));
        return Err(Failure(message));
    }
    let (done, resources) = progress::summary(plan.destroy, added, changed, destroyed);
    println!("\n{} {resources}", ctx.style.green(&done));
    if !report.state.outputs.is_empty() {
        println!("\nOutputs:\n");
        for (k, v) in &report.state.outputs {
            println!("{k} = {}", show(v));
        }
    }
    Ok(OK)
}

fn show(v: &Json) -> String {
    match v {
        Json::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

async fn load_state(ctx: &Ctx, stack: &str) -> Result<clawform::State, Failure> {
    let name = stack_name(ctx, stack);
    match ctx.workspace.state(&name).await? {
        Some(state) => Ok(state),
        None => Err(ctx.workspace.no_state(&name).await.into()),
    }
}

async fn output_cmd(ctx: &Ctx, stack: &str, name: Option<&str>, json: bool) -> Result<u8, Failure> {
    let state = load_state(ctx, stack).await?;
    match name {
        Some(n) => {
            let v = state.outputs.get(n).ok_or_else(|| {
                Failure(format!("stack `{}` has no output `{n}`; outputs: {}", state.stack, state.outputs.keys().cloned().collect::<Vec<_>>().join(", ")))
            })?;
            match (json, v) {
                (false, Json::String(s)) => println!("{s}"),
                _ => println!("{v}"),
            }
        }
        None if json => println!("{}", serde_json::to_string_pretty(&state.outputs).map_err(|e| Failure(e.to_string()))?),
        None => {
            for (k, v) in &state.outputs {
                println!("{k} = {}", show(v));
            }
        }
    }
    Ok(OK)
}

/// The state backend named by `--backend`: `s3://BUCKET/PREFIX`, or a folder.
async fn backend_from(url: &str, root: &Path, region: Option<String>) -> Result<Arc<dyn clawform::core::StateBackend>, String> {
    if url.starts_with("s3://") {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(r) = region {
            loader = loader.region(aws_config::Region::new(r));
        }
        let config = loader.load().await;
        let backend = clawform::aws::s3_backend::S3Backend::from_url(url, &config).map_err(|e| e.to_string())?;
        return Ok(Arc::new(backend));
    }
    let dir = Path::new(url.strip_prefix("file://").unwrap_or(url));
    let dir = if dir.is_absolute() { dir.to_path_buf() } else { root.join(dir) };
    Ok(Arc::new(clawform::core::LocalBackend::new(dir)))
}

async fn state_push(ctx: &Ctx, file: &Path) -> Result<u8, Failure> {
    let text = if file == Path::new("-") {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        s
    } else {
        std::fs::read_to_string(file).map_err(|e| Failure(format!("cannot read {}: {e}", file.display())))?
    };
    let state = clawform::core::backend::parse_state(&text, &file.display().to_string()).map_err(WorkspaceError::from)?;
    ctx.workspace.with_lock(&state.stack, "state push", async || ctx.workspace.backend().save(&state).await.map_err(WorkspaceError::from)).await?;
    println!("Pushed state of stack `{}` (serial {}, {} resources).", state.stack, state.serial, state.resources.len());
    Ok(OK)
}

async fn state_list(ctx: &Ctx, stack: &str) -> Result<u8, Failure> {
    let state = load_state(ctx, stack).await?;
    for r in &state.resources {
        println!("{}", r.address);
    }
    Ok(OK)
}

async fn state_show(ctx: &Ctx, stack: &str, address: &str, json: bool) -> Result<u8, Failure> {
    let state = load_state(ctx, stack).await?;
    let r = state
        .get(address)
        .ok_or_else(|| Failure(format!("stack `{}` has no resource `{address}` in state; `clawform state list {stack}` lists them", state.stack)))?;
    if json {
        println!("{}", serde_json::to_string_pretty(r).map_err(|e| Failure(e.to_string()))?);
        return Ok(OK);
    }
    println!("# {} ({}):", r.address, r.type_name);
    println!("resource \"{}\" \"{}\" {{", r.type_name, r.address);
    if let Json::Object(m) = &r.attributes {
        let width = m.keys().map(|k| k.len()).max().unwrap_or(0);
        for (k, v) in m {
            println!("    {k:<width$} = {}", show(v));
        }
    }
    println!("}}");
    if !r.dependencies.is_empty() {
        println!("# depends on: {}", r.dependencies.join(", "));
    }
    Ok(OK)
}
