//! The directory sink: one file per document or batch in a local directory (or an NFS
//! mount), written atomically (a temp file renamed into place), optionally gzipped, with a
//! bounded history.

use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use flate2::Compression;
use flate2::write::GzEncoder;
use regex::Regex;

use super::{Batch, BuildContext, SendError, Sink, expand_name};
use crate::error::ResourceError;
use crate::fsutil::write_atomic;
use crate::model::sinks::DirectorySinkConfig;

/// The default name of a file: its time and the run's id (or the batch's number).
pub const DEFAULT_NAME: &str = "%Y-%m-%dT%H%M%SZ-{id}.json";

/// A local directory, created on first use (mode 0700: reports name hosts and paths).
pub struct DirectorySink {
    pub path: PathBuf,
    /// The file name pattern (see [`DirectorySinkConfig::name`]), `.gz` added with `gzip`.
    name: String,
    gzip: bool,
    host: String,
    /// Past this bound, the oldest files the sink wrote are removed after each write.
    pub retention: Option<Retention>,
    /// What the names this sink writes look like: only those files are pruned; anything else
    /// in the directory is the operator's.
    written: Regex,
}

/// How much a directory keeps: the newest files, at most `files` of them and `bytes` in all,
/// none older than `age`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub files: usize,
    pub bytes: u64,
    pub age: Option<Duration>,
}

impl Retention {
    /// The bound of the default run-report directory (`runs/` in the state directory): a host
    /// running `apply` every minute keeps the last 1,000 runs, in at most 64 MiB.
    pub const DEFAULT_REPORTS: Retention = Retention {
        files: 1000,
        bytes: 64 << 20,
        age: None,
    };
}

impl DirectorySink {
    pub fn new(config: &DirectorySinkConfig, cx: &BuildContext<'_>) -> Result<Self, ResourceError> {
        let mut name = config
            .name
            .clone()
            .unwrap_or_else(|| DEFAULT_NAME.to_owned());
        if config.gzip {
            name.push_str(".gz");
        }
        let bounded =
            config.keep_files.is_some() || config.keep_bytes.is_some() || config.keep_age.is_some();
        let retention = bounded.then(|| Retention {
            files: config
                .keep_files
                .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX)),
            bytes: config.keep_bytes.unwrap_or(u64::MAX),
            age: config.keep_age.map(|d| d.0),
        });
        DirectorySink::with(
            PathBuf::from(&config.path),
            name,
            config.gzip,
            cx.host,
            retention,
        )
    }

    /// The default report directory's sink: the default names, bounded by `retention`.
    pub fn reports(path: PathBuf, retention: Option<Retention>) -> Result<Self, ResourceError> {
        DirectorySink::with(path, DEFAULT_NAME.to_owned(), false, "", retention)
    }

    fn with(
        path: PathBuf,
        name: String,
        gzip: bool,
        host: &str,
        retention: Option<Retention>,
    ) -> Result<Self, ResourceError> {
        let written = name_matcher(&name, host).map_err(|why| {
            ResourceError::permanent(format!("the file name pattern `{name}`: {why}"))
        })?;
        Ok(DirectorySink {
            path,
            name,
            gzip,
            host: host.to_owned(),
            retention,
            written,
        })
    }

    /// Removes the oldest files the sink wrote beyond the retention.
    fn prune(&self, retention: Retention) -> std::io::Result<()> {
        let now = SystemTime::now();
        let mut written: Vec<(SystemTime, String, u64)> = std::fs::read_dir(&self.path)?
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                let meta = entry.metadata().ok().filter(|m| m.is_file())?;
                let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                self.written
                    .is_match(&name)
                    .then_some((modified, name, meta.len()))
            })
            .collect();
        written.sort();
        let mut total: u64 = written.iter().map(|(_, _, len)| len).sum();
        let mut count = written.len();
        for (modified, name, len) in written {
            let too_old = retention
                .age
                .is_some_and(|age| now.duration_since(modified).unwrap_or_default() > age);
            // The newest file always stays, whatever its size or age.
            if count <= 1 || (count <= retention.files && total <= retention.bytes && !too_old) {
                break;
            }
            match std::fs::remove_file(self.path.join(&name)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            count -= 1;
            total -= len;
        }
        Ok(())
    }

    fn write(&self, batch: &Batch) -> Result<(), ResourceError> {
        let name = expand_name(&self.name, batch, &self.host)?;
        let fail = |e: std::io::Error| {
            ResourceError::io(
                format_args!("cannot write {}/{name}", self.path.display()),
                &e,
            )
        };
        if !self.path.is_dir() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.path)
                .map_err(fail)?;
        }
        let mut bytes = batch.lines();
        if self.gzip {
            bytes = gzip(&bytes).map_err(fail)?;
        }
        write_atomic(&self.path.join(&name), &bytes, 0o600, (None, None)).map_err(fail)?;
        if let Some(retention) = self.retention {
            self.prune(retention).map_err(|e| {
                ResourceError::io(
                    format_args!("cannot remove old files from {}", self.path.display()),
                    &e,
                )
            })?;
        }
        Ok(())
    }
}

/// Gzip of `bytes` at the default level.
pub fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(bytes.len() / 4), Compression::default());
    encoder.write_all(bytes)?;
    encoder.finish()
}

/// A regex matching the names `pattern` makes: time fields as digits (or a month name),
/// `{id}` as any name part, `{host}` as itself. A name with a `/` (a subdirectory) is refused:
/// the history is pruned in one directory.
pub(crate) fn name_matcher(pattern: &str, host: &str) -> Result<Regex, String> {
    if pattern.contains('/') {
        return Err("a file name cannot hold `/`".to_owned());
    }
    crate::clock::strftime(pattern, SystemTime::UNIX_EPOCH)?;
    let mut regex = String::from("^");
    let mut rest = pattern;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("{host}") {
            regex.push_str(&regex::escape(host));
            rest = after;
        } else if let Some(after) = rest.strip_prefix("{id}") {
            regex.push_str("[^/]+");
            rest = after;
        } else if let Some(after) = rest.strip_prefix('%') {
            let mut chars = after.chars();
            regex.push_str(match chars.next() {
                Some('b') => "[A-Z][a-z]{2}",
                Some('e') => " ?[0-9]+",
                Some('%') => "%",
                _ => "[0-9]+",
            });
            rest = chars.as_str();
        } else {
            let mut chars = rest.chars();
            if let Some(c) = chars.next() {
                regex.push_str(&regex::escape(&c.to_string()));
            }
            rest = chars.as_str();
        }
    }
    regex.push('$');
    Regex::new(&regex).map_err(|e| e.to_string())
}

impl Sink for DirectorySink {
    fn send(&self, batch: &Batch) -> Result<(), SendError> {
        self.write(batch).map_err(SendError::from)
    }

    fn describe(&self) -> String {
        format!("directory {}", self.path.display())
    }

    fn health(&self) -> Result<(), ResourceError> {
        // The nearest existing directory on the way must be one driftless can write into.
        let mut dir = self.path.as_path();
        while !dir.exists() {
            match dir.parent() {
                Some(parent) => dir = parent,
                None => break,
            }
        }
        let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes())
            .map_err(|_| ResourceError::permanent("a path with a NUL byte"))?;
        // SAFETY: access(2) on a NUL-terminated path.
        if unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) } != 0 {
            let e = std::io::Error::last_os_error();
            return Err(ResourceError::io(
                format_args!("cannot write into {}", dir.display()),
                &e,
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &std::path::Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
            .collect();
        names.sort();
        names
    }

    fn at(secs: u64, id: &str) -> Batch {
        Batch::document(
            b"{}".to_vec(),
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_654_923 + secs),
            id.to_owned(),
        )
    }

    #[test]
    fn a_sink_that_cannot_be_made_fails_permanently_naming_it() {
        let temp = tempfile::tempdir().expect("temp dir");
        let file = temp.path().join("not-a-directory");
        std::fs::write(&file, "x").expect("write");
        let sink = DirectorySink::reports(file.join("runs"), None).expect("sink");
        let error = sink.send(&at(0, "run")).expect_err("a file is in the way");
        assert!(!error.error.is_transient(), "{}", error.error);
        assert!(
            error.error.message.starts_with(&format!(
                "cannot write {}/runs/2026-11-26T010203Z-run.json: ",
                file.display()
            )),
            "{}",
            error.error
        );
    }

    #[test]
    fn a_bounded_directory_keeps_the_newest_files_over_many_writes() {
        let temp = tempfile::tempdir().expect("temp dir");
        let retention = Retention {
            files: 100,
            bytes: 1 << 30,
            age: None,
        };
        let sink = DirectorySink::reports(temp.path().join("runs"), Some(retention)).expect("sink");
        std::fs::create_dir(&sink.path).expect("mkdir");
        std::fs::write(sink.path.join("notes.txt"), "the operator's").expect("write");
        for run in 0..300 {
            sink.send(&at(run, &format!("{run:04}"))).expect("send");
        }
        let kept = names(&sink.path);
        assert_eq!(kept.len(), 101, "100 reports and the operator's file");
        assert!(kept.contains(&"notes.txt".to_owned()));
        assert!(
            kept.contains(&"2026-11-26T010702Z-0299.json".to_owned()),
            "{kept:?}"
        );
        assert!(
            kept.contains(&"2026-11-26T010523Z-0200.json".to_owned()),
            "{kept:?}"
        );
        assert!(!kept.contains(&"2026-11-26T010522Z-0199.json".to_owned()));
    }

    #[test]
    fn a_bounded_directory_keeps_within_its_bytes_but_always_the_newest_file() {
        let temp = tempfile::tempdir().expect("temp dir");
        let retention = Retention {
            files: 1000,
            bytes: 2500,
            age: None,
        };
        let sink = DirectorySink::reports(temp.path().join("runs"), Some(retention)).expect("sink");
        let big = |secs: u64, size: usize| Batch {
            events: vec![vec![b' '; size - 1]],
            ..at(secs, &format!("{secs}"))
        };
        for run in 0..10 {
            sink.send(&big(run, 1000)).expect("send");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(names(&sink.path).len(), 2);
        sink.send(&big(99, 5000)).expect("send");
        assert_eq!(names(&sink.path), ["2026-11-26T010342Z-99.json"]);
    }

    #[test]
    fn files_older_than_the_age_bound_go() {
        let temp = tempfile::tempdir().expect("temp dir");
        let retention = Retention {
            files: 1000,
            bytes: u64::MAX,
            age: Some(Duration::from_secs(3600)),
        };
        let sink = DirectorySink::reports(temp.path().to_owned(), Some(retention)).expect("sink");
        sink.send(&at(0, "old")).expect("send");
        let old = temp.path().join("2026-11-26T010203Z-old.json");
        let two_hours_ago = SystemTime::now() - Duration::from_secs(7200);
        std::fs::File::options()
            .write(true)
            .open(&old)
            .and_then(|f| f.set_modified(two_hours_ago))
            .expect("age the file");
        sink.send(&at(1, "new")).expect("send");
        assert_eq!(names(temp.path()), ["2026-11-26T010204Z-new.json"]);
    }

    #[test]
    fn a_gzipped_batch_is_one_file_named_by_its_pattern_and_host() {
        let temp = tempfile::tempdir().expect("temp dir");
        let config = DirectorySinkConfig {
            path: temp.path().display().to_string(),
            name: Some("{host}-%Y%m%d-{id}.ndjson".to_owned()),
            gzip: true,
            keep_files: None,
            keep_bytes: None,
            keep_age: None,
            batch: None,
            retry: None,
            spool: None,
        };
        let secrets = crate::secrets::Secrets::new(Vec::new());
        let cx = BuildContext {
            secrets: &secrets,
            host: "web1",
        };
        let sink = DirectorySink::new(&config, &cx).expect("sink");
        let batch = Batch {
            events: vec![b"{\"a\":1}".to_vec(), b"{\"a\":2}".to_vec()],
            document: false,
            ..at(0, "7")
        };
        sink.send(&batch).expect("send");
        let file = temp.path().join("web1-20261126-7.ndjson.gz");
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(std::fs::File::open(file).expect("open")),
            &mut text,
        )
        .expect("gunzip");
        assert_eq!(text, "{\"a\":1}\n{\"a\":2}\n");
    }

    #[test]
    fn a_name_pattern_with_an_unknown_field_or_a_slash_is_refused() {
        for (pattern, why) in [
            ("%Q.json", "`%Q` is not a time field here"),
            ("%Y/{id}.json", "a file name cannot hold `/`"),
        ] {
            let error =
                DirectorySink::with(PathBuf::from("/x"), pattern.to_owned(), false, "h", None)
                    .err()
                    .expect("refused");
            assert!(error.message.contains(why), "{}", error.message);
        }
    }
}
