//! Integration tests of the device store, compiled into one binary: the field scenarios, the
//! crash test, search with Chinese data.

mod common;
mod crash;
mod field;
mod search;
