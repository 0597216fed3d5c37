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

fn median_table() {
    let mut sim = loaded();
    let mut worst = Duration::ZERO;
    println!(
        "\nmedian per command, {PROCESSES} extra simulated processes ({} in all):",
        sim.kernel().procs.len()
    );
    for cmd in COMMANDS {
        let mut times: Vec<Duration> = (0..200)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(sim.run_line(cmd));
                t.elapsed()
            })
            .collect();
        sim.drain_events();
        times.sort();
        let median = times[times.len() / 2];
        worst = worst.max(median);
        println!("  {cmd:<24} {:>9.1} µs", median.as_secs_f64() * 1e6);
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
