//! Crash safety: `execute` killed with SIGKILL at random moments while it rewrites many large
//! files never leaves a partly written file: each is exactly its old or its new content, no
//! temp file shows under a visible name, and a re-run converges.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use crate::common::{self, World};

const FILES: usize = 300;
const ITERATIONS: usize = 20;

const CONFIG: &str = r#"
apply:
  - id: big
    type: file
    path: "{{ root }}/f{{ item }}"
    source: files/big
    loop: "{{ range(300) | list }}"
"#;

/// Large content, different for each version, in long lines (so diffs stay few lines).
fn content(version: usize) -> Vec<u8> {
    let line = format!("{version:04}-").repeat(800);
    format!("{line}\n").repeat(3).into_bytes()
}

/// A small xorshift generator: the delays need not be good random numbers, only varied.
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

fn contents(world: &World) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(&world.root).expect("read root") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            // A temp file a killed run left: hidden, and never a managed name.
            assert!(
                name.contains(".driftless-"),
                "unexpected hidden file {name}"
            );
            continue;
        }
        out.insert(name, std::fs::read(entry.path()).expect("read"));
    }
    out
}

#[test]
fn sigkill_at_random_moments_never_leaves_a_partial_file() {
    let world = World::new(CONFIG);
    common::write(&world.config.join("files/big"), &content(0));
    world.apply();
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    let mut random = Random(seed);
    let mut killed_mid_run = 0;
    for version in 1..=ITERATIONS {
        let old = contents(&world);
        assert_eq!(old.len(), FILES);
        let new = content(version);
        common::write(&world.config.join("files/big"), &new);
        let (plan, _) = world.plan();
        let delay = random.below(50);
        let mut child = Command::new(env!("CARGO_BIN_EXE_driftless"))
            .arg("--env-file")
            .arg(&world.env_file)
            .arg("-q")
            .arg("execute")
            .arg(&plan)
            .env("HOME", world.temp.path())
            .env("DRIFTLESS_STATE_DIR", world.state_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn execute");
        // The delay counts from the first rename (a new inode at a managed name): most of a
        // debug build's run is reading the plan, which a kill cannot harm.
        let inodes = || -> Vec<u64> {
            (0..FILES)
                .map(|i| std::fs::metadata(world.path(&format!("f{i}"))).map_or(0, |m| m.ino()))
                .collect()
        };
        let first = inodes();
        let waiting = Instant::now();
        while inodes() == first
            && child.try_wait().expect("try_wait").is_none()
            && waiting.elapsed() < Duration::from_secs(60)
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(delay));
        let finished = child.try_wait().expect("try_wait").is_some();
        let _ = child.kill();
        child.wait().expect("wait");
        let now = contents(&world);
        assert_eq!(
            now.keys().collect::<Vec<_>>(),
            old.keys().collect::<Vec<_>>(),
            "iteration {version} (seed {seed}, delay {delay} ms): the visible names changed"
        );
        let mut rewritten = 0;
        for (name, bytes) in &now {
            if *bytes == new {
                rewritten += 1;
            } else {
                assert!(
                    *bytes == old[name],
                    "iteration {version} (seed {seed}, delay {delay} ms): {name} is neither the \
                     old nor the new content ({} bytes)",
                    bytes.len()
                );
            }
        }
        if !finished && rewritten > 0 && rewritten < FILES {
            killed_mid_run += 1;
        }
    }
    eprintln!("{killed_mid_run} of {ITERATIONS} kills landed in the middle of the writes");
    // A re-run converges, and leaves the tree clean of nothing but what it manages.
    world.apply();
    let after = contents(&world);
    assert!(after.values().all(|bytes| *bytes == content(ITERATIONS)));
    world.assert_converged();
}
