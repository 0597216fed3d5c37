//! Stats for the event hub: the latest figures with the generation each last changed
//! in, so any client can ask for what changed since its last look (a delta at its own
//! rate), and the rates clients asked for, so the sampling loop runs as often as the
//! fastest one needs.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use isolab_shared::CgroupUsage;

/// The latest usage figures of each running container.
#[derive(Default)]
pub(super) struct StatsBook {
    /// Bumped by every sample.
    generation: u64,
    /// Per container: the generation its figures last changed in, and the figures.
    figures: HashMap<String, (u64, CgroupUsage)>,
}

impl StatsBook {
    /// Takes a sample; returns the figures that changed. Containers missing from it
    /// (exited, removed) are forgotten.
    pub(super) fn record(
        &mut self,
        usage: BTreeMap<String, CgroupUsage>,
    ) -> BTreeMap<String, CgroupUsage> {
        self.generation += 1;
        self.figures.retain(|id, _| usage.contains_key(id));
        let mut changed = BTreeMap::new();
        for (id, now) in usage {
            let same = self
                .figures
                .get(&id)
                .is_some_and(|(_, before)| *before == now);
            if !same {
                changed.insert(id.clone(), now.clone());
                self.figures.insert(id, (self.generation, now));
            }
        }
        changed
    }

    /// The latest generation.
    pub(super) fn generation(&self) -> u64 {
        self.generation
    }

    /// The latest generation and the figures changed after generation `seen`.
    pub(super) fn since(&self, seen: u64) -> (u64, BTreeMap<String, CgroupUsage>) {
        let usage = self
            .figures
            .iter()
            .filter(|(_, (changed, _))| *changed > seen)
            .map(|(id, (_, u))| (id.clone(), u.clone()))
            .collect();
        (self.generation, usage)
    }
}

/// The stats periods that connected clients asked for.
#[derive(Default)]
pub(super) struct StatsRates {
    next: Mutex<(u64, BTreeMap<u64, Duration>)>,
}

impl StatsRates {
    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, BTreeMap<u64, Duration>)> {
        // Every update is a single insert or remove: a poisoned lock is still whole.
        self.next.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The shortest period asked for, if any client asked.
    pub(super) fn fastest(&self) -> Option<Duration> {
        self.lock().1.values().min().copied()
    }
}

/// One client's stats period, counted while it lives.
pub struct StatsRate {
    rates: Arc<StatsRates>,
    key: u64,
    period: Duration,
}

impl StatsRate {
    pub(super) fn register(rates: &Arc<StatsRates>, period: Duration) -> StatsRate {
        let mut guard = rates.lock();
        guard.0 += 1;
        let key = guard.0;
        guard.1.insert(key, period);
        StatsRate {
            rates: rates.clone(),
            key,
            period,
        }
    }

    /// The period this client gets stats at.
    pub fn period(&self) -> Duration {
        self.period
    }
}

impl Drop for StatsRate {
    fn drop(&mut self) {
        self.rates.lock().1.remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(pairs: &[(&str, u64)]) -> BTreeMap<String, CgroupUsage> {
        pairs
            .iter()
            .map(|(id, cpu)| {
                let u = CgroupUsage {
                    cpu_usage_us: Some(*cpu),
                    ..Default::default()
                };
                (id.to_string(), u)
            })
            .collect()
    }

    #[test]
    fn only_changed_figures_are_new_and_each_client_gets_its_own_delta() {
        let mut book = StatsBook::default();
        assert_eq!(book.record(usage(&[("a", 1), ("b", 1)])).len(), 2);
        let after_first = book.generation();
        let changed = book.record(usage(&[("a", 2), ("b", 1)]));
        assert_eq!(changed.keys().collect::<Vec<_>>(), ["a"]);
        book.record(usage(&[("a", 2), ("b", 1)]));
        // A client that saw the first sample gets only "a"; a new one gets both.
        let (_, delta) = book.since(after_first);
        assert_eq!(delta.keys().collect::<Vec<_>>(), ["a"]);
        assert_eq!(book.since(0).1.len(), 2);
        let (now, nothing) = book.since(book.generation());
        assert_eq!(now, book.generation());
        assert!(nothing.is_empty());
        // Gone from the sample: forgotten.
        book.record(usage(&[("a", 2)]));
        assert_eq!(book.since(0).1.len(), 1);
    }

    #[test]
    fn the_fastest_live_rate_counts() {
        let rates = Arc::new(StatsRates::default());
        assert_eq!(rates.fastest(), None);
        let slow = StatsRate::register(&rates, Duration::from_millis(5000));
        let fast = StatsRate::register(&rates, Duration::from_millis(250));
        assert_eq!(rates.fastest(), Some(Duration::from_millis(250)));
        drop(fast);
        assert_eq!(rates.fastest(), Some(slow.period()));
        drop(slow);
        assert_eq!(rates.fastest(), None);
    }
}
