//! The files a source's `paths` and `exclude` globs match now, and the directories looked
//! into to find them (the ones to watch for new files). Patterns are matched by `globset`
//! (`*` and `?` stay within a path component, `**` crosses them); the walk starts at each
//! pattern's longest literal directory and goes no deeper than the pattern can match.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use globset::{Glob, GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};

/// How deep a `**` pattern is followed below its literal directory.
const MAX_DEPTH: usize = 32;

/// A regular file a glob matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub dev: u64,
    pub ino: u64,
}

#[derive(Debug, Clone)]
struct Include {
    base: PathBuf,
    depth: usize,
    matcher: GlobMatcher,
}

#[derive(Debug, Clone)]
pub struct PathGlobs {
    includes: Vec<Include>,
    /// Exclusions written as paths (with a `/`), matched against the whole path.
    exclude_paths: GlobSet,
    /// Exclusions without a `/` (`*.gz`), matched against the file name.
    exclude_names: GlobSet,
}

/// One pattern, compiled; the error says what is wrong with it.
pub fn compile(pattern: &str) -> Result<Glob, String> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|e| e.kind().to_string())
}

fn is_literal(component: &str) -> bool {
    !component.contains(['*', '?', '[', '{', '\\'])
}

impl PathGlobs {
    pub fn new(paths: &[String], exclude: &[String]) -> Result<PathGlobs, String> {
        let mut includes = Vec::with_capacity(paths.len());
        for pattern in paths {
            let glob = compile(pattern).map_err(|e| format!("`{pattern}`: {e}"))?;
            let mut base = PathBuf::new();
            let mut rest = Vec::new();
            for component in Path::new(pattern).components() {
                let text = component.as_os_str().to_string_lossy();
                if rest.is_empty() && (component == Component::RootDir || is_literal(&text)) {
                    base.push(component);
                } else {
                    rest.push(text.into_owned());
                }
            }
            if rest.is_empty() {
                // A plain path: its directory is walked one level deep.
                let name = base.file_name().map(|n| n.to_string_lossy().into_owned());
                base.pop();
                rest.extend(name);
            }
            let depth = if rest.iter().any(|c| c.contains("**")) {
                MAX_DEPTH
            } else {
                rest.len()
            };
            includes.push(Include {
                base,
                depth,
                matcher: glob.compile_matcher(),
            });
        }
        let mut paths = GlobSetBuilder::new();
        let mut names = GlobSetBuilder::new();
        for pattern in exclude {
            let glob = compile(pattern).map_err(|e| format!("`{pattern}`: {e}"))?;
            if pattern.contains('/') {
                paths.add(glob);
            } else {
                names.add(glob);
            }
        }
        Ok(PathGlobs {
            includes,
            exclude_paths: paths.build().map_err(|e| e.to_string())?,
            exclude_names: names.build().map_err(|e| e.to_string())?,
        })
    }

    /// The regular files matched now (symbolic links followed to their file), and the
    /// directories walked to find them.
    pub fn scan(&self) -> (BTreeMap<PathBuf, Found>, BTreeSet<PathBuf>) {
        let mut files = BTreeMap::new();
        let mut dirs = BTreeSet::new();
        for include in &self.includes {
            self.walk(include, &include.base, include.depth, &mut files, &mut dirs);
        }
        (files, dirs)
    }

    /// Every directory a glob would look into: where its walk starts.
    pub fn bases(&self) -> impl Iterator<Item = &Path> {
        self.includes.iter().map(|i| i.base.as_path())
    }

    fn walk(
        &self,
        include: &Include,
        dir: &Path,
        depth: usize,
        files: &mut BTreeMap<PathBuf, Found>,
        dirs: &mut BTreeSet<PathBuf>,
    ) {
        use std::os::unix::fs::MetadataExt;
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        dirs.insert(dir.to_path_buf());
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if depth > 1 {
                    self.walk(include, &path, depth - 1, files, dirs);
                }
                continue;
            }
            if !include.matcher.is_match(&path)
                || self.exclude_paths.is_match(&path)
                || self.exclude_names.is_match(entry.file_name())
            {
                continue;
            }
            // A link to a log file (as container runtimes make) is read as that file.
            if let Ok(meta) = std::fs::metadata(&path)
                && meta.is_file()
            {
                files.insert(
                    path,
                    Found {
                        dev: meta.dev(),
                        ino: meta.ino(),
                    },
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(globs: &PathGlobs, root: &Path) -> Vec<String> {
        let (files, _) = globs.scan();
        files
            .keys()
            .map(|p| p.strip_prefix(root).unwrap().display().to_string())
            .collect()
    }

    #[test]
    fn globs_match_within_components_and_exclude_removes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for name in [
            "a.log",
            "b.log",
            "c.txt",
            "old.log.gz",
            "sub/d.log",
            "sub/deep/e.log",
        ] {
            let path = root.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b"x\n").unwrap();
        }
        let r = root.display();
        let globs = PathGlobs::new(&[format!("{r}/*.log*")], &[format!("{r}/*.gz")]).unwrap();
        assert_eq!(names(&globs, root), ["a.log", "b.log"]);
        let globs =
            PathGlobs::new(&[format!("{r}/**")], &["*.gz".into(), "[cd].*".into()]).unwrap();
        assert_eq!(names(&globs, root), ["a.log", "b.log", "sub/deep/e.log"]);
        let globs = PathGlobs::new(&[format!("{r}/**/*.log")], &[]).unwrap();
        assert_eq!(
            names(&globs, root),
            ["a.log", "b.log", "sub/d.log", "sub/deep/e.log"]
        );
        let globs =
            PathGlobs::new(&[format!("{r}/sub/d.log"), format!("{r}/{{a,c}}.*")], &[]).unwrap();
        assert_eq!(names(&globs, root), ["a.log", "c.txt", "sub/d.log"]);
        let (_, dirs) = globs.scan();
        assert!(dirs.contains(root) && dirs.contains(&root.join("sub")));
    }

    #[test]
    fn bad_patterns_say_why() {
        let error = PathGlobs::new(&["/var/log/[a.log".to_owned()], &[]).unwrap_err();
        assert!(error.contains("/var/log/[a.log"), "{error}");
    }
}
