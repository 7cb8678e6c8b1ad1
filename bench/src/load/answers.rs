//! The answers read only as far as the figures need: how many operations or records came, the
//! next cursor, what a push's operations became. The rest of each answer is skipped unparsed.

use gridwork_domain::ids::Id;
use gridwork_domain::sync::{PushOutcome, PushResponse};
use serde::Deserialize;
use serde::de::IgnoredAny;

/// A pull answer's counts and cursor.
#[derive(Debug, Deserialize)]
pub struct PullAnswer {
    ops: Vec<IgnoredAny>,
    pub next: u64,
    pub more: bool,
    #[serde(default)]
    records: Vec<IgnoredAny>,
    #[serde(default)]
    evict: Vec<IgnoredAny>,
}

impl PullAnswer {
    pub fn parse(body: &[u8]) -> PullAnswer {
        serde_json::from_slice(body).expect("a pull answer")
    }

    /// Operations delivered.
    pub fn ops(&self) -> usize {
        self.ops.len()
    }

    /// Records gained and evicted (scope changes; none in the city scenario).
    pub fn scope_changes(&self) -> usize {
        self.records.len() + self.evict.len()
    }
}

/// A snapshot page's count and cursor.
#[derive(Debug, Deserialize)]
pub struct SnapshotAnswer {
    records: Vec<IgnoredAny>,
    pub next_after: Option<Id>,
}

impl SnapshotAnswer {
    pub fn parse(body: &[u8]) -> SnapshotAnswer {
        serde_json::from_slice(body).expect("a snapshot answer")
    }

    /// Records delivered.
    pub fn records(&self) -> usize {
        self.records.len()
    }
}

/// How a push went: operations accepted, already stored (a push sent again after a 503 whose
/// first try had been stored), refused, and the first refusal if any.
#[derive(Debug, Clone, Default)]
pub struct PushCount {
    pub accepted: usize,
    pub duplicate: usize,
    pub refused: usize,
    pub first_refusal: Option<String>,
}

impl PushCount {
    pub fn parse(body: &[u8]) -> PushCount {
        let answer: PushResponse = serde_json::from_slice(body).expect("a push answer");
        let mut count = PushCount::default();
        for r in answer.results {
            match r.outcome {
                PushOutcome::Accepted { .. } => count.accepted += 1,
                PushOutcome::Duplicate { .. } => count.duplicate += 1,
                other => {
                    count.refused += 1;
                    count
                        .first_refusal
                        .get_or_insert_with(|| format!("{other:?}"));
                }
            }
        }
        count
    }
}
