//! The container runtime: a [`isolab_shared::ContainerSpec`] becomes a [`plan::Plan`] of
//! setup steps, which the container's init applies; every applied step is recorded.
//!
//! # Layout
//! - [`cgroup`]: the container's cgroup: detect the layout, make groups, limits, usage,
//!   and the device rules (v1 `devices.allow`, the cgroup2 device program).
//! - [`steps`]: the recorder of applied setup steps.
//! - [`plan`]: the host facts the plan needs (read once), and `isolab_shared::plan` re-exported.
//! - [`channel`]: the runtime <-> init helper messages over a socketpair, with fd passing.
//! - [`preflight`]: the checks before anything exists: spec, namespaces, image, name.
//! - [`container`]: the lifecycle API: create, start, stop, kill, wait, delete.
//! - [`launch`]: making a container: state dir, plan, cgroup, PID 1 (helper or own
//!   clone), stdio, id maps, and init's messages until it is set up.
//! - [`stdio`]: where the command reads and writes without a terminal: inherited fds,
//!   /dev/null or new pipes.
//! - [`init_process`]: the init helper and PID 1's setup: id maps, cgroups, plan, command.
//! - [`proc_title`]: the command line and environment a forked PID 1 shows, rewritten
//!   in place.
//! - [`clone3`]: makes PID 1 in its namespaces and cgroup with one clone3.
//! - [`exec`]: another process in a running container, entering chosen namespaces.
//! - [`exec_capture`]: a command in a container or on the host with its output
//!   captured and a deadline (a lesson's checks).
//! - [`apply`]: applies planned steps (mounts, pivot_root, hostname, lo, masks).
//! - [`reaper`]: the container's minimal PID 1: runs the command as PID 2, forwards
//!   signals, reaps zombies.
//! - [`security`]: capabilities, no-dumpable, fd hygiene, the cwd check.
//! - [`seccomp`]: the plan's seccomp policy compiled to BPF by PID 1 (a search tree
//!   over syscall numbers), installed by the command's process just before execve.
//! - [`userns_ranges`]: the id ranges of `userns: auto` containers: allocated under a
//!   lock, recorded in `<state_root>/subuid` and `subgid`, freed with the state dir.
//! - [`state`]: `state.json` per container under the state root; PID reuse detection.
//! - [`cleanup`]: `remove` from any process, and `gc` of leftovers.
//! - [`orphans`]: processes in isolab's cgroups that no state dir accounts for.
//! - [`mod@describe`]: [`isolab_shared::ContainerState`] from a record plus live observation.
//! - [`pty`]: a PTY pair from the current devpts; a PTY's window size.
//!
//! # Why a re-exec'd helper, not clone() from the server
//! The server is a multi-threaded tokio process: between fork and exec only
//! async-signal-safe code may run there. So the runtime only spawns
//! [`RuntimeConfig::helper_exe`] (the isolab binary itself) with `std::process::Command`,
//! which does the fork+exec safely; no Rust code of ours runs in between. The helper is
//! a fresh single-threaded process, free to clone, mount and allocate. Its path is a
//! parameter because in integration tests `/proc/self/exe` is the test binary.
//!
//! A caller that runs one thread (the CLI; checked in /proc/self/status) has no such
//! hazard, so it clones PID 1 itself and skips the helper's exec (part of `isolab run`'s
//! speed). Either way PID 1 is made by one clone3: in its new namespaces, born in the
//! cgroup2 directory (CLONE_INTO_CGROUP), a child of the runtime (CLONE_PARENT from the
//! helper), and not dumpable until the command's exec (CVE-2019-5736). The command is
//! exec'd only after pivot_root, from the container's own files: no host binary is
//! ever exec'd inside the container's namespaces.
//!
//! No axum and no clap in here: the server and the CLI are thin users of this library.

pub mod apply;
pub mod cgroup;
pub mod channel;
pub mod cleanup;
pub mod clone3;
pub mod container;
pub mod describe;
pub mod exec;
pub mod exec_capture;
pub mod init_process;
pub mod launch;
pub mod orphans;
pub mod plan;
pub mod preflight;
pub mod proc_title;
pub mod pty;
pub mod reaper;
pub mod seccomp;
pub mod security;
pub mod state;
pub mod stdio;
pub mod steps;
pub mod userns_ranges;

use std::path::PathBuf;

use isolab_shared::limits::LimitError;
use isolab_shared::{ErrorCode, NamespaceKind, SpecError};

use channel::FailureKind;

pub use cleanup::{gc, gc_dry_run, remove, GcReport};
pub use container::{adopted_tty, Container};
pub use describe::describe;
pub use init_process::{init_helper_main, INIT_ARGV0};
pub use preflight::check_spec;
pub use pty::resize;
pub use state::{list, ContainerRecord};
pub use stdio::{ContainerPipes, Stdio};

/// The default state root.
pub const DEFAULT_STATE_ROOT: &str = "/run/isolab";

/// Where the runtime keeps state and which binary it re-execs as the init helper.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// The isolab binary, re-exec'd as the init helper.
    pub helper_exe: PathBuf,
    /// One dir per container lives here (default [`DEFAULT_STATE_ROOT`]).
    pub state_root: PathBuf,
    /// First host uid/gid that container root maps to in a user namespace (unless the
    /// spec asks for `userns: auto`, which gets a range of its own).
    pub id_map_base: u32,
    /// How many ids the user namespace maps.
    pub id_map_count: u32,
    /// Fork the helper instead of re-exec'ing it when the caller runs a single thread.
    pub fork_when_single_threaded: bool,
    /// Make cgroups for every controller (usage to show, limits to change later), or
    /// only for those the spec's limits need (pids always): the CLI's choice.
    pub all_cgroup_controllers: bool,
    /// `wait_and_delete` moves PID 1 out of the cgroup once the command has ended and
    /// cleans up while PID 1's namespaces are torn down, without reaping it: for a
    /// caller that exits right after (the CLI's `run --rm`), as bwrap's does.
    pub release_before_teardown: bool,
}

impl RuntimeConfig {
    /// The defaults with this helper binary.
    pub fn new(helper_exe: PathBuf) -> Self {
        RuntimeConfig {
            helper_exe,
            state_root: PathBuf::from(DEFAULT_STATE_ROOT),
            id_map_base: 100_000,
            id_map_count: 65_536,
            fork_when_single_threaded: true,
            all_cgroup_controllers: true,
            release_before_teardown: false,
        }
    }
}

/// Why the runtime could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("real containers need root: run isolab as root")]
    NotRoot,
    #[error("this kernel does not support {0} namespaces (no /proc/self/ns/{0})")]
    NamespaceUnsupported(NamespaceKind),
    #[error("image directory '{0}' does not exist")]
    ImageMissing(String),
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error("a container named '{0}' already exists")]
    NameTaken(String),
    #[error("no container '{0}'")]
    NotFound(String),
    #[error("{0}")]
    CommandNotFound(String),
    /// The command exists but execve(2) refused it (permissions, format).
    #[error("cannot run the command: {0}")]
    CommandNotExecutable(String),
    #[error("container setup failed at {step}: {error}")]
    SetupFailed { step: String, error: String },
    #[error("cannot start the init helper {0}: {1}")]
    Helper(PathBuf, std::io::Error),
    #[error(transparent)]
    Channel(#[from] channel::ChannelError),
    #[error("the init helper broke protocol: {0}")]
    Protocol(String),
    #[error("cgroup: {0}")]
    Cgroup(#[from] cgroup::CgroupError),
    #[error("container '{0}' has no cgroup")]
    NoCgroup(String),
    #[error("state dir {0}: {1}")]
    StateDir(PathBuf, std::io::Error),
    #[error("container '{0}' is not running")]
    NotRunning(String),
    #[error("{0}: {1}")]
    Sys(&'static str, nix::Error),
    #[error("no free range of subordinate ids is left for `userns: auto`")]
    NoIdRange,
}

impl RuntimeError {
    /// The API's error code for this failure (a stable snake_case name on the wire);
    /// the server answers with it and the status that belongs to it.
    pub fn code(&self) -> ErrorCode {
        match self {
            RuntimeError::NotFound(_) => ErrorCode::NotFound,
            RuntimeError::ImageMissing(_) => ErrorCode::ImageNotFound,
            RuntimeError::Spec(SpecError::Limit(_)) => ErrorCode::LimitOutOfRange,
            RuntimeError::Spec(_) | RuntimeError::CommandNotFound(_) => ErrorCode::BadRequest,
            RuntimeError::NameTaken(_) | RuntimeError::NotRunning(_) => ErrorCode::Conflict,
            // Every variant is named, so a new one needs a decision here.
            RuntimeError::NotRoot
            | RuntimeError::NamespaceUnsupported(_)
            | RuntimeError::CommandNotExecutable(_)
            | RuntimeError::SetupFailed { .. }
            | RuntimeError::Helper(..)
            | RuntimeError::Channel(_)
            | RuntimeError::Protocol(_)
            | RuntimeError::Cgroup(_)
            | RuntimeError::NoCgroup(_)
            | RuntimeError::StateDir(..)
            | RuntimeError::Sys(..)
            | RuntimeError::NoIdRange => ErrorCode::Internal,
        }
    }

    /// The error of a [`ControlMessage::Failed`](channel::ControlMessage::Failed) from
    /// init, by its kind.
    fn init_failed(kind: FailureKind, step: String, error: String) -> Self {
        match kind {
            FailureKind::Setup => RuntimeError::SetupFailed { step, error },
            FailureKind::CommandNotFound => RuntimeError::CommandNotFound(error),
            FailureKind::CommandNotExecutable => RuntimeError::CommandNotExecutable(error),
        }
    }
}

impl From<LimitError> for RuntimeError {
    fn from(e: LimitError) -> Self {
        RuntimeError::Spec(e.into())
    }
}
