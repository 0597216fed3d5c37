//! Ranges of subordinate ids for `userns: auto` containers: where they may lie, the
//! `/etc/subuid` line format they are recorded in, and the choice of a free one. The
//! runtime takes that choice under a lock, against its state root's records and the
//! host's users (`backend/src/runtime/userns_ranges.rs`); the simulator against the
//! user namespaces its model kernel has.
//!
//! Ranges are 65536 ids (a whole 16-bit range, as images expect) at
//! [`FIRST_ID`]` + n * `[`RANGE_SIZE`]. 10 000 000 is far above the ids of ordinary
//! users (1000-60000), systemd's dynamic users (61184-65519), the `useradd` subuid
//! ranges of the first 150 users (from 100000, 65536 each) and the fixed range
//! containers without `auto` share (100000); ranges stop below 2^31, since ids at or
//! above it are read as negative by too many programs. Any range that still meets a
//! host user, group or subuid/subgid line is skipped.

use serde::{Deserialize, Serialize};

/// Ids in one container's range.
pub const RANGE_SIZE: u32 = 65_536;
/// The first id of the first range.
pub const FIRST_ID: u32 = 10_000_000;
/// Ranges end below this id.
pub const END_ID: u32 = 1 << 31;

/// A run of ids: `count` of them from `start`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdRange {
    pub start: u32,
    pub count: u32,
}

impl IdRange {
    /// One past the last id, without overflow.
    pub fn end(&self) -> u64 {
        u64::from(self.start) + u64::from(self.count)
    }

    /// Whether the two share an id.
    pub fn overlaps(&self, other: &IdRange) -> bool {
        u64::from(self.start) < other.end() && u64::from(other.start) < self.end()
    }

    /// Whether `id` lies in it.
    pub fn contains(&self, id: u32) -> bool {
        id >= self.start && u64::from(id) < self.end()
    }
}

/// One `name:start:count` line of a subuid/subgid file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubidEntry {
    /// A user name or uid on the host; a container id in isolab's own files.
    pub name: String,
    pub range: IdRange,
}

/// The entries of a subuid/subgid file; comments, blank and malformed lines are
/// passed by (as shadow-utils does).
pub fn parse_subid(text: &str) -> Vec<SubidEntry> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let mut parts = line.split(':');
            let name = parts.next()?.to_string();
            let start = parts.next()?.trim().parse().ok()?;
            let count = parts.next()?.trim().parse().ok()?;
            if parts.next().is_some() || name.is_empty() {
                return None;
            }
            Some(SubidEntry {
                name,
                range: IdRange { start, count },
            })
        })
        .collect()
}

/// The entries as a subuid/subgid file.
pub fn format_subid(entries: &[SubidEntry]) -> String {
    entries
        .iter()
        .map(|e| format!("{}:{}:{}\n", e.name, e.range.start, e.range.count))
        .collect()
}

/// The lowest range at [`FIRST_ID`]` + n * `[`RANGE_SIZE`] that meets none of
/// `taken` and contains none of `host_ids`; `None` when every slot is used.
pub fn first_free(taken: &[IdRange], host_ids: &[u32]) -> Option<IdRange> {
    let mut start = u64::from(FIRST_ID);
    while start + u64::from(RANGE_SIZE) <= u64::from(END_ID) {
        let candidate = IdRange {
            start: start as u32,
            count: RANGE_SIZE,
        };
        // Skip straight past whatever blocks this slot, to the next slot after it.
        let blocked_until = taken
            .iter()
            .filter(|t| t.overlaps(&candidate))
            .map(IdRange::end)
            .chain(
                host_ids
                    .iter()
                    .filter(|id| candidate.contains(**id))
                    .map(|id| u64::from(*id) + 1),
            )
            .max();
        match blocked_until {
            None => return Some(candidate),
            Some(end) => {
                let slots = (end - u64::from(FIRST_ID)).div_ceil(u64::from(RANGE_SIZE));
                start = u64::from(FIRST_ID) + slots * u64::from(RANGE_SIZE);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(start: u32) -> IdRange {
        IdRange {
            start,
            count: RANGE_SIZE,
        }
    }

    #[test]
    fn parses_and_formats_subid_lines() {
        let text = "# comment\nalice:100000:65536\n\nbad line\nbob:165536:x\n1000:231072:65536\n";
        let entries = parse_subid(text);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].name, "alice");
        assert_eq!(entries[1].range, range(231_072));
        assert_eq!(
            format_subid(&entries),
            "alice:100000:65536\n1000:231072:65536\n"
        );
    }

    #[test]
    fn picks_the_lowest_slot_clear_of_taken_ranges_and_host_ids() {
        assert_eq!(first_free(&[], &[]), Some(range(FIRST_ID)));
        let second = FIRST_ID + RANGE_SIZE;
        assert_eq!(first_free(&[range(FIRST_ID)], &[]), Some(range(second)));
        // A freed slot is reused.
        assert_eq!(first_free(&[range(second)], &[]), Some(range(FIRST_ID)));
        // A host subuid line straddling two slots blocks both.
        let odd = IdRange {
            start: FIRST_ID + 1000,
            count: RANGE_SIZE,
        };
        assert_eq!(
            first_free(&[odd], &[]),
            Some(range(FIRST_ID + 2 * RANGE_SIZE))
        );
        // A host user inside the first slot.
        assert_eq!(first_free(&[], &[FIRST_ID + 5]), Some(range(second)));
        // Ranges far below and above do not matter.
        assert_eq!(
            first_free(&[range(100_000), range(END_ID - RANGE_SIZE)], &[0, 1000]),
            Some(range(FIRST_ID))
        );
        let everything = IdRange {
            start: 0,
            count: u32::MAX,
        };
        assert_eq!(first_free(&[everything], &[]), None);
    }
}
