//! The player's clock and what the recording shows at a moment: how many events have
//! happened by time `t`, the terminal work that takes the screen from one moment to
//! another (a backward seek resets and writes again), and the container rebuilt from
//! the markers' events with [`Snapshot::apply`], the rule the server and the live views
//! use.

use std::ops::Range;
use std::rc::Rc;

use isolab_shared::{Event, EventKind, LimitKind, Snapshot};
use yew::Reducible;

use super::cast::{Cast, CastEvent};

/// The speeds offered.
pub const SPEEDS: [f64; 5] = [0.5, 1.0, 2.0, 4.0, 8.0];
/// How far an arrow key seeks, in seconds.
pub const ARROW_SEEK: f64 = 5.0;

/// How many events have happened at `t` (those at or before it).
pub fn index_at(cast: &Cast, t: f64) -> usize {
    cast.events.partition_point(|(at, _)| *at <= t)
}

/// What the terminal does next.
#[derive(Clone, Debug, PartialEq)]
pub enum TermOp {
    /// Clear the screen and the modes (a backward seek starts over).
    Reset,
    /// Set the size (columns, rows).
    Resize(u16, u16),
    /// Write output.
    Write(String),
}

/// The terminal work that takes a screen showing the first `shown` events to one
/// showing the first `target`: more output when going forward, else a reset (to the
/// header's size) and the output again from the start. Adjacent output is joined.
pub fn seek_ops(cast: &Cast, shown: usize, target: usize) -> Vec<TermOp> {
    let target = target.min(cast.events.len());
    let (mut ops, range): (Vec<TermOp>, Range<usize>) = if target >= shown {
        (Vec::new(), shown..target)
    } else {
        (
            vec![TermOp::Reset, TermOp::Resize(cast.width, cast.height)],
            0..target,
        )
    };
    for (_, event) in &cast.events[range] {
        match event {
            CastEvent::Output(text) => match ops.last_mut() {
                Some(TermOp::Write(w)) => w.push_str(text),
                _ => ops.push(TermOp::Write(text.clone())),
            },
            CastEvent::Resize(c, r) => ops.push(TermOp::Resize(*c, *r)),
            CastEvent::Marker { .. } => {}
        }
    }
    ops
}

/// The container as the recording knew it at `t`, with what had happened to it.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Moment {
    /// The header's container with every marked event up to `t` folded in.
    pub snapshot: Snapshot,
    /// How many markers (of any kind) had been passed.
    pub markers_passed: usize,
    /// Limit hits so far, per limit: (pids, memory, cpu).
    pub limit_hits: (u32, u32, u32),
    /// OOM kills so far.
    pub oom_kills: u32,
}

/// The container at `t`, rebuilt from the header and the markers' events.
pub fn moment_at(cast: &Cast, t: f64) -> Moment {
    let mut m = Moment::default();
    if let Some(c) = &cast.container {
        m.snapshot.containers.push(c.clone());
    }
    let mut seq = 0;
    for (_, event) in &cast.events[..index_at(cast, t)] {
        let CastEvent::Marker { event, .. } = event else {
            continue;
        };
        m.markers_passed += 1;
        let Some(kind) = event else { continue };
        match kind.as_ref() {
            EventKind::LimitHit { limit, .. } => match limit {
                LimitKind::Pids => m.limit_hits.0 += 1,
                LimitKind::Memory => m.limit_hits.1 += 1,
                LimitKind::Cpu => m.limit_hits.2 += 1,
            },
            EventKind::ContainerOomKilled { .. } => m.oom_kills += 1,
            _ => {}
        }
        seq += 1;
        m.snapshot.apply(&Event {
            seq,
            at_ms: 0,
            kind: kind.as_ref().clone(),
        });
    }
    m
}

/// The player's clock.
#[derive(Clone, Debug, PartialEq)]
pub struct Clock {
    /// Where the player is, in seconds.
    pub position: f64,
    pub duration: f64,
    pub playing: bool,
    pub speed: f64,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            position: 0.0,
            duration: 0.0,
            playing: false,
            speed: 1.0,
        }
    }
}

/// What changes the clock.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ClockAction {
    /// A recording of this length was loaded: back to its start, paused.
    Load(f64),
    /// Play, or pause; playing at the end starts over.
    Toggle,
    /// Go to a moment (clamped to the recording).
    Seek(f64),
    /// Go by some seconds (negative: back).
    SeekBy(f64),
    /// Wall-clock seconds passed while playing.
    Tick(f64),
    SetSpeed(f64),
}

impl Clock {
    /// Applies one action in place.
    pub fn apply(&mut self, action: ClockAction) {
        let clamp = |t: f64, d: f64| if t.is_finite() { t.clamp(0.0, d) } else { 0.0 };
        match action {
            ClockAction::Load(duration) => {
                *self = Clock {
                    duration: duration.max(0.0),
                    speed: self.speed,
                    ..Clock::default()
                }
            }
            ClockAction::Toggle => {
                if !self.playing && self.position >= self.duration {
                    self.position = 0.0;
                }
                self.playing = !self.playing;
            }
            ClockAction::Seek(t) => self.position = clamp(t, self.duration),
            ClockAction::SeekBy(dt) => self.position = clamp(self.position + dt, self.duration),
            ClockAction::Tick(dt) => {
                if self.playing {
                    self.position = clamp(self.position + dt * self.speed, self.duration);
                    if self.position >= self.duration {
                        self.playing = false;
                    }
                }
            }
            ClockAction::SetSpeed(s) => {
                if s.is_finite() && s > 0.0 {
                    self.speed = s;
                }
            }
        }
    }
}

impl Reducible for Clock {
    type Action = ClockAction;

    fn reduce(self: Rc<Self>, action: ClockAction) -> Rc<Self> {
        let mut c = Rc::unwrap_or_clone(self);
        c.apply(action);
        Rc::new(c)
    }
}

/// `m:ss.s` for a moment of the recording.
pub fn format_time(seconds: f64) -> String {
    let s = seconds.max(0.0);
    let minutes = (s / 60.0).floor();
    format!("{}:{:04.1}", minutes as u64, s - minutes * 60.0)
}
