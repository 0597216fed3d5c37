//! [`SimSource`]: the simulator as a [`LessonSource`]. Each target gets a terminal of its
//! own; probes run on a copy of the machine, so a check changes nothing anyone sees.

use std::collections::BTreeMap;

use crate::limits::Limits;
use crate::protocol::{ContainerSpec, ContainerState, Event, Snapshot};
use crate::sim::shell::{Shell, MS_PER_LINE};
use crate::sim::{SimError, Simulator};

use super::judge::PROBE_TIMEOUT_MS;
use super::model::SourceKind;
use super::source::{LessonSource, ProbeRun, SourceError, Target};

/// The scenario a lesson's machine starts from; its setup adds the containers.
pub const LESSON_SCENARIO: &str = "empty";

/// A simulated machine with one terminal per target and a log of its events.
#[derive(Debug)]
pub struct SimSource {
    sim: Simulator,
    terminals: BTreeMap<Target, Shell>,
    events: Vec<Event>,
}

impl SimSource {
    /// A fresh machine in [`LESSON_SCENARIO`].
    pub fn new() -> Result<SimSource, SimError> {
        Ok(SimSource {
            sim: Simulator::new(LESSON_SCENARIO)?,
            terminals: BTreeMap::new(),
            events: Vec::new(),
        })
    }

    /// The simulator underneath.
    pub fn simulator(&self) -> &Simulator {
        &self.sim
    }

    /// The simulator underneath, to change it outside a lesson's steps (the page's
    /// container buttons); its events still reach [`LessonSource::events_since`].
    pub fn simulator_mut(&mut self) -> &mut Simulator {
        &mut self.sim
    }

    /// The prompt of `target`'s terminal, once a line was typed there.
    pub fn prompt(&self, target: &Target) -> Option<String> {
        self.terminals
            .get(target)
            .map(|shell| shell.prompt(self.sim.kernel()))
    }

    fn collect_events(&mut self) {
        let new = self.sim.drain_events();
        self.events.extend(new);
    }
}

fn container_of(target: &Target) -> Option<&str> {
    match target {
        Target::Host => None,
        Target::Container(id) => Some(id),
    }
}

fn refused(e: SimError) -> SourceError {
    SourceError(e.to_string())
}

impl LessonSource for SimSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Sim
    }

    async fn create(&mut self, spec: &ContainerSpec) -> Result<ContainerState, SourceError> {
        let state = self.sim.create_container(spec.clone()).map_err(refused);
        self.collect_events();
        state
    }

    async fn remove(&mut self, id: &str) -> Result<(), SourceError> {
        self.terminals.remove(&Target::Container(id.to_string()));
        let done = self.sim.remove_container(id).map_err(refused);
        self.collect_events();
        done
    }

    async fn type_line(&mut self, target: &Target, line: &str) -> Result<String, SourceError> {
        let mut shell = match self.terminals.remove(target) {
            Some(shell) if shell.pid().is_some() => shell,
            _ => self.sim.open_shell(container_of(target)).map_err(refused)?,
        };
        let out = self.sim.run_line_in(&mut shell, line);
        self.terminals.insert(target.clone(), shell);
        self.collect_events();
        Ok(out)
    }

    async fn probe(&mut self, target: &Target, command: &str) -> Result<ProbeRun, SourceError> {
        let mut scratch = self.sim.clone();
        let mut shell = scratch.open_shell(container_of(target)).map_err(refused)?;
        let started = scratch.kernel().now_ms;
        let output = scratch.run_line_in(&mut shell, command);
        // The model's clock is logical: a probe that sleeps past the limit timed out.
        let took = scratch
            .kernel()
            .now_ms
            .saturating_sub(started + MS_PER_LINE);
        if took > PROBE_TIMEOUT_MS {
            return Ok(ProbeRun::TimedOut);
        }
        Ok(ProbeRun::Finished {
            exit: shell.last_status,
            output,
        })
    }

    async fn set_limits(
        &mut self,
        id: &str,
        limits: &Limits,
    ) -> Result<ContainerState, SourceError> {
        let state = self.sim.set_limits(id, limits.clone()).map_err(refused);
        self.collect_events();
        state
    }

    async fn snapshot(&mut self) -> Result<Snapshot, SourceError> {
        Ok(self.sim.snapshot())
    }

    async fn events_since(&mut self, seq: u64) -> Result<Vec<Event>, SourceError> {
        self.collect_events();
        Ok(self
            .events
            .iter()
            .filter(|e| e.seq > seq)
            .cloned()
            .collect())
    }
}
