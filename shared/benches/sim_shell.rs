//! Each shell command with 10,000 simulated processes: `cargo bench -p isolab-shared
//! --bench sim_shell`. Criterion measures each command; a final table prints the
//! median per command from a plain timing loop, against the 1 ms budget.

use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use isolab_shared::sim::kernel::INIT_PID;
use isolab_shared::sim::Simulator;

/// How many extra processes the machine runs during the benchmark.
const PROCESSES: usize = 10_000;

/// The commands measured, one line each.
const COMMANDS: &[&str] = &[
    "echo hello",
    "hostname",
    "id",
    "whoami",
    "ps",
    "ps -e",
    "ps -ef",
    "ps aux",
    "ls /proc",
    "cat /proc/self/status",
    "ip addr",
    "ip route",
    "ping -c 1 10.0.2.2",
    "mount",
    "ipcs",
    "kill -0 1",
    "lsns",
    "nosuchcommand",
];

fn loaded() -> Simulator {
    let mut sim = Simulator::new("two-containers").expect("the scenario exists");
    let k = sim.kernel_mut();
    for i in 0..PROCESSES {
        let arg = format!("{}", 100_000 + i);
        k.spawn(INIT_PID, &["sleep", &arg], false)
            .expect("room for 10,000 processes");
    }
    sim.drain_events();
    sim
}

fn bench_commands(c: &mut Criterion) {
    let mut sim = loaded();
    let mut group = c.benchmark_group("sim_shell_10k");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(1))
        .warm_up_time(Duration::from_millis(200));
    for cmd in COMMANDS {
        group.bench_function(*cmd, |b| b.iter(|| sim.run_line(cmd)));
        sim.drain_events();
    }
    group.finish();
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Medians per command. The machine is shared, so commands are interleaved over
/// several rounds: the overall median and the quietest round's median are printed.
fn median_table() {
    const ROUNDS: usize = 7;
    const PER_ROUND: usize = 40;
    let mut sim = loaded();
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); COMMANDS.len()];
    let mut best: Vec<Duration> = vec![Duration::MAX; COMMANDS.len()];
    for _ in 0..ROUNDS {
        for (i, cmd) in COMMANDS.iter().enumerate() {
            let mut round: Vec<Duration> = (0..PER_ROUND)
                .map(|_| {
                    let t = Instant::now();
                    std::hint::black_box(sim.run_line(cmd));
                    t.elapsed()
                })
                .collect();
            sim.drain_events();
            samples[i].extend_from_slice(&round);
            best[i] = best[i].min(median(&mut round));
        }
    }
    println!(
        "\nmedian per command, {PROCESSES} extra simulated processes ({} in all), {ROUNDS}x{PER_ROUND} runs:",
        sim.kernel().procs.len()
    );
    println!("  {:<24} {:>12} {:>14}", "command", "median", "best round");
    let mut worst = Duration::ZERO;
    for (i, cmd) in COMMANDS.iter().enumerate() {
        let m = median(&mut samples[i]);
        worst = worst.max(m);
        println!(
            "  {cmd:<24} {:>9.1} µs {:>11.1} µs",
            m.as_secs_f64() * 1e6,
            best[i].as_secs_f64() * 1e6
        );
    }
    let verdict = if worst < Duration::from_millis(1) {
        "under"
    } else {
        "OVER"
    };
    println!(
        "slowest median {:.1} µs: {verdict} the 1 ms budget",
        worst.as_secs_f64() * 1e6
    );
}

criterion_group!(benches, bench_commands);

fn main() {
    benches();
    median_table();
    Criterion::default().configure_from_args().final_summary();
}
