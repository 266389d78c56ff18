//! Ordering of package versions, as dpkg orders them (`[epoch:]upstream[-revision]`, `~`
//! before anything, digits compared as numbers): enough to tell an upgrade from a downgrade
//! in `show` and to keep `latest` from downgrading a newer version installed by hand. RPM's
//! `[epoch:]version-release` orders the same way for the versions managers print.

use std::cmp::Ordering;

pub fn compare(a: &str, b: &str) -> Ordering {
    let (epoch_a, rest_a) = epoch(a);
    let (epoch_b, rest_b) = epoch(b);
    epoch_a.cmp(&epoch_b).then_with(|| {
        let (upstream_a, revision_a) = rest_a.rsplit_once('-').unwrap_or((rest_a, ""));
        let (upstream_b, revision_b) = rest_b.rsplit_once('-').unwrap_or((rest_b, ""));
        segments(upstream_a, upstream_b).then_with(|| segments(revision_a, revision_b))
    })
}

fn epoch(version: &str) -> (u64, &str) {
    match version.split_once(':') {
        Some((epoch, rest)) if epoch.bytes().all(|b| b.is_ascii_digit()) => {
            (epoch.parse().unwrap_or(u64::MAX), rest)
        }
        _ => (0, version),
    }
}

/// dpkg's weight of a non-digit character: `~` lowest, then the end, letters, the rest.
fn weight(c: Option<u8>) -> i32 {
    match c {
        Some(b'~') => -1,
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

fn segments(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    while !a.is_empty() || !b.is_empty() {
        // The non-digit parts, character by character.
        while a.first().is_some_and(|c| !c.is_ascii_digit())
            || b.first().is_some_and(|c| !c.is_ascii_digit())
        {
            let (wa, wb) = (weight(a.first().copied()), weight(b.first().copied()));
            if wa != wb {
                return wa.cmp(&wb);
            }
            a = &a[1.min(a.len())..];
            b = &b[1.min(b.len())..];
        }
        // The digit parts, as numbers.
        let digits = |s: &[u8]| s.iter().take_while(|c| c.is_ascii_digit()).count();
        let (da, db) = (digits(a), digits(b));
        let number = |s: &[u8]| {
            let trimmed: Vec<u8> = s.iter().copied().skip_while(|&c| c == b'0').collect();
            trimmed
        };
        let (na, nb) = (number(&a[..da]), number(&b[..db]));
        let order = na.len().cmp(&nb.len()).then_with(|| na.cmp(&nb));
        if order != Ordering::Equal {
            return order;
        }
        a = &a[da..];
        b = &b[db..];
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::compare;
    use std::cmp::Ordering::{Equal, Greater, Less};

    #[test]
    fn versions_order_as_dpkg_orders_them() {
        for (a, b, order) in [
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("1.10", "1.9", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1:0.1", "2.0", Greater),
            ("5.2.15-2+b8", "5.2.15-2+b13", Less),
            ("1.22.1-9+deb12u1", "1.22.1-9", Greater),
            ("1.0a", "1.0", Greater),
            ("1.24.0-r7", "1.24.0-r10", Less),
        ] {
            assert_eq!(compare(a, b), order, "{a} vs {b}");
        }
    }
}
