//! Tenant retention on the phone: a checked-out tenant's personal data leaves the device once
//! the stay ended more than [`Gridwork::tenant_retention_days`] days ago (90 by default). The
//! registration ledger is the subdistrict's and stays on the server; a phone lost in a taxi
//! should not carry the names and ID numbers of people who moved out months ago.
//!
//! The purge runs after every sync (a snapshot may bring old stays back) and can be called on
//! its own. It removes the registration and, when they have no other stay on this phone (active
//! or still within retention), the resident. The outbox is never touched.

use chrono::{DateTime, FixedOffset, NaiveDate};
use gridwork_domain::ids::Id;
use gridwork_domain::scope::{
    DEFAULT_TENANT_RETENTION_DAYS, MAX_TENANT_RETENTION_DAYS, tenant_data_expired,
};
use gridwork_domain::validate::ValidationError;

use crate::error::Result;
use crate::gridwork::Gridwork;
use crate::store::{meta, records};

/// The setting that overrides [`DEFAULT_TENANT_RETENTION_DAYS`].
const RETENTION_DAYS: &str = "tenant_retention_days";

impl Gridwork {
    /// Days after check-out before a tenant's data is purged from this phone.
    pub fn tenant_retention_days(&self) -> Result<u32> {
        Ok(self
            .query(|c| meta::get(c, RETENTION_DAYS))?
            .and_then(|d| d.parse().ok())
            .unwrap_or(DEFAULT_TENANT_RETENTION_DAYS))
    }

    /// Sets the retention period (the subdistrict's policy); refused as invalid beyond
    /// [`MAX_TENANT_RETENTION_DAYS`]. The next purge ([`Gridwork::purge_expired_tenants`], run
    /// after every sync) applies it.
    pub fn set_tenant_retention_days(&self, days: u32) -> Result<()> {
        if days > MAX_TENANT_RETENTION_DAYS {
            return Err(ValidationError::new(
                "tenant_retention_days",
                format!("at most {MAX_TENANT_RETENTION_DAYS} days (ten years)"),
            )
            .into());
        }
        self.read(|c| meta::set(c, RETENTION_DAYS, &days.to_string()))
    }

    /// Purges the stays checked out more than the retention period ago, and their residents
    /// when nothing else keeps them; returns how many records were purged.
    pub fn purge_expired_tenants(&self) -> Result<u64> {
        let days = self.tenant_retention_days()?;
        let today = china_date(self.now_ms());
        self.with_tx(|tx, _, _| {
            let mut stays = tx.prepare_cached(
                "SELECT id, json_extract(fields, '$.check_out'), json_extract(fields, '$.resident_id')
                 FROM records
                 WHERE kind = 'registration' AND json_extract(fields, '$.check_out') IS NOT NULL",
            )?;
            let expired: Vec<(String, String)> = stays
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, Option<String>>(2)?,
                    ))
                })?
                .filter_map(|row| match row {
                    Ok((id, Some(out), Some(resident))) => {
                        let out = out.parse::<NaiveDate>().ok();
                        tenant_data_expired(out, today, days).then_some(Ok((id, resident)))
                    }
                    Ok(_) => None,
                    Err(e) => Some(Err(e)),
                })
                .collect::<rusqlite::Result<_>>()?;
            let mut purged = 0;
            let mut residents = Vec::new();
            for (stay, resident) in expired {
                if let (Ok(stay), Ok(resident)) = (stay.parse::<Id>(), resident.parse::<Id>()) {
                    purged += u64::from(records::purge(tx, stay)?);
                    residents.push(resident);
                }
            }
            residents.sort();
            residents.dedup();
            let mut other_stays = tx.prepare_cached(
                "SELECT count(*) FROM records
                 WHERE kind = 'registration' AND parent = ?1",
            )?;
            for resident in residents {
                let left: i64 = other_stays.query_row([resident.to_string()], |r| r.get(0))?;
                if left == 0 {
                    purged += u64::from(records::purge(tx, resident)?);
                }
            }
            Ok(purged)
        })
    }
}

/// The calendar day in China (UTC+8) at `ms`.
fn china_date(ms: u64) -> NaiveDate {
    let offset = FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset");
    DateTime::from_timestamp_millis(ms as i64)
        .unwrap_or_default()
        .with_timezone(&offset)
        .date_naive()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use gridwork_domain::model::Resident;
    use uuid::Uuid;

    use super::*;
    use crate::OpenOptions;
    use crate::seed::{SeedSize, id_number, seed_subdistrict};

    /// 2026-11-23 12:00 in China.
    const NOW_MS: u64 = 1_795_406_400_000;

    fn tenant(gw: &Gridwork, household: Id, serial: u16) -> Resident {
        gw.create(Resident {
            id: Uuid::nil(),
            household_id: household,
            name: "刘洋".into(),
            id_number: Some(id_number(
                NaiveDate::from_ymd_opt(1998, 4, 2).unwrap(),
                serial,
            )),
            phone: None,
            key_groups: vec![],
            last_visit_ms: None,
            archived: false,
        })
        .unwrap()
    }

    #[test]
    fn a_tenant_gone_longer_than_the_retention_leaves_the_phone_and_others_stay() {
        let gw = Gridwork::open_in_memory(OpenOptions {
            clock: Arc::new(|| NOW_MS),
            key: None,
            ..OpenOptions::default()
        })
        .unwrap();
        let seeded = seed_subdistrict(&gw, 5, SeedSize::TINY, |_, _| {}).unwrap();
        let room = seeded.households[0].id;
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();

        // Left 100 days ago; left 30 days ago; still living there; left long ago but living
        // in another room now.
        let gone = tenant(&gw, room, 601);
        let stay = gw.check_in(gone.id, room, day(2025, 6, 1), None).unwrap();
        gw.check_out(stay.id, day(2026, 8, 15)).unwrap();
        let recent = tenant(&gw, room, 602);
        let recent_stay = gw.check_in(recent.id, room, day(2026, 1, 1), None).unwrap();
        gw.check_out(recent_stay.id, day(2026, 10, 24)).unwrap();
        let living = tenant(&gw, room, 603);
        gw.check_in(living.id, room, day(2026, 3, 1), None).unwrap();
        let moved = tenant(&gw, room, 604);
        let old = gw.check_in(moved.id, room, day(2024, 1, 1), None).unwrap();
        gw.check_out(old.id, day(2024, 6, 30)).unwrap();
        let other_room = seeded.households[1].id;
        // Checked in where they live now (人房匹配): the move is recorded first.
        gw.update::<Resident>(moved.id, |r| r.household_id = other_room)
            .unwrap();
        let current = gw
            .check_in(moved.id, other_room, day(2024, 7, 1), None)
            .unwrap();

        let pending = gw.pending_count().unwrap();
        assert_eq!(gw.tenant_retention_days().unwrap(), 90);
        // The stay gone 100 days and its tenant; the old stay of the tenant who moved rooms.
        assert_eq!(gw.purge_expired_tenants().unwrap(), 3);
        let held = |id| gw.record_state(id).unwrap().is_some();
        assert!(!held(stay.id) && !held(gone.id));
        assert!(!held(old.id));
        assert!(
            held(moved.id) && held(current.id),
            "still living in the other room"
        );
        assert!(
            held(recent_stay.id) && held(recent.id),
            "30 days is within retention"
        );
        assert!(held(living.id));
        assert_eq!(
            gw.pending_count().unwrap(),
            pending,
            "the outbox is never touched"
        );

        // A shorter policy takes the recent one too; purging again finds nothing more.
        gw.set_tenant_retention_days(20).unwrap();
        assert_eq!(gw.purge_expired_tenants().unwrap(), 2);
        assert!(!held(recent_stay.id) && !held(recent.id));
        assert_eq!(gw.purge_expired_tenants().unwrap(), 0);

        // Ten years at most: a slip of the finger is refused and the policy stays.
        let err = gw
            .set_tenant_retention_days(MAX_TENANT_RETENTION_DAYS + 1)
            .unwrap_err();
        assert!(matches!(err, crate::Error::Invalid(_)), "{err:?}");
        assert_eq!(gw.tenant_retention_days().unwrap(), 20);
    }
}
