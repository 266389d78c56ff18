//! Times in log lines: strftime-style formats (jiff's `strptime`), RFC 3339, Unix seconds and
//! milliseconds, and the year- and offset-less times syslog writes. Every time becomes RFC 3339
//! UTC in the record's `timestamp` field.

use jiff::civil::DateTime;
use jiff::fmt::strtime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::check::log_processing::check_strftime;

/// The zone a time written without an offset is in, and the clock a time written without a
/// year is placed by. Production reads the host's zone and clock; tests fix both, so a sample
/// parses the same on any day in any zone.
#[derive(Debug, Clone)]
pub struct TimeContext {
    zone: TimeZone,
    now: Option<Timestamp>,
}

impl TimeContext {
    /// The host's zone (`TZ`, `/etc/localtime`) and clock.
    pub fn system() -> TimeContext {
        TimeContext {
            zone: TimeZone::system(),
            now: None,
        }
    }

    /// A fixed zone and a fixed "now".
    pub fn fixed(zone: TimeZone, now: Timestamp) -> TimeContext {
        TimeContext {
            zone,
            now: Some(now),
        }
    }

    fn now(&self) -> Timestamp {
        self.now.unwrap_or_else(Timestamp::now)
    }

    /// A civil time read without an offset, in this context's zone (the earlier of two
    /// readings in a fall-back hour, as `date` does).
    pub fn local(&self, time: DateTime) -> Result<Timestamp, String> {
        self.zone
            .to_ambiguous_timestamp(time)
            .compatible()
            .map_err(|e| format!("time `{time}`: {e}"))
    }

    /// A month, day and time without a year (RFC 3164, `%b %e %H:%M:%S`): this year, or the
    /// last when that would be more than a day ahead of the clock (December's lines read in
    /// January).
    pub fn without_year(
        &self,
        read: impl Fn(i16) -> Result<Timestamp, String>,
    ) -> Result<Timestamp, String> {
        let now = self.now();
        let year = self.zone.to_datetime(now).year();
        let time = read(year)?;
        if time.duration_since(now) > SignedDuration::from_hours(24) {
            read(year - 1)
        } else {
            Ok(time)
        }
    }
}

/// How a `timestamp: { format }` reads a time.
#[derive(Debug, Clone, PartialEq)]
pub enum TimeFormat {
    /// RFC 3339 / ISO 8601 (`2026-12-06T20:51:20.123456+01:00`; without an offset, local).
    Rfc3339,
    /// Seconds since the epoch, fractions allowed.
    Unix,
    /// Milliseconds since the epoch.
    UnixMs,
    /// A strftime-style format, checked when made.
    Strftime(String),
}

impl TimeFormat {
    pub fn new(spec: &str) -> Result<TimeFormat, String> {
        match spec {
            "rfc3339" | "iso8601" => Ok(TimeFormat::Rfc3339),
            "unix" => Ok(TimeFormat::Unix),
            "unix_ms" => Ok(TimeFormat::UnixMs),
            _ => {
                check_strftime(spec)?;
                Ok(TimeFormat::Strftime(spec.to_owned()))
            }
        }
    }

    pub fn parse(&self, text: &str, cx: &TimeContext) -> Result<Timestamp, String> {
        let text = text.trim();
        match self {
            TimeFormat::Rfc3339 => parse_rfc3339(text, cx),
            TimeFormat::Unix => {
                let seconds: f64 = text
                    .parse()
                    .map_err(|_| format!("`{text}` is not a number of seconds"))?;
                SignedDuration::try_from_secs_f64(seconds)
                    .ok()
                    .and_then(|d| Timestamp::from_duration(d).ok())
                    .ok_or_else(|| format!("`{text}` seconds is out of range"))
            }
            TimeFormat::UnixMs => {
                let millis: i64 = text
                    .parse()
                    .map_err(|_| format!("`{text}` is not a whole number of milliseconds"))?;
                Timestamp::from_millisecond(millis)
                    .map_err(|_| format!("`{text}` milliseconds is out of range"))
            }
            TimeFormat::Strftime(format) => parse_strftime(format, text, cx),
        }
    }
}

/// RFC 3339 UTC, as every record's `timestamp` is written (`2026-12-06T20:51:20.123456Z`).
pub fn rfc3339_utc(time: Timestamp) -> String {
    time.to_string()
}

/// An RFC 3339 time; one without an offset (`2026-12-06T20:51:20`) is local.
pub fn parse_rfc3339(text: &str, cx: &TimeContext) -> Result<Timestamp, String> {
    if let Ok(time) = text.parse::<Timestamp>() {
        return Ok(time);
    }
    match text.parse::<DateTime>() {
        Ok(civil) => cx.local(civil),
        Err(_) => Err(format!("`{text}` is not an RFC 3339 time")),
    }
}

fn parse_strftime(format: &str, text: &str, cx: &TimeContext) -> Result<Timestamp, String> {
    let fail = |e: jiff::Error| format!("`{text}` does not match `{format}`: {e}");
    let read = strtime::parse(format, text).map_err(fail)?;
    if let Some(time) = read.timestamp() {
        return Ok(time);
    }
    let resolve = |read: &strtime::BrokenDownTime| -> Result<Timestamp, String> {
        let civil = read.to_datetime().map_err(fail)?;
        match read.offset() {
            Some(offset) => offset.to_timestamp(civil).map_err(fail),
            None => cx.local(civil),
        }
    };
    if read.year().is_some() {
        return resolve(&read);
    }
    cx.without_year(|year| {
        // Parsed again: a `BrokenDownTime` is not `Clone`, and this is the rare path.
        let mut with_year = strtime::parse(format, text).map_err(fail)?;
        with_year.set_year(Some(year)).map_err(fail)?;
        resolve(&with_year)
    })
}

/// `Jan` … `Dec` (as syslog and access logs write them) → 1 … 12.
pub fn month_number(name: &[u8]) -> Option<i8> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(name))
        .map(|i| i as i8 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn utc_at(now: &str) -> TimeContext {
        TimeContext::fixed(TimeZone::UTC, now.parse().unwrap())
    }

    fn parsed(format: &str, text: &str, cx: &TimeContext) -> String {
        rfc3339_utc(TimeFormat::new(format).unwrap().parse(text, cx).unwrap())
    }

    #[test]
    fn strftime_with_an_offset_becomes_utc() {
        let cx = utc_at("2026-12-06T00:00:00Z");
        assert_eq!(
            parsed("%d/%b/%Y:%H:%M:%S %z", "10/Oct/2000:13:55:36 -0700", &cx),
            "2000-10-10T20:55:36Z"
        );
        assert_eq!(
            parsed("%Y-%m-%d %H:%M:%S%.f", "2026-01-02 03:04:05.250", &cx),
            "2026-01-02T03:04:05.25Z"
        );
    }

    #[test]
    fn a_time_without_an_offset_is_in_the_context_zone() {
        let paris = TimeZone::get("Europe/Paris").unwrap();
        let cx = TimeContext::fixed(paris, "2026-12-06T00:00:00Z".parse().unwrap());
        assert_eq!(
            parsed("%Y-%m-%d %H:%M:%S", "2026-07-01 12:00:00", &cx),
            "2026-07-01T10:00:00Z"
        );
        assert_eq!(
            parsed("rfc3339", "2026-01-01T12:00:00", &cx),
            "2026-01-01T11:00:00Z"
        );
    }

    #[test]
    fn a_time_without_a_year_is_placed_before_now() {
        let january = utc_at("2027-01-02T00:00:00Z");
        assert_eq!(
            parsed("%b %e %H:%M:%S", "Dec 31 23:59:59", &january),
            "2026-12-31T23:59:59Z"
        );
        assert_eq!(
            parsed("%b %e %H:%M:%S", "Jan  1 10:00:00", &january),
            "2027-01-01T10:00:00Z"
        );
    }

    #[test]
    fn unix_seconds_and_milliseconds() {
        let cx = utc_at("2026-12-06T00:00:00Z");
        assert_eq!(
            parsed("unix", "1700000000.5", &cx),
            "2023-11-14T22:13:20.5Z"
        );
        assert_eq!(
            parsed("unix_ms", "1700000000500", &cx),
            "2023-11-14T22:13:20.5Z"
        );
        assert!(TimeFormat::Unix.parse("soon", &cx).is_err());
    }

    #[test]
    fn rfc3339_keeps_fractions_and_offsets() {
        let cx = utc_at("2026-12-06T00:00:00Z");
        assert_eq!(
            parsed("rfc3339", "2026-12-06T20:51:20.123456+01:00", &cx),
            "2026-12-06T19:51:20.123456Z"
        );
    }

    #[test]
    fn bad_formats_are_refused_when_made() {
        for bad in ["%Y-%m-%d %J", "%", "plain text", "%c", "%.3Y", "%:H"] {
            assert!(TimeFormat::new(bad).is_err(), "{bad} was accepted");
        }
        for good in [
            "%Y-%m-%dT%H:%M:%S%.f%:z",
            "%-d/%b/%Y",
            "%s",
            "%F %T %::z",
            "%.3f %%",
        ] {
            assert!(TimeFormat::new(good).is_ok(), "{good} was refused");
        }
    }

    #[test]
    fn a_line_that_does_not_match_the_format_says_so() {
        let cx = utc_at("2026-12-06T00:00:00Z");
        let e = TimeFormat::new("%Y-%m-%d")
            .unwrap()
            .parse("yesterday", &cx)
            .unwrap_err();
        assert!(e.contains("does not match"), "{e}");
    }
}
