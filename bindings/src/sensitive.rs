//! [`Sensitive`]: a personal value (an ID number, a phone number) that never prints itself
//! (ADR 0029).
//!
//! Kotlin's data classes and Swift's structs print every field in `toString()` /
//! `description`, so a record holding an ID number as a string leaks it into any log line that
//! prints the record. The records hold these values as a `Sensitive` object instead: its
//! `toString()` / `description` (and Rust `Debug`/`Display`) show the masked form
//! (`3301**********1234`, `138****5678`); `reveal()` gives the value, for the screen that shows
//! it or the form that edits it. Two `Sensitive` values are equal when their values are.

use std::sync::Arc;

/// A personal value that prints masked. Make one with `Sensitive(value)`; read it with
/// `reveal()`.
#[derive(Clone, PartialEq, Eq, Hash, uniffi::Object)]
#[uniffi::export(Debug, Display, Eq, Hash)]
pub struct Sensitive {
    value: String,
}

#[uniffi::export]
impl Sensitive {
    /// Wraps a value (an ID number, a phone number).
    #[uniffi::constructor]
    pub fn new(value: String) -> Arc<Self> {
        Arc::new(Sensitive { value })
    }

    /// The value itself: for the screen that shows it or the form that edits it, never a log.
    pub fn reveal(&self) -> String {
        self.value.clone()
    }

    /// The masked form, as `toString()` / `description` print it.
    pub fn masked(&self) -> String {
        mask(&self.value)
    }
}

impl std::fmt::Display for Sensitive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&mask(&self.value))
    }
}

impl std::fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sensitive({})", mask(&self.value))
    }
}

/// Keeps the first 4 and last 4 characters of an ID-number-long value (the lists' mask), the
/// first 3 and last 4 of a phone-long one; stars for the rest, and all stars for a short value.
pub(crate) fn mask(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    let (head, tail) = match chars.len() {
        n if n >= 15 => (4, 4),
        n if n >= 11 => (3, 4),
        n if n >= 8 => (2, 2),
        _ => (0, 0),
    };
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < head || i >= chars.len() - tail {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

/// Wraps an optional value.
pub(crate) fn wrap(value: Option<String>) -> Option<Arc<Sensitive>> {
    value.map(Sensitive::new)
}

/// Unwraps an optional value.
pub(crate) fn unwrap(value: &Option<Arc<Sensitive>>) -> Option<String> {
    value.as_ref().map(|s| s.value.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_prints_masked_and_reveals_the_value() {
        let id = Sensitive::new("11010519491231002X".into());
        assert_eq!(id.to_string(), "1101**********002X");
        assert_eq!(format!("{id:?}"), "Sensitive(1101**********002X)");
        assert_eq!(id.reveal(), "11010519491231002X");
        let phone = Sensitive::new("13912345678".into());
        assert_eq!(phone.to_string(), "139****5678");
        assert_eq!(mask("1234"), "****");
        assert_eq!(*id, *Sensitive::new("11010519491231002X".into()));
    }

    #[test]
    fn a_resident_and_a_household_print_no_id_number_or_phone() {
        let resident = crate::model::Resident {
            id: String::new(),
            household_id: "0190a1b2-0000-7000-8000-000000000001".into(),
            name: "李娜".into(),
            id_number: wrap(Some("11010519491231002X".into())),
            phone: wrap(Some("13712345678".into())),
            key_groups: vec![],
            last_visit_ms: None,
            archived: false,
        };
        let printed = format!("{resident:?}");
        assert!(!printed.contains("19491231"), "{printed}");
        assert!(!printed.contains("12345678"), "{printed}");
        assert!(printed.contains("1101**********002X"), "{printed}");
        let core = resident.to_core().unwrap();
        assert_eq!(core.id_number.as_deref(), Some("11010519491231002X"));
    }
}
