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
        .env_remove("GRIDWORK_DATABASE_URL")
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

/// An ID number and a phone number sent in every position of every endpoint (JSON string,
/// number and key, at the top and deep inside an operation; query values and keys; path
/// segments; the bearer token) come back in no answer and in no log line, at the most verbose
/// level. Each is looked for by its digits, so neither a quoted nor a bare echo passes.
#[tokio::test]
async fn an_id_number_and_a_phone_in_every_position_are_never_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let db = db.to_str().unwrap();
    let (_, user, _) = admin(&[
        "admin",
        "create-user",
        "--db",
        db,
        "--name",
        "李四",
        "--role",
        "admin",
    ]);
    let (_, code, _) = admin(&["admin", "enrollment-code", "--db", db, "--user", &user]);
    let log_path = dir.path().join("server.log");
    let mut child = Command::new(BIN)
        .env_remove("GRIDWORK_DATABASE_URL")
        .args(["serve", "--db", db, "--listen", "127.0.0.1:0"])
        // Every request reaches the decoders: no rate limit answers in their place.
        .args(["--enroll-per-minute", "0", "--device-per-minute", "0"])
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
            code,
            device_id: device,
            device_name: "phone".into(),
        })
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = enrolled.token;

    // Digits only, so each can be sent as a JSON number too.
    let id_digits = "33010619900101123";
    let phone = "13912345678";
    let mut answers: Vec<String> = Vec::new();
    macro_rules! send {
        ($request:expr $(,)?) => {
            answers.push(ask($request).await)
        };
    }
    let mut bodies: Vec<String> = Vec::new();
    for secret in [id_digits, phone] {
        let as_string = format!("\"{secret}\"");
        for value in [as_string.as_str(), secret] {
            // Top level, as a key, and in every place of an operation.
            bodies.push(format!("{{\"ops\": {value}}}"));
            bodies.push(format!("{{\"code\": {value}, \"device_id\": {value}}}"));
            bodies.push(format!("{{{as_string}: {value}}}"));
            bodies.push(format!("[{value}]"));
            bodies.push(value.to_string());
            let op = |id: &str, stamp: &str, entity: &str, body: &str| {
                format!(
                    "{{\"ops\": [{{\"id\": {id}, \"stamp\": {stamp}, \"entity\": {entity}, \
                     \"entity_id\": {id}, \"body\": {body}}}]}}"
                )
            };
            let good_id = format!("\"{}\"", Uuid::now_v7());
            let good_stamp = format!("{{\"hlc\": 1, \"device\": \"{device}\"}}");
            let set = |fields: &str| format!("{{\"type\": \"set\", \"fields\": {fields}}}");
            bodies.push(op(value, &good_stamp, "\"household\"", &set("{}")));
            bodies.push(op(&good_id, value, "\"household\"", &set("{}")));
            bodies.push(op(&good_id, &good_stamp, value, &set("{}")));
            bodies.push(op(&good_id, &good_stamp, "\"household\"", value));
            bodies.push(op(&good_id, &good_stamp, "\"household\"", &set(value)));
            for field in [
                format!("{{\"phone\": {{\"value\": {value}, \"base\": null}}}}"),
                format!("{{\"unit\": {{\"value\": {value}}}}}"),
                format!("{{{as_string}: {{\"value\": 1}}}}"),
                format!("{{\"unit\": {{\"value\": \"1\", {as_string}: 1}}}}"),
                format!("{{\"unit\": {{\"value\": \"1\", \"base\": {value}}}}}"),
            ] {
                bodies.push(op(&good_id, &good_stamp, "\"household\"", &set(&field)));
            }
            bodies.push(op(
                &good_id,
                &good_stamp,
                "\"case\"",
                &format!(
                    "{{\"type\": \"case_event\", \"event\": {{\"id\": {good_id}, \
                     \"case_id\": {good_id}, \"stamp\": {good_stamp}, \"actor\": {value}, \
                     \"action\": {{\"type\": {value}}}}}}}"
                ),
            ));
        }
    }
    for body in &bodies {
        for path in [
            "/v1/push",
            "/v1/enroll",
            "/v1/pull",
            "/v1/snapshot",
            "/healthz",
        ] {
            send!(
                http.post(format!("{base}{path}"))
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(body.clone()),
            );
        }
    }
    for secret in [id_digits, phone] {
        for query in [
            format!("after={secret}"),
            format!("after={secret}X"),
            format!("limit={secret}&wait={secret}"),
            format!("limit=-{secret}"),
            format!("scope={secret}"),
            format!("{secret}=1"),
            format!("after=0&scope={secret},{}", Uuid::now_v7()),
        ] {
            for path in ["/v1/pull", "/v1/snapshot"] {
                send!(
                    http.get(format!("{base}{path}?{query}"))
                        .bearer_auth(&token)
                );
            }
        }
        for path in [
            format!("/v1/{secret}"),
            format!("/v{secret}/push"),
            format!("/{secret}"),
            format!("/v1/push/{secret}"),
        ] {
            send!(http.get(format!("{base}{path}")).bearer_auth(&token));
            send!(http.post(format!("{base}{path}")).json(&secret));
        }
        send!(http.get(format!("{base}/v1/pull")).bearer_auth(secret));
        send!(
            http.post(format!("{base}/v1/push"))
                .bearer_auth(format!("{}.{secret}", device.simple()))
                .json(&PushRequest { ops: vec![] }),
        );
    }
    drop(server);
    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(logs.contains("/v1/push"), "requests are logged:\n{logs}");
    assert!(answers.len() > 300, "{} requests", answers.len());
    for secret in [id_digits, phone] {
        for answer in &answers {
            assert!(
                !answer.contains(secret),
                "an answer echoes {secret}: {answer}"
            );
        }
        assert!(!logs.contains(secret), "the logs echo {secret}:\n{logs}");
    }
}

/// The status, headers and body of one answer, as one text.
async fn ask(request: reqwest::RequestBuilder) -> String {
    let answer = request.send().await.unwrap();
    let mut text = format!("{} {:?}", answer.status(), answer.headers());
    text.push_str(&answer.text().await.unwrap_or_default());
    text
}
