//! The interfaces of another process's network namespace.
//!
//! getifaddrs(3) answers for the calling thread's net namespace, so the reading is
//! done on a short-lived std thread that setns()es into /proc/PID/ns/net first. That
//! thread then exits: a thread whose namespace changed must never run anything else
//! (a tokio worker would carry the wrong namespace into unrelated tasks).

use std::collections::BTreeMap;
use std::fs::File;
use std::net::IpAddr;

use isolab_shared::{Interface, NamespaceKind};
use nix::ifaddrs::getifaddrs;
use nix::net::if_::InterfaceFlags;
use nix::sched::{setns, CloneFlags};
use nix::sys::socket::SockaddrStorage;

use super::namespaces::{namespace_of, parse_ns_link};
use super::proc_files::proc_path;
use super::{proc_error, ObserveError};

/// Name, up flag and CIDR addresses of each interface in `pid`'s net namespace.
pub fn interfaces_of(pid: u32) -> Result<Vec<Interface>, ObserveError> {
    let theirs = namespace_of(pid, NamespaceKind::Net)?;
    // The calling thread's own namespace, which is what getifaddrs would read.
    let ours = std::fs::read_link("/proc/thread-self/ns/net")
        .ok()
        .and_then(|t| parse_ns_link(&t.to_string_lossy()));
    if theirs.is_some() && theirs == ours {
        // Same namespace: no need for a thread.
        return list_interfaces(pid);
    }
    // Opened here (O_CLOEXEC, as std does) so a vanished pid is reported plainly.
    let path = proc_path(pid, "ns/net");
    let ns = File::open(&path).map_err(|e| proc_error(pid, &path, e))?;
    std::thread::Builder::new()
        .name(format!("netns-{pid}"))
        .spawn(move || {
            setns(&ns, CloneFlags::CLONE_NEWNET)
                .map_err(|source| ObserveError::EnterNetNamespace { pid, source })?;
            list_interfaces(pid)
        })
        .map_err(|_| ObserveError::ReaderThread(pid))?
        .join()
        .map_err(|_| ObserveError::ReaderThread(pid))?
}

/// The interfaces of the calling thread's net namespace, in the kernel's order.
fn list_interfaces(pid: u32) -> Result<Vec<Interface>, ObserveError> {
    let entries = getifaddrs().map_err(|source| ObserveError::ListInterfaces { pid, source })?;
    let mut order: Vec<String> = Vec::new();
    let mut by_name: BTreeMap<String, Interface> = BTreeMap::new();
    for entry in entries {
        let iface = by_name
            .entry(entry.interface_name.clone())
            .or_insert_with(|| {
                order.push(entry.interface_name.clone());
                Interface {
                    name: entry.interface_name.clone(),
                    up: false,
                    addresses: Vec::new(),
                }
            });
        iface.up |= entry.flags.contains(InterfaceFlags::IFF_UP);
        if let Some(cidr) = cidr(entry.address.as_ref(), entry.netmask.as_ref()) {
            iface.addresses.push(cidr);
        }
    }
    Ok(order
        .into_iter()
        .filter_map(|name| by_name.remove(&name))
        .collect())
}

/// `address/prefix` for IPv4 and IPv6 entries; `None` for link-layer ones.
fn cidr(address: Option<&SockaddrStorage>, netmask: Option<&SockaddrStorage>) -> Option<String> {
    let ip = ip_of(address?)?;
    let prefix = match netmask.and_then(ip_of) {
        Some(IpAddr::V4(m)) => u32::from(m).count_ones(),
        Some(IpAddr::V6(m)) => u128::from(m).count_ones(),
        None if ip.is_ipv4() => 32,
        None => 128,
    };
    Some(format!("{ip}/{prefix}"))
}

fn ip_of(addr: &SockaddrStorage) -> Option<IpAddr> {
    if let Some(v4) = addr.as_sockaddr_in() {
        return Some(IpAddr::V4(v4.ip()));
    }
    addr.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
}
