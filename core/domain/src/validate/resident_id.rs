//! The 18-character resident ID number (居民身份证号码, GB 11643-1999): checked at the edge,
//! stored in full, and shown masked everywhere else.
//!
//! Layout: 6-digit region code (GB/T 2260) · 8-digit birth date `YYYYMMDD` · 3-digit sequence
//! (odd for men, even for women) · check character (ISO 7064 MOD 11-2, `0`–`9` or `X`).
//!
//! [`ResidentId`]'s `Display` and `Debug` both print the masked form, so a stray `{}` or `{:?}` in
//! a log line cannot leak the number; only [`ResidentId::as_str`] and serde give the full value.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::ValidationError;

/// Length of a resident ID number, in characters.
pub const LEN: usize = 18;

/// GB 11643-1999 weights of the first 17 digits (2^(17-i) mod 11).
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// The check character indexed by the weighted sum mod 11.
const CHECK_CHARS: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// The earliest birth year accepted: older numbers are typing mistakes, not residents.
const MIN_BIRTH_YEAR: i32 = 1900;

/// The field name used when a number arrives through serde rather than a form.
const SERDE_FIELD: &str = "resident_id";

/// The check character of a resident ID number whose first 17 characters are `first17`, or
/// `None` if `first17` is not exactly 17 ASCII digits.
///
/// ```
/// use gridwork_domain::validate::resident_id::check_digit;
/// assert_eq!(check_digit("11010519491231002"), Some('X'));
/// assert_eq!(check_digit("1101051949123100"), None);
/// ```
pub fn check_digit(first17: &str) -> Option<char> {
    let bytes = first17.as_bytes();
    if bytes.len() != WEIGHTS.len() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = bytes
        .iter()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    Some(CHECK_CHARS[(sum % 11) as usize])
}

/// Masks `s` for display: the first 4 and last 4 characters with 10 `*` between, whatever the
/// length in between (so the mask does not tell the length either). A string shorter than 8
/// characters becomes all `*`.
///
/// ```
/// use gridwork_domain::validate::resident_id::mask;
/// assert_eq!(mask("11010519491231002X"), "1101**********002X");
/// assert_eq!(mask("1234567"), "*******");
/// ```
pub fn mask(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() < 8 {
        return "*".repeat(chars.len());
    }
    let mut out: String = chars[..4].iter().collect();
    out.push_str(&"*".repeat(10));
    out.extend(&chars[chars.len() - 4..]);
    out
}

/// A valid resident ID number, normalised (trimmed, a final lowercase `x` made `X`).
///
/// ```
/// use gridwork_domain::validate::ResidentId;
/// let id = ResidentId::parse("resident.id_number", " 11010519491231002x ").unwrap();
/// assert_eq!(id.as_str(), "11010519491231002X");
/// assert_eq!(id.to_string(), "1101**********002X");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ResidentId(String);

impl ResidentId {
    /// Checks `s` as a resident ID number: length, characters, birth date (a real date, not before
    /// 1900) and check digit. Does not compare the birth date with today; use
    /// [`ResidentId::parse_at`] for that.
    pub fn parse(field: &str, s: &str) -> Result<ResidentId, ValidationError> {
        Self::parse_checked(field, s, None)
    }

    /// Like [`ResidentId::parse`], and also refuses a birth date after `today`. `today` is a
    /// parameter so that this stays a pure function: the caller reads the clock.
    pub fn parse_at(field: &str, s: &str, today: NaiveDate) -> Result<ResidentId, ValidationError> {
        Self::parse_checked(field, s, Some(today))
    }

    fn parse_checked(
        field: &str,
        s: &str,
        today: Option<NaiveDate>,
    ) -> Result<ResidentId, ValidationError> {
        let refuse = |problem: &str| ValidationError::new(field, problem);
        let s = s.trim();
        if s.is_empty() {
            return Err(refuse("resident ID number is empty"));
        }
        if s.chars().count() != LEN {
            return Err(refuse("resident ID number must be 18 characters long"));
        }
        let wrong_chars =
            || refuse("resident ID number must be 17 digits followed by a digit or X");
        // Checked before splitting so that byte indices below fall on character boundaries.
        if !s.is_ascii() {
            return Err(wrong_chars());
        }
        let (first17, last) = s.split_at(LEN - 1);
        let last = match last.as_bytes() {
            [b'x' | b'X'] => 'X',
            [d] if d.is_ascii_digit() => char::from(*d),
            _ => return Err(wrong_chars()),
        };
        if !first17.bytes().all(|b| b.is_ascii_digit()) {
            return Err(wrong_chars());
        }
        if first17.starts_with('0') {
            return Err(refuse("resident ID number cannot start with 0"));
        }
        let birth = birth_date_of(first17)
            .ok_or_else(|| refuse("birth date in resident ID number is not a real date"))?;
        if birth.year() < MIN_BIRTH_YEAR {
            return Err(refuse("birth date in resident ID number is before 1900"));
        }
        if today.is_some_and(|today| birth > today) {
            return Err(refuse("birth date in resident ID number is in the future"));
        }
        if check_digit(first17) != Some(last) {
            return Err(refuse(
                "resident ID number check digit does not match (GB 11643)",
            ));
        }
        Ok(ResidentId(format!("{first17}{last}")))
    }

    /// The full, normalised number. Handle with care: this is personal data.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The birth date encoded in characters 7–14.
    pub fn birth_date(&self) -> NaiveDate {
        // Validated at construction; the fallback is unreachable but keeps this panic-free.
        birth_date_of(&self.0).unwrap_or(NaiveDate::MIN)
    }

    /// The 6-digit region code (GB/T 2260) of where the number was first issued. It does not
    /// follow the resident when they move, so it is no guide to where they live now.
    pub fn region_code(&self) -> &str {
        &self.0[..6]
    }

    /// Whether the 17th digit (the sequence's last) is even, which GB 11643 assigns to women.
    pub fn is_female(&self) -> bool {
        (self.0.as_bytes()[16] - b'0').is_multiple_of(2)
    }

    /// The number as lists show it: `1101**********002X`.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

/// The birth date at characters 7–14, if `s` is long enough and they form a real date.
fn birth_date_of(s: &str) -> Option<NaiveDate> {
    let digits = s.get(6..14)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year = digits[..4].parse().ok()?;
    let month = digits[4..6].parse().ok()?;
    let day = digits[6..].parse().ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}

impl fmt::Display for ResidentId {
    /// Masked, so that a stray `{}` in a log never leaks the number.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for ResidentId {
    /// Masked, so that a `{:?}` of a struct holding one never leaks the number.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ResidentId").field(&self.masked()).finish()
    }
}

impl TryFrom<String> for ResidentId {
    type Error = ValidationError;

    fn try_from(s: String) -> Result<ResidentId, ValidationError> {
        ResidentId::parse(SERDE_FIELD, &s)
    }
}

impl From<ResidentId> for String {
    fn from(id: ResidentId) -> String {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FIELD: &str = "tenant.id_number";

    /// A Beijing Chaoyang man born on New Year's Eve 1949; check digit computed by hand:
    /// weighted sum 167, 167 mod 11 = 2, "10X98765432"[2] = X.
    const BEIJING: &str = "11010519491231002X";

    /// A Hangzhou Xihu woman born 1990-03-07.
    fn hangzhou_woman() -> String {
        let first17 = "33010619900307128";
        format!("{first17}{}", check_digit(first17).unwrap())
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn problem_of(s: &str) -> String {
        let err = ResidentId::parse(FIELD, s).unwrap_err();
        assert_eq!(err.field, FIELD);
        if !s.trim().is_empty() {
            assert!(
                !err.to_string().contains(s.trim()),
                "message must not echo the number"
            );
        }
        err.problem
    }

    #[test]
    fn check_digit_of_a_known_number_is_x() {
        assert_eq!(check_digit("11010519491231002"), Some('X'));
        assert_eq!(check_digit("1101051949123100"), None, "16 digits");
        assert_eq!(check_digit("1101051949123100a"), None, "a letter");
    }

    #[test]
    fn building_head_registers_a_tenant_with_a_valid_number() {
        let id = ResidentId::parse(FIELD, BEIJING).unwrap();
        assert_eq!(id.as_str(), BEIJING);
        assert_eq!(id.birth_date(), day(1949, 12, 31));
        assert_eq!(id.region_code(), "110105");
        assert!(id.is_female(), "17th digit 2 is even");
    }

    #[test]
    fn sex_and_birth_date_come_from_the_number() {
        let id = ResidentId::parse(FIELD, &hangzhou_woman()).unwrap();
        assert_eq!(id.region_code(), "330106");
        assert_eq!(id.birth_date(), day(1990, 3, 7));
        assert!(id.is_female(), "17th digit 8 is even");

        let first17 = "33010619900307131";
        let man = format!("{first17}{}", check_digit(first17).unwrap());
        assert!(
            !ResidentId::parse(FIELD, &man).unwrap().is_female(),
            "17th digit 1 is odd"
        );
    }

    #[test]
    fn lowercase_x_and_surrounding_spaces_are_accepted_and_normalised() {
        let id = ResidentId::parse(FIELD, "  11010519491231002x\t").unwrap();
        assert_eq!(id.as_str(), BEIJING);
        assert_eq!(id, ResidentId::parse(FIELD, BEIJING).unwrap());
    }

    #[test]
    fn a_typo_is_caught_by_the_check_digit_without_echoing_the_number() {
        // The gridworker typed 003 for 002 in the sequence.
        let typo = "11010519491231003X";
        let err = ResidentId::parse(FIELD, typo).unwrap_err();
        assert_eq!(err.field, FIELD);
        assert_eq!(
            err.problem,
            "resident ID number check digit does not match (GB 11643)"
        );
        let shown = err.to_string();
        assert!(shown.starts_with("tenant.id_number: "));
        assert!(!shown.contains(typo));
        assert!(!shown.contains("19491231"), "nor the birth date inside it");
    }

    #[test]
    fn each_kind_of_mistake_gets_its_own_message() {
        let too_short = problem_of("1101051949123100");
        let letters = problem_of("1101051949123100AX");
        let leading_zero = problem_of("010105194912310021");
        let feb_30 = problem_of("110105194902300021");
        let too_old = problem_of("110105189912310021");
        let check = problem_of("110105194912310021");
        let empty = problem_of("   ");
        let all = [
            &too_short,
            &letters,
            &leading_zero,
            &feb_30,
            &too_old,
            &check,
            &empty,
        ];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert!(too_short.contains("18 characters"));
        assert!(letters.contains("17 digits"));
        assert!(feb_30.contains("not a real date"));
        assert!(too_old.contains("1900"));
    }

    #[test]
    fn february_30_is_refused_even_with_a_matching_check_digit() {
        let first17 = "11010519490230002";
        let s = format!("{first17}{}", check_digit(first17).unwrap());
        assert_eq!(
            problem_of(&s),
            "birth date in resident ID number is not a real date"
        );
        // 29 February exists only in leap years.
        let leap = "11010520000229002";
        assert!(ResidentId::parse(FIELD, &format!("{leap}{}", check_digit(leap).unwrap())).is_ok());
        let common = "11010520010229002";
        let s = format!("{common}{}", check_digit(common).unwrap());
        assert!(ResidentId::parse(FIELD, &s).is_err());
    }

    #[test]
    fn a_multibyte_character_counts_as_one_character() {
        // 17 digits and a full-width X is 18 characters but not 18 bytes: refused for the
        // character, not the length, and without panicking on a byte boundary.
        let problem = problem_of("11010519491231002Ｘ");
        assert!(problem.contains("17 digits"));
        assert!(problem_of("一二三四五六七八九十一二三四五六七八").contains("17 digits"));
    }

    #[test]
    fn a_birth_date_in_the_future_is_refused_only_when_today_is_given() {
        let first17 = "33010620300101002";
        let s = format!("{first17}{}", check_digit(first17).unwrap());
        assert!(
            ResidentId::parse(FIELD, &s).is_ok(),
            "parse does not read the clock"
        );
        let err = ResidentId::parse_at(FIELD, &s, day(2025, 6, 1)).unwrap_err();
        assert_eq!(
            err.problem,
            "birth date in resident ID number is in the future"
        );
        assert!(
            ResidentId::parse_at(FIELD, &s, day(2030, 1, 1)).is_ok(),
            "born today"
        );
    }

    #[test]
    fn masked_display_and_debug_never_show_the_middle_digits() {
        let id = ResidentId::parse(FIELD, BEIJING).unwrap();
        assert_eq!(id.masked(), "1101**********002X");
        assert_eq!(id.to_string(), "1101**********002X");
        let debug = format!("{id:?}");
        assert_eq!(debug, "ResidentId(\"1101**********002X\")");
        for shown in [id.masked(), id.to_string(), debug, format!("{id:#?}")] {
            assert!(!shown.contains("05194912310"), "{shown}");
        }
    }

    #[test]
    fn mask_hides_short_strings_entirely() {
        assert_eq!(mask(""), "");
        assert_eq!(mask("1234567"), "*******");
        assert_eq!(mask("12345678"), "1234**********5678");
        assert_eq!(mask("一二三四五六七八九"), "一二三四**********六七八九");
    }

    #[test]
    fn serde_carries_the_full_number_and_validates_on_the_way_in() {
        let id = ResidentId::parse(FIELD, BEIJING).unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{BEIJING}\""));
        let back: ResidentId = serde_json::from_str(&json).unwrap();
        assert_eq!(back, id);
        let lower: ResidentId = serde_json::from_str("\"11010519491231002x\"").unwrap();
        assert_eq!(lower.as_str(), BEIJING);

        let err = serde_json::from_str::<ResidentId>("\"110105194912310021\"").unwrap_err();
        assert!(err.to_string().contains("check digit"));
        assert!(!err.to_string().contains("110105194912310021"));
    }

    /// A valid 17-digit prefix: region 100000–999999, a date 1900-01-01..=2099-12-31, any
    /// sequence.
    fn valid_prefix() -> impl Strategy<Value = (String, NaiveDate)> {
        let first = day(1900, 1, 1);
        let span = (day(2099, 12, 31) - first).num_days();
        (100_000u32..=999_999, 0..=span, 0u32..=999).prop_map(move |(region, offset, seq)| {
            let birth = first + chrono::Duration::days(offset);
            (format!("{region}{}{seq:03}", birth.format("%Y%m%d")), birth)
        })
    }

    proptest! {
        #[test]
        fn check_digit_completes_every_valid_prefix((first17, birth) in valid_prefix()) {
            let digit = check_digit(&first17).unwrap();
            let id = ResidentId::parse(FIELD, &format!("{first17}{digit}")).unwrap();
            prop_assert_eq!(id.birth_date(), birth);
            prop_assert_eq!(&id.as_str()[..17], first17.as_str());
        }

        /// MOD 11-2 catches every single-character substitution.
        #[test]
        fn any_single_wrong_character_is_refused(
            (first17, _) in valid_prefix(),
            at in 0usize..LEN,
            replacement in prop::sample::select(b"0123456789X".to_vec()),
        ) {
            let good = format!("{first17}{}", check_digit(&first17).unwrap());
            let mut bad = good.clone().into_bytes();
            prop_assume!(bad[at] != replacement);
            bad[at] = replacement;
            let bad = String::from_utf8(bad).unwrap();
            prop_assert!(ResidentId::parse(FIELD, &bad).is_err());
        }
    }
}
