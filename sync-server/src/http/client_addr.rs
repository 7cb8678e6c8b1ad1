//! The address a request came from, for the per-address enrollment limit. The server records it
//! for every connection it accepts, plain or TLS ([`crate::server`]); a router driven in-process
//! (tests, the fuzzer) has none, and its requests share one bucket.
//!
//! Behind a reverse proxy every request comes from the proxy's address; the proxy should then
//! do its own per-address limiting (see `docs/reliability.md`).

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::serve::IncomingStream;
use tokio::net::TcpListener;

use crate::server::TlsListener;

/// The peer's address, when the server knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub Option<SocketAddr>);

impl Connected<IncomingStream<'_, TcpListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Self {
        ClientAddr(Some(*stream.remote_addr()))
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        ClientAddr(Some(*stream.remote_addr()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ConnectInfo<ClientAddr>>()
            .map_or(ClientAddr(None), |info| info.0))
    }
}
