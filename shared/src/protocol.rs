//! The API vocabulary: every type the backend sends or takes, and the simulator produces.
//! (Over 500 lines on purpose: the whole wire vocabulary in one file, read beside docs/api.md.)
//!
//! Bodies on the wire are JSON of these types. Field names are snake_case; enums that
//! travel alone are tagged with `"type"`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::limits::{LimitError, Limits};
use crate::namespace::{NamespaceKind, NamespaceSet};

/// The version of this API; bumped on any incompatible change.
pub const API_VERSION: u32 = 1;

/// The image name that means "the host's own /usr, /bin and /lib, read-only".
pub const HOST_IMAGE: &str = "host";

/// What `GET /api/v1/version` answers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct VersionInfo {
    /// isolab's own version.
    pub version: String,
    /// [`API_VERSION`] of the server.
    pub api_version: u32,
    /// Whether real containers can be made here, and why not.
    pub live: LiveStatus,
    /// How the host mounts its cgroups.
    pub cgroup_mode: CgroupMode,
    /// `uname -r` of the host.
    pub kernel_release: String,
}

/// Whether the server can create real containers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct LiveStatus {
    /// True when real containers can be created.
    pub available: bool,
    /// Why live mode is off, in one line; `None` when it is on.
    pub reason: Option<String>,
}

/// The host's cgroup layout.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CgroupMode {
    /// Only cgroup v1 hierarchies are mounted.
    V1,
    /// cgroup2 is mounted at /sys/fs/cgroup (the unified hierarchy).
    V2,
    /// v1 controllers plus a cgroup2 mount beside them (usually /sys/fs/cgroup/unified).
    Hybrid,
    /// No cgroup filesystem is mounted.
    None,
}

impl std::fmt::Display for CgroupMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CgroupMode::V1 => "v1",
            CgroupMode::V2 => "v2",
            CgroupMode::Hybrid => "hybrid",
            CgroupMode::None => "none",
        })
    }
}

fn default_image() -> String {
    HOST_IMAGE.to_string()
}

fn default_command() -> Vec<String> {
    vec!["/bin/sh".to_string()]
}

fn yes() -> bool {
    true
}

/// What a user asks for when creating a container (the body of `POST /containers`).
/// Every field has a default, so `{}` is a valid spec: a shell on the host image.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ContainerSpec {
    /// A human name; the server makes one up when absent.
    #[serde(default)]
    pub name: Option<String>,
    /// `host`, or the path of a directory holding a root filesystem.
    #[serde(default = "default_image")]
    pub image: String,
    /// The argv of the container's first process.
    #[serde(default = "default_command")]
    pub command: Vec<String>,
    /// The container's hostname; defaults to its name.
    #[serde(default)]
    pub hostname: Option<String>,
    /// Which namespaces to create; the rest are shared with the host.
    #[serde(default)]
    pub namespaces: NamespaceSet,
    /// cgroup limits.
    #[serde(default)]
    pub limits: Limits,
    /// Run with a terminal (true) or with pipes (false).
    #[serde(default = "yes")]
    pub tty: bool,
    /// Extra environment as `KEY=value` strings.
    #[serde(default)]
    pub env: Vec<String>,
    /// Security options beyond the fixed baseline (the seccomp profile).
    #[serde(default, skip_serializing_if = "SecuritySpec::is_default")]
    pub security: SecuritySpec,
    /// Where the user namespace's ids come from: absent (or `"default"`) maps root to
    /// the one fixed range when `namespaces` has `user`; `"auto"` adds a user namespace
    /// with a 65536-id range of the container's own (see [`crate::userns`]).
    #[serde(default, skip_serializing_if = "UsernsMode::is_default")]
    pub userns: UsernsMode,
}

/// A container's user-namespace ids (`--userns`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum UsernsMode {
    /// A user namespace only if `namespaces` names it, mapping root to the fixed range
    /// every such container shares.
    #[default]
    Default,
    /// A user namespace always, with a range of its own allocated at creation and
    /// freed at removal.
    Auto,
}

impl UsernsMode {
    /// Whether this is the default (then the field is left out of the JSON).
    pub fn is_default(&self) -> bool {
        *self == UsernsMode::Default
    }
}

impl std::str::FromStr for UsernsMode {
    type Err = String;

    /// `auto` or `default`, as `--userns` takes them.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "auto" => Ok(UsernsMode::Auto),
            "default" => Ok(UsernsMode::Default),
            other => Err(format!(
                "unknown --userns mode '{other}': use auto or default"
            )),
        }
    }
}

/// A container's security options, `{"seccomp": "default" | "unconfined" |
/// {"profile": {...}}}`; `{}` or no field at all is the default.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct SecuritySpec {
    /// The seccomp filter: isolab's default profile, none, or a profile of the user's.
    #[serde(default)]
    pub seccomp: crate::seccomp::SeccompSetting,
}

impl SecuritySpec {
    /// Whether every option is the default (then the field is left out of the JSON).
    pub fn is_default(&self) -> bool {
        *self == SecuritySpec::default()
    }
}

impl Default for ContainerSpec {
    fn default() -> Self {
        ContainerSpec {
            name: None,
            image: default_image(),
            command: default_command(),
            hostname: None,
            namespaces: NamespaceSet::default(),
            limits: Limits::default(),
            tty: true,
            env: Vec::new(),
            security: SecuritySpec::default(),
            userns: UsernsMode::Default,
        }
    }
}

/// A spec the runtime cannot accept, found without touching the system.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    #[error("the command is empty: give at least the program to run")]
    EmptyCommand,
    #[error("bad name '{0}': use 1-63 letters, digits, '-', '_' or '.'")]
    BadName(String),
    #[error("bad hostname '{0}': use 1-63 letters, digits or '-'")]
    BadHostname(String),
    #[error(transparent)]
    Limit(#[from] LimitError),
    #[error(transparent)]
    Seccomp(#[from] crate::seccomp::ProfileError),
}

impl ContainerSpec {
    /// The namespaces the container gets: those named, plus `user` with
    /// `userns: auto`.
    pub fn effective_namespaces(&self) -> NamespaceSet {
        let mut set = self.namespaces.clone();
        if self.userns == UsernsMode::Auto {
            set.0.insert(crate::namespace::NamespaceKind::User);
        }
        set
    }

    /// Checks what can be checked without the kernel: names, command and limit ranges.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.command.first().is_none_or(|c| c.is_empty()) {
            return Err(SpecError::EmptyCommand);
        }
        if let Some(name) = &self.name {
            let ok = !name.is_empty()
                && name.len() <= 63
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !ok {
                return Err(SpecError::BadName(name.clone()));
            }
        }
        if let Some(h) = &self.hostname {
            let ok = !h.is_empty()
                && h.len() <= 63
                && !h.starts_with('-')
                && h.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            if !ok {
                return Err(SpecError::BadHostname(h.clone()));
            }
        }
        self.limits.validate()?;
        // Without `full-spec` (the page) the profile is not kept; the server checks it.
        #[cfg(any(test, feature = "full-spec"))]
        if let crate::seccomp::SeccompSetting::Profile(p) = &self.security.seccomp {
            p.resolve(&[])?;
        }
        Ok(())
    }
}

/// Where a container is in its life.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ContainerStatus {
    /// Set up, first process not yet started.
    Created,
    /// Its first process runs.
    Running,
    /// Its first process has ended; see [`ExitStatus`].
    Exited,
}

/// How a container's first process ended.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct ExitStatus {
    /// The exit code, when it exited normally.
    pub code: Option<i32>,
    /// The signal that killed it, when one did.
    pub signal: Option<i32>,
    /// Whether the kernel's OOM killer was involved.
    pub oom_killed: bool,
}

impl ExitStatus {
    /// The code a shell would report: the exit code, or 128 + the signal.
    pub fn shell_code(&self) -> i32 {
        match (self.code, self.signal) {
            (Some(c), _) => c,
            (None, Some(s)) => 128 + s,
            (None, None) => 255,
        }
    }

    /// How it ended, in the words every view uses: "exited with code 0",
    /// "killed by signal 9", or "ended" when neither is known.
    pub fn describe(&self) -> String {
        match (self.code, self.signal) {
            (Some(c), _) => format!("exited with code {c}"),
            (None, Some(s)) => format!("killed by signal {s}"),
            (None, None) => "ended".to_string(),
        }
    }
}

/// Which part of container setup a step belongs to.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SetupPhase {
    Namespaces,
    Mounts,
    Cgroup,
    Limits,
    Security,
    Process,
}

/// One applied step of container setup, recorded so the UI can replay it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SetupStep {
    /// The phase this step belongs to.
    pub phase: SetupPhase,
    /// What the step does, for people: "make / rslave", "pivot_root".
    pub name: String,
    /// The syscall or file write with its arguments: `mount("proc", "/proc", "proc", MS_NOSUID|…)`.
    pub call: String,
    /// `None` when it worked; the error text when it failed.
    pub error: Option<String>,
    /// How long it took, in microseconds.
    pub duration_us: u64,
}

/// Namespace inode numbers per kind, as `/proc/PID/ns/*` shows them.
pub type NamespaceIds = BTreeMap<NamespaceKind, u64>;

/// One process as observed from the host (or modelled by the simulator).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ProcessInfo {
    /// The PID in the host's (initial) pid namespace.
    pub host_pid: u32,
    /// The PID in each nested pid namespace, outermost first (the `NSpid:` line).
    pub nspid: Vec<u32>,
    /// The parent's host PID.
    pub ppid: u32,
    /// The command line, or `[comm]` for kernel threads.
    pub cmdline: String,
    /// One-letter state as in /proc/PID/stat (R, S, D, Z, T…).
    pub state: String,
    /// The real uid as seen from the host.
    pub uid: u32,
    /// The namespaces it belongs to. In a container's process list on the event stream,
    /// only those that differ from the container's own
    /// ([`ContainerState::process_namespaces`] fills in the rest).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub namespaces: NamespaceIds,
}

/// A network interface in some net namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// The name, e.g. `lo` or `eth0`.
    pub name: String,
    /// Whether it is administratively up.
    pub up: bool,
    /// Addresses in CIDR form.
    pub addresses: Vec<String>,
}

/// cgroup usage and ceilings of one container. Missing numbers are `None`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct CgroupUsage {
    pub memory_current: Option<u64>,
    pub memory_max: Option<u64>,
    pub pids_current: Option<u64>,
    pub pids_max: Option<u64>,
    /// Total cpu time consumed, in microseconds.
    pub cpu_usage_us: Option<u64>,
    /// How many times the memory limit triggered the OOM killer.
    pub oom_kills: Option<u64>,
    /// How many forks were refused at pids.max.
    pub pids_rejected: Option<u64>,
}

/// One line of a uid or gid map: `inside outside count`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdMapEntry {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

/// The security facts of a container, shown so that hardening can be seen.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct IsolationFacts {
    /// Effective capabilities, as `CAP_*` names.
    pub capabilities: Vec<String>,
    /// The bounding set, as `CAP_*` names.
    pub bounding: Vec<String>,
    /// Whether no_new_privs is set.
    pub no_new_privs: bool,
    /// The seccomp mode: "disabled", "strict" or "filter".
    pub seccomp: String,
    /// With a filter: how many x86_64 system calls it lets through (some only with
    /// certain arguments).
    #[serde(default)]
    pub seccomp_allowed: u32,
    /// With a filter: the system calls it always refuses, by name.
    #[serde(default)]
    pub seccomp_blocked: Vec<String>,
    /// The device cgroup's rules: the only devices the container may open.
    #[serde(default)]
    pub devices: Vec<String>,
    /// Paths hidden from the container.
    pub masked_paths: Vec<String>,
    /// Paths made read-only.
    pub readonly_paths: Vec<String>,
    /// The uid map; empty without a user namespace.
    pub uid_map: Vec<IdMapEntry>,
    /// The gid map; empty without a user namespace.
    pub gid_map: Vec<IdMapEntry>,
}

/// Everything known about one container.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ContainerState {
    /// A short unique id.
    pub id: String,
    /// The human name.
    pub name: String,
    /// What was asked for.
    pub spec: ContainerSpec,
    pub status: ContainerStatus,
    /// Set once the first process has ended.
    pub exit: Option<ExitStatus>,
    /// Host PID of the container's first process.
    pub init_pid: Option<u32>,
    /// When it was created, in milliseconds since the Unix epoch.
    pub created_at_ms: u64,
    /// When its first process started.
    pub started_at_ms: Option<u64>,
    /// Its processes, first process first.
    pub processes: Vec<ProcessInfo>,
    /// The namespaces of its first process.
    pub namespaces: NamespaceIds,
    /// cgroup usage, when a cgroup exists.
    pub cgroup: Option<CgroupUsage>,
    /// Interfaces of its net namespace.
    pub interfaces: Vec<Interface>,
    /// The recorded setup steps, in order. Empty on the event stream, where they are
    /// fetched on demand (`GET /containers/{id}/steps`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub setup: Vec<SetupStep>,
    /// Its security facts; left out on the event stream, like `setup`.
    #[serde(default, skip_serializing_if = "IsolationFacts::is_unknown")]
    pub isolation: IsolationFacts,
    /// How long the recorded setup steps took in all, in microseconds (sent even when
    /// the steps themselves are not).
    #[serde(default)]
    pub setup_us: u64,
    /// The id of the student who owns it in a class; absent for the teacher's (or
    /// the admin's) containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// The bulky details of a container that the event stream leaves out: what the
/// creation-steps view shows (`GET /containers/{id}/steps`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct ContainerSteps {
    /// The container's id.
    pub id: String,
    /// The recorded setup steps, in order.
    pub setup: Vec<SetupStep>,
    /// Its security facts.
    pub isolation: IsolationFacts,
}

/// The host as a whole: its own namespaces and a process summary.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct HostState {
    pub hostname: String,
    pub kernel_release: String,
    /// The namespaces of PID 1 (the initial namespaces).
    pub namespaces: NamespaceIds,
    /// How many processes the host runs in all.
    pub process_count: u32,
    /// Processes by one-letter state.
    pub process_states: BTreeMap<String, u32>,
    /// Host processes worth drawing: all but kernel threads and those inside isolab's
    /// containers (listed with their container), so namespaces made by hand show too.
    pub processes: Vec<ProcessInfo>,
}

/// The full picture at one moment: the first message on the event stream.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Snapshot {
    /// The sequence number of the last event folded into this snapshot.
    pub seq: u64,
    pub host: HostState,
    pub containers: Vec<ContainerState>,
}

/// Which limit a container ran into.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LimitKind {
    Pids,
    Memory,
    Cpu,
}

/// One numbered change, in order, after the snapshot. (Deserialize: [`crate::wire`].)
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Event {
    /// Strictly increasing across the server's life.
    pub seq: u64,
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    ContainerCreated {
        container: Box<ContainerState>,
    },
    ContainerStarted {
        id: String,
        init_pid: u32,
    },
    ContainerExited {
        id: String,
        exit: ExitStatus,
    },
    ContainerOomKilled {
        id: String,
    },
    ContainerRemoved {
        id: String,
    },
    /// A container found in the state dir at start whose init still lives.
    ContainerAdopted {
        container: Box<ContainerState>,
    },
    /// A container found dead in the state dir at start, and cleaned up.
    ContainerCleaned {
        id: String,
    },
    /// `container` is `None` for a host process.
    ProcessStarted {
        container: Option<String>,
        process: ProcessInfo,
    },
    ProcessExited {
        container: Option<String>,
        host_pid: u32,
    },
    LimitHit {
        id: String,
        limit: LimitKind,
    },
    LimitsChanged {
        id: String,
        limits: Limits,
    },
    /// Usage figures of the containers whose figures changed since the client's last
    /// stats, at the rate it asked for; a sample, not a numbered change (see
    /// [`Snapshot::apply`]).
    Stats {
        usage: BTreeMap<String, CgroupUsage>,
    },
}

impl EventKind {
    /// The container the event is about: `None` for a host process's event and for a
    /// stats sample (which is about every container it lists).
    pub fn container_id(&self) -> Option<&str> {
        match self {
            EventKind::ContainerCreated { container }
            | EventKind::ContainerAdopted { container } => Some(&container.id),
            EventKind::ContainerStarted { id, .. }
            | EventKind::ContainerExited { id, .. }
            | EventKind::ContainerOomKilled { id }
            | EventKind::ContainerRemoved { id }
            | EventKind::ContainerCleaned { id }
            | EventKind::LimitHit { id, .. }
            | EventKind::LimitsChanged { id, .. } => Some(id),
            EventKind::ProcessStarted { container, .. }
            | EventKind::ProcessExited { container, .. } => container.as_deref(),
            EventKind::Stats { .. } => None,
        }
    }
}

/// Stable error codes of the API; each has one meaning forever.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    Unauthorized,
    ForbiddenOrigin,
    BadJson,
    BadRequest,
    UnknownMessage,
    NotFound,
    ImageNotFound,
    LimitOutOfRange,
    TooManyContainers,
    LiveUnavailable,
    Conflict,
    Internal,
    /// A student's token on a teacher's route.
    Forbidden,
    /// A student's limit above the class quota.
    QuotaExceeded,
    /// A student left out a namespace the class requires.
    NamespaceRequired,
    /// A join code that is not the class's.
    BadJoinCode,
    /// The teacher closed joining.
    JoiningClosed,
    /// Too many wrong join codes from one address.
    RateLimited,
    /// A display name that is empty, too long or has control characters.
    BadName,
    /// A display name another student of the class has.
    NameTaken,
    /// A classroom route on a server started without `--classroom`.
    NoClassroom,
}

/// The body of every API error: `{"error":{"code":"…","message":"…"}}`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ApiError {
    pub error: ApiErrorBody,
}

/// The inside of [`ApiError`].
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ApiErrorBody {
    pub code: ErrorCode,
    /// One line for a person.
    pub message: String,
}

impl ApiError {
    /// An error with `code` and a one-line `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            error: ApiErrorBody {
                code,
                message: message.into(),
            },
        }
    }
}

/// Control messages from a client on a terminal WebSocket (text frames); the
/// terminal's bytes go in binary frames both ways.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TerminalControl {
    /// The client's terminal size; the server clamps it.
    Resize { cols: u16, rows: u16 },
}

/// Notices from the server on a terminal WebSocket (text frames). (Deserialize:
/// [`crate::wire`].)
#[derive(Serialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TerminalNotice {
    /// First message: the binary frames that follow start at byte `offset` of the
    /// terminal's output. `read_only` is true in view mode.
    Attached { offset: u64, read_only: bool },
    /// The terminal's processes are gone; the socket closes after this.
    Ended,
    /// A client message was refused; the socket stays open.
    Error { error: ApiErrorBody },
}

/// The body of `POST /api/v1/classroom/join`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    /// The class's join code, such as `K7P-2QX` (case and dash do not matter).
    pub code: String,
    /// The student's display name, unique in the class.
    pub name: String,
}

/// A student of a class.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct StudentInfo {
    pub id: String,
    pub name: String,
}

/// What a successful join answers: the student's own token, shown this once.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct JoinAnswer {
    pub token: String,
    pub student: StudentInfo,
}

/// Who a caller is in a class.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ClassRole {
    Teacher,
    Student,
}

/// What `GET /api/v1/classroom` answers: the caller's role and the class's settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ClassInfo {
    pub role: ClassRole,
    /// The caller, when a student.
    pub student: Option<StudentInfo>,
    /// Whether new students may join.
    pub joining: bool,
    /// The join code; only the teacher sees it.
    pub join_code: Option<String>,
    /// When the class ends (ms since the Unix epoch), if it has an end time.
    #[serde(default)]
    pub ends_at_ms: Option<u64>,
    /// The server's clock when it answered (ms since the Unix epoch), so a countdown
    /// does not depend on the browser's clock being right.
    #[serde(default)]
    pub now_ms: u64,
    /// The teacher's container shown read-only to every student, while one is.
    #[serde(default)]
    pub broadcast: Option<String>,
    /// For a student: when they raised their hand, while it is up.
    #[serde(default)]
    pub hand_raised_at_ms: Option<u64>,
    /// For a student: their containers whose terminal the teacher has taken control of.
    #[serde(default)]
    pub taken_over: Vec<String>,
}

/// What `GET /api/v1/classroom/changes?since=N` answers: the class's change counter,
/// once it differs from `N` (or after the server's longest wait, unchanged).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassChanges {
    pub version: u64,
}

/// The body of `PATCH /api/v1/classroom`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClassSettings {
    /// Open or close joining.
    pub joining: Option<bool>,
    /// Set or extend the class's end (ms since the Unix epoch); `0` removes it.
    #[serde(default)]
    pub ends_at_ms: Option<u64>,
}

/// The body of `POST /api/v1/classroom/broadcast`: the teacher's container to show.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BroadcastRequest {
    /// The container's id or name.
    pub container: String,
}

/// One line of the teacher's roster (`GET /api/v1/classroom/students`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct RosterEntry {
    pub id: String,
    pub name: String,
    /// Whether the student has a socket open now.
    pub connected: bool,
    /// Ids of the student's containers.
    pub containers: Vec<String>,
    /// When the student raised a hand (ms since the Unix epoch), while it is up.
    pub hand_raised_at_ms: Option<u64>,
    /// Steps reported passed, over all lessons.
    pub steps_passed: u32,
    /// Steps reported, passed or not.
    pub steps_tried: u32,
}

/// The body of `POST /api/v1/classroom/progress`: one attempt at a lesson step.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProgressReport {
    pub lesson: String,
    pub step: String,
    pub passed: bool,
}

/// The body of `POST /api/v1/lessons/{id}/sessions` and of a session's `reset`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct LessonSessionStart {
    /// How many steps' solutions to type first, so the lesson opens where step
    /// `replay + 1` begins.
    #[serde(default)]
    pub replay: usize,
}

/// A lesson running on live containers for one caller: what starting (or resetting)
/// it answers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct LessonSessionInfo {
    /// The session's id, for its routes.
    pub id: String,
    /// The lesson's id.
    pub lesson: String,
    /// The setup containers: lesson-local name to container id.
    pub containers: std::collections::BTreeMap<String, String>,
    /// Whether the lesson has a `host` terminal (a root shell on the host, for the
    /// admin or the teacher only).
    pub host: bool,
    /// That shell's host PID: the picture draws the host processes descending from it
    /// (namespaces made by hand). `None` without a host terminal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_pid: Option<u32>,
}

/// A line the page types through `POST /lessons/sessions/{sid}/type`: one of the
/// lesson's own `try` or `solution` commands, never any other text.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LessonTyped {
    /// `host` or a setup container's lesson-local name.
    #[serde(rename = "in")]
    pub terminal: String,
    /// The line as the lesson writes it (`{pid:…}` placeholders unexpanded).
    pub run: String,
}

/// One check's verdict.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct LessonVerdict {
    pub passed: bool,
    pub reason: String,
}

/// What `POST /lessons/sessions/{sid}/steps/{n}/check` answers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct LessonStepChecked {
    /// All checks passed.
    pub passed: bool,
    /// Each check's verdict, in the lesson's order.
    pub checks: Vec<LessonVerdict>,
}

/// What `POST /lessons/sessions/{sid}/steps/{n}/probe` answers: the real kernel's
/// true answer to the step's prediction.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct LessonProbeAnswer {
    pub answer: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userns_is_optional_and_auto_adds_the_user_namespace() {
        let old: ContainerSpec = serde_json::from_str(r#"{"namespaces":["pid"]}"#).expect("parses");
        assert_eq!(old.userns, UsernsMode::Default);
        assert!(!old.effective_namespaces().contains(NamespaceKind::User));
        let json = serde_json::to_string(&old).expect("serialises");
        assert!(!json.contains("userns"), "{json}");
        let auto: ContainerSpec =
            serde_json::from_str(r#"{"namespaces":["pid"],"userns":"auto"}"#).expect("parses");
        assert_eq!(auto.userns, UsernsMode::Auto);
        assert!(auto.effective_namespaces().contains(NamespaceKind::User));
        assert!(auto.effective_namespaces().contains(NamespaceKind::Pid));
        assert!(serde_json::from_str::<ContainerSpec>(r#"{"userns":"host"}"#).is_err());
        assert_eq!("auto".parse(), Ok(UsernsMode::Auto));
        assert!("keep-id".parse::<UsernsMode>().is_err());
    }

    #[test]
    fn empty_spec_means_a_shell_on_the_host_image() {
        let spec: ContainerSpec = serde_json::from_str("{}").expect("empty spec parses");
        assert_eq!(spec, ContainerSpec::default());
        assert_eq!(spec.command, vec!["/bin/sh"]);
        assert_eq!(spec.image, HOST_IMAGE);
        assert!(spec.tty);
        assert!(spec.validate().is_ok());
    }

    #[test]
    fn spec_from_the_api_example_parses() {
        let spec: ContainerSpec = serde_json::from_str(
            r#"{"name":"web","image":"host","command":["/bin/sh"],"tty":true,"namespaces":["pid","uts"]}"#,
        )
        .expect("example parses");
        assert_eq!(spec.name.as_deref(), Some("web"));
        assert!(spec.namespaces.contains(NamespaceKind::Uts));
        assert!(!spec.namespaces.contains(NamespaceKind::Net));
    }

    #[test]
    fn spec_rejects_unknown_fields_and_bad_values() {
        assert!(serde_json::from_str::<ContainerSpec>(r#"{"imgae":"host"}"#).is_err());
        assert!(serde_json::from_str::<ContainerSpec>(r#"{"tty":"yes"}"#).is_err());
        let spec = ContainerSpec {
            command: vec![],
            ..Default::default()
        };
        assert_eq!(spec.validate(), Err(SpecError::EmptyCommand));
        let spec = ContainerSpec {
            hostname: Some("bad host".into()),
            ..Default::default()
        };
        assert!(matches!(spec.validate(), Err(SpecError::BadHostname(_))));
        let spec = ContainerSpec {
            name: Some("../x".into()),
            ..Default::default()
        };
        assert!(matches!(spec.validate(), Err(SpecError::BadName(_))));
    }

    #[test]
    fn events_are_tagged_by_type() {
        let ev = Event {
            seq: 7,
            at_ms: 1,
            kind: EventKind::ContainerExited {
                id: "c1".into(),
                exit: ExitStatus {
                    code: Some(3),
                    ..Default::default()
                },
            },
        };
        let json = serde_json::to_value(&ev).expect("serializes");
        assert_eq!(json["type"], "container_exited");
        assert_eq!(json["seq"], 7);
        assert_eq!(json["exit"]["code"], 3);
        let back: Event = serde_json::from_value(json).expect("parses back");
        assert_eq!(back, ev);
    }

    #[test]
    fn api_errors_have_the_documented_shape() {
        let e = ApiError::new(ErrorCode::NotFound, "no container 'x'");
        let json = serde_json::to_string(&e).expect("serializes");
        assert_eq!(
            json,
            r#"{"error":{"code":"not_found","message":"no container 'x'"}}"#
        );
    }

    #[test]
    fn exit_status_maps_signals_like_a_shell() {
        let killed = ExitStatus {
            code: None,
            signal: Some(9),
            oom_killed: true,
        };
        assert_eq!(killed.shell_code(), 137);
        assert_eq!(
            ExitStatus {
                code: Some(0),
                ..Default::default()
            }
            .shell_code(),
            0
        );
    }
}
