//! `isolab serve` as a child process, with what it prints on stdout (the URLs) and
//! stderr (the log) collected as it goes; killed on drop.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Lines a child wrote, read by a thread of their own.
type Lines = Arc<Mutex<Vec<String>>>;

fn collect(stream: impl Read + Send + 'static) -> (Lines, std::thread::JoinHandle<()>) {
    let lines: Lines = Arc::default();
    let sink = lines.clone();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            sink.lock().unwrap_or_else(|p| p.into_inner()).push(line);
        }
    });
    (lines, reader)
}

pub struct ServeProcess {
    child: Child,
    stdout: Lines,
    stderr: Lines,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl ServeProcess {
    /// Starts `isolab serve --port 0 --token TOKEN ARGS…` on `state_root` and waits
    /// for the line that starts with `ready` (after spaces).
    pub fn start(state_root: &Path, args: &[&str], ready: &str) -> ServeProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_isolab"))
            .args([
                "serve",
                "--port",
                "0",
                "--token",
                crate::support::server::TOKEN,
            ])
            .args(args)
            .env("ISOLAB_STATE_ROOT", state_root)
            .env("ISOLAB_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("isolab serve starts");
        let (stdout, out_reader) = collect(child.stdout.take().expect("stdout"));
        let (stderr, err_reader) = collect(child.stderr.take().expect("stderr"));
        let server = ServeProcess {
            child,
            stdout,
            stderr,
            readers: vec![out_reader, err_reader],
        };
        server.wait_for_stdout(ready);
        server
    }

    /// The first stdout line that starts with `start` (after spaces), trimmed.
    pub fn wait_for_stdout(&self, start: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let found = self
                .stdout_lines()
                .into_iter()
                .find(|l| l.trim_start().starts_with(start));
            if let Some(line) = found {
                return line.trim().to_string();
            }
            assert!(
                Instant::now() < deadline,
                "the server did not print a line starting with {start:?}; stdout: {:?}, stderr: {:?}",
                self.stdout_lines(),
                self.stderr_lines()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The teacher's URL as printed.
    pub fn teacher_url(&self) -> String {
        let line = self
            .stdout_lines()
            .into_iter()
            .find(|l| l.contains("/?token="))
            .expect("the teacher's URL is printed");
        line.trim().to_string()
    }

    /// `scheme://host:port` of the teacher's URL.
    pub fn base(&self) -> String {
        self.teacher_url()
            .split("/?token=")
            .next()
            .expect("a base URL")
            .to_string()
    }

    /// Stops the server with SIGTERM and waits for it to exit (and its output to end).
    pub fn stop(mut self) -> Vec<String> {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        self.stderr_lines()
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
