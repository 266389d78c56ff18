//! Basic auth against the web config's bcrypt hashes, as exporter-toolkit checks it: an
//! unknown user is checked against a fixed hash, so a wrong password and an unknown user take
//! the same time and get the same answer; bcrypt compares in constant time; results are
//! cached (by a SHA-256 of user, hash and password, never the password itself), so a scrape
//! every few seconds does not pay bcrypt's cost each time.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use base64::Engine;
use sha2::{Digest, Sha256};

/// exporter-toolkit's stand-in for unknown users: a bcrypt hash of "fakepassword" (cost 10,
/// as users' hashes usually are).
const UNKNOWN_USER_HASH: &str = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

/// Results kept at most; then the cache starts over (as exporter-toolkit's, a small bound:
/// a client trying many passwords only ever fills it).
const CACHE_SIZE: usize = 100;

pub struct BasicAuth {
    users: BTreeMap<String, String>,
    cache: Mutex<HashMap<[u8; 32], bool>>,
}

impl BasicAuth {
    /// `users`: user name to bcrypt hash (checked when the web config was read).
    pub fn new(users: BTreeMap<String, String>) -> BasicAuth {
        BasicAuth {
            users,
            cache: Mutex::new(HashMap::new()),
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
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .copied();
        let ok = match cached {
            Some(ok) => ok,
            None => {
                let ok = known && bcrypt::verify(&password, hash).unwrap_or(false);
                let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
                if cache.len() >= CACHE_SIZE {
                    cache.clear();
                }
                cache.insert(key, ok);
                ok
            }
        };
        ok && known
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
        let auth = BasicAuth::new(BTreeMap::from([("alice".to_owned(), hash)]));
        assert!(auth.allows(Some(&header("alice", "secret"))));
        // Twice: the cached answer is the same.
        assert!(auth.allows(Some(&header("alice", "secret"))));
        assert!(!auth.allows(Some(&header("alice", "wrong"))));
        assert!(!auth.allows(Some(&header("bob", "fakepassword"))));
        assert!(!auth.allows(Some("Bearer x")));
        assert!(!auth.allows(None));
    }
}
