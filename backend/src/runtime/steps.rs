//! Records each applied setup step with its call, result and duration, so the UI can
//! replay how a container was made.

use std::fmt::Display;
use std::time::Instant;

use isolab_shared::{SetupPhase, SetupStep};

/// An ordered log of applied setup steps.
#[derive(Debug, Default, Clone)]
pub struct StepLog {
    steps: Vec<SetupStep>,
}

impl StepLog {
    /// An empty log.
    pub fn new() -> Self {
        StepLog::default()
    }

    /// Runs `apply`, recording it as step `name` in `phase`, described by `call`
    /// (the syscall or file write with its arguments). The result is passed through.
    pub fn record<T, E: Display>(
        &mut self,
        phase: SetupPhase,
        name: &str,
        call: impl Into<String>,
        apply: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        let started = Instant::now();
        let result = apply();
        self.steps.push(SetupStep {
            phase,
            name: name.to_string(),
            call: call.into(),
            error: result.as_ref().err().map(|e| e.to_string()),
            duration_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        });
        result
    }

    /// How many steps are recorded.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether no step is recorded.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Writes the call text of step `index`, recorded without it.
    pub fn set_call(&mut self, index: usize, call: String) {
        if let Some(step) = self.steps.get_mut(index) {
            step.call = call;
        }
    }

    /// Adds steps recorded elsewhere (for example by the container's init process).
    pub fn extend(&mut self, steps: impl IntoIterator<Item = SetupStep>) {
        self.steps.extend(steps);
    }

    /// The steps so far.
    pub fn steps(&self) -> &[SetupStep] {
        &self.steps
    }

    /// The recorded steps, in order.
    pub fn into_steps(self) -> Vec<SetupStep> {
        self.steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_success_and_failure_in_order() {
        let mut log = StepLog::new();
        let ok: Result<u32, String> = log.record(SetupPhase::Mounts, "first", "mount(a)", || Ok(1));
        assert_eq!(ok, Ok(1));
        let err: Result<(), String> = log.record(SetupPhase::Cgroup, "second", "write(b)", || {
            Err("EPERM".to_string())
        });
        assert!(err.is_err());
        let steps = log.into_steps();
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[0].name, "first");
        assert_eq!(steps[0].error, None);
        assert_eq!(steps[1].error.as_deref(), Some("EPERM"));
        assert_eq!(steps[1].phase, SetupPhase::Cgroup);
    }
}
