//! The supervisor of a server's live containers: create, inspect, signal, limits,
//! remove, shutdown, and the watch on each container's init. Exec sessions are in
//! [`super::exec`], adoption in [`super::adopt`]; both extend [`Supervisor`] from above.

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use isolab_shared::limits::Limits;
use isolab_shared::{
    ContainerSpec, ContainerState, ContainerStatus, EventKind, ExitStatus, LiveStatus,
};
use nix::sys::signal::Signal;

use super::entry::{lock, Entry};
use super::hub::EventHub;
use super::terminal::TerminalSession;
use super::{pid_wait, LiveError};
use crate::recording::{RecordingConfig, RecordingSubject, Recordings};
use crate::runtime::describe::state_of;
use crate::runtime::{self, Container, RuntimeConfig, RuntimeError};

/// Limits and timings of a supervisor.
#[derive(Clone, Debug)]
pub struct LiveConfig {
    pub runtime: RuntimeConfig,
    /// Most containers at once on this server.
    pub max_containers: usize,
    /// Most containers at once per access token.
    pub max_per_token: usize,
    /// How long `stop` waits after SIGTERM before SIGKILL.
    pub stop_grace: Duration,
    /// How often usage figures are published.
    pub stats_interval: Duration,
    /// How often the host's processes are re-read.
    pub host_interval: Duration,
    /// How terminals are recorded (on by default, in the runtime's state root).
    pub recording: RecordingConfig,
}

impl LiveConfig {
    /// The defaults, with `runtime` for the container runtime.
    pub fn new(runtime: RuntimeConfig) -> Self {
        LiveConfig {
            runtime,
            max_containers: 128,
            max_per_token: 64,
            stop_grace: Duration::from_secs(3),
            stats_interval: Duration::from_secs(1),
            host_interval: Duration::from_secs(2),
            recording: RecordingConfig::default(),
        }
    }
}

/// Whose a new container is, and what that owner's containers get.
#[derive(Clone, Debug, Default)]
pub struct CreateOptions {
    /// The owning student's id; `None` for the teacher's or the admin's.
    pub owner: Option<String>,
    /// Most containers this owner may have at once, when lower than the per-token cap.
    pub max_containers: Option<usize>,
}

/// How a new container's command talks: its PTY, or its three pipes.
enum CommandIo {
    Pty(OwnedFd),
    Pipes(runtime::ContainerPipes),
    None,
}

/// Makes and tracks a server's live containers.
pub struct Supervisor {
    pub(super) config: LiveConfig,
    pub(super) hub: Arc<EventHub>,
    pub(super) status: LiveStatus,
    pub(super) entries: Mutex<BTreeMap<String, Arc<Entry>>>,
    /// Creations under way, counted against the caps (by owner).
    pending: Mutex<Vec<Option<String>>>,
    /// Where terminals are recorded; `None` when recording is off.
    pub(super) recordings: Option<Arc<Recordings>>,
}

pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, LiveError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| LiveError::Runtime(RuntimeError::Protocol(format!("worker failed: {e}"))))
}

impl Supervisor {
    /// A supervisor publishing on `hub`. `status` says whether live mode works here.
    pub fn new(config: LiveConfig, hub: Arc<EventHub>, status: LiveStatus) -> Arc<Supervisor> {
        let recordings = config
            .recording
            .index
            .then(|| super::recording::open(&config.recording, &config.runtime.state_root, &hub))
            .flatten();
        Arc::new(Supervisor {
            config,
            hub,
            status,
            entries: Mutex::new(BTreeMap::new()),
            pending: Mutex::new(Vec::new()),
            recordings,
        })
    }

    /// Whether real containers can be made.
    pub fn status(&self) -> &LiveStatus {
        &self.status
    }

    /// The supervisor's settings.
    pub fn config(&self) -> &LiveConfig {
        &self.config
    }

    pub fn require_live(&self) -> Result<(), LiveError> {
        match &self.status.reason {
            Some(why) if !self.status.available => Err(LiveError::Unavailable(why.clone())),
            _ => Ok(()),
        }
    }

    pub(super) fn entry(&self, id: &str) -> Result<Arc<Entry>, LiveError> {
        let entries = lock(&self.entries);
        entries
            .get(id)
            .or_else(|| entries.values().find(|e| lock(&e.record).name == id))
            .cloned()
            .ok_or_else(|| RuntimeError::NotFound(id.to_string()).into())
    }

    /// Reserves a slot for `options.owner`, or says which cap is full.
    fn reserve(&self, options: &CreateOptions) -> Result<(), LiveError> {
        let owner = &options.owner;
        let entries = lock(&self.entries);
        let mut pending = lock(&self.pending);
        if entries.len() + pending.len() >= self.config.max_containers {
            return Err(LiveError::TooManyOnServer(self.config.max_containers));
        }
        let mine = entries.values().filter(|e| &e.owner == owner).count()
            + pending.iter().filter(|p| *p == owner).count();
        let cap = options
            .max_containers
            .map_or(self.config.max_per_token, |m| {
                m.min(self.config.max_per_token)
            });
        if mine >= cap {
            return Err(LiveError::TooManyForToken(cap));
        }
        pending.push(owner.clone());
        Ok(())
    }

    fn release(&self, owner: &Option<String>) {
        let mut pending = lock(&self.pending);
        if let Some(i) = pending.iter().position(|p| p == owner) {
            pending.swap_remove(i);
        }
    }

    /// Creates and starts a container owned as `options` say.
    pub async fn create(
        self: &Arc<Self>,
        spec: ContainerSpec,
        options: &CreateOptions,
    ) -> Result<ContainerState, LiveError> {
        self.require_live()?;
        // Bad input is answered before a slot is taken; the runtime checks again.
        runtime::check_spec(&spec)?;
        self.reserve(options)?;
        let config = self.config.runtime.clone();
        let owner = &options.owner;
        let made = blocking(move || -> Result<(Container, CommandIo), RuntimeError> {
            // Without a terminal the command gets pipes, so its output still reaches
            // the terminal WebSocket (and input its stdin).
            let mut container = Container::create(&config, &spec, runtime::Stdio::Pipes)?;
            let io = match (container.take_tty(), container.take_pipes()) {
                (Some(master), _) => CommandIo::Pty(master),
                (None, Some(pipes)) => CommandIo::Pipes(pipes),
                (None, None) => CommandIo::None,
            };
            if let Err(e) = container.start() {
                let _ = container.delete();
                return Err(e);
            }
            Ok((container, io))
        })
        .await;
        let result = match made {
            Ok(Ok(made)) => self.register(made, owner.clone()).await,
            Ok(Err(e)) => Err(e.into()),
            Err(e) => Err(e),
        };
        self.release(owner);
        result
    }

    async fn register(
        self: &Arc<Self>,
        (container, io): (Container, CommandIo),
        owner: Option<String>,
    ) -> Result<ContainerState, LiveError> {
        let session = match io {
            CommandIo::Pty(master) => Some(TerminalSession::start(master)),
            CommandIo::Pipes(p) => Some(TerminalSession::start_pipes(
                p.stdin,
                vec![p.stdout, p.stderr],
            )),
            CommandIo::None => None,
        };
        let terminal = session.transpose().map_err(|e| {
            LiveError::Runtime(RuntimeError::Sys(
                "terminal",
                nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
            ))
        })?;
        let record = container.record().clone();
        let init_pid = container.init_pid().unwrap_or(0);
        let entry = Arc::new(Entry {
            id: record.id.clone(),
            owner: owner.clone(),
            record: Mutex::new(record.clone()),
            container: Mutex::new(Some(container)),
            terminal,
            execs: Mutex::new(BTreeMap::new()),
            removed: AtomicBool::new(false),
            limit_marks: Mutex::new((0, 0)),
        });
        if let Some(terminal) = &entry.terminal {
            self.record(terminal, &entry, None);
        }
        let mut state = blocking(move || state_of(&record)).await?;
        state.owner = owner;
        // Published as created, then started, so every client sees both steps.
        state.status = ContainerStatus::Created;
        lock(&self.entries).insert(entry.id.clone(), entry.clone());
        self.hub.publish(EventKind::ContainerCreated {
            container: Box::new(state.clone()),
        });
        self.hub.publish(EventKind::ContainerStarted {
            id: entry.id.clone(),
            init_pid,
        });
        self.watch_exit(entry, init_pid);
        state.status = ContainerStatus::Running;
        Ok(state)
    }

    /// Called by the exit watcher once the container's init is gone.
    pub(super) async fn on_exit(self: &Arc<Self>, entry: Arc<Entry>) {
        let e = entry.clone();
        let exit = blocking(move || {
            let mut guard = lock(&e.container);
            match guard.as_mut() {
                Some(c) => c.wait().ok(),
                None => None,
            }
        })
        .await
        .ok()
        .flatten();
        if entry.is_removed() {
            return;
        }
        // Limits hit in the container's last moments, before a stats tick saw them.
        if let Some(cg) = entry.record().cgroup {
            if let Ok(usage) = blocking(move || cg.usage()).await {
                for limit in entry.new_limit_hits(&usage) {
                    self.hub.publish(EventKind::LimitHit {
                        id: entry.id.clone(),
                        limit,
                    });
                }
            }
        }
        let exit = exit.unwrap_or_else(|| {
            // Adopted: not our child, so its status is unknown; the cgroup still tells OOM.
            let record = entry.record();
            ExitStatus {
                oom_killed: record.cgroup.as_ref().is_some_and(|cg| cg.oom_kills() > 0),
                ..ExitStatus::default()
            }
        });
        {
            let mut record = lock(&entry.record);
            record.status = ContainerStatus::Exited;
            record.exit = Some(exit.clone());
        }
        let oom = exit.oom_killed;
        self.hub.publish(EventKind::ContainerExited {
            id: entry.id.clone(),
            exit,
        });
        if oom {
            self.hub.publish(EventKind::ContainerOomKilled {
                id: entry.id.clone(),
            });
        }
    }

    /// Every container, as the event stream last described it.
    pub fn list(&self) -> Vec<ContainerState> {
        self.hub.snapshot().containers
    }

    /// One container, observed now.
    pub async fn get(&self, id: &str) -> Result<ContainerState, LiveError> {
        let entry = self.entry(id)?;
        let record = entry.record();
        let mut state = blocking(move || state_of(&record)).await?;
        state.owner = entry.owner.clone();
        Ok(state)
    }

    /// The id and the owner (a student id, or `None`) of container `id_or_name`.
    pub fn owner(&self, id_or_name: &str) -> Result<(String, Option<String>), LiveError> {
        let entry = self.entry(id_or_name)?;
        Ok((entry.id.clone(), entry.owner.clone()))
    }

    /// Ids of the containers `student` owns.
    pub fn owned_by(&self, student: &str) -> Vec<String> {
        lock(&self.entries)
            .values()
            .filter(|e| e.owner.as_deref() == Some(student))
            .map(|e| e.id.clone())
            .collect()
    }

    /// Sends `signal` to the container's command (through its init).
    pub fn signal(&self, id: &str, signal: Signal) -> Result<(), LiveError> {
        let entry = self.entry(id)?;
        let record = entry.record();
        if record.status == ContainerStatus::Exited || !record.init_alive() {
            return Err(RuntimeError::NotRunning(entry.id.clone()).into());
        }
        let pid = record.init_pid.unwrap_or(0) as i32;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal)
            .map_err(|e| LiveError::Runtime(RuntimeError::Sys("kill", e)))
    }

    /// SIGTERM now; SIGKILL to everything in it if it still runs after the grace period.
    pub fn stop(self: &Arc<Self>, id: &str) -> Result<(), LiveError> {
        self.signal(id, Signal::SIGTERM)?;
        let entry = self.entry(id)?;
        let grace = self.config.stop_grace;
        tokio::spawn(async move {
            let Some(pid) = entry.record().init_pid else {
                return;
            };
            if tokio::time::timeout(grace, pid_wait::pid_exit(pid))
                .await
                .is_err()
            {
                let record = entry.record();
                if record.init_alive() {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid as i32),
                        Signal::SIGKILL,
                    );
                }
                if let Some(cg) = record.cgroup {
                    let _ = tokio::task::spawn_blocking(move || cg.kill_all()).await;
                }
            }
        });
        Ok(())
    }

    /// Changes the limits of a running container.
    pub async fn set_limits(&self, id: &str, limits: Limits) -> Result<ContainerState, LiveError> {
        limits.validate().map_err(RuntimeError::from)?;
        let entry = self.entry(id)?;
        let e = entry.clone();
        let l = limits.clone();
        blocking(move || -> Result<(), LiveError> {
            let mut guard = lock(&e.container);
            if let Some(c) = guard.as_mut() {
                c.set_limits(&l)?;
                *lock(&e.record) = c.record().clone();
                return Ok(());
            }
            let mut record = lock(&e.record);
            let cg = record
                .cgroup
                .clone()
                .ok_or_else(|| RuntimeError::NotRunning(e.id.clone()))?;
            let mut log = crate::runtime::steps::StepLog::new();
            cg.set_limits(&l, &mut log).map_err(RuntimeError::from)?;
            record.spec.limits = l;
            record.setup.extend(log.into_steps());
            record.save()?;
            Ok(())
        })
        .await??;
        self.hub.publish(EventKind::LimitsChanged {
            id: entry.id.clone(),
            limits,
        });
        self.get(&entry.id).await
    }

    /// Stops and removes a container: processes, cgroup, directories, state.
    pub async fn remove(&self, id: &str) -> Result<(), LiveError> {
        let entry = self.entry(id)?;
        entry.removed.store(true, Ordering::Relaxed);
        let container = lock(&entry.container).take();
        let config = self.config.runtime.clone();
        let entry_id = entry.id.clone();
        let removed = blocking(move || match container {
            Some(c) => c.delete(),
            None => match runtime::remove(&config, &entry_id) {
                Err(RuntimeError::NotFound(_)) => Ok(()),
                other => other,
            },
        })
        .await?;
        lock(&self.entries).remove(&entry.id);
        self.hub.publish(EventKind::ContainerRemoved {
            id: entry.id.clone(),
        });
        removed.map_err(LiveError::from)
    }

    /// The terminal of a container created with a tty.
    pub fn terminal(&self, id: &str) -> Result<Arc<TerminalSession>, LiveError> {
        let entry = self.entry(id)?;
        entry
            .terminal
            .clone()
            .ok_or_else(|| LiveError::NoTerminal(entry.id.clone()))
    }

    /// On server exit: removes every container, unless `keep` leaves them for adoption.
    pub async fn shutdown(&self, keep: bool) {
        if keep {
            return;
        }
        let ids: Vec<String> = lock(&self.entries).keys().cloned().collect();
        for id in ids {
            if let Err(e) = self.remove(&id).await {
                tracing::warn!(%id, "cannot remove on shutdown: {e}");
            }
        }
    }

    /// Ids and cgroups of the current containers (for the stats tick and process events).
    pub(super) fn entries(&self) -> Vec<Arc<Entry>> {
        lock(&self.entries).values().cloned().collect()
    }

    /// The recordings of this server's terminals, when recording is on.
    pub fn recordings(&self) -> Option<&Arc<Recordings>> {
        self.recordings.as_ref()
    }

    /// Starts recording `session`, a terminal of `entry` (of its exec session `exec_id`).
    pub(super) fn record(&self, session: &TerminalSession, entry: &Entry, exec_id: Option<&str>) {
        let Some(recordings) = self.recordings.as_ref().filter(|r| r.config().enabled) else {
            return;
        };
        let recorder = recordings.begin(RecordingSubject {
            container: entry.id.clone(),
            container_name: entry.record().name,
            owner: entry.owner.clone(),
            exec_id: exec_id.map(str::to_string),
            size: session.size(),
            state: self.hub.container(&entry.id),
        });
        session.record(recorder);
    }

    /// Watches a container's init and reports its exit ([`Supervisor::on_exit`]).
    pub(super) fn watch_exit(self: &Arc<Self>, entry: Arc<Entry>, init_pid: u32) {
        let sup = self.clone();
        tokio::spawn(async move {
            pid_wait::pid_exit(init_pid).await;
            sup.on_exit(entry).await;
        });
    }
}
