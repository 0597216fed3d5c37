//! network namespaces (network_namespaces(7)): interfaces, addresses, routes, and
//! whether a ping gets an answer, decided by the topology alone.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::Ipv4Addr;

use super::ns::NsId;

/// An IPv4 address with its prefix length, as `10.0.0.1/24`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cidr {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Cidr {
    /// Parses `A.B.C.D/N` (or a bare address as /32).
    pub fn parse(text: &str) -> Option<Cidr> {
        let (a, p) = text.split_once('/').unwrap_or((text, "32"));
        let prefix: u8 = p.parse().ok()?;
        (prefix <= 32).then_some(())?;
        Some(Cidr {
            addr: a.parse().ok()?,
            prefix,
        })
    }

    fn mask(self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        }
    }

    /// Whether `ip` is inside this network.
    pub fn contains(self, ip: Ipv4Addr) -> bool {
        (u32::from(ip) & self.mask()) == (u32::from(self.addr) & self.mask())
    }

    /// The network itself, host bits cleared.
    pub fn network(self) -> Cidr {
        Cidr {
            addr: Ipv4Addr::from(u32::from(self.addr) & self.mask()),
            prefix: self.prefix,
        }
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// What kind of link an interface is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IfaceKind {
    Loopback,
    /// A physical NIC wired to the outside world, which answers whatever reaches it.
    Uplink,
    /// One end of a veth pair; the other end may live in another namespace.
    Veth {
        peer_ns: NsId,
        peer: u32,
    },
    Bridge,
}

/// One network interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Iface {
    pub ifindex: u32,
    pub name: String,
    pub kind: IfaceKind,
    /// Administratively up (`ip link set DEV up`).
    pub up: bool,
    pub addrs: Vec<Cidr>,
    /// The bridge it is enslaved to (ifindex in the same namespace).
    pub master: Option<u32>,
    pub mac: [u8; 6],
}

/// An explicit route (`ip route add`); connected routes are derived from addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub dst: Cidr,
    pub via: Option<Ipv4Addr>,
    pub dev: u32,
}

/// One network namespace.
#[derive(Clone, Debug, Default)]
pub struct NetNs {
    pub ifaces: BTreeMap<u32, Iface>,
    pub routes: Vec<Route>,
}

impl NetNs {
    /// The interface called `name`.
    pub fn by_name(&self, name: &str) -> Option<&Iface> {
        self.ifaces.values().find(|i| i.name == name)
    }

    /// Addresses the namespace answers for: those on up interfaces.
    pub fn local_addrs(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.ifaces
            .values()
            .filter(|i| i.up)
            .flat_map(|i| i.addrs.iter().map(|c| c.addr))
    }

    /// The routing table as `ip route` lists it: connected routes, then explicit ones.
    pub fn route_table(&self) -> Vec<Route> {
        let mut out: Vec<Route> = self
            .ifaces
            .values()
            .filter(|i| i.up && i.kind != IfaceKind::Loopback && i.master.is_none())
            .flat_map(|i| {
                i.addrs.iter().map(|c| Route {
                    dst: c.network(),
                    via: None,
                    dev: i.ifindex,
                })
            })
            .collect();
        out.extend(
            self.routes
                .iter()
                .filter(|r| self.ifaces.get(&r.dev).is_some_and(|i| i.up))
                .cloned(),
        );
        out
    }

    /// Longest-prefix match for `dst`.
    pub fn lookup(&self, dst: Ipv4Addr) -> Option<Route> {
        self.route_table()
            .into_iter()
            .filter(|r| r.dst.contains(dst))
            .max_by_key(|r| r.dst.prefix)
    }
}

/// Whether an interface can carry frames: up, and for a veth, its peer up too.
pub fn has_carrier(nets: &BTreeMap<NsId, NetNs>, ns: NsId, ifindex: u32) -> bool {
    let Some(i) = nets.get(&ns).and_then(|n| n.ifaces.get(&ifindex)) else {
        return false;
    };
    match i.kind {
        IfaceKind::Veth { peer_ns, peer } => {
            i.up && nets
                .get(&peer_ns)
                .and_then(|n| n.ifaces.get(&peer))
                .is_some_and(|p| p.up)
        }
        _ => i.up,
    }
}

/// Where a frame sent out of `(ns, ifindex)` towards `target` lands: the namespace and
/// interface owning that address on the same layer-2 segment (veths and bridges).
fn l2_find(
    nets: &BTreeMap<NsId, NetNs>,
    ns: NsId,
    ifindex: u32,
    target: Ipv4Addr,
) -> Option<(NsId, u32)> {
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from([(ns, ifindex)]);
    while let Some((n, idx)) = queue.pop_front() {
        if !seen.insert((n, idx)) {
            continue;
        }
        let Some(iface) = nets.get(&n).and_then(|net| net.ifaces.get(&idx)) else {
            continue;
        };
        if !iface.up {
            continue;
        }
        if (n, idx) != (ns, ifindex)
            && iface.master.is_none()
            && iface.addrs.iter().any(|c| c.addr == target)
        {
            return Some((n, idx));
        }
        if let IfaceKind::Veth { peer_ns, peer } = iface.kind {
            queue.push_back((peer_ns, peer));
        }
        let net = &nets[&n];
        if let Some(br) = iface.master {
            queue.push_back((n, br));
        }
        if iface.kind == IfaceKind::Bridge {
            for port in net.ifaces.values().filter(|p| p.master == Some(idx)) {
                queue.push_back((n, port.ifindex));
            }
        }
    }
    None
}

/// What a ping from a namespace gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PingOutcome {
    /// Echo replies come back.
    Replies,
    /// Sent, but nothing answers.
    Lost,
    /// No route: `connect: Network is unreachable`.
    Unreachable,
}

/// One-way delivery: which namespace receives a packet from `ns` to `dst`.
fn deliver(nets: &BTreeMap<NsId, NetNs>, ns: NsId, dst: Ipv4Addr) -> Result<Delivery, PingOutcome> {
    let net = nets.get(&ns).ok_or(PingOutcome::Unreachable)?;
    if net.local_addrs().any(|a| a == dst) {
        // Local traffic goes through lo, even to eth0's own address.
        let lo_up = net
            .ifaces
            .values()
            .any(|i| i.kind == IfaceKind::Loopback && i.up);
        return if lo_up {
            Ok(Delivery::Local)
        } else {
            Err(PingOutcome::Lost)
        };
    }
    let route = net.lookup(dst).ok_or(PingOutcome::Unreachable)?;
    if !has_carrier(nets, ns, route.dev) {
        return Err(PingOutcome::Lost);
    }
    if net.ifaces.get(&route.dev).map(|i| i.kind) == Some(IfaceKind::Uplink) {
        // The world beyond the NIC answers for the gateway and public addresses only.
        let gateway = route.via == Some(dst) || net.routes.iter().any(|r| r.via == Some(dst));
        return if gateway || !dst.is_private() {
            Ok(Delivery::Outside)
        } else {
            Err(PingOutcome::Lost)
        };
    }
    let next_hop = route.via.unwrap_or(dst);
    let (peer_ns, _) = l2_find(nets, ns, route.dev, next_hop).ok_or(PingOutcome::Lost)?;
    let peer = &nets[&peer_ns];
    // No forwarding is modelled: a gateway answers only for its own addresses.
    if peer.local_addrs().any(|a| a == dst) {
        Ok(Delivery::To(peer_ns))
    } else {
        Err(PingOutcome::Lost)
    }
}

enum Delivery {
    Local,
    Outside,
    To(NsId),
}

/// Decides a ping from namespace `ns` to `dst`: the request must reach the owner of
/// `dst` and the reply must find its way back to the sender's address.
pub fn ping(nets: &BTreeMap<NsId, NetNs>, ns: NsId, dst: Ipv4Addr) -> PingOutcome {
    match deliver(nets, ns, dst) {
        Err(outcome) => outcome,
        Ok(Delivery::Local) | Ok(Delivery::Outside) => PingOutcome::Replies,
        Ok(Delivery::To(peer_ns)) => {
            let Some(src) = nets
                .get(&ns)
                .and_then(|n| n.lookup(dst))
                .and_then(|r| nets[&ns].ifaces.get(&r.dev))
                .and_then(|i| i.addrs.first().map(|c| c.addr))
            else {
                return PingOutcome::Lost;
            };
            match deliver(nets, peer_ns, src) {
                Ok(Delivery::To(back)) if back == ns => PingOutcome::Replies,
                _ => PingOutcome::Lost,
            }
        }
    }
}
