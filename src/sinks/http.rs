//! The http sink: one POST per document or batch, as JSON, NDJSON or an Elasticsearch /
//! OpenSearch `_bulk` body, optionally gzipped, with basic, bearer or header auth read from
//! secrets. A send is acknowledged by a 2xx (and, for `_bulk`, by no failed item).
//!
//! Delivery is at least once: a batch the receiver may have kept in part (a timeout after it
//! read the body, a `_bulk` answer with some items refused as 429) is sent again whole by the
//! retry layer, so a receiver can see an event twice, never zero times while the sink reports
//! success.

use std::time::Duration;

use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::transport::{self, Redactor};
use super::{Batch, BuildContext, SendError, Sink, expand_name};
use crate::error::ResourceError;
use crate::model::sinks::{HttpAuth, HttpFormat, HttpSinkConfig};

/// A request's deadline when the config names none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The most of a `_bulk` answer read (one line per item of a batch).
const MAX_BULK_ANSWER: u64 = 64 << 20;

/// The most of a refusal's body read (a snippet of it is quoted).
const MAX_REFUSAL_BODY: u64 = 4096;

pub struct HttpSink {
    url: String,
    format: HttpFormat,
    /// The `_bulk` index pattern.
    index: Option<String>,
    gzip: bool,
    host: String,
    /// The header that authenticates, and its value (a credential).
    auth: Option<(String, SecretString)>,
    agent: ureq::Agent,
    timeout: Duration,
    redactor: Redactor,
}

impl HttpSink {
    pub fn new(config: &HttpSinkConfig, cx: &BuildContext<'_>) -> Result<Self, ResourceError> {
        let auth = match &config.auth {
            None => None,
            Some(HttpAuth::Basic { user, password }) => {
                let password = transport::read_secret(cx, &password.secret, "auth.password")?;
                let pair = format!("{user}:{}", password.expose_secret());
                let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
                Some((
                    "Authorization".to_owned(),
                    SecretString::from(format!("Basic {encoded}")),
                    vec![password, SecretString::from(encoded)],
                ))
            }
            Some(HttpAuth::Bearer { token }) => {
                let token = transport::read_secret(cx, &token.secret, "auth.token")?;
                let header = SecretString::from(format!("Bearer {}", token.expose_secret()));
                Some(("Authorization".to_owned(), header, vec![token]))
            }
            Some(HttpAuth::Header {
                name,
                prefix,
                value,
            }) => {
                let value = transport::read_secret(cx, &value.secret, "auth.value")?;
                let header = SecretString::from(format!(
                    "{}{}",
                    prefix.as_deref().unwrap_or(""),
                    value.expose_secret()
                ));
                Some((name.clone(), header, vec![value]))
            }
        };
        let timeout = config.timeout.map_or(DEFAULT_TIMEOUT, |d| d.0);
        let (auth, redacted) = match auth {
            Some((name, header, redacted)) => (Some((name, header)), redacted),
            None => (None, Vec::new()),
        };
        Ok(HttpSink {
            url: config.url.clone(),
            format: config.format,
            index: config.index.clone(),
            gzip: config.gzip,
            host: cx.host.to_owned(),
            auth,
            agent: transport::client(config.ca_file.as_deref(), timeout)?,
            timeout,
            redactor: Redactor::new(redacted),
        })
    }

    fn post(&self, batch: &Batch) -> Result<(), SendError> {
        let index = match (&self.index, self.format) {
            (Some(pattern), HttpFormat::ElasticsearchBulk) => {
                Some(expand_name(pattern, batch, &self.host)?)
            }
            _ => None,
        };
        let body = body(self.format, batch, index.as_deref());
        let content_type = match self.format {
            HttpFormat::Json => "application/json",
            HttpFormat::Ndjson | HttpFormat::ElasticsearchBulk => "application/x-ndjson",
        };
        let mut request = self
            .agent
            .post(&self.url)
            .header("Content-Type", content_type);
        let body = if self.gzip {
            request = request.header("Content-Encoding", "gzip");
            super::directory::gzip(&body)
                .map_err(|e| ResourceError::io("cannot compress the body", &e))?
        } else {
            body
        };
        if let Some((name, value)) = &self.auth {
            request = request.header(name.as_str(), value.expose_secret());
        }
        let what = "POST";
        let mut response = request
            .send(&body[..])
            .map_err(|e| transport::request_failure(what, self.timeout, e))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let retry_after = transport::retry_after(&response);
            let detail = transport::read_body(response.body_mut(), MAX_REFUSAL_BODY)
                .map(|b| transport::snippet(&b))
                .unwrap_or_default();
            let transient = transport::status_is_transient(status);
            return Err(transport::refusal(
                what,
                status,
                transient,
                retry_after,
                &detail,
            ));
        }
        if self.format == HttpFormat::ElasticsearchBulk {
            let answer =
                transport::read_body(response.body_mut(), MAX_BULK_ANSWER).map_err(|e| {
                    ResourceError::transient(format!("cannot read the _bulk answer: {e}"))
                })?;
            return bulk_outcome(&answer, batch.events.len()).map_err(SendError::from);
        }
        Ok(())
    }
}

impl Sink for HttpSink {
    fn send(&self, batch: &Batch) -> Result<(), SendError> {
        self.post(batch).map_err(|e| self.redactor.error(e))
    }

    fn describe(&self) -> String {
        format!("http {}", self.url)
    }

    /// A HEAD of the URL with the credentials: any answer but a refusal of them (401, 403)
    /// or a server error means the receiver is there and takes this sink's requests.
    fn health(&self) -> Result<(), ResourceError> {
        let mut request = self.agent.head(&self.url);
        if let Some((name, value)) = &self.auth {
            request = request.header(name.as_str(), value.expose_secret());
        }
        let what = "HEAD";
        let result = match request.call() {
            Err(e) => Err(transport::request_failure(what, self.timeout, e)),
            Ok(response) => {
                let status = response.status().as_u16();
                if status == 401 || status == 403 || status >= 500 {
                    let transient = transport::status_is_transient(status);
                    Err(transport::refusal(what, status, transient, None, ""))
                } else {
                    Ok(())
                }
            }
        };
        result.map_err(|e| self.redactor.error(e).error)
    }
}

/// The request body of `batch` in `format` (before compression). JSON formats need JSON
/// events: an event that is not (a plain log line) is sent as a JSON string (`json`) or as
/// `{"message": …}` (`_bulk`, whose documents are objects).
pub fn body(format: HttpFormat, batch: &Batch, index: Option<&str>) -> Vec<u8> {
    match format {
        HttpFormat::Ndjson => batch.lines(),
        HttpFormat::Json if batch.document && batch.events.len() == 1 => batch.events[0].clone(),
        HttpFormat::Json => {
            let mut out = Vec::with_capacity(batch.size() + batch.events.len() + 2);
            out.push(b'[');
            for (i, event) in batch.events.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_json(&mut out, event, false);
            }
            out.push(b']');
            out
        }
        HttpFormat::ElasticsearchBulk => {
            let action = serde_json::json!({ "index": { "_index": index.unwrap_or_default() } });
            let action = action.to_string();
            let mut out =
                Vec::with_capacity(batch.size() + batch.events.len() * (action.len() + 2));
            for event in &batch.events {
                out.extend_from_slice(action.as_bytes());
                out.push(b'\n');
                push_json(&mut out, event, true);
                out.push(b'\n');
            }
            out
        }
    }
}

/// Appends `event` if it is JSON (an object, when `object`), else the event as a JSON value
/// that carries its text.
fn push_json(out: &mut Vec<u8>, event: &[u8], object: bool) {
    let event = event.trim_ascii();
    let is_object = event.first() == Some(&b'{');
    let valid = (is_object || !object)
        && serde_json::from_slice::<serde::de::IgnoredAny>(event).is_ok()
        // One line: NDJSON framing.
        && !event.contains(&b'\n');
    if valid {
        out.extend_from_slice(event);
        return;
    }
    let text = String::from_utf8_lossy(event);
    let value = if object {
        serde_json::json!({ "message": text })
    } else {
        serde_json::Value::String(text.into_owned())
    };
    out.extend_from_slice(value.to_string().as_bytes());
}

/// A `_bulk` answer (HTTP 200 even when items failed).
#[derive(Deserialize)]
struct BulkAnswer {
    #[serde(default)]
    errors: bool,
    #[serde(default)]
    items: Vec<std::collections::HashMap<String, BulkItem>>,
}

#[derive(Deserialize)]
struct BulkItem {
    status: u16,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

/// Whether a `_bulk` answer acknowledges all `sent` documents. Items refused as 429 or 5xx
/// (a full queue, a shard moving) make the batch transient: the retry layer sends it again
/// whole, and the documents already indexed are indexed again (at least once). Items refused
/// otherwise (a mapping conflict) fail it for good: sending them again cannot help.
fn bulk_outcome(answer: &[u8], sent: usize) -> Result<(), ResourceError> {
    let answer: BulkAnswer = serde_json::from_slice(answer)
        .map_err(|e| ResourceError::permanent(format!("the answer is not a _bulk answer: {e}")))?;
    if !answer.errors {
        return Ok(());
    }
    let failed: Vec<&BulkItem> = (answer.items.iter())
        .flat_map(|item| item.values())
        .filter(|item| !(200..300).contains(&item.status))
        .collect();
    let transient = failed
        .iter()
        .filter(|item| transport::status_is_transient(item.status))
        .count();
    let example = failed.first().map_or(String::new(), |item| {
        let reason = item.error.as_ref().map_or(String::new(), |e| {
            let kind = e.get("type").and_then(|t| t.as_str()).unwrap_or("");
            let reason = e.get("reason").and_then(|r| r.as_str()).unwrap_or("");
            let text = format!("{kind}: {reason}");
            format!(
                " {}",
                transport::snippet(text.trim_end_matches(": ").as_bytes())
            )
        });
        format!(" (first: {}{reason})", item.status)
    });
    let message = format!(
        "_bulk refused {} of {sent} documents{example}",
        failed.len()
    );
    if transient > 0 {
        Err(ResourceError::transient(format!(
            "{message}; {transient} of them may pass later: the batch is sent again"
        )))
    } else {
        Err(ResourceError::permanent(message))
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    fn stream(events: &[&str]) -> Batch {
        Batch {
            events: events.iter().map(|e| e.as_bytes().to_vec()).collect(),
            time: UNIX_EPOCH,
            id: "1".to_owned(),
            document: false,
        }
    }

    #[test]
    fn json_sends_a_document_as_it_is_and_a_batch_as_one_array() {
        let document = Batch::document(b"{\"run\": 1}\n".to_vec(), UNIX_EPOCH, "r".to_owned());
        assert_eq!(body(HttpFormat::Json, &document, None), b"{\"run\": 1}\n");
        let batch = stream(&["{\"a\":1}", "plain \"line\"", "[2]"]);
        assert_eq!(
            String::from_utf8(body(HttpFormat::Json, &batch, None)).expect("utf-8"),
            r#"[{"a":1},"plain \"line\"",[2]]"#
        );
    }

    #[test]
    fn ndjson_is_one_event_per_line() {
        let batch = stream(&["{\"a\":1}", "{\"a\":2}\n"]);
        assert_eq!(
            body(HttpFormat::Ndjson, &batch, None),
            b"{\"a\":1}\n{\"a\":2}\n"
        );
    }

    #[test]
    fn bulk_puts_an_index_action_before_each_document() {
        let batch = stream(&["{\"a\":1}", "not json", "[1]"]);
        let text = String::from_utf8(body(
            HttpFormat::ElasticsearchBulk,
            &batch,
            Some("logs-1970.01.01"),
        ))
        .expect("utf-8");
        assert_eq!(
            text,
            "{\"index\":{\"_index\":\"logs-1970.01.01\"}}\n{\"a\":1}\n\
             {\"index\":{\"_index\":\"logs-1970.01.01\"}}\n{\"message\":\"not json\"}\n\
             {\"index\":{\"_index\":\"logs-1970.01.01\"}}\n{\"message\":\"[1]\"}\n"
        );
    }

    #[test]
    fn a_bulk_answer_without_errors_acknowledges() {
        let answer = br#"{"took":3,"errors":false,"items":[{"index":{"status":201}}]}"#;
        bulk_outcome(answer, 1).expect("acknowledged");
    }

    #[test]
    fn bulk_items_refused_as_429_make_the_batch_transient() {
        let answer = br#"{"errors":true,"items":[
            {"index":{"status":201}},
            {"index":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"queue full"}}},
            {"index":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"bad field"}}}]}"#;
        let error = bulk_outcome(answer, 3).expect_err("two refused");
        assert!(error.is_transient());
        assert_eq!(
            error.message,
            "_bulk refused 2 of 3 documents (first: 429 es_rejected_execution_exception: queue \
             full); 1 of them may pass later: the batch is sent again"
        );
    }

    #[test]
    fn bulk_items_refused_only_for_good_fail_the_batch_for_good() {
        let answer = br#"{"errors":true,"items":[
            {"create":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"bad"}}}]}"#;
        let error = bulk_outcome(answer, 1).expect_err("refused");
        assert!(!error.is_transient());
        assert_eq!(
            error.message,
            "_bulk refused 1 of 1 documents (first: 400 mapper_parsing_exception: bad)"
        );
        let error = bulk_outcome(b"<html>", 1).expect_err("not json");
        assert!(
            error
                .message
                .starts_with("the answer is not a _bulk answer")
        );
    }
}
