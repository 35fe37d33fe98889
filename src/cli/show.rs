//! Plans as JSON — Terraform's machine-readable plan format (what policy tools read) or
//! clawform's own document — and `show PLANFILE`.

use std::path::Path;

use clawform::core::tfjson::{terraform_plan, TfOptions};
use clawform::{Plan, Workspace};
use serde_json::Value as Json;

use super::args::JsonFormat;
use super::{render, Ctx, Failure, OK};

/// The Terraform provider whose resource types and shapes clawform's types follow.
const PROVIDER_NAME: &str = "registry.terraform.io/hashicorp/aws";

/// The region a plan is for, as far as the command line and environment say.
pub(crate) fn region(ctx: &Ctx) -> Option<String> {
    ctx.aws.region.clone().or_else(|| ["AWS_REGION", "AWS_DEFAULT_REGION"].iter().find_map(|v| std::env::var(v).ok().filter(|r| !r.is_empty())))
}

/// The plan in Terraform's JSON plan format (format version 1.2).
pub(crate) fn terraform(ctx: &Ctx, plan: &Plan) -> Json {
    let options = TfOptions {
        version: env!("CARGO_PKG_VERSION").to_string(),
        timestamp: clawform::core::backend::now_rfc3339(),
        provider_name: PROVIDER_NAME.to_string(),
        provider_key: "aws".to_string(),
        region: region(ctx),
    };
    terraform_plan(plan, ctx.workspace.registry(), &options)
}

/// clawform's own plan document, with the summary and the drift found by the refresh.
fn native(plan: &Plan, drift: Option<&clawform::core::DriftReport>) -> Result<Json, Failure> {
    let mut value = serde_json::to_value(plan).map_err(|e| Failure(e.to_string()))?;
    if let Json::Object(m) = &mut value {
        m.insert("summary".into(), serde_json::to_value(plan.summary()).unwrap_or(Json::Null));
        m.insert("has_changes".into(), Json::Bool(plan.has_changes()));
        if let Some(d) = drift {
            m.insert("drift".into(), serde_json::to_value(d).unwrap_or(Json::Null));
        }
    }
    Ok(value)
}

/// How a plan is written as JSON: which document, and on one line or indented.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JsonOut {
    pub(crate) format: JsonFormat,
    pub(crate) compact: bool,
}

impl From<JsonFormat> for JsonOut {
    fn from(format: JsonFormat) -> JsonOut {
        JsonOut { format, compact: false }
    }
}

/// Prints the plan as JSON on stdout.
pub(crate) fn print_plan_json(ctx: &Ctx, plan: &Plan, drift: Option<&clawform::core::DriftReport>, out: impl Into<JsonOut>) -> Result<(), Failure> {
    let out = out.into();
    let value = match out.format {
        JsonFormat::Terraform => terraform(ctx, plan),
        JsonFormat::Native => native(plan, drift)?,
    };
    let text = if out.compact { serde_json::to_string(&value) } else { serde_json::to_string_pretty(&value) };
    println!("{}", text.map_err(|e| Failure(e.to_string()))?);
    Ok(())
}

/// `show PLANFILE [--json]`: a saved plan, read without touching AWS or state.
pub(crate) fn show_cmd(ctx: &Ctx, path: &Path, json: Option<JsonOut>) -> Result<u8, Failure> {
    let plan = Workspace::read_plan(path)?;
    match json {
        Some(format) => print_plan_json(ctx, &plan, None, format)?,
        None => print!("{}", render::plan(&plan, ctx.style)),
    }
    Ok(OK)
}
