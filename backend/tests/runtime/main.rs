//! The runtime and the CLI on the real kernel: namespaces, cgroups, mounts, hardening,
//! cleanup, and the simulator's agreement with the kernel.
//!
//! One test binary per group, so the crate links once per group, not once per file.

#[path = "../support/mod.rs"]
mod support;

mod cgroup;
mod cleanup;
mod cli;
mod devices;
mod differential;
mod hardening;
mod isolation;
mod lifecycle;
mod limits;
mod observe;
mod seccomp;
mod sim_cli;
mod userns;
