//! The lifecycle API: stop with SIGTERM, then SIGKILL after the grace period; kill
//! forwards a signal through init to the command; wait reports it.

use crate::support::runtime as runtime_common;

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use runtime_common::{sh, TestContainer, TestRoot};

#[test]
fn stop_terminates_politely_first() {
    let root = TestRoot::new();
    let mut tc = TestContainer::create(&root, &sh("exec sleep 30"));
    tc.get().start().expect("starts");
    let started = Instant::now();
    let exit = tc.get().stop(Duration::from_secs(5)).expect("stops");
    assert_eq!(exit.signal, Some(Signal::SIGTERM as i32), "{exit:?}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "no need to wait for the grace"
    );
    assert!(!exit.oom_killed);
    tc.delete();
}

#[test]
fn stop_kills_what_ignores_sigterm_after_the_grace() {
    let root = TestRoot::new();
    let mut tc = TestContainer::create(&root, &sh("trap '' TERM; sleep 30 & wait; sleep 30"));
    tc.get().start().expect("starts");
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    let exit = tc.get().stop(Duration::from_millis(300)).expect("stops");
    assert_eq!(exit.signal, Some(Signal::SIGKILL as i32), "{exit:?}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    let record_status = tc.get().record().status;
    assert_eq!(record_status, isolab_shared::ContainerStatus::Exited);
    tc.delete();
}

#[test]
fn kill_forwards_the_signal_and_wait_reports_the_code() {
    let root = TestRoot::new();
    let mut tc = TestContainer::create(&root, &sh("trap 'exit 42' USR1; sleep 30 & wait"));
    tc.get().start().expect("starts");
    std::thread::sleep(Duration::from_millis(100));
    tc.get().kill(Signal::SIGUSR1).expect("kill");
    let exit = tc.get().wait().expect("wait");
    assert_eq!(exit.code, Some(42), "{exit:?}");
    assert!(
        tc.get().kill(Signal::SIGUSR1).is_err(),
        "no signal to an exited container"
    );
    tc.delete();
}
