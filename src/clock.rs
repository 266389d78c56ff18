//! Wall-clock timestamps as RFC 3339 UTC and strftime patterns, without a date-time
//! dependency.

use std::time::{SystemTime, UNIX_EPOCH};

/// `2026-11-26T01:02:03Z` for a time after the epoch.
pub fn rfc3339(time: SystemTime) -> String {
    let t = Utc::of(time);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// A time's calendar fields, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utc {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub millis: u32,
    /// Seconds since the epoch.
    pub epoch: i64,
}

impl Utc {
    pub fn of(time: SystemTime) -> Utc {
        let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = since.as_secs() as i64;
        let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let (year, month, day) = civil_from_days(days);
        Utc {
            year,
            month,
            day,
            hour: (rest / 3600) as u32,
            minute: (rest % 3600 / 60) as u32,
            second: (rest % 60) as u32,
            millis: since.subsec_millis(),
            epoch: secs,
        }
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The strftime fields [`strftime`] knows.
pub const STRFTIME_FIELDS: &str = "%Y %m %d %H %M %S %b %e %s %%";

/// `pattern` with its strftime fields replaced by `time`'s (UTC): `%Y` year, `%m` month,
/// `%d` day, `%H` hour, `%M` minute, `%S` second, `%b` month name (`Jan`), `%e` day padded
/// with a space, `%s` seconds since the epoch, `%%` a `%`. Any other field is an error naming
/// it, so that a typo is found when the config is checked, not when a file is named.
pub fn strftime(pattern: &str, time: SystemTime) -> Result<String, String> {
    let t = Utc::of(time);
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Y') => out.push_str(&format!("{:04}", t.year)),
            Some('m') => out.push_str(&format!("{:02}", t.month)),
            Some('d') => out.push_str(&format!("{:02}", t.day)),
            Some('H') => out.push_str(&format!("{:02}", t.hour)),
            Some('M') => out.push_str(&format!("{:02}", t.minute)),
            Some('S') => out.push_str(&format!("{:02}", t.second)),
            Some('b') => out.push_str(MONTHS[(t.month as usize).saturating_sub(1) % 12]),
            Some('e') => out.push_str(&format!("{:>2}", t.day)),
            Some('s') => out.push_str(&t.epoch.to_string()),
            Some('%') => out.push('%'),
            Some(other) => {
                return Err(format!(
                    "`%{other}` is not a time field here (the fields are {STRFTIME_FIELDS})"
                ));
            }
            None => return Err("a `%` ends the pattern: write `%%` for a `%`".to_owned()),
        }
    }
    Ok(out)
}

pub fn now() -> String {
    rfc3339(SystemTime::now())
}

/// The time `2026-11-26T01:02:03Z` names ([`rfc3339`]'s form: UTC, whole seconds).
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    u64::try_from(secs)
        .ok()
        .map(|s| UNIX_EPOCH + std::time::Duration::from_secs(s))
}

/// Howard Hinnant's algorithm: a proleptic Gregorian date to days since 1970-01-01.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Howard Hinnant's algorithm: days since 1970-01-01 to a proleptic Gregorian date.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn known_dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_654_923);
        assert_eq!(rfc3339(t), "2026-11-26T01:02:03Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn rfc3339_reads_back_what_it_writes() {
        for secs in [0, 951_782_400, 1_795_654_923, 4_102_444_800] {
            let t = UNIX_EPOCH + Duration::from_secs(secs);
            assert_eq!(parse_rfc3339(&rfc3339(t)), Some(t));
        }
        assert_eq!(parse_rfc3339("2026-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2026-11-26 01:02:03"), None);
    }

    #[test]
    fn strftime_fields_and_a_field_it_does_not_know() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_654_923);
        assert_eq!(
            strftime("%Y/%m/%d/%H%M%SZ %b %e %s 100%%", t).as_deref(),
            Ok("2026/11/26/010203Z Nov 26 1795654923 100%")
        );
        assert_eq!(
            strftime("%q", t),
            Err(format!(
                "`%q` is not a time field here (the fields are {STRFTIME_FIELDS})"
            ))
        );
        assert!(strftime("50%", t).is_err());
    }
}
