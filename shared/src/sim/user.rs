//! user namespaces (user_namespaces(7)): uid/gid maps and who owns what.

use crate::protocol::IdMapEntry;

use super::ns::NsId;

/// The uid and gid an unmapped id shows as (/proc/sys/kernel/overflowuid).
pub const OVERFLOW_ID: u32 = 65534;
/// How deep user namespaces may nest.
pub const MAX_USER_NS_DEPTH: usize = 32;

/// One user namespace.
#[derive(Clone, Debug)]
pub struct UserNs {
    pub id: NsId,
    pub parent: Option<NsId>,
    pub level: usize,
    /// The creator's euid, as the parent namespace sees it.
    pub owner_uid: u32,
    /// `inside outside count` lines; `outside` is in the parent namespace.
    pub uid_map: Vec<IdMapEntry>,
    pub gid_map: Vec<IdMapEntry>,
}

/// Maps an id from the parent's view into this namespace's, if mapped.
pub fn map_down(map: &[IdMapEntry], outside: u32) -> Option<u32> {
    map.iter()
        .find(|e| outside >= e.outside && outside - e.outside < e.count)
        .map(|e| e.inside + (outside - e.outside))
}

/// Maps an id from this namespace's view up to the parent's, if mapped.
pub fn map_up(map: &[IdMapEntry], inside: u32) -> Option<u32> {
    map.iter()
        .find(|e| inside >= e.inside && inside - e.inside < e.count)
        .map(|e| e.outside + (inside - e.inside))
}

/// The user name of an id, as /etc/passwd of the simulated host says.
pub fn user_name(uid: u32) -> String {
    match uid {
        0 => "root".to_string(),
        1000 => "student".to_string(),
        OVERFLOW_ID => "nobody".to_string(),
        other => other.to_string(),
    }
}

/// The group name of an id, as /etc/group of the simulated host says.
pub fn group_name(gid: u32) -> String {
    match gid {
        0 => "root".to_string(),
        1000 => "student".to_string(),
        OVERFLOW_ID => "nogroup".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_translate_both_ways_and_leave_gaps_unmapped() {
        let map = [IdMapEntry {
            inside: 0,
            outside: 100000,
            count: 65536,
        }];
        assert_eq!(map_down(&map, 100000), Some(0));
        assert_eq!(map_down(&map, 100005), Some(5));
        assert_eq!(map_down(&map, 0), None);
        assert_eq!(map_up(&map, 0), Some(100000));
        assert_eq!(map_up(&map, 65536), None);
    }
}
