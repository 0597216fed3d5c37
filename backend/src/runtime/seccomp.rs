//! The container's seccomp filter: PID 1 compiles the plan's policy to BPF once,
//! before it starts the command; the command's process installs it as the very last
//! step before execve (after no_new_privs, which lets an unprivileged task install
//! it, and after everything else PID 2 does), so it covers the command and every
//! process the command starts. isolab's own PID 1 runs without it: it runs no code
//! of the container's, cannot be traced (not dumpable), and must still reap and
//! report under a user profile that blocks, say, wait4 or sendmsg.
//!
//! One policy may give different calls different actions (EPERM for most, ENOSYS
//! for clone3); a compiled filter has one action on a match. So the policy becomes
//! several filters the kernel runs together, keeping the most restrictive answer
//! (seccomp(2)): one that lets every call some rule names through and gives the rest
//! the default action, then one per other action that gives it to its calls.

use std::collections::BTreeMap;

use isolab_shared::seccomp::{
    x86_64_number, ArgCheck, ArgOp, PlannedFilter, SeccompAction, SeccompPolicy,
};
use isolab_shared::{IsolationFacts, SetupPhase};
use seccompiler::{
    BpfProgram, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
};

use super::apply::StepFailed;
use super::channel::FailureKind;
use super::plan::PlannedStep;
use super::steps::StepLog;

/// A policy compiled to the BPF programs to install, in order.
#[derive(Debug)]
pub struct CompiledFilter {
    programs: Vec<BpfProgram>,
}

/// Why a policy could not become a filter.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("seccomp filters are built for x86_64 only")]
    UnsupportedArch,
    #[error("compiling the seccomp filter: {0}")]
    Compile(#[from] seccompiler::BackendError),
    #[error("compiling the seccomp filter: {0}")]
    Program(#[from] seccompiler::Error),
}

fn action(a: SeccompAction) -> seccompiler::SeccompAction {
    match a {
        SeccompAction::Allow => seccompiler::SeccompAction::Allow,
        SeccompAction::Errno(n) => seccompiler::SeccompAction::Errno(n),
        SeccompAction::KillThread => seccompiler::SeccompAction::KillThread,
        SeccompAction::KillProcess => seccompiler::SeccompAction::KillProcess,
        SeccompAction::Trap => seccompiler::SeccompAction::Trap,
        SeccompAction::Log => seccompiler::SeccompAction::Log,
    }
}

fn condition(check: &ArgCheck) -> Result<SeccompCondition, SeccompError> {
    let len = if check.low_32_bits {
        SeccompCmpArgLen::Dword
    } else {
        SeccompCmpArgLen::Qword
    };
    let op = match check.op {
        ArgOp::Eq => SeccompCmpOp::Eq,
        ArgOp::Ne => SeccompCmpOp::Ne,
        ArgOp::Lt => SeccompCmpOp::Lt,
        ArgOp::Le => SeccompCmpOp::Le,
        ArgOp::Gt => SeccompCmpOp::Gt,
        ArgOp::Ge => SeccompCmpOp::Ge,
        ArgOp::MaskedEq { mask } => SeccompCmpOp::MaskedEq(mask),
    };
    Ok(SeccompCondition::new(check.index, len, op, check.value)?)
}

/// The rules of `policy` whose action passes `keep`, by syscall number; `None` marks
/// a call some rule matches whatever its arguments.
type RuleMap = BTreeMap<i64, Option<Vec<SeccompRule>>>;

fn rule_map(
    policy: &SeccompPolicy,
    keep: impl Fn(SeccompAction) -> bool,
) -> Result<RuleMap, SeccompError> {
    let mut map = RuleMap::new();
    for rule in policy.rules.iter().filter(|r| keep(r.action)) {
        let conditions = rule
            .args
            .iter()
            .map(condition)
            .collect::<Result<Vec<_>, _>>()?;
        for nr in rule.names.iter().filter_map(|n| x86_64_number(n)) {
            let entry = map.entry(nr).or_insert_with(|| Some(Vec::new()));
            match (entry, conditions.is_empty()) {
                (slot, true) => *slot = None,
                (Some(rules), false) => rules.push(SeccompRule::new(conditions.clone())?),
                (None, false) => {}
            }
        }
    }
    Ok(map)
}

fn program(
    map: RuleMap,
    mismatch: SeccompAction,
    matched: SeccompAction,
) -> Result<BpfProgram, SeccompError> {
    let rules = map
        .into_iter()
        .map(|(nr, rules)| (nr, rules.unwrap_or_default()))
        .collect();
    let filter = SeccompFilter::new(
        rules,
        action(mismatch),
        action(matched),
        seccompiler::TargetArch::x86_64,
    )?;
    Ok(filter.try_into()?)
}

/// Compiles `policy` for this host.
pub fn compile(policy: &SeccompPolicy) -> Result<CompiledFilter, SeccompError> {
    if !cfg!(target_arch = "x86_64") {
        return Err(SeccompError::UnsupportedArch);
    }
    let mut programs = Vec::new();
    if policy.default_action != SeccompAction::Allow {
        programs.push(program(
            rule_map(policy, |_| true)?,
            policy.default_action,
            SeccompAction::Allow,
        )?);
    }
    let mut others: Vec<SeccompAction> = Vec::new();
    for rule in &policy.rules {
        if rule.action != SeccompAction::Allow && !others.contains(&rule.action) {
            others.push(rule.action);
        }
    }
    for other in others {
        programs.push(program(
            rule_map(policy, |a| a == other)?,
            SeccompAction::Allow,
            other,
        )?);
    }
    Ok(CompiledFilter { programs })
}

impl CompiledFilter {
    /// Installs the filter on the calling thread; its children inherit it. Makes no
    /// allocation unless it fails (it runs in the command's vfork-style child).
    pub fn install(&self) -> Result<(), seccompiler::Error> {
        for program in &self.programs {
            seccompiler::apply_filter(program)?;
        }
        Ok(())
    }

    /// How many BPF instructions the filter runs at most, over all its programs.
    pub fn instructions(&self) -> usize {
        self.programs.iter().map(Vec::len).sum()
    }
}

/// PID 1's part of the plan's seccomp step: compiles the filter (recorded under the
/// plan's name and call text) and notes the mode and counts in `facts`.
pub fn prepare(
    step: &PlannedStep,
    filter: Option<&PlannedFilter>,
    log: &mut StepLog,
    facts: &mut IsolationFacts,
) -> Result<Option<CompiledFilter>, StepFailed> {
    let compiled = log
        .record(SetupPhase::Security, step.name(), step.call(), || {
            filter.map(|f| compile(&f.policy)).transpose()
        })
        .map_err(|e| StepFailed {
            kind: FailureKind::Setup,
            step: step.name().to_string(),
            error: e.to_string(),
        })?;
    match filter {
        Some(f) => {
            facts.seccomp = "filter".into();
            facts.seccomp_allowed = f.allowed;
            facts.seccomp_blocked = f.blocked.clone();
        }
        None => facts.seccomp = "disabled".into(),
    }
    Ok(compiled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use isolab_shared::seccomp::default_profile;

    fn default_caps() -> Vec<String> {
        isolab_shared::plan::DEFAULT_CAPABILITIES
            .iter()
            .map(|c| c.to_string())
            .collect()
    }

    #[test]
    fn the_default_policy_compiles_to_two_programs_within_bpf_limits() {
        let policy = default_profile::policy(&default_caps());
        let compiled = match compile(&policy) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        // The allowlist with EPERM for the rest, and clone3's ENOSYS.
        assert_eq!(compiled.programs.len(), 2);
        assert!(compiled.programs.iter().all(|p| p.len() < 4096));
    }
}
