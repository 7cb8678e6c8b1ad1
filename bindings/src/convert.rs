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

/// A count or a time (ms since the epoch) as the apps receive it. Kotlin and Swift get signed
/// integers (no `ULong`/`UInt64` in the API, ADR 0032); a value beyond `i64::MAX` (never in
/// practice) saturates.
pub(crate) fn wide(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

/// A small count (days, people in a room) as the apps receive it, saturating at `i32::MAX`.
pub(crate) fn narrow(n: impl TryInto<i32>) -> i32 {
    n.try_into().unwrap_or(i32::MAX)
}

/// A time or duration in ms the app passed in: refused when negative.
pub(crate) fn ms_in(field: &str, value: i64) -> Result<u64, GridworkError> {
    u64::try_from(value).map_err(|_| GridworkError::invalid(field, "must not be negative"))
}

/// An optional time or duration in ms the app passed in: refused when negative.
pub(crate) fn opt_ms_in(field: &str, value: Option<i64>) -> Result<Option<u64>, GridworkError> {
    value.map(|v| ms_in(field, v)).transpose()
}

/// A count (days, a limit) the app passed in: refused when negative.
pub(crate) fn count_in(field: &str, value: i32) -> Result<u32, GridworkError> {
    u32::try_from(value).map_err(|_| GridworkError::invalid(field, "must not be negative"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_numbers_from_the_app_are_refused_naming_the_argument() {
        assert_eq!(
            ms_in("deadline_ms", 1_795_482_000_000).unwrap(),
            1_795_482_000_000
        );
        assert_eq!(count_in("wait_seconds", 0).unwrap(), 0);
        assert_eq!(opt_ms_in("deadline_ms", None).unwrap(), None);
        for e in [
            ms_in("deadline_ms", -1).unwrap_err(),
            opt_ms_in("deadline_ms", Some(i64::MIN)).unwrap_err(),
            count_in("deadline_ms", -30).unwrap_err(),
        ] {
            match e {
                GridworkError::InvalidInput { field, reason } => {
                    assert_eq!(field, "deadline_ms");
                    assert_eq!(reason, "must not be negative");
                }
                other => panic!("{other}"),
            }
        }
    }

    #[test]
    fn values_for_the_app_are_signed_and_saturate() {
        assert_eq!(wide(42u64), 42i64);
        assert_eq!(wide(u64::MAX), i64::MAX);
        assert_eq!(wide(7usize), 7);
        assert_eq!(narrow(90u32), 90i32);
        assert_eq!(narrow(u32::MAX), i32::MAX);
        assert_eq!(narrow(usize::MAX), i32::MAX);
    }
}
