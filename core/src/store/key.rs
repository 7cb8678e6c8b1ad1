//! The key of an encrypted store: 32 random bytes that the app keeps in the platform's key
//! store (Android Keystore, iOS Keychain; see `docs/mobile.md`) and hands to SQLCipher as a raw
//! key, so no passphrase stretching runs at every open.
//!
//! A key never appears in a message: [`StoreKey`]'s `Debug` prints no byte of it.

use gridwork_domain::validate::ValidationError;
use rand::RngCore;

/// A store's 256-bit encryption key.
///
/// ```
/// use gridwork_core::StoreKey;
/// let key = StoreKey::generate();
/// let again = StoreKey::from_hex(&key.to_hex()).unwrap();
/// assert_eq!(key, again);
/// assert_eq!(format!("{key:?}"), "StoreKey(..)");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct StoreKey {
    bytes: [u8; StoreKey::LEN],
    /// How the store's pages are authenticated: [`PageMac::Sha256`] for every store made now,
    /// [`PageMac::Sha512`] for one made before ADR 0056, found when the store is opened.
    mac: PageMac,
}

/// The MAC SQLCipher computes over every page of an encrypted store (ADR 0056).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageMac {
    /// HMAC-SHA256: stores made since ADR 0056 (the SHA-256 instructions every arm64 phone
    /// and current x86 has make it the cheaper of the two).
    Sha256,
    /// HMAC-SHA512, SQLCipher 4's default: stores made before ADR 0056, still opened as they
    /// are.
    Sha512,
}

impl PageMac {
    /// The name SQLCipher's `cipher_hmac_algorithm` pragma takes and reports.
    pub(crate) fn sqlcipher_name(self) -> &'static str {
        match self {
            PageMac::Sha256 => "HMAC_SHA256",
            PageMac::Sha512 => "HMAC_SHA512",
        }
    }
}

impl StoreKey {
    /// Bytes in a key.
    pub const LEN: usize = 32;

    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; StoreKey::LEN]) -> StoreKey {
        StoreKey::new(bytes)
    }

    fn new(bytes: [u8; StoreKey::LEN]) -> StoreKey {
        StoreKey {
            bytes,
            mac: PageMac::Sha256,
        }
    }

    /// A key from 64 hexadecimal digits (surrounding whitespace, such as a key file's final
    /// newline, is ignored).
    pub fn from_hex(text: &str) -> Result<StoreKey, ValidationError> {
        let text = text.trim();
        let refuse = || {
            ValidationError::new(
                "encryption_key",
                "must be 64 hexadecimal digits (a 32-byte key)",
            )
        };
        if text.len() != 2 * StoreKey::LEN {
            return Err(refuse());
        }
        let mut bytes = [0u8; StoreKey::LEN];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| refuse())?;
        Ok(StoreKey::new(bytes))
    }

    /// A fresh random key from the operating system's generator.
    pub fn generate() -> StoreKey {
        let mut bytes = [0u8; StoreKey::LEN];
        rand::rng().fill_bytes(&mut bytes);
        StoreKey::new(bytes)
    }

    /// The key as 64 lowercase hexadecimal digits (to write a key file).
    pub fn to_hex(&self) -> String {
        hex::encode(self.bytes)
    }

    /// The key's bytes (the attachment keys are derived from them, ADR 0042).
    pub(crate) fn bytes(&self) -> &[u8; StoreKey::LEN] {
        &self.bytes
    }

    /// How the pages of the store this key unlocks are authenticated.
    pub(crate) fn page_mac(&self) -> PageMac {
        self.mac
    }

    /// The same key for a store whose pages carry `mac` (what opening the store found).
    pub(crate) fn with_page_mac(&self, mac: PageMac) -> StoreKey {
        StoreKey {
            bytes: self.bytes,
            mac,
        }
    }

    /// The statement that unlocks a SQLCipher database with this raw key. It must be the first
    /// statement on the connection.
    pub(crate) fn pragma(&self) -> String {
        format!("PRAGMA key = \"x'{}'\"", self.to_hex())
    }
}

impl std::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_with_a_newline_reads_and_a_short_key_is_refused_naming_the_field() {
        let key = StoreKey::from_hex(&format!("{}\n", "ab".repeat(32))).unwrap();
        assert_eq!(key.to_hex(), "ab".repeat(32));
        for bad in ["ab".repeat(31), "zz".repeat(32), String::new()] {
            let err = StoreKey::from_hex(&bad).unwrap_err();
            assert_eq!(err.field, "encryption_key");
        }
    }

    #[test]
    fn two_generated_keys_differ() {
        assert_ne!(StoreKey::generate(), StoreKey::generate());
    }
}
