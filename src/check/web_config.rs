//! Reading node_exporter's web config file (`--web.config.file`,
//! `settings.metrics.web_config`) with the config front end: the YAML reader, then the typed
//! node deserializer (every unknown field reported, with a suggestion, at its line and
//! column), then [`crate::metrics::web_config`]'s checks. Unknown fields are errors here, not
//! warnings: exporter-toolkit reads the file strictly.

use std::path::Path;

use super::de::{self, DeContext};
use crate::config::Value;
use crate::diagnostics::{Diagnostic, Diagnostics, Severity, SourceMap, Span};
use crate::metrics::web_config::{WebConfig, WebConfigError, WebConfigFile, check_written};

/// Reads and checks the file at `path`; relative paths in it are relative to its directory,
/// as in exporter-toolkit.
pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
    let mut sources = SourceMap::default();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            let mut diagnostics = Diagnostics::default();
            diagnostics.push(Diagnostic::error(format!(
                "cannot read the web config file {}: {e}",
                path.display()
            )));
            return Err(WebConfigError {
                diagnostics,
                sources,
            });
        }
    };
    let file = sources.add(path.display().to_string(), path.to_owned(), text.clone());
    let base = path.parent().unwrap_or(Path::new("."));
    let place = |span: Span| {
        let (line, column) = sources.line_col(span.file, span.start);
        format!("{}:{line}:{column}", path.display())
    };
    let mut found = Vec::new();
    let config = match crate::config::parse_yaml(&text, file, "YAML") {
        Err(errors) => {
            found.extend(errors);
            None
        }
        // An empty file is a valid config that changes nothing, as in exporter-toolkit.
        Ok(root) if matches!(root.value, Value::Null) => Some(WebConfig::default()),
        Ok(root) => {
            let cx = DeContext::new("the web config".to_owned(), &[], Vec::new());
            let written: Option<WebConfigFile> = de::deserialize(&root, &cx, &mut found);
            written.and_then(|written| check_written(&root, &written, base, &place, &mut found))
        }
    };
    let mut diagnostics = Diagnostics::default();
    for mut d in found {
        d.severity = Severity::Error;
        diagnostics.push(d);
    }
    match config {
        Some(config) if !diagnostics.has_errors() => Ok(config),
        _ => Err(WebConfigError {
            diagnostics,
            sources,
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::metrics::rate_limit::Rate;

    fn load_text(text: &str) -> Result<WebConfig, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().join("web-config.yml");
        std::fs::write(&path, text).map_err(|e| e.to_string())?;
        load(&path).map_err(|e| crate::diagnostics::render_human(&e.diagnostics, &e.sources, false))
    }

    #[test]
    fn an_empty_file_changes_nothing() {
        let config = load_text("").unwrap_or_default();
        assert!(config.tls.is_none() && config.users.is_empty() && config.headers.is_empty());
    }

    #[test]
    fn a_plaintext_password_is_refused_without_being_shown() {
        let err = load_text("basic_auth_users:\n  alice: hunter2hunter2\n")
            .err()
            .unwrap_or_default();
        assert!(err.contains("not a bcrypt hash"), "{err}");
        assert!(err.contains("web-config.yml:2:3"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn unknown_fields_and_headers_are_refused() {
        let err = load_text("tls_server_config:\n  cert_fil: x\n")
            .err()
            .unwrap_or_default();
        assert!(err.contains("cert_fil"), "{err}");
        let err = load_text("http_server_config:\n  headers:\n    X-Foo: bar\n")
            .err()
            .unwrap_or_default();
        assert!(err.contains("can not be configured"), "{err}");
        let err = load_text("http_server_config:\n  headers:\n    X-Frame-Options: allow\n")
            .err()
            .unwrap_or_default();
        assert!(err.contains("Expected one of"), "{err}");
    }

    #[test]
    fn users_headers_and_rate_limit_are_read() {
        let hash = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";
        let config = load_text(&format!(
            "basic_auth_users:\n  alice: '{hash}'\nhttp_server_config:\n  http2: false\n  headers:\n    X-Frame-Options: deny\nrate_limit:\n  burst: 5\n  interval: 1s\n"
        ));
        let config = config.unwrap_or_default();
        assert_eq!(config.users.get("alice").map(String::as_str), Some(hash));
        assert_eq!(
            config.headers,
            vec![("X-Frame-Options".to_owned(), "deny".to_owned())]
        );
        assert_eq!(
            config.rate_limit,
            Some(Rate {
                burst: 5,
                interval: Duration::from_secs(1)
            })
        );
    }
}
