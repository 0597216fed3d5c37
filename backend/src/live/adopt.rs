//! Containers left by a previous server: the living are adopted (with their terminal
//! when they have one), the dead cleaned up, and orphans (processes in isolab's cgroups
//! whose state dir is gone) killed.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use isolab_shared::{ContainerStatus, EventKind};

use super::entry::{lock, Entry};
use super::supervisor::{blocking, Supervisor};
use super::terminal::TerminalSession;
use crate::runtime::describe::state_of;
use crate::runtime::{self, ContainerRecord};

impl Supervisor {
    /// Finds containers left by a previous server: adopts the living (owned as
    /// `owners` records, container id -> student id), cleans the dead.
    pub async fn reconcile(self: &Arc<Self>, owners: &BTreeMap<String, String>) {
        if !self.status.available {
            return;
        }
        let config = self.config.runtime.clone();
        let records = blocking(move || runtime::list(&config.state_root))
            .await
            .unwrap_or_default();
        for record in records {
            if lock(&self.entries).contains_key(&record.id) {
                continue;
            }
            if record.init_alive() && record.status != ContainerStatus::Exited {
                let owner = owners.get(&record.id).cloned();
                self.adopt(record, owner).await;
            } else {
                let config = self.config.runtime.clone();
                let id = record.id.clone();
                match blocking(move || runtime::remove(&config, &id)).await {
                    Ok(Ok(())) => {
                        tracing::info!(id = %record.id, "cleaned up a dead container");
                        self.hub
                            .publish(EventKind::ContainerCleaned { id: record.id });
                    }
                    Ok(Err(e)) => tracing::warn!(id = %record.id, "cannot clean up: {e}"),
                    Err(e) => tracing::warn!(id = %record.id, "cannot clean up: {e}"),
                }
            }
        }
        self.remove_orphans().await;
        // The id ranges of containers that left nothing else behind.
        let root = self.config.runtime.state_root.clone();
        match blocking(move || runtime::userns_ranges::release_unclaimed(&root)).await {
            Ok(Ok(freed)) if !freed.is_empty() => {
                tracing::info!(?freed, "freed the id ranges of containers that are gone")
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!("cannot free unclaimed id ranges: {e}"),
            Err(e) => tracing::warn!("cannot free unclaimed id ranges: {e}"),
        }
    }

    /// Kills what runs in isolab's cgroups with no state dir anywhere (the same test as
    /// `isolab gc`); another state root's containers are left alone.
    async fn remove_orphans(&self) {
        let root = self.config.runtime.state_root.clone();
        let groups = blocking(move || runtime::orphans::groups_without_state(&root))
            .await
            .unwrap_or_default();
        for group in groups {
            if !matches!(group.owner, runtime::orphans::Owner::Gone(_)) {
                continue;
            }
            let pids: Vec<u32> = group.processes.iter().map(|p| p.pid).collect();
            let commands: Vec<String> = group.processes.iter().map(|p| p.command.clone()).collect();
            let id = group.id.clone();
            match blocking(move || runtime::orphans::remove(&group)).await {
                Ok(Ok(())) => {
                    tracing::warn!(%id, ?pids, ?commands, "killed an orphan: its state dir is gone")
                }
                Ok(Err(e)) => tracing::warn!(%id, "cannot remove an orphan: {e}"),
                Err(e) => tracing::warn!(%id, "cannot remove an orphan: {e}"),
            }
        }
    }

    async fn adopt(self: &Arc<Self>, record: ContainerRecord, owner: Option<String>) {
        let init_pid = record.init_pid.unwrap_or(0);
        // Its PID 1 kept a copy of the PTY master; new output shows from here on.
        let terminal =
            runtime::adopted_tty(&record).and_then(|master| TerminalSession::start(master).ok());
        let entry = Arc::new(Entry {
            id: record.id.clone(),
            owner: owner.clone(),
            record: Mutex::new(record.clone()),
            container: Mutex::new(None),
            terminal,
            execs: Mutex::new(BTreeMap::new()),
            removed: AtomicBool::new(false),
            limit_marks: Mutex::new((0, 0)),
        });
        if let Some(terminal) = &entry.terminal {
            self.record(terminal, &entry, None);
        }
        let Ok(mut state) = blocking(move || state_of(&record)).await else {
            return;
        };
        state.owner = owner;
        // Limits hit under the previous server were announced by it.
        if let Some(usage) = &state.cgroup {
            entry.new_limit_hits(usage);
        }
        tracing::info!(id = %entry.id, "adopted a running container");
        lock(&self.entries).insert(entry.id.clone(), entry.clone());
        self.hub.publish(EventKind::ContainerAdopted {
            container: Box::new(state),
        });
        self.watch_exit(entry, init_pid);
    }
}
