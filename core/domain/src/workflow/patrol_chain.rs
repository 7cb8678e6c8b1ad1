//! Tamper-evident patrols: each visit of a patrol carries a link, the hash of the link before it
//! and of the visit's building, time and position; the first link hangs from the patrol itself
//! (its id, its user, when it started), and ending the patrol seals the last link into the patrol
//! as its `chain_head`. The phone makes the links as the visits are made
//! (`gridwork-core`'s patrols); anyone holding the records checks them with [`verify`]:
//!
//! - a visit **removed** later leaves the next link (or the sealed head) pointing at nothing;
//! - a visit **inserted** later has no link that fits between its neighbours;
//! - a visit **back-dated** (its time, building or position changed) no longer hashes to its
//!   link, and the links after it do not follow;
//! - a link rewritten to hide any of these is a field written after the visit was made: its
//!   stamp differs from the visit's ([`verify_stamps`], which the server runs on the stored
//!   records).
//!
//! The weekly brief counts only the visits of patrols whose chain verifies.

use sha2::{Digest, Sha256};

use crate::ids::Id;
use crate::model::{Patrol, PatrolVisit};

/// The link before a patrol's first visit.
pub fn genesis(patrol: &Patrol) -> String {
    let mut h = Sha256::new();
    for part in [
        b"gridwork-patrol-v1".as_slice(),
        patrol.id.as_bytes(),
        patrol.user_id.as_bytes(),
        &patrol.started_at_ms.to_be_bytes(),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    hex::encode(h.finalize())
}

/// The link of `visit` after the link `prev`.
pub fn link(prev: &str, visit: &PatrolVisit) -> String {
    let position = visit
        .position
        .map(|p| format!("{:.7},{:.7}", p.lat, p.lon))
        .unwrap_or_default();
    let mut h = Sha256::new();
    for part in [
        prev.as_bytes(),
        visit.id.as_bytes(),
        visit.patrol_id.as_bytes(),
        visit.building_id.as_bytes(),
        &visit.at_ms.to_be_bytes(),
        position.as_bytes(),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    hex::encode(h.finalize())
}

/// The order visits are chained in: by time, then id.
pub fn chain_order(visits: &mut [PatrolVisit]) {
    visits.sort_by_key(|v| (v.at_ms, v.id));
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainVerdict {
    /// Every visit links to the one before, and the sealed head (if the patrol ended) is the
    /// last link.
    Intact,
    /// A patrol made before visits were chained (no link anywhere): neither proven nor broken.
    Unchained,
    /// The first thing that does not fit.
    Broken { visit: Option<Id>, problem: String },
}

impl ChainVerdict {
    pub fn is_intact(&self) -> bool {
        *self == ChainVerdict::Intact
    }
}

/// Checks the live visits of `patrol` (any order) against their links and the sealed head.
pub fn verify(patrol: &Patrol, visits: &[PatrolVisit]) -> ChainVerdict {
    let mut visits: Vec<PatrolVisit> = visits
        .iter()
        .filter(|v| v.patrol_id == patrol.id)
        .cloned()
        .collect();
    chain_order(&mut visits);
    if patrol.chain_head.is_none() && visits.iter().all(|v| v.chain.is_none()) {
        return ChainVerdict::Unchained;
    }
    let mut prev = genesis(patrol);
    for v in &visits {
        let expected = link(&prev, v);
        match &v.chain {
            Some(c) if *c == expected => prev = expected,
            Some(_) => {
                return ChainVerdict::Broken {
                    visit: Some(v.id),
                    problem: "the visit does not follow the one before it: a visit was removed, \
                              inserted or changed"
                        .into(),
                };
            }
            None => {
                return ChainVerdict::Broken {
                    visit: Some(v.id),
                    problem: "the visit has no link: it was added outside the patrol".into(),
                };
            }
        }
    }
    match (&patrol.ended_at_ms, &patrol.chain_head) {
        (Some(_), Some(head)) if *head != prev => ChainVerdict::Broken {
            visit: None,
            problem: "the patrol's sealed chain does not end with its last visit: a visit was \
                      removed or added after it ended"
                .into(),
        },
        (Some(_), None) => ChainVerdict::Broken {
            visit: None,
            problem: "the patrol ended without sealing its chain".into(),
        },
        _ => ChainVerdict::Intact,
    }
}

/// The fields of a visit its link covers, and the patrol's sealed head: on the server, each
/// must carry the stamp the record was made with (the visit's `patrol_id` stamp; the patrol's
/// `ended_at_ms` stamp), or it was rewritten after the fact.
pub const CHAINED_VISIT_FIELDS: [&str; 5] =
    ["building_id", "at_ms", "position", "chain", "patrol_id"];

/// Whether `stamps` (a visit record's field stamps, by field) were all written at once: `Err`
/// names the first chained field written later than the visit was made.
pub fn verify_stamps<S: PartialEq>(
    stamps: &std::collections::BTreeMap<String, S>,
) -> Result<(), String> {
    let Some(made) = stamps.get("patrol_id") else {
        return Ok(());
    };
    for field in CHAINED_VISIT_FIELDS {
        if let Some(s) = stamps.get(field)
            && s != made
        {
            return Err(format!("the visit's {field} was changed after it was made"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::Position;

    fn id(n: u128) -> Id {
        uuid::Uuid::from_u128(n)
    }

    /// A patrol with `n` chained visits, ended and sealed.
    fn patrol(n: u64) -> (Patrol, Vec<PatrolVisit>) {
        let mut patrol = Patrol {
            id: id(1),
            user_id: id(2),
            area_id: id(3),
            started_at_ms: 1_795_000_000_000,
            ended_at_ms: None,
            chain_head: None,
        };
        let mut prev = genesis(&patrol);
        let mut visits = vec![];
        for i in 0..n {
            let mut v = PatrolVisit {
                id: id(100 + i as u128),
                patrol_id: patrol.id,
                building_id: id(200 + i as u128),
                at_ms: patrol.started_at_ms + 60_000 * (i + 1),
                position: Some(Position {
                    lat: 30.25 + i as f64 / 1000.0,
                    lon: 120.16,
                }),
                note: None,
                chain: None,
            };
            let l = link(&prev, &v);
            v.chain = Some(l.clone());
            prev = l;
            visits.push(v);
        }
        patrol.ended_at_ms = Some(patrol.started_at_ms + 3_600_000);
        patrol.chain_head = Some(prev);
        (patrol, visits)
    }

    #[test]
    fn a_whole_patrol_verifies_in_any_order() {
        let (p, mut visits) = patrol(4);
        visits.reverse();
        assert_eq!(verify(&p, &visits), ChainVerdict::Intact);
        let (empty, none) = patrol(0);
        assert_eq!(verify(&empty, &none), ChainVerdict::Intact);
    }

    #[test]
    fn a_removed_visit_is_flagged_in_the_middle_and_at_the_end() {
        let (p, mut visits) = patrol(4);
        let middle = visits.remove(1);
        let v = verify(&p, &visits);
        assert_eq!(
            v,
            ChainVerdict::Broken {
                visit: Some(visits[1].id),
                problem: "the visit does not follow the one before it: a visit was removed, \
                          inserted or changed"
                    .into()
            }
        );
        assert_ne!(visits[1].id, middle.id);
        let (p, mut visits) = patrol(4);
        visits.pop();
        assert!(matches!(
            verify(&p, &visits),
            ChainVerdict::Broken { visit: None, .. }
        ));
    }

    #[test]
    fn an_inserted_or_back_dated_visit_is_flagged() {
        let (p, mut visits) = patrol(3);
        let mut forged = visits[0].clone();
        forged.id = id(999);
        forged.at_ms += 30_000;
        forged.chain = Some(link(&visits[0].chain.clone().unwrap(), &forged));
        visits.push(forged);
        assert!(matches!(verify(&p, &visits), ChainVerdict::Broken { .. }));

        let (p, mut visits) = patrol(3);
        visits[2].at_ms -= 3_000_000;
        assert!(!verify(&p, &visits).is_intact());
    }

    #[test]
    fn an_unchained_patrol_is_neither_proven_nor_broken() {
        let (mut p, mut visits) = patrol(2);
        p.chain_head = None;
        for v in &mut visits {
            v.chain = None;
        }
        assert_eq!(verify(&p, &visits), ChainVerdict::Unchained);
    }

    #[test]
    fn a_field_written_after_the_visit_is_found_by_its_stamp() {
        let made = std::collections::BTreeMap::from([
            ("patrol_id".to_string(), 1),
            ("at_ms".to_string(), 1),
            ("chain".to_string(), 1),
            ("note".to_string(), 2),
        ]);
        assert_eq!(verify_stamps(&made), Ok(()), "a note may be added later");
        let mut later = made.clone();
        later.insert("at_ms".into(), 2);
        assert!(verify_stamps(&later).unwrap_err().contains("at_ms"));
    }
}
