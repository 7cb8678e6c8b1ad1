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
}
