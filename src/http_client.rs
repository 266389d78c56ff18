//! The one way driftless builds an HTTP(S) client (`get_url` downloads, the http and s3
//! sinks): ureq with rustls on ring (no C crypto), trusting the host's CA bundle (or a
//! `ca_file`, or Mozilla's roots where the host has no bundle), with one deadline per request.

use std::io::Read;
use std::time::Duration;

use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

use crate::error::ResourceError;

/// Where the host keeps its CA bundle (Debian and Ubuntu, Fedora and RHEL, openSUSE, Alpine
/// and the BSDs): the first that exists is used.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// Largest CA bundle read.
const MAX_BUNDLE_BYTES: u64 = 8 << 20;

/// How a client behaves.
pub struct ClientOptions<'a> {
    /// A PEM file of the CAs to trust instead of the host's.
    pub ca_file: Option<&'a str>,
    /// For a whole request: connecting, sending, the response and its body.
    pub timeout: Duration,
    /// Redirects followed (0: a redirect is the answer).
    pub max_redirects: u32,
    /// Whether a status ≥ 400 is an `Err(ureq::Error::StatusCode)` rather than a response
    /// whose body can be read (the sinks quote the receiver's reason).
    pub status_as_error: bool,
}

/// A client (cheap to clone; connections are kept and reused).
pub fn agent(options: &ClientOptions<'_>) -> Result<ureq::Agent, ResourceError> {
    let tls = TlsConfig::builder()
        .root_certs(roots(options.ca_file)?)
        .build();
    Ok(ureq::Agent::config_builder()
        .tls_config(tls)
        .timeout_global(Some(options.timeout))
        .max_redirects(options.max_redirects)
        .http_status_as_error(options.status_as_error)
        .user_agent(concat!("driftless/", env!("CARGO_PKG_VERSION")))
        .build()
        .into())
}

/// The trusted roots: `ca_file`'s certificates, else the host's bundle, else webpki-roots.
fn roots(ca_file: Option<&str>) -> Result<RootCerts, ResourceError> {
    let path = match ca_file {
        Some(path) => path,
        None => match SYSTEM_BUNDLES
            .iter()
            .find(|p| std::path::Path::new(p).is_file())
        {
            Some(path) => path,
            None => return Ok(RootCerts::WebPki),
        },
    };
    let mut file = crate::fsutil::open_regular_file(std::path::Path::new(path))
        .map_err(|e| ResourceError::io(format_args!("cannot read the CA file {path}"), &e))?;
    let mut pem = Vec::new();
    (&mut file)
        .take(MAX_BUNDLE_BYTES)
        .read_to_end(&mut pem)
        .map_err(|e| ResourceError::io(format_args!("cannot read the CA file {path}"), &e))?;
    let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(cert)) => Some(cert),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(ResourceError::permanent(format!(
            "the CA file {path} holds no PEM certificate"
        )));
    }
    Ok(RootCerts::new_with_certs(&certs))
}
