//! Users and groups by name or id, through NSS (`getpwnam_r`, `getgrnam_r`, `getpwuid_r`,
//! `getgrgid_r`): what `/etc/nsswitch.conf` says, so users and groups from LDAP, SSSD or
//! extrausers resolve as they do for `getent` and for Ansible.
//!
//! Every answer, a miss included, is kept for the life of the process: an `apply` of many files
//! asks for the name of the same few ids once per file, and glibc's `files` module rereads
//! `/etc/passwd` on every call.

use std::collections::HashMap;
use std::ffi::{CStr, CString, c_char, c_int};
use std::io;
use std::sync::{Mutex, OnceLock};

/// Which database a principal is looked up in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    User,
    Group,
}

impl Db {
    fn noun(self) -> &'static str {
        match self {
            Db::User => "user",
            Db::Group => "group",
        }
    }

    /// The file the database usually lives in, for messages.
    fn file(self) -> &'static str {
        match self {
            Db::User => "passwd",
            Db::Group => "group",
        }
    }

    fn answers(self) -> &'static Mutex<Answers> {
        static USERS: OnceLock<Mutex<Answers>> = OnceLock::new();
        static GROUPS: OnceLock<Mutex<Answers>> = OnceLock::new();
        match self {
            Db::User => USERS.get_or_init(Mutex::default),
            Db::Group => GROUPS.get_or_init(Mutex::default),
        }
    }
}

/// The NSS answers this process has had, misses included.
#[derive(Default)]
struct Answers {
    by_name: HashMap<String, Option<u32>>,
    by_id: HashMap<u32, Option<String>>,
}

fn answers(db: Db) -> std::sync::MutexGuard<'static, Answers> {
    // The maps hold only finished answers, so one left by a panicking thread is still sound.
    db.answers().lock().unwrap_or_else(|e| e.into_inner())
}

/// The numeric id of a user or group name; a name that does not exist is an error.
pub fn resolve(db: Db, name: &str) -> Result<u32, String> {
    match id_of(db, name) {
        Ok(Some(id)) => Ok(id),
        Ok(None) => Err(format!(
            "no {} `{name}` on this host (looked up in /etc/{})",
            db.noun(),
            db.file()
        )),
        Err(e) => Err(format!("cannot look up {} `{name}`: {e}", db.noun())),
    }
}

/// The id of a name, `None` when NSS knows no such name.
fn id_of(db: Db, name: &str) -> io::Result<Option<u32>> {
    if let Some(known) = answers(db).by_name.get(name) {
        return Ok(*known);
    }
    // The lock is not held while NSS answers: a directory service may take a while.
    let found = match db {
        Db::User => nss::user_by_name(name)?,
        Db::Group => nss::group_by_name(name)?,
    };
    answers(db).by_name.insert(name.to_owned(), found);
    Ok(found)
}

/// The name of an id, for humans; the id itself when it has no name (or NSS fails).
pub fn name(db: Db, id: u32) -> String {
    if let Some(known) = answers(db).by_id.get(&id) {
        return known.clone().unwrap_or_else(|| id.to_string());
    }
    let found = match db {
        Db::User => nss::user_by_id(id),
        Db::Group => nss::group_by_id(id),
    };
    match found {
        Ok(found) => {
            answers(db).by_id.insert(id, found.clone());
            found.unwrap_or_else(|| id.to_string())
        }
        // Not kept: a failing directory service may answer the next time.
        Err(_) => id.to_string(),
    }
}

/// Forgets every answer: accounts a run creates or changes are looked up afresh.
pub fn forget() {
    for db in [Db::User, Db::Group] {
        *answers(db) = Answers::default();
    }
}

/// A user's entry in the passwd database, as NSS gives it (never cached: `user` tasks compare
/// it with what they want, before and after changing it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    /// The primary group's id.
    pub gid: u32,
    /// The GECOS field (`comment`).
    pub gecos: String,
    pub home: String,
    pub shell: String,
}

/// A user's passwd entry; `None` when NSS knows no such user.
pub fn account(name: &str) -> io::Result<Option<Account>> {
    nss::account_by_name(name)
}

/// The ids of the groups listing `user` as a member, besides its primary group `gid`
/// (`getgrouplist`, through NSS).
pub fn supplementary_gids(user: &str, gid: u32) -> io::Result<Vec<u32>> {
    nss::group_list(user, gid).map(|gids| gids.into_iter().filter(|&g| g != gid).collect())
}

/// The id of a group, asked afresh (not from the answers kept): `None` when there is none.
pub fn group_id(name: &str) -> io::Result<Option<u32>> {
    nss::group_by_name(name)
}

/// The password hash of every user in the shadow file at `path` (`/etc/shadow`), by name.
/// Read only when a task sets a password: the hashes are secrets and stay in this process.
pub fn shadow_hashes(path: &std::path::Path) -> io::Result<HashMap<String, String>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let mut fields = line.splitn(3, ':');
            let name = fields.next()?;
            let hash = fields.next()?;
            Some((name.to_owned(), hash.to_owned()))
        })
        .collect())
}

/// The effective uid and gid of this process, which own what it creates.
pub fn current() -> (u32, u32) {
    // driftless never changes its ids: asked once, not once per file.
    static CURRENT: std::sync::OnceLock<(u32, u32)> = std::sync::OnceLock::new();
    // SAFETY: geteuid and getegid have no preconditions and cannot fail.
    *CURRENT.get_or_init(|| unsafe { (libc::geteuid(), libc::getegid()) })
}

/// The four reentrant lookups, each retried with a larger buffer while it says `ERANGE`.
pub(super) mod nss {
    use super::*;

    /// No entry needs more than this; a module that keeps asking for more is failing.
    const MAX_BUFFER: usize = 1 << 20;

    pub fn user_by_name(name: &str) -> io::Result<Option<u32>> {
        let name = c_name(name)?;
        // SAFETY: an all-zero passwd is a valid value (null pointers, zero ids).
        let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
        let found = with_buffer(|buf, result: *mut *mut libc::passwd| {
            // SAFETY: name is NUL-terminated; entry, buf and result are valid for writes
            // and buf.len() is the buffer's size.
            unsafe {
                libc::getpwnam_r(
                    name.as_ptr(),
                    &mut entry,
                    buf.as_mut_ptr(),
                    buf.len(),
                    result,
                )
            }
        })?;
        Ok(found.then_some(entry.pw_uid))
    }

    pub fn group_by_name(name: &str) -> io::Result<Option<u32>> {
        let name = c_name(name)?;
        // SAFETY: an all-zero group is a valid value (null pointers, zero id).
        let mut entry: libc::group = unsafe { std::mem::zeroed() };
        let found = with_buffer(|buf, result: *mut *mut libc::group| {
            // SAFETY: as in user_by_name.
            unsafe {
                libc::getgrnam_r(
                    name.as_ptr(),
                    &mut entry,
                    buf.as_mut_ptr(),
                    buf.len(),
                    result,
                )
            }
        })?;
        Ok(found.then_some(entry.gr_gid))
    }

    pub fn user_by_id(uid: u32) -> io::Result<Option<String>> {
        // SAFETY: an all-zero passwd is a valid value.
        let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
        let mut name = None;
        with_buffer(|buf, result: *mut *mut libc::passwd| {
            // SAFETY: entry, buf and result are valid for writes; buf.len() is its size.
            let rc =
                unsafe { libc::getpwuid_r(uid, &mut entry, buf.as_mut_ptr(), buf.len(), result) };
            // pw_name points into buf, so it is copied before buf can be grown or dropped.
            // SAFETY: on success with an entry, pw_name is NULL or a NUL-terminated string in buf.
            name = unsafe { owned(rc, result, entry.pw_name) };
            rc
        })?;
        Ok(name)
    }

    pub fn group_by_id(gid: u32) -> io::Result<Option<String>> {
        // SAFETY: an all-zero group is a valid value.
        let mut entry: libc::group = unsafe { std::mem::zeroed() };
        let mut name = None;
        with_buffer(|buf, result: *mut *mut libc::group| {
            // SAFETY: as in user_by_id.
            let rc =
                unsafe { libc::getgrgid_r(gid, &mut entry, buf.as_mut_ptr(), buf.len(), result) };
            // SAFETY: as in user_by_id, for gr_name.
            name = unsafe { owned(rc, result, entry.gr_name) };
            rc
        })?;
        Ok(name)
    }

    pub fn account_by_name(name: &str) -> io::Result<Option<Account>> {
        let c = c_name(name)?;
        // SAFETY: an all-zero passwd is a valid value.
        let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
        let mut account = None;
        with_buffer(|buf, result: *mut *mut libc::passwd| {
            // SAFETY: c is NUL-terminated; entry, buf and result are valid for writes and
            // buf.len() is the buffer's size.
            let rc = unsafe {
                libc::getpwnam_r(c.as_ptr(), &mut entry, buf.as_mut_ptr(), buf.len(), result)
            };
            // The strings point into buf: copied before buf can be grown or dropped.
            // SAFETY: on success with an entry, each field is NULL or a NUL-terminated string
            // in buf.
            account = unsafe { owned(rc, result, entry.pw_name) }.map(|name| Account {
                name,
                uid: entry.pw_uid,
                gid: entry.pw_gid,
                // SAFETY: as above.
                gecos: unsafe { text(entry.pw_gecos) },
                // SAFETY: as above.
                home: unsafe { text(entry.pw_dir) },
                // SAFETY: as above.
                shell: unsafe { text(entry.pw_shell) },
            });
            rc
        })?;
        Ok(account)
    }

    /// `getgrouplist`, retried with a larger list while the user is in more groups.
    pub fn group_list(user: &str, gid: u32) -> io::Result<Vec<u32>> {
        let c = c_name(user)?;
        let mut gids: Vec<libc::gid_t> = vec![0; 64];
        loop {
            let mut count = c_int::try_from(gids.len()).unwrap_or(c_int::MAX);
            // SAFETY: c is NUL-terminated; gids holds `count` writable entries.
            let rc = unsafe { libc::getgrouplist(c.as_ptr(), gid, gids.as_mut_ptr(), &mut count) };
            let wanted = usize::try_from(count).unwrap_or(0);
            if rc >= 0 {
                gids.truncate(wanted);
                return Ok(gids);
            }
            if wanted <= gids.len() || wanted > 1 << 16 {
                return Err(io::Error::other("getgrouplist failed"));
            }
            gids.resize(wanted, 0);
        }
    }

    /// A field of an entry as text (empty when NULL).
    ///
    /// # Safety
    /// `field` is NULL or a NUL-terminated string alive for the call.
    unsafe fn text(field: *mut c_char) -> String {
        if field.is_null() {
            return String::new();
        }
        // SAFETY: the caller's contract.
        unsafe { CStr::from_ptr(field) }
            .to_string_lossy()
            .into_owned()
    }

    fn c_name(name: &str) -> io::Result<CString> {
        CString::new(name)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "name contains a NUL byte"))
    }

    /// The name a successful lookup wrote, copied out of the lookup's buffer.
    ///
    /// # Safety
    /// `result` is the lookup's result pointer and `name` the entry's name field, read right
    /// after the lookup returned `rc`, while its buffer is alive.
    unsafe fn owned<T>(rc: c_int, result: *mut *mut T, name: *mut c_char) -> Option<String> {
        // SAFETY: result points to the lookup's result slot (the caller's contract).
        if rc != 0 || unsafe { *result }.is_null() || name.is_null() {
            return None;
        }
        // SAFETY: name is a NUL-terminated string in the live buffer (the caller's contract).
        Some(
            unsafe { CStr::from_ptr(name) }
                .to_string_lossy()
                .into_owned(),
        )
    }

    /// Runs a `get*_r` call with a buffer that doubles while the call says `ERANGE`; `true`
    /// when it found an entry, `false` when there is none.
    pub(in crate::host) fn with_buffer<T>(
        mut call: impl FnMut(&mut Vec<c_char>, *mut *mut T) -> c_int,
    ) -> io::Result<bool> {
        // SAFETY: sysconf has no preconditions; -1 (no limit known) falls back to 1 KiB.
        let hint = unsafe { libc::sysconf(libc::_SC_GETPW_R_SIZE_MAX) };
        let mut buf: Vec<c_char> = vec![
            0;
            usize::try_from(hint)
                .unwrap_or(1024)
                .clamp(1024, MAX_BUFFER)
        ];
        loop {
            let mut result: *mut T = std::ptr::null_mut();
            let rc = call(&mut buf, &mut result);
            match rc {
                0 => return Ok(!result.is_null()),
                // "The given name or uid was not found" (getpwnam_r(3)): some modules say so.
                libc::ENOENT | libc::ESRCH | libc::EBADF | libc::EPERM => return Ok(false),
                libc::ERANGE if buf.len() < MAX_BUFFER => buf.resize(buf.len() * 2, 0),
                _ => return Err(io::Error::from_raw_os_error(rc)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_resolves_both_ways() {
        assert_eq!(resolve(Db::User, "root"), Ok(0));
        assert_eq!(resolve(Db::Group, "root"), Ok(0));
        assert_eq!(name(Db::User, 0), "root");
        assert_eq!(name(Db::Group, 0), "root");
        // The second answer comes from the cache and is the same.
        assert_eq!(name(Db::User, 0), "root");
    }

    #[test]
    fn unknown_names_and_ids_are_misses() {
        let err = resolve(Db::User, "no-such-user-here");
        assert_eq!(
            err,
            Err("no user `no-such-user-here` on this host (looked up in /etc/passwd)".into())
        );
        let err = resolve(Db::Group, "no-such-group-here");
        assert_eq!(
            err,
            Err("no group `no-such-group-here` on this host (looked up in /etc/group)".into())
        );
        assert_eq!(name(Db::User, 4_000_000_000), "4000000000");
    }

    #[test]
    fn a_full_entry_and_the_groups_of_a_user() {
        let root = account("root").unwrap().expect("root exists");
        assert_eq!((root.name.as_str(), root.uid, root.gid), ("root", 0, 0));
        assert!(
            root.home.starts_with('/') && root.shell.starts_with('/'),
            "{root:?}"
        );
        assert_eq!(account("no-such-user-here").unwrap(), None);
        // The primary group is never among the supplementary ones.
        assert!(!supplementary_gids("root", 0).unwrap().contains(&0));
        assert_eq!(group_id("root").unwrap(), Some(0));
        assert_eq!(group_id("no-such-group-here").unwrap(), None);
    }

    #[test]
    fn shadow_hashes_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shadow");
        std::fs::write(
            &path,
            "root:$6$a$b:19000:0:99999:7:::\nlocked:!:19000::::::\nbroken\n",
        )
        .unwrap();
        let hashes = shadow_hashes(&path).unwrap();
        assert_eq!(hashes.get("root").map(String::as_str), Some("$6$a$b"));
        assert_eq!(hashes.get("locked").map(String::as_str), Some("!"));
        assert_eq!(hashes.len(), 2);
    }

    #[test]
    fn a_name_with_a_nul_byte_is_an_error_not_a_panic() {
        let err = resolve(Db::User, "a\0b").unwrap_err();
        assert!(err.contains("NUL"), "{err}");
    }

    #[test]
    fn the_buffer_grows_on_erange() {
        let mut sizes = Vec::new();
        let found = nss::with_buffer::<libc::passwd>(|buf, _| {
            sizes.push(buf.len());
            if buf.len() < 8192 { libc::ERANGE } else { 0 }
        });
        assert!(found.is_ok());
        assert!(sizes.windows(2).all(|w| w[1] == w[0] * 2), "{sizes:?}");
        assert!(*sizes.last().unwrap_or(&0) >= 8192);
        let gave_up = nss::with_buffer::<libc::passwd>(|_, _| libc::ERANGE);
        assert!(gave_up.is_err());
    }
}
