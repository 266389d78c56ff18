//! Request rate limits of the `/metrics` server, as token buckets: one per client address
//! (driftless's own limit, so one address cannot take the server's time from the others) and
//! the web config's `rate_limit` (exporter-toolkit's, one bucket for every request). Only the
//! poller thread uses them: no locks.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// `burst` requests at once, refilled one per `interval`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub burst: u32,
    pub interval: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(rate: Rate, now: Instant) -> Bucket {
        Bucket {
            tokens: f64::from(rate.burst),
            at: now,
        }
    }

    /// Takes a token if there is one (after refilling for the time since the last take).
    fn take(&mut self, rate: Rate, now: Instant) -> bool {
        let refill = now.saturating_duration_since(self.at).as_secs_f64()
            / rate.interval.as_secs_f64().max(1e-9);
        self.tokens = (self.tokens + refill).min(f64::from(rate.burst));
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn is_full(&self, rate: Rate, now: Instant) -> bool {
        let refill = now.saturating_duration_since(self.at).as_secs_f64()
            / rate.interval.as_secs_f64().max(1e-9);
        self.tokens + refill >= f64::from(rate.burst)
    }
}

/// Addresses tracked at most; past that, addresses whose bucket is full again are forgotten
/// (they are as if new), so a scan from many addresses cannot grow the map without bound.
const MAX_CLIENTS: usize = 4096;

/// Whose limit a refused request hit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limited {
    /// This client address's.
    Client,
    /// The web config's `rate_limit`, shared by all.
    Everyone,
}

pub struct Limits {
    per_client: Option<Rate>,
    clients: HashMap<IpAddr, Bucket>,
    shared: Option<(Rate, Bucket)>,
}

impl Limits {
    pub fn new(per_client: Option<Rate>, shared: Option<Rate>, now: Instant) -> Limits {
        Limits {
            per_client,
            clients: HashMap::new(),
            shared: shared.map(|rate| (rate, Bucket::full(rate, now))),
        }
    }

    /// Counts a request from `client`; `Err` when a limit refuses it.
    pub fn admit(&mut self, client: IpAddr, now: Instant) -> Result<(), Limited> {
        if let Some(rate) = self.per_client {
            if self.clients.len() >= MAX_CLIENTS && !self.clients.contains_key(&client) {
                self.clients.retain(|_, b| !b.is_full(rate, now));
            }
            // Still full of busy clients: the new one shares no bucket and is not limited by
            // address (the shared limit, if any, still applies).
            if self.clients.len() < MAX_CLIENTS || self.clients.contains_key(&client) {
                let bucket = self
                    .clients
                    .entry(client)
                    .or_insert_with(|| Bucket::full(rate, now));
                if !bucket.take(rate, now) {
                    return Err(Limited::Client);
                }
            }
        }
        if let Some((rate, bucket)) = &mut self.shared
            && !bucket.take(*rate, now)
        {
            return Err(Limited::Everyone);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_its_burst_then_one_per_interval() {
        let now = Instant::now();
        let rate = Rate {
            burst: 3,
            interval: Duration::from_millis(100),
        };
        let mut limits = Limits::new(Some(rate), None, now);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        assert!((0..3).all(|_| limits.admit(a, now).is_ok()));
        assert_eq!(limits.admit(a, now), Err(Limited::Client));
        // Another address is not held back by the first.
        assert!(limits.admit(b, now).is_ok());
        assert!(limits.admit(a, now + Duration::from_millis(100)).is_ok());
        assert_eq!(
            limits.admit(a, now + Duration::from_millis(100)),
            Err(Limited::Client)
        );
    }

    #[test]
    fn the_shared_limit_counts_everyone() {
        let now = Instant::now();
        let rate = Rate {
            burst: 2,
            interval: Duration::from_secs(1),
        };
        let mut limits = Limits::new(None, Some(rate), now);
        assert!(limits.admit([10, 0, 0, 1].into(), now).is_ok());
        assert!(limits.admit([10, 0, 0, 2].into(), now).is_ok());
        assert_eq!(
            limits.admit([10, 0, 0, 3].into(), now),
            Err(Limited::Everyone)
        );
    }
}
