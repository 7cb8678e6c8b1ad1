//! Sign-in for the console: Argon2id password hashes, session cookies, CSRF tokens and idle
//! expiry (ADR 0026).
//!
//! - A password is kept only as an Argon2id PHC string (salt and parameters inside it); it is
//!   checked the same way whether or not the user exists, so a wrong name takes as long as a
//!   wrong password.
//! - A session is a random 256-bit token in a cookie (`HttpOnly`, `SameSite=Strict`,
//!   `Path=/console`, `Secure` when served over TLS); only its SHA-256 is stored.
//! - Every change is a POST carrying the session's CSRF token (a random value handed only to
//!   that session's pages), and a POST whose `Origin` names another site is refused before
//!   anything else.
//! - A session not used for [`IDLE_MS`] is over: the next request is sent to the sign-in page.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::http::HeaderMap;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A session not used for this long is over (30 minutes).
pub const IDLE_MS: u64 = 30 * 60 * 1000;

/// The session cookie's name.
pub const COOKIE: &str = "gw_console";

/// The shortest password `gridwork-server admin console-password` accepts.
pub const MIN_PASSWORD_CHARS: usize = 10;

fn argon2() -> Argon2<'static> {
    // OWASP's first Argon2id choice: 19 MiB, two passes, one lane.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The Argon2id PHC string of `password` with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches the stored `hash`. With no hash (no such console user) a dummy
/// hash is checked, so the answer takes as long, and is `false`.
pub fn verify_password(password: &str, hash: Option<&str>) -> bool {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_password("not a password of anyone").unwrap_or_default());
    let (stored, real) = match hash {
        Some(h) => (h, true),
        None => (dummy.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
        && real
}

/// Checks a new password: long enough, printable.
pub fn check_new_password(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "a console password needs at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    if password.chars().any(char::is_control) {
        return Err("a console password may not contain control characters".into());
    }
    Ok(())
}

/// A fresh random token (256 bits, hex).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What is stored for a session token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The `Set-Cookie` value for a session token (`None`: clears the cookie).
pub fn session_cookie(token: Option<&str>, tls: bool) -> String {
    let secure = if tls { "; Secure" } else { "" };
    match token {
        Some(t) => format!("{COOKIE}={t}; Path=/console; HttpOnly; SameSite=Strict{secure}"),
        None => format!("{COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

/// Whether a POST comes from this site: no `Origin` (an old browser, a tool), or an `Origin`
/// whose host and port are the request's `Host`.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers
        .get(axum::http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    else {
        return true;
    };
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin
        .split_once("://")
        .map(|(_, rest)| rest.trim_end_matches('/'))
        .unwrap_or("");
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn a_password_verifies_only_against_its_own_hash() {
        let hash = hash_password("长城永不倒-2026").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(!hash.contains("长城"));
        assert!(verify_password("长城永不倒-2026", Some(&hash)));
        assert!(!verify_password("长城永不倒-2027", Some(&hash)));
        assert!(!verify_password("长城永不倒-2026", None));
        // Two hashes of one password differ (fresh salt).
        assert_ne!(hash, hash_password("长城永不倒-2026").unwrap());
    }

    #[test]
    fn short_or_control_passwords_are_refused() {
        assert!(check_new_password("short").is_err());
        assert!(check_new_password("long enough\u{7}bell").is_err());
        assert!(check_new_password("long enough password").is_ok());
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_under_tls() {
        let c = session_cookie(Some("abc"), true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Secure"));
        assert!(!session_cookie(Some("abc"), false).contains("Secure"));
        assert!(session_cookie(None, false).contains("Max-Age=0"));
    }

    #[test]
    fn cookies_and_origins_are_read_from_headers() {
        let mut h = HeaderMap::new();
        h.insert(
            "cookie",
            HeaderValue::from_static("a=1; gw_console=tok; b=2"),
        );
        h.insert("host", HeaderValue::from_static("127.0.0.1:8080"));
        assert_eq!(cookie(&h, COOKIE), Some("tok"));
        assert!(same_origin(&h));
        h.insert("origin", HeaderValue::from_static("http://127.0.0.1:8080"));
        assert!(same_origin(&h));
        h.insert("origin", HeaderValue::from_static("http://evil.example"));
        assert!(!same_origin(&h));
        h.insert("origin", HeaderValue::from_static("null"));
        assert!(!same_origin(&h));
    }
}
