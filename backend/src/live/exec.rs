//! Exec sessions: another process in a running container, on a terminal of its own.

use std::sync::Arc;

use isolab_shared::NamespaceSet;
use serde::{Deserialize, Serialize};

use super::entry::{lock, ExecSession};
use super::supervisor::{blocking, Supervisor};
use super::terminal::TerminalSession;
use super::LiveError;
use crate::runtime::exec::{self, ExecRequest};
use crate::runtime::RuntimeError;

/// What `POST /containers/{id}/exec` takes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExecSpec {
    /// The argv; defaults to a shell.
    #[serde(default = "default_exec_command")]
    pub command: Vec<String>,
    /// Make the terminal the process's controlling terminal.
    #[serde(default = "yes")]
    pub tty: bool,
    /// Enter only these namespaces (default: all of the container's).
    #[serde(default)]
    pub namespaces: Option<NamespaceSet>,
}

fn default_exec_command() -> Vec<String> {
    vec!["/bin/sh".to_string()]
}

fn yes() -> bool {
    true
}

/// What an exec answers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ExecInfo {
    /// The exec session's id (for its terminal).
    pub id: String,
    /// The container's id.
    pub container: String,
    pub command: Vec<String>,
    /// Host PID of the exec helper.
    pub pid: u32,
}

impl Supervisor {
    /// The terminal of an exec session.
    pub fn exec_terminal(
        &self,
        id: &str,
        exec_id: &str,
    ) -> Result<Arc<TerminalSession>, LiveError> {
        let entry = self.entry(id)?;
        let execs = lock(&entry.execs);
        execs
            .get(exec_id)
            .map(|s| s.terminal.clone())
            .ok_or_else(|| LiveError::ExecNotFound(exec_id.to_string()))
    }

    /// Starts a new process in a running container, on a new terminal.
    pub async fn exec(&self, id: &str, spec: ExecSpec) -> Result<ExecInfo, LiveError> {
        self.require_live()?;
        let entry = self.entry(id)?;
        let record = entry.record();
        let request = ExecRequest::for_container(
            &record,
            spec.command.clone(),
            spec.namespaces.as_ref(),
            spec.tty,
        )?;
        let config = self.config.runtime.clone();
        // The helper opens the terminal inside the container (its devpts) and hands
        // the master back.
        let (child, master) = blocking(move || exec::spawn(&config, &request)).await??;
        let terminal = TerminalSession::start(master).map_err(|e| {
            LiveError::Runtime(RuntimeError::Sys(
                "terminal",
                nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
            ))
        })?;
        let exec_id = format!("x{:08x}", rand::random::<u32>());
        self.record(&terminal, &entry, Some(&exec_id));
        let pid = child.id();
        lock(&entry.execs).insert(exec_id.clone(), ExecSession { terminal });
        // Reap the helper when it ends; its terminal then reports the end by itself.
        tokio::task::spawn_blocking(move || {
            let mut child = child;
            let _ = child.wait();
        });
        Ok(ExecInfo {
            id: exec_id,
            container: entry.id.clone(),
            command: spec.command,
            pid,
        })
    }
}
