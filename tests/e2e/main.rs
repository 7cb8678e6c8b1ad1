//! End-to-end tests, one binary: real `gridwork-server` instances on loopback (random ports,
//! temporary SQLite files, or server processes sharing a PostgreSQL database of their own) and
//! several devices, each its own store.

mod clock_skew;
mod console;
mod fault_proxy;
mod field_rules;
mod harness;
mod intake;
mod personal_data;
mod photos;
mod postgres;
mod refusals;
mod scopes;
mod secure_transport;
mod sync;
mod sync_fault_network;
mod sync_faults;
mod sync_property;
