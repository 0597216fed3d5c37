//! Benchmarks of the live server, each against a real `isolab serve` process:
//!
//! - `echo`: keystroke-to-echo latency over the terminal WebSocket, p50/p99 over
//!   1,000 keystrokes, interleaved with the same through `ssh -tt` to a local sshd;
//! - `throughput`: `cat` of a large file in a container, bytes per second to a client;
//! - `stream`: server CPU with 100 containers and 50 event subscribers over 60 s;
//! - `create`: from `POST /containers` to a readable shell prompt, median of 20.
//!
//! Run: `./x bench live` (all), or `cargo bench -p isolab --bench live -- echo`.
//! `ISOLAB_BENCH_SECONDS` shortens the stream run; `ISOLAB_BENCH_KEYS` the echo run.

mod support;

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use support::Server;
use tokio_tungstenite::tungstenite::Message;

const TOKEN: &str = "bench-token-0000";

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn create(http: &reqwest::Client, server: &Server, body: serde_json::Value) -> String {
    let r = http
        .post(format!("{}/api/v1/containers", server.base))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .expect("POST /containers");
    assert_eq!(r.status(), 201, "create failed");
    let v: serde_json::Value = r.json().await.expect("json");
    v["id"].as_str().expect("id").to_string()
}

/// A new container running a shell on a terminal, and a client attached to it.
async fn open_shell(server: &Server, http: &reqwest::Client) -> (String, Socket) {
    let body = serde_json::json!({"command": ["/bin/sh"], "tty": true});
    let id = create(http, server, body).await;
    let ws = connect(&server.ws(&format!("/containers/{id}/terminal"))).await;
    (id, ws)
}

async fn connect(url: &str) -> Socket {
    tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket")
        .0
}

/// Reads terminal bytes until `pred` holds for everything read so far.
async fn read_until(ws: &mut Socket, buf: &mut Vec<u8>, pred: impl Fn(&[u8]) -> bool) {
    while !pred(buf) {
        match tokio::time::timeout(Duration::from_secs(20), ws.next()).await {
            Ok(Some(Ok(Message::Binary(b)))) => buf.extend_from_slice(&b),
            Ok(Some(Ok(_))) => {}
            other => panic!("terminal stopped: {other:?}"),
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A local sshd on loopback with a fresh host key and a key for root; stopped on drop.
struct Sshd {
    child: Child,
    dir: std::path::PathBuf,
    port: u16,
}

impl Sshd {
    fn start() -> Option<Sshd> {
        let sshd = ["/usr/sbin/sshd", "/usr/bin/sshd"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())?;
        let dir = std::env::temp_dir().join(format!("isolab-bench-sshd-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).ok()?;
        for (key, kind) in [("host_key", "ed25519"), ("client_key", "ed25519")] {
            let ok = Command::new("ssh-keygen")
                .args(["-q", "-t", kind, "-N", "", "-f"])
                .arg(dir.join(key))
                .status()
                .ok()?
                .success();
            if !ok {
                return None;
            }
        }
        std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys")).ok()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let config = format!(
            "ListenAddress 127.0.0.1\nPort {port}\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\n\
             PermitRootLogin yes\nPasswordAuthentication no\nUsePAM no\nStrictModes no\nPidFile {d}/sshd.pid\n\
             PrintMotd no\nPrintLastLog no\n",
            d = dir.display()
        );
        std::fs::write(dir.join("sshd_config"), config).ok()?;
        std::fs::create_dir_all("/run/sshd").ok()?;
        let child = Command::new(sshd)
            .args(["-D", "-e", "-f"])
            .arg(dir.join("sshd_config"))
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(Sshd { child, dir, port });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An interactive `ssh -tt` session; bytes it prints arrive on a channel.
struct SshSession {
    child: Child,
    input: std::process::ChildStdin,
    output: std::sync::mpsc::Receiver<Vec<u8>>,
}

impl SshSession {
    fn open(sshd: &Sshd) -> SshSession {
        let mut child = Command::new("ssh")
            .args([
                "-tt",
                "-q",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-i",
            ])
            .arg(sshd.dir.join("client_key"))
            .args(["-p", &sshd.port.to_string(), "root@127.0.0.1", "/bin/sh"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("ssh starts");
        let input = child.stdin.take().expect("stdin");
        let mut stdout = child.stdout.take().expect("stdout");
        let (tx, output) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        SshSession {
            child,
            input,
            output,
        }
    }

    fn read_until(&self, buf: &mut Vec<u8>, pred: impl Fn(&[u8]) -> bool) {
        while !pred(buf) {
            match self.output.recv_timeout(Duration::from_secs(20)) {
                Ok(b) => buf.extend_from_slice(&b),
                Err(e) => panic!("ssh stopped: {e}"),
            }
        }
    }
}

impl Drop for SshSession {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn bench_echo(server: &Server, http: &reqwest::Client) {
    let keys: usize = std::env::var("ISOLAB_BENCH_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let (_, mut ws) = open_shell(server, http).await;
    let mut buf = Vec::new();
    ws.send(Message::Binary(b"echo rea''dy\n".to_vec().into()))
        .await
        .expect("send");
    read_until(&mut ws, &mut buf, |b| b.windows(5).any(|w| w == b"ready")).await;
    let sshd = Sshd::start();
    let ssh = sshd.as_ref().map(SshSession::open);
    if let Some(s) = &ssh {
        let mut b = Vec::new();
        let _ = (&s.input).write_all(b"echo rea''dy\n");
        s.read_until(&mut b, |b| b.windows(5).any(|w| w == b"ready"));
    }
    let mut ours = Vec::with_capacity(keys);
    let mut theirs = Vec::with_capacity(keys);
    for i in 0..keys {
        // Clear the line now and then: canonical mode holds at most 4095 bytes.
        let key: &[u8] = if i % 500 == 499 { b"\x15" } else { b"a" };
        buf.clear();
        let t = Instant::now();
        ws.send(Message::Binary(key.to_vec().into()))
            .await
            .expect("send");
        read_until(&mut ws, &mut buf, |b| !b.is_empty()).await;
        ours.push(t.elapsed());
        if let Some(s) = &ssh {
            let mut b = Vec::new();
            let t = Instant::now();
            let _ = (&s.input).write_all(key);
            let _ = (&s.input).flush();
            s.read_until(&mut b, |b| !b.is_empty());
            theirs.push(t.elapsed());
        }
    }
    ours.sort();
    theirs.sort();
    println!(
        "echo: isolab p50 {:.3} ms, p99 {:.3} ms over {} keystrokes (goal: p50 < 1 ms, p99 < 5 ms)",
        ms(percentile(&ours, 0.5)),
        ms(percentile(&ours, 0.99)),
        ours.len()
    );
    if theirs.is_empty() {
        println!("echo: ssh peer unavailable (install openssh-server and openssh-client)");
    } else {
        println!(
            "echo: ssh -tt p50 {:.3} ms, p99 {:.3} ms; ratio isolab/ssh p50 {:.2}x, p99 {:.2}x",
            ms(percentile(&theirs, 0.5)),
            ms(percentile(&theirs, 0.99)),
            ms(percentile(&ours, 0.5)) / ms(percentile(&theirs, 0.5)),
            ms(percentile(&ours, 0.99)) / ms(percentile(&theirs, 0.99)),
        );
    }
}

async fn bench_throughput(server: &Server, http: &reqwest::Client) {
    // The container's root is a 64 MiB tmpfs: a 32 MiB file, printed 8 times.
    const FILE: usize = 32 << 20;
    const SIZE: usize = 8 * FILE;
    let (_, mut ws) = open_shell(server, http).await;
    let mut buf = Vec::new();
    // The file lives in the container's own writable root (a tmpfs).
    let setup = format!("stty -echo; head -c {FILE} /dev/zero | tr '\\0' x > /big; ls -l /big; echo made$((40+2))\n");
    ws.send(Message::Binary(setup.into_bytes().into()))
        .await
        .expect("send");
    read_until(&mut ws, &mut buf, |b| b.windows(6).any(|w| w == b"made42")).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t = Instant::now();
    ws.send(Message::Binary(
        b"cat /big /big /big /big /big /big /big /big; rm /big\n"
            .to_vec()
            .into(),
    ))
    .await
    .expect("send");
    let mut received = 0usize;
    while received < SIZE {
        match tokio::time::timeout(Duration::from_secs(60), ws.next()).await {
            Ok(Some(Ok(Message::Binary(b)))) => {
                received += b.iter().filter(|&&c| c == b'x').count()
            }
            Ok(Some(Ok(_))) => {}
            other => panic!("terminal stopped: {other:?}"),
        }
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "throughput: {:.1} MB/s ({} MiB in {:.2} s; goal >= 50 MB/s)",
        SIZE as f64 / secs / 1e6,
        SIZE >> 20,
        secs
    );
}

async fn bench_stream(server: &Server, http: &reqwest::Client) {
    let seconds: u64 = std::env::var("ISOLAB_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    for _ in 0..100 {
        create(
            http,
            server,
            serde_json::json!({"command": ["/bin/sleep", "3600"], "tty": false}),
        )
        .await;
    }
    let mut readers = Vec::new();
    for _ in 0..50 {
        let mut ws = connect(&server.ws("/events")).await;
        readers.push(tokio::spawn(async move {
            let mut frames = 0u64;
            while let Some(Ok(_)) = ws.next().await {
                frames += 1;
            }
            frames
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cpu0 = server.cpu_time();
    let t = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let used = server.cpu_time() - cpu0;
    let share = used.as_secs_f64() / t.elapsed().as_secs_f64() * 100.0;
    println!(
        "stream: server CPU {:.1}% of one core with 100 containers and 50 subscribers over {} s (goal <= 10%)",
        share, seconds
    );
    for r in readers {
        r.abort();
    }
}

async fn bench_create(server: &Server, http: &reqwest::Client) {
    let mut times = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let (id, mut ws) = open_shell(server, http).await;
        let mut buf = Vec::new();
        read_until(&mut ws, &mut buf, |b| b.ends_with(b"# ")).await;
        times.push(t.elapsed());
        let _ = http
            .delete(format!("{}/api/v1/containers/{id}", server.base))
            .bearer_auth(TOKEN)
            .send()
            .await;
    }
    times.sort();
    println!(
        "create: POST to readable prompt median {:.2} ms, min {:.2} ms, max {:.2} ms over 20 (goal <= 25 ms)",
        ms(percentile(&times, 0.5)),
        ms(times[0]),
        ms(times[times.len() - 1])
    );
}

fn main() {
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let all = ["echo", "throughput", "stream", "create"];
    let run: Vec<&str> = if wanted.is_empty() {
        all.to_vec()
    } else {
        all.into_iter()
            .filter(|b| wanted.iter().any(|w| w == b))
            .collect()
    };
    if !nix::unistd::geteuid().is_root() {
        eprintln!("the live benchmarks need root (they create real containers)");
        std::process::exit(1);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    rt.block_on(async {
        let http = reqwest::Client::new();
        for name in run {
            let server = Server::start("bench", TOKEN, 200);
            match name {
                "echo" => bench_echo(&server, &http).await,
                "throughput" => bench_throughput(&server, &http).await,
                "stream" => bench_stream(&server, &http).await,
                "create" => bench_create(&server, &http).await,
                _ => {}
            }
        }
    });
}
