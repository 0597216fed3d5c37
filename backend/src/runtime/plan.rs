//! The plan lives in `isolab_shared::plan` (the simulator applies the same one); this
//! file reads the two host facts it needs and re-exports it under `runtime::plan`.

use std::path::Path;
use std::sync::OnceLock;

pub use isolab_shared::plan::*;

/// The host's facts, read once per process: `isolab run` spawns must not pay seven
/// lstat(2)s and a read of /etc/resolv.conf each. A long-running server keeps the
/// resolv.conf it started with.
pub fn host_facts() -> &'static HostFacts {
    static FACTS: OnceLock<HostFacts> = OnceLock::new();
    FACTS.get_or_init(read_host_facts)
}

/// Reads which of [`HOST_IMAGE_DIRS`] exist (directories or symlinks) and the
/// host's /etc/resolv.conf.
pub fn read_host_facts() -> HostFacts {
    let image_dirs = HOST_IMAGE_DIRS
        .iter()
        .filter_map(|dir| {
            let path = Path::new(dir);
            match std::fs::symlink_metadata(path) {
                Ok(m) if m.file_type().is_symlink() => {
                    std::fs::read_link(path)
                        .ok()
                        .map(|points_to| HostDir::Symlink {
                            path: path.to_path_buf(),
                            points_to,
                        })
                }
                Ok(m) if m.is_dir() => Some(HostDir::Dir(path.to_path_buf())),
                _ => None,
            }
        })
        .collect();
    let resolv_conf = std::fs::read_to_string("/etc/resolv.conf")
        .unwrap_or_else(|_| FALLBACK_RESOLV_CONF.to_string());
    HostFacts {
        image_dirs,
        resolv_conf,
    }
}
