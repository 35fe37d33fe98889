//! Auto Scaling resource types.

pub mod autoscaling_group;
pub mod blocks;

use crate::handler::Register;

/// The Auto Scaling resource types.
pub(crate) fn types(f: &mut dyn FnMut(Register)) {
    f(Register::of::<autoscaling_group::AutoscalingGroup>());
}
