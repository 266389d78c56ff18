//! Users and groups by name or id, from `/etc/passwd` and `/etc/group`.
//!
//! Read directly (no NSS) so that a throwaway root sees its own files; a user known only to
//! NSS (LDAP, …) is given by numeric id.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::model::values::Principal;

struct Table {
    by_name: HashMap<String, u32>,
    by_id: HashMap<u32, String>,
}

fn parse(path: &str) -> Table {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut table = Table {
        by_name: HashMap::new(),
        by_id: HashMap::new(),
    };
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let mut fields = line.split(':');
        let (Some(name), Some(_), Some(id)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        if let Ok(id) = id.parse::<u32>() {
            table.by_name.entry(name.to_owned()).or_insert(id);
            table.by_id.entry(id).or_insert_with(|| name.to_owned());
        }
    }
    table
}

fn users() -> &'static Table {
    static USERS: OnceLock<Table> = OnceLock::new();
    USERS.get_or_init(|| parse("/etc/passwd"))
}

fn groups() -> &'static Table {
    static GROUPS: OnceLock<Table> = OnceLock::new();
    GROUPS.get_or_init(|| parse("/etc/group"))
}

/// Which database a principal is looked up in.
#[derive(Clone, Copy)]
pub enum Db {
    User,
    Group,
}

impl Db {
    fn table(self) -> &'static Table {
        match self {
            Db::User => users(),
            Db::Group => groups(),
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Db::User => "user",
            Db::Group => "group",
        }
    }
}

/// The numeric id of a principal; a name that does not exist is an error.
pub fn resolve(db: Db, principal: &Principal) -> Result<u32, String> {
    match principal {
        Principal::Id(id) => Ok(*id),
        Principal::Name(name) => db.table().by_name.get(name).copied().ok_or_else(|| {
            format!(
                "no {} `{name}` on this host (looked up in /etc/{})",
                db.noun(),
                match db {
                    Db::User => "passwd",
                    Db::Group => "group",
                }
            )
        }),
    }
}

/// The name of an id, for humans; the id itself when it has no name.
pub fn name(db: Db, id: u32) -> String {
    db.table()
        .by_id
        .get(&id)
        .cloned()
        .unwrap_or_else(|| id.to_string())
}

/// The effective uid and gid of this process (the owner of `/proc/self`), which own what it
/// creates.
pub fn current() -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    static CURRENT: OnceLock<(u32, u32)> = OnceLock::new();
    *CURRENT.get_or_init(|| std::fs::metadata("/proc/self").map_or((0, 0), |m| (m.uid(), m.gid())))
}
