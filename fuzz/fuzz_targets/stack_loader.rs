//! Feeds arbitrary bytes to the stack loader, as a stack file's text, and whatever loads to the
//! dependency graph. Any input must end in `Ok` or a located error, never a panic, an abort or
//! runaway recursion.

#![no_main]

use std::sync::OnceLock;

use clawform_core::{Graph, Registry, Stack};
use libfuzzer_sys::fuzz_target;

/// Built once: the registry is the same for every input.
static REGISTRY: OnceLock<Registry> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let registry = REGISTRY.get_or_init(clawform_aws::registry);
    let text = String::from_utf8_lossy(data);
    match Stack::from_yaml(&text, None, registry) {
        Ok(stack) => {
            // What the CLI does next with a stack that loaded: parameter values, the graph.
            let _ = stack.param_values().map_err(|e| e.to_string());
            match Graph::build(&stack) {
                Ok(graph) => {
                    let _ = graph.to_dot(&stack);
                }
                Err(e) => {
                    let _ = e.to_string();
                }
            }
        }
        // Rendering the error is part of the loader's contract too.
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
