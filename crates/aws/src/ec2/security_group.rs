//! `aws_security_group`: a VPC security group with its rules inline.
//!
//! As in Terraform, the group holds exactly the rules declared: after create the allow-all
//! egress rule AWS adds is revoked, and updates revoke the rules dropped and authorize the
//! rules added. AWS keeps rules as (protocol, ports, one source, description) entries and groups
//! them by protocol and ports when it describes a group; this module works on those entries
//! and, when reading, groups them back by protocol, ports and description.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, ResourceType, UserIdGroupPair};
use clawform_core::{Applied, FieldError, OpContext, ProviderError, Resource, Val};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use crate::clients::Clients;
use crate::ec2::{arn, carries_ownership, check_cidr, id_filters, owned_by, tag_spec, Ec2Tags};
use crate::error::sdk;
use crate::handler::{ArnForm, AwsResource};
use crate::support::tags::{sync_tags, user_tags};
use crate::support::{has_any_code, opt, retry_while, undo_create, wait_for};

/// How long create waits for EC2 to show a new group: the Terraform AWS provider's create
/// timeout for `aws_security_group` (internal/service/ec2/vpc_security_group.go: 10 minutes,
/// spent in `waitSecurityGroupCreated`).
const CREATE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// How long each call right after the create tolerates EC2 not knowing the new group yet: the
/// Terraform AWS provider's `ec2PropagationTimeout` (2 minutes, internal/service/ec2/consts.go).
const PROPAGATION_TIMEOUT: Duration = Duration::from_secs(2 * 60);

/// How long delete retries while the group is in use, then waits for it to be gone: the
/// Terraform AWS provider's delete timeout for `aws_security_group` (15 minutes,
/// internal/service/ec2/vpc_security_group.go, `resourceSecurityGroupDelete`).
const DELETE_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// Why a call naming the group `id` created a moment ago is worth another try: EC2 answers
/// `InvalidGroup.NotFound` ("The security group 'sg-…' does not exist") until the new group has
/// propagated (AWS: "Eventual consistency in the Amazon EC2 API"; Terraform waits for the group
/// to be seen, `waitSecurityGroupCreated`). Only a refusal naming this very group is retried: a
/// rule naming a group that does not exist fails at once.
pub(crate) fn new_group_unseen(err: &ProviderError, id: &str) -> Option<&'static str> {
    (err.has_code("InvalidGroup.NotFound") && err.message.contains(id)).then_some("EC2 does not know the new group yet")
}

/// Why a DeleteSecurityGroup refusal is worth another try: `DependencyViolation` and
/// `InvalidGroup.InUse` while network interfaces (of a load balancer, tasks or instances being
/// deleted) or another group's rules still use it (Terraform:
/// internal/service/ec2/vpc_security_group.go, `resourceSecurityGroupDelete`).
pub(crate) fn group_in_use(err: &ProviderError) -> Option<&'static str> {
    has_any_code(err, &["DependencyViolation", "InvalidGroup.InUse"]).then_some("network interfaces or other groups still use the group")
}

/// The description a group gets when none is given (Terraform's is "Managed by Terraform").
pub const DEFAULT_DESCRIPTION: &str = "Managed by clawform";

fn default_description() -> Val<String> {
    Val::Lit(DEFAULT_DESCRIPTION.to_string())
}

/// A security group, as the Terraform AWS provider's `aws_security_group`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroup {
    /// The group's name, unique in its VPC.
    pub name: Val<String>,
    /// What the group is for; AWS cannot change it afterwards.
    #[serde(default = "default_description")]
    pub description: Val<String>,
    /// The VPC the group belongs to.
    pub vpc_id: Val<String>,
    /// Rules for traffic coming in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress: Vec<SecurityGroupRule>,
    /// Rules for traffic going out; none means no traffic may leave.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress: Vec<SecurityGroupRule>,
    /// Tags.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub tags: IndexMap<String, Val<String>>,
}

/// One `ingress` or `egress` rule: a protocol, a port range and the sources (or destinations).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroupRule {
    /// First port (for ICMP: the type, -1 for all); 0 when the protocol is `-1`.
    pub from_port: Val<i32>,
    /// Last port (for ICMP: the code, -1 for all); 0 when the protocol is `-1`.
    pub to_port: Val<i32>,
    /// `tcp`, `udp`, `icmp`, `icmpv6`, `-1` (every protocol) or an IP protocol number.
    pub protocol: Val<String>,
    /// IPv4 CIDR blocks the rule allows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cidr_blocks: Vec<Val<String>>,
    /// Ids of security groups whose members the rule allows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<Val<String>>,
    /// What the rule is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Val<String>>,
}

impl Resource for SecurityGroup {
    const TYPE: &'static str = "aws_security_group";
    const COMPUTED: &'static [&'static str] = &["id", "arn", "owner_id"];
    const FORCE_NEW: &'static [&'static str] = &["name", "description", "vpc_id"];
    const CREATE_BEFORE_DESTROY: Option<&'static [&'static str]> = Some(&["name", "vpc_id"]);

    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(name) = self.name.literal() {
            check_text("name", name, &mut errors);
            if name.starts_with("sg-") {
                errors.push(FieldError::new("name", format!("`{name}` starts with `sg-`, which AWS keeps for group ids; expected another name")));
            }
        }
        if let Some(description) = self.description.literal() {
            check_text("description", description, &mut errors);
        }
        for (direction, rules) in [("ingress", &self.ingress), ("egress", &self.egress)] {
            let mut seen = Vec::new();
            for (i, rule) in rules.iter().enumerate() {
                rule.validate(&format!("{direction}.{i}"), &mut seen, &mut errors);
            }
        }
        errors
    }
}

/// Names and descriptions: AWS takes up to 255 characters from a small set.
fn check_text(path: &str, text: &str, out: &mut Vec<FieldError>) {
    const EXTRA: &str = " ._-:/()#,@[]+=&;{}!$*";
    if text.is_empty() || text.chars().count() > 255 {
        out.push(FieldError::new(path, format!("has {} characters; expected 1 to 255", text.chars().count())));
    }
    if let Some(bad) = text.chars().find(|c| !c.is_ascii_alphanumeric() && !EXTRA.contains(*c)) {
        out.push(FieldError::new(path, format!("`{bad}` is not allowed; expected letters, digits, spaces and {}", EXTRA.trim())));
    }
}

/// The protocol as AWS names it when it reads a rule back: numbers of named protocols become
/// names (`6` → `tcp`), so `6` and `tcp` compare equal. `None` when it is not a protocol.
fn canonical_protocol(protocol: &str) -> Option<String> {
    match protocol {
        "-1" | "tcp" | "udp" | "icmp" | "icmpv6" => Some(protocol.to_string()),
        _ => match protocol.parse::<u8>().ok()? {
            1 => Some("icmp".into()),
            6 => Some("tcp".into()),
            17 => Some("udp".into()),
            58 => Some("icmpv6".into()),
            n => Some(n.to_string()),
        },
    }
}

/// AWS reads ports back only for TCP, UDP and ICMP; for every other protocol it allows all
/// traffic whatever ports are given, so those rules are written and read with ports 0 and 0.
fn has_ports(protocol: &str) -> bool {
    matches!(protocol, "tcp" | "udp" | "icmp" | "icmpv6")
}

impl SecurityGroupRule {
    fn validate(&self, path: &str, seen: &mut Vec<Atom>, out: &mut Vec<FieldError>) {
        if let Some(p) = self.protocol.literal() {
            match canonical_protocol(p) {
                None => out.push(FieldError::new(
                    format!("{path}.protocol"),
                    format!("`{p}` is not a protocol; expected `tcp`, `udp`, `icmp`, `icmpv6`, `-1` (all) or a number 0 to 255"),
                )),
                Some(p) => {
                    if let (Some(&from), Some(&to)) = (self.from_port.literal(), self.to_port.literal()) {
                        check_ports(path, &p, from, to, out);
                    }
                }
            }
        }
        if self.cidr_blocks.is_empty() && self.security_groups.is_empty() {
            out.push(FieldError::new(path, "has no source; expected `cidr_blocks` or `security_groups`"));
        }
        for (i, cidr) in self.cidr_blocks.iter().enumerate() {
            check_cidr(&format!("{path}.cidr_blocks.{i}"), cidr, 0..=32, out);
        }
        if let Some(Val::Lit(d)) = &self.description {
            check_text(&format!("{path}.description"), d, out);
        }
        // AWS refuses a rule it already has (InvalidPermission.Duplicate), description or not.
        if let Ok(atoms) = self.atoms() {
            for atom in atoms {
                if seen.iter().any(|s| s.same_rule(&atom)) {
                    out.push(FieldError::new(path, format!("allows {} a second time; expected each source once per protocol and ports", atom.source.text())));
                } else {
                    seen.push(atom);
                }
            }
        }
    }

    /// The rule's entries, one per source, as AWS keeps them.
    fn atoms(&self) -> Result<Vec<Atom>, ProviderError> {
        let raw = self.protocol.value()?;
        let protocol = canonical_protocol(raw).ok_or_else(|| ProviderError::invalid(format!("aws_security_group: `{raw}` is not a protocol")))?;
        let (from, to) = if has_ports(&protocol) { (*self.from_port.value()?, *self.to_port.value()?) } else { (0, 0) };
        let description = opt(&self.description)?.filter(|d| !d.is_empty()).cloned();
        let cidrs = self.cidr_blocks.iter().map(|c| Ok(Source::Cidr(c.value()?.clone())));
        let groups = self.security_groups.iter().map(|g| Ok(Source::Group(g.value()?.clone())));
        cidrs
            .chain(groups)
            .map(|source: Result<Source, ProviderError>| Ok(Atom { protocol: protocol.clone(), from, to, source: source?, description: description.clone() }))
            .collect()
    }
}

fn check_ports(path: &str, protocol: &str, from: i32, to: i32, out: &mut Vec<FieldError>) {
    let mut bad = |field: &str, message: String| out.push(FieldError::new(format!("{path}.{field}"), message));
    match protocol {
        "tcp" | "udp" => {
            for (field, port) in [("from_port", from), ("to_port", to)] {
                if !(0..=65535).contains(&port) {
                    bad(field, format!("{port} is not a port; expected 0 to 65535"));
                }
            }
            if from > to {
                bad("to_port", format!("{to} is below from_port {from}; expected from_port <= to_port"));
            }
        }
        // For ICMP the "ports" are the type and the code, with -1 for any.
        "icmp" | "icmpv6" => {
            for (field, value) in [("from_port", from), ("to_port", to)] {
                if !(-1..=255).contains(&value) {
                    bad(field, format!("{value} is not an ICMP type or code; expected -1 (any) to 255"));
                }
            }
        }
        _ => {
            for (field, port) in [("from_port", from), ("to_port", to)] {
                if port != 0 {
                    bad(field, format!("is {port}, but protocol `{protocol}` covers every port; expected 0"));
                }
            }
        }
    }
}

/// What a rule entry allows traffic from (ingress) or to (egress).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    Cidr(String),
    Group(String),
}

impl Source {
    fn text(&self) -> &str {
        match self {
            Source::Cidr(c) | Source::Group(c) => c,
        }
    }
}

/// One entry of a group's rules, as AWS keeps them: one source each.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Atom {
    protocol: String,
    from: i32,
    to: i32,
    source: Source,
    description: Option<String>,
}

impl Atom {
    /// Whether AWS would see the two as one rule (it ignores descriptions when matching).
    fn same_rule(&self, other: &Atom) -> bool {
        self.protocol == other.protocol && self.from == other.from && self.to == other.to && self.source == other.source
    }
}

fn all_atoms(rules: &[SecurityGroupRule]) -> Result<Vec<Atom>, ProviderError> {
    let mut out = Vec::new();
    for rule in rules {
        out.extend(rule.atoms()?);
    }
    Ok(out)
}

/// Entries as IpPermissions, one per protocol and port range, with their descriptions. Revokes
/// carry the descriptions too, as Terraform's do: AWS matches on the rest, and moto (5.2.5)
/// refuses to revoke a group-sourced rule whose description is not repeated.
fn permissions(atoms: &[&Atom]) -> Vec<IpPermission> {
    let mut grouped: Vec<(&str, i32, i32, Vec<&Atom>)> = Vec::new();
    for atom in atoms {
        match grouped.iter_mut().find(|g| g.0 == atom.protocol && g.1 == atom.from && g.2 == atom.to) {
            Some(g) => g.3.push(atom),
            None => grouped.push((&atom.protocol, atom.from, atom.to, vec![atom])),
        }
    }
    grouped
        .into_iter()
        .map(|(protocol, from, to, atoms)| {
            let mut p = IpPermission::builder().ip_protocol(protocol);
            if has_ports(protocol) {
                p = p.from_port(from).to_port(to);
            }
            for a in atoms {
                p = match &a.source {
                    Source::Cidr(c) => p.ip_ranges(IpRange::builder().cidr_ip(c).set_description(a.description.clone()).build()),
                    Source::Group(g) => p.user_id_group_pairs(UserIdGroupPair::builder().group_id(g).set_description(a.description.clone()).build()),
                };
            }
            p.build()
        })
        .collect()
}

/// Entries read from AWS's IpPermissions.
fn atoms_of(perms: &[IpPermission]) -> Vec<Atom> {
    let mut out = Vec::new();
    for p in perms {
        let raw = p.ip_protocol().unwrap_or("-1");
        let protocol = canonical_protocol(raw).unwrap_or_else(|| raw.to_string());
        let (from, to) = if has_ports(&protocol) { (p.from_port().unwrap_or(0), p.to_port().unwrap_or(0)) } else { (0, 0) };
        let atom = |source, description: Option<&str>| Atom {
            protocol: protocol.clone(),
            from,
            to,
            source,
            description: description.filter(|d| !d.is_empty()).map(str::to_string),
        };
        out.extend(p.ip_ranges().iter().filter_map(|r| Some(atom(Source::Cidr(r.cidr_ip()?.to_string()), r.description()))));
        out.extend(p.user_id_group_pairs().iter().filter_map(|g| Some(atom(Source::Group(g.group_id()?.to_string()), g.description()))));
    }
    out
}

/// Entries grouped into rules shaped like [`SecurityGroupRule`], sorted so reads are stable.
fn rules_json(atoms: &[Atom]) -> Json {
    let mut rules: Vec<(&Atom, Vec<&str>, Vec<&str>)> = Vec::new();
    for atom in atoms {
        let i =
            match rules.iter().position(|(a, _, _)| a.protocol == atom.protocol && a.from == atom.from && a.to == atom.to && a.description == atom.description)
            {
                Some(i) => i,
                None => {
                    rules.push((atom, Vec::new(), Vec::new()));
                    rules.len() - 1
                }
            };
        match &atom.source {
            Source::Cidr(c) => rules[i].1.push(c),
            Source::Group(g) => rules[i].2.push(g),
        }
    }
    rules.sort_by(|a, b| (a.0.from, a.0.to, &a.0.protocol, &a.0.description).cmp(&(b.0.from, b.0.to, &b.0.protocol, &b.0.description)));
    Json::Array(
        rules
            .into_iter()
            .map(|(a, cidrs, groups)| {
                let mut m = Map::new();
                m.insert("from_port".into(), json!(a.from));
                m.insert("to_port".into(), json!(a.to));
                m.insert("protocol".into(), json!(a.protocol));
                if !cidrs.is_empty() {
                    m.insert("cidr_blocks".into(), json!(cidrs));
                }
                if !groups.is_empty() {
                    m.insert("security_groups".into(), json!(groups));
                }
                if let Some(d) = &a.description {
                    m.insert("description".into(), json!(d));
                }
                Json::Object(m)
            })
            .collect(),
    )
}

#[derive(Clone, Copy)]
enum Direction {
    Ingress,
    Egress,
}

async fn authorize(aws: &Clients, id: &str, direction: Direction, atoms: &[&Atom]) -> Result<(), ProviderError> {
    if atoms.is_empty() {
        return Ok(());
    }
    match authorize_call(aws, id, direction, permissions(atoms)).await {
        // A rule already there: a retried call whose first answer was lost (AWS applied the
        // whole batch), or a rule added outside clawform. AWS refuses the whole batch for one
        // duplicate, so add the rules one by one, each duplicate meaning "already done".
        Err(e) if e.has_code("InvalidPermission.Duplicate") => {
            for atom in atoms {
                match authorize_call(aws, id, direction, permissions(&[atom])).await {
                    Err(e) if !e.has_code("InvalidPermission.Duplicate") => return Err(e),
                    _ => {}
                }
            }
            Ok(())
        }
        other => other,
    }
}

async fn authorize_call(aws: &Clients, id: &str, direction: Direction, perms: Vec<IpPermission>) -> Result<(), ProviderError> {
    match direction {
        Direction::Ingress => aws
            .ec2
            .authorize_security_group_ingress()
            .group_id(id)
            .set_ip_permissions(Some(perms))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk("ec2 AuthorizeSecurityGroupIngress", e)),
        Direction::Egress => aws
            .ec2
            .authorize_security_group_egress()
            .group_id(id)
            .set_ip_permissions(Some(perms))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk("ec2 AuthorizeSecurityGroupEgress", e)),
    }
}

async fn revoke(aws: &Clients, id: &str, direction: Direction, atoms: &[&Atom]) -> Result<(), ProviderError> {
    if atoms.is_empty() {
        return Ok(());
    }
    match revoke_call(aws, id, direction, permissions(atoms)).await {
        // A rule already gone (a retried call whose first answer was lost, or a change outside
        // clawform): revoke one by one, each missing rule meaning "already done".
        Err(e) if e.has_code("InvalidPermission.NotFound") => {
            for atom in atoms {
                match revoke_call(aws, id, direction, permissions(&[atom])).await {
                    Err(e) if !e.has_code("InvalidPermission.NotFound") => return Err(e),
                    _ => {}
                }
            }
            Ok(())
        }
        other => other,
    }
}

async fn revoke_call(aws: &Clients, id: &str, direction: Direction, perms: Vec<IpPermission>) -> Result<(), ProviderError> {
    match direction {
        Direction::Ingress => aws
            .ec2
            .revoke_security_group_ingress()
            .group_id(id)
            .set_ip_permissions(Some(perms))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk("ec2 RevokeSecurityGroupIngress", e)),
        Direction::Egress => aws
            .ec2
            .revoke_security_group_egress()
            .group_id(id)
            .set_ip_permissions(Some(perms))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk("ec2 RevokeSecurityGroupEgress", e)),
    }
}

/// Brings one direction's rules from `old` to `new`: revokes first, so a rule whose only change
/// is its description is revoked and authorized again rather than refused as a duplicate.
async fn sync_rules(aws: &Clients, id: &str, direction: Direction, old: &[Atom], new: &[Atom]) -> Result<(), ProviderError> {
    let removed: Vec<&Atom> = old.iter().filter(|o| !new.contains(o)).collect();
    let added: Vec<&Atom> = new.iter().filter(|n| !old.contains(n)).collect();
    revoke(aws, id, direction, &removed).await?;
    authorize(aws, id, direction, &added).await
}

impl SecurityGroup {
    /// After CreateSecurityGroup: drops the allow-all egress AWS adds, authorizes the declared
    /// rules, and returns the computed attributes.
    async fn finish_create(&self, aws: &Clients, id: &str) -> Result<Map<String, Json>, ProviderError> {
        // Revoke what AWS actually added (0.0.0.0/0, and ::/0 in a VPC with IPv6) rather than
        // guess; the same call gives the owner, which CreateSecurityGroup does not return.
        let unseen = |e: &ProviderError| new_group_unseen(e, id);
        let out = retry_while(&format!("new security group {id} to be known to EC2"), CREATE_TIMEOUT, unseen, || async {
            aws.ec2.describe_security_groups().group_ids(id).send().await.map_err(|e| sdk("ec2 DescribeSecurityGroups", e))
        })
        .await?;
        let group = out.security_groups().first().ok_or_else(|| ProviderError::api(format!("ec2 DescribeSecurityGroups did not return the new group {id}")))?;
        // Seen by one call is not yet seen by all: each call below tolerates the group's own
        // NotFound for a while too.
        let defaults = group.ip_permissions_egress().to_vec();
        if !defaults.is_empty() {
            let revoked = retry_while(&format!("new security group {id} to be known to EC2"), PROPAGATION_TIMEOUT, unseen, || {
                revoke_call(aws, id, Direction::Egress, defaults.clone())
            })
            .await;
            match revoked {
                // Already revoked: a retry after a lost answer.
                Err(e) if e.has_code("InvalidPermission.NotFound") => {}
                other => other?,
            }
        }
        let (ingress, egress) = (all_atoms(&self.ingress)?, all_atoms(&self.egress)?);
        let (ingress, egress): (Vec<&Atom>, Vec<&Atom>) = (ingress.iter().collect(), egress.iter().collect());
        retry_while(&format!("new security group {id} to be known to EC2"), PROPAGATION_TIMEOUT, unseen, || authorize(aws, id, Direction::Ingress, &ingress))
            .await?;
        retry_while(&format!("new security group {id} to be known to EC2"), PROPAGATION_TIMEOUT, unseen, || authorize(aws, id, Direction::Egress, &egress))
            .await?;
        let owner = group.owner_id().unwrap_or_default();
        let mut computed = Map::new();
        computed.insert("arn".into(), json!(group.security_group_arn().map(str::to_string).unwrap_or_else(|| arn(aws, owner, "security-group", id))));
        computed.insert("owner_id".into(), json!(owner));
        Ok(computed)
    }
}

#[async_trait]
impl AwsResource for SecurityGroup {
    const ARN: ArnForm = ArnForm::IdAfter { service: "ec2", prefix: "security-group/" };

    async fn find_leftovers(&self, aws: &Clients, ctx: &OpContext) -> Result<Vec<String>, ProviderError> {
        let out = aws.ec2.describe_security_groups().set_filters(Some(owned_by(ctx))).send().await.map_err(|e| sdk("ec2 DescribeSecurityGroups", e))?;
        Ok(out.security_groups().iter().filter(|g| carries_ownership(g.tags(), ctx)).filter_map(|g| g.group_id()).map(str::to_string).collect())
    }

    async fn create(&self, aws: &Clients, ctx: &OpContext) -> Result<Applied, ProviderError> {
        // Resolve every rule before creating anything.
        all_atoms(&self.ingress)?;
        all_atoms(&self.egress)?;
        let out = aws
            .ec2
            .create_security_group()
            .group_name(self.name.value()?)
            .description(self.description.value()?)
            .vpc_id(self.vpc_id.value()?)
            .tag_specifications(tag_spec(ResourceType::SecurityGroup, &self.tags, ctx)?)
            .send()
            .await
            .map_err(|e| sdk("ec2 CreateSecurityGroup", e))?;
        let id = out.group_id().ok_or_else(|| ProviderError::api("ec2 CreateSecurityGroup returned no group id"))?.to_string();
        match self.finish_create(aws, &id).await {
            Ok(computed) => Ok(Applied { id, computed }),
            Err(e) => Err(undo_create(e, SecurityGroup::delete(aws, &id, &Json::Null)).await),
        }
    }

    async fn update(&self, aws: &Clients, _ctx: &OpContext, id: &str, prior: &Self) -> Result<Applied, ProviderError> {
        sync_rules(aws, id, Direction::Ingress, &all_atoms(&prior.ingress)?, &all_atoms(&self.ingress)?).await?;
        sync_rules(aws, id, Direction::Egress, &all_atoms(&prior.egress)?, &all_atoms(&self.egress)?).await?;
        sync_tags::<Ec2Tags>(aws, id, &prior.tags, &self.tags).await?;
        Ok(Applied { id: id.to_string(), computed: Map::new() })
    }

    /// Retries while the group is in use, then waits until EC2 no longer lists it (Terraform:
    /// `RetryUntilNotFound` after the delete). A group already gone answers
    /// `InvalidGroup.NotFound`, which is NotFound: done.
    async fn delete(aws: &Clients, id: &str, _prior: &Json) -> Result<(), ProviderError> {
        retry_while(&format!("security group {id} to be released by network interfaces and other groups"), DELETE_TIMEOUT, group_in_use, || async {
            aws.ec2.delete_security_group().group_id(id).send().await.map_err(|e| sdk("ec2 DeleteSecurityGroup", e))
        })
        .await?;
        wait_for(&format!("security group {id} to be gone"), PROPAGATION_TIMEOUT, || async {
            let out = aws
                .ec2
                .describe_security_groups()
                .filters(Filter::builder().name("group-id").values(id).build())
                .send()
                .await
                .map_err(|e| sdk("ec2 DescribeSecurityGroups", e))?;
            Ok(out.security_groups().is_empty().then_some(()))
        })
        .await
    }

    async fn read(aws: &Clients, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError> {
        let mut found = Vec::new();
        for filter in id_filters("group-id", ids) {
            let page: Vec<_> = aws
                .ec2
                .describe_security_groups()
                .filters(filter)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<_, _>>()
                .await
                .map_err(|e| sdk("ec2 DescribeSecurityGroups", e))?;
            found.extend(page);
        }
        Ok(ids
            .iter()
            .map(|id| {
                let group = found.iter().find(|g| g.group_id() == Some(id.as_str()))?;
                let owner = group.owner_id().unwrap_or_default();
                let mut attrs = Map::new();
                attrs.insert("id".into(), json!(id));
                attrs.insert("name".into(), json!(group.group_name()));
                attrs.insert("description".into(), json!(group.description()));
                attrs.insert("vpc_id".into(), json!(group.vpc_id()));
                attrs.insert("ingress".into(), rules_json(&atoms_of(group.ip_permissions())));
                attrs.insert("egress".into(), rules_json(&atoms_of(group.ip_permissions_egress())));
                attrs.insert("tags".into(), Json::Object(user_tags(group.tags())));
                attrs.insert("arn".into(), json!(group.security_group_arn().map(str::to_string).unwrap_or_else(|| arn(aws, owner, "security-group", id))));
                attrs.insert("owner_id".into(), json!(owner));
                Some(Json::Object(attrs))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: &str, text: &str) -> ProviderError {
        ProviderError::api(format!("ec2 AuthorizeSecurityGroupIngress: {code}: {text}")).with_code(code)
    }

    #[test]
    fn only_the_new_groups_own_not_found_is_retried() {
        assert!(new_group_unseen(&err("InvalidGroup.NotFound", "The security group 'sg-new' does not exist"), "sg-new").is_some());
        // A rule naming another group that does not exist fails at once.
        assert!(new_group_unseen(&err("InvalidGroup.NotFound", "The security group 'sg-0000000000000dead' does not exist"), "sg-new").is_none());
        assert!(new_group_unseen(&err("InvalidPermission.Duplicate", "sg-new already has it"), "sg-new").is_none());
    }

    #[test]
    fn delete_retries_while_the_group_is_in_use() {
        assert!(group_in_use(&err("DependencyViolation", "resource sg-1 has a dependent object")).is_some());
        assert!(group_in_use(&err("InvalidGroup.InUse", "Group sg-1 is used by groups: sg-2")).is_some());
        assert!(group_in_use(&err("InvalidParameterValue", "no")).is_none());
        assert!(group_in_use(&err("InvalidGroup.NotFound", "The security group 'sg-1' does not exist")).is_none());
    }
}
