//! No personal data in any log line: a field day (seeding, bootstrap of an encrypted phone,
//! offline edits of a phone and an ID number that conflict (the conflict list masks the ID
//! number), a stored record that no longer decodes) runs with every crate's
//! tracing at TRACE level (the device core, the sync server, hyper, reqwest through `log`), every
//! line is captured, and none holds a seeded resident's name, phone or ID number. The sync
//! state's error message, which the app shows, is checked the same way.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use gridwork_core::seed::{SeedSize, id_number, seed_subdistrict};
use gridwork_core::{Gridwork, HttpTransport, OpenOptions, StoreKey, SyncState};
use gridwork_domain::model::{Household, Resident};
use gridwork_domain::sync::Role;
use gridwork_domain::validate::resident_id;
use tracing_subscriber::util::SubscriberInitExt;

use crate::harness::*;

/// Every log line written, kept in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn a_field_day_at_trace_level_logs_no_name_phone_or_id_number() {
    let log = Captured::default();
    let writer = log.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish()
        .try_init()
        .expect("no other subscriber in this test process");

    let server = TestServer::start().await;
    // Admins: an empty scope is everything (docs/scopes.md).
    let seeder = Device::enrolled(&server, "测试甲", Role::Admin, vec![]).await;
    seeder.sync().await;
    let seeded = seed_subdistrict(&seeder.gw, 17, SeedSize::TINY, |_, _| {}).unwrap();
    seeder.sync().await;

    // An encrypted phone on disk bootstraps the whole subdistrict.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("phone.db");
    let key = StoreKey::generate();
    let clock = Arc::new(AtomicU64::new(gridwork_server::clock::now_ms()));
    let c = clock.clone();
    let phone = Gridwork::open_with(
        &db,
        OpenOptions {
            clock: Arc::new(move || c.load(Ordering::SeqCst)),
            key: Some(key.clone()),
            ..OpenOptions::default()
        },
    )
    .unwrap();
    let net = HttpTransport::new(&server.url(), None).unwrap();
    let code = server.user_code("测试乙", Role::Admin, vec![]).await;
    phone.enroll(&net, &code, "测试乙的手机").await.unwrap();
    let report = phone.sync_now(&net).await.unwrap();
    assert!(report.snapshot_records > 0);

    // Both edit the same household's phone and the same resident's ID number offline:
    // conflicts, with phones and ID numbers in them.
    let h = seeded.households[0].id;
    let other = seeded.residents.last().unwrap().id;
    let day = chrono::NaiveDate::from_ymd_opt(1990, 5, 17).unwrap();
    let (lost_number, won_number) = (id_number(day, 401), id_number(day, 402));
    seeder
        .gw
        .update::<Household>(h, |h| h.phone = Some("13811112222".into()))
        .unwrap();
    seeder
        .gw
        .update::<Resident>(other, |r| r.id_number = Some(lost_number.clone()))
        .unwrap();
    clock.fetch_add(60_000, Ordering::SeqCst);
    phone
        .update::<Household>(h, |h| h.phone = Some("13933334444".into()))
        .unwrap();
    phone
        .update::<Resident>(other, |r| r.id_number = Some(won_number.clone()))
        .unwrap();
    phone.sync_now(&net).await.unwrap();
    seeder.sync().await;
    phone.sync_now(&net).await.unwrap();
    let conflicts = seeder.gw.field_conflicts().unwrap();
    assert_eq!(conflicts.len(), 2);
    // A list: the ID numbers in it are masked; re-applying writes the whole number back.
    let on_number = conflicts.iter().find(|c| c.field == "id_number").unwrap();
    assert_eq!(on_number.lost_value, resident_id::mask(&lost_number));
    assert_eq!(on_number.won_value, resident_id::mask(&won_number));
    seeder.gw.reapply_conflict(on_number.id).unwrap();
    assert_eq!(
        seeder.gw.get::<Resident>(other).unwrap().id_number,
        Some(lost_number.clone())
    );

    // A resident's stored stamps are damaged so that decoding them quotes the name and the ID
    // number; the next pull that touches the resident fails.
    let victim = seeded
        .residents
        .iter()
        .find(|r| r.id_number.is_some())
        .unwrap();
    let number = victim.id_number.clone().unwrap();
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        // The key and the page MAC every store is made with (ADR 0056).
        conn.execute_batch(&format!(
            "PRAGMA key = \"x'{}'\"; PRAGMA cipher_compatibility = 4; \
             PRAGMA cipher_hmac_algorithm = HMAC_SHA256;",
            key.to_hex()
        ))
        .unwrap();
        conn.execute(
            "UPDATE records SET stamps = ?1 WHERE id = ?2",
            [
                serde_json::to_string(&format!("{} {number}", victim.name)).unwrap(),
                victim.id.to_string(),
            ],
        )
        .unwrap();
    }
    seeder
        .gw
        .update::<Resident>(victim.id, |r| r.phone = Some("13755556666".into()))
        .unwrap();
    seeder.sync().await;
    assert!(phone.sync_now(&net).await.is_err());
    let SyncState::Error { message } = phone.sync_state() else {
        panic!("the sync state is an error: {:?}", phone.sync_state());
    };
    assert!(message.contains("could not be decoded"), "{message}");
    assert!(
        !message.contains(&victim.name) && !message.contains(&number),
        "{message}"
    );

    let text = log.text();
    for expected in ["sync finished", "sync failed", "pull page", "store opened"] {
        assert!(text.contains(expected), "the log has '{expected}' lines");
    }
    let mut secrets: Vec<String> = ["13811112222", "13933334444", "13755556666"]
        .map(String::from)
        .to_vec();
    secrets.extend([lost_number, won_number]);
    for r in &seeded.residents {
        secrets.push(r.name.clone());
        secrets.extend(r.id_number.clone());
        secrets.extend(r.phone.clone());
    }
    secrets.extend(seeded.households.iter().filter_map(|h| h.phone.clone()));
    let lines = text.lines().count();
    for secret in &secrets {
        if let Some(line) = text.lines().find(|l| l.contains(secret.as_str())) {
            panic!("a log line holds personal data: {line}");
        }
    }
    let crates: std::collections::BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .filter_map(|target| target.split("::").next())
        .map(|c| c.trim_end_matches(':'))
        .collect();
    eprintln!(
        "figure: {lines} log lines at TRACE from {crates:?} checked against {} names, phones \
         and ID numbers",
        secrets.len()
    );
}
