//! `aws_lb_listener_rule`: a rule on a listener that sends requests matching its conditions
//! (path patterns, host names) to a target group, or answers them itself.
//!
//! Each tenant adds one rule to the shared listener, and tenants are created concurrently, so a
//! rule without a `priority` takes the lowest priority free on the listener when it is created
//! ([`free_priority`]): when CreateRule answers `PriorityInUse` because another create took that
//! priority first, the rules are read again and the next free one is tried, after a short random
//! pause, up to [`CREATE_ATTEMPTS`] times. The priority taken is returned as a computed attribute,
//! so state keeps it and `${rule.priority}` can name it; a stack that later sets `priority` moves
//! the rule there (SetRulePriorities).
//!
//! A rule with exactly the conditions of one already on the listener could never match a request
//! (the one with the lower priority takes them all): create adopts such a rule when it carries
//! this resource's ownership tags (a run that crashed before saving state left it) and refuses it
//! otherwise.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{Action, HostHeaderConditionConfig, PathPatternConditionConfig, Rule, RuleCondition, RulePriorityPair};
use clawform_core::{Applied, FieldError, OpContext, ProviderError, Resource, Val};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use crate::clients::Clients;
use crate::elbv2::listener::{redirect_from_sdk, FixedResponse, LbListener, ListenerAction};
use crate::elbv2::{describe_by_arns, describe_tags, Elbv2Tags, DESCRIBE_RULES_BATCH, DESCRIBE_RULES_PAGE_SIZE};
use crate::error::sdk;
use crate::handler::{decode, ArnForm, AwsResource};
use crate::support::opt;
use crate::support::tags::{create_tags, sync_tags, taken, user_tags, Taken};

/// The highest rule priority AWS takes (priorities run from 1; "Quotas for your Application Load
/// Balancers").
pub const MAX_PRIORITY: u32 = 50_000;

/// How many priorities a create without `priority` tries before giving up: each failed attempt
/// means another create took the priority first, so this bounds a burst of concurrent creates on
/// one listener, well above what one load balancer's 100 rules allow.
pub const CREATE_ATTEMPTS: u32 = 50;

/// Condition values per rule, over all its conditions ("Quotas for your Application Load
/// Balancers": 5).
const MAX_CONDITION_VALUES: usize = 5;

/// The longest path pattern or host name AWS takes in a condition, in characters.
const MAX_CONDITION_VALUE: usize = 128;

/// A listener rule, as the Terraform AWS provider's `aws_lb_listener_rule`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LbListenerRule {
    /// The listener the rule belongs to.
    pub listener_arn: Val<String>,
    /// 1 to 50000, unique on the listener; lower is evaluated first. Without it, the lowest
    /// priority free when the rule is created is taken and kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Val<i32>>,
    /// What requests must match: at least one block, each with one condition type.
    pub condition: Vec<Condition>,
    /// What is done with matching requests (exactly one block, as a listener's default action).
    pub action: Vec<ListenerAction>,
    /// Tags.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub tags: IndexMap<String, Val<String>>,
}

/// One `condition` block: exactly one of its condition types.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// Request paths, such as `/abc123/*` (`*` matches any characters, `?` one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path_pattern: Vec<ConditionValues>,
    /// Host names, such as `*.example.com`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_header: Vec<ConditionValues>,
}

/// The values of one condition type: a request matches when it matches any of them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConditionValues {
    /// The patterns, up to 128 characters each.
    pub values: Vec<Val<String>>,
}

impl Resource for LbListenerRule {
    const TYPE: &'static str = "aws_lb_listener_rule";
    // `priority` is also computed: when the stack leaves it out, the one taken at create time is
    // kept in state, may be referenced, and is not a change at the next plan.
    const COMPUTED: &'static [&'static str] = &["id", "arn", "priority"];
    const FORCE_NEW: &'static [&'static str] = &["listener_arn"];
    const CREATE_BEFORE_DESTROY: Option<&'static [&'static str]> = Some(&["listener_arn", "priority"]);

    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(Val::Lit(p)) = &self.priority {
            if !(1..=MAX_PRIORITY as i64).contains(&i64::from(*p)) {
                errors.push(FieldError::new("priority", format!("is {p}; expected 1 to {MAX_PRIORITY}")));
            }
        }
        validate_conditions(&self.condition, &mut errors);
        // A rule's action takes the same shapes, and the same checks, as a listener's default
        // action: run the listener's checks and name the rule's attribute in what they find.
        let as_listener = LbListener { port: 80.into(), protocol: "HTTP".into(), default_action: self.action.clone(), ..Default::default() };
        for e in as_listener.validate() {
            if let Some(rest) = e.path.strip_prefix("default_action") {
                errors.push(FieldError::new(format!("action{rest}"), e.message));
            }
        }
        errors
    }
}

/// The condition types a block may hold, by attribute and by AWS field name.
const CONDITION_TYPES: [(&str, &str); 2] = [("path_pattern", "path-pattern"), ("host_header", "host-header")];

impl Condition {
    /// The blocks of each condition type, by attribute name.
    fn types(&self) -> [(&'static str, &[ConditionValues]); 2] {
        [("path_pattern", &self.path_pattern), ("host_header", &self.host_header)]
    }
}

fn validate_conditions(conditions: &[Condition], out: &mut Vec<FieldError>) {
    if conditions.is_empty() {
        out.push(FieldError::new("condition", "has no blocks; a rule needs at least 1 condition"));
    }
    let mut total = 0;
    for (i, c) in conditions.iter().enumerate() {
        let set: Vec<(&str, &[ConditionValues])> = c.types().into_iter().filter(|(_, blocks)| !blocks.is_empty()).collect();
        if set.len() != 1 {
            out.push(FieldError::new(
                format!("condition.{i}"),
                format!("sets {} condition types; expected exactly one of path_pattern, host_header", set.len()),
            ));
        }
        for (name, blocks) in set {
            if conditions[..i].iter().any(|earlier| earlier.types().iter().any(|(n, b)| *n == name && !b.is_empty())) {
                out.push(FieldError::new(format!("condition.{i}.{name}"), format!("is in an earlier condition too; AWS takes {name} once per rule")));
            }
            if blocks.len() != 1 {
                out.push(FieldError::new(format!("condition.{i}.{name}"), format!("has {} blocks; expected 1", blocks.len())));
            }
            for (j, block) in blocks.iter().enumerate() {
                let path = format!("condition.{i}.{name}.{j}.values");
                if block.values.is_empty() {
                    out.push(FieldError::new(&path, "is empty; expected at least 1 value"));
                }
                total += block.values.len();
                for (k, v) in block.values.iter().enumerate() {
                    if let Some(text) = v.literal() {
                        if let Some(problem) = value_problem(name, text) {
                            out.push(FieldError::new(format!("{path}.{k}"), problem));
                        }
                    }
                }
            }
        }
    }
    if total > MAX_CONDITION_VALUES {
        out.push(FieldError::new("condition", format!("has {total} values in all; AWS allows at most {MAX_CONDITION_VALUES} condition values per rule")));
    }
}

/// What is wrong with a path pattern or host name, by AWS's rules ("Condition types for
/// listener rules"), if anything.
fn value_problem(kind: &str, text: &str) -> Option<String> {
    let length = text.chars().count();
    if length == 0 || length > MAX_CONDITION_VALUE {
        return Some(format!("has {length} characters; expected 1 to {MAX_CONDITION_VALUE}"));
    }
    let allowed: fn(char) -> bool = if kind == "path_pattern" {
        |c| c.is_ascii_alphanumeric() || "_-.$/~\"'@:+&*?".contains(c)
    } else {
        |c| c.is_ascii_alphanumeric() || "-.*?".contains(c)
    };
    if let Some(c) = text.chars().find(|c| !allowed(*c)) {
        return Some(format!("`{c}` is not allowed in a {}; see AWS's condition types for listener rules", kind.replace('_', " ")));
    }
    if kind == "host_header" && !text.contains('.') {
        return Some(format!("`{text}` has no `.`; expected a host name such as `app.example.com` or `*.example.com`"));
    }
    None
}

/// The lowest priority from 1 to [`MAX_PRIORITY`] not in `used`, or `None` when all are taken.
pub fn lowest_free(used: &[u32]) -> Option<u32> {
    let mut used: Vec<u32> = used.iter().copied().filter(|p| (1..=MAX_PRIORITY).contains(p)).collect();
    used.sort_unstable();
    used.dedup();
    let mut want = 1;
    for p in used {
        if p != want {
            break;
        }
        want += 1;
    }
    (want <= MAX_PRIORITY).then_some(want)
}

/// Every rule of the listener, its default rule included: DescribeRules at its largest page size,
/// every page (moto (5.2.5) pages by 50 when no page size is given).
async fn listener_rules(aws: &Clients, listener_arn: &str) -> Result<Vec<Rule>, ProviderError> {
    aws.elbv2
        .describe_rules()
        .listener_arn(listener_arn)
        .page_size(DESCRIBE_RULES_PAGE_SIZE)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<Rule>, _>>()
        .await
        .map_err(|e| sdk("elbv2 DescribeRules", e))
}

/// The priorities `rules` hold (the default rule's `default` is none).
fn priorities(rules: &[Rule]) -> Vec<u32> {
    rules.iter().filter_map(|r| r.priority()?.parse().ok()).collect()
}

/// The priorities in use on the listener.
pub async fn used_priorities(aws: &Clients, listener_arn: &str) -> Result<Vec<u32>, ProviderError> {
    Ok(priorities(&listener_rules(aws, listener_arn).await?))
}

/// The lowest priority free on the listener now. Another create may take it before this caller
/// does; the rule's create handles that by trying the next one.
pub async fn free_priority(aws: &Clients, listener_arn: &str) -> Result<u32, ProviderError> {
    lowest_free(&used_priorities(aws, listener_arn).await?).ok_or_else(|| full(listener_arn))
}

fn full(listener_arn: &str) -> ProviderError {
    ProviderError::api(format!("elbv2 CreateRule: every priority from 1 to {MAX_PRIORITY} is in use on {listener_arn}; expected a listener with room"))
}

/// A random pause before the next attempt, up to 25 ms times the attempt (at most 1 s), so the
/// creates that collided do not collide again in step.
fn backoff(attempt: u32) -> Duration {
    let cap = (25 * u64::from(attempt)).clamp(1, 1000);
    let random = uuid::Uuid::new_v4().as_u128() as u64;
    Duration::from_millis(1 + random % cap)
}

/// The listener a rule belongs to, from the rule's ARN
/// (`…:listener-rule/app/LB/LB-ID/LISTENER-ID/RULE-ID` → `…:listener/app/LB/LB-ID/LISTENER-ID`).
fn listener_of(rule_arn: &str) -> String {
    let listener = rule_arn.replacen(":listener-rule/", ":listener/", 1);
    listener.rsplit_once('/').map_or(listener.clone(), |(l, _)| l.to_string())
}

/// A condition as (AWS field, sorted values), to compare conditions whatever their order.
fn condition_key(c: &RuleCondition) -> (String, Vec<String>) {
    let mut values: Vec<String> = match (c.path_pattern_config(), c.host_header_config()) {
        (Some(p), _) => p.values().to_vec(),
        (_, Some(h)) => h.values().to_vec(),
        _ => c.values().to_vec(),
    };
    values.sort();
    (c.field().unwrap_or_default().to_string(), values)
}

fn conditions_key(conditions: &[RuleCondition]) -> Vec<(String, Vec<String>)> {
    let mut keys: Vec<_> = conditions.iter().map(condition_key).collect();
    keys.sort();
    keys
}

fn action_to_sdk(a: &ListenerAction) -> Result<Action, ProviderError> {
    a.to_sdk()
}

fn action_from_sdk(a: &Action) -> ListenerAction {
    // A simple forward comes back with both the ARN and a one-group ForwardConfig.
    let group = a.target_group_arn().or_else(|| a.forward_config().and_then(|f| f.target_groups().first()).and_then(|t| t.target_group_arn()));
    ListenerAction {
        kind: a.r#type().map_or("", |t| t.as_str()).into(),
        target_group_arn: group.map(Into::into),
        fixed_response: a
            .fixed_response_config()
            .map(|r| FixedResponse {
                content_type: r.content_type().unwrap_or_default().into(),
                message_body: r.message_body().map(Into::into),
                status_code: r.status_code().map(Into::into),
            })
            .into_iter()
            .collect(),
        redirect: a.redirect_config().map(redirect_from_sdk).into_iter().collect(),
    }
}

fn condition_from_sdk(c: &RuleCondition) -> Option<Condition> {
    let (field, values) = condition_key(c);
    let block = vec![ConditionValues { values: values.into_iter().map(Val::Lit).collect() }];
    match field.as_str() {
        "path-pattern" => Some(Condition { path_pattern: block, ..Default::default() }),
        "host-header" => Some(Condition { host_header: block, ..Default::default() }),
        // Condition types this provider does not offer (set outside clawform) are left out.
        _ => None,
    }
}

impl LbListenerRule {
    fn conditions(&self) -> Result<Vec<RuleCondition>, ProviderError> {
        let mut out = Vec::new();
        for c in &self.condition {
            for ((name, blocks), (_, field)) in c.types().into_iter().zip(CONDITION_TYPES) {
                for block in blocks {
                    let values: Vec<String> = block.values.iter().map(|v| Ok(v.value()?.clone())).collect::<Result<_, ProviderError>>()?;
                    let condition = RuleCondition::builder().field(field);
                    out.push(
                        match name {
                            "path_pattern" => condition.path_pattern_config(PathPatternConditionConfig::builder().set_values(Some(values)).build()),
                            _ => condition.host_header_config(HostHeaderConditionConfig::builder().set_values(Some(values)).build()),
                        }
                        .build(),
                    );
                }
            }
        }
        Ok(out)
    }

    fn actions(&self) -> Result<Vec<Action>, ProviderError> {
        self.action.iter().map(action_to_sdk).collect()
    }

    /// Moves rule `arn` to `priority`; a priority another rule holds is refused with what to do.
    async fn set_priority(aws: &Clients, arn: &str, priority: i32) -> Result<(), ProviderError> {
        let pair = RulePriorityPair::builder().rule_arn(arn).priority(priority).build();
        match aws.elbv2.set_rule_priorities().rule_priorities(pair).send().await.map_err(|e| sdk("elbv2 SetRulePriorities", e)) {
            Ok(_) => Ok(()),
            Err(e) if e.has_code("PriorityInUse") => Err(ProviderError::api(format!(
                "{}; expected priority {priority} free on the listener, or no priority to keep the one the rule has",
                e.message
            ))),
            Err(e) => Err(e),
        }
    }

    /// A rule on the listener with exactly this rule's conditions: adopted when it is this
    /// resource's own (left by a crashed run), refused when it is another's.
    async fn twin(&self, aws: &Clients, ctx: &OpContext, rules: &[Rule], conditions: &[RuleCondition]) -> Result<Option<Applied>, ProviderError> {
        let key = conditions_key(conditions);
        let arns: Vec<String> = rules
            .iter()
            .filter(|r| r.is_default() != Some(true) && conditions_key(r.conditions()) == key)
            .filter_map(|r| r.rule_arn().map(str::to_string))
            .collect();
        if arns.is_empty() {
            return Ok(None);
        }
        let tags = describe_tags(aws, &arns).await?;
        let owner = |arn: &String| taken(tags.get(arn).map(Vec::as_slice).unwrap_or_default(), ctx);
        if let Some(arn) = arns.iter().find(|&arn| matches!(owner(arn), Taken::Ours)) {
            return self.adopt(aws, ctx, arn).await.map(Some);
        }
        let whose = match owner(&arns[0]) {
            Taken::Theirs(whose) => whose,
            Taken::Ours => String::new(),
        };
        Err(ProviderError::api(format!(
            "elbv2 CreateRule: rule {} ({whose}) already has these conditions on the listener, so this rule could never match a request; expected conditions no other rule has",
            arns[0]
        )))
    }

    /// Adopts rule `arn`, which a crashed run created for this resource, and brings it in line.
    async fn adopt(&self, aws: &Clients, ctx: &OpContext, arn: &str) -> Result<Applied, ProviderError> {
        let live = LbListenerRule::read(aws, &[arn.to_string()])
            .await?
            .pop()
            .flatten()
            .ok_or_else(|| ProviderError::not_found(format!("aws_lb_listener_rule: {arn} vanished while being adopted")))?;
        let live_priority = live.get("priority").cloned().unwrap_or(Json::Null);
        let mut applied = self.update(aws, ctx, arn, &decode::<LbListenerRule>(&live)?).await?;
        applied.computed.insert("arn".into(), json!(arn));
        applied.computed.entry("priority").or_insert(live_priority);
        Ok(applied)
    }

    /// Creates the rule at `priority`.
    async fn create_at(
        &self,
        aws: &Clients,
        listener: &str,
        priority: u32,
        conditions: &[RuleCondition],
        tags: &[aws_sdk_elasticloadbalancingv2::types::Tag],
    ) -> Result<Applied, ProviderError> {
        let out = aws
            .elbv2
            .create_rule()
            .listener_arn(listener)
            .priority(priority as i32)
            .set_conditions(Some(conditions.to_vec()))
            .set_actions(Some(self.actions()?))
            .set_tags(Some(tags.to_vec()))
            .send()
            .await
            .map_err(|e| sdk("elbv2 CreateRule", e))?;
        let arn = out.rules().first().and_then(|r| r.rule_arn()).ok_or_else(|| ProviderError::api("elbv2 CreateRule returned no rule ARN"))?.to_string();
        let mut computed = Map::new();
        computed.insert("arn".into(), json!(arn));
        computed.insert("priority".into(), json!(priority));
        Ok(Applied { id: arn, computed })
    }
}

/// The priority rule `arn` has now.
async fn live_priority(aws: &Clients, arn: &str) -> Result<Option<i32>, ProviderError> {
    let out = aws.elbv2.describe_rules().rule_arns(arn).send().await.map_err(|e| sdk("elbv2 DescribeRules", e))?;
    Ok(out.rules().first().and_then(|r| r.priority()?.parse().ok()))
}

fn rule_json(id: &str, rule: &Rule, tags: Map<String, Json>) -> Result<Json, ProviderError> {
    let shaped = LbListenerRule {
        listener_arn: listener_of(id).into(),
        priority: rule.priority().and_then(|p| p.parse().ok()).map(Val::Lit),
        condition: rule.conditions().iter().filter_map(condition_from_sdk).collect(),
        action: rule.actions().iter().map(action_from_sdk).collect(),
        tags: IndexMap::new(),
    };
    let mut attrs = Map::new();
    attrs.insert("id".into(), json!(id));
    if let Json::Object(fields) = serde_json::to_value(&shaped).map_err(|e| ProviderError::api(format!("aws_lb_listener_rule: {e}")))? {
        attrs.extend(fields);
    }
    attrs.insert("tags".into(), Json::Object(tags));
    attrs.insert("arn".into(), json!(id));
    Ok(Json::Object(attrs))
}

#[async_trait]
impl AwsResource for LbListenerRule {
    const ARN: ArnForm = ArnForm::Whole { service: "elasticloadbalancing", prefix: "listener-rule/" };

    async fn create(&self, aws: &Clients, ctx: &OpContext) -> Result<Applied, ProviderError> {
        let listener = self.listener_arn.value()?;
        let conditions = self.conditions()?;
        let tags = create_tags::<Elbv2Tags>(&self.tags, ctx)?;
        let rules = listener_rules(aws, listener).await?;
        if let Some(applied) = self.twin(aws, ctx, &rules, &conditions).await? {
            return Ok(applied);
        }
        if let Some(p) = opt(&self.priority)? {
            return match self.create_at(aws, listener, *p as u32, &conditions, &tags).await {
                Err(e) if e.has_code("PriorityInUse") => {
                    Err(ProviderError::api(format!("{}; expected priority {p} free on {listener}, or no priority to take the lowest free one", e.message)))
                }
                other => other,
            };
        }
        let mut used = priorities(&rules);
        // Priorities refused in this create stay excluded even if a re-read does not show them yet.
        let mut refused = Vec::new();
        for attempt in 1..=CREATE_ATTEMPTS {
            used.extend_from_slice(&refused);
            let priority = lowest_free(&used).ok_or_else(|| full(listener))?;
            match self.create_at(aws, listener, priority, &conditions, &tags).await {
                Err(e) if e.has_code("PriorityInUse") => {
                    tracing::debug!(listener, priority, attempt, "priority taken by a concurrent create; trying the next free one");
                    refused.push(priority);
                }
                other => return other,
            }
            tokio::time::sleep(backoff(attempt)).await;
            // The priority may be taken by this very rule: a first attempt whose answer was lost
            // and that the SDK sent again.
            let rules = listener_rules(aws, listener).await?;
            if let Some(applied) = self.twin(aws, ctx, &rules, &conditions).await? {
                return Ok(applied);
            }
            used = priorities(&rules);
        }
        Err(ProviderError::api(format!(
            "elbv2 CreateRule: gave up after {CREATE_ATTEMPTS} attempts on {listener}, each priority taken by a concurrent create first; expected fewer creates at once, or try again"
        )))
    }

    async fn update(&self, aws: &Clients, _ctx: &OpContext, id: &str, prior: &Self) -> Result<Applied, ProviderError> {
        if self.condition != prior.condition || self.action != prior.action {
            aws.elbv2
                .modify_rule()
                .rule_arn(id)
                .set_conditions(Some(self.conditions()?))
                .set_actions(Some(self.actions()?))
                .send()
                .await
                .map_err(|e| sdk("elbv2 ModifyRule", e))?;
        }
        let mut computed = Map::new();
        if let Some(want) = opt(&self.priority)?.copied() {
            // State keeps the priority as computed; without it, ask AWS (one call).
            let now = match opt(&prior.priority)?.copied() {
                Some(p) => Some(p),
                None => live_priority(aws, id).await?,
            };
            // moto (5.2.5) refuses a rule's move to the priority it already has: only move it.
            if now != Some(want) {
                LbListenerRule::set_priority(aws, id, want).await?;
            }
            computed.insert("priority".into(), json!(want));
        }
        sync_tags::<Elbv2Tags>(aws, id, &prior.tags, &self.tags).await?;
        Ok(Applied { id: id.to_string(), computed })
    }

    async fn delete(aws: &Clients, id: &str, _prior: &Json) -> Result<(), ProviderError> {
        aws.elbv2.delete_rule().rule_arn(id).send().await.map_err(|e| sdk("elbv2 DeleteRule", e))?;
        Ok(())
    }

    async fn read(aws: &Clients, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError> {
        let found = describe_by_arns(ids, DESCRIBE_RULES_BATCH, |chunk| async move {
            let out = aws
                .elbv2
                .describe_rules()
                .set_rule_arns(Some(chunk))
                .page_size(DESCRIBE_RULES_PAGE_SIZE)
                .send()
                .await
                .map_err(|e| sdk("elbv2 DescribeRules", e))?;
            Ok(out.rules().to_vec())
        })
        .await?;
        let arns: Vec<String> = found.iter().filter_map(|r| r.rule_arn().map(str::to_string)).collect();
        let mut tags = describe_tags(aws, &arns).await?;
        ids.iter()
            .map(|id| match found.iter().find(|r| r.rule_arn() == Some(id.as_str())) {
                Some(rule) => rule_json(id, rule, user_tags(tags.remove(id).as_deref().unwrap_or_default())).map(Some),
                None => Ok(None),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_free_fills_the_first_gap() {
        assert_eq!(lowest_free(&[]), Some(1));
        assert_eq!(lowest_free(&[1, 2, 3]), Some(4));
        assert_eq!(lowest_free(&[2, 3]), Some(1));
        assert_eq!(lowest_free(&[3, 1, 5, 2]), Some(4), "order does not matter");
        assert_eq!(lowest_free(&[1, 1, 2, 2]), Some(3), "duplicates do not matter");
        assert_eq!(lowest_free(&[0, 50_001, 1]), Some(2), "out of range priorities are ignored");
        let all: Vec<u32> = (1..=MAX_PRIORITY).collect();
        assert_eq!(lowest_free(&all), None);
        assert_eq!(lowest_free(&all[1..]), Some(1));
        assert_eq!(lowest_free(&all[..all.len() - 1]), Some(MAX_PRIORITY));
    }

    fn tenant_rule() -> LbListenerRule {
        let yaml = r#"
listener_arn: arn:aws:elasticloadbalancing:us-west-2:123456789012:listener/app/alb/50dc6c495c0c9188/f2f7dc8efc522ab2
condition:
  - path_pattern:
      - values: ["/abc123/*"]
action:
  - type: forward
    target_group_arn: arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/openclaw-abc123/73e2d6bc24d8a067
"#;
        serde_yaml::from_str(yaml).unwrap()
    }

    fn paths(r: &LbListenerRule) -> Vec<String> {
        r.validate().into_iter().map(|e| e.path).collect()
    }

    fn values(v: &[&str]) -> Vec<ConditionValues> {
        vec![ConditionValues { values: v.iter().map(|s| Val::Lit(s.to_string())).collect() }]
    }

    #[test]
    fn the_tenant_rule_is_valid_and_maps_to_a_path_pattern_condition() {
        let r = tenant_rule();
        assert!(paths(&r).is_empty(), "{:?}", r.validate());
        let c = r.conditions().unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].field(), Some("path-pattern"));
        assert_eq!(c[0].path_pattern_config().unwrap().values(), ["/abc123/*"]);
        assert_eq!(condition_from_sdk(&c[0]), Some(r.condition[0].clone()), "what is sent reads back as written");
        let a = r.actions().unwrap();
        assert_eq!(action_from_sdk(&a[0]), r.action[0]);
    }

    #[test]
    fn priorities_run_from_1_to_50000() {
        let mut r = tenant_rule();
        for ok in [1, 50_000] {
            r.priority = Some(ok.into());
            assert!(paths(&r).is_empty(), "{ok}");
        }
        for bad in [0, -1, 50_001] {
            r.priority = Some(bad.into());
            assert_eq!(paths(&r), vec!["priority"], "{bad}");
        }
    }

    #[test]
    fn at_most_5_condition_values_in_all() {
        let mut r = tenant_rule();
        r.condition = vec![
            Condition { path_pattern: values(&["/a/*", "/b/*", "/c/*"]), ..Default::default() },
            Condition { host_header: values(&["a.example.com", "b.example.com"]), ..Default::default() },
        ];
        assert!(paths(&r).is_empty(), "{:?}", r.validate());
        r.condition[1].host_header[0].values.push("c.example.com".into());
        let errors = r.validate();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].path, "condition");
        assert!(errors[0].message.contains("6 values") && errors[0].message.contains("at most 5"), "{}", errors[0].message);
    }

    #[test]
    fn conditions_follow_aws_rules() {
        let mut r = tenant_rule();
        r.condition = vec![Condition { path_pattern: values(&[&format!("/{}", "a".repeat(127))]), ..Default::default() }];
        assert!(paths(&r).is_empty());
        r.condition = vec![Condition { path_pattern: values(&[&format!("/{}", "a".repeat(128))]), ..Default::default() }];
        assert_eq!(paths(&r), vec!["condition.0.path_pattern.0.values.0"]);
        r.condition = vec![Condition { path_pattern: values(&["/a b"]), host_header: values(&["localhost"]) }];
        assert_eq!(paths(&r), vec!["condition.0", "condition.0.path_pattern.0.values.0", "condition.0.host_header.0.values.0"]);
        r.condition = vec![Condition::default()];
        assert_eq!(paths(&r), vec!["condition.0"]);
        r.condition = vec![];
        assert_eq!(paths(&r), vec!["condition"]);
        r.condition =
            vec![Condition { path_pattern: values(&["/a/*"]), ..Default::default() }, Condition { path_pattern: values(&["/b/*"]), ..Default::default() }];
        assert_eq!(paths(&r), vec!["condition.1.path_pattern"]);
        r.condition = vec![Condition { path_pattern: values(&[]), ..Default::default() }];
        assert_eq!(paths(&r), vec!["condition.0.path_pattern.0.values"]);
    }

    #[test]
    fn actions_get_the_listeners_checks_under_their_own_name() {
        let mut r = tenant_rule();
        r.action[0].target_group_arn = None;
        assert_eq!(paths(&r), vec!["action.0.target_group_arn"]);
        r.action.clear();
        assert_eq!(paths(&r), vec!["action"]);
    }

    #[test]
    fn the_listener_is_in_the_rule_arn() {
        assert_eq!(
            listener_of("arn:aws:elasticloadbalancing:us-west-2:123456789012:listener-rule/app/alb/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee"),
            "arn:aws:elasticloadbalancing:us-west-2:123456789012:listener/app/alb/50dc6c495c0c9188/f2f7dc8efc522ab2"
        );
    }

    #[test]
    fn backoff_is_short_random_and_bounded() {
        for attempt in [1, 10, CREATE_ATTEMPTS] {
            let d = backoff(attempt);
            assert!(d >= Duration::from_millis(1) && d <= Duration::from_millis(1001), "{d:?}");
        }
    }
}
