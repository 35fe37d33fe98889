//! The provider tests: each type against moto, in one test binary: each module is a test file of its own, and the
//! dependencies are linked once instead of once per file.

mod support;

mod adoption;
mod aws_behaviours;
mod compute;
mod ec2;
mod ecs_elb;
mod operations;
mod platform;
mod s3_backend;
mod secrets;
mod tenant_compute;
mod tenant_routing;
