//! `tenant status`, `suspend`, `resume`, `restart`, `rotate-key` and `logs`: calls into
//! [`clawform::Tenants`] and their rendering. Progress goes to stderr, documents to stdout.

use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clawform::tenants::{TenantStatus, WaitFor};
use clawform::Tenants;

use super::super::args::{SecretArgs, WaitState};
use super::super::{print_versioned, Ctx, Failure, OK};

/// A duration as `--timeout` takes it: 90s, 10m, 1h (a bare number is seconds).
fn parse_duration(text: &str) -> Result<Duration, Failure> {
    let t = text.trim();
    let (number, unit) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&t[..i], &t[i..]),
        None => (t, "s"),
    };
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => 0,
    };
    match number.parse::<u64>() {
        Ok(n) if secs > 0 && !number.is_empty() => Ok(Duration::from_secs(n.saturating_mul(secs))),
        _ => Err(Failure(format!("--timeout `{}`: expected a duration such as 30s, 10m or 1h", t.escape_debug()))),
    }
}

/// Resolves when Ctrl-C has set the stop flag (the command then exits 130).
async fn stopped(ctx: &Ctx) {
    while !ctx.stop.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn counts(s: &TenantStatus) -> String {
    match &s.service {
        Some(svc) => format!("{}/{}/{}", svc.desired, svc.running, svc.pending),
        None => "missing".into(),
    }
}

fn rollout(s: &TenantStatus) -> String {
    s.service.as_ref().and_then(|svc| svc.deployment.as_ref()).and_then(|d| d.rollout_state.clone()).unwrap_or_else(|| "-".into())
}

fn health(s: &TenantStatus) -> String {
    if s.targets.is_empty() {
        return "no targets".into();
    }
    let healthy = s.targets.iter().filter(|t| t.state == "healthy").count();
    format!("{healthy}/{} healthy", s.targets.len())
}

fn one_line(s: &TenantStatus) -> String {
    format!("desired/running/pending {}, rollout {}, {}", counts(s), rollout(s), health(s))
}

fn print_status(ctx: &Ctx, s: &TenantStatus) {
    let state = if s.suspended {
        "suspended"
    } else if s.healthy {
        "healthy"
    } else if s.running {
        "running"
    } else {
        "not running"
    };
    println!("tenant {}  {}", s.id, ctx.style.bold(state));
    let Some(svc) = &s.service else {
        println!("  service    missing: ECS does not know it");
        return;
    };
    println!("  service    {} ({}): desired {}, running {}, pending {}", svc.name, svc.status, svc.desired, svc.running, svc.pending);
    if let Some(d) = &svc.deployment {
        println!(
            "  rollout    {} {}{}",
            d.id,
            d.rollout_state.as_deref().unwrap_or("-"),
            d.rollout_state_reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default()
        );
    }
    if s.targets.is_empty() {
        println!("  targets    none registered");
    }
    for t in &s.targets {
        let why = [t.reason.as_deref(), t.description.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(": ");
        let at = t.port.map(|p| format!("{}:{p}", t.id)).unwrap_or_else(|| t.id.clone());
        println!("  target     {at} {}{}", t.state, if why.is_empty() { String::new() } else { format!(" ({why})") });
    }
    println!("  suspended  {}", if s.suspended { "yes" } else { "no" });
    if !svc.events.is_empty() {
        println!("  events (newest first):");
        for e in &svc.events {
            println!("    {}  {}", e.created_at.as_deref().unwrap_or("-"), e.message);
        }
    }
}

/// `tenant status ID [--wait STATE --timeout D]` and `tenant status --all`.
pub(super) async fn status(ctx: &Ctx, tenants: &Tenants, id: Option<&str>, json: bool, wait: Option<WaitState>, timeout: &str) -> Result<u8, Failure> {
    let Some(id) = id else {
        let all = tenants.status_all().await?;
        if json {
            print_versioned(serde_json::json!({ "tenants": all }))?;
        } else if all.is_empty() {
            println!("No tenants.");
        } else {
            let width = all.iter().map(|t| t.id.len()).max().unwrap_or(2).max(2);
            println!("{:<width$}  {:>23}  {:<11}  {:<12}  SUSPENDED", "ID", "DESIRED/RUNNING/PENDING", "ROLLOUT", "HEALTH");
            for t in &all {
                println!("{:<width$}  {:>23}  {:<11}  {:<12}  {}", t.id, counts(t), rollout(t), health(t), if t.suspended { "yes" } else { "no" });
            }
        }
        return Ok(OK);
    };
    clawform::tenants::validate_tenant_id(id).map_err(|e| Failure(e.to_string()))?;
    let Some(wait) = wait else {
        let s = tenants.status(id).await?;
        if json {
            print_versioned(&s)?;
        } else {
            print_status(ctx, &s);
        }
        return Ok(OK);
    };
    let timeout = parse_duration(timeout)?;
    let until = match wait {
        WaitState::Running => WaitFor::Running,
        WaitState::Healthy => WaitFor::Healthy,
    };
    let word = if until == WaitFor::Running { "running" } else { "healthy" };
    let started = std::time::Instant::now();
    let progress = |s: &TenantStatus| eprintln!("Waiting for tenant `{id}` to be {word}… {} [{}s elapsed]", one_line(s), started.elapsed().as_secs());
    let outcome = tokio::select! {
        o = tenants.wait(id, until, timeout, &progress) => o?,
        () = stopped(ctx) => return Err(Failure(format!("interrupted while waiting for tenant `{id}`"))),
    };
    if json {
        let mut doc = serde_json::to_value(&outcome.status).map_err(|e| Failure(e.to_string()))?;
        doc["wait"] = serde_json::json!({ "for": until, "reached": outcome.reached, "reason": outcome.reason, "stopped_tasks": outcome.stopped_tasks });
        print_versioned(doc)?;
    } else {
        print_status(ctx, &outcome.status);
    }
    match outcome.reason {
        None => Ok(OK),
        Some(reason) => Err(Failure(format!("tenant `{id}` is not {word} after {}s: {reason}", started.elapsed().as_secs()))),
    }
}

/// `tenant suspend ID` / `tenant resume ID`.
pub(super) async fn suspend(ctx: &Ctx, tenants: &Tenants, id: &str, suspend: bool, json: bool) -> Result<u8, Failure> {
    clawform::tenants::validate_tenant_id(id).map_err(|e| Failure(e.to_string()))?;
    let options = super::progress(ctx, json);
    let info = if suspend { tenants.suspend(id, &options).await? } else { tenants.resume(id, &options).await? };
    if !json {
        let what = if suspend { "suspended: no task runs until `clawform tenant resume`" } else { "resumed" };
        println!("\n{} Tenant `{id}` {what}.\n", ctx.style.green("Apply complete!"));
    }
    super::print_info(&info, json)?;
    Ok(OK)
}

/// `tenant restart ID`.
pub(super) async fn restart(ctx: &Ctx, tenants: &Tenants, id: &str, json: bool) -> Result<u8, Failure> {
    clawform::tenants::validate_tenant_id(id).map_err(|e| Failure(e.to_string()))?;
    let r = tenants.restart(id).await?;
    if json {
        print_versioned(&r)?;
    } else {
        println!(
            "{} Tenant `{id}`: new deployment {} started (same task definition).",
            ctx.style.green("Restarted!"),
            r.deployment_id.as_deref().unwrap_or("-")
        );
    }
    Ok(OK)
}

/// `tenant rotate-key ID --api-key-env VAR [--gateway-token-env VAR2]`.
pub(super) async fn rotate_key(ctx: &Ctx, tenants: &Tenants, id: &str, secret_args: &SecretArgs, json: bool) -> Result<u8, Failure> {
    clawform::tenants::validate_tenant_id(id).map_err(|e| Failure(e.to_string()))?;
    let secrets = super::secrets(secret_args)?;
    if secrets.api_key.is_none() {
        return Err(Failure("tenant rotate-key needs the new API key: pass --api-key-env VAR or --api-key-file FILE".into()));
    }
    let r = tenants.rotate_key(id, &secrets, &super::progress(ctx, json)).await?;
    if json {
        print_versioned(&r)?;
    } else {
        let token = if r.gateway_token_generated { "a new generated gateway token (read it from Secrets Manager: " } else { "the gateway token given (" };
        println!(
            "\n{} Tenant `{id}`: new API key and {token}{}); new deployment {} started.",
            ctx.style.green("Rotated!"),
            r.tenant.outputs.get("secret_arn").and_then(|v| v.as_str()).unwrap_or("its secret"),
            r.deployment_id.as_deref().unwrap_or("-")
        );
    }
    Ok(OK)
}

/// `tenant logs ID [--since WHEN] [--follow] [--json]`.
pub(super) async fn logs(ctx: &Ctx, tenants: &Tenants, id: &str, since: &str, follow: bool, json: bool) -> Result<u8, Failure> {
    clawform::tenants::validate_tenant_id(id).map_err(|e| Failure(e.to_string()))?;
    let start = clawform::tenants::parse_since(since, clawform::tenants::now_millis()).map_err(Failure)?;
    let mut logs = tenants.logs(id, start).await?;
    let mut out = std::io::BufWriter::new(std::io::stdout());
    loop {
        for e in logs.next().await? {
            if json {
                let line = serde_json::to_string(&e).map_err(|e| Failure(e.to_string()))?;
                writeln!(out, "{line}")?;
            } else {
                writeln!(out, "{} {} {}", e.timestamp, e.stream, e.message)?;
            }
        }
        out.flush()?;
        if !follow {
            return Ok(OK);
        }
        // `aws logs tail --follow` polls too (CloudWatch Logs has no push for FilterLogEvents).
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(2)) => {}
            () = stopped(ctx) => return Ok(OK),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_durations() {
        assert_eq!(parse_duration("90s").ok(), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m").ok(), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h").ok(), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("5").ok(), Some(Duration::from_secs(5)));
        for bad in ["", "m", "10x", "-1s", "1.5m"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
