//! One keep-alive HTTP/1.1 connection to the server: hyper's bare client connection (no pool,
//! no retries), timing each request from its send to the last byte of its answer.

use std::io::Read;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_ENCODING, RETRY_AFTER};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// An answer, its body un-gzipped.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
    /// The `Retry-After` header's seconds, when sent (a 503 or 429).
    pub retry_after_s: Option<u64>,
    /// From the request's send to the answer's last byte (un-gzipping not included).
    pub elapsed: Duration,
}

impl Answer {
    /// Panics with the status and body unless the answer is a 200.
    pub fn ok(self, what: &str) -> Answer {
        assert_eq!(
            self.status,
            200,
            "{what} answered {}: {}",
            self.status,
            String::from_utf8_lossy(&self.body)
        );
        self
    }
}

/// A connection.
#[derive(Debug)]
pub struct Conn {
    send: SendRequest<Full<Bytes>>,
}

impl Conn {
    /// Connects to `addr`.
    pub async fn open(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).await.expect("the server accepts");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        let (send, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("an HTTP/1.1 connection");
        // The connection's driver: ends when `send` is dropped or the server closes.
        tokio::spawn(connection);
        Conn { send }
    }

    /// Sends `request` and reads its whole answer; panics if the connection fails.
    pub async fn send(&mut self, request: Request<Full<Bytes>>) -> Answer {
        self.try_send(request).await.expect("the server answers")
    }

    /// Sends `request` and reads its whole answer, or says how the connection failed.
    pub async fn try_send(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> Result<Answer, hyper::Error> {
        self.send.ready().await?;
        let started = Instant::now();
        let response = self.send.send_request(request).await?;
        let status = response.status().as_u16();
        let retry_after_s = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let gzipped = response
            .headers()
            .get(CONTENT_ENCODING)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
        let body = response.into_body().collect().await?.to_bytes();
        let elapsed = started.elapsed();
        let body = if gzipped {
            let mut plain = Vec::with_capacity(body.len() * 8);
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut plain)
                .expect("the gzipped answer decodes");
            Bytes::from(plain)
        } else {
            body
        };
        Ok(Answer {
            status,
            body,
            retry_after_s,
            elapsed,
        })
    }
}
