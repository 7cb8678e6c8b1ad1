//! The city scenario's load generator, far lighter than the server it loads: no device core,
//! no store, no connection pool. Each simulated phone is a bearer token and one keep-alive
//! HTTP/1.1 connection ([`conn::Conn`], hyper's bare client connection) carrying requests
//! encoded before the clock starts: a pull or snapshot is a path and a pre-built header, a push
//! is a body encoded once whose operation ids and stamps are overwritten in place for each send
//! ([`push_template::PushTemplate`]). Answers are read only as far as the figures need
//! ([`answers`]: how many operations or records, the next cursor).

pub mod answers;
pub mod conn;
pub mod push_template;

use gridwork_domain::ids::{DeviceId, Id};
use http_body_util::Full;
use hyper::Request;
use hyper::body::Bytes;
use hyper::header::{ACCEPT_ENCODING, AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};

/// A simulated phone: its enrolled device and its bearer token, ready to send.
#[derive(Debug, Clone)]
pub struct Phone {
    pub device: DeviceId,
    /// The grid its user works in (its index in the city).
    pub grid: usize,
    auth: HeaderValue,
}

impl Phone {
    /// A phone enrolled as `device` with `token`, working in grid `grid`.
    pub fn new(device: DeviceId, token: &str, grid: usize) -> Phone {
        let auth = HeaderValue::from_str(&format!("Bearer {token}")).expect("a token is ASCII");
        Phone { device, grid, auth }
    }

    /// `GET /v1/pull?after=…` (the server's default page size), waiting up to `wait_s`.
    pub fn pull(&self, after: u64, wait_s: u64) -> Request<Full<Bytes>> {
        let path = if wait_s == 0 {
            format!("/v1/pull?after={after}")
        } else {
            format!("/v1/pull?after={after}&wait={wait_s}")
        };
        self.get(path)
    }

    /// `GET /v1/snapshot` from the start or after a record id (the server's default page size,
    /// which is the phone's).
    pub fn snapshot(&self, after: Option<Id>) -> Request<Full<Bytes>> {
        match after {
            None => self.get("/v1/snapshot".into()),
            Some(id) => self.get(format!("/v1/snapshot?after={id}")),
        }
    }

    /// `POST /v1/push` with an encoded body.
    pub fn push(&self, body: Bytes) -> Request<Full<Bytes>> {
        Request::post("/v1/push")
            .header(HOST, "127.0.0.1")
            .header(AUTHORIZATION, self.auth.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT_ENCODING, "gzip")
            .body(Full::new(body))
            .expect("a valid request")
    }

    fn get(&self, path: String) -> Request<Full<Bytes>> {
        // Phones ask for gzip (reqwest's `gzip`), so the server compresses as it would for them.
        Request::get(path)
            .header(HOST, "127.0.0.1")
            .header(AUTHORIZATION, self.auth.clone())
            .header(ACCEPT_ENCODING, "gzip")
            .body(Full::new(Bytes::new()))
            .expect("a valid request")
    }
}
