//! CloudWatch Logs resource types.

use crate::handler::Register;

/// The CloudWatch Logs resource types.
pub(crate) fn types(_f: &mut dyn FnMut(Register)) {}
