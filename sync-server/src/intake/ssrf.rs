//! Where a callback may go (ADR 0030): a service account names its callback URL, and the
//! server then makes requests to it from inside the subdistrict's network. Unchecked, that is a
//! way in (server-side request forgery): `http://127.0.0.1:5432/`, the office's intranet,
//! the cloud's metadata service (`169.254.169.254`, Alibaba Cloud's `100.100.100.200`).
//!
//! So a callback URL is http or https, and every address its host resolves to must be a
//! public one: loopback, private, shared (carrier-grade NAT), link-local (the metadata
//! services), unspecified, multicast, broadcast and documentation addresses are refused, in
//! IPv4 and IPv6 (IPv4-mapped IPv6 checked as the IPv4 it carries) — unless the operator's
//! allow-list (`gridwork-server serve --callback-allow CIDR`) names the network, for a
//! platform inside the government network. It is checked when the URL is registered and again
//! at every delivery after resolving the name, and the delivery connects to the very address
//! checked (no second lookup a rebinding DNS server could answer differently).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;

/// The operator's allow-list of networks a callback may reach although they are not public.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallbackPolicy {
    pub allow: Vec<IpNet>,
}

/// A callback URL checked for a delivery: the addresses to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The host as written in the URL (a name or an address).
    pub host: String,
    /// Every address it resolved to, each allowed.
    pub addrs: Vec<SocketAddr>,
}

impl CallbackPolicy {
    /// A policy allowing `allow` besides the public addresses.
    pub fn allowing(allow: Vec<IpNet>) -> CallbackPolicy {
        CallbackPolicy { allow }
    }

    /// Why `ip` may not be called back, or `Ok` when it is public or allowed.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), String> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        if self.allow.iter().any(|net| net.contains(&ip)) {
            return Ok(());
        }
        match not_public(ip) {
            None => Ok(()),
            Some(what) => Err(format!(
                "the callback address is {what}, not a public address; an operator may allow \
                 its network with `gridwork-server serve --callback-allow CIDR`"
            )),
        }
    }

    /// The check at registration: as [`check`](Self::check), except that a host name that
    /// does not resolve now is accepted. A platform may register its name before publishing it,
    /// or the server's DNS may be down; nothing is sent to a name at registration, and every
    /// delivery resolves it again, checks every address, and connects only to those.
    pub async fn check_at_registration(&self, url: &url::Url) -> Result<(), String> {
        match self.check(url).await {
            Err(why) if why == UNRESOLVED => Ok(()),
            checked => checked.map(|_| ()),
        }
    }

    /// Resolves the URL's host and checks every address it resolves to. The message never
    /// names the addresses (they are the server's network's business).
    pub async fn check(&self, url: &url::Url) -> Result<Checked, String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err("the callback url must be http:// or https://".into());
        }
        let port = url
            .port_or_known_default()
            .ok_or_else(|| "the callback url has no port".to_string())?;
        let (host, addrs) = match url.host() {
            None => return Err("the callback url must name a host".into()),
            Some(url::Host::Ipv4(ip)) => (ip.to_string(), vec![SocketAddr::new(ip.into(), port)]),
            Some(url::Host::Ipv6(ip)) => (ip.to_string(), vec![SocketAddr::new(ip.into(), port)]),
            Some(url::Host::Domain(name)) => {
                let found: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
                    .await
                    .map_err(|_| UNRESOLVED.to_string())?
                    .collect();
                if found.is_empty() {
                    return Err(UNRESOLVED.into());
                }
                (name.to_string(), found)
            }
        };
        for addr in &addrs {
            self.check_ip(addr.ip())?;
        }
        Ok(Checked { host, addrs })
    }
}

/// Why a URL whose host name resolves to nothing is refused at delivery.
const UNRESOLVED: &str = "the callback host does not resolve";

/// What kind of non-public address `ip` is, if it is one.
fn not_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => not_public_v4(v4),
        IpAddr::V6(v6) => not_public_v6(v6),
    }
}

fn not_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(if ip.is_loopback() {
        "loopback"
    } else if ip.is_private() {
        "private"
    } else if ip.is_link_local() {
        "link-local (where cloud metadata services answer)"
    } else if a == 100 && (64..128).contains(&b) {
        "shared address space (carrier-grade NAT; Alibaba Cloud's metadata service)"
    } else if ip.is_unspecified() || a == 0 {
        "unspecified"
    } else if ip.is_multicast() || ip.is_broadcast() || a >= 240 {
        "multicast, broadcast or reserved"
    } else if (a, b, c) == (192, 0, 0)
        || (a, b, c) == (192, 0, 2)
        || (a == 198 && (18..20).contains(&b))
        || (a, b, c) == (198, 51, 100)
        || (a, b, c) == (203, 0, 113)
    {
        "reserved for protocols, benchmarks or documentation"
    } else {
        return None;
    })
}

fn not_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    Some(if ip.is_loopback() {
        "loopback"
    } else if ip.is_unspecified() {
        "unspecified"
    } else if first & 0xfe00 == 0xfc00 {
        "private (unique local)"
    } else if first & 0xffc0 == 0xfe80 {
        "link-local"
    } else if ip.is_multicast() {
        "multicast"
    } else if first == 0x2001 && ip.segments()[1] == 0x0db8 {
        "reserved for documentation"
    } else if first == 0x0064 && ip.segments()[1] == 0xff9b {
        // NAT64: the IPv4 address it carries decides.
        let [.., a, b] = ip.segments();
        let v4 = Ipv4Addr::new((a >> 8) as u8, a as u8, (b >> 8) as u8, b as u8);
        return not_public_v4(v4);
    } else {
        return None;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(policy: &CallbackPolicy, ip: &str) -> bool {
        policy.check_ip(ip.parse().unwrap()).is_err()
    }

    #[test]
    fn every_kind_of_non_public_address_is_refused_and_public_ones_pass() {
        let p = CallbackPolicy::default();
        for ip in [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.10",
            "169.254.169.254",
            "100.100.100.200",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.7",
            "::1",
            "::",
            "fd00:ec2::254",
            "fc00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2001:db8::1",
        ] {
            assert!(refused(&p, ip), "{ip} must be refused");
        }
        for ip in [
            "8.8.8.8",
            "223.5.5.5",
            "114.114.114.114",
            "2400:3200::1",
            "172.32.0.1",
        ] {
            assert!(!refused(&p, ip), "{ip} is public");
        }
        let why = p.check_ip("169.254.169.254".parse().unwrap()).unwrap_err();
        assert!(
            why.contains("link-local") && why.contains("--callback-allow"),
            "{why}"
        );
        assert!(!why.contains("169.254"), "the address is not echoed: {why}");
    }

    #[test]
    fn the_operators_allow_list_opens_exactly_its_networks() {
        let p = CallbackPolicy::allowing(vec![
            "127.0.0.1/32".parse().unwrap(),
            "10.20.0.0/16".parse().unwrap(),
        ]);
        assert!(!refused(&p, "127.0.0.1"));
        assert!(!refused(&p, "::ffff:127.0.0.1"), "mapped, the same address");
        assert!(refused(&p, "127.0.0.2"));
        assert!(!refused(&p, "10.20.3.4"));
        assert!(refused(&p, "10.21.0.1"));
        assert!(refused(&p, "169.254.169.254"));
    }

    #[tokio::test]
    async fn a_url_is_checked_after_resolving_its_host() {
        let p = CallbackPolicy::default();
        let check = |u: &str| {
            let url = url::Url::parse(u).unwrap();
            let p = p.clone();
            async move { p.check(&url).await }
        };
        assert!(check("http://127.0.0.1:8080/cb").await.is_err());
        assert!(check("http://[::1]/cb").await.is_err());
        assert!(
            check("http://169.254.169.254/latest/meta-data/")
                .await
                .is_err()
        );
        // A name is resolved first: `localhost` is loopback whatever it is called.
        let why = check("http://localhost:9/cb").await.unwrap_err();
        assert!(why.contains("loopback") || why.contains("resolve"), "{why}");
        assert!(check("ftp://8.8.8.8/").await.is_err());
        let ok = check("https://8.8.8.8/cb").await.unwrap();
        assert_eq!(ok.addrs, vec!["8.8.8.8:443".parse().unwrap()]);
        let allowed = CallbackPolicy::allowing(vec!["127.0.0.0/8".parse().unwrap()]);
        let url = url::Url::parse("http://127.0.0.1:8080/cb").unwrap();
        assert_eq!(
            allowed.check(&url).await.unwrap().addrs,
            vec!["127.0.0.1:8080".parse().unwrap()]
        );
    }
}
