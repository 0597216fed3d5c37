//! The class's change counter: a number that grows whenever what the roster or a
//! student's bar shows may have changed (someone joined or left, a hand went up, a
//! socket opened or closed, a broadcast started, a container came or went).
//!
//! Pages wait on it (`GET /classroom/changes?since=N`) instead of polling: the
//! answer comes as soon as the class changes, so the teacher's roster follows the
//! room within milliseconds, and an idle class costs one pending request per page.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;

/// How long a wait for a change lasts before it answers "no change" anyway (below
/// the usual proxy and browser idle timeouts).
pub const LONGEST_WAIT: Duration = Duration::from_secs(25);

/// The counter. Cheap to bump; waiters wake on every bump.
#[derive(Debug)]
pub struct Changes {
    version: watch::Sender<u64>,
    /// Set when the server stops: waits answer at once, so that no pending request
    /// holds up the server's graceful shutdown for a whole wait.
    closed: AtomicBool,
}

impl Default for Changes {
    fn default() -> Self {
        Changes {
            // Starts at 1 so that a page's first wait (since=0) answers at once.
            version: watch::Sender::new(1),
            closed: AtomicBool::new(false),
        }
    }
}

impl Changes {
    /// Says that the class changed.
    pub fn bump(&self) {
        self.version.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Ends every wait now and later (the server is stopping).
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.bump();
    }

    /// The version now.
    pub fn version(&self) -> u64 {
        *self.version.borrow()
    }

    /// The first version other than `since`: at once when the class has moved on
    /// (or the caller knows a version from another server's life), else after the
    /// next change, or `since` again after `longest`.
    pub async fn after(&self, since: u64, longest: Duration) -> u64 {
        if self.closed.load(Ordering::SeqCst) {
            return self.version();
        }
        let mut rx = self.version.subscribe();
        let wait = async move { rx.wait_for(|v| *v != since).await.map(|v| *v) };
        match tokio::time::timeout(longest, wait).await {
            Ok(Ok(v)) => v,
            _ => self.version(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_waiter_wakes_on_the_next_change_and_not_before() {
        let changes = std::sync::Arc::new(Changes::default());
        let now = changes.version();
        assert_eq!(changes.after(0, Duration::from_secs(5)).await, now);
        let waiter = {
            let changes = changes.clone();
            tokio::spawn(async move { changes.after(now, Duration::from_secs(5)).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "no change yet");
        changes.bump();
        let woke = tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("woke within 1 s")
            .expect("task");
        assert_eq!(woke, now + 1);
    }

    #[tokio::test]
    async fn closing_ends_every_wait_at_once() {
        let changes = std::sync::Arc::new(Changes::default());
        let now = changes.version();
        let waiter = {
            let changes = changes.clone();
            tokio::spawn(async move { changes.after(now, Duration::from_secs(30)).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        changes.close();
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("the pending wait ended")
            .expect("task");
        let later = changes.version();
        let again = tokio::time::timeout(
            Duration::from_secs(1),
            changes.after(later, Duration::from_secs(30)),
        );
        assert_eq!(again.await.expect("a new wait ends at once"), later);
    }

    #[tokio::test]
    async fn a_wait_without_change_ends_with_the_same_version() {
        let changes = Changes::default();
        let now = changes.version();
        assert_eq!(changes.after(now, Duration::from_millis(30)).await, now);
    }
}
