//! [`SimSession`]: a [`Simulator`] driven by [`SimCall`]s, as the Web Worker runs it.
//!
//! The worker only moves JSON in and out; what each request does lives here, so it is
//! tested natively.

use crate::sim_protocol::{SimCall, SimOutcome, SimReply, SimRequest, SimView, DEFAULT_SCENARIO};

use super::simulator::{SimError, Simulator};

/// The simulator behind the worker's message port.
#[derive(Debug)]
pub struct SimSession {
    sim: Simulator,
}

impl SimSession {
    /// A session in the default scenario.
    pub fn new() -> Result<SimSession, SimError> {
        Ok(SimSession {
            sim: Simulator::new(DEFAULT_SCENARIO)?,
        })
    }

    /// Carries out one call and returns its answer with the simulator's new state.
    pub fn answer(&mut self, call: SimCall) -> SimReply {
        let outcome = match self.apply(call.request) {
            Ok(outcome) => outcome,
            Err(e) => SimOutcome::Failed(e.to_string()),
        };
        SimReply::Answer {
            call: call.call,
            outcome,
            view: Box::new(self.view()),
        }
    }

    fn apply(&mut self, request: SimRequest) -> Result<SimOutcome, SimError> {
        let sim = &mut self.sim;
        Ok(match request {
            SimRequest::Reset { scenario } => {
                *sim = Simulator::new(&scenario)?;
                // The scenario's own events are already in its snapshot.
                let _ = sim.drain_events();
                SimOutcome::Done
            }
            SimRequest::RunLine { line } => SimOutcome::Output(sim.run_line(&line)),
            SimRequest::Create { spec } => SimOutcome::Created(sim.create_container(spec)?.id),
            SimRequest::Signal { id, signal } => {
                sim.signal(&id, signal)?;
                SimOutcome::Done
            }
            SimRequest::Remove { id } => {
                sim.remove_container(&id)?;
                SimOutcome::Done
            }
            SimRequest::Attach { id } => {
                sim.attach(&id)?;
                SimOutcome::Done
            }
            // Lessons run on a machine of their own (the worker's lesson machine).
            SimRequest::Lessons { .. }
            | SimRequest::LessonStart { .. }
            | SimRequest::LessonType { .. }
            | SimRequest::LessonExpand { .. }
            | SimRequest::LessonCheck { .. }
            | SimRequest::LessonAnswer { .. } => {
                SimOutcome::Failed("no lesson is running".to_string())
            }
        })
    }

    /// What changed since the last answer, and the state the page shows.
    pub fn view(&mut self) -> SimView {
        SimView {
            events: self.sim.drain_events(),
            snapshot: self.sim.snapshot(),
            prompt: self.sim.prompt(),
            finished: self.sim.is_finished(),
            scenario: self.sim.scenario().to_string(),
            terminals: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ContainerSpec, ContainerStatus, EventKind};

    fn call(session: &mut SimSession, request: SimRequest) -> (SimOutcome, SimView) {
        match session.answer(SimCall { call: 1, request }) {
            SimReply::Answer { outcome, view, .. } => (outcome, *view),
            SimReply::Ready => panic!("an answer, not Ready"),
        }
    }

    #[test]
    fn a_session_runs_lines_and_containers_like_the_simulator() {
        let mut s = SimSession::new().expect("default scenario");
        let (out, view) = call(
            &mut s,
            SimRequest::RunLine {
                line: "hostname".into(),
            },
        );
        assert_eq!(out, SimOutcome::Output("isolab-host\n".into()));
        assert_eq!(view.scenario, DEFAULT_SCENARIO);
        assert_eq!(view.snapshot.containers.len(), 2);
        assert!(!view.prompt.is_empty());

        let spec = ContainerSpec {
            name: Some("lab".into()),
            ..ContainerSpec::default()
        };
        let (out, view) = call(&mut s, SimRequest::Create { spec });
        let SimOutcome::Created(id) = out else {
            panic!("created: {out:?}");
        };
        assert!(view
            .events
            .iter()
            .any(|e| matches!(&e.kind, EventKind::ContainerCreated { .. })));
        let (out, view) = call(
            &mut s,
            SimRequest::Signal {
                id: id.clone(),
                signal: 9,
            },
        );
        assert_eq!(out, SimOutcome::Done);
        let c = view.snapshot.container(&id).expect("still listed");
        assert_eq!(c.status, ContainerStatus::Exited);

        let (out, _) = call(&mut s, SimRequest::Remove { id: "nope".into() });
        assert!(
            matches!(out, SimOutcome::Failed(ref m) if m.contains("nope")),
            "{out:?}"
        );
    }

    #[test]
    fn reset_starts_over_and_refuses_unknown_scenarios() {
        let mut s = SimSession::new().expect("default scenario");
        let (out, view) = call(
            &mut s,
            SimRequest::Reset {
                scenario: "empty".into(),
            },
        );
        assert_eq!(out, SimOutcome::Done);
        assert!(view.snapshot.containers.is_empty());
        assert!(
            view.events.is_empty(),
            "the scenario's events are in its snapshot"
        );
        let (out, view) = call(
            &mut s,
            SimRequest::Reset {
                scenario: "mars".into(),
            },
        );
        assert!(matches!(out, SimOutcome::Failed(ref m) if m.contains("mars")));
        assert_eq!(
            view.scenario, "empty",
            "a refused reset keeps the old machine"
        );
    }
}
