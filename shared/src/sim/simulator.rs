//! [`Simulator`]: the model kernel, a shell over it, and its containers, behind the
//! API a UI (wasm) or `isolab sim` drives: `run_line`, `snapshot`, `drain_events`,
//! `create_container`.

use std::collections::VecDeque;

use crate::namespace::NamespaceKind;
use crate::protocol::{ContainerSpec, ContainerState, Event, EventKind, ExitStatus, LimitKind};

use super::container::{self, SimContainer};
use super::errno::Errno;
use super::kernel::{Kernel, KernelEvent, INIT_PID};
use super::process::{Pid, Process, WaitStatus};
use super::scenario::{HOST_DAEMONS, SCENARIOS};
use super::shell::{NewShell, Shell};

/// Logical time zero as Unix milliseconds (2026-01-01T08:00:00Z), for events.
pub const EPOCH_MS: u64 = 1_767_254_400_000;
/// At most this many undrained events are kept; older ones are dropped.
const MAX_PENDING_EVENTS: usize = 10_000;

/// The scenario names, comma-separated, from the one list ([`SCENARIOS`]).
fn scenario_names() -> String {
    let names: Vec<&str> = SCENARIOS.iter().map(|(n, _)| *n).collect();
    names.join(", ")
}

/// What the simulator refuses.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    #[error("unknown scenario '{0}' (try: {names})", names = scenario_names())]
    UnknownScenario(String),
    #[error(transparent)]
    BadSpec(#[from] crate::protocol::SpecError),
    #[error("a container named '{0}' exists already")]
    NameTaken(String),
    #[error("no container '{0}'")]
    NoSuchContainer(String),
    #[error("container '{0}' is not running")]
    NotRunning(String),
    #[error("the simulated kernel refused: {0}")]
    Kernel(#[from] Errno),
}

/// A simulated machine with a terminal.
#[derive(Clone, Debug)]
pub struct Simulator {
    pub(super) kernel: Kernel,
    pub(super) shell: Shell,
    pub(super) containers: Vec<SimContainer>,
    /// The `isolab` process that parents containers.
    pub(super) runtime_pid: Pid,
    pub(super) seq: u64,
    /// Undrained events; a queue, as the oldest go first once it is full.
    pub(super) events: VecDeque<Event>,
    pub(super) next_container: u32,
    pub(super) scenario: String,
}

impl Simulator {
    /// A machine in the named starting scenario (see [`SCENARIOS`]).
    pub fn new(scenario_name: &str) -> Result<Simulator, SimError> {
        if !SCENARIOS.iter().any(|(n, _)| *n == scenario_name) {
            return Err(SimError::UnknownScenario(scenario_name.to_string()));
        }
        let mut k = Kernel::boot("isolab-host");
        let mut runtime_pid = INIT_PID;
        for (cmd, _) in HOST_DAEMONS {
            let argv: Vec<&str> = cmd.split(' ').collect();
            let pid = k.spawn(INIT_PID, &argv, false)?;
            if *cmd == "isolab serve" {
                runtime_pid = pid;
                // The runtime waits for its containers' inits.
                k.proc_mut(pid)?.reaps_children = true;
            }
        }
        let sshd = k.find_pid(k.procs[&INIT_PID].ns.pid, 5).unwrap_or(INIT_PID);
        let shell = k.spawn(sshd, &["-sh"], false)?;
        k.exec(shell, &["sh"])?;
        let rootless = scenario_name == "rootless";
        if let Ok(p) = k.proc_mut(shell) {
            p.tty = Some(0);
            p.reaps_children = true;
            if rootless {
                p.uid = 1000;
                p.gid = 1000;
                p.caps = 0;
            }
        }
        let mut sim = Simulator {
            kernel: k,
            shell: Shell::new(shell),
            containers: Vec::new(),
            runtime_pid,
            seq: 0,
            events: VecDeque::new(),
            next_container: 1,
            scenario: scenario_name.to_string(),
        };
        sim.kernel.take_events();
        sim.build_scenario(scenario_name)?;
        sim.sync();
        sim.events.clear();
        Ok(sim)
    }

    /// The scenario it started from.
    pub fn scenario(&self) -> &str {
        &self.scenario
    }

    /// The scenario names and descriptions.
    pub fn scenarios() -> &'static [(&'static str, &'static str)] {
        SCENARIOS
    }

    /// Runs one line in the simulated shell and returns its output.
    pub fn run_line(&mut self, line: &str) -> String {
        let out = self.shell.run_line(&mut self.kernel, line);
        self.sync();
        out
    }

    /// The prompt the current shell shows.
    pub fn prompt(&self) -> String {
        self.shell.prompt(&self.kernel)
    }

    /// True once the last shell has exited.
    pub fn is_finished(&self) -> bool {
        self.shell.pid().is_none()
    }

    /// The host PID of the current shell.
    pub fn shell_pid(&self) -> Option<Pid> {
        self.shell.pid()
    }

    /// The model kernel, for views that want more than the snapshot.
    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    /// The model kernel, mutable (tests and scenario builders).
    pub fn kernel_mut(&mut self) -> &mut Kernel {
        &mut self.kernel
    }

    pub(super) fn container(&self, id: &str) -> Result<&SimContainer, SimError> {
        self.containers
            .iter()
            .find(|c| c.id == id || c.name == id)
            .ok_or_else(|| SimError::NoSuchContainer(id.to_string()))
    }

    /// Creates and starts a container from `spec`, as `POST /containers` does live.
    pub fn create_container(&mut self, spec: ContainerSpec) -> Result<ContainerState, SimError> {
        spec.validate()?;
        let n = self.next_container;
        let id = format!("c{n:04x}sim");
        let name = spec.name.clone().unwrap_or_else(|| format!("box{n}"));
        if self.containers.iter().any(|c| c.name == name) {
            return Err(SimError::NameTaken(name));
        }
        self.next_container += 1;
        let c = container::create(&mut self.kernel, self.runtime_pid, &id, &name, &spec)?;
        self.containers.push(c);
        let state = self.container_state(&self.containers[self.containers.len() - 1]);
        self.push_event(EventKind::ContainerCreated {
            container: Box::new(state.clone()),
        });
        self.push_event(EventKind::ContainerStarted {
            id: id.clone(),
            init_pid: state.init_pid.unwrap_or(0),
        });
        self.sync();
        Ok(state)
    }

    /// Signals a running container as stop and kill do on the live side: its init
    /// passes the signal to the command, which the model ends by it (no handlers), and
    /// the container ends with the command.
    pub fn signal(&mut self, id: &str, signal: i32) -> Result<(), SimError> {
        let c = self.container(id)?.clone();
        if c.exit.is_some() {
            return Err(SimError::NotRunning(c.name));
        }
        let target = if self.kernel.proc(c.command_pid).is_ok() {
            c.command_pid
        } else {
            c.init_pid
        };
        self.kernel.exit(target, WaitStatus::Signaled(signal));
        self.sync();
        Ok(())
    }

    /// Changes a container's limits, as `PATCH /containers/{id}/limits` does live.
    pub fn set_limits(
        &mut self,
        id: &str,
        limits: crate::limits::Limits,
    ) -> Result<ContainerState, SimError> {
        limits.validate().map_err(|e| SimError::BadSpec(e.into()))?;
        let c = self.container(id)?.clone();
        self.kernel
            .cgroups
            .set_limits(c.cgroup, limits.pids, limits.memory_bytes);
        if let Some(mine) = self.containers.iter_mut().find(|x| x.id == c.id) {
            std::sync::Arc::make_mut(&mut mine.spec).limits = limits.clone();
        }
        self.push_event(EventKind::LimitsChanged {
            id: c.id.clone(),
            limits,
        });
        let state = self.container_state(self.container(id)?);
        Ok(state)
    }

    /// Stops (SIGKILL to its init) and forgets a container.
    pub fn remove_container(&mut self, id: &str) -> Result<(), SimError> {
        let c = self.container(id)?.clone();
        self.kernel.exit(c.init_pid, WaitStatus::Signaled(9));
        self.sync();
        let _ = self.kernel.cgroups.remove(c.cgroup);
        self.containers.retain(|x| x.id != c.id);
        self.push_event(EventKind::ContainerRemoved { id: c.id });
        Ok(())
    }

    /// Opens a shell inside a running container (its namespaces and cgroup), as
    /// `isolab exec` would; `exit` returns to the previous shell.
    pub fn attach(&mut self, id: &str) -> Result<(), SimError> {
        let c = self.container(id)?.clone();
        if c.exit.is_some() {
            return Err(SimError::NotRunning(c.name));
        }
        let k = &mut self.kernel;
        let shell = k.fork(self.runtime_pid)?;
        k.setns(shell, c.init_pid, &NamespaceKind::ALL)?;
        k.move_to_cgroup(shell, c.cgroup)?;
        let runner = k.fork(shell)?;
        k.exit(shell, WaitStatus::Exited(0));
        let init_uid = k.proc(c.init_pid)?.uid;
        // The exec'd shell runs under the container's filter, as its command does.
        let filter = k.proc(c.init_pid)?.seccomp_for_command.clone();
        k.exec(runner, &["sh"])?;
        let p = k.proc_mut(runner)?;
        p.seccomp = filter;
        p.uid = init_uid;
        p.gid = init_uid;
        p.cap_bound = super::process::CAPS_CONTAINER;
        p.caps = super::process::CAPS_CONTAINER;
        p.tty = Some(0);
        p.reaps_children = true;
        k.events.push(KernelEvent::ProcessStarted(runner));
        self.shell.push(NewShell {
            pid: runner,
            wrappers: Vec::new(),
        });
        self.sync();
        Ok(())
    }

    fn push_event(&mut self, kind: EventKind) {
        self.seq += 1;
        if self.events.len() >= MAX_PENDING_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(Event {
            seq: self.seq,
            at_ms: EPOCH_MS.saturating_add(self.kernel.now_ms),
            kind,
        });
    }

    /// Removes and returns the events since the last call.
    pub fn drain_events(&mut self) -> Vec<Event> {
        Vec::from(std::mem::take(&mut self.events))
    }

    pub(super) fn container_of(&self, p: &Process) -> Option<&SimContainer> {
        self.containers
            .iter()
            .find(|c| self.kernel.cgroups.is_within(p.cgroup, c.cgroup))
    }

    /// Turns kernel events into protocol events and notices containers that ended.
    fn sync(&mut self) {
        // How each process ended, for commands already reaped when their end is noticed.
        let mut ended_by: Vec<(Pid, WaitStatus)> = Vec::new();
        // The kernel's list is emptied in place and handed back below, so the next
        // line's events need no new allocation.
        let mut kernel_events = std::mem::take(&mut self.kernel.events);
        for ev in kernel_events.drain(..) {
            match ev {
                KernelEvent::ProcessStarted(pid) => {
                    let Some(p) = self.kernel.procs.get(&pid) else {
                        continue;
                    };
                    let container = self.container_of(p).map(|c| c.id.clone());
                    let process = self.process_info(p);
                    self.push_event(EventKind::ProcessStarted { container, process });
                }
                KernelEvent::ProcessExited {
                    pid,
                    transient,
                    status,
                } => {
                    ended_by.push((pid, status));
                    if !transient {
                        let container = self
                            .containers
                            .iter()
                            .find(|c| c.init_pid == pid || c.command_pid == pid)
                            .map(|c| c.id.clone());
                        self.push_event(EventKind::ProcessExited {
                            container,
                            host_pid: pid,
                        });
                    }
                }
                KernelEvent::OomKill { cgroup, .. } => {
                    if let Some(c) = self.containers.iter().find(|c| {
                        self.kernel.cgroups.is_within(cgroup, c.cgroup)
                            || self.kernel.cgroups.is_within(c.cgroup, cgroup)
                    }) {
                        let id = c.id.clone();
                        self.push_event(EventKind::ContainerOomKilled { id: id.clone() });
                        self.push_event(EventKind::LimitHit {
                            id,
                            limit: LimitKind::Memory,
                        });
                    }
                }
                KernelEvent::ForkRejected { cgroup } => {
                    if let Some(c) = self
                        .containers
                        .iter()
                        .find(|c| self.kernel.cgroups.is_within(cgroup, c.cgroup))
                    {
                        let id = c.id.clone();
                        self.push_event(EventKind::LimitHit {
                            id,
                            limit: LimitKind::Pids,
                        });
                    }
                }
            }
        }
        if self.kernel.events.is_empty() {
            self.kernel.events = kernel_events;
        }
        // A container ends when its command ends: isolab-init then exits with its status.
        let mut ended = Vec::new();
        for (i, c) in self.containers.iter().enumerate() {
            if c.exit.is_some() {
                continue;
            }
            let cmd = self
                .kernel
                .procs
                .get(&c.command_pid)
                .filter(|p| p.is_alive());
            let init = self.kernel.procs.get(&c.init_pid).filter(|p| p.is_alive());
            if cmd.is_none() || init.is_none() {
                ended.push(i);
            }
        }
        for i in ended {
            let (init, cmd, cg) = (
                self.containers[i].init_pid,
                self.containers[i].command_pid,
                self.containers[i].cgroup,
            );
            let status = self
                .kernel
                .procs
                .get(&cmd)
                .and_then(|p| p.exit)
                .or_else(|| ended_by.iter().rev().find(|(p, _)| *p == cmd).map(|e| e.1))
                .unwrap_or(WaitStatus::Signaled(9));
            self.kernel.exit(init, status);
            let oom = self.kernel.cgroups.get(cg).is_some_and(|c| c.oom_kills > 0);
            let exit = match status {
                WaitStatus::Exited(code) => ExitStatus {
                    code: Some(code),
                    signal: None,
                    oom_killed: oom,
                },
                WaitStatus::Signaled(sig) => ExitStatus {
                    code: None,
                    signal: Some(sig),
                    oom_killed: oom,
                },
            };
            self.containers[i].exit = Some(exit.clone());
            let id = self.containers[i].id.clone();
            // Drain the exits this caused before announcing the container's end.
            self.kernel.events.clear();
            self.push_event(EventKind::ContainerExited { id, exit });
        }
    }

    /// Opens a terminal of its own, apart from the main one, on the host (`None`) or in a
    /// container: a lesson's terminal per target, or a check's probe session, so neither
    /// types into the student's shell. Run lines in it with [`Simulator::run_line_in`].
    pub fn open_shell(&mut self, container: Option<&str>) -> Result<Shell, SimError> {
        let pid = match container {
            Some(id) => {
                // attach() makes the shell as `isolab exec` would; take it off the main stack.
                self.attach(id)?;
                let session = self.shell.sessions.pop();
                session
                    .map(|s| s.pid)
                    .ok_or(SimError::Kernel(Errno::ESRCH))?
            }
            None => {
                let k = &mut self.kernel;
                let pid = k.fork(self.runtime_pid)?;
                k.exec(pid, &["sh"])?;
                let p = k.proc_mut(pid)?;
                p.tty = Some(0);
                p.reaps_children = true;
                k.events.push(KernelEvent::ProcessStarted(pid));
                self.sync();
                pid
            }
        };
        Ok(Shell::new(pid))
    }

    /// Runs one line in a terminal from [`Simulator::open_shell`] and returns its output.
    pub fn run_line_in(&mut self, shell: &mut Shell, line: &str) -> String {
        let out = shell.run_line(&mut self.kernel, line);
        self.sync();
        out
    }
}

#[cfg(test)]
mod overflow_tests {
    use super::Simulator;

    /// Found by `./x fuzz sim_shell`: a `sleep` too long for the clock (it saturates
    /// to u64::MAX milliseconds) overflowed the model's clock and panicked.
    #[test]
    fn a_sleep_past_the_end_of_time_does_not_overflow_the_clock() {
        let mut sim = Simulator::new("empty").expect("the empty scenario starts");
        sim.run_line("sleep 2222222222222222222222222222222222 &");
        sim.run_line("ps");
        sim.run_line("sleep 2222222222222222222222222222222222");
        let out = sim.run_line("echo still here");
        assert!(out.contains("still here"), "{out}");
    }
}
