//! The `rate_limit` filter: a token bucket per value of a key field. A bucket holds up to
//! `burst` tokens and refills at `per_second`; a record takes a token or is dropped. Memory is
//! bounded: at most [`MAX_KEYS`] buckets; past that, full buckets (idle keys, which a new
//! bucket would equal) are forgotten, then the least recently used half.

use std::collections::HashMap;
use std::time::Instant;

use super::log_event::LogEvent;
use crate::model::logs::RateLimitFilter;

/// Buckets kept at most, so a key with unbounded values (a client address under attack)
/// cannot grow memory without end.
pub const MAX_KEYS: usize = 10_000;

pub struct RateLimiter {
    key: Option<String>,
    per_second: f64,
    burst: f64,
    buckets: HashMap<String, Bucket>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    pub fn new(config: &RateLimitFilter) -> Result<RateLimiter, String> {
        let per_second = config.per_second.value;
        if !(per_second.is_finite() && per_second > 0.0) {
            return Err("`per_second` must be a number greater than 0".to_owned());
        }
        let burst = match &config.burst {
            Some(b) if b.value == 0 => return Err("`burst` must be at least 1".to_owned()),
            Some(b) => b.value as f64,
            None => per_second.ceil().max(1.0),
        };
        Ok(RateLimiter {
            key: config.key.clone(),
            per_second,
            burst,
            buckets: HashMap::new(),
        })
    }

    pub fn allow(&mut self, event: &LogEvent) -> bool {
        self.allow_at(event, Instant::now())
    }

    fn allow_at(&mut self, event: &LogEvent, now: Instant) -> bool {
        let key = match &self.key {
            Some(field) => event.text(field),
            None => None,
        };
        let key = key.as_deref().unwrap_or("");
        if !self.buckets.contains_key(key) && self.buckets.len() >= MAX_KEYS {
            self.forget(now);
        }
        let bucket = match self.buckets.get_mut(key) {
            Some(bucket) => bucket,
            None => self.buckets.entry(key.to_owned()).or_insert(Bucket {
                tokens: self.burst,
                last: now,
            }),
        };
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn forget(&mut self, now: Instant) {
        let (per_second, burst) = (self.per_second, self.burst);
        self.buckets.retain(|_, b| {
            let refilled =
                b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * per_second;
            refilled < burst
        });
        if self.buckets.len() >= MAX_KEYS {
            let mut lasts: Vec<Instant> = self.buckets.values().map(|b| b.last).collect();
            lasts.sort_unstable();
            let cutoff = lasts[lasts.len() / 2];
            self.buckets.retain(|_, b| b.last > cutoff);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::model::Spanned;

    fn limiter(key: Option<&str>, per_second: f64, burst: Option<u64>) -> RateLimiter {
        RateLimiter::new(&RateLimitFilter {
            key: key.map(str::to_owned),
            per_second: Spanned::unplaced(per_second),
            burst: burst.map(Spanned::unplaced),
        })
        .unwrap()
    }

    fn from(client: &str) -> LogEvent {
        let mut e = LogEvent::new("GET /".to_owned(), Arc::from("/var/log/access.log"));
        e.set("client", client.into());
        e
    }

    #[test]
    fn a_burst_then_the_rate() {
        let mut l = limiter(None, 2.0, Some(3));
        let start = Instant::now();
        let allowed = (0..10).filter(|_| l.allow_at(&from("a"), start)).count();
        assert_eq!(allowed, 3);
        // One second later: two more tokens.
        let later = start + Duration::from_secs(1);
        let allowed = (0..10).filter(|_| l.allow_at(&from("a"), later)).count();
        assert_eq!(allowed, 2);
        // A long pause refills to the burst, not beyond.
        let much_later = later + Duration::from_secs(3600);
        let allowed = (0..10)
            .filter(|_| l.allow_at(&from("a"), much_later))
            .count();
        assert_eq!(allowed, 3);
    }

    #[test]
    fn each_key_has_its_own_bucket() {
        let mut l = limiter(Some("client"), 1.0, None);
        let now = Instant::now();
        assert!(l.allow_at(&from("a"), now));
        assert!(!l.allow_at(&from("a"), now));
        assert!(l.allow_at(&from("b"), now));
    }

    #[test]
    fn keys_are_bounded() {
        let mut l = limiter(Some("client"), 1.0, None);
        let now = Instant::now();
        for i in 0..(MAX_KEYS * 3) {
            l.allow_at(&from(&i.to_string()), now + Duration::from_millis(i as u64));
        }
        assert!(l.buckets.len() <= MAX_KEYS);
    }

    #[test]
    fn bad_rates_are_refused() {
        for (per_second, burst) in [(0.0, None), (-1.0, None), (f64::NAN, None), (1.0, Some(0))] {
            let config = RateLimitFilter {
                key: None,
                per_second: Spanned::unplaced(per_second),
                burst: burst.map(Spanned::unplaced),
            };
            assert!(RateLimiter::new(&config).is_err());
        }
    }
}
