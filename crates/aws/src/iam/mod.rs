//! IAM resource types.

use crate::handler::Register;

/// The IAM resource types.
pub(crate) fn types(_f: &mut dyn FnMut(Register)) {}
