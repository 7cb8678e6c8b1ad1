//! The sync protocol's wire types (`/v1`, HTTP + JSON), shared by the device and the server.
//! `docs/sync-protocol.md` describes the exchange with examples.

pub mod refusal;
pub mod wire;

pub use wire::*;
