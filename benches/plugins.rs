//! Benchmark of WebAssembly plugins (issue 19), with the example plugin
//! (`examples/plugins/motd/motd.wat`):
//!
//! 1. one call after caching: a fresh instance of the cached module and one call (the log
//!    filter `triage` on one event, and the filter `shout`) — goal ≤ 1 ms;
//! 2. `driftless plan` of 1,000 `motd` tasks against the same tasks written as built-in
//!    tasks (each `motd` is one `file` and one `command`) — goal ≤ 2×.
//!
//! Usage: `cargo bench --features plugins --bench plugins [-- TASKS]` (a release build).
//! `bench/plugins/sizes` gives the binary sizes with and without the feature.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use driftless::plugins::{LogFilterPlugin, Plugins};

fn main() {
    let tasks: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1000);
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/plugins/motd/motd.wat");
    let wasm = wat::parse_file(&source).expect("the example plugin assembles");
    calls(&wasm);
    planning(&wasm, tasks);
}

fn calls(wasm: &[u8]) {
    let cache = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    Plugins::single("site", wasm, None, Some(cache.path())).expect("compile");
    let compile = started.elapsed();
    let started = Instant::now();
    let plugins = Plugins::single("site", wasm, None, Some(cache.path())).expect("load");
    let load = started.elapsed();
    println!(
        "load: compile and cache {:.2} ms, from the cache {:.2} ms",
        ms(compile),
        ms(load)
    );
    let triage = LogFilterPlugin::new(&plugins, "triage").expect("triage");
    let event = serde_json::json!({"file": "/var/log/app.log", "level": "error", "message": "disk full on /var"});
    let calls = 2000;
    for _ in 0..100 {
        triage.apply(&event).expect("warm up");
    }
    let started = Instant::now();
    for _ in 0..calls {
        triage.apply(&event).expect("call");
    }
    let each = started.elapsed() / calls;
    println!(
        "instantiate + one call (log filter `triage`): {:.1} µs per call over {calls} calls (goal ≤ 1 ms)",
        each.as_secs_f64() * 1e6
    );
}

fn planning(wasm: &[u8], tasks: usize) {
    let temp = tempfile::tempdir().expect("temp dir");
    let base = temp.path();
    let root = base.join("root");
    std::fs::create_dir_all(&root).expect("root");
    let digest = driftless::plugins::sha256_hex(wasm);
    let plugin_dir = base.join("with-plugin");
    std::fs::create_dir_all(plugin_dir.join("plugins")).expect("mkdir");
    std::fs::write(plugin_dir.join("plugins/site.wasm"), wasm).expect("write plugin");
    let mut with_plugin =
        format!("settings:\n  plugins:\n    - name: site\n      sha256: {digest}\napply:\n");
    let mut built_in = String::from("apply:\n");
    let hostname = driftless::facts::HostFacts::gather().hostname;
    for i in 0..tasks {
        let path = root.join(format!("motd-{i}"));
        let path = path.display();
        with_plugin.push_str(&format!(
            "  - type: motd\n    id: m{i}\n    message: hello {i}\n    path: {path}\n"
        ));
        built_in.push_str(&format!(
            "  - type: file\n    id: m{i}-file\n    path: {path}\n    content: \"hello {i} from {hostname}\\n\"\n  - type: command\n    id: m{i}-seen\n    cmd: cp {path} {path}.seen\n    creates: {path}.seen\n    depends_on: [m{i}-file]\n"
        ));
    }
    std::fs::write(plugin_dir.join("main.yaml"), with_plugin).expect("write config");
    let built_in_dir = base.join("built-in");
    std::fs::create_dir_all(&built_in_dir).expect("mkdir");
    std::fs::write(built_in_dir.join("main.yaml"), built_in).expect("write config");
    let state = base.join("state");
    let plugin_time = best_plan(&plugin_dir, &state);
    let built_in_time = best_plan(&built_in_dir, &state);
    println!(
        "plan of {tasks} `motd` tasks: {:.0} ms; the same {} tasks written as built-in: {:.0} ms; ratio {:.2} (goal ≤ 2)",
        ms(plugin_time),
        tasks * 2,
        ms(built_in_time),
        plugin_time.as_secs_f64() / built_in_time.as_secs_f64()
    );
}

/// The best of five `driftless plan` runs (the first fills the plugin cache).
fn best_plan(config: &Path, state: &Path) -> Duration {
    (0..5)
        .map(|_| {
            let started = Instant::now();
            let output = Command::new(env!("CARGO_BIN_EXE_driftless"))
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("HOME", state)
                .env("DRIFTLESS_STATE_DIR", state)
                .arg("-c")
                .arg(config)
                .arg("--env-file")
                .arg(state.join("no-env"))
                .arg("plan")
                .output()
                .expect("run driftless");
            assert!(
                output.status.success(),
                "plan failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            started.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
