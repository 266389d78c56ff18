//! `basename` and `dirname`, as Python's `os.path` (Ansible's filters) computes them: the
//! text after (before) the last `/`, so `dir/` has an empty basename.

pub fn basename(path: &str) -> String {
    path.rsplit_once('/')
        .map_or(path, |(_, name)| name)
        .to_owned()
}

pub fn dirname(path: &str) -> String {
    let head = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    // `os.path.dirname` strips the head's trailing slashes unless it is only slashes.
    if head.bytes().all(|b| b == b'/') {
        head.to_owned()
    } else {
        head.trim_end_matches('/').to_owned()
    }
}
