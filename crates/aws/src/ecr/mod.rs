//! ECR resource types.

use crate::handler::Register;

/// The ECR resource types.
pub(crate) fn types(_f: &mut dyn FnMut(Register)) {}
