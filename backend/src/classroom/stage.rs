//! What the teacher shows and takes over: the one container broadcast read-only to
//! every student, and the students' terminals the teacher has taken control of (so
//! the student can be told). Both live in memory: a restarted server broadcasts
//! nothing and controls nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use super::changes::Changes;

/// The broadcast and the terminals taken over, of one class.
pub struct Stage {
    broadcast: watch::Sender<Option<String>>,
    /// Open control-mode sockets of the teacher, per (student id, container id).
    controls: Mutex<HashMap<(String, String), usize>>,
    /// The class's change counter: students' bars show both of the above.
    changes: Arc<Changes>,
}

impl Default for Stage {
    fn default() -> Self {
        Stage::new(Arc::new(Changes::default()))
    }
}

/// Counts one teacher's control-mode socket on a student's terminal while it lives.
pub struct ControlGuard {
    stage: Arc<Stage>,
    key: (String, String),
}

impl Drop for ControlGuard {
    fn drop(&mut self) {
        let mut controls = self.stage.lock_controls();
        if let Some(n) = controls.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                controls.remove(&self.key);
                drop(controls);
                self.stage.changes.bump();
            }
        }
    }
}

impl Stage {
    /// A stage that bumps `changes` when the broadcast or a control changes.
    pub fn new(changes: Arc<Changes>) -> Self {
        Stage {
            broadcast: watch::Sender::new(None),
            controls: Mutex::new(HashMap::new()),
            changes,
        }
    }

    fn lock_controls(&self) -> MutexGuard<'_, HashMap<(String, String), usize>> {
        // Each update is one counter change, so a poisoned lock is still consistent.
        self.controls.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The container broadcast now, if any.
    pub fn broadcast(&self) -> Option<String> {
        self.broadcast.borrow().clone()
    }

    /// Broadcasts container `id` (its real id), or stops broadcasting.
    pub fn set_broadcast(&self, id: Option<String>) {
        if self.broadcast.send_replace(id.clone()) != id {
            self.changes.bump();
        }
    }

    /// Completes once container `id` is no longer the one broadcast (at once if it
    /// is not now): a student's view of it must close then.
    pub fn broadcast_ended(
        &self,
        id: &str,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut changes = self.broadcast.subscribe();
        let id = id.to_string();
        async move {
            loop {
                if changes.borrow_and_update().as_deref() != Some(id.as_str()) {
                    return;
                }
                if changes.changed().await.is_err() {
                    return;
                }
            }
        }
    }

    /// Records that the teacher controls `student`'s terminal of `container` until
    /// the guard is dropped.
    pub fn take_control(self: &Arc<Self>, student: &str, container: &str) -> ControlGuard {
        let key = (student.to_string(), container.to_string());
        let first = {
            let mut controls = self.lock_controls();
            let n = controls.entry(key.clone()).or_default();
            *n += 1;
            *n == 1
        };
        if first {
            self.changes.bump();
        }
        ControlGuard {
            stage: self.clone(),
            key,
        }
    }

    /// The containers of `student` whose terminal the teacher controls now.
    pub fn taken_over(&self, student: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .lock_controls()
            .keys()
            .filter(|(s, _)| s == student)
            .map(|(_, c)| c.clone())
            .collect();
        ids.sort();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_view_of_the_broadcast_ends_when_it_changes() {
        let stage = Arc::new(Stage::default());
        // Not broadcast: over at once.
        stage.broadcast_ended("c1").await;
        stage.set_broadcast(Some("c1".into()));
        let ended = tokio::spawn(stage.broadcast_ended("c1"));
        tokio::task::yield_now().await;
        assert!(!ended.is_finished());
        stage.set_broadcast(Some("c2".into()));
        tokio::time::timeout(std::time::Duration::from_secs(1), ended)
            .await
            .expect("ends when another is broadcast")
            .expect("joins");
    }

    #[test]
    fn control_lasts_while_a_guard_lives() {
        let stage = Arc::new(Stage::default());
        let a = stage.take_control("s1", "c1");
        let b = stage.take_control("s1", "c1");
        assert_eq!(stage.taken_over("s1"), vec!["c1".to_string()]);
        assert!(stage.taken_over("s2").is_empty());
        drop(a);
        assert_eq!(stage.taken_over("s1").len(), 1);
        drop(b);
        assert!(stage.taken_over("s1").is_empty());
    }
}
