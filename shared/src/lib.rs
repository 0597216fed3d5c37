//! isolab's shared vocabulary: what the live backend and the simulator both speak.
//!
//! # Layout
//! - [`protocol`]: the serde types of the API: [`protocol::Snapshot`], [`protocol::Event`],
//!   [`protocol::ContainerSpec`], [`protocol::ContainerState`], and the typed API error.
//! - [`namespace`]: the seven namespace kinds, their flags and what each isolates.
//! - [`hardening`]: Docker's default capabilities, masked and read-only paths.
//! - [`limits`]: parsing and checking of resource limits (`64M`, `0.5` cpus).
//! - [`plan`]: a [`protocol::ContainerSpec`] -> the ordered setup steps of a container,
//!   given [`plan::HostFacts`]; the runtime and the simulator both apply it.
//! - [`seccomp`]: the seccomp policy: isolab's default profile, the common JSON profile
//!   format, and the x86_64 system call table both are counted against.
//! - [`userns`]: the id ranges of `userns: auto` containers: where they lie, the
//!   subuid line format they are recorded in, and the choice of a free one.
//! - [`stream`]: the event stream's messages and [`protocol::Snapshot::apply`].
//! - [`compact`]: the event stream's compact form of a container (no setup steps, only
//!   the per-process namespaces that differ) and stats deltas.
//! - [`sim`]: the simulator, a model of the kernel's isolation rules (no IO).
//! - [`sim_protocol`]: the messages between the page and the simulator's Web Worker.
//! - [`wire`]: deserialisation of the API's tagged messages without serde's buffering.
//! - [`lesson`]: self-checking lessons: their format, checks, and a source-agnostic runner.
//!
//! Nothing here does IO, so the crate builds for the host and for `wasm32-unknown-unknown`.

pub mod compact;
pub mod hardening;
pub mod lesson;
pub mod limits;
pub mod namespace;
pub mod plan;
pub mod protocol;
pub mod seccomp;
pub mod sim;
pub mod sim_protocol;
pub mod stream;
pub mod userns;
pub mod wire;

pub use namespace::{NamespaceKind, NamespaceSet};
pub use protocol::*;
pub use stream::{ClientMessage, StreamMessage};
