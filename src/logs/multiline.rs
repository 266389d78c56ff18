//! Multiline aggregation, as Vector's `multiline`: consecutive lines of one file joined into
//! one record (a Java stack trace, a line continued with `\`), bounded in size, passed on
//! when the record ends or when no line came for `timeout`.

use std::time::{Duration, Instant};

use regex::Regex;

use crate::model::logs::{Multiline, MultilineMode};

/// The default `timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

/// A record ready to be passed on: its text and the file offset just past its last line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub text: String,
    pub end: u64,
    /// Lines were left out of it to keep it within the size limit.
    pub cut: bool,
}

/// The compiled rules, shared by the files of a source.
#[derive(Debug, Clone)]
pub struct MultilineRules {
    start: Regex,
    condition: Regex,
    mode: MultilineMode,
    pub timeout: Duration,
}

impl MultilineRules {
    pub fn new(config: &Multiline) -> Result<MultilineRules, String> {
        let compile = |field: &str, pattern: &str| {
            Regex::new(pattern).map_err(|e| format!("`multiline.{field}`: {e}"))
        };
        Ok(MultilineRules {
            start: compile("start_pattern", &config.start_pattern.value)?,
            condition: compile("condition_pattern", &config.condition_pattern.value)?,
            mode: config.mode,
            timeout: config
                .timeout
                .as_ref()
                .map_or(DEFAULT_TIMEOUT, |t| t.value.0),
        })
    }
}

/// The record being gathered in one file.
#[derive(Debug, Default)]
pub struct Aggregator {
    held: Option<Held>,
}

#[derive(Debug)]
struct Held {
    text: String,
    end: u64,
    cut: bool,
    last_line: Instant,
}

impl Aggregator {
    /// Takes one line (ending at file offset `end`); returns the records it completes, in
    /// order (none, one, or the held record and then this line on its own).
    pub fn push(
        &mut self,
        rules: &MultilineRules,
        line: String,
        end: u64,
        now: Instant,
        max_bytes: usize,
    ) -> Vec<Record> {
        let Some(mut held) = self.held.take() else {
            return self.begin(rules, line, end, now).into_iter().collect();
        };
        let matched = rules.condition.is_match(&line);
        let (join, ends_record) = match rules.mode {
            MultilineMode::ContinueThrough => (matched, !matched),
            MultilineMode::ContinuePast => (true, !matched),
            MultilineMode::HaltBefore => (!matched, matched),
            MultilineMode::HaltWith => (true, matched),
        };
        if !join {
            // The held record ends before this line, which is handled as a first line.
            let mut out = vec![held.record()];
            out.extend(self.begin(rules, line, end, now));
            return out;
        }
        held.append(&line, max_bytes);
        held.end = end;
        held.last_line = now;
        if ends_record {
            vec![held.record()]
        } else {
            self.held = Some(held);
            Vec::new()
        }
    }

    /// A line with no record held: it begins one, or passes on alone.
    fn begin(
        &mut self,
        rules: &MultilineRules,
        line: String,
        end: u64,
        now: Instant,
    ) -> Option<Record> {
        if rules.start.is_match(&line) {
            self.held = Some(Held {
                text: line,
                end,
                cut: false,
                last_line: now,
            });
            None
        } else {
            Some(Record {
                text: line,
                end,
                cut: false,
            })
        }
    }

    /// The held record, if no line came for the timeout (or `force`).
    pub fn flush(&mut self, rules: &MultilineRules, now: Instant, force: bool) -> Option<Record> {
        let due = self
            .held
            .as_ref()
            .is_some_and(|h| force || now.duration_since(h.last_line) >= rules.timeout);
        if due {
            self.held.take().map(|h| h.record())
        } else {
            None
        }
    }

    /// When the held record is due, if one is held.
    pub fn deadline(&self, rules: &MultilineRules) -> Option<Instant> {
        self.held.as_ref().map(|h| h.last_line + rules.timeout)
    }

    pub fn is_holding(&self) -> bool {
        self.held.is_some()
    }
}

impl Held {
    fn append(&mut self, line: &str, max_bytes: usize) {
        if self.cut {
            return;
        }
        let room = max_bytes.saturating_sub(self.text.len());
        if line.len() < room {
            self.text.push('\n');
            self.text.push_str(line);
        } else {
            self.cut = true;
            if room > 0 {
                self.text.push('\n');
                let mut take = room - 1;
                while !line.is_char_boundary(take) {
                    take -= 1;
                }
                self.text.push_str(&line[..take]);
            }
        }
    }

    fn record(self) -> Record {
        Record {
            text: self.text,
            end: self.end,
            cut: self.cut,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Spanned;

    fn rules(start: &str, condition: &str, mode: MultilineMode) -> MultilineRules {
        MultilineRules::new(&Multiline {
            start_pattern: Spanned::unplaced(start.to_owned()),
            condition_pattern: Spanned::unplaced(condition.to_owned()),
            mode,
            timeout: None,
        })
        .expect("rules")
    }

    fn feed(rules: &MultilineRules, lines: &[&str]) -> (Vec<String>, Aggregator) {
        let mut agg = Aggregator::default();
        let now = Instant::now();
        let mut out = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            for r in agg.push(rules, (*line).to_owned(), i as u64, now, 1 << 20) {
                out.push(r.text);
            }
        }
        (out, agg)
    }

    #[test]
    fn continue_through_joins_indented_lines() {
        let r = rules(r"^\S", r"^\s", MultilineMode::ContinueThrough);
        let (out, mut agg) = feed(&r, &["a", "  b", "  c", "d", "e", "  f"]);
        assert_eq!(out, ["a\n  b\n  c", "d"]);
        let last = agg.flush(&r, Instant::now(), true).expect("held");
        assert_eq!((last.text.as_str(), last.end), ("e\n  f", 5));
    }

    #[test]
    fn continue_past_takes_one_more_line() {
        let r = rules(r"\\$", r"\\$", MultilineMode::ContinuePast);
        let (out, _) = feed(&r, &["x", r"a \", r"b \", "c", "y"]);
        assert_eq!(out, ["x", "a \\\nb \\\nc", "y"]);
    }

    #[test]
    fn halt_before_starts_a_record_at_each_match() {
        let r = rules(r"^BEGIN", r"^BEGIN", MultilineMode::HaltBefore);
        let (out, agg) = feed(&r, &["BEGIN 1", "x", "BEGIN 2", "y"]);
        assert_eq!(out, ["BEGIN 1\nx"]);
        assert!(agg.is_holding());
    }

    #[test]
    fn halt_with_ends_at_the_match() {
        let r = rules(r"^SELECT", r";$", MultilineMode::HaltWith);
        let (out, _) = feed(&r, &["SELECT a", "FROM t;", "other"]);
        assert_eq!(out, ["SELECT a\nFROM t;", "other"]);
    }

    #[test]
    fn records_stay_within_the_limit_and_time_out() {
        let r = rules(r"^\S", r"^\s", MultilineMode::ContinueThrough);
        let mut agg = Aggregator::default();
        let t0 = Instant::now();
        assert!(agg.push(&r, "head".into(), 4, t0, 8).is_empty());
        assert!(agg.push(&r, " continued".into(), 15, t0, 8).is_empty());
        assert!(agg.flush(&r, t0, false).is_none());
        let record = agg.flush(&r, t0 + DEFAULT_TIMEOUT, false).expect("due");
        assert!(record.cut);
        assert_eq!(record.text, "head\n co");
        assert_eq!(record.end, 15);
    }
}
