//! `GET /api/v1/metrics`: Prometheus text format, per container and for the server.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use isolab_shared::Snapshot;

/// A counter or gauge.
#[derive(Default, Debug)]
pub struct Gauge(AtomicU64);

impl Gauge {
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    pub fn dec(&self) {
        // Saturating: a gauge never wraps below zero.
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(1))
            });
    }
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The server's own counters.
#[derive(Default, Debug)]
pub struct ServerMetrics {
    /// Connected event-stream clients.
    pub clients: Gauge,
    /// Attached terminal clients.
    pub terminals: Gauge,
    /// WebSocket frames sent.
    pub frames_out: Gauge,
    /// WebSocket frames received.
    pub frames_in: Gauge,
    /// Requests answered with an error.
    pub errors: Gauge,
}

/// Picks one figure out of a container's cgroup usage.
type UsagePick = fn(&isolab_shared::CgroupUsage) -> Option<u64>;

/// Escapes a label value for the text format.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Renders the metrics of `snapshot`'s containers and the server counters.
pub fn render(snapshot: &Snapshot, server: &ServerMetrics) -> String {
    let mut out = String::new();
    let per_container: [(&str, &str, UsagePick); 4] = [
        ("isolab_container_cpu_usage_seconds_total", "counter", |u| {
            u.cpu_usage_us
        }),
        ("isolab_container_memory_bytes", "gauge", |u| {
            u.memory_current
        }),
        ("isolab_container_pids", "gauge", |u| u.pids_current),
        ("isolab_container_oom_kills_total", "counter", |u| {
            u.oom_kills
        }),
    ];
    for (name, kind, pick) in per_container {
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for c in &snapshot.containers {
            let Some(value) = c.cgroup.as_ref().and_then(pick) else {
                continue;
            };
            let value = if name.ends_with("_seconds_total") {
                format!("{}", value as f64 / 1e6)
            } else {
                value.to_string()
            };
            let _ = writeln!(
                out,
                "{name}{{id=\"{}\",name=\"{}\"}} {value}",
                label(&c.id),
                label(&c.name)
            );
        }
    }
    let server_lines = [
        (
            "isolab_containers",
            "gauge",
            snapshot.containers.len() as u64,
        ),
        ("isolab_event_clients", "gauge", server.clients.get()),
        ("isolab_terminal_clients", "gauge", server.terminals.get()),
        (
            "isolab_ws_frames_sent_total",
            "counter",
            server.frames_out.get(),
        ),
        (
            "isolab_ws_frames_received_total",
            "counter",
            server.frames_in.get(),
        ),
        ("isolab_errors_total", "counter", server.errors.get()),
        ("isolab_events_total", "counter", snapshot.seq),
    ];
    for (name, kind, value) in server_lines {
        let _ = writeln!(out, "# TYPE {name} {kind}\n{name} {value}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_server_counters() {
        let m = ServerMetrics::default();
        m.clients.inc();
        m.clients.inc();
        m.clients.dec();
        m.errors.dec();
        let text = render(&Snapshot::default(), &m);
        assert!(text.contains("isolab_event_clients 1\n"), "{text}");
        assert!(text.contains("isolab_errors_total 0\n"), "{text}");
        assert!(
            text.contains("# TYPE isolab_container_memory_bytes gauge"),
            "{text}"
        );
    }
}
