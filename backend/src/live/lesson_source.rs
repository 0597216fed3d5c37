//! [`LiveSource`]: real containers as a lesson source, through the [`Supervisor`].
//!
//! Setup containers are made from their specs (under a name of their own, so two runs
//! never collide) and removed at the end. A typed line goes to the container's own
//! terminal, or to a root shell on the host ([`HostShell`]); a check's command runs in
//! a session of its own with its output captured (an exec in pipe mode, or `sh -c` on
//! the host), never in a terminal. Snapshots are observed at the moment they are asked
//! for; events come from the hub. The same source serves `isolab lessons check
//! --source live` and the server's lesson sessions (`crate::server::lesson_sessions`),
//! which make their containers with a student's options and type a line without
//! waiting for it ([`LiveSource::type_now`]).

use std::sync::Arc;
use std::time::Duration;

use isolab_shared::lesson::judge::PROBE_TIMEOUT_MS;
use isolab_shared::lesson::source::ProbeRun;
use isolab_shared::lesson::{LessonSource, SourceError, SourceKind, Target};
use isolab_shared::limits::Limits;
use isolab_shared::{ContainerSpec, ContainerState, Event, HostState, Snapshot};

use super::host_shell::HostShell;
use super::hub::StartPoint;
use super::supervisor::{blocking, CreateOptions, Supervisor};
use super::terminal::TerminalSession;
use super::LiveError;
use crate::observe;
use crate::runtime::exec::ExecRequest;
use crate::runtime::exec_capture::{self, Captured};

/// How long a typed line may run before the next one is typed anyway.
const LINE_WAIT: Duration = Duration::from_secs(15);
/// After a line's prompt returns, a moment for what it started to exec.
const AFTER_LINE: Duration = Duration::from_millis(100);
/// How long failing checks are retried after a solution: the stats tick, which
/// reports limit hits, comes every second.
const SETTLE_MS: u64 = 3000;

impl Supervisor {
    /// Runs `command` with `sh -c` in container `id`, in a session of its own with its
    /// output captured; gives up (and kills it) after `timeout`.
    pub async fn run_captured(
        &self,
        id: &str,
        command: &str,
        timeout: Duration,
    ) -> Result<Captured, LiveError> {
        self.require_live()?;
        let record = self.entry(id)?.record();
        let argv = vec!["/bin/sh".to_string(), "-c".to_string(), command.to_string()];
        let request = ExecRequest::for_container(&record, argv, None, false)?;
        let config = self.config().runtime.clone();
        Ok(blocking(move || exec_capture::run_in_container(&config, &request, timeout)).await??)
    }
}

/// A lesson's view of the live kernel.
pub struct LiveSource {
    sup: Arc<Supervisor>,
    /// The containers this source made, by id, in creation order.
    containers: Vec<String>,
    host_shell: Option<HostShell>,
    /// Lines typed so far; numbers the marker that says a line is done.
    typed: u64,
}

fn refused(e: impl std::fmt::Display) -> SourceError {
    SourceError(e.to_string())
}

impl LiveSource {
    /// A source making its containers through `sup` (whose background work runs).
    pub fn new(sup: Arc<Supervisor>) -> LiveSource {
        LiveSource {
            sup,
            containers: Vec::new(),
            host_shell: None,
            typed: 0,
        }
    }

    /// The ids of the containers this source made and has not removed, in creation order.
    pub fn container_ids(&self) -> &[String] {
        &self.containers
    }

    /// Creates and starts a setup container made with `options` (a student's
    /// ownership, id range and quota), under a name of its own.
    pub async fn create_with(
        &mut self,
        spec: &ContainerSpec,
        options: &CreateOptions,
    ) -> Result<ContainerState, LiveError> {
        let mut spec = spec.clone();
        let name = spec.name.clone().unwrap_or_else(|| "box".to_string());
        spec.hostname = spec.hostname.or_else(|| Some(name.clone()));
        spec.name = Some(format!("{name}-{:04x}", rand::random::<u16>()));
        let state = self.sup.create(spec, options).await?;
        self.containers.push(state.id.clone());
        Ok(state)
    }

    /// Types `line` into the terminal at `target` as a "try" button of the page does,
    /// without waiting for it: the student watches it run in that terminal.
    pub async fn type_now(&mut self, target: &Target, line: &str) -> Result<(), SourceError> {
        let terminal = match target {
            Target::Host => self.host_terminal()?,
            Target::Container(id) => self.sup.terminal(id).map_err(refused)?,
        };
        if terminal.has_ended() {
            return Err(SourceError("the terminal has ended".to_string()));
        }
        terminal
            .write_input(format!("{line}\n").as_bytes())
            .await
            .map_err(|e| refused(format!("typing into the terminal: {e}")))
    }

    /// Whether a client is attached to the lesson's host shell (none started: no).
    pub fn host_terminal_attached(&self) -> bool {
        self.host_shell
            .as_ref()
            .is_some_and(|shell| shell.terminal().attached() > 0)
    }

    /// The host PID of the root shell on the host, started now if it is not running.
    pub fn host_shell_pid(&mut self) -> Result<u32, SourceError> {
        self.host_terminal()?;
        self.host_shell
            .as_ref()
            .map(HostShell::pid)
            .ok_or_else(|| refused("the host shell did not start".to_string()))
    }

    /// The terminal of the root shell on the host (started now if it is not running).
    pub fn host_terminal(&mut self) -> Result<Arc<TerminalSession>, SourceError> {
        if let Some(shell) = self.host_shell.as_mut() {
            if shell.is_running() {
                return Ok(shell.terminal().clone());
            }
        }
        // The old shell (ended by an `exit`) takes what it started with it.
        if let Some(mut old) = self.host_shell.take() {
            old.end();
        }
        let shell = HostShell::start().map_err(|e| refused(format!("host shell: {e}")))?;
        let terminal = shell.terminal().clone();
        self.host_shell = Some(shell);
        Ok(terminal)
    }
}

/// The host as a lesson sees it: every process outside isolab's containers, those in
/// pid namespaces of the student's own making included (`unshare -p -f`).
fn lesson_host() -> HostState {
    let mut host = observe::host_state();
    let known: std::collections::BTreeSet<u32> =
        host.processes.iter().map(|p| p.host_pid).collect();
    for pid in observe::proc_files::all_pids() {
        let kernel = observe::proc_files::read_stat(pid).map_or(true, |s| s.is_kernel_thread());
        if known.contains(&pid) || kernel || observe::proc_files::container_of(pid).is_some() {
            continue;
        }
        if let Ok(info) = observe::process_info(pid) {
            host.processes.push(info);
        }
    }
    host
}

impl LessonSource for LiveSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Live
    }

    async fn create(&mut self, spec: &ContainerSpec) -> Result<ContainerState, SourceError> {
        self.create_with(spec, &CreateOptions::default())
            .await
            .map_err(refused)
    }

    async fn remove(&mut self, id: &str) -> Result<(), SourceError> {
        self.containers.retain(|c| c != id);
        self.sup.remove(id).await.map_err(refused)
    }

    async fn type_line(&mut self, target: &Target, line: &str) -> Result<String, SourceError> {
        let terminal = match target {
            Target::Host => self.host_terminal()?,
            Target::Container(id) => self.sup.terminal(id).map_err(refused)?,
        };
        if terminal.has_ended() {
            return Err(SourceError("the terminal has ended".to_string()));
        }
        self.typed += 1;
        // printf joins the marker's halves, so the echo of the typed line never matches.
        let marker = format!("isolab-typed_{}", self.typed);
        let input = format!("{line}\nprintf '%s_%s\\n' isolab-typed {}\n", self.typed);
        let mut reader = terminal.attach(Some(terminal.output_len()));
        terminal
            .write_input(input.as_bytes())
            .await
            .map_err(|e| refused(format!("typing into the terminal: {e}")))?;
        let mut output = Vec::new();
        let wait = async {
            while let Some((_, bytes)) = reader.next().await {
                output.extend_from_slice(&bytes);
                if String::from_utf8_lossy(&output).contains(&marker) {
                    break;
                }
            }
        };
        // A line still running (or a shell gone) does not stop the lesson: the checks say.
        let _ = tokio::time::timeout(LINE_WAIT, wait).await;
        tokio::time::sleep(AFTER_LINE).await;
        Ok(String::from_utf8_lossy(&output).into_owned())
    }

    async fn probe(&mut self, target: &Target, command: &str) -> Result<ProbeRun, SourceError> {
        let timeout = Duration::from_millis(PROBE_TIMEOUT_MS);
        let captured = match target {
            Target::Host => {
                let line = command.to_string();
                blocking(move || exec_capture::run_on_host(&line, timeout))
                    .await
                    .map_err(refused)?
                    .map_err(refused)?
            }
            Target::Container(id) => self
                .sup
                .run_captured(id, command, timeout)
                .await
                .map_err(refused)?,
        };
        Ok(match captured {
            Captured::Finished { exit, output } => ProbeRun::Finished { exit, output },
            Captured::TimedOut => ProbeRun::TimedOut,
        })
    }

    async fn set_limits(
        &mut self,
        id: &str,
        limits: &Limits,
    ) -> Result<ContainerState, SourceError> {
        self.sup
            .set_limits(id, limits.clone())
            .await
            .map_err(refused)
    }

    async fn snapshot(&mut self) -> Result<Snapshot, SourceError> {
        let seq = self.sup.hub.last_seq();
        let host = blocking(lesson_host).await.map_err(refused)?;
        let mut containers = Vec::new();
        for id in &self.containers {
            containers.push(self.sup.get(id).await.map_err(refused)?);
        }
        Ok(Snapshot {
            seq,
            host,
            containers,
        })
    }

    async fn events_since(&mut self, seq: u64) -> Result<Vec<Event>, SourceError> {
        match self.sup.hub.subscribe(Some(seq)).start {
            StartPoint::Replay(events) => Ok(events.iter().map(|p| p.event.clone()).collect()),
            StartPoint::Snapshot(_) => Err(SourceError(
                "the step's events are no longer in the replay buffer".to_string(),
            )),
        }
    }

    fn settle_ms(&self) -> u64 {
        SETTLE_MS
    }

    async fn pause(&mut self, ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }

    async fn finish(&mut self) -> Result<(), SourceError> {
        if let Some(mut shell) = self.host_shell.take() {
            shell.end();
        }
        let mut first = Ok(());
        for id in std::mem::take(&mut self.containers) {
            if let Err(e) = self.sup.remove(&id).await {
                if first.is_ok() {
                    first = Err(refused(e));
                }
            }
        }
        first
    }
}
