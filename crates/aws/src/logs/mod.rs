//! CloudWatch Logs resource types.

pub mod log_group;

use crate::handler::Register;

/// The CloudWatch Logs resource types.
pub(crate) fn types(f: &mut dyn FnMut(Register)) {
    f(Register::of::<log_group::CloudwatchLogGroup>());
}
