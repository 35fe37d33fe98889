//! The nested blocks of `aws_autoscaling_group`, each a list of objects as in Terraform's JSON
//! plan, with their checks and their conversions to and from the Auto Scaling API's types.

use aws_sdk_autoscaling::types::{
    InstancesDistribution as SdkDistribution, LaunchTemplate as SdkMixedTemplate, LaunchTemplateOverrides, LaunchTemplateSpecification as SdkSpec,
    MixedInstancesPolicy as SdkPolicy,
};
use clawform_core::{FieldError, ProviderError, Val};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use crate::support::opt;
use crate::support::tags::{ADDRESS_TAG, STACK_TAG};

/// The group's `launch_template` block.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GroupLaunchTemplate {
    /// The launch template's id.
    pub id: Val<String>,
    /// A version number, `$Latest` or `$Default` (AWS uses `$Default` when it is absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Val<String>>,
}

impl GroupLaunchTemplate {
    pub(crate) fn to_sdk(&self) -> Result<SdkSpec, ProviderError> {
        Ok(SdkSpec::builder().launch_template_id(self.id.value()?).set_version(opt(&self.version)?.cloned()).build())
    }

    pub(crate) fn json(spec: &SdkSpec) -> Json {
        let mut m = Map::new();
        m.insert("id".into(), json!(spec.launch_template_id()));
        if let Some(v) = spec.version() {
            m.insert("version".into(), json!(v));
        }
        Json::Object(m)
    }
}

/// The group's `mixed_instances_policy` block: instance types and the On-Demand/Spot split.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MixedInstancesPolicy {
    /// How instances are split between On-Demand and Spot (at most one block).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instances_distribution: Vec<InstancesDistribution>,
    /// The launch template and the instance types that override its own (one block).
    pub launch_template: Vec<MixedLaunchTemplate>,
}

/// The policy's `instances_distribution` block.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InstancesDistribution {
    /// How many instances are always On-Demand (AWS's default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_demand_base_capacity: Option<Val<i32>>,
    /// The percentage of instances above the base that are On-Demand, 0 to 100 (AWS's default
    /// 100); 0 means all Spot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_demand_percentage_above_base_capacity: Option<Val<i32>>,
    /// `price-capacity-optimized`, `capacity-optimized`, `capacity-optimized-prioritized` or
    /// `lowest-price`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spot_allocation_strategy: Option<Val<String>>,
}

/// The policy's `launch_template` block.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MixedLaunchTemplate {
    /// The launch template (one block).
    pub launch_template_specification: Vec<LaunchTemplateSpecification>,
    /// Instance types to launch instead of the template's, in order of preference.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub r#override: Vec<InstanceOverride>,
}

/// The `launch_template_specification` block of a mixed instances policy.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LaunchTemplateSpecification {
    /// The launch template's id.
    pub launch_template_id: Val<String>,
    /// A version number, `$Latest` or `$Default` (AWS uses `$Default` when it is absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Val<String>>,
}

/// One `override` block: an instance type the group may launch.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InstanceOverride {
    /// The instance type, such as `c7i-flex.large`.
    pub instance_type: Val<String>,
}

/// One `tag` block of the group.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AutoscalingTag {
    /// The tag's key.
    pub key: Val<String>,
    /// The tag's value.
    pub value: Val<String>,
    /// Whether instances the group launches get the tag too.
    pub propagate_at_launch: Val<bool>,
}

const SPOT_STRATEGIES: &[&str] = &["price-capacity-optimized", "capacity-optimized", "capacity-optimized-prioritized", "lowest-price"];

fn one_block<T>(path: &str, blocks: &[T], required: bool, out: &mut Vec<FieldError>) {
    match blocks.len() {
        0 if required => out.push(FieldError::new(path, "is missing; expected one block")),
        0 | 1 => {}
        n => out.push(FieldError::new(path, format!("has {n} blocks; expected {}", if required { "one" } else { "at most one" }))),
    }
}

impl MixedInstancesPolicy {
    pub(crate) fn validate(&self, path: &str, out: &mut Vec<FieldError>) {
        one_block(&format!("{path}.instances_distribution"), &self.instances_distribution, false, out);
        one_block(&format!("{path}.launch_template"), &self.launch_template, true, out);
        for (i, d) in self.instances_distribution.iter().enumerate() {
            let at = format!("{path}.instances_distribution.{i}");
            if let Some(Val::Lit(base)) = &d.on_demand_base_capacity {
                if *base < 0 {
                    out.push(FieldError::new(format!("{at}.on_demand_base_capacity"), format!("is {base}; expected 0 or more")));
                }
            }
            if let Some(Val::Lit(pct)) = &d.on_demand_percentage_above_base_capacity {
                if !(0..=100).contains(pct) {
                    out.push(FieldError::new(format!("{at}.on_demand_percentage_above_base_capacity"), format!("is {pct}; expected 0 to 100")));
                }
            }
            if let Some(Val::Lit(s)) = &d.spot_allocation_strategy {
                if !SPOT_STRATEGIES.contains(&s.as_str()) {
                    out.push(FieldError::new(
                        format!("{at}.spot_allocation_strategy"),
                        format!("`{s}` is not a Spot allocation strategy; expected one of {}", SPOT_STRATEGIES.join(", ")),
                    ));
                }
            }
        }
        for (i, t) in self.launch_template.iter().enumerate() {
            let at = format!("{path}.launch_template.{i}");
            one_block(&format!("{at}.launch_template_specification"), &t.launch_template_specification, true, out);
            for (j, o) in t.r#override.iter().enumerate() {
                if o.instance_type.literal().is_some_and(|t| t.trim().is_empty()) {
                    out.push(FieldError::new(format!("{at}.override.{j}.instance_type"), "is empty; expected an instance type such as `c7i-flex.large`"));
                }
            }
        }
    }

    /// The whole policy as Auto Scaling takes it.
    pub(crate) fn to_sdk(&self) -> Result<SdkPolicy, ProviderError> {
        let template =
            self.launch_template.first().ok_or_else(|| ProviderError::invalid("aws_autoscaling_group: mixed_instances_policy has no launch_template block"))?;
        let spec = template.launch_template_specification.first().ok_or_else(|| {
            ProviderError::invalid("aws_autoscaling_group: mixed_instances_policy.launch_template has no launch_template_specification block")
        })?;
        let mut sdk_template = SdkMixedTemplate::builder().launch_template_specification(
            SdkSpec::builder().launch_template_id(spec.launch_template_id.value()?).set_version(opt(&spec.version)?.cloned()).build(),
        );
        for o in &template.r#override {
            sdk_template = sdk_template.overrides(LaunchTemplateOverrides::builder().instance_type(o.instance_type.value()?).build());
        }
        let mut policy = SdkPolicy::builder().launch_template(sdk_template.build());
        if let Some(d) = self.instances_distribution.first() {
            policy = policy.instances_distribution(
                SdkDistribution::builder()
                    .set_on_demand_base_capacity(opt(&d.on_demand_base_capacity)?.copied())
                    .set_on_demand_percentage_above_base_capacity(opt(&d.on_demand_percentage_above_base_capacity)?.copied())
                    .set_spot_allocation_strategy(opt(&d.spot_allocation_strategy)?.cloned())
                    .build(),
            );
        }
        Ok(policy.build())
    }

    /// A policy read from Auto Scaling, in the block's shape (only the attributes it declares).
    pub(crate) fn json(policy: &SdkPolicy) -> Json {
        let mut m = Map::new();
        if let Some(d) = policy.instances_distribution() {
            let mut dist = Map::new();
            if let Some(v) = d.on_demand_base_capacity() {
                dist.insert("on_demand_base_capacity".into(), json!(v));
            }
            if let Some(v) = d.on_demand_percentage_above_base_capacity() {
                dist.insert("on_demand_percentage_above_base_capacity".into(), json!(v));
            }
            if let Some(v) = d.spot_allocation_strategy() {
                dist.insert("spot_allocation_strategy".into(), json!(v));
            }
            m.insert("instances_distribution".into(), json!([dist]));
        }
        if let Some(t) = policy.launch_template() {
            let mut block = Map::new();
            if let Some(spec) = t.launch_template_specification() {
                let mut s = Map::new();
                s.insert("launch_template_id".into(), json!(spec.launch_template_id()));
                if let Some(v) = spec.version() {
                    s.insert("version".into(), json!(v));
                }
                block.insert("launch_template_specification".into(), json!([s]));
            }
            let overrides: Vec<Json> = t.overrides().iter().map(|o| json!({ "instance_type": o.instance_type() })).collect();
            if !overrides.is_empty() {
                block.insert("override".into(), Json::Array(overrides));
            }
            m.insert("launch_template".into(), json!([block]));
        }
        Json::Object(m)
    }
}

impl AutoscalingTag {
    /// Keys of 1 to 128 characters and values up to 256 (Auto Scaling API reference, Tag), each
    /// key once, and none of the keys AWS or clawform keep for themselves.
    pub(crate) fn validate_all(tags: &[AutoscalingTag], out: &mut Vec<FieldError>) {
        let mut seen: Vec<&str> = Vec::new();
        for (i, t) in tags.iter().enumerate() {
            if let Some(key) = t.key.literal() {
                let length = key.chars().count();
                if !(1..=128).contains(&length) {
                    out.push(FieldError::new(format!("tag.{i}.key"), format!("has {length} characters; expected 1 to 128")));
                }
                if key.starts_with("aws:") || key == STACK_TAG || key == ADDRESS_TAG {
                    out.push(FieldError::new(
                        format!("tag.{i}.key"),
                        format!("`{key}` is reserved; expected a key not starting with `aws:` and not a clawform ownership tag"),
                    ));
                }
                if seen.contains(&key.as_str()) {
                    out.push(FieldError::new(format!("tag.{i}.key"), format!("`{key}` is given twice; expected each key once")));
                }
                seen.push(key);
            }
            if let Some(value) = t.value.literal() {
                if value.chars().count() > 256 {
                    out.push(FieldError::new(format!("tag.{i}.value"), format!("has {} characters; expected at most 256", value.chars().count())));
                }
            }
        }
    }
}
