//! What the benchmark harnesses share: reading a server process's figures from /proc,
//! the URLs `isolab serve` prints, and numbers from the environment.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A whole-number setting from the environment, or `default`.
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `http://…` URLs a started `isolab serve` prints, in order (its stdout piped):
/// the access URL first, then in a class the join URL.
pub fn printed_urls(child: &mut Child, count: usize) -> Vec<String> {
    let stdout = child.stdout.take().expect("the server's stdout is piped");
    BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| l.find("http://").map(|i| l[i..].to_string()))
        .take(count)
        .collect()
}

/// Starts `isolab serve` on port 0 with `token`, `args` and a state root of its own
/// (`/tmp/isolab-TAG-PID`), logging warnings only; returns the process, the first
/// `urls` URLs it printed (the access URL first) and the state root.
pub fn spawn_serve(
    tag: &str,
    token: &str,
    args: &[&str],
    urls: usize,
) -> (Child, Vec<String>, PathBuf) {
    let state_root = std::env::temp_dir().join(format!("isolab-{tag}-{}", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_isolab"))
        .args(["serve", "--port", "0", "--token", token])
        .args(args)
        .env("ISOLAB_STATE_ROOT", &state_root)
        // The audit log stays on unless named: a harness's thousands of calls would bury its figures.
        .env("ISOLAB_LOG", "warn,isolab::audit=warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("isolab serve starts");
    let printed = printed_urls(&mut child, urls);
    (child, printed, state_root)
}

/// `http://HOST:PORT` of an access URL `http://HOST:PORT/?token=…`.
pub fn base_of(url: &str) -> String {
    url.split("/?token=").next().unwrap_or(url).to_string()
}

/// The WebSocket URL of API `path` on server `base`, with `token`.
pub fn ws_url(base: &str, path: &str, token: &str) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    let base = base.replacen("http://", "ws://", 1);
    format!("{base}/api/v1{path}{sep}token={token}")
}

/// CPU time process `pid` used so far (user + system), from /proc/PID/stat.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command's closing parenthesis; utime and stime are 11 and 12.
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let field = |i: usize| -> u64 { fields.get(i).and_then(|f| f.parse().ok()).unwrap_or(0) };
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as u64;
    Duration::from_micros((field(11) + field(12)) * 1_000_000 / hz.max(1))
}

/// A memory line of /proc/PID/status (`VmRSS`, `VmHWM`) in MiB; 0 when unreadable.
pub fn memory_mib(pid: u32, key: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| {
            l.strip_prefix(key)?
                .trim_start_matches(':')
                .split_whitespace()
                .next()?
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// `isolab serve` on a free port with a state root of its own ([`spawn_serve`]), at
/// most `max` containers; stopped on drop: SIGTERM (which removes its containers),
/// then `isolab gc` for whatever it could not remove (it was killed, say), then the
/// state root.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub state_root: PathBuf,
    token: String,
}

impl Server {
    pub fn start(tag: &str, token: &str, max: usize) -> Server {
        let max = max.to_string();
        let (child, urls, state_root) = spawn_serve(
            tag,
            token,
            &["--max-containers", &max, "--max-per-token", &max],
            1,
        );
        let base = base_of(urls.first().expect("the server prints its URL"));
        Server {
            child,
            base,
            state_root,
            token: token.to_string(),
        }
    }

    /// The `ws://` URL of `path` under `/api/v1`, with the token.
    pub fn ws(&self, path: &str) -> String {
        ws_url(&self.base, path, &self.token)
    }

    /// The server's CPU time so far (user + system).
    pub fn cpu_time(&self) -> Duration {
        cpu_time(self.child.id())
    }

    /// The server's resident memory in MiB.
    pub fn rss_mib(&self) -> f64 {
        memory_mib(self.child.id(), "VmRSS")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.wait();
        let _ = Command::new(env!("CARGO_BIN_EXE_isolab"))
            .arg("gc")
            .env("ISOLAB_STATE_ROOT", &self.state_root)
            .status();
        let _ = std::fs::remove_dir_all(&self.state_root);
    }
}
