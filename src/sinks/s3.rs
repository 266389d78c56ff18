//! The s3 sink: one object per document or batch in an S3 bucket (AWS, or an S3-compatible
//! store at a custom `endpoint`), signed with rusty-s3 (SigV4, presigned URLs: the secret key
//! never travels) and sent with ureq. Objects are gzipped by default; an object larger than
//! the part size goes up as a multipart upload, aborted if any step fails. A send is
//! acknowledged by a 200 with the object's ETag; an object appears whole or not at all.
//!
//! Delivery is at least once: a send the store may have completed without our seeing the
//! answer (a timeout) is put again by the retry layer, under the same key (the key is made
//! from the batch's time and id), so a retry replaces the object rather than adding one.

use std::time::Duration;

use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use secrecy::ExposeSecret;

use super::transport::{self, Redactor};
use super::{Batch, BuildContext, SendError, Sink, expand_name};
use crate::error::ResourceError;
use crate::model::sinks::{S3_DEFAULT_PART_SIZE, S3_MIN_PART_SIZE, S3SinkConfig};

/// A request's deadline when the config names none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

pub const DEFAULT_REGION: &str = "us-east-1";

/// The rest of the key after the prefix, without the `.gz` that `gzip` adds.
pub const DEFAULT_KEY: &str = "%Y/%m/%d/%H%M%SZ-{host}-{id}.json";

/// S3's most parts in one upload.
const MAX_PARTS: u64 = 10_000;

/// The most of an answer's body read (an error document, an upload id).
const MAX_ANSWER: u64 = 64 << 10;

/// How long a signature stays valid beyond the request's deadline.
const SIGNATURE_MARGIN: Duration = Duration::from_secs(15 * 60);

pub struct S3Sink {
    bucket: Bucket,
    credentials: Credentials,
    /// Prefix and key pattern, `.gz` added with `gzip`.
    key: String,
    gzip: bool,
    host: String,
    part_size: u64,
    agent: ureq::Agent,
    timeout: Duration,
    redactor: Redactor,
    shown: String,
}

/// One request to the store, with its body.
#[derive(Clone, Copy)]
enum Request<'a> {
    Put(&'a [u8]),
    Post(Option<&'a [u8]>),
    Delete,
    Head,
}

/// One answer of the store, read.
struct Answer {
    status: u16,
    etag: Option<String>,
    retry_after: Option<Duration>,
    body: Vec<u8>,
}

impl S3Sink {
    pub fn new(config: &S3SinkConfig, cx: &BuildContext<'_>) -> Result<Self, ResourceError> {
        let name = |r: &Option<crate::model::sinks::SecretRef>, default: &str| {
            r.as_ref().map_or(default.to_owned(), |r| r.secret.clone())
        };
        let key_id = transport::read_secret(
            cx,
            &name(&config.access_key_id, "AWS_ACCESS_KEY_ID"),
            "access_key_id",
        )?;
        let secret = transport::read_secret(
            cx,
            &name(&config.secret_access_key, "AWS_SECRET_ACCESS_KEY"),
            "secret_access_key",
        )?;
        // A session token named in the config must be set; the default one only if it is.
        let token = match &config.session_token {
            Some(r) => Some(transport::read_secret(cx, &r.secret, "session_token")?),
            None => cx.secrets.get("AWS_SESSION_TOKEN").ok().flatten(),
        };
        let credentials = match &token {
            Some(token) => Credentials::new_with_token(
                key_id.expose_secret(),
                secret.expose_secret(),
                token.expose_secret(),
            ),
            None => Credentials::new(key_id.expose_secret(), secret.expose_secret()),
        };
        let region = config.region.as_deref().unwrap_or(DEFAULT_REGION);
        // A custom endpoint is addressed by path (S3-compatible stores rarely resolve
        // bucket host names); AWS by virtual host, except for a bucket name with dots, which
        // would not match AWS's wildcard certificate.
        let (endpoint, style) = match &config.endpoint {
            Some(endpoint) => (endpoint.clone(), UrlStyle::Path),
            None if config.bucket.contains('.') => {
                (format!("https://s3.{region}.amazonaws.com"), UrlStyle::Path)
            }
            None => (
                format!("https://s3.{region}.amazonaws.com"),
                UrlStyle::VirtualHost,
            ),
        };
        let invalid = |why: String| ResourceError::permanent(format!("`endpoint`: {why}"));
        let url = endpoint
            .parse::<url::Url>()
            .map_err(|e| invalid(format!("`{endpoint}`: {e}")))?;
        let bucket = Bucket::new(url, style, config.bucket.clone(), region.to_owned())
            .map_err(|e| invalid(format!("`{endpoint}` with bucket {}: {e:?}", config.bucket)))?;
        let gzip = config.gzip.unwrap_or(true);
        let mut key = format!(
            "{}{}",
            config.prefix,
            config.key.as_deref().unwrap_or(DEFAULT_KEY)
        );
        if gzip {
            key.push_str(".gz");
        }
        let timeout = config.timeout.map_or(DEFAULT_TIMEOUT, |d| d.0);
        let mut redacted = vec![key_id, secret];
        redacted.extend(token);
        Ok(S3Sink {
            bucket,
            credentials,
            key,
            gzip,
            host: cx.host.to_owned(),
            part_size: config
                .part_size
                .unwrap_or(S3_DEFAULT_PART_SIZE)
                .max(S3_MIN_PART_SIZE),
            agent: transport::client(config.ca_file.as_deref(), timeout)?,
            timeout,
            redactor: Redactor::new(redacted),
            shown: crate::model::sinks::SinkConfig::S3(config.clone()).destination(),
        })
    }

    fn expiry(&self) -> Duration {
        self.timeout + SIGNATURE_MARGIN
    }

    /// Sends one signed request and reads its answer; `what` names it in messages (never the
    /// URL: its query holds the access key id and the session token).
    fn exchange(
        &self,
        request: Request<'_>,
        url: &url::Url,
        content_type: Option<&str>,
        what: &str,
    ) -> Result<Answer, SendError> {
        let url = url.as_str();
        let with_type = |mut r: ureq::RequestBuilder<ureq::typestate::WithBody>| {
            if let Some(content_type) = content_type {
                r = r.header("Content-Type", content_type);
            }
            r
        };
        let result = match request {
            Request::Put(body) => with_type(self.agent.put(url)).send(body),
            Request::Post(Some(body)) => with_type(self.agent.post(url)).send(body),
            Request::Post(None) => with_type(self.agent.post(url)).send_empty(),
            Request::Delete => self.agent.delete(url).call(),
            Request::Head => self.agent.head(url).call(),
        };
        let mut response = result.map_err(|e| transport::request_failure(what, self.timeout, e))?;
        let status = response.status().as_u16();
        let etag = (response.headers().get("etag"))
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let retry_after = transport::retry_after(&response);
        let body = if matches!(request, Request::Head) {
            Vec::new()
        } else {
            transport::read_body(response.body_mut(), MAX_ANSWER).map_err(|e| {
                SendError::from(ResourceError::transient(format!(
                    "{what}: cannot read the answer: {e}"
                )))
            })?
        };
        Ok(Answer {
            status,
            etag,
            retry_after,
            body,
        })
    }

    /// `answer` unless it refuses (a status other than 2xx, or an error document in a 200,
    /// which CompleteMultipartUpload may send).
    fn accepted(&self, answer: Answer, what: &str) -> Result<Answer, SendError> {
        let error_document = answer.body.windows(7).any(|w| w == b"<Error>");
        if (200..300).contains(&answer.status) && !error_document {
            return Ok(answer);
        }
        let code = xml_field(&answer.body, "Code");
        let message = xml_field(&answer.body, "Message");
        let detail = match (&code, &message) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.clone(),
            (None, _) => transport::snippet(&answer.body),
        };
        let transient = transport::status_is_transient(answer.status)
            || code
                .as_deref()
                .is_some_and(|c| TRANSIENT_CODES.contains(&c));
        Err(transport::refusal(
            what,
            answer.status,
            transient,
            answer.retry_after,
            &detail,
        ))
    }

    fn put(&self, batch: &Batch) -> Result<(), SendError> {
        let key = expand_name(&self.key, batch, &self.host)?;
        let mut bytes = batch.lines();
        let content_type = if self.gzip {
            bytes = super::directory::gzip(&bytes)
                .map_err(|e| ResourceError::io("cannot compress the object", &e))?;
            "application/gzip"
        } else if batch.document {
            "application/json"
        } else {
            "application/x-ndjson"
        };
        if bytes.len() as u64 > self.part_size {
            return self.put_in_parts(&key, &bytes, content_type);
        }
        let what = format!("PUT {key}");
        let url = (self.bucket)
            .put_object(Some(&self.credentials), &key)
            .sign(self.expiry());
        let answer = self.exchange(Request::Put(&bytes), &url, Some(content_type), &what)?;
        let answer = self.accepted(answer, &what)?;
        acknowledged(answer.etag.as_deref(), &what)
    }

    /// CreateMultipartUpload, UploadPart for each part, CompleteMultipartUpload; the upload
    /// is aborted when a step fails, so no part is left billed in the bucket.
    fn put_in_parts(&self, key: &str, bytes: &[u8], content_type: &str) -> Result<(), SendError> {
        let create = format!("CreateMultipartUpload {key}");
        let url = (self.bucket)
            .create_multipart_upload(Some(&self.credentials), key)
            .sign(self.expiry());
        let answer = self.exchange(Request::Post(None), &url, Some(content_type), &create)?;
        let answer = self.accepted(answer, &create)?;
        let text = String::from_utf8_lossy(&answer.body);
        let created =
            rusty_s3::actions::CreateMultipartUpload::parse_response(&text).map_err(|e| {
                SendError::from(ResourceError::permanent(format!(
                    "{create}: the answer holds no upload id: {e}"
                )))
            })?;
        let upload_id = created.upload_id();
        let result = self.upload_parts(key, upload_id, bytes);
        if result.is_err() {
            let abort = format!("AbortMultipartUpload {key}");
            let url = (self.bucket)
                .abort_multipart_upload(Some(&self.credentials), key, upload_id)
                .sign(self.expiry());
            let aborted = self
                .exchange(Request::Delete, &url, None, &abort)
                .and_then(|a| self.accepted(a, &abort));
            if let Err(e) = aborted {
                tracing::warn!(
                    sink = %self.shown,
                    error = %self.redactor.text(&e.error.message),
                    "the upload's parts stay in the bucket until a lifecycle rule removes them"
                );
            }
        }
        result
    }

    fn upload_parts(&self, key: &str, upload_id: &str, bytes: &[u8]) -> Result<(), SendError> {
        let part_size = self.part_size.max((bytes.len() as u64).div_ceil(MAX_PARTS));
        let part_size = usize::try_from(part_size).unwrap_or(usize::MAX);
        let mut etags = Vec::new();
        for (i, part) in bytes.chunks(part_size).enumerate() {
            let number = u16::try_from(i + 1)
                .map_err(|_| ResourceError::permanent("more than 10,000 parts"))?;
            let what = format!("UploadPart {number} of {key}");
            let url = (self.bucket)
                .upload_part(Some(&self.credentials), key, number, upload_id)
                .sign(self.expiry());
            let answer = self.exchange(Request::Put(part), &url, None, &what)?;
            let answer = self.accepted(answer, &what)?;
            acknowledged(answer.etag.as_deref(), &what)?;
            etags.push(answer.etag.unwrap_or_default());
        }
        let what = format!("CompleteMultipartUpload {key}");
        let action = (self.bucket).complete_multipart_upload(
            Some(&self.credentials),
            key,
            upload_id,
            etags.iter().map(String::as_str),
        );
        let url = action.sign(self.expiry());
        let body = action.body();
        let answer = self.exchange(
            Request::Post(Some(body.as_bytes())),
            &url,
            Some("application/xml"),
            &what,
        )?;
        let answer = self.accepted(answer, &what)?;
        let text = String::from_utf8_lossy(&answer.body);
        let completed = rusty_s3::actions::CompleteMultipartUploadResponse::parse(&text)
            .map(|r| r.etag().to_owned())
            .ok();
        acknowledged(completed.as_deref().or(answer.etag.as_deref()), &what)
    }
}

/// S3 error codes a retry may get past, whatever their status (RequestTimeout is a 400).
const TRANSIENT_CODES: &[&str] = &[
    "RequestTimeout",
    "SlowDown",
    "InternalError",
    "ServiceUnavailable",
    "OperationAborted",
];

/// A 2xx acknowledges an object only with its ETag.
fn acknowledged(etag: Option<&str>, what: &str) -> Result<(), SendError> {
    match etag {
        Some(etag) if !etag.is_empty() => Ok(()),
        _ => Err(SendError::from(ResourceError::transient(format!(
            "{what}: the store answered without an ETag, so the object is not known to be kept"
        )))),
    }
}

/// The text of `<field>…</field>` in an S3 error document, unescaped, bounded.
fn xml_field(body: &[u8], field: &str) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let open = format!("<{field}>");
    let start = text.find(&open)? + open.len();
    let end = start + text[start..].find(&format!("</{field}>"))?;
    let value = text[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&");
    Some(transport::snippet(value.as_bytes()))
}

impl Sink for S3Sink {
    fn send(&self, batch: &Batch) -> Result<(), SendError> {
        self.put(batch).map_err(|e| self.redactor.error(e))
    }

    fn describe(&self) -> String {
        self.shown.clone()
    }

    /// A HEAD of the bucket: it exists and the credentials may use it.
    fn health(&self) -> Result<(), ResourceError> {
        let what = "HEAD bucket";
        let url = (self.bucket)
            .head_bucket(Some(&self.credentials))
            .sign(self.expiry());
        let answer = self
            .exchange(Request::Head, &url, None, what)
            .map_err(|e| self.redactor.error(e).error)?;
        // A HEAD answer has no error document: say what its status means.
        let detail = match answer.status {
            200..=299 => return Ok(()),
            301 => "the bucket is in another region (`region`)",
            400 | 403 => "the credentials are refused, or may not use this bucket",
            404 => "NoSuchBucket: the bucket does not exist",
            _ => "",
        };
        let transient = transport::status_is_transient(answer.status);
        Err(transport::refusal(what, answer.status, transient, answer.retry_after, detail).error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_document_gives_its_code_and_message() {
        let body = b"<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code>\
            <Message>The specified bucket does not exist &amp; never did</Message></Error>";
        assert_eq!(xml_field(body, "Code").as_deref(), Some("NoSuchBucket"));
        assert_eq!(
            xml_field(body, "Message").as_deref(),
            Some("The specified bucket does not exist & never did")
        );
        assert_eq!(xml_field(body, "Resource"), None);
    }

    #[test]
    fn an_answer_without_an_etag_is_not_an_acknowledgement() {
        let error = acknowledged(None, "PUT k").expect_err("no etag");
        assert!(error.error.is_transient());
        acknowledged(Some("\"abc\""), "s3").expect("etag");
    }
}
