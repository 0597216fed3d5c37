//! The soak's load: the clients that run against the server until told to stop (a
//! terminal reader that drops and resumes its connection, an event-stream reader,
//! container churn, a list poller), and the API calls they make with their times.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use isolab_shared::TerminalNotice;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio_tungstenite::tungstenite::Message;

use crate::{CONNECT_TIMEOUT, TOKEN};

/// Every API call's answer time, with when it was made.
#[derive(Default)]
pub struct Latencies {
    pub samples: Mutex<Vec<(Duration, Duration)>>,
    pub failures: AtomicU64,
}

impl Latencies {
    fn record(&self, since_start: Duration, took: Duration) {
        if let Ok(mut s) = self.samples.lock() {
            s.push((since_start, took));
        }
    }
}

/// Makes one API call and records its time; `Err` on a transport error or a status
/// other than `want`.
pub async fn call(
    lat: &Latencies,
    t0: Instant,
    request: reqwest::RequestBuilder,
    want: u16,
) -> Result<serde_json::Value, String> {
    let started = Instant::now();
    let answer = async {
        let r = request
            .bearer_auth(TOKEN)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = r.status().as_u16();
        let body = r.bytes().await.map_err(|e| e.to_string())?;
        if status != want {
            return Err(format!(
                "answered {status}: {}",
                String::from_utf8_lossy(&body)
            ));
        }
        Ok(serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null))
    }
    .await;
    lat.record(started.duration_since(t0), started.elapsed());
    if answer.is_err() {
        lat.failures.fetch_add(1, Ordering::Relaxed);
    }
    answer
}

/// Creates a container from `body`; returns its id.
pub async fn create(
    http: &reqwest::Client,
    base: &str,
    body: serde_json::Value,
    lat: &Latencies,
    t0: Instant,
) -> Result<String, String> {
    let v = call(
        lat,
        t0,
        http.post(format!("{base}/api/v1/containers")).json(&body),
        201,
    )
    .await?;
    v["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("create answered no id: {v}"))
}

/// What one terminal's client got over all its connections.
#[derive(Default)]
pub struct TerminalLog {
    pub bytes: Vec<u8>,
    pub connections: u64,
    /// Reconnects whose `attached` offset was not the one asked for.
    pub offset_mismatches: u64,
    pub errors: Vec<String>,
}

/// Reads terminal `url` (with its token query) until `stop`, dropping the connection at random moments and
/// resuming from the bytes it has.
pub async fn read_terminal(url: String, seed: u64, stop: Arc<AtomicBool>) -> TerminalLog {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut log = TerminalLog::default();
    while !stop.load(Ordering::Relaxed) {
        let asked = log.bytes.len() as u64;
        let connect = tokio::time::timeout(
            CONNECT_TIMEOUT,
            tokio_tungstenite::connect_async(format!("{url}&offset={asked}")),
        )
        .await;
        let mut ws = match connect {
            Ok(Ok((ws, _))) => ws,
            Ok(Err(e)) => {
                log.errors.push(format!("connect: {e}"));
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            Err(_) => {
                log.errors
                    .push("the upgrade was not answered in 10 s".into());
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        log.connections += 1;
        // Connected for 0.5 to 8 s, then a clean close or a dropped connection.
        let stay = Duration::from_millis(rng.random_range(500..8000));
        let leave_at = tokio::time::Instant::now() + stay;
        loop {
            let frame = tokio::select! {
                f = ws.next() => f,
                _ = tokio::time::sleep_until(leave_at) => break,
            };
            match frame {
                Some(Ok(Message::Binary(b))) => log.bytes.extend_from_slice(&b),
                Some(Ok(Message::Text(t))) => match serde_json::from_str::<TerminalNotice>(&t) {
                    Ok(TerminalNotice::Attached { offset, .. }) => {
                        if offset != asked {
                            log.offset_mismatches += 1;
                            log.errors
                                .push(format!("asked for offset {asked}, attached at {offset}"));
                        }
                    }
                    Ok(other) => log.errors.push(format!("notice {other:?}")),
                    Err(e) => log
                        .errors
                        .push(format!("bad text frame {}: {e}", t.as_str())),
                },
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    log.errors.push(format!("read: {e}"));
                    break;
                }
                None => {
                    log.errors.push("the server closed the socket".into());
                    break;
                }
            }
            if stop.load(Ordering::Relaxed) {
                break;
            }
        }
        if rng.random_bool(0.5) {
            let _ = tokio::time::timeout(CONNECT_TIMEOUT, ws.close(None)).await;
        }
        drop(ws);
        if !stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(rng.random_range(0..2000))).await;
        }
    }
    log
}

/// Reads the event stream until `stop`, pinging every 20 s and asking for a resync
/// about once a minute; reconnects when dropped. Returns (frames, bytes, drops).
pub async fn read_events(url: String, seed: u64, stop: Arc<AtomicBool>) -> (u64, u64, u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut frames, mut bytes, mut drops) = (0u64, 0u64, 0u64);
    while !stop.load(Ordering::Relaxed) {
        let connect = tokio::time::timeout(
            CONNECT_TIMEOUT,
            tokio_tungstenite::connect_async(url.as_str()),
        );
        let Ok(Ok((mut ws, _))) = connect.await else {
            drops += 1;
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        let mut ping = tokio::time::interval(Duration::from_secs(20));
        ping.tick().await;
        loop {
            tokio::select! {
                f = ws.next() => match f {
                    Some(Ok(Message::Text(t))) => {
                        frames += 1;
                        bytes += t.len() as u64;
                        // Frames come faster than the timer below ever fires.
                        if stop.load(Ordering::Relaxed) {
                            let _ = tokio::time::timeout(CONNECT_TIMEOUT, ws.close(None)).await;
                            return (frames, bytes, drops);
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => {
                        drops += 1;
                        break;
                    }
                },
                _ = ping.tick() => {
                    let message = if rng.random_range(0..3) == 0 { "resync" } else { "ping" };
                    let text = format!("{{\"type\":\"{message}\"}}");
                    let sent = tokio::time::timeout(
                        CONNECT_TIMEOUT,
                        ws.send(Message::Text(text.into())),
                    );
                    if !matches!(sent.await, Ok(Ok(()))) {
                        drops += 1;
                        break;
                    }
                }
                _ = tokio::time::sleep(Duration::from_millis(250)) => {
                    if stop.load(Ordering::Relaxed) {
                        let _ = tokio::time::timeout(CONNECT_TIMEOUT, ws.close(None)).await;
                        return (frames, bytes, drops);
                    }
                }
            }
        }
    }
    (frames, bytes, drops)
}

/// Creates, inspects and removes containers until `stop`; returns the ids it made.
pub async fn churn(
    http: reqwest::Client,
    base: String,
    lat: Arc<Latencies>,
    t0: Instant,
    stop: Arc<AtomicBool>,
) -> (u64, Vec<String>) {
    let mut made = Vec::new();
    let mut cycles = 0;
    while !stop.load(Ordering::Relaxed) {
        let body = serde_json::json!({"command": ["/bin/sh", "-c", "sleep 30"], "tty": false});
        match create(&http, &base, body, &lat, t0).await {
            Ok(id) => {
                let url = format!("{base}/api/v1/containers/{id}");
                let _ = call(&lat, t0, http.get(&url), 200).await;
                if let Err(e) = call(&lat, t0, http.delete(&url), 204).await {
                    eprintln!("soak: removing {id}: {e}");
                }
                made.push(id);
                cycles += 1;
            }
            Err(e) => {
                eprintln!("soak: create: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (cycles, made)
}

/// Reads the container list and the version every 250 ms until `stop`.
pub async fn poll_list(
    http: reqwest::Client,
    base: String,
    lat: Arc<Latencies>,
    t0: Instant,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        let _ = call(&lat, t0, http.get(format!("{base}/api/v1/containers")), 200).await;
        let _ = call(&lat, t0, http.get(format!("{base}/api/v1/version")), 200).await;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
