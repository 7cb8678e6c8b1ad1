//! A lost phone: the store encrypted with the app's key holds no resident's name, ID number or
//! phone in any of its files; the wrong key and no key are refused with errors the app can
//! show; search (FTS5, trigram) works on the encrypted store.

use std::path::Path;

use gridwork_core::{Error, Gridwork, OpenOptions, StoreKey};
use gridwork_domain::model::*;

use crate::common::*;

/// The residents a gridworker records in the test: name, ID number, phone.
fn people() -> Vec<(&'static str, String, &'static str)> {
    vec![
        ("王秀英", id_number("19480312", 21), "13957112345"),
        ("陈建国", id_number("19790605", 33), "13805710987"),
        ("赵丽华", id_number("19911130", 47), "15967154321"),
    ]
}

fn keyed(clock: &TestClock, key: &StoreKey) -> OpenOptions {
    OpenOptions {
        key: Some(key.clone()),
        ..clock.options()
    }
}

/// Records the people in one household and returns the household.
fn record_people(gw: &Gridwork) -> Household {
    let grid = grid_with_buildings(gw, 2);
    let h = household(
        gw,
        grid.buildings[0].id,
        "2-301",
        HouseholdKind::OwnerOccupied,
    );
    for (name, number, phone) in people() {
        let r = resident(gw, h.id, name, &number);
        gw.update::<Resident>(r.id, |r| r.phone = Some(phone.into()))
            .unwrap();
    }
    h
}

fn assert_no_plaintext(db: &Path) {
    let files = store_file_bytes(db);
    assert!(!files.is_empty());
    let mut needles: Vec<Vec<u8>> = vec![b"SQLite format 3".to_vec(), "梅花碑".as_bytes().to_vec()];
    for (name, number, phone) in people() {
        needles.push(name.as_bytes().to_vec());
        needles.push(number.into_bytes());
        needles.push(phone.as_bytes().to_vec());
    }
    for (suffix, bytes) in &files {
        for needle in &needles {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_slice()),
                "store file '{suffix}' ({} bytes) holds plaintext",
                bytes.len()
            );
        }
    }
}

#[test]
fn a_lost_phones_store_holds_no_names_id_numbers_or_phones_in_any_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("phone.db");
    let clock = TestClock::at(MORNING_MS);
    let key = StoreKey::generate();
    let gw = Gridwork::open_with(&db, keyed(&clock, &key)).unwrap();
    let h = record_people(&gw);
    // The changes sit in the write-ahead log now: it must be as opaque as the store file.
    assert!(
        std::fs::metadata(format!("{}-wal", db.display()))
            .unwrap()
            .len()
            > 0
    );
    assert_no_plaintext(&db);
    // Search runs on the encrypted store (FTS5 with the trigram tokenizer).
    let hits = gw.search("秀英", 10).unwrap();
    assert_eq!(hits.len(), 1);
    drop(gw);
    // Closed: the log was copied into the store file.
    assert_no_plaintext(&db);

    let again = Gridwork::open_with(&db, keyed(&clock, &key)).unwrap();
    let names: Vec<String> = again
        .residents_of_household(h.id)
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names.len(), 3);
    assert!(names.contains(&"王秀英".to_string()));
    assert_eq!(again.search("13957", 10).unwrap().len(), 1);
    let cipher = again.cipher_settings().unwrap().unwrap();
    assert!(cipher.contains("\"compatibility\":4"), "{cipher}");
    assert!(cipher.contains("sqlcipher"), "{cipher}");
}

#[test]
fn a_wrong_key_and_no_key_are_refused_clearly_and_leave_the_file_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("phone.db");
    let clock = TestClock::at(MORNING_MS);
    let key = StoreKey::generate();
    drop(record_people(
        &Gridwork::open_with(&db, keyed(&clock, &key)).unwrap(),
    ));
    let before = store_file_bytes(&db);

    let wrong = Gridwork::open_with(&db, keyed(&clock, &StoreKey::generate())).unwrap_err();
    assert!(matches!(wrong, Error::WrongKey), "{wrong:?}");
    assert_eq!(wrong.to_string(), "wrong key or not a gridwork database");

    let none = Gridwork::open_with(&db, clock.options()).unwrap_err();
    assert!(matches!(none, Error::KeyRequired), "{none:?}");
    assert!(none.to_string().contains("open it with its key"), "{none}");

    assert_eq!(
        store_file_bytes(&db),
        before,
        "a refused open changes nothing"
    );
    assert!(Gridwork::open_with(&db, keyed(&clock, &key)).is_ok());
}

#[test]
fn an_unencrypted_store_is_not_opened_with_a_key_and_stays_readable_without() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("phone.db");
    let clock = TestClock::at(MORNING_MS);
    drop(record_people(
        &Gridwork::open_with(&db, clock.options()).unwrap(),
    ));
    let err = Gridwork::open_with(&db, keyed(&clock, &StoreKey::generate())).unwrap_err();
    assert!(matches!(err, Error::NotEncrypted), "{err:?}");
    assert!(err.to_string().contains("not encrypted"), "{err}");
    assert!(Gridwork::open_with(&db, clock.options()).is_ok());
}

/// A store made now authenticates its pages with HMAC-SHA256 (ADR 0056): SQLCipher's
/// HMAC-SHA512 default does not read it, and its metadata says so.
#[test]
fn a_new_store_authenticates_its_pages_with_hmac_sha256() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("phone.db");
    let clock = TestClock::at(MORNING_MS);
    let key = StoreKey::generate();
    let gw = Gridwork::open_with(&db, keyed(&clock, &key)).unwrap();
    record_people(&gw);
    let cipher = gw.cipher_settings().unwrap().unwrap();
    assert!(cipher.contains("\"page_mac\":\"HMAC_SHA256\""), "{cipher}");
    drop(gw);
    assert!(raw_reads(&db, &key, "HMAC_SHA256"));
    assert!(!raw_reads(&db, &key, "HMAC_SHA512"));
}

/// A store made before ADR 0056 (HMAC-SHA512 pages) opens as it is, and stays so: its writer,
/// readers and checkpointer all read it; a wrong key is still refused and changes nothing.
#[test]
fn a_store_made_before_adr_0056_opens_in_its_own_format() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("phone.db");
    let clock = TestClock::at(MORNING_MS);
    let key = StoreKey::generate();
    legacy_store(&db, &key);
    let h = {
        let gw = Gridwork::open_with(&db, keyed(&clock, &key)).unwrap();
        let h = record_people(&gw);
        assert!(gw.pages_written().is_some(), "the checkpointer runs");
        h
    };
    let before = store_file_bytes(&db);
    let wrong = Gridwork::open_with(&db, keyed(&clock, &StoreKey::generate())).unwrap_err();
    assert!(matches!(wrong, Error::WrongKey), "{wrong:?}");
    assert_eq!(
        store_file_bytes(&db),
        before,
        "a refused open changes nothing"
    );

    let again = Gridwork::open_with(&db, keyed(&clock, &key)).unwrap();
    assert!(again.pages_written().is_some(), "the checkpointer runs");
    // Reads run on the readers' connections, searches too.
    assert_eq!(again.residents_of_household(h.id).unwrap().len(), 3);
    assert_eq!(again.search("13957", 10).unwrap().len(), 1);
    let r = again.residents_of_household(h.id).unwrap().remove(0);
    again
        .update::<Resident>(r.id, |r| r.phone = Some("13900001111".into()))
        .unwrap();
    assert_eq!(again.search("13900001111", 10).unwrap().len(), 1);
    let cipher = again.cipher_settings().unwrap().unwrap();
    assert!(cipher.contains("\"page_mac\":\"HMAC_SHA512\""), "{cipher}");
    drop(again);
    assert_no_plaintext(&db);
    assert!(
        raw_reads(&db, &key, "HMAC_SHA512"),
        "still in its own format"
    );
    assert!(!raw_reads(&db, &key, "HMAC_SHA256"));
}

/// A store made before ADR 0056, as a crash leaves it (its log not yet folded into the file):
/// a wrong key is refused without folding the log in (neither of the two attempts checkpoints
/// as it closes), and the right key then opens it with every change the log held.
#[test]
fn a_crashed_store_made_before_adr_0056_is_unchanged_by_a_wrong_key_and_opens_with_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("phone.db");
    let image = dir.path().join("crashed.db");
    let clock = TestClock::at(MORNING_MS);
    let key = StoreKey::generate();
    legacy_store(&db, &key);
    let gw = Gridwork::open_with(&db, keyed(&clock, &key)).unwrap();
    let h = record_people(&gw);
    // The files as a killed process leaves them, copied while the store is open.
    for suffix in ["", "-wal", "-shm"] {
        std::fs::copy(
            format!("{}{suffix}", db.display()),
            format!("{}{suffix}", image.display()),
        )
        .unwrap();
    }
    drop(gw);
    let files = |p: &Path| -> Vec<(String, Vec<u8>)> {
        // The store file and its log (the shared-memory index is SQLite's to rebuild).
        store_file_bytes(p)
            .into_iter()
            .filter(|(suffix, _)| suffix != "-shm")
            .collect()
    };
    let before = files(&image);
    assert!(
        before.iter().any(|(s, b)| s == "-wal" && !b.is_empty()),
        "the changes are in the log"
    );

    let wrong = Gridwork::open_with(&image, keyed(&clock, &StoreKey::generate())).unwrap_err();
    assert!(matches!(wrong, Error::WrongKey), "{wrong:?}");
    assert_eq!(files(&image), before, "a refused open changes neither file");

    let opened = Gridwork::open_with(&image, keyed(&clock, &key)).unwrap();
    assert_eq!(opened.residents_of_household(h.id).unwrap().len(), 3);
    let cipher = opened.cipher_settings().unwrap().unwrap();
    assert!(cipher.contains("\"page_mac\":\"HMAC_SHA512\""), "{cipher}");
}
