//! `ip` (addr, link, route, netns) and `ping`, over the caller's network namespace.

use std::fmt::Write;
use std::net::Ipv4Addr;

use super::Ctx;
use crate::namespace::NamespaceKind;
use crate::sim::errno::Errno;
use crate::sim::kernel::mountops::MountRequest;
use crate::sim::net::{has_carrier, Cidr, Iface, IfaceKind, NetNs, PingOutcome};
use crate::sim::ns::NsId;
use crate::sim::process::WaitStatus;

/// `ip OBJECT COMMAND …`.
pub fn ip(ctx: &mut Ctx, args: &[String]) -> i32 {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match a.as_slice() {
        [] => {
            ctx.line("Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }");
            return 255;
        }
        ["a" | "addr" | "address", rest @ ..] => addr(ctx, rest),
        ["l" | "link", rest @ ..] => link(ctx, rest),
        ["r" | "route", rest @ ..] => route(ctx, rest),
        ["netns", rest @ ..] => netns(ctx, rest),
        [other, ..] => {
            ctx.line(format!("Object \"{other}\" is unknown, try \"ip help\"."));
            return 255;
        }
    };
    match result {
        Ok(()) => 0,
        Err(msg) => {
            if !msg.is_empty() {
                ctx.line(msg);
            }
            2
        }
    }
}

fn errno_msg(e: Errno) -> String {
    match e {
        Errno::EPERM => "RTNETLINK answers: Operation not permitted".to_string(),
        Errno::ENODEV => "Cannot find device".to_string(),
        other => format!("RTNETLINK answers: {other}"),
    }
}

fn flags(nets: &std::collections::BTreeMap<NsId, NetNs>, ns: NsId, i: &Iface) -> String {
    let carrier = has_carrier(nets, ns, i.ifindex);
    let mut f: Vec<&str> = Vec::new();
    match i.kind {
        IfaceKind::Loopback => f.push("LOOPBACK"),
        _ => f.extend(["BROADCAST", "MULTICAST"]),
    }
    if i.up {
        f.push("UP");
        if carrier {
            f.push("LOWER_UP");
        } else {
            f.insert(0, "NO-CARRIER");
        }
    }
    let state = match (i.up, carrier, i.kind) {
        (false, _, _) => "DOWN",
        (true, _, IfaceKind::Loopback) => "UNKNOWN",
        (true, true, _) => "UP",
        (true, false, _) => "LOWERLAYERDOWN",
    };
    let (mtu, qdisc) = match (i.kind, i.up) {
        (IfaceKind::Loopback, true) => ("65536", "noqueue"),
        (IfaceKind::Loopback, false) => ("65536", "noop"),
        (_, true) => ("1500", "noqueue"),
        (_, false) => ("1500", "noop"),
    };
    let master = i
        .master
        .and_then(|m| nets.get(&ns).and_then(|n| n.ifaces.get(&m)))
        .map(|m| format!(" master {}", m.name))
        .unwrap_or_default();
    format!(
        "<{}> mtu {mtu} qdisc {qdisc}{master} state {state} group default qlen 1000",
        f.join(",")
    )
}

fn link_name(nets: &std::collections::BTreeMap<NsId, NetNs>, ns: NsId, i: &Iface) -> String {
    match i.kind {
        IfaceKind::Veth { peer_ns, peer } if peer_ns == ns => format!("{}@{}", i.name, {
            nets.get(&ns)
                .and_then(|n| n.ifaces.get(&peer))
                .map_or(format!("if{peer}"), |p| p.name.clone())
        }),
        IfaceKind::Veth { peer, .. } => format!("{}@if{peer}", i.name),
        _ => i.name.clone(),
    }
}

fn mac(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn show(ctx: &mut Ctx, with_addrs: bool, only: Option<&str>) -> Result<(), String> {
    let net = ctx.k.proc(ctx.pid).map_err(errno_msg)?.ns.net;
    let nets = &ctx.k.netns;
    let n = nets.get(&net).ok_or("no network namespace")?;
    let mut out = String::new();
    let mut found = false;
    for i in n.ifaces.values() {
        if only.is_some_and(|o| o != i.name) {
            continue;
        }
        found = true;
        let _ = writeln!(
            out,
            "{}: {}: {}",
            i.ifindex,
            link_name(nets, net, i),
            flags(nets, net, i)
        );
        let _ = match i.kind {
            IfaceKind::Loopback => writeln!(
                out,
                "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00"
            ),
            IfaceKind::Veth { peer_ns, .. } if peer_ns != net => writeln!(
                out,
                "    link/ether {} brd ff:ff:ff:ff:ff:ff link-netnsid 0",
                mac(i.mac)
            ),
            _ => writeln!(out, "    link/ether {} brd ff:ff:ff:ff:ff:ff", mac(i.mac)),
        };
        if with_addrs {
            for a in &i.addrs {
                let scope = if i.kind == IfaceKind::Loopback {
                    "host"
                } else {
                    "global"
                };
                let _ = writeln!(out, "    inet {a} scope {scope} {}", i.name);
                let _ = writeln!(out, "       valid_lft forever preferred_lft forever");
            }
        }
    }
    if let (Some(o), false) = (only, found) {
        return Err(format!("Device \"{o}\" does not exist."));
    }
    ctx.out.push_str(&out);
    Ok(())
}

fn addr(ctx: &mut Ctx, a: &[&str]) -> Result<(), String> {
    match a {
        [] | ["show" | "list" | "ls"] => show(ctx, true, None),
        ["show" | "list", "dev", d] | ["show", d] => show(ctx, true, Some(d)),
        ["add", cidr, "dev", d] => {
            let c = Cidr::parse(cidr).ok_or(format!(
                "Error: any valid prefix is expected rather than \"{cidr}\"."
            ))?;
            ctx.k.add_addr(ctx.pid, d, c).map_err(errno_msg)
        }
        _ => Err("Usage: ip address {add|show} [ dev IFNAME ]".to_string()),
    }
}

fn link(ctx: &mut Ctx, a: &[&str]) -> Result<(), String> {
    let pid = ctx.pid;
    match a {
        [] | ["show" | "list" | "ls"] => show(ctx, false, None),
        ["show", d] | ["show", "dev", d] => show(ctx, false, Some(d)),
        ["add", name, "type", "veth", "peer", "name", peer]
        | ["add", name, "type", "veth", "peer", peer] => {
            ctx.k.add_veth(pid, name, peer).map_err(errno_msg)
        }
        ["add", name, "type", "bridge"] => ctx.k.add_bridge(pid, name).map_err(errno_msg),
        ["del" | "delete", name] | ["del" | "delete", "dev", name] => {
            ctx.k.del_link(pid, name).map_err(errno_msg)
        }
        ["set", "dev", dev, rest @ ..] | ["set", dev, rest @ ..] => {
            let mut i = 0;
            while i < rest.len() {
                match (rest[i], rest.get(i + 1)) {
                    ("up", _) => ctx.k.set_link_up(pid, dev, true).map_err(errno_msg)?,
                    ("down", _) => ctx.k.set_link_up(pid, dev, false).map_err(errno_msg)?,
                    ("nomaster", _) => ctx.k.set_master(pid, dev, None).map_err(errno_msg)?,
                    ("master", Some(br)) => {
                        ctx.k.set_master(pid, dev, Some(br)).map_err(errno_msg)?;
                        i += 1;
                    }
                    ("netns", Some(target)) => {
                        let to = netns_target(ctx, target)?;
                        ctx.k.move_link(pid, dev, to).map_err(errno_msg)?;
                        i += 1;
                    }
                    (other, _) => {
                        return Err(format!(
                            "Error: argument \"{other}\" is wrong: unknown command"
                        ))
                    }
                }
                i += 1;
            }
            Ok(())
        }
        _ => Err("Usage: ip link {add|del|set|show} …".to_string()),
    }
}

/// A `netns` argument: a PID in the caller's pid namespace, or a name under /run/netns.
fn netns_target(ctx: &Ctx, target: &str) -> Result<NsId, String> {
    let me = ctx.k.proc(ctx.pid).map_err(errno_msg)?;
    if let Ok(nr) = target.parse::<u32>() {
        let host = ctx
            .k
            .find_pid(me.ns.pid, nr)
            .ok_or(format!("Invalid \"netns\" value \"{target}\""))?;
        return Ok(ctx.k.proc(host).map_err(errno_msg)?.ns.net);
    }
    named_netns(ctx, target).ok_or(format!("Invalid \"netns\" value \"{target}\""))
}

fn named_netns(ctx: &Ctx, name: &str) -> Option<NsId> {
    let mnt = ctx.k.procs.get(&ctx.pid)?.ns.mnt;
    ctx.k
        .mntns
        .get(&mnt)?
        .at(&format!("/run/netns/{name}"))?
        .holds_ns
}

fn route(ctx: &mut Ctx, a: &[&str]) -> Result<(), String> {
    match a {
        [] | ["show" | "list"] => {
            let n = ctx.k.net_of(ctx.pid).map_err(errno_msg)?;
            let mut out = String::new();
            let table = n.route_table();
            for r in table
                .iter()
                .filter(|r| r.via.is_some())
                .chain(table.iter().filter(|r| r.via.is_none()))
            {
                let dev = n.ifaces.get(&r.dev).map_or("?", |i| i.name.as_str());
                let dst = if r.dst.prefix == 0 {
                    "default".to_string()
                } else {
                    r.dst.to_string()
                };
                let _ = match r.via {
                    Some(gw) => writeln!(out, "{dst} via {gw} dev {dev}"),
                    None => {
                        let src = n
                            .ifaces
                            .get(&r.dev)
                            .and_then(|i| i.addrs.iter().find(|c| c.network() == r.dst))
                            .map(|c| c.addr);
                        match src {
                            Some(s) => {
                                writeln!(out, "{dst} dev {dev} proto kernel scope link src {s}")
                            }
                            None => writeln!(out, "{dst} dev {dev} scope link"),
                        }
                    }
                };
            }
            ctx.out.push_str(&out);
            Ok(())
        }
        ["add", dst, rest @ ..] => {
            let dst = if *dst == "default" {
                Some(Cidr {
                    addr: Ipv4Addr::UNSPECIFIED,
                    prefix: 0,
                })
            } else {
                Cidr::parse(dst)
            };
            let dst = dst.ok_or("Error: an inet prefix is expected.")?;
            let mut via = None;
            let mut dev = None;
            for pair in rest.chunks(2) {
                match pair {
                    ["via", gw] => {
                        via = Some(gw.parse().map_err(|_| {
                            format!("Error: inet address is expected rather than \"{gw}\".")
                        })?)
                    }
                    ["dev", d] => dev = Some(*d),
                    _ => return Err("Usage: ip route add PREFIX [via ADDR] [dev DEV]".to_string()),
                }
            }
            ctx.k.add_route(ctx.pid, dst, via, dev).map_err(errno_msg)
        }
        _ => Err("Usage: ip route {add|show}".to_string()),
    }
}

fn netns(ctx: &mut Ctx, a: &[&str]) -> Result<(), String> {
    let pid = ctx.pid;
    match a {
        [] | ["list" | "show"] => {
            let mnt = ctx.k.proc(pid).map_err(errno_msg)?.ns.mnt;
            let names: Vec<String> = ctx
                .k
                .mntns
                .get(&mnt)
                .map(|t| {
                    t.mounts()
                        .iter()
                        .filter_map(|m| m.target.strip_prefix("/run/netns/").map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            for n in names.iter().rev() {
                ctx.line(n);
            }
            Ok(())
        }
        ["add", name] => {
            if named_netns(ctx, name).is_some() {
                return Err(format!(
                    "Cannot create namespace file \"/run/netns/{name}\": File exists"
                ));
            }
            // As ip(8) does: a helper unshares a net namespace and bind-mounts it, so the
            // namespace outlives the helper.
            let helper = ctx.k.fork(pid).map_err(|e| format!("fork: {e}"))?;
            let made = ctx.k.unshare(helper, &[NamespaceKind::Net]).and_then(|()| {
                let net = ctx.k.proc(helper)?.ns.net;
                ctx.k.mount(
                    helper,
                    MountRequest {
                        source: "nsfs".to_string(),
                        target: format!("/run/netns/{name}"),
                        fstype: "nsfs".to_string(),
                        options: "rw".to_string(),
                        holds_ns: Some(net),
                    },
                )
            });
            ctx.k.exit(helper, WaitStatus::Exited(0));
            let _ = ctx.k.wait(pid);
            made.map_err(|e| format!("Failed to create a new network namespace \"{name}\": {e}"))
        }
        ["del" | "delete", name] => ctx
            .k
            .umount(pid, &format!("/run/netns/{name}"))
            .map_err(|e| format!("Cannot remove namespace file \"/run/netns/{name}\": {e}")),
        ["exec", name, cmd @ ..] => {
            let id = named_netns(ctx, name).ok_or(format!(
                "Cannot open network namespace \"{name}\": No such file or directory"
            ))?;
            ctx.k
                .setns_id(pid, NamespaceKind::Net, id)
                .map_err(|e| format!("setting the network namespace \"{name}\" failed: {e}"))?;
            let words: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
            let status = super::ns_tools::run_command_as(ctx, pid, &words);
            if status != 0 {
                return Err(String::new());
            }
            Ok(())
        }
        _ => Err("Usage: ip netns {list|add NAME|del NAME|exec NAME CMD}".to_string()),
    }
}

/// `ping [-c N] ADDR`: the answer is decided by the topology of namespaces.
pub fn ping(ctx: &mut Ctx, args: &[String]) -> i32 {
    let mut count = 4u32;
    let mut target = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-c" => count = it.next().and_then(|n| n.parse().ok()).unwrap_or(4),
            "-W" | "-w" | "-i" => {
                it.next();
            }
            other => target = Some(other.to_string()),
        }
    }
    let Some(target) = target else {
        ctx.line("ping: usage error: Destination address required");
        return 2;
    };
    let dst: Ipv4Addr = match target.as_str() {
        "localhost" => Ipv4Addr::LOCALHOST,
        t => match t.parse() {
            Ok(a) => a,
            Err(_) => {
                ctx.line(format!("ping: {t}: Temporary failure in name resolution"));
                return 2;
            }
        },
    };
    let outcome = ctx.k.ping(ctx.pid, dst).unwrap_or(PingOutcome::Unreachable);
    if outcome == PingOutcome::Unreachable {
        ctx.line("ping: connect: Network is unreachable");
        return 2;
    }
    let mut out = format!("PING {dst} ({dst}) 56(84) bytes of data.\n");
    let replies = outcome == PingOutcome::Replies;
    if replies {
        for seq in 1..=count {
            let _ = writeln!(
                out,
                "64 bytes from {dst}: icmp_seq={seq} ttl=64 time=0.0{} ms",
                40 + seq % 10
            );
        }
    }
    let received = if replies { count } else { 0 };
    let loss = if replies { 0 } else { 100 };
    let _ = write!(
        out,
        "\n--- {dst} ping statistics ---\n{count} packets transmitted, {received} received, {loss}% packet loss, time {}ms\n",
        count.saturating_sub(1) * 1000
    );
    if replies {
        out.push_str("rtt min/avg/max/mdev = 0.041/0.045/0.049/0.003 ms\n");
    }
    ctx.out.push_str(&out);
    if replies {
        0
    } else {
        1
    }
}
