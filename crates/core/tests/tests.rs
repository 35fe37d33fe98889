//! The core engine and loader tests (an in-memory provider), in one test binary: each module is a test file of its own, and the
//! dependencies are linked once instead of once per file.

mod support;

mod backend_conformance;
mod conditional;
mod engine;
mod loader;
mod secrets;
