//! The bootstrap's own write path (ADR 0037): cut off mid-snapshot and resumed in a later run
//! (the app killed in between), it fetches only the pages it had not written and ends with the
//! same store as a bootstrap that ran through.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use gridwork_domain::ids::Id;
use gridwork_domain::merge::RecordState;
use gridwork_domain::sync::*;
use gridwork_domain::workflow::CaseEvent;
use rusqlite::Connection;

use crate::seed::{SeedSize, seed_subdistrict};
use crate::store::{bulk, meta, records};
use crate::sync::transport::{Sized, Transport, TransportError};
use crate::{Gridwork, OpenOptions, StoreKey};

const PAGE: usize = 60;

/// A server's snapshot, served in pages of [`PAGE`] records in id order; the call numbered
/// `fail_at` (from 0) fails as a dropped connection would.
struct Snapshot {
    records: Vec<RecordState>,
    events: Vec<CaseEvent>,
    fail_at: Option<usize>,
    calls: AtomicUsize,
    served: Mutex<Vec<Id>>,
}

impl Snapshot {
    fn of(records: &[RecordState], events: &[CaseEvent], fail_at: Option<usize>) -> Snapshot {
        Snapshot {
            records: records.to_vec(),
            events: events.to_vec(),
            fail_at,
            calls: AtomicUsize::new(0),
            served: Mutex::new(Vec::new()),
        }
    }
}

impl Transport for Snapshot {
    async fn enroll(&self, _: &EnrollRequest) -> Result<Sized<EnrollResponse>, TransportError> {
        Err(TransportError::BadAnswer("no enrollment here".into()))
    }

    async fn push(&self, _: &PushRequest) -> Result<Sized<PushResponse>, TransportError> {
        Err(TransportError::BadAnswer("no push here".into()))
    }

    async fn pull(
        &self,
        after: u64,
        _limit: usize,
        _wait_s: u64,
    ) -> Result<Sized<PullResponse>, TransportError> {
        Ok(Sized {
            bytes: 0,
            value: PullResponse {
                ops: vec![],
                next: after,
                more: false,
                server_time_ms: 1_795_000_000_000,
                records: vec![],
                events: vec![],
                evict: vec![],
                user: None,
            },
        })
    }

    async fn snapshot(
        &self,
        after: Option<Id>,
        _limit: usize,
    ) -> Result<Sized<SnapshotResponse>, TransportError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        if Some(call) == self.fail_at {
            return Err(TransportError::Unreachable("connection reset".into()));
        }
        let start = after.map_or(0, |a| self.records.partition_point(|r| r.id <= a));
        let end = (start + PAGE).min(self.records.len());
        let page = self.records[start..end].to_vec();
        self.served
            .lock()
            .unwrap()
            .extend(page.iter().map(|r| r.id));
        let events = self
            .events
            .iter()
            .filter(|e| page.iter().any(|r| r.id == e.case_id))
            .cloned()
            .collect();
        Ok(Sized {
            bytes: 0,
            value: SnapshotResponse {
                seq: 77,
                next_after: (end < self.records.len()).then(|| page.last().unwrap().id),
                records: page,
                events,
                server_time_ms: 1_795_000_000_000,
                // Announced on the first page, as a scoped server does.
                total_records: after.is_none().then_some(self.records.len() as u64),
            },
        })
    }

    fn set_token(&self, _: Option<String>) {}
}

/// A server's records: a seeded subdistrict with a few cases, sorted by id as snapshot pages
/// are.
fn server_records() -> (Vec<RecordState>, Vec<CaseEvent>) {
    let source = Gridwork::open_in_memory(OpenOptions::default()).unwrap();
    let size = SeedSize {
        grid_layers: 1,
        communities: 2,
        grids: 2,
        buildings: 5,
        households: 4,
        stations: 1,
    };
    let seeded = seed_subdistrict(&source, 5, size, |_, _| {}).unwrap();
    for b in seeded.buildings.iter().take(6) {
        source
            .open_case(gridwork_domain::model::Case {
                id: uuid::Uuid::nil(),
                kind: gridwork_domain::model::CaseKind::Hazard,
                title: "楼道堆物".into(),
                category: "blocked_exit".into(),
                severity: gridwork_domain::model::Severity::Medium,
                area_id: b.grid_id,
                building_id: Some(b.id),
                household_id: None,
                position: b.position,
                opened_at_ms: 0,
                patrol_id: None,
            })
            .unwrap();
    }
    source
        .read(|c| {
            let mut recs = Vec::new();
            for id in records::all_ids(c)? {
                recs.push(records::load(c, id)?.unwrap());
            }
            recs.sort_by_key(|r| r.id);
            let events: Vec<CaseEvent> = c
                .prepare("SELECT event FROM case_events ORDER BY id")?
                .query_map([], |r| r.get::<_, String>(0))?
                .map(|e| Ok(serde_json::from_str(&e?)?))
                .collect::<crate::Result<_>>()?;
            Ok((recs, events))
        })
        .unwrap()
}

fn phone(path: &std::path::Path) -> Gridwork {
    let gw = Gridwork::open_with(
        path,
        OpenOptions::with_key(StoreKey::from_bytes([3; StoreKey::LEN])),
    )
    .unwrap();
    gw.read(|c| meta::set(c, meta::TOKEN, "token")).unwrap();
    gw
}

/// Everything a bootstrap leaves in a store, in a comparable form.
fn dump(conn: &Connection) -> Vec<String> {
    let mut out = Vec::new();
    for sql in [
        "SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_master ORDER BY name",
        "SELECT id || kind || fields || stamps || coalesce(tombstone, '') FROM records ORDER BY id",
        "SELECT case_id || state || closed || fold FROM case_folds ORDER BY case_id",
        "SELECT id || event FROM case_events ORDER BY id",
        "SELECT record_id || kind || text FROM search ORDER BY record_id",
        "SELECT count(*) FROM search_stale",
        "SELECT key || '=' || value FROM meta
         WHERE key IN ('cursor', 'snapshot_seq', 'snapshot_after', 'bulk_from_rid')
         ORDER BY key",
    ] {
        let mut stmt = conn.prepare(sql).unwrap();
        let rows = stmt
            .query_map([], |r| r.get::<_, rusqlite::types::Value>(0))
            .unwrap();
        out.extend(rows.map(|v| format!("{:?}", v.unwrap())));
    }
    out
}

#[tokio::test]
async fn a_bootstrap_cut_off_mid_snapshot_resumes_from_its_last_page_and_ends_with_the_same_store()
{
    let (recs, events) = server_records();
    assert!(recs.len() > 4 * PAGE, "several pages: {}", recs.len());
    let dir = tempfile::tempdir().unwrap();

    // A bootstrap that runs through.
    let whole = phone(&dir.path().join("whole.db"));
    let report = whole
        .sync_now(&Snapshot::of(&recs, &events, None))
        .await
        .unwrap();
    assert_eq!(report.snapshot_records, recs.len() as u64);

    // One cut off: the third snapshot request fails while the second page is written.
    let cut_path = dir.path().join("cut.db");
    let cut = phone(&cut_path);
    let failing = Snapshot::of(&recs, &events, Some(2));
    let err = cut.sync_now(&failing).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    let held = cut.read(|c| Ok(records::all_ids(c)?.len())).unwrap();
    assert_eq!(held, 2 * PAGE, "the two pages written are kept");
    assert!(
        cut.read(bulk::is_on).unwrap(),
        "the write path stays on for the rest"
    );
    assert!(
        cut.read(|c| meta::get(c, meta::CURSOR)).unwrap().is_none(),
        "not bootstrapped yet"
    );
    // The app is killed; it opens the store again and syncs.
    drop(cut);
    let cut = phone(&cut_path);
    let resumed = Snapshot::of(&recs, &events, None);
    let report = cut.sync_now(&resumed).await.unwrap();
    let served = resumed.served.lock().unwrap().clone();
    assert_eq!(
        served,
        recs[2 * PAGE..].iter().map(|r| r.id).collect::<Vec<_>>(),
        "only the pages not written before are fetched"
    );
    assert_eq!(report.snapshot_records, (recs.len() - 2 * PAGE) as u64);

    let a = whole.read(|c| Ok(dump(c))).unwrap();
    let b = cut.read(|c| Ok(dump(c))).unwrap();
    assert_eq!(
        a, b,
        "the resumed store differs from the one that ran through"
    );
    // Both are whole: the search index holds every searchable record, no mark is left, the
    // write path is off and the cursor is the snapshot's.
    assert!(!whole.read(bulk::is_on).unwrap());
    assert_eq!(
        whole
            .read(|c| meta::get(c, meta::CURSOR))
            .unwrap()
            .as_deref(),
        Some("77")
    );
    let searchable: i64 = whole
        .read(|c| Ok(c.query_row("SELECT count(*) FROM search_source", [], |r| r.get(0))?))
        .unwrap();
    let indexed: i64 = whole
        .read(|c| Ok(c.query_row("SELECT count(*) FROM search", [], |r| r.get(0))?))
        .unwrap();
    assert!(searchable > 0);
    assert_eq!(indexed, searchable);
    let hits = cut.search("楼道堆物", 50).unwrap();
    assert_eq!(hits.len(), 6, "every case brought is found");
}

#[tokio::test]
async fn records_held_before_a_bootstrap_are_merged_and_found_and_the_rest_inserted() {
    let (recs, events) = server_records();
    let dir = tempfile::tempdir().unwrap();
    let gw = phone(&dir.path().join("p.db"));
    // The phone holds one of the records already, with an older value of one field.
    let mut older = recs
        .iter()
        .find(|r| r.kind == gridwork_domain::op::EntityKind::Building)
        .unwrap()
        .clone();
    let id = older.id;
    older.fields.insert("address".into(), "旧地址1幢".into());
    for stamp in older.stamps.values_mut() {
        stamp.hlc = gridwork_domain::hlc::Hlc::from_u64(1);
    }
    gw.with_tx(|tx, _, _| {
        records::save(tx, &older)?;
        Ok(())
    })
    .unwrap();
    gw.refresh_search().unwrap();
    assert_eq!(gw.search("旧地址", 5).unwrap().len(), 1);

    gw.sync_now(&Snapshot::of(&recs, &events, None))
        .await
        .unwrap();
    let held = gw.read(|c| records::load(c, id)).unwrap().unwrap();
    let server = recs.iter().find(|r| r.id == id).unwrap();
    assert_eq!(held.fields, server.fields, "the server's newer value wins");
    assert!(gw.search("旧地址", 5).unwrap().is_empty());
    assert_eq!(
        gw.read(|c| Ok(records::all_ids(c)?.len())).unwrap(),
        recs.len()
    );
}

/// ADR 0036: a local edit keeps its clock in its outbox row, not in `meta`; a phone opened
/// again (its wall clock now behind) still stamps after it.
#[test]
fn a_local_edits_clock_lives_in_its_outbox_row_and_a_reopened_store_stamps_after_it() {
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clock.db");
    let at = |ms: u64| OpenOptions {
        clock: Arc::new(move || ms),
        ..OpenOptions::default()
    };
    let first = {
        let gw = Gridwork::open_with(&path, at(1_795_000_000_000)).unwrap();
        let before = gw.read(|c| meta::get(c, meta::HLC_LAST)).unwrap();
        gw.create(district("330106", "西湖区")).unwrap();
        assert_eq!(
            gw.read(|c| meta::get(c, meta::HLC_LAST)).unwrap(),
            before,
            "the edit wrote no page of meta"
        );
        gw.read(crate::store::outbox::highest_stamp)
            .unwrap()
            .unwrap()
    };
    // Reopened with a wall clock a minute behind.
    let gw = Gridwork::open_with(&path, at(1_794_999_940_000)).unwrap();
    gw.create(district("330105", "拱墅区")).unwrap();
    let second = gw
        .read(crate::store::outbox::highest_stamp)
        .unwrap()
        .unwrap();
    assert!(second > first, "{second:?} after {first:?}");
}

fn district(code: &str, name: &str) -> gridwork_domain::model::Area {
    gridwork_domain::model::Area {
        id: uuid::Uuid::nil(),
        level: gridwork_domain::model::AreaLevel::District,
        code: code.into(),
        name: name.into(),
        parent_id: None,
        response_policies: vec![],
    }
}

/// A record the bootstrap inserts is stored as absorbing it into nothing gives: as it came when
/// every field has its stamp (written without a copy), and without its unstamped fields
/// otherwise; each row id is the one SQLite gave it (no `RETURNING`), so the search pass at the
/// end finds each record by its own row.
#[tokio::test]
async fn a_bootstrap_stores_each_record_as_absorbed_into_nothing_under_its_own_row() {
    let (mut recs, events) = server_records();
    let partial = recs
        .iter()
        .position(|r| r.kind == gridwork_domain::op::EntityKind::Household)
        .unwrap();
    recs[partial]
        .fields
        .insert("unstamped".into(), "没有时间戳".into());
    let dir = tempfile::tempdir().unwrap();
    let gw = phone(&dir.path().join("p.db"));
    gw.sync_now(&Snapshot::of(&recs, &events, None))
        .await
        .unwrap();
    for record in &recs {
        let mut expected = RecordState::new(record.kind, record.id);
        expected.absorb(record);
        let held = gw.read(|c| records::load(c, record.id)).unwrap().unwrap();
        assert_eq!(held, expected, "{:?}", record.kind);
    }
    let held = gw
        .read(|c| records::load(c, recs[partial].id))
        .unwrap()
        .unwrap();
    assert!(!held.fields.contains_key("unstamped"));
    assert_eq!(held.fields.len(), held.stamps.len());
    // Every searchable record's search row is its own: same row id, same record id.
    let mismatched: i64 = gw
        .read(|c| {
            Ok(c.query_row(
                "SELECT count(*) FROM search_source s LEFT JOIN search f ON f.rowid = s.rid
                 WHERE f.record_id IS NOT s.id",
                [],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    assert_eq!(mismatched, 0);
    // The parent column is what every other write path stores (migration 007's expression).
    let wrong_parent: i64 = gw
        .read(|c| {
            Ok(c.query_row(
                "SELECT count(*) FROM records WHERE parent IS NOT json_extract(fields, CASE kind
                    WHEN 'area' THEN '$.parent_id' WHEN 'building' THEN '$.grid_id'
                    WHEN 'household' THEN '$.building_id' WHEN 'resident' THEN '$.household_id'
                    WHEN 'registration' THEN '$.resident_id' WHEN 'case' THEN '$.area_id'
                    WHEN 'patrol_visit' THEN '$.patrol_id' END)",
                [],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    assert_eq!(wrong_parent, 0);
    let with_parent: i64 = gw
        .read(|c| {
            Ok(c.query_row(
                "SELECT count(*) FROM records WHERE parent IS NOT NULL",
                [],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    assert!(with_parent > recs.len() as i64 / 2, "{with_parent}");
}
