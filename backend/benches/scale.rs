//! Scale: many idle containers watched by many browsers, for minutes.
//!
//! A release `isolab serve` with N idle shells (default 500), 50 event-stream clients
//! and 10 read-only terminal viewers, for ISOLAB_SCALE_SECONDS (default 600). It
//! reports the server's RSS at start, each minute and at the end, its CPU (% of one
//! core), the bytes each event client received per minute, the snapshot's size, and
//! the p50/p99 of creating a container while all this runs. Every other client (event
//! clients and viewers alike) offers permessage-deflate, as browsers do, and the others
//! offer nothing, so the bytes on the wire are reported both ways from the same run.
//!
//! Targets: RSS under 250 MB and flat after the first minute (under 10% growth); CPU
//! under 10% of one core.
//!
//! Run: `./x bench scale`; ISOLAB_SCALE_CONTAINERS and ISOLAB_SCALE_SECONDS change the
//! size. Traffic stays on loopback. Every container is removed at the end, on failure
//! and on Ctrl-C: the server removes its own when it is stopped (SIGTERM, or the
//! terminal's SIGINT), and `isolab gc` on its state root runs after it.

mod support;

#[path = "../tests/support/raw_ws.rs"]
mod raw_ws;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use raw_ws::RawSocket;
use support::Server;

const TOKEN: &str = "bench-token-scale";
const EVENT_CLIENTS: usize = 50;
const VIEWERS: usize = 10;

async fn create(http: &reqwest::Client, base: &str) -> Result<String, String> {
    let body = serde_json::json!({"command": ["/bin/sh"], "tty": true});
    let r = http
        .post(format!("{base}/api/v1/containers"))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status();
    let v: serde_json::Value = r.json().await.map_err(|e| e.to_string())?;
    match (status.as_u16(), v["id"].as_str()) {
        (201, Some(id)) => Ok(id.to_string()),
        _ => Err(format!("create answered {status}: {v}")),
    }
}

async fn remove(http: &reqwest::Client, base: &str, id: &str) {
    let _ = http
        .delete(format!("{base}/api/v1/containers/{id}"))
        .bearer_auth(TOKEN)
        .send()
        .await;
}

/// What the clients of one kind (compressed or plain) received, on the wire.
#[derive(Default)]
struct Received {
    clients: AtomicU64,
    bytes: AtomicU64,
    /// The first message's size on the wire and inflated (the snapshot, for event
    /// clients), kept from the first client of the kind.
    first_wire: AtomicU64,
    first_payload: AtomicU64,
}

/// Reads messages until the socket ends, counting the bytes that crossed it.
async fn drain(addr: String, path: String, deflate: bool, into: Arc<Received>) {
    let mut ws = match RawSocket::connect(&addr, &path, deflate).await {
        Ok(ws) if ws.deflate() == deflate => ws,
        Ok(_) => {
            eprintln!("scale: a client's deflate offer was not answered as expected");
            return;
        }
        Err(e) => {
            eprintln!("scale: a client could not connect: {e}");
            return;
        }
    };
    into.clients.fetch_add(1, Ordering::Relaxed);
    into.bytes.fetch_add(ws.wire_bytes, Ordering::Relaxed);
    let mut counted = ws.wire_bytes;
    let mut first = true;
    while let Ok(message) = ws.next().await {
        if first {
            first = false;
            let _ = into.first_wire.compare_exchange(
                0,
                message.wire_bytes as u64,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
            let _ = into.first_payload.compare_exchange(
                0,
                message.payload.len() as u64,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
        into.bytes
            .fetch_add(ws.wire_bytes - counted, Ordering::Relaxed);
        counted = ws.wire_bytes;
        if message.opcode == 8 {
            return;
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1e3
}

async fn run(server: &Server, containers: usize, seconds: u64) {
    let http = reqwest::Client::new();
    let t0 = Instant::now();
    let mut ids = Vec::with_capacity(containers);
    for _ in 0..containers {
        match create(&http, &server.base).await {
            Ok(id) => ids.push(id),
            Err(e) => {
                eprintln!("scale: {e}");
                return;
            }
        }
    }
    println!(
        "scale: {containers} containers made in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let rss_start = server.rss_mib();
    println!("scale: RSS at start {rss_start:.1} MiB");
    let addr = server.base.trim_start_matches("http://").to_string();
    // Index 0 offers deflate, 1 does not, and so on: both kinds connect side by side.
    let events: [Arc<Received>; 2] = Default::default();
    let viewers: [Arc<Received>; 2] = Default::default();
    let mut tasks = Vec::new();
    for i in 0..EVENT_CLIENTS {
        let path = format!("/api/v1/events?token={TOKEN}");
        let kind = events[i % 2].clone();
        tasks.push(tokio::spawn(drain(addr.clone(), path, i % 2 == 0, kind)));
    }
    for (i, id) in ids.iter().take(VIEWERS).enumerate() {
        let path = format!("/api/v1/containers/{id}/terminal?mode=view&token={TOKEN}");
        let kind = viewers[i % 2].clone();
        tasks.push(tokio::spawn(drain(addr.clone(), path, i % 2 == 0, kind)));
    }
    // Creates (and removes) one container every 2 s while the clients watch.
    let creates = {
        let http = http.clone();
        let base = server.base.clone();
        tokio::spawn(async move {
            let mut times = Vec::new();
            let end = Instant::now() + Duration::from_secs(seconds);
            while Instant::now() < end {
                let t = Instant::now();
                if let Ok(id) = create(&http, &base).await {
                    times.push(t.elapsed());
                    remove(&http, &base, &id).await;
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            times
        })
    };
    let cpu0 = server.cpu_time();
    let watch0 = Instant::now();
    let mut rss_minutes = Vec::new();
    for minute in 1..=seconds.div_ceil(60) {
        let left = Duration::from_secs(seconds).saturating_sub(watch0.elapsed());
        tokio::time::sleep(left.min(Duration::from_secs(60))).await;
        let rss = server.rss_mib();
        rss_minutes.push(rss);
        println!(
            "scale: minute {minute}: RSS {rss:.1} MiB, {} subscribed",
            EVENT_CLIENTS
        );
    }
    let wall = watch0.elapsed();
    let cpu = server.cpu_time().saturating_sub(cpu0);
    let mut times = creates.await.unwrap_or_default();
    times.sort();
    for t in &tasks {
        t.abort();
    }
    let rss_end = server.rss_mib();
    let minutes = wall.as_secs_f64() / 60.0;
    let per_client_minute = |r: &Received| {
        r.bytes.load(Ordering::Relaxed) as f64
            / r.clients.load(Ordering::Relaxed).max(1) as f64
            / minutes
    };
    let warm = rss_minutes.first().copied().unwrap_or(rss_start);
    println!(
        "scale: {containers} containers, {EVENT_CLIENTS} event clients, {VIEWERS} viewers, {:.0} s",
        wall.as_secs_f64()
    );
    println!(
        "scale: RSS start {rss_start:.1} MiB, end {rss_end:.1} MiB, growth after minute 1 {:+.1}%",
        (rss_end - warm) / warm.max(1.0) * 100.0
    );
    println!(
        "scale: server CPU {:.1}% of one core",
        cpu.as_secs_f64() / wall.as_secs_f64() * 100.0
    );
    let [deflated, plain] = &events;
    let snapshot = plain.first_payload.load(Ordering::Relaxed);
    println!(
        "scale: snapshot {snapshot} bytes ({} per container), {} on the wire deflated",
        snapshot / containers.max(1) as u64,
        deflated.first_wire.load(Ordering::Relaxed),
    );
    for (what, [deflated, plain]) in [("event client", &events), ("viewer", &viewers)] {
        println!(
            "scale: bytes per {what} per minute: {:.0} deflated ({} clients), {:.0} plain ({} clients)",
            per_client_minute(deflated),
            deflated.clients.load(Ordering::Relaxed),
            per_client_minute(plain),
            plain.clients.load(Ordering::Relaxed),
        );
    }
    println!(
        "scale: create while watched p50 {:.1} ms, p99 {:.1} ms ({} creates)",
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times.len()
    );
    for id in &ids {
        remove(&http, &server.base, id).await;
    }
}

fn main() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("the scale benchmark needs root (it creates real containers)");
        return;
    }
    let containers = support::env_number("ISOLAB_SCALE_CONTAINERS", 500) as usize;
    let seconds = support::env_number("ISOLAB_SCALE_SECONDS", 600);
    let server = Server::start("scale", TOKEN, containers + 10);
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async {
        tokio::select! {
            _ = run(&server, containers, seconds) => {}
            _ = tokio::signal::ctrl_c() => eprintln!("scale: interrupted; removing the containers"),
        }
    });
    drop(runtime);
    drop(server);
}
