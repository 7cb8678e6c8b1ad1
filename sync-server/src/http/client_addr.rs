//! The address a request came from, for the per-address enrollment limit.
//!
//! The connection loop ([`crate::server`]) knows the socket's peer. Behind a reverse proxy that
//! peer is the proxy, so every phone would share one enrollment bucket; the proxy says who its
//! client was in `X-Forwarded-For`. That header is believed only when the peer is a proxy the
//! operator named (`--trusted-proxy CIDR`): anyone else could write any address into it and get
//! a fresh bucket per request. The rule ([`client_ip`]) is the usual one: read the header's
//! addresses from the right (the one the nearest proxy added), skip those of trusted proxies,
//! and take the first that is not one; an unreadable entry stops the walk at the last trusted
//! hop. A router driven in-process (tests, the fuzzer) has no peer, and its requests share one
//! bucket.

use std::convert::Infallible;
use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;

/// The client's address, when the server knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ClientAddr>()
            .copied()
            .unwrap_or(ClientAddr(None)))
    }
}

/// The proxies whose `X-Forwarded-For` is believed (none by default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Proxies in these networks (`10.0.0.0/8`, `::1/128`, a single address as `/32`).
    pub fn new(networks: Vec<IpNet>) -> TrustedProxies {
        TrustedProxies(networks)
    }

    /// Parses `CIDR` or a bare address (taken as one host).
    pub fn parse_one(text: &str) -> Result<IpNet, String> {
        let text = text.trim();
        text.parse::<IpNet>()
            .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| {
                format!("`{text}` is not an address or network (e.g. 10.0.0.5 or 10.0.0.0/24)")
            })
    }

    /// Whether `ip` is one of them (an IPv4-mapped IPv6 peer counts as its IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// No proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The networks, as given.
    pub fn networks(&self) -> &[IpNet] {
        &self.0
    }
}

/// The client of a request that reached us from `peer` with `headers`: `peer` itself unless it
/// is a trusted proxy, else the rightmost `X-Forwarded-For` address that is not a trusted proxy.
///
/// ```
/// use gridwork_server::http::client_addr::{TrustedProxies, client_ip};
/// use axum::http::HeaderMap;
/// let nginx = TrustedProxies::new(vec!["10.0.0.0/24".parse().unwrap()]);
/// let mut headers = HeaderMap::new();
/// headers.insert("x-forwarded-for", "203.0.113.7".parse().unwrap());
/// assert_eq!(client_ip("10.0.0.2".parse().unwrap(), &headers, &nginx).to_string(), "203.0.113.7");
/// // Anyone else's header is ignored.
/// assert_eq!(client_ip("198.51.100.9".parse().unwrap(), &headers, &nginx).to_string(), "198.51.100.9");
/// ```
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted.contains(peer) {
        return peer;
    }
    // Several header lines count as one list, in order.
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            // Garbage (or an obfuscated `unknown`): the last trusted hop is all we know.
            break;
        };
        client = ip;
        if !trusted.contains(ip) {
            break;
        }
    }
    client
}

/// One entry of the header: an address, maybe with a port (`1.2.3.4:5678`, `[2001:db8::1]:80`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(sock) = hop.parse::<std::net::SocketAddr>() {
        return Some(sock.ip().to_canonical());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(
            nets.iter()
                .map(|n| TrustedProxies::parse_one(n).unwrap())
                .collect(),
        )
    }

    #[test]
    fn phones_behind_the_load_balancer_are_told_apart() {
        let lb = proxies(&["10.0.0.0/24"]);
        let a = client_ip(ip("10.0.0.2"), &headers(&["100.64.1.1"]), &lb);
        let b = client_ip(ip("10.0.0.2"), &headers(&["100.64.1.2"]), &lb);
        assert_eq!((a, b), (ip("100.64.1.1"), ip("100.64.1.2")));
    }

    #[test]
    fn a_header_from_an_untrusted_peer_is_ignored() {
        let lb = proxies(&["10.0.0.0/24"]);
        let h = headers(&["1.2.3.4"]);
        assert_eq!(client_ip(ip("203.0.113.5"), &h, &lb), ip("203.0.113.5"));
        assert_eq!(
            client_ip(ip("10.0.0.2"), &h, &TrustedProxies::default()),
            ip("10.0.0.2"),
            "no proxy trusted by default"
        );
    }

    #[test]
    fn an_address_a_client_wrote_itself_does_not_count() {
        // The phone sent `X-Forwarded-For: 9.9.9.9`; nginx appended the real address.
        let lb = proxies(&["10.0.0.0/24"]);
        let h = headers(&["9.9.9.9, 100.64.7.7"]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &lb), ip("100.64.7.7"));
    }

    #[test]
    fn chains_of_trusted_proxies_are_walked_and_garbage_stops_the_walk() {
        let two = proxies(&["10.0.0.0/24", "192.168.5.5"]);
        // CDN edge 192.168.5.5 → nginx 10.0.0.2 → us.
        let h = headers(&["100.64.3.3", "192.168.5.5"]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &two), ip("100.64.3.3"));
        // Lines and commas, ports and brackets.
        let h = headers(&["[2001:db8::7]:4711, 192.168.5.5:80"]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &two), ip("2001:db8::7"));
        let h = headers(&["100.64.3.3, unknown"]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &two), ip("10.0.0.2"));
        assert_eq!(
            client_ip(ip("10.0.0.2"), &HeaderMap::new(), &two),
            ip("10.0.0.2")
        );
        // Every hop trusted: the leftmost is the best we have.
        let h = headers(&["10.0.0.9, 10.0.0.8"]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &two), ip("10.0.0.9"));
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_networks() {
        let lb = proxies(&["127.0.0.1"]);
        let h = headers(&["100.64.1.1"]);
        assert_eq!(client_ip(ip("::ffff:127.0.0.1"), &h, &lb), ip("100.64.1.1"));
        assert!(TrustedProxies::parse_one("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse_one("nginx").is_err());
    }
}
