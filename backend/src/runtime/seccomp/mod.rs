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
//!
//! Here the policy becomes, per program, a map from syscall number to its rules'
//! argument checks; [`tree`] assembles each map into BPF.

mod tree;

use std::collections::BTreeMap;

use isolab_shared::seccomp::{
    x86_64_number, ArgCheck, ArgOp, PlannedFilter, SeccompAction, SeccompPolicy,
};
use isolab_shared::{IsolationFacts, SetupPhase};
use seccompiler::{BpfProgram, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompRule};

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
    #[error("the seccomp filter has {0} instructions, over the kernel's 4096")]
    TooLong(usize),
    #[error("the seccomp filter would answer the same to every call")]
    SameActions,
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

/// Compiles `policy` for this host.
pub fn compile(policy: &SeccompPolicy) -> Result<CompiledFilter, SeccompError> {
    if !cfg!(target_arch = "x86_64") {
        return Err(SeccompError::UnsupportedArch);
    }
    let mut programs = Vec::new();
    if policy.default_action != SeccompAction::Allow {
        programs.push(tree::program(
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
        programs.push(tree::program(
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
    use super::tree::AUDIT_ARCH_X86_64;
    use super::*;
    use isolab_shared::seccomp::{default_profile, SyscallRule};
    use seccompiler::sock_filter;

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
        // The search tree keeps the allowlist short (a linear one had over 1,700).
        assert!(
            compiled.programs[0].len() < 400,
            "{}",
            compiled.programs[0].len()
        );
    }

    /// Runs a classic BPF seccomp program over `seccomp_data` (nr, arch, ip, args), as
    /// the kernel would, for the instructions the compilers emit.
    fn run(program: &[sock_filter], nr: u32, arch: u32, args: [u64; 6]) -> u32 {
        let word = |offset: u32| -> u32 {
            match offset {
                0 => nr,
                4 => arch,
                16..=63 => {
                    let arg = args[(offset as usize - 16) / 8];
                    if offset % 8 == 0 {
                        arg as u32
                    } else {
                        (arg >> 32) as u32
                    }
                }
                _ => panic!("load from {offset}"),
            }
        };
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let i = &program[pc];
            pc += 1;
            let jump = |taken: bool| usize::from(if taken { i.jt } else { i.jf });
            match i.code {
                0x20 => acc = word(i.k),
                0x54 => acc &= i.k,
                0x05 => pc += i.k as usize,
                0x15 => pc += jump(acc == i.k),
                0x25 => pc += jump(acc > i.k),
                0x35 => pc += jump(acc >= i.k),
                0x06 => return i.k,
                code => panic!("instruction {code:#x}"),
            }
        }
    }

    /// seccompiler's own linear program for the same rules: the reference.
    fn linear(map: RuleMap, mismatch: SeccompAction, matched: SeccompAction) -> BpfProgram {
        let rules = map
            .into_iter()
            .map(|(nr, rules)| (nr, rules.unwrap_or_default()))
            .collect();
        let filter = seccompiler::SeccompFilter::new(
            rules,
            action(mismatch),
            action(matched),
            seccompiler::TargetArch::x86_64,
        )
        .expect("filter");
        filter.try_into().expect("program")
    }

    /// Argument vectors that cross every check's boundaries, in both halves.
    fn probe_args(policy: &SeccompPolicy) -> Vec<[u64; 6]> {
        let mut values = vec![0u64, 1, u64::MAX, 0xffff_ffff, 1 << 32, 0x7fff_ffff];
        for check in policy.rules.iter().flat_map(|r| &r.args) {
            for v in [check.value, check.value ^ (1 << 40)] {
                values.extend([v, v.wrapping_add(1), v.wrapping_sub(1)]);
            }
            if let ArgOp::MaskedEq { mask } = check.op {
                values.extend([mask, !mask, check.value | !mask]);
            }
        }
        let mut out = Vec::new();
        for index in 0..6 {
            for v in &values {
                let mut args = [0u64; 6];
                args[index] = *v;
                out.push(args);
                let mut ones = [u64::MAX; 6];
                ones[index] = *v;
                out.push(ones);
            }
        }
        out
    }

    /// Every filter the tree compiler makes answers each call number (x32's too),
    /// architecture and argument vector exactly as seccompiler's linear one does.
    fn assert_same_answers(policy: &SeccompPolicy) {
        let compiled = compile(policy).expect("compile");
        let mut references = Vec::new();
        if policy.default_action != SeccompAction::Allow {
            let map = rule_map(policy, |_| true).expect("rules");
            references.push(linear(map, policy.default_action, SeccompAction::Allow));
        }
        let mut others: Vec<SeccompAction> = Vec::new();
        for rule in &policy.rules {
            if rule.action != SeccompAction::Allow && !others.contains(&rule.action) {
                others.push(rule.action);
            }
        }
        for other in others {
            let map = rule_map(policy, |a| a == other).expect("rules");
            references.push(linear(map, SeccompAction::Allow, other));
        }
        assert_eq!(compiled.programs.len(), references.len());
        let args = probe_args(policy);
        let numbers = (0..600u32).chain([0x4000_0000, 0x4000_0001, 0x4000_0200, u32::MAX]);
        for (tree, reference) in compiled.programs.iter().zip(&references) {
            for nr in numbers.clone() {
                for arch in [AUDIT_ARCH_X86_64, 0x4000_0003] {
                    for a in &args {
                        assert_eq!(
                            run(tree, nr, arch, *a),
                            run(reference, nr, arch, *a),
                            "nr {nr} arch {arch:#x} args {a:x?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_tree_answers_as_the_linear_filter_for_the_default_policy() {
        assert_same_answers(&default_profile::policy(&default_caps()));
        assert_same_answers(&default_profile::policy(&[]));
    }

    #[test]
    fn the_tree_answers_as_the_linear_filter_for_every_kind_of_check() {
        let check = |index, op, value, low_32_bits| ArgCheck {
            index,
            op,
            value,
            low_32_bits,
        };
        let rule = |names: &[&str], action, args: Vec<ArgCheck>| SyscallRule {
            names: names.iter().map(|n| n.to_string()).collect(),
            action,
            args,
        };
        let mut rules = vec![
            rule(&["read", "write", "close"], SeccompAction::Allow, vec![]),
            rule(&["openat"], SeccompAction::Errno(13), vec![]),
            rule(&["kill"], SeccompAction::Trap, vec![]),
            rule(&["getpid"], SeccompAction::Log, vec![]),
        ];
        let ops = [
            ArgOp::Eq,
            ArgOp::Ne,
            ArgOp::Lt,
            ArgOp::Le,
            ArgOp::Gt,
            ArgOp::Ge,
            ArgOp::MaskedEq {
                mask: 0xff00_0000_00ff,
            },
        ];
        let names = [
            "ioctl", "fcntl", "socket", "prctl", "madvise", "mmap", "clone",
        ];
        for (i, (op, name)) in ops.into_iter().zip(names).enumerate() {
            let value = 0x1_0000_0007 * (i as u64 + 1);
            rules.push(rule(
                &[name],
                SeccompAction::Allow,
                vec![check(i as u8 % 6, op, value, false)],
            ));
            rules.push(rule(
                &[name],
                SeccompAction::Allow,
                vec![check(1, op, value, true), check(2, ArgOp::Ne, 5, false)],
            ));
        }
        rules.push(rule(
            &["clone"],
            SeccompAction::Errno(1),
            vec![check(0, ArgOp::MaskedEq { mask: 0x7e02_0000 }, 0, false)],
        ));
        for default_action in [SeccompAction::Errno(1), SeccompAction::KillProcess] {
            assert_same_answers(&SeccompPolicy {
                default_action,
                rules: rules.clone(),
            });
        }
    }
}
