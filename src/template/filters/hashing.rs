//! `hash`/`checksum` (hex digests) and `password_hash` (SHA-crypt, as Ansible's passlib path
//! writes it).

use md5::Md5;
use minijinja::value::Kwargs;
use minijinja::{Error, State};
use sha_crypt::Params;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use super::invalid;

/// `value | hash('sha1')`: the hex digest of the text's UTF-8 bytes (`sha1`, `md5`, `sha256`,
/// `sha512`).
pub fn hash(value: &str, algorithm: Option<&str>) -> Result<String, Error> {
    let bytes = value.as_bytes();
    Ok(match algorithm.unwrap_or("sha1") {
        "sha1" => hex(&Sha1::digest(bytes)),
        "md5" => hex(&Md5::digest(bytes)),
        "sha224" => hex(&sha2::Sha224::digest(bytes)),
        "sha256" => hex(&Sha256::digest(bytes)),
        "sha384" => hex(&sha2::Sha384::digest(bytes)),
        "sha512" => hex(&Sha512::digest(bytes)),
        other => {
            return Err(invalid(format!(
                "hash: unknown algorithm `{other}`; use sha1, md5, sha224, sha256, sha384 or sha512"
            )));
        }
    })
}

/// Ansible's `checksum`: the SHA-1 of the text.
pub fn checksum(value: &str) -> String {
    hex(&Sha1::digest(value.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The rounds passlib (and so Ansible) uses for sha512_crypt when none are given. Ansible
/// writes them into the hash (`$6$rounds=656000$…`).
const PASSLIB_DEFAULT_ROUNDS: u32 = 656_000;

/// SHA-crypt's own default: a hash made with it does not name its rounds.
const IMPLICIT_ROUNDS: u32 = 5_000;

/// SHA-crypt rounds one unit of template fuel pays for: a default hash (656000 rounds) costs
/// about 3% of a render's budget, so one render can make about 30.
const ROUNDS_PER_FUEL: u64 = 20;

/// The alphabet of crypt's base64.
const CRYPT64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `password | password_hash('sha512', salt, rounds=656000)`. Without a salt, one is derived
/// from the password (16 characters of its SHA-256 in crypt's alphabet): Ansible draws a
/// random salt, which would make every plan differ and every apply change the password. Give
/// a salt (e.g. one per host) where equal passwords must not give equal hashes.
pub fn password_hash(
    state: &State,
    password: &str,
    scheme: Option<&str>,
    salt: Option<&str>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let rounds = kwargs.get::<Option<u32>>("rounds")?;
    kwargs.assert_all_used()?;
    match scheme.unwrap_or("sha512") {
        "sha512" | "sha512_crypt" => {}
        other => {
            return Err(invalid(format!(
                "password_hash: `{other}` is not supported; use sha512 (SHA-crypt, `$6$`)"
            )));
        }
    }
    let salt = match salt {
        Some(salt) => {
            if salt.is_empty() || salt.len() > 16 || !salt.bytes().all(|b| CRYPT64.contains(&b)) {
                return Err(invalid(
                    "password_hash: a salt is 1 to 16 characters of [./0-9A-Za-z]",
                ));
            }
            salt.to_owned()
        }
        None => derived_salt(password),
    };
    let rounds = rounds.unwrap_or(PASSLIB_DEFAULT_ROUNDS);
    // Hundreds of thousands of SHA-512 rounds are real work: paid from the render's fuel, so
    // a template hashing in a loop stops at the budget instead of running for minutes.
    state.consume_fuel(u64::from(rounds) / ROUNDS_PER_FUEL)?;
    let params = Params::new(rounds).map_err(|_| {
        invalid(format!(
            "password_hash: rounds must be between {} and {}",
            Params::ROUNDS_MIN,
            Params::ROUNDS_MAX
        ))
    })?;
    let digest = sha_crypt::sha512_crypt(password.as_bytes(), salt.as_bytes(), params);
    let rounds_field = if rounds == IMPLICIT_ROUNDS {
        String::new()
    } else {
        format!("rounds={rounds}$")
    };
    Ok(format!(
        "$6${rounds_field}{salt}${}",
        encode_sha512_crypt(&digest)
    ))
}

fn derived_salt(password: &str) -> String {
    let digest = Sha256::digest(format!("driftless password_hash salt\0{password}").as_bytes());
    digest
        .iter()
        .take(16)
        .map(|b| CRYPT64[usize::from(b & 63)] as char)
        .collect()
}

/// SHA-512-crypt's final encoding: the 64 bytes in its fixed order, three at a time, in
/// crypt's little-endian base64.
fn encode_sha512_crypt(digest: &[u8; 64]) -> String {
    const ORDER: [(usize, usize, usize); 21] = [
        (0, 21, 42),
        (22, 43, 1),
        (44, 2, 23),
        (3, 24, 45),
        (25, 46, 4),
        (47, 5, 26),
        (6, 27, 48),
        (28, 49, 7),
        (50, 8, 29),
        (9, 30, 51),
        (31, 52, 10),
        (53, 11, 32),
        (12, 33, 54),
        (34, 55, 13),
        (56, 14, 35),
        (15, 36, 57),
        (37, 58, 16),
        (59, 17, 38),
        (18, 39, 60),
        (40, 61, 19),
        (62, 20, 41),
    ];
    let mut out = String::with_capacity(86);
    let mut push = |word: u32, chars: usize| {
        for i in 0..chars {
            out.push(CRYPT64[((word >> (6 * i)) & 63) as usize] as char);
        }
    };
    for (a, b, c) in ORDER {
        let word = u32::from(digest[a]) << 16 | u32::from(digest[b]) << 8 | u32::from(digest[c]);
        push(word, 4);
    }
    push(u32::from(digest[63]), 2);
    out
}
