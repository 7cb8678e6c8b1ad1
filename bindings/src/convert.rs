//! Crossing the boundary: ids travel as UUID strings and days as `YYYY-MM-DD`, because those
//! read naturally in Kotlin and Swift and need no custom types on either side. Parsing failures
//! name the argument, as the core's own validation does.

use chrono::NaiveDate;
use gridwork_domain::ids::Id;

use crate::error::GridworkError;

/// An id the app passed in.
pub(crate) fn id(field: &str, text: &str) -> Result<Id, GridworkError> {
    text.trim()
        .parse()
        .map_err(|_| GridworkError::invalid(field, "must be a UUID"))
}

/// The id of a record the app passes in whole: empty for a new record (the core assigns a
/// UUID v7), else the record's id.
pub(crate) fn record_id(field: &str, text: &str) -> Result<Id, GridworkError> {
    if text.trim().is_empty() {
        Ok(Id::nil())
    } else {
        id(field, text)
    }
}

/// An optional id the app passed in.
pub(crate) fn opt_id(field: &str, text: Option<&str>) -> Result<Option<Id>, GridworkError> {
    text.map(|t| id(field, t)).transpose()
}

/// A local day the app passed in.
pub(crate) fn day(field: &str, text: &str) -> Result<NaiveDate, GridworkError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| GridworkError::invalid(field, "must be a date written YYYY-MM-DD"))
}

/// An optional local day the app passed in.
pub(crate) fn opt_day(field: &str, text: Option<&str>) -> Result<Option<NaiveDate>, GridworkError> {
    text.map(|t| day(field, t)).transpose()
}

/// A day as the app receives it.
pub(crate) fn day_text(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// An id as the app receives it.
pub(crate) fn id_text(id: Id) -> String {
    id.to_string()
}

/// An optional id as the app receives it.
pub(crate) fn opt_id_text(id: Option<Id>) -> Option<String> {
    id.map(id_text)
}
