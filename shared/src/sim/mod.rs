//! The simulator: a model of the kernel's isolation rules, with no IO.
//!
//! It produces the same [`crate::protocol`] types as the live backend.
//!
//! # Layout
//! - [`errno`]: errno-like error values of the model's syscalls.
//! - [`ns`]: namespace identity (inode-like numbers) and lifetime by reference count.
//! - [`process`]: a process: tree links, ids, capabilities, namespaces, cgroup.
//! - [`pidns`], [`net`], [`mount`], [`uts`], [`ipc`], [`user`]: each namespace kind's state.
//! - [`cgroup`]: the cgroup tree with pids and memory limits.
//! - [`kernel`]: all of the above together, and the syscalls over it.
//! - [`shell`]: the simulated shell and its commands (ps, ip, mount, unshare…).
//! - [`container`]: a simulated container made from a [`crate::ContainerSpec`].
//! - [`apply_plan`]: the runtime's [`crate::plan::Plan`] applied to the model kernel.
//! - [`scenario`]: named starting points (`empty`, `two-containers`, `nested-pid`…).
//! - [`differential`]: scenarios, probe and normaliser shared by both sides of the harness.
//! - [`simulator`]: [`Simulator`], the API a UI or the CLI drives.
//! - [`session`]: [`SimSession`], a simulator answering the Web Worker's messages.
//! - [`snapshot`]: the simulator's state as [`crate::Snapshot`] and [`crate::ContainerState`].

pub mod apply_plan;
pub mod cgroup;
pub mod container;
pub mod differential;
pub mod errno;
pub mod ipc;
pub mod kernel;
pub mod mount;
pub mod net;
pub mod ns;
pub mod pidns;
pub mod process;
pub mod scenario;
pub mod session;
pub mod shell;
pub mod simulator;
pub mod snapshot;
pub mod user;
pub mod uts;

pub use errno::Errno;
pub use kernel::Kernel;
pub use session::SimSession;
pub use simulator::{SimError, Simulator};
