//! `aws_lb_listener`: a listener of an Application Load Balancer, with its default action.
//!
//! The base platform's listener answers `404 Instance not found` by default, and each tenant
//! adds a rule in front of it; the default action is therefore a fixed response, a forward to
//! one target group, or (the port-80 listener of an HTTPS platform) a redirect. ModifyListener
//! changes everything but the load balancer.
//!
//! An action may carry blocks its type does not name: only the named one is sent and compared,
//! as terraform-provider-aws's `expandLbListenerAction` (internal/service/elbv2/listener.go)
//! switches on `type` and reads that type's block alone. So one stack can hold both a
//! `fixed_response` and a `redirect` block and pick between them with
//! `type: '${param.certificate_arn ? "redirect" : "fixed-response"}'`.

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, FixedResponseActionConfig, Listener, ProtocolEnum, RedirectActionConfig, RedirectActionStatusCodeEnum,
};
use clawform_core::{Applied, FieldError, OpContext, ProviderError, Resource, Val};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use crate::clients::Clients;
use crate::elbv2::{describe_by_arns, describe_tags, Elbv2Tags, DESCRIBE_LISTENERS_BATCH};
use crate::error::sdk;
use crate::handler::{ArnForm, AwsResource};
use crate::support::opt;
use crate::support::tags;
use crate::support::tags::{create_tags, sync_tags, user_tags};

/// Content types a fixed response may have (ELBv2 API reference, FixedResponseActionConfig).
const CONTENT_TYPES: &[&str] = &["text/plain", "text/css", "text/html", "application/javascript", "application/json"];

/// What a redirect keeps of the request when a part is left out (ELBv2 API reference,
/// RedirectActionConfig; the defaults of terraform-provider-aws's `redirect` block).
const REDIRECT_DEFAULTS: [(&str, &str); 5] =
    [("host", "#{host}"), ("path", "/#{path}"), ("port", "#{port}"), ("protocol", "#{protocol}"), ("query", "#{query}")];

/// The longest fixed-response body AWS takes, in characters.
const MAX_MESSAGE_BODY: usize = 1024;

/// A load balancer listener, as the Terraform AWS provider's `aws_lb_listener`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LbListener {
    /// The ARN of the load balancer.
    pub load_balancer_arn: Val<String>,
    /// The port, 1 to 65535.
    pub port: Val<i32>,
    /// `HTTP` or `HTTPS`.
    pub protocol: Val<String>,
    /// The ARN of the default server certificate; required for `HTTPS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_arn: Option<Val<String>>,
    /// The TLS security policy for `HTTPS`; AWS picks its default without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_policy: Option<Val<String>>,
    /// What the listener does with requests no rule takes (exactly one block).
    pub default_action: Vec<ListenerAction>,
    /// Tags.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub tags: IndexMap<String, Val<String>>,
}

/// One `default_action` block. Written out, an action whose type is known keeps only the block
/// that type names (see the module's comment); one whose type is still an expression keeps all.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ListenerAction {
    /// `fixed-response` or `forward`.
    #[serde(rename = "type")]
    pub kind: Val<String>,
    /// The target group a `forward` action sends requests to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_group_arn: Option<Val<String>>,
    /// The response of a `fixed-response` action (exactly one block for that type).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fixed_response: Vec<FixedResponse>,
    /// Where a `redirect` action sends the client (exactly one block for that type).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirect: Vec<Redirect>,
}

impl Serialize for ListenerAction {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let action = if self.kind.literal().is_some() { self.effective() } else { self.clone() };
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("type", &action.kind)?;
        if let Some(group) = &action.target_group_arn {
            map.serialize_entry("target_group_arn", group)?;
        }
        if !action.fixed_response.is_empty() {
            map.serialize_entry("fixed_response", &action.fixed_response)?;
        }
        if !action.redirect.is_empty() {
            map.serialize_entry("redirect", &action.redirect)?;
        }
        map.end()
    }
}

/// The `redirect` block of an action. Each part left out keeps the request's own (AWS's
/// `#{host}`, `/#{path}`, `#{port}`, `#{protocol}`, `#{query}`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Redirect {
    /// `HTTP`, `HTTPS` or `#{protocol}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Val<String>>,
    /// The port, 1 to 65535, or `#{port}` (text, as Terraform's schema has it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<Val<String>>,
    /// The host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<Val<String>>,
    /// The absolute path, starting with `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<Val<String>>,
    /// The query, without the leading `?`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<Val<String>>,
    /// `HTTP_301` (permanent) or `HTTP_302` (temporary).
    pub status_code: Val<String>,
}

/// The `fixed_response` block of an action.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FixedResponse {
    /// `text/plain`, `text/css`, `text/html`, `application/javascript` or `application/json`.
    pub content_type: Val<String>,
    /// The body, up to 1024 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_body: Option<Val<String>>,
    /// The HTTP status code, `2XX`, `4XX` or `5XX` (AWS's default is 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<Val<String>>,
}

impl Resource for LbListener {
    const TYPE: &'static str = "aws_lb_listener";
    const COMPUTED: &'static [&'static str] = &["id", "arn"];
    const FORCE_NEW: &'static [&'static str] = &["load_balancer_arn"];
    const CREATE_BEFORE_DESTROY: Option<&'static [&'static str]> = Some(&["load_balancer_arn", "port"]);

    /// State keeps every block written; AWS holds only the one each action's type names.
    fn live_values(values: &Json) -> Option<Json> {
        named_blocks_only(values)
    }

    /// A `redirect` block as Terraform's schema has it: the parts left out carry its defaults
    /// (`#{host}`, `/#{path}`, `#{port}`, `#{protocol}`, `#{query}`: the request's own).
    fn terraform_values(values: &mut Json) {
        let Some(actions) = values.get_mut("default_action").and_then(Json::as_array_mut) else { return };
        for block in actions.iter_mut().filter_map(|a| a.get_mut("redirect")).filter_map(Json::as_array_mut).flatten() {
            let Some(block) = block.as_object_mut() else { continue };
            for (key, default) in REDIRECT_DEFAULTS {
                block.entry(key).or_insert_with(|| json!(default));
            }
        }
    }

    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(port) = self.port.literal() {
            if !(1..=65535).contains(port) {
                errors.push(FieldError::new("port", format!("{port} is not a port; expected 1 to 65535")));
            }
        }
        if let Some(protocol) = self.protocol.literal() {
            match protocol.as_str() {
                "HTTPS" if self.certificate_arn.is_none() => {
                    errors.push(FieldError::new("certificate_arn", "is missing; an HTTPS listener needs a certificate"))
                }
                "HTTP" if self.certificate_arn.is_some() || self.ssl_policy.is_some() => {
                    let field = if self.certificate_arn.is_some() { "certificate_arn" } else { "ssl_policy" };
                    errors.push(FieldError::new(field, "is set on an HTTP listener; expected it only with protocol HTTPS"));
                }
                "HTTP" | "HTTPS" => {}
                other => {
                    errors.push(FieldError::new("protocol", format!("`{other}` is not an Application Load Balancer protocol; expected `HTTP` or `HTTPS`")))
                }
            }
        }
        if self.default_action.len() != 1 {
            errors.push(FieldError::new("default_action", format!("has {} blocks; expected exactly 1", self.default_action.len())));
        }
        for (i, action) in self.default_action.iter().enumerate() {
            action.validate(&format!("default_action.{i}"), &mut errors);
        }
        errors
    }
}

impl ListenerAction {
    fn validate(&self, path: &str, out: &mut Vec<FieldError>) {
        let Some(kind) = self.kind.literal() else { return };
        // Blocks of other types are allowed and ignored (see the module's comment).
        match kind.as_str() {
            "forward" => {
                if self.target_group_arn.is_none() {
                    out.push(FieldError::new(format!("{path}.target_group_arn"), "is missing; a forward action needs a target group"));
                }
            }
            "redirect" => {
                if self.redirect.len() != 1 {
                    out.push(FieldError::new(format!("{path}.redirect"), format!("has {} blocks; a redirect action needs exactly 1", self.redirect.len())));
                }
                for (i, r) in self.redirect.iter().enumerate() {
                    r.validate(&format!("{path}.redirect.{i}"), out);
                }
            }
            "fixed-response" => {
                if self.fixed_response.len() != 1 {
                    out.push(FieldError::new(
                        format!("{path}.fixed_response"),
                        format!("has {} blocks; a fixed-response action needs exactly 1", self.fixed_response.len()),
                    ));
                }
                for (i, r) in self.fixed_response.iter().enumerate() {
                    r.validate(&format!("{path}.fixed_response.{i}"), out);
                }
            }
            other => out.push(FieldError::new(format!("{path}.type"), format!("`{other}` is not offered; expected `fixed-response`, `forward` or `redirect`"))),
        }
    }

    /// The action as AWS receives it: only the block its type names.
    fn effective(&self) -> ListenerAction {
        let kind = self.kind.literal().map(String::as_str);
        ListenerAction {
            kind: self.kind.clone(),
            target_group_arn: if kind == Some("forward") { self.target_group_arn.clone() } else { None },
            fixed_response: if kind == Some("fixed-response") { self.fixed_response.clone() } else { vec![] },
            redirect: if kind == Some("redirect") { self.redirect.clone() } else { vec![] },
        }
    }

    /// The action as the SDK sends it: the type and the one block it names.
    pub(crate) fn to_sdk(&self) -> Result<Action, ProviderError> {
        let kind = self.kind.value()?;
        let action = Action::builder().r#type(ActionTypeEnum::from(kind.as_str()));
        let action = match kind.as_str() {
            "forward" => action.set_target_group_arn(opt(&self.target_group_arn)?.cloned()),
            "fixed-response" => match self.fixed_response.first() {
                Some(r) => action.fixed_response_config(
                    FixedResponseActionConfig::builder()
                        .content_type(r.content_type.value()?)
                        .set_message_body(opt(&r.message_body)?.cloned())
                        .set_status_code(opt(&r.status_code)?.cloned())
                        .build(),
                ),
                None => action,
            },
            "redirect" => match self.redirect.first() {
                Some(r) => action.redirect_config(
                    RedirectActionConfig::builder()
                        .set_protocol(opt(&r.protocol)?.cloned())
                        .set_port(opt(&r.port)?.cloned())
                        .set_host(opt(&r.host)?.cloned())
                        .set_path(opt(&r.path)?.cloned())
                        .set_query(opt(&r.query)?.cloned())
                        .status_code(RedirectActionStatusCodeEnum::from(r.status_code.value()?.as_str()))
                        .build(),
                ),
                None => action,
            },
            _ => action,
        };
        Ok(action.build())
    }
}

impl Redirect {
    fn validate(&self, path: &str, out: &mut Vec<FieldError>) {
        if let Some(code) = self.status_code.literal() {
            if !matches!(code.as_str(), "HTTP_301" | "HTTP_302") {
                out.push(FieldError::new(format!("{path}.status_code"), format!("`{code}` is not offered; expected `HTTP_301` or `HTTP_302`")));
            }
        }
        if let Some(Val::Lit(protocol)) = &self.protocol {
            if !matches!(protocol.as_str(), "HTTP" | "HTTPS" | "#{protocol}") {
                out.push(FieldError::new(format!("{path}.protocol"), format!("`{protocol}` is not offered; expected `HTTP`, `HTTPS` or `#{{protocol}}`")));
            }
        }
        if let Some(Val::Lit(port)) = &self.port {
            if port != "#{port}" && !port.parse::<u16>().is_ok_and(|p| p >= 1) {
                out.push(FieldError::new(format!("{path}.port"), format!("`{port}` is not a port; expected 1 to 65535 or `#{{port}}`")));
            }
        }
    }
}

impl FixedResponse {
    fn validate(&self, path: &str, out: &mut Vec<FieldError>) {
        if let Some(t) = self.content_type.literal() {
            if !CONTENT_TYPES.contains(&t.as_str()) {
                out.push(FieldError::new(format!("{path}.content_type"), format!("`{t}` is not offered; expected one of {}", CONTENT_TYPES.join(", "))));
            }
        }
        if let Some(Val::Lit(body)) = &self.message_body {
            if body.chars().count() > MAX_MESSAGE_BODY {
                out.push(FieldError::new(
                    format!("{path}.message_body"),
                    format!("has {} characters; expected at most {MAX_MESSAGE_BODY}", body.chars().count()),
                ));
            }
        }
        if let Some(Val::Lit(code)) = &self.status_code {
            let ok = code.len() == 3 && code.starts_with(['2', '4', '5']) && code.chars().all(|c| c.is_ascii_digit());
            if !ok {
                out.push(FieldError::new(format!("{path}.status_code"), format!("`{code}` is not a status code AWS takes; expected 2XX, 4XX or 5XX")));
            }
        }
    }
}

impl LbListener {
    fn actions(&self) -> Result<Vec<Action>, ProviderError> {
        self.default_action.iter().map(ListenerAction::to_sdk).collect()
    }

    fn certificates(&self) -> Result<Option<Vec<Certificate>>, ProviderError> {
        Ok(opt(&self.certificate_arn)?.map(|arn| vec![Certificate::builder().certificate_arn(arn).build()]))
    }
}

/// A `redirect` block read from AWS.
pub(crate) fn redirect_from_sdk(r: &RedirectActionConfig) -> Redirect {
    let text = |v: Option<&str>| v.map(Val::from);
    Redirect {
        protocol: text(r.protocol()),
        port: text(r.port()),
        host: text(r.host()),
        path: text(r.path()),
        query: text(r.query()),
        status_code: r.status_code().map_or("", |c| c.as_str()).into(),
    }
}

/// `default_action` blocks as AWS holds them: only the block each type names.
fn named_blocks_only(values: &Json) -> Option<Json> {
    let mut out = values.clone();
    let actions = out.get_mut("default_action")?.as_array_mut()?;
    for action in actions {
        let Some(block) = action.as_object_mut() else { continue };
        let kind = block.get("type").and_then(Json::as_str).unwrap_or_default().to_string();
        for (key, named_by) in [("target_group_arn", "forward"), ("fixed_response", "fixed-response"), ("redirect", "redirect")] {
            if kind != named_by {
                block.remove(key);
            }
        }
    }
    Some(out)
}

/// A listener's default actions as `default_action` blocks.
fn actions_json(actions: &[Action]) -> Json {
    Json::Array(
        actions
            .iter()
            .map(|a| {
                let mut m = Map::new();
                m.insert("type".into(), json!(a.r#type().map(|t| t.as_str())));
                // A simple forward comes back with both the ARN and a one-group ForwardConfig.
                let group = a.target_group_arn().or_else(|| a.forward_config().and_then(|f| f.target_groups().first()).and_then(|t| t.target_group_arn()));
                if let Some(g) = group {
                    m.insert("target_group_arn".into(), json!(g));
                }
                if let Some(r) = a.redirect_config() {
                    let mut block = Map::new();
                    for (key, value) in [("protocol", r.protocol()), ("port", r.port()), ("host", r.host()), ("path", r.path()), ("query", r.query())] {
                        if let Some(v) = value {
                            block.insert(key.into(), json!(v));
                        }
                    }
                    block.insert("status_code".into(), json!(r.status_code().map(|c| c.as_str())));
                    m.insert("redirect".into(), json!([block]));
                }
                if let Some(r) = a.fixed_response_config() {
                    let mut block = Map::new();
                    block.insert("content_type".into(), json!(r.content_type()));
                    if let Some(body) = r.message_body() {
                        block.insert("message_body".into(), json!(body));
                    }
                    block.insert("status_code".into(), json!(r.status_code()));
                    m.insert("fixed_response".into(), json!([block]));
                }
                Json::Object(m)
            })
            .collect(),
    )
}

fn listener_json(id: &str, l: &Listener, tags: Map<String, Json>) -> Json {
    let mut attrs = Map::new();
    attrs.insert("id".into(), json!(id));
    attrs.insert("load_balancer_arn".into(), json!(l.load_balancer_arn()));
    attrs.insert("port".into(), json!(l.port()));
    attrs.insert("protocol".into(), json!(l.protocol().map(|p| p.as_str())));
    // Certificates and TLS policies mean something on HTTPS listeners only; moto (5.2.5) reports
    // a policy (ELBSecurityPolicy-2016-08) on HTTP listeners too.
    if l.protocol() == Some(&ProtocolEnum::Https) {
        if let Some(cert) = l.certificates().iter().find(|c| c.is_default() != Some(false)).and_then(|c| c.certificate_arn()) {
            attrs.insert("certificate_arn".into(), json!(cert));
        }
        if let Some(policy) = l.ssl_policy() {
            attrs.insert("ssl_policy".into(), json!(policy));
        }
    }
    attrs.insert("default_action".into(), actions_json(l.default_actions()));
    attrs.insert("tags".into(), Json::Object(tags));
    attrs.insert("arn".into(), json!(id));
    Json::Object(attrs)
}

#[async_trait]
impl AwsResource for LbListener {
    const ARN: ArnForm = ArnForm::Whole { service: "elasticloadbalancing", prefix: "listener/" };

    /// A listener is known by its load balancer and port; one an interrupted run made carries
    /// this resource's ownership tags. (AWS, and moto, may accept an identical CreateListener
    /// twice, so without this look a lost answer would leave a second listener.)
    async fn find_leftovers(&self, aws: &Clients, ctx: &OpContext) -> Result<Vec<String>, ProviderError> {
        let port = *self.port.value()?;
        let out =
            aws.elbv2.describe_listeners().load_balancer_arn(self.load_balancer_arn.value()?).send().await.map_err(|e| sdk("elbv2 DescribeListeners", e))?;
        let on_port: Vec<String> = out.listeners().iter().filter(|l| l.port() == Some(port)).filter_map(|l| l.listener_arn()).map(str::to_string).collect();
        if on_port.is_empty() {
            return Ok(Vec::new());
        }
        let mut found = describe_tags(aws, &on_port).await?;
        Ok(on_port.into_iter().filter(|arn| matches!(tags::taken(&found.remove(arn).unwrap_or_default(), ctx), tags::Taken::Ours)).collect())
    }

    async fn create(&self, aws: &Clients, ctx: &OpContext) -> Result<Applied, ProviderError> {
        let out = aws
            .elbv2
            .create_listener()
            .load_balancer_arn(self.load_balancer_arn.value()?)
            .port(*self.port.value()?)
            .protocol(ProtocolEnum::from(self.protocol.value()?.as_str()))
            .set_certificates(self.certificates()?)
            .set_ssl_policy(opt(&self.ssl_policy)?.cloned())
            .set_default_actions(Some(self.actions()?))
            .set_tags(Some(create_tags::<Elbv2Tags>(&self.tags, ctx)?))
            .send()
            .await
            .map_err(|e| sdk("elbv2 CreateListener", e))?;
        let arn = out
            .listeners()
            .first()
            .and_then(|l| l.listener_arn())
            .ok_or_else(|| ProviderError::api("elbv2 CreateListener returned no listener ARN"))?
            .to_string();
        Ok(Applied::with_arn(arn.clone(), arn))
    }

    async fn update(&self, aws: &Clients, _ctx: &OpContext, id: &str, prior: &Self) -> Result<Applied, ProviderError> {
        let same = self.port == prior.port
            && self.protocol == prior.protocol
            && self.certificate_arn == prior.certificate_arn
            && self.ssl_policy == prior.ssl_policy
            && self.default_action.iter().map(ListenerAction::effective).eq(prior.default_action.iter().map(ListenerAction::effective));
        if !same {
            aws.elbv2
                .modify_listener()
                .listener_arn(id)
                .port(*self.port.value()?)
                .protocol(ProtocolEnum::from(self.protocol.value()?.as_str()))
                .set_certificates(self.certificates()?)
                .set_ssl_policy(opt(&self.ssl_policy)?.cloned())
                .set_default_actions(Some(self.actions()?))
                .send()
                .await
                .map_err(|e| sdk("elbv2 ModifyListener", e))?;
        }
        sync_tags::<Elbv2Tags>(aws, id, &prior.tags, &self.tags).await?;
        Ok(Applied { id: id.to_string(), computed: Map::new() })
    }

    async fn delete(aws: &Clients, id: &str, _prior: &Json) -> Result<(), ProviderError> {
        aws.elbv2.delete_listener().listener_arn(id).send().await.map_err(|e| sdk("elbv2 DeleteListener", e))?;
        Ok(())
    }

    async fn read(aws: &Clients, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError> {
        let found = describe_by_arns(ids, DESCRIBE_LISTENERS_BATCH, |chunk| async move {
            let out = aws.elbv2.describe_listeners().set_listener_arns(Some(chunk)).send().await.map_err(|e| sdk("elbv2 DescribeListeners", e))?;
            Ok(out.listeners().to_vec())
        })
        .await?;
        let arns: Vec<String> = found.iter().filter_map(|l| l.listener_arn().map(str::to_string)).collect();
        let mut tags = describe_tags(aws, &arns).await?;
        Ok(ids
            .iter()
            .map(|id| {
                let l = found.iter().find(|l| l.listener_arn() == Some(id.as_str()))?;
                Some(listener_json(id, l, user_tags(tags.remove(id).as_deref().unwrap_or_default())))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn not_found_listener() -> LbListener {
        LbListener {
            load_balancer_arn: "arn:lb".into(),
            port: 80.into(),
            protocol: "HTTP".into(),
            default_action: vec![ListenerAction {
                kind: "fixed-response".into(),
                fixed_response: vec![FixedResponse {
                    content_type: "text/plain".into(),
                    message_body: Some("Instance not found".into()),
                    status_code: Some("404".into()),
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn paths(l: &LbListener) -> Vec<String> {
        l.validate().into_iter().map(|e| e.path).collect()
    }

    #[test]
    fn the_platforms_404_default_is_valid_and_maps_to_a_fixed_response() {
        let l = not_found_listener();
        assert!(paths(&l).is_empty());
        let action = l.actions().unwrap().remove(0);
        assert_eq!(action.r#type(), Some(&ActionTypeEnum::FixedResponse));
        let r = action.fixed_response_config().unwrap();
        assert_eq!((r.content_type(), r.message_body(), r.status_code()), (Some("text/plain"), Some("Instance not found"), Some("404")));
        assert_eq!(
            actions_json(&[action]),
            json!([{ "type": "fixed-response", "fixed_response": [{ "content_type": "text/plain", "message_body": "Instance not found", "status_code": "404" }] }])
        );
    }

    /// The port-80 listener of an HTTPS platform: both blocks written, the type picks one; only
    /// that one is sent, and drift compares only that one.
    #[test]
    fn only_the_block_the_type_names_is_sent_and_compared() {
        let mut l = not_found_listener();
        l.default_action[0].kind = "redirect".into();
        l.default_action[0].redirect =
            vec![Redirect { port: Some("443".into()), protocol: Some("HTTPS".into()), status_code: "HTTP_301".into(), ..Default::default() }];
        assert!(paths(&l).is_empty());
        let action = l.actions().unwrap().remove(0);
        assert_eq!(action.r#type(), Some(&ActionTypeEnum::Redirect));
        assert!(action.fixed_response_config().is_none());
        let r = action.redirect_config().unwrap();
        assert_eq!((r.port(), r.protocol(), r.status_code()), (Some("443"), Some("HTTPS"), Some(&RedirectActionStatusCodeEnum::Http301)));
        let state = serde_json::to_value(&l).unwrap();
        let held = named_blocks_only(&state).unwrap();
        assert_eq!(held["default_action"][0].get("fixed_response"), None);
        assert_eq!(held["default_action"][0]["redirect"][0]["port"], json!("443"));
        // What AWS answers (with its defaults for the parts left out) matches what state holds.
        let live = actions_json(&[action]);
        assert!(clawform_core::drift::equivalent(&held["default_action"], &live), "{live}");
        let mut terraform = held.clone();
        <LbListener as Resource>::terraform_values(&mut terraform);
        assert_eq!(
            terraform["default_action"][0]["redirect"][0],
            json!({"protocol": "HTTPS", "port": "443", "status_code": "HTTP_301", "host": "#{host}", "path": "/#{path}", "query": "#{query}"})
        );
    }

    #[test]
    fn validate_checks_actions_and_protocols() {
        let mut l = not_found_listener();
        l.default_action[0].fixed_response[0].status_code = Some("302".into());
        l.default_action[0].fixed_response[0].content_type = "text/xml".into();
        assert_eq!(paths(&l), vec!["default_action.0.fixed_response.0.content_type", "default_action.0.fixed_response.0.status_code"]);
        // A block of another type is ignored, as Terraform ignores it.
        let mut l = not_found_listener();
        l.default_action[0].kind = "forward".into();
        assert_eq!(paths(&l), vec!["default_action.0.target_group_arn"]);
        l.default_action[0].kind = "redirect".into();
        assert_eq!(paths(&l), vec!["default_action.0.redirect"]);
        l.default_action[0].redirect =
            vec![Redirect { port: Some("0".into()), protocol: Some("FTP".into()), status_code: "HTTP_308".into(), ..Default::default() }];
        assert_eq!(paths(&l), vec!["default_action.0.redirect.0.status_code", "default_action.0.redirect.0.protocol", "default_action.0.redirect.0.port"]);
        let mut l = not_found_listener();
        l.protocol = "HTTPS".into();
        assert_eq!(paths(&l), vec!["certificate_arn"]);
        l.protocol = "TCP".into();
        l.default_action.clear();
        assert_eq!(paths(&l), vec!["protocol", "default_action"]);
    }
}
