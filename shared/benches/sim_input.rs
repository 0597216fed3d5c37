//! The cost of one `sim_shell` fuzz input: `cargo bench -p isolab-shared --bench
//! sim_input [-- DIR...]`. Each input is run as `fuzz/fuzz_targets/sim_shell.rs` runs it
//! (the first byte picks a scenario's machine, which is cloned, then up to 16 lines,
//! each followed by the prompt, then the events drained), over the files of the
//! directories named (default: the committed seeds, `fuzz/seeds/sim_shell`). It prints
//! the median of several rounds of the whole set, per input.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use isolab_shared::sim::shell::parse;
use isolab_shared::sim::Simulator;

/// Lines run per input, as in the fuzz target.
const MAX_LINES: usize = 16;
/// Rounds over the whole set; the median round is reported (the machine is shared).
const ROUNDS: usize = 9;
/// How many of the slowest inputs are shown.
const SLOWEST: usize = 8;

/// The inputs: every regular file of `dirs`, read whole.
fn inputs(dirs: &[PathBuf]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            eprintln!("cannot read {}", dir.display());
            continue;
        };
        for entry in entries.flatten() {
            if let Ok(data) = std::fs::read(entry.path()) {
                out.push(data);
            }
        }
    }
    out
}

/// One input, as the fuzz target runs it: the parser alone over each line, then the
/// lines on a copy of a machine.
fn run_one(machines: &[Simulator], data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some((first, _)) = text.char_indices().nth(1) else {
        return;
    };
    let pick = text.as_bytes()[0] as usize % machines.len();
    let text = &text[first..];
    for line in text.lines().take(MAX_LINES) {
        for (command, _) in parse::split_commands(line) {
            std::hint::black_box(parse::words(command.text, 1, 42).ok());
        }
    }
    let mut sim = machines[pick].clone();
    for line in text.lines().take(MAX_LINES) {
        std::hint::black_box(sim.run_line(line));
        std::hint::black_box(sim.prompt());
        if sim.is_finished() {
            break;
        }
    }
    std::hint::black_box(sim.drain_events());
}

fn main() {
    let args: Vec<PathBuf> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .map(PathBuf::from)
        .collect();
    let dirs = if args.is_empty() {
        vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/sim_shell")]
    } else {
        args
    };
    let inputs = inputs(&dirs);
    let machines: Vec<Simulator> = Simulator::scenarios()
        .iter()
        .filter_map(|(name, _)| Simulator::new(name).ok())
        .collect();
    if inputs.is_empty() || machines.is_empty() {
        eprintln!("no inputs or no machines");
        return;
    }
    // The clone alone, of each scenario's machine.
    let mut clones: Vec<Duration> = (0..ROUNDS)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..100 {
                for m in &machines {
                    std::hint::black_box(m.clone());
                }
            }
            t.elapsed() / (100 * machines.len() as u32)
        })
        .collect();
    let mut rounds: Vec<Duration> = (0..ROUNDS)
        .map(|_| {
            let t = Instant::now();
            for data in &inputs {
                run_one(&machines, data);
            }
            t.elapsed() / inputs.len() as u32
        })
        .collect();
    clones.sort();
    rounds.sort();
    // The slowest inputs, each timed alone: where a long fuzzing run spends its time.
    let mut each: Vec<(Duration, usize)> = inputs
        .iter()
        .enumerate()
        .map(|(i, data)| {
            let t = Instant::now();
            run_one(&machines, data);
            (t.elapsed(), i)
        })
        .collect();
    each.sort();
    for (took, i) in each.iter().rev().take(SLOWEST) {
        let text = String::from_utf8_lossy(&inputs[*i]);
        let start: String = text.chars().take(60).collect();
        println!(
            "  {:>9.1} µs  {} bytes: {start:?}",
            took.as_secs_f64() * 1e6,
            inputs[*i].len()
        );
    }
    println!(
        "{} inputs from {}: median {:.1} µs per input (best round {:.1} µs); \
         a machine's clone {:.1} µs",
        inputs.len(),
        dirs.iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        rounds[ROUNDS / 2].as_secs_f64() * 1e6,
        rounds[0].as_secs_f64() * 1e6,
        clones[ROUNDS / 2].as_secs_f64() * 1e6,
    );
}
