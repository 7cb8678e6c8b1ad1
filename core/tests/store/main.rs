//! Integration tests of the device store, compiled into one binary: the field scenarios, the
//! crash test, search with Chinese data.

mod alarms;
mod common;
mod crash;
mod damaged;
mod encryption;
mod field;
mod key_groups;
mod ledger;
mod pages;
mod patrols;
mod response_policy;
mod search;
mod supervision;
mod tenants;
mod timeline;
mod weekly_brief;
mod workflow_world;
