//! A fault-injecting HTTP proxy on loopback, put between devices and the server: a patchy
//! mobile network on purpose. Each exchange meets, by a seeded random schedule, no fault or one
//! of five kinds of fault, on the request (device → server) or on the answer (server → device):
//!
//! | fault | on the request | on the answer |
//! |---|---|---|
//! | drop | the device's connection is closed, nothing forwarded | forwarded, the server acts, the device's connection is closed without an answer |
//! | delay | 10–150 ms before forwarding | 10–150 ms before answering |
//! | duplicate | forwarded twice at once (a retry racing the original) | the server acts, and the device gets again the last answer it got to the same method and path (a replayed, stale answer: for a pull, the page of an earlier cursor; for a push, the results of an earlier batch) |
//! | truncate | the server gets the head and half of the body (half the head for a bodyless request), then the connection closes; the device gets no answer | the device gets half of the body then a close, or a short body with a matching length (unreadable JSON) |
//! | reorder | held until another request has passed (or 200 ms), and the server gets a copy of an earlier push again, late | held until another answer has gone out (or 200 ms) |
//!
//! It speaks just enough HTTP/1.1 for the sync protocol: one request per connection, bodies
//! with `Content-Length`, `Connection: close` towards the server so an answer ends at EOF.
//! A fault is counted only when it took effect (a stale answer needs an earlier one to replay).

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// How long a held request or answer waits at most for another one to pass.
const HOLD: Duration = Duration::from_millis(200);

/// Which way a fault acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Device → server.
    Request,
    /// Server → device.
    Answer,
}

/// The kinds of fault, in the order of [`FaultCounts`]: each kind on the request, then on the
/// answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    DropRequest,
    DropAnswer,
    DelayRequest,
    DelayAnswer,
    DuplicateRequest,
    DuplicateAnswer,
    TruncateRequest,
    TruncateAnswer,
    ReorderRequest,
    ReorderAnswer,
}

impl Fault {
    pub const ALL: [Fault; 10] = [
        Fault::DropRequest,
        Fault::DropAnswer,
        Fault::DelayRequest,
        Fault::DelayAnswer,
        Fault::DuplicateRequest,
        Fault::DuplicateAnswer,
        Fault::TruncateRequest,
        Fault::TruncateAnswer,
        Fault::ReorderRequest,
        Fault::ReorderAnswer,
    ];

    /// The kind, without its direction: `drop`, `delay`, `duplicate`, `truncate`, `reorder`.
    pub fn kind(self) -> &'static str {
        match self {
            Fault::DropRequest | Fault::DropAnswer => "drop",
            Fault::DelayRequest | Fault::DelayAnswer => "delay",
            Fault::DuplicateRequest | Fault::DuplicateAnswer => "duplicate",
            Fault::TruncateRequest | Fault::TruncateAnswer => "truncate",
            Fault::ReorderRequest | Fault::ReorderAnswer => "reorder",
        }
    }

    pub fn direction(self) -> Direction {
        match self {
            Fault::DropRequest
            | Fault::DelayRequest
            | Fault::DuplicateRequest
            | Fault::TruncateRequest
            | Fault::ReorderRequest => Direction::Request,
            _ => Direction::Answer,
        }
    }

    /// `drop_request`, `drop_answer`, …
    pub fn name(self) -> String {
        let direction = match self.direction() {
            Direction::Request => "request",
            Direction::Answer => "answer",
        };
        format!("{}_{direction}", self.kind())
    }
}

/// Requests seen and faults injected, per kind and direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    pub requests: u64,
    pub by_kind: [u64; 10],
    /// How the server met the truncated requests: answered with a success (it acted on half
    /// a request: must stay 0), refused with an error status, or closed without answering.
    pub truncated_requests_served: u64,
    pub truncated_requests_refused: u64,
    pub truncated_requests_unanswered: u64,
    /// Stale answers replayed to pushes (the rest went to pulls).
    pub stale_push_answers: u64,
}

impl FaultCounts {
    pub fn get(&self, fault: Fault) -> u64 {
        self.by_kind[fault as usize]
    }

    pub fn total(&self) -> u64 {
        self.by_kind.iter().sum()
    }
}

impl fmt::Display for FaultCounts {
    /// `261 requests, 122 faults (drop 25/19, delay …)`: each kind as on requests / on answers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} requests, {} faults (request/answer: ",
            self.requests,
            self.total()
        )?;
        for (i, pair) in Fault::ALL.chunks(2).enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            let (request, answer) = (pair[0], pair[1]);
            write!(
                f,
                "{sep}{} {}/{}",
                request.kind(),
                self.get(request),
                self.get(answer)
            )?;
        }
        write!(
            f,
            "); truncated requests served {}, refused {}, unanswered {}; stale answers to pushes {}",
            self.truncated_requests_served,
            self.truncated_requests_refused,
            self.truncated_requests_unanswered,
            self.stale_push_answers
        )
    }
}

/// The running proxy. Dropping it stops it.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

#[derive(Debug)]
struct Shared {
    upstream: SocketAddr,
    faults_on: AtomicBool,
    /// Chance that an exchange meets a fault (the ten are then equally likely).
    fault_share: f64,
    rng: Mutex<StdRng>,
    requests: AtomicU64,
    counts: [AtomicU64; 10],
    /// Truncated requests: served, refused, unanswered (see [`FaultCounts`]).
    truncated_requests: [AtomicU64; 3],
    stale_push_answers: AtomicU64,
    /// Notified whenever a request has been forwarded (releases held requests).
    passed: Notify,
    /// Notified whenever an answer has gone out to a device (releases held answers).
    answered: Notify,
    /// Copies of earlier pushes, to send again late.
    late: Mutex<Vec<Vec<u8>>>,
    /// The last answer each device got whole, per method and path: what a stale answer replays.
    delivered: Mutex<HashMap<String, Vec<u8>>>,
    /// The kinds of fault the schedule picks from (all by default).
    kinds: Mutex<Vec<Fault>>,
    /// Bytes of answers to blob downloads (`GET /v1/blobs/…`) written to devices, heads,
    /// whole bodies and cut ones included.
    blob_bytes_to_devices: AtomicU64,
    /// Blob downloads that asked for a `Range`.
    ranged_blob_requests: AtomicU64,
}

impl FaultProxy {
    /// A proxy on 127.0.0.1 to the server at `upstream` (`http://127.0.0.1:PORT`); about
    /// `fault_share` of the exchanges meet a fault chosen by the random schedule `seed`.
    pub async fn start(upstream: &str, seed: u64, fault_share: f64) -> FaultProxy {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .parse()
            .expect("the server listens on an ip:port");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            upstream,
            faults_on: AtomicBool::new(true),
            fault_share,
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            requests: AtomicU64::new(0),
            counts: Default::default(),
            truncated_requests: Default::default(),
            stale_push_answers: AtomicU64::new(0),
            passed: Notify::new(),
            answered: Notify::new(),
            late: Mutex::new(Vec::new()),
            delivered: Mutex::new(HashMap::new()),
            kinds: Mutex::new(Fault::ALL.to_vec()),
            blob_bytes_to_devices: AtomicU64::new(0),
            ranged_blob_requests: AtomicU64::new(0),
        });
        let s = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(s.clone(), client));
            }
        });
        FaultProxy { addr, shared, task }
    }

    /// `http://ADDR`: give this to the devices' transports.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Turns faults on or off (off: a clean network, for the final sync).
    pub fn set_faults(&self, on: bool) {
        self.shared.faults_on.store(on, Ordering::SeqCst);
    }

    /// Restricts the faults to these kinds (e.g. only drops and truncations).
    pub fn set_kinds(&self, kinds: &[Fault]) {
        assert!(!kinds.is_empty());
        *self.shared.kinds.lock().unwrap() = kinds.to_vec();
    }

    /// Bytes of blob download answers (`GET /v1/blobs/…`) the proxy carried to devices: heads
    /// and bodies, cut ones included.
    pub fn blob_bytes_to_devices(&self) -> u64 {
        self.shared.blob_bytes_to_devices.load(Ordering::SeqCst)
    }

    /// Blob downloads that asked for a `Range` (a resumed download).
    pub fn ranged_blob_requests(&self) -> u64 {
        self.shared.ranged_blob_requests.load(Ordering::SeqCst)
    }

    /// What was injected so far.
    pub fn counts(&self) -> FaultCounts {
        let mut by_kind = [0; 10];
        for (n, c) in by_kind.iter_mut().zip(&self.shared.counts) {
            *n = c.load(Ordering::SeqCst);
        }
        let cut = |i: usize| self.shared.truncated_requests[i].load(Ordering::SeqCst);
        FaultCounts {
            requests: self.shared.requests.load(Ordering::SeqCst),
            by_kind,
            truncated_requests_served: cut(0),
            truncated_requests_refused: cut(1),
            truncated_requests_unanswered: cut(2),
            stale_push_answers: self.shared.stale_push_answers.load(Ordering::SeqCst),
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Shared {
    /// The schedule's decision for one exchange: a fault, or none.
    fn pick(&self) -> Option<Fault> {
        if !self.faults_on.load(Ordering::SeqCst) {
            return None;
        }
        let mut rng = self.rng.lock().unwrap();
        if !rng.random_bool(self.fault_share) {
            return None;
        }
        let kinds = self.kinds.lock().unwrap();
        Some(kinds[rng.random_range(0..kinds.len())])
    }

    /// Counts a fault that took effect.
    fn injected(&self, fault: Fault) {
        self.counts[fault as usize].fetch_add(1, Ordering::SeqCst);
    }

    fn random_ms(&self, range: std::ops::Range<u64>) -> Duration {
        Duration::from_millis(self.rng.lock().unwrap().random_range(range))
    }

    fn coin(&self) -> bool {
        self.rng.lock().unwrap().random_bool(0.5)
    }
}

/// Carries one request from a device to the server and its answer back, with the fault the
/// schedule picked.
async fn relay(shared: Arc<Shared>, mut client: TcpStream) {
    let Some(request) = read_request(&mut client).await else {
        return;
    };
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let is_push = request.starts_with(b"POST /v1/push");
    let is_blob_get = request.starts_with(b"GET /v1/blobs/");
    if is_blob_get {
        let end = find(&request, b"\r\n\r\n").unwrap_or(request.len());
        let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
        if head.contains("\r\nrange:") {
            shared.ranged_blob_requests.fetch_add(1, Ordering::SeqCst);
        }
    }
    let to_device = |n: usize| {
        if is_blob_get {
            shared
                .blob_bytes_to_devices
                .fetch_add(n as u64, Ordering::SeqCst);
        }
    };
    let fault = shared.pick();

    // On the way to the server.
    match fault {
        Some(f @ Fault::DropRequest) => {
            shared.injected(f);
            return;
        }
        Some(f @ Fault::DelayRequest) => {
            shared.injected(f);
            tokio::time::sleep(shared.random_ms(10..150)).await;
        }
        Some(f @ Fault::ReorderRequest) => {
            shared.injected(f);
            let _ = tokio::time::timeout(HOLD, shared.passed.notified()).await;
        }
        Some(f @ Fault::TruncateRequest) => {
            shared.injected(f);
            // The device's connection closes with the server's: no answer reaches it.
            let outcome = match forward_cut(shared.upstream, &request).await {
                Ok(200..=299) => 0,
                Ok(0) | Err(_) => 2,
                Ok(_) => 1,
            };
            shared.truncated_requests[outcome].fetch_add(1, Ordering::SeqCst);
            shared.passed.notify_waiters();
            return;
        }
        _ => {}
    }
    if is_push && shared.faults_on.load(Ordering::SeqCst) && shared.coin() {
        let mut late = shared.late.lock().unwrap();
        if late.len() < 8 {
            late.push(request.clone());
        }
    }
    let answer = if fault == Some(Fault::DuplicateRequest) {
        shared.injected(Fault::DuplicateRequest);
        let (a, b) = tokio::join!(
            forward(shared.upstream, &request),
            forward(shared.upstream, &request)
        );
        if shared.coin() { a } else { b }
    } else {
        forward(shared.upstream, &request).await
    };
    shared.passed.notify_waiters();
    if fault == Some(Fault::ReorderRequest) {
        // An earlier push arrives again, after newer ones.
        let stale = {
            let mut late = shared.late.lock().unwrap();
            (!late.is_empty()).then(|| late.remove(0))
        };
        if let Some(stale) = stale {
            let _ = forward(shared.upstream, &stale).await;
        }
    }
    // The server is down (a test restarting it): the device sees a dropped connection.
    let Ok(mut answer) = answer else { return };

    // On the way back to the device.
    let key = exchange_key(&request);
    let mut fresh = true;
    match fault {
        Some(f @ Fault::DropAnswer) => {
            shared.injected(f);
            return;
        }
        Some(f @ Fault::TruncateAnswer) => {
            shared.injected(f);
            let cut = truncated(&answer, shared.coin());
            if client.write_all(&cut).await.is_ok() {
                to_device(cut.len());
            }
            return;
        }
        Some(f @ Fault::DelayAnswer) => {
            shared.injected(f);
            tokio::time::sleep(shared.random_ms(10..150)).await;
        }
        Some(f @ Fault::DuplicateAnswer) => {
            let stale = shared.delivered.lock().unwrap().get(&key).cloned();
            // With nothing earlier to replay, the answer passes as it is (and is not counted).
            if let Some(stale) = stale {
                shared.injected(f);
                if is_push {
                    shared.stale_push_answers.fetch_add(1, Ordering::SeqCst);
                }
                answer = stale;
                fresh = false;
            }
        }
        Some(f @ Fault::ReorderAnswer) => {
            shared.injected(f);
            let _ = tokio::time::timeout(HOLD, shared.answered.notified()).await;
        }
        _ => {}
    }
    let delivered = client.write_all(&answer).await.is_ok();
    if delivered {
        to_device(answer.len());
    }
    let _ = client.shutdown().await;
    shared.answered.notify_waiters();
    if delivered && fresh {
        shared.delivered.lock().unwrap().insert(key, answer);
    }
}

/// Reads one HTTP/1.1 request (head and `Content-Length` body); `None` if the device hung up.
async fn read_request(client: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = client.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let length = content_length(&head);
    while buf.len() < head_end + length {
        let n = client.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    // Ask the server to close after answering, so the answer ends at EOF.
    let mut out = Vec::with_capacity(buf.len() + 20);
    for line in head[..head.len() - 2].split_inclusive("\r\n") {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            out.extend_from_slice(line.as_bytes());
        }
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(&buf[head_end..]);
    Some(out)
}

/// Sends one request to the server on a fresh connection and reads the answer to EOF.
async fn forward(upstream: SocketAddr, request: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut server = TcpStream::connect(upstream).await?;
    server.write_all(request).await?;
    let mut answer = Vec::new();
    server.read_to_end(&mut answer).await?;
    if answer.is_empty() {
        return Err(std::io::Error::other("the server closed without answering"));
    }
    Ok(answer)
}

/// Sends the server the start of a request ([`cut_request`]) and closes the sending side, as a
/// connection lost mid-upload; returns the status of whatever the server answered (0: it
/// closed without answering).
async fn forward_cut(upstream: SocketAddr, request: &[u8]) -> std::io::Result<u16> {
    let mut server = TcpStream::connect(upstream).await?;
    server.write_all(cut_request(request)).await?;
    server.shutdown().await?;
    let mut answer = Vec::new();
    // A server that waited for the rest would be a bug of its own; do not hang the test on it.
    match tokio::time::timeout(Duration::from_secs(5), server.read_to_end(&mut answer)).await {
        Ok(Ok(_)) | Ok(Err(_)) => Ok(status_of(&answer)),
        Err(_) => Err(std::io::Error::other("the server kept a cut request open")),
    }
}

/// The part of a request that gets through before the connection is lost: the head and half
/// the body, or half the head when there is no body.
fn cut_request(request: &[u8]) -> &[u8] {
    match find(request, b"\r\n\r\n") {
        Some(i) if request.len() > i + 4 => &request[..i + 4 + (request.len() - i - 4) / 2],
        _ => &request[..request.len() / 2],
    }
}

/// An answer's status code (`HTTP/1.1 200 OK` → 200); 0 for no answer.
fn status_of(answer: &[u8]) -> u16 {
    String::from_utf8_lossy(&answer[..answer.len().min(32)])
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// What a stale answer is matched on: the device (its token), the method and the path, not
/// the query (so a pull may get the page of an earlier cursor).
fn exchange_key(request: &[u8]) -> String {
    let end = find(request, b"\r\n\r\n").unwrap_or(request.len());
    let head = String::from_utf8_lossy(&request[..end]);
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split_whitespace();
    let method = first.next().unwrap_or_default();
    let path = first.next().unwrap_or_default().split('?').next();
    let token = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.trim())
        .unwrap_or_default();
    format!("{token} {method} {}", path.unwrap_or_default())
}

/// The answer with its body cut: half of it and a close (`keep_length`: the head still
/// announces the whole body), or a short body whose length the head states (a complete HTTP
/// message that is not readable JSON).
fn truncated(answer: &[u8], keep_length: bool) -> Vec<u8> {
    let Some(i) = find(answer, b"\r\n\r\n") else {
        return answer[..answer.len() / 2].to_vec();
    };
    let (head, body) = (&answer[..i + 4], &answer[i + 4..]);
    let cut = &body[..body.len() / 2];
    if keep_length {
        return [head, cut].concat();
    }
    let head = String::from_utf8_lossy(head);
    let mut out = String::new();
    for line in head[..head.len() - 2].split_inclusive("\r\n") {
        if line.to_ascii_lowercase().starts_with("content-length:") {
            out.push_str(&format!("content-length: {}\r\n", cut.len()));
        } else {
            out.push_str(line);
        }
    }
    out.push_str("\r\n");
    [out.as_bytes(), cut].concat()
}

fn content_length(head: &str) -> usize {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_truncated_answer_is_cut_in_the_body_with_or_without_its_length() {
        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n0123456789";
        let cut = truncated(answer, true);
        assert!(cut.ends_with(b"\r\n\r\n01234"));
        assert!(String::from_utf8_lossy(&cut).contains("content-length: 10"));
        let short = String::from_utf8(truncated(answer, false)).unwrap();
        assert!(short.contains("content-length: 5\r\n"), "{short}");
        assert!(short.ends_with("\r\n\r\n01234"));
    }

    #[test]
    fn a_truncated_request_keeps_its_head_and_half_its_body_or_half_a_bare_head() {
        let push = b"POST /v1/push HTTP/1.1\r\nContent-Length: 10\r\n\r\n{\"ops\":[]}";
        assert_eq!(
            cut_request(push),
            b"POST /v1/push HTTP/1.1\r\nContent-Length: 10\r\n\r\n{\"ops"
        );
        let pull = b"GET /v1/pull?after=3 HTTP/1.1\r\n\r\n";
        assert_eq!(cut_request(pull), b"GET /v1/pull?aft");
    }

    #[test]
    fn a_stale_answer_is_matched_on_device_method_and_path_but_not_the_query() {
        let at = |target: &str, token: &str| {
            exchange_key(
                format!("GET {target} HTTP/1.1\r\nauthorization: Bearer {token}\r\n\r\n")
                    .as_bytes(),
            )
        };
        assert_eq!(at("/v1/pull?after=3", "a"), at("/v1/pull?after=9", "a"));
        assert_ne!(at("/v1/pull?after=3", "a"), at("/v1/pull?after=3", "b"));
        assert_ne!(at("/v1/pull", "a"), at("/v1/snapshot", "a"));
        let push = exchange_key(b"POST /v1/push HTTP/1.1\r\nAuthorization: Bearer a\r\n\r\n{}");
        assert_ne!(push, at("/v1/push", "a"), "a push is not a GET");
    }

    #[test]
    fn the_status_of_an_answer_is_read_from_its_first_line() {
        assert_eq!(status_of(b"HTTP/1.1 400 Bad Request\r\n\r\n"), 400);
        assert_eq!(status_of(b""), 0);
    }

    #[test]
    fn every_fault_is_named_with_its_direction() {
        let names: Vec<String> = Fault::ALL.iter().map(|f| f.name()).collect();
        assert_eq!(names[0], "drop_request");
        assert_eq!(names[9], "reorder_answer");
        for pair in Fault::ALL.chunks(2) {
            assert_eq!(pair[0].kind(), pair[1].kind());
            assert_eq!(pair[0].direction(), Direction::Request);
            assert_eq!(pair[1].direction(), Direction::Answer);
        }
    }

    #[test]
    fn the_length_of_a_request_body_is_read_from_its_head() {
        assert_eq!(
            content_length("POST /v1/push HTTP/1.1\r\nContent-Length: 42\r\n\r\n"),
            42
        );
        assert_eq!(content_length("GET /v1/pull HTTP/1.1\r\n\r\n"), 0);
    }
}
