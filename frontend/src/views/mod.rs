//! The views, and the small components they share.
//!
//! - [`connection_badge`]: the always-visible connection status.
//! - [`live`]: the live host dashboard.
//! - [`simulator`]: the in-browser model kernel.
//! - [`learn`]: lessons on namespaces and cgroups.

pub mod connection_badge;
pub mod learn;
pub mod live;
pub mod simulator;

pub use connection_badge::ConnectionBadge;
pub use learn::LearnView;
pub use live::LiveView;
pub use simulator::SimulatorView;
