//! [`SimSource`]: a [`Simulator`] in the page; its snapshot and events feed the reducer.

use std::cell::RefCell;
use std::rc::Rc;

use isolab_shared::sim::process::WaitStatus;
use isolab_shared::sim::simulator::Simulator;
use isolab_shared::ContainerSpec;
use yew::Callback;

use super::{same, ActionResult, TerminalTab, TerminalTarget};
use crate::state::{Action, StreamStatus};

/// The scenario a fresh Simulator tab starts from.
pub const DEFAULT_SCENARIO: &str = "two-containers";

/// The simulator, shared by the views and the simulated terminal.
#[derive(Clone)]
pub struct SimSource {
    sim: Rc<RefCell<Simulator>>,
    dispatch: Callback<Action>,
    /// Where out-of-band terminal output goes (a notice after `exec`); set by the terminal.
    terminal_out: Rc<RefCell<Option<Callback<String>>>>,
}

impl PartialEq for SimSource {
    fn eq(&self, other: &Self) -> bool {
        same(&self.sim, &other.sim)
    }
}

impl SimSource {
    /// A simulator in `scenario` feeding `dispatch`.
    pub fn new(scenario: &str, dispatch: Callback<Action>) -> ActionResult<SimSource> {
        let sim = Simulator::new(scenario).map_err(|e| e.to_string())?;
        let source = SimSource {
            sim: Rc::new(RefCell::new(sim)),
            dispatch,
            terminal_out: Rc::new(RefCell::new(None)),
        };
        source.start();
        Ok(source)
    }

    /// Starts over from `scenario`.
    pub fn reset(&self, scenario: &str) -> ActionResult<()> {
        let sim = Simulator::new(scenario).map_err(|e| e.to_string())?;
        *self.sim.borrow_mut() = sim;
        self.start();
        Ok(())
    }

    /// The scenario the simulator started from.
    pub fn scenario(&self) -> String {
        self.sim.borrow().scenario().to_string()
    }

    fn start(&self) {
        let snapshot = {
            let mut sim = self.sim.borrow_mut();
            // The scenario's own events are already in its snapshot.
            let _ = sim.drain_events();
            sim.snapshot()
        };
        self.dispatch.emit(Action::Clear);
        self.dispatch.emit(Action::Status(StreamStatus::Simulated));
        self.dispatch.emit(Action::Snapshot(snapshot));
    }

    /// Sends what happened to the reducer: the events (for the feed) then a fresh
    /// snapshot (cgroup figures the events do not carry).
    fn publish(&self) {
        let (events, snapshot) = {
            let mut sim = self.sim.borrow_mut();
            (sim.drain_events(), sim.snapshot())
        };
        if !events.is_empty() {
            self.dispatch.emit(Action::Events(events));
        }
        self.dispatch.emit(Action::Snapshot(snapshot));
    }

    /// Runs one shell line and returns its output.
    pub fn run_line(&self, line: &str) -> String {
        let out = self.sim.borrow_mut().run_line(line);
        self.publish();
        out
    }

    /// The prompt of the current shell.
    pub fn prompt(&self) -> String {
        self.sim.borrow().prompt()
    }

    /// True once the last shell exited.
    pub fn is_finished(&self) -> bool {
        self.sim.borrow().is_finished()
    }

    /// Lets the terminal receive output that no keystroke caused.
    pub fn set_terminal_out(&self, out: Option<Callback<String>>) {
        *self.terminal_out.borrow_mut() = out;
    }

    /// Creates and starts a container.
    pub fn create(&self, spec: ContainerSpec) -> ActionResult<String> {
        let state = self
            .sim
            .borrow_mut()
            .create_container(spec)
            .map_err(|e| e.to_string())?;
        self.publish();
        Ok(state.id)
    }

    /// Ends the container's first process with `signal` (the model has no grace period).
    pub fn signal(&self, id: &str, signal: i32) -> ActionResult<()> {
        let init = {
            let sim = self.sim.borrow();
            let snapshot = sim.snapshot();
            let c = snapshot
                .container(id)
                .ok_or_else(|| format!("no container '{id}'"))?;
            c.init_pid
                .ok_or_else(|| format!("{} has no process", c.name))?
        };
        {
            let mut sim = self.sim.borrow_mut();
            sim.kernel_mut().exit(init, WaitStatus::Signaled(signal));
            // An empty line makes the simulator notice the exit and emit its events.
            let _ = sim.run_line("");
        }
        self.publish();
        Ok(())
    }

    /// Kills and forgets the container.
    pub fn remove(&self, id: &str) -> ActionResult<()> {
        self.sim
            .borrow_mut()
            .remove_container(id)
            .map_err(|e| e.to_string())?;
        self.publish();
        Ok(())
    }

    /// Opens a shell in the container's namespaces, in the simulated terminal.
    pub fn exec(&self, id: &str, name: &str) -> ActionResult<TerminalTab> {
        self.sim
            .borrow_mut()
            .attach(id)
            .map_err(|e| e.to_string())?;
        self.publish();
        if let Some(out) = self.terminal_out.borrow().as_ref() {
            out.emit(format!(
                "\r\n[a shell in {name}'s namespaces and cgroup; `exit` returns]\r\n{}",
                self.prompt()
            ));
        }
        Ok(self.shell_tab())
    }

    /// The one tab of the simulated shell.
    pub fn shell_tab(&self) -> TerminalTab {
        TerminalTab {
            key: "sim-shell".to_string(),
            title: "simulated shell".to_string(),
            target: TerminalTarget::Simulated(self.clone()),
        }
    }
}
