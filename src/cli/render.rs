//! Human renderings of plans, apply progress and state, in Terraform's style.

use std::fmt::Write;

use clawform_core::engine::{ApplyEvent, EventKind};
use clawform_core::plan::{Action, Plan, ResourceChange};
use serde_json::Value as Json;

/// ANSI colours, or nothing when output is not a terminal or NO_COLOR is set.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Whether to colour.
    pub color: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    /// Green.
    pub fn green(&self, t: &str) -> String {
        self.paint("32", t)
    }
    /// Yellow.
    pub fn yellow(&self, t: &str) -> String {
        self.paint("33", t)
    }
    /// Red.
    pub fn red(&self, t: &str) -> String {
        self.paint("31", t)
    }
    /// Bold.
    pub fn bold(&self, t: &str) -> String {
        self.paint("1", t)
    }
}

const SENSITIVE: &str = "(sensitive value)";
const UNKNOWN: &str = "(known after apply)";

fn scalar(v: &Json) -> String {
    match v {
        Json::String(s) => format!("{s:?}"),
        Json::Null => "null".into(),
        other => other.to_string(),
    }
}

/// Writes `value` at `indent`, nested blocks over several lines.
fn value_lines(out: &mut String, v: &Json, indent: usize, sign: &str) {
    let pad = " ".repeat(indent);
    match v {
        Json::Object(map) if !map.is_empty() => {
            out.push_str("{\n");
            let width = map.keys().map(|k| k.len() + 2).max().unwrap_or(0);
            for (k, item) in map {
                let _ = write!(out, "{pad}    {sign} {:<width$} = ", format!("{k:?}"));
                value_lines(out, item, indent + 4, sign);
                out.push('\n');
            }
            let _ = write!(out, "{pad}  }}");
        }
        Json::Array(items) if !items.is_empty() => {
            out.push_str("[\n");
            for item in items {
                let _ = write!(out, "{pad}    {sign} ");
                value_lines(out, item, indent + 4, sign);
                out.push_str(",\n");
            }
            let _ = write!(out, "{pad}  ]");
        }
        other => out.push_str(&scalar(other)),
    }
}

/// A JSON document held in a string attribute (a policy, container definitions), parsed.
fn json_document(v: &Json) -> Option<Json> {
    let text = v.as_str()?.trim_start();
    if !(text.starts_with('{') || text.starts_with('[')) {
        return None;
    }
    serde_json::from_str(text).ok()
}

/// Whether a changed value is shown as a diff of its parts (maps, lists of equal length, JSON
/// documents) rather than as the whole old and new value.
fn nested_diff_applies(old: &Json, new: &Json) -> bool {
    match (old, new) {
        (Json::Object(_), Json::Object(_)) => true,
        (Json::Array(a), Json::Array(b)) => a.len() == b.len(),
        _ => matches!((json_document(old), json_document(new)), (Some(a), Some(b)) if nested_diff_applies(&a, &b)),
    }
}

/// Terraform's rendering of a changed map, list or JSON document: only what changed, each
/// unchanged part counted on one line. `indent` is the column of the attribute's sign.
fn nested_diff(out: &mut String, old: &Json, new: &Json, indent: usize, style: Style) {
    let pad = " ".repeat(indent);
    if let (Some(a), Some(b)) = (json_document(old), json_document(new)) {
        out.push_str("jsonencode(\n");
        let _ = write!(out, "{pad}    {} ", style.yellow("~"));
        nested_diff(out, &a, &b, indent + 4, style);
        let _ = write!(out, "\n{pad}  )");
        return;
    }
    match (old, new) {
        (Json::Object(a), Json::Object(b)) => {
            out.push_str("{\n");
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            let changed: Vec<&&String> = keys.iter().filter(|k| a.get(k.as_str()) != b.get(k.as_str())).collect();
            let width = changed.iter().map(|k| format!("{k:?}").len()).max().unwrap_or(0);
            for key in &changed {
                let name = format!("{key:?}");
                match (a.get(key.as_str()), b.get(key.as_str())) {
                    (None, Some(n)) => {
                        let _ = write!(out, "{pad}    {} {name:<width$} = ", style.green("+"));
                        value_lines(out, n, indent + 4, "+");
                    }
                    (Some(o), None) => {
                        let _ = write!(out, "{pad}    {} {name:<width$} = ", style.red("-"));
                        value_lines(out, o, indent + 4, "-");
                        out.push_str(" -> null");
                    }
                    (Some(o), Some(n)) if nested_diff_applies(o, n) => {
                        let _ = write!(out, "{pad}    {} {name:<width$} = ", style.yellow("~"));
                        nested_diff(out, o, n, indent + 4, style);
                    }
                    (Some(o), Some(n)) => {
                        let _ = write!(out, "{pad}    {} {name:<width$} = {} -> {}", style.yellow("~"), compact(o), compact(n));
                    }
                    (None, None) => {}
                }
                out.push('\n');
            }
            let unchanged = keys.len() - changed.len();
            if unchanged > 0 {
                let _ = writeln!(out, "{pad}      # ({unchanged} unchanged {} hidden)", if unchanged == 1 { "element" } else { "elements" });
            }
            let _ = write!(out, "{pad}  }}");
        }
        (Json::Array(a), Json::Array(b)) => {
            out.push_str("[\n");
            let mut unchanged = 0;
            for (o, n) in a.iter().zip(b) {
                if o == n {
                    unchanged += 1;
                    continue;
                }
                if nested_diff_applies(o, n) {
                    let _ = write!(out, "{pad}    {} ", style.yellow("~"));
                    nested_diff(out, o, n, indent + 4, style);
                } else {
                    let _ = write!(out, "{pad}    {} {} -> {}", style.yellow("~"), compact(o), compact(n));
                }
                out.push_str(",\n");
            }
            if unchanged > 0 {
                let _ = writeln!(out, "{pad}      # ({unchanged} unchanged {} hidden)", if unchanged == 1 { "element" } else { "elements" });
            }
            let _ = write!(out, "{pad}  ]");
        }
        _ => {
            let _ = write!(out, "{} -> {}", compact(old), compact(new));
        }
    }
}

fn compact(v: &Json) -> String {
    match v {
        Json::Object(_) | Json::Array(_) => v.to_string(),
        other => scalar(other),
    }
}

fn header(c: &ResourceChange, style: Style) -> (String, String) {
    match c.action {
        Action::Create => {
            (format!("  # {} will be created", style.bold(&c.address)), format!("  {} resource \"{}\" \"{}\" {{", style.green("+"), c.type_name, c.address))
        }
        Action::Update => (
            format!("  # {} will be updated in-place", style.bold(&c.address)),
            format!("  {} resource \"{}\" \"{}\" {{", style.yellow("~"), c.type_name, c.address),
        ),
        Action::Replace if c.create_before_destroy => (
            format!("  # {} must be replaced (the new one is created before the old one is destroyed)", style.bold(&c.address)),
            format!("{}{} resource \"{}\" \"{}\" {{", style.green("+"), style.red("/-"), c.type_name, c.address),
        ),
        Action::Replace => (
            format!("  # {} must be replaced", style.bold(&c.address)),
            format!("{}{} resource \"{}\" \"{}\" {{", style.red("-"), style.green("/+"), c.type_name, c.address),
        ),
        Action::Delete => {
            (format!("  # {} will be destroyed", style.bold(&c.address)), format!("  {} resource \"{}\" \"{}\" {{", style.red("-"), c.type_name, c.address))
        }
        Action::NoOp => (String::new(), String::new()),
    }
}

fn render_change(out: &mut String, c: &ResourceChange, style: Style) {
    let (comment, open) = header(c, style);
    let _ = writeln!(out, "{comment}");
    let _ = writeln!(out, "{open}");
    let empty = serde_json::Map::new();
    let before = c.before.as_ref().and_then(Json::as_object).unwrap_or(&empty);
    let after = c.after.as_ref().and_then(Json::as_object).unwrap_or(&empty);
    let mut keys: Vec<&String> = match c.action {
        Action::Delete => before.keys().collect(),
        _ => after.keys().chain(before.keys()).collect(),
    };
    if matches!(c.action, Action::Create | Action::Replace) {
        keys.extend(c.computed.iter());
    }
    keys.sort();
    keys.dedup();
    let width = keys.iter().map(|k| k.len()).max().unwrap_or(0);
    for key in keys {
        let sensitive = c.sensitive.contains(key);
        let unknown = c.after_unknown.contains(key)
            || (matches!(c.action, Action::Create | Action::Replace) && c.computed.contains(key) && !after.contains_key(key.as_str()));
        let show = |v: &Json| if sensitive { SENSITIVE.to_string() } else { compact(v) };
        match c.action {
            Action::Create => {
                let _ = write!(out, "      {} {key:<width$} = ", style.green("+"));
                if unknown {
                    out.push_str(UNKNOWN);
                } else if sensitive {
                    out.push_str(SENSITIVE);
                } else {
                    value_lines(out, &after[key.as_str()], 6, "+");
                }
                out.push('\n');
            }
            Action::Delete => {
                let _ = write!(out, "      {} {key:<width$} = ", style.red("-"));
                if sensitive {
                    out.push_str(SENSITIVE);
                } else {
                    value_lines(out, &before[key.as_str()], 6, "-");
                }
                out.push_str(" -> null\n");
            }
            Action::Update | Action::Replace => {
                let old = before.get(key.as_str());
                let new = after.get(key.as_str());
                let forces = if c.replace_because.contains(key) { style.red(" # forces replacement") } else { String::new() };
                if unknown {
                    let was = old.map_or("null".to_string(), show);
                    let _ = writeln!(out, "      {} {key:<width$} = {was} -> {UNKNOWN}{forces}", style.yellow("~"));
                } else if c.changed.contains(key) {
                    match (old, new) {
                        (None, Some(n)) | (Some(Json::Null), Some(n)) => {
                            let _ = writeln!(out, "      {} {key:<width$} = {}{forces}", style.green("+"), show(n));
                        }
                        (Some(o), None) | (Some(o), Some(Json::Null)) => {
                            let _ = writeln!(out, "      {} {key:<width$} = {} -> null{forces}", style.red("-"), show(o));
                        }
                        (Some(o), Some(n)) if !sensitive && nested_diff_applies(o, n) => {
                            let _ = write!(out, "      {} {key:<width$} = ", style.yellow("~"));
                            nested_diff(out, o, n, 6, style);
                            let _ = writeln!(out, "{forces}");
                        }
                        (Some(o), Some(n)) => {
                            let _ = writeln!(out, "      {} {key:<width$} = {} -> {}{forces}", style.yellow("~"), show(o), show(n));
                        }
                        (None, None) => {}
                    }
                } else if key == "id" || key == "name" || key == "tags" {
                    if let Some(o) = old {
                        let _ = write!(out, "        {key:<width$} = ");
                        if sensitive {
                            out.push_str(SENSITIVE);
                        } else {
                            value_lines(out, o, 6, " ");
                        }
                        out.push('\n');
                    }
                }
            }
            Action::NoOp => {}
        }
    }
    let _ = writeln!(out, "    }}\n");
}

/// A create with `tags` shown with `tags_all` too, as Terraform shows it: the tags AWS receives,
/// ownership tags included.
fn with_tags_all(c: &ResourceChange, stack: &str) -> Option<ResourceChange> {
    if !matches!(c.action, Action::Create | Action::Replace) || c.after_unknown.iter().any(|k| k == "tags") {
        return None;
    }
    let tags = c.after.as_ref()?.get("tags")?;
    let mut shown = c.clone();
    if let Some(Json::Object(after)) = shown.after.as_mut() {
        after.insert("tags_all".into(), clawform::core::provider::tags_all(Some(tags), stack, &c.address));
    }
    Some(shown)
}

/// The whole plan as Terraform shows it.
pub fn plan(plan: &Plan, style: Style) -> String {
    let mut out = plan_body(plan, style);
    for w in &plan.warnings {
        let _ = writeln!(out, "\n{} {w}", style.yellow("Warning:"));
    }
    out
}

fn plan_body(plan: &Plan, style: Style) -> String {
    let mut out = String::new();
    if !plan.has_changes() {
        out.push_str(&style.green("No changes."));
        out.push_str(if plan.destroy { " No objects need to be destroyed.\n" } else { " Your infrastructure matches the configuration.\n" });
        return out;
    }
    let changes: Vec<&ResourceChange> = plan.changes.iter().filter(|c| c.action != Action::NoOp).collect();
    if !changes.is_empty() {
        out.push_str("clawform will perform the following actions:\n\n");
        for c in changes {
            match with_tags_all(c, &plan.stack) {
                Some(shown) => render_change(&mut out, &shown, style),
                None => render_change(&mut out, c, style),
            }
        }
    }
    let s = plan.summary();
    let _ = writeln!(out, "{} {} to add, {} to change, {} to destroy.", style.bold("Plan:"), s.add, s.change, s.destroy);
    if !plan.output_changes.is_empty() {
        out.push_str("\nChanges to Outputs:\n");
        for (name, oc) in &plan.output_changes {
            let after = if oc.after_unknown { UNKNOWN.to_string() } else { oc.after.as_ref().map_or("null".into(), compact) };
            match (&oc.before, oc.after.is_some() || oc.after_unknown) {
                (None, _) => {
                    let _ = writeln!(out, "  {} {name} = {after}", style.green("+"));
                }
                (Some(b), true) => {
                    let _ = writeln!(out, "  {} {name} = {} -> {after}", style.yellow("~"), compact(b));
                }
                (Some(b), false) => {
                    let _ = writeln!(out, "  {} {name} = {} -> null", style.red("-"), compact(b));
                }
            }
        }
    }
    out
}

/// One line of apply progress, as Terraform prints it.
pub fn event(e: &ApplyEvent) -> String {
    let (doing, done) = match (e.action, e.deleting) {
        (_, true) => ("Destroying...", "Destruction complete"),
        (Action::Create, _) | (Action::Replace, _) => ("Creating...", "Creation complete"),
        _ => ("Modifying...", "Modifications complete"),
    };
    match &e.kind {
        EventKind::Started => format!("{}: {doing}", e.address),
        EventKind::Completed { id, elapsed } => {
            let id = id.as_ref().map(|i| format!(" [id={i}]")).unwrap_or_default();
            format!("{}: {done} after {}s{id}", e.address, elapsed.as_secs())
        }
        EventKind::Failed { message } => format!("{}: failed: {message}", e.address),
        // Terraform's "Still creating... [1m10s elapsed]", with what it is waiting for.
        EventKind::Waiting { what, elapsed } => {
            let still = doing.replace("Creating", "Still creating").replace("Destroying", "Still destroying").replace("Modifying", "Still modifying");
            format!("{}: {still} ({}s elapsed, waiting for {what})", e.address, elapsed.as_secs())
        }
    }
}

fn drift_lines(out: &mut String, report: &clawform_core::DriftReport, style: Style, only_drifted: bool) {
    use clawform_core::DriftStatus;
    for r in &report.resources {
        match &r.status {
            DriftStatus::InSync if only_drifted => {}
            DriftStatus::InSync => {
                let _ = writeln!(out, "    {}/{} ({}): in sync", r.stack, r.address, r.type_name);
            }
            DriftStatus::Modified { attributes } => {
                let _ = writeln!(out, "  {} {}/{} ({}) has changed outside clawform", style.yellow("~"), r.stack, r.address, r.type_name);
                for a in attributes {
                    let _ = writeln!(out, "      {}: {} (state) -> {} (live)", a.attribute, compact(&a.expected), compact(&a.actual));
                }
            }
            DriftStatus::Deleted => {
                let _ = writeln!(out, "  {} {}/{} ({}, id {}) has been deleted outside clawform", style.red("-"), r.stack, r.address, r.type_name, r.id);
            }
        }
    }
    for u in &report.unmanaged {
        let _ = writeln!(
            out,
            "  {} {} carries clawform:stack={} clawform:address={} but is not in that stack's state (unmanaged)",
            style.yellow("?"),
            u.arn,
            u.stack,
            u.address
        );
    }
}

/// A drift report.
pub fn drift(report: &clawform_core::DriftReport, style: Style) -> String {
    use clawform_core::DriftStatus;
    let mut out = String::new();
    drift_lines(&mut out, report, style, true);
    let count = |f: fn(&DriftStatus) -> bool| report.resources.iter().filter(|r| f(&r.status)).count();
    let stacks: std::collections::BTreeSet<&str> = report.resources.iter().map(|r| r.stack.as_str()).collect();
    let _ = writeln!(
        out,
        "{} {} resources in {} stacks: {} in sync, {} modified, {} deleted; {} unmanaged.",
        if report.has_drift() { style.yellow("Drift detected.") } else { style.green("No drift.") },
        report.resources.len(),
        stacks.len(),
        count(|s| matches!(s, DriftStatus::InSync)),
        count(|s| matches!(s, DriftStatus::Modified { .. })),
        count(|s| matches!(s, DriftStatus::Deleted)),
        report.unmanaged.len()
    );
    out
}

/// The drift shown before a plan, as Terraform's "Objects have changed outside of Terraform".
pub fn drift_before_plan(report: &clawform_core::DriftReport, style: Style) -> String {
    let mut out = format!(
        "{}\n\nclawform read these changes made outside it; the plan below puts them back:\n\n",
        style.bold("Objects have changed outside of clawform")
    );
    drift_lines(&mut out, report, style, true);
    out.push('\n');
    out
}

/// The API calls table of `--stats`.
pub fn stats(stats: &std::collections::BTreeMap<(String, String), clawform::aws::stats::OperationStats>) -> String {
    let mut out = String::from("\nAWS API calls:\n");
    let (mut calls, mut attempts, mut time) = (0, 0, std::time::Duration::ZERO);
    for ((service, op), s) in stats {
        let _ = writeln!(out, "  {:<56} {:>6} calls {:>6} attempts {:>8} ms", format!("{service} {op}"), s.calls, s.attempts, s.time.as_millis());
        calls += s.calls;
        attempts += s.attempts;
        time += s.time;
    }
    let _ = writeln!(out, "  {:<56} {:>6} calls {:>6} attempts {:>8} ms", "total", calls, attempts, time.as_millis());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn diff(old: Json, new: Json) -> String {
        let mut out = String::new();
        nested_diff(&mut out, &old, &new, 6, Style { color: false });
        out
    }

    #[test]
    fn changed_maps_show_only_the_changed_keys() {
        let out = diff(json!({"Env": "a", "Team": "x", "Old": "y"}), json!({"Env": "b", "Team": "x", "New": "z"}));
        assert_eq!(
            out,
            "{\n          ~ \"Env\" = \"a\" -> \"b\"\n          + \"New\" = \"z\"\n          - \"Old\" = \"y\" -> null\n            # (1 unchanged element hidden)\n        }"
        );
    }

    #[test]
    fn json_documents_in_strings_are_diffed_as_documents() {
        let old = json!(r#"[{"name":"gw","image":"repo:v1","cpu":512}]"#);
        let new = json!(r#"[{"name":"gw","image":"repo:v2","cpu":512}]"#);
        assert!(nested_diff_applies(&old, &new));
        let out = diff(old, new);
        assert!(out.starts_with("jsonencode(\n"), "{out}");
        assert!(out.contains("~ \"image\" = \"repo:v1\" -> \"repo:v2\""), "{out}");
        assert!(out.contains("# (2 unchanged elements hidden)"), "{out}");
        assert!(!out.contains("cpu"), "unchanged keys are hidden: {out}");
        assert!(!nested_diff_applies(&json!("plain text"), &json!("other text")));
        assert!(!nested_diff_applies(&json!([1]), &json!([1, 2])), "lists of other lengths are shown whole");
    }

    /// A plan as a saved plan file holds it: create, in-place update (tags and a JSON
    /// document), replace, delete, a sensitive value and output changes.
    fn sample_plan() -> Plan {
        let before_doc = r#"[{"name":"gw","image":"repo:v1","cpu":512,"environment":[{"name":"MODE","value":"a"}]}]"#;
        let after_doc = r#"[{"name":"gw","image":"repo:v2","cpu":512,"environment":[{"name":"MODE","value":"a"}]}]"#;
        serde_json::from_value(json!({
            "format_version": 1, "stack": "web", "destroy": false, "prior_lineage": "l-1", "prior_serial": 4,
            "params": {}, "outputs": {}, "external_outputs": {},
            "output_changes": {
                "vpc_id": { "before": "vpc-1", "after": "vpc-1", "after_unknown": false },
                "url": { "before": null, "after": null, "after_unknown": true }
            },
            "changes": [
                { "address": "subnet", "type": "aws_subnet", "action": "create",
                  "after": { "cidr_block": "10.0.1.0/24", "vpc_id": "vpc-1", "tags": { "Name": "a" } },
                  "computed": ["id", "arn"] },
                { "address": "vpc", "type": "aws_vpc", "action": "update", "prior_id": "vpc-1",
                  "before": { "id": "vpc-1", "cidr_block": "10.0.0.0/16", "tags": { "Env": "dev", "Team": "gw" } },
                  "after": { "cidr_block": "10.0.0.0/16", "tags": { "Env": "prod", "Team": "gw", "Cost": "7" } },
                  "changed": ["tags"] },
                { "address": "task", "type": "aws_ecs_task_definition", "action": "replace", "prior_id": "arn:td:1",
                  "create_before_destroy": true,
                  "before": { "id": "arn:td:1", "family": "gw", "container_definitions": before_doc, "revision": 1 },
                  "after": { "family": "gw", "container_definitions": after_doc },
                  "changed": ["container_definitions"], "replace_because": ["container_definitions"],
                  "computed": ["id", "arn", "revision"] },
                { "address": "secret", "type": "aws_secretsmanager_secret", "action": "update", "prior_id": "arn:s",
                  "before": { "id": "arn:s", "name": "s", "secret_string": "sha256:aa" },
                  "after": { "name": "s", "secret_string": "sha256:bb" },
                  "changed": ["secret_string"], "sensitive": ["secret_string"] },
                { "address": "old", "type": "aws_eip", "action": "delete", "prior_id": "eipalloc-1",
                  "before": { "id": "eipalloc-1", "domain": "vpc" } }
            ]
        }))
        .expect("a plan as saved")
    }

    #[test]
    fn the_human_plan_reads_as_terraforms() {
        insta::assert_snapshot!(plan(&sample_plan(), Style { color: false }));
    }

    #[test]
    fn a_plan_without_changes_says_so() {
        let mut p = sample_plan();
        p.changes.clear();
        p.output_changes.clear();
        insta::assert_snapshot!(plan(&p, Style { color: false }));
    }
}
