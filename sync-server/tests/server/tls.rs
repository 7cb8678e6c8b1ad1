//! HTTPS: `gridwork-server serve --tls-cert --tls-key` serves TLS (rustls) with a certificate
//! made at test time by a throwaway CA; a client that trusts the CA gets answers, one speaking
//! plain HTTP to the TLS port gets none, one that does not trust the CA is refused.

use std::ffi::OsStr;
use std::process::Command;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

use crate::cli::{BIN, serve};

/// A throwaway CA and a server certificate it signed for `localhost` and `127.0.0.1`, in PEM.
pub struct TestPki {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

impl TestPki {
    pub fn new() -> TestPki {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        TestPki {
            ca_pem: ca.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

#[tokio::test]
async fn the_server_binary_serves_https_and_only_https_with_the_given_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new();
    let cert = dir.path().join("server.crt");
    let key = dir.path().join("server.key");
    std::fs::write(&cert, &pki.cert_pem).unwrap();
    std::fs::write(&key, &pki.key_pem).unwrap();
    let db = dir.path().join("server.db");

    let (_server, base) = serve::<&OsStr>(&[
        "--db".as_ref(),
        db.as_os_str(),
        "--tls-cert".as_ref(),
        cert.as_os_str(),
        "--tls-key".as_ref(),
        key.as_os_str(),
    ]);
    assert!(base.starts_with("https://"), "{base}");

    // A client trusting the CA gets the health answer over TLS.
    let trusting = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let health: serde_json::Value = trusting
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");

    // Plain HTTP to the TLS port gets no HTTP answer at all.
    let plain = base.replacen("https://", "http://", 1);
    let err = reqwest::get(format!("{plain}/healthz"))
        .await
        .expect_err("plain HTTP must not be answered");
    assert!(!err.is_status(), "{err}");

    // A client that trusts only the public roots refuses the certificate.
    let strict = reqwest::Client::builder().use_rustls_tls().build().unwrap();
    let err = strict
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect_err("a certificate from an unknown CA must be refused");
    assert!(err.is_connect(), "{err}");

    // The server is still well after both failed handshakes.
    let health = trusting
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

#[test]
fn a_missing_or_wrong_certificate_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let key = dir.path().join("server.key");
    std::fs::write(&key, TestPki::new().key_pem).unwrap();
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    for (cert, expect, lang) in [
        (
            dir.path().join("missing.crt"),
            "错误：无法读取证书文件",
            "zh",
        ),
        (not_pem.clone(), "错误：证书文件中没有 PEM 证书", "zh"),
        (
            not_pem,
            "error: the certificate file holds no PEM certificate",
            "en",
        ),
    ] {
        let out = Command::new(BIN)
            .env_remove("GRIDWORK_DATABASE_URL")
            .env("GRIDWORK_LANG", lang)
            .arg("serve")
            .arg("--db")
            .arg(&db)
            .arg("--tls-cert")
            .arg(&cert)
            .arg("--tls-key")
            .arg(&key)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expect), "{stderr}");
    }
    // --tls-cert without --tls-key is refused by the argument parser.
    let out = Command::new(BIN)
        .env_remove("GRIDWORK_DATABASE_URL")
        .arg("serve")
        .arg("--db")
        .arg(&db)
        .args(["--tls-cert", "x.pem"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tls-key"));
}
