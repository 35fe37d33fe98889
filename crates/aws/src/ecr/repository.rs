//! `aws_ecr_repository`: a private container image repository.

use async_trait::async_trait;
use aws_sdk_ecr::error::ProvideErrorMetadata;
use aws_sdk_ecr::types::{ImageScanningConfiguration, ImageTagMutability, Repository};
use clawform_core::{Applied, FieldError, OpContext, ProviderError, Resource, Val};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use crate::clients::Clients;
use crate::ecr::{check_repository_name, EcrTags};
use crate::error::sdk;
use crate::handler::{ArnForm, AwsResource};
use crate::support::check_tag_count;
use crate::support::tags;

/// DescribeRepositories takes at most 100 names in one call (ECR API reference).
const MAX_NAMES_PER_DESCRIBE: usize = 100;

fn default_mutability() -> Val<String> {
    Val::Lit("MUTABLE".to_string())
}

fn default_scanning() -> Vec<ScanningConfiguration> {
    vec![ScanningConfiguration { scan_on_push: Val::Lit(false) }]
}

/// An ECR repository, as the Terraform AWS provider's `aws_ecr_repository`. Its id is its name.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EcrRepository {
    /// The repository's name, such as `openclaw/gateway`.
    pub name: Val<String>,
    /// `MUTABLE` (the default: a tag can be pushed again) or `IMMUTABLE`.
    #[serde(default = "default_mutability")]
    pub image_tag_mutability: Val<String>,
    /// Whether images are scanned when pushed: one block (default `scan_on_push: false`).
    #[serde(default = "default_scanning")]
    pub image_scanning_configuration: Vec<ScanningConfiguration>,
    /// Whether deleting the repository also deletes the images in it (default false: a
    /// repository with images is not deleted). Not an AWS attribute, so reads leave it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_delete: Option<Val<bool>>,
    /// Tags.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub tags: IndexMap<String, Val<String>>,
}

/// The `image_scanning_configuration` block.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScanningConfiguration {
    /// Whether each image is scanned for vulnerabilities after it is pushed.
    pub scan_on_push: Val<bool>,
}

impl Resource for EcrRepository {
    const TYPE: &'static str = "aws_ecr_repository";
    const COMPUTED: &'static [&'static str] = &["id", "arn", "registry_id", "repository_url"];
    const FORCE_NEW: &'static [&'static str] = &["name"];
    const CREATE_BEFORE_DESTROY: Option<&'static [&'static str]> = Some(&["name"]);

    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        check_repository_name("name", &self.name, &mut errors);
        if let Some(m) = self.image_tag_mutability.literal() {
            if m != "MUTABLE" && m != "IMMUTABLE" {
                errors.push(FieldError::new("image_tag_mutability", format!("`{m}` is not a tag mutability; expected `MUTABLE` or `IMMUTABLE`")));
            }
        }
        if self.image_scanning_configuration.len() > 1 {
            errors.push(FieldError::new("image_scanning_configuration", format!("has {} blocks; expected one", self.image_scanning_configuration.len())));
        }
        check_tag_count(&self.tags, <Self as AwsResource>::TAG_LIMIT, &mut errors);
        errors
    }
}

impl EcrRepository {
    fn scan_on_push(&self) -> Result<bool, ProviderError> {
        Ok(match self.image_scanning_configuration.first() {
            Some(c) => *c.scan_on_push.value()?,
            None => false,
        })
    }

    fn scanning(&self) -> Result<ImageScanningConfiguration, ProviderError> {
        Ok(ImageScanningConfiguration::builder().scan_on_push(self.scan_on_push()?).build())
    }
}

/// The computed attributes of a repository.
fn computed(repo: &Repository) -> Map<String, Json> {
    let mut m = Map::new();
    m.insert("arn".into(), json!(repo.repository_arn()));
    m.insert("registry_id".into(), json!(repo.registry_id()));
    m.insert("repository_url".into(), json!(repo.repository_uri()));
    m
}

/// Repositories by name, in calls of up to 100 names. Asking by name fails the whole call when
/// one name is gone (`RepositoryNotFoundException`); then the registry is listed instead, in pages
/// of up to 1,000, and the names picked out.
async fn describe(aws: &Clients, names: &[String]) -> Result<Vec<Repository>, ProviderError> {
    let mut found = Vec::new();
    for chunk in names.chunks(MAX_NAMES_PER_DESCRIBE) {
        match aws.ecr.describe_repositories().set_repository_names(Some(chunk.to_vec())).send().await {
            Ok(out) => found.extend(out.repositories().iter().cloned()),
            Err(e) if e.code() == Some("RepositoryNotFoundException") => {
                let all: Vec<Repository> = aws
                    .ecr
                    .describe_repositories()
                    .max_results(1000)
                    .into_paginator()
                    .items()
                    .send()
                    .collect::<Result<_, _>>()
                    .await
                    .map_err(|e| sdk("ecr DescribeRepositories", e))?;
                return Ok(all.into_iter().filter(|r| r.repository_name().is_some_and(|n| names.iter().any(|x| x == n))).collect());
            }
            Err(e) => return Err(sdk("ecr DescribeRepositories", e)),
        }
    }
    Ok(found)
}

/// The repository's ARN, which the update calls for tags need and the typed prior lacks.
async fn arn_of(aws: &Clients, name: &str) -> Result<String, ProviderError> {
    let out = aws.ecr.describe_repositories().repository_names(name).send().await.map_err(|e| sdk("ecr DescribeRepositories", e))?;
    out.repositories()
        .first()
        .and_then(|r| r.repository_arn())
        .map(str::to_string)
        .ok_or_else(|| ProviderError::api(format!("ecr DescribeRepositories returned no ARN for {name}")))
}

#[async_trait]
impl AwsResource for EcrRepository {
    const ARN: ArnForm = ArnForm::IdAfter { service: "ecr", prefix: "repository/" };
    const ALREADY_EXISTS: &'static [&'static str] = &["RepositoryAlreadyExistsException"];

    async fn named_existing(&self, aws: &Clients) -> Result<Option<(String, Vec<(String, String)>)>, ProviderError> {
        let name = self.name.value()?;
        let arn = arn_of(aws, name).await?;
        let out = aws.ecr.list_tags_for_resource().resource_arn(&arn).send().await.map_err(|e| sdk("ecr ListTagsForResource", e))?;
        Ok(Some((name.clone(), out.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect())))
    }

    async fn create(&self, aws: &Clients, ctx: &OpContext) -> Result<Applied, ProviderError> {
        let out = aws
            .ecr
            .create_repository()
            .repository_name(self.name.value()?)
            .image_tag_mutability(ImageTagMutability::from(self.image_tag_mutability.value()?.as_str()))
            .image_scanning_configuration(self.scanning()?)
            .set_tags(Some(tags::create_tags::<EcrTags>(&self.tags, ctx)?))
            .send()
            .await
            .map_err(|e| sdk("ecr CreateRepository", e))?;
        let repo = out.repository().ok_or_else(|| ProviderError::api("ecr CreateRepository returned no repository"))?;
        let id = repo.repository_name().ok_or_else(|| ProviderError::api("ecr CreateRepository returned a repository without a name"))?.to_string();
        Ok(Applied { id, computed: computed(repo) })
    }

    async fn update(&self, aws: &Clients, _ctx: &OpContext, id: &str, prior: &Self) -> Result<Applied, ProviderError> {
        let mutability = self.image_tag_mutability.value()?;
        if mutability != prior.image_tag_mutability.value()? {
            aws.ecr
                .put_image_tag_mutability()
                .repository_name(id)
                .image_tag_mutability(ImageTagMutability::from(mutability.as_str()))
                .send()
                .await
                .map_err(|e| sdk("ecr PutImageTagMutability", e))?;
        }
        if self.scan_on_push()? != prior.scan_on_push()? {
            aws.ecr
                .put_image_scanning_configuration()
                .repository_name(id)
                .image_scanning_configuration(self.scanning()?)
                .send()
                .await
                .map_err(|e| sdk("ecr PutImageScanningConfiguration", e))?;
        }
        let change = tags::TagChange::between(&prior.tags, &self.tags)?;
        if !change.is_empty() {
            // ECR tags by ARN, which only a describe gives: asked only when tags change.
            change.apply::<EcrTags>(aws, &arn_of(aws, id).await?).await?;
        }
        // force_delete only matters when deleting, and state keeps the new value.
        Ok(Applied { id: id.to_string(), computed: Map::new() })
    }

    async fn delete(aws: &Clients, id: &str, prior: &Json) -> Result<(), ProviderError> {
        let force = prior.get("force_delete").and_then(Json::as_bool).unwrap_or(false);
        aws.ecr.delete_repository().repository_name(id).force(force).send().await.map_err(|e| sdk("ecr DeleteRepository", e))?;
        Ok(())
    }

    /// Repositories in calls of up to 100 names; then one ListTagsForResource per repository, as
    /// ECR has no call that returns many repositories' tags.
    async fn read(aws: &Clients, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let found = describe(aws, ids).await?;
        let mut result = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(repo) = found.iter().find(|r| r.repository_name() == Some(id.as_str())) else {
                result.push(None);
                continue;
            };
            let arn = repo.repository_arn().unwrap_or_default();
            let tags = match aws.ecr.list_tags_for_resource().resource_arn(arn).send().await {
                Ok(out) => out
                    .tags()
                    .iter()
                    .filter(|t| t.key() != tags::STACK_TAG && t.key() != tags::ADDRESS_TAG)
                    .map(|t| (t.key().to_string(), json!(t.value())))
                    .collect(),
                // Deleted between the two calls.
                Err(e) if e.code() == Some("RepositoryNotFoundException") => {
                    result.push(None);
                    continue;
                }
                Err(e) => return Err(sdk("ecr ListTagsForResource", e)),
            };
            let mut attrs = Map::new();
            attrs.insert("id".into(), json!(id));
            attrs.insert("name".into(), json!(id));
            attrs.insert("image_tag_mutability".into(), json!(repo.image_tag_mutability().map(|m| m.as_str())));
            let scan = repo.image_scanning_configuration().map(|c| c.scan_on_push()).unwrap_or(false);
            attrs.insert("image_scanning_configuration".into(), json!([{ "scan_on_push": scan }]));
            attrs.insert("tags".into(), Json::Object(tags));
            attrs.extend(computed(repo));
            result.push(Some(Json::Object(attrs)));
        }
        Ok(result)
    }
}
