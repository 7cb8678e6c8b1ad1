//! The writes of a push on PostgreSQL, gathered and sent together. Writing each operation's rows
//! as it is planned cost about six statements per operation, each a round trip and a parse on
//! the database's CPU; gathered, a push's writes are at most six statements whatever its size,
//! sent together so that the round trips overlap.
//!
//! The planner reads from what the push has read and written so far (`plan_facts.rs`), not from
//! the tables, so holding writes back changes nothing it sees, with one exception: when it asks
//! for something that was not read ahead, the push reads it from the transaction, and first
//! [flushes](WriteBuffer::flush) what it holds, so the read sees every earlier write.

use std::collections::BTreeMap;

use deadpool_postgres::GenericClient;
use gridwork_domain::ids::Id;
use gridwork_domain::op::Op;
use gridwork_domain::scope::{Bucket, Place};

use crate::rules::plan::Store;
use crate::rules::{self, PushContext};
use crate::storage::StorageError;

/// One `ops` row.
struct OpRow {
    seq: i64,
    op_id: Id,
    entity_id: Id,
    kind: &'static str,
    device_id: Id,
    hlc: i64,
    scope_key: Option<String>,
    op: String,
    received_ms: i64,
    place: String,
    prior: Option<String>,
}

/// What a record's row becomes: a new state (with its place), or a new place alone.
struct RecordWrite {
    state: Option<SavedState>,
    place: String,
    scope_key: Option<String>,
}

struct SavedState {
    kind: &'static str,
    json: String,
    parent: Option<Id>,
    seq: i64,
    /// A building's unified address code, the column its lookup reads (migration 009).
    address_code: Option<String>,
}

/// The writes held back.
#[derive(Default)]
pub struct WriteBuffer {
    ops: Vec<OpRow>,
    op_buckets: Vec<(Vec<u8>, i64)>,
    records: BTreeMap<Id, RecordWrite>,
    /// Case events by id: the first copy wins, as `ON CONFLICT DO NOTHING` keeps the stored one.
    events: BTreeMap<Id, (Id, i64, String, i64)>,
    /// Rows of `record_buckets`: present or not, the last change winning.
    record_buckets: BTreeMap<(Id, Bucket), bool>,
    /// Rows of `blob_refs`: (hash, case) of every blob a photo step names (issue 24).
    blob_refs: std::collections::BTreeSet<(String, Id)>,
    /// What `record_blob_refs` becomes (ADR 0043): per (record, photo) the blobs it names now
    /// (none: removed); `None` as the photo for a deleted record, all of whose rows go.
    record_refs: BTreeMap<(Id, Option<String>), Vec<String>>,
}

impl std::fmt::Debug for WriteBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteBuffer")
            .field("ops", &self.ops.len())
            .field("records", &self.records.len())
            .finish_non_exhaustive()
    }
}

impl WriteBuffer {
    /// Holds what the planner decided for `op`, stored at position `seq`.
    pub fn add(
        &mut self,
        ctx: &PushContext,
        op: &Op,
        store: &Store,
        seq: u64,
    ) -> Result<(), StorageError> {
        let seq = seq as i64;
        self.ops.push(OpRow {
            seq,
            op_id: op.id,
            entity_id: op.entity_id,
            kind: op.entity.as_str(),
            device_id: op.stamp.device,
            hlc: op.stamp.hlc.as_i64(),
            scope_key: rules::key_of(&store.place.areas),
            op: serde_json::to_string(op)?,
            received_ms: ctx.now_ms as i64,
            place: serde_json::to_string(&store.place)?,
            prior: store
                .prior
                .as_ref()
                .map(serde_json::to_string)
                .transpose()?,
        });
        self.op_buckets
            .extend(store.buckets.iter().map(|b| (b.to_bytes().to_vec(), seq)));
        if let Some(state) = &store.record {
            if let Some(refs) = crate::storage::blob_refs::record_refs(op, state) {
                if refs.clear_all {
                    self.record_refs.retain(|(id, _), _| *id != refs.record);
                    self.record_refs.insert((refs.record, None), vec![]);
                }
                for (photo, hashes) in refs.photos {
                    self.record_refs.insert(
                        (refs.record, Some(photo.to_hex())),
                        hashes.iter().map(|h| h.to_hex()).collect(),
                    );
                }
            }
            self.records.insert(
                state.id,
                RecordWrite {
                    state: Some(SavedState {
                        kind: state.kind.as_str(),
                        json: serde_json::to_string(state)?,
                        parent: rules::parent(state),
                        seq,
                        address_code: address_code(state),
                    }),
                    place: serde_json::to_string(&store.place)?,
                    scope_key: rules::key_of(&store.place.areas),
                },
            );
        } else if store.place_only() {
            self.place(op.entity_id, &store.place)?;
        }
        if let Some(event) = &store.event {
            self.events.entry(event.id).or_insert((
                event.case_id,
                event.stamp.hlc.as_i64(),
                serde_json::to_string(event)?,
                seq,
            ));
            for hash in crate::storage::blob_refs::referenced_by(event) {
                self.blob_refs.insert((hash.to_hex(), event.case_id));
            }
        }
        for moved in &store.replaced {
            self.place(moved.id, &moved.after)?;
        }
        for change in store.record_buckets(op.entity_id) {
            for bucket in change.remove {
                self.record_buckets.insert((change.id, bucket), false);
            }
            for bucket in change.add {
                self.record_buckets.insert((change.id, bucket), true);
            }
        }
        Ok(())
    }

    /// A record's new place (its state, when held back too, keeps it).
    fn place(&mut self, id: Id, place: &Place) -> Result<(), StorageError> {
        let json = serde_json::to_string(place)?;
        let scope_key = rules::key_of(&place.areas);
        match self.records.get_mut(&id) {
            Some(write) => {
                write.place = json;
                write.scope_key = scope_key;
            }
            None => {
                self.records.insert(
                    id,
                    RecordWrite {
                        state: None,
                        place: json,
                        scope_key,
                    },
                );
            }
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
            && self.records.is_empty()
            && self.record_buckets.is_empty()
            && self.record_refs.is_empty()
    }

    /// Writes everything held, in at most six statements sent together, and empties the buffer.
    pub async fn flush(&mut self, client: &impl GenericClient) -> Result<(), StorageError> {
        if self.is_empty() && self.events.is_empty() {
            return Ok(());
        }
        let buffer = std::mem::take(self);
        let ops = buffer.ops;
        let op_rows = async {
            if ops.is_empty() {
                return Ok::<_, StorageError>(());
            }
            let stmt = client
                .prepare_cached(
                    "INSERT INTO ops (seq, op_id, entity_id, kind, device_id, hlc, scope_key, op,
                                      received_ms, place, prior)
                     SELECT * FROM unnest($1::int8[], $2::uuid[], $3::uuid[], $4::text[],
                                          $5::uuid[], $6::int8[], $7::text[], $8::text[],
                                          $9::int8[], $10::text[], $11::text[])",
                )
                .await?;
            let col = |f: fn(&OpRow) -> i64| ops.iter().map(f).collect::<Vec<i64>>();
            let seqs = col(|o| o.seq);
            let hlcs = col(|o| o.hlc);
            let received = col(|o| o.received_ms);
            let op_ids: Vec<Id> = ops.iter().map(|o| o.op_id).collect();
            let entities: Vec<Id> = ops.iter().map(|o| o.entity_id).collect();
            let kinds: Vec<&str> = ops.iter().map(|o| o.kind).collect();
            let devices: Vec<Id> = ops.iter().map(|o| o.device_id).collect();
            let keys: Vec<Option<&str>> = ops.iter().map(|o| o.scope_key.as_deref()).collect();
            let jsons: Vec<&str> = ops.iter().map(|o| o.op.as_str()).collect();
            let places: Vec<&str> = ops.iter().map(|o| o.place.as_str()).collect();
            let priors: Vec<Option<&str>> = ops.iter().map(|o| o.prior.as_deref()).collect();
            client
                .execute(
                    &stmt,
                    &[
                        &seqs, &op_ids, &entities, &kinds, &devices, &hlcs, &keys, &jsons,
                        &received, &places, &priors,
                    ],
                )
                .await?;
            Ok(())
        };
        let op_buckets = buffer.op_buckets;
        let filed = async {
            if op_buckets.is_empty() {
                return Ok::<_, StorageError>(());
            }
            let stmt = client
                .prepare_cached(
                    "INSERT INTO op_buckets (bucket, seq)
                     SELECT * FROM unnest($1::bytea[], $2::int8[])",
                )
                .await?;
            let (keys, seqs): (Vec<Vec<u8>>, Vec<i64>) = op_buckets.into_iter().unzip();
            client.execute(&stmt, &[&keys, &seqs]).await?;
            Ok(())
        };
        let (saved, placed): (Vec<_>, Vec<_>) = buffer
            .records
            .into_iter()
            .partition(|(_, w)| w.state.is_some());
        let record_refs = buffer.record_refs;
        let states = async {
            if !record_refs.is_empty() {
                // Rare (a photo added to or removed from a building or household): the old rows
                // of each photo written go, then its new ones are filed, in this future, before
                // the records' statement.
                let stmt = client
                    .prepare_cached(
                        "DELETE FROM record_blob_refs AS r
                         USING unnest($1::uuid[], $2::text[]) AS c (id, photo)
                         WHERE r.record_id = c.id AND (c.photo IS NULL OR r.photo = c.photo)",
                    )
                    .await?;
                let ids: Vec<Id> = record_refs.keys().map(|(id, _)| *id).collect();
                let photos: Vec<Option<&str>> =
                    record_refs.keys().map(|(_, p)| p.as_deref()).collect();
                client.execute(&stmt, &[&ids, &photos]).await?;
                let rows: Vec<(Id, &str, &str)> = record_refs
                    .iter()
                    .filter_map(|((id, photo), hashes)| photo.as_deref().map(|p| (id, p, hashes)))
                    .flat_map(|(id, p, hashes)| hashes.iter().map(move |h| (*id, p, h.as_str())))
                    .collect();
                if !rows.is_empty() {
                    let stmt = client
                        .prepare_cached(
                            "INSERT INTO record_blob_refs (record_id, photo, hash)
                             SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[])
                             ON CONFLICT DO NOTHING",
                        )
                        .await?;
                    let ids: Vec<Id> = rows.iter().map(|r| r.0).collect();
                    let photos: Vec<&str> = rows.iter().map(|r| r.1).collect();
                    let hashes: Vec<&str> = rows.iter().map(|r| r.2).collect();
                    client.execute(&stmt, &[&ids, &photos, &hashes]).await?;
                }
            }
            if saved.is_empty() {
                return Ok::<_, StorageError>(());
            }
            let stmt = client
                .prepare_cached(
                    "INSERT INTO records (id, kind, state, scope_key, updated_seq, place, parent,
                                          address_code)
                     SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[],
                                          $5::int8[], $6::text[], $7::uuid[], $8::text[])
                     ON CONFLICT (id) DO UPDATE SET state = excluded.state,
                         scope_key = excluded.scope_key, updated_seq = excluded.updated_seq,
                         place = excluded.place, parent = excluded.parent,
                         address_code = excluded.address_code",
                )
                .await?;
            let ids: Vec<Id> = saved.iter().map(|(id, _)| *id).collect();
            let states: Vec<&SavedState> =
                saved.iter().filter_map(|(_, w)| w.state.as_ref()).collect();
            let kinds: Vec<&str> = states.iter().map(|s| s.kind).collect();
            let jsons: Vec<&str> = states.iter().map(|s| s.json.as_str()).collect();
            let parents: Vec<Option<Id>> = states.iter().map(|s| s.parent).collect();
            let seqs: Vec<i64> = states.iter().map(|s| s.seq).collect();
            let codes: Vec<Option<&str>> =
                states.iter().map(|s| s.address_code.as_deref()).collect();
            let keys: Vec<Option<&str>> =
                saved.iter().map(|(_, w)| w.scope_key.as_deref()).collect();
            let places: Vec<&str> = saved.iter().map(|(_, w)| w.place.as_str()).collect();
            client
                .execute(
                    &stmt,
                    &[
                        &ids, &kinds, &jsons, &keys, &seqs, &places, &parents, &codes,
                    ],
                )
                .await?;
            Ok(())
        };
        let places = async {
            if placed.is_empty() {
                return Ok::<_, StorageError>(());
            }
            let stmt = client
                .prepare_cached(
                    "UPDATE records AS r SET place = u.place, scope_key = u.scope_key
                     FROM unnest($1::uuid[], $2::text[], $3::text[]) AS u (id, place, scope_key)
                     WHERE r.id = u.id",
                )
                .await?;
            let ids: Vec<Id> = placed.iter().map(|(id, _)| *id).collect();
            let jsons: Vec<&str> = placed.iter().map(|(_, w)| w.place.as_str()).collect();
            let keys: Vec<Option<&str>> =
                placed.iter().map(|(_, w)| w.scope_key.as_deref()).collect();
            client.execute(&stmt, &[&ids, &jsons, &keys]).await?;
            Ok(())
        };
        let events = buffer.events;
        let refs = buffer.blob_refs;
        let history = async {
            if events.is_empty() {
                return Ok::<_, StorageError>(());
            }
            if !refs.is_empty() {
                // Rare (photo steps only): the statement runs before the events', in this
                // future, so the six sent together stay six.
                let stmt = client
                    .prepare_cached(
                        "INSERT INTO blob_refs (hash, case_id)
                         SELECT * FROM unnest($1::text[], $2::uuid[])
                         ON CONFLICT DO NOTHING",
                    )
                    .await?;
                let hashes: Vec<&str> = refs.iter().map(|(h, _)| h.as_str()).collect();
                let cases: Vec<Id> = refs.iter().map(|(_, c)| *c).collect();
                client.execute(&stmt, &[&hashes, &cases]).await?;
            }
            let stmt = client
                .prepare_cached(
                    "INSERT INTO case_events (id, case_id, hlc, event, seq)
                     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int8[], $4::text[],
                                          $5::int8[])
                     ON CONFLICT (id) DO NOTHING",
                )
                .await?;
            let ids: Vec<Id> = events.keys().copied().collect();
            let cases: Vec<Id> = events.values().map(|e| e.0).collect();
            let hlcs: Vec<i64> = events.values().map(|e| e.1).collect();
            let jsons: Vec<&str> = events.values().map(|e| e.2.as_str()).collect();
            let seqs: Vec<i64> = events.values().map(|e| e.3).collect();
            client
                .execute(&stmt, &[&ids, &cases, &hlcs, &jsons, &seqs])
                .await?;
            Ok(())
        };
        let rows = buffer.record_buckets;
        let refiled = async {
            if rows.is_empty() {
                return Ok::<_, StorageError>(());
            }
            let stmt = client
                .prepare_cached(
                    "WITH gone AS (
                         DELETE FROM record_buckets AS b
                         USING unnest($1::uuid[], $2::bytea[], $3::bool[]) AS c (id, bucket, present)
                         WHERE NOT c.present AND b.id = c.id AND b.bucket = c.bucket
                     )
                     INSERT INTO record_buckets (bucket, id)
                     SELECT bucket, id FROM unnest($1::uuid[], $2::bytea[], $3::bool[])
                         AS c (id, bucket, present)
                     WHERE c.present
                     ON CONFLICT DO NOTHING",
                )
                .await?;
            let ids: Vec<Id> = rows.keys().map(|(id, _)| *id).collect();
            let keys: Vec<Vec<u8>> = rows.keys().map(|(_, b)| b.to_bytes().to_vec()).collect();
            let present: Vec<bool> = rows.values().copied().collect();
            client.execute(&stmt, &[&ids, &keys, &present]).await?;
            Ok(())
        };
        // Every statement is awaited: once one fails, PostgreSQL answers the others "current
        // transaction is aborted", and whichever answer is polled first must not hide the cause.
        let (a, b, c, d, e, f) = tokio::join!(op_rows, filed, states, places, history, refiled);
        first_cause([a, b, c, d, e, f])
    }
}

/// The error that caused a failed group of statements sent together: the first that is not
/// PostgreSQL's "current transaction is aborted" (which only follows another's failure), or the
/// first error when each is that.
pub fn first_cause<const N: usize>(
    results: [Result<(), StorageError>; N],
) -> Result<(), StorageError> {
    let aborted = |e: &StorageError| {
        matches!(e, StorageError::Postgres(pg)
            if pg.code() == Some(&tokio_postgres::error::SqlState::IN_FAILED_SQL_TRANSACTION))
    };
    let mut errors: Vec<StorageError> = results.into_iter().filter_map(Result::err).collect();
    if errors.is_empty() {
        return Ok(());
    }
    let cause = errors.iter().position(|e| !aborted(e)).unwrap_or(0);
    Err(errors.swap_remove(cause))
}

/// A building's unified address code as the lookup compares it (the field's text), `None` for
/// any other kind.
fn address_code(state: &gridwork_domain::merge::RecordState) -> Option<String> {
    (state.kind == gridwork_domain::op::EntityKind::Building)
        .then(|| {
            state
                .fields
                .get("address_code")?
                .as_str()
                .map(str::to_owned)
        })
        .flatten()
}
