//! Reading ids out of ARNs whose form is not "prefix, then the id" (the
//! `ArnForm::Custom` cases of `handler.rs`).

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
