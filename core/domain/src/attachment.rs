//! Attachments: photos of what was found and what was fixed (整改前后), as content-addressed blobs.
//!
//! A case step references a blob by the SHA-256 of its bytes ([`BlobHash`]); the bytes travel in
//! their own lane (see `docs/sync-protocol.md`, "Attachments"), never inside an operation, so an
//! operation — an alarm above all — never waits behind a photo. The reference is part of the step
//! the moment the photo is taken, offline; the server serves the bytes only to those who may see
//! a record that references them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::validate::position::Position;

/// The SHA-256 of a blob's bytes: its name everywhere (on the phone, on the wire, on the server).
/// Written as 64 lowercase hexadecimal digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobHash([u8; 32]);

impl BlobHash {
    /// The hash of `bytes`.
    pub fn of(bytes: &[u8]) -> BlobHash {
        BlobHash(Sha256::digest(bytes).into())
    }

    /// A hash from its 32 raw bytes (e.g. a streaming hasher's output).
    pub fn from_bytes(bytes: [u8; 32]) -> BlobHash {
        BlobHash(bytes)
    }

    /// The 32 raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobHash({})", self.to_hex())
    }
}

/// Why a text is not a [`BlobHash`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a blob hash is 64 lowercase hexadecimal digits (SHA-256)")]
pub struct BadBlobHash;

impl FromStr for BlobHash {
    type Err = BadBlobHash;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 64 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(BadBlobHash);
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| BadBlobHash)?;
        Ok(BlobHash(out))
    }
}

impl Serialize for BlobHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for BlobHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A blob as a reference names it: its hash and its size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BlobRef {
    pub hash: BlobHash,
    pub size: u64,
}

/// A photo as a case step carries it: the picture (EXIF stripped), its small thumbnail for
/// lists, and what the record keeps of the picture's metadata (when it was taken, where).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttachmentRef {
    /// The picture's bytes as stored and served.
    pub blob: BlobRef,
    /// The media type of `blob`, e.g. `image/jpeg`.
    pub media_type: String,
    /// A small picture for lists (fetched first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail: Option<BlobRef>,
    /// When the picture was taken (ms since the epoch), from the camera's metadata when it had it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_at_ms: Option<u64>,
    /// Where the picture was taken, from the camera's metadata when it had it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
}

impl AttachmentRef {
    /// Every blob this reference names (the picture, then its thumbnail).
    pub fn blobs(&self) -> impl Iterator<Item = BlobRef> + '_ {
        std::iter::once(self.blob).chain(self.thumbnail)
    }
}

/// Photos held by a record (issue 24, ADR 0043): a building's blocked exit, a rented room's
/// state. Each photo is a field of its own, named by its picture's hash
/// ([`photo_field`]: `photo_` and 64 hex digits), whose value is the [`AttachmentRef`] (or
/// null once the photo was removed). Fields merge one by one (last writer wins per field), so
/// two phones adding photos to one record offline both keep theirs: their fields differ.
pub const PHOTO_FIELD_PREFIX: &str = "photo_";

/// The kinds of record that hold photos.
pub const KINDS_WITH_PHOTOS: [crate::op::EntityKind; 2] = [
    crate::op::EntityKind::Building,
    crate::op::EntityKind::Household,
];

/// Whether records of `kind` hold photos.
pub fn holds_photos(kind: crate::op::EntityKind) -> bool {
    KINDS_WITH_PHOTOS.contains(&kind)
}

/// The field of a record that holds the photo whose picture is `picture`.
pub fn photo_field(picture: &BlobHash) -> String {
    format!("{PHOTO_FIELD_PREFIX}{picture}")
}

/// The picture's hash a photo field is named by; `None` for any other field.
pub fn photo_field_hash(field: &str) -> Option<BlobHash> {
    field.strip_prefix(PHOTO_FIELD_PREFIX)?.parse().ok()
}

/// Whether `field` is named like a photo field (its prefix), whatever follows.
pub fn is_photo_field(field: &str) -> bool {
    field.starts_with(PHOTO_FIELD_PREFIX)
}

/// The photos a record's fields hold (removed ones, null, left out), ordered by when they were
/// taken (when known) and then by hash. Values that are not a reference are skipped.
pub fn record_photos(fields: &serde_json::Map<String, serde_json::Value>) -> Vec<AttachmentRef> {
    let mut out: Vec<AttachmentRef> = fields
        .iter()
        .filter(|(name, value)| photo_field_hash(name).is_some() && !value.is_null())
        .filter_map(|(_, value)| serde_json::from_value(value.clone()).ok())
        .collect();
    out.sort_by(|a, b| {
        (a.taken_at_ms.is_none(), a.taken_at_ms, a.blob.hash).cmp(&(
            b.taken_at_ms.is_none(),
            b.taken_at_ms,
            b.blob.hash,
        ))
    });
    out
}

/// Every blob (pictures and thumbnails) a record's photo fields name.
pub fn record_blobs(fields: &serde_json::Map<String, serde_json::Value>) -> Vec<BlobHash> {
    record_photos(fields)
        .iter()
        .flat_map(|a| a.blobs().map(|b| b.hash).collect::<Vec<_>>())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_round_trips_as_64_lowercase_hex_digits() {
        let h = BlobHash::of(b"abc");
        assert_eq!(
            h.to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(h.to_string().parse::<BlobHash>(), Ok(h));
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(serde_json::from_str::<BlobHash>(&json).unwrap(), h);
    }

    #[test]
    fn anything_but_64_lowercase_hex_digits_is_refused() {
        let good = BlobHash::of(b"x").to_string();
        for bad in [
            String::new(),
            good[..63].to_string(),
            format!("{good}0"),
            good.to_uppercase(),
            format!("g{}", &good[1..]),
            "../../etc/passwd".to_string(),
        ] {
            assert_eq!(bad.parse::<BlobHash>(), Err(BadBlobHash), "{bad}");
        }
    }

    #[test]
    fn a_reference_names_its_picture_then_its_thumbnail() {
        let blob = BlobRef {
            hash: BlobHash::of(b"picture"),
            size: 7,
        };
        let thumb = BlobRef {
            hash: BlobHash::of(b"thumb"),
            size: 5,
        };
        let r = AttachmentRef {
            blob,
            media_type: "image/jpeg".into(),
            thumbnail: Some(thumb),
            taken_at_ms: None,
            position: None,
        };
        assert_eq!(r.blobs().collect::<Vec<_>>(), vec![blob, thumb]);
        let json = serde_json::to_value(&r).unwrap();
        assert!(json.get("taken_at_ms").is_none());
        assert_eq!(serde_json::from_value::<AttachmentRef>(json).unwrap(), r);
    }

    fn photo(name: &[u8], taken: Option<u64>) -> AttachmentRef {
        AttachmentRef {
            blob: BlobRef {
                hash: BlobHash::of(name),
                size: 10,
            },
            media_type: "image/jpeg".into(),
            thumbnail: Some(BlobRef {
                hash: BlobHash::of(&[name, b"-thumb"].concat()),
                size: 3,
            }),
            taken_at_ms: taken,
            position: None,
        }
    }

    #[test]
    fn a_records_photos_are_its_photo_fields_that_are_not_removed() {
        let (a, b, gone) = (
            photo(b"a", Some(2)),
            photo(b"b", Some(1)),
            photo(b"c", None),
        );
        let mut fields = serde_json::Map::new();
        fields.insert("address".into(), serde_json::json!("梅花碑社区 3 幢"));
        for p in [&a, &b] {
            fields.insert(photo_field(&p.blob.hash), serde_json::to_value(p).unwrap());
        }
        fields.insert(photo_field(&gone.blob.hash), serde_json::Value::Null);
        fields.insert("photo_nothex".into(), serde_json::json!({}));
        assert_eq!(record_photos(&fields), vec![b.clone(), a.clone()]);
        let blobs = record_blobs(&fields);
        assert_eq!(blobs.len(), 4);
        assert!(blobs.contains(&a.thumbnail.unwrap().hash));
        assert!(!blobs.contains(&gone.blob.hash));
        assert_eq!(
            photo_field_hash(&photo_field(&a.blob.hash)),
            Some(a.blob.hash)
        );
        assert_eq!(photo_field_hash("address"), None);
        assert!(holds_photos(crate::op::EntityKind::Building));
        assert!(holds_photos(crate::op::EntityKind::Household));
        assert!(!holds_photos(crate::op::EntityKind::Resident));
    }

    /// Two phones add a photo each to one building offline, in either order, and a third
    /// removes one it had seen: every replica ends with the same photos, the two adds kept.
    #[test]
    fn concurrent_adds_to_one_record_are_both_kept_and_a_removal_merges_per_photo() {
        use crate::hlc::{Hlc, Stamp};
        use crate::merge::RecordState;
        use crate::op::{EntityKind, FieldWrite, Op, OpBody};
        let building = crate::ids::test_id();
        let dev = |n: u8| uuid::Uuid::from_bytes([n; 16]);
        let set = |ms: u64, device: u8, p: &AttachmentRef, value: Option<serde_json::Value>| Op {
            id: crate::ids::test_id(),
            stamp: Stamp::new(Hlc::new(ms, 0), dev(device)),
            entity: EntityKind::Building,
            entity_id: building,
            body: OpBody::Set {
                fields: [(
                    photo_field(&p.blob.hash),
                    FieldWrite {
                        value: value.unwrap_or_else(|| serde_json::to_value(p).unwrap()),
                        base: None,
                    },
                )]
                .into(),
            },
        };
        let (a, b) = (photo(b"exit", Some(1)), photo(b"room", Some(2)));
        let add_a = set(100, 1, &a, None);
        let add_b = set(100, 2, &b, None);
        let mut one = RecordState::new(EntityKind::Building, building);
        let mut two = one.clone();
        one.merge(&add_a);
        one.merge(&add_b);
        two.merge(&add_b);
        two.merge(&add_a);
        assert_eq!(one, two);
        assert_eq!(record_photos(&one.fields), vec![a.clone(), b.clone()]);
        let remove_a = set(200, 3, &a, Some(serde_json::Value::Null));
        one.merge(&remove_a);
        assert_eq!(record_photos(&one.fields), vec![b.clone()]);
        two.merge(&remove_a);
        two.merge(&add_a); // an old add arriving late does not bring it back
        assert_eq!(one, two);
    }
}
