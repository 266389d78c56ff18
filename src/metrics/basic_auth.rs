//! Basic auth against the web config's bcrypt hashes, as exporter-toolkit checks it: an
//! unknown user is checked against a fixed hash, so a wrong password and an unknown user take
//! the same time and get the same answer; bcrypt compares in constant time.
//!
//! Two differences, both against clients that send many wrong passwords: only successes are
//! cached (by a SHA-256 of user, hash and password, never the password itself: one entry per
//! user, so a scrape every few seconds pays bcrypt's cost once, and wrong passwords cannot
//! push it out), and at most `slots` bcrypt checks run at once — past that, a check that
//! would have to run bcrypt is refused at once, so workers never queue behind bcrypt and a
//! scrape with cached credentials is always answered.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine;
use sha2::{Digest, Sha256};

/// exporter-toolkit's stand-in for unknown users: a bcrypt hash of "fakepassword" (cost 10,
/// as users' hashes usually are).
const UNKNOWN_USER_HASH: &str = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

/// Successes kept at most (one per user is what a real setup makes); then the cache starts
/// over.
const CACHE_SIZE: usize = 1000;

pub struct BasicAuth {
    users: BTreeMap<String, String>,
    /// Digests of (user, hash, password) that were checked and are right.
    allowed: Mutex<HashSet<[u8; 32]>>,
    /// bcrypt checks that may run at once.
    slots: usize,
    running: AtomicUsize,
}

impl BasicAuth {
    /// `users`: user name to bcrypt hash (checked when the web config was read); `slots`:
    /// bcrypt checks at once (fewer than the workers, so one is always free).
    pub fn new(users: BTreeMap<String, String>, slots: usize) -> BasicAuth {
        BasicAuth {
            users,
            allowed: Mutex::new(HashSet::new()),
            slots: slots.max(1),
            running: AtomicUsize::new(0),
        }
    }

    /// Whether an `Authorization` header value names a user and their password.
    pub fn allows(&self, authorization: Option<&str>) -> bool {
        let Some((user, password)) = authorization.and_then(decode_basic) else {
            return false;
        };
        let (hash, known) = match self.users.get(&user) {
            Some(hash) => (hash.as_str(), true),
            None => (UNKNOWN_USER_HASH, false),
        };
        let key = cache_key(&user, hash, &password);
        if self
            .allowed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&key)
        {
            return known;
        }
        if self.running.fetch_add(1, Ordering::SeqCst) >= self.slots {
            self.running.fetch_sub(1, Ordering::SeqCst);
            return false;
        }
        let ok = bcrypt::verify(&password, hash).unwrap_or(false);
        self.running.fetch_sub(1, Ordering::SeqCst);
        let ok = ok && known;
        if ok {
            let mut allowed = self.allowed.lock().unwrap_or_else(|p| p.into_inner());
            if allowed.len() >= CACHE_SIZE {
                allowed.clear();
            }
            allowed.insert(key);
        }
        ok
    }
}

/// `Basic base64(user:password)`, as Go's `Request.BasicAuth` reads it.
fn decode_basic(header: &str) -> Option<(String, Vec<u8>)> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let colon = decoded.iter().position(|b| *b == b':')?;
    let user = String::from_utf8(decoded[..colon].to_vec()).ok()?;
    Some((user, decoded[colon + 1..].to_vec()))
}

fn cache_key(user: &str, hash: &str, password: &[u8]) -> [u8; 32] {
    let mut digest = Sha256::new();
    for part in [user.as_bytes(), hash.as_bytes(), password] {
        digest.update((part.len() as u64).to_le_bytes());
        digest.update(part);
    }
    digest.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user: &str, password: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    }

    #[test]
    fn only_the_right_password_of_a_known_user_passes() {
        let hash = bcrypt::hash_with_salt("secret", 4, [7u8; 16])
            .map(|h| h.format_for_version(bcrypt::Version::TwoY))
            .unwrap_or_default();
        let auth = BasicAuth::new(BTreeMap::from([("alice".to_owned(), hash)]), 1);
        assert!(auth.allows(Some(&header("alice", "secret"))));
        // Twice: the cached answer is the same.
        assert!(auth.allows(Some(&header("alice", "secret"))));
        assert!(!auth.allows(Some(&header("alice", "wrong"))));
        assert!(!auth.allows(Some(&header("bob", "fakepassword"))));
        assert!(!auth.allows(Some("Bearer x")));
        assert!(!auth.allows(None));
    }

    #[test]
    fn with_every_bcrypt_slot_busy_cached_credentials_still_pass_and_others_are_refused() {
        let hash = bcrypt::hash_with_salt("secret", 4, [7u8; 16])
            .map(|h| h.format_for_version(bcrypt::Version::TwoY))
            .unwrap_or_default();
        let auth = BasicAuth::new(BTreeMap::from([("alice".to_owned(), hash)]), 1);
        assert!(auth.allows(Some(&header("alice", "secret"))));
        // As if another worker were running bcrypt now.
        auth.running.store(1, Ordering::SeqCst);
        assert!(auth.allows(Some(&header("alice", "secret"))));
        assert!(!auth.allows(Some(&header("alice", "wrong"))));
        auth.running.store(0, Ordering::SeqCst);
        // Wrong passwords were not cached: the right one is still the only one that passes.
        assert!(!auth.allows(Some(&header("alice", "wrong"))));
        assert!(auth.allows(Some(&header("alice", "secret"))));
    }
}
