//! The wall clock, read one way: milliseconds since the Unix epoch, as the state
//! files, the database, the event stream and the recordings store them.

/// Milliseconds since the Unix epoch (0 before it; saturates far after it).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
