//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::print_stderr, unreachable_pub)]
pub(crate) mod postgres;
