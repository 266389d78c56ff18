//! `get_url`: a file downloaded over HTTP(S) to `dest`, verified against a SHA-256 checksum
//! when one is given. Planned and run by the download family ([`super::downloads`]).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::contract::{CheckContext, Claim, Hold, Requirement, Resource};
use super::field_rules::absolute;
use super::files;
use crate::diagnostics::Diagnostic;
use crate::model::values::{Duration, Mode, Principal};
use crate::model::{RenderedContent, Spanned};

/// A file downloaded over HTTP or HTTPS.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetUrlTask {
    /// The `http://` or `https://` URL to download (redirects are followed, at most 10).
    pub url: Spanned<String>,
    /// Absolute path of the file to write.
    pub dest: Spanned<String>,
    /// `sha256:<64 hex digits>`, or `sha256:<URL>` of a checksum file (`<hex>  <name>`
    /// lines, read when planning). With a checksum, the file is downloaded when what is there
    /// differs from it, and a download that does not match fails, keeping the old file.
    pub checksum: Option<Spanned<String>>,
    /// HTTP request headers. Values may be secrets: they are never shown.
    #[serde(default)]
    pub headers: BTreeMap<String, Spanned<String>>,
    /// Deadline for the whole transfer (default 10m).
    pub timeout: Option<Spanned<Duration>>,
    /// Without a checksum, download even when the file exists (default false: an existing
    /// file is kept).
    #[serde(default)]
    pub force: bool,
    /// A PEM file of the certificate authorities to trust instead of the host's.
    pub ca_file: Option<Spanned<String>>,
    /// The largest download accepted, in bytes (default 1 GiB).
    pub max_size: Option<u64>,
    pub mode: Option<Spanned<Mode>>,
    pub owner: Option<Spanned<Principal>>,
    pub group: Option<Spanned<Principal>>,
}

crate::model::apply::attributes!(GetUrlTask);

/// A checksum as the task writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checksum {
    /// The SHA-256, lower-case hex.
    Sha256(String),
    /// The URL of a checksum file holding it.
    Sha256Url(String),
}

impl Checksum {
    pub fn parse(text: &str) -> Result<Checksum, String> {
        let Some((algorithm, value)) = text.split_once(':') else {
            return Err("a checksum is written `sha256:<hex>` or `sha256:<URL>`".to_owned());
        };
        if algorithm != "sha256" {
            return Err(format!(
                "`{algorithm}` checksums are not supported: only sha256 is"
            ));
        }
        if value.starts_with("http://") || value.starts_with("https://") {
            return Ok(Checksum::Sha256Url(value.to_owned()));
        }
        if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Checksum::Sha256(value.to_ascii_lowercase()));
        }
        Err("a sha256 checksum is 64 hex digits, or the URL of a checksum file".to_owned())
    }
}

/// Whether a URL is one `get_url` downloads.
pub fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'))
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// An HTTP header name: a token (RFC 9110).
fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Header names that are tokens, values without line breaks (`get_url`, `uri`).
pub fn check_headers(headers: &BTreeMap<String, Spanned<String>>, found: &mut Vec<Diagnostic>) {
    for (name, value) in headers {
        if !is_header_name(name) {
            found.push(
                Diagnostic::error(format!("`{name}` is not an HTTP header name"))
                    .at(value.span)
                    .help("use letters, digits and `-`, e.g. `Authorization`"),
            );
        }
        if value.value.contains(['\r', '\n', '\0']) {
            found.push(
                Diagnostic::error(format!(
                    "the value of header `{name}` has a line break or NUL"
                ))
                .at(value.span),
            );
        }
    }
}

impl Resource for GetUrlTask {
    const SECRET_FIELDS: &'static [&'static str] = &["headers"];

    fn claims(&self) -> Vec<Claim> {
        files::claims(&self.dest, Hold::Owns)
    }

    fn requires(&self) -> Vec<Requirement> {
        files::requires(&self.dest.value, Some(self))
    }

    fn default_id(&self) -> String {
        format!("get_url:{}", self.dest.value)
    }

    fn check(&self, _: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        absolute(&self.dest, "dest", found);
        if !is_http_url(&self.url.value) {
            found.push(
                Diagnostic::error(format!(
                    "`url` `{}` is not an http:// or https:// URL",
                    self.url.value
                ))
                .at(self.url.span)
                .help("write the whole URL, e.g. https://example.com/app-1.2.tar.gz"),
            );
        }
        if let Some(checksum) = &self.checksum
            && let Err(why) = Checksum::parse(&checksum.value)
        {
            found.push(
                Diagnostic::error(format!("invalid `checksum`: {why}"))
                    .at(checksum.span)
                    .help("e.g. `checksum: \"sha256:9f86d0…\"` or `checksum: \"sha256:https://example.com/SHA256SUMS\"`"),
            );
        }
        if let Some(ca_file) = &self.ca_file {
            absolute(ca_file, "ca_file", found);
        }
        check_headers(&self.headers, found);
        if let Some(t) = &self.timeout
            && t.value.0.is_zero()
        {
            found.push(
                Diagnostic::error("`timeout` must be longer than 0s")
                    .at(t.span)
                    .help("e.g. `timeout: 5m`"),
            );
        }
        if self.max_size == Some(0) {
            found
                .push(Diagnostic::error("`max_size` must be more than 0 bytes").at(self.dest.span));
        }
    }

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        self.headers.values().any(|v| v.sensitive)
    }

    fn family() -> &'static dyn super::Family {
        &super::downloads::DOWNLOADS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_are_sha256_hex_or_a_url() {
        let hex = "A".repeat(64);
        assert_eq!(
            Checksum::parse(&format!("sha256:{hex}")),
            Ok(Checksum::Sha256("a".repeat(64)))
        );
        assert_eq!(
            Checksum::parse("sha256:https://x.example/SUMS"),
            Ok(Checksum::Sha256Url("https://x.example/SUMS".to_owned()))
        );
        for bad in ["md5:abc", "sha256:abc", "abc", "sha256:ftp://x"] {
            assert!(Checksum::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_http_urls_are_downloaded() {
        assert!(is_http_url("https://example.com/a"));
        assert!(is_http_url("http://127.0.0.1:8080/a"));
        for bad in [
            "ftp://x/a",
            "file:///etc/passwd",
            "https://",
            "https:///x",
            "http://a b",
        ] {
            assert!(!is_http_url(bad), "{bad}");
        }
    }
}
