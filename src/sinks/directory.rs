use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;

use super::Sink;
use crate::error::ResourceError;
use crate::fsutil::write_atomic;

/// A local directory, created on first use (mode 0700: reports name hosts and paths).
pub struct DirectorySink {
    pub path: PathBuf,
    /// Past this bound, the oldest files the sink wrote are removed after each write.
    pub retention: Option<Retention>,
}

/// How much a directory keeps: the newest files, at most `files` of them and `bytes` in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub files: usize,
    pub bytes: u64,
}

impl Retention {
    /// The bound of the default run-report directory (`runs/` in the state directory): a host
    /// running `apply` every minute keeps the last 1,000 runs, in at most 64 MiB.
    pub const DEFAULT_REPORTS: Retention = Retention {
        files: 1000,
        bytes: 64 << 20,
    };
}

/// Whether a file name is one the sinks write: `<time>-<id>.json` (only those are pruned;
/// anything else in the directory is the operator's).
fn written_by_a_sink(name: &str) -> bool {
    name.ends_with(".json")
        && !name.starts_with('.')
        && name.as_bytes().first().is_some_and(u8::is_ascii_digit)
}

impl DirectorySink {
    /// Removes the oldest files the sink wrote (names sort by time) beyond the retention.
    fn prune(&self, retention: Retention) -> std::io::Result<()> {
        let mut written: Vec<(String, u64)> = std::fs::read_dir(&self.path)?
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                let meta = entry.metadata().ok().filter(|m| m.is_file())?;
                written_by_a_sink(&name).then_some((name, meta.len()))
            })
            .collect();
        written.sort();
        let mut total: u64 = written.iter().map(|(_, len)| len).sum();
        let mut count = written.len();
        for (name, len) in written {
            // The newest file always stays, whatever its size.
            if count <= 1 || (count <= retention.files && total <= retention.bytes) {
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
}

impl Sink for DirectorySink {
    fn put(&self, name: &str, bytes: &[u8]) -> Result<(), ResourceError> {
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
        write_atomic(&self.path.join(name), bytes, 0o600, (None, None)).map_err(fail)?;
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

    fn describe(&self) -> String {
        format!("directory {}", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sink_that_cannot_be_made_fails_permanently_naming_it() {
        let temp = tempfile::tempdir().expect("temp dir");
        let file = temp.path().join("not-a-directory");
        std::fs::write(&file, "x").expect("write");
        let sink = DirectorySink {
            path: file.join("runs"),
            retention: None,
        };
        let error = sink
            .put("report.json", b"{}")
            .expect_err("a file is in the way");
        assert!(!error.is_transient(), "{error}");
        assert!(
            error.message.starts_with(&format!(
                "cannot write {}/runs/report.json: ",
                file.display()
            )),
            "{error}"
        );
    }

    fn names(dir: &std::path::Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_bounded_directory_keeps_the_newest_files_over_a_thousand_writes() {
        let temp = tempfile::tempdir().expect("temp dir");
        let sink = DirectorySink {
            path: temp.path().join("runs"),
            retention: Some(Retention {
                files: 100,
                bytes: 1 << 30,
            }),
        };
        std::fs::create_dir(&sink.path).expect("mkdir");
        std::fs::write(sink.path.join("notes.txt"), "the operator's").expect("write");
        for run in 0..1000 {
            sink.put(&format!("2026-12-06T{run:06}Z-run.json"), b"{}")
                .expect("put");
        }
        let kept = names(&sink.path);
        assert_eq!(kept.len(), 101, "100 reports and the operator's file");
        assert_eq!(kept[0], "2026-12-06T000900Z-run.json");
        assert_eq!(kept[99], "2026-12-06T000999Z-run.json");
        assert!(kept.contains(&"notes.txt".to_owned()));
    }

    #[test]
    fn a_bounded_directory_keeps_within_its_bytes_but_always_the_newest_file() {
        let temp = tempfile::tempdir().expect("temp dir");
        let sink = DirectorySink {
            path: temp.path().join("runs"),
            retention: Some(Retention {
                files: 1000,
                bytes: 2500,
            }),
        };
        for run in 0..10 {
            sink.put(&format!("2026-12-06T{run:06}Z-run.json"), &[b' '; 1000])
                .expect("put");
        }
        assert_eq!(names(&sink.path).len(), 2);
        sink.put("2026-12-06T999999Z-big.json", &[b' '; 5000])
            .expect("put");
        assert_eq!(names(&sink.path), ["2026-12-06T999999Z-big.json"]);
    }
}
