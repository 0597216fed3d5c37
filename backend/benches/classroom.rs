//! The classroom benchmark: a real release `isolab serve --classroom` on loopback,
//! 30 students joining at once, each making a container, opening its terminal and
//! typing a command every second, while the teacher watches every terminal in view
//! mode and the event stream.
//!
//! Reports: join to readable prompt p50/p99, keystroke echo p50/p99 under that load,
//! the server's CPU and RSS. Goals: every prompt within 2 s, echo p99 < 10 ms, RSS
//! < 300 MB. Run: `./x bench classroom`. `ISOLAB_BENCH_SECONDS` (default 60) is the
//! typing time, `ISOLAB_BENCH_STUDENTS` (default 30) the class size. The server is
//! stopped with SIGTERM (it removes the containers), and whatever is left in its
//! state dir is removed, even when the benchmark fails.

mod support;

use std::process::Child;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

const TOKEN: &str = "bench-classroom-teacher-token";

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// `isolab serve --classroom` on a free port with its own state dir.
struct Server {
    child: Child,
    base: String,
    join_code: String,
    state_root: std::path::PathBuf,
}

impl Server {
    fn start() -> Server {
        let (child, urls, state_root) = support::spawn_serve(
            "bench-class",
            TOKEN,
            &["--classroom", "--max-containers", "200"],
            2,
        );
        let (teacher, join) = match urls.as_slice() {
            [teacher, join] => (teacher, join),
            _ => panic!("the server prints the teacher's and the join URL: {urls:?}"),
        };
        let base = support::base_of(teacher);
        let join_code = join.rsplit('/').next().expect("a join code").to_string();
        Server {
            child,
            base,
            join_code,
            state_root,
        }
    }

    fn ws(&self, path: &str, token: &str) -> String {
        support::ws_url(&self.base, path, token)
    }

    /// The server's CPU time so far (user + system).
    fn cpu_time(&self) -> Duration {
        support::cpu_time(self.child.id())
    }

    /// A line of /proc/PID/status in MiB (`VmRSS`, `VmHWM`).
    fn memory_mb(&self, key: &str) -> f64 {
        support::memory_mib(self.child.id(), key)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Whatever a failed run left: its containers, then the state dir.
        let config = isolab::runtime::RuntimeConfig {
            state_root: self.state_root.clone(),
            ..isolab::runtime::RuntimeConfig::new(env!("CARGO_BIN_EXE_isolab").into())
        };
        for record in isolab::runtime::list(&self.state_root) {
            let _ = isolab::runtime::remove(&config, &record.id);
        }
        let _ = std::fs::remove_dir_all(&self.state_root);
    }
}

/// What one student measured.
#[derive(Default)]
struct StudentFigures {
    prompt: Option<Duration>,
    echoes: Vec<Duration>,
    commands: u32,
    error: Option<String>,
}

/// Reads frames until `pred` holds for the bytes read so far (or 10 s pass).
async fn read_until(
    ws: &mut Socket,
    buf: &mut Vec<u8>,
    pred: impl Fn(&[u8]) -> bool,
) -> Result<(), String> {
    while !pred(buf) {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Binary(b)))) => buf.extend_from_slice(&b),
            Ok(Some(Ok(_))) => {}
            other => return Err(format!("terminal stopped: {other:?}")),
        }
    }
    Ok(())
}

fn has_prompt(b: &[u8]) -> bool {
    b.ends_with(b"# ") || b.ends_with(b"$ ")
}

/// One student: join, make a container, open its terminal, then type a command each
/// second until `until`, timing the echo of each keystroke.
async fn student(
    server: Arc<Server>,
    http: reqwest::Client,
    n: u64,
    until: Instant,
    ids: mpsc::UnboundedSender<String>,
) -> StudentFigures {
    let mut figures = StudentFigures::default();
    if let Err(e) = run_student(&server, &http, n, until, &ids, &mut figures).await {
        figures.error = Some(e);
    }
    figures
}

async fn run_student(
    server: &Server,
    http: &reqwest::Client,
    n: u64,
    until: Instant,
    ids: &mpsc::UnboundedSender<String>,
    figures: &mut StudentFigures,
) -> Result<(), String> {
    let t0 = Instant::now();
    let joined: serde_json::Value = http
        .post(format!("{}/api/v1/classroom/join", server.base))
        .json(&serde_json::json!({"code": server.join_code, "name": format!("student {n}")}))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let token = joined["token"]
        .as_str()
        .ok_or(format!("join failed: {joined}"))?
        .to_string();
    let made: serde_json::Value = http
        .post(format!("{}/api/v1/containers", server.base))
        .bearer_auth(&token)
        .json(&serde_json::json!({"command": ["/bin/sh"], "tty": true}))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let id = made["id"]
        .as_str()
        .ok_or(format!("create failed: {made}"))?
        .to_string();
    let _ = ids.send(id.clone());
    let url = server.ws(&format!("/containers/{id}/terminal"), &token);
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    read_until(&mut ws, &mut buf, has_prompt).await?;
    figures.prompt = Some(t0.elapsed());
    // Spread the class over each second, as real typing is.
    tokio::time::sleep(Duration::from_millis(n * 997 % 1000)).await;
    let mut k = 0u64;
    while Instant::now() < until {
        let tick = Instant::now();
        let command = format!("echo o''k{k}");
        for key in command.bytes() {
            buf.clear();
            let t = Instant::now();
            ws.send(Message::Binary(vec![key].into()))
                .await
                .map_err(|e| e.to_string())?;
            read_until(&mut ws, &mut buf, |b| !b.is_empty()).await?;
            figures.echoes.push(t.elapsed());
        }
        buf.clear();
        ws.send(Message::Binary(b"\n".to_vec().into()))
            .await
            .map_err(|e| e.to_string())?;
        let done = format!("ok{k}\r\n");
        read_until(&mut ws, &mut buf, |b| {
            b.windows(done.len()).any(|w| w == done.as_bytes()) && has_prompt(b)
        })
        .await?;
        figures.commands += 1;
        k += 1;
        tokio::time::sleep(Duration::from_secs(1).saturating_sub(tick.elapsed())).await;
    }
    let _ = ws.close(None).await;
    Ok(())
}

/// The teacher: the event stream, and a view-mode socket on each student's terminal.
/// Returns (event frames, terminal bytes) seen.
async fn teacher(server: Arc<Server>, mut ids: mpsc::UnboundedReceiver<String>) -> (u64, u64) {
    let (frames, bytes) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (mut events, _) = tokio_tungstenite::connect_async(server.ws("/events", TOKEN))
        .await
        .expect("the teacher's event stream");
    let counted = frames.clone();
    let mut watching = vec![tokio::spawn(async move {
        while let Some(Ok(_)) = events.next().await {
            counted.fetch_add(1, Ordering::Relaxed);
        }
    })];
    while let Some(id) = ids.recv().await {
        let url = server.ws(&format!("/containers/{id}/terminal?mode=view"), TOKEN);
        let counted = bytes.clone();
        watching.push(tokio::spawn(async move {
            let Ok((mut ws, _)) = tokio_tungstenite::connect_async(url).await else {
                return;
            };
            while let Some(Ok(frame)) = ws.next().await {
                if let Message::Binary(b) = frame {
                    counted.fetch_add(b.len() as u64, Ordering::Relaxed);
                }
            }
        }));
    }
    // The students are done: stop watching.
    for w in watching {
        w.abort();
    }
    (
        frames.load(Ordering::Relaxed),
        bytes.load(Ordering::Relaxed),
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("the classroom benchmark needs root (it creates real containers)");
        std::process::exit(1);
    }
    let seconds = support::env_number("ISOLAB_BENCH_SECONDS", 60);
    let students = support::env_number("ISOLAB_BENCH_STUDENTS", 30);
    let server = Arc::new(Server::start());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    rt.block_on(async {
        let http = reqwest::Client::new();
        let (ids_tx, ids_rx) = mpsc::unbounded_channel();
        let watcher = tokio::spawn(teacher(server.clone(), ids_rx));
        let start = Instant::now();
        let until = start + Duration::from_secs(seconds) + Duration::from_secs(3);
        let cpu0 = server.cpu_time();
        let tasks: Vec<_> = (0..students)
            .map(|n| tokio::spawn(student(server.clone(), http.clone(), n, until, ids_tx.clone())))
            .collect();
        drop(ids_tx);
        let mut rss_peak = 0f64;
        while tasks.iter().any(|t| !t.is_finished()) {
            rss_peak = rss_peak.max(server.memory_mb("VmRSS"));
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let wall = start.elapsed();
        let cpu = server.cpu_time() - cpu0;
        let mut prompts = Vec::new();
        let mut echoes = Vec::new();
        let mut commands = 0;
        for t in tasks {
            let f = t.await.unwrap_or_default();
            if let Some(e) = f.error {
                println!("classroom: a student failed: {e}");
            }
            prompts.extend(f.prompt);
            echoes.extend(f.echoes);
            commands += f.commands;
        }
        let (frames, viewed) = watcher.await.unwrap_or((0, 0));
        prompts.sort();
        echoes.sort();
        let slowest = prompts.last().copied().unwrap_or_default();
        println!(
            "classroom: {} of {students} students at a prompt; join to prompt p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms (goal: all within 2000 ms)",
            prompts.len(),
            ms(percentile(&prompts, 0.5)),
            ms(percentile(&prompts, 0.99)),
            ms(slowest),
        );
        println!(
            "classroom: keystroke echo p50 {:.2} ms, p99 {:.2} ms over {} keystrokes and {commands} commands (goal: p99 < 10 ms)",
            ms(percentile(&echoes, 0.5)),
            ms(percentile(&echoes, 0.99)),
            echoes.len(),
        );
        println!(
            "classroom: server CPU {:.1}% of one core over {:.0} s; RSS peak {:.0} MB, high-water {:.0} MB (goal: < 300 MB)",
            cpu.as_secs_f64() / wall.as_secs_f64() * 100.0,
            wall.as_secs_f64(),
            rss_peak,
            server.memory_mb("VmHWM"),
        );
        println!("classroom: the teacher saw {frames} event frames and {viewed} terminal bytes in view mode");
        let ok = prompts.len() as u64 == students
            && slowest <= Duration::from_secs(2)
            && percentile(&echoes, 0.99) < Duration::from_millis(10)
            && server.memory_mb("VmHWM") < 300.0;
        println!("classroom: {}", if ok { "every goal met" } else { "a goal was missed" });
    });
    drop(rt);
    // Dropping the server stops it and removes what is left.
    drop(server);
}
