//! The `redact` filter: what matches a pattern in a field is replaced by a fixed text. The
//! built-in patterns cover secrets that reach logs by accident (tokens in headers, passwords in
//! URLs, cloud keys, JWTs) and personal data (card numbers, checked with Luhn so order numbers
//! and timestamps survive; e-mail and IPv4 addresses).

use regex::Regex;
use serde_json::Value;

use super::log_event::{LogEvent, MESSAGE};
use crate::model::logs::{BuiltinRedaction, RedactFilter};

/// The group a pattern names when only part of its match is the secret
/// (`Bearer (?P<secret>\S+)` keeps `Bearer `).
pub const SECRET_GROUP: &str = "secret";

pub const DEFAULT_REPLACEMENT: &str = "[REDACTED]";

pub struct Redactor {
    field: String,
    rules: Vec<Rule>,
    replacement: String,
}

struct Rule {
    regex: Regex,
    check: Option<MatchCheck>,
}

/// A further test of a match (Luhn for card numbers).
type MatchCheck = fn(&str) -> bool;

impl Redactor {
    pub fn new(config: &RedactFilter) -> Result<Redactor, String> {
        let mut rules = Vec::new();
        for pattern in &config.patterns {
            let regex = Regex::new(&pattern.value).map_err(|e| format!("`patterns`: {e}"))?;
            rules.push(Rule { regex, check: None });
        }
        for builtin in &config.builtin {
            let (pattern, check) = builtin_pattern(*builtin);
            let regex = Regex::new(pattern).map_err(|e| format!("built-in {builtin:?}: {e}"))?;
            rules.push(Rule { regex, check });
        }
        if rules.is_empty() {
            return Err("nothing to redact: give `patterns` or `builtin`".to_owned());
        }
        Ok(Redactor {
            field: config
                .field
                .as_ref()
                .map_or_else(|| MESSAGE.to_owned(), |f| f.value.clone()),
            rules,
            replacement: config
                .replacement
                .clone()
                .unwrap_or_else(|| DEFAULT_REPLACEMENT.to_owned()),
        })
    }

    pub fn redact(&self, event: &mut LogEvent) {
        let Some(text) = event.text(&self.field) else {
            return;
        };
        let mut current: Option<String> = None;
        for rule in &self.rules {
            let input = current.as_deref().unwrap_or(&text);
            if let Some(changed) = rule.replace(input, &self.replacement) {
                current = Some(changed);
            }
        }
        if let Some(redacted) = current {
            event.set(&self.field, Value::String(redacted));
        }
    }
}

impl Rule {
    /// The text with every (checked) match replaced, or `None` when nothing matched.
    fn replace(&self, text: &str, replacement: &str) -> Option<String> {
        let mut out = String::new();
        let mut copied = 0;
        let mut changed = false;
        for captures in self.regex.captures_iter(text) {
            let Some(target) = captures.name(SECRET_GROUP).or_else(|| captures.get(0)) else {
                continue;
            };
            if self.check.is_some_and(|check| !check(target.as_str())) {
                continue;
            }
            out.push_str(&text[copied..target.start()]);
            out.push_str(replacement);
            copied = target.end();
            changed = true;
        }
        if !changed {
            return None;
        }
        out.push_str(&text[copied..]);
        Some(out)
    }
}

fn builtin_pattern(builtin: BuiltinRedaction) -> (&'static str, Option<MatchCheck>) {
    match builtin {
        BuiltinRedaction::CreditCard => (r"\b\d(?:[ -]?\d){12,18}\b", Some(luhn)),
        BuiltinRedaction::BearerToken => {
            (r"(?i)\bbearer\s+(?P<secret>[A-Za-z0-9\-._~+/]+=*)", None)
        }
        BuiltinRedaction::UrlPassword => (
            r"[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*:(?P<secret>[^@/\s]+)@",
            None,
        ),
        BuiltinRedaction::AwsAccessKeyId => (r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", None),
        BuiltinRedaction::Jwt => (
            r"\beyJ[A-Za-z0-9_\-]+\.eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*",
            None,
        ),
        BuiltinRedaction::Email => (
            r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}\b",
            None,
        ),
        BuiltinRedaction::Ipv4 => (
            r"\b(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\b",
            None,
        ),
    }
}

/// The Luhn check card numbers carry (spaces and dashes between digits ignored).
pub fn luhn(number: &str) -> bool {
    let digits: Vec<u32> = number.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| match (i % 2, d * 2) {
            (1, doubled) if doubled > 9 => doubled - 9,
            (1, doubled) => doubled,
            _ => d,
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::Spanned;

    fn redactor(patterns: &[&str], builtin: &[BuiltinRedaction]) -> Redactor {
        Redactor::new(&RedactFilter {
            field: None,
            patterns: patterns
                .iter()
                .map(|p| Spanned::unplaced((*p).to_owned()))
                .collect(),
            builtin: builtin.to_vec(),
            replacement: None,
        })
        .unwrap()
    }

    fn redacted(r: &Redactor, text: &str) -> String {
        let mut e = LogEvent::new(text.to_owned(), Arc::from("/var/log/app.log"));
        r.redact(&mut e);
        e.message
    }

    #[test]
    fn card_numbers_that_pass_luhn() {
        let r = redactor(&[], &[BuiltinRedaction::CreditCard]);
        assert_eq!(
            redacted(
                &r,
                "paid with 4111 1111 1111 1111 order 1234567890123 at 5555-5555-5555-4444"
            ),
            "paid with [REDACTED] order 1234567890123 at [REDACTED]"
        );
        assert!(luhn("4111111111111111"));
        assert!(!luhn("4111111111111112"));
        assert!(!luhn("0"));
    }

    #[test]
    fn tokens_passwords_keys() {
        let r = redactor(
            &[],
            &[
                BuiltinRedaction::BearerToken,
                BuiltinRedaction::UrlPassword,
                BuiltinRedaction::AwsAccessKeyId,
                BuiltinRedaction::Jwt,
            ],
        );
        assert_eq!(
            redacted(
                &r,
                "Authorization: Bearer abc.DEF-123= from https://bob:hunter2@db.example/x key AKIAIOSFODNN7EXAMPLE"
            ),
            "Authorization: Bearer [REDACTED] from https://bob:[REDACTED]@db.example/x key [REDACTED]"
        );
        assert_eq!(
            redacted(
                &r,
                "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig_nature end"
            ),
            "token [REDACTED] end"
        );
    }

    #[test]
    fn personal_data() {
        let r = redactor(&[], &[BuiltinRedaction::Email, BuiltinRedaction::Ipv4]);
        assert_eq!(
            redacted(
                &r,
                "login jane.doe+x@example.co.uk from 192.168.10.254 v1.2.3.4000"
            ),
            "login [REDACTED] from [REDACTED] v1.2.3.4000"
        );
    }

    #[test]
    fn own_patterns_with_and_without_a_secret_group() {
        let r = redactor(
            &[r"password=(?P<secret>\S+)", r"ssn:\d{3}-\d{2}-\d{4}"],
            &[],
        );
        assert_eq!(
            redacted(&r, "user=x password=s3cr3t ssn:123-45-6789"),
            "user=x password=[REDACTED] [REDACTED]"
        );
        assert_eq!(redacted(&r, "nothing here"), "nothing here");
    }

    #[test]
    fn a_non_string_field_is_redacted_in_its_json() {
        let r = Redactor::new(&RedactFilter {
            field: Some(Spanned::unplaced("headers".to_owned())),
            patterns: vec![],
            builtin: vec![BuiltinRedaction::BearerToken],
            replacement: Some("***".to_owned()),
        })
        .unwrap();
        let mut e = LogEvent::new(String::new(), Arc::from("f"));
        e.set(
            "headers",
            serde_json::json!({"authorization": "Bearer xyz"}),
        );
        r.redact(&mut e);
        assert_eq!(
            e.text("headers").as_deref(),
            Some(r#"{"authorization":"Bearer ***"}"#)
        );
    }
}
