//! Filters: the steps a record passes between the parser and the outputs, in the order the
//! config lists them. Made once per pipeline ([`Filters::new`]: regexes compiled, values
//! checked); a step drops a record or changes it. Rate limiting and sampling keep state, so
//! `apply` takes `&mut self`: one `Filters` per pipeline thread.
//!
//! Filter values are used as the config gives them: `{{ }}` was rendered when the config was
//! checked and is not evaluated again per record.

use serde_json::Value;

use super::log_event::{LogEvent, MESSAGE};
use super::log_redaction::Redactor;
use super::plugin_log_filter::PluginLogFilter;
use super::rate_limit_filter::RateLimiter;
use crate::model::logs::{AddFieldsFilter, LogFilter, MatchFilter, SampleFilter};
use crate::plugins::Plugins;

pub struct Filters {
    steps: Vec<Step>,
    dropped: u64,
}

enum Step {
    Include(Condition),
    Exclude(Condition),
    RateLimit(RateLimiter),
    Sample(Sampler),
    AddFields(Vec<(String, Value)>, bool),
    RemoveFields(Vec<String>),
    RenameFields(Vec<(String, String)>),
    Redact(Redactor),
    /// A plugin's log filter: zero or more records out.
    Plugin(PluginLogFilter),
}

impl Filters {
    /// The steps of `config`; `plugins` are the config's, for `plugin` filters.
    pub fn new(config: &[LogFilter], plugins: &Plugins) -> Result<Filters, String> {
        let steps = config
            .iter()
            .enumerate()
            .map(|(at, filter)| {
                step(filter, plugins).map_err(|e| format!("filter {}: {e}", at + 1))
            })
            .collect::<Result<_, _>>()?;
        Ok(Filters { steps, dropped: 0 })
    }

    /// Runs the record through every step; a kept record is pushed to `out`.
    pub fn apply(&mut self, event: LogEvent, out: &mut Vec<LogEvent>) {
        self.apply_from(0, event, out);
    }

    /// Runs the record through the steps from `first` on. A plugin step may make several
    /// records of one: each goes through the steps after it.
    fn apply_from(&mut self, first: usize, mut event: LogEvent, out: &mut Vec<LogEvent>) {
        for at in first..self.steps.len() {
            let keep = match &mut self.steps[at] {
                Step::Include(condition) => condition.holds(&event),
                Step::Exclude(condition) => !condition.holds(&event),
                Step::RateLimit(limiter) => limiter.allow(&event),
                Step::Sample(sampler) => sampler.keep(&event),
                Step::AddFields(fields, overwrite) => {
                    for (name, value) in fields.iter() {
                        if *overwrite || event.text(name).is_none() {
                            event.set(name, value.clone());
                        }
                    }
                    true
                }
                Step::RemoveFields(names) => {
                    for name in names.iter() {
                        event.remove(name);
                    }
                    true
                }
                Step::RenameFields(renames) => {
                    for (from, to) in renames.iter() {
                        if let Some(value) = event.remove(from) {
                            event.set(to, value);
                        }
                    }
                    true
                }
                Step::Redact(redactor) => {
                    redactor.redact(&mut event);
                    true
                }
                Step::Plugin(filter) => {
                    let mut made = Vec::new();
                    if !filter.apply(event, &mut made) || made.is_empty() {
                        self.dropped += 1;
                    }
                    for event in made {
                        self.apply_from(at + 1, event, out);
                    }
                    return;
                }
            };
            if !keep {
                self.dropped += 1;
                return;
            }
        }
        out.push(event);
    }

    /// Records dropped by any step since this was made.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

fn step(filter: &LogFilter, plugins: &Plugins) -> Result<Step, String> {
    Ok(match filter {
        LogFilter::Include(m) => Step::Include(Condition::new(m)?),
        LogFilter::Exclude(m) => Step::Exclude(Condition::new(m)?),
        LogFilter::RateLimit(r) => Step::RateLimit(RateLimiter::new(r)?),
        LogFilter::Sample(s) => Step::Sample(Sampler::new(s)?),
        LogFilter::AddFields(AddFieldsFilter { fields, overwrite }) => Step::AddFields(
            fields
                .value
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            *overwrite,
        ),
        LogFilter::RemoveFields(r) => Step::RemoveFields(r.fields.value.clone()),
        LogFilter::RenameFields(r) => Step::RenameFields(
            r.fields
                .value
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        LogFilter::Redact(r) => Step::Redact(Redactor::new(r)?),
        LogFilter::Plugin(p) => Step::Plugin(PluginLogFilter::new(plugins, &p.name.value)?),
    })
}

/// The conditions of an `include` / `exclude`, all of which must hold.
pub struct Condition {
    field: String,
    pattern: Option<regex::Regex>,
    contains: Option<String>,
    equals: Option<Equals>,
    bounds: Vec<(Bound, f64)>,
}

#[derive(Debug, Clone, Copy)]
enum Bound {
    GreaterThan,
    GreaterOrEqual,
    LessThan,
    LessOrEqual,
}

struct Equals {
    text: String,
    number: Option<f64>,
}

impl Condition {
    pub fn new(config: &MatchFilter) -> Result<Condition, String> {
        let pattern = config
            .pattern
            .as_ref()
            .map(|p| regex::Regex::new(&p.value).map_err(|e| format!("`pattern`: {e}")))
            .transpose()?;
        let equals = match config.equals.as_ref().map(|e| &e.value) {
            None => None,
            Some(Value::String(text)) => Some(Equals {
                number: number_in(text),
                text: text.clone(),
            }),
            Some(Value::Number(n)) => Some(Equals {
                number: n.as_f64(),
                text: n.to_string(),
            }),
            Some(Value::Bool(b)) => Some(Equals {
                number: None,
                text: b.to_string(),
            }),
            Some(_) => return Err("`equals` must be a string, a number or a boolean".to_owned()),
        };
        let bounds: Vec<(Bound, f64)> = [
            (Bound::GreaterThan, &config.greater_than),
            (Bound::GreaterOrEqual, &config.greater_or_equal),
            (Bound::LessThan, &config.less_than),
            (Bound::LessOrEqual, &config.less_or_equal),
        ]
        .into_iter()
        .filter_map(|(bound, value)| value.as_ref().map(|v| (bound, v.value)))
        .collect();
        if bounds.iter().any(|(_, v)| !v.is_finite()) {
            return Err("a numeric bound must be a finite number".to_owned());
        }
        let contains = config.contains.as_ref().map(|c| c.value.clone());
        if pattern.is_none() && contains.is_none() && equals.is_none() && bounds.is_empty() {
            return Err(
                "no condition: give `pattern`, `contains`, `equals`, or a numeric bound".to_owned(),
            );
        }
        Ok(Condition {
            field: config
                .field
                .as_ref()
                .map_or_else(|| MESSAGE.to_owned(), |f| f.value.clone()),
            pattern,
            contains,
            equals,
            bounds,
        })
    }

    /// Whether the record's field meets every condition; a record without it meets none.
    pub fn holds(&self, event: &LogEvent) -> bool {
        let Some(text) = event.text(&self.field) else {
            return false;
        };
        if let Some(pattern) = &self.pattern
            && !pattern.is_match(&text)
        {
            return false;
        }
        if let Some(needle) = &self.contains
            && !text.contains(needle.as_str())
        {
            return false;
        }
        let number = || match event.fields.get(&self.field) {
            Some(Value::Number(n)) => n.as_f64(),
            _ => number_in(&text),
        };
        if let Some(equals) = &self.equals {
            let same_number = equals.number.is_some() && equals.number == number();
            if *text != *equals.text && !same_number {
                return false;
            }
        }
        if !self.bounds.is_empty() {
            let Some(n) = number() else {
                return false;
            };
            return self.bounds.iter().all(|(bound, limit)| match bound {
                Bound::GreaterThan => n > *limit,
                Bound::GreaterOrEqual => n >= *limit,
                Bound::LessThan => n < *limit,
                Bound::LessOrEqual => n <= *limit,
            });
        }
        true
    }
}

/// A numeric string's value (`"200"`, `" 1.5 "`); `NaN` and infinities are not numbers here.
fn number_in(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

/// One record in `rate`: by a counter, or by a stable hash of a field (FNV-1a, the same in
/// every run and on every host, so a trace is kept or dropped whole everywhere).
struct Sampler {
    rate: u64,
    key: Option<String>,
    seen: u64,
}

impl Sampler {
    fn new(config: &SampleFilter) -> Result<Sampler, String> {
        if config.rate.value == 0 {
            return Err("`rate` must be at least 1".to_owned());
        }
        Ok(Sampler {
            rate: config.rate.value,
            key: config.key.clone(),
            seen: 0,
        })
    }

    fn keep(&mut self, event: &LogEvent) -> bool {
        match &self.key {
            Some(field) => {
                let text = event.text(field);
                fnv1a(text.as_deref().unwrap_or("").as_bytes()).is_multiple_of(self.rate)
            }
            None => {
                let keep = self.seen.is_multiple_of(self.rate);
                self.seen = self.seen.wrapping_add(1);
                keep
            }
        }
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use serde_json::json;

    use super::*;

    fn new_filters(config: &[LogFilter]) -> Result<Filters, String> {
        Filters::new(config, &Plugins::default())
    }
    use crate::model::Spanned;
    use crate::model::logs::{RemoveFieldsFilter, RenameFieldsFilter};

    fn event(message: &str, fields: Value) -> LogEvent {
        let mut e = LogEvent::new(message.to_owned(), Arc::from("/var/log/app.log"));
        if let Value::Object(map) = fields {
            e.fields = map.into_iter().collect();
        }
        e
    }

    fn run(filters: &mut Filters, events: Vec<LogEvent>) -> Vec<LogEvent> {
        let mut out = Vec::new();
        for e in events {
            filters.apply(e, &mut out);
        }
        out
    }

    fn condition(yaml: Value) -> MatchFilter {
        let spanned = |v: &Value| Spanned::unplaced(v.clone());
        let text = |k: &str| {
            yaml.get(k)
                .and_then(Value::as_str)
                .map(|s| Spanned::unplaced(s.to_owned()))
        };
        let number = |k: &str| yaml.get(k).and_then(Value::as_f64).map(Spanned::unplaced);
        MatchFilter {
            field: text("field"),
            pattern: text("pattern"),
            contains: text("contains"),
            equals: yaml.get("equals").map(spanned),
            greater_than: number("greater_than"),
            greater_or_equal: number("greater_or_equal"),
            less_than: number("less_than"),
            less_or_equal: number("less_or_equal"),
        }
    }

    fn messages(events: &[LogEvent]) -> Vec<&str> {
        events.iter().map(|e| e.message.as_str()).collect()
    }

    #[test]
    fn include_and_exclude_by_pattern() {
        let mut f = new_filters(&[
            LogFilter::Include(condition(json!({"pattern": "GET|POST"}))),
            LogFilter::Exclude(condition(json!({"pattern": "/healthz"}))),
        ])
        .unwrap();
        let out = run(
            &mut f,
            vec![
                event("GET /", json!({})),
                event("GET /healthz", json!({})),
                event("DELETE /x", json!({})),
            ],
        );
        assert_eq!(messages(&out), ["GET /"]);
        assert_eq!(f.dropped(), 2);
    }

    #[test]
    fn numeric_bounds_read_numbers_and_numeric_strings() {
        let mut f = new_filters(&[LogFilter::Include(condition(
            json!({"field": "status", "greater_or_equal": 500, "less_than": 600}),
        ))])
        .unwrap();
        let out = run(
            &mut f,
            vec![
                event("a", json!({"status": 503})),
                event("b", json!({"status": "500"})),
                event("c", json!({"status": 404})),
                event("d", json!({"status": "oops"})),
                event("e", json!({})),
            ],
        );
        assert_eq!(messages(&out), ["a", "b"]);
    }

    #[test]
    fn equals_compares_numbers_as_numbers() {
        let mut f = new_filters(&[LogFilter::Include(condition(
            json!({"field": "status", "equals": 200}),
        ))])
        .unwrap();
        let out = run(
            &mut f,
            vec![
                event("a", json!({"status": 200})),
                event("b", json!({"status": "200.0"})),
                event("c", json!({"status": "2000"})),
            ],
        );
        assert_eq!(messages(&out), ["a", "b"]);
        let mut f = new_filters(&[LogFilter::Exclude(condition(
            json!({"field": "level", "equals": "debug"}),
        ))])
        .unwrap();
        let out = run(
            &mut f,
            vec![
                event("a", json!({"level": "debug"})),
                event("b", json!({"level": "info"})),
            ],
        );
        assert_eq!(messages(&out), ["b"]);
    }

    #[test]
    fn contains_and_pattern_together() {
        let mut f = new_filters(&[LogFilter::Include(condition(
            json!({"contains": "timeout", "pattern": "^ERROR"}),
        ))])
        .unwrap();
        let out = run(
            &mut f,
            vec![
                event("ERROR timeout talking to db", json!({})),
                event("WARN timeout", json!({})),
                event("ERROR refused", json!({})),
            ],
        );
        assert_eq!(messages(&out), ["ERROR timeout talking to db"]);
    }

    #[test]
    fn a_filter_without_a_condition_is_refused() {
        let e = new_filters(&[LogFilter::Include(condition(json!({"field": "x"})))])
            .err()
            .unwrap();
        assert!(e.starts_with("filter 1: no condition"), "{e}");
    }

    #[test]
    fn sampling_by_counter_keeps_the_first_of_each_n() {
        let mut f = new_filters(&[LogFilter::Sample(SampleFilter {
            rate: Spanned::unplaced(3),
            key: None,
        })])
        .unwrap();
        let events = (0..7).map(|i| event(&i.to_string(), json!({}))).collect();
        assert_eq!(messages(&run(&mut f, events)), ["0", "3", "6"]);
    }

    #[test]
    fn sampling_by_key_keeps_whole_keys() {
        let mut f = new_filters(&[LogFilter::Sample(SampleFilter {
            rate: Spanned::unplaced(4),
            key: Some("trace".to_owned()),
        })])
        .unwrap();
        let events = (0..400)
            .map(|i| event(&i.to_string(), json!({"trace": format!("t{}", i % 40)})))
            .collect();
        let kept = run(&mut f, events);
        let traces: std::collections::BTreeSet<_> = kept
            .iter()
            .map(|e| e.text("trace").unwrap().into_owned())
            .collect();
        // Every kept trace is kept whole (10 records each), and some but not all are kept.
        assert_eq!(kept.len(), traces.len() * 10);
        assert!(!traces.is_empty() && traces.len() < 40, "{traces:?}");
    }

    #[test]
    fn add_remove_and_rename_fields() {
        let mut fields = BTreeMap::new();
        fields.insert("env".to_owned(), json!("prod"));
        fields.insert("level".to_owned(), json!("info"));
        let mut renames = BTreeMap::new();
        renames.insert("msg".to_owned(), "message".to_owned());
        renames.insert("absent".to_owned(), "other".to_owned());
        let mut f = new_filters(&[
            LogFilter::AddFields(AddFieldsFilter {
                fields: Spanned::unplaced(fields),
                overwrite: false,
            }),
            LogFilter::RemoveFields(RemoveFieldsFilter {
                fields: Spanned::unplaced(vec!["secret".to_owned()]),
            }),
            LogFilter::RenameFields(RenameFieldsFilter {
                fields: Spanned::unplaced(renames),
            }),
        ])
        .unwrap();
        let out = run(
            &mut f,
            vec![event(
                "raw",
                json!({"level": "warn", "secret": "x", "msg": "from the app"}),
            )],
        );
        assert_eq!(out[0].message, "from the app");
        assert_eq!(
            Value::Object(out[0].fields.clone().into_iter().collect()),
            json!({"env": "prod", "level": "warn"})
        );
    }
}
