//! Per-client request quotas (`security.rate_limit_per_second`, `rate_limit_burst`): one
//! token bucket per client, shared by every core, so the limit holds whichever core a
//! client's connections land on. A client is the agent (or, without an agent id, the role)
//! of its bearer token when authentication is on, else its IP address.
//!
//! The table is bounded: past [`CLIENTS_MAX`] clients, those whose buckets have refilled
//! (idle clients, indistinguishable from new ones) are forgotten; if none has, a new
//! client is refused like an over-rate one, never let through untracked.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Clients tracked at most, over all shards.
pub(crate) const CLIENTS_MAX: usize = 65_536;
const SHARDS: usize = 16;

/// Who a quota belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Client {
    /// An anonymous client, by address ([`Client::network`] for budgets per address).
    Ip(IpAddr),
    /// A token's agent.
    Agent(Arc<str>),
    /// A token without an agent id, by role.
    Role(&'static str),
}

impl Client {
    /// The budget key of an address: an IPv4 address itself, an IPv6 address's /64 (one
    /// host usually holds a whole /64, so counting single IPv6 addresses would let it
    /// rotate through them).
    pub(crate) fn network(ip: IpAddr) -> Client {
        match ip.to_canonical() {
            IpAddr::V6(v6) => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                Client::Ip(IpAddr::V6(bits.into()))
            }
            v4 => Client::Ip(v4),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The buckets of every client.
#[derive(Debug)]
pub(crate) struct Quota {
    /// Requests per second.
    rate: f64,
    /// Bucket size.
    burst: f64,
    hasher: RandomState,
    shards: Box<[Mutex<HashMap<Client, Bucket>>]>,
}

impl Quota {
    /// Quotas of `rate` requests per second with bursts of `burst`; `None` when `rate` is
    /// 0 (no limit).
    pub(crate) fn new(rate: u64, burst: u64) -> Option<Quota> {
        (rate > 0).then(|| Quota {
            rate: rate as f64,
            burst: burst.max(1) as f64,
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        })
    }

    /// The configured rate (requests per second).
    pub(crate) fn rate(&self) -> f64 {
        self.rate
    }

    /// Takes one request from `client`'s bucket at `now`; when it is empty, how long until
    /// it holds one again.
    pub(crate) fn take(&self, client: &Client, now: Instant) -> Result<(), Duration> {
        let shard = (self.hasher.hash_one(client) as usize) % SHARDS;
        let mut map = self.shards[shard].lock();
        self.room_for(&mut map, client, now)?;
        let bucket = map.entry(client.clone()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        bucket.tokens = refilled(bucket, now, self.rate).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / self.rate))
        }
    }

    /// Past the bound, forgets the clients whose buckets have refilled; if none has, a
    /// new client is refused (never let through untracked).
    fn room_for(
        &self,
        map: &mut HashMap<Client, Bucket>,
        client: &Client,
        now: Instant,
    ) -> Result<(), Duration> {
        if !map.contains_key(client) && map.len() >= CLIENTS_MAX / SHARDS {
            let (rate, burst) = (self.rate, self.burst);
            map.retain(|_, b| refilled(b, now, rate) < burst);
            if map.len() >= CLIENTS_MAX / SHARDS {
                return Err(Duration::from_secs(1));
            }
        }
        Ok(())
    }

    /// Whether `client`'s bucket holds a request at `now`, without taking it; when it is
    /// empty, how long until it holds one again. An untracked client has a full bucket,
    /// unless the table is full of active ones (then it waits like an over-rate client).
    pub(crate) fn available(&self, client: &Client, now: Instant) -> Result<(), Duration> {
        let shard = (self.hasher.hash_one(client) as usize) % SHARDS;
        let mut map = self.shards[shard].lock();
        match map.get(client) {
            None => self.room_for(&mut map, client, now),
            Some(b) => {
                let tokens = refilled(b, now, self.rate).min(self.burst);
                if tokens >= 1.0 {
                    Ok(())
                } else {
                    Err(Duration::from_secs_f64((1.0 - tokens) / self.rate))
                }
            }
        }
    }

    /// Clients tracked now.
    #[cfg(test)]
    pub(crate) fn clients(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }
}

/// The bucket's tokens at `now`, before capping at the burst.
fn refilled(b: &Bucket, now: Instant, rate: f64) -> f64 {
    b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(n: u8) -> Client {
        Client::Ip(IpAddr::V4(Ipv4Addr::new(10, 0, 0, n)))
    }

    #[test]
    fn burst_then_rate_then_refill() {
        let q = Quota::new(10, 5).unwrap();
        let t0 = Instant::now();
        for _ in 0..5 {
            assert_eq!(q.take(&ip(1), t0), Ok(()));
        }
        let wait = q.take(&ip(1), t0).unwrap_err();
        assert!(wait > Duration::from_millis(90) && wait <= Duration::from_millis(100));
        // Another client has its own bucket.
        assert_eq!(q.take(&ip(2), t0), Ok(()));
        // 100 ms later one token is back, and only one.
        let t1 = t0 + Duration::from_millis(100);
        assert_eq!(q.take(&ip(1), t1), Ok(()));
        assert!(q.take(&ip(1), t1).is_err());
        // A long pause refills to the burst, no more.
        let t2 = t1 + Duration::from_secs(60);
        for _ in 0..5 {
            assert_eq!(q.take(&ip(1), t2), Ok(()));
        }
        assert!(q.take(&ip(1), t2).is_err());
        assert!(Quota::new(0, 5).is_none());
    }

    #[test]
    fn ipv6_addresses_share_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(Client::network(a), Client::network(b));
        assert_ne!(Client::network(a), Client::network(c));
        let v4: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(Client::network(v4), Client::Ip(v4));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(Client::network(mapped), Client::Ip(v4));
    }

    #[test]
    fn available_looks_without_taking() {
        let q = Quota::new(10, 2).unwrap();
        let t0 = Instant::now();
        assert_eq!(q.available(&ip(1), t0), Ok(()));
        assert_eq!(q.available(&ip(1), t0), Ok(()));
        assert_eq!(q.take(&ip(1), t0), Ok(()));
        assert_eq!(q.take(&ip(1), t0), Ok(()));
        let wait = q.available(&ip(1), t0).unwrap_err();
        assert!(wait > Duration::from_millis(90) && wait <= Duration::from_millis(100));
        assert_eq!(q.available(&ip(1), t0 + Duration::from_millis(100)), Ok(()));
    }

    #[test]
    fn the_table_is_bounded_and_forgets_idle_clients_first() {
        let q = Quota::new(1, 2).unwrap();
        let t0 = Instant::now();
        let mut refused = 0;
        for n in 0..(CLIENTS_MAX as u32 + 4_000) {
            let c = Client::Agent(Arc::from(format!("a{n}")));
            // Each client spends a token, so none is idle yet.
            if q.take(&c, t0).is_err() {
                refused += 1;
            }
        }
        assert!(q.clients() <= CLIENTS_MAX);
        assert!(
            refused >= 4_000,
            "new clients past the bound are refused: {refused}"
        );
        // Looking without taking refuses them too: none is let through untracked.
        let fresh = (0..64)
            .map(|n| Client::Agent(Arc::from(format!("fresh{n}"))))
            .filter(|c| q.available(c, t0).is_err())
            .count();
        assert_eq!(fresh, 64, "a full table refuses new clients");
        // Once the buckets have refilled, new clients take their place.
        let later = t0 + Duration::from_secs(5);
        assert_eq!(q.take(&Client::Role("operator"), later), Ok(()));
        assert!(q.clients() <= CLIENTS_MAX);
    }
}
