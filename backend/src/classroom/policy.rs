//! What a student's container may be: the class quota (`--student-quota`) and the
//! namespaces a student may not leave out (`--student-namespaces`).

use isolab_shared::limits::{self, LimitError, Limits};
use isolab_shared::{NamespaceKind, NamespaceSet};
use serde::{Deserialize, Serialize};

/// Namespaces a student's container always has (with the strict policy): without
/// them a student would share the host's processes, mounts or network.
pub const REQUIRED_NAMESPACES: [NamespaceKind; 3] =
    [NamespaceKind::Pid, NamespaceKind::Mnt, NamespaceKind::Net];

/// The most a student may use.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct StudentQuota {
    /// Containers at once.
    pub containers: usize,
    pub memory_bytes: u64,
    pub pids: u64,
    pub cpus: f64,
}

impl Default for StudentQuota {
    /// 3 containers, each at most 256M, 256 pids and half a core.
    fn default() -> Self {
        StudentQuota {
            containers: 3,
            memory_bytes: 256 << 20,
            pids: 256,
            cpus: 0.5,
        }
    }
}

/// A `--student-quota` that does not parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QuotaSyntaxError {
    #[error(
        "bad quota item '{0}': use containers=N, memory=SIZE, pids=N or cpus=N, comma-separated"
    )]
    BadItem(String),
    #[error("bad containers count '{0}': use a whole number from 1")]
    BadContainers(String),
    #[error(transparent)]
    Limit(#[from] LimitError),
}

impl std::str::FromStr for StudentQuota {
    type Err = QuotaSyntaxError;

    /// Parses `containers=3,memory=256M,pids=256,cpus=0.5`; items left out keep
    /// their defaults.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut quota = StudentQuota::default();
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let Some((key, value)) = item.split_once('=') else {
                return Err(QuotaSyntaxError::BadItem(item.to_string()));
            };
            match key.trim() {
                "containers" => {
                    quota.containers = value
                        .trim()
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| QuotaSyntaxError::BadContainers(value.to_string()))?
                }
                "memory" => quota.memory_bytes = limits::parse_memory(value)?,
                "pids" => quota.pids = limits::parse_pids(value)?,
                "cpus" => quota.cpus = limits::parse_cpus(value)?,
                _ => return Err(QuotaSyntaxError::BadItem(item.to_string())),
            }
        }
        Ok(quota)
    }
}

/// Which namespaces students may leave out.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum NamespacePolicy {
    /// pid, mnt and net are required; uts, ipc and cgroup may be left out.
    #[default]
    Strict,
    /// Any may be left out (the user namespace is still added).
    Any,
}

impl std::str::FromStr for NamespacePolicy {
    type Err = String;

    /// `strict` or `any`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "strict" => Ok(NamespacePolicy::Strict),
            "any" => Ok(NamespacePolicy::Any),
            other => Err(format!(
                "unknown namespace policy '{other}': use strict or any"
            )),
        }
    }
}

/// Which limits a request named (the others take the quota).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LimitsGiven {
    pub pids: bool,
    pub memory_bytes: bool,
    pub cpus: bool,
}

impl LimitsGiven {
    /// Which limits the JSON object `limits` names (`null` names "unlimited").
    pub fn of_json(limits: Option<&serde_json::Value>) -> Self {
        let has = |k: &str| limits.and_then(|l| l.get(k)).is_some();
        LimitsGiven {
            pids: has("pids"),
            memory_bytes: has("memory_bytes"),
            cpus: has("cpus"),
        }
    }
}

/// Why a student's request is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyError {
    #[error("{0} is above the class quota of {1}")]
    QuotaExceeded(&'static str, String),
    #[error("students' containers need a {0} namespace here")]
    NamespaceRequired(NamespaceKind),
}

/// What the class allows its students.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct StudentPolicy {
    pub quota: StudentQuota,
    pub namespaces: NamespacePolicy,
}

impl StudentPolicy {
    /// The limits a student's container gets: those asked for, if within the quota;
    /// the quota for those not named.
    pub fn admit_limits(&self, asked: &Limits, given: LimitsGiven) -> Result<Limits, PolicyError> {
        let q = &self.quota;
        let pids = pick(given.pids, asked.pids, q.pids, "pids", q.pids.to_string())?;
        let memory = pick(
            given.memory_bytes,
            asked.memory_bytes,
            q.memory_bytes,
            "memory",
            limits::format_bytes(q.memory_bytes),
        )?;
        let cpus = match (given.cpus, asked.cpus) {
            (false, _) => q.cpus,
            (true, Some(c)) if c <= q.cpus => c,
            (true, _) => return Err(PolicyError::QuotaExceeded("cpus", q.cpus.to_string())),
        };
        Ok(Limits {
            pids: Some(pids),
            memory_bytes: Some(memory),
            cpus: Some(cpus),
        })
    }

    /// The namespaces of a student's container: those asked for plus a user
    /// namespace; refused when a required one is left out.
    pub fn admit_namespaces(&self, asked: &NamespaceSet) -> Result<NamespaceSet, PolicyError> {
        if self.namespaces == NamespacePolicy::Strict {
            if let Some(missing) = REQUIRED_NAMESPACES.iter().find(|k| !asked.contains(**k)) {
                return Err(PolicyError::NamespaceRequired(*missing));
            }
        }
        let mut set = asked.clone();
        set.0.insert(NamespaceKind::User);
        Ok(set)
    }

    /// Checks that a student's exec enters every namespace of its container (one
    /// left out would be the host's, where the student's process would run as root).
    pub fn admit_exec(
        &self,
        asked: Option<&NamespaceSet>,
        container: &NamespaceSet,
    ) -> Result<(), PolicyError> {
        match asked.and_then(|a| container.iter().find(|k| !a.contains(*k))) {
            Some(missing) => Err(PolicyError::NamespaceRequired(missing)),
            None => Ok(()),
        }
    }
}

/// A named limit within `max`, or `max` when not named.
fn pick(
    given: bool,
    asked: Option<u64>,
    max: u64,
    what: &'static str,
    shown: String,
) -> Result<u64, PolicyError> {
    match (given, asked) {
        (false, _) => Ok(max),
        (true, Some(v)) if v <= max => Ok(v),
        (true, _) => Err(PolicyError::QuotaExceeded(what, shown)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_flag_and_keeps_defaults() {
        let q: StudentQuota = "containers=2, memory=128M".parse().expect("parses");
        assert_eq!(q.containers, 2);
        assert_eq!(q.memory_bytes, 128 << 20);
        assert_eq!(q.pids, 256);
        assert!("disk=1G".parse::<StudentQuota>().is_err());
        assert!("containers=0".parse::<StudentQuota>().is_err());
        assert!("memory=lots".parse::<StudentQuota>().is_err());
    }

    #[test]
    fn limits_within_the_quota_and_defaults_from_it() {
        let policy = StudentPolicy::default();
        let none = LimitsGiven::default();
        let got = policy
            .admit_limits(&Limits::default(), none)
            .expect("quota");
        assert_eq!(got.pids, Some(256));
        assert_eq!(got.memory_bytes, Some(256 << 20));
        assert_eq!(got.cpus, Some(0.5));
        let asked = Limits {
            pids: Some(64),
            memory_bytes: Some(512 << 20),
            cpus: None,
        };
        let given = LimitsGiven::of_json(Some(&serde_json::json!({"pids": 64})));
        assert_eq!(
            policy.admit_limits(&asked, given).expect("ok").pids,
            Some(64)
        );
        let given = LimitsGiven::of_json(Some(&serde_json::json!({"memory_bytes": 1})));
        assert!(matches!(
            policy.admit_limits(&asked, given),
            Err(PolicyError::QuotaExceeded("memory", _))
        ));
        // Naming "unlimited" is above any quota.
        let given = LimitsGiven::of_json(Some(&serde_json::json!({"cpus": null})));
        assert!(policy.admit_limits(&asked, given).is_err());
    }

    #[test]
    fn namespaces_required_and_user_added() {
        let strict = StudentPolicy::default();
        let set = strict
            .admit_namespaces(&NamespaceSet::default())
            .expect("default set is fine");
        assert!(set.contains(NamespaceKind::User));
        let no_net = NamespaceSet::parse_list("pid,mnt").expect("list");
        assert_eq!(
            strict.admit_namespaces(&no_net),
            Err(PolicyError::NamespaceRequired(NamespaceKind::Net))
        );
        let no_uts = NamespaceSet::parse_list("pid,mnt,net").expect("list");
        assert!(strict.admit_namespaces(&no_uts).is_ok());
        let any = StudentPolicy {
            namespaces: NamespacePolicy::Any,
            ..Default::default()
        };
        assert!(any
            .admit_namespaces(&no_net)
            .expect("any")
            .contains(NamespaceKind::User));
        let container = NamespaceSet::parse_list("pid,mnt,net,user").expect("list");
        assert!(strict.admit_exec(None, &container).is_ok());
        let only_net = NamespaceSet::parse_list("net").expect("list");
        assert!(strict.admit_exec(Some(&only_net), &container).is_err());
    }
}
