//! Limit, quota, duration and signal syntax.
//!
//! The limit syntax of `isolab run --memory/--cpus/--pids` and of the classroom's
//! `--student-quota`, `--keep-recordings`, the signal names of `POST …/signal`, and `sleep`'s durations in
//! the simulator. A value accepted is in range, and what isolab writes reads back.
#![no_main]

use isolab::classroom::policy::StudentQuota;
use isolab::server::containers::parse_signal;
use isolab_shared::limits::{self, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(bytes) = limits::parse_memory(text) {
        let set = Limits {
            memory_bytes: Some(bytes),
            ..Limits::default()
        };
        assert!(
            set.validate().is_ok(),
            "{text:?} parsed to {bytes}, out of range"
        );
        // The CLI prints sizes as it takes them; a whole size must read back exactly.
        let shown = limits::format_bytes(bytes);
        if !shown.contains('.') {
            assert_eq!(limits::parse_memory(&shown), Ok(bytes), "{shown}");
        }
    }
    if let Ok(cpus) = limits::parse_cpus(text) {
        let set = Limits {
            cpus: Some(cpus),
            ..Limits::default()
        };
        assert!(
            set.validate().is_ok(),
            "{text:?} parsed to {cpus}, out of range"
        );
        assert_eq!(limits::parse_cpus(&cpus.to_string()), Ok(cpus));
    }
    if let Ok(pids) = limits::parse_pids(text) {
        assert_eq!(limits::parse_pids(&pids.to_string()), Ok(pids));
    }
    if let Ok(quota) = text.parse::<StudentQuota>() {
        let _ = quota;
    }
    let _ = isolab_shared::sim::shell::misc::parse_seconds(text);
    let _ = isolab::recording::parse_duration(text);
    // A signal by name: whatever is accepted is the same signal by its own name and
    // by its number.
    if let Ok(signal) = parse_signal(&serde_json::Value::String(text.to_string())) {
        let by_name = parse_signal(&serde_json::Value::String(signal.as_str().to_string()));
        assert_eq!(by_name.ok(), Some(signal), "{text:?}");
        let by_number = parse_signal(&serde_json::json!(signal as i32));
        assert_eq!(by_number.ok(), Some(signal), "{text:?}");
    }
    if let Ok(number) = text.trim().parse::<i64>() {
        let _ = parse_signal(&serde_json::json!(number));
    }
});
