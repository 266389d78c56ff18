//! `/etc/os-release` (or `/usr/lib/os-release`): which operating system this is.

use super::procfs;

/// The os-release file's `KEY=value` pairs, in file order, values unquoted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OsRelease(Vec<(String, String)>);

impl OsRelease {
    /// The host's os-release; empty when neither file can be read.
    pub fn read() -> OsRelease {
        let text = procfs::read("/etc/os-release")
            .or_else(|_| procfs::read("/usr/lib/os-release"))
            .unwrap_or_default();
        OsRelease::parse(&text)
    }

    /// Parses `KEY=value` lines: one pair of surrounding quotes is removed, `\"` unescaped.
    pub fn parse(text: &str) -> OsRelease {
        OsRelease(
            text.lines()
                .filter_map(|line| {
                    let (key, value) = line.split_once('=')?;
                    let value = value.trim();
                    let value = value
                        .strip_prefix('"')
                        .and_then(|v| v.strip_suffix('"'))
                        .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                        .unwrap_or(value);
                    Some((key.trim().to_owned(), value.replace("\\\"", "\"")))
                })
                .collect(),
        )
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_unquoted() {
        let release = OsRelease::parse(
            "NAME=\"Debian GNU/Linux\"\nID=debian\nVERSION_CODENAME='bookworm'\nX=\"say \\\"hi\\\"\"\n",
        );
        assert_eq!(release.get("NAME"), Some("Debian GNU/Linux"));
        assert_eq!(release.get("ID"), Some("debian"));
        assert_eq!(release.get("VERSION_CODENAME"), Some("bookworm"));
        assert_eq!(release.get("X"), Some("say \"hi\""));
        assert_eq!(release.get("ID_LIKE"), None);
    }
}
