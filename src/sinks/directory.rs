use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;

use super::Sink;
use crate::error::ResourceError;
use crate::fsutil::write_atomic;

/// A local directory, created on first use (mode 0700: reports name hosts and paths).
pub struct DirectorySink {
    pub path: PathBuf,
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
        write_atomic(&self.path.join(name), bytes, 0o600, (None, None)).map_err(fail)
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
}
