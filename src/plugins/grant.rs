//! The one read-only path a config may grant a plugin (`grant_read`), and the check every
//! `read_file` goes through.

use std::path::{Component, Path, PathBuf};

/// A granted path: a file, or a directory and everything below it.
#[derive(Debug, Clone)]
pub struct Grant {
    root: PathBuf,
}

impl Grant {
    /// `root` as written in the config: absolute and plain (no `.` or `..`).
    pub fn new(root: &str) -> Result<Grant, String> {
        let path = Path::new(root);
        if !is_plain_absolute(path) {
            return Err(format!(
                "`{root}` is not a plain absolute path (one starting with `/`, without `.` or `..`)"
            ));
        }
        Ok(Grant {
            root: path.to_path_buf(),
        })
    }

    /// The content of the regular file `path` names, `None` when there is none, or an error
    /// when `path` is not under the grant. Links are resolved before the check, so a link
    /// under the granted directory leading out of it is refused like the path it leads to.
    pub fn read(&self, path: &str) -> Result<Option<Vec<u8>>, String> {
        let asked = Path::new(path);
        if !is_plain_absolute(asked) || !asked.starts_with(&self.root) {
            return Err(self.refusal(path));
        }
        let (Ok(real), Ok(real_root)) = (asked.canonicalize(), self.root.canonicalize()) else {
            return Ok(None);
        };
        if !real.starts_with(&real_root) {
            return Err(self.refusal(path));
        }
        match crate::fsutil::read_regular_file(&real) {
            Ok(content) => Ok(Some(content)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read `{path}`: {e}")),
        }
    }

    fn refusal(&self, path: &str) -> String {
        format!(
            "read `{path}`, which is not under the path the config grants it (`grant_read: {}`)",
            self.root.display()
        )
    }
}

fn is_plain_absolute(path: &Path) -> bool {
    path.is_absolute()
        && path
            .components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_under_the_grant() {
        let dir = tempfile::tempdir().unwrap();
        let granted = dir.path().join("granted");
        std::fs::create_dir(&granted).unwrap();
        std::fs::write(granted.join("a.txt"), "yes").unwrap();
        std::fs::write(dir.path().join("secret.txt"), "no").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.txt"), granted.join("link")).unwrap();
        let grant = Grant::new(granted.to_str().unwrap()).unwrap();
        let under = |name: &str| format!("{}/{name}", granted.display());
        assert_eq!(grant.read(&under("a.txt")).unwrap(), Some(b"yes".to_vec()));
        assert_eq!(grant.read(&under("missing")).unwrap(), None);
        assert!(
            grant.read(&under("link")).is_err(),
            "a link out of the grant"
        );
        assert!(grant.read(&under("../secret.txt")).is_err());
        assert!(
            grant
                .read(&format!("{}/secret.txt", dir.path().display()))
                .is_err()
        );
        assert!(grant.read("relative.txt").is_err());
        assert!(Grant::new("relative").is_err());
        assert!(Grant::new("/a/../b").is_err());
    }
}
