//! The metric data every collector produces and every exposition consumes: families of samples
//! with node_exporter's names, types and labels.
//!
//! Collectors fill [`Family`] values; [`merge`] joins the output of all collectors into one
//! sorted list in which no series appears twice; `exposition` hands that list to
//! prometheus-client's encoders.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};

/// A label name and value. Names are almost always static; values rarely are.
pub type Label = (Cow<'static, str>, String);

/// The metric type, as the Prometheus text format names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Untyped,
    /// Samples `<name>_bucket{le}`, `<name>_sum`, `<name>_count` (a textfile's histogram).
    Histogram,
    /// Samples `<name>{quantile}`, `<name>_sum`, `<name>_count` (a textfile's summary).
    Summary,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Untyped => "untyped",
            Kind::Histogram => "histogram",
            Kind::Summary => "summary",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Vec<Label>,
    pub value: f64,
    /// What follows the family name in this sample's name: `""`, or for histograms and
    /// summaries `_bucket`, `_sum`, `_count`.
    pub suffix: &'static str,
}

/// One metric family: every series of one metric name.
///
/// `name` is the full series name as node_exporter writes it, `_total` included for counters.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub name: Cow<'static, str>,
    pub help: Cow<'static, str>,
    pub kind: Kind,
    pub samples: Vec<Sample>,
}

impl Family {
    pub fn new(
        name: impl Into<Cow<'static, str>>,
        help: impl Into<Cow<'static, str>>,
        kind: Kind,
    ) -> Self {
        Family {
            name: name.into(),
            help: help.into(),
            kind,
            samples: Vec::new(),
        }
    }

    pub fn gauge(name: impl Into<Cow<'static, str>>, help: impl Into<Cow<'static, str>>) -> Self {
        Family::new(name, help, Kind::Gauge)
    }

    pub fn counter(name: impl Into<Cow<'static, str>>, help: impl Into<Cow<'static, str>>) -> Self {
        Family::new(name, help, Kind::Counter)
    }

    pub fn untyped(name: impl Into<Cow<'static, str>>, help: impl Into<Cow<'static, str>>) -> Self {
        Family::new(name, help, Kind::Untyped)
    }

    /// Adds one series.
    pub fn push(&mut self, labels: Vec<Label>, value: f64) {
        self.samples.push(Sample {
            labels,
            value,
            suffix: "",
        });
    }

    /// Adds one series of a histogram or summary: `suffix` is `_bucket`, `_sum`, `_count`
    /// or `""`.
    pub fn push_part(&mut self, suffix: &'static str, labels: Vec<Label>, value: f64) {
        self.samples.push(Sample {
            labels,
            value,
            suffix,
        });
    }

    /// Adds one series without labels.
    pub fn set(&mut self, value: f64) {
        self.push(Vec::new(), value);
    }

    /// This family with one unlabelled series.
    pub fn with_value(mut self, value: f64) -> Self {
        self.set(value);
        self
    }

    /// This family with one series of the given labels and the value 1 (an info metric).
    pub fn with_labels(mut self, labels: Vec<Label>) -> Self {
        self.push(labels, 1.0);
        self
    }

    /// Sets the value of every series (after `with_labels`).
    pub fn scaled(mut self, value: f64) -> Self {
        for sample in &mut self.samples {
            sample.value = value;
        }
        self
    }

    pub fn sample(&self, labels: &[(&str, &str)]) -> Option<f64> {
        self.samples
            .iter()
            .find(|s| {
                s.labels.len() == labels.len()
                    && s.labels
                        .iter()
                        .zip(labels)
                        .all(|((k, v), (k2, v2))| k == k2 && v == v2)
            })
            .map(|s| s.value)
    }
}

/// Builds a label list: `labels([("device", dev), ("mode", "idle")])`.
pub fn labels<const N: usize>(pairs: [(&'static str, &str); N]) -> Vec<Label> {
    pairs
        .into_iter()
        .map(|(k, v)| (Cow::Borrowed(k), v.to_owned()))
        .collect()
}

/// Whether `name` is a valid metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
pub fn valid_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b':')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// Whether `name` is a valid label name (`[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__`).
pub fn valid_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.starts_with("__")
}

/// Turns an arbitrary string into a valid metric-name fragment (`Active(anon)` → `Active_anon`
/// is done by callers; this only replaces invalid characters with `_`).
pub fn sanitize_name(raw: &str) -> String {
    let mut out: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) || out.is_empty() {
        out.insert(0, '_');
    }
    out
}

/// A reference to one family in a merged view, with the samples that survived deduplication.
pub struct MergedFamily<'a> {
    pub family: &'a Family,
    /// Indices of other families (same name, same type) whose samples follow this one's.
    pub samples: Vec<&'a Sample>,
}

/// Why a family or series was dropped while merging.
#[derive(Debug, Clone, PartialEq)]
pub enum Dropped {
    /// Two sources gave the same metric name with different types.
    TypeConflict {
        name: String,
        kept: Kind,
        dropped: Kind,
    },
    /// A series (name + label set) appeared twice; the first one was kept.
    DuplicateSeries { name: String },
}

/// Joins families from all sources into one list sorted by name in which every metric name
/// appears once and every series (name + label set) once. Conflicts are reported in
/// `dropped`; the first source wins.
pub fn merge<'a>(
    sources: impl IntoIterator<Item = &'a Family>,
    dropped: &mut Vec<Dropped>,
) -> Vec<MergedFamily<'a>> {
    let mut by_name: BTreeMap<&'a str, Vec<&'a Family>> = BTreeMap::new();
    for family in sources {
        if family.samples.is_empty() {
            continue;
        }
        by_name.entry(&family.name).or_default().push(family);
    }
    let mut merged = Vec::with_capacity(by_name.len());
    for (name, families) in by_name {
        let first = families[0];
        let total: usize = families.iter().map(|f| f.samples.len()).sum();
        let mut samples: Vec<&Sample> = Vec::with_capacity(total);
        let mut seen: HashSet<(&str, Vec<(&str, &str)>)> = HashSet::new();
        let check_dupes = families.len() > 1 || first.samples.len() > 1;
        for family in &families {
            if family.kind != first.kind {
                dropped.push(Dropped::TypeConflict {
                    name: name.to_owned(),
                    kept: first.kind,
                    dropped: family.kind,
                });
                continue;
            }
            for sample in &family.samples {
                if check_dupes {
                    let mut key: Vec<(&str, &str)> = sample
                        .labels
                        .iter()
                        .filter(|(_, v)| !v.is_empty())
                        .map(|(k, v)| (k.as_ref(), v.as_str()))
                        .collect();
                    key.sort_unstable();
                    if !seen.insert((sample.suffix, key)) {
                        dropped.push(Dropped::DuplicateSeries {
                            name: name.to_owned(),
                        });
                        continue;
                    }
                }
                samples.push(sample);
            }
        }
        merged.push(MergedFamily {
            family: first,
            samples,
        });
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_drops_duplicate_series_and_type_conflicts() {
        let mut a = Family::gauge("x", "x");
        a.push(labels([("k", "1")]), 1.0);
        a.push(labels([("k", "1")]), 2.0);
        let mut b = Family::gauge("x", "x");
        b.push(labels([("k", "2")]), 3.0);
        b.push(labels([("k", "1")]), 4.0);
        let c = Family::counter("x", "x").with_value(5.0);
        let d = Family::gauge("a", "a").with_value(1.0);
        let mut dropped = Vec::new();
        let merged = merge([&a, &b, &c, &d], &mut dropped);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].family.name, "a");
        let values: Vec<f64> = merged[1].samples.iter().map(|s| s.value).collect();
        assert_eq!(values, vec![1.0, 3.0]);
        assert_eq!(dropped.len(), 3);
    }

    #[test]
    fn names_are_validated() {
        assert!(valid_metric_name("node_load1"));
        assert!(valid_metric_name("a:b_c"));
        assert!(!valid_metric_name("1abc"));
        assert!(!valid_metric_name("a-b"));
        assert!(valid_label_name("mountpoint"));
        assert!(!valid_label_name("__name__"));
        assert_eq!(sanitize_name("Active(anon)"), "Active_anon_");
    }
}
