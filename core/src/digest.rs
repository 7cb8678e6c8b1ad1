//! The state digest: one hash of everything a device holds (records with their field stamps
//! and tombstones, and every case event), so two devices that converged print the same value.

use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::gridwork::Gridwork;

impl Gridwork {
    /// A hex SHA-256 over the records (in id order) and case events (in id order).
    pub fn state_digest(&self) -> Result<String> {
        self.query(|conn| {
            let mut h = Sha256::new();
            let mut stmt = conn.prepare_cached(
                "SELECT id, kind, fields, stamps, coalesce(tombstone, '') FROM records ORDER BY id",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                for i in 0..5 {
                    let text = r.get_ref(i)?.as_str().unwrap_or_default();
                    if i == 3 {
                        // The stamps as a plain map, whichever form the row stores them in
                        // (`records::encode_stamps`): the same state, the same digest.
                        let stamps = crate::store::records::decode_stamps(text)?;
                        h.update(serde_json::to_string(&stamps)?.as_bytes());
                    } else {
                        h.update(text.as_bytes());
                    }
                    h.update([0]);
                }
            }
            let mut stmt = conn.prepare_cached("SELECT id FROM case_events ORDER BY id")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                h.update(r.get_ref(0)?.as_str().unwrap_or_default().as_bytes());
                h.update([1]);
            }
            Ok(hex::encode(h.finalize()))
        })
    }
}
