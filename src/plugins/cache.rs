//! Compiled plugins cached by digest: `<state dir>/plugins/<sha256 of the .wasm>.cwasm`, so a
//! run after the first only maps machine code it made itself instead of compiling again.

use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use wasmtime::{Engine, Module};

use super::error::PluginError;

/// The module of `wasm` (whose SHA-256 is `digest`): from `cache_dir` when a usable entry is
/// there, else compiled — and then written there when `cache_dir` is given.
pub fn module(
    engine: &Engine,
    plugin: &str,
    wasm: &[u8],
    digest: &str,
    cache_dir: Option<&Path>,
) -> Result<Module, PluginError> {
    let entry = cache_dir.map(|dir| dir.join(format!("{digest}.cwasm")));
    if let Some(module) = entry.as_deref().and_then(|path| cached(engine, path)) {
        return Ok(module);
    }
    let module = Module::new(engine, wasm).map_err(|e| {
        PluginError::new(plugin, format!("is not a valid WebAssembly module: {e:#}"))
    })?;
    if let Some(path) = entry
        && let Err(why) = store(&module, &path)
    {
        // The module still runs; the next run compiles it again.
        tracing::warn!(plugin, path = %path.display(), "cannot cache the compiled plugin: {why}");
    }
    Ok(module)
}

/// A cache entry, if it is one this process may trust and this engine can load. Machine code
/// is loaded only from a regular file owned by the user driftless runs as and writable by no
/// one else (in a directory made the same way): whoever could write it could run code as
/// driftless.
fn cached(engine: &Engine, path: &Path) -> Option<Module> {
    let mut file = std::fs::File::open(path).ok()?;
    let meta = file.metadata().ok()?;
    let dir_meta = std::fs::metadata(path.parent()?).ok()?;
    let euid = effective_uid();
    let trusted = |m: &std::fs::Metadata| m.uid() == euid && m.mode() & 0o022 == 0;
    if !meta.is_file() || !trusted(&meta) || !trusted(&dir_meta) {
        tracing::warn!(path = %path.display(), "ignoring a compiled plugin not owned by this user or writable by others");
        return None;
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut bytes).ok()?;
    // SAFETY: `Module::deserialize` trusts its input to be machine code wasmtime made. This
    // file was written by `store` below from a module this engine compiled, under a name
    // that is the digest of the .wasm it came from, in a directory only this user can write
    // (checked above). wasmtime itself refuses an entry of another version or configuration
    // (then the plugin is compiled again).
    match unsafe { Module::deserialize(engine, &bytes) } {
        Ok(module) => Some(module),
        Err(e) => {
            tracing::info!(path = %path.display(), "compiling the plugin again: {e:#}");
            None
        }
    }
}

fn store(module: &Module, path: &Path) -> Result<(), String> {
    let dir: PathBuf = path.parent().map(Path::to_path_buf).unwrap_or_default();
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let bytes = module.serialize().map_err(|e| format!("{e:#}"))?;
    crate::fsutil::write_atomic(path, &bytes, 0o600, (None, None)).map_err(|e| e.to_string())
}

/// The effective user id.
fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}
