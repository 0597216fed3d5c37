//! The device rules on cgroup2: cgroup2 has no `devices.allow`; the kernel asks a
//! BPF_PROG_TYPE_CGROUP_DEVICE program attached to the group instead, on every
//! open(2) and mknod(2) of a device node by a member. isolab writes that program
//! from the same rules the v1 side writes to `devices.allow`
//! ([`isolab_shared::plan::DEVICE_RULES`]): one list, two enforcers.
//!
//! The program is a dozen eBPF instructions per rule, built here with named helpers
//! and loaded with the bpf(2) system call ([`syscall`]), so no BPF toolchain or C
//! library is needed. Attached with BPF_F_ALLOW_MULTI, it runs beside any program
//! the host attached higher up (every one must allow); it goes away with the group:
//! rmdir detaches it and drops the last reference once this process closes its fd.

mod syscall;

use std::path::Path;

pub use syscall::{attach, attached_programs, load, program_exists, program_id};

/// One device rule: `type major:minor access`, with `*` for any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceRule {
    /// `None` for `a` (any type).
    pub kind: Option<DeviceKind>,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    /// [`ACCESS_MKNOD`] | [`ACCESS_READ`] | [`ACCESS_WRITE`].
    pub access: u32,
}

/// Block or character device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    Block,
    Char,
}

impl DeviceKind {
    /// The kernel's BPF_DEVCG_DEV_* value.
    fn code(self) -> i32 {
        match self {
            DeviceKind::Block => 1,
            DeviceKind::Char => 2,
        }
    }
}

/// BPF_DEVCG_ACC_*: the access a request asks for (bits of the context's high half).
pub const ACCESS_MKNOD: u32 = 1;
pub const ACCESS_READ: u32 = 2;
pub const ACCESS_WRITE: u32 = 4;
const ACCESS_ALL: u32 = ACCESS_MKNOD | ACCESS_READ | ACCESS_WRITE;

/// Why a rule or program could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DeviceProgramError {
    #[error("bad device rule '{0}' (want e.g. \"c 1:3 rwm\")")]
    BadRule(String),
    #[error("loading the device program: {0}{1}")]
    Load(std::io::Error, String),
    #[error("opening {0} to attach the device program: {1}")]
    OpenGroup(std::path::PathBuf, std::io::Error),
    #[error("attaching the device program to {0}: {1}")]
    Attach(std::path::PathBuf, std::io::Error),
}

impl DeviceRule {
    /// Parses the device-cgroup syntax: `c 1:3 rwm`, `b *:* m`, `a`.
    pub fn parse(text: &str) -> Result<DeviceRule, DeviceProgramError> {
        let bad = || DeviceProgramError::BadRule(text.to_string());
        let mut fields = text.split_whitespace();
        let kind = match fields.next() {
            Some("a") => return Ok(DeviceRule::ANY),
            Some("b") => DeviceKind::Block,
            Some("c") => DeviceKind::Char,
            _ => return Err(bad()),
        };
        let (major, minor) = fields
            .next()
            .and_then(|n| n.split_once(':'))
            .ok_or_else(bad)?;
        let number = |n: &str| match n {
            "*" => Ok(None),
            n => n.parse().map(Some).map_err(|_| bad()),
        };
        let mut access = 0;
        for letter in fields.next().ok_or_else(bad)?.chars() {
            access |= match letter {
                'm' => ACCESS_MKNOD,
                'r' => ACCESS_READ,
                'w' => ACCESS_WRITE,
                _ => return Err(bad()),
            };
        }
        if fields.next().is_some() {
            return Err(bad());
        }
        Ok(DeviceRule {
            kind: Some(kind),
            major: number(major)?,
            minor: number(minor)?,
            access,
        })
    }

    /// `a`: every device, every access.
    pub const ANY: DeviceRule = DeviceRule {
        kind: None,
        major: None,
        minor: None,
        access: ACCESS_MKNOD | ACCESS_READ | ACCESS_WRITE,
    };

    /// Whether the rule lets `access` to device `kind major:minor` through (what the
    /// program computes, in plain Rust, for tests).
    pub fn allows(&self, kind: DeviceKind, major: u32, minor: u32, access: u32) -> bool {
        self.kind.is_none_or(|k| k == kind)
            && self.major.is_none_or(|m| m == major)
            && self.minor.is_none_or(|m| m == minor)
            && access & !self.access == 0
    }
}

/// One eBPF instruction (struct bpf_insn).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    /// dst_reg in the low nibble, src_reg in the high one.
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

/// Registers: R0 the answer, R1 the context on entry; the rest scratch.
pub const R0: u8 = 0;
pub const R1: u8 = 1;
const TYPE: u8 = 2;
const ACCESS: u8 = 3;
const MAJOR: u8 = 4;
const MINOR: u8 = 5;
const SCRATCH: u8 = 1;

/// Instruction codes (linux/bpf.h, bpf_common.h).
pub mod op {
    /// dst = *(u32 *)(src + off)
    pub const LDX_MEM_W: u8 = 0x61;
    /// dst = imm (64-bit)
    pub const MOV64_IMM: u8 = 0xb7;
    /// dst = src (32-bit, zero-extended)
    pub const MOV32_REG: u8 = 0xbc;
    /// dst &= imm (32-bit)
    pub const AND32_IMM: u8 = 0x54;
    /// dst >>= imm (32-bit)
    pub const RSH32_IMM: u8 = 0x74;
    /// if dst != imm goto pc + off
    pub const JNE_IMM: u8 = 0x55;
    /// return R0
    pub const EXIT: u8 = 0x95;
}

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

/// `dst = *(u32 *)(src + off)`
pub fn load_u32(dst: u8, src: u8, off: i16) -> Insn {
    insn(op::LDX_MEM_W, dst, src, off, 0)
}
/// `dst = imm`
pub fn mov_imm(dst: u8, imm: i32) -> Insn {
    insn(op::MOV64_IMM, dst, 0, 0, imm)
}
/// `dst = src` (low 32 bits)
pub fn mov32(dst: u8, src: u8) -> Insn {
    insn(op::MOV32_REG, dst, src, 0, 0)
}
/// `dst &= imm` (low 32 bits)
pub fn and32(dst: u8, imm: i32) -> Insn {
    insn(op::AND32_IMM, dst, 0, 0, imm)
}
/// `dst >>= imm` (low 32 bits)
pub fn rsh32(dst: u8, imm: i32) -> Insn {
    insn(op::RSH32_IMM, dst, 0, 0, imm)
}
/// `if dst != imm goto +off`
pub fn jump_if_not(dst: u8, imm: i32, off: i16) -> Insn {
    insn(op::JNE_IMM, dst, 0, off, imm)
}
/// `return R0`
pub fn exit() -> Insn {
    insn(op::EXIT, 0, 0, 0, 0)
}

/// The program: allow (R0 = 1) when some rule matches the request, else deny (0).
///
/// The context is `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32
/// minor; }`, where `access_type` is `access << 16 | type`. Each rule is a block of
/// tests that jump to the next block on the first mismatch; a block that runs
/// through returns 1.
pub fn program(rules: &[DeviceRule]) -> Vec<Insn> {
    let mut code = vec![
        load_u32(TYPE, R1, 0),
        and32(TYPE, 0xffff),
        load_u32(ACCESS, R1, 0),
        rsh32(ACCESS, 16),
        load_u32(MAJOR, R1, 4),
        load_u32(MINOR, R1, 8),
    ];
    for rule in rules {
        // Each test is one jump to the next block, access three instructions; then
        // the two of "return 1". Offsets count from the instruction after the jump.
        let mut tests: Vec<(u8, i32)> = Vec::new();
        if let Some(kind) = rule.kind {
            tests.push((TYPE, kind.code()));
        }
        if let Some(major) = rule.major {
            tests.push((MAJOR, major as i32));
        }
        if let Some(minor) = rule.minor {
            tests.push((MINOR, minor as i32));
        }
        let access_test = rule.access & ACCESS_ALL != ACCESS_ALL;
        let block_len = tests.len() + if access_test { 3 } else { 0 } + 2;
        let mut at = 0;
        for (reg, imm) in tests {
            at += 1;
            code.push(jump_if_not(reg, imm, (block_len - at) as i16));
        }
        if access_test {
            // Allowed when the request asks for nothing outside the rule's access.
            code.push(mov32(SCRATCH, ACCESS));
            code.push(and32(SCRATCH, !rule.access as i32));
            at += 3;
            code.push(jump_if_not(SCRATCH, 0, (block_len - at) as i16));
        }
        code.push(mov_imm(R0, 1));
        code.push(exit());
    }
    code.push(mov_imm(R0, 0));
    code.push(exit());
    code
}

/// The rules of [`isolab_shared::plan::DEVICE_RULES`], parsed.
pub fn isolab_rules() -> Result<Vec<DeviceRule>, DeviceProgramError> {
    isolab_shared::plan::DEVICE_RULES
        .iter()
        .map(|r| DeviceRule::parse(r))
        .collect()
}

/// Loads isolab's device program and attaches it to `group`. The fd is closed on
/// return: the attachment holds the program for as long as the group lives.
pub fn restrict(group: &Path) -> Result<(), DeviceProgramError> {
    let program = load(&program(&isolab_rules()?))?;
    attach(&program, group)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the program on a request, as the kernel would, for the instructions the
    /// builder emits.
    fn run(code: &[Insn], kind: DeviceKind, major: u32, minor: u32, access: u32) -> u64 {
        let ctx = [(access << 16) | kind.code() as u32, major, minor];
        let mut reg = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = code[pc];
            pc += 1;
            let (dst, src) = (usize::from(i.regs & 0xf), usize::from(i.regs >> 4));
            match i.code {
                op::LDX_MEM_W => {
                    assert_eq!(src, 1, "loads only from the context");
                    reg[dst] = u64::from(ctx[i.off as usize / 4]);
                }
                op::MOV64_IMM => reg[dst] = i.imm as i64 as u64,
                op::MOV32_REG => reg[dst] = reg[src] & 0xffff_ffff,
                op::AND32_IMM => reg[dst] = (reg[dst] as u32 & i.imm as u32) as u64,
                op::RSH32_IMM => reg[dst] = ((reg[dst] as u32) >> i.imm) as u64,
                op::JNE_IMM => {
                    if reg[dst] != i.imm as i64 as u64 {
                        pc = (pc as isize + isize::from(i.off)) as usize;
                    }
                }
                op::EXIT => return reg[0],
                other => panic!("instruction {other:#x}"),
            }
        }
    }

    #[test]
    fn isolab_rules_parse() {
        let rules = isolab_rules().expect("parse");
        assert_eq!(rules.len(), isolab_shared::plan::DEVICE_RULES.len());
        assert_eq!(
            DeviceRule::parse("c 136:* rwm").expect("parse"),
            DeviceRule {
                kind: Some(DeviceKind::Char),
                major: Some(136),
                minor: None,
                access: 7
            }
        );
        for bad in [
            "x 1:3 rwm",
            "c 1 rwm",
            "c 1:3 rwx",
            "c 1:3",
            "c a:3 r",
            "c 1:3 r w",
        ] {
            assert!(DeviceRule::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_program_decides_as_the_rules_do() {
        let rules = isolab_rules().expect("parse");
        let code = program(&rules);
        let mut checked = 0;
        for kind in [DeviceKind::Block, DeviceKind::Char] {
            for major in [0, 1, 4, 5, 8, 10, 136, 137, 254] {
                for minor in [0, 1, 2, 3, 5, 7, 8, 9, 11, 200] {
                    for access in 1..8 {
                        let want = rules.iter().any(|r| r.allows(kind, major, minor, access));
                        let got = run(&code, kind, major, minor, access);
                        assert_eq!(got, u64::from(want), "{kind:?} {major}:{minor} {access}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 1000);
        // The cases the threat model names.
        let read = ACCESS_READ;
        assert_eq!(run(&code, DeviceKind::Char, 1, 3, read | ACCESS_WRITE), 1);
        assert_eq!(run(&code, DeviceKind::Char, 136, 4, read), 1);
        assert_eq!(run(&code, DeviceKind::Char, 1, 1, read), 0, "/dev/mem");
        assert_eq!(run(&code, DeviceKind::Block, 8, 0, read), 0, "sda");
        assert_eq!(run(&code, DeviceKind::Block, 8, 0, ACCESS_MKNOD), 1);
    }

    #[test]
    fn an_empty_list_denies_and_any_allows() {
        assert_eq!(run(&program(&[]), DeviceKind::Char, 1, 3, ACCESS_READ), 0);
        let any = program(&[DeviceRule::ANY]);
        assert_eq!(run(&any, DeviceKind::Block, 8, 0, 7), 1);
    }
}
