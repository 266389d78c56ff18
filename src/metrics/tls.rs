//! A web config's `tls_server_config` as a rustls server config (ring provider), with
//! exporter-toolkit's meaning for each field, or errors at the fields that cannot be honoured.
//!
//! - `min_version`/`max_version`: TLS12 and TLS13 (defaults TLS12 and TLS13, as in
//!   exporter-toolkit). TLS10 and TLS11 are refused: rustls does not speak them.
//! - `cipher_suites`: as in Go, they choose the TLS 1.2 suites (TLS 1.3's are always all on);
//!   Go's names of suites rustls does not implement (CBC, RSA key exchange) are refused.
//! - `curve_preferences`: X25519, CurveP256, CurveP384; CurveP521 is refused (ring has none).
//! - `prefer_server_cipher_suites` (default true): the server's order of suites wins.
//! - `client_auth_type`: Go's five policies. Those that verify (`VerifyClientCertIfGiven`,
//!   `RequireAndVerifyClientCert`) need `client_ca_file`/`client_ca` (Go would fall back to
//!   the system's CAs; driftless does not guess); those that do not (`RequestClientCert`,
//!   `RequireAnyClientCert`) still check that the client holds the certificate's key.
//! - `client_allowed_sans` is refused (rustls exposes no SAN list to match exactly).
//!
//! Certificates and keys are read once, when the server starts (exporter-toolkit rereads them
//! on each connection): a renewed certificate takes a restart.

use std::path::Path;
use std::sync::Arc;

use rustls::DistinguishedName;
use rustls::SignatureScheme;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms, ring};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ServerConfig, WebPkiClientVerifier};
use rustls::{DigitallySignedStruct, RootCertStore, SupportedCipherSuite};

use super::web_config::{TlsServerConfig, resolve};
use crate::diagnostics::{Diagnostic, Span};
use crate::model::Spanned;

/// What [`server_config`] reads.
pub(super) struct TlsOptions<'a> {
    pub config: &'a TlsServerConfig,
    /// The web config file's directory: relative paths are relative to it.
    pub base: &'a Path,
    /// Where the inline `key:` is (`path:line:col`): errors about it name the place but show
    /// no line of the file, which would show the key.
    pub key_place: Option<String>,
}

/// Go's names of the TLS 1.2 suites rustls (ring) implements.
fn tls12_suite(name: &str) -> Option<SupportedCipherSuite> {
    use ring::cipher_suite as s;
    Some(match name {
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" => s::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" => s::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
        | "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305" => {
            s::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
        }
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" => s::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" => s::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" | "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305" => {
            s::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
        }
        _ => return None,
    })
}

/// Go's TLS 1.3 suite names: accepted in `cipher_suites` and, as in Go, without effect.
const TLS13_NAMES: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
];

/// Suites Go knows (`tls.CipherSuites()`) that rustls does not implement.
const GO_ONLY_SUITES: &[&str] = &[
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
];

#[derive(Clone, Copy, PartialEq, PartialOrd)]
enum Version {
    Tls10,
    Tls11,
    Tls12,
    Tls13,
}

fn version(field: &str, v: &Spanned<String>, found: &mut Vec<Diagnostic>) -> Option<Version> {
    let parsed = match v.value.as_str() {
        "TLS10" => Version::Tls10,
        "TLS11" => Version::Tls11,
        "TLS12" => Version::Tls12,
        "TLS13" => Version::Tls13,
        other => {
            found.push(
                Diagnostic::error(format!("unknown TLS version: {other}"))
                    .at(v.span)
                    .help("one of TLS10, TLS11, TLS12, TLS13"),
            );
            return None;
        }
    };
    if parsed < Version::Tls12 {
        found.push(
            Diagnostic::error(format!("`{field}: {}` cannot be honoured", v.value))
                .at(v.span)
                .help("driftless's TLS (rustls) speaks TLS 1.2 and 1.3 only: write TLS12 or TLS13"),
        );
        return None;
    }
    Some(parsed)
}

/// The rustls server config, or every error found.
pub(super) fn server_config(
    options: &TlsOptions<'_>,
) -> Result<Arc<ServerConfig>, Vec<Diagnostic>> {
    let c = options.config;
    let mut found = Vec::new();
    let min = c.min_version.as_ref().map_or(Some(Version::Tls12), |v| {
        version("min_version", v, &mut found)
    });
    let max = c.max_version.as_ref().map_or(Some(Version::Tls13), |v| {
        version("max_version", v, &mut found)
    });
    if let (Some(min), Some(max)) = (min, max)
        && min > max
        && let Some(at) = c.min_version.as_ref()
    {
        found.push(
            Diagnostic::error("`min_version` is above `max_version`: no TLS version is left")
                .at(at.span),
        );
    }
    if let Some(sans) = &c.client_allowed_sans {
        found.push(
            Diagnostic::error("`client_allowed_sans` cannot be honoured")
                .at(sans.span)
                .help(
                    "driftless cannot match a client certificate's SANs exactly as exporter-toolkit \
                     does; give the allowed clients their own CA and use `client_ca_file`",
                ),
        );
    }
    // ring, not aws-lc (the project builds no C crypto library); ring has no post-quantum
    // key exchange, which is what this deprecation is about.
    #[allow(deprecated)]
    let mut provider = ring::default_provider();
    if let Some(names) = &c.cipher_suites {
        let mut tls12 = Vec::new();
        for name in names {
            match tls12_suite(&name.value) {
                Some(suite) => tls12.push(suite),
                None if TLS13_NAMES.contains(&name.value.as_str()) => {}
                None if GO_ONLY_SUITES.contains(&name.value.as_str()) => found.push(
                    Diagnostic::error(format!("cipher suite {} cannot be honoured", name.value))
                        .at(name.span)
                        .help(format!(
                            "rustls does not implement it; the TLS 1.2 suites it has: {}",
                            rustls_tls12_names()
                        )),
                ),
                None => found.push(
                    Diagnostic::error(format!("unknown cipher: {}", name.value))
                        .at(name.span)
                        .help(format!("the TLS 1.2 suites: {}", rustls_tls12_names())),
                ),
            }
        }
        // TLS 1.3's suites are not configurable (as in Go); TLS 1.2's are the list given.
        provider
            .cipher_suites
            .retain(|s| matches!(s, SupportedCipherSuite::Tls13(_)));
        provider.cipher_suites.extend(tls12);
    }
    if let Some(names) = &c.curve_preferences {
        let mut groups = Vec::new();
        for name in names {
            match name.value.as_str() {
                "X25519" => groups.push(ring::kx_group::X25519),
                "CurveP256" => groups.push(ring::kx_group::SECP256R1),
                "CurveP384" => groups.push(ring::kx_group::SECP384R1),
                "CurveP521" => found.push(
                    Diagnostic::error("curve CurveP521 cannot be honoured")
                        .at(name.span)
                        .help("rustls (ring) has no P-521; use X25519, CurveP256 or CurveP384"),
                ),
                other => found.push(
                    Diagnostic::error(format!("unknown curve: {other}"))
                        .at(name.span)
                        .help("one of X25519, CurveP256, CurveP384, CurveP521"),
                ),
            }
        }
        provider.kx_groups = groups;
    }
    let provider = Arc::new(provider);
    let chain = certificate_chain(c, options.base, &mut found);
    let key = private_key(c, options, &mut found);
    let verifier = client_verifier(c, options.base, &provider, &mut found);
    let (Some(min), Some(max), Some(chain), Some(key), Some(verifier)) =
        (min, max, chain, key, verifier)
    else {
        return Err(found);
    };
    if !found.is_empty() {
        return Err(found);
    }
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = [
        (Version::Tls12, &rustls::version::TLS12),
        (Version::Tls13, &rustls::version::TLS13),
    ]
    .into_iter()
    .filter(|(v, _)| *v >= min && *v <= max)
    .map(|(_, v)| v)
    .collect();
    let at = cert_span(c);
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .map_err(|e| {
            vec![Diagnostic::error(format!("the TLS settings do not fit together: {e}")).at(at)]
        })?;
    let mut config = builder
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| {
            vec![
                Diagnostic::error(format!("the certificate and key cannot be used: {e}"))
                    .at(at)
                    .help("the key must be the private key of the first certificate"),
            ]
        })?;
    config.ignore_client_order = c.prefer_server_cipher_suites.unwrap_or(true);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn rustls_tls12_names() -> &'static str {
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, \
     TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, \
     TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
}

/// Where to point at for errors about the certificate as a whole.
fn cert_span(c: &TlsServerConfig) -> Span {
    c.cert_file
        .as_ref()
        .or(c.cert.as_ref())
        .or(c.key_file.as_ref())
        .or(c.client_auth_type.as_ref())
        .or(c.client_ca_file.as_ref())
        .map(|s| s.span)
        .unwrap_or(Span::new(crate::diagnostics::FileId(0), 0, 0))
}

/// Where an error about a PEM text points: the field's value, or (an inline secret) only a
/// `path:line:col` in the message.
enum Origin {
    At(Span),
    Secret(String),
}

impl Origin {
    fn locate(&self, diagnostic: Diagnostic) -> Diagnostic {
        match self {
            Origin::At(span) => diagnostic.at(*span),
            Origin::Secret(place) => Diagnostic {
                message: format!("{place}: {}", diagnostic.message),
                ..diagnostic
            },
        }
    }
}

/// The PEM text of a field given as a file (`*_file`) or inline; `None` when neither is set.
/// `inline_secret` is the place of an inline text that is a secret.
fn pem_text(
    file: Option<&Spanned<String>>,
    inline: Option<&Spanned<String>>,
    inline_secret: Option<&str>,
    base: &Path,
    found: &mut Vec<Diagnostic>,
) -> Option<(Vec<u8>, Origin)> {
    if let Some(file) = file {
        let path = resolve(base, &file.value);
        return match std::fs::read(&path) {
            Ok(bytes) => Some((bytes, Origin::At(file.span))),
            Err(e) => {
                found.push(
                    Diagnostic::error(format!("cannot read {}: {e}", path.display())).at(file.span),
                );
                None
            }
        };
    }
    inline.map(|text| {
        let origin = match inline_secret {
            Some(place) => Origin::Secret(place.to_owned()),
            None => Origin::At(text.span),
        };
        (text.value.clone().into_bytes(), origin)
    })
}

fn certificate_chain(
    c: &TlsServerConfig,
    base: &Path,
    found: &mut Vec<Diagnostic>,
) -> Option<Vec<CertificateDer<'static>>> {
    let Some((pem, at)) = pem_text(c.cert_file.as_ref(), c.cert.as_ref(), None, base, found) else {
        if c.cert_file.is_none() && c.cert.is_none() {
            found.push(
                Diagnostic::error("missing one of cert or cert_file")
                    .at(cert_span(c))
                    .help("TLS is on (a `tls_server_config` file or policy is set) and needs the server's certificate"),
            );
        }
        return None;
    };
    let chain: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&pem).collect();
    match chain {
        Ok(chain) if !chain.is_empty() => Some(chain),
        Ok(_) => {
            found.push(at.locate(Diagnostic::error("no PEM certificate found")));
            None
        }
        Err(e) => {
            found.push(at.locate(Diagnostic::error(format!(
                "the certificate is not valid PEM: {e}"
            ))));
            None
        }
    }
}

fn private_key(
    c: &TlsServerConfig,
    options: &TlsOptions<'_>,
    found: &mut Vec<Diagnostic>,
) -> Option<PrivateKeyDer<'static>> {
    // Without the key's place (cannot happen: the key was read from the file), the file's.
    let secret_place = options.key_place.as_deref().unwrap_or("the web config");
    let Some((pem, at)) = pem_text(
        c.key_file.as_ref(),
        c.key.as_ref(),
        Some(secret_place),
        options.base,
        found,
    ) else {
        if c.key_file.is_none() && c.key.is_none() {
            found.push(Diagnostic::error("missing one of key or key_file").at(cert_span(c)));
        }
        return None;
    };
    match PrivateKeyDer::from_pem_slice(&pem) {
        Ok(key) => Some(key),
        // The error names the PEM problem, never the key's bytes.
        Err(e) => {
            found.push(
                at.locate(
                    Diagnostic::error(format!("no usable PEM private key: {e}"))
                        .help("a PKCS#8, PKCS#1 (RSA) or SEC1 (EC) key in PEM"),
                ),
            );
            None
        }
    }
}

/// Go's `ClientAuthType` names.
#[derive(Clone, Copy, PartialEq)]
enum ClientAuth {
    None,
    Request,
    RequireAny,
    VerifyIfGiven,
    RequireAndVerify,
}

fn client_verifier(
    c: &TlsServerConfig,
    base: &Path,
    provider: &Arc<CryptoProvider>,
    found: &mut Vec<Diagnostic>,
) -> Option<Arc<dyn ClientCertVerifier>> {
    let policy = match c.client_auth_type.as_ref().map(|t| t.value.as_str()) {
        None | Some("") | Some("NoClientCert") => ClientAuth::None,
        Some("RequestClientCert") => ClientAuth::Request,
        Some("RequireAnyClientCert") | Some("RequireClientCert") => ClientAuth::RequireAny,
        Some("VerifyClientCertIfGiven") => ClientAuth::VerifyIfGiven,
        Some("RequireAndVerifyClientCert") => ClientAuth::RequireAndVerify,
        Some(other) => {
            found.push(
                Diagnostic::error(format!("invalid ClientAuth: {other}"))
                    .at(c.client_auth_type.as_ref().map_or(cert_span(c), |t| t.span))
                    .help("one of NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert"),
            );
            return None;
        }
    };
    let ca = pem_text(
        c.client_ca_file.as_ref(),
        c.client_ca.as_ref(),
        None,
        base,
        found,
    );
    let ca_given = c.client_ca_file.is_some() || c.client_ca.is_some();
    let policy_at = c.client_auth_type.as_ref().map_or(cert_span(c), |t| t.span);
    match policy {
        ClientAuth::None if ca_given => {
            found.push(
                Diagnostic::error("client CA's have been configured without a Client Auth Policy")
                    .at(c
                        .client_ca_file
                        .as_ref()
                        .or(c.client_ca.as_ref())
                        .map_or(policy_at, |s| s.span))
                    .help("set `client_auth_type`, e.g. RequireAndVerifyClientCert"),
            );
            None
        }
        ClientAuth::None => Some(WebPkiClientVerifier::no_client_auth()),
        ClientAuth::Request | ClientAuth::RequireAny => Some(Arc::new(AnyClientCert {
            mandatory: policy == ClientAuth::RequireAny,
            algorithms: provider.signature_verification_algorithms,
        })),
        ClientAuth::VerifyIfGiven | ClientAuth::RequireAndVerify => {
            let Some((pem, at)) = ca else {
                if !ca_given {
                    found.push(
                        Diagnostic::error(format!(
                            "`client_auth_type: {}` needs the client CAs",
                            c.client_auth_type.as_ref().map_or("", |t| t.value.as_str())
                        ))
                        .at(policy_at)
                        .help("set `client_ca_file` (driftless does not verify clients against the system's CAs)"),
                    );
                }
                return None;
            };
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let added = cert
                    .map_err(|e| e.to_string())
                    .and_then(|cert| roots.add(cert).map_err(|e| e.to_string()));
                if let Err(e) = added {
                    found.push(at.locate(Diagnostic::error(format!(
                        "a client CA cannot be used: {e}"
                    ))));
                    return None;
                }
            }
            let builder =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider));
            let builder = if policy == ClientAuth::VerifyIfGiven {
                builder.allow_unauthenticated()
            } else {
                builder
            };
            match builder.build() {
                Ok(verifier) => Some(verifier),
                Err(e) => {
                    found.push(at.locate(Diagnostic::error(format!(
                        "the client CAs cannot be used: {e}"
                    ))));
                    None
                }
            }
        }
    }
}

/// Go's `RequestClientCert` and `RequireAnyClientCert`: any certificate is taken without
/// checking who issued it, but the client must still prove it holds the certificate's key.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
