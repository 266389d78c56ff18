use std::path::{Path, PathBuf};

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
}

struct SourceFile {
    /// As shown in diagnostics: relative to the config dir where possible.
    display: String,
    path: PathBuf,
    text: String,
    /// Byte offset of the start of each line.
    line_starts: Vec<u32>,
}

/// Every file a run has read, so any stage can point into any of them.
#[derive(Default)]
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
            text,
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

    pub fn files(&self) -> impl Iterator<Item = FileId> + '_ {
        (0..self.files.len() as u32).map(FileId)
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, file: FileId, offset: u32) -> (usize, usize) {
        let f = &self.files[file.0 as usize];
        let line = f.line_starts.partition_point(|&s| s <= offset).max(1) - 1;
        let start = f.line_starts[line] as usize;
        let end = (offset as usize).min(f.text.len());
        let col = f.text.get(start..end).map_or(0, |s| s.chars().count());
        (line + 1, col + 1)
    }
}
