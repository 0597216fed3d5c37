//! The recording player's pure parts, in the browser: reading asciicast v2 (with and
//! without isolab's marker payloads), the terminal work of a seek, the container
//! rebuilt at a moment from the markers, and the clock.

use isolab_frontend::player::cast::{Cast, CastEvent};
use isolab_frontend::player::timeline::{
    format_time, index_at, moment_at, seek_ops, Clock, ClockAction, TermOp,
};
use isolab_shared::{ContainerStatus, NamespaceKind};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// A recording as the server writes one: the container created in it (the header has
/// none), a process, a limits change, a limit hit, output, a resize and the exit.
const CAST: &str = r#"{"version":2,"width":80,"height":24,"timestamp":1700000000,"title":"web","env":{"TERM":"xterm-256color"},"x_isolab":{"cap_bytes":16777216,"truncated":false}}
[0.010000, "m", "container created (host)\n{\"x_isolab\":{\"type\":\"container_created\",\"container\":{\"id\":\"c1\",\"name\":\"web\",\"spec\":{\"limits\":{\"pids\":512,\"memory_bytes\":null,\"cpus\":null}},\"status\":\"created\",\"exit\":null,\"init_pid\":100,\"created_at_ms\":1,\"started_at_ms\":null,\"processes\":[{\"host_pid\":100,\"nspid\":[100,1],\"ppid\":1,\"cmdline\":\"/bin/sh\",\"state\":\"S\",\"uid\":0}],\"namespaces\":{\"pid\":4026532001,\"net\":4026532002},\"cgroup\":null,\"interfaces\":[]}}}"]
[0.020000, "m", "container started (init: host pid 100)\n{\"x_isolab\":{\"type\":\"container_started\",\"id\":\"c1\",\"init_pid\":100}}"]
[0.500000, "o", "$ "]
[1.000000, "o", "sleep 9 &\r\n"]
[1.100000, "m", "process started: pid 2: sleep 9\n{\"x_isolab\":{\"type\":\"process_started\",\"container\":\"c1\",\"process\":{\"host_pid\":101,\"nspid\":[101,2],\"ppid\":100,\"cmdline\":\"sleep 9\",\"state\":\"S\",\"uid\":0}}}"]
[2.000000, "r", "100x30"]
[2.500000, "m", "limits changed\n{\"x_isolab\":{\"type\":\"limits_changed\",\"id\":\"c1\",\"limits\":{\"pids\":64,\"memory_bytes\":67108864,\"cpus\":0.5}}}"]
[3.000000, "m", "limit hit: pids\n{\"x_isolab\":{\"type\":\"limit_hit\",\"id\":\"c1\",\"limit\":\"pids\"}}"]
[3.500000, "o", "done\r\n"]
[4.000000, "m", "process exited: host pid 101: sleep 9\n{\"x_isolab\":{\"type\":\"process_exited\",\"container\":\"c1\",\"host_pid\":101}}"]
[5.000000, "m", "container exited: code 3\n{\"x_isolab\":{\"type\":\"container_exited\",\"id\":\"c1\",\"exit\":{\"code\":3,\"signal\":null,\"oom_killed\":false}}}"]
"#;

fn cast() -> Cast {
    Cast::parse(CAST).expect("the recording reads")
}

#[wasm_bindgen_test]
fn a_recording_reads_with_its_markers_labels_and_events() {
    let cast = cast();
    assert_eq!(
        (cast.width, cast.height, cast.title.as_str()),
        (80, 24, "web")
    );
    assert!(!cast.truncated);
    assert!(cast.container.is_none());
    assert_eq!(cast.events.len(), 11);
    assert_eq!(cast.duration(), 5.0);
    let labels: Vec<&str> = cast.markers().iter().map(|m| m.2).collect();
    assert_eq!(labels[0], "container created (host)");
    assert_eq!(labels[6], "container exited: code 3");
    assert!(cast
        .events
        .iter()
        .all(|(_, e)| !matches!(e, CastEvent::Marker { event: None, .. })));
    assert_eq!(cast.events[5].1, CastEvent::Resize(100, 30));
}

#[wasm_bindgen_test]
fn labels_alone_and_other_tools_files_still_read() {
    let old = "{\"version\":2,\"width\":10,\"height\":5}\n\
               [0.5, \"o\", \"hi\"]\n[0.6, \"i\", \"x\"]\n\n[1.0, \"m\", \"process started: pid 3: a\\nb\"]\n";
    let cast = Cast::parse(old).expect("reads");
    assert_eq!(cast.events.len(), 2, "input is not shown");
    assert_eq!(
        cast.events[1].1,
        CastEvent::Marker {
            label: "process started: pid 3: a\nb".into(),
            event: None
        }
    );
    // Without events the moment has no container, and nothing fails.
    assert!(moment_at(&cast, 1.0).snapshot.containers.is_empty());
}

#[wasm_bindgen_test]
fn what_is_not_asciicast_v2_is_refused_with_its_line() {
    assert!(Cast::parse("").is_err());
    assert!(Cast::parse("{\"version\":1,\"width\":1,\"height\":1}\n").is_err());
    let e = Cast::parse("{\"version\":2,\"width\":1,\"height\":1}\n[0.1, \"o\"]\n")
        .expect_err("a short event");
    assert!(e.contains("line 2"), "{e}");
    let e = Cast::parse("{\"version\":2,\"width\":1,\"height\":1}\n[0.1, \"r\", \"wide\"]\n")
        .expect_err("a bad resize");
    assert!(e.contains("line 2"), "{e}");
}

#[wasm_bindgen_test]
fn seeking_forward_writes_the_rest_and_back_starts_over() {
    let cast = cast();
    assert_eq!(index_at(&cast, 0.0), 0);
    assert_eq!(index_at(&cast, 1.0), 4, "an event at t is shown at t");
    let forward = seek_ops(&cast, 0, index_at(&cast, 1.05));
    assert_eq!(forward, vec![TermOp::Write("$ sleep 9 &\r\n".into())]);
    let more = seek_ops(&cast, 4, index_at(&cast, 4.0));
    assert_eq!(
        more,
        vec![TermOp::Resize(100, 30), TermOp::Write("done\r\n".into())]
    );
    let back = seek_ops(&cast, 9, index_at(&cast, 0.7));
    assert_eq!(
        back,
        vec![
            TermOp::Reset,
            TermOp::Resize(80, 24),
            TermOp::Write("$ ".into())
        ]
    );
    assert!(seek_ops(&cast, 3, 3).is_empty());
}

#[wasm_bindgen_test]
fn the_container_at_a_moment_is_rebuilt_from_the_markers() {
    let cast = cast();
    let before = moment_at(&cast, 0.0);
    assert!(before.snapshot.containers.is_empty(), "not created yet");

    let started = moment_at(&cast, 1.0);
    let c = &started.snapshot.containers[0];
    assert_eq!(c.status, ContainerStatus::Running);
    assert_eq!(c.processes.len(), 1);
    assert_eq!(c.spec.limits.pids, Some(512));
    assert_eq!(c.namespaces.get(&NamespaceKind::Net), Some(&4026532002));

    let busy = moment_at(&cast, 3.2);
    let c = &busy.snapshot.containers[0];
    assert_eq!(c.processes.len(), 2);
    assert_eq!(c.spec.limits.pids, Some(64));
    assert_eq!(c.spec.limits.memory_bytes, Some(64 << 20));
    assert_eq!(c.spec.limits.cpus, Some(0.5));
    assert_eq!(busy.limit_hits, (1, 0, 0));

    let end = moment_at(&cast, 5.0);
    let c = &end.snapshot.containers[0];
    assert_eq!(c.status, ContainerStatus::Exited);
    assert_eq!(c.exit.as_ref().and_then(|e| e.code), Some(3));
    assert!(c.processes.is_empty());
    assert_eq!(end.markers_passed, 7);
    // Going back gives the earlier state again: nothing is kept between moments.
    assert_eq!(moment_at(&cast, 1.0), started);
}

#[wasm_bindgen_test]
fn a_header_container_is_the_start_of_a_later_recording() {
    let header = r#"{"version":2,"width":80,"height":24,"x_isolab":{"container":{"id":"c1","name":"web","spec":{"limits":{"pids":128,"memory_bytes":null,"cpus":null}},"status":"running","exit":null,"init_pid":100,"created_at_ms":1,"started_at_ms":2,"processes":[],"namespaces":{},"cgroup":null,"interfaces":[]},"cap_bytes":1024,"truncated":true}}"#;
    let text = format!(
        "{header}\n[1.0, \"m\", \"limits changed\\n{{\\\"x_isolab\\\":{{\\\"type\\\":\\\"limits_changed\\\",\\\"id\\\":\\\"c1\\\",\\\"limits\\\":{{\\\"pids\\\":32,\\\"memory_bytes\\\":null,\\\"cpus\\\":null}}}}}}\"]\n"
    );
    let cast = Cast::parse(&text).expect("reads");
    assert!(cast.truncated);
    let at_start = moment_at(&cast, 0.0);
    assert_eq!(at_start.snapshot.containers[0].spec.limits.pids, Some(128));
    let later = moment_at(&cast, 1.0);
    assert_eq!(later.snapshot.containers[0].spec.limits.pids, Some(32));
}

#[wasm_bindgen_test]
fn the_clock_plays_pauses_seeks_and_stops_at_the_end() {
    let mut clock = Clock::default();
    clock.apply(ClockAction::Load(10.0));
    assert!(!clock.playing);
    clock.apply(ClockAction::Tick(1.0));
    assert_eq!(clock.position, 0.0, "paused: time stands");
    clock.apply(ClockAction::Toggle);
    clock.apply(ClockAction::SetSpeed(2.0));
    clock.apply(ClockAction::Tick(1.0));
    assert_eq!(clock.position, 2.0);
    clock.apply(ClockAction::SeekBy(-5.0));
    assert_eq!(clock.position, 0.0, "clamped at the start");
    clock.apply(ClockAction::Seek(9.5));
    clock.apply(ClockAction::Tick(1.0));
    assert_eq!(clock.position, 10.0);
    assert!(!clock.playing, "stops at the end");
    clock.apply(ClockAction::Toggle);
    assert_eq!(
        (clock.position, clock.playing),
        (0.0, true),
        "plays again from the start"
    );
    clock.apply(ClockAction::SetSpeed(0.0));
    clock.apply(ClockAction::Seek(f64::NAN));
    assert_eq!((clock.speed, clock.position), (2.0, 0.0));
    clock.apply(ClockAction::Seek(f64::MAX));
    assert_eq!(clock.position, 10.0);
    assert_eq!(format_time(65.0), "1:05.0");
}
