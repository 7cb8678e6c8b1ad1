//! How long a checked-out tenant's personal data stays on the phones: the registration ledger
//! is the subdistrict's (the server keeps it), but a phone lost in a taxi should not carry the
//! names and ID numbers of people who left months ago.

use chrono::NaiveDate;

/// Days after check-out before a tenant's personal data leaves the phones, unless configured.
pub const DEFAULT_TENANT_RETENTION_DAYS: u32 = 90;

/// The longest retention a phone accepts: ten years (a typo of a few zeros must not keep
/// tenants' data on phones for ever).
pub const MAX_TENANT_RETENTION_DAYS: u32 = 3650;

/// Whether a stay checked out on `check_out` is past retention on `today`.
///
/// ```
/// use chrono::NaiveDate;
/// use gridwork_domain::scope::tenant_data_expired;
///
/// let out = NaiveDate::from_ymd_opt(2026, 1, 10).unwrap();
/// assert!(!tenant_data_expired(Some(out), NaiveDate::from_ymd_opt(2026, 4, 10).unwrap(), 90));
/// assert!(tenant_data_expired(Some(out), NaiveDate::from_ymd_opt(2026, 4, 11).unwrap(), 90));
/// assert!(!tenant_data_expired(None, NaiveDate::from_ymd_opt(2030, 1, 1).unwrap(), 90));
/// ```
pub fn tenant_data_expired(check_out: Option<NaiveDate>, today: NaiveDate, days: u32) -> bool {
    check_out.is_some_and(|out| (today - out).num_days() > i64::from(days))
}
