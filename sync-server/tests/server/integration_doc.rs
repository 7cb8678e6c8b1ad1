//! `docs/integration.md` is what an engineer of another system follows: its request examples are
//! sent to a real server here, its answers compared with what the server answers (the same shape,
//! the same codes, states and messages; ids and times differ), and its signed callback verified.

use gridwork_domain::ids::Id;
use gridwork_domain::model::{Area, AreaLevel, Building, BuildingKind};
use gridwork_domain::sync::Role;
use gridwork_server::intake::callbacks::{self, CallbackBody};
use gridwork_server::storage::{IntakeStorage, Storage};
use gridwork_server::{auth, clock};
use serde_json::Value;
use uuid::Uuid;

use crate::common::{Phone, TestServer, accepted, town};

const DOC: &str = include_str!("../../../docs/integration.md");

/// The fenced block after `<!-- example: NAME -->`.
fn example(name: &str) -> &'static str {
    let marker = format!("<!-- example: {name} -->");
    let at = DOC
        .find(&marker)
        .unwrap_or_else(|| panic!("docs/integration.md has no example {name}"));
    let rest = &DOC[at + marker.len()..];
    let open = rest.find("```").expect("a fenced block follows");
    let body = &rest[open..];
    let start = body.find('\n').unwrap() + 1;
    let end = body[start..].find("```").unwrap() + start;
    body[start..end].trim_end()
}

fn json(name: &str) -> Value {
    serde_json::from_str(example(name))
        .unwrap_or_else(|e| panic!("example {name} is not JSON: {e}"))
}

/// Same keys everywhere, same values where they do not vary from run to run.
fn same_shape(path: &str, doc: &Value, got: &Value) {
    const VARYING: [&str; 5] = ["case_id", "event_id", "at_ms", "received_ms", "actor"];
    match (doc, got) {
        (Value::Object(d), Value::Object(g)) => {
            let dk: Vec<&String> = d.keys().collect();
            let gk: Vec<&String> = g.keys().collect();
            assert_eq!(dk, gk, "the keys of {path}");
            for (k, v) in d {
                if !VARYING.contains(&k.as_str()) {
                    same_shape(&format!("{path}.{k}"), v, &g[k]);
                }
            }
        }
        (Value::Array(d), Value::Array(g)) => {
            assert_eq!(d.len(), g.len(), "the length of {path}");
            for (i, (d, g)) in d.iter().zip(g).enumerate() {
                same_shape(&format!("{path}[{i}]"), d, g);
            }
        }
        _ => assert_eq!(doc, got, "{path}"),
    }
}

#[tokio::test]
async fn the_integration_guide_examples_are_what_the_server_does() {
    let s = TestServer::start().await;
    let mut admin = Phone::offline();
    let t = town(&mut admin, 1);
    let grid = t.areas[4].id;
    let other = Area {
        id: Uuid::now_v7(),
        level: AreaLevel::Grid,
        code: "330106001001002".into(),
        name: "梅花碑第二网格".into(),
        parent_id: Some(t.areas[3].id),
        response_policies: vec![],
    };
    let outside = Building {
        id: Uuid::now_v7(),
        address_code: "3301060010010020001".into(),
        address: "二网格1幢".into(),
        kind: BuildingKind::Residential,
        grid_id: other.id,
        micro_grid_id: None,
        head_user_id: None,
        station_id: None,
        position: None,
    };
    let mut ops = t.ops.clone();
    ops.push(admin.create(&other));
    ops.push(admin.create(&outside));
    for r in s.storage.push(admin.ctx(), ops).await.unwrap() {
        accepted(&r);
    }
    let account: Id = Uuid::now_v7();
    let user = s
        .storage
        .create_user("service: 12345".into(), Role::Dispatcher, vec![grid])
        .await
        .unwrap();
    let token = auth::new_token(account);
    s.storage
        .store_service_account(
            account,
            user.id,
            "12345".into(),
            auth::hash_token(&token),
            clock::now_ms(),
        )
        .await
        .unwrap();
    let post = |body: Value| {
        let req = s
            .http
            .post(s.url("/v1/intake/orders"))
            .bearer_auth(&token)
            .json(&body);
        async move {
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }
    };

    // Sending a work order, and sending it again.
    let (status, answer) = post(json("order-request")).await;
    assert_eq!(status, 201, "{answer}");
    same_shape("order-answer", &json("order-answer"), &answer);
    assert_eq!(answer["timeline"][0]["actor"], serde_json::json!(user.id));
    let (status, again) = post(json("order-request")).await;
    assert_eq!(status, 200);
    assert_eq!(again, answer, "the same case, as it stands");

    // Reading it.
    let source = answer["source_id"].as_str().unwrap();
    let read: Value = s
        .http
        .get(s.url(&format!("/v1/intake/orders/{source}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read, answer);

    // Refusals, word for word.
    let (status, refused) = post(json("unknown-building-request")).await;
    assert_eq!(status, 422);
    assert_eq!(refused, json("unknown-building-answer"));
    let mut elsewhere = json("order-request");
    elsewhere["source_id"] = "12345-20261206-000733".into();
    elsewhere["address_code"] = outside.address_code.clone().into();
    let (status, refused) = post(elsewhere).await;
    assert_eq!(status, 403);
    assert_eq!(refused, json("out-of-scope-answer"));

    // Registering a callback.
    let registered: Value = s
        .http
        .put(s.url("/v1/intake/callback"))
        .bearer_auth(&token)
        .json(&json("callback-request"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let doc = json("callback-answer");
    assert_eq!(registered["url"], doc["url"]);
    let (got, shown) = (
        registered["secret"].as_str().unwrap(),
        doc["secret"].as_str().unwrap(),
    );
    assert!(got.starts_with("whsec_") && got.len() == shown.len());
    assert_ne!(got, shown, "a fresh secret");

    // The callback shown is signed with the secret shown, keyed by its event id, and is a
    // callback body as the server sends them.
    let body = example("callback-body");
    let headers: Vec<(&str, &str)> = example("callback-headers")
        .lines()
        .filter_map(|l| l.split_once(": "))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("no {name} header in the example"))
    };
    let signed_at = callbacks::verify(shown, header(callbacks::SIGNATURE_HEADER), body);
    let parsed: CallbackBody = serde_json::from_str(body).unwrap();
    assert_eq!(signed_at, Some(parsed.step.at_ms));
    assert_eq!(
        header(callbacks::IDEMPOTENCY_HEADER),
        parsed.step.event_id.to_string()
    );
    assert_eq!(header("content-type"), "application/json");
    assert_eq!(
        serde_json::to_string(&parsed).unwrap(),
        body,
        "the body as the server writes it"
    );
}
