//! Target `http_request`: request heads as a client of `/metrics` could send them — methods,
//! targets with queries and escapes, versions, repeated and malformed headers, bare CR or LF,
//! multi-byte and control characters, very long values — through the head parser and the
//! content negotiation that follows it. Never a panic; a head is parsed or refused.

use driftless::metrics::exposition::{Format, accepts_gzip};
use driftless::metrics::server::parse_head;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use super::fuzz;

const PIECES: &[&str] = &[
    "GET",
    "HEAD",
    "?collect[]=",
    "&exclude%5B%5D=",
    "POST",
    "get",
    " ",
    "  ",
    "/metrics",
    "/",
    "/metrics?x=1",
    "/%00",
    "#frag",
    "HTTP/1.1",
    "HTTP/1.0",
    "HTTP/2",
    "HTTP/1.",
    "\r\n",
    "\n",
    "\r",
    ":",
    ": ",
    "Host",
    "Accept",
    "Accept-Encoding",
    "Connection",
    "Content-Length",
    "Transfer-Encoding",
    "Authorization",
    "close",
    "keep-alive",
    "gzip",
    "gzip;q=0",
    "*;q=0.5",
    "identity",
    "application/openmetrics-text; version=1.0.0; charset=utf-8",
    "application/openmetrics-text;q=0.5",
    "text/plain;version=0.0.4;q=1.0",
    "*/*",
    ";",
    ",",
    "q=",
    "q=1.5",
    "q=-1",
    "q=nan",
    "0",
    "18446744073709551616",
    "ß",
    "🦀",
    "\u{0}",
    "\u{1b}",
    "\u{7f}",
    "\t",
];

fn head() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(PIECES);
    let long = (1usize..20_000).prop_map(|n| "a".repeat(n));
    prop::collection::vec(
        prop_oneof![20 => piece.prop_map(str::to_owned), 1 => long],
        0..60,
    )
    .prop_map(|p| p.concat())
}

fn parse(head: &str) -> Result<(), TestCaseError> {
    if let Some(request) = parse_head(head) {
        let _ = Format::negotiate(request.accept.as_deref());
        let _ = accepts_gzip(request.accept_encoding.as_deref());
        let _ = driftless::metrics::collect_filter::select(&request.query, &["cpu", "meminfo"]);
    }
    Ok(())
}

#[test]
fn http_request() {
    fuzz("http_request", head(), |input: &String| parse(input));
}
