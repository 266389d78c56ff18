//! WebAssembly plugins (feature `plugins`): the example plugin's task type expanded and
//! applied end to end, its schema's findings at their lines, its filter and log filter; the
//! sandbox's bounds (fuel, memory, the granted path); a changed plugin refused; and
//! `driftless plugin check`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use serde_json::json;

use crate::common::{World, action, read, sha256_hex, write};

/// The example plugin (`examples/plugins/motd/motd.wat`), assembled once.
fn motd_wasm() -> &'static [u8] {
    static WASM: OnceLock<Vec<u8>> = OnceLock::new();
    WASM.get_or_init(|| {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/plugins/motd/motd.wat");
        wat::parse_file(&source).expect("the example plugin assembles")
    })
}

/// `settings.plugins` lines declaring `plugins/<name>.wasm` with its digest, written into
/// the world's config dir; they continue the `settings:` mapping `World::set_config` starts.
fn declare(world: &World, name: &str, wasm: &[u8], extra: &str) -> String {
    write(&world.config.join(format!("plugins/{name}.wasm")), wasm);
    format!(
        "  plugins:\n    - name: {name}\n      sha256: {}\n{extra}",
        sha256_hex(wasm)
    )
}

fn motd_world(tasks: &str) -> World {
    let world = World::new("");
    let settings = declare(&world, "site", motd_wasm(), "");
    world.set_config(&format!("{settings}apply:\n{tasks}"));
    world
}

fn hostname() -> String {
    driftless::facts::HostFacts::gather().hostname
}

#[test]
fn a_task_type_expands_to_a_file_and_a_command_applied_end_to_end() {
    let world = motd_world(
        "  - type: motd\n    id: motd\n    message: \"{{ 'hello' }}\"\n    path: \"{{ root }}/motd\"\n",
    );
    let (_, plan) = world.plan();
    assert_eq!(action(&plan, "apply.motd[file]"), "create");
    assert_eq!(action(&plan, "apply.motd[seen]"), "run");
    assert_eq!(plan["config"]["plugins"]["site"], sha256_hex(motd_wasm()));
    let seen = crate::common::node(&plan, "apply.motd[seen]");
    assert!(
        seen["depends_on"].to_string().contains("apply.motd[file]"),
        "the command runs after the file: {seen:#}"
    );
    let run = world.apply();
    assert_eq!(
        run.status_of("apply.motd[file]").as_deref(),
        Some("changed"),
        "{}",
        run.all()
    );
    let expected = format!("hello from {}\n", hostname());
    assert_eq!(read(&world.path("motd")), expected);
    assert_eq!(
        read(&world.path("motd.seen")),
        expected,
        "the command ran after the file"
    );
    world.assert_converged();
}

#[test]
fn check_reports_bad_fields_of_a_plugin_task_at_their_lines() {
    let world = motd_world("  - type: motd\n    id: motd\n    mesage: hi\n    path: etc/motd\n");
    let run = world.run(&["check"]);
    assert_ne!(run.code, 0, "{}", run.all());
    let text = read(&world.config.join("main.yaml"));
    let line_of = |needle: &str| {
        1 + text
            .lines()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no `{needle}` in the config"))
    };
    let unknown = format!("main.yaml:{}:5", line_of("mesage:"));
    let pattern = format!("main.yaml:{}:11", line_of("path: etc/motd"));
    let missing = format!("main.yaml:{}:11", line_of("type: motd"));
    assert!(
        run.stderr
            .contains("unknown field `mesage` of a `motd` task"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("did you mean `message`?"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&unknown),
        "expected {unknown}:\n{}",
        run.stderr
    );
    assert!(run.stderr.contains("`motd` field `path`"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&pattern),
        "expected {pattern}:\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("\"message\" is a required property"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&missing),
        "expected {missing}:\n{}",
        run.stderr
    );
}

#[test]
fn what_a_plugin_returns_is_checked_like_a_written_task() {
    // Two plugin tasks expanding to the same file: the claim conflict is reported at the
    // plugin task, like two written tasks managing one path.
    let world = motd_world(
        "  - type: motd\n    id: one\n    message: a\n    path: \"{{ root }}/motd\"\n  - type: motd\n    id: two\n    message: b\n    path: \"{{ root }}/motd\"\n",
    );
    let run = world.run(&["check"]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(run.stderr.contains("main.yaml:"), "{}", run.stderr);
    assert!(
        run.stderr.contains("two[file]") || run.stderr.contains("one[file]"),
        "{}",
        run.stderr
    );
}

/// A plugin with one task type `broken` whose `expand` runs `body` (WAT instructions leaving
/// an i64), with `data` in memory at 1024; `read_file` imported.
fn broken_plugin(body: &str, data: &str) -> Vec<u8> {
    let describe = r#"{"task_types":[{"name":"broken","schema":{"type":"object"}}]}"#;
    let escaped = describe.replace('"', "\\\"");
    let source = format!(
        r#"(module
  (import "driftless" "read_file" (func $read_file (param i32 i32) (result i64)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 8192))
  (data (i32.const 4096) "{escaped}")
  (data (i32.const 1024) "{data}")
  (func (export "driftless_abi_version") (result i32) (i32.const 1))
  (func (export "alloc") (param $len i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $len)))
    (if (i32.gt_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
      (then (drop (memory.grow (i32.add (i32.shr_u (local.get $len) (i32.const 16)) (i32.const 1))))))
    (local.get $ptr))
  (func (export "describe") (result i64)
    (i64.or (i64.shl (i64.const 4096) (i64.const 32)) (i64.const {len})))
  (func (export "expand") (param $in i32) (param $len i32) (result i64)
    {body}))"#,
        len = describe.len(),
    );
    wat::parse_str(source).expect("the test plugin assembles")
}

fn broken_world(wasm: &[u8], grant: &str) -> World {
    let world = World::new("");
    let settings = declare(&world, "broken", wasm, grant);
    world.set_config(&format!(
        "{settings}apply:\n  - type: broken\n    id: broken\n"
    ));
    world
}

#[test]
fn a_plugin_that_loops_forever_is_stopped_by_fuel_within_its_deadline() {
    let world = broken_world(&broken_plugin("(loop (br 0)) (i64.const 0)", ""), "");
    let started = Instant::now();
    let run = world.run(&["check"]);
    let took = started.elapsed();
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains("plugin `broken`: ran out of fuel"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("expanding this `broken` task"),
        "{}",
        run.stderr
    );
    let deadline = driftless::plugins::EPOCH_TICK * driftless::plugins::DEADLINE_TICKS as u32;
    assert!(
        took < deadline,
        "stopped after {took:?}, past the deadline {deadline:?}"
    );
}

#[test]
fn a_plugin_that_allocates_too_much_is_stopped() {
    // 2,000 pages of 64 KiB: 125 MiB, over the 64 MiB limit.
    let world = broken_world(
        &broken_plugin("(drop (memory.grow (i32.const 2000))) (i64.const 0)", ""),
        "",
    );
    let run = world.run(&["check"]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr
            .contains("asked for 126 MiB of memory, over its limit of 64 MiB"),
        "{}",
        run.stderr
    );
}

/// A plugin whose expansion reads `path` and returns a file at `dest` holding its content.
fn reader_plugin(path: &str, dest: &str) -> Vec<u8> {
    let prefix = format!(r#"{{"id":"read","tasks":[{{"type":"file","path":"{dest}","content":""#);
    let suffix = r#""}]}"#;
    let data = format!("{path}{prefix}{suffix}").replace('"', "\\\"");
    let (p, pre, suf) = (path.len(), prefix.len(), suffix.len());
    let body = format!(
        r#"(local $file i64) (local $at i32) (local $size i32) (local $out i32)
    (local.set $file (call $read_file (i32.const 1024) (i32.const {p})))
    (if (i64.lt_s (local.get $file) (i64.const 0)) (then unreachable))
    (local.set $at (i32.wrap_i64 (i64.shr_u (local.get $file) (i64.const 32))))
    (local.set $size (i32.wrap_i64 (local.get $file)))
    (local.set $out (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (i32.add (local.get $size) (i32.const {total}))))
    (memory.copy (local.get $out) (i32.const {pre_at}) (i32.const {pre}))
    (memory.copy (i32.add (local.get $out) (i32.const {pre})) (local.get $at) (local.get $size))
    (memory.copy (i32.add (i32.add (local.get $out) (i32.const {pre})) (local.get $size)) (i32.const {suf_at}) (i32.const {suf}))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32))
            (i64.extend_i32_u (i32.add (local.get $size) (i32.const {total}))))"#,
        total = pre + suf,
        pre_at = 1024 + p,
        suf_at = 1024 + p + pre,
    );
    // `expand`'s locals go before its body: splice them in as the body's start.
    broken_plugin(&body, &data)
}

#[test]
fn a_plugin_reads_the_path_it_is_granted_and_nothing_else() {
    let world = World::new("");
    let granted = world.temp.path().join("granted");
    std::fs::create_dir_all(&granted).expect("mkdir");
    write(&granted.join("banner.txt"), b"welcome to the site");
    let dest = world.path("banner");
    let grant = format!("      grant_read: {}\n", granted.display());

    let allowed = reader_plugin(
        &granted.join("banner.txt").display().to_string(),
        &dest.display().to_string(),
    );
    let settings = declare(&world, "broken", &allowed, &grant);
    world.set_config(&format!(
        "{settings}apply:\n  - type: broken\n    id: broken\n"
    ));
    world.apply();
    assert_eq!(read(&dest), "welcome to the site");

    let refused = reader_plugin("/etc/hostname", &dest.display().to_string());
    let settings = declare(&world, "broken", &refused, &grant);
    world.set_config(&format!(
        "{settings}apply:\n  - type: broken\n    id: broken\n"
    ));
    let run = world.run(&["check"]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr
            .contains("read `/etc/hostname`, which is not under the path the config grants it"),
        "{}",
        run.stderr
    );

    // No grant at all: every read is refused.
    let settings = declare(&world, "broken", &refused, "");
    world.set_config(&format!(
        "{settings}apply:\n  - type: broken\n    id: broken\n"
    ));
    let run = world.run(&["check"]);
    assert!(
        run.stderr.contains("the config grants it no path"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_plugin_importing_wasi_is_refused() {
    let wasm = wat::parse_str(
        r#"(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32))) (memory (export "memory") 1))"#,
    )
    .expect("assembles");
    let world = broken_world(&wasm, "");
    let run = world.run(&["check"]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr
            .contains("imports `wasi_snapshot_preview1.fd_write`"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_malformed_answer_fails_the_task_with_a_clear_error() {
    // `expand` answers a range far outside memory.
    let world = broken_world(&broken_plugin("(i64.const 0x7fffffff00000010)", ""), "");
    let run = world.run(&["check"]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains("answered a range outside its memory"),
        "{}",
        run.stderr
    );
    // Not JSON.
    let world = broken_world(
        &broken_plugin(
            "(i64.or (i64.shl (i64.const 1024) (i64.const 32)) (i64.const 3))",
            "nop",
        ),
        "",
    );
    let run = world.run(&["check"]);
    assert!(
        run.stderr.contains("`expand` answered malformed JSON"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_filter_and_the_log_filter_give_the_expected_values() {
    let world = World::new("");
    let settings = declare(&world, "site", motd_wasm(), "");
    world.set_config(&format!(
        "{settings}apply:\n  - type: file\n    path: \"{{{{ root }}}}/loud\"\n    content: \"{{{{ 'hello, wörld\\n' | shout }}}}\"\n"
    ));
    world.apply();
    assert_eq!(read(&world.path("loud")), "HELLO, WöRLD\n");

    let plugins = driftless::plugins::Plugins::single("site", motd_wasm(), None, None)
        .expect("the example plugin loads");
    let triage = driftless::plugins::LogFilterPlugin::new(&plugins, "triage").expect("triage");
    let debug = json!({"file": "/var/log/app.log", "level": "debug", "message": "noise"});
    let info = json!({"file": "/var/log/app.log", "level": "info", "message": "started"});
    let error = json!({"file": "/var/log/app.log", "level": "error", "message": "disk full"});
    assert_eq!(
        triage.apply(&debug).expect("debug"),
        Vec::<serde_json::Value>::new()
    );
    assert_eq!(triage.apply(&info).expect("info"), vec![info.clone()]);
    assert_eq!(
        triage.apply(&error).expect("error"),
        vec![
            error.clone(),
            json!({"message": "alert: an error was logged", "file": "triage"})
        ]
    );
    assert!(driftless::plugins::LogFilterPlugin::new(&plugins, "missing").is_err());
}

#[test]
fn a_changed_plugin_makes_the_plan_stale() {
    let world = motd_world(
        "  - type: motd\n    id: motd\n    message: hello\n    path: \"{{ root }}/motd\"\n",
    );
    let (plan_path, _) = world.plan();
    // A new build of the plugin (one more custom section), pinned: a changed config.
    let mut changed = motd_wasm().to_vec();
    changed.extend_from_slice(&[0, 4, 3, b'n', b'e', b'w']);
    let settings = declare(&world, "site", &changed, "");
    world.set_config(&format!(
        "{settings}apply:\n  - type: motd\n    id: motd\n    message: hello\n    path: \"{{{{ root }}}}/motd\"\n"
    ));
    let run = world.execute(&plan_path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains("not the one the plan was made from"),
        "{}",
        run.all()
    );
    assert!(!world.path("motd").exists(), "nothing was applied");

    // The binary swapped under its pin: refused where the pin is.
    write(&world.config.join("plugins/site.wasm"), motd_wasm());
    let run = world.run(&["plan"]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains("not the one the config pins"),
        "{}",
        run.stderr
    );
}

#[test]
fn plugin_check_prints_the_digest_and_passes_the_dry_calls() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file: PathBuf = dir.path().join("motd.wasm");
    write(&file, motd_wasm());
    let output = crate::common::driftless_command(dir.path())
        .args(["plugin", "check"])
        .arg(&file)
        .output()
        .expect("run driftless");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(&format!("sha256: {}", sha256_hex(motd_wasm()))),
        "{stdout}"
    );
    assert!(
        stdout.contains("task type `motd` (fields: message, path)"),
        "{stdout}"
    );
    assert_eq!(stdout.matches("dry call passed").count(), 3, "{stdout}");
    assert!(stdout.contains("HELLO"), "{stdout}");

    let broken = dir.path().join("broken.wasm");
    write(&broken, &broken_plugin("(loop (br 0)) (i64.const 0)", ""));
    let output = crate::common::driftless_command(dir.path())
        .args(["plugin", "check"])
        .arg(&broken)
        .output()
        .expect("run driftless");
    // No example: no dry call, so the loop is never entered; the manifest is fine.
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn compiled_plugins_are_cached_by_digest_in_the_state_dir() {
    let world = motd_world(
        "  - type: motd\n    id: motd\n    message: hello\n    path: \"{{ root }}/motd\"\n",
    );
    let run = world.run(&["check"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let cached = world
        .state_dir()
        .join(format!("plugins/{}.cwasm", sha256_hex(motd_wasm())));
    assert!(cached.is_file(), "no {}", cached.display());
    let run = world.run(&["check"]);
    assert_eq!(run.code, 0, "from the cache:\n{}", run.all());
}

#[test]
fn a_plugin_log_filter_runs_in_a_log_pipeline_end_to_end() {
    let world = crate::logs_support::LogsWorld::new("");
    let wasm = motd_wasm();
    write(&world.config.join("plugins/site.wasm"), wasm);
    world.set_config(&format!(
        "settings:\n  plugins:\n    - name: site\n      sha256: {}\nlogs:\n  - id: app\n    source: {{ type: file, paths: [\"{{in}}/app.log\"], start_at: beginning }}\n    parser: {{ type: json }}\n    filters:\n      - {{ type: plugin, name: triage }}\n      - {{ type: add_fields, fields: {{ seen: yes }} }}\n    outputs:\n      - {{ type: file, path: \"{{out}}/app.out\" }}\n",
        sha256_hex(wasm)
    ));
    write(
        &world.input("app.log"),
        b"{\"level\":\"debug\",\"message\":\"noise\"}\n{\"level\":\"info\",\"message\":\"started\"}\n{\"level\":\"error\",\"message\":\"disk full\"}\n",
    );
    world.once();
    let records: Vec<serde_json::Value> = read(&world.output("app.out"))
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON record"))
        .collect();
    let file = world.input("app.log").display().to_string();
    assert_eq!(
        records,
        vec![
            json!({"level": "info", "message": "started", "file": file, "seen": "yes"}),
            json!({"level": "error", "message": "disk full", "file": file, "seen": "yes"}),
            json!({"message": "alert: an error was logged", "file": "triage", "seen": "yes"}),
        ],
        "debug dropped, the error split in two, and the filter after the plugin saw each"
    );
}

#[test]
fn check_reports_a_log_filter_no_plugin_provides_at_its_name() {
    let world = crate::logs_support::LogsWorld::new("");
    let wasm = motd_wasm();
    write(&world.config.join("plugins/site.wasm"), wasm);
    world.set_config(&format!(
        "settings:\n  plugins:\n    - name: site\n      sha256: {}\nlogs:\n  - id: app\n    source: {{ type: file, paths: [\"{{in}}/app.log\"] }}\n    filters:\n      - {{ type: plugin, name: triag }}\n    outputs:\n      - {{ type: console }}\n",
        sha256_hex(wasm)
    ));
    let run = world.run(&["check"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr
            .contains("no plugin of the config provides the log filter `triag`")
            && run.stderr.contains("main.yaml:9:31")
            && run
                .stderr
                .contains("the config's plugins provide the log filters triage"),
        "{}",
        run.all()
    );
}

/// A plugin with one log filter, `picky`: it passes each event as it is, and traps on one
/// whose message ends in `X`.
fn picky_plugin() -> Vec<u8> {
    let describe = r#"{"log_filters":[{"name":"picky"}]}"#;
    let source = format!(
        r#"(module
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 8192))
  (data (i32.const 4096) "{escaped}")
  (data (i32.const 2048) "{{\"events\":[")
  (data (i32.const 2064) "]}}")
  (func (export "driftless_abi_version") (result i32) (i32.const 1))
  (func (export "alloc") (param $len i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $len)))
    (local.get $ptr))
  (func (export "describe") (result i64)
    (i64.or (i64.shl (i64.const 4096) (i64.const 32)) (i64.const {len})))
  ;; The input is {{"event":{{…}},"name":"picky"}}: the event is from byte 9 to 16 before the end.
  (func (export "log_filter") (param $in i32) (param $len i32) (result i64)
    (local $end i32) (local $n i32) (local $out i32)
    (local.set $end (i32.sub (i32.add (local.get $in) (local.get $len)) (i32.const 16)))
    (if (i32.eq (i32.load8_u (i32.sub (local.get $end) (i32.const 3))) (i32.const 88))
      (then unreachable))
    (local.set $n (i32.sub (local.get $end) (i32.add (local.get $in) (i32.const 9))))
    (local.set $out (global.get $heap))
    (memory.copy (local.get $out) (i32.const 2048) (i32.const 11))
    (memory.copy (i32.add (local.get $out) (i32.const 11)) (i32.add (local.get $in) (i32.const 9)) (local.get $n))
    (memory.copy (i32.add (i32.add (local.get $out) (i32.const 11)) (local.get $n)) (i32.const 2064) (i32.const 2))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32))
            (i64.extend_i32_u (i32.add (local.get $n) (i32.const 13))))))"#,
        escaped = describe.replace('"', "\\\""),
        len = describe.len(),
    );
    wat::parse_str(source).expect("the test plugin assembles")
}

#[test]
fn a_plugin_log_filter_that_traps_fails_that_record_only() {
    let world = crate::logs_support::LogsWorld::new("");
    let wasm = picky_plugin();
    write(&world.config.join("plugins/picky.wasm"), &wasm);
    world.set_config(&format!(
        "settings:\n  plugins:\n    - name: picky\n      sha256: {}\nlogs:\n  - id: app\n    source: {{ type: file, paths: [\"{{in}}/app.log\"], start_at: beginning }}\n    filters:\n      - {{ type: plugin, name: picky }}\n    outputs:\n      - {{ type: file, path: \"{{out}}/app.out\", encoding: text }}\n",
        sha256_hex(&wasm)
    ));
    write(
        &world.input("app.log"),
        b"one\ntwo X\nthree\nfour X\nfive\n",
    );
    let run = world.once();
    assert_eq!(read(&world.output("app.out")), "one\nthree\nfive\n");
    assert_eq!(
        run.stderr.matches("a plugin log filter failed").count(),
        1,
        "the first failure is logged, the next one of 10,000 is not:\n{}",
        run.all()
    );
    assert!(run.stderr.contains("trapped"), "{}", run.all());
    // The failed records were handled: the checkpoint passed them, and a second run reads
    // nothing again.
    let again = world.once();
    assert_eq!(read(&world.output("app.out")), "one\nthree\nfive\n");
    assert!(!again.stderr.contains("failed"), "{}", again.all());
}
