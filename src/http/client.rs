//! The client's address: the connection's peer, or, when the peer is a configured
//! trusted proxy (`security.trusted_proxies`), the address its `X-Forwarded-For` names.
//!
//! `X-Forwarded-For` is read right to left (each proxy appends the address it received
//! the request from): trusted proxies are skipped, and the first address that is not one
//! is the client. A header from an untrusted peer is ignored (anyone can write one), and
//! an entry that is not an address ends the walk at the last trusted hop.

use http::HeaderMap;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

const FORWARDED_FOR: &str = "x-forwarded-for";

/// Where a request comes from.
pub(crate) fn address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    // Later header lines were appended by later hops: walk them last first.
    for line in headers.get_all(FORWARDED_FOR).iter().rev() {
        let Ok(line) = line.to_str() else {
            return client;
        };
        for entry in line.rsplit(',') {
            let Some(ip) = parse_hop(entry.trim()) else {
                return client;
            };
            client = ip;
            if !is_trusted(&ip) {
                return ip;
            }
        }
    }
    client
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_hop(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(FORWARDED_FOR, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn only_trusted_peers_may_name_the_client() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let h = xff(&["203.0.113.9"]);
        // An untrusted peer's header is ignored.
        assert_eq!(
            address(ip("198.51.100.1"), &h, &trusted),
            ip("198.51.100.1")
        );
        // A trusted proxy's is read.
        assert_eq!(address(ip("10.1.2.3"), &h, &trusted), ip("203.0.113.9"));
        // Nothing trusted: the peer, whatever the header says.
        assert_eq!(address(ip("10.1.2.3"), &h, &[]), ip("10.1.2.3"));
        // No header: the proxy itself.
        assert_eq!(
            address(ip("10.1.2.3"), &HeaderMap::new(), &trusted),
            ip("10.1.2.3")
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        // A client forging a first entry does not get to choose its address.
        let h = xff(&["1.1.1.1, 203.0.113.9, 10.0.0.7"]);
        assert_eq!(address(ip("10.0.0.1"), &h, &trusted), ip("203.0.113.9"));
        // Several header lines are one list, in order.
        let h = xff(&["1.1.1.1", "203.0.113.9:5555", "10.0.0.7"]);
        assert_eq!(address(ip("10.0.0.1"), &h, &trusted), ip("203.0.113.9"));
        // Garbage ends the walk at the last trusted hop.
        let h = xff(&["203.0.113.9, nonsense, 10.0.0.7"]);
        assert_eq!(address(ip("10.0.0.1"), &h, &trusted), ip("10.0.0.7"));
        // IPv6, bracketed with a port, and v4-mapped addresses.
        let h = xff(&["[2001:db8::1]:443"]);
        assert_eq!(address(ip("10.0.0.1"), &h, &trusted), ip("2001:db8::1"));
        let h = xff(&["::ffff:203.0.113.9"]);
        assert_eq!(address(ip("10.0.0.1"), &h, &trusted), ip("203.0.113.9"));
    }
}
