//! The container runtime: a [`isolab_shared::ContainerSpec`] becomes a plan of setup
//! steps, which is applied; every applied step is recorded.
//!
//! # Layout
//! - [`cgroup`]: the container's cgroup: detect the layout, make groups, limits, usage.
//! - [`steps`]: the recorder of applied setup steps.
//!
//! No axum and no clap in here: the server and the CLI are thin users of this library.

pub mod cgroup;
pub mod steps;
