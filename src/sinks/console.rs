//! The console sink: each event as a line on driftless's standard output or error, as it is
//! or as a JSON line.

use std::io::Write;

use super::{Batch, SendError, Sink};
use crate::error::ResourceError;
use crate::model::sinks::{ConsoleFormat, ConsoleSinkConfig, ConsoleStream};

pub struct ConsoleSink {
    stream: ConsoleStream,
    format: ConsoleFormat,
}

impl ConsoleSink {
    pub fn new(config: &ConsoleSinkConfig) -> ConsoleSink {
        ConsoleSink {
            stream: config.stream,
            format: config.format,
        }
    }

    /// The batch as the lines this sink prints.
    fn render(&self, batch: &Batch) -> Vec<u8> {
        let mut out = Vec::with_capacity(batch.size() + batch.events.len() * 3);
        for event in &batch.events {
            let event = event.strip_suffix(b"\n").unwrap_or(event);
            match self.format {
                // A pretty-printed document is printed as it is, lines and all.
                ConsoleFormat::Text => out.extend_from_slice(event),
                ConsoleFormat::Json => match serde_json::from_slice::<serde_json::Value>(event) {
                    // A JSON document on one line.
                    Ok(json) => out.extend_from_slice(json.to_string().as_bytes()),
                    // A line of text as a JSON string.
                    Err(_) => out.extend_from_slice(
                        serde_json::Value::String(String::from_utf8_lossy(event).into_owned())
                            .to_string()
                            .as_bytes(),
                    ),
                },
            }
            out.push(b'\n');
        }
        out
    }
}

impl Sink for ConsoleSink {
    fn send(&self, batch: &Batch) -> Result<(), SendError> {
        let bytes = self.render(batch);
        // One write under the stream's lock: lines of two batches never interleave.
        let written = match self.stream {
            ConsoleStream::Stdout => std::io::stdout().lock().write_all(&bytes),
            ConsoleStream::Stderr => std::io::stderr().lock().write_all(&bytes),
        };
        written.map_err(|e| SendError::from(ResourceError::io(self.describe(), &e)))
    }

    fn describe(&self) -> String {
        match self.stream {
            ConsoleStream::Stdout => "console (stdout)".to_owned(),
            ConsoleStream::Stderr => "console (stderr)".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_put_a_document_on_one_line_and_quote_text() {
        let sink = ConsoleSink {
            stream: ConsoleStream::Stdout,
            format: ConsoleFormat::Json,
        };
        let batch = Batch {
            events: vec![b"{\n  \"a\": 1\n}\n".to_vec(), b"plain \"text\"".to_vec()],
            time: std::time::UNIX_EPOCH,
            id: "1".to_owned(),
            document: false,
        };
        assert_eq!(
            String::from_utf8(sink.render(&batch)).expect("utf-8"),
            "{\"a\":1}\n\"plain \\\"text\\\"\"\n"
        );
    }
}
