//! The reducer, a lesson picture's scope, the line editor, exact terminal replay and
//! the map layout, in the browser.

use isolab_frontend::source::live::retry_delay_ms;
use isolab_frontend::source::scope::{newest_seq, ContainerScope};
use isolab_frontend::state::{Action, State, StreamStatus};
use isolab_frontend::terminal::line_editor::{Edit, LineEditor};
use isolab_frontend::terminal::replay::{AttachGap, ReplayCursor};
use isolab_frontend::views::create_dialog::CreateForm;
use isolab_frontend::views::map::layout;
use isolab_shared::sim::Simulator;
use isolab_shared::{
    CgroupUsage, ContainerSpec, ContainerState, ContainerStatus, Event, EventKind, ExitStatus,
    IsolationFacts, NamespaceKind, ProcessInfo, Snapshot,
};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn container(id: &str) -> ContainerState {
    ContainerState {
        id: id.into(),
        name: format!("n-{id}"),
        spec: ContainerSpec::default(),
        status: ContainerStatus::Running,
        exit: None,
        init_pid: Some(100),
        created_at_ms: 1_000,
        started_at_ms: Some(1_000),
        processes: vec![],
        namespaces: Default::default(),
        cgroup: None,
        interfaces: vec![],
        setup: vec![],
        isolation: IsolationFacts::default(),
        owner: None,
        setup_us: 0,
    }
}

fn ev(seq: u64, at_ms: u64, kind: EventKind) -> Event {
    Event { seq, at_ms, kind }
}

fn stats(id: &str, cpu_us: u64, mem: u64) -> EventKind {
    EventKind::Stats {
        usage: [(
            id.to_string(),
            CgroupUsage {
                cpu_usage_us: Some(cpu_us),
                memory_current: Some(mem),
                pids_current: Some(3),
                ..Default::default()
            },
        )]
        .into_iter()
        .collect(),
    }
}

#[wasm_bindgen_test]
fn the_reducer_folds_events_like_the_server_and_keeps_history() {
    let mut s = State::default();
    s.apply(Action::Snapshot(Snapshot {
        seq: 5,
        ..Default::default()
    }));
    s.apply(Action::Event(ev(
        6,
        1_000,
        EventKind::ContainerCreated {
            container: Box::new(container("a")),
        },
    )));
    // A replayed (old) event changes nothing and logs nothing.
    s.apply(Action::Event(ev(
        4,
        900,
        EventKind::ContainerRemoved { id: "a".into() },
    )));
    assert_eq!(s.snapshot.containers.len(), 1);
    assert_eq!(s.log.len(), 1);
    s.apply(Action::Events(vec![
        ev(7, 2_000, stats("a", 0, 10)),
        ev(8, 3_000, stats("a", 500_000, 20)),
    ]));
    let h = s.history.get("a").expect("history kept");
    assert_eq!(h.len(), 2);
    // 0.5 s of cpu over 1 s of wall time.
    assert!((h[1].cpu_percent - 50.0).abs() < 0.01, "{:?}", h[1]);
    assert_eq!(h[1].memory_bytes, 20.0);
    s.apply(Action::Event(ev(
        9,
        4_000,
        EventKind::ContainerExited {
            id: "a".into(),
            exit: ExitStatus {
                code: None,
                signal: Some(9),
                oom_killed: false,
            },
        },
    )));
    let notes = s.notifications(3);
    assert_eq!(notes.len(), 1);
    assert!(
        notes[0].text.contains("killed by signal 9"),
        "{}",
        notes[0].text
    );
    let seq = notes[0].seq;
    s.apply(Action::Dismiss(seq));
    assert!(s.notifications(3).is_empty());
    s.apply(Action::Event(ev(
        10,
        5_000,
        EventKind::ContainerRemoved { id: "a".into() },
    )));
    assert!(s.snapshot.containers.is_empty());
    assert!(s.history.is_empty());
    s.apply(Action::Status(StreamStatus::Open));
    s.apply(Action::Clear);
    assert_eq!(
        s.status,
        StreamStatus::Open,
        "clear keeps the connection status"
    );
    assert!(s.log.is_empty());
}

#[wasm_bindgen_test]
fn the_simulator_feeds_the_same_reducer() {
    let mut sim = Simulator::new("two-containers").expect("scenario exists");
    let mut s = State::default();
    let _ = sim.drain_events();
    s.apply(Action::Snapshot(sim.snapshot()));
    assert_eq!(s.snapshot.containers.len(), 2);
    let c = sim
        .create_container(ContainerSpec {
            name: Some("lab".into()),
            ..ContainerSpec::default()
        })
        .expect("created");
    s.apply(Action::Events(sim.drain_events()));
    // Events alone bring the reducer to what a fresh snapshot says.
    let fresh = sim.snapshot();
    assert_eq!(s.snapshot.containers.len(), 3);
    let mine = s.snapshot.container(&c.id).expect("folded in");
    let theirs = fresh.container(&c.id).expect("in the snapshot");
    assert_eq!(mine.init_pid, theirs.init_pid);
    assert_eq!(mine.status, ContainerStatus::Running);
    assert!(s.log.iter().any(|e| e.text.contains("lab created")));
}

#[wasm_bindgen_test]
fn line_editing_history_and_ctrl_c() {
    let mut e = LineEditor::default();
    e.set_prompt("$ ");
    e.feed("hostnme");
    e.feed("\x1b[D\x1b[D"); // two left
    e.feed("a");
    assert_eq!(e.line(), "hostname");
    assert_eq!(e.cursor(), 6);
    assert_eq!(e.feed("\r"), vec![Edit::Submit("hostname".into())]);
    e.feed("ps");
    e.feed("\x7f\x7f");
    assert_eq!(e.line(), "");
    e.feed("echo hi");
    assert_eq!(e.feed("\x03"), vec![Edit::Interrupt]);
    assert_eq!(e.line(), "");
    e.feed("\x1b[A");
    assert_eq!(e.line(), "hostname", "up recalls the last line");
    e.feed("\x1b[B");
    assert_eq!(e.line(), "", "down returns to the empty draft");
    e.feed("abc\x01X\x05Y");
    assert_eq!(e.line(), "XabcY");
    e.feed("\x15");
    assert_eq!(e.line(), "");
    // A paste of two lines runs both.
    let edits = e.feed("ls\r\npwd\r");
    let submitted: Vec<_> = edits
        .into_iter()
        .filter_map(|x| match x {
            Edit::Submit(l) => Some(l),
            _ => None,
        })
        .collect();
    assert_eq!(submitted, vec!["ls".to_string(), "pwd".to_string()]);
    assert!(e.redraw().starts_with("\r$ "));
}

#[wasm_bindgen_test]
fn replay_writes_each_byte_once() {
    let mut c = ReplayCursor::default();
    // Page load: the whole scrollback from 0.
    assert_eq!(c.attached(0), AttachGap::None);
    assert_eq!(c.accept(b"hello "), b"hello ");
    assert_eq!(c.written, 6);
    // Reconnect asking for offset 6, but a server that resends from 3: drop "lo ".
    assert_eq!(c.attached(3), AttachGap::None);
    assert_eq!(c.accept(b"lo"), b"");
    assert_eq!(c.accept(b" world"), b"world");
    assert_eq!(c.written, 11);
    // The scrollback was trimmed past what we had: report the gap, keep counting.
    assert_eq!(c.attached(20), AttachGap::Lost(9));
    assert_eq!(c.accept(b"!"), b"!");
    assert_eq!(c.written, 21);
}

#[wasm_bindgen_test]
fn backoff_doubles_up_to_a_ceiling() {
    assert_eq!(retry_delay_ms(1), 500);
    assert_eq!(retry_delay_ms(2), 1000);
    assert_eq!(retry_delay_ms(3), 2000);
    assert_eq!(retry_delay_ms(50), 15_000);
}

#[wasm_bindgen_test]
fn the_create_form_checks_what_it_sends() {
    let mut f = CreateForm::default();
    let spec = f.to_spec().expect("defaults are valid");
    assert_eq!(spec.limits.memory_bytes, Some(128 * 1024 * 1024));
    assert_eq!(spec.command, vec!["/bin/sh".to_string()]);
    f.memory = "lots".into();
    assert!(f.to_spec().is_err());
    f.memory = String::new();
    f.hostname = "bad host".into();
    assert!(f.to_spec().is_err());
}

fn process(pid: u32, nspid: Vec<u32>, pid_ns: u64) -> ProcessInfo {
    ProcessInfo {
        host_pid: pid,
        nspid,
        ppid: 1,
        cmdline: "sh".into(),
        state: "S".into(),
        uid: 0,
        namespaces: [(NamespaceKind::Pid, pid_ns), (NamespaceKind::Net, 7)]
            .into_iter()
            .collect(),
    }
}

#[wasm_bindgen_test]
fn the_map_groups_by_inode_and_does_not_move_what_did_not_change() {
    let mut snap = Snapshot::default();
    snap.host.namespaces.insert(NamespaceKind::Pid, 1);
    snap.host.processes = vec![process(1, vec![1], 1), process(50, vec![50], 1)];
    let mut c = container("a");
    c.namespaces.insert(NamespaceKind::Pid, 2);
    c.processes = vec![process(100, vec![100, 1], 2)];
    snap.containers.push(c);
    let before = layout(&snap, NamespaceKind::Pid);
    assert_eq!(before.groups.len(), 2);
    assert!(before.groups[0].title.starts_with("host"));
    assert_eq!(before.groups[1].title, "n-a");
    assert_eq!(before.groups[1].nodes[0].label.as_str(), "100→1");
    // A new process joins the container: everything drawn before stays put.
    snap.containers[0]
        .processes
        .push(process(101, vec![101, 2], 2));
    let after = layout(&snap, NamespaceKind::Pid);
    for (g0, g1) in before.groups.iter().zip(&after.groups) {
        for (n0, n1) in g0.nodes.iter().zip(g1.nodes.iter()) {
            assert_eq!((n0.host_pid, n0.x, n0.y), (n1.host_pid, n1.x, n1.y));
        }
    }
    // Grouped by net, all three share inode 7: one group.
    assert_eq!(layout(&snap, NamespaceKind::Net).groups.len(), 1);
}

#[wasm_bindgen_test]
fn typed_ahead_input_splits_after_the_first_line_end() {
    use isolab_frontend::terminal::sim_session::split_after_line_end;
    assert_eq!(
        split_after_line_end("ps\rhostname\r"),
        ("ps\r", "hostname\r")
    );
    assert_eq!(split_after_line_end("ps\r\nls"), ("ps\r\n", "ls"));
    assert_eq!(split_after_line_end("ps\nls"), ("ps\n", "ls"));
    assert_eq!(split_after_line_end("echo hi"), ("echo hi", ""));
}

#[wasm_bindgen_test]
fn the_user_namespace_row_names_the_range_and_why_host_files_show_as_nobody() {
    use isolab_frontend::views::steps::compare_with_docker;
    use isolab_shared::IdMapEntry;
    let row = |facts: &IsolationFacts| {
        compare_with_docker(facts)
            .into_iter()
            .find(|(what, _, _)| *what == "user namespace")
            .map(|(_, here, _)| here)
            .expect("a user namespace row")
    };
    let mut facts = IsolationFacts::default();
    assert_eq!(row(&facts), "none (uid 0 is host root)");
    facts.uid_map = vec![IdMapEntry {
        inside: 0,
        outside: 10_000_000,
        count: 65_536,
    }];
    assert_eq!(
        row(&facts),
        "root is host uids 10000000–10065535; host-owned files show as nobody"
    );
}

#[wasm_bindgen_test]
fn a_lesson_picture_keeps_only_its_containers() {
    let scope = ContainerScope::new(["a".to_string()]);
    let mut snapshot = Snapshot {
        seq: 5,
        containers: vec![container("a"), container("b")],
        ..Default::default()
    };
    snapshot.host.processes = vec![process(1, vec![1], 9), process(42, vec![42], 9)];
    let actions = vec![
        Action::Snapshot(snapshot),
        Action::Status(StreamStatus::Open),
        Action::Event(ev(6, 2_000, stats("b", 10, 1))),
        Action::Event(ev(6, 2_000, stats("a", 10, 1))),
        Action::Events(vec![
            ev(
                7,
                2_100,
                EventKind::ContainerCreated {
                    container: Box::new(container("c")),
                },
            ),
            ev(
                8,
                2_200,
                EventKind::ProcessStarted {
                    container: None,
                    process: process(43, vec![43], 9),
                },
            ),
            ev(
                9,
                2_300,
                EventKind::ProcessStarted {
                    container: Some("a".into()),
                    process: process(44, vec![44, 2], 10),
                },
            ),
        ]),
        Action::Event(ev(
            10,
            2_400,
            EventKind::ContainerRemoved { id: "b".into() },
        )),
    ];
    assert_eq!(
        actions.iter().map(newest_seq).collect::<Vec<_>>(),
        [Some(5), None, Some(6), Some(6), Some(9), Some(10)]
    );
    let mut picture = State::default();
    let mut passed = 0;
    for action in actions {
        if let Some(kept) = scope.action(action) {
            picture.apply(kept);
            passed += 1;
        }
    }
    // The snapshot, the status, a's sample and the events about a.
    assert_eq!(passed, 4);
    let ids: Vec<&str> = picture
        .snapshot
        .containers
        .iter()
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(ids, ["a"]);
    assert!(picture.snapshot.host.processes.is_empty());
    assert_eq!(picture.snapshot.containers[0].processes.len(), 1);
    assert_eq!(picture.snapshot.seq, 9);
    assert!(picture.history.keys().all(|id| id == "a"));
    // A sample of two containers keeps the scope's figures only.
    let mut both = stats("a", 20, 2);
    if let EventKind::Stats { usage } = &mut both {
        usage.insert("b".into(), CgroupUsage::default());
    }
    let Some(kept) = scope.event(ev(11, 3_000, both)) else {
        panic!("a's figures are in scope");
    };
    let EventKind::Stats { usage } = kept.kind else {
        panic!("still a sample");
    };
    assert_eq!(usage.keys().collect::<Vec<_>>(), ["a"]);
    assert!(scope.contains("a") && !scope.contains("b"));
}

#[wasm_bindgen_test]
fn a_lesson_picture_keeps_what_descends_from_its_host_shell() {
    let scope = ContainerScope::new(["a".to_string()]).with_host_root(Some(50));
    let child = |pid: u32, ppid: u32, nspid: Vec<u32>, pid_ns: u64| ProcessInfo {
        ppid,
        ..process(pid, nspid, pid_ns)
    };
    let mut snapshot = Snapshot {
        seq: 5,
        ..Default::default()
    };
    // The shell, an unshare it ran (listed before its parent), and an unrelated sshd.
    snapshot.host.processes = vec![
        child(60, 50, vec![60], 9),
        child(50, 1, vec![50], 9),
        child(30, 1, vec![30], 9),
    ];
    let Some(Action::Snapshot(kept)) = scope.action(Action::Snapshot(snapshot)) else {
        panic!("a snapshot stays a snapshot");
    };
    let pids: Vec<u32> = kept.host.processes.iter().map(|p| p.host_pid).collect();
    // What the shell started, not the shell itself (drawn, it would be one more
    // process in the host's namespaces).
    assert_eq!(pids, [60]);
    let started = |seq, p: ProcessInfo| {
        ev(
            seq,
            2_000,
            EventKind::ProcessStarted {
                container: None,
                process: p,
            },
        )
    };
    let exited = |seq, host_pid| {
        ev(
            seq,
            2_100,
            EventKind::ProcessExited {
                container: None,
                host_pid,
            },
        )
    };
    // The hand-made namespace's PID 1 (a child of unshare) joins; a stranger does not.
    assert!(scope
        .event(started(6, child(61, 60, vec![61, 1], 11)))
        .is_some());
    assert!(scope
        .event(started(7, child(70, 30, vec![70], 9)))
        .is_none());
    assert!(scope.event(exited(8, 70)).is_none());
    assert!(scope.event(exited(9, 61)).is_some());
    // Without a host root, no host process is kept.
    let plain = ContainerScope::new(["a".to_string()]);
    assert!(plain
        .event(started(10, child(62, 50, vec![62], 9)))
        .is_none());
}
