//! The server's integration tests, compiled into one binary: storage conformance (any backend),
//! and the HTTP protocol through a real listener on 127.0.0.1:0 the way phones use it: push and
//! pull, long polls, bootstrap, enrollment and revocation, rejections and restarts on both
//! backends (`sqlite_backend::` and `postgres_backend::` in the test names), the rest on SQLite.

mod areas;
mod bad_input;
mod blobs;
mod bootstrap;
mod cli;
mod common;
mod conformance;
mod console;
mod crash;
mod enroll;
mod hostile;
mod import;
mod intake;
mod integration_doc;
mod ledger;
mod limits;
mod logs;
mod long_poll;
mod operations;
mod postgres;
mod push_pull;
mod rate_limits;
mod rejections;
mod restart;
mod sqlite;
mod tls;
mod wire_examples;
