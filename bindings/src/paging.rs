//! Pages of the lists that grow with a subdistrict (buildings, households, residents, stays,
//! cases): a list call takes a `limit` and the `cursor` of the page before (`null` for the
//! first) and returns a page with the cursor of the next (`null` after the last), so a screen
//! loads what it shows and a long list is never one huge answer across the boundary.
//!
//! A cursor is opaque to the app. It holds where the page ended: the position and the id of
//! its last item. The next page starts after that item where it stands in the list now, so
//! records added or removed before it neither repeat nor skip items; when the item itself has
//! gone (deleted, or a case closed), the page starts at the old position. Each list keeps the
//! order the core gives it (buildings by address code, cases most urgent first...); the core
//! reads the list in one query, and the page is cut here (ADR 0032).

use crate::brief::StayView;
use crate::cases::CaseView;
use crate::error::GridworkError;
use crate::model::{Building, Household, Registration, ResidentSummary};

/// The most items one page carries; a larger `limit` is capped.
pub const MAX_PAGE_LIMIT: i32 = 500;

const PREFIX: &str = "p1.";

/// An item of a paged list, by the id the cursor remembers.
pub(crate) trait Keyed {
    fn key(&self) -> &str;
}

impl Keyed for Building {
    fn key(&self) -> &str {
        &self.id
    }
}
impl Keyed for Household {
    fn key(&self) -> &str {
        &self.id
    }
}
impl Keyed for ResidentSummary {
    fn key(&self) -> &str {
        &self.id
    }
}
impl Keyed for Registration {
    fn key(&self) -> &str {
        &self.id
    }
}
impl Keyed for StayView {
    fn key(&self) -> &str {
        &self.registration.id
    }
}
impl Keyed for CaseView {
    fn key(&self) -> &str {
        &self.id
    }
}

/// The page of `all` (the whole list, in order) after `cursor`, at most `limit` items, with the
/// cursor of the next page (`None` after the last).
pub(crate) fn page<T: Keyed>(
    mut all: Vec<T>,
    limit: i32,
    cursor: Option<&str>,
) -> Result<(Vec<T>, Option<String>), GridworkError> {
    if limit < 1 {
        return Err(GridworkError::invalid(
            "limit",
            "must be at least 1 (items per page)",
        ));
    }
    let limit = limit.min(MAX_PAGE_LIMIT) as usize;
    let start = match cursor {
        None => 0,
        Some(cursor) => {
            let (offset, last) = parse(cursor)?;
            match all.iter().position(|item| item.key() == last) {
                Some(at) => at + 1,
                None => offset.min(all.len()),
            }
        }
    };
    let end = (start + limit).min(all.len());
    let next = (end < all.len()).then(|| format!("{PREFIX}{end}.{}", all[end - 1].key()));
    all.truncate(end);
    Ok((all.split_off(start), next))
}

/// The position after the last item and that item's id.
fn parse(cursor: &str) -> Result<(usize, &str), GridworkError> {
    let bad = || {
        GridworkError::invalid(
            "cursor",
            "is not a cursor of this list (pass null for the first page, then the page's nextCursor)",
        )
    };
    let rest = cursor.strip_prefix(PREFIX).ok_or_else(bad)?;
    let (offset, last) = rest.split_once('.').ok_or_else(bad)?;
    let offset = offset.parse::<usize>().map_err(|_| bad())?;
    if offset == 0 || last.is_empty() {
        return Err(bad());
    }
    Ok((offset, last))
}

/// A page of buildings (by address code).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct BuildingPage {
    pub items: Vec<Building>,
    /// Pass it for the next page; `null` after the last.
    pub next_cursor: Option<String>,
}

/// A page of households (by unit).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct HouseholdPage {
    pub items: Vec<Household>,
    pub next_cursor: Option<String>,
}

/// A page of residents (by name), ID numbers masked.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ResidentPage {
    pub items: Vec<ResidentSummary>,
    pub next_cursor: Option<String>,
}

/// A page of a resident's stays (newest first).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct RegistrationPage {
    pub items: Vec<Registration>,
    pub next_cursor: Option<String>,
}

/// A page of stays with their tenant and room.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct StayPage {
    pub items: Vec<StayView>,
    pub next_cursor: Option<String>,
}

/// A page of cases (most urgent first).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CasePage {
    pub items: Vec<CaseView>,
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct Item(String);
    impl Keyed for Item {
        fn key(&self) -> &str {
            &self.0
        }
    }

    fn list(keys: &[&str]) -> Vec<Item> {
        keys.iter().map(|k| Item(k.to_string())).collect()
    }

    fn keys(items: &[Item]) -> Vec<&str> {
        items.iter().map(|i| i.0.as_str()).collect()
    }

    #[test]
    fn pages_cover_the_list_once_in_order() {
        let all = list(&["a", "b", "c", "d", "e"]);
        let (first, next) = page(all.clone(), 2, None).unwrap();
        assert_eq!(keys(&first), ["a", "b"]);
        let (second, next) = page(all.clone(), 2, next.as_deref()).unwrap();
        assert_eq!(keys(&second), ["c", "d"]);
        let (third, next) = page(all.clone(), 2, next.as_deref()).unwrap();
        assert_eq!(keys(&third), ["e"]);
        assert_eq!(next, None, "the last page has no next cursor");
        let (exact, next) = page(list(&["a", "b"]), 2, None).unwrap();
        assert_eq!((keys(&exact), next), (vec!["a", "b"], None));
        let (empty, next) = page(Vec::<Item>::new(), 10, None).unwrap();
        assert!(empty.is_empty() && next.is_none());
    }

    #[test]
    fn a_record_added_or_removed_before_the_cursor_neither_repeats_nor_skips_items() {
        let (_, next) = page(list(&["b", "c", "d", "e"]), 2, None).unwrap();
        // "a" was added before the page's end: the next page still starts after "c".
        let (second, _) = page(list(&["a", "b", "c", "d", "e"]), 2, next.as_deref()).unwrap();
        assert_eq!(keys(&second), ["d", "e"]);
        // "b" was removed: still after "c".
        let (second, _) = page(list(&["c", "d", "e"]), 2, next.as_deref()).unwrap();
        assert_eq!(keys(&second), ["d", "e"]);
        // "c" itself went (a case closed): the page starts at the old position.
        let (second, _) = page(list(&["b", "d", "e", "f"]), 2, next.as_deref()).unwrap();
        assert_eq!(keys(&second), ["e", "f"]);
    }

    #[test]
    fn bad_limits_and_cursors_are_refused_and_large_limits_capped() {
        let all = list(&["a", "b"]);
        for limit in [0, -1, i32::MIN] {
            let e = page(all.clone(), limit, None).unwrap_err();
            assert!(
                matches!(&e, GridworkError::InvalidInput { field, .. } if field == "limit"),
                "{e}"
            );
        }
        for cursor in ["", "xyz", "p1.", "p1.x.a", "p1.0.a", "p1.3.", "p2.1.a"] {
            let e = page(all.clone(), 5, Some(cursor)).unwrap_err();
            assert!(
                matches!(&e, GridworkError::InvalidInput { field, .. } if field == "cursor"),
                "{cursor}: {e}"
            );
        }
        let many: Vec<Item> = (0..1200).map(|i| Item(format!("{i:04}"))).collect();
        let (first, next) = page(many, i32::MAX, None).unwrap();
        assert_eq!(first.len(), MAX_PAGE_LIMIT as usize);
        assert_eq!(next.as_deref(), Some("p1.500.0499"));
    }
}
