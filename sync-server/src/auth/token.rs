//! Device bearer tokens: `<device id, 32 hex>.<64 hex of randomness>`.
//!
//! The device id in front lets the server find the device's row by its primary key and then
//! compare the token's hash in constant time, instead of looking a secret up in an index. The
//! 256 random bits behind it are the secret. Only `hash_token` of a token is ever stored.

use gridwork_domain::ids::DeviceId;
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// A fresh token for `device`.
pub fn new_token(device: DeviceId) -> String {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    format!("{}.{}", device.simple(), hex::encode(secret))
}

/// The device a token claims to belong to, or `None` when it is not shaped like a token.
/// The claim means nothing until the hash matches.
pub fn token_device(token: &str) -> Option<DeviceId> {
    let (device, secret) = token.split_once('.')?;
    if device.len() != 32 || secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Uuid::try_parse(device).ok()
}

/// The SHA-256 of a token, hex: what the server stores and compares.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_device_and_hashes_to_something_else() {
        let device = Uuid::now_v7();
        let token = new_token(device);
        assert_eq!(token_device(&token), Some(device));
        let hash = hash_token(&token);
        assert_eq!(hash.len(), 64);
        assert!(
            !hash.contains(&token[33..]),
            "the stored hash does not contain the secret"
        );
        assert_ne!(new_token(device), token, "every token is fresh");
    }

    #[test]
    fn garbage_is_not_a_token() {
        for junk in ["", "abc", "Bearer x", "0123.4567", &"f".repeat(97)] {
            assert_eq!(token_device(junk), None, "{junk:?}");
        }
    }
}
