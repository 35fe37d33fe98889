//! Auto Scaling resource types.

use crate::handler::Register;

/// The Auto Scaling resource types.
pub(crate) fn types(_f: &mut dyn FnMut(Register)) {}
