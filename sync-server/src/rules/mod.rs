//! The server's decisions as plain functions over plain data: whether a pushed operation is
//! admitted, and which area path (scope key) it belongs to. Every storage backend calls these
//! same functions, so SQLite and PostgreSQL cannot disagree about what is accepted.

pub mod admit;
pub mod scope_key;

pub use admit::{Admitted, PushContext, Rejection, admit, check_author};
pub use scope_key::scope_key;
