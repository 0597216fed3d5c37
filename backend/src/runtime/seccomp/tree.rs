//! One program of the seccomp filter as BPF: the architecture check, then a binary
//! search over syscall numbers whose leaves either return an answer or run a call's
//! argument checks (built by seccompiler). [`super`] turns the policy into the rule
//! maps this assembles.

use isolab_shared::seccomp::SeccompAction;
use seccompiler::{sock_filter, BpfProgram, SeccompRule};

use super::{action, RuleMap, SeccompError};

/// What a run of consecutive syscall numbers gets: one answer, or (for one number)
/// its rules' argument checks.
enum Leaf {
    Return(u32),
    Checks(Vec<SeccompRule>),
}

/// cBPF instruction codes (linux/bpf_common.h) the dispatch tree uses.
const BPF_JMP_JA: u16 = 0x05;
const BPF_JMP_JEQ_K: u16 = 0x15;
const BPF_JMP_JGE_K: u16 = 0x35;
const BPF_RET_K: u16 = 0x06;
const BPF_LD_W_ABS: u16 = 0x20;
/// Offsets into `struct seccomp_data`.
const SECCOMP_DATA_NR: u32 = 0;
const SECCOMP_DATA_ARCH: u32 = 4;
pub(super) const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// The kernel's limit on a filter's length (BPF_MAXINSNS).
const BPF_MAX_LEN: usize = 4096;

fn insn(code: u16, jt: u8, jf: u8, k: u32) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// `return action` as the kernel reads it.
fn ret(action: SeccompAction) -> sock_filter {
    insn(BPF_RET_K, 0, 0, u32::from(self::action(action)))
}

/// The code of one leaf; it always ends in a return, so the tree above need not
/// jump past it. A leaf of checks is seccompiler's rule chain: each rule's
/// conditions, falling through to "return matched" when they all hold and jumping
/// past it when one fails; the last answer is "return mismatch".
fn leaf_code(leaf: Leaf, mismatch: SeccompAction, matched: SeccompAction) -> BpfProgram {
    match leaf {
        Leaf::Return(k) => vec![insn(BPF_RET_K, 0, 0, k)],
        Leaf::Checks(rules) => {
            let mut code = Vec::new();
            for rule in rules {
                code.extend(BpfProgram::from(rule));
                code.push(ret(matched));
            }
            code.push(ret(mismatch));
            code
        }
    }
}

/// A binary search over `leaves` (sorted by first number, covering all of u32), the
/// syscall number in the accumulator. Each split is "if nr >= first of the right half
/// jump over the left half": two instructions, the second an unconditional jump
/// whose 32-bit offset has no 255-instruction limit.
fn dispatch(
    mut leaves: Vec<(u32, Leaf)>,
    mismatch: SeccompAction,
    matched: SeccompAction,
) -> BpfProgram {
    if leaves.len() == 1 {
        let (_, leaf) = leaves.remove(0);
        return leaf_code(leaf, mismatch, matched);
    }
    let right = leaves.split_off(leaves.len() / 2);
    let split = right[0].0;
    let left = dispatch(leaves, mismatch, matched);
    let right = dispatch(right, mismatch, matched);
    let mut code = Vec::with_capacity(left.len() + right.len() + 2);
    // jt = 0: on to the jump over the left half; jf = 1: skip that jump.
    code.push(insn(BPF_JMP_JGE_K, 0, 1, split));
    code.push(insn(BPF_JMP_JA, 0, 0, left.len() as u32));
    code.extend(left);
    code.extend(right);
    code
}

/// Appends a run starting at `first`, merged into the run before when both only
/// return the same answer.
fn push_leaf(leaves: &mut Vec<(u32, Leaf)>, first: u32, leaf: Leaf) {
    if let (Some((_, Leaf::Return(prev))), Leaf::Return(k)) = (leaves.last(), &leaf) {
        if prev == k {
            return;
        }
    }
    leaves.push((first, leaf));
}

/// The BPF of one filter: calls in `map` get `matched` (when one of their rules'
/// checks holds), all others `mismatch`.
///
/// seccompiler would test the number against each call in turn: over 1,700
/// instructions for the default profile, which the kernel then converts, JITs and
/// runs once per syscall number to fill its cache of always-allowed calls (about a
/// millisecond at every container start). Runs of numbers with the same answer
/// searched as a tree take about a tenth of that. The arch check and each rule's
/// argument checks are seccompiler's.
pub(super) fn program(
    map: RuleMap,
    mismatch: SeccompAction,
    matched: SeccompAction,
) -> Result<BpfProgram, SeccompError> {
    let mismatch_k = u32::from(action(mismatch));
    let matched_k = u32::from(action(matched));
    if mismatch_k == matched_k {
        return Err(SeccompError::SameActions);
    }
    let mut leaves: Vec<(u32, Leaf)> = vec![(0, Leaf::Return(mismatch_k))];
    for (nr, rules) in map {
        let Ok(nr) = u32::try_from(nr) else {
            continue;
        };
        let leaf = match rules {
            Some(rules) if !rules.is_empty() => Leaf::Checks(rules),
            _ => Leaf::Return(matched_k),
        };
        if leaves.last().is_some_and(|(first, _)| *first == nr) {
            leaves.pop();
        }
        push_leaf(&mut leaves, nr, leaf);
        if let Some(next) = nr.checked_add(1) {
            push_leaf(&mut leaves, next, Leaf::Return(mismatch_k));
        }
    }
    let mut code = vec![
        insn(BPF_LD_W_ABS, 0, 0, SECCOMP_DATA_ARCH),
        insn(BPF_JMP_JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        insn(
            BPF_RET_K,
            0,
            0,
            u32::from(seccompiler::SeccompAction::KillProcess),
        ),
        insn(BPF_LD_W_ABS, 0, 0, SECCOMP_DATA_NR),
    ];
    code.extend(dispatch(leaves, mismatch, matched));
    if code.len() >= BPF_MAX_LEN {
        return Err(SeccompError::TooLong(code.len()));
    }
    Ok(code)
}
