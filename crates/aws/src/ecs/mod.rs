//! ECS resource types.

use crate::handler::Register;

/// The ECS resource types.
pub(crate) fn types(_f: &mut dyn FnMut(Register)) {}
