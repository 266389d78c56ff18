//! `uri`: an HTTP(S) request — a `GET` or `HEAD` observed when planning (it changes nothing),
//! any other method sent when the node runs unless its `creates`/`removes` guard skips it.
//! Planned and run by the request family ([`super::requests`]).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::contract::{CheckContext, Claim, Reason, Requirement, Resource, Thing};
use super::field_rules::absolute;
use crate::diagnostics::Diagnostic;
use crate::model::values::Duration;
use crate::model::{RenderedContent, Spanned};

/// The methods a `uri` task sends.
pub const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// An HTTP or HTTPS request, its answer checked against the statuses expected.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UriTask {
    /// The `http://` or `https://` URL. Shown everywhere: put credentials in `headers` or
    /// `url_password`, never in the URL.
    pub url: Spanned<String>,
    /// `GET` (default), `HEAD`, `POST`, `PUT`, `PATCH`, `DELETE` or `OPTIONS`. A `GET` or
    /// `HEAD` is sent when planning and changes nothing; any other method is sent when the
    /// node runs.
    pub method: Option<Spanned<String>>,
    /// Request headers. Values may be secrets: they are never shown.
    #[serde(default)]
    pub headers: BTreeMap<String, Spanned<String>>,
    /// The request body: a string, or with `body_format: json` any value (sent as JSON), or
    /// with `body_format: form-urlencoded` a mapping. May be a secret.
    pub body: Option<Spanned<serde_json::Value>>,
    /// How `body` is encoded: `raw` (default: the string as it is), `json` or
    /// `form-urlencoded`; the last two set `Content-Type` unless `headers` does.
    pub body_format: Option<BodyFormat>,
    /// The status or statuses that mean success (default 200); any other fails the node.
    pub status_code: Option<Spanned<StatusCodes>>,
    /// Keep the response body (up to 1 MiB) as `content` in the registered result.
    #[serde(default)]
    pub return_content: bool,
    /// Skip the request when this path exists.
    pub creates: Option<Spanned<String>>,
    /// Skip the request when this path does not exist.
    pub removes: Option<Spanned<String>>,
    /// Deadline for the whole request, body included (default 30s).
    pub timeout: Option<Spanned<Duration>>,
    /// User name for HTTP basic authentication.
    pub url_username: Option<Spanned<String>>,
    /// Password for HTTP basic authentication: always hidden, as a secret.
    pub url_password: Option<Spanned<String>>,
    /// Accepted as Ansible writes it: the credentials are always sent with the first request
    /// (there is no answer to a `401` challenge).
    #[serde(default)]
    pub force_basic_auth: bool,
    /// Must be true (the default): certificates are always verified. Trust a private CA with
    /// `ca_path` instead.
    pub validate_certs: Option<Spanned<bool>>,
    /// A PEM file of the certificate authorities to trust instead of the host's.
    pub ca_path: Option<Spanned<String>>,
}

/// How a `uri` body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum BodyFormat {
    Raw,
    Json,
    FormUrlencoded,
}

/// One status, or a list of them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum StatusCodes {
    One(u16),
    Many(Vec<u16>),
}

impl StatusCodes {
    pub fn as_list(&self) -> Vec<u16> {
        match self {
            StatusCodes::One(code) => vec![*code],
            StatusCodes::Many(codes) => codes.clone(),
        }
    }
}

impl UriTask {
    /// The method, upper-cased; `GET` when none is given.
    pub fn method(&self) -> String {
        self.method
            .as_ref()
            .map_or_else(|| "GET".to_owned(), |m| m.value.to_ascii_uppercase())
    }

    /// The statuses that mean success.
    pub fn expected(&self) -> Vec<u16> {
        self.status_code
            .as_ref()
            .map_or_else(|| vec![200], |s| s.value.as_list())
    }

    /// The body as sent, and the `Content-Type` its format implies.
    pub fn encoded_body(&self) -> Result<Option<(String, Option<&'static str>)>, String> {
        let Some(body) = &self.body else {
            return Ok(None);
        };
        let format = self.body_format.unwrap_or(BodyFormat::Raw);
        let encoded = match (format, &body.value) {
            (_, serde_json::Value::String(text)) => text.clone(),
            (BodyFormat::Raw, _) => {
                return Err(
                    "a `raw` body is a string: set `body_format: json` to send a value as JSON"
                        .to_owned(),
                );
            }
            (BodyFormat::Json, value) => value.to_string(),
            (BodyFormat::FormUrlencoded, serde_json::Value::Object(fields)) => {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                for (name, value) in fields {
                    let text = match value {
                        serde_json::Value::String(s) => s.clone(),
                        serde_json::Value::Number(_) | serde_json::Value::Bool(_) => {
                            value.to_string()
                        }
                        _ => {
                            return Err(format!(
                                "form field `{name}` is not a string, number or boolean"
                            ));
                        }
                    };
                    form.append_pair(name, &text);
                }
                form.finish()
            }
            (BodyFormat::FormUrlencoded, _) => {
                return Err("a `form-urlencoded` body is a mapping of fields".to_owned());
            }
        };
        let content_type = match format {
            BodyFormat::Raw => None,
            BodyFormat::Json => Some("application/json"),
            BodyFormat::FormUrlencoded => Some("application/x-www-form-urlencoded"),
        };
        Ok(Some((encoded, content_type)))
    }
}

impl Resource for UriTask {
    const SECRET_FIELDS: &'static [&'static str] = &["headers", "body", "url_password"];
    const RESULT_FIELDS: &'static [&'static str] = &["status", "url", "content", "json", "msg"];

    fn claims(&self) -> Vec<Claim> {
        Vec::new()
    }

    fn requires(&self) -> Vec<Requirement> {
        [&self.creates, &self.removes]
            .into_iter()
            .flatten()
            .map(|path| Requirement {
                thing: Thing::path(&path.value),
                reason: Reason::CommandPath,
                nearest_ancestor: true,
            })
            .collect()
    }

    fn default_id(&self) -> String {
        format!("uri:{} {}", self.method(), self.url.value)
    }

    fn check(&self, _: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        if !super::get_url::is_http_url(&self.url.value)
            || url::Url::parse(&self.url.value).is_err()
        {
            found.push(
                Diagnostic::error(format!(
                    "`url` `{}` is not an http:// or https:// URL",
                    self.url.value
                ))
                .at(self.url.span)
                .help("write the whole URL, e.g. http://127.0.0.1:8080/health"),
            );
        }
        if let Some(method) = &self.method
            && !METHODS.contains(&method.value.to_ascii_uppercase().as_str())
        {
            found.push(
                Diagnostic::error(format!("`{}` is not a method `uri` sends", method.value))
                    .at(method.span)
                    .help(format!("use one of {}", METHODS.join(", "))),
            );
        }
        if let Some(codes) = &self.status_code {
            let list = codes.value.as_list();
            if list.is_empty() {
                found.push(
                    Diagnostic::error("`status_code` lists no status")
                        .at(codes.span)
                        .help("e.g. `status_code: [200, 201]`"),
                );
            }
            for code in list.iter().filter(|c| !(100..=599).contains(*c)) {
                found.push(
                    Diagnostic::error(format!("{code} is not an HTTP status (100 to 599)"))
                        .at(codes.span)
                        .help("e.g. `status_code: 200` or `status_code: [200, 204]`"),
                );
            }
        }
        if let (Some(body), Err(why)) = (&self.body, self.encoded_body()) {
            found.push(Diagnostic::error(format!("invalid `body`: {why}")).at(body.span));
        }
        if let Some(body) = &self.body
            && matches!(self.method().as_str(), "GET" | "HEAD")
        {
            found.push(
                Diagnostic::error(format!("a {} request has no body", self.method()))
                    .at(body.span)
                    .help("send it with `method: POST` (or PUT, PATCH)"),
            );
        }
        super::get_url::check_headers(&self.headers, found);
        for (field, path) in [
            ("creates", &self.creates),
            ("removes", &self.removes),
            ("ca_path", &self.ca_path),
        ] {
            if let Some(path) = path {
                absolute(path, field, found);
            }
        }
        if let Some(t) = &self.timeout
            && t.value.0.is_zero()
        {
            found.push(
                Diagnostic::error("`timeout` must be longer than 0s")
                    .at(t.span)
                    .help("e.g. `timeout: 30s`"),
            );
        }
        if let Some(verify) = &self.validate_certs
            && !verify.value
        {
            found.push(
                Diagnostic::error(
                    "certificates are always verified: `validate_certs: false` is not supported",
                )
                .at(verify.span)
                .help("trust the server's certificate authority with `ca_path: /path/to/ca.pem`"),
            );
        }
        if let Some(user) = &self.url_username
            && user.value.contains(':')
        {
            found.push(Diagnostic::error("a basic-auth user name cannot hold `:`").at(user.span));
        }
        if let (Some(password), None) = (&self.url_password, &self.url_username) {
            found.push(Diagnostic::error("`url_password` needs `url_username`").at(password.span));
        }
    }

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        self.headers.values().any(|v| v.sensitive)
            || self.body.as_ref().is_some_and(|b| b.sensitive)
            || self.url_password.is_some()
    }

    fn family() -> &'static dyn super::Family {
        &super::requests::REQUESTS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(body: serde_json::Value, format: Option<BodyFormat>) -> UriTask {
        UriTask {
            url: Spanned::unplaced("http://127.0.0.1/".to_owned()),
            method: Some(Spanned::unplaced("POST".to_owned())),
            headers: BTreeMap::new(),
            body: Some(Spanned::unplaced(body)),
            body_format: format,
            status_code: None,
            return_content: false,
            creates: None,
            removes: None,
            timeout: None,
            url_username: None,
            url_password: None,
            force_basic_auth: false,
            validate_certs: None,
            ca_path: None,
        }
    }

    #[test]
    fn bodies_are_encoded_by_their_format() {
        let json = task(serde_json::json!({"a": [1, 2]}), Some(BodyFormat::Json));
        assert_eq!(
            json.encoded_body(),
            Ok(Some((
                r#"{"a":[1,2]}"#.to_owned(),
                Some("application/json")
            )))
        );
        let form = task(
            serde_json::json!({"q": "a b", "n": 3, "ok": true}),
            Some(BodyFormat::FormUrlencoded),
        );
        assert_eq!(
            form.encoded_body().map(|b| b.map(|(text, _)| text)),
            Ok(Some("n=3&ok=true&q=a+b".to_owned()))
        );
        let raw = task(serde_json::json!("as is"), None);
        assert_eq!(raw.encoded_body(), Ok(Some(("as is".to_owned(), None))));
        assert!(
            task(serde_json::json!({"a": 1}), None)
                .encoded_body()
                .is_err()
        );
        let nested = task(
            serde_json::json!({"a": {"b": 1}}),
            Some(BodyFormat::FormUrlencoded),
        );
        assert!(nested.encoded_body().is_err());
    }
}
