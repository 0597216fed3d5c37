//! Namespace identities: the inode behind each /proc/PID/ns/<kind> link.
//!
//! Two processes share a namespace exactly when these inodes are equal (on the same
//! nsfs device, which is the only one there is).

use isolab_shared::{NamespaceIds, NamespaceKind};

use super::proc_files::proc_path;
use super::{proc_error, ObserveError};

/// The namespace inode per kind of process `pid`. Kinds the kernel lacks, or hides
/// from this process (some sandboxes deny reading PID 1's links), are left out.
pub fn namespaces_of(pid: u32) -> Result<NamespaceIds, ObserveError> {
    let mut ids = NamespaceIds::new();
    let mut denied = None;
    for kind in NamespaceKind::ALL {
        match namespace_of(pid, kind) {
            Ok(Some(inode)) => {
                ids.insert(kind, inode);
            }
            Ok(None) => {}
            Err(e @ ObserveError::Read { .. }) => denied = Some(e),
            Err(e) => return Err(e),
        }
    }
    match denied {
        Some(e) if ids.is_empty() => Err(e),
        _ => Ok(ids),
    }
}

/// The inode of one namespace of `pid`; `None` when this kernel lacks the kind.
pub fn namespace_of(pid: u32, kind: NamespaceKind) -> Result<Option<u64>, ObserveError> {
    let path = proc_path(pid, &format!("ns/{}", kind.name()));
    match std::fs::read_link(&path) {
        Ok(target) => {
            let target = target.to_string_lossy();
            parse_ns_link(&target)
                .map(Some)
                .ok_or_else(|| ObserveError::Parse {
                    path,
                    what: format!("link target '{target}'"),
                })
        }
        // /proc/PID/ns exists but this kind does not: an older kernel.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && proc_path(pid, "ns").exists() => {
            Ok(None)
        }
        Err(e) => Err(proc_error(pid, &path, e)),
    }
}

/// Parses a link target such as `net:[4026531840]`.
pub fn parse_ns_link(target: &str) -> Option<u64> {
    let inner = target.split_once(":[")?.1.strip_suffix(']')?;
    inner.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_targets_parse() {
        assert_eq!(parse_ns_link("net:[4026531840]"), Some(4026531840));
        assert_eq!(parse_ns_link("pid_for_children:[1]"), Some(1));
        assert_eq!(parse_ns_link("net:4026531840"), None);
    }

    #[test]
    fn this_process_has_every_kind_and_shares_them_with_a_child() {
        let mine = namespaces_of(std::process::id()).expect("own namespaces");
        assert_eq!(mine.len(), NamespaceKind::ALL.len());
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("spawn sleep");
        let theirs = namespaces_of(child.id());
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(theirs.expect("child namespaces"), mine);
        // A reaped child is gone.
        assert!(matches!(
            namespaces_of(child.id()),
            Err(ObserveError::NoSuchProcess(_))
        ));
    }
}
