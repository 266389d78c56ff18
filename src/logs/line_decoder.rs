//! Bytes of a log file into lines of text: where a line ends in each encoding, how a line's
//! bytes become a `String` (never failing: invalid bytes become U+FFFD), and the byte order
//! mark at a file's start.

use crate::model::logs::FileEncoding;

const UTF8_BOM: &[u8] = &[0xEF, 0xBB, 0xBF];
const UTF16LE_BOM: &[u8] = &[0xFF, 0xFE];
const UTF16BE_BOM: &[u8] = &[0xFE, 0xFF];

/// The line splitting and decoding of one file. A UTF-16 file's byte order mark may turn the
/// configured byte order around, so each file has its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineDecoder {
    encoding: FileEncoding,
}

/// What the first bytes of a file say about a byte order mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bom {
    /// Too few bytes yet to tell.
    Undecided,
    /// A mark of this many bytes (0: none) starts the file.
    Length(usize),
}

impl LineDecoder {
    pub fn new(encoding: FileEncoding) -> LineDecoder {
        LineDecoder { encoding }
    }

    /// Bytes per code unit: line breaks and cuts fall on multiples of it.
    pub fn unit(&self) -> usize {
        match self.encoding {
            FileEncoding::Utf16Le | FileEncoding::Utf16Be => 2,
            FileEncoding::Utf8 | FileEncoding::Latin1 => 1,
        }
    }

    /// Looks for a byte order mark at the start of `head` (a file's first bytes). A UTF-16
    /// mark sets the byte order, whichever UTF-16 the configuration named.
    pub fn detect_bom(&mut self, head: &[u8]) -> Bom {
        let marks: &[(&[u8], FileEncoding)] = match self.encoding {
            FileEncoding::Utf8 => &[(UTF8_BOM, FileEncoding::Utf8)],
            FileEncoding::Utf16Le | FileEncoding::Utf16Be => &[
                (UTF16LE_BOM, FileEncoding::Utf16Le),
                (UTF16BE_BOM, FileEncoding::Utf16Be),
            ],
            FileEncoding::Latin1 => return Bom::Length(0),
        };
        for (mark, encoding) in marks {
            if head.starts_with(mark) {
                self.encoding = *encoding;
                return Bom::Length(mark.len());
            }
            if mark.starts_with(head) {
                return Bom::Undecided;
            }
        }
        Bom::Length(0)
    }

    /// The index just past the first line break in `bytes`, which starts on a code unit
    /// boundary; `None` when no whole line break is in it.
    pub fn line_end(&self, bytes: &[u8]) -> Option<usize> {
        match self.encoding {
            FileEncoding::Utf8 | FileEncoding::Latin1 => {
                memchr::memchr(b'\n', bytes).map(|i| i + 1)
            }
            FileEncoding::Utf16Le => unit_line_end(bytes, |pair| pair == [b'\n', 0]),
            FileEncoding::Utf16Be => unit_line_end(bytes, |pair| pair == [0, b'\n']),
        }
    }

    /// The length of a line without its line break (`\n` or `\r\n`), if it has one.
    pub fn content_len(&self, line: &[u8]) -> usize {
        let unit = self.unit();
        let mut end = line.len() - line.len() % unit;
        if end >= unit && self.unit_is(&line[end - unit..end], b'\n') {
            end -= unit;
            if end >= unit && self.unit_is(&line[end - unit..end], b'\r') {
                end -= unit;
            }
        }
        end
    }

    /// The text of a line, without its line break if it has one.
    pub fn decode(&self, line: &[u8]) -> String {
        let line = &line[..self.content_len(line)];
        match self.encoding {
            FileEncoding::Utf8 => String::from_utf8_lossy(line).into_owned(),
            FileEncoding::Latin1 => line.iter().map(|&b| char::from(b)).collect(),
            FileEncoding::Utf16Le => decode_utf16(line, u16::from_le_bytes),
            FileEncoding::Utf16Be => decode_utf16(line, u16::from_be_bytes),
        }
    }

    fn unit_is(&self, unit: &[u8], ascii: u8) -> bool {
        match self.encoding {
            FileEncoding::Utf8 | FileEncoding::Latin1 => unit == [ascii],
            FileEncoding::Utf16Le => unit == [ascii, 0],
            FileEncoding::Utf16Be => unit == [0, ascii],
        }
    }
}

/// The first two-byte unit that is a line break, searched for by its `\n` byte.
fn unit_line_end(bytes: &[u8], is_break: impl Fn([u8; 2]) -> bool) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = memchr::memchr(b'\n', &bytes[from..]) {
        let at = from + found;
        let unit_start = at - at % 2;
        if let (Some(&a), Some(&b)) = (bytes.get(unit_start), bytes.get(unit_start + 1))
            && is_break([a, b])
        {
            return Some(unit_start + 2);
        }
        from = at + 1;
    }
    None
}

fn decode_utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> String {
    let units = bytes.chunks_exact(2).map(|pair| unit([pair[0], pair[1]]));
    char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le(text: &str) -> Vec<u8> {
        text.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    fn utf16be(text: &str) -> Vec<u8> {
        text.encode_utf16().flat_map(u16::to_be_bytes).collect()
    }

    #[test]
    fn utf8_lines_end_at_newline_and_lose_their_break() {
        let d = LineDecoder::new(FileEncoding::Utf8);
        assert_eq!(d.line_end(b"ab\ncd"), Some(3));
        assert_eq!(d.line_end(b"abcd"), None);
        assert_eq!(d.decode(b"ab\r\n"), "ab");
        assert_eq!(d.decode(b"ab\n"), "ab");
        assert_eq!(d.decode(b"a\rb"), "a\rb");
        assert_eq!(d.decode(b"a\xffb\n"), "a\u{fffd}b");
    }

    #[test]
    fn latin1_maps_each_byte_to_its_character() {
        let d = LineDecoder::new(FileEncoding::Latin1);
        assert_eq!(d.decode(b"caf\xe9\n"), "café");
    }

    #[test]
    fn utf16_breaks_are_whole_units() {
        let le = LineDecoder::new(FileEncoding::Utf16Le);
        // U+0A00 is the bytes 00 0A in little endian: a `\n` byte that is no line break.
        let mut bytes = utf16le("a\u{0a00}b\nc");
        assert_eq!(le.line_end(&bytes), Some(8));
        assert_eq!(le.decode(&bytes[..8]), "a\u{0a00}b");
        bytes.truncate(7);
        assert_eq!(le.line_end(&bytes), None);
        let be = LineDecoder::new(FileEncoding::Utf16Be);
        let bytes = utf16be("h\u{00e9}\r\nx");
        assert_eq!(be.line_end(&bytes), Some(8));
        assert_eq!(be.decode(&bytes[..8]), "hé");
    }

    #[test]
    fn a_utf16_bom_sets_the_byte_order() {
        let mut d = LineDecoder::new(FileEncoding::Utf16Le);
        let mut bytes = vec![0xFE, 0xFF];
        bytes.extend(utf16be("x\n"));
        assert_eq!(d.detect_bom(&bytes), Bom::Length(2));
        assert_eq!(d.decode(&bytes[2..]), "x");
        let mut d = LineDecoder::new(FileEncoding::Utf8);
        assert_eq!(d.detect_bom(&[0xEF, 0xBB]), Bom::Undecided);
        assert_eq!(d.detect_bom(b"\xEF\xBB\xBFx"), Bom::Length(3));
        assert_eq!(d.detect_bom(b"x"), Bom::Length(0));
    }

    #[test]
    fn odd_utf16_bytes_decode_without_panic() {
        let d = LineDecoder::new(FileEncoding::Utf16Le);
        assert_eq!(d.decode(&[0x00, 0xD8, b'a']), "\u{fffd}");
    }
}
