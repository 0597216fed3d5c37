//! The seccomp policy of a container: which system calls it may make, decided by
//! name and arguments, and what the rest get (EPERM). Written once here, applied by
//! the runtime (compiled to BPF in `backend/src/runtime/seccomp/`) and by the
//! simulator (a blocked call fails with EPERM in the simulated shell).
//!
//! - [`default_profile`]: isolab's own default: the common container allowlist, as
//!   groups of system calls with the condition that enables each group.
//! - [`profile`]: the common JSON profile format (`--security-opt seccomp=FILE`),
//!   parsed into the same [`SeccompPolicy`].
//! - [`syscalls_x86_64`]: the x86_64 system call table the policy is counted and
//!   compiled against.

pub mod default_profile;
pub mod profile;
pub mod syscalls_x86_64;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

pub use profile::{ProfileError, SeccompProfile};
pub use syscalls_x86_64::{x86_64_number, X86_64_SYSCALLS};

/// errno(3) EPERM: what a blocked call returns under the default policy.
pub const EPERM: u32 = 1;
/// errno(3) ENOSYS: "not implemented", which makes a C library fall back (clone3 ->
/// clone, where the argument filter applies).
pub const ENOSYS: u32 = 38;

/// What a container's spec asks for.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "snake_case")]
pub enum SeccompSetting {
    /// isolab's default allowlist ([`default_profile`]).
    #[default]
    Default,
    /// No filter at all.
    Unconfined,
    /// A profile in the common JSON format, inlined.
    Profile(ProfilePayload),
}

/// What [`SeccompSetting::Profile`] holds: the parsed profile where it is used (the
/// backend and the simulator's worker enable `full-spec`).
#[cfg(any(test, feature = "full-spec"))]
pub type ProfilePayload = Box<SeccompProfile>;

/// What [`SeccompSetting::Profile`] holds in the page: nothing. The page only shows
/// containers, so parsing a user's profile (its types and a `serde_json::Value`)
/// would only weigh on its first load.
#[cfg(not(any(test, feature = "full-spec")))]
pub type ProfilePayload = ProfileNotKept;

/// A seccomp profile skipped unread: the page's stand-in for [`SeccompProfile`].
#[cfg(not(any(test, feature = "full-spec")))]
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileNotKept;

#[cfg(not(any(test, feature = "full-spec")))]
impl<'de> Deserialize<'de> for ProfileNotKept {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(deserializer).map(|_| ProfileNotKept)
    }
}

#[cfg(not(any(test, feature = "full-spec")))]
impl Serialize for ProfileNotKept {
    /// Refuses: sending a profile that was never read would send a different one.
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "a seccomp profile is only kept with the full-spec feature",
        ))
    }
}

/// What the kernel does with a call a rule (or the default) matches.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum SeccompAction {
    /// The call runs.
    Allow,
    /// The call fails with this errno and does nothing.
    Errno(u32),
    /// The calling thread is killed.
    KillThread,
    /// The whole process is killed (SIGSYS).
    KillProcess,
    /// SIGSYS is sent to the caller.
    Trap,
    /// The call runs and is logged.
    Log,
}

impl SeccompAction {
    /// The kernel's precedence when several filters answer: lower wins
    /// (seccomp(2): KILL_PROCESS, KILL_THREAD, TRAP, ERRNO, LOG, ALLOW).
    pub fn precedence(self) -> u8 {
        match self {
            SeccompAction::KillProcess => 0,
            SeccompAction::KillThread => 1,
            SeccompAction::Trap => 2,
            SeccompAction::Errno(_) => 3,
            SeccompAction::Log => 4,
            SeccompAction::Allow => 5,
        }
    }

    /// Whether the call goes through.
    pub fn runs(self) -> bool {
        matches!(self, SeccompAction::Allow | SeccompAction::Log)
    }
}

/// How an argument is compared.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ArgOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `(arg & mask) == value`.
    MaskedEq {
        mask: u64,
    },
}

/// One condition on a system call argument.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArgCheck {
    /// The argument's position, 0 to 5.
    pub index: u8,
    pub op: ArgOp,
    pub value: u64,
    /// Compare only the low 32 bits: for `int` arguments, whose upper register half
    /// the kernel ignores, so junk there cannot slip past a `Ne` check.
    #[serde(default)]
    pub low_32_bits: bool,
}

impl ArgCheck {
    /// Whether `args` meets the condition.
    pub fn holds(&self, args: &[u64; 6]) -> bool {
        let mut arg = args.get(usize::from(self.index)).copied().unwrap_or(0);
        let mut value = self.value;
        if self.low_32_bits {
            arg &= 0xffff_ffff;
            value &= 0xffff_ffff;
        }
        match self.op {
            ArgOp::Eq => arg == value,
            ArgOp::Ne => arg != value,
            ArgOp::Lt => arg < value,
            ArgOp::Le => arg <= value,
            ArgOp::Gt => arg > value,
            ArgOp::Ge => arg >= value,
            ArgOp::MaskedEq { mask } => arg & mask == value,
        }
    }
}

/// System calls that get `action` when every one of `args` holds.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SyscallRule {
    pub names: Vec<String>,
    pub action: SeccompAction,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<ArgCheck>,
}

/// A resolved policy: conditions on capabilities and architectures already decided,
/// names limited to the x86_64 table. Among the rules that match a call the most
/// restrictive action wins; a call no rule matches gets `default_action`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SeccompPolicy {
    pub default_action: SeccompAction,
    pub rules: Vec<SyscallRule>,
}

/// How many system calls a policy lets through and which it blocks.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SeccompCounts {
    /// Calls with at least one way through (some only with certain arguments).
    pub allowed: u32,
    /// Calls that never run, by name, in table order.
    pub blocked: Vec<String>,
}

impl SeccompPolicy {
    /// What the kernel does with `name(args)` under this policy.
    pub fn action_for(&self, name: &str, args: &[u64; 6]) -> SeccompAction {
        self.rules
            .iter()
            .filter(|r| r.names.iter().any(|n| n == name))
            .filter(|r| r.args.iter().all(|a| a.holds(args)))
            .map(|r| r.action)
            .min_by_key(|a| a.precedence())
            .unwrap_or(self.default_action)
    }

    /// The allowed count and blocked names over the x86_64 table. A call may run
    /// when some rule lets it through, or when no rule names it and the default does.
    pub fn counts(&self) -> SeccompCounts {
        let mut named: HashMap<&str, bool> = HashMap::new();
        for rule in &self.rules {
            for name in &rule.names {
                *named.entry(name.as_str()).or_default() |= rule.action.runs();
            }
        }
        let mut counts = SeccompCounts::default();
        for (name, _) in X86_64_SYSCALLS {
            let runs = named
                .get(name)
                .copied()
                .unwrap_or(self.default_action.runs());
            if runs {
                counts.allowed += 1;
            } else {
                counts.blocked.push((*name).to_string());
            }
        }
        counts
    }
}

/// A container's filter as the plan carries it: the policy and its counts, worked
/// out once when the plan is built.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PlannedFilter {
    pub policy: SeccompPolicy,
    /// How many x86_64 calls can get through.
    pub allowed: u32,
    /// The calls that never get through, by name.
    pub blocked: Vec<String>,
}

impl PlannedFilter {
    /// The filter of `policy`, with its counts.
    pub fn new(policy: SeccompPolicy) -> Self {
        let counts = policy.counts();
        PlannedFilter {
            policy,
            allowed: counts.allowed,
            blocked: counts.blocked,
        }
    }
}

/// The policy for `setting`, given the capabilities the container keeps; `None` for
/// unconfined.
pub fn resolve(
    setting: &SeccompSetting,
    kept_caps: &[String],
) -> Result<Option<SeccompPolicy>, ProfileError> {
    match setting {
        SeccompSetting::Unconfined => Ok(None),
        SeccompSetting::Default => Ok(Some(default_profile::policy(kept_caps))),
        #[cfg(any(test, feature = "full-spec"))]
        SeccompSetting::Profile(p) => p.resolve(kept_caps).map(Some),
        #[cfg(not(any(test, feature = "full-spec")))]
        SeccompSetting::Profile(_) => Err(ProfileError::Unsupported(
            "profiles are only read with the full-spec feature".into(),
        )),
    }
}

/// Keeps only the names the x86_64 table has, and drops rules left with none.
fn native_only(rules: Vec<SyscallRule>) -> Vec<SyscallRule> {
    rules
        .into_iter()
        .map(|mut r| {
            r.names.retain(|n| x86_64_number(n).is_some());
            r
        })
        .filter(|r| !r.names.is_empty())
        .collect()
}

#[cfg(test)]
mod tests;
