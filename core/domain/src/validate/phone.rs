//! Chinese phone numbers as people type them, checked and normalised to one form so that the same
//! household's phone typed on two devices compares equal.
//!
//! - Mobile: 11 digits `1[3-9]xxxxxxxxx`, typed with or without spaces or `-`, and with or without
//!   a `+86`, `0086` or `86` country prefix. Stored as the bare 11 digits.
//! - Landline: area code (`010` and `020`–`029` have three digits; every other area code has four),
//!   then a 7–8 digit local number that cannot start with 0 or 1, then optionally an extension of
//!   1–6 digits after `-` or `转`. Stored as `0571-87654321` or `0571-87654321-123`.
//!
//! A phone number is personal data: [`Phone`]'s `Display` and `Debug` print the masked form.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ValidationError;

/// The field name used when a number arrives through serde rather than a form.
const SERDE_FIELD: &str = "phone";

/// Whether a [`Phone`] is a mobile or a landline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneKind {
    /// 手机: 11 digits starting with 13–19.
    Mobile,
    /// 座机: area code, local number, optional extension.
    Landline,
}

/// A valid phone number in its normalised form.
///
/// ```
/// use gridwork_domain::validate::{Phone, PhoneKind};
/// let p = Phone::parse("household.phone", "+86 138 1234 5678").unwrap();
/// assert_eq!(p.as_str(), "13812345678");
/// assert_eq!(p.kind(), PhoneKind::Mobile);
/// assert_eq!(p.to_string(), "138****5678");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone {
    number: String,
    kind: PhoneKind,
}

impl Phone {
    /// Checks and normalises a phone number typed into `field`. A number starting with `0`
    /// (other than `0086`) is read as a landline, anything else as a mobile.
    pub fn parse(field: &str, s: &str) -> Result<Phone, ValidationError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(ValidationError::new(field, "phone number is empty"));
        }
        let parsed = if s.starts_with('0') && !s.starts_with("0086") {
            parse_landline(s).map(|number| Phone {
                number,
                kind: PhoneKind::Landline,
            })
        } else {
            parse_mobile(s).map(|number| Phone {
                number,
                kind: PhoneKind::Mobile,
            })
        };
        parsed.map_err(|problem| ValidationError::new(field, problem))
    }

    /// The normalised number. Handle with care: this is personal data.
    pub fn as_str(&self) -> &str {
        &self.number
    }

    /// Mobile or landline.
    pub fn kind(&self) -> PhoneKind {
        self.kind
    }

    /// The number as lists show it: `138****5678` for a mobile; for a landline the area code and
    /// the local number's last two digits, `0571-******21` (the extension is left out).
    pub fn masked(&self) -> String {
        match self.kind {
            PhoneKind::Mobile => format!("{}****{}", &self.number[..3], &self.number[7..]),
            PhoneKind::Landline => {
                let mut parts = self.number.split('-');
                let area = parts.next().unwrap_or_default();
                let local = parts.next().unwrap_or_default();
                let keep = local.len().saturating_sub(2);
                format!("{area}-{}{}", "*".repeat(keep), &local[keep..])
            }
        }
    }
}

/// The bare 11 digits of a mobile number, or the problem with it.
fn parse_mobile(s: &str) -> Result<String, &'static str> {
    // People group mobiles as 138 1234 5678 or 138-1234-5678; neither carries meaning.
    let compact: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let national = ["+86", "0086", "86"]
        .iter()
        .find_map(|prefix| compact.strip_prefix(prefix))
        .unwrap_or(&compact);
    if national.starts_with('+') {
        return Err("only Chinese (+86) phone numbers are accepted");
    }
    if !national.bytes().all(|b| b.is_ascii_digit()) {
        return Err("phone number may contain only digits, spaces, '-' and a +86 prefix");
    }
    if !national.starts_with('1') {
        return Err("phone number must be a mobile starting with 1 or a landline starting with 0");
    }
    if national.len() != 11 {
        return Err("mobile number must have 11 digits");
    }
    if !matches!(national.as_bytes()[1], b'3'..=b'9') {
        return Err("mobile number must start with 13 to 19");
    }
    Ok(national.to_owned())
}

/// The normalised landline `AREA-LOCAL[-EXT]`, or the problem with it.
fn parse_landline(s: &str) -> Result<String, &'static str> {
    let mut rest = s;
    let lead = take_digits(&mut rest);
    let area_len = if lead.starts_with("010") || lead.starts_with("02") {
        3
    } else {
        4
    };
    let bad_area = "area code must be 010, 020 to 029, or 0 followed by 3 digits";
    if lead.starts_with("00") || lead.len() < area_len {
        return Err(bad_area);
    }
    let (area, local) = if lead.len() == area_len {
        skip_separator(&mut rest, &['-']);
        (lead, take_digits(&mut rest))
    } else {
        // No separator: the area code's length is known from its first digits.
        lead.split_at(area_len)
    };
    if !(7..=8).contains(&local.len()) {
        return Err("local number must have 7 or 8 digits after the area code");
    }
    if local.starts_with(['0', '1']) {
        return Err("local number cannot start with 0 or 1");
    }
    let mut number = format!("{area}-{local}");
    if rest.trim().is_empty() {
        return Ok(number);
    }
    // A bare space before more digits is refused: it is more likely a typo than an extension.
    if skip_separator(&mut rest, &['-', '转']) != Separator::Mark {
        return Err(
            "landline number may contain only digits, '-', spaces and 转 before an extension",
        );
    }
    let extension = take_digits(&mut rest);
    if extension.is_empty() || extension.len() > 6 || !rest.trim().is_empty() {
        return Err("extension must be 1 to 6 digits after '-' or 转");
    }
    number.push('-');
    number.push_str(extension);
    Ok(number)
}

/// Splits the leading ASCII digits off `rest` and returns them.
fn take_digits<'a>(rest: &mut &'a str) -> &'a str {
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (digits, tail) = rest.split_at(end);
    *rest = tail;
    digits
}

/// What [`skip_separator`] found between two groups of digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Separator {
    None,
    /// Whitespace only.
    Space,
    /// One of the marks, perhaps with whitespace around it.
    Mark,
}

/// Skips whitespace, at most one of `marks`, and whitespace again.
fn skip_separator(rest: &mut &str, marks: &[char]) -> Separator {
    let before = rest.len();
    *rest = rest.trim_start();
    if let Some(tail) = rest.strip_prefix(marks) {
        *rest = tail.trim_start();
        Separator::Mark
    } else if rest.len() != before {
        Separator::Space
    } else {
        Separator::None
    }
}

impl fmt::Display for Phone {
    /// Masked, so that a stray `{}` in a log never leaks the number.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for Phone {
    /// Masked, so that a `{:?}` of a struct holding one never leaks the number.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Phone")
            .field("number", &self.masked())
            .field("kind", &self.kind)
            .finish()
    }
}

impl TryFrom<String> for Phone {
    type Error = ValidationError;

    fn try_from(s: String) -> Result<Phone, ValidationError> {
        Phone::parse(SERDE_FIELD, &s)
    }
}

impl From<Phone> for String {
    fn from(phone: Phone) -> String {
        phone.number
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELD: &str = "household.phone";

    fn ok(s: &str) -> Phone {
        Phone::parse(FIELD, s).unwrap_or_else(|e| panic!("{s:?} refused: {e}"))
    }

    /// The problem with `s`, after checking the error names the field and hides the digits.
    fn refused(s: &str) -> String {
        let err = Phone::parse(FIELD, s).expect_err(s);
        assert_eq!(err.field, FIELD);
        let digits: String = s.chars().filter(char::is_ascii_digit).collect();
        if digits.len() >= 4 {
            assert!(
                !err.problem.contains(&digits[digits.len() - 4..]),
                "{}",
                err.problem
            );
        }
        err.problem
    }

    #[test]
    fn a_resident_reads_out_a_mobile_in_any_of_the_usual_ways() {
        for typed in [
            "13812345678",
            "138 1234 5678",
            "138-1234-5678",
            "+86 138 1234 5678",
            "+8613812345678",
            "0086 13812345678",
            "86 13812345678",
            "  13812345678  ",
        ] {
            let p = ok(typed);
            assert_eq!(p.as_str(), "13812345678", "{typed}");
            assert_eq!(p.kind(), PhoneKind::Mobile);
        }
        assert_eq!(ok("19912345678").as_str(), "19912345678");
    }

    #[test]
    fn bad_mobiles_are_refused_with_distinct_problems() {
        let short = refused("1381234567");
        let long = refused("138123456789");
        let prefix = refused("12812345678");
        let letters = refused("138l2345678");
        let foreign = refused("+1 415 555 0100");
        let neither = refused("58123456789");
        let all = [&short, &prefix, &letters, &foreign, &neither];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(short, long);
        assert!(short.contains("11 digits"));
        assert!(prefix.contains("13 to 19"));
    }

    #[test]
    fn the_community_office_landline_is_normalised_however_it_is_typed() {
        for typed in [
            "0571-87654321",
            "057187654321",
            "0571 87654321",
            "0571 - 87654321",
        ] {
            let p = ok(typed);
            assert_eq!(p.as_str(), "0571-87654321", "{typed}");
            assert_eq!(p.kind(), PhoneKind::Landline);
        }
    }

    #[test]
    fn three_digit_area_codes_are_split_by_their_prefix() {
        assert_eq!(ok("010 62345678").as_str(), "010-62345678");
        assert_eq!(ok("01062345678").as_str(), "010-62345678");
        assert_eq!(ok("02164345678").as_str(), "021-64345678");
        assert_eq!(
            ok("029-8765432").as_str(),
            "029-8765432",
            "7-digit local number"
        );
        // A 4-digit area code and a 7-digit local number.
        assert_eq!(ok("08717654321").as_str(), "0871-7654321");
    }

    #[test]
    fn an_extension_follows_a_dash_or_zhuan() {
        assert_eq!(ok("0571-87654321-123").as_str(), "0571-87654321-123");
        assert_eq!(ok("0571-87654321转123").as_str(), "0571-87654321-123");
        assert_eq!(ok("0571 87654321 转 8").as_str(), "0571-87654321-8");
        assert_eq!(ok("057187654321-123456").as_str(), "0571-87654321-123456");
    }

    #[test]
    fn bad_landlines_are_refused_with_distinct_problems() {
        let area = refused("057-87654321");
        let starts_one = refused("0571-17654321");
        let starts_zero = refused("010-02345678");
        let short = refused("0571-654321");
        let long = refused("0571-876543210");
        let ext_long = refused("0571-87654321-1234567");
        let ext_empty = refused("0571-87654321-");
        let junk = refused("0571-87654321 ext 12");
        assert_eq!(
            refused("0571-87654321 123"),
            junk,
            "an extension needs - or 转"
        );
        let intl = refused("00571-87654321");
        assert_eq!(area, intl);
        assert_eq!(starts_one, starts_zero);
        assert_eq!(short, long);
        assert_eq!(ext_long, ext_empty);
        let all = [&area, &starts_one, &short, &ext_long, &junk];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert!(area.contains("area code"));
        assert!(starts_one.contains("cannot start with 0 or 1"));
        assert_eq!(refused("   "), "phone number is empty");
    }

    #[test]
    fn a_normalised_number_parses_to_itself() {
        for typed in ["+86 138 1234 5678", "0571 87654321 转 123", "01062345678"] {
            let once = ok(typed);
            assert_eq!(ok(once.as_str()), once);
        }
    }

    #[test]
    fn lists_show_masked_numbers_and_logs_cannot_leak_them() {
        let mobile = ok("13812345678");
        assert_eq!(mobile.masked(), "138****5678");
        assert_eq!(mobile.to_string(), "138****5678");
        assert!(!format!("{mobile:?}").contains("1234"));

        let landline = ok("0571-87654321-123");
        assert_eq!(landline.masked(), "0571-******21");
        assert_eq!(landline.to_string(), "0571-******21");
        assert!(!format!("{landline:?}").contains("876543"));
        assert_eq!(ok("029-8765432").masked(), "029-*****32");
    }

    #[test]
    fn serde_carries_the_normalised_number_and_validates_on_the_way_in() {
        let p = ok("0571 87654321");
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, "\"0571-87654321\"");
        assert_eq!(serde_json::from_str::<Phone>(&json).unwrap(), p);
        let loose: Phone = serde_json::from_str("\"+86 13812345678\"").unwrap();
        assert_eq!(loose.as_str(), "13812345678");

        let err = serde_json::from_str::<Phone>("\"12812345678\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("13 to 19"), "{err}");
        assert!(!err.contains("12812345678"));
    }
}
