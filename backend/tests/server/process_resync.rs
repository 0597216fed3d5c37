//! Lost kernel process events: after the kernel drops some, the tracker compares what
//! it announced with the containers' cgroups and /proc, so a process that started
//! unseen is announced, and one that ended unseen is ended.

use std::sync::Arc;
use std::time::Duration;

use isolab::live::hub::{EventHub, Subscription};
use isolab::live::watch::ProcessTracker;
use isolab::live::{CreateOptions, LiveConfig, Supervisor};
use isolab_shared::{ContainerSpec, EventKind};

use crate::support::runtime::TestRoot;

/// The process events published since the last call: (started?, container, host PID).
fn process_events(sub: &mut Subscription) -> Vec<(bool, String, u32)> {
    let mut seen = Vec::new();
    while let Ok(published) = sub.live.try_recv() {
        match &published.event.kind {
            EventKind::ProcessStarted {
                container: Some(id),
                process,
            } => seen.push((true, id.clone(), process.host_pid)),
            EventKind::ProcessExited {
                container: Some(id),
                host_pid,
            } => seen.push((false, id.clone(), *host_pid)),
            _ => {}
        }
    }
    seen
}

#[tokio::test]
async fn a_resync_announces_what_lost_events_hid() {
    let root = TestRoot::new();
    let hub = Arc::new(EventHub::default());
    let sup = Supervisor::new(
        LiveConfig::new(root.config.clone()),
        hub.clone(),
        isolab::sysinfo::live_status(),
    );
    let spec = ContainerSpec {
        command: vec!["/bin/sleep".into(), "300".into()],
        ..ContainerSpec::default()
    };
    let state = sup
        .create(spec, &CreateOptions::default())
        .await
        .expect("created");
    let mut sub = hub.subscribe(Some(hub.last_seq()));
    let mut tracker = ProcessTracker::default();

    // No event reached the tracker: a resync finds the container's processes.
    tracker.resync(&sup);
    let started = process_events(&mut sub);
    let sleep_pid = started
        .iter()
        .filter(|(up, id, _)| *up && *id == state.id)
        .map(|(_, _, pid)| *pid)
        .find(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.starts_with("/bin/sleep\x00300"))
        });
    let Some(sleep_pid) = sleep_pid else {
        let _ = sup.remove(&state.id).await;
        panic!("the resync announced no sleep: {started:?}");
    };
    // What is known is not announced twice.
    tracker.resync(&sup);
    assert_eq!(
        process_events(&mut sub),
        [],
        "a second resync announced again"
    );

    // The sleep ends and no event says so: the next resync ends it.
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(sleep_pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while std::path::Path::new(&format!("/proc/{sleep_pid}")).exists()
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tracker.resync(&sup);
    let ended = process_events(&mut sub);
    let removed = sup.remove(&state.id).await;
    assert!(
        ended.contains(&(false, state.id.clone(), sleep_pid)),
        "the resync did not end the sleep: {ended:?}"
    );
    assert!(removed.is_ok(), "{removed:?}");
}
