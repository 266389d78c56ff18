//! TLS for the `/metrics` endpoint's tests: a test CA with a server certificate for 127.0.0.1
//! and a client certificate (made with the `openssl` command, see
//! [`crate::http_support::make_certs`]), a web-config.yml with a bcrypt-hashed user, and an
//! HTTPS client (rustls) that can present the client certificate.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::facts_support::{Response, parse_response};
use crate::http_support::{make_certs, openssl};

pub const USER: &str = "prometheus";
pub const PASSWORD: &str = "correct horse battery staple";

/// A directory with `ca.pem`, `leaf.pem`/`leaf.key` (the server, IP 127.0.0.1),
/// `client.pem`/`client.key` (signed by the CA) and `stranger.pem`/`stranger.key` (a
/// self-signed client).
pub struct Certs {
    pub dir: tempfile::TempDir,
}

impl Certs {
    pub fn new() -> Certs {
        let dir = tempfile::tempdir().expect("tempdir");
        make_certs(dir.path());
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let mut client = vec!["req"];
        client.extend(ec);
        client.extend([
            "-keyout",
            "client.key",
            "-out",
            "client.csr",
            "-subj",
            "/CN=scraper",
        ]);
        openssl(dir.path(), &client);
        std::fs::write(
            dir.path().join("client.ext"),
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n",
        )
        .expect("write client.ext");
        openssl(
            dir.path(),
            &[
                "x509",
                "-req",
                "-in",
                "client.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "client.pem",
                "-days",
                "2",
                "-extfile",
                "client.ext",
            ],
        );
        let mut stranger = vec!["req", "-x509"];
        stranger.extend(ec);
        stranger.extend([
            "-keyout",
            "stranger.key",
            "-out",
            "stranger.pem",
            "-days",
            "2",
            "-subj",
            "/CN=stranger",
        ]);
        openssl(dir.path(), &stranger);
        Certs { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `web-config.yml` next to the certificates (so relative paths in it resolve
    /// there) and returns its path.
    pub fn web_config(&self, text: &str) -> PathBuf {
        let path = self.path("web-config.yml");
        std::fs::write(&path, text).expect("write web-config.yml");
        path
    }
}

/// A bcrypt hash of [`PASSWORD`] (cost 10, as `htpasswd -B` makes).
pub fn password_hash() -> String {
    bcrypt::hash_with_salt(PASSWORD, 10, [42u8; 16])
        .map(|h| h.format_for_version(bcrypt::Version::TwoY))
        .expect("bcrypt hash")
}

/// `Authorization: Basic …` for a user and password.
pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// A TLS client trusting `ca`, presenting `client` (certificate and key PEM files) if given.
pub fn client_config(ca: &Path, client: Option<(&Path, &Path)>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).expect("read CA") {
        roots.add(cert.expect("CA PEM")).expect("add CA");
    }
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots);
    let config = match client {
        Some((cert, key)) => {
            let chain: Vec<_> = CertificateDer::pem_file_iter(cert)
                .expect("read client cert")
                .collect::<Result<_, _>>()
                .expect("client cert PEM");
            let key = PrivateKeyDer::from_pem_file(key).expect("client key");
            builder
                .with_client_auth_cert(chain, key)
                .expect("client auth")
        }
        None => builder.with_no_client_auth(),
    };
    Arc::new(config)
}

/// One HTTPS request (Connection: close); `Err` with why when the TLS connection or the
/// exchange fails.
pub fn https(
    port: u16,
    config: &Arc<rustls::ClientConfig>,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Response, String> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(20)))
        .map_err(|e| e.to_string())?;
    let name = ServerName::try_from("127.0.0.1").map_err(|e| e.to_string())?;
    let conn =
        rustls::ClientConnection::new(Arc::clone(config), name).map_err(|e| e.to_string())?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    tls.write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    match tls.read_to_end(&mut raw) {
        Ok(_) => {}
        // A server that closes without close_notify after a complete answer.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(e) => return Err(e.to_string()),
    }
    if !raw.windows(4).any(|w| w == b"\r\n\r\n") {
        return Err(format!("no answer ({} bytes)", raw.len()));
    }
    Ok(parse_response(&raw))
}
