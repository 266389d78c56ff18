//! Target `diagnostics`: the renderer, on any text (multi-byte characters, control
//! characters, CRLF, no final newline) with spans anywhere — past the end, inside a
//! character, reversed. Never a panic; columns are counted in characters of their line.

use driftless::diagnostics::{Diagnostic, Diagnostics, SourceMap, Span, render_human, render_json};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde::{Deserialize, Serialize};

use super::{Corpus, check_columns, fuzz};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Case {
    text: String,
    /// Byte offsets, start and end, with a message.
    spans: Vec<(usize, usize, String)>,
}

impl Corpus for Case {
    fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }
}

fn text() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "a",
        "key: value",
        " ",
        "\t",
        "\n",
        "\r\n",
        "\r",
        "ß",
        "é",
        "中文",
        "🦀",
        "e\u{301}",
        "\u{200b}",
        "\u{0}",
        "\u{1b}[31m",
        "\u{7f}",
        "\u{2028}",
        "{{ x }}",
        "\"",
        "",
    ]);
    prop::collection::vec(piece, 0..30).prop_map(|p| p.concat())
}

fn case() -> impl Strategy<Value = Case> {
    text().prop_flat_map(|text| {
        let len = text.len();
        let offset = prop_oneof![0..=len + 1, any::<usize>().prop_map(|n| n % 1_000_000)];
        let message = prop::sample::select(vec!["bad", "line\nbreak", "\u{1b}[31mred", "ß"])
            .prop_map(str::to_owned);
        (
            Just(text),
            prop::collection::vec((offset.clone(), offset, message), 0..4),
        )
            .prop_map(|(text, spans)| Case { text, spans })
    })
}

fn render(case: &Case) -> Result<(), TestCaseError> {
    let mut sources = SourceMap::default();
    let file = sources.add(
        "fuzz.yaml".to_owned(),
        "/fuzz.yaml".into(),
        case.text.clone(),
    );
    let mut diagnostics = Diagnostics::default();
    for (start, end, message) in &case.spans {
        diagnostics.push(
            Diagnostic::error(message.clone())
                .at(Span::new(file, *start, *end))
                .label(message.clone())
                .help(message.clone()),
        );
    }
    let _ = render_human(&diagnostics, &sources, false);
    let _ = render_human(&diagnostics, &sources, true);
    check_columns(
        &render_json(&diagnostics, &sources),
        "fuzz.yaml",
        &case.text,
    )
}

#[test]
fn diagnostics() {
    fuzz("diagnostics", case(), render);
}
