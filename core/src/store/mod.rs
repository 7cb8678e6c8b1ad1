//! The device's local SQLite store: opening and migrating it, applying operations, the outbox,
//! metadata. Functions here take a connection (or transaction) and do one thing; the
//! [`crate::Gridwork`] API composes them into one transaction per user action.

pub(crate) mod area_records;
pub mod bulk;
pub mod changes;
pub mod checkpoint;
pub mod health;
pub mod key;
pub mod meta;
pub mod open;
pub mod outbox;
pub mod readers;
pub mod records;
pub mod search_index;
