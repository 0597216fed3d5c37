//! The simulator's shell: its parser, and lines run on a simulated machine.
//!
//! Lines typed into the simulator's shell: the line splitter and word splitter
//! directly, then up to 16 lines run on a copy of a freshly started simulated machine, as a student in
//! the browser's Simulator would type them. Nothing a student types may panic the
//! model (the page would die with it).
#![no_main]

use std::sync::OnceLock;

use isolab_shared::sim::shell::parse;
use isolab_shared::sim::Simulator;
use libfuzzer_sys::fuzz_target;

/// Lines run per input: enough for a command to set up what the next one breaks.
const MAX_LINES: usize = 16;

/// Every scenario's machine, built once: each input runs on a copy, which costs far
/// less than booting the model anew.
fn machines() -> &'static [Simulator] {
    static MACHINES: OnceLock<Vec<Simulator>> = OnceLock::new();
    MACHINES.get_or_init(|| {
        Simulator::scenarios()
            .iter()
            .filter_map(|(name, _)| Simulator::new(name).ok())
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The scenario is picked by the first byte, so the inputs reach the containers
    // and nested namespaces the scenarios start with.
    let machines = machines();
    let Some((first, _)) = text.char_indices().nth(1) else {
        return;
    };
    if machines.is_empty() {
        return;
    }
    let pick = text.as_bytes()[0] as usize % machines.len();
    let text = &text[first..];
    for line in text.lines().take(MAX_LINES) {
        for (command, _) in parse::split_commands(line) {
            if let Ok(words) = parse::words(command.text, 1, 42) {
                assert!(words
                    .iter()
                    .all(|w| !w.is_empty() || command.text.contains(['\'', '"'])));
            }
        }
    }
    let mut sim = machines[pick].clone();
    for line in text.lines().take(MAX_LINES) {
        let _ = sim.run_line(line);
        let _ = sim.prompt();
        if sim.is_finished() {
            break;
        }
    }
    let _ = sim.drain_events();
});
