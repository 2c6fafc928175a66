//! Failed admin-token attempts, counted per peer (an IPv4 address, or an IPv6 /64, which
//! one host usually has whole): after [`MAX_FAILURES`] within [`WINDOW`] of the first, the
//! peer's admin requests get 429 with `Retry-After` until the window ends, even with the
//! right token. Successful requests are neither limited nor counted. At most
//! [`MAX_PEERS`] peers are tracked at once (expired windows are dropped first); beyond,
//! new peers go uncounted rather than locking out the on-call.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed attempts allowed per peer and window.
pub const MAX_FAILURES: u32 = 10;
/// The window, from a peer's first failure.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Peers tracked at once.
pub const MAX_PEERS: usize = 65_536;

#[derive(Default)]
pub struct Throttle {
    /// Per peer: when its window began, and its failures in it.
    peers: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

/// The key of a peer: IPv4 addresses (also IPv4-mapped IPv6) whole, IPv6 by /64.
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

impl Throttle {
    /// How long `ip` must wait before its next admin request, if it must.
    pub fn wait(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        let (began, failures) = peers.get(&key(ip))?;
        let ends = *began + WINDOW;
        (*failures >= MAX_FAILURES && now < ends).then(|| ends - now)
    }

    /// Counts a failed attempt of `ip`.
    pub fn failed(&self, ip: IpAddr, now: Instant) {
        let mut peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        if peers.len() >= MAX_PEERS {
            peers.retain(|_, (began, _)| now < *began + WINDOW);
        }
        let k = key(ip);
        if !peers.contains_key(&k) && peers.len() >= MAX_PEERS {
            return;
        }
        let entry = peers.entry(k).or_insert((now, 0));
        if now >= entry.0 + WINDOW {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_is_held_after_its_failures_until_the_window_ends() {
        let t = Throttle::default();
        let ip: IpAddr = "10.0.0.7".parse().unwrap();
        let other: IpAddr = "10.0.0.8".parse().unwrap();
        let t0 = Instant::now();
        for i in 0..MAX_FAILURES {
            assert_eq!(t.wait(ip, t0), None, "attempt {i} is allowed");
            t.failed(ip, t0 + Duration::from_secs(u64::from(i)));
        }
        let wait = t.wait(ip, t0 + Duration::from_secs(20)).expect("held");
        assert_eq!(wait, Duration::from_secs(40));
        assert_eq!(t.wait(other, t0), None, "another peer is not");
        assert_eq!(t.wait(ip, t0 + WINDOW), None, "the window has passed");
        // A new window starts at the next failure.
        t.failed(ip, t0 + WINDOW);
        assert_eq!(t.wait(ip, t0 + WINDOW), None);
    }

    #[test]
    fn ipv6_peers_count_by_their_64() {
        let t = Throttle::default();
        let t0 = Instant::now();
        for i in 0..MAX_FAILURES {
            let ip: IpAddr = format!("2001:db8::{:x}", i + 1).parse().unwrap();
            t.failed(ip, t0);
        }
        assert!(t.wait("2001:db8::ffff".parse().unwrap(), t0).is_some());
        assert!(t.wait("2001:db9::1".parse().unwrap(), t0).is_none());
        let mapped: IpAddr = "::ffff:10.0.0.9".parse().unwrap();
        for _ in 0..MAX_FAILURES {
            t.failed(mapped, t0);
        }
        assert!(t.wait("10.0.0.9".parse().unwrap(), t0).is_some());
    }
}
