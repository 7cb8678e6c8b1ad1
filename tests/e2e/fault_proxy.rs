//! A fault-injecting HTTP proxy on loopback, put between devices and the server: a patchy
//! mobile network on purpose. Each request is, by a seeded random schedule, passed through or
//! dropped, delayed, duplicated, truncated or reordered:
//!
//! | fault | what the proxy does |
//! |---|---|
//! | `drop_request` | closes the device's connection without forwarding anything |
//! | `drop_answer` | forwards, lets the server act, closes without answering |
//! | `delay` | waits 10–150 ms before forwarding and again before answering |
//! | `duplicate` | forwards the request twice at once (a retry racing the original) |
//! | `truncate` | cuts the answer's body: half of it then a close, or a short body with a matching length (unreadable JSON) |
//! | `reorder` | holds the request until another one has passed (or 200 ms); and sends the server a copy of an earlier push again, late |
//!
//! It speaks just enough HTTP/1.1 for the sync protocol: one request per connection, bodies
//! with `Content-Length`, `Connection: close` towards the server so an answer ends at EOF.

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

/// The kinds of fault, in the order of [`FaultCounts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    DropRequest,
    DropAnswer,
    Delay,
    Duplicate,
    Truncate,
    Reorder,
}

impl Fault {
    pub const ALL: [Fault; 6] = [
        Fault::DropRequest,
        Fault::DropAnswer,
        Fault::Delay,
        Fault::Duplicate,
        Fault::Truncate,
        Fault::Reorder,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fault::DropRequest => "drop_request",
            Fault::DropAnswer => "drop_answer",
            Fault::Delay => "delay",
            Fault::Duplicate => "duplicate",
            Fault::Truncate => "truncate",
            Fault::Reorder => "reorder",
        }
    }
}

/// Requests seen and faults injected, per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    pub requests: u64,
    pub by_kind: [u64; 6],
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
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} requests, {} faults (", self.requests, self.total())?;
        for (i, kind) in Fault::ALL.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{} {}", kind.name(), self.get(*kind))?;
        }
        write!(f, ")")
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
    /// Chance that a request meets a fault (the kinds are then equally likely).
    fault_share: f64,
    rng: Mutex<StdRng>,
    requests: AtomicU64,
    counts: [AtomicU64; 6],
    /// Notified whenever a request has been forwarded (releases held ones).
    passed: Notify,
    /// Copies of earlier pushes, to send again late.
    late: Mutex<Vec<Vec<u8>>>,
}

impl FaultProxy {
    /// A proxy on 127.0.0.1 to the server at `upstream` (`http://127.0.0.1:PORT`); about
    /// `fault_share` of the requests meet a fault chosen by the random schedule `seed`.
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
            passed: Notify::new(),
            late: Mutex::new(Vec::new()),
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

    /// What was injected so far.
    pub fn counts(&self) -> FaultCounts {
        let mut by_kind = [0; 6];
        for (n, c) in by_kind.iter_mut().zip(&self.shared.counts) {
            *n = c.load(Ordering::SeqCst);
        }
        FaultCounts {
            requests: self.shared.requests.load(Ordering::SeqCst),
            by_kind,
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Shared {
    /// The schedule's decision for one request: a fault, or none.
    fn pick(&self) -> Option<Fault> {
        if !self.faults_on.load(Ordering::SeqCst) {
            return None;
        }
        let mut rng = self.rng.lock().unwrap();
        if !rng.random_bool(self.fault_share) {
            return None;
        }
        let fault = Fault::ALL[rng.random_range(0..Fault::ALL.len())];
        self.counts[fault as usize].fetch_add(1, Ordering::SeqCst);
        Some(fault)
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
    let fault = shared.pick();
    match fault {
        Some(Fault::DropRequest) => return,
        Some(Fault::Delay) => tokio::time::sleep(shared.random_ms(10..150)).await,
        Some(Fault::Reorder) => {
            let _ =
                tokio::time::timeout(Duration::from_millis(200), shared.passed.notified()).await;
        }
        _ => {}
    }
    if is_push && shared.faults_on.load(Ordering::SeqCst) && shared.coin() {
        let mut late = shared.late.lock().unwrap();
        if late.len() < 8 {
            late.push(request.clone());
        }
    }
    let answer = if fault == Some(Fault::Duplicate) {
        let (a, b) = tokio::join!(
            forward(shared.upstream, &request),
            forward(shared.upstream, &request)
        );
        if shared.coin() { a } else { b }
    } else {
        forward(shared.upstream, &request).await
    };
    shared.passed.notify_waiters();
    if fault == Some(Fault::Reorder) {
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
    let Ok(answer) = answer else { return };
    match fault {
        Some(Fault::DropAnswer) => return,
        Some(Fault::Truncate) => {
            let _ = client.write_all(&truncated(&answer, shared.coin())).await;
            return;
        }
        Some(Fault::Delay) => tokio::time::sleep(shared.random_ms(10..150)).await,
        _ => {}
    }
    let _ = client.write_all(&answer).await;
    let _ = client.shutdown().await;
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
    fn the_length_of_a_request_body_is_read_from_its_head() {
        assert_eq!(
            content_length("POST /v1/push HTTP/1.1\r\nContent-Length: 42\r\n\r\n"),
            42
        );
        assert_eq!(content_length("GET /v1/pull HTTP/1.1\r\n\r\n"), 0);
    }
}
