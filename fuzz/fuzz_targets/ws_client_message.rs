//! The events and terminal sockets' client messages.
//!
//! Text frames a client sends on the events socket (`ClientMessage`) and on a
//! terminal socket (`TerminalControl`), read as the sockets read them: JSON first,
//! then the message type. Anything accepted must write back as the same message.
#![no_main]

use isolab_fuzz::{assert_round_trip, parse_as_server};
use isolab_shared::{ClientMessage, TerminalControl};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return;
    };
    if let Some(message) = parse_as_server::<ClientMessage>(&value) {
        assert_round_trip(&message);
        // A direct reading (no intermediate value) agrees when it accepts; it refuses
        // a repeated key, where the socket's reading keeps the last one.
        if let Ok(direct) = serde_json::from_str::<ClientMessage>(text) {
            assert_eq!(direct, message, "{text}");
        }
    }
    if let Some(control) = parse_as_server::<TerminalControl>(&value) {
        assert_round_trip(&control);
        if let Ok(direct) = serde_json::from_str::<TerminalControl>(text) {
            assert_eq!(direct, control, "{text}");
        }
    }
    // The type name the error message quotes back is read from the value as is.
    let _ = value.get("type").map(ToString::to_string);
});
