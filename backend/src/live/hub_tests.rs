//! Tests of the event hub.

use super::*;
use isolab_shared::{ContainerSpec, ContainerState, ContainerStatus, StreamMessage};

fn removed(id: &str) -> EventKind {
    EventKind::ContainerRemoved { id: id.into() }
}

fn parse(frame: &Bytes) -> StreamMessage {
    serde_json::from_slice(frame).expect("a StreamMessage")
}

fn seqs(events: &[Arc<Published>]) -> Vec<u64> {
    events.iter().map(|e| e.event.seq).collect()
}

#[test]
fn sequence_numbers_only_increase() {
    let hub = EventHub::new(8);
    let a = hub.publish(removed("a"));
    let b = hub.publish(removed("b"));
    assert_eq!((a.seq, b.seq), (1, 2));
    assert_eq!(hub.last_seq(), 2);
}

#[test]
fn first_connect_gets_a_snapshot_then_live_events() {
    let hub = EventHub::new(8);
    hub.publish(removed("a"));
    let mut sub = hub.subscribe(None);
    match &sub.start {
        StartPoint::Snapshot(f) => {
            assert!(matches!(parse(f), StreamMessage::Snapshot { snapshot } if snapshot.seq == 1))
        }
        other => panic!("expected a snapshot, got {other:?}"),
    }
    hub.publish(removed("b"));
    let e = sub.live.try_recv().expect("live event");
    assert_eq!(e.event.seq, 2);
    assert!(matches!(parse(&e.frame), StreamMessage::Event { event } if event.seq == 2));
}

#[test]
fn resume_inside_the_buffer_replays_exactly_the_missed_events() {
    let hub = EventHub::new(8);
    for i in 0..5 {
        hub.publish(removed(&i.to_string()));
    }
    match hub.subscribe(Some(2)).start {
        StartPoint::Replay(events) => assert_eq!(seqs(&events), vec![3, 4, 5]),
        other => panic!("expected a replay, got {other:?}"),
    }
    match hub.subscribe(Some(5)).start {
        StartPoint::Replay(events) => assert!(events.is_empty()),
        other => panic!("expected an empty replay, got {other:?}"),
    }
}

#[test]
fn resume_outside_the_buffer_or_from_the_future_gets_a_snapshot() {
    let hub = EventHub::new(3);
    for i in 0..10 {
        hub.publish(removed(&i.to_string()));
    }
    assert!(matches!(
        hub.subscribe(Some(2)).start,
        StartPoint::Snapshot(_)
    ));
    assert!(matches!(
        hub.subscribe(Some(99)).start,
        StartPoint::Snapshot(_)
    ));
    // The oldest kept event is 8, so resuming from 7 still works.
    assert!(matches!(hub.subscribe(Some(7)).start, StartPoint::Replay(ref v) if v.len() == 3));
}

#[test]
fn every_subscriber_shares_one_snapshot_frame_until_it_changes() {
    let hub = EventHub::new(8);
    hub.publish(removed("a"));
    let (StartPoint::Snapshot(one), StartPoint::Snapshot(two)) =
        (hub.subscribe(None).start, hub.subscribe(None).start)
    else {
        panic!("expected snapshots");
    };
    assert_eq!(one.as_ptr(), two.as_ptr(), "the same bytes, not a copy");
    hub.publish(removed("b"));
    assert_ne!(hub.snapshot_frame().as_ptr(), one.as_ptr());
}

fn state(id: &str) -> ContainerState {
    let mut c: ContainerState = serde_json::from_value(serde_json::json!({
        "id": id, "name": id, "spec": ContainerSpec::default(), "status": "running",
        "exit": null, "init_pid": 1, "created_at_ms": 1, "started_at_ms": 1,
        "processes": [], "namespaces": {}, "cgroup": null, "interfaces": [],
    }))
    .expect("a container");
    c.status = ContainerStatus::Running;
    c
}

#[test]
fn stats_are_deltas_outside_the_replay_buffer() {
    let hub = EventHub::new(8);
    for id in ["a", "b"] {
        hub.publish(EventKind::ContainerCreated {
            container: Box::new(state(id)),
        });
    }
    let usage = |a: u64, b: u64| {
        [("a", a), ("b", b)]
            .into_iter()
            .map(|(id, cpu)| {
                let u = CgroupUsage {
                    cpu_usage_us: Some(cpu),
                    ..Default::default()
                };
                (id.to_string(), u)
            })
            .collect::<BTreeMap<_, _>>()
    };
    hub.publish(EventKind::Stats { usage: usage(1, 1) });
    let sub = hub.subscribe(None);
    let mut seen = sub.stats_seen;
    assert!(
        hub.stats_frame_since(&mut seen).is_none(),
        "the snapshot has them"
    );
    hub.publish_stats(usage(2, 1));
    let frame = hub.stats_frame_since(&mut seen).expect("a change");
    match parse(&frame) {
        StreamMessage::Event { event } => {
            assert_eq!(event.seq, 2, "a sample repeats the last event's number");
            match event.kind {
                EventKind::Stats { usage } => assert_eq!(usage.keys().collect::<Vec<_>>(), ["a"]),
                other => panic!("expected stats, got {other:?}"),
            }
        }
        other => panic!("expected an event, got {other:?}"),
    }
    assert_eq!(hub.last_seq(), 2, "stats take no sequence number");
    let cpu = hub.snapshot().container("a").and_then(|c| c.cgroup.clone());
    assert_eq!(cpu.and_then(|u| u.cpu_usage_us), Some(2));
    match hub.subscribe(Some(1)).start {
        StartPoint::Replay(events) => assert_eq!(seqs(&events), vec![2]),
        other => panic!("expected a replay, got {other:?}"),
    }
}

fn host_process(pid: u32, cmdline: &str) -> ProcessInfo {
    ProcessInfo {
        host_pid: pid,
        nspid: vec![pid],
        ppid: 1,
        cmdline: cmdline.into(),
        state: "S".into(),
        uid: 0,
        namespaces: Default::default(),
    }
}

fn host_with(processes: Vec<ProcessInfo>) -> HostState {
    HostState {
        hostname: "h".into(),
        processes,
        ..HostState::default()
    }
}

#[test]
fn host_processes_that_start_change_or_end_are_events_but_the_first_reading_is_not() {
    let hub = EventHub::new(64);
    hub.set_host(host_with(vec![
        host_process(10, "sshd"),
        host_process(11, "sh"),
    ]));
    assert_eq!(
        hub.last_seq(),
        0,
        "the first reading is the snapshot's alone"
    );
    let mut sub = hub.subscribe(Some(0));
    let mut running = host_process(10, "sshd");
    running.state = "R".into();
    hub.set_host(host_with(vec![
        running,
        host_process(11, "sleep 5"),
        host_process(12, "top"),
    ]));
    hub.set_host(host_with(vec![host_process(11, "sleep 5")]));
    let mut seen = Vec::new();
    while let Ok(e) = sub.live.try_recv() {
        seen.push(match &e.event.kind {
            EventKind::ProcessStarted {
                container: None,
                process,
            } => format!("+{} {}", process.host_pid, process.cmdline),
            EventKind::ProcessExited {
                container: None,
                host_pid,
            } => format!("-{host_pid}"),
            other => panic!("unexpected {other:?}"),
        });
    }
    // 10 only changed state (no event); 11 exec'd; 12 came and went with 10.
    assert_eq!(seen, ["+11 sleep 5", "+12 top", "-10", "-12"]);
    let snapshot = hub.snapshot();
    let pids: Vec<u32> = snapshot.host.processes.iter().map(|p| p.host_pid).collect();
    assert_eq!(pids, [11]);
}
