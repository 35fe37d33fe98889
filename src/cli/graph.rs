//! `clawform graph`: the dependency graph as Graphviz DOT, coloured by a plan when given one,
//! or rendered to SVG through Graphviz's `dot`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use clawform::{Plan, Workspace};

use super::args::{GraphFormat, ParamArgs};
use super::{Ctx, Failure, OK};

/// What `graph` colours the resources by.
pub(crate) enum PlanSource<'a> {
    /// Nothing: dependencies only.
    None,
    /// A plan saved with `plan --out`.
    File(&'a Path),
    /// A plan made now against state (no refresh, no AWS call).
    Now,
}

pub(crate) async fn graph_cmd(ctx: &Ctx, stack: &str, plan: PlanSource<'_>, format: GraphFormat, params: &ParamArgs) -> Result<u8, Failure> {
    let stack = ctx.workspace.load(stack, &super::params_for(ctx, stack, params)?)?;
    let graph = clawform::core::Graph::build(&stack).map_err(|e| Failure(e.to_string()))?;
    let plan: Option<Plan> = match plan {
        PlanSource::None => None,
        PlanSource::Now => Some(ctx.workspace.plan(&stack).await?),
        PlanSource::File(path) => {
            let plan = Workspace::read_plan(path)?;
            if plan.stack != stack.name {
                return Err(Failure(format!("plan file {} is for stack `{}`, not `{}`", path.display(), plan.stack, stack.name)));
            }
            Some(plan)
        }
    };
    let dot = match &plan {
        Some(plan) => graph.to_dot_coloured(&stack, &clawform::core::PlanColours::new(plan, &stack)),
        None => graph.to_dot(&stack),
    };
    match format {
        GraphFormat::Dot => print!("{dot}"),
        GraphFormat::Svg => {
            let svg = render_svg(&dot)?;
            std::io::stdout().write_all(&svg)?;
        }
    }
    Ok(OK)
}

/// `dot` on PATH, if Graphviz is installed.
fn find_dot() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("dot")).find(|candidate| {
        use std::os::unix::fs::PermissionsExt;
        candidate.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

fn render_svg(dot: &str) -> Result<Vec<u8>, Failure> {
    let program = find_dot().ok_or_else(|| {
        Failure(
            "cannot render SVG: Graphviz's `dot` is not installed (not found on PATH)\ninstall Graphviz (`apt-get install graphviz`, `brew install graphviz`), or write DOT and render it elsewhere: `clawform graph STACK > graph.dot`"
                .into(),
        )
    })?;
    let mut child = Command::new(&program)
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Failure(format!("cannot run {}: {e}", program.display())))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A `dot` that exits early closes the pipe; its exit status says why.
        let _ = stdin.write_all(dot.as_bytes());
    }
    let out = child.wait_with_output().map_err(|e| Failure(format!("cannot run {}: {e}", program.display())))?;
    if !out.status.success() {
        return Err(Failure(format!("{} -Tsvg failed ({}): {}", program.display(), out.status, String::from_utf8_lossy(&out.stderr).trim())));
    }
    Ok(out.stdout)
}
