//! Exposition: the gathered families through prometheus-client's encoders, as Prometheus text
//! 0.0.4 or OpenMetrics 1.0.0, chosen from an `Accept` header; gzip when the client asks.
//!
//! One prometheus-client `Registry` holds one `Collector` that gathers on each encode, so a
//! metric is never registered twice; [`family::merge`] guarantees no series appears twice.

use std::collections::BTreeSet;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::family::{self, Kind};
use super::gatherer::Gatherer;

pub const TEXT_CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The two exposition formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics 1.0.0 text.
    OpenMetrics,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => TEXT_CONTENT_TYPE,
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
        }
    }

    /// Picks the format from an `Accept` header: OpenMetrics when the client rates it at
    /// least as high as the text format (Prometheus asks for OpenMetrics first), text
    /// otherwise, and for a missing or unparseable header.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Text;
        };
        let (mut openmetrics, mut text) = (None::<f32>, None::<f32>);
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or("").to_ascii_lowercase();
            let mut q = 1.0f32;
            let mut version = None;
            for param in parts {
                if let Some((k, v)) = param.split_once('=') {
                    match k.trim().to_ascii_lowercase().as_str() {
                        "q" => q = v.trim().parse().unwrap_or(0.0),
                        "version" => version = Some(v.trim().to_owned()),
                        _ => {}
                    }
                }
            }
            let slot = match media.as_str() {
                "application/openmetrics-text"
                    if version
                        .as_deref()
                        .is_none_or(|v| v == "1.0.0" || v == "0.0.1") =>
                {
                    &mut openmetrics
                }
                "text/plain" if version.as_deref().is_none_or(|v| v == "0.0.4") => &mut text,
                "*/*" | "text/*" => &mut text,
                _ => continue,
            };
            *slot = Some(slot.map_or(q, |old| old.max(q)));
        }
        match (openmetrics, text) {
            (Some(om), t) if om > 0.0 && om >= t.unwrap_or(0.0) => Format::OpenMetrics,
            _ => Format::Text,
        }
    }
}

/// The prometheus-client side: one registry per format, each with one collector that gathers
/// per encode (the two encoders need slightly different input, see `GatherCollector`).
pub struct Exposition {
    text: Registry,
    openmetrics: Registry,
    gatherer: Arc<Gatherer>,
}

/// Feeds the gathered families to a prometheus-client encoder.
///
/// For OpenMetrics it works around two things: prometheus-client 0.26's OpenMetrics encoder
/// writes HELP text unescaped (a newline in a textfile's HELP would break the exposition), so
/// the help is escaped here; and untyped families are declared `gauge` rather than `unknown`,
/// which Prometheus ingests the same way but which `promtool check metrics` (a text-format
/// parser) can read.
#[derive(Debug)]
struct GatherCollector {
    gatherer: Arc<Gatherer>,
    openmetrics: bool,
    /// Leave out the exporter's own `process_*` and `node_scrape_collector_*` metrics (for a
    /// textfile read by a node_exporter, which has its own).
    for_textfile: bool,
    /// Only these collectors (a `collect[]`/`exclude[]` request); `None`: all.
    selected: Option<Arc<BTreeSet<String>>>,
}

impl std::fmt::Debug for Gatherer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gatherer")
            .field("collectors", &self.collector_ids())
            .finish()
    }
}

impl Collector for GatherCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let gathered = self.gatherer.gather_selected(self.selected.as_deref());
        let mut dropped = Vec::new();
        let merged = family::merge(
            gathered.families().filter(|f| {
                !self.for_textfile
                    || !(f.name.starts_with("process_")
                        || f.name.starts_with("node_scrape_collector_"))
            }),
            &mut dropped,
        );
        for d in &dropped {
            tracing::debug!(?d, "dropped a conflicting series");
        }
        for m in merged {
            let family = m.family;
            // prometheus-client appends `_total` to counters; names without it stay untyped so
            // that no series is renamed.
            let (name, metric_type) = match family.kind {
                Kind::Counter => match family.name.strip_suffix("_total") {
                    Some(base) => (base, MetricType::Counter),
                    None => (family.name.as_ref(), MetricType::Unknown),
                },
                Kind::Gauge => (family.name.as_ref(), MetricType::Gauge),
                Kind::Untyped => (family.name.as_ref(), MetricType::Unknown),
            };
            let metric_type = if self.openmetrics && metric_type == MetricType::Unknown {
                MetricType::Gauge
            } else {
                metric_type
            };
            let help = if self.openmetrics {
                escape_openmetrics_help(&family.help)
            } else {
                std::borrow::Cow::Borrowed(family.help.as_ref())
            };
            let mut metric = encoder.encode_descriptor(name, &help, None, metric_type)?;
            for sample in m.samples {
                let mut series = metric.encode_family(&sample.labels)?;
                match metric_type {
                    MetricType::Counter => {
                        series.encode_counter::<NoLabelSet, f64, f64>(&sample.value, None)?
                    }
                    _ => series.encode_gauge(&sample.value)?,
                }
            }
        }
        Ok(())
    }
}

impl Exposition {
    pub fn new(gatherer: Arc<Gatherer>) -> Exposition {
        Exposition::build(gatherer, false)
    }

    /// For a textfile that a node_exporter reads: without the `process_*` and
    /// `node_scrape_collector_*` metrics node_exporter has itself.
    pub fn for_textfile(gatherer: Arc<Gatherer>) -> Exposition {
        Exposition::build(gatherer, true)
    }

    fn build(gatherer: Arc<Gatherer>, for_textfile: bool) -> Exposition {
        Exposition {
            text: registry(&gatherer, false, for_textfile, None),
            openmetrics: registry(&gatherer, true, for_textfile, None),
            gatherer,
        }
    }

    /// The collector names a `collect[]` filter may give.
    pub fn collectors(&self) -> Vec<&str> {
        self.gatherer.exporter_collectors()
    }

    /// As [`Exposition::encode`], with only the `selected` collectors run and shown.
    pub fn encode_selected(
        &self,
        format: Format,
        selected: Arc<BTreeSet<String>>,
        out: &mut String,
    ) -> Result<(), std::fmt::Error> {
        let openmetrics = format == Format::OpenMetrics;
        let registry = registry(&self.gatherer, openmetrics, false, Some(selected));
        encode_registry(format, &registry, out)
    }

    /// Gathers and encodes into `out` (cleared first).
    pub fn encode(&self, format: Format, out: &mut String) -> Result<(), std::fmt::Error> {
        let registry = match format {
            Format::Text => &self.text,
            Format::OpenMetrics => &self.openmetrics,
        };
        encode_registry(format, registry, out)
    }

    pub fn render(&self, format: Format) -> Result<String, std::fmt::Error> {
        let mut out = String::with_capacity(64 * 1024);
        self.encode(format, &mut out)?;
        Ok(out)
    }
}

/// A registry holding one collector that gathers on each encode.
fn registry(
    gatherer: &Arc<Gatherer>,
    openmetrics: bool,
    for_textfile: bool,
    selected: Option<Arc<BTreeSet<String>>>,
) -> Registry {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(GatherCollector {
        gatherer: Arc::clone(gatherer),
        openmetrics,
        for_textfile,
        selected,
    }));
    registry
}

/// Encodes `registry` into `out` (cleared first).
fn encode_registry(
    format: Format,
    registry: &Registry,
    out: &mut String,
) -> Result<(), std::fmt::Error> {
    out.clear();
    match format {
        Format::Text => prometheus_client::encoding::prometheus_text::encode(out, registry),
        Format::OpenMetrics => prometheus_client::encoding::text::encode(out, registry),
    }
}

/// OpenMetrics escapes `\\`, `\n` and `"` in HELP text.
fn escape_openmetrics_help(help: &str) -> std::borrow::Cow<'_, str> {
    if !help.contains(['\\', '\n', '"']) {
        return std::borrow::Cow::Borrowed(help);
    }
    let mut out = String::with_capacity(help.len() + 8);
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Whether an `Accept-Encoding` header accepts gzip (with a non-zero q).
pub fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    accept_encoding.is_some_and(|header| {
        header.split(',').any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let q = parts
                .find_map(|p| p.strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            (name.eq_ignore_ascii_case("gzip") || name == "*") && q > 0.0
        })
    })
}

/// gzip at the fast level: a scrape is compressed once and thrown away.
pub fn gzip(body: &[u8], out: &mut Vec<u8>) -> std::io::Result<()> {
    Gzip::new().compress(body, out)
}

/// A gzip encoder kept across responses: the deflate state (tens of KiB of tables) is reset,
/// not allocated and zeroed again, for each body.
pub struct Gzip {
    deflate: flate2::Compress,
}

impl Default for Gzip {
    fn default() -> Self {
        Self::new()
    }
}

impl Gzip {
    pub fn new() -> Gzip {
        Gzip {
            deflate: flate2::Compress::new(flate2::Compression::fast(), false),
        }
    }

    /// `body` as one gzip member (RFC 1952: header, raw deflate, CRC-32, size) into `out`.
    pub fn compress(&mut self, body: &[u8], out: &mut Vec<u8>) -> std::io::Result<()> {
        // ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=4 (fastest) OS=255 (unknown), as flate2 writes.
        const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255];
        out.clear();
        out.extend_from_slice(&HEADER);
        self.deflate.reset();
        let mut input = body;
        loop {
            out.reserve((input.len() / 2).max(4096));
            let before = self.deflate.total_in();
            let status = self
                .deflate
                .compress_vec(input, out, flate2::FlushCompress::Finish)
                .map_err(std::io::Error::other)?;
            input = &input[(self.deflate.total_in() - before) as usize..];
            if status == flate2::Status::StreamEnd {
                break;
            }
        }
        let mut crc = flate2::Crc::new();
        crc.update(body);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_follows_prometheus_accept_headers() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(Format::negotiate(None), Format::Text);
        assert_eq!(Format::negotiate(Some("*/*")), Format::Text);
        assert_eq!(
            Format::negotiate(Some("text/plain;version=0.0.4")),
            Format::Text
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text; version=1.0.0")),
            Format::OpenMetrics
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;q=0.2,text/plain;q=0.9")),
            Format::Text
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;version=2.0.0")),
            Format::Text
        );
        assert_eq!(
            Format::negotiate(Some(
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
            )),
            Format::Text
        );
    }

    #[test]
    fn gzip_round_trips_and_the_encoder_is_reusable() {
        use std::io::Read;
        let mut encoder = Gzip::new();
        let mut out = Vec::new();
        for body in [
            "node_load1 0.5\n".repeat(5000),
            String::new(),
            "x".repeat(10),
        ] {
            encoder.compress(body.as_bytes(), &mut out).expect("gzip");
            let mut text = String::new();
            flate2::read::GzDecoder::new(&out[..])
                .read_to_string(&mut text)
                .expect("valid gzip");
            assert_eq!(text, body);
        }
    }

    #[test]
    fn gzip_is_detected() {
        assert!(accepts_gzip(Some("gzip")));
        assert!(accepts_gzip(Some("deflate, gzip;q=0.5")));
        assert!(!accepts_gzip(Some("gzip;q=0")));
        assert!(!accepts_gzip(Some("identity")));
        assert!(!accepts_gzip(None));
    }
}
