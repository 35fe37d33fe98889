//! Elastic Load Balancing v2 resource types.

use crate::handler::Register;

/// The Elastic Load Balancing v2 resource types.
pub(crate) fn types(_f: &mut dyn FnMut(Register)) {}
