//! Roles and scopes as pure rules: who may see which record and who may change what.
//!
//! The server enforces these rules on every push and filters every pull, snapshot and long poll
//! with them; the device runs the same functions to show a user only the actions they may take.
//! Nothing here reads a database: the caller describes a record by its [`Place`] (its area path,
//! building, station and case facts) and a user by their [`ScopeView`]. The newcomer's
//! description is `docs/scopes.md`.
//!
//! - [`place`]: where a record sits, the facts visibility depends on.
//! - [`scope_key`] and [`locate`]: a record's area path and its [`Place`], found by following its
//!   links through a lookup (the server's tables, the device's store).
//! - [`bucket`]: the index keys a record is filed under and a user reads (pulls and snapshots
//!   that cost what a phone's scope holds, not the city).
//! - [`view`]: a user's role, scope and the area paths their scope hangs from.
//! - [`visibility`]: whether a user may see a record.
//! - [`permission`]: whether a user may make a change, with the reason when not.
//! - [`redact`]: personal fields a role must not hold, removed before sending.
//! - [`retention`]: when a checked-out tenant's personal data leaves the phones.

pub mod bucket;
pub mod locate;
pub mod permission;
pub mod place;
pub mod redact;
pub mod retention;
pub mod scope_key;
pub mod view;
pub mod visibility;

#[cfg(test)]
pub(crate) mod test_support;

pub use bucket::{Bucket, filed_under, filed_under_move, read_by};
pub use locate::{locate, moved};
pub use permission::{Change, Decision, Denial, decide, decide_tenant};
pub use place::{CaseFacts, Place, responders};
pub use redact::{hidden_fields, redact_op, redact_record};
pub use retention::{
    DEFAULT_TENANT_RETENTION_DAYS, MAX_TENANT_RETENTION_DAYS, tenant_data_expired,
};
pub use scope_key::{key_of, known_areas, parent, scope_key};
pub use view::ScopeView;
pub use visibility::visible;
