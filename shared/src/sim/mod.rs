//! The simulator: a model of the kernel's isolation rules, with no IO.
//!
//! It produces the same [`crate::protocol`] types as the live backend.
