//! Resource limits: their serde shape, parsing from the CLI's syntax, and range checks.
//!
//! The same checks run in the CLI, the server and the simulator, so a limit that one
//! refuses is refused by all with the same message.

use serde::{Deserialize, Serialize};

/// The pids limit a container gets when none is given: enough for any shell session,
/// small enough to contain a fork bomb.
pub const DEFAULT_PIDS_MAX: u64 = 512;

/// The smallest memory limit accepted: below this even a shell is OOM-killed at start.
pub const MIN_MEMORY_BYTES: u64 = 4 * 1024 * 1024;
/// The largest memory limit accepted (1 TiB).
pub const MAX_MEMORY_BYTES: u64 = 1 << 40;
/// The largest pids limit accepted; the kernel's own pid_max ceiling.
pub const MAX_PIDS: u64 = 4_194_304;
/// The smallest cpu share accepted (one hundredth of a core).
pub const MIN_CPUS: f64 = 0.01;
/// The largest cpu share accepted.
pub const MAX_CPUS: f64 = 1024.0;

/// cgroup limits of one container. `None` means unlimited, except pids, which
/// defaults to [`DEFAULT_PIDS_MAX`].
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Maximum number of tasks (pids.max).
    #[serde(default = "default_pids")]
    pub pids: Option<u64>,
    /// Memory ceiling in bytes (memory.max / memory.limit_in_bytes).
    #[serde(default)]
    pub memory_bytes: Option<u64>,
    /// CPU bandwidth in cores, e.g. 0.5 (cpu.max / cfs_quota_us).
    #[serde(default)]
    pub cpus: Option<f64>,
}

fn default_pids() -> Option<u64> {
    Some(DEFAULT_PIDS_MAX)
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            pids: default_pids(),
            memory_bytes: None,
            cpus: None,
        }
    }
}

/// A limit that is malformed or out of range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LimitError {
    #[error("bad memory size '{0}': use a number with an optional K, M or G suffix, like 64M")]
    BadMemorySyntax(String),
    #[error("bad cpu count '{0}': use a decimal number of cores, like 0.5")]
    BadCpuSyntax(String),
    #[error("bad pids limit '{0}': use a whole number, like 512")]
    BadPidsSyntax(String),
    #[error("memory limit {0} bytes is out of range (4M to 1T)")]
    MemoryOutOfRange(u64),
    #[error("pids limit {0} is out of range (1 to 4194304)")]
    PidsOutOfRange(u64),
    #[error("cpu limit {0} is out of range (0.01 to 1024)")]
    CpusOutOfRange(f64),
}

impl Limits {
    /// Checks every set limit against its allowed range.
    pub fn validate(&self) -> Result<(), LimitError> {
        if let Some(p) = self.pids {
            if p == 0 || p > MAX_PIDS {
                return Err(LimitError::PidsOutOfRange(p));
            }
        }
        if let Some(m) = self.memory_bytes {
            if !(MIN_MEMORY_BYTES..=MAX_MEMORY_BYTES).contains(&m) {
                return Err(LimitError::MemoryOutOfRange(m));
            }
        }
        if let Some(c) = self.cpus {
            if !c.is_finite() || !(MIN_CPUS..=MAX_CPUS).contains(&c) {
                return Err(LimitError::CpusOutOfRange(c));
            }
        }
        Ok(())
    }
}

/// Parses a memory size such as `64M`, `1g`, `512k` or `1048576` into bytes.
pub fn parse_memory(text: &str) -> Result<u64, LimitError> {
    let bad = || LimitError::BadMemorySyntax(text.to_string());
    let t = text.trim();
    let t = t.strip_suffix(['b', 'B']).unwrap_or(t);
    let (digits, factor) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let factor: u64 = match c.to_ascii_lowercase() {
                'k' => 1 << 10,
                'm' => 1 << 20,
                'g' => 1 << 30,
                't' => 1 << 40,
                _ => return Err(bad()),
            };
            (&t[..i], factor)
        }
        _ => (t, 1),
    };
    let n: u64 = digits.trim().parse().map_err(|_| bad())?;
    let bytes = n.checked_mul(factor).ok_or_else(bad)?;
    if !(MIN_MEMORY_BYTES..=MAX_MEMORY_BYTES).contains(&bytes) {
        return Err(LimitError::MemoryOutOfRange(bytes));
    }
    Ok(bytes)
}

/// Parses a cpu count such as `0.5` or `2`.
pub fn parse_cpus(text: &str) -> Result<f64, LimitError> {
    let c: f64 = text
        .trim()
        .parse()
        .map_err(|_| LimitError::BadCpuSyntax(text.to_string()))?;
    if !c.is_finite() || !(MIN_CPUS..=MAX_CPUS).contains(&c) {
        return Err(LimitError::CpusOutOfRange(c));
    }
    Ok(c)
}

/// Parses a pids limit such as `512`.
pub fn parse_pids(text: &str) -> Result<u64, LimitError> {
    let p: u64 = text
        .trim()
        .parse()
        .map_err(|_| LimitError::BadPidsSyntax(text.to_string()))?;
    if p == 0 || p > MAX_PIDS {
        return Err(LimitError::PidsOutOfRange(p));
    }
    Ok(p)
}

/// Formats bytes the way the CLI accepts them back, e.g. `64M`.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (1 << 40, "T"),
        (1 << 30, "G"),
        (1 << 20, "M"),
        (1 << 10, "K"),
    ];
    for (size, unit) in UNITS {
        if bytes >= size && bytes % size == 0 {
            return format!("{}{unit}", bytes / size);
        }
    }
    for (size, unit) in UNITS {
        if bytes >= size {
            return format!("{:.1}{unit}", bytes as f64 / size as f64);
        }
    }
    format!("{bytes}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by `./x fuzz rest_body`: `cpus` written as `7737777777777775.0` read
    /// back as `…774.0`, so a spec the server stored was not the spec it was given.
    #[test]
    fn limits_read_back_as_written() {
        let given: Limits = serde_json::from_str(r#"{"pids":843,"cpus":7737777777777775}"#)
            .expect("the fuzzer's body parses");
        let text = serde_json::to_string(&given).expect("limits serialise");
        let again: Limits = serde_json::from_str(&text).expect("written limits parse");
        assert_eq!(again, given, "{text}");
        for cpus in [0.01, 0.1, 0.3, 1.0 / 3.0, 2.675, 1_023.999_999_999_999_9] {
            let given = Limits {
                cpus: Some(cpus),
                ..Limits::default()
            };
            let text = serde_json::to_string(&given).expect("limits serialise");
            let again: Limits = serde_json::from_str(&text).expect("written limits parse");
            assert_eq!(again, given, "{text}");
        }
    }

    #[test]
    fn memory_sizes_parse_with_suffixes() {
        assert_eq!(parse_memory("64M"), Ok(64 << 20));
        assert_eq!(parse_memory("1g"), Ok(1 << 30));
        assert_eq!(parse_memory("8192k"), Ok(8 << 20));
        assert_eq!(parse_memory("16MB"), Ok(16 << 20));
        assert_eq!(parse_memory(&(8u64 << 20).to_string()), Ok(8 << 20));
    }

    #[test]
    fn memory_rejects_garbage_and_out_of_range() {
        assert!(matches!(
            parse_memory("lots"),
            Err(LimitError::BadMemorySyntax(_))
        ));
        assert!(matches!(
            parse_memory("12Q"),
            Err(LimitError::BadMemorySyntax(_))
        ));
        assert!(matches!(
            parse_memory("1K"),
            Err(LimitError::MemoryOutOfRange(1024))
        ));
        assert!(parse_memory("99999999999T").is_err());
    }

    #[test]
    fn cpus_and_pids_are_range_checked() {
        assert_eq!(parse_cpus("0.5"), Ok(0.5));
        assert!(matches!(
            parse_cpus("0"),
            Err(LimitError::CpusOutOfRange(_))
        ));
        assert!(matches!(
            parse_cpus("NaN"),
            Err(LimitError::CpusOutOfRange(_))
        ));
        assert!(matches!(
            parse_cpus("half"),
            Err(LimitError::BadCpuSyntax(_))
        ));
        assert_eq!(parse_pids("64"), Ok(64));
        assert!(matches!(
            parse_pids("0"),
            Err(LimitError::PidsOutOfRange(0))
        ));
        assert!(matches!(
            parse_pids("-1"),
            Err(LimitError::BadPidsSyntax(_))
        ));
    }

    #[test]
    fn limits_default_to_a_pids_ceiling_and_validate() {
        let l: Limits = serde_json::from_str("{}").expect("empty limits parse");
        assert_eq!(l.pids, Some(DEFAULT_PIDS_MAX));
        assert!(l.validate().is_ok());
        let bad = Limits {
            memory_bytes: Some(10),
            ..Limits::default()
        };
        assert_eq!(bad.validate(), Err(LimitError::MemoryOutOfRange(10)));
    }

    #[test]
    fn bytes_format_round_trips() {
        assert_eq!(format_bytes(64 << 20), "64M");
        assert_eq!(parse_memory(&format_bytes(2 << 30)), Ok(2 << 30));
        assert_eq!(format_bytes(1536), "1.5K");
    }
}
