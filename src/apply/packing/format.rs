//! Writing an archive from its manifest, and reading back the manifest an archive records.
//!
//! Archives are built deterministically from their inputs: entries sorted by name, each with
//! the input's mode, owner ids and modification time and no user or group names, a gzip
//! header without a time or name. The manifest (and so its digest) is recorded in the
//! archive: in a tar, as a pax global header — the first entry, which `tar` applies to
//! nothing and lists as nothing — with the records `DRIFTLESS.inputs_sha256` and
//! `DRIFTLESS.manifest`; in a zip, as the archive comment. Reading it back needs only the
//! start of a tar stream or the end of a zip file, whatever the archive's size.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::inputs::{Input, open_no_follow};

/// An archive format, as `format` names it.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// tar compressed with gzip.
    #[default]
    Gz,
    /// tar compressed with bzip2.
    Bz2,
    /// tar compressed with xz.
    Xz,
    /// tar, uncompressed.
    Tar,
    /// zip, each file deflated.
    Zip,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Gz => "gz",
            Format::Bz2 => "bz2",
            Format::Xz => "xz",
            Format::Tar => "tar",
            Format::Zip => "zip",
        }
    }

    /// The format of an archive, by its first bytes.
    fn detect(head: &[u8]) -> Option<Format> {
        if head.starts_with(&[0x1f, 0x8b]) {
            Some(Format::Gz)
        } else if head.starts_with(b"BZh") {
            Some(Format::Bz2)
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Some(Format::Xz)
        } else if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
            Some(Format::Zip)
        } else if head.len() >= 262 && &head[257..262] == b"ustar" {
            Some(Format::Tar)
        } else {
            None
        }
    }
}

/// The pax keyword of the manifest's digest.
const DIGEST_KEY: &str = "DRIFTLESS.inputs_sha256";
/// The pax keyword of the manifest.
const MANIFEST_KEY: &str = "DRIFTLESS.manifest";
/// What starts a zip comment written by driftless (the manifest's JSON follows).
const ZIP_COMMENT_PREFIX: &str = "driftless manifest ";
/// The most a pax global header is read of, when looking for the record.
const MAX_RECORD_BYTES: u64 = 64 << 20;

/// What an archive records of its inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub inputs_sha256: String,
    /// The manifest, when the archive holds it (a zip's comment holds at most 64 KiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Vec<Input>>,
}

/// The format of the archive `file` and what it records (none for an archive driftless did
/// not write, or whose record cannot be read).
pub fn read_record(file: &mut File) -> io::Result<(Option<Format>, Option<Record>)> {
    let mut head = Vec::with_capacity(512);
    Read::by_ref(file).take(512).read_to_end(&mut head)?;
    file.rewind()?;
    let format = Format::detect(&head);
    let record = match format {
        None => None,
        Some(Format::Zip) => zip_record(file),
        Some(Format::Tar) => tar_record(&mut *file),
        Some(Format::Gz) => tar_record(flate2::read::GzDecoder::new(&mut *file)),
        Some(Format::Bz2) => tar_record(bzip2::read::BzDecoder::new(&mut *file)),
        Some(Format::Xz) => tar_record(lzma_rust2::XzReader::new(
            io::BufReader::new(&mut *file),
            true,
        )),
    };
    Ok((format, record))
}

fn zip_record(file: &mut File) -> Option<Record> {
    let archive = zip::ZipArchive::new(io::BufReader::new(file)).ok()?;
    let comment = std::str::from_utf8(archive.comment()).ok()?;
    let json = comment.strip_prefix(ZIP_COMMENT_PREFIX)?;
    serde_json::from_str(json).ok()
}

/// The record in the pax global header that starts a tar stream.
fn tar_record(reader: impl Read) -> Option<Record> {
    let mut archive = tar::Archive::new(reader);
    let mut entries = archive.entries().ok()?;
    let mut first = entries.next()?.ok()?;
    if first.header().entry_type() != tar::EntryType::XGlobalHeader {
        return None;
    }
    let mut data = Vec::new();
    first
        .by_ref()
        .take(MAX_RECORD_BYTES)
        .read_to_end(&mut data)
        .ok()?;
    let mut digest = None;
    let mut manifest = None;
    for extension in tar::PaxExtensions::new(&data) {
        let extension = extension.ok()?;
        match extension.key().ok()? {
            DIGEST_KEY => digest = Some(extension.value().ok()?.to_owned()),
            MANIFEST_KEY => manifest = serde_json::from_slice(extension.value_bytes()).ok(),
            _ => {}
        }
    }
    Some(Record {
        inputs_sha256: digest?,
        inputs: manifest,
    })
}

/// One pax record: `<length> <key>=<value>\n`, the length counting itself.
fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let rest = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut length = rest + 1;
    while length != rest + length.to_string().len() {
        length = rest + length.to_string().len();
    }
    let mut record = format!("{length} {key}=").into_bytes();
    record.extend_from_slice(value);
    record.push(b'\n');
    record
}

/// Writes the archive of `manifest` (whose entries are at `sources` on the host) to `out`.
/// Each file's content is hashed on the way and must be the manifest's: an input changed
/// since it was read is an error, and nothing is kept of the half-written archive.
pub fn write(
    out: &mut File,
    format: Format,
    manifest: &[Input],
    sources: &[PathBuf],
    digest: &str,
) -> io::Result<()> {
    let manifest_json = serde_json::to_vec(manifest).map_err(io::Error::other)?;
    let buffered = BufWriter::new(out);
    let buffered = match format {
        Format::Zip => write_zip(buffered, manifest, sources, digest)?,
        Format::Tar => write_tar(buffered, manifest, sources, digest, &manifest_json)?,
        Format::Gz => {
            let gz = flate2::GzBuilder::new().mtime(0);
            write_tar(
                gz.write(buffered, flate2::Compression::default()),
                manifest,
                sources,
                digest,
                &manifest_json,
            )?
            .finish()?
        }
        Format::Bz2 => write_tar(
            bzip2::write::BzEncoder::new(buffered, bzip2::Compression::default()),
            manifest,
            sources,
            digest,
            &manifest_json,
        )?
        .finish()?,
        Format::Xz => write_tar(
            lzma_rust2::XzWriter::new(buffered, lzma_rust2::XzOptions::with_preset(6))?,
            manifest,
            sources,
            digest,
            &manifest_json,
        )?
        .finish()?,
    };
    buffered
        .into_inner()
        .map(drop)
        .map_err(io::IntoInnerError::into_error)
}

/// The source's content, checked against the manifest's hash as it is read.
struct Checked<'a> {
    file: File,
    hasher: sha2::Sha256,
    input: &'a Input,
}

impl Read for Checked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use sha2::Digest;
        let n = self.file.read(buf)?;
        self.hasher.update(&buf[..n]);
        if n == 0 {
            let sha = crate::fsutil::hex(&std::mem::take(&mut self.hasher).finalize());
            if self.input.sha256.as_deref() != Some(sha.as_str()) {
                return Err(io::Error::other(format!(
                    "{} changed while it was archived",
                    self.input.name
                )));
            }
        }
        Ok(n)
    }
}

fn open_checked<'a>(source: &Path, input: &'a Input) -> io::Result<Checked<'a>> {
    Ok(Checked {
        file: open_no_follow(source)?,
        hasher: Default::default(),
        input,
    })
}

fn mode_of(input: &Input) -> u32 {
    u32::from_str_radix(&input.mode, 8).unwrap_or(0o644)
}

/// The input's modification time, which the archive keeps (not part of the digest).
fn mtime_of(source: &Path) -> io::Result<i64> {
    Ok(std::fs::symlink_metadata(source)?.mtime())
}

fn write_tar<W: Write>(
    out: W,
    manifest: &[Input],
    sources: &[PathBuf],
    digest: &str,
    manifest_json: &[u8],
) -> io::Result<W> {
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    let mut records = pax_record(DIGEST_KEY, digest.as_bytes());
    records.extend(pax_record(MANIFEST_KEY, manifest_json));
    let mut global = tar::Header::new_ustar();
    global.set_entry_type(tar::EntryType::XGlobalHeader);
    global.set_path("pax_global_header")?;
    global.set_size(records.len() as u64);
    global.set_mode(0o644);
    global.set_mtime(0);
    global.set_cksum();
    builder.append(&global, records.as_slice())?;
    for (input, source) in manifest.iter().zip(sources) {
        let mut header = tar::Header::new_gnu();
        header.set_mode(mode_of(input));
        header.set_uid(u64::from(input.uid));
        header.set_gid(u64::from(input.gid));
        header.set_mtime(u64::try_from(mtime_of(source)?).unwrap_or(0));
        match input.kind.as_str() {
            "file" => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(input.size.unwrap_or(0));
                builder.append_data(&mut header, &input.name, open_checked(source, input)?)?;
            }
            "directory" => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                builder.append_data(&mut header, format!("{}/", input.name), io::empty())?;
            }
            _ => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                let target = input.target.as_deref().unwrap_or_default();
                builder.append_link(&mut header, &input.name, target)?;
            }
        }
    }
    builder.into_inner()
}

fn write_zip<W: Write + Seek>(
    out: W,
    manifest: &[Input],
    sources: &[PathBuf],
    digest: &str,
) -> io::Result<W> {
    let mut zip = zip::ZipWriter::new(out);
    for (input, source) in manifest.iter().zip(sources) {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(mode_of(input))
            .last_modified_time(zip_time(mtime_of(source)?));
        match input.kind.as_str() {
            "file" => {
                zip.start_file(input.name.as_str(), options)
                    .map_err(io::Error::other)?;
                io::copy(&mut open_checked(source, input)?, &mut zip)?;
            }
            "directory" => zip
                .add_directory(input.name.as_str(), options)
                .map_err(io::Error::other)?,
            _ => zip
                .add_symlink(
                    input.name.as_str(),
                    input.target.as_deref().unwrap_or_default(),
                    options,
                )
                .map_err(io::Error::other)?,
        }
    }
    // The record with the whole manifest when it fits in a zip comment (64 KiB), else with
    // its digest only.
    let mut record = Record {
        inputs_sha256: digest.to_owned(),
        inputs: Some(manifest.to_vec()),
    };
    let mut comment = format!(
        "{ZIP_COMMENT_PREFIX}{}",
        serde_json::to_string(&record).map_err(io::Error::other)?
    );
    if comment.len() > usize::from(u16::MAX) {
        record.inputs = None;
        comment = format!(
            "{ZIP_COMMENT_PREFIX}{}",
            serde_json::to_string(&record).map_err(io::Error::other)?
        );
    }
    zip.set_comment(comment).map_err(io::Error::other)?;
    let mut out = zip.finish().map_err(io::Error::other)?;
    out.flush()?;
    Ok(out)
}

/// A zip time (local time as written, two-second steps, 1980 to 2107) from a Unix time, in
/// UTC; out of range, the earliest zip time.
fn zip_time(unix: i64) -> zip::DateTime {
    let days = unix.div_euclid(86_400);
    let seconds = unix.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let part = |v: i64| u8::try_from(v).unwrap_or(0);
    u16::try_from(year)
        .ok()
        .and_then(|year| {
            zip::DateTime::from_date_and_time(
                year,
                part(month),
                part(day),
                part(seconds / 3600),
                part(seconds / 60 % 60),
                part(seconds % 60),
            )
            .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_lengths_count_themselves() {
        assert_eq!(pax_record("a", b"b"), b"6 a=b\n");
        let long = pax_record("k", &[b'x'; 95]);
        // 95 + `k=`, a blank and a newline: 99, and three digits of length.
        assert_eq!(long.len(), 102);
        assert!(long.starts_with(b"102 k="));
    }

    #[test]
    fn zip_times_are_civil_dates_in_utc() {
        let t = zip_time(1_700_000_000); // 2023-11-14 22:13:20 UTC
        assert_eq!(
            (t.year(), t.month(), t.day(), t.hour(), t.minute()),
            (2023, 11, 14, 22, 13)
        );
    }
}
