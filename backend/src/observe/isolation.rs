//! The security facts of a process, read from the host: capabilities, no_new_privs,
//! seccomp mode and user-namespace id maps.

use isolab_shared::{IdMapEntry, IsolationFacts};

use super::proc_files::{parse_id_map, proc_path, read_status};
use super::{read_proc, ObserveError};

/// CapEff and CapBnd as `CAP_*` names, NoNewPrivs, seccomp mode and id maps of `pid`.
/// masked/readonly paths stay empty: only the runtime knows what it covered.
pub fn isolation_facts_of(pid: u32) -> Result<IsolationFacts, ObserveError> {
    let status = read_status(pid)?;
    let uid_map = read_id_map(pid, "uid_map")?;
    let gid_map = read_id_map(pid, "gid_map")?;
    Ok(IsolationFacts {
        capabilities: capability_names(status.cap_eff),
        bounding: capability_names(status.cap_bnd),
        no_new_privs: status.no_new_privs,
        seccomp: seccomp_mode_name(status.seccomp).to_string(),
        masked_paths: Vec::new(),
        readonly_paths: Vec::new(),
        uid_map,
        gid_map,
        // The filter's counts and the device rules are the runtime's to tell.
        ..IsolationFacts::default()
    })
}

/// The `CAP_*` names of the bits set in `mask`, lowest bit first; bits newer than the
/// `caps` crate show as `CAP_<bit>`.
pub fn capability_names(mask: u64) -> Vec<String> {
    let mut known: Vec<caps::Capability> = caps::all().into_iter().collect();
    known.sort_by_key(|c| c.index());
    (0..64u8)
        .filter(|bit| mask & (1u64 << bit) != 0)
        .map(|bit| match known.iter().find(|c| c.index() == bit) {
            Some(cap) => cap.to_string(),
            None => format!("CAP_{bit}"),
        })
        .collect()
}

/// The name of a `Seccomp:` mode number.
pub fn seccomp_mode_name(mode: u8) -> &'static str {
    match mode {
        0 => "disabled",
        1 => "strict",
        2 => "filter",
        _ => "unknown",
    }
}

/// The identity map of the initial user namespace.
const IDENTITY: IdMapEntry = IdMapEntry {
    inside: 0,
    outside: 0,
    count: u32::MAX,
};

/// A uid_map or gid_map; empty when it is the initial namespace's identity map.
fn read_id_map(pid: u32, file: &str) -> Result<Vec<IdMapEntry>, ObserveError> {
    let map = parse_id_map(&read_proc(pid, &proc_path(pid, file))?);
    Ok(if map == [IDENTITY] { Vec::new() } else { map })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_bits_decode_to_names() {
        // CAP_CHOWN (0), CAP_KILL (5), CAP_NET_BIND_SERVICE (10), and a future bit 63.
        let names = capability_names(1 | (1 << 5) | (1 << 10) | (1 << 63));
        assert_eq!(
            names,
            vec!["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_63"]
        );
        assert!(capability_names(0).is_empty());
    }

    #[test]
    fn this_root_process_has_full_caps_and_no_user_namespace() {
        let facts = isolation_facts_of(std::process::id()).expect("own facts");
        assert!(facts.capabilities.iter().any(|c| c == "CAP_SYS_ADMIN"));
        assert!(facts.bounding.len() >= facts.capabilities.len());
        assert!(facts.uid_map.is_empty(), "{:?}", facts.uid_map);
        assert!(facts.gid_map.is_empty());
        assert_eq!(seccomp_mode_name(2), "filter");
    }
}
