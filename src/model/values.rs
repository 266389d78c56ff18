//! Value types shared by many task types, each with the diagnostics a user needs when it is
//! written wrong.

use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Deserialize, Deserializer, Visitor};

/// A file mode, written as an octal string ("0644"). An integer is refused: YAML reads `0644`
/// as the decimal number 644, a classic way to get mode 01204.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mode(pub u32);

impl JsonSchema for Mode {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Mode".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^(0o)?[0-7]{3,4}$",
            "description": "Octal permission bits as a quoted string, e.g. \"0644\"."
        })
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04o}", self.0)
    }
}

impl serde::Serialize for Mode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Mode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ModeVisitor;

        impl Visitor<'_> for ModeVisitor {
            type Value = Mode;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an octal mode as a string, e.g. \"0644\"")
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<Mode, E> {
                let digits = s.strip_prefix("0o").unwrap_or(s);
                let valid = (3..=4).contains(&digits.len())
                    && digits.bytes().all(|b| (b'0'..=b'7').contains(&b));
                match u32::from_str_radix(digits, 8) {
                    Ok(bits) if valid => Ok(Mode(bits)),
                    _ => Err(E::custom(format!(
                        "invalid mode `{s}`{HELP}write the permission bits as 3 or 4 octal \
                         digits, e.g. \"0644\" or \"0755\""
                    ))),
                }
            }

            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Mode, E> {
                Err(E::custom(format!(
                    "mode must be a quoted string, found the integer {n}{HELP}quote octal modes: \
                     mode: \"{}\" (a bare number is not read as octal permission bits)",
                    meant_mode(n)
                )))
            }

            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Mode, E> {
                self.visit_i64(n as i64)
            }
        }

        deserializer.deserialize_any(ModeVisitor)
    }
}

/// The quoted mode an integer most likely meant: its digits when they are octal digits (`644`,
/// or YAML's `0644` read as 644), else its value in octal (`0o755` read as 493).
fn meant_mode(n: i64) -> String {
    let digits = n.to_string();
    if (1..=4).contains(&digits.len()) && digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        format!("{n:04}")
    } else if (0..=0o7777).contains(&n) {
        format!("{n:04o}")
    } else {
        "0644".to_owned()
    }
}

/// Separates a message from its help line in serde's one-string errors.
pub const HELP: &str = "\u{1}help:";

/// What a user or group name may be, for help lines.
pub const ACCOUNT_NAME_RULE: &str = "names use letters, digits, `.`, `_` and `-` (a trailing `$` for machine accounts), at most \
     32 characters, not starting with `-` and not all digits";

/// Whether `s` is a user or group name `useradd` and `groupadd` accept everywhere and no
/// tool reads as something else: not empty, not an id, not an option, no separator of the
/// account files (`:`, `,`, a newline) and nothing a shell would read specially.
pub fn is_account_name(s: &str) -> bool {
    let body = s.strip_suffix('$').unwrap_or(s);
    !body.is_empty()
        && s.len() <= 32
        && !s.starts_with('-')
        && !s.bytes().all(|b| b.is_ascii_digit())
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// A user or group: a name, or a numeric id.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum Principal {
    Id(u32),
    Name(String),
}

impl JsonSchema for Principal {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Principal".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": ["string", "integer"],
            "description": "A name, or a numeric id."
        })
    }
}

impl<'de> Deserialize<'de> for Principal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PrincipalVisitor;

        impl Visitor<'_> for PrincipalVisitor {
            type Value = Principal;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a name or a numeric id")
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<Principal, E> {
                if let Ok(id) = s.parse() {
                    return Ok(Principal::Id(id));
                }
                if is_account_name(s) {
                    Ok(Principal::Name(s.to_owned()))
                } else {
                    Err(E::custom(format!(
                        "invalid user or group name `{s}`{HELP}{ACCOUNT_NAME_RULE}"
                    )))
                }
            }

            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Principal, E> {
                u32::try_from(n).map(Principal::Id).map_err(|_| {
                    E::custom(format!(
                        "invalid id {n}{HELP}ids are between 0 and 4294967295"
                    ))
                })
            }

            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Principal, E> {
                self.visit_i64(n as i64)
            }
        }

        deserializer.deserialize_any(PrincipalVisitor)
    }
}

/// A time span: "30s", "5m", "1h30m", "500ms", "1d".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duration(pub std::time::Duration);

impl JsonSchema for Duration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^([0-9]+(ms|s|m|h|d))+$",
            "description": "A duration with units, e.g. \"30s\", \"5m\", \"1h30m\"."
        })
    }
}

impl serde::Serialize for Duration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The form [`Duration::parse`] reads, largest units first: "1h30m", "30s", "1s500ms".
impl std::fmt::Display for Duration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut millis = self.0.as_millis();
        if millis == 0 {
            return f.write_str("0s");
        }
        for (unit, size) in [
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1_000),
            ("ms", 1),
        ] {
            if millis >= size {
                write!(f, "{}{unit}", millis / size)?;
                millis %= size;
            }
        }
        Ok(())
    }
}

impl Duration {
    pub fn parse(s: &str) -> Option<Duration> {
        let mut total = std::time::Duration::ZERO;
        let mut rest = s;
        if rest.is_empty() {
            return None;
        }
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let number: u64 = rest[..digits].parse().ok()?;
            rest = &rest[digits..];
            let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            let millis = match &rest[..unit_len] {
                "ms" => 1,
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => return None,
            };
            rest = &rest[unit_len..];
            total += std::time::Duration::from_millis(number.checked_mul(millis)?);
        }
        Some(Duration(total))
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;

        impl Visitor<'_> for DurationVisitor {
            type Value = Duration;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"30s\"")
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<Duration, E> {
                Duration::parse(s).ok_or_else(|| {
                    E::custom(format!(
                        "invalid duration `{s}`{HELP}write a number with a unit (ms, s, m, h, d), \
                         e.g. \"30s\" or \"1h30m\""
                    ))
                })
            }

            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Duration, E> {
                Err(E::custom(format!(
                    "a duration needs a unit, found the number {n}{HELP}write \"{n}s\" for \
                     seconds"
                )))
            }

            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Duration, E> {
                self.visit_i64(n as i64)
            }
        }

        deserializer.deserialize_any(DurationVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_sum_their_parts() {
        assert_eq!(Duration::parse("1h30m").map(|d| d.0.as_secs()), Some(5400));
        assert_eq!(Duration::parse("500ms").map(|d| d.0.as_millis()), Some(500));
        assert_eq!(Duration::parse("30"), None);
        assert_eq!(Duration::parse("s"), None);
        assert_eq!(Duration::parse("3w"), None);
    }

    #[test]
    fn durations_print_as_they_parse() {
        for text in ["30s", "1h30m", "1s500ms", "2d", "0s"] {
            assert_eq!(
                Duration::parse(text).map(|d| d.to_string()).as_deref(),
                Some(text)
            );
        }
        assert_eq!(
            Duration::parse("90s").map(|d| d.to_string()).as_deref(),
            Some("1m30s")
        );
    }
}
