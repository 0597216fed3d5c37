//! Counting failures per address over a sliding window: wrong join codes (10 a
//! minute) and wrong tokens (20 a minute) each have a [`FailureLimiter`] of their own.
//!
//! Memory stays bounded: an address whose failures are all older than the window is
//! forgotten at the next sweep (at most one window later), and at most
//! [`MAX_TRACKED_ADDRESSES`] are kept at once (the one with the fewest failures goes
//! first). IPv6
//! addresses count per /64, the block one host usually holds, so a host cannot dodge
//! the limit, or flush the others' counts, by changing the low bits.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The most addresses a limiter keeps counts of at once.
pub const MAX_TRACKED_ADDRESSES: usize = 4096;

/// Limits each address to `max` failures per `window`.
pub struct FailureLimiter {
    max: usize,
    window: Duration,
    state: Mutex<Counts>,
}

struct Counts {
    /// The times of each address's recent failures, oldest first (at most `max`).
    failures: HashMap<IpAddr, VecDeque<Instant>>,
    /// When addresses with only old failures were last dropped.
    last_sweep: Option<Instant>,
}

impl FailureLimiter {
    /// A limiter that refuses an address after `max` failures within `window`.
    pub fn new(max: usize, window: Duration) -> Self {
        FailureLimiter {
            max: max.max(1),
            window,
            state: Mutex::new(Counts {
                failures: HashMap::new(),
                last_sweep: None,
            }),
        }
    }

    /// How many failures an address may have per window.
    pub fn max(&self) -> usize {
        self.max
    }

    /// The window failures are counted over.
    pub fn window(&self) -> Duration {
        self.window
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        // Each update leaves the map consistent, so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `from` has failed `max` times within the window before `now`.
    pub fn is_limited(&self, from: IpAddr, now: Instant) -> bool {
        let from = counted_as(from);
        let mut counts = self.lock();
        let Some(times) = counts.failures.get_mut(&from) else {
            return false;
        };
        while times
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= self.window)
        {
            times.pop_front();
        }
        if times.is_empty() {
            counts.failures.remove(&from);
            return false;
        }
        times.len() >= self.max
    }

    /// Counts one failure of `from` at `now`.
    pub fn record_failure(&self, from: IpAddr, now: Instant) {
        let from = counted_as(from);
        let window = self.window;
        let mut counts = self.lock();
        let sweep_due = counts
            .last_sweep
            .is_none_or(|t| now.saturating_duration_since(t) >= window);
        let full =
            counts.failures.len() >= MAX_TRACKED_ADDRESSES && !counts.failures.contains_key(&from);
        if sweep_due || full {
            counts.failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.saturating_duration_since(*t) < window)
            });
            counts.last_sweep = Some(now);
        }
        if counts.failures.len() >= MAX_TRACKED_ADDRESSES && !counts.failures.contains_key(&from) {
            // The fewest failures go first, so many addresses failing once cannot
            // flush out the count of one that is limited.
            let least = counts
                .failures
                .iter()
                .min_by_key(|(_, times)| (times.len(), times.back().copied()))
                .map(|(addr, _)| *addr);
            if let Some(addr) = least {
                counts.failures.remove(&addr);
            }
        }
        let times = counts.failures.entry(from).or_default();
        times.push_back(now);
        while times.len() > self.max {
            times.pop_front();
        }
    }

    /// How many addresses the limiter holds counts of now.
    pub fn tracked(&self) -> usize {
        self.lock().failures.len()
    }
}

/// The key an address is counted under: IPv4 as is (also when mapped into IPv6),
/// IPv6 by its /64.
fn counted_as(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn an_address_is_limited_after_max_failures_until_the_window_passes() {
        let limiter = FailureLimiter::new(20, MINUTE);
        let me: IpAddr = [127, 0, 0, 1].into();
        let other: IpAddr = [127, 0, 0, 2].into();
        let t0 = Instant::now();
        for _ in 0..19 {
            limiter.record_failure(me, t0);
        }
        assert!(!limiter.is_limited(me, t0));
        limiter.record_failure(me, t0);
        assert!(limiter.is_limited(me, t0));
        assert!(!limiter.is_limited(other, t0));
        assert!(limiter.is_limited(me, t0 + MINUTE - Duration::from_millis(1)));
        assert!(!limiter.is_limited(me, t0 + MINUTE));
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let limiter = FailureLimiter::new(2, MINUTE);
        let t0 = Instant::now();
        limiter.record_failure("2001:db8:1:2::1".parse().expect("ip"), t0);
        limiter.record_failure("2001:db8:1:2::ffff".parse().expect("ip"), t0);
        assert!(limiter.is_limited("2001:db8:1:2:abcd::9".parse().expect("ip"), t0));
        assert!(!limiter.is_limited("2001:db8:1:3::1".parse().expect("ip"), t0));
        limiter.record_failure("::ffff:10.0.0.7".parse().expect("ip"), t0);
        limiter.record_failure([10, 0, 0, 7].into(), t0);
        assert!(limiter.is_limited([10, 0, 0, 7].into(), t0));
    }

    #[test]
    fn memory_stays_bounded_and_old_addresses_are_forgotten() {
        let limiter = FailureLimiter::new(3, MINUTE);
        let t0 = Instant::now();
        let addr = |n: u32| IpAddr::from(n.to_be_bytes());
        for n in 0..(MAX_TRACKED_ADDRESSES as u32 + 500) {
            limiter.record_failure(addr(n), t0);
        }
        assert_eq!(limiter.tracked(), MAX_TRACKED_ADDRESSES);
        // A window later, the next failure sweeps the idle ones out.
        limiter.record_failure(addr(u32::MAX), t0 + MINUTE);
        assert_eq!(limiter.tracked(), 1);
        // A full map evicts addresses that failed once, not the limited one.
        let busy = addr(7);
        let t1 = t0 + 2 * MINUTE;
        for _ in 0..3 {
            limiter.record_failure(busy, t1);
        }
        for n in 1000..(1000 + MAX_TRACKED_ADDRESSES as u32 + 10) {
            limiter.record_failure(addr(n), t1 + Duration::from_millis(1));
        }
        assert!(limiter.tracked() <= MAX_TRACKED_ADDRESSES);
        assert!(limiter.is_limited(busy, t1 + Duration::from_millis(2)));
    }
}
