//! Soak: a release server under steady mixed load for minutes, then checked for lost
//! or repeated terminal bytes, memory growth, leaked descriptors and slow answers.
//!
//! For ISOLAB_SOAK_SECS (default 600) against a release `isolab serve`:
//! - 200 event-stream clients, each pinging and now and then asking for a resync;
//! - 50 terminals, each a container printing numbered lines (`line N`), each read by a
//!   client that disconnects at random (a clean close or a dropped connection) and
//!   reconnects with `?offset=` set to the bytes it has, as the page does;
//! - containers created, inspected and removed in a loop, and the list read beside it.
//!
//! At the end each terminal's bytes, over all its connections, must be exactly
//! `line 1\r\nline 2\r\n…`: every byte once and in order. It reports lost and repeated
//! bytes (target 0), the server's RSS at start, middle and end (target: flat, under 10%
//! growth after the first minute), its descriptors and threads before, under and after
//! the load, and the p50/p99 of the API calls minute by minute.
//!
//! Run: `./x soak` (as root: the containers are real). Traffic stays on loopback. The
//! server removes its containers when stopped (also on failure and Ctrl-C), `isolab gc`
//! on its state root runs after it, and the harness then looks for anything left.
//!
//! The clients that make the load are in [`clients`]; here are the run, its figures
//! and the checks of what the clients got.

#[path = "soak/clients.rs"]
mod clients;
mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clients::{call, churn, create, poll_list, read_events, read_terminal, Latencies};
use support::Server;

const TOKEN: &str = "bench-token-soak";
/// The longest a WebSocket upgrade, send or close, or an API call, may take before the
/// client counts it as stuck and goes on.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
const EVENT_CLIENTS: usize = 200;
const TERMINALS: usize = 50;
/// The terminals' program: bursts of 100 numbered lines, four a second (about 5 KB/s,
/// so a client away for seconds misses far less than the 256 KiB scrollback).
const PRINTER: &str = "i=0; while :; do j=0; while [ $j -lt 100 ]; do i=$((i+1)); \
                       echo \"line $i\"; j=$((j+1)); done; sleep 0.25; done";

/// Open file descriptors and threads of the server.
fn fds_and_threads(server: &Server) -> (usize, u64) {
    let pid = server.child.id();
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let threads = status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:")?.trim().parse().ok())
        .unwrap_or(0);
    (fds, threads)
}

/// Lost and repeated bytes of a terminal's output against `line 1\r\nline 2\r\n…`.
#[derive(Default, Debug, PartialEq)]
struct StreamCheck {
    lines: u64,
    lost_bytes: u64,
    repeated_bytes: u64,
    /// Bytes that are no line of the program's at all.
    garbled_bytes: u64,
}

fn line_len(n: u64) -> u64 {
    format!("line {n}\r\n").len() as u64
}

fn check_stream(bytes: &[u8]) -> StreamCheck {
    let mut check = StreamCheck::default();
    let mut next = 1u64;
    let mut rest = bytes;
    while let Some(end) = rest.iter().position(|b| *b == b'\n') {
        let (line, tail) = rest.split_at(end + 1);
        rest = tail;
        let number = std::str::from_utf8(line)
            .ok()
            .and_then(|l| l.strip_suffix("\r\n")?.strip_prefix("line ")?.parse().ok());
        match number {
            Some(n) if n == next => next += 1,
            Some(n) if n > next => {
                check.lost_bytes += (next..n).map(line_len).sum::<u64>();
                next = n + 1;
            }
            Some(_) => check.repeated_bytes += line.len() as u64,
            None => check.garbled_bytes += line.len() as u64,
        }
        check.lines += 1;
    }
    // The last line may be cut short where the reading stopped.
    if !format!("line {next}\r\n").as_bytes().starts_with(rest) {
        check.garbled_bytes += rest.len() as u64;
    }
    check
}

fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1e3
}

/// Anything of this run still on the host: processes made for its state root, the
/// cgroups of its containers, the state root itself.
fn leftovers(state_root: &std::path::Path, ids: &[String]) -> Vec<String> {
    let mut left = Vec::new();
    let root = state_root.to_string_lossy().to_string();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        let of_ours = environ.split(|b| *b == 0).any(|var| {
            std::str::from_utf8(var)
                .ok()
                .and_then(|v| v.strip_prefix("ISOLAB_STATE_DIR="))
                .is_some_and(|dir| dir.starts_with(&root))
        });
        if of_ours {
            left.push(format!("process {}", entry.file_name().to_string_lossy()));
        }
    }
    // `isolab/<id>` on cgroup2, or under each v1 controller's hierarchy.
    let mut hierarchies = vec![std::path::PathBuf::from("/sys/fs/cgroup")];
    for entry in std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        hierarchies.push(entry.path());
    }
    for id in ids {
        for hierarchy in &hierarchies {
            let path = hierarchy.join("isolab").join(id);
            if path.exists() {
                left.push(format!("cgroup {}", path.display()));
            }
        }
    }
    if state_root.exists() {
        left.push(format!("state root {}", state_root.display()));
    }
    left
}

async fn run(server: &Server, seconds: u64) -> Result<Vec<String>, String> {
    let http = reqwest::Client::builder()
        .timeout(CALL_TIMEOUT)
        .build()
        .map_err(|e| e.to_string())?;
    let lat = Arc::new(Latencies::default());
    let t0 = Instant::now();
    let (fds_idle, threads_idle) = fds_and_threads(server);
    let rss_idle = server.rss_mib();

    let mut terminal_ids = Vec::new();
    for _ in 0..TERMINALS {
        let body = serde_json::json!({"command": ["/bin/sh", "-c", PRINTER], "tty": true});
        terminal_ids.push(create(&http, &server.base, body, &lat, t0).await?);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut terminals = Vec::new();
    for (i, id) in terminal_ids.iter().enumerate() {
        // `…/terminal?token=…`; each connection adds its `&offset=`.
        let url = server.ws(&format!("/containers/{id}/terminal"));
        terminals.push(tokio::spawn(read_terminal(url, i as u64, stop.clone())));
    }
    let mut events = Vec::new();
    for i in 0..EVENT_CLIENTS {
        events.push(tokio::spawn(read_events(
            server.ws("/events"),
            1000 + i as u64,
            stop.clone(),
        )));
    }
    // Let every client connect before the figures start.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (fds_start, threads_start) = fds_and_threads(server);
    let rss_start = server.rss_mib();
    println!(
        "soak: {TERMINALS} terminals, {EVENT_CLIENTS} event clients, container churn; {seconds} s"
    );
    println!(
        "soak: idle server: RSS {rss_idle:.1} MiB, {fds_idle} fds, {threads_idle} threads; \
         under load at start: RSS {rss_start:.1} MiB, {fds_start} fds, {threads_start} threads"
    );
    let churner = tokio::spawn(churn(
        http.clone(),
        server.base.clone(),
        lat.clone(),
        t0,
        stop.clone(),
    ));
    let poller = tokio::spawn(poll_list(
        http.clone(),
        server.base.clone(),
        lat.clone(),
        t0,
        stop.clone(),
    ));

    let load0 = Instant::now();
    let mut rss_minutes = Vec::new();
    let mut rss_middle = rss_start;
    let mut taken = Duration::ZERO;
    for minute in 1..=seconds.div_ceil(60) {
        let step = Duration::from_secs(seconds)
            .saturating_sub(taken)
            .min(Duration::from_secs(60));
        // The middle sample is taken on the way through.
        let middle = Duration::from_secs(seconds / 2);
        if taken < middle && taken + step >= middle {
            tokio::time::sleep_until((load0 + middle).into()).await;
            rss_middle = server.rss_mib();
        }
        tokio::time::sleep_until((load0 + taken + step).into()).await;
        taken += step;
        let rss = server.rss_mib();
        let (fds, threads) = fds_and_threads(server);
        rss_minutes.push(rss);
        println!("soak: minute {minute}: RSS {rss:.1} MiB, {fds} fds, {threads} threads");
    }
    let (fds_end, threads_end) = fds_and_threads(server);
    let rss_end = server.rss_mib();
    stop.store(true, Ordering::Relaxed);

    // Every client stops within seconds; one that does not is stuck, and counted.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut stuck = 0;
    let mut logs = Vec::new();
    for t in terminals {
        match tokio::time::timeout_at(deadline, t).await {
            Ok(log) => logs.push(log.map_err(|e| e.to_string())?),
            Err(_) => stuck += 1,
        }
    }
    let (mut frames, mut event_bytes, mut drops) = (0, 0, 0);
    for e in events {
        match tokio::time::timeout_at(deadline, e).await {
            Ok(counts) => {
                let (f, b, d) = counts.map_err(|e| e.to_string())?;
                frames += f;
                event_bytes += b;
                drops += d;
            }
            Err(_) => stuck += 1,
        }
    }
    let (cycles, mut made) = match tokio::time::timeout_at(deadline, churner).await {
        Ok(churned) => churned.map_err(|e| e.to_string())?,
        Err(_) => {
            stuck += 1;
            (0, Vec::new())
        }
    };
    let _ = tokio::time::timeout_at(deadline, poller).await;
    if stuck > 0 {
        println!("soak: {stuck} clients were still waiting on the server a minute after the end");
    }
    for id in &terminal_ids {
        let url = format!("{}/api/v1/containers/{id}", server.base);
        let _ = call(&lat, t0, http.delete(&url), 204).await;
    }
    // Every client has gone and every container is removed: what the server holds now
    // is what it holds for good.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (fds_after, threads_after) = fds_and_threads(server);
    let rss_after = server.rss_mib();

    let mut total = StreamCheck::default();
    let (mut bytes, mut connections, mut mismatches) = (0u64, 0u64, 0u64);
    for (i, log) in logs.iter().enumerate() {
        let check = check_stream(&log.bytes);
        if check.lost_bytes + check.repeated_bytes + check.garbled_bytes > 0 {
            println!("soak: terminal {i}: {check:?}; {:?}", log.errors.first());
        }
        total.lines += check.lines;
        total.lost_bytes += check.lost_bytes;
        total.repeated_bytes += check.repeated_bytes;
        total.garbled_bytes += check.garbled_bytes;
        bytes += log.bytes.len() as u64;
        connections += log.connections;
        mismatches += log.offset_mismatches;
    }
    println!(
        "soak: terminals: {bytes} bytes, {} lines over {connections} connections \
         ({} reconnects); lost {} bytes, repeated {} bytes, garbled {} bytes; \
         {mismatches} resumes attached elsewhere than asked",
        total.lines,
        connections.saturating_sub(TERMINALS as u64),
        total.lost_bytes,
        total.repeated_bytes,
        total.garbled_bytes,
    );
    println!(
        "soak: events: {frames} frames, {:.1} MB to {EVENT_CLIENTS} clients, {drops} dropped connections",
        event_bytes as f64 / 1e6
    );
    let warm = rss_minutes.first().copied().unwrap_or(rss_start);
    println!(
        "soak: RSS start {rss_start:.1} MiB, middle {rss_middle:.1} MiB, end {rss_end:.1} MiB; \
         growth after minute 1 {:+.1}%; idle again {rss_after:.1} MiB",
        (rss_end - warm) / warm.max(1.0) * 100.0
    );
    println!(
        "soak: fds idle {fds_idle}, under load {fds_start} -> {fds_end}, idle again {fds_after}; \
         threads idle {threads_idle}, under load {threads_start} -> {threads_end}, idle again {threads_after}"
    );
    println!(
        "soak: {cycles} containers created and removed; {} API calls failed",
        lat.failures.load(Ordering::Relaxed)
    );
    let samples = lat.samples.lock().map(|s| s.clone()).unwrap_or_default();
    let start = load0.duration_since(t0);
    for minute in 0..seconds.div_ceil(60) {
        let from = start + Duration::from_secs(minute * 60);
        let to = from + Duration::from_secs(60);
        let mut times: Vec<Duration> = samples
            .iter()
            .filter(|(at, _)| *at >= from && *at < to)
            .map(|(_, took)| *took)
            .collect();
        times.sort();
        println!(
            "soak: API minute {}: {} calls, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            minute + 1,
            times.len(),
            percentile_ms(&times, 0.5),
            percentile_ms(&times, 0.99),
            times.last().map_or(f64::NAN, |t| t.as_secs_f64() * 1e3),
        );
    }
    made.extend(terminal_ids);
    if total.lost_bytes + total.repeated_bytes + total.garbled_bytes > 0 {
        return Err("terminal output was lost, repeated or garbled".into());
    }
    Ok(made)
}

fn main() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("the soak needs root (it creates real containers)");
        return;
    }
    let seconds = support::env_number("ISOLAB_SOAK_SECS", 600).max(10);
    let server = Server::start("soak", TOKEN, 200);
    let state_root = server.state_root.clone();
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let outcome = runtime.block_on(async {
        tokio::select! {
            r = run(&server, seconds) => r,
            _ = tokio::signal::ctrl_c() => Err("interrupted; removing the containers".into()),
        }
    });
    drop(runtime);
    drop(server);
    let made = outcome.clone().unwrap_or_default();
    let left = leftovers(&state_root, &made);
    if left.is_empty() {
        println!("soak: nothing was left on the host");
    } else {
        println!("soak: left on the host: {}", left.join(", "));
    }
    if let Err(e) = outcome {
        eprintln!("soak: {e}");
        std::process::exit(1);
    }
    if !left.is_empty() {
        std::process::exit(1);
    }
}
