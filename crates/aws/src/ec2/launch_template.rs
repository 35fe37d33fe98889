//! `aws_launch_template`: what an Auto Scaling group launches (image, instance type, instance
//! profile, security groups, user data).
//!
//! A launch template's versions are immutable: an update makes a new version with the whole new
//! configuration and makes it the default, as Terraform does with `update_default_version =
//! true`; earlier versions are kept, as AWS and Terraform keep them.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    Filter, InstanceType, LaunchTemplateHttpTokensState, LaunchTemplateIamInstanceProfileSpecificationRequest, LaunchTemplateInstanceMetadataOptionsRequest,
    LaunchTemplateTagSpecificationRequest, RequestLaunchTemplateData, ResourceType, ResponseLaunchTemplateData, Tag,
};
use aws_smithy_types::base64;
use clawform_core::{Applied, ErrorKind, FieldError, OpContext, ProviderError, Resource, Val};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use crate::clients::Clients;
use crate::ec2::{arn, id_filters, tag_spec, Ec2Tags, MAX_FILTER_VALUES};
use crate::error::sdk;
use crate::handler::{ArnForm, AwsResource};
use crate::support::tags;
use crate::support::tags::{sync_tags, user_tags};
use crate::support::{opt, send_with_token};

/// A launch template, as the Terraform AWS provider's `aws_launch_template`.
///
/// One difference from Terraform: `user_data` is the plain text (a shell script, a cloud-init
/// file) and clawform base64-encodes it before sending it to AWS; Terraform expects it already
/// encoded (`base64encode(...)`). Plans and state then show the script itself.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LaunchTemplate {
    /// The template's name, unique in the region: 3 to 128 letters, digits and `( ) . - / _`.
    pub name: Val<String>,
    /// The AMI instances start from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<Val<String>>,
    /// The instance type, such as `c7i-flex.large` (a mixed instances policy may override it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<Val<String>>,
    /// The instance profile instances get (at most one block).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub iam_instance_profile: Vec<IamInstanceProfile>,
    /// Ids of the security groups of the instances' primary network interface.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vpc_security_group_ids: Vec<Val<String>>,
    /// The user data as plain text, at most 16 KB; clawform base64-encodes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<Val<String>>,
    /// Tags given to what instances launched from the template create.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tag_specifications: Vec<LaunchTemplateTagSpecification>,
    /// Instance metadata service options (at most one block).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata_options: Vec<MetadataOptions>,
    /// Tags of the template itself.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub tags: IndexMap<String, Val<String>>,
}

/// The `iam_instance_profile` block: the profile by name or by ARN.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IamInstanceProfile {
    /// The instance profile's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Val<String>>,
    /// The instance profile's ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<Val<String>>,
}

/// One `tag_specifications` block: tags for one kind of resource launched from the template.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LaunchTemplateTagSpecification {
    /// `instance`, `volume`, `network-interface` or `spot-instances-request`.
    pub resource_type: Val<String>,
    /// The tags.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub tags: IndexMap<String, Val<String>>,
}

/// The `metadata_options` block.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MetadataOptions {
    /// `required` (IMDSv2 only) or `optional`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_tokens: Option<Val<String>>,
}

/// The resource types a launch template can tag (EC2 API reference,
/// LaunchTemplateTagSpecificationRequest).
const TAGGABLE: &[&str] = &["instance", "volume", "network-interface", "spot-instances-request"];

/// AWS's limit on user data, in raw form before base64 (EC2 User Guide, "Run commands when you
/// launch an EC2 instance with user data input").
const MAX_USER_DATA: usize = 16 * 1024;

impl Resource for LaunchTemplate {
    const TYPE: &'static str = "aws_launch_template";
    const COMPUTED: &'static [&'static str] = &["id", "arn", "latest_version"];
    const FORCE_NEW: &'static [&'static str] = &["name"];
    const CREATE_BEFORE_DESTROY: Option<&'static [&'static str]> = Some(&["name"]);

    /// Terraform's `user_data` is base64 (`base64encode(...)`); clawform's is the script.
    fn terraform_values(values: &mut Json) {
        if let Some(Json::String(text)) = values.get_mut("user_data") {
            *text = base64::encode(text.as_bytes());
        }
    }

    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(name) = self.name.literal() {
            let length = name.chars().count();
            if !(3..=128).contains(&length) {
                errors.push(FieldError::new("name", format!("has {length} characters; expected 3 to 128")));
            }
            if let Some(bad) = name.chars().find(|c| !c.is_ascii_alphanumeric() && !"().-/_".contains(*c)) {
                errors.push(FieldError::new("name", format!("`{bad}` is not allowed; expected letters, digits and ( ) . - / _")));
            }
        }
        if let Some(Val::Lit(t)) = &self.instance_type {
            if t.trim().is_empty() {
                errors.push(FieldError::new("instance_type", "is empty; expected an instance type such as `c7i-flex.large`"));
            }
        }
        if self.iam_instance_profile.len() > 1 {
            errors.push(FieldError::new("iam_instance_profile", format!("has {} blocks; expected at most one", self.iam_instance_profile.len())));
        }
        for (i, p) in self.iam_instance_profile.iter().enumerate() {
            if p.name.is_none() && p.arn.is_none() {
                errors.push(FieldError::new(format!("iam_instance_profile.{i}"), "names no profile; expected `name` or `arn`"));
            }
        }
        if let Some(Val::Lit(data)) = &self.user_data {
            if data.len() > MAX_USER_DATA {
                errors.push(FieldError::new("user_data", format!("has {} bytes; AWS takes at most {MAX_USER_DATA}", data.len())));
            }
        }
        for (i, spec) in self.tag_specifications.iter().enumerate() {
            if let Some(t) = spec.resource_type.literal() {
                if !TAGGABLE.contains(&t.as_str()) {
                    errors.push(FieldError::new(
                        format!("tag_specifications.{i}.resource_type"),
                        format!("`{t}` cannot be tagged from a launch template; expected one of {}", TAGGABLE.join(", ")),
                    ));
                }
            }
        }
        if self.metadata_options.len() > 1 {
            errors.push(FieldError::new("metadata_options", format!("has {} blocks; expected at most one", self.metadata_options.len())));
        }
        for (i, m) in self.metadata_options.iter().enumerate() {
            if let Some(Val::Lit(t)) = &m.http_tokens {
                if t != "required" && t != "optional" {
                    errors.push(FieldError::new(
                        format!("metadata_options.{i}.http_tokens"),
                        format!("`{t}` is not a token setting; expected `required` or `optional`"),
                    ));
                }
            }
        }
        errors
    }
}

impl LaunchTemplate {
    /// The template data AWS keeps per version, from the attributes.
    fn data(&self) -> Result<RequestLaunchTemplateData, ProviderError> {
        let mut data = RequestLaunchTemplateData::builder()
            .set_image_id(opt(&self.image_id)?.cloned())
            .set_instance_type(opt(&self.instance_type)?.map(|t| InstanceType::from(t.as_str())))
            .set_user_data(opt(&self.user_data)?.map(base64::encode));
        if let Some(p) = self.iam_instance_profile.first() {
            data = data.iam_instance_profile(
                LaunchTemplateIamInstanceProfileSpecificationRequest::builder().set_name(opt(&p.name)?.cloned()).set_arn(opt(&p.arn)?.cloned()).build(),
            );
        }
        for group in &self.vpc_security_group_ids {
            data = data.security_group_ids(group.value()?);
        }
        for spec in &self.tag_specifications {
            let tags = tags::plain(&spec.tags)?.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
            data = data.tag_specifications(
                LaunchTemplateTagSpecificationRequest::builder()
                    .resource_type(ResourceType::from(spec.resource_type.value()?.as_str()))
                    .set_tags(Some(tags))
                    .build(),
            );
        }
        if let Some(m) = self.metadata_options.first() {
            let tokens = opt(&m.http_tokens)?.map(|t| LaunchTemplateHttpTokensState::from(t.as_str()));
            data = data.metadata_options(LaunchTemplateInstanceMetadataOptionsRequest::builder().set_http_tokens(tokens).build());
        }
        Ok(data.build())
    }

    /// Whether the attributes kept in a version differ (name and tags are the template's own).
    fn same_data(&self, other: &LaunchTemplate) -> bool {
        self.image_id == other.image_id
            && self.instance_type == other.instance_type
            && self.iam_instance_profile == other.iam_instance_profile
            && self.vpc_security_group_ids == other.vpc_security_group_ids
            && self.user_data == other.user_data
            && self.tag_specifications == other.tag_specifications
            && self.metadata_options == other.metadata_options
    }
}

/// The account in a `CreatedBy` ARN (`arn:aws:iam::123456789012:root`), which the template's
/// own ARN names.
fn account_of(created_by: Option<&str>) -> &str {
    created_by.and_then(|a| a.split(':').nth(4)).unwrap_or_default()
}

/// A version's data in the shape of [`LaunchTemplate`].
fn data_json(data: &ResponseLaunchTemplateData, attrs: &mut Map<String, Json>) {
    if let Some(image) = data.image_id() {
        attrs.insert("image_id".into(), json!(image));
    }
    if let Some(t) = data.instance_type() {
        attrs.insert("instance_type".into(), json!(t.as_str()));
    }
    if let Some(p) = data.iam_instance_profile() {
        let mut block = Map::new();
        if let Some(name) = p.name() {
            block.insert("name".into(), json!(name));
        }
        if let Some(arn) = p.arn() {
            block.insert("arn".into(), json!(arn));
        }
        attrs.insert("iam_instance_profile".into(), json!([block]));
    }
    if !data.security_group_ids().is_empty() {
        attrs.insert("vpc_security_group_ids".into(), json!(data.security_group_ids()));
    }
    if let Some(encoded) = data.user_data() {
        // Shown as text, as it is written; data that is not UTF-8 text stays base64.
        let text = base64::decode(encoded).ok().and_then(|bytes| String::from_utf8(bytes).ok()).unwrap_or_else(|| encoded.to_string());
        attrs.insert("user_data".into(), json!(text));
    }
    // moto 5.2.5 copies CreateLaunchTemplate's own TagSpecifications (resource type
    // `launch-template`, ownership tags included) into version 1's data; AWS does not, and a
    // template's data cannot tag launch templates, so they are left out (the template's own
    // tags come from DescribeLaunchTemplates).
    let specs: Vec<Json> = data
        .tag_specifications()
        .iter()
        .filter(|s| s.resource_type() != Some(&ResourceType::LaunchTemplate))
        .map(|s| {
            let tags: Map<String, Json> = s.tags().iter().filter_map(|t| Some((t.key()?.to_string(), json!(t.value().unwrap_or_default())))).collect();
            json!({ "resource_type": s.resource_type().map(|r| r.as_str()), "tags": tags })
        })
        .collect();
    if !specs.is_empty() {
        attrs.insert("tag_specifications".into(), Json::Array(specs));
    }
    if let Some(tokens) = data.metadata_options().and_then(|m| m.http_tokens()) {
        attrs.insert("metadata_options".into(), json!([{ "http_tokens": tokens.as_str() }]));
    }
}

/// Templates by id. AWS fails the whole call when one id is gone (moto 5.2.5 just leaves it
/// out), so a failed batch is asked again id by id, and an id that is gone reads as absent.
async fn describe(aws: &Clients, ids: &[String]) -> Result<Vec<aws_sdk_ec2::types::LaunchTemplate>, ProviderError> {
    let gone = |e: &ProviderError| e.kind == ErrorKind::NotFound || e.has_code("InvalidLaunchTemplateId.Malformed");
    let ask = |chunk: Vec<String>| async move {
        aws.ec2.describe_launch_templates().set_launch_template_ids(Some(chunk)).send().await.map_err(|e| sdk("ec2 DescribeLaunchTemplates", e))
    };
    let mut found = Vec::new();
    // The API reference names no limit for LaunchTemplateIds; EC2's 200 values a call is safe.
    for chunk in ids.chunks(MAX_FILTER_VALUES) {
        match ask(chunk.to_vec()).await {
            Ok(out) => found.extend(out.launch_templates().iter().cloned()),
            Err(e) if gone(&e) => {
                for id in chunk {
                    match ask(vec![id.clone()]).await {
                        Ok(out) => found.extend(out.launch_templates().iter().cloned()),
                        Err(e) if gone(&e) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(found)
}

/// The templates' tags by id, from DescribeTags: moto 5.2.5's DescribeLaunchTemplates keeps
/// answering the tags a template was created with after CreateTags and DeleteTags change them
/// (AWS answers the current ones), and one DescribeTags call covers many templates anyway.
async fn template_tags(aws: &Clients, ids: &[String]) -> Result<HashMap<String, Vec<Tag>>, ProviderError> {
    let mut out: HashMap<String, Vec<Tag>> = HashMap::new();
    for filter in id_filters("resource-id", ids) {
        let page: Vec<_> = aws
            .ec2
            .describe_tags()
            .filters(filter)
            .filters(Filter::builder().name("resource-type").values("launch-template").build())
            .into_paginator()
            .items()
            .send()
            .collect::<Result<_, _>>()
            .await
            .map_err(|e| sdk("ec2 DescribeTags", e))?;
        for t in page {
            if let (Some(id), Some(key)) = (t.resource_id(), t.key()) {
                out.entry(id.to_string()).or_default().push(Tag::builder().key(key).set_value(t.value().map(str::to_string)).build());
            }
        }
    }
    Ok(out)
}

#[async_trait]
impl AwsResource for LaunchTemplate {
    const ARN: ArnForm = ArnForm::IdAfter { service: "ec2", prefix: "launch-template/" };
    const ALREADY_EXISTS: &'static [&'static str] = &["InvalidLaunchTemplateName.AlreadyExistsException"];

    async fn named_existing(&self, aws: &Clients) -> Result<Option<(String, Vec<(String, String)>)>, ProviderError> {
        let name = self.name.value()?;
        let out = aws.ec2.describe_launch_templates().launch_template_names(name).send().await.map_err(|e| sdk("ec2 DescribeLaunchTemplates", e))?;
        Ok(out.launch_templates().first().and_then(|t| {
            let tags = t.tags().iter().map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string())).collect();
            Some((t.launch_template_id()?.to_string(), tags))
        }))
    }

    async fn create(&self, aws: &Clients, ctx: &OpContext) -> Result<Applied, ProviderError> {
        let req = aws.ec2.create_launch_template().launch_template_name(self.name.value()?).launch_template_data(self.data()?).tag_specifications(tag_spec(
            ResourceType::LaunchTemplate,
            &self.tags,
            ctx,
        )?);
        // The apply's token: a retry after a lost answer gets the template the first request
        // made instead of `AlreadyExists`.
        let out = send_with_token(ctx, |token| {
            let req = req.clone().client_token(token);
            async move { req.send().await.map_err(|e| sdk("ec2 CreateLaunchTemplate", e)) }
        })
        .await?;
        let template = out.launch_template().ok_or_else(|| ProviderError::api("ec2 CreateLaunchTemplate returned no launch template"))?;
        let id = template.launch_template_id().ok_or_else(|| ProviderError::api("ec2 CreateLaunchTemplate returned a template without an id"))?.to_string();
        let mut computed = Map::new();
        computed.insert("arn".into(), json!(arn(aws, account_of(template.created_by()), "launch-template", &id)));
        computed.insert("latest_version".into(), json!(template.latest_version_number().unwrap_or(1)));
        Ok(Applied { id, computed })
    }

    async fn update(&self, aws: &Clients, _ctx: &OpContext, id: &str, prior: &Self) -> Result<Applied, ProviderError> {
        let mut computed = Map::new();
        if !self.same_data(prior) {
            let out = aws
                .ec2
                .create_launch_template_version()
                .launch_template_id(id)
                .launch_template_data(self.data()?)
                .send()
                .await
                .map_err(|e| sdk("ec2 CreateLaunchTemplateVersion", e))?;
            let version = out
                .launch_template_version()
                .and_then(|v| v.version_number())
                .ok_or_else(|| ProviderError::api("ec2 CreateLaunchTemplateVersion returned no version number"))?;
            aws.ec2
                .modify_launch_template()
                .launch_template_id(id)
                .default_version(version.to_string())
                .send()
                .await
                .map_err(|e| sdk("ec2 ModifyLaunchTemplate", e))?;
            computed.insert("latest_version".into(), json!(version));
        }
        sync_tags::<Ec2Tags>(aws, id, &prior.tags, &self.tags).await?;
        Ok(Applied { id: id.to_string(), computed })
    }

    async fn delete(aws: &Clients, id: &str, _prior: &Json) -> Result<(), ProviderError> {
        aws.ec2.delete_launch_template().launch_template_id(id).send().await.map_err(|e| sdk("ec2 DeleteLaunchTemplate", e))?;
        Ok(())
    }

    async fn read(aws: &Clients, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError> {
        let templates = describe(aws, ids).await?;
        let tags = template_tags(aws, ids).await?;
        let mut result = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(template) = templates.iter().find(|t| t.launch_template_id() == Some(id.as_str())) else {
                result.push(None);
                continue;
            };
            // A template's data lives in its versions, one call per template: AWS describes
            // many templates' versions in one call only for the whole account.
            let versions = match aws
                .ec2
                .describe_launch_template_versions()
                .launch_template_id(id)
                .versions("$Default")
                .send()
                .await
                .map_err(|e| sdk("ec2 DescribeLaunchTemplateVersions", e))
            {
                Ok(out) => out,
                // Deleted between the two calls.
                Err(e) if e.kind == ErrorKind::NotFound => {
                    result.push(None);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let mut attrs = Map::new();
            attrs.insert("id".into(), json!(id));
            attrs.insert("name".into(), json!(template.launch_template_name()));
            if let Some(data) = versions.launch_template_versions().first().and_then(|v| v.launch_template_data()) {
                data_json(data, &mut attrs);
            }
            attrs.insert("tags".into(), Json::Object(user_tags(tags.get(id.as_str()).map(Vec::as_slice).unwrap_or_default())));
            attrs.insert("arn".into(), json!(arn(aws, account_of(template.created_by()), "launch-template", id)));
            attrs.insert("latest_version".into(), json!(template.latest_version_number()));
            result.push(Some(Json::Object(attrs)));
        }
        Ok(result)
    }
}
