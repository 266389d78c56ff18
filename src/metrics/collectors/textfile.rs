//! `textfile`: node_exporter's textfile collector — every `*.prom` file of a directory, in the
//! Prometheus text format, exposed as written — plus `node_textfile_mtime_seconds{file}` and
//! `node_textfile_scrape_error`.
//!
//! As in node_exporter, a file with client-side timestamps or a parse error is skipped whole
//! (and `node_textfile_scrape_error` is 1). Every family keeps the `# TYPE` and the name of
//! its file: a counter named without `_total` stays a counter, a histogram or summary stays
//! one (its `_bucket`, `_sum`, `_count` samples in one family); a family without `# TYPE` is
//! untyped.
//!
//! Bounded for any file: only regular files are read (a FIFO named `x.prom` cannot block a
//! scrape), each at most [`MAX_FILE_BYTES`], at most [`MAX_SERIES`] series in all, and parsing
//! is linear in the file's size. A file over a limit is skipped with an error naming it.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::{CollectError, Collector, Output, WatchedValue};
use crate::metrics::family::{Family, Kind, Label, labels, valid_label_name, valid_metric_name};

/// The largest textfile read, in bytes.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// The most series one textfile collector reads, all its files together.
pub const MAX_SERIES: usize = 100_000;

pub struct TextfileCollector {
    directory: PathBuf,
}

impl TextfileCollector {
    pub fn new(directory: PathBuf) -> Self {
        TextfileCollector { directory }
    }
}

impl Collector for TextfileCollector {
    fn collect(&mut self, out: &mut Output) -> Result<(), CollectError> {
        out.part("textfile", |out| self.textfiles(out));
        Ok(())
    }
}

impl TextfileCollector {
    fn textfiles(&mut self, out: &mut Output) -> Result<(), CollectError> {
        let mut error = false;
        let mut mtimes = Family::gauge(
            "node_textfile_mtime_seconds",
            "Unixtime mtime of textfiles successfully read.",
        );
        let mut paths: Vec<PathBuf> = match std::fs::read_dir(&self.directory) {
            Ok(entries) => entries
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "prom"))
                .collect(),
            Err(e) => {
                // The default set reads Debian's directory, which most hosts without
                // node_exporter lack: that is node_textfile_scrape_error 1, not a warning on
                // every scrape.
                if e.kind() == std::io::ErrorKind::NotFound {
                    tracing::debug!(directory = %self.directory.display(), "no textfile directory");
                } else {
                    tracing::warn!(directory = %self.directory.display(), error = %e, "cannot read the textfile directory");
                }
                error = true;
                Vec::new()
            }
        };
        paths.sort();
        let mut series = 0;
        for path in paths {
            let shown = path.display().to_string();
            let (text, mtime) = match read_textfile(&path) {
                Ok(read) => read,
                Err(e) => {
                    tracing::warn!(file = %shown, error = %e, "cannot read a textfile");
                    error = true;
                    continue;
                }
            };
            match parse(&text, MAX_SERIES - series) {
                Ok(families) => {
                    series += families.iter().map(|f| f.samples.len()).sum::<usize>();
                    for family in &families {
                        for sample in &family.samples {
                            out.values.push(WatchedValue {
                                name: if sample.suffix.is_empty() {
                                    family.name.clone()
                                } else {
                                    format!("{}{}", family.name, sample.suffix).into()
                                },
                                labels: sample.labels.clone(),
                                value: sample.value,
                            });
                        }
                    }
                    for family in families {
                        out.family(family);
                    }
                    mtimes.push(labels([("file", &shown)]), mtime);
                }
                Err(e) => {
                    tracing::warn!(file = %shown, error = %e, "skipping a textfile");
                    error = true;
                }
            }
        }
        out.family(mtimes);
        out.family(
            Family::gauge(
                "node_textfile_scrape_error",
                "1 if there was an error opening or reading a file, 0 otherwise",
            )
            .with_value(if error { 1.0 } else { 0.0 }),
        );
        Ok(())
    }
}

/// Reads a textfile and its mtime (seconds) from one open file: a regular file of at most
/// [`MAX_FILE_BYTES`].
fn read_textfile(path: &Path) -> Result<(String, f64), String> {
    // O_NONBLOCK: opening a FIFO must not wait for a writer.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| e.to_string())?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    let too_large = || {
        format!(
            "larger than {} MiB, the limit of a textfile",
            MAX_FILE_BYTES >> 20
        )
    };
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // The file may grow while it is read: read one byte past the limit to notice.
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large());
    }
    let text = String::from_utf8(bytes).map_err(|_| "not valid UTF-8".to_owned())?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0.0, |d| d.as_secs() as f64);
    Ok((text, mtime))
}

/// A series of a parse: its family's index, its sample's suffix, its sorted labels.
type SeriesKey<'a> = (usize, &'a str, Vec<(String, String)>);

/// Parses the Prometheus text exposition format (0.0.4) into families, at most `max_series`
/// series, in time linear in the text's size. Errors name the line.
pub fn parse(text: &str, max_series: usize) -> Result<Vec<Family>, String> {
    let mut families: Vec<Family> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut declared: HashMap<String, (Option<String>, Option<String>)> = HashMap::new();
    // Every series seen (family index and sorted labels), to refuse one written twice.
    let mut seen: HashSet<SeriesKey> = HashSet::new();
    for (n, line) in text.lines().enumerate() {
        let at = |msg: String| format!("line {}: {msg}", n + 1);
        let line = line.trim_start();
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let mut parts = comment.trim_start().splitn(3, [' ', '\t']);
            let keyword = parts.next().unwrap_or("");
            if keyword != "HELP" && keyword != "TYPE" {
                continue;
            }
            let name = parts.next().unwrap_or("").to_owned();
            if !valid_metric_name(&name) {
                return Err(at(format!("invalid metric name {name:?}")));
            }
            let rest = parts.next().unwrap_or("").trim_end();
            let entry = declared.entry(name.clone()).or_default();
            if keyword == "HELP" {
                if entry.0.is_some() {
                    return Err(at(format!("second HELP line for {name}")));
                }
                entry.0 = Some(unescape_help(rest));
            } else {
                if entry.1.is_some() {
                    return Err(at(format!("second TYPE line for {name}")));
                }
                if !matches!(
                    rest,
                    "counter" | "gauge" | "untyped" | "summary" | "histogram"
                ) {
                    return Err(at(format!("unknown type {rest:?} for {name}")));
                }
                entry.1 = Some(rest.to_owned());
            }
            continue;
        }
        let (name, labels, rest) = parse_sample_head(line).map_err(at)?;
        let mut fields = rest.split_ascii_whitespace();
        let value = fields
            .next()
            .ok_or_else(|| at("missing value".into()))
            .and_then(|v| parse_value(v).ok_or_else(|| at(format!("invalid value {v:?}"))))?;
        if fields.next().is_some() {
            return Err(at(format!(
                "{name} has a client-side timestamp, which textfiles may not have"
            )));
        }
        let (family_name, suffix, kind) = family_of(name, &declared);
        let i = match index.get(family_name) {
            Some(i) => *i,
            None => {
                let help = declared
                    .get(family_name)
                    .and_then(|(h, _)| h.clone())
                    .unwrap_or_else(|| format!("Metric read from a textfile: {family_name}"));
                families.push(Family::new(family_name.to_owned(), help, kind));
                index.insert(family_name.to_owned(), families.len() - 1);
                families.len() - 1
            }
        };
        let mut sorted: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        sorted.sort_unstable();
        if sorted.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(at(format!("{name} has a label twice")));
        }
        if !seen.insert((i, suffix, sorted)) {
            return Err(at(format!("{name} has the same series twice")));
        }
        if seen.len() > max_series {
            return Err(at(format!(
                "more than {MAX_SERIES} series, the limit of a textfile collector (all its files together)"
            )));
        }
        families[i].push_part(suffix, labels, value);
    }
    Ok(families)
}

/// The family a sample belongs to, the rest of its name, and the family's type: `x_bucket`
/// belongs to histogram `x` with suffix `_bucket`; a name without `# TYPE` is untyped.
fn family_of<'a>(
    name: &'a str,
    declared: &HashMap<String, (Option<String>, Option<String>)>,
) -> (&'a str, &'static str, Kind) {
    let kind_of = |t: &str| match t {
        "counter" => Kind::Counter,
        "gauge" => Kind::Gauge,
        "histogram" => Kind::Histogram,
        "summary" => Kind::Summary,
        _ => Kind::Untyped,
    };
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && let Some((_, Some(t))) = declared.get(base)
            && (t == "histogram" || (t == "summary" && suffix != "_bucket"))
        {
            return (base, suffix, kind_of(t));
        }
    }
    match declared.get(name) {
        Some((_, Some(t))) => (name, "", kind_of(t)),
        _ => (name, "", Kind::Untyped),
    }
}

fn unescape_help(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('\\') => out.push('\\'),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn parse_value(v: &str) -> Option<f64> {
    match v {
        "NaN" | "nan" => Some(f64::NAN),
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        _ => v.parse().ok(),
    }
}

/// Splits `name{a="b",c="d"} rest` into its name, labels and the text after them.
fn parse_sample_head(line: &str) -> Result<(&str, Vec<Label>, &str), String> {
    let end = line
        .find(|c: char| c == '{' || c.is_ascii_whitespace())
        .unwrap_or(line.len());
    let name = &line[..end];
    if !valid_metric_name(name) {
        return Err(format!("invalid metric name {name:?}"));
    }
    let rest = &line[end..];
    let Some(body) = rest.strip_prefix('{') else {
        return Ok((name, Vec::new(), rest));
    };
    let mut labels: Vec<Label> = Vec::new();
    let mut chars = body.char_indices().peekable();
    loop {
        while chars
            .next_if(|(_, c)| c.is_ascii_whitespace() || *c == ',')
            .is_some()
        {}
        let Some(&(start, c)) = chars.peek() else {
            return Err(format!("unterminated label set of {name}"));
        };
        if c == '}' {
            return Ok((name, labels, &body[start + 1..]));
        }
        let mut key_end = start;
        while let Some(&(i, c)) = chars.peek() {
            if c == '=' || c.is_ascii_whitespace() {
                break;
            }
            key_end = i + c.len_utf8();
            chars.next();
        }
        let key = &body[start..key_end];
        if !valid_label_name(key) {
            return Err(format!("invalid label name {key:?} in {name}"));
        }
        while chars.next_if(|(_, c)| c.is_ascii_whitespace()).is_some() {}
        if chars.next().map(|(_, c)| c) != Some('=') {
            return Err(format!("expected `=` after label {key} in {name}"));
        }
        while chars.next_if(|(_, c)| c.is_ascii_whitespace()).is_some() {}
        if chars.next().map(|(_, c)| c) != Some('"') {
            return Err(format!("expected a quoted value for label {key} in {name}"));
        }
        let mut value = String::new();
        loop {
            match chars.next() {
                Some((_, '"')) => break,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, other)) => {
                        value.push('\\');
                        value.push(other);
                    }
                    None => return Err(format!("unterminated label value in {name}")),
                },
                Some((_, c)) => value.push(c),
                None => return Err(format!("unterminated label value in {name}")),
            }
        }
        labels.push((Cow::Owned(key.to_owned()), value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_labels_with_escapes() {
        let text = "# HELP my_metric A help\\nline.\n# TYPE my_metric gauge\n\
                    my_metric{path=\"a\\\"b\\\\c\\nd\",x=\"1\"} 3.5\nmy_metric 1\n\
                    # TYPE jobs counter\njobs 4\n# TYPE jobs_done_total counter\njobs_done_total 7\n";
        let families = parse(text, MAX_SERIES).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(families[0].name, "my_metric");
        assert_eq!(families[0].help, "A help\nline.");
        assert_eq!(families[0].kind, Kind::Gauge);
        assert_eq!(families[0].samples[0].labels[0].1, "a\"b\\c\nd");
        assert_eq!(families[0].samples[0].value, 3.5);
        assert_eq!(
            families[1].kind,
            Kind::Counter,
            "a counter without _total stays one"
        );
        assert_eq!(families[2].kind, Kind::Counter);
    }

    #[test]
    fn histograms_and_summaries_stay_one_family() {
        let text = "# HELP rpc_seconds RPC latency.\n# TYPE rpc_seconds histogram\n\
                    rpc_seconds_bucket{le=\"0.5\"} 3\nrpc_seconds_bucket{le=\"+Inf\"} 4\n\
                    rpc_seconds_sum 1.25\nrpc_seconds_count 4\n\
                    # TYPE gc summary\ngc{quantile=\"0.5\"} 0.1\ngc_sum 2\ngc_count 3\n\
                    other_sum 1\n";
        let families = parse(text, MAX_SERIES).unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<(&str, Kind, usize)> = families
            .iter()
            .map(|f| (f.name.as_ref(), f.kind, f.samples.len()))
            .collect();
        assert_eq!(
            names,
            [
                ("rpc_seconds", Kind::Histogram, 4),
                ("gc", Kind::Summary, 3),
                ("other_sum", Kind::Untyped, 1)
            ]
        );
        let suffixes: Vec<&str> = families[0].samples.iter().map(|s| s.suffix).collect();
        assert_eq!(suffixes, ["_bucket", "_bucket", "_sum", "_count"]);
        assert_eq!(families[0].help, "RPC latency.");
    }

    #[test]
    fn rejects_timestamps_and_garbage() {
        assert!(parse("x 1 1700000000000\n", MAX_SERIES).is_err());
        assert!(parse("x{a=\"1\" 1\n", MAX_SERIES).is_err());
        assert!(parse("1x 1\n", MAX_SERIES).is_err());
        assert!(parse("x{a=\"1\"} 1\nx{a=\"1\"} 2\n", MAX_SERIES).is_err());
        assert!(parse("x abc\n", MAX_SERIES).is_err());
        assert_eq!(parse("x NaN\n", MAX_SERIES).map(|f| f.len()), Ok(1));
    }

    #[test]
    fn series_past_the_limit_are_an_error_naming_it() {
        let error = parse("a 1\nb{x=\"1\"} 1\nb{x=\"2\"} 1\n", 2).err();
        assert_eq!(
            error.as_deref(),
            Some(
                "line 3: more than 100000 series, the limit of a textfile collector (all its files together)"
            )
        );
        assert!(parse("a 1\nb 1\n", 2).is_ok());
    }
}
