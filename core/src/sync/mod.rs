//! Sync on the device: the transport to the server, the engine's named steps, retry with
//! backoff, and the state the app observes.

pub mod backoff;
pub mod engine;
mod rescope;
mod restamp;
pub mod state;
pub mod transport;

pub use backoff::RetryPolicy;
pub use engine::SyncError;
pub use state::{SyncObserver, SyncProgress, SyncReport, SyncState, SyncStep};
pub use transport::{HttpTransport, Transport, TransportError};

#[cfg(test)]
mod bootstrap_tests;
