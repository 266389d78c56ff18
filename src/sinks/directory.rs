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
