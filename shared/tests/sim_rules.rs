//! One test per kernel rule the simulator models, driven through its shell and API.
//! (Over 500 lines on purpose: one test per modelled rule, so the rules read as one list.)

use isolab_shared::sim::kernel::lifecycle::SIGKILL;
use isolab_shared::sim::net::PingOutcome;
use isolab_shared::sim::process::WaitStatus;
use isolab_shared::sim::Simulator;
use isolab_shared::{ContainerSpec, EventKind, NamespaceKind, SetupPhase};

fn sim(scenario: &str) -> Simulator {
    Simulator::new(scenario).expect("known scenario")
}

/// The CMD column (last word) of each ps line after the header.
fn commands(ps_output: &str) -> Vec<String> {
    ps_output
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().last().map(str::to_string))
        .collect()
}

fn pid_rows(ps_output: &str) -> Vec<(u32, String)> {
    ps_output
        .lines()
        .skip(1)
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            Some((w.first()?.parse().ok()?, w.last()?.to_string()))
        })
        .collect()
}

#[test]
fn unshare_pid_with_mount_proc_shows_the_shell_as_pid_1_and_nothing_of_the_host() {
    let mut s = sim("two-containers");
    assert!(s.run_line("unshare -p -f --mount-proc").is_empty());
    let rows = pid_rows(&s.run_line("ps -e"));
    assert_eq!(rows, vec![(1, "sh".to_string()), (2, "ps".to_string())]);
    assert!(s.run_line("cat /proc/self/status").contains("NSpid:\t3\n"));
    assert_eq!(s.run_line("echo $$"), "1\n");
}

#[test]
fn without_a_new_proc_ps_still_shows_the_host() {
    let mut s = sim("empty");
    s.run_line("unshare -p -f");
    let cmds = commands(&s.run_line("ps -e"));
    assert!(cmds.contains(&"init".to_string()), "{cmds:?}");
    // ... but the kernel numbers the shell 1 in its own namespace.
    let status = s.run_line("cat /proc/self/status");
    let nspid = status
        .lines()
        .find(|l| l.starts_with("NSpid:"))
        .expect("NSpid line");
    assert_eq!(
        nspid.split('\t').count(),
        3,
        "host pid and inner pid: {nspid}"
    );
}

#[test]
fn unshare_pid_affects_only_children_and_a_dead_init_blocks_forks() {
    let mut s = sim("empty");
    s.run_line("unshare -p");
    let shell = s.shell_pid().expect("shell");
    assert_eq!(
        s.kernel().procs[&shell].nspid.len(),
        1,
        "the caller stays in its pid namespace"
    );
    // The first child is PID 1 of the new namespace; when it exits the namespace is dead.
    let status = s.run_line("cat /proc/self/status");
    let nspid = status
        .lines()
        .find(|l| l.starts_with("NSpid:"))
        .expect("NSpid");
    assert!(nspid.ends_with("\t1"), "{nspid}");
    let out = s.run_line("ps");
    assert_eq!(out, "sh: fork: Cannot allocate memory\n");
}

#[test]
fn nested_pid_namespaces_give_one_pid_per_level() {
    let s = sim("nested-pid");
    let k = s.kernel();
    let sleep = k
        .procs
        .values()
        .find(|p| p.argv[0] == "sleep")
        .expect("the nested sleep");
    assert_eq!(sleep.nspid.len(), 3);
    assert_eq!(sleep.nspid[2], 2, "PID 2 under the inner sh");
    assert_eq!(sleep.nspid[0], sleep.pid);
    let snap = s.snapshot();
    let outer = &snap.containers[0];
    assert!(outer.processes.iter().any(|p| p.nspid.len() == 3));
}

#[test]
fn orphans_go_to_their_namespace_init_and_zombies_are_reaped() {
    let mut s = sim("empty");
    s.run_line("unshare -p -f --mount-proc");
    let shell = s.shell_pid().expect("a shell");
    let k = s.kernel_mut();
    let parent = k.spawn(shell, &["sleep", "100"], false).expect("fork");
    let child = k.spawn(parent, &["sleep", "200"], false).expect("fork");
    let grandchild_exits = k.spawn(parent, &["true"], false).expect("fork");
    k.exit(grandchild_exits, WaitStatus::Exited(0));
    assert_eq!(
        k.procs[&grandchild_exits].state.letter(),
        "Z",
        "sleep does not wait"
    );
    k.exit(parent, WaitStatus::Exited(0));
    assert_eq!(
        k.procs[&child].ppid, shell,
        "re-parented to the namespace's PID 1"
    );
    assert!(
        !k.procs.contains_key(&grandchild_exits),
        "the zombie was reaped by PID 1"
    );
}

#[test]
fn when_a_pid_namespace_init_dies_every_member_dies() {
    let mut s = sim("nested-pid");
    let k = s.kernel_mut();
    let sleep = k
        .procs
        .values()
        .find(|p| p.argv[0] == "sleep")
        .map(|p| p.pid)
        .expect("sleep");
    let inner_init = k.procs[&sleep].ppid;
    let ns = k.procs[&sleep].ns.pid;
    let unshare = k.procs[&inner_init].ppid;
    k.exit(inner_init, WaitStatus::Signaled(SIGKILL));
    assert!(!k.procs.get(&sleep).is_some_and(|p| p.is_alive()));
    assert!(k.pidns[&ns].dead, "no process can be made in it any more");
    assert_eq!(
        k.fork(inner_init).err(),
        Some(isolab_shared::sim::Errno::ESRCH)
    );
    // unshare(1) still holds it as pid_for_children; when unshare ends, it is freed.
    k.exit(unshare, WaitStatus::Exited(0));
    assert!(!k.ns.is_live(ns), "nothing holds the namespace any more");
}

#[test]
fn init_ignores_sigterm_from_inside_its_namespace() {
    let mut s = sim("empty");
    s.run_line("unshare -p -f --mount-proc");
    assert_eq!(s.run_line("kill -9 1"), "");
    assert_eq!(pid_rows(&s.run_line("ps"))[0], (1, "sh".to_string()));
}

#[test]
fn new_net_namespace_has_lo_down_until_brought_up() {
    let mut s = sim("empty");
    s.run_line("unshare -n");
    let link = s.run_line("ip link");
    assert!(
        link.starts_with("1: lo: <LOOPBACK> mtu 65536 qdisc noop state DOWN"),
        "{link}"
    );
    assert_eq!(
        link.lines().filter(|l| l.contains(": <")).count(),
        1,
        "only lo"
    );
    assert_eq!(
        s.run_line("ping -c 1 127.0.0.1"),
        "ping: connect: Network is unreachable\n"
    );
    s.run_line("ip link set lo up");
    assert!(s
        .run_line("ping -c 1 127.0.0.1")
        .contains("1 received, 0% packet loss"));
}

#[test]
fn containers_cannot_ping_until_a_bridge_joins_them() {
    let mut s = sim("two-containers");
    let snap = s.snapshot();
    let (web, db) = (
        snap.containers[0].init_pid.expect("web"),
        snap.containers[1].init_pid.expect("db"),
    );
    // Addresses first, without any link between the namespaces.
    s.run_line("ip link add br0 type bridge; ip link set br0 up");
    for (i, init) in [web, db].iter().enumerate() {
        s.run_line(&format!("ip link add veth{i} type veth peer name ceth{i}"));
        s.run_line(&format!("ip link set veth{i} up"));
        s.run_line(&format!("ip link set ceth{i} netns {init}"));
        let out = s.run_line(&format!(
            "nsenter -t {init} -n ip link set ceth{i} up && nsenter -t {init} -n ip addr add 10.9.0.{}/24 dev ceth{i}",
            i + 2
        ));
        assert_eq!(out, "");
    }
    let ping = |s: &Simulator| {
        s.kernel()
            .ping(web, "10.9.0.3".parse().expect("ip"))
            .expect("web lives")
    };
    assert_eq!(ping(&s), PingOutcome::Lost, "veths lead nowhere yet");
    s.run_line("ip link set veth0 master br0; ip link set veth1 master br0");
    assert_eq!(ping(&s), PingOutcome::Replies);
    let out = s.run_line(&format!("nsenter -t {web} -n ping -c 2 10.9.0.3"));
    assert!(out.contains("2 packets transmitted, 2 received"), "{out}");
    s.run_line("ip link set veth1 down");
    assert_eq!(ping(&s), PingOutcome::Lost, "a down port cuts the path");
}

#[test]
fn the_bridge_scenario_pings_and_the_host_cannot_without_an_address() {
    let mut s = sim("bridge");
    s.attach("left").expect("left runs");
    assert!(s.run_line("ping -c 1 10.10.0.3").contains("1 received"));
    assert!(s.run_line("ip addr").contains("ceth0@if"));
    s.run_line("exit");
    let out = s.run_line("ping -c 1 10.10.0.3");
    assert!(
        out.contains("1 packets transmitted, 0 received, 100% packet loss"),
        "{out}"
    );
}

#[test]
fn fork_fails_with_eagain_at_pids_max() {
    let mut s = sim("pids-limit");
    s.attach("tiny").expect("tiny runs");
    // isolab-init, /bin/sh and this shell: 3 of 8 tasks.
    let mut last = String::new();
    for _ in 0..6 {
        last = s.run_line("sleep 100 &");
    }
    assert_eq!(last, "sh: fork: retry: Resource temporarily unavailable\n");
    let snap = s.snapshot();
    let usage = snap.containers[0].cgroup.clone().expect("a cgroup");
    assert_eq!(usage.pids_current, Some(8));
    assert!(usage.pids_rejected >= Some(1));
    let events = s.drain_events();
    assert!(events.iter().any(|e| matches!(
        &e.kind,
        EventKind::LimitHit {
            limit: isolab_shared::LimitKind::Pids,
            ..
        }
    )));
}

#[test]
fn allocation_past_memory_max_is_oom_killed() {
    let mut s = sim("empty");
    let spec = ContainerSpec {
        name: Some("small".into()),
        limits: isolab_shared::limits::Limits {
            memory_bytes: Some(16 << 20),
            ..Default::default()
        },
        ..Default::default()
    };
    s.create_container(spec).expect("created");
    s.attach("small").expect("runs");
    assert_eq!(s.run_line("memhog 8M"), "allocated 8M\n");
    assert_eq!(s.run_line("memhog 32M"), "Killed\n");
    assert_eq!(s.run_line("echo $?"), "137\n");
    let events = s.drain_events();
    assert!(events
        .iter()
        .any(|e| matches!(e.kind, EventKind::ContainerOomKilled { .. })));
    assert_eq!(
        s.snapshot().containers[0]
            .cgroup
            .as_ref()
            .and_then(|c| c.oom_kills),
        Some(1)
    );
}

#[test]
fn a_bind_mount_keeps_a_namespace_alive_after_its_last_process() {
    let mut s = sim("empty");
    assert_eq!(s.run_line("ip netns add blue"), "");
    assert_eq!(s.run_line("ip netns list"), "blue\n");
    let held: Vec<u64> = s
        .kernel()
        .ns
        .iter()
        .filter(|(_, m)| m.kind == NamespaceKind::Net && m.processes == 0)
        .map(|(id, _)| id.0)
        .collect();
    assert_eq!(
        held.len(),
        1,
        "the namespace outlives ip(8): only a bind mount holds it"
    );
    assert!(s
        .run_line("ip netns exec blue ip link")
        .contains("state DOWN"));
    s.run_line("ip netns del blue");
    let nets = s
        .kernel()
        .ns
        .iter()
        .filter(|(_, m)| m.kind == NamespaceKind::Net)
        .count();
    assert_eq!(nets, 1, "only the host's is left");
}

#[test]
fn a_namespace_dies_with_its_last_process() {
    let mut s = sim("empty");
    s.run_line("unshare -u");
    let uts = s.kernel().procs[&s.shell_pid().expect("shell")].ns.uts;
    assert!(s.kernel().ns.is_live(uts));
    s.run_line("exit");
    assert!(!s.kernel().ns.is_live(uts));
}

#[test]
fn hostname_is_per_uts_namespace() {
    let mut s = sim("empty");
    s.run_line("unshare -u");
    s.run_line("hostname inner");
    assert_eq!(s.run_line("hostname"), "inner\n");
    assert_eq!(s.prompt(), "root@inner:~# ");
    s.run_line("exit");
    assert_eq!(s.run_line("hostname"), "isolab-host\n");
}

#[test]
fn ipc_objects_are_visible_only_in_their_namespace() {
    let mut s = sim("empty");
    s.run_line("unshare -i");
    assert_eq!(s.run_line("ipcmk -M 1024"), "Shared memory id: 0\n");
    assert_eq!(
        s.run_line("ipcs -m")
            .lines()
            .filter(|l| l.starts_with("0x"))
            .count(),
        1
    );
    assert_eq!(s.run_line("ipcmk -M 64K"), "Shared memory id: 1\n");
    assert_eq!(s.run_line("ipcmk -Q"), "Message queue id: 2\n");
    s.run_line("exit");
    assert_eq!(
        s.run_line("ipcs -m")
            .lines()
            .filter(|l| l.starts_with("0x"))
            .count(),
        0
    );
}

#[test]
fn user_namespaces_map_root_inside_to_the_user_outside() {
    let mut s = sim("rootless");
    assert_eq!(s.run_line("id -u"), "1000\n");
    assert_eq!(
        s.run_line("unshare -n"),
        "unshare: unshare failed: Operation not permitted\n"
    );
    s.run_line("unshare -r -n");
    assert_eq!(s.run_line("id -u"), "0\n");
    assert!(s
        .run_line("cat /proc/self/status")
        .contains("CapEff:\t000001ffffffffff"));
    assert_eq!(
        s.run_line("cat /proc/self/uid_map"),
        "         0       1000          1\n"
    );
    // Host processes are owned by ids not mapped here: they show as nobody.
    let ps = s.run_line("ps -ef");
    assert!(
        ps.lines()
            .any(|l| l.starts_with("nobody") && l.ends_with("/sbin/init")),
        "{ps}"
    );
    assert_eq!(
        s.run_line("hostname x"),
        "hostname: you must be root to change the host name\n",
        "no CAP_SYS_ADMIN over the host's uts"
    );
    let shell = s.shell_pid().expect("shell");
    assert_eq!(
        s.kernel().procs[&shell].uid,
        1000,
        "the kernel still sees uid 1000"
    );
}

#[test]
fn an_unmapped_user_namespace_shows_nobody_and_exec_drops_capabilities() {
    let mut s = sim("empty");
    s.run_line("unshare -U");
    assert_eq!(
        s.run_line("id"),
        "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n"
    );
    assert!(s
        .run_line("cat /proc/self/status")
        .contains("CapEff:\t0000000000000000"));
}

#[test]
fn mount_propagation_private_shared_and_slave() {
    let mut s = sim("empty");
    // unshare(1) makes everything private by default: nothing leaks out.
    s.run_line("unshare -m");
    s.run_line("mount -t tmpfs tmpfs /mnt/private");
    assert!(s.run_line("mount").contains("/mnt/private"));
    s.run_line("exit");
    assert!(!s.run_line("mount").contains("/mnt/private"));
    // Shared: the host sees the new mount.
    s.run_line("unshare -m --propagation shared");
    s.run_line("mount -t tmpfs tmpfs /mnt/shared");
    s.run_line("exit");
    assert!(s
        .run_line("mount")
        .contains("tmpfs on /mnt/shared type tmpfs"));
    // Slave: host mounts come in, the namespace's mounts do not go out.
    s.run_line("unshare -m --propagation slave");
    assert!(s.run_line("cat /proc/self/mountinfo").contains("master:"));
    s.run_line("mount -t tmpfs tmpfs /mnt/from-slave");
    s.run_line("exit");
    s.run_line("mount -t tmpfs tmpfs /mnt/from-host");
    assert!(!s.run_line("mount").contains("/mnt/from-slave"));
}

#[test]
fn slave_mounts_receive_host_mounts() {
    let mut s = sim("empty");
    let host_shell = s.shell_pid().expect("shell");
    s.run_line("unshare -m --propagation slave");
    let inner = s.shell_pid().expect("inner shell");
    let k = s.kernel_mut();
    k.mount(
        host_shell,
        isolab_shared::sim::kernel::mountops::MountRequest {
            source: "tmpfs".into(),
            target: "/mnt/late".into(),
            fstype: "tmpfs".into(),
            options: "rw".into(),
            holds_ns: None,
        },
    )
    .expect("host mounts");
    let mnt = k.procs[&inner].ns.mnt;
    assert!(
        k.mntns[&mnt].at("/mnt/late").is_some(),
        "propagated into the slave"
    );
}

#[test]
fn pivot_root_needs_a_private_mount_and_changes_the_root() {
    let mut s = sim("empty");
    s.run_line("unshare -m --propagation unchanged");
    s.run_line("mount -t tmpfs tmpfs /new");
    let out = s.run_line("pivot_root /new /new/old");
    assert!(out.contains("Invalid argument"), "/ is still shared: {out}");
    s.run_line("mount --make-rprivate /");
    assert_eq!(s.run_line("pivot_root /new /new/old"), "");
    assert!(
        s.run_line("mount").starts_with("tmpfs on / type tmpfs")
            || s.run_line("mount").contains("tmpfs on / type tmpfs")
    );
    assert!(s.run_line("mount").contains("/dev/sda1 on /old type ext4"));
    s.run_line("umount -l /old");
    assert!(!s.run_line("mount").contains("/old"));
}

#[test]
fn cgroup_namespace_roots_the_view_at_the_current_cgroup() {
    let mut s = sim("two-containers");
    s.attach("web").expect("web runs");
    let path = s.run_line("cat /proc/self/cgroup");
    assert!(path.starts_with("0::/isolab/"), "{path}");
    s.run_line("exit");
    s.create_container(ContainerSpec {
        name: Some("cg".into()),
        namespaces: [
            NamespaceKind::Cgroup,
            NamespaceKind::Pid,
            NamespaceKind::Mnt,
        ]
        .into_iter()
        .collect(),
        ..Default::default()
    })
    .expect("created");
    s.attach("cg").expect("runs");
    assert_eq!(s.run_line("cat /proc/self/cgroup"), "0::/\n");
}

#[test]
fn a_container_from_a_spec_records_its_setup_and_runs_init_as_pid_1() {
    let mut s = sim("empty");
    let spec = ContainerSpec {
        name: Some("demo".into()),
        hostname: Some("demo-host".into()),
        namespaces: NamespaceKind::ALL.into_iter().collect(),
        ..Default::default()
    };
    let state = s.create_container(spec).expect("created");
    let calls: Vec<&str> = state.setup.iter().map(|s| s.call.as_str()).collect();
    assert!(
        calls
            .iter()
            .any(|c| c.starts_with("clone3(CLONE_PARENT|CLONE_NEWPID|")),
        "{calls:?}"
    );
    assert!(calls.iter().any(|c| c.contains("pids.max")));
    assert!(calls.iter().any(|c| c.contains("pivot_root(\".\", \".\")")));
    assert!(
        calls.contains(&"mount(NULL, \"/\", NULL, MS_REC|MS_SLAVE)"),
        "/ becomes rslave, as the runtime makes it"
    );
    assert!(calls
        .iter()
        .any(|c| c.contains("uid_map") && c.contains("0 100000 65536")));
    assert!(state.setup.iter().any(|s| s.phase == SetupPhase::Security));
    assert!(state.setup.iter().all(|s| s.error.is_none()));
    assert_eq!(state.processes[0].cmdline, "isolab-init");
    assert_eq!(state.processes[0].nspid[1], 1);
    assert_eq!(state.processes[1].nspid[1], 2);
    assert_eq!(
        state.processes[1].uid, 100000,
        "root inside is 100000 outside"
    );
    assert_eq!(state.interfaces.len(), 1);
    assert!(!state
        .isolation
        .capabilities
        .contains(&"CAP_SYS_ADMIN".to_string()));
    let events = s.drain_events();
    assert!(matches!(events[0].kind, EventKind::ContainerCreated { .. }));
    assert!(matches!(events[1].kind, EventKind::ContainerStarted { .. }));
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));
    // Inside: its hostname, its root, its own /proc.
    s.attach("demo").expect("runs");
    assert_eq!(s.run_line("hostname"), "demo-host\n");
    assert_eq!(s.run_line("id -u"), "0\n");
    let rows = pid_rows(&s.run_line("ps -e"));
    assert_eq!(rows[0], (1, "isolab-init".to_string()));
    assert_eq!(rows[1], (2, "sh".to_string()));
    assert!(s.run_line("mount").starts_with("tmpfs on / type tmpfs"));
    assert_eq!(
        s.run_line("hostname nope"),
        "hostname: you must be root to change the host name\n",
        "CAP_SYS_ADMIN was dropped"
    );
}

#[test]
fn a_container_exits_when_its_command_does() {
    let mut s = sim("two-containers");
    let snap = s.snapshot();
    let web_cmd = snap.containers[0].processes[1].host_pid;
    s.drain_events();
    s.run_line(&format!("kill -9 {web_cmd}"));
    let events = s.drain_events();
    let exit = events.iter().find_map(|e| match &e.kind {
        EventKind::ContainerExited { exit, .. } => Some(exit.clone()),
        _ => None,
    });
    assert_eq!(exit.map(|e| e.shell_code()), Some(137));
    let web = &s.snapshot().containers[0];
    assert_eq!(web.status, isolab_shared::ContainerStatus::Exited);
    assert!(web.processes.is_empty());
}

#[test]
fn a_signalled_container_exits_by_that_signal() {
    let mut s = sim("two-containers");
    let id = s.snapshot().containers[0].id.clone();
    s.drain_events();
    s.signal(&id, 15).expect("signalled");
    let exit = s.drain_events().into_iter().find_map(|e| match e.kind {
        EventKind::ContainerExited { exit, .. } => Some(exit),
        _ => None,
    });
    assert_eq!(exit.map(|e| e.shell_code()), Some(143));
    let c = &s.snapshot().containers[0];
    assert_eq!(c.status, isolab_shared::ContainerStatus::Exited);
    assert!(c.processes.is_empty());
    assert!(
        s.signal(&id, 9).is_err(),
        "an exited container takes no signal"
    );
}

#[test]
fn nsenter_joins_a_container_and_sees_its_world() {
    let mut s = sim("two-containers");
    let init = s.snapshot().containers[1].init_pid.expect("db");
    s.run_line(&format!("nsenter -t {init} -a"));
    assert_eq!(s.run_line("hostname"), "db\n");
    let cmds = commands(&s.run_line("ps -e"));
    assert_eq!(
        cmds,
        ["isolab-init", "sh", "sh", "ps"],
        "init, /bin/sh, this shell, ps"
    );
    assert!(s
        .run_line("ip link")
        .starts_with("1: lo: <LOOPBACK,UP,LOWER_UP>"));
    s.run_line("exit");
    assert_eq!(s.run_line("hostname"), "isolab-host\n");
}

#[test]
fn background_jobs_finish_as_logical_time_passes() {
    let mut s = sim("empty");
    assert!(s.run_line("sleep 2 &").starts_with("[1] "));
    assert!(s.run_line("jobs").contains("Running"));
    let out = s.run_line("sleep 5");
    assert!(
        out.contains("[1]+  Done                    sleep 2"),
        "{out}"
    );
    assert_eq!(
        s.run_line("unknowncmd"),
        "sh: unknowncmd: command not found\n"
    );
    assert_eq!(s.run_line("echo $?"), "127\n");
}

#[test]
fn a_sleep_behind_unshare_in_the_background_stays_in_its_own_namespace() {
    let mut s = sim("empty");
    assert!(s.run_line("unshare -U sleep 30 &").starts_with("[1] "));
    assert!(s.run_line("unshare -Uf sleep 30 &").starts_with("[2] "));
    let ps = s.run_line("ps");
    assert_eq!(ps.matches(" sleep").count(), 2, "both sleeps run: {ps}");
    assert!(ps.contains(" unshare"), "-f keeps unshare waiting: {ps}");
    let snapshot = s.snapshot();
    let sleepers: Vec<_> = snapshot
        .host
        .processes
        .iter()
        .filter(|p| p.cmdline.starts_with("sleep"))
        .collect();
    assert_eq!(sleepers.len(), 2);
    let shell_user = snapshot
        .host
        .processes
        .iter()
        .find(|p| p.cmdline == "sh" || p.cmdline.starts_with("sh "))
        .and_then(|p| p.namespaces.get(&NamespaceKind::User).copied());
    assert!(shell_user.is_some(), "the shell is listed");
    for p in sleepers {
        let user = p.namespaces.get(&NamespaceKind::User).copied();
        assert!(user.is_some() && user != shell_user, "{p:?}");
    }
    let out = s.run_line("sleep 31");
    assert!(
        out.contains("Done                    unshare -U sleep 30"),
        "{out}"
    );
    assert!(
        out.contains("Done                    unshare -Uf sleep 30"),
        "{out}"
    );
    assert!(!s.run_line("ps").contains(" sleep"));
}

#[test]
fn every_scenario_starts_and_serialises() {
    for (name, _) in Simulator::scenarios() {
        let s = sim(name);
        let json = serde_json::to_string(&s.snapshot()).expect("serialises");
        assert!(json.contains("isolab-host"), "{name}");
    }
    assert!(Simulator::new("nope").is_err());
}

#[test]
fn posix_message_queues_belong_to_an_ipc_namespace() {
    let mut s = sim("empty");
    let host = s.shell_pid().expect("shell");
    s.kernel_mut().mq_open(host, "/jobs").expect("created");
    assert_eq!(s.run_line("ls /dev/mqueue"), "jobs\n");
    s.run_line("unshare -i");
    assert_eq!(
        s.run_line("ls /dev/mqueue"),
        "",
        "a new ipc namespace has none"
    );
    let inner = s.shell_pid().expect("shell");
    s.kernel_mut().mq_open(inner, "/mine").expect("created");
    assert_eq!(s.run_line("ls /dev/mqueue"), "mine\n");
    s.run_line("exit");
    assert_eq!(s.run_line("ls /dev/mqueue"), "jobs\n");
    assert_eq!(
        s.kernel_mut().mq_unlink(host, "/nope"),
        Err(isolab_shared::sim::Errno::ENOENT)
    );
}

#[test]
fn the_default_seccomp_filter_refuses_unshare_mount_and_keyctl_with_eperm() {
    let mut s = sim("empty");
    s.create_container(ContainerSpec {
        name: Some("jail".into()),
        ..Default::default()
    })
    .expect("created");
    s.attach("jail").expect("runs");
    assert!(s
        .run_line("cat /proc/self/status")
        .contains("Seccomp:\t2\n"));
    assert_eq!(
        s.run_line("unshare -U sh"),
        "unshare: unshare failed: Operation not permitted\n"
    );
    assert!(s
        .run_line("mount -t tmpfs none /tmp")
        .contains("permission denied"));
    assert_eq!(
        s.run_line("keyctl show"),
        "keyctl_read_alloc: Operation not permitted\n"
    );
    let state = s
        .snapshot()
        .containers
        .into_iter()
        .find(|c| c.name == "jail")
        .expect("listed");
    assert_eq!(state.isolation.seccomp, "filter");
    assert!(state
        .isolation
        .seccomp_blocked
        .iter()
        .any(|n| n == "keyctl"));
    assert!(state.isolation.seccomp_allowed > 300);
}

#[test]
fn seccomp_unconfined_lifts_the_filter() {
    let mut s = sim("empty");
    let mut spec = ContainerSpec {
        name: Some("free".into()),
        ..Default::default()
    };
    spec.security.seccomp = isolab_shared::seccomp::SeccompSetting::Unconfined;
    s.create_container(spec).expect("created");
    s.attach("free").expect("runs");
    assert!(s
        .run_line("cat /proc/self/status")
        .contains("Seccomp:\t0\n"));
    assert!(s.run_line("keyctl show").starts_with("Session Keyring"));
    // Without the filter the capability check still refuses a user namespace's
    // siblings: unshare -m needs CAP_SYS_ADMIN, which the container lacks.
    assert_eq!(
        s.run_line("unshare -m sh"),
        "unshare: unshare failed: Operation not permitted\n"
    );
}

/// `userns: auto`: each container's root maps to a range of its own, at the
/// allocator's first free slot, and a removed container's range is free again.
#[test]
fn auto_user_namespaces_get_disjoint_ranges_freed_on_removal() {
    use isolab_shared::userns::{FIRST_ID, RANGE_SIZE};
    let mut s = sim("empty");
    let auto = || ContainerSpec {
        userns: isolab_shared::UsernsMode::Auto,
        ..Default::default()
    };
    let first_outside = |c: &isolab_shared::ContainerState| {
        c.isolation.uid_map.first().map(|e| (e.outside, e.count))
    };
    let a = s.create_container(auto()).expect("a");
    let b = s.create_container(auto()).expect("b");
    assert!(a.spec.namespaces.contains(NamespaceKind::User));
    assert_eq!(first_outside(&a), Some((FIRST_ID, RANGE_SIZE)));
    assert_eq!(first_outside(&b), Some((FIRST_ID + RANGE_SIZE, RANGE_SIZE)));
    // A container without `auto` keeps the fixed range.
    let plain = s
        .create_container(ContainerSpec {
            namespaces: [NamespaceKind::User, NamespaceKind::Pid]
                .into_iter()
                .collect(),
            ..Default::default()
        })
        .expect("plain");
    assert_eq!(first_outside(&plain).map(|m| m.0), Some(100_000));
    s.remove_container(&a.id).expect("removed");
    let c = s.create_container(auto()).expect("c");
    assert_eq!(first_outside(&c), Some((FIRST_ID, RANGE_SIZE)));
}
