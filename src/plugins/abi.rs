//! The plugin ABI, version 1: a WebAssembly core module that exchanges JSON with driftless
//! through its linear memory (docs/plugins.md is the reference).
//!
//! A plugin exports `memory`, `driftless_abi_version() -> i32` (1), `alloc(len: i32) -> i32`
//! (room for `len` bytes that driftless fills), `describe() -> i64` (its manifest), and, for
//! what the manifest declares, `expand(ptr, len) -> i64`, `filter(ptr, len) -> i64` and
//! `log_filter(ptr, len) -> i64`. Every answer is a pointer and a length packed into one i64
//! (`ptr << 32 | len`) naming UTF-8 JSON in the plugin's memory. It may import one host
//! function, `driftless.read_file(ptr, len) -> i64`, which reads a file under the path the
//! config grants it.

/// The ABI version this driftless speaks; a plugin exporting another is refused.
pub const VERSION: i32 = 1;

pub const MEMORY: &str = "memory";
pub const ABI_VERSION: &str = "driftless_abi_version";
pub const ALLOC: &str = "alloc";
pub const DESCRIBE: &str = "describe";
pub const EXPAND: &str = "expand";
pub const FILTER: &str = "filter";
pub const LOG_FILTER: &str = "log_filter";

/// The module and name of the one host function a plugin may import.
pub const HOST_MODULE: &str = "driftless";
pub const READ_FILE: &str = "read_file";

/// `read_file`'s answers that are not a packed pointer and length: the file does not exist
/// (or is not a regular file), or it is larger than [`MAX_MESSAGE_BYTES`].
pub const READ_NOT_FOUND: i64 = -1;
pub const READ_TOO_LARGE: i64 = -2;

/// The largest JSON document either side passes: 16 MiB.
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;

/// A pointer and a length from one i64 (`ptr << 32 | len`).
pub fn unpack(packed: i64) -> (usize, usize) {
    let bits = packed as u64;
    ((bits >> 32) as usize, (bits & 0xffff_ffff) as usize)
}

/// A pointer and a length as one i64, as `read_file` answers.
pub fn pack(ptr: u32, len: u32) -> i64 {
    ((u64::from(ptr) << 32) | u64::from(len)) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_and_unpack_are_inverse() {
        assert_eq!(unpack(pack(0x1234, 0xffff_fff0)), (0x1234, 0xffff_fff0));
        assert_eq!(unpack(pack(0xffff_ffff, 7)), (0xffff_ffff, 7));
    }
}
