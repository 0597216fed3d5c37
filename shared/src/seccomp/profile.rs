//! The common JSON seccomp profile format, as `--security-opt seccomp=FILE` and the
//! API's `{"profile": {...}}` take it: `defaultAction`, `syscalls` with `names`,
//! `action`, `args` and `includes`/`excludes` on capabilities and architectures.
//! The subset isolab supports is enough for the common default profile and typical
//! user profiles; anything else is refused by name, never ignored.

use serde::{Deserialize, Serialize};

use super::{ArgCheck, ArgOp, SeccompAction, SeccompPolicy, SyscallRule};

/// The architecture names a profile's `arches` may use for x86_64.
const NATIVE_ARCHES: [&str; 3] = ["amd64", "x86_64", "SCMP_ARCH_X86_64"];

/// Why a profile cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("seccomp profile: {0}")]
    Unsupported(String),
    #[error("seccomp profile: {0}")]
    Parse(String),
}

/// A profile in the common JSON format.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeccompProfile {
    pub default_action: ProfileAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    /// Accepted and not needed: the filter is compiled for x86_64 only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architectures: Option<Vec<String>>,
    /// Accepted and not needed, as `architectures`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch_map: Option<serde_json::Value>,
    /// Filter flags: only an empty list is supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<Vec<String>>,
    #[serde(default)]
    pub syscalls: Vec<ProfileSyscall>,
}

/// A profile's action name.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProfileAction {
    #[serde(rename = "SCMP_ACT_ALLOW")]
    Allow,
    #[serde(rename = "SCMP_ACT_ERRNO")]
    Errno,
    #[serde(rename = "SCMP_ACT_KILL", alias = "SCMP_ACT_KILL_THREAD")]
    KillThread,
    #[serde(rename = "SCMP_ACT_KILL_PROCESS")]
    KillProcess,
    #[serde(rename = "SCMP_ACT_TRAP")]
    Trap,
    #[serde(rename = "SCMP_ACT_LOG")]
    Log,
}

/// One entry of `syscalls`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfileSyscall {
    #[serde(default)]
    pub names: Vec<String>,
    /// The older single-name form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub action: ProfileAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    #[serde(default)]
    pub args: Option<Vec<ProfileArg>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default)]
    pub includes: ProfileFilter,
    #[serde(default)]
    pub excludes: ProfileFilter,
}

/// `includes` / `excludes`: the entry applies when the container has all of the
/// included and none of the excluded.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfileFilter {
    #[serde(default)]
    pub arches: Vec<String>,
    #[serde(default)]
    pub caps: Vec<String>,
    /// Accepted: isolab needs a newer kernel than any the common profile names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_kernel: Option<String>,
}

/// One argument condition.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfileArg {
    pub index: u32,
    pub value: u64,
    #[serde(default)]
    pub value_two: u64,
    pub op: String,
}

impl ProfileAction {
    fn with_errno(self, errno: Option<u32>) -> SeccompAction {
        match self {
            ProfileAction::Allow => SeccompAction::Allow,
            ProfileAction::Errno => SeccompAction::Errno(errno.unwrap_or(super::EPERM)),
            ProfileAction::KillThread => SeccompAction::KillThread,
            ProfileAction::KillProcess => SeccompAction::KillProcess,
            ProfileAction::Trap => SeccompAction::Trap,
            ProfileAction::Log => SeccompAction::Log,
        }
    }
}

impl ProfileArg {
    fn check(&self) -> Result<ArgCheck, ProfileError> {
        let index = u8::try_from(self.index)
            .ok()
            .filter(|i| *i < 6)
            .ok_or_else(|| {
                ProfileError::Unsupported(format!("args.index {} is not 0-5", self.index))
            })?;
        let (op, value) = match self.op.as_str() {
            "SCMP_CMP_EQ" => (ArgOp::Eq, self.value),
            "SCMP_CMP_NE" => (ArgOp::Ne, self.value),
            "SCMP_CMP_LT" => (ArgOp::Lt, self.value),
            "SCMP_CMP_LE" => (ArgOp::Le, self.value),
            "SCMP_CMP_GT" => (ArgOp::Gt, self.value),
            "SCMP_CMP_GE" => (ArgOp::Ge, self.value),
            "SCMP_CMP_MASKED_EQ" => (ArgOp::MaskedEq { mask: self.value }, self.value_two),
            other => {
                return Err(ProfileError::Unsupported(format!(
                "args.op {other:?} is not one of SCMP_CMP_EQ, _NE, _LT, _LE, _GT, _GE, _MASKED_EQ"
            )))
            }
        };
        Ok(ArgCheck {
            index,
            op,
            value,
            low_32_bits: false,
        })
    }
}

impl ProfileSyscall {
    /// Whether the entry applies to an x86_64 container keeping `kept_caps`.
    fn applies(&self, kept_caps: &[String]) -> bool {
        let native = |arches: &[String]| arches.iter().any(|a| NATIVE_ARCHES.contains(&a.as_str()));
        let kept = |cap: &String| kept_caps.contains(cap);
        let inc = &self.includes;
        let exc = &self.excludes;
        (inc.arches.is_empty() || native(&inc.arches))
            && inc.caps.iter().all(kept)
            && !native(&exc.arches)
            && !exc.caps.iter().any(kept)
    }
}

impl SeccompProfile {
    /// Parses a profile from JSON text; an unknown field or action is named.
    pub fn from_json(text: &str) -> Result<Self, ProfileError> {
        serde_json::from_str(text).map_err(|e| ProfileError::Parse(e.to_string()))
    }

    /// The policy for an x86_64 container keeping `kept_caps`.
    pub fn resolve(&self, kept_caps: &[String]) -> Result<SeccompPolicy, ProfileError> {
        if self.flags.as_ref().is_some_and(|f| !f.is_empty()) {
            return Err(ProfileError::Unsupported(
                "flags are not supported (leave the list empty)".into(),
            ));
        }
        let mut rules = Vec::new();
        for entry in &self.syscalls {
            if !entry.applies(kept_caps) {
                continue;
            }
            let mut names = entry.names.clone();
            names.extend(entry.name.clone());
            if names.is_empty() {
                return Err(ProfileError::Unsupported(
                    "a syscalls entry has no names".into(),
                ));
            }
            let args = entry
                .args
                .iter()
                .flatten()
                .map(ProfileArg::check)
                .collect::<Result<Vec<_>, _>>()?;
            rules.push(SyscallRule {
                names,
                action: entry.action.with_errno(entry.errno_ret),
                args,
            });
        }
        Ok(SeccompPolicy {
            default_action: self.default_action.with_errno(self.default_errno_ret),
            rules: super::native_only(rules),
        })
    }
}
