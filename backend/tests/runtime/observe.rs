//! Observation of real namespaced processes (as root): a child made by `unshare` in new
//! pid, net, uts, ipc and mnt namespaces is seen from the host as the UI will show it.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use isolab::observe::{self, namespaces::namespace_of};
use isolab_shared::{IdMapEntry, NamespaceKind};

/// A process tree in fresh namespaces: `unshare` and its child, the namespace's PID 1.
/// Everything is killed and reaped on drop, even when the test fails.
struct Sandbox {
    unshare: Child,
    stdout: BufReader<ChildStdout>,
}

impl Sandbox {
    /// Runs `script` under `unshare` with `flags`; returns once it printed "ready",
    /// or at once if the script starts with `read go` (then see [`Sandbox::release`]).
    fn start(flags: &[&str], script: &str) -> Sandbox {
        let gated = script.starts_with("read go");
        let mut unshare = Command::new("unshare")
            .args(flags)
            .arg("--kill-child")
            .args(["/bin/sh", "-c", script])
            .stdin(if gated { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn unshare");
        let stdout = BufReader::new(unshare.stdout.take().expect("piped"));
        let mut sandbox = Sandbox { unshare, stdout };
        if !gated {
            sandbox.wait_ready();
        }
        sandbox
    }

    fn wait_ready(&mut self) {
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .expect("read from the sandbox");
        assert_eq!(line.trim(), "ready", "the sandbox did not start");
    }

    /// Lets a gated script go on.
    fn release(&mut self) {
        let mut stdin = self.unshare.stdin.take().expect("gated sandbox");
        stdin.write_all(b"go\n").expect("write to the gate");
    }

    fn unshare_pid(&self) -> u32 {
        self.unshare.id()
    }

    /// The first child of unshare: PID 1 of the new pid namespace (or the plain child).
    fn inner_pid(&self) -> u32 {
        let tree = observe::process::descendants(self.unshare_pid());
        *tree.get(1).expect("unshare has a child")
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // --kill-child: the namespace's init, and so all in it, dies with unshare.
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
    }
}

const SETUP_NET: &str = "ip link set lo up && \
    ip link add v0 type veth peer name v1 && \
    ip addr add 10.200.0.1/24 dev v0 && ip link set v0 up";

#[test]
fn a_namespaced_child_differs_from_the_host_exactly_where_asked() {
    let sandbox = Sandbox::start(
        &["--pid", "--fork", "--net", "--uts", "--mount-proc"],
        "hostname inside; echo ready; sleep 30 & exec sleep 31",
    );
    let me = observe::namespaces_of(std::process::id()).expect("own namespaces");
    let inner = sandbox.inner_pid();
    let theirs = observe::namespaces_of(inner).expect("the child's namespaces");
    for kind in NamespaceKind::ALL {
        let fresh = matches!(
            kind,
            NamespaceKind::Pid | NamespaceKind::Net | NamespaceKind::Uts | NamespaceKind::Mnt
        );
        assert_eq!(
            theirs.get(&kind) != me.get(&kind),
            fresh,
            "{kind}: host {:?}, child {:?}",
            me.get(&kind),
            theirs.get(&kind)
        );
    }

    // The container: unshare is outside; its child is PID 1 inside, with a child of its own.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut procs = observe::processes_in_container(inner);
    // Until the shell has exec'd its last command.
    while (procs.len() < 2 || procs[0].cmdline != "sleep 31") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        procs = observe::processes_in_container(inner);
    }
    assert_eq!(procs.len(), 2, "{procs:?}");
    assert_eq!(procs[0].host_pid, inner);
    assert_eq!(procs[0].nspid, vec![inner, 1]);
    assert_eq!(procs[0].cmdline, "sleep 31");
    assert_eq!(procs[1].ppid, inner);
    assert_eq!(procs[1].nspid.len(), 2);
    assert!(procs[1].nspid[1] > 1);
    assert!(
        procs.iter().all(|p| p.uid == 0 && "RS".contains(&p.state)),
        "{procs:?}"
    );
    assert!(procs.iter().all(|p| p.namespaces == theirs));

    // The host view keeps namespaces made by hand: unshare, and its child with the
    // namespaces it has and its PIDs inside.
    let host = observe::host_state();
    assert!(host
        .processes
        .iter()
        .any(|p| p.host_pid == sandbox.unshare_pid()));
    let child = host.processes.iter().find(|p| p.host_pid == inner);
    let child = child.expect("the hand-made namespace's PID 1 is a host process");
    assert_eq!(child.nspid, vec![inner, 1]);
    assert_eq!(child.namespaces, theirs);
}

/// The host view leaves out what an isolab container holds: its processes are listed
/// with their container.
#[test]
fn the_host_view_leaves_out_isolab_containers_processes() {
    use crate::support::runtime::{sh, TestContainer, TestRoot};
    let root = TestRoot::new();
    let mut tc = TestContainer::create(&root, &sh("sleep 30"));
    tc.get().start().expect("starts");
    let init = tc.get().init_pid().expect("PID 1");
    let host = observe::host_state();
    assert!(host.processes.iter().all(|p| p.host_pid != init));
    assert!(!observe::processes_in_container(init).is_empty());
    tc.delete();
}

#[test]
fn interfaces_are_read_from_the_childs_net_namespace_without_moving_the_caller() {
    let sandbox = Sandbox::start(
        &["--net"],
        &format!("{SETUP_NET} && echo ready && exec sleep 30"),
    );
    let inner = sandbox.inner_pid();
    let before = namespace_of(std::process::id(), NamespaceKind::Net).expect("own net ns");
    let thread_before = std::fs::read_link("/proc/thread-self/ns/net").expect("thread ns");

    let ifaces = observe::interfaces_of(inner).expect("read interfaces");
    let names: Vec<&str> = ifaces.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    let lo = ifaces.iter().find(|i| i.name == "lo").expect("lo");
    assert!(lo.up);
    assert!(lo.addresses.contains(&"127.0.0.1/8".to_string()), "{lo:?}");
    let v0 = ifaces.iter().find(|i| i.name == "v0").expect("v0");
    assert!(v0.up);
    assert!(
        v0.addresses.contains(&"10.200.0.1/24".to_string()),
        "{v0:?}"
    );
    let v1 = ifaces.iter().find(|i| i.name == "v1").expect("v1");
    assert!(!v1.up);
    assert!(v1.addresses.is_empty());

    // The calling thread stayed where it was; the host's interfaces are not the child's.
    assert_eq!(
        std::fs::read_link("/proc/thread-self/ns/net").expect("thread ns"),
        thread_before
    );
    assert_eq!(
        namespace_of(std::process::id(), NamespaceKind::Net).expect("own net ns"),
        before
    );
    let host_ifaces = observe::interfaces_of(std::process::id()).expect("host interfaces");
    assert!(host_ifaces.iter().all(|i| i.name != "v0"));
    assert!(observe::interfaces_of(u32::MAX - 1).is_err());
}

#[test]
fn interfaces_can_be_read_from_a_tokio_worker() {
    let sandbox = Sandbox::start(&["--net"], "echo ready && exec sleep 30");
    let inner = sandbox.inner_pid();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let ifaces = runtime
        .block_on(async move {
            tokio::task::spawn(async move { observe::interfaces_of(inner) })
                .await
                .expect("task")
        })
        .expect("interfaces");
    // A fresh net namespace has only lo, and it is down.
    assert_eq!(ifaces.len(), 1);
    assert_eq!(ifaces[0].name, "lo");
    assert!(!ifaces[0].up);
}

#[test]
fn isolation_facts_show_dropped_caps_no_new_privs_and_a_user_namespace() {
    let sandbox = Sandbox::start(
        &["--user", "--map-root-user"],
        "echo ready; exec setpriv --no-new-privs --bounding-set=-all,+chown,+kill \
         --inh-caps=-all sleep 30",
    );
    let inner = sandbox.inner_pid();
    let deadline = Instant::now() + Duration::from_secs(5);
    let facts = loop {
        let facts = observe::isolation_facts_of(inner).expect("facts");
        if facts.no_new_privs || Instant::now() > deadline {
            break facts;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(facts.no_new_privs);
    assert_eq!(facts.bounding, vec!["CAP_CHOWN", "CAP_KILL"]);
    assert!(facts.capabilities.len() <= 2, "{:?}", facts.capabilities);
    assert_eq!(facts.seccomp, "disabled");
    // Root inside is root outside here, but only for uid 0: not the identity map.
    let one = IdMapEntry {
        inside: 0,
        outside: 0,
        count: 1,
    };
    assert_eq!(facts.uid_map, vec![one]);
    assert_eq!(facts.gid_map, vec![one]);
    assert!(facts.masked_paths.is_empty());
}

/// The server's per-tick work for 100 containers of 3 processes each: the process
/// list of each (with namespaces), found by walking the tree or from the cgroup, and
/// its cgroup usage. Run with `cargo test -p isolab --test runtime
/// --config 'profile.dev.package.isolab.opt-level=3' -- --ignored --nocapture observe::tick`.
#[test]
#[ignore = "a measurement: starts 100 sandboxes"]
fn tick_cost_with_100_containers() {
    use isolab::runtime::cgroup::ContainerCgroup;
    use isolab::runtime::steps::StepLog;

    const CONTAINERS: usize = 100;
    const TICKS: u32 = 20;

    /// Sandboxes die first, then their (then empty) groups are removed.
    struct Fleet {
        sandboxes: Vec<Sandbox>,
        groups: Vec<ContainerCgroup>,
    }
    impl Drop for Fleet {
        fn drop(&mut self) {
            self.sandboxes.clear();
            for g in &self.groups {
                let _ = g.kill_all();
                let _ = g.remove();
            }
        }
    }
    let mut fleet = Fleet {
        sandboxes: Vec::new(),
        groups: Vec::new(),
    };
    let mut inits = Vec::new();
    for i in 0..CONTAINERS {
        let id = format!("tick-{}-{i}", std::process::id());
        let group = ContainerCgroup::create(&id, &Default::default(), &mut StepLog::new())
            .expect("create a group");
        fleet.groups.push(group);
        let sandbox = Sandbox::start(
            &["--pid", "--fork"],
            "read go; sleep 60 & sleep 60 & echo ready; exec sleep 60",
        );
        fleet.sandboxes.push(sandbox);
    }
    for (sandbox, group) in fleet.sandboxes.iter_mut().zip(&fleet.groups) {
        // The shell joins its group before it forks the sleeps.
        let inner = sandbox.inner_pid();
        group.add_process(inner).expect("join the group");
        sandbox.release();
        inits.push(inner);
    }
    for sandbox in &mut fleet.sandboxes {
        sandbox.wait_ready();
    }

    let time = |f: &mut dyn FnMut() -> usize| {
        let start = Instant::now();
        let mut n = 0;
        for _ in 0..TICKS {
            n = f();
        }
        (n, start.elapsed() / TICKS)
    };
    let (walked, walk_tick) = time(&mut || {
        inits
            .iter()
            .map(|p| observe::processes_in_container(*p).len())
            .sum()
    });
    let (grouped, group_tick) = time(&mut || {
        inits
            .iter()
            .zip(&fleet.groups)
            .map(|(p, g)| observe::processes_in_group(*p, &g.pids()).len())
            .sum()
    });
    let (_, usage_tick) = time(&mut || {
        fleet
            .groups
            .iter()
            .map(|g| g.usage().pids_current.unwrap_or(0) as usize)
            .sum()
    });
    let (host_procs, host_tick) = time(&mut || observe::host_state().processes.len());
    println!(
        "{CONTAINERS} containers, {walked} processes, per tick: tree walk {walk_tick:?} \
         ({:?}/process), from cgroups {group_tick:?}, cgroup usage {usage_tick:?}, \
         host_state {host_tick:?} ({host_procs} host processes)",
        walk_tick / walked as u32
    );
    assert_eq!(walked, CONTAINERS * 3);
    assert_eq!(grouped, CONTAINERS * 3);
    // Well inside a 1 s tick even on 2 busy cores.
    assert!(walk_tick + usage_tick < Duration::from_millis(250));
}
