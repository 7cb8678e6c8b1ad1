//! The request logs say who did what and how it went, and never what a resident told us.
//! Checked on the real binary's stderr at the most verbose level.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use gridwork_domain::model::Resident;
use gridwork_domain::sync::{EnrollRequest, EnrollResponse, PushRequest, PushResponse};
use uuid::Uuid;

use crate::cli::{BIN, Running, admin};
use crate::common::{Phone, id_number, town};

#[tokio::test]
async fn logs_name_devices_and_counts_but_no_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let db = db.to_str().unwrap();
    let (_, user, _) = admin(&[
        "admin",
        "create-user",
        "--db",
        db,
        "--name",
        "张伟",
        "--role",
        // The whole installation: this test is about logs, not scopes.
        "admin",
    ]);
    let (_, code, _) = admin(&["admin", "enrollment-code", "--db", db, "--user", &user]);
    let log_path = dir.path().join("server.log");
    let mut child = Command::new(BIN)
        .args(["serve", "--db", db, "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(&log_path).unwrap()))
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Running(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    let http = reqwest::Client::new();

    let device = Uuid::now_v7();
    let enrolled: EnrollResponse = http
        .post(format!("{base}/v1/enroll"))
        .json(&EnrollRequest {
            code: code.clone(),
            device_id: device,
            device_name: "张伟的手机".into(),
        })
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut phone = Phone::new(device, enrolled.token.clone());
    let mut ops = town(&mut phone, 1).ops;
    let number = id_number("19750203", 88);
    let resident = Resident {
        id: Uuid::now_v7(),
        household_id: ops
            .iter()
            .find(|o| o.entity == gridwork_domain::op::EntityKind::Household)
            .unwrap()
            .entity_id,
        name: "欧阳娜娜".into(),
        id_number: Some(number.clone()),
        phone: Some("13912345678".into()),
        key_groups: vec![],
        last_visit_ms: None,
        archived: false,
    };
    ops.push(phone.create(&resident));
    // A bad one too: its rejection must not echo the phone number.
    let bad = Resident {
        id: Uuid::now_v7(),
        phone: Some("139123".into()),
        ..resident
    };
    ops.push(phone.create(&bad));
    let pushed: PushResponse = http
        .post(format!("{base}/v1/push"))
        .bearer_auth(&enrolled.token)
        .json(&PushRequest { ops: ops.clone() })
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pushed.results.len(), ops.len());
    let pulled = http
        .get(format!("{base}/v1/pull?after=0"))
        .bearer_auth(&enrolled.token)
        .send()
        .await
        .unwrap();
    assert_eq!(pulled.status(), 200);
    drop(server);

    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(logs.contains("/v1/push"), "requests are logged:\n{logs}");
    assert!(
        logs.contains(&device.to_string()),
        "with the device id:\n{logs}"
    );
    assert!(
        logs.contains(&format!("accepted={}", ops.len() - 1)),
        "and the counts:\n{logs}"
    );
    assert!(logs.contains("rejected=1"), "{logs}");
    for secret in [
        &enrolled.token,
        &code,
        &number,
        "欧阳娜娜",
        "13912345678",
        "139123",
        "张伟的手机",
        "1-301",
    ] {
        assert!(!logs.contains(secret), "the logs leak {secret:?}:\n{logs}");
    }
}
