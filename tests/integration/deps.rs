//! The real tools some tests need (Prometheus, bubblewrap, an NSS module), installed by
//! `scripts/install-test-deps` into `target/test-deps/` (or `$DRIFTLESS_TEST_DEPS`) when
//! missing; a test that needs them and cannot get them fails.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The test-deps directory, with every path of `needed` (relative to it, such as
/// `bin/promtool` or `lib/libnss_extrausers.so.2`) present.
pub fn test_deps(needed: &[&str]) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let deps = std::env::var_os("DRIFTLESS_TEST_DEPS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/test-deps"));
    if !needed.iter().all(|path| deps.join(path).exists()) {
        let status = Command::new(root.join("scripts/install-test-deps"))
            .status()
            .expect("run scripts/install-test-deps");
        assert!(status.success(), "scripts/install-test-deps failed");
    }
    for path in needed {
        assert!(
            deps.join(path).exists(),
            "{path} missing in {}",
            deps.display()
        );
    }
    deps
}
