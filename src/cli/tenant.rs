//! `clawform tenant …`: reads secrets from where the user points, calls [`clawform::Tenants`],
//! renders. Secret values are never printed, not even in errors.

use std::io::{IsTerminal, Write};

use clawform::core::engine::ApplyOptions;
use clawform::WorkspaceError;
use clawform::{TenantInfo, TenantSecrets, Tenants};
use serde_json::Value as Json;

use super::args::{ParamArgs, SecretArgs, TaskSizeArgs, TenantCommand};
use super::{confirm, params_for, render, Ctx, Failure, CHANGES, OK};

mod lifecycle;

fn read_secret(what: &str, env: Option<&str>, file: Option<&std::path::Path>) -> Result<Option<String>, Failure> {
    let value = match (env, file) {
        (Some(var), _) => Some(std::env::var(var).map_err(|_| Failure(format!("{what}: environment variable `{var}` is not set")))?),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|e| Failure(format!("{what}: cannot read {}: {e}", path.display())))?;
            Some(text.trim_end_matches(['\n', '\r']).to_string())
        }
        (None, None) => None,
    };
    if let Some(v) = &value {
        // The value goes into a JSON document in Secrets Manager; say what is wrong, never what it is.
        if v.is_empty() {
            return Err(Failure(format!("{what} is empty")));
        }
        if v.chars().any(|c| c == '"' || c == '\\' || c.is_control()) {
            return Err(Failure(format!("{what} contains a quote, backslash or control character; expected a plain token")));
        }
    }
    Ok(value)
}

fn secrets(args: &SecretArgs) -> Result<TenantSecrets, Failure> {
    Ok(TenantSecrets {
        api_key: read_secret("the API key", args.api_key_env.as_deref(), args.api_key_file.as_deref())?,
        gateway_token: read_secret("the gateway token", args.gateway_token_env.as_deref(), None)?,
    })
}

fn print_info(info: &TenantInfo, json: bool) -> Result<(), Failure> {
    if json {
        super::print_versioned(info)?;
        return Ok(());
    }
    println!("tenant {}  (stack {})", info.id, info.stack);
    if let Some(url) = &info.url {
        println!("  url      = {url}");
    }
    if let Some(s) = &info.shard {
        println!("  shard    = {s}");
    }
    if let Some(p) = &info.priority {
        println!("  priority = {p}");
    }
    println!("  suspended = {}", info.suspended);
    for (k, v) in &info.outputs {
        if !matches!(k.as_str(), "url" | "shard") {
            println!("  {k} = {}", v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()));
        }
    }
    Ok(())
}

/// `tenant plan --all --refresh=false`: every tenant planned against its state, no AWS call.
async fn plan_all_offline(ctx: &Ctx, detailed_exitcode: bool, params: &ParamArgs) -> Result<u8, Failure> {
    // Printed as each is made: thousands of plans are never held at once. Buffered:
    // `println!` writes each line on its own (a system call each).
    let mut out = std::io::BufWriter::new(std::io::stdout());
    let cannot_print = |e: std::io::Error| Failure(format!("cannot print the plans: {e}"));
    let (mut total, mut changed) = (0, 0);
    clawform::tenants::plan_all_offline_each(&ctx.workspace, &params_for(ctx, clawform::tenants::TEMPLATE, params)?, |id, plan| {
        let text = format!("{}\n{}\n", ctx.style.bold(&format!("== tenant {id}")), render::plan(&plan, ctx.style));
        out.write_all(text.as_bytes()).map_err(|e| WorkspaceError::Tenant(format!("cannot print the plans: {e}")))?;
        total += 1;
        changed += usize::from(plan.has_changes());
        Ok(())
    })
    .await?;
    writeln!(out, "{changed} of {total} tenants have changes.").and_then(|()| out.flush()).map_err(cannot_print)?;
    Ok(if detailed_exitcode && changed > 0 { CHANGES } else { OK })
}

fn progress(ctx: &Ctx, json: bool) -> ApplyOptions {
    let mut options = ApplyOptions { stop: ctx.stop.clone(), ..ApplyOptions::default() };
    // Live lines of the operations in flight on a terminal, as `apply` shows them; with --json
    // stdout holds only the document.
    if !json {
        options.on_event = Some(super::progress::Progress::for_stdout().sink());
    }
    options
}

pub(super) async fn run(ctx: &Ctx, command: TenantCommand) -> Result<u8, Failure> {
    // An offline plan of every tenant makes no AWS call: it loads no AWS configuration (which
    // may ask instance metadata for a region, and builds a client per service).
    let command = match command {
        TenantCommand::Plan { id: None, detailed_exitcode, json: false, params, refresh: false, .. } => {
            return plan_all_offline(ctx, detailed_exitcode, &params).await
        }
        other => other,
    };
    let provider = ctx.provider().await?;
    let tenants = Tenants::new(ctx.workspace.clone(), provider).with_aws(ctx.aws().await?);
    match command {
        TenantCommand::Create { id, secrets, json, size, params } => create(ctx, &tenants, &id, &secrets, json, &size, &params).await,
        TenantCommand::Destroy { id, auto_approve, json } => destroy(ctx, &tenants, &id, auto_approve, json).await,
        TenantCommand::List { json } => list(&tenants, json).await,
        TenantCommand::Show { id, json } => {
            let info = tenants.show(&id).await?;
            print_info(&info, json)?;
            Ok(OK)
        }
        TenantCommand::Plan { id: Some(id), detailed_exitcode, json, compact, params, secrets, size, .. } => {
            let json = json.then_some(super::show::JsonOut { format: super::args::JsonFormat::Terraform, compact });
            plan_one(ctx, &tenants, &id, detailed_exitcode, json, &with_size(params_for(ctx, clawform::tenants::TEMPLATE, &params)?, &size), &secrets).await
        }
        TenantCommand::Plan { detailed_exitcode, json, params, refresh, .. } => plan_all(ctx, &tenants, detailed_exitcode, json, &params, refresh).await,
        TenantCommand::Apply { all: _, auto_approve, parallelism, params } => apply_all(ctx, &tenants, auto_approve, parallelism, &params).await,
        TenantCommand::Status { id, all: _, json, wait, timeout } => lifecycle::status(ctx, &tenants, id.as_deref(), json, wait, &timeout).await,
        TenantCommand::Suspend { id, json } => lifecycle::suspend(ctx, &tenants, &id, true, json).await,
        TenantCommand::Resume { id, json } => lifecycle::suspend(ctx, &tenants, &id, false, json).await,
        TenantCommand::Restart { id, json } => lifecycle::restart(ctx, &tenants, &id, json).await,
        TenantCommand::RotateKey { id, secrets, json } => lifecycle::rotate_key(ctx, &tenants, &id, &secrets, json).await,
        TenantCommand::Logs { id, since, follow, json } => lifecycle::logs(ctx, &tenants, &id, &since, follow, json).await,
    }
}

/// `tenant create ID`: applies the template for one tenant, printing its URL and ARNs.
async fn create(ctx: &Ctx, tenants: &Tenants, id: &str, secret_args: &SecretArgs, json: bool, size: &TaskSizeArgs, params: &ParamArgs) -> Result<u8, Failure> {
    let id = id.to_string();
    clawform::tenants::validate_tenant_id(&id).map_err(|e| Failure(e.to_string()))?;
    let secrets = secrets(secret_args)?;
    let params = with_size(params_for(ctx, clawform::tenants::TEMPLATE, params)?, size);
    let info = tenants.create(&id, &params, &secrets, &progress(ctx, json)).await?;
    if !json {
        println!("\n{} Tenant `{id}` is ready.\n", ctx.style.green("Apply complete!"));
    }
    for w in &info.warnings {
        eprintln!("{} {w}", ctx.style.yellow("Warning:"));
    }
    print_info(&info, json)?;
    Ok(OK)
}

/// The template's parameters with `--cpu` and `--memory` (which win over `--param`).
fn with_size(mut params: indexmap::IndexMap<String, Json>, size: &TaskSizeArgs) -> indexmap::IndexMap<String, Json> {
    if let Some(cpu) = size.cpu {
        params.insert("cpu".into(), Json::from(cpu));
    }
    if let Some(memory) = size.memory {
        params.insert("memory".into(), Json::from(memory));
    }
    params
}

/// `tenant destroy ID`: every resource of one tenant, the others untouched.
async fn destroy(ctx: &Ctx, tenants: &Tenants, id: &str, auto_approve: bool, json: bool) -> Result<u8, Failure> {
    let id = id.to_string();
    clawform::tenants::validate_tenant_id(&id).map_err(|e| Failure(e.to_string()))?;
    if !auto_approve && !confirm(ctx, &format!("Do you really want to destroy tenant `{id}` and all its resources?"), "--auto-approve")? {
        return Err(Failure("destroy cancelled: nothing was changed".into()));
    }
    let report = tenants.destroy(&id, &progress(ctx, json)).await?;
    if json {
        super::print_versioned(serde_json::json!({"id": id, "destroyed": report.completed.len()}))?;
    } else {
        println!("\n{} Tenant `{id}`: {} resources destroyed.", ctx.style.green("Destroy complete!"), report.completed.len());
    }
    Ok(OK)
}

/// `tenant list`: every tenant with its shard, rule priority and URL.
async fn list(tenants: &Tenants, json: bool) -> Result<u8, Failure> {
    let list = tenants.list().await?;
    if json {
        super::print_versioned(serde_json::json!({ "tenants": list }))?;
    } else if list.is_empty() {
        println!("No tenants.");
    } else {
        let width = list.iter().map(|t| t.id.len()).max().unwrap_or(2).max(2);
        println!("{:<width$}  {:>5}  {:>8}  {:<9}  URL", "ID", "SHARD", "PRIORITY", "STATE");
        for t in &list {
            let priority = t.priority.as_ref().map(Json::to_string).unwrap_or_else(|| "-".into());
            let shard = t.shard.map(|s| s.to_string()).unwrap_or_else(|| "-".into());
            let state = if t.suspended { "suspended" } else { "active" };
            println!("{:<width$}  {:>5}  {:>8}  {:<9}  {}", t.id, shard, priority, state, t.url.as_deref().unwrap_or("-"));
        }
    }
    Ok(OK)
}

/// `tenant plan ID`: the template against one tenant, new or existing.
async fn plan_one(
    ctx: &Ctx,
    tenants: &Tenants,
    id: &str,
    detailed_exitcode: bool,
    json: Option<super::show::JsonOut>,
    params: &indexmap::IndexMap<String, Json>,
    secret_args: &SecretArgs,
) -> Result<u8, Failure> {
    let id = id.to_string();
    // No secret is needed to plan (a plan never holds one): what a new tenant makes from them
    // shows as "(sensitive) known after apply".
    let secrets = secrets(secret_args)?;
    let plan = tenants.plan(&id, params, &secrets).await?;
    if let Some(json) = json {
        super::show::print_plan_json(ctx, &plan, None, json)?;
    } else {
        print!("{}", render::plan(&plan, ctx.style));
    }
    Ok(if detailed_exitcode && plan.has_changes() { CHANGES } else { OK })
}

/// `tenant plan --all`: the template against every tenant, refreshed from AWS or not.
async fn plan_all(ctx: &Ctx, tenants: &Tenants, detailed_exitcode: bool, json: bool, params: &ParamArgs, refresh: bool) -> Result<u8, Failure> {
    let plans = if refresh {
        tenants.plan_all(&params_for(ctx, clawform::tenants::TEMPLATE, params)?).await?
    } else {
        tenants.plan_all_offline(&params_for(ctx, clawform::tenants::TEMPLATE, params)?).await?
    };
    let changed = plans.iter().filter(|(_, p)| p.has_changes()).count();
    if json {
        let value: Vec<Json> =
            plans.iter().map(|(id, p)| serde_json::json!({"id": id, "summary": p.summary(), "has_changes": p.has_changes(), "plan": p})).collect();
        super::print_versioned(serde_json::json!({ "tenants": value }))?;
    } else {
        for (id, plan) in &plans {
            println!("{}", ctx.style.bold(&format!("== tenant {id}")));
            print!("{}", render::plan(plan, ctx.style));
            println!();
        }
        println!("{changed} of {} tenants have changes.", plans.len());
    }
    Ok(if detailed_exitcode && changed > 0 { CHANGES } else { OK })
}

/// `tenant apply --all`: the template to every tenant with changes, several at a time.
async fn apply_all(ctx: &Ctx, tenants: &Tenants, auto_approve: bool, parallelism: u16, params: &ParamArgs) -> Result<u8, Failure> {
    let params = params_for(ctx, clawform::tenants::TEMPLATE, params)?;
    let plans = tenants.plan_all(&params).await?;
    let changed: Vec<&String> = plans.iter().filter(|(_, p)| p.has_changes()).map(|(id, _)| id).collect();
    println!("{} of {} tenants have changes.", changed.len(), plans.len());
    if changed.is_empty() {
        return Ok(OK);
    }
    if !auto_approve {
        if !std::io::stdin().is_terminal() {
            return Err(Failure("refusing to change tenants without confirmation: there is no terminal to ask on; pass --auto-approve".into()));
        }
        for (id, plan) in &plans {
            if plan.has_changes() {
                println!("{}", ctx.style.bold(&format!("== tenant {id}")));
                print!("{}", render::plan(plan, ctx.style));
            }
        }
        if !confirm(ctx, "Do you want to apply the template to these tenants?", "--auto-approve")? {
            return Err(Failure("apply cancelled: nothing was changed".into()));
        }
    }
    // The plans shown are the plans applied: no second refresh per tenant. Each tenant is
    // reported as it finishes; on a terminal under a bar counting the tenants done.
    let terminal = std::io::stdout().is_terminal();
    let bar = if terminal { indicatif::ProgressBar::new(plans.len() as u64) } else { indicatif::ProgressBar::hidden() };
    if let Ok(style) = indicatif::ProgressStyle::with_template("[{elapsed_precise}] {bar:30} {pos}/{len} tenants") {
        bar.set_style(style);
    }
    let options = ApplyOptions { stop: ctx.stop.clone(), ..ApplyOptions::default() };
    let results = tenants
        .apply_plans_each(plans, parallelism.into(), &options, |id, result| {
            let line = format!("tenant {id}: {}", if result.is_ok() { "applied" } else { "failed" });
            if terminal {
                bar.println(line);
                bar.inc(1);
            } else {
                println!("{line}");
            }
        })
        .await;
    bar.finish_and_clear();
    let failed: Vec<String> = results.iter().filter_map(|(id, r)| r.as_ref().err().map(|e| format!("tenant {id}: {e}"))).collect();
    if failed.is_empty() {
        println!("\n{} {} tenants applied.", ctx.style.green("Apply complete!"), results.len());
        Ok(OK)
    } else {
        Err(Failure(failed.join("\n")))
    }
}
