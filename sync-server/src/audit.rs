//! The audit log: who read a resident's full ID number, who exported what, which admin changed
//! what, and which access was refused, each with who, when, what and why. Append-only and
//! hash-chained: every entry carries the hash of the one before, and its own hash covers
//! everything in it, so an entry altered or removed behind the server's back breaks the chain
//! ([`verify`], `gridwork-server audit verify`). ADR 0025.
//!
//! An entry names records by id only (a resident's id, a building's id or address code), never
//! a personal value: the log tells who looked at which record, not what they saw.
//!
//! The chain proves the log was not edited in the middle. Cutting its tail leaves a shorter
//! chain that still verifies; `audit verify` prints the head hash, which an operator records
//! elsewhere (a daily note, another system) to detect that too.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// A resident's full ID number was shown (on a phone, reported when it synced).
    ReadIdNumber,
    /// Records were exported (a file of a device's changes, a list).
    Export,
    /// An admin changed users, devices, scopes or service accounts.
    AdminChange,
    /// An access was refused (out of scope, forbidden, unknown record).
    Refused,
}

impl AuditAction {
    pub const ALL: [AuditAction; 4] = [
        AuditAction::ReadIdNumber,
        AuditAction::Export,
        AuditAction::AdminChange,
        AuditAction::Refused,
    ];

    /// The stable name in storage and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::ReadIdNumber => "read_id_number",
            AuditAction::Export => "export",
            AuditAction::AdminChange => "admin_change",
            AuditAction::Refused => "refused",
        }
    }

    /// Parses [`AuditAction::as_str`].
    pub fn parse(s: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// A fact to append: who, when, what, on which record, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFact {
    /// When it happened, ms since the epoch (a phone's reading: when it was shown).
    pub at_ms: u64,
    /// Who: `user:<id>/device:<id>`, `service:<id>`, `admin:<login>`, `anonymous`.
    pub actor: String,
    pub action: AuditAction,
    /// The kind of record concerned (`resident`, `building`, `user`, ...), when one is.
    pub target_kind: Option<String>,
    /// The record's id (or a building's address code), when one is.
    pub target_id: Option<String>,
    /// Why: the purpose given, the command run, the refusal's reason. Never a personal value.
    pub reason: String,
    /// The id a phone gave the fact it reported, so a fact reported twice is kept once.
    pub fact_id: Option<String>,
}

/// A stored entry: the fact, its place in the chain and the hashes that chain it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    #[serde(flatten)]
    pub fact: AuditFact,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEntry {
    /// The entry that follows `prev` (`None`: the first) with `fact`.
    pub fn next(prev: Option<(u64, &str)>, fact: AuditFact) -> AuditEntry {
        let (seq, prev_hash) = match prev {
            Some((seq, hash)) => (seq + 1, hash.to_string()),
            None => (1, GENESIS.to_string()),
        };
        let hash = entry_hash(seq, &prev_hash, &fact);
        AuditEntry {
            seq,
            fact,
            prev_hash,
            hash,
        }
    }
}

/// The hash of an entry: SHA-256 over its number, the hash before it and every field of the
/// fact, each length-prefixed so no two different entries hash the same input.
pub fn entry_hash(seq: u64, prev_hash: &str, fact: &AuditFact) -> String {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    field(b"gridwork-audit-v1");
    field(&seq.to_be_bytes());
    field(prev_hash.as_bytes());
    field(&fact.at_ms.to_be_bytes());
    field(fact.actor.as_bytes());
    field(fact.action.as_str().as_bytes());
    for opt in [&fact.target_kind, &fact.target_id, &fact.fact_id] {
        match opt {
            Some(v) => field(format!("1{v}").as_bytes()),
            None => field(b"0"),
        }
    }
    field(fact.reason.as_bytes());
    hex::encode(h.finalize())
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every entry is whole and in its place: how many, and the last hash (record it elsewhere
    /// to detect a cut tail later).
    Intact { entries: u64, head: String },
    /// The first entry that breaks the chain, and how.
    Broken { seq: u64, problem: String },
}

/// Checks a whole log, read in order of `seq`: numbers without gaps from 1, each entry's
/// `prev_hash` the hash of the one before, each hash recomputed from the entry.
pub fn verify(entries: &[AuditEntry]) -> Verdict {
    let mut prev_seq = 0;
    let mut prev_hash = GENESIS.to_string();
    for e in entries {
        if e.seq != prev_seq + 1 {
            return Verdict::Broken {
                seq: prev_seq + 1,
                problem: format!(
                    "entry {} is missing (the next entry is {}): removed",
                    prev_seq + 1,
                    e.seq
                ),
            };
        }
        if e.prev_hash != prev_hash {
            return Verdict::Broken {
                seq: e.seq,
                problem: format!(
                    "entry {} does not follow the entry before it: one was removed or replaced",
                    e.seq
                ),
            };
        }
        if entry_hash(e.seq, &e.prev_hash, &e.fact) != e.hash {
            return Verdict::Broken {
                seq: e.seq,
                problem: format!("entry {} was altered after it was written", e.seq),
            };
        }
        prev_seq = e.seq;
        prev_hash = e.hash.clone();
    }
    Verdict::Intact {
        entries: prev_seq,
        head: prev_hash,
    }
}

/// Which entries `audit list` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Entries about this record (a resident's id, a building's...).
    pub target_id: Option<String>,
    /// Entries by actors whose name contains this (a user's id, a service account's).
    pub actor: Option<String>,
    pub action: Option<AuditAction>,
    /// Entries at or after this time.
    pub since_ms: Option<u64>,
    /// Entries before this time.
    pub until_ms: Option<u64>,
    /// Entries before this one (`seq`): the next page back, from the first entry of a page.
    pub before_seq: Option<u64>,
    /// At most this many (0: all), the newest of those picked, oldest first.
    pub limit: usize,
}

impl AuditFilter {
    /// Whether `e` is one this filter shows.
    pub fn matches(&self, e: &AuditEntry) -> bool {
        self.target_id
            .as_ref()
            .is_none_or(|t| e.fact.target_id.as_deref() == Some(t.as_str()))
            && self.actor.as_ref().is_none_or(|a| e.fact.actor.contains(a))
            && self.action.is_none_or(|a| e.fact.action == a)
            && self.since_ms.is_none_or(|s| e.fact.at_ms >= s)
            && self.until_ms.is_none_or(|u| e.fact.at_ms < u)
            && self.before_seq.is_none_or(|b| e.seq < b)
    }

    /// The `LIMIT` of the query: `limit`, or everything.
    pub fn sql_limit(&self) -> i64 {
        if self.limit == 0 {
            i64::MAX
        } else {
            self.limit.min(i64::MAX as usize) as i64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact(i: u64) -> AuditFact {
        AuditFact {
            at_ms: 1_795_000_000_000 + i,
            actor: format!("user:{i}"),
            action: AuditAction::ReadIdNumber,
            target_kind: Some("resident".into()),
            target_id: Some(format!("r{i}")),
            reason: "household visit".into(),
            fact_id: None,
        }
    }

    fn chain(n: u64) -> Vec<AuditEntry> {
        let mut out: Vec<AuditEntry> = vec![];
        for i in 0..n {
            let prev = out.last().map(|e| (e.seq, e.hash.as_str()));
            let e = AuditEntry::next(prev, fact(i));
            out.push(e);
        }
        out
    }

    #[test]
    fn a_whole_chain_verifies_and_names_its_head() {
        let log = chain(5);
        assert_eq!(
            verify(&log),
            Verdict::Intact {
                entries: 5,
                head: log[4].hash.clone()
            }
        );
        assert_eq!(
            verify(&[]),
            Verdict::Intact {
                entries: 0,
                head: GENESIS.into()
            }
        );
    }

    #[test]
    fn an_altered_entry_is_found() {
        let mut log = chain(5);
        log[2].fact.actor = "user:someone-else".into();
        let Verdict::Broken { seq, problem } = verify(&log) else {
            panic!("not detected")
        };
        assert_eq!(seq, 3);
        assert!(problem.contains("altered"), "{problem}");
    }

    #[test]
    fn an_altered_entry_with_its_hash_recomputed_breaks_the_next_link() {
        let mut log = chain(5);
        log[2].fact.reason = "nothing to see".into();
        log[2].hash = entry_hash(log[2].seq, &log[2].prev_hash, &log[2].fact);
        let Verdict::Broken { seq, .. } = verify(&log) else {
            panic!("not detected")
        };
        assert_eq!(seq, 4);
    }

    #[test]
    fn a_removed_entry_is_found_even_when_the_rest_is_renumbered() {
        let mut log = chain(5);
        log.remove(1);
        let Verdict::Broken { seq, problem } = verify(&log) else {
            panic!("not detected")
        };
        assert_eq!(seq, 2);
        assert!(problem.contains("removed"), "{problem}");
        for (i, e) in log.iter_mut().enumerate() {
            e.seq = i as u64 + 1;
        }
        assert!(matches!(verify(&log), Verdict::Broken { seq: 2, .. }));
    }

    #[test]
    fn the_filter_picks_by_record_actor_action_and_time() {
        let log = chain(4);
        let by_record = AuditFilter {
            target_id: Some("r2".into()),
            ..AuditFilter::default()
        };
        let picked: Vec<u64> = log
            .iter()
            .filter(|e| by_record.matches(e))
            .map(|e| e.seq)
            .collect();
        assert_eq!(picked, vec![3]);
        let since = AuditFilter {
            since_ms: Some(1_795_000_000_002),
            action: Some(AuditAction::ReadIdNumber),
            ..AuditFilter::default()
        };
        assert_eq!(log.iter().filter(|e| since.matches(e)).count(), 2);
        let none = AuditFilter {
            action: Some(AuditAction::Export),
            ..AuditFilter::default()
        };
        assert_eq!(log.iter().filter(|e| none.matches(e)).count(), 0);
    }
}

/// What the server finds of one patrol's chain (`gridwork-server audit patrols`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatrolCheck {
    pub patrol: gridwork_domain::ids::Id,
    pub verdict: gridwork_domain::workflow::patrol_chain::ChainVerdict,
}

/// Checks every patrol among `records` (the stored patrols and patrol visits, any order, others
/// ignored): its live visits' chain ([`gridwork_domain::workflow::patrol_chain::verify`]) and,
/// what only the server's field stamps can show, that no chained field of a visit and not the
/// patrol's sealed head was written after the record was made.
pub fn verify_patrols(records: &[gridwork_domain::merge::RecordState]) -> Vec<PatrolCheck> {
    use gridwork_domain::model::{Patrol, PatrolVisit};
    use gridwork_domain::op::EntityKind;
    use gridwork_domain::workflow::patrol_chain::{self, ChainVerdict};
    use std::collections::BTreeMap;

    let mut patrols = BTreeMap::new();
    let mut visits: BTreeMap<gridwork_domain::ids::Id, Vec<PatrolVisit>> = BTreeMap::new();
    let mut restamped: BTreeMap<gridwork_domain::ids::Id, (gridwork_domain::ids::Id, String)> =
        BTreeMap::new();
    for r in records {
        match r.kind {
            EntityKind::Patrol if r.tombstone.is_none() => {
                if let Ok(p) = r.decode::<Patrol>() {
                    patrols.insert(
                        p.id,
                        (p, r.stamps.get("chain_head") != r.stamps.get("ended_at_ms")),
                    );
                }
            }
            EntityKind::PatrolVisit if r.tombstone.is_none() => {
                if let Ok(v) = r.decode::<PatrolVisit>() {
                    if let Err(why) = patrol_chain::verify_stamps(&r.stamps) {
                        restamped.entry(v.patrol_id).or_insert((v.id, why));
                    }
                    visits.entry(v.patrol_id).or_default().push(v);
                }
            }
            _ => {}
        }
    }
    patrols
        .into_values()
        .map(|(patrol, head_rewritten)| {
            let own = visits.remove(&patrol.id).unwrap_or_default();
            let mut verdict = patrol_chain::verify(&patrol, &own);
            if verdict.is_intact() {
                if let Some((visit, why)) = restamped.remove(&patrol.id) {
                    verdict = ChainVerdict::Broken {
                        visit: Some(visit),
                        problem: why,
                    };
                } else if head_rewritten && patrol.chain_head.is_some() {
                    verdict = ChainVerdict::Broken {
                        visit: None,
                        problem: "the patrol's sealed chain was rewritten after it ended".into(),
                    };
                }
            }
            PatrolCheck {
                patrol: patrol.id,
                verdict,
            }
        })
        .collect()
}
