//! End-to-end tests, one binary: real `gridwork-server` instances on loopback (random ports,
//! temporary SQLite files) and several devices, each its own store.

mod harness;
mod secure_transport;
mod sync;
mod sync_faults;
mod sync_property;
