//! The request logs say who did what and how it went, and never what a resident told us.

use std::io::Write;
use std::sync::{Arc, Mutex};

use gridwork_domain::model::Resident;
use gridwork_domain::sync::{EnrollRequest, EnrollResponse, Role};
use uuid::Uuid;

use crate::common::{TestServer, id_number, town};

/// A log sink the test can read back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_name_devices_and_counts_but_no_personal_data() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    // The test runtime is single-threaded, so the server's tasks log through this subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = TestServer::start().await;
    let user = server.user("张伟", Role::Gridworker).await;
    let code = server.code(user).await;
    let device = Uuid::now_v7();
    let enrolled: EnrollResponse = server
        .post(
            "/v1/enroll",
            None,
            &EnrollRequest {
                code: code.clone(),
                device_id: device,
                device_name: "张伟的手机".into(),
            },
        )
        .await
        .json()
        .await
        .unwrap();
    let mut phone = crate::common::Phone::new(device, enrolled.token.clone());
    let town = town(&mut phone, 1);
    server.push(&phone, &town.ops).await;
    let number = id_number("19750203", 88);
    let resident = Resident {
        id: Uuid::now_v7(),
        household_id: town.households[0].id,
        name: "欧阳娜娜".into(),
        id_number: Some(number.clone()),
        phone: Some("13912345678".into()),
        key_groups: vec![],
        last_visit_ms: None,
        archived: false,
    };
    let op = phone.create(&resident);
    server.push(&phone, &[op]).await;
    // A bad one too: its rejection must not echo the number either.
    let mut bad = resident.clone();
    bad.id = Uuid::now_v7();
    bad.phone = Some("139123".into());
    let op = phone.create(&bad);
    server.push(&phone, &[op]).await;
    server.pull(&phone, 0, 100, 0).await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("/v1/push"), "requests are logged:\n{logs}");
    assert!(logs.contains(&device.to_string()), "with the device id");
    assert!(logs.contains("accepted=1"), "and the counts");
    for secret in [
        &enrolled.token,
        &code,
        &number,
        "欧阳娜娜",
        "13912345678",
        "139123",
        "张伟的手机",
        "2-301",
    ] {
        assert!(!logs.contains(secret), "the logs leak {secret:?}");
    }
}
