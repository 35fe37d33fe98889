//! Reading ids out of ARNs whose form is not "prefix, then the id" (the [`ArnForm::Custom`]
//! cases), and [`ArnForm`] itself.

/// How a type's ARN names its resources: what the Resource Groups Tagging API answers is an
/// ARN, and adoption and unmanaged-resource reports need the type and id it stands for.
#[derive(Debug, Clone, Copy)]
pub enum ArnForm {
    /// `arn:PARTITION:SERVICE:REGION:ACCOUNT:PREFIX<id>`: the id follows the prefix (EC2's
    /// `vpc/vpc-1`, ECR's `repository/NAME`).
    IdAfter {
        /// The ARN's service field.
        service: &'static str,
        /// What the resource field starts with.
        prefix: &'static str,
    },
    /// `arn:…:SERVICE:…:PREFIX…`, and the id is the whole ARN (ELBv2, ECS, Secrets Manager).
    Whole {
        /// The ARN's service field.
        service: &'static str,
        /// What the resource field starts with.
        prefix: &'static str,
    },
    /// Another form, read by `id` from the resource field (`log-group:NAME:*`, IAM's paths).
    Custom {
        /// The ARN's service field.
        service: &'static str,
        /// The resource field's form, for people.
        describe: &'static str,
        /// The id in a resource field of this form, if it is one.
        id: fn(&str) -> Option<String>,
    },
    /// The type has no ARN of its own (associations, attachments, inline policies, secret
    /// versions): it is never tagged, so never found by its tags.
    None,
}

impl ArnForm {
    /// The id `arn` names, if it is an ARN of this form.
    pub fn id_of(&self, arn: &str) -> Option<String> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let (service, resource) = (*parts.get(2)?, *parts.get(5)?);
        match *self {
            ArnForm::IdAfter { service: s, prefix } if s == service => resource.strip_prefix(prefix).map(str::to_string),
            ArnForm::Whole { service: s, prefix } if s == service => resource.starts_with(prefix).then(|| arn.to_string()),
            ArnForm::Custom { service: s, id, .. } if s == service => id(resource),
            _ => None,
        }
    }

    /// The form in words, for the tidy check and the docs.
    pub fn describe(&self) -> String {
        match self {
            ArnForm::IdAfter { service, prefix } => format!("arn:…:{service}:…:{prefix}ID"),
            ArnForm::Whole { service, prefix } => format!("arn:…:{service}:…:{prefix}… (the ARN is the id)"),
            ArnForm::Custom { service, describe, .. } => format!("arn:…:{service}:…:{describe}"),
            ArnForm::None => "none (never tagged)".to_string(),
        }
    }
}

/// `log-group:NAME:*` (or without the `:*`) names log group NAME.
pub(crate) fn log_group_name(resource: &str) -> Option<String> {
    resource.strip_prefix("log-group:").map(|n| n.trim_end_matches(":*").to_string())
}

/// `role/PATH/NAME` names role NAME (role names are unique whatever the path).
pub(crate) fn iam_role_name(resource: &str) -> Option<String> {
    resource.strip_prefix("role/").map(last_path_part)
}

/// `instance-profile/PATH/NAME` names instance profile NAME.
pub(crate) fn iam_instance_profile_name(resource: &str) -> Option<String> {
    resource.strip_prefix("instance-profile/").map(last_path_part)
}

/// `autoScalingGroup:UUID:autoScalingGroupName/NAME` names group NAME.
pub(crate) fn autoscaling_group_name(resource: &str) -> Option<String> {
    resource.split("autoScalingGroupName/").nth(1).map(str::to_string)
}

fn last_path_part(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).to_string()
}
