//! Network syscalls (what `ip` does over netlink): links, addresses, routes, and ping.

use std::net::Ipv4Addr;

use super::Kernel;
use crate::sim::errno::{Errno, SysResult};
use crate::sim::net::{self, Cidr, Iface, IfaceKind, NetNs, PingOutcome, Route};
use crate::sim::ns::NsId;
use crate::sim::process::{Pid, CAP_NET_ADMIN};

impl Kernel {
    /// The network namespace of `pid`, checked for CAP_NET_ADMIN over it.
    fn admin_net(&self, pid: Pid) -> SysResult<NsId> {
        let net = self.proc(pid)?.ns.net;
        if !self.capable(pid, CAP_NET_ADMIN, self.owner_of(net)) {
            return Err(Errno::EPERM);
        }
        Ok(net)
    }

    fn iface_index(&self, net: NsId, name: &str) -> SysResult<u32> {
        self.netns
            .get(&net)
            .and_then(|n| n.by_name(name))
            .map(|i| i.ifindex)
            .ok_or(Errno::ENODEV)
    }

    fn new_iface(&mut self, name: &str, kind: IfaceKind) -> Iface {
        let ifindex = self.new_ifindex();
        let b = ifindex.to_be_bytes();
        Iface {
            ifindex,
            name: name.to_string(),
            kind,
            up: false,
            addrs: Vec::new(),
            master: None,
            mac: [0x02, 0x42, b[0] ^ 0xac, b[1], b[2], b[3]],
        }
    }

    /// `ip link add NAME type veth peer name PEER`: both ends in the caller's namespace.
    pub fn add_veth(&mut self, pid: Pid, name: &str, peer: &str) -> SysResult<()> {
        let net = self.admin_net(pid)?;
        if self.iface_index(net, name).is_ok() || self.iface_index(net, peer).is_ok() {
            return Err(Errno::EEXIST);
        }
        let mut a = self.new_iface(name, IfaceKind::Bridge);
        let mut b = self.new_iface(peer, IfaceKind::Bridge);
        a.kind = IfaceKind::Veth {
            peer_ns: net,
            peer: b.ifindex,
        };
        b.kind = IfaceKind::Veth {
            peer_ns: net,
            peer: a.ifindex,
        };
        let n = self.netns.get_mut(&net).ok_or(Errno::EINVAL)?;
        n.ifaces.insert(a.ifindex, a);
        n.ifaces.insert(b.ifindex, b);
        Ok(())
    }

    /// `ip link add NAME type bridge`.
    pub fn add_bridge(&mut self, pid: Pid, name: &str) -> SysResult<()> {
        let net = self.admin_net(pid)?;
        if self.iface_index(net, name).is_ok() {
            return Err(Errno::EEXIST);
        }
        let br = self.new_iface(name, IfaceKind::Bridge);
        self.netns
            .get_mut(&net)
            .ok_or(Errno::EINVAL)?
            .ifaces
            .insert(br.ifindex, br);
        Ok(())
    }

    /// `ip link del NAME` (a veth takes its peer with it).
    pub fn del_link(&mut self, pid: Pid, name: &str) -> SysResult<()> {
        let net = self.admin_net(pid)?;
        let idx = self.iface_index(net, name)?;
        let n = self.netns.get_mut(&net).ok_or(Errno::EINVAL)?;
        let iface = n.ifaces.remove(&idx).ok_or(Errno::ENODEV)?;
        if iface.kind == IfaceKind::Loopback {
            n.ifaces.insert(idx, iface);
            return Err(Errno::EINVAL);
        }
        n.routes.retain(|r| r.dev != idx);
        for port in n.ifaces.values_mut().filter(|p| p.master == Some(idx)) {
            port.master = None;
        }
        if let IfaceKind::Veth { peer_ns, peer } = iface.kind {
            if let Some(other) = self.netns.get_mut(&peer_ns) {
                other.ifaces.remove(&peer);
                other.routes.retain(|r| r.dev != peer);
            }
        }
        Ok(())
    }

    /// `ip link set DEV up|down`. Bringing lo up gives it 127.0.0.1/8.
    pub fn set_link_up(&mut self, pid: Pid, name: &str, up: bool) -> SysResult<()> {
        let net = self.admin_net(pid)?;
        let idx = self.iface_index(net, name)?;
        let iface = self
            .netns
            .get_mut(&net)
            .and_then(|n| n.ifaces.get_mut(&idx))
            .ok_or(Errno::ENODEV)?;
        iface.up = up;
        if up && iface.kind == IfaceKind::Loopback && iface.addrs.is_empty() {
            iface.addrs.push(Cidr {
                addr: Ipv4Addr::LOCALHOST,
                prefix: 8,
            });
        }
        Ok(())
    }

    /// `ip link set DEV netns TARGET`: moves an interface into another namespace,
    /// where it arrives down and without addresses, as in the kernel.
    pub fn move_link(&mut self, pid: Pid, name: &str, to: NsId) -> SysResult<()> {
        let net = self.admin_net(pid)?;
        if !self.netns.contains_key(&to) {
            return Err(Errno::EINVAL);
        }
        if !self.capable(pid, CAP_NET_ADMIN, self.owner_of(to)) {
            return Err(Errno::EPERM);
        }
        let idx = self.iface_index(net, name)?;
        if self.iface_index(to, name).is_ok() {
            return Err(Errno::EEXIST);
        }
        let n = self.netns.get_mut(&net).ok_or(Errno::EINVAL)?;
        let mut iface = n.ifaces.remove(&idx).ok_or(Errno::ENODEV)?;
        if iface.kind == IfaceKind::Loopback {
            n.ifaces.insert(idx, iface);
            return Err(Errno::EINVAL);
        }
        n.routes.retain(|r| r.dev != idx);
        iface.up = false;
        iface.addrs.clear();
        iface.master = None;
        if let IfaceKind::Veth { peer_ns, peer } = iface.kind {
            if let Some(p) = self
                .netns
                .get_mut(&peer_ns)
                .and_then(|n| n.ifaces.get_mut(&peer))
            {
                p.kind = IfaceKind::Veth {
                    peer_ns: to,
                    peer: idx,
                };
            }
        }
        self.netns
            .get_mut(&to)
            .ok_or(Errno::EINVAL)?
            .ifaces
            .insert(idx, iface);
        Ok(())
    }

    /// `ip link set DEV master BRIDGE` (or `nomaster` with `None`).
    pub fn set_master(&mut self, pid: Pid, name: &str, bridge: Option<&str>) -> SysResult<()> {
        let net = self.admin_net(pid)?;
        let idx = self.iface_index(net, name)?;
        let master = match bridge {
            Some(b) => {
                let bidx = self.iface_index(net, b)?;
                let is_bridge =
                    self.netns[&net].ifaces.get(&bidx).map(|i| i.kind) == Some(IfaceKind::Bridge);
                if !is_bridge {
                    return Err(Errno::EINVAL);
                }
                Some(bidx)
            }
            None => None,
        };
        let iface = self
            .netns
            .get_mut(&net)
            .and_then(|n| n.ifaces.get_mut(&idx))
            .ok_or(Errno::ENODEV)?;
        iface.master = master;
        Ok(())
    }

    /// `ip addr add CIDR dev DEV`.
    pub fn add_addr(&mut self, pid: Pid, name: &str, cidr: Cidr) -> SysResult<()> {
        let net = self.admin_net(pid)?;
        let idx = self.iface_index(net, name)?;
        let iface = self
            .netns
            .get_mut(&net)
            .and_then(|n| n.ifaces.get_mut(&idx))
            .ok_or(Errno::ENODEV)?;
        if iface.addrs.contains(&cidr) {
            return Err(Errno::EEXIST);
        }
        iface.addrs.push(cidr);
        Ok(())
    }

    /// `ip route add DST [via GW] [dev DEV]`: the device defaults to the one whose
    /// connected route reaches the gateway.
    pub fn add_route(
        &mut self,
        pid: Pid,
        dst: Cidr,
        via: Option<Ipv4Addr>,
        dev: Option<&str>,
    ) -> SysResult<()> {
        let net = self.admin_net(pid)?;
        let n = self.netns.get(&net).ok_or(Errno::EINVAL)?;
        let dev = match (dev, via) {
            (Some(d), _) => self.iface_index(net, d)?,
            (None, Some(gw)) => n
                .route_table()
                .into_iter()
                .find(|r| r.via.is_none() && r.dst.contains(gw))
                .map(|r| r.dev)
                .ok_or(Errno::ENETUNREACH)?,
            (None, None) => return Err(Errno::EINVAL),
        };
        let route = Route {
            dst: dst.network(),
            via,
            dev,
        };
        let n = self.netns.get_mut(&net).ok_or(Errno::EINVAL)?;
        if n.routes.iter().any(|r| r.dst == route.dst) {
            return Err(Errno::EEXIST);
        }
        n.routes.push(route);
        Ok(())
    }

    /// Whether a ping from `pid`'s network namespace to `dst` gets replies.
    pub fn ping(&self, pid: Pid, dst: Ipv4Addr) -> SysResult<PingOutcome> {
        let net = self.proc(pid)?.ns.net;
        Ok(net::ping(&self.netns, net, dst))
    }

    /// The network namespace of `pid`.
    pub fn net_of(&self, pid: Pid) -> SysResult<&NetNs> {
        let net = self.proc(pid)?.ns.net;
        self.netns.get(&net).ok_or(Errno::EINVAL)
    }
}
