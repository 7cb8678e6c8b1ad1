//! One-time enrollment codes: what an admin reads out or prints for a gridworker to type into
//! a new phone. Twelve characters from an alphabet without look-alikes (no 0/O, 1/I), shown in
//! groups of four; typing is forgiving (case, spaces and dashes are ignored).

use crate::storage::EnrollError;
use gridwork_domain::ids::{DeviceId, Id};
use rand::Rng;
use sha2::{Digest, Sha256};

/// How long a code stays valid: one working day.
pub const ENROLLMENT_CODE_TTL_MS: u64 = 24 * 60 * 60 * 1000;

/// Characters a code is made of (32 of them: 60 bits in 12 characters).
const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// Characters in a code, dashes aside.
const CODE_LEN: usize = 12;

/// A fresh code, e.g. `K7QM-2XWD-9HTR`.
pub fn new_enrollment_code() -> String {
    let mut rng = rand::rng();
    let mut code = String::with_capacity(CODE_LEN + 2);
    for i in 0..CODE_LEN {
        if i > 0 && i % 4 == 0 {
            code.push('-');
        }
        code.push(ALPHABET[rng.random_range(0..ALPHABET.len())] as char);
    }
    code
}

/// The SHA-256 (hex) of a code as typed, after dropping dashes and spaces and upper-casing:
/// the form the server stores and looks up.
pub fn hash_enrollment_code(typed: &str) -> String {
    let normal: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    hex::encode(Sha256::digest(normal.as_bytes()))
}

/// An enrollment code as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredCode {
    pub user: Id,
    pub expires_ms: u64,
    pub used: bool,
}

/// Whether a code may enroll a device at `now_ms`: the user it enrolls for, or why not. Every
/// backend reads the code and whether the device exists inside its transaction, asks this, and
/// writes the enrollment only when it says yes.
pub fn judge(
    code: Option<StoredCode>,
    device: DeviceId,
    device_exists: bool,
    now_ms: u64,
) -> Result<Id, EnrollError> {
    let Some(code) = code else {
        return Err(EnrollError::UnknownCode);
    };
    if code.used {
        return Err(EnrollError::CodeUsed);
    }
    if now_ms >= code.expires_ms {
        return Err(EnrollError::CodeExpired);
    }
    if device_exists {
        return Err(EnrollError::DeviceExists(device));
    }
    Ok(code.user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_works_once_before_it_expires_for_a_new_device() {
        let (user, device) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        let code = StoredCode {
            user,
            expires_ms: 1_000,
            used: false,
        };
        assert_eq!(judge(Some(code), device, false, 999).unwrap(), user);
        assert!(matches!(
            judge(None, device, false, 0),
            Err(EnrollError::UnknownCode)
        ));
        assert!(matches!(
            judge(Some(StoredCode { used: true, ..code }), device, false, 0),
            Err(EnrollError::CodeUsed)
        ));
        assert!(matches!(
            judge(Some(code), device, false, 1_000),
            Err(EnrollError::CodeExpired)
        ));
        assert!(matches!(
            judge(Some(code), device, true, 0),
            Err(EnrollError::DeviceExists(d)) if d == device
        ));
    }

    #[test]
    fn a_code_typed_sloppily_still_matches() {
        let code = new_enrollment_code();
        assert_eq!(code.len(), 14);
        let sloppy = code.to_lowercase().replace('-', " ");
        assert_eq!(hash_enrollment_code(&sloppy), hash_enrollment_code(&code));
        assert_ne!(
            hash_enrollment_code(&new_enrollment_code()),
            hash_enrollment_code(&code)
        );
    }
}
