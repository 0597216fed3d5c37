//! What the fuzz targets share: the invariant that a value the server accepted
//! survives being written and read back, checked the way the server reads bodies.
//!
//! # Layout
//! - `fuzz_targets/ws_client_message.rs`: text frames of the events and terminal sockets.
//! - `fuzz_targets/rest_body.rs`: REST bodies (container spec, limits, exec, signal, class).
//! - `fuzz_targets/limits_signals.rs`: the CLI's limit syntax and signal names.
//! - `fuzz_targets/sim_shell.rs`: lines typed into the simulator's shell.
//! - `fuzz_targets/lesson_file.rs`: lesson files.
//! - `fuzz_targets/seccomp_profile.rs`: seccomp profiles in the common JSON format.

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Writes `value` as JSON, reads it back, and fails unless it is the same value.
pub fn assert_round_trip<T>(value: &T)
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let text = match serde_json::to_string(value) {
        Ok(t) => t,
        Err(e) => panic!("an accepted {value:?} cannot be written back: {e}"),
    };
    match serde_json::from_str::<T>(&text) {
        Ok(again) => assert_eq!(&again, value, "{text} reads back as another value"),
        Err(e) => panic!("{text}, written from an accepted value, does not read back: {e}"),
    }
}

/// Parses a body the way the server's handlers do: the text as JSON first (a syntax
/// error is `bad_json`), then that value as `T` (a shape error is `bad_request`).
pub fn parse_as_server<T: DeserializeOwned>(value: &serde_json::Value) -> Option<T> {
    serde_json::from_value(value.clone()).ok()
}
