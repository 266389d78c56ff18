//! Thresholds: warn/critical levels per watched value, with hysteresis, turning values into
//! events.
//!
//! A level is entered as soon as the value reaches it and left only once the value is back
//! past the level by `hysteresis`, so a value hovering at a level does not flap. When
//! `critical` is below `warn`, lower values are worse (e.g. free bytes) and every comparison
//! is mirrored. Each change of level is a [`ThresholdEvent`]: logged with `tracing`, counted in
//! `driftless_threshold_events_total`, kept for the run report, and the current level of every
//! series is `driftless_threshold_state` (0 ok, 1 warning, 2 critical).

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::Serialize;

use super::collectors::WatchedValue;
use super::family::Label;
use crate::model::facts::Threshold;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warning,
    Critical,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Critical => "critical",
        }
    }

    pub fn as_number(self) -> f64 {
        match self {
            Level::Ok => 0.0,
            Level::Warning => 1.0,
            Level::Critical => 2.0,
        }
    }
}

/// One level change of one series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThresholdEvent {
    /// Seconds since the Unix epoch.
    pub time: f64,
    /// The facts task id.
    pub collector: String,
    /// The watched value's name, e.g. `used_ratio`.
    pub value_name: String,
    /// The series' labels, e.g. `mountpoint`.
    pub labels: BTreeMap<String, String>,
    pub from: Level,
    pub to: Level,
    pub value: f64,
}

impl ThresholdEvent {
    /// The series' labels as `k="v",…`, for log lines and the recap.
    pub fn labels_text(&self) -> String {
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect();
        labels.join(",")
    }
}

/// The levels of one value name, as configured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Levels {
    pub warn: Option<f64>,
    pub critical: Option<f64>,
    pub hysteresis: f64,
}

impl From<&Threshold> for Levels {
    fn from(t: &Threshold) -> Self {
        Levels {
            warn: t.warn,
            critical: t.critical,
            hysteresis: t.hysteresis.abs(),
        }
    }
}

impl Levels {
    /// Lower values are worse when critical is below warn.
    fn falling(&self) -> bool {
        matches!((self.warn, self.critical), (Some(w), Some(c)) if c < w)
    }

    fn level_of(&self, level: Level) -> Option<f64> {
        match level {
            Level::Ok => None,
            Level::Warning => self.warn,
            Level::Critical => self.critical,
        }
    }

    /// Whether `value` is at or past `bound` in the bad direction.
    fn reached(&self, value: f64, bound: f64) -> bool {
        if self.falling() {
            value <= bound
        } else {
            value >= bound
        }
    }

    /// Whether `value` is back past `bound` by the hysteresis, in the good direction.
    fn cleared(&self, value: f64, bound: f64) -> bool {
        if self.falling() {
            value > bound + self.hysteresis
        } else {
            value < bound - self.hysteresis
        }
    }

    /// The next level from `current` for `value`.
    pub fn next(&self, current: Level, value: f64) -> Level {
        let raw = if self.critical.is_some_and(|c| self.reached(value, c)) {
            Level::Critical
        } else if self.warn.is_some_and(|w| self.reached(value, w)) {
            Level::Warning
        } else {
            Level::Ok
        };
        if raw >= current {
            return raw;
        }
        // Going down: step down one level at a time while the value has cleared it.
        let mut level = current;
        while level > raw {
            let bound = self.level_of(level);
            match bound {
                Some(b) if !self.cleared(value, b) => break,
                _ => {}
            }
            level = match level {
                Level::Critical => {
                    if self.warn.is_some() {
                        Level::Warning
                    } else {
                        Level::Ok
                    }
                }
                _ => Level::Ok,
            };
        }
        level.max(raw)
    }
}

type SeriesKey = (String, Vec<Label>);

/// The thresholds of one facts task and the current level of each series they watch.
#[derive(Debug, Default)]
pub struct Thresholds {
    collector: String,
    levels: BTreeMap<String, Levels>,
    state: HashMap<SeriesKey, (Level, f64)>,
}

impl Thresholds {
    pub fn new(collector: &str, config: &BTreeMap<String, Threshold>) -> Self {
        Thresholds {
            collector: collector.to_owned(),
            levels: config.iter().map(|(k, v)| (k.clone(), v.into())).collect(),
            state: HashMap::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    /// Evaluates fresh values; returns the level changes.
    pub fn evaluate(&mut self, values: &[WatchedValue], now: f64) -> Vec<ThresholdEvent> {
        let mut events = Vec::new();
        for v in values {
            let Some(levels) = self.levels.get(v.name.as_ref()) else {
                continue;
            };
            let key = (v.name.to_string(), v.labels.clone());
            let current = self.state.get(&key).map_or(Level::Ok, |(l, _)| *l);
            let next = levels.next(current, v.value);
            if next != current {
                events.push(ThresholdEvent {
                    time: now,
                    collector: self.collector.clone(),
                    value_name: v.name.to_string(),
                    labels: v
                        .labels
                        .iter()
                        .map(|(k, val)| (k.to_string(), val.clone()))
                        .collect(),
                    from: current,
                    to: next,
                    value: v.value,
                });
            }
            self.state.insert(key, (next, v.value));
        }
        events
    }

    /// The current level of every series seen: (value name, labels, level).
    pub fn states(&self) -> impl Iterator<Item = (&str, &[Label], Level)> {
        self.state
            .iter()
            .map(|((name, labels), (level, _))| (name.as_str(), labels.as_slice(), *level))
    }
}

/// Recent threshold events, bounded, with a sequence number so readers can ask for what is
/// new since they last looked.
#[derive(Debug, Default)]
pub struct EventLog {
    events: VecDeque<(u64, ThresholdEvent)>,
    next_seq: u64,
    /// Count per (collector, value name, level reached).
    pub totals: BTreeMap<(String, String, Level), u64>,
}

const EVENT_LOG_CAPACITY: usize = 1024;

impl EventLog {
    pub fn record(&mut self, event: ThresholdEvent) {
        let labels = event.labels_text();
        if event.to > event.from {
            tracing::warn!(
                collector = %event.collector,
                value = %event.value_name,
                labels = %labels,
                level = event.to.as_str(),
                current = event.value,
                "threshold reached"
            );
        } else {
            tracing::info!(
                collector = %event.collector,
                value = %event.value_name,
                labels = %labels,
                level = event.to.as_str(),
                current = event.value,
                "threshold cleared"
            );
        }
        *self
            .totals
            .entry((event.collector.clone(), event.value_name.clone(), event.to))
            .or_default() += 1;
        if self.events.len() == EVENT_LOG_CAPACITY {
            self.events.pop_front();
        }
        self.events.push_back((self.next_seq, event));
        self.next_seq += 1;
    }

    /// Events with a sequence number ≥ `since`, and the number to pass next time.
    pub fn since(&self, since: u64) -> (Vec<ThresholdEvent>, u64) {
        let events = self
            .events
            .iter()
            .filter(|(seq, _)| *seq >= since)
            .map(|(_, e)| e.clone())
            .collect();
        (events, self.next_seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::family::labels;

    fn watched(value: f64) -> Vec<WatchedValue> {
        vec![WatchedValue {
            name: "used_ratio".into(),
            labels: labels([("mountpoint", "/")]),
            value,
        }]
    }

    /// A fake value source: a sequence of readings, evaluated one by one.
    fn run(t: &mut Thresholds, readings: &[f64]) -> Vec<(Level, Level)> {
        readings
            .iter()
            .flat_map(|v| t.evaluate(&watched(*v), 0.0))
            .map(|e| (e.from, e.to))
            .collect()
    }

    fn config(
        warn: Option<f64>,
        critical: Option<f64>,
        hysteresis: f64,
    ) -> BTreeMap<String, Threshold> {
        BTreeMap::from([(
            "used_ratio".to_owned(),
            Threshold {
                warn,
                critical,
                hysteresis,
            },
        )])
    }

    #[test]
    fn fires_and_clears_with_hysteresis() {
        let mut t = Thresholds::new("disk", &config(Some(0.8), Some(0.95), 0.05));
        use Level::*;
        // Below warn: nothing. Reach warn: event. Hover just under warn (inside the band):
        // nothing. Reach critical: event. Drop under critical but inside the band: nothing.
        // Drop past critical − h: back to warning. Drop past warn − h: ok.
        let events = run(
            &mut t,
            &[0.5, 0.8, 0.78, 0.81, 0.96, 0.93, 0.89, 0.77, 0.74, 0.74],
        );
        assert_eq!(
            events,
            vec![
                (Ok, Warning),
                (Warning, Critical),
                (Critical, Warning),
                (Warning, Ok)
            ]
        );
    }

    #[test]
    fn jumps_straight_down_when_far_enough() {
        let mut t = Thresholds::new("disk", &config(Some(0.8), Some(0.95), 0.05));
        let events = run(&mut t, &[0.99, 0.1]);
        assert_eq!(
            events,
            vec![(Level::Ok, Level::Critical), (Level::Critical, Level::Ok)]
        );
    }

    #[test]
    fn falling_thresholds_when_critical_is_below_warn() {
        let mut t = Thresholds::new("disk", &config(Some(10.0), Some(5.0), 1.0));
        let events = run(&mut t, &[20.0, 9.0, 10.5, 4.0, 5.5, 6.5, 11.5]);
        use Level::*;
        assert_eq!(
            events,
            vec![
                (Ok, Warning),
                (Warning, Critical),
                (Critical, Warning),
                (Warning, Ok)
            ]
        );
    }

    #[test]
    fn only_critical_configured() {
        let mut t = Thresholds::new("disk", &config(None, Some(0.9), 0.0));
        let events = run(&mut t, &[0.95, 0.85]);
        assert_eq!(
            events,
            vec![(Level::Ok, Level::Critical), (Level::Critical, Level::Ok)]
        );
    }

    #[test]
    fn event_log_is_bounded_and_sequenced() {
        let mut log = EventLog::default();
        let mut t = Thresholds::new("disk", &config(Some(0.5), None, 0.0));
        for i in 0..(EVENT_LOG_CAPACITY + 10) {
            let v = if i % 2 == 0 { 0.9 } else { 0.1 };
            for e in t.evaluate(&watched(v), 0.0) {
                log.record(e);
            }
        }
        let (all, next) = log.since(0);
        assert_eq!(all.len(), EVENT_LOG_CAPACITY);
        assert_eq!(next as usize, EVENT_LOG_CAPACITY + 10);
        let (none, _) = log.since(next);
        assert!(none.is_empty());
    }
}
