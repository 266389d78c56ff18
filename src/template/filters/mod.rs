//! The filters templates have beyond minijinja's built-ins: the Jinja2 built-ins minijinja
//! lacks (from minijinja-contrib, or written here where Jinja2's output differs) and the
//! Ansible filters people use most, each matching what Ansible renders for the same input
//! (tests/data/ansible-filters.json, recorded with ansible-core).
//!
//! One concept per file: `serialize` (to/from JSON and YAML), `pyyaml` (PyYAML's emitter, which
//! `to_yaml` must match), `regex`, `encoding` (base64, shell quoting), `hashing` (`hash`,
//! `password_hash`), `collections` (`combine`, `dict2items`), `paths`, `logic` (`bool`,
//! `ternary`, `mandatory`), `ipaddr`, `text` (Jinja's `wordwrap`).

mod collections;
mod encoding;
mod hashing;
mod ipaddr;
mod logic;
mod paths;
mod pyyaml;
mod regex;
mod serialize;
mod text;

#[cfg(test)]
mod tests;

use minijinja::Environment;

/// The filters minijinja itself registers (feature `builtins`), for "did you
/// mean" help: minijinja does not list an environment's filters.
const ENGINE_FILTERS: &[&str] = &[
    "safe",
    "escape",
    "e",
    "lower",
    "upper",
    "title",
    "capitalize",
    "replace",
    "length",
    "count",
    "dictsort",
    "items",
    "reverse",
    "trim",
    "join",
    "split",
    "lines",
    "default",
    "d",
    "round",
    "abs",
    "int",
    "float",
    "attr",
    "first",
    "last",
    "min",
    "max",
    "sort",
    "list",
    "string",
    "batch",
    "slice",
    "sum",
    "indent",
    "select",
    "reject",
    "selectattr",
    "rejectattr",
    "map",
    "groupby",
    "unique",
    "chain",
    "zip",
    "pprint",
    "format",
];

/// The tests minijinja registers, for "did you mean" help.
pub const TESTS: &[&str] = &[
    "undefined",
    "defined",
    "none",
    "safe",
    "escaped",
    "boolean",
    "odd",
    "even",
    "divisibleby",
    "number",
    "integer",
    "int",
    "float",
    "string",
    "sequence",
    "iterable",
    "mapping",
    "startingwith",
    "endingwith",
    "lower",
    "upper",
    "true",
    "false",
    "filter",
    "test",
    "in",
    "eq",
    "equalto",
    "==",
    "ne",
    "!=",
    "lt",
    "<",
    "le",
    "<=",
    "gt",
    ">",
    "ge",
    ">=",
    "sameas",
];

/// The filters registered here, by [`register`].
const OWN_FILTERS: &[&str] = &[
    "tojson",
    "to_json",
    "to_nice_json",
    "from_json",
    "to_yaml",
    "to_nice_yaml",
    "from_yaml",
    "regex_replace",
    "regex_search",
    "regex_findall",
    "regex_escape",
    "b64encode",
    "b64decode",
    "quote",
    "urlencode",
    "hash",
    "checksum",
    "password_hash",
    "mandatory",
    "bool",
    "ternary",
    "combine",
    "dict2items",
    "items2dict",
    "basename",
    "dirname",
    "ipaddr",
    "wordwrap",
    "truncate",
    "striptags",
    "filesizeformat",
];

/// Every filter name a template can use.
pub fn names() -> impl Iterator<Item = &'static str> {
    ENGINE_FILTERS.iter().chain(OWN_FILTERS).copied()
}

/// Adds every filter of this module to `env`.
pub fn register(env: &mut Environment<'static>) {
    env.add_filter("tojson", serialize::tojson);
    env.add_filter("to_json", serialize::to_json);
    env.add_filter("to_nice_json", serialize::to_nice_json);
    env.add_filter("from_json", serialize::from_json);
    env.add_filter("to_yaml", serialize::to_yaml);
    env.add_filter("to_nice_yaml", serialize::to_nice_yaml);
    env.add_filter("from_yaml", serialize::from_yaml);
    env.add_filter("regex_replace", regex::regex_replace);
    env.add_filter("regex_search", regex::regex_search);
    env.add_filter("regex_findall", regex::regex_findall);
    env.add_filter("regex_escape", regex::regex_escape);
    env.add_filter("b64encode", encoding::b64encode);
    env.add_filter("b64decode", encoding::b64decode);
    env.add_filter("quote", encoding::quote);
    env.add_filter("urlencode", encoding::urlencode);
    env.add_filter("hash", hashing::hash);
    env.add_filter("checksum", hashing::checksum);
    env.add_filter("password_hash", hashing::password_hash);
    env.add_filter("mandatory", logic::mandatory);
    env.add_filter("bool", logic::to_bool);
    env.add_filter("ternary", logic::ternary);
    env.add_filter("combine", collections::combine);
    env.add_filter("dict2items", collections::dict2items);
    env.add_filter("items2dict", collections::items2dict);
    env.add_filter("basename", paths::basename);
    env.add_filter("dirname", paths::dirname);
    env.add_filter("ipaddr", ipaddr::ipaddr);
    env.add_filter("wordwrap", text::wordwrap);
    env.add_filter("truncate", text::truncate);
    env.add_filter("striptags", minijinja_contrib::filters::striptags);
    env.add_filter("filesizeformat", minijinja_contrib::filters::filesizeformat);
}

/// An error of a filter given a value it cannot work on.
fn invalid(message: impl Into<String>) -> minijinja::Error {
    minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, message.into())
}
