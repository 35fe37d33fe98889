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

/// Everything but clawform at warn, except the SDK's instance-metadata probe: off EC2 (a laptop,
/// CI) it fails on every run where no region is configured and logs each failure as a warning
/// with a 1,500-character debug dump; clawform says what is missing in one sentence instead.
const SDK_LEVELS: &str = "warn,aws_config::imds=error";

/// Sends tracing output to stderr: clawform's crates at `level` and everything else (the AWS
/// SDK, hyper) at warn, so that `--log-level debug` shows clawform's spans and not SDK noise;
/// RUST_LOG, when set and no `--log-level` is given, is the whole filter. Colour only on a
/// terminal, and never with `--no-color` or NO_COLOR.
pub fn init_tracing(level: Option<&str>, no_color: bool) {
    let filter = match level {
        Some(l) => tracing_subscriber::EnvFilter::new(format!("{SDK_LEVELS},clawform={l},clawform_core={l},clawform_aws={l}")),
        None => tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(SDK_LEVELS)),
    };
    let ansi = !no_color && std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal();
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).try_init();
}

/// The `format_version` of every JSON document a command prints with `--json` (besides plans,
/// which follow Terraform's, and `validate`/`output`, which follow theirs): a consumer such as
/// the web app checks it. The documents are described in the README ("JSON outputs").
pub(crate) const JSON_FORMAT_VERSION: &str = "1.0";

/// Prints `value` (an object) as indented JSON with `format_version` as its first key.
pub(crate) fn print_versioned(value: impl serde::Serialize) -> Result<(), Failure> {
    let value = serde_json::to_value(value).map_err(|e| Failure(e.to_string()))?;
    let mut doc = serde_json::Map::new();
    doc.insert("format_version".into(), Json::String(JSON_FORMAT_VERSION.into()));
    match value {
        Json::Object(m) => doc.extend(m),
        other => {
            doc.insert("value".into(), other);
        }
    }
    println!("{}", serde_json::to_string_pretty(&doc).map_err(|e| Failure(e.to_string()))?);
    Ok(())
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
    aws: clawform::aws::AwsSettings,
    style: Style,
    provider: tokio::sync::OnceCell<Arc<clawform::aws::AwsProvider>>,
    /// Set by the first Ctrl-C: applies start nothing new (see `main.rs`).
    pub(crate) stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Ctx {
    /// The AWS provider, made on first use (commands that need no AWS never load a config).
    pub(crate) async fn aws(&self) -> Result<Arc<clawform::aws::AwsProvider>, Failure> {
        self.provider
            .get_or_try_init(|| async { clawform::aws::AwsProvider::load(&self.aws).await.map(Arc::new) })
            .await
            .cloned()
            .map_err(|e| Failure(e.to_string()))
    }

    /// The provider as core sees it.
    pub(crate) async fn provider(&self) -> Result<Arc<dyn clawform::core::Provider>, Failure> {
        Ok(self.aws().await?)
    }
}

/// Runs a parsed command line; returns the exit code. `stop` is set on Ctrl-C.
pub async fn run(cli: Cli, stop: Arc<std::sync::atomic::AtomicBool>) -> u8 {
    let root = cli.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let color = !cli.no_color && std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal();
    let aws = clawform::aws::AwsSettings { region: cli.region.clone(), profile: cli.profile.clone(), endpoint_url: cli.endpoint_url.clone() };
    let mut workspace =
        Workspace::open(&root).with_lock_timeout(std::time::Duration::from_secs(cli.lock_timeout)).with_dependents_allowed(cli.ignore_dependents);
    if let Some(url) = cli.backend.as_deref().filter(|u| !u.is_empty()) {
        match backend_from(url, &root, &aws).await {
            Ok(b) => workspace = workspace.with_backend(b),
            Err(e) => {
                eprintln!("Error: {e}");
                return ERROR;
            }
        }
    }
    let ctx = Ctx { workspace, aws, style: Style { color }, provider: Default::default(), stop };
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
        Command::Validate { stack, json, params } => validate(ctx, &stack, json, &params),
        Command::Version { json } => version_cmd(json),
        Command::Plan { stack, out, json, json_format, compact, detailed_exitcode, destroy, refresh, lock, targeting, params } => {
            let request = PlanRequest { stack: &stack, destroy, refresh, targeting: &targeting, params: &params };
            let json = json.then_some(show::JsonOut { format: json_format, compact });
            let run = async || plan_cmd(ctx, &request, out.as_deref(), json, detailed_exitcode).await;
            // A file that names no stack (it does not parse) has no lock to take: the load
            // that follows reports it at its line.
            let name = stack_name(ctx, &stack);
            let named = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if lock && named {
                ctx.workspace.with_lock(&name, "plan", run).await
            } else {
                run().await
            }
        }
        Command::Show { planfile, json, json_format, compact } => {
            show::show_cmd(ctx, &planfile, json.then_some(show::JsonOut { format: json_format, compact }))
        }
        Command::Import { stack, address, id, params } => {
            let stack = ctx.workspace.load(&stack, &params_for(ctx, &stack, &params)?)?;
            let address = stack.address_of(&address).unwrap_or(address);
            let provider = ctx.provider().await?;
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
        Command::Apply { target, auto_approve, refresh, refresh_only, parallelism, targeting, params } => {
            if refresh_only {
                return refresh_only_cmd(ctx, &target, auto_approve).await;
            }
            let request = PlanRequest { stack: &target, destroy: false, refresh, targeting: &targeting, params: &params };
            apply_cmd(ctx, &request, auto_approve, parallelism.into()).await
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
        Command::State { command: StateCommand::Mv { stack, from, to } } => state_mv(ctx, &stack, &from, &to).await,
        Command::State { command: StateCommand::Rm { stack, addresses } } => state_rm(ctx, &stack, &addresses).await,
        Command::Tenant { command } => tenant::run(ctx, command).await,
        Command::Graph { stack, plan, with_plan, format, params } => {
            let source = match (plan.as_deref(), with_plan) {
                (Some(path), _) => graph::PlanSource::File(path),
                (None, true) => graph::PlanSource::Now,
                (None, false) => graph::PlanSource::None,
            };
            graph::graph_cmd(ctx, &stack, source, format, &params).await
        }
        Command::Capacity { tenants, trunking, json, params } => cost::capacity_cmd(ctx, tenants, trunking, json, &params).await,
        Command::Cost { tenants, prices, trunking, json, params } => cost::cost_cmd(ctx, &tenants, prices.as_deref(), trunking, json, &params).await,
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

/// Parses `--params-file` files, then `--param NAME=VALUE` values (VALUE is read as a YAML
/// scalar); later ones win. Relative files are read from the project folder (`-C DIR`).
pub(crate) fn parse_params(ctx: &Ctx, args: &ParamArgs) -> Result<IndexMap<String, Json>, Failure> {
    let mut out = IndexMap::new();
    for file in &args.files {
        let path = if file.is_absolute() { file.clone() } else { ctx.workspace.root().join(file) };
        out.extend(read_params_file(&path)?);
    }
    for raw in &args.params {
        let Some((name, value)) = raw.split_once('=') else {
            return Err(Failure(format!("`--param {raw}`: expected NAME=VALUE")));
        };
        out.insert(name.trim().to_string(), yaml_scalar(value));
    }
    Ok(out)
}

fn yaml_scalar(text: &str) -> Json {
    let value: Json =
        serde_yaml::from_str::<serde_yaml::Value>(text).ok().and_then(|v| serde_json::to_value(v).ok()).unwrap_or_else(|| Json::String(text.to_string()));
    if value.is_null() {
        Json::String(String::new())
    } else {
        value
    }
}

/// A parameters file: a YAML mapping of names to values. Errors name the file, line and column.
fn read_params_file(path: &Path) -> Result<IndexMap<String, Json>, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| Failure(format!("cannot read the parameters file {}: {e}", path.display())))?;
    if text.trim().is_empty() {
        return Ok(IndexMap::new());
    }
    let at =
        |e: &serde_yaml::Error| e.location().map(|l| format!("{}:{}:{}", path.display(), l.line(), l.column())).unwrap_or_else(|| path.display().to_string());
    let value: serde_yaml::Value = serde_yaml::from_str(&text).map_err(|e| Failure(format!("{}: {e}", at(&e))))?;
    let serde_yaml::Value::Mapping(map) = value else {
        return Err(Failure(format!("{}:1:1: expected a mapping of parameter names to values (`name: staging`)", path.display())));
    };
    let mut out = IndexMap::new();
    for (key, value) in map {
        let Some(name) = key.as_str() else {
            return Err(Failure(format!("{}: expected parameter names as keys, found {key:?}", path.display())));
        };
        let value = serde_json::to_value(&value).map_err(|e| Failure(format!("{}: `{name}`: {e}", path.display())))?;
        out.insert(name.to_string(), value);
    }
    Ok(out)
}

/// `CLAWFORM_PARAM_NAME` values for the parameters `declared` (as `TF_VAR_NAME`: others are
/// ignored, so one environment serves several stacks).
fn env_params(declared: &IndexMap<String, clawform::core::stack::ParamSpec>) -> IndexMap<String, Json> {
    std::env::vars()
        .filter_map(|(k, v)| k.strip_prefix("CLAWFORM_PARAM_").map(|name| (name.to_string(), v)))
        .filter(|(name, _)| declared.contains_key(name))
        .map(|(name, v)| (name, yaml_scalar(&v)))
        .collect()
}

/// `--param` values for stack `stack_arg`, refusing sensitive parameters: a secret given on the
/// command line stays in shell history and process lists.
pub(crate) fn params_for(ctx: &Ctx, stack_arg: &str, args: &ParamArgs) -> Result<IndexMap<String, Json>, Failure> {
    let given = parse_params(ctx, args)?;
    // A stack that does not load is reported by the load that follows, at its line.
    let Ok(stack) = clawform::core::Stack::load_file(&ctx.workspace.stack_path(stack_arg), ctx.workspace.registry()) else { return Ok(given) };
    let on_argv = args.params.iter().filter_map(|raw| raw.split_once('=').map(|(n, _)| n.trim().to_string()));
    if let Some(name) = on_argv.into_iter().find(|n| stack.params.get(n).is_some_and(|p| p.sensitive)) {
        let how = match name.as_str() {
            "api_key" => "with --api-key-env VAR or --api-key-file FILE".to_string(),
            "gateway_token" => "with --gateway-token-env VAR (or leave it out to have one generated)".to_string(),
            _ => format!("in CLAWFORM_PARAM_{name} or a --params-file"),
        };
        return Err(Failure(format!(
            "`--param {name}` is a sensitive parameter: its value never comes from the command line (shell history, process lists); give it {how}"
        )));
    }
    let mut params = env_params(&stack.params);
    params.extend(given);
    Ok(params)
}

/// Loads a stack with its parameters and `--target`/`--replace`, whose addresses must be the
/// stack's (either spelling: `vpc`, `aws_vpc.vpc`).
async fn load_targeted(ctx: &Ctx, stack_arg: &str, params: &ParamArgs, targeting: &args::Targeting) -> Result<clawform::Stack, Failure> {
    let mut stack = ctx.workspace.load(stack_arg, &params_for(ctx, stack_arg, params)?)?;
    let resolve = |given: &String, flag: &str| {
        stack.address_of(given).ok_or_else(|| {
            let hint = clawform::core::suggest::did_you_mean(given, stack.resources.keys().map(String::as_str))
                .map(|s| format!(" Did you mean `{s}`?"))
                .unwrap_or_default();
            Failure(format!("`{flag} {given}`: stack `{}` declares no resource `{given}`.{hint}", stack.name))
        })
    };
    let targets = targeting.targets.iter().map(|t| resolve(t, "--target")).collect::<Result<_, _>>()?;
    let replace = targeting.replace.iter().map(|t| resolve(t, "--replace")).collect::<Result<_, _>>()?;
    stack.targets = targets;
    stack.replace = replace;
    if let Some(region) = show::region(ctx) {
        stack.check_zones_in(&region).map_err(|e| Failure(e.to_string()))?;
    }
    note_recorded_params(ctx, &stack).await;
    Ok(stack)
}

/// Says on stderr which parameter values come from state (an earlier `--param`) rather than
/// from this command line or the stack file: a sticky value should never surprise.
async fn note_recorded_params(ctx: &Ctx, stack: &clawform::Stack) {
    let Ok(Some(state)) = ctx.workspace.state(&stack.name).await else { return };
    for (name, value) in &state.param_overrides {
        let declared = stack.params.get(name).is_some_and(|p| !p.sensitive);
        if declared && !stack.param_overrides.contains_key(name) {
            let shown = match value {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            eprintln!(
                "Note: using {name}={shown} recorded in the state of stack `{}` (from an earlier --param); pass --param {name}=… to change it.",
                stack.name
            );
        }
    }
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

fn validate(ctx: &Ctx, stack: &str, json: bool, params: &ParamArgs) -> Result<u8, Failure> {
    let loaded = params_for(ctx, stack, params).and_then(|p| Ok(ctx.workspace.load(stack, &p)?));
    let checked = loaded.and_then(|s| clawform::core::Graph::build(&s).map(|_| s).map_err(|e| Failure(e.to_string())));
    if json {
        return validate_json(ctx, stack, checked);
    }
    let stack = checked?;
    println!("{} The stack `{}` is valid ({} resources).", ctx.style.green("Success!"), stack.name, stack.resources.len());
    Ok(OK)
}

/// `validate --json` in the shape of `terraform validate -json` (format_version 1.0): `valid`,
/// counts, and one diagnostic per problem with its file, line and column. Exit 1 when invalid.
fn validate_json(ctx: &Ctx, stack_arg: &str, checked: Result<clawform::Stack, Failure>) -> Result<u8, Failure> {
    let diagnostics: Vec<Json> = match &checked {
        Ok(_) => vec![],
        Err(Failure(message)) => {
            // The load's own diagnostics, each at its place, when there are some; else one.
            let load = ctx.workspace.load(stack_arg, &IndexMap::new());
            let located = match (&load, message.lines().count() > 0) {
                (Err(WorkspaceError::Stack(e)), true) if !e.diagnostics().is_empty() => e
                    .diagnostics()
                    .iter()
                    .map(|d| {
                        serde_json::json!({
                            "severity": "error",
                            "summary": d.message,
                            "detail": "",
                            "range": {
                                "filename": d.location.file.as_ref().map(|f| f.display().to_string()),
                                "start": {"line": d.location.line, "column": d.location.column},
                                "end": {"line": d.location.line, "column": d.location.column},
                            },
                        })
                    })
                    .collect(),
                _ => vec![],
            };
            if located.is_empty() {
                vec![serde_json::json!({"severity": "error", "summary": message, "detail": ""})]
            } else {
                located
            }
        }
    };
    let valid = checked.is_ok();
    let out = serde_json::json!({
        "format_version": "1.0",
        "valid": valid,
        "error_count": diagnostics.len(),
        "warning_count": 0,
        "diagnostics": diagnostics,
    });
    println!("{}", serde_json::to_string_pretty(&out).map_err(|e| Failure(e.to_string()))?);
    Ok(if valid { OK } else { ERROR })
}

/// `version`: clawform's version, and with `--json` the formats it writes, as
/// `terraform version -json` names its own.
fn version_cmd(json: bool) -> Result<u8, Failure> {
    let version = env!("CARGO_PKG_VERSION");
    if !json {
        println!("clawform v{version}");
        return Ok(OK);
    }
    let out = serde_json::json!({
        "clawform_version": version,
        "platform": format!("{}_{}", std::env::consts::OS, std::env::consts::ARCH),
        "plan_format_version": clawform::core::plan::PLAN_FORMAT_VERSION,
        "state_format_version": clawform::core::state::STATE_FORMAT_VERSION,
        "terraform_plan_format_version": clawform::core::tfjson::FORMAT_VERSION,
    });
    println!("{}", serde_json::to_string_pretty(&out).map_err(|e| Failure(e.to_string()))?);
    Ok(OK)
}

/// What to plan: the stack, destroy or not, refreshed or not, targets and parameters.
struct PlanRequest<'a> {
    stack: &'a str,
    destroy: bool,
    refresh: bool,
    targeting: &'a args::Targeting,
    params: &'a ParamArgs,
}

async fn make_plan(ctx: &Ctx, request: &PlanRequest<'_>) -> Result<(Plan, Option<clawform::core::DriftReport>), Failure> {
    if request.destroy {
        return Ok((ctx.workspace.plan_destroy(&stack_name(ctx, request.stack)).await?, None));
    }
    let stack = load_targeted(ctx, request.stack, request.params, request.targeting).await?;
    plan_stack(ctx, &stack, request.refresh).await
}

/// Plans a loaded stack, refreshed from AWS unless `refresh` is off (a stack never applied has
/// nothing to refresh and costs no AWS call).
async fn plan_stack(ctx: &Ctx, stack: &clawform::Stack, refresh: bool) -> Result<(Plan, Option<clawform::core::DriftReport>), Failure> {
    let applied = ctx.workspace.state(&stack.name).await?.is_some_and(|s| !s.resources.is_empty());
    if refresh && applied {
        let provider = ctx.provider().await?;
        let (plan, report) = ctx.workspace.plan_refreshed(stack, provider.as_ref()).await?;
        return Ok((plan, Some(report)));
    }
    Ok((ctx.workspace.plan(stack).await?, None))
}

async fn plan_cmd(ctx: &Ctx, request: &PlanRequest<'_>, out: Option<&Path>, json: Option<show::JsonOut>, detailed: bool) -> Result<u8, Failure> {
    let (plan, drift) = make_plan(ctx, request).await?;
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

async fn apply_cmd(ctx: &Ctx, request: &PlanRequest<'_>, auto_approve: bool, parallelism: usize) -> Result<u8, Failure> {
    if let Some(path) = is_plan_file(ctx, request.stack) {
        // A saved plan holds the parameter values it was made with; another value now would
        // apply something nobody reviewed (Terraform refuses variables with a saved plan too).
        if !request.params.params.is_empty() || !request.params.files.is_empty() {
            return Err(Failure(format!(
                "`--param` and `--params-file` cannot be given with a saved plan: {} was made with its parameter values; run `clawform plan STACK --param … --out FILE` again",
                path.display()
            )));
        }
        if !request.targeting.targets.is_empty() || !request.targeting.replace.is_empty() {
            return Err(Failure(format!(
                "`--target` and `--replace` cannot be given with a saved plan: {} already says what it changes; give them to `clawform plan` instead",
                path.display()
            )));
        }
        // A saved plan was reviewed when it was made: apply exactly it, no question asked.
        let plan = Workspace::read_plan(&path)?;
        return execute(ctx, &plan, parallelism).await;
    }
    let stack = load_targeted(ctx, request.stack, request.params, request.targeting).await?;
    ctx.workspace.with_lock(&stack.name, "apply", async || plan_confirm_apply(ctx, &stack, auto_approve, request.refresh, parallelism).await).await
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
    let provider = ctx.provider().await?;
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
    let provider = ctx.provider().await?;
    let report = ctx.workspace.drift(&stacks, provider.as_ref()).await?;
    if json {
        print_versioned(&report)?;
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
    if !plan.needs_secrets.is_empty() {
        return Err(Failure(format!(
            "{} must be created from secret parameters whose values were not given ({}); tenants take them with `clawform tenant create ID --api-key-env VAR`. Nothing was changed",
            plan.needs_secrets.join(", "),
            plan.sensitive_params.join(", ")
        )));
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
    let provider = ctx.provider().await?;
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

/// A value's type as Terraform's JSON writes it: `"string"`, `["tuple", […]]`, `["object", {…}]`.
fn terraform_type(value: &Json) -> Json {
    match value {
        Json::String(_) => "string".into(),
        Json::Number(_) => "number".into(),
        Json::Bool(_) => "bool".into(),
        Json::Null => "dynamic".into(),
        Json::Array(items) => serde_json::json!(["tuple", items.iter().map(terraform_type).collect::<Vec<_>>()]),
        Json::Object(map) => serde_json::json!(["object", map.iter().map(|(k, v)| (k.clone(), terraform_type(v))).collect::<serde_json::Map<_, _>>()]),
    }
}

/// An address as given by a user (`vpc` or Terraform's `aws_vpc.vpc`), as state spells it.
fn state_address(ctx: &Ctx, state: &clawform::State, given: &str) -> String {
    if state.get(given).is_some() {
        return given.to_string();
    }
    clawform::core::stack::without_type_prefix(given, |t| ctx.workspace.registry().get(t).is_some()).to_string()
}

/// `state mv STACK FROM TO`: renames a resource in state (and in what depends on it).
async fn state_mv(ctx: &Ctx, stack: &str, from: &str, to: &str) -> Result<u8, Failure> {
    let name = stack_name(ctx, stack);
    ctx.workspace
        .with_lock(&name, "state mv", async || {
            let mut state = load_state(ctx, stack).await?;
            let (from, to) = (state_address(ctx, &state, from), state_address(ctx, &state, to));
            if state.get(&from).is_none() {
                let hint = clawform::core::suggest::did_you_mean(&from, state.resources.iter().map(|r| r.address.as_str()))
                    .map(|s| format!(" Did you mean `{s}`?"))
                    .unwrap_or_default();
                return Err(Failure(format!("stack `{name}` has no resource `{from}` in state.{hint}")));
            }
            if state.get(&to).is_some() {
                return Err(Failure(format!("stack `{name}` already has a resource `{to}` in state; `clawform state rm {name} {to}` forgets it first")));
            }
            for r in &mut state.resources {
                if r.address == from {
                    r.address = to.clone();
                }
                for d in &mut r.dependencies {
                    if *d == from {
                        *d = to.clone();
                    }
                }
            }
            state.serial += 1;
            ctx.workspace.backend().save(&state).await.map_err(WorkspaceError::from)?;
            println!("Moved {from} to {to} in the state of stack `{name}` (serial {}). Nothing in AWS was changed.", state.serial);
            Ok(OK)
        })
        .await
}

/// `state rm STACK ADDRESS…`: forgets resources; they keep running in AWS, unmanaged.
async fn state_rm(ctx: &Ctx, stack: &str, addresses: &[String]) -> Result<u8, Failure> {
    let name = stack_name(ctx, stack);
    ctx.workspace
        .with_lock(&name, "state rm", async || {
            let mut state = load_state(ctx, stack).await?;
            let addresses: Vec<String> = addresses.iter().map(|a| state_address(ctx, &state, a)).collect();
            if let Some(missing) = addresses.iter().find(|a| state.get(a).is_none()) {
                return Err(Failure(format!("stack `{name}` has no resource `{missing}` in state; nothing was removed")));
            }
            let mut forgotten = vec![];
            for address in &addresses {
                if let Some(r) = state.get(address) {
                    forgotten.push(format!("{address} ({} {})", r.type_name, r.id));
                }
                state.remove(address);
            }
            state.serial += 1;
            ctx.workspace.backend().save(&state).await.map_err(WorkspaceError::from)?;
            for f in &forgotten {
                println!("Removed {f}");
            }
            println!(
                "Forgot {} resource(s) of stack `{name}` (serial {}). They still exist in AWS, unmanaged: `clawform import` takes one back, and `clawform drift {name}` lists what carries the stack's tags.",
                forgotten.len(),
                state.serial
            );
            Ok(OK)
        })
        .await
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
        None if json => {
            // `terraform output -json`: each output with its value, type and sensitivity (no
            // output holds a secret: those are never stored).
            let shaped: serde_json::Map<String, Json> =
                state.outputs.iter().map(|(k, v)| (k.clone(), serde_json::json!({"sensitive": false, "type": terraform_type(v), "value": v}))).collect();
            println!("{}", serde_json::to_string_pretty(&shaped).map_err(|e| Failure(e.to_string()))?)
        }
        None => {
            for (k, v) in &state.outputs {
                println!("{k} = {}", show(v));
            }
        }
    }
    Ok(OK)
}

/// The state backend named by `--backend`: `s3://BUCKET/PREFIX`, or a folder.
async fn backend_from(url: &str, root: &Path, settings: &clawform::aws::AwsSettings) -> Result<Arc<dyn clawform::core::StateBackend>, String> {
    if url.starts_with("s3://") {
        let config = settings.sdk_config().await.map_err(|e| e.to_string())?;
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
    let mut addresses: Vec<&str> = state.resources.iter().map(|r| r.address.as_str()).collect();
    addresses.sort_unstable();
    for address in addresses {
        println!("{address}");
    }
    Ok(OK)
}

async fn state_show(ctx: &Ctx, stack: &str, address: &str, json: bool) -> Result<u8, Failure> {
    let state = load_state(ctx, stack).await?;
    let address = &state_address(ctx, &state, address);
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
