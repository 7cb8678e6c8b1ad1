//! The server's decisions as plain functions over plain data: whether a pushed operation is
//! admitted and allowed for the user's role and scope, which area path (scope key) it belongs
//! to and where a record sits for the scope rules (`place`). Every storage backend calls these
//! same functions, so SQLite and PostgreSQL cannot disagree about what is accepted.

pub mod admit;
pub mod authorize;
pub mod place;
pub mod scope_key;

pub use admit::{Admitted, PushContext, Rejection, admit, check_author};
pub use authorize::authorize;
pub use place::place;
pub use scope_key::{key_of, parent, scope_key};
