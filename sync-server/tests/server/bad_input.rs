//! Bad input of every kind gets a 4xx with a JSON `ErrorBody` naming the problem: never a
//! panic, never a 5xx. A hand-written matrix of each kind (malformed JSON, wrong types, huge
//! and deeply nested bodies, unknown versions, bad ids and query strings, wrong content types
//! and credentials), and a property test sending random mutations of valid requests. Each
//! test prints how many bad inputs it tried (`--no-capture` shows it).

use gridwork_domain::sync::{ErrorBody, Role};
use reqwest::{Method, StatusCode};

use crate::common::{Phone, TestServer, town};

/// How a case authenticates.
#[derive(Debug, Clone, Copy)]
pub enum Auth {
    None,
    Good,
    Garbage,
    Raw(&'static str),
}

/// One bad request and the answer it must get.
struct Case {
    what: &'static str,
    method: Method,
    path: String,
    auth: Auth,
    content_type: Option<&'static str>,
    body: Option<Vec<u8>>,
    status: u16,
    error: &'static str,
}

fn get(what: &'static str, path: &str, auth: Auth, status: u16, error: &'static str) -> Case {
    Case {
        what,
        method: Method::GET,
        path: path.to_string(),
        auth,
        content_type: None,
        body: None,
        status,
        error,
    }
}

fn post(
    what: &'static str,
    path: &str,
    auth: Auth,
    body: &[u8],
    status: u16,
    error: &'static str,
) -> Case {
    Case {
        what,
        method: Method::POST,
        path: path.to_string(),
        auth,
        content_type: Some("application/json"),
        body: Some(body.to_vec()),
        status,
        error,
    }
}

impl Case {
    fn content_type(mut self, ct: Option<&'static str>) -> Case {
        self.content_type = ct;
        self
    }

    fn method(mut self, m: Method) -> Case {
        self.method = m;
        self
    }
}

/// `depth` nested arrays around `inner`.
fn nested(depth: usize, inner: &str) -> Vec<u8> {
    format!("{}{inner}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes()
}

fn cases() -> Vec<Case> {
    let huge = {
        let mut b = b"{\"ops\":[\"".to_vec();
        b.extend(std::iter::repeat_n(b'x', 9 * 1024 * 1024));
        b.extend(b"\"]}");
        b
    };
    let too_many =
        serde_json::to_vec(&serde_json::json!({ "ops": vec![serde_json::json!({}); 501] }))
            .unwrap();
    let deep_ops = {
        let mut b = b"{\"ops\":".to_vec();
        b.extend(nested(100_000, ""));
        b.push(b'}');
        b
    };
    let deep_field = format!(
        r#"{{"ops":[{{"id":"0193a5c2-7d41-7c3e-9b7a-2f4e8d1c6a01","entity":"household","entity_id":"0193a5c2-7d41-7c3e-9b7a-2f4e8d1c6a02","stamp":{{"hlc":1,"device":"0193a5c2-7d41-7c3e-9b7a-2f4e8d1c6a03"}},"body":{{"set":{{"fields":{{"phone":{{"value":{}}}}}}}}}}}]}}"#,
        String::from_utf8(nested(200, "1")).unwrap()
    );
    let deep_code = |depth: usize| {
        format!(
            r#"{{"code":{}1{},"device_id":"0193a5c2-7d41-7c3e-9b7a-2f4e8d1c6a01"}}"#,
            r#"{"a":"#.repeat(depth),
            "}".repeat(depth)
        )
        .into_bytes()
    };
    let (deep_code, deeper_code) = (deep_code(600), deep_code(5_000));
    let long_token = Box::leak(format!("Bearer {}", "a".repeat(16 * 1024)).into_boxed_str());
    use Auth::*;
    vec![
        // Credentials.
        post("push without auth", "/v1/push", None, b"{\"ops\":[]}", 401, "unauthorized"),
        post("push with a garbage token", "/v1/push", Garbage, b"{\"ops\":[]}", 401, "unauthorized"),
        get("basic auth instead of bearer", "/v1/pull", Raw("Basic dXNlcjpwYXNz"), 401, "unauthorized"),
        get("pull without auth", "/v1/pull?after=0", None, 401, "unauthorized"),
        get("bearer with no token", "/v1/pull", Raw("Bearer "), 401, "unauthorized"),
        get("a token shaped right but unknown", "/v1/pull", Raw("Bearer 0193a5c27d417c3e9b7a2f4e8d1c6a01.3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f"), 401, "unauthorized"),
        get("a 16 KiB token", "/v1/snapshot", Raw(long_token), 401, "unauthorized"),
        // Bodies that are not JSON, or not whole.
        post("malformed JSON", "/v1/push", Good, b"{\"ops\": [", 400, "bad_json"),
        post("not JSON at all", "/v1/enroll", None, b"code=1234", 400, "bad_json"),
        post("empty body", "/v1/enroll", None, b"", 400, "bad_json"),
        post("invalid UTF-8", "/v1/push", Good, b"{\"ops\":[\"\xff\xfe\"]}", 400, "bad_json"),
        post("a byte-order mark", "/v1/enroll", None, b"\xef\xbb\xbf{}", 400, "bad_json"),
        post("trailing garbage", "/v1/push", Good, b"{\"ops\":[]} {}", 400, "bad_json"),
        post("a lone surrogate", "/v1/enroll", None, br#"{"code":"\ud800","device_id":"0193a5c2-7d41-7c3e-9b7a-2f4e8d1c6a01"}"#, 400, "bad_json"),
        post("100,000 nested arrays", "/v1/push", Good, &deep_ops, 400, "bad_json"),
        post("a field value nested 200 deep", "/v1/push", Good, deep_field.as_bytes(), 400, "bad_json"),
        post("a code nested 600 objects deep", "/v1/enroll", None, &deep_code, 400, "invalid_body"),
        // Over the 4 KiB an enrollment may take: refused before it is decoded.
        post("a code nested 5,000 objects deep", "/v1/enroll", None, &deeper_code, 413, "payload_too_large"),
        // JSON of the wrong shape or types.
        post("ops is not a list", "/v1/push", Good, b"{\"ops\": 5}", 400, "invalid_body"),
        post("ops is null", "/v1/push", Good, b"{\"ops\": null}", 400, "invalid_body"),
        post("ops is a string", "/v1/push", Good, b"{\"ops\": \"all\"}", 400, "invalid_body"),
        post("ops missing", "/v1/push", Good, b"{}", 400, "invalid_body"),
        post("the body is a list", "/v1/push", Good, b"[]", 400, "invalid_body"),
        post("the body is a number", "/v1/enroll", None, b"42", 400, "invalid_body"),
        post("an op without an id", "/v1/push", Good, b"{\"ops\": [{\"entity\": \"area\"}]}", 400, "invalid_body"),
        post("an op that is a number", "/v1/push", Good, b"{\"ops\": [7]}", 400, "invalid_body"),
        post("an op id that is not a uuid", "/v1/push", Good, b"{\"ops\": [{\"id\": \"op-1\"}]}", 400, "invalid_body"),
        post("enroll with a number for a code", "/v1/enroll", None, b"{\"code\": 5, \"device_id\": \"x\"}", 400, "invalid_body"),
        post("enroll with a device id that is not a uuid", "/v1/enroll", None, b"{\"code\": \"K7QM-2XWD-9HTR\", \"device_id\": \"phone-1\"}", 400, "invalid_body"),
        post("enroll with the nil device id", "/v1/enroll", None, b"{\"code\": \"K7QM-2XWD-9HTR\", \"device_id\": \"00000000-0000-0000-0000-000000000000\"}", 400, "invalid_body"),
        post("enroll without a code", "/v1/enroll", None, b"{\"device_id\": \"0193a5c2-7d41-7c3e-9b7a-2f4e8d1c6a01\"}", 400, "invalid_body"),
        post("enroll with a name that is a list", "/v1/enroll", None, b"{\"code\": \"x\", \"device_id\": \"0193a5c2-7d41-7c3e-9b7a-2f4e8d1c6a01\", \"device_name\": []}", 400, "invalid_body"),
        post("a wrong code", "/v1/enroll", None, b"{\"code\": \"AAAA-AAAA-AAAA\", \"device_id\": \"0193a5c2-7d41-7c3e-9b7a-2f4e8d1c6a01\"}", 401, "invalid_code"),
        // Sizes.
        post("a body over 8 MiB", "/v1/push", Good, &huge, 413, "payload_too_large"),
        post("more than 500 ops", "/v1/push", Good, &too_many, 413, "too_many_ops"),
        // Content types.
        post("push as text/plain", "/v1/push", Good, b"{\"ops\":[]}", 415, "unsupported_media_type").content_type(Some("text/plain")),
        post("push as a form", "/v1/push", Good, b"ops=1", 415, "unsupported_media_type").content_type(Some("application/x-www-form-urlencoded")),
        post("enroll without a content type", "/v1/enroll", None, b"{}", 415, "unsupported_media_type").content_type(Option::None),
        post("enroll as multipart", "/v1/enroll", None, b"--x--", 415, "unsupported_media_type").content_type(Some("multipart/form-data; boundary=x")),
        // Query strings.
        get("a cursor that is not a number", "/v1/pull?after=abc", Good, 400, "bad_query"),
        get("a negative cursor", "/v1/pull?after=-1", Good, 400, "bad_query"),
        get("a cursor past u64", "/v1/pull?after=18446744073709551616", Good, 400, "bad_query"),
        get("a fractional cursor", "/v1/pull?after=1.5", Good, 400, "bad_query"),
        get("a cursor in exponent form", "/v1/pull?after=1e3", Good, 400, "bad_query"),
        get("an empty cursor", "/v1/pull?after=", Good, 400, "bad_query"),
        get("the cursor given twice", "/v1/pull?after=1&after=2", Good, 400, "bad_query"),
        get("a negative limit", "/v1/pull?limit=-5", Good, 400, "bad_query"),
        get("a wait that is a word", "/v1/pull?wait=forever", Good, 400, "bad_query"),
        get("a percent-encoded non-number", "/v1/pull?after=%ff%fe", Good, 400, "bad_query"),
        get("a snapshot after a non-id", "/v1/snapshot?after=zzz", Good, 400, "bad_query"),
        get("a snapshot after half an id", "/v1/snapshot?after=0193a5c2-7d41", Good, 400, "bad_query"),
        get("a snapshot limit that is a word", "/v1/snapshot?limit=all", Good, 400, "bad_query"),
        // Paths, versions and methods.
        post("a newer protocol version", "/v2/push", Good, b"{\"ops\":[]}", 404, "unsupported_version"),
        get("an old protocol version", "/v0/pull", Good, 404, "unsupported_version"),
        get("a far-future version", "/v999999999999999999999/pull", Good, 404, "unsupported_version"),
        get("a version in capitals", "/V1/pull", Good, 404, "not_found"),
        get("an unknown path", "/v1/residents", Good, 404, "not_found"),
        get("a path with dot segments", "/v1/../etc/passwd", None, 404, "not_found"),
        get("the root", "/", None, 404, "not_found"),
        get("the wrong method", "/v1/push", Good, 405, "method_not_allowed"),
        get("DELETE on pull", "/v1/pull", Good, 405, "method_not_allowed").method(Method::DELETE),
        get("PUT on enroll", "/v1/enroll", None, 405, "method_not_allowed").method(Method::PUT),
    ]
}

/// Sends one request; returns its status and body.
async fn send(
    server: &TestServer,
    token: &str,
    method: Method,
    path: &str,
    auth: Auth,
    content_type: Option<&str>,
    body: Option<Vec<u8>>,
) -> (StatusCode, String) {
    let mut req = server.http.request(method, server.url(path));
    req = match auth {
        Auth::None => req,
        Auth::Good => req.bearer_auth(token),
        Auth::Garbage => req.bearer_auth("not-a-token"),
        Auth::Raw(v) => req.header("authorization", v),
    };
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    if let Some(body) = body {
        req = req.body(body);
    }
    let res = req.send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
    let status = res.status();
    (status, res.text().await.unwrap())
}

/// The error body of an answer, or a panic naming the case.
fn error_body(what: &str, text: &str) -> ErrorBody {
    let body: ErrorBody = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("{what}: the error body does not parse ({e}): {text}"));
    assert!(!body.error.is_empty() && !body.message.is_empty(), "{what}");
    body
}

#[tokio::test]
async fn every_kind_of_bad_input_gets_a_4xx_with_an_error_body() {
    let server = TestServer::start().await;
    let phone = server.phone("张伟", Role::Admin).await;
    let cases = cases();
    let tried = cases.len();
    for case in cases {
        let (status, text) = send(
            &server,
            &phone.token,
            case.method.clone(),
            &case.path,
            case.auth,
            case.content_type,
            case.body,
        )
        .await;
        assert_eq!(
            status,
            StatusCode::from_u16(case.status).unwrap(),
            "{}: {text}",
            case.what
        );
        let body = error_body(case.what, &text);
        assert_eq!(body.error, case.error, "{}: {}", case.what, body.message);
    }
    // The server is still well after all that.
    let health: serde_json::Value = server
        .http
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    println!("bad-input matrix: {tried} bad inputs tried, 5xx seen: 0");
}

#[tokio::test]
async fn the_version_error_tells_the_app_which_version_the_server_speaks() {
    let server = TestServer::start().await;
    let res = server
        .http
        .get(server.url("/v2/pull"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let body: ErrorBody = res.json().await.unwrap();
    assert_eq!(body.error, "unsupported_version");
    assert!(body.message.contains("v1"), "{}", body.message);
}

/// Random mutations of valid requests: whatever comes out, the answer is below 500, an error
/// answer is an `ErrorBody`, and no answer echoes the personal data the request carried.
mod mutations {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestCaseError, TestRunner};

    use super::*;
    use gridwork_server::ServerOptions;
    use gridwork_server::http::RateLimits;

    /// What is done to a valid request's bytes.
    #[derive(Debug, Clone)]
    enum Mutation {
        /// Overwrite the byte at (position mod length).
        Set(usize, u8),
        /// Remove `len` bytes from a position.
        Delete(usize, usize),
        /// Insert bytes at a position.
        Insert(usize, Vec<u8>),
        /// Copy a range of the request over another place (repeats tokens and brackets).
        Splice(usize, usize, usize),
        /// Cut the request at a position.
        Truncate(usize),
        /// Replace one JSON-ish token with another of a different type.
        Swap(usize, &'static str),
    }

    const TOKENS: &[&str] = &[
        "null",
        "true",
        "0",
        "-1",
        "1e999",
        "18446744073709551616",
        "\"\"",
        "[]",
        "{}",
        "\"x\"",
        "[[[[",
        "}}}}",
        ",",
        ":",
        "\"\\u0000\"",
        "\"\\ud800\"",
        "NaN",
    ];

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Mutation::Set(p, b)),
            (any::<usize>(), 1..16usize).prop_map(|(p, n)| Mutation::Delete(p, n)),
            (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8))
                .prop_map(|(p, b)| Mutation::Insert(p, b)),
            (any::<usize>(), 1..64usize, any::<usize>())
                .prop_map(|(f, n, t)| Mutation::Splice(f, n, t)),
            any::<usize>().prop_map(Mutation::Truncate),
            (any::<usize>(), proptest::sample::select(TOKENS))
                .prop_map(|(p, t)| Mutation::Swap(p, t)),
        ]
    }

    fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
        let len = bytes.len().max(1);
        match m {
            Mutation::Set(p, b) => {
                if !bytes.is_empty() {
                    bytes[p % len] = *b;
                }
            }
            Mutation::Delete(p, n) => {
                let at = (p % len).min(bytes.len());
                let end = (at + n).min(bytes.len());
                bytes.drain(at..end);
            }
            Mutation::Insert(p, b) => {
                let at = (p % (len + 1)).min(bytes.len());
                bytes.splice(at..at, b.iter().copied());
            }
            Mutation::Splice(from, n, to) => {
                let from = (from % len).min(bytes.len());
                let piece: Vec<u8> = bytes[from..(from + n).min(bytes.len())].to_vec();
                let to = (to % (len + 1)).min(bytes.len());
                bytes.splice(to..to, piece);
            }
            Mutation::Truncate(p) => bytes.truncate(p % len),
            Mutation::Swap(p, token) => {
                // Replace the value after the nth colon (or the nth `=` in a query).
                let seps: Vec<usize> = bytes
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| **b == b':' || **b == b'=')
                    .map(|(i, _)| i + 1)
                    .collect();
                if seps.is_empty() {
                    return;
                }
                let start = seps[p % seps.len()];
                let end = bytes[start..]
                    .iter()
                    .position(|b| matches!(b, b',' | b'}' | b']' | b'&'))
                    .map_or(bytes.len(), |i| start + i);
                bytes.splice(start..end, token.bytes());
            }
        }
    }

    /// A valid request to mutate: which endpoint, and its body or query string.
    #[derive(Debug, Clone)]
    struct Valid {
        method: Method,
        path: &'static str,
        bytes: Vec<u8>,
        in_query: bool,
    }

    fn valid_requests(phone: &mut Phone) -> (Vec<Valid>, Vec<String>) {
        let town = town(phone, 2);
        let personal = town
            .residents
            .iter()
            .filter_map(|r| r.id_number.clone())
            .chain(["13800138000".to_string()])
            .collect();
        let push = serde_json::to_vec(&serde_json::json!({ "ops": &town.ops[5..12] })).unwrap();
        let enroll = serde_json::to_vec(&serde_json::json!({
            "code": "K7QM-2XWD-9HTR",
            "device_id": "0193a5c2-7d41-7c3e-9b7a-2f4e8d1c6a01",
            "device_name": "张伟的手机",
        }))
        .unwrap();
        let requests = vec![
            Valid {
                method: Method::POST,
                path: "/v1/push",
                bytes: push,
                in_query: false,
            },
            Valid {
                method: Method::POST,
                path: "/v1/enroll",
                bytes: enroll,
                in_query: false,
            },
            Valid {
                method: Method::GET,
                path: "/v1/pull",
                bytes: b"after=0&limit=50&wait=0".to_vec(),
                in_query: true,
            },
            Valid {
                method: Method::GET,
                path: "/v1/snapshot",
                bytes: format!("after={}&limit=20", town.areas[0].id).into_bytes(),
                in_query: true,
            },
        ];
        (requests, personal)
    }

    /// Cases per run; `GRIDWORK_BAD_INPUT_CASES` raises it for a longer run.
    fn cases() -> u32 {
        std::env::var("GRIDWORK_BAD_INPUT_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(600)
    }

    #[test]
    fn random_mutations_of_valid_requests_never_get_a_5xx() {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        // No rate limits: every mutation should reach the decoding, not a 429.
        let server = runtime.block_on(TestServer::start_with(ServerOptions {
            rate_limits: RateLimits::UNLIMITED,
            ..ServerOptions::default()
        }));
        let mut phone = runtime.block_on(server.phone("张伟", Role::Admin));
        let (requests, personal) = valid_requests(&mut phone);
        let token = phone.token.clone();
        let tried = std::cell::Cell::new(0u64);
        let refused = std::cell::Cell::new(0u64);
        let strategy = (
            0..requests.len(),
            proptest::collection::vec(mutation(), 1..6),
            0..4usize,
        );
        let mut runner = TestRunner::new(Config {
            cases: cases(),
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&strategy, |(which, mutations, headers)| {
                let valid = &requests[which];
                let mut bytes = valid.bytes.clone();
                for m in &mutations {
                    apply(&mut bytes, m);
                }
                // Headers vary too: sometimes a wrong content type, sometimes no token.
                let content_type = match headers {
                    1 => Some("text/plain"),
                    _ => Some("application/json"),
                };
                let auth = if headers == 2 { Auth::None } else { Auth::Good };
                let (path, body) = if valid.in_query {
                    let query = String::from_utf8_lossy(&bytes)
                        .replace(['#', ' '], "%20")
                        .replace(|c: char| c.is_control(), "");
                    (format!("{}?{query}", valid.path), None)
                } else {
                    (valid.path.to_string(), Some(bytes))
                };
                let (status, text) = runtime.block_on(send(
                    &server,
                    &token,
                    valid.method.clone(),
                    &path,
                    auth,
                    content_type,
                    body,
                ));
                tried.set(tried.get() + 1);
                prop_assert!(status.as_u16() < 500, "{path}: {status} {text}");
                if !status.is_success() {
                    refused.set(refused.get() + 1);
                    let body: ErrorBody = serde_json::from_str(&text).map_err(|e| {
                        TestCaseError::fail(format!(
                            "{path}: {status}: not an ErrorBody ({e}): {text}"
                        ))
                    })?;
                    prop_assert!(!body.message.is_empty());
                    for p in &personal {
                        prop_assert!(
                            !text.contains(p.as_str()),
                            "{path}: an error echoes personal data"
                        );
                    }
                }
                Ok(())
            })
            .unwrap();
        let health = runtime.block_on(async {
            server
                .http
                .get(server.url("/healthz"))
                .send()
                .await
                .unwrap()
                .status()
        });
        assert_eq!(health, 200);
        println!(
            "bad-input mutations: {} requests tried, {} refused with a 4xx, 5xx seen: 0",
            tried.get(),
            refused.get()
        );
    }
}
