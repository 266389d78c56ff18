//! Exposition: the gathered families as Prometheus text 0.0.4 or OpenMetrics 1.0.0 (written
//! by [`text_format`]), chosen from an `Accept` header; gzip when the client asks.
//!
//! [`family::merge`] guarantees no series appears twice.

use std::sync::Arc;

use super::collectors::Selection;
use super::family::{self, Family};
use super::gatherer::Gatherer;
use super::text_format::{self, Dialect};

pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
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

/// Renders the gathered families of one gatherer.
pub struct Exposition {
    gatherer: Arc<Gatherer>,
    /// Leave out the exporter's own `process_*` and `node_scrape_collector_*` metrics, and
    /// what the `textfile` collector read (for a textfile read by a node_exporter, which has
    /// its own and reads its textfile directory itself: with the default set reading that
    /// directory, driftless would otherwise copy its own last file into the next).
    for_textfile: bool,
    /// The node_exporter collectors the gatherer is made of, listed once: every request
    /// with a `collect[]` filter is checked against them.
    collectors: Vec<&'static str>,
    extra: Option<Arc<dyn ExtraFamilies>>,
}

/// Metrics of the process that are not a collector's (the agent's runs), added to every
/// exposition.
pub trait ExtraFamilies: Send + Sync {
    fn families(&self) -> Vec<Family>;
}

impl std::fmt::Debug for Gatherer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gatherer")
            .field("collectors", &self.collector_ids())
            .finish()
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
            collectors: gatherer.exporter_collectors(),
            gatherer,
            for_textfile,
            extra: None,
        }
    }

    /// With `extra`'s families in every exposition.
    pub fn with_extra(mut self, extra: Option<Arc<dyn ExtraFamilies>>) -> Exposition {
        self.extra = extra;
        self
    }

    /// The collector names a `collect[]` filter may give.
    pub fn collectors(&self) -> &[&'static str] {
        &self.collectors
    }

    /// Gathers and encodes into `out` (cleared first).
    pub fn encode(&self, format: Format, out: &mut String) -> Result<(), std::fmt::Error> {
        self.encode_selected(format, &Selection::all(), out)
    }

    /// Gathers only the node_exporter collectors `selection` wants (node_exporter's
    /// `collect[]`/`exclude[]` parameters) and encodes into `out` (cleared first).
    pub fn encode_selected(
        &self,
        format: Format,
        selection: &Selection,
        out: &mut String,
    ) -> Result<(), std::fmt::Error> {
        out.clear();
        let gathered = if self.for_textfile {
            self.gatherer
                .gather_selected(&selection.also_excluding("textfile"))
        } else {
            self.gatherer.gather_selected(selection)
        };
        let extra = self
            .extra
            .as_ref()
            .map(|e| e.families())
            .unwrap_or_default();
        let mut dropped = Vec::new();
        let merged = family::merge(
            gathered.families().chain(&extra).filter(|f| {
                !self.for_textfile
                    || !(f.name.starts_with("process_")
                        || f.name.starts_with("node_scrape_collector_"))
            }),
            &mut dropped,
        );
        for d in &dropped {
            tracing::debug!(?d, "dropped a conflicting series");
        }
        let dialect = match format {
            Format::Text => Dialect::Prometheus,
            Format::OpenMetrics => Dialect::OpenMetrics,
        };
        text_format::write(&merged, dialect, out);
        Ok(())
    }

    pub fn render(&self, format: Format) -> Result<String, std::fmt::Error> {
        let mut out = String::with_capacity(64 * 1024);
        self.encode(format, &mut out)?;
        Ok(out)
    }
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
