//! The rules of account fields beyond their types, checked before anything runs: names the
//! tools accept, ids in range, fields that cannot break the account files' lines, passwords
//! given as hashes.

use crate::apply::SENSITIVE;
use crate::diagnostics::Diagnostic;
use crate::model::Spanned;
use crate::model::values::{ACCOUNT_NAME_RULE, is_account_name};

/// The largest id: `(uid_t) -1` means "no id" to the system calls that take one.
pub const MAX_ID: i64 = u32::MAX as i64 - 1;

fn shown(value: &Spanned<String>) -> &str {
    if value.sensitive {
        SENSITIVE
    } else {
        &value.value
    }
}

/// A user or group name (`noun`) the tools accept and no tool reads as something else.
pub fn account_name(name: &Spanned<String>, noun: &str, found: &mut Vec<Diagnostic>) {
    if !is_account_name(&name.value) {
        found.push(
            Diagnostic::error(format!(
                "invalid {noun} name `{}`",
                crate::printable::escape(shown(name))
            ))
            .at(name.span)
            .help(ACCOUNT_NAME_RULE),
        );
    }
}

/// A uid or gid (`field`) in range.
pub fn account_id(id: &Spanned<i64>, field: &str, found: &mut Vec<Diagnostic>) {
    if !(0..=MAX_ID).contains(&id.value) {
        found.push(
            Diagnostic::error(format!("`{field}` {} is out of range", id.value))
                .at(id.span)
                .help(format!(
                    "ids are between 0 and {MAX_ID} ({} means \"no id\" to the system)",
                    u32::MAX
                )),
        );
    }
}

/// A field of a passwd line: no `:` (the field separator) and no newline or other control
/// character (a newline would end the line and start another account).
pub fn one_field(value: &Spanned<String>, field: &str, found: &mut Vec<Diagnostic>) {
    if value.value.chars().any(|c| c == ':' || c.is_control()) {
        found.push(
            Diagnostic::error(format!(
                "`{field}` cannot hold `:`, a newline or another control character"
            ))
            .at(value.span)
            .help("they separate the fields and the lines of /etc/passwd"),
        );
    }
}

/// A password is a crypt(3) hash (`$id$…`), or a locked one (`!…`, `*`): driftless never
/// stores or compares a password in clear. The value itself is never quoted.
pub fn password_hash(password: &Spanned<String>, found: &mut Vec<Diagnostic>) {
    let text = &password.value;
    let fits = !text.chars().any(|c| c == ':' || c.is_control() || c == ' ');
    let hashed = text.starts_with('$') && text.split('$').count() >= 4;
    let locked = text.starts_with('!') || text.starts_with('*');
    if !(fits && (hashed || locked)) {
        found.push(
            Diagnostic::error("`password` is not a crypt hash (its value is not shown)")
                .at(password.span)
                .help(
                    "give the hash, e.g. from `mkpasswd --method=yescrypt` or `openssl passwd -6`, \
                     or `!` to lock the account; keep it in a secret",
                ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn findings(check: impl Fn(&mut Vec<Diagnostic>)) -> usize {
        let mut found = Vec::new();
        check(&mut found);
        found.len()
    }

    #[test]
    fn names_the_tools_accept_and_nothing_else() {
        for good in ["deploy", "www-data", "_apt", "a.b", "host$", "Debian-exim"] {
            let name = Spanned::unplaced(good.to_owned());
            assert_eq!(findings(|f| account_name(&name, "user", f)), 0, "{good}");
        }
        for bad in [
            "",
            "-rf",
            "1001",
            "a:b",
            "a b",
            "a,b",
            "nginx; rm -rf /",
            "a$b",
            "$",
            "a\nb",
            "abcdefghijklmnopqrstuvwxyz0123456",
        ] {
            let name = Spanned::unplaced(bad.to_owned());
            assert_eq!(findings(|f| account_name(&name, "user", f)), 1, "{bad:?}");
        }
    }

    #[test]
    fn ids_are_in_range() {
        for (id, bad) in [(0, 0), (MAX_ID, 0), (-1, 1), (MAX_ID + 1, 1)] {
            let id = Spanned::unplaced(id);
            assert_eq!(findings(|f| account_id(&id, "uid", f)), bad);
        }
    }

    #[test]
    fn a_password_is_a_hash_and_never_quoted() {
        let good = "$6$salt$Q8Ql6e3b1hV0q2rj5Y4YbY3uQn3e8e0Kx3b5cZ1lPq7x1mNq0Wc8oR2Ue0yQ";
        for (password, bad) in [
            (good, 0),
            ("!", 0),
            ("*", 0),
            ("hunter2", 1),
            ("$6$a:b$c", 1),
        ] {
            let value = Spanned::unplaced(password.to_owned());
            let mut found = Vec::new();
            password_hash(&value, &mut found);
            assert_eq!(found.len(), bad, "{password}");
            for d in &found {
                assert!(!format!("{d:?}").contains(password), "{d:?}");
            }
        }
    }
}
