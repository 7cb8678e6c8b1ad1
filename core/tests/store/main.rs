//! Integration tests of the device store, compiled into one binary: the field scenarios, the
//! crash test, search with Chinese data.

mod alarms;
mod common;
mod crash;
mod damaged;
mod encryption;
mod field;
mod key_groups;
mod patrols;
mod search;
mod supervision;
mod tenants;
mod weekly_brief;
mod workflow_world;
