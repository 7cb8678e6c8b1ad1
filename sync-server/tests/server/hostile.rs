//! Clients that do not play along: bodies that never end, sockets that say nothing, headers sent
//! a byte at a time, a flood of connections, and phones that all come through one proxy. Each
//! test is one failure found by trying the server as an attacker would (issue 19); each bound
//! asserted here is structural (refused before the body is read, closed, capped), never a
//! speed. What they cost in memory and time is measured by `gridwork-bench -- all --only
//! hostile` ("Hostile clients" in `docs/reliability.md`).
//!
//! "Never" cannot be waited for in a test: a socket the server should have closed or answered
//! is given [`PATIENCE`], many times the timeouts configured here.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use gridwork_domain::sync::{EnrollRequest, ErrorBody, Role};
use gridwork_server::ServerOptions;
use gridwork_server::http::{RateLimit, RateLimits, TrustedProxies};
use gridwork_server::server::ConnectionLimits;
use uuid::Uuid;

use crate::common::{TestServer, town};

/// How long a test waits for something the server must do within a second or two.
const PATIENCE: Duration = Duration::from_secs(10);

/// One enrollment attempt at once, then one an hour.
const ONE_ATTEMPT: RateLimit = RateLimit::new(1, 1.0 / 60.0);

fn addr(server: &TestServer) -> SocketAddr {
    server.handle.as_ref().unwrap().local_addr()
}

/// What the server says on `stream` before it closes it or [`PATIENCE`] runs out:
/// `Ok(bytes)` when it closed (or reset) the connection, `Err(bytes)` when it was still open.
fn read_until_closed(stream: &mut TcpStream) -> Result<Vec<u8>, Vec<u8>> {
    let deadline = Instant::now() + PATIENCE;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(got);
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return Ok(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(got);
            }
            // A reset is a close too.
            Err(_) => return Ok(got),
        }
    }
}

/// The status line's code and the JSON error body of a raw HTTP answer.
fn status_and_error(answer: &[u8]) -> (u16, Option<ErrorBody>) {
    let text = String::from_utf8_lossy(answer);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok());
    (status, body)
}

fn enroll_head(content_length: usize) -> String {
    format!(
        "POST /v1/enroll HTTP/1.1\r\nhost: gridwork\r\ncontent-type: application/json\r\n\
         content-length: {content_length}\r\n\r\n"
    )
}

#[tokio::test]
async fn an_address_already_locked_out_gets_429_before_its_body_is_read() {
    let server = TestServer::start_with(ServerOptions {
        rate_limits: RateLimits {
            device: None,
            enroll: Some(ONE_ATTEMPT),
        },
        ..ServerOptions::default()
    })
    .await;
    // Someone guessing codes spends the address's one attempt.
    let guess = EnrollRequest {
        code: "AAAA-BBBB-CCCC".into(),
        device_id: Uuid::now_v7(),
        device_name: "手机".into(),
    };
    assert_eq!(server.post("/v1/enroll", None, &guess).await.status(), 401);
    let addr = addr(&server);
    let answer = tokio::task::spawn_blocking(move || {
        // Then declares 8 MiB and sends a few bytes of it, and holds the rest.
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(enroll_head(8 * 1024 * 1024).as_bytes())
            .unwrap();
        s.write_all(b"{\"code\":\"").unwrap();
        read_until_closed(&mut s)
    })
    .await
    .unwrap();
    let answer = answer.expect("answered and closed without waiting for the body");
    let (status, body) = status_and_error(&answer);
    assert_eq!(status, 429, "{}", String::from_utf8_lossy(&answer));
    assert_eq!(body.unwrap().error, "rate_limited");
}

#[tokio::test]
async fn an_enrollment_body_over_its_small_limit_is_refused_unread() {
    let server = TestServer::start().await;
    let addr = addr(&server);
    let answer = tokio::task::spawn_blocking(move || {
        // A stranger declares a megabyte and sends none of it.
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(enroll_head(1024 * 1024).as_bytes()).unwrap();
        read_until_closed(&mut s)
    })
    .await
    .unwrap()
    .expect("answered at once, nothing read");
    let (status, body) = status_and_error(&answer);
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&answer));
    assert_eq!(body.unwrap().error, "payload_too_large");

    // Without a length (chunked), the reading stops at the limit: a device name of 64 KiB is
    // refused as too large once 4 KiB arrived, not read whole and refused as too long.
    let answer = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(
            b"POST /v1/enroll HTTP/1.1\r\nhost: gridwork\r\ncontent-type: application/json\r\n\
              transfer-encoding: chunked\r\n\r\n",
        )
        .unwrap();
        let body = serde_json::to_vec(&EnrollRequest {
            code: "AAAA-BBBB-CCCC".into(),
            device_id: Uuid::now_v7(),
            device_name: "机".repeat(64 * 1024 / 3),
        })
        .unwrap();
        for chunk in body.chunks(1024) {
            let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
            framed.extend_from_slice(chunk);
            framed.extend_from_slice(b"\r\n");
            if s.write_all(&framed).is_err() {
                break;
            }
        }
        let _ = s.write_all(b"0\r\n\r\n");
        read_until_closed(&mut s)
    })
    .await
    .unwrap();
    let answer = answer.unwrap_or_else(|open| open);
    let (status, body) = status_and_error(&answer);
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&answer));
    assert_eq!(body.unwrap().error, "payload_too_large");
}

#[tokio::test]
async fn a_push_of_millions_of_tiny_elements_is_refused_with_its_count() {
    let server = TestServer::start().await;
    let phone = server.phone("张伟", Role::Admin).await;
    // 4.2 million `0,` pairs: 8.4 MB, just under the body limit.
    let mut body = b"{\"ops\":[".to_vec();
    while body.len() < 8 * 1024 * 1024 - 16 {
        body.extend_from_slice(b"0,");
    }
    body.extend_from_slice(b"0]}");
    let elements = (body.len() - 11) / 2 + 1;
    let res = server
        .http
        .post(server.url("/v1/push"))
        .bearer_auth(&phone.token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    let body: ErrorBody = res.json().await.unwrap();
    assert_eq!(body.error, "too_many_ops");
    assert!(
        body.message.contains(&elements.to_string()),
        "{}",
        body.message
    );
    // A real push still goes through.
    let mut phone = phone;
    let ops = town(&mut phone, 10).ops;
    assert_eq!(server.push(&phone, &ops).await.results.len(), ops.len());
}

/// Options with short timeouts, so that the tests see them act.
fn short_timeouts(max_connections: Option<usize>) -> ServerOptions {
    ServerOptions {
        connections: ConnectionLimits {
            max_connections,
            header_read_timeout: Duration::from_millis(500),
            ..ConnectionLimits::DEFAULT
        },
        ..ServerOptions::default()
    }
}

#[tokio::test]
async fn sockets_that_never_send_a_byte_are_closed_after_the_header_timeout() {
    let server = TestServer::start_with(short_timeouts(None)).await;
    let addr = addr(&server);
    let closed = tokio::task::spawn_blocking(move || {
        let mut idle: Vec<TcpStream> = (0..50).map(|_| TcpStream::connect(addr).unwrap()).collect();
        idle.iter_mut()
            .map(|s| read_until_closed(s).is_ok())
            .filter(|closed| *closed)
            .count()
    })
    .await
    .unwrap();
    assert_eq!(closed, 50, "every idle socket is closed by the server");
}

#[tokio::test]
async fn headers_sent_a_byte_at_a_time_do_not_hold_connections() {
    let server = TestServer::start_with(short_timeouts(None)).await;
    let addr = addr(&server);
    // Twenty clients, each sending its request head a byte every 50 ms: a whole head would
    // take 8 s; the server gives 0.5 s.
    let slow = (0..20).map(|_| {
        std::thread::spawn(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            let head = format!(
                "GET /healthz HTTP/1.1\r\nhost: gridwork\r\nx-padding: {}\r\n\r\n",
                "a".repeat(120)
            );
            let started = Instant::now();
            for byte in head.bytes() {
                if s.write_all(&[byte]).is_err() {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(50));
                if started.elapsed() > PATIENCE {
                    return false;
                }
            }
            // Whole after all: it must not have been answered.
            read_until_closed(&mut s).is_ok_and(|answer| answer.is_empty())
        })
    });
    let slow: Vec<_> = slow.collect();
    // Joined off the runtime's thread, which serves the server meanwhile.
    let cut = tokio::task::spawn_blocking(move || {
        slow.into_iter()
            .map(|t| t.join().unwrap())
            .filter(|cut| *cut)
            .count()
    })
    .await
    .unwrap();
    assert_eq!(cut, 20, "every slow head was cut off");
}

#[tokio::test]
async fn a_kept_alive_connection_left_idle_is_closed() {
    let server = TestServer::start_with(short_timeouts(None)).await;
    let addr = addr(&server);
    let answer = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nhost: gridwork\r\n\r\n")
            .unwrap();
        read_until_closed(&mut s)
    })
    .await
    .unwrap();
    let answer = answer.expect("closed after the keep-alive idle limit");
    assert_eq!(
        status_and_error(&answer).0,
        200,
        "the request was answered first"
    );
}

#[tokio::test]
async fn connections_over_the_cap_get_a_clear_503_and_room_comes_back() {
    let mut options = short_timeouts(Some(8));
    options.connections.header_read_timeout = Duration::from_secs(60);
    let server = TestServer::start_with(options).await;
    assert_eq!(server.handle.as_ref().unwrap().max_connections(), 8);
    let addr = addr(&server);
    let (refused, after) = tokio::task::spawn_blocking(move || {
        let mut held: Vec<TcpStream> = (0..8).map(|_| TcpStream::connect(addr).unwrap()).collect();
        // Give the server time to take all eight before the ninth comes.
        std::thread::sleep(Duration::from_millis(300));
        let mut ninth = TcpStream::connect(addr).unwrap();
        ninth
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: gridwork\r\n\r\n")
            .unwrap();
        let refused = read_until_closed(&mut ninth);
        // Four phones leave: the next request is served.
        held.truncate(4);
        let deadline = Instant::now() + PATIENCE;
        let after = loop {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"GET /healthz HTTP/1.1\r\nhost: gridwork\r\nconnection: close\r\n\r\n")
                .unwrap();
            let answer = read_until_closed(&mut s).unwrap_or_default();
            let status = status_and_error(&answer).0;
            if status == 200 || Instant::now() > deadline {
                break status;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        (refused, after)
    })
    .await
    .unwrap();
    let refused = refused.expect("the ninth is answered and closed");
    let (status, body) = status_and_error(&refused);
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(&refused));
    assert_eq!(body.unwrap().error, "too_many_connections");
    assert!(
        String::from_utf8_lossy(&refused)
            .to_ascii_lowercase()
            .contains("retry-after: 1")
    );
    assert_eq!(after, 200);
}

#[tokio::test]
async fn a_long_poll_still_waits_its_full_time_under_short_timeouts() {
    let mut options = short_timeouts(None);
    options.connections.header_read_timeout = Duration::from_millis(300);
    options.connections.write_timeout = Duration::from_millis(300);
    options.connections.body_idle_timeout = Duration::from_millis(300);
    let server = TestServer::start_with(options).await;
    let mut dispatcher = server.phone("调度员", Role::Admin).await;
    let crew = server.phone("消防队员", Role::Admin).await;
    let cursor = server.pull(&crew, 0, 1000, 0).await.next;
    // A quiet poll: answered empty after its 2 s, not cut at 0.3 s.
    let started = Instant::now();
    let quiet = server.pull(&crew, cursor, 1000, 2).await;
    assert!(quiet.ops.is_empty());
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // A poll that news wakes after a second.
    let ops = town(&mut dispatcher, 1).ops;
    let waiting = {
        let http = server.http.clone();
        let url = server.url(&format!("/v1/pull?after={cursor}&wait=5"));
        let token = crew.token.clone();
        tokio::spawn(async move { http.get(url).bearer_auth(token).send().await.unwrap() })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    server.push(&dispatcher, &ops).await;
    let res = waiting.await.unwrap();
    assert_eq!(res.status(), 200);
    let page: gridwork_domain::sync::PullResponse = res.json().await.unwrap();
    assert_eq!(page.ops.len(), ops.len());
}

#[tokio::test]
async fn phones_behind_a_trusted_proxy_each_have_their_own_enrollment_bucket() {
    let limits = RateLimits {
        device: None,
        enroll: Some(ONE_ATTEMPT),
    };
    let behind_nginx = TestServer::start_with(ServerOptions {
        rate_limits: limits,
        trusted_proxies: TrustedProxies::new(vec![TrustedProxies::parse_one("127.0.0.1").unwrap()]),
        ..ServerOptions::default()
    })
    .await;
    let attempt = |server: &TestServer, client: &'static str| {
        let req = server
            .http
            .post(server.url("/v1/enroll"))
            .header("x-forwarded-for", client)
            .json(&EnrollRequest {
                code: "AAAA-BBBB-CCCC".into(),
                device_id: Uuid::now_v7(),
                device_name: "手机".into(),
            });
        async move { req.send().await.unwrap().status().as_u16() }
    };
    // Two phones on two mobile networks, one nginx: each gets its attempt.
    assert_eq!(attempt(&behind_nginx, "100.64.0.1").await, 401);
    assert_eq!(attempt(&behind_nginx, "100.64.0.2").await, 401);
    // The first one's second attempt is its own bucket's business.
    assert_eq!(attempt(&behind_nginx, "100.64.0.1").await, 429);
    // A client writing the header itself (the proxy appends the real address) gains nothing.
    assert_eq!(attempt(&behind_nginx, "203.0.113.9, 100.64.0.1").await, 429);

    // Without a trusted proxy the header is anyone's to write, and is ignored.
    let direct = TestServer::start_with(ServerOptions {
        rate_limits: limits,
        ..ServerOptions::default()
    })
    .await;
    assert_eq!(attempt(&direct, "100.64.0.1").await, 401);
    assert_eq!(attempt(&direct, "100.64.0.2").await, 429);
}
