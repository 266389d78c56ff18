//! The retry layer: a failed send that may succeed later is tried again after an exponential
//! backoff with jitter, or after the receiver's `Retry-After`; one that cannot (a 400, a
//! permission) fails at once.

use std::sync::Arc;
use std::time::Duration;

use super::{Batch, SendError, Sink};
use crate::error::ResourceError;
use crate::model::sinks::RetryConfig;

/// How often and how long to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl RetryPolicy {
    pub const DEFAULT: RetryPolicy = RetryPolicy {
        attempts: 5,
        initial_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(30),
    };

    pub fn of(config: Option<&RetryConfig>) -> RetryPolicy {
        let default = RetryPolicy::DEFAULT;
        let Some(config) = config else {
            return default;
        };
        RetryPolicy {
            attempts: config.attempts.map_or(default.attempts, |n| {
                u32::try_from(n.max(1)).unwrap_or(u32::MAX)
            }),
            initial_backoff: config
                .initial_backoff
                .map_or(default.initial_backoff, |d| d.0),
            max_backoff: config.max_backoff.map_or(default.max_backoff, |d| d.0),
        }
    }

    /// The wait before attempt `n + 1` (n ≥ 1): the backoff doubled `n - 1` times, capped,
    /// then a random point in its upper half ("equal jitter"), so that many hosts failing
    /// together do not all come back at once.
    pub fn backoff(&self, n: u32) -> Duration {
        let doubled = self
            .initial_backoff
            .saturating_mul(1u32.checked_shl(n.saturating_sub(1)).unwrap_or(u32::MAX));
        let capped = doubled.min(self.max_backoff);
        let half = capped / 2;
        half + half.mul_f64(jitter())
    }
}

/// A number in [0, 1) from the OS's randomness (a fixed midpoint if it cannot be read).
fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    match crate::fsutil::random_bytes(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.5,
    }
}

/// The longest `Retry-After` waited: a receiver asking for more is tried again after this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// A sink whose transient failures are retried.
pub struct Retrying {
    inner: Arc<dyn Sink>,
    policy: RetryPolicy,
}

impl Retrying {
    pub fn new(inner: Arc<dyn Sink>, policy: RetryPolicy) -> Retrying {
        Retrying { inner, policy }
    }
}

impl Sink for Retrying {
    fn send(&self, batch: &Batch) -> Result<(), SendError> {
        let mut attempt = 1;
        loop {
            match self.inner.send(batch) {
                Ok(()) => return Ok(()),
                Err(e) if !e.error.is_transient() => return Err(e),
                Err(e) if attempt >= self.policy.attempts => {
                    let message = if attempt > 1 {
                        format!("{} (gave up after {attempt} attempts)", e.error.message)
                    } else {
                        e.error.message
                    };
                    return Err(SendError {
                        error: ResourceError::transient(message),
                        retry_after: e.retry_after,
                    });
                }
                Err(e) => {
                    let wait = match e.retry_after {
                        Some(asked) => asked.min(MAX_RETRY_AFTER),
                        None => self.policy.backoff(attempt),
                    };
                    tracing::warn!(
                        sink = %self.inner.describe(),
                        attempt,
                        wait = ?wait,
                        error = %e.error.message,
                        "send failed, trying again"
                    );
                    std::thread::sleep(wait);
                    attempt += 1;
                }
            }
        }
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn health(&self) -> Result<(), ResourceError> {
        self.inner.health()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Instant;

    use super::*;

    /// Fails transiently (or not) a number of times, then accepts; counts the sends.
    struct Flaky {
        failures: Mutex<u32>,
        transient: bool,
        retry_after: Option<Duration>,
        sends: Mutex<u32>,
    }

    impl Sink for Flaky {
        fn send(&self, _: &Batch) -> Result<(), SendError> {
            *self.sends.lock().expect("lock") += 1;
            let mut failures = self.failures.lock().expect("lock");
            if *failures == 0 {
                return Ok(());
            }
            *failures -= 1;
            let error = if self.transient {
                ResourceError::transient("503 Service Unavailable")
            } else {
                ResourceError::permanent("400 Bad Request")
            };
            Err(SendError {
                error,
                retry_after: self.retry_after,
            })
        }
        fn describe(&self) -> String {
            "flaky".to_owned()
        }
    }

    fn flaky(failures: u32, transient: bool, retry_after: Option<Duration>) -> Arc<Flaky> {
        Arc::new(Flaky {
            failures: Mutex::new(failures),
            transient,
            retry_after,
            sends: Mutex::new(0),
        })
    }

    const FAST: RetryPolicy = RetryPolicy {
        attempts: 4,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(4),
    };

    fn batch() -> Batch {
        Batch::document(b"{}".to_vec(), std::time::UNIX_EPOCH, "run".to_owned())
    }

    #[test]
    fn transient_failures_are_retried_until_the_send_is_acknowledged() {
        let inner = flaky(3, true, None);
        Retrying::new(inner.clone(), FAST)
            .send(&batch())
            .expect("the fourth attempt succeeds");
        assert_eq!(*inner.sends.lock().expect("lock"), 4);
    }

    #[test]
    fn a_permanent_failure_is_not_retried() {
        let inner = flaky(1, false, None);
        let error = Retrying::new(inner.clone(), FAST)
            .send(&batch())
            .expect_err("400");
        assert_eq!(error.error.message, "400 Bad Request");
        assert_eq!(*inner.sends.lock().expect("lock"), 1);
    }

    #[test]
    fn giving_up_says_after_how_many_attempts() {
        let inner = flaky(10, true, None);
        let error = Retrying::new(inner.clone(), FAST)
            .send(&batch())
            .expect_err("never succeeds");
        assert_eq!(
            error.error.message,
            "503 Service Unavailable (gave up after 4 attempts)"
        );
        assert!(error.error.is_transient());
        assert_eq!(*inner.sends.lock().expect("lock"), 4);
    }

    #[test]
    fn retry_after_is_waited_instead_of_the_backoff() {
        let inner = flaky(1, true, Some(Duration::from_millis(300)));
        let started = Instant::now();
        Retrying::new(inner, FAST).send(&batch()).expect("second");
        assert!(started.elapsed() >= Duration::from_millis(300));
    }

    #[test]
    fn backoff_doubles_within_its_cap_with_jitter_in_the_upper_half() {
        let policy = RetryPolicy {
            attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
        };
        for (n, full) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1000), (9, 1000)] {
            let wait = policy.backoff(n);
            let full = Duration::from_millis(full);
            assert!(wait >= full / 2 && wait <= full, "{n}: {wait:?}");
        }
    }
}
