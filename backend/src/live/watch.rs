//! Background work of the supervisor: process events pushed by the kernel (polling
//! only when the kernel refuses), stats ticks and host refresh.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use isolab_shared::{CgroupUsage, ContainerStatus, EventKind};
use tokio::sync::mpsc;

use super::supervisor::Supervisor;
use crate::observe::proc_files::container_of;
use crate::observe::{self, proc_events::ProcEvent, proc_events::ProcEventListener};

/// Starts the stats tick, the host refresh and the process event feed.
pub fn spawn_background(sup: Arc<Supervisor>) {
    tokio::spawn(stats_loop(sup.clone()));
    tokio::spawn(host_loop(sup.clone()));
    if sup.status().available {
        spawn_process_events(sup);
    }
}

async fn host_loop(sup: Arc<Supervisor>) {
    let mut tick = tokio::time::interval(sup.config().host_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Ok(host) = tokio::task::spawn_blocking(observe::host_state).await {
            sup.hub.set_host(host);
        }
    }
}

/// Samples every running container's usage, as often as the fastest client asked
/// (never slower than the configured interval); the hub keeps what changed.
async fn stats_loop(sup: Arc<Supervisor>) {
    loop {
        tokio::time::sleep(sup.hub.stats_period(sup.config().stats_interval)).await;
        let running: Vec<_> = sup
            .entries()
            .into_iter()
            .filter(|e| !e.is_removed())
            .filter_map(|e| {
                let record = e.record();
                (record.status != ContainerStatus::Exited)
                    .then_some(())
                    .and(record.cgroup.map(|cg| (e.clone(), cg)))
            })
            .collect();
        if running.is_empty() {
            continue;
        }
        let Ok(measured) = tokio::task::spawn_blocking(move || {
            running
                .into_iter()
                .map(|(entry, cg)| (entry, cg.usage()))
                .collect::<Vec<_>>()
        })
        .await
        else {
            continue;
        };
        let mut usage = BTreeMap::<String, CgroupUsage>::new();
        for (entry, u) in measured {
            for limit in entry.new_limit_hits(&u) {
                sup.hub.publish(EventKind::LimitHit {
                    id: entry.id.clone(),
                    limit,
                });
            }
            usage.insert(entry.id.clone(), u);
        }
        sup.hub.publish_stats(usage);
    }
}

/// What the event feed learned about one process, or that it missed some.
enum ProcessChange {
    Started(u32),
    Exited(u32),
    /// The kernel dropped events (the listener fell behind): compare with /proc.
    Lost,
}

fn spawn_process_events(sup: Arc<Supervisor>) {
    let (tx, rx) = mpsc::unbounded_channel::<ProcessChange>();
    let listener = match ProcEventListener::open() {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!("kernel process events unavailable ({e}); polling cgroups instead");
            tokio::spawn(publish_process_changes(sup.clone(), rx));
            tokio::spawn(poll_processes(sup, tx));
            return;
        }
    };
    let spawned = std::thread::Builder::new()
        .name("proc-events".into())
        .spawn(move || read_kernel_events(listener, tx));
    if let Err(e) = spawned {
        tracing::warn!("cannot start the process event thread: {e}");
        return;
    }
    tokio::spawn(publish_process_changes(sup, rx));
}

/// Blocks on the proc connector and forwards process (not thread) changes.
fn read_kernel_events(mut listener: ProcEventListener, tx: mpsc::UnboundedSender<ProcessChange>) {
    loop {
        let change = match listener.next(Duration::from_secs(1)) {
            Ok(Some(e)) if e.is_thread_event() => continue,
            Ok(Some(ProcEvent::Fork { child_tgid, .. })) => ProcessChange::Started(child_tgid),
            Ok(Some(ProcEvent::Exec { tgid, .. })) => ProcessChange::Started(tgid),
            Ok(Some(ProcEvent::Exit { tgid, .. })) => ProcessChange::Exited(tgid),
            Ok(Some(ProcEvent::Lost)) => ProcessChange::Lost,
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!("process events stopped: {e}");
                return;
            }
        };
        if tx.send(change).is_err() {
            return;
        }
    }
}

async fn publish_process_changes(
    sup: Arc<Supervisor>,
    mut rx: mpsc::UnboundedReceiver<ProcessChange>,
) {
    let mut tracker = ProcessTracker::default();
    while let Some(change) = rx.recv().await {
        match change {
            ProcessChange::Started(pid) => tracker.started(&sup, pid),
            ProcessChange::Exited(pid) => tracker.exited(&sup, pid),
            ProcessChange::Lost => {
                tracing::debug!("process events were lost: comparing with /proc");
                tracker.resync(&sup);
            }
        }
    }
}

/// The containers' processes announced so far (host PID -> container id), so that an
/// exit is announced once, and only for a process whose start was.
#[derive(Default)]
pub struct ProcessTracker {
    known: HashMap<u32, String>,
}

impl ProcessTracker {
    /// Announces `pid` if it runs in one of the supervisor's live containers.
    pub fn started(&mut self, sup: &Supervisor, pid: u32) {
        let Some(id) = container_of(pid) else {
            return;
        };
        let live = sup.entries().iter().any(|e| e.id == id && !e.is_removed());
        if !live {
            return;
        }
        let Ok(process) = observe::process_info(pid) else {
            return;
        };
        self.known.insert(pid, id.clone());
        sup.hub.publish(EventKind::ProcessStarted {
            container: Some(id),
            process,
        });
    }

    /// Announces the end of `pid`, if its start was announced.
    pub fn exited(&mut self, sup: &Supervisor, pid: u32) {
        if let Some(id) = self.known.remove(&pid) {
            sup.hub.publish(EventKind::ProcessExited {
                container: Some(id),
                host_pid: pid,
            });
        }
    }

    /// After lost events: ends the known processes that are gone (or whose PID now
    /// names a process elsewhere), and starts the containers' processes not known yet.
    pub fn resync(&mut self, sup: &Supervisor) {
        let gone: Vec<u32> = self
            .known
            .iter()
            .filter(|(pid, id)| container_of(**pid).as_deref() != Some(id.as_str()))
            .map(|(pid, _)| *pid)
            .collect();
        for pid in gone {
            self.exited(sup, pid);
        }
        for entry in sup.entries() {
            if entry.is_removed() {
                continue;
            }
            let Some(cgroup) = entry.record().cgroup else {
                continue;
            };
            for pid in cgroup.pids() {
                if !self.known.contains_key(&pid) {
                    self.started(sup, pid);
                }
            }
        }
    }
}

/// Without kernel events: compares each container's cgroup members every 100 ms.
async fn poll_processes(sup: Arc<Supervisor>, tx: mpsc::UnboundedSender<ProcessChange>) {
    let mut seen: HashMap<String, Vec<u32>> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tick.tick().await;
        for entry in sup.entries() {
            let Some(cg) = entry.record().cgroup else {
                continue;
            };
            let Ok(now) = tokio::task::spawn_blocking(move || cg.pids()).await else {
                continue;
            };
            let before = seen
                .insert(entry.id.clone(), now.clone())
                .unwrap_or_default();
            for pid in now.iter().filter(|p| !before.contains(p)) {
                let _ = tx.send(ProcessChange::Started(*pid));
            }
            for pid in before.iter().filter(|p| !now.contains(p)) {
                let _ = tx.send(ProcessChange::Exited(*pid));
            }
        }
    }
}
