//! A user's login: what running a program as that user takes — uid, primary gid,
//! supplementary groups (`getgrouplist`) and home — through NSS, as `su`/`sudo` see it.
//! Not cached: a run may have created or changed the account a moment ago.

use std::ffi::{CStr, CString};
use std::io;

use super::users::nss::with_buffer;

/// Who a program runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    pub uid: u32,
    pub gid: u32,
    /// Every group the user is in, the primary one included.
    pub groups: Vec<u32>,
    pub home: String,
}

/// The login of user `name`; `None` when there is no such user.
pub fn of(name: &str) -> io::Result<Option<Login>> {
    let c_name = CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "name contains a NUL byte"))?;
    // SAFETY: an all-zero passwd is a valid value (null pointers, zero ids).
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut home = String::new();
    let found = with_buffer(|buf, result: *mut *mut libc::passwd| {
        // SAFETY: c_name is NUL-terminated; entry, buf and result are valid for writes and
        // buf.len() is the buffer's size.
        let rc = unsafe {
            libc::getpwnam_r(
                c_name.as_ptr(),
                &mut entry,
                buf.as_mut_ptr(),
                buf.len(),
                result,
            )
        };
        // pw_dir points into buf: copied before buf can be grown or dropped.
        // SAFETY: on success with an entry, pw_dir is NULL or a NUL-terminated string in buf.
        if rc == 0 && !unsafe { *result }.is_null() && !entry.pw_dir.is_null() {
            home = unsafe { CStr::from_ptr(entry.pw_dir) }
                .to_string_lossy()
                .into_owned();
        }
        rc
    })?;
    if !found {
        return Ok(None);
    }
    let groups = group_list(&c_name, entry.pw_gid)?;
    Ok(Some(Login {
        uid: entry.pw_uid,
        gid: entry.pw_gid,
        groups,
        home,
    }))
}

/// The groups of a user (`getgrouplist`), grown while the list is too short.
fn group_list(name: &CStr, gid: u32) -> io::Result<Vec<u32>> {
    let mut size: libc::c_int = 32;
    loop {
        let mut groups = vec![0 as libc::gid_t; size as usize];
        let mut count = size;
        // SAFETY: name is NUL-terminated; groups holds `count` gids.
        let rc = unsafe { libc::getgrouplist(name.as_ptr(), gid, groups.as_mut_ptr(), &mut count) };
        if rc >= 0 {
            groups.truncate(count.max(0) as usize);
            return Ok(groups);
        }
        // -1: too small, and `count` says how many there are.
        if count <= size || count > 65_536 {
            return Err(io::Error::other(
                "the group list of the user cannot be read",
            ));
        }
        size = count;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn root_logs_in_at_its_home_in_its_groups() {
        let root = super::of("root").unwrap().unwrap();
        assert_eq!((root.uid, root.gid), (0, 0));
        assert!(root.groups.contains(&0));
        assert_eq!(root.home, "/root");
        assert_eq!(super::of("no-such-user-here").unwrap(), None);
    }
}
