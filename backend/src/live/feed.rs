//! One events client's outgoing frames: its start (snapshot or replay), then live
//! events, with its stats deltas at the rate it asked for.
//!
//! Nothing here queues without bound: live events wait in the hub's broadcast ring
//! (shared by every client), and a client that falls more than the ring behind is
//! started over with a fresh snapshot. The caller writes one frame at a time, so a
//! client that stops reading holds at most the frame being written.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use isolab_shared::stream::{STATS_MS_DEFAULT, STATS_MS_FLOOR};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{Interval, MissedTickBehavior};

use super::hub::{EventHub, StartPoint, StatsRate, Subscription};

/// The stats period for a client's `?stats_ms=`: the default when absent, never
/// shorter than the floor.
pub fn stats_period(asked_ms: Option<u64>) -> Duration {
    Duration::from_millis(asked_ms.unwrap_or(STATS_MS_DEFAULT).max(STATS_MS_FLOOR))
}

/// The frames one client is owed, in order.
pub struct Feed {
    hub: Arc<EventHub>,
    subscription: Subscription,
    /// The start point's frames not yet taken.
    start: VecDeque<Bytes>,
    stats_tick: Interval,
    /// Kept while the client is connected, so the sampling loop runs fast enough.
    _rate: StatsRate,
}

impl Feed {
    /// Subscribes: resuming after `since` when the hub still has those events, with
    /// stats every `stats_period`.
    pub fn new(hub: Arc<EventHub>, since: Option<u64>, stats_period: Duration) -> Feed {
        let rate = hub.stats_rate(stats_period);
        let subscription = hub.subscribe(since);
        let mut stats_tick = tokio::time::interval(stats_period);
        stats_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut feed = Feed {
            hub,
            subscription,
            start: VecDeque::new(),
            stats_tick,
            _rate: rate,
        };
        feed.take_start();
        feed
    }

    fn take_start(&mut self) {
        let start = std::mem::replace(&mut self.subscription.start, StartPoint::Replay(Vec::new()));
        self.start = match start {
            StartPoint::Snapshot(frame) => VecDeque::from([frame]),
            StartPoint::Replay(events) => events.iter().map(|e| e.frame.clone()).collect(),
        };
    }

    /// The hub it follows.
    pub fn hub(&self) -> &EventHub {
        &self.hub
    }

    /// Starts over from a fresh snapshot (a client's resync, or one that fell behind).
    pub fn restart(&mut self) {
        self.subscription = self.hub.subscribe(None);
        self.take_start();
    }

    /// The next frame to send; `None` once the hub is gone. Cancel-safe: a frame is
    /// only taken when it is returned.
    pub async fn next(&mut self) -> Option<Bytes> {
        loop {
            if let Some(frame) = self.start.pop_front() {
                return Some(frame);
            }
            tokio::select! {
                received = self.subscription.live.recv() => match received {
                    Ok(published) => return Some(published.frame.clone()),
                    Err(RecvError::Lagged(_)) => self.restart(),
                    Err(RecvError::Closed) => return None,
                },
                _ = self.stats_tick.tick() => {
                    if let Some(frame) = self.hub.stats_frame_since(&mut self.subscription.stats_seen) {
                        return Some(frame);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use isolab_shared::EventKind;

    #[test]
    fn the_stats_period_has_a_default_and_a_floor() {
        assert_eq!(stats_period(None), Duration::from_millis(1000));
        assert_eq!(stats_period(Some(10)), Duration::from_millis(250));
        assert_eq!(stats_period(Some(5000)), Duration::from_millis(5000));
    }

    #[tokio::test]
    async fn a_client_that_falls_behind_gets_one_fresh_snapshot() {
        let hub = Arc::new(EventHub::new(16));
        let mut feed = Feed::new(hub.clone(), None, stats_period(None));
        let first = feed.next().await.expect("the snapshot");
        assert!(first.starts_with(br#"{"type":"snapshot""#));
        // Far more events than the ring holds, while the client reads nothing.
        for i in 0..5000 {
            hub.publish(EventKind::ContainerRemoved { id: i.to_string() });
        }
        let next = feed.next().await.expect("a frame");
        assert!(
            next.starts_with(br#"{"type":"snapshot""#),
            "a snapshot, not the backlog"
        );
        let snapshot: isolab_shared::StreamMessage = serde_json::from_slice(&next).expect("parses");
        assert!(
            matches!(snapshot, isolab_shared::StreamMessage::Snapshot { snapshot } if snapshot.seq == 5000)
        );
    }
}
