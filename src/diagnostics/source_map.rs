use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Index of a file in the [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// A byte range in one source file. Line and column are computed only when a diagnostic is
/// rendered, so values stay small on the hot path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Self {
        Span {
            file,
            start: start as u32,
            end: end.max(start) as u32,
        }
    }

    /// The character at byte `offset` of `text` (a caret on it), or an empty span at the end of
    /// a line or of the text. An offset inside a multi-byte character means that character.
    pub fn char_at(file: FileId, text: &str, offset: usize) -> Self {
        let start = text.floor_char_boundary(offset);
        let len = match text[start..].chars().next() {
            Some('\n') | None => 0,
            Some(c) => c.len_utf8(),
        };
        Span::new(file, start, start + len)
    }

    /// `start..end` of `text` widened to whole characters and clamped to the text.
    pub fn on_chars(file: FileId, text: &str, start: usize, end: usize) -> Self {
        let start = text.floor_char_boundary(start);
        Span::new(file, start, text.ceil_char_boundary(end.max(start)))
    }
}

#[derive(Clone)]
struct SourceFile {
    /// As shown in diagnostics: relative to the config dir where possible.
    display: String,
    path: PathBuf,
    /// Shared: a map cloned per host (`check --all-hosts`) and the template stage's
    /// error locator hold the same texts.
    text: Arc<str>,
    /// Byte offset of the start of each line.
    line_starts: Vec<u32>,
}

/// Every file a run has read, so any stage can point into any of them.
#[derive(Default, Clone)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn add(&mut self, display: String, path: PathBuf, text: String) -> FileId {
        let mut line_starts = vec![0u32];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| (i + 1) as u32),
        );
        self.files.push(SourceFile {
            display,
            path,
            text: text.into(),
            line_starts,
        });
        FileId((self.files.len() - 1) as u32)
    }

    pub fn path(&self, file: FileId) -> &str {
        &self.files[file.0 as usize].display
    }

    pub fn full_path(&self, file: FileId) -> &Path {
        &self.files[file.0 as usize].path
    }

    pub fn text(&self, file: FileId) -> &str {
        &self.files[file.0 as usize].text
    }

    /// The text of `file`, shared.
    pub fn shared_text(&self, file: FileId) -> Arc<str> {
        Arc::clone(&self.files[file.0 as usize].text)
    }

    pub fn files(&self) -> impl Iterator<Item = FileId> + '_ {
        (0..self.files.len() as u32).map(FileId)
    }

    /// 1-based line and column (in characters) of a byte offset; an offset inside a character
    /// counts as that character.
    pub fn line_col(&self, file: FileId, offset: u32) -> (usize, usize) {
        let f = &self.files[file.0 as usize];
        let line = f.line_index(offset as usize);
        let start = f.line_starts[line] as usize;
        let end = f.text.floor_char_boundary(offset as usize).max(start);
        let col = f.text[start..end].chars().count();
        (line + 1, col + 1)
    }

    /// The whole lines a byte range touches: the 1-based number of the first and their byte
    /// range, found by binary search so that rendering a diagnostic costs the size of its lines,
    /// not of the file.
    pub fn lines_of(&self, file: FileId, start: usize, end: usize) -> (usize, Range<usize>) {
        let f = &self.files[file.0 as usize];
        let first = f.line_index(start);
        let last = f.line_index(end);
        let from = f.line_starts[first] as usize;
        let to = f
            .line_starts
            .get(last + 1)
            .map_or(f.text.len(), |&next| next as usize);
        (first + 1, from..to)
    }
}

impl SourceFile {
    /// The 0-based line holding byte `offset` (offsets past the end are on the last line).
    fn line_index(&self, offset: usize) -> usize {
        let offset = offset.min(u32::MAX as usize) as u32;
        self.line_starts.partition_point(|&s| s <= offset).max(1) - 1
    }
}
