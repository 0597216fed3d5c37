//! The REST bodies: container spec, limits, exec, signal, classroom.
//!
//! REST bodies as the handlers read them (JSON, then the body's type): the container
//! spec, limits, exec, signal, and the classroom's join, settings, broadcast and
//! progress bodies. A body that is accepted writes back as the same value, and the
//! checks the server runs on it give the same answer after the round trip.
#![no_main]

use isolab::live::ExecSpec;
use isolab::server::containers::{parse_signal, SignalRequest};
use isolab_fuzz::{assert_round_trip, parse_as_server};
use isolab_shared::limits::Limits;
use isolab_shared::{BroadcastRequest, ClassSettings, ContainerSpec, JoinRequest, ProgressReport};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Some(spec) = parse_as_server::<ContainerSpec>(&value) {
        let verdict = spec.validate();
        assert_round_trip(&spec);
        if verdict.is_ok() {
            // What the server keeps (the state file, the events) reads back as accepted.
            let text = serde_json::to_string(&spec).unwrap_or_default();
            let again: Option<ContainerSpec> = serde_json::from_str(&text).ok();
            assert!(
                again.is_some_and(|s| s.validate().is_ok()),
                "{text} was accepted and is refused once written back"
            );
        }
    }
    if let Some(limits) = parse_as_server::<Limits>(&value) {
        let _ = limits.validate();
        assert_round_trip(&limits);
    }
    if let Some(exec) = parse_as_server::<ExecSpec>(&value) {
        assert_round_trip(&exec);
    }
    if let Some(request) = parse_as_server::<SignalRequest>(&value) {
        let _ = parse_signal(&request.signal);
    }
    if let Some(join) = parse_as_server::<JoinRequest>(&value) {
        assert_round_trip(&join);
        let _ = isolab::classroom::join::check_name(&join.name);
        let _ = isolab::classroom::join::code_matches("K7P-2QX", &join.code);
    }
    if let Some(settings) = parse_as_server::<ClassSettings>(&value) {
        assert_round_trip(&settings);
    }
    if let Some(broadcast) = parse_as_server::<BroadcastRequest>(&value) {
        assert_round_trip(&broadcast);
    }
    if let Some(report) = parse_as_server::<ProgressReport>(&value) {
        assert_round_trip(&report);
    }
});
